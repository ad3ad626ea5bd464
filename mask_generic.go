//go:build !amd64 || purego

package websocket

// Without assembly (other architectures, or the purego build tag) Mask uses
// only its word loops.

func maskBlocks(b []byte, key uint64)     {}
func maskBlocksAVX2(b []byte, key uint64) {}

const haveMaskBlocks = false

var useAVX2 = false
