//go:build !amd64 || purego

package mask

// Without assembly (other architectures, or the purego build tag) Mask is
// generic.

func mask(key [4]byte, pos int, b []byte) int { return generic(key, pos, b) }

// hasAsm tells tests whether Mask runs assembly in this build.
const hasAsm = false
