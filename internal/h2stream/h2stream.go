// Package h2stream is a net.Conn over a stream of net/http's HTTP/2
// server, as a WebSocket over HTTP/2 (RFC 8441) runs: the request body one
// way, the response the other, every write flushed as DATA frames. The
// WebSocket's frames travel in it unchanged, so the engine runs over it as
// over TCP.
package h2stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a net.Conn over an HTTP/2 stream of net/http's server: it
// reads the request body and writes the response, flushing every write, so
// that a Conn runs over it as over TCP. Closing it ends the body and waits
// out the writes in progress; the stream itself ends when the handler
// returns.
//
// The ResponseWriter must not be used once the handler has returned: net/http
// then reuses its state for other streams. So every use of it holds live
// and checks first that the stream's context is still alive (its end comes
// before the ResponseWriter's), and Close takes live exclusively before it
// closes done, the channel Conn.Done returns, for which a handler waits.
type Conn struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	body  io.ReadCloser
	ctx   context.Context
	laddr net.Addr
	raddr net.Addr

	wmu     sync.Mutex   // one Write at a time
	live    sync.RWMutex // read-held while w is in use, write-held by Close
	closed  atomic.Bool
	cause   error // what reads and writes return once closed; set before closed
	closing sync.Once
	done    chan struct{}
	ended   error // what reads and writes return once the stream is gone

	// The write deadline is HTTP/2's only while a write is in progress:
	// net/http resets the stream when it passes, writing or not, whereas on
	// TCP a deadline that passes between writes harms nothing.
	dmu     sync.Mutex
	writing bool      // dmu
	armed   bool      // the stream has a write deadline; dmu
	wdl     time.Time // dmu
}

// New returns the Conn over the stream of the request r, whose handler has
// answered it through w and rc. ended is what reads and writes return once
// the stream has ended (the client reset it, the connection closed, or the
// handler returned).
func New(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, ended error) *Conn {
	s := &Conn{w: w, rc: rc, body: r.Body, ctx: r.Context(), done: make(chan struct{}), ended: ended}
	s.laddr, _ = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if s.laddr == nil {
		s.laddr = streamAddr("")
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		s.raddr = net.TCPAddrFromAddrPort(ap)
	} else {
		s.raddr = streamAddr(r.RemoteAddr)
	}
	return s
}

// use checks that w may be used and holds live until the caller calls
// s.live.RUnlock.
func (s *Conn) use() error {
	s.live.RLock()
	if s.closed.Load() {
		s.live.RUnlock()
		return s.cause
	}
	if s.ctx.Err() != nil {
		s.live.RUnlock()
		return s.ended
	}
	return nil
}

// The frames of Read and write are kept small, and what they do seldom is
// in functions of its own: they are on the stack of a handler that reads
// and writes its Conn, which stays at the 4 KiB net/http gives it only if
// the deepest read and write do (TestHandlerStackOverStream in
// interop/h2).

func (s *Conn) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if err != nil && err != io.EOF && !isTimeout(err) {
		err = s.readFailed(err)
	}
	return n, err
}

// readFailed explains a read that failed other than by its end (EOF: the
// client ended its side) or a deadline: the request body fails so only once
// the stream is gone, which the stream's context may not say yet.
//
//go:noinline
func (s *Conn) readFailed(err error) error {
	if s.closed.Load() {
		return s.cause
	}
	return fmt.Errorf("%w: %w", s.ended, err)
}

func (s *Conn) Write(p []byte) (int, error) {
	n, err := s.write(net.Buffers{p})
	return int(n), err
}

// WriteBuffers writes bufs and flushes them once, so that a frame whose
// header and payload are apart goes out as one.
//
// net/http passes a write to its HTTP/2 server through a 4 KiB buffer,
// and each time that buffer fills, or is flushed, its content becomes a
// DATA frame, handed to the connection's serve goroutine and waited for. A
// header written apart from a longer payload would fill it, and a 16 KiB
// message would leave as a DATA frame of 4 KiB and one of 12 KiB, two trips
// to the serve goroutine. Copied into one buffer, they are one write,
// which the buffer passes on whole, and leave in as few frames as the
// peer's frame size allows. Longer frames lose little to the split.
func (s *Conn) WriteBuffers(bufs net.Buffers) (int64, error) {
	if len(bufs) < 2 || bufsLen(bufs) > maxJoined {
		return s.write(bufs)
	}
	bp := joinPool.Get().(*[]byte)
	b := (*bp)[:0]
	for _, p := range bufs {
		b = append(b, p...)
	}
	n, err := s.write(net.Buffers{b})
	if err == nil {
		// On an error net/http may still hold b, for a stream that is
		// gone: b is not reused then.
		*bp = b[:0]
		joinPool.Put(bp)
	}
	return n, err
}

