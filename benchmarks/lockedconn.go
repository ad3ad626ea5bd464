package benchmarks

import (
	"net"
	"sync"
	"time"
)

// LockedConn is the in-memory net.Conn of the write-locked workload, an
// outside referee's setup for small writes: Write takes a sync.Mutex and
// copies p into a buffer it reuses, and does nothing else (ReplayConn also
// counts with atomic additions outside its lock). Reads yield Prefix, the
// handshake request, then block until Close.
type LockedConn struct {
	prefix []byte

	closeOnce sync.Once
	closed    chan struct{}

	mu      sync.Mutex
	buf     []byte // reused: written from its start again once full
	writes  int64  // Write calls; mu
	written int64  // bytes written; mu
}

// NewLockedConn returns a conn that yields prefix and then blocks reads
// until Close; writes are copied into a 64 KiB buffer, over and over.
func NewLockedConn(prefix []byte) *LockedConn {
	return &LockedConn{prefix: prefix, closed: make(chan struct{}), buf: make([]byte, 0, 64<<10)}
}

// Read implements net.Conn.
func (c *LockedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	<-c.closed
	return 0, net.ErrClosed
}

// Write implements net.Conn: it copies p into the conn's buffer under its
// lock.
func (c *LockedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.written += int64(len(p))
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

// Writes reports the number of Write calls and bytes written so far.
func (c *LockedConn) Writes() (calls, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes, c.written
}

// ResetWrites zeroes the write counters.
func (c *LockedConn) ResetWrites() {
	c.mu.Lock()
	c.writes, c.written = 0, 0
	c.mu.Unlock()
}

// Close implements net.Conn.
func (c *LockedConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

// LocalAddr implements net.Conn.
func (c *LockedConn) LocalAddr() net.Addr { return fakeAddr }

// RemoteAddr implements net.Conn.
func (c *LockedConn) RemoteAddr() net.Addr { return fakeAddr }

// SetDeadline implements net.Conn; deadlines never fire in memory.
func (c *LockedConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.Conn.
func (c *LockedConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.Conn.
func (c *LockedConn) SetWriteDeadline(time.Time) error { return nil }
