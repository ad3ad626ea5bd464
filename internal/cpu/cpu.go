// Package cpu reports the x86 features the package's kernels use (the
// masker in internal/mask, the UTF-8 validator in internal/utf8valid). It
// asks CPUID in assembly because the module depends on the standard library
// alone, which exports no CPU features; the kernels' own packages keep the
// switches that tests turn off.
package cpu

// X86 is what the CPU and the operating system allow; all false on other
// architectures and under the purego build tag.
var X86 = x86()

// Features are the x86 extensions the kernels may use.
type Features struct {
	// HasSSSE3: PSHUFB and PALIGNR, for the UTF-8 validator's 16-byte kernel.
	HasSSSE3 bool
	// HasAVX2, with the YMM registers saved by the operating system: the
	// masker's 128-byte turns and the validator's 32-byte kernel.
	HasAVX2 bool
	// HasAVX512: AVX-512 F, BW and VBMI, with the ZMM and opmask registers
	// saved: the validator's 64-byte kernel.
	HasAVX512 bool
}
