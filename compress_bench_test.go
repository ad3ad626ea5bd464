package websocket

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"testing"
)

var benchCompressSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// BenchmarkDeflateLevel compresses one JSON-like message from a fresh pooled
// state, as every message is without context takeover, at several levels. It
// is the evidence for DefaultCompressionLevel: the ratio is reported as
// "ratio" (compressed/original).
func BenchmarkDeflateLevel(b *testing.B) {
	for _, size := range benchCompressSizes {
		for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, 3, flate.DefaultCompression, flate.BestCompression} {
			b.Run(fmt.Sprintf("%s/level=%d", size.name, level), func(b *testing.B) {
				msg := jsonish(size.n, 1)
				d := newCompression(&deflateParams{writeWindowBits: maxWindowBits, level: level}).w
				out, _ := d.appendCompressed(nil, msg)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					out, _ = d.appendCompressed(out[:0], msg)
				}
				b.ReportMetric(float64(len(out))/float64(len(msg)), "ratio")
			})
		}
	}
}

// BenchmarkInflate decompresses one message with a pooled decompressor.
func BenchmarkInflate(b *testing.B) {
	for _, size := range benchCompressSizes {
		for _, takeover := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/takeover=%v", size.name, takeover), func(b *testing.B) {
				msg := jsonish(size.n, 1)
				d := newCompression(&deflateParams{writeWindowBits: maxWindowBits, level: flate.BestSpeed}).w
				payload, _ := d.appendCompressed(nil, msg)
				z := inflater{takeover: takeover}
				var src bytes.Reader
				buf := make([]byte, size.n+1)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					src.Reset(payload)
					z.begin(&src, -1)
					if n, err := io.ReadFull(&z, buf); n != len(msg) || err != io.ErrUnexpectedEOF {
						b.Fatalf("inflated %d bytes, %v", n, err)
					}
				}
			})
		}
	}
}
