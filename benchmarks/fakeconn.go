package benchmarks

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ReplayConn is an in-memory net.Conn for a server under test. Reads first
// return Prefix (a handshake request, in its own Read calls, so that a
// library that parses the request with a private buffer cannot swallow frame
// bytes), then the bytes of Data repeated endlessly until Limit bytes of Data
// were delivered, then io.EOF. With empty Data, reads after the prefix block
// until Close. Writes are counted and discarded, after being copied into a
// small sink buffer: a real socket write copies the bytes into the kernel,
// so a library that hands over its caller's slice without copying must not
// look free, and one that copies the payload first pays twice, as it would.
type ReplayConn struct {
	prefix []byte
	data   []byte
	pos    int
	left   int64 // bytes of data still to deliver; <0: unlimited

	closeOnce sync.Once
	closed    chan struct{}

	writes  atomic.Int64
	written atomic.Int64

	mu      sync.Mutex
	sink    [64 << 10]byte
	capture *bytes.Buffer // if set, receives every write
}

// NewReplayConn returns a conn that yields prefix, then limit bytes cut from
// data repeated (limit < 0: endless).
func NewReplayConn(prefix, data []byte, limit int64) *ReplayConn {
	return &ReplayConn{prefix: prefix, data: data, left: limit, closed: make(chan struct{})}
}

// Read implements net.Conn.
func (c *ReplayConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	if len(c.data) == 0 {
		<-c.closed
		return 0, io.EOF
	}
	if c.left == 0 {
		return 0, io.EOF
	}
	if c.left > 0 && int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n := 0
	for n < len(p) {
		m := copy(p[n:], c.data[c.pos:])
		n += m
		c.pos += m
		if c.pos == len(c.data) {
			c.pos = 0
		}
	}
	if c.left > 0 {
		c.left -= int64(n)
	}
	return n, nil
}

// Write implements net.Conn; it discards p.
func (c *ReplayConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	c.written.Add(int64(len(p)))
	c.mu.Lock()
	for b := p; len(b) > 0; {
		b = b[copy(c.sink[:], b):]
	}
	if c.capture != nil {
		c.capture.Write(p)
	}
	c.mu.Unlock()
	return len(p), nil
}

// Capture makes the conn keep a copy of everything written from now on.
func (c *ReplayConn) Capture() {
	c.mu.Lock()
	c.capture = new(bytes.Buffer)
	c.mu.Unlock()
}

// Captured returns a copy of the bytes written since Capture.
func (c *ReplayConn) Captured() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.capture == nil {
		return nil
	}
	return bytes.Clone(c.capture.Bytes())
}

// Writes reports the number of Write calls and bytes written so far.
func (c *ReplayConn) Writes() (calls, bytes int64) { return c.writes.Load(), c.written.Load() }

// ResetWrites zeroes the write counters.
func (c *ReplayConn) ResetWrites() { c.writes.Store(0); c.written.Store(0) }

// Close implements net.Conn.
func (c *ReplayConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

var fakeAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}

// LocalAddr implements net.Conn.
func (c *ReplayConn) LocalAddr() net.Addr { return fakeAddr }

// RemoteAddr implements net.Conn.
func (c *ReplayConn) RemoteAddr() net.Addr { return fakeAddr }

// SetDeadline implements net.Conn; deadlines never fire in memory.
func (c *ReplayConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.Conn.
func (c *ReplayConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.Conn.
func (c *ReplayConn) SetWriteDeadline(time.Time) error { return nil }

// hijackWriter is an http.ResponseWriter and http.Hijacker over a net.Conn,
// standing in for net/http's server for the libraries that only upgrade
// through it. Its buffers have net/http's sizes (4 KiB), so a library that
// reuses the hijacked buffers gets what it would get in a real server.
type hijackWriter struct {
	nc     net.Conn
	header http.Header
	status int
}

func newHijackWriter(nc net.Conn) *hijackWriter {
	return &hijackWriter{nc: nc, header: make(http.Header)}
}

func (w *hijackWriter) Header() http.Header         { return w.header }
func (w *hijackWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *hijackWriter) WriteHeader(status int)      { w.status = status }

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.nc, bufio.NewReadWriter(bufio.NewReaderSize(w.nc, 4096), bufio.NewWriterSize(w.nc, 4096)), nil
}
