//go:build !js

package websocket

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
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

// benchMask runs Mask, called directly as callers do, so that it inlines as
// it does for them, over a slice of each size that starts off bytes into an
// 8-byte-aligned buffer. internal/mask benchmarks each of its paths.
func benchMask(b *testing.B, off int) {
	for _, s := range maskSizes {
		b.Run(s.name, func(b *testing.B) {
			buf := make([]byte, s.n+off)[off:]
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				benchSink += Mask(rfcKey, 0, buf)
			}
		})
	}
}

func BenchmarkMask(b *testing.B) { benchMask(b, 0) }

// BenchmarkMaskUnaligned masks slices that start one byte past a word boundary.
func BenchmarkMaskUnaligned(b *testing.B) { benchMask(b, 1) }

// mixedScript is chat text in several scripts: of a kilobyte of it, 450
// bytes are not ASCII (the text of the read benchmarks had 455).
const mixedScript = "Hi: hello, мир! Grüße aus Köln — 東京 😀 ok. "

// mixedText returns n bytes of mixedScript repeated, cut at a code point
// boundary and filled up with ASCII, so it is valid UTF-8.
func mixedText(n int) []byte {
	p := []byte(strings.Repeat(mixedScript, n/len(mixedScript)+1)[:n])
	i := n
	for !utf8.Valid(p[:i]) {
		i--
	}
	for ; i < n; i++ {
		p[i] = '.'
	}
	return p
}

// The whole read and write paths of a Conn, per message.

// replayConn is an in-memory net.Conn whose reads replay data over and over
// and whose writes are discarded, so the Conn's own costs can be measured.
type replayConn struct {
	data []byte
	off  int
}

func (c *replayConn) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off += n
	if c.off == len(c.data) {
		c.off = 0
	}
	return n, nil
}

func (c *replayConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

var connBenchSizes = []struct {
	name string
	n    int
}{
	{"16B", 16}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20},
}

// BenchmarkConnRead measures the whole read path of a server: header
// parsing, unmasking and copying out one masked binary message per op, read
// from an in-memory connection that replays pre-built frames.
func BenchmarkConnRead(b *testing.B) { benchConnRead(b, OpBinary, false) }

// BenchmarkConnReadText adds UTF-8 validation of ASCII to the read path.
func BenchmarkConnReadText(b *testing.B) { benchConnRead(b, OpText, false) }

// BenchmarkConnReadMixed reads text in several scripts (mixedText), 44 %
// of whose bytes are not ASCII.
func BenchmarkConnReadMixed(b *testing.B) { benchConnRead(b, OpText, true) }

// benchConnRead reads messages of type op: x repeated, or mixedText.
func benchConnRead(b *testing.B, op Opcode, mixed bool) {
	for _, s := range connBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			payload := bytes.Repeat([]byte{'x'}, s.n)
			if mixed {
				payload = mixedText(s.n)
			}
			frame := frameBytes(Header{Fin: true, Opcode: op, Masked: true}, payload)
			c := newConn(&replayConn{data: frame}, nil, true, connConfig{})
			buf := make([]byte, 0, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if _, buf, err = c.AppendMessage(buf[:0]); err != nil || len(buf) != s.n {
					b.Fatal(len(buf), err)
				}
			}
		})
	}
}

// BenchmarkConnReadFresh reads each message into a new buffer, as the first
// read of a message of that size does: the buffer grows as the payload
// arrives (32 KiB, then doubling), never to a length the header only claims.
func BenchmarkConnReadFresh(b *testing.B) {
	for _, s := range connBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			frame := frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true}, bytes.Repeat([]byte{'x'}, s.n))
			c := newConn(&replayConn{data: frame}, nil, true, connConfig{})
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				if _, buf, err := c.AppendMessage(nil); err != nil || len(buf) != s.n {
					b.Fatal(len(buf), err)
				}
			}
		})
	}
}

// BenchmarkConnWrite measures the whole write path per message, for a server
// (unmasked) and a client (masking a copy), into a connection that discards.
func BenchmarkConnWrite(b *testing.B) {
	benchConnWrite(b, func(testing.TB) net.Conn { return &replayConn{data: []byte{0}} })
}

// BenchmarkConnWriteLocked is BenchmarkConnWrite into a connection whose
// Write takes a mutex and copies into a buffer it reuses, as an outside
// referee's in-memory conn does (the write-locked workload of benchmarks/):
// the copy a real connection makes, without a system call to hide the rest.
func BenchmarkConnWriteLocked(b *testing.B) {
	benchConnWrite(b, func(testing.TB) net.Conn { return &lockedConn{buf: make([]byte, 0, 64<<10)} })
}

// lockedConn is a replayConn whose Write copies p into buf under mu, from
// buf's start again once it is full.
type lockedConn struct {
	replayConn
	mu  sync.Mutex
	buf []byte
}

func (c *lockedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for b := p; len(b) > 0; {
		if len(c.buf) == cap(c.buf) {
			c.buf = c.buf[:0]
		}
		n := copy(c.buf[len(c.buf):cap(c.buf)], b)
		c.buf = c.buf[:len(c.buf)+n]
		b = b[n:]
	}
	c.mu.Unlock()
	return len(p), nil
}

// BenchmarkConnWriteLoopback is BenchmarkConnWrite over a real TCP
// connection on loopback, whose other end reads and discards: it counts what
// the in-memory connection cannot, the system calls a message costs.
func BenchmarkConnWriteLoopback(b *testing.B) {
	benchConnWrite(b, func(t testing.TB) net.Conn {
		local, remote := tcpConns(t) // both closed when the benchmark ends
		go io.Copy(io.Discard, remote)
		return local
	})
}

// BenchmarkConnWriteTLS is BenchmarkConnWriteLoopback through TLS, where
// every Write is a TLS record of its own.
func BenchmarkConnWriteTLS(b *testing.B) {
	cert, pool := testCert(b)
	benchConnWrite(b, func(t testing.TB) net.Conn {
		local, remote := tcpConns(t)
		go io.Copy(io.Discard, tls.Client(remote, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
		return tls.Server(local, &tls.Config{Certificates: []tls.Certificate{cert}})
	})
}

func benchConnWrite(b *testing.B, conn func(testing.TB) net.Conn) {
	for _, role := range []struct {
		name   string
		server bool
	}{{"server", true}, {"client", false}} {
		for _, s := range connBenchSizes {
			b.Run(role.name+"/"+s.name, func(b *testing.B) {
				c := newConn(conn(b), nil, role.server, connConfig{})
				msg := bytes.Repeat([]byte{'x'}, s.n)
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WriteMessage(OpBinary, msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
