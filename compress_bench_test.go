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

var benchModes = []struct {
	name string
	p    *deflateParams
}{
	{"uncompressed", nil},
	{"deflate", &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel}},
	{"deflate-takeover", &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel, writeTakeover: true, readTakeover: true}},
}

// BenchmarkCompressedWrite measures WriteMessage per message on a server Conn
// (no masking) into a connection that discards, compressed or not; bytes/s
// count the uncompressed payload.
func BenchmarkCompressedWrite(b *testing.B) {
	for _, size := range benchCompressSizes {
		for _, mode := range benchModes {
			b.Run(size.name+"/"+mode.name, func(b *testing.B) {
				msg := jsonish(size.n, 1)
				c := newConn(&replayConn{data: []byte{0}}, nil, true, connConfig{deflate: mode.p})
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WriteMessage(OpText, msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCompressedRead measures AppendMessage per message on a server Conn
// reading the same masked client frame again and again, UTF-8 checked.
func BenchmarkCompressedRead(b *testing.B) {
	for _, size := range benchCompressSizes {
		for _, mode := range benchModes {
			if mode.p != nil && mode.p.readTakeover {
				continue // the replayed message would refer to itself
			}
			b.Run(size.name+"/"+mode.name, func(b *testing.B) {
				msg := jsonish(size.n, 1)
				h := Header{Fin: true, Opcode: OpText, Masked: true}
				payload := msg
				if mode.p != nil {
					payload = compressed(b, msg)
					h.Rsv1 = true
				}
				c := newConn(&replayConn{data: frameBytes(h, payload)}, nil, true, connConfig{deflate: mode.p})
				buf := make([]byte, 0, size.n)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					_, got, err := c.AppendMessage(buf[:0])
					if err != nil || len(got) != len(msg) {
						b.Fatalf("%d bytes, %v", len(got), err)
					}
				}
			})
		}
	}
}

// BenchmarkIdleConnMemory reports the heap each idle Conn holds ("B/conn")
// after it has written and read one 1 KiB message: without compression, with
// permessage-deflate negotiated without context takeover, and with it. Run it
// with -benchtime=1x.
func BenchmarkIdleConnMemory(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			var perConn float64
			for b.Loop() {
				perConn = idleConnMemory(b, 500, mode.p)
			}
			b.ReportMetric(perConn, "B/conn")
		})
	}
}
