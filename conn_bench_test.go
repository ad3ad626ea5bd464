package websocket

import (
	"bytes"
	"net"
	"testing"
	"time"
)

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
	{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20},
}

// BenchmarkConnRead measures the whole read path of a server: header
// parsing, unmasking and copying out one masked binary message per op, read
// from an in-memory connection that replays pre-built frames.
func BenchmarkConnRead(b *testing.B) { benchConnRead(b, OpBinary) }

// BenchmarkConnReadText adds UTF-8 validation to the read path.
func BenchmarkConnReadText(b *testing.B) { benchConnRead(b, OpText) }

func benchConnRead(b *testing.B, op Opcode) {
	for _, s := range connBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			frame := frameBytes(Header{Fin: true, Opcode: op, Masked: true}, bytes.Repeat([]byte{'x'}, s.n))
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

// BenchmarkConnWrite measures the whole write path per message, for a server
// (unmasked) and a client (masking a copy), into a connection that discards.
func BenchmarkConnWrite(b *testing.B) {
	for _, role := range []struct {
		name   string
		server bool
	}{{"server", true}, {"client", false}} {
		for _, s := range connBenchSizes {
			b.Run(role.name+"/"+s.name, func(b *testing.B) {
				c := newConn(&replayConn{data: []byte{0}}, nil, role.server, connConfig{})
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
