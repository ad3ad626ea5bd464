//go:build amd64 && !purego

package websocket

// maskBlocks XORs the len(b)/64 whole blocks of 64 bytes at the start of b
// with key, the 4-byte masking key repeated twice, in SSE2 registers (part of
// the amd64 baseline, so no feature check is needed).
//
//go:noescape
func maskBlocks(b []byte, key uint64)

// maskBlocksAVX2 is maskBlocks for blocks of 128 bytes in AVX2 registers; it
// may run only where cpuHasAVX2 is true.
//
//go:noescape
func maskBlocksAVX2(b []byte, key uint64)

// cpuHasAVX2 reports whether the CPU has AVX2 and the operating system
// saves the YMM registers. It is asked in assembly because the package
// depends on the standard library alone, which exports no CPU features.
func cpuHasAVX2() bool

const haveMaskBlocks = true

// useAVX2 is a variable so that tests can cover the SSE2 path too.
var useAVX2 = cpuHasAVX2()
