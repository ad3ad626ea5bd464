package websocket

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var benchHeaders = []struct {
	name string
	h    Header
}{
	{"7bit", Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: rfcKey, Length: 125}},
	{"16bit", Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: rfcKey, Length: 1024}},
	{"64bit", Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: rfcKey, Length: 1 << 20}},
}

var benchSink int

func BenchmarkParseHeader(b *testing.B) {
	for _, bh := range benchHeaders {
		b.Run(bh.name, func(b *testing.B) {
			wire := AppendHeader(nil, bh.h)
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				h, n, err := ParseHeader(wire)
				if err != nil {
					b.Fatal(err)
				}
				benchSink += n + int(h.Length)
			}
		})
	}
}

func BenchmarkAppendHeader(b *testing.B) {
	for _, bh := range benchHeaders {
		b.Run(bh.name, func(b *testing.B) {
			buf := make([]byte, 0, MaxHeaderSize)
			b.SetBytes(int64(len(AppendHeader(nil, bh.h))))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendHeader(buf[:0], bh.h)
			}
			benchSink += len(buf)
		})
	}
}

var maskSizes = []struct {
	name string
	n    int
}{
	{"16B", 16}, {"128B", 128}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"1MiB", 1 << 20},
}

// benchMask runs mask over a slice of each size that starts off bytes into
// an 8-byte-aligned buffer.
func benchMask(b *testing.B, off int, mask func([4]byte, int, []byte) int) {
	for _, s := range maskSizes {
		b.Run(s.name, func(b *testing.B) {
			buf := make([]byte, s.n+off)[off:]
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				benchSink += mask(rfcKey, 0, buf)
			}
		})
	}
}

func BenchmarkMask(b *testing.B) { benchMask(b, 0, Mask) }

// BenchmarkMaskUnaligned masks slices that start one byte past a word boundary.
func BenchmarkMaskUnaligned(b *testing.B) { benchMask(b, 1, Mask) }

// BenchmarkMaskNaive is the byte-at-a-time loop, as a yardstick for Mask.
func BenchmarkMaskNaive(b *testing.B) { benchMask(b, 0, maskRef) }

var utf8Inputs = []struct {
	name string
	s    string
}{
	{"ascii", strings.Repeat("The quick brown fox jumps over the lazy dog. ", 400)[:16<<10]},
	{"multibyte", strings.Repeat("Größe €5 — 日本語テキスト 😀 ", 500)[:16<<10-8]},
}

func BenchmarkUTF8Validate(b *testing.B) {
	for _, in := range utf8Inputs {
		b.Run(in.name, func(b *testing.B) {
			p := []byte(in.s)
			var v utf8Validator
			if !v.Write(p) {
				b.Fatal("benchmark input is not valid UTF-8")
			}
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				v.Reset()
				if !v.Write(p) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// BenchmarkUTF8ValidStdlib is unicode/utf8.Valid on the same inputs, as a
// yardstick for the incremental validator.
func BenchmarkUTF8ValidStdlib(b *testing.B) {
	for _, in := range utf8Inputs {
		b.Run(in.name, func(b *testing.B) {
			p := []byte(in.s)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				if utf8.Valid(p) {
					benchSink++
				}
			}
		})
	}
}
