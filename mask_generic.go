//go:build !amd64 || purego

package websocket

// Without assembly (other architectures, or the purego build tag) Mask is
// maskGeneric.

func mask(key [4]byte, pos int, b []byte) int { return maskGeneric(key, pos, b) }

func cpuHasAVX2() bool { return false }

// maskHasAsm tells tests whether Mask runs assembly in this build.
const maskHasAsm = false