// maxJoined is the longest frame WriteBuffers joins into one write: a
// WebSocket frame header (14 bytes at most) and 64 KiB.
const maxJoined = 14 + 64<<10

var joinPool = sync.Pool{New: func() any { b := make([]byte, 0, maxJoined); return &b }}

func bufsLen(bufs net.Buffers) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// write writes bufs and flushes them once.
func (s *Conn) write(bufs net.Buffers) (int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.use(); err != nil {
		return 0, err
	}
	defer s.live.RUnlock()
	if err := s.beginWrite(); err != nil {
		return 0, err
	}
	var n int64
	var err error
	for _, b := range bufs {
		var k int
		k, err = s.w.Write(b)
		n += int64(k)
		if err != nil {
			break
		}
	}
	if err == nil {
		err = s.rc.Flush()
	}
	timedOut := s.endWrite()
	if err != nil {
		err = s.writeFailed(err, timedOut)
	}
	return n, err
}

// writeFailed explains a failed write.
//
//go:noinline
func (s *Conn) writeFailed(err error, timedOut bool) error {
	switch {
	case timedOut:
		// net/http reset the stream when the deadline passed.
		return fmt.Errorf("%w: %w", os.ErrDeadlineExceeded, err)
	case s.closed.Load():
		return s.cause
	default:
		return fmt.Errorf("%w: %w", s.ended, err)
	}
}

// beginWrite marks a write in progress, so that Close can cut it short, and
// arms the write deadline for it.
func (s *Conn) beginWrite() error {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	// Close sets closed, then looks at writing under dmu: one of the two
	// sees the other.
	if s.closed.Load() {
		return s.cause
	}
	if !s.wdl.IsZero() {
		if !time.Now().Before(s.wdl) {
			return os.ErrDeadlineExceeded
		}
		s.rc.SetWriteDeadline(s.wdl)
		s.armed = true
	}
	s.writing = true
	return nil
}

// endWrite ends what beginWrite began and reports whether the write
// deadline has passed.
func (s *Conn) endWrite() (timedOut bool) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.writing = false
	if s.armed {
		s.rc.SetWriteDeadline(time.Time{})
		s.armed = false
		return !time.Now().Before(s.wdl)
	}
	return false
}

func (s *Conn) SetDeadline(t time.Time) error {
	if err := s.SetReadDeadline(t); err != nil {
		return err
	}
	return s.SetWriteDeadline(t)
}

// SetReadDeadline passes t to the stream. A read deadline that passes ends
// the request body for good: later reads fail even if it is moved.
func (s *Conn) SetReadDeadline(t time.Time) error {
	if err := s.use(); err != nil {
		return err
	}
	defer s.live.RUnlock()
	return s.rc.SetReadDeadline(t)
}

func (s *Conn) SetWriteDeadline(t time.Time) error {
	if err := s.use(); err != nil {
		return err
	}
	defer s.live.RUnlock()
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.wdl = t
	if s.writing {
		// A write in progress, perhaps blocked on flow control, is bound by
		// the new deadline; passing it resets the stream.
		s.armed = !t.IsZero()
		return s.rc.SetWriteDeadline(t)
	}
	return nil
}

// Close ends the request body, so that a read in progress returns, resets
// the stream if a write is in progress (blocked on a peer that does not
// read: nothing else ends it), waits until no one uses the ResponseWriter
// any more and closes done. A second Close waits for the first.
func (s *Conn) Close() error {
	first := false
	s.closing.Do(func() { first = true })
	if !first {
		<-s.done
		return net.ErrClosed
	}
	// Closed because the stream ended (the context's end closes the Conn),
	// the Conn's errors should say why.
	s.cause = net.ErrClosed
	if s.ctx.Err() != nil {
		s.cause = s.ended
	}
	s.closed.Store(true)
	s.body.Close()
	s.dmu.Lock()
	if s.writing && s.ctx.Err() == nil {
		s.rc.SetWriteDeadline(time.Unix(1, 0))
	}
	s.dmu.Unlock()
	s.live.Lock()
	s.live.Unlock()
	close(s.done)
	return nil
}

func (s *Conn) LocalAddr() net.Addr  { return s.laddr }
func (s *Conn) RemoteAddr() net.Addr { return s.raddr }

// streamAddr is an address net/http gave as a string that is not ip:port.
type streamAddr string

func (a streamAddr) Network() string { return "tcp" }
func (a streamAddr) String() string  { return string(a) }

// Done returns a channel closed once Close has returned: the
// ResponseWriter is no longer used, and the handler may return.
func (s *Conn) Done() <-chan struct{} { return s.done }

// WaitReadable waits until the request body has data, its end or an error,
// taking none of it: a zero-length read of net/http's request body blocks
// so. A reader waits so without holding a buffer.
func (s *Conn) WaitReadable() error {
	_, err := s.Read(nil)
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
