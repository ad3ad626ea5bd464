//go:build amd64 && !purego

package utf8valid

import (
	"unicode/utf8"

	"github.com/fullduplex/websocket/internal/cpu"
)

// useSSSE3 reports whether the validator may use its SSSE3 assembly
// (PSHUFB and PALIGNR are not in the amd64 baseline). It is a variable so
// that tests can turn it off and cover the portable path; with useAVX2 off
// too, they cover the SSSE3 path on a CPU that has AVX2.
var useSSSE3 = cpu.X86.HasSSSE3

// useAVX2 reports whether the validator may use its AVX2 assembly.
var useAVX2 = cpu.X86.HasAVX2

// useAVX512 reports whether the validator may use its AVX-512 assembly,
// which checks mixed-script text about twice as fast as the AVX2 one
// (BenchmarkUTF8). Like useSSSE3, tests turn it off.
var useAVX512 = cpu.X86.HasAVX512

// utf8KernelMin is the shortest input valid hands to the assembly. It
// checks the last block (32 bytes, or 16) with the three bytes before it,
// so it needs that many; unicode/utf8 finishes shorter input before the
// tables are loaded.
const utf8KernelMin = 32 + 3

// utf8KernelMin512 is utf8KernelMin for the AVX-512 kernel, whose blocks
// are 64 bytes; below it, the AVX2 kernel checks the input.
const utf8KernelMin512 = 64 + 3

// valid reports whether p is valid UTF-8: unicode/utf8.Valid, 64, 32 or
// 16 bytes at a time in vector registers (utf8valid_amd64.s).
func valid(p []byte) bool {
	switch {
	case len(p) < utf8KernelMin || !useSSSE3:
		return utf8.Valid(p)
	case useAVX512 && len(p) >= utf8KernelMin512:
		return utf8ValidAVX512(p)
	case useAVX2:
		return utf8ValidAVX2(p)
	}
	return utf8ValidSSSE3(p)
}

// utf8ValidAVX2 reports whether p is valid UTF-8. It needs AVX2, and
// len(p) >= utf8KernelMin.
//
//go:noescape
func utf8ValidAVX2(p []byte) bool

// utf8ValidAVX512 is utf8ValidAVX2 for CPUs with AVX-512 F, BW and VBMI,
// and len(p) >= utf8KernelMin512.
//
//go:noescape
func utf8ValidAVX512(p []byte) bool

// utf8ValidSSSE3 is utf8ValidAVX2 for CPUs with SSSE3.
//
//go:noescape
func utf8ValidSSSE3(p []byte) bool
