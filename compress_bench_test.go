//go:build !js

package websocket

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
)

var benchCompressSizes = []struct {
	name string
	n    int
}{{"128B", 128}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

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
// permessage-deflate negotiated without context takeover, and with it, in
// windows of 15, 12 and 9 bits. Run it with -benchtime=1x.
func BenchmarkIdleConnMemory(b *testing.B) {
	modes := append(benchModes[:len(benchModes):len(benchModes)],
		struct {
			name string
			p    *deflateParams
		}{"deflate-takeover-bits=12", &deflateParams{writeWindowBits: 12, readWindowBits: 12, level: DefaultCompressionLevel, writeTakeover: true, readTakeover: true}},
		struct {
			name string
			p    *deflateParams
		}{"deflate-takeover-bits=9", &deflateParams{writeWindowBits: 9, readWindowBits: 9, level: DefaultCompressionLevel, writeTakeover: true, readTakeover: true}},
	)
	for _, mode := range modes {
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

// BenchmarkBusyConnMemory reports the heap each Conn holds ("B/conn") while
// it is in the middle of writing a compressed message through NextWriter,
// with context takeover both ways: its idle state and the encoder's scratch
// space, taken from a pool for the message. Run it with -benchtime=1x.
func BenchmarkBusyConnMemory(b *testing.B) {
	for _, bits := range []int{15, 9} {
		b.Run(fmt.Sprintf("deflate-takeover-bits=%d", bits), func(b *testing.B) {
			p := &deflateParams{writeWindowBits: bits, readWindowBits: bits, level: DefaultCompressionLevel, writeTakeover: true, readTakeover: true}
			var perConn float64
			for b.Loop() {
				const n = 200
				msg := jsonish(1024, 3)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&before)
				conns := make([]*Conn, n)
				writers := make([]io.WriteCloser, n)
				var pipes []net.Conn
				for i := range conns {
					a, z := net.Pipe()
					pipes = append(pipes, a, z)
					conns[i] = newConn(a, nil, true, connConfig{deflate: p})
					w, err := conns[i].NextWriter(OpText)
					if err != nil {
						b.Fatal(err)
					}
					w.Write(msg) // held by the encoder until Close
					writers[i] = w
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perConn = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
				for _, nc := range pipes {
					nc.Close()
				}
				for _, w := range writers {
					w.Close()
				}
			}
			b.ReportMetric(perConn, "B/conn")
		})
	}
}
