package mask

import "testing"

var benchSink int

var maskSizes = []struct {
	name string
	n    int
}{
	{"16B", 16}, {"128B", 128}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"1MiB", 1 << 20},
}

// benchMask runs mask over a slice of each size that starts off bytes into
// an 8-byte-aligned buffer. A nil mask means Mask itself, called directly as
// callers do, so that it inlines as it does for them.
func benchMask(b *testing.B, off int, mask func([4]byte, int, []byte) int) {
	for _, s := range maskSizes {
		b.Run(s.name, func(b *testing.B) {
			buf := make([]byte, s.n+off)[off:]
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			if mask == nil {
				for b.Loop() {
					benchSink += Mask(rfcKey, 0, buf)
				}
				return
			}
			for b.Loop() {
				benchSink += mask(rfcKey, 0, buf)
			}
		})
	}
}

func BenchmarkMask(b *testing.B) { benchMask(b, 0, nil) }

// BenchmarkMaskUnaligned masks slices that start one byte past a word boundary.
func BenchmarkMaskUnaligned(b *testing.B) { benchMask(b, 1, nil) }

// BenchmarkMaskNoAVX2 is Mask with AVX2 turned off: the SSE2 loops on amd64.
func BenchmarkMaskNoAVX2(b *testing.B) {
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	useAVX2 = false
	benchMask(b, 0, nil)
}

// BenchmarkMaskGeneric is the portable Go masker, the one Mask is on other
// architectures and under the purego build tag.
func BenchmarkMaskGeneric(b *testing.B) { benchMask(b, 0, generic) }

// BenchmarkMaskNaive is the byte-at-a-time loop, as a yardstick for Mask.
func BenchmarkMaskNaive(b *testing.B) { benchMask(b, 0, maskRef) }
