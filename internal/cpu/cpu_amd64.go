//go:build amd64 && !purego

package cpu

func x86() Features {
	avx2 := hasAVX2()
	return Features{HasSSSE3: hasSSSE3(), HasAVX2: avx2, HasAVX512: avx2 && hasAVX512()}
}

// hasAVX2 reports whether the CPU has AVX2 and the operating system saves
// the YMM registers on a context switch.
func hasAVX2() bool

// hasSSSE3 reports whether the CPU has SSSE3.
func hasSSSE3() bool

// hasAVX512 reports whether the CPU has AVX-512 F, BW and VBMI and the
// operating system saves the ZMM and opmask registers.
func hasAVX512() bool
