package websocket

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WebSockets over HTTP/2 (RFC 8441): the opening handshake is an extended
// CONNECT, and the WebSocket's frames travel in the DATA frames of that one
// stream, the request body one way and the response body the other. The
// frames are RFC 6455's unchanged (§5), so the Conn over a stream is the
// same protocol engine as over TCP; only the bytes come and go through the
// http.ResponseWriter instead of a hijacked connection.
//
// net/http's server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL (§3), and so
// lets clients send extended CONNECT, only when the GODEBUG environment
// variable holds http2xconnect=1 at start-up. It hands the request to the
// handler with Method "CONNECT", ProtoMajor 2 and the :protocol pseudo-header
// in r.Header[":protocol"].

// errStreamEnded explains a read or write on an HTTP/2 stream that is gone.
// It wraps ErrClosed.
var errStreamEnded error = streamEndedError{}

type streamEndedError struct{}

func (streamEndedError) Error() string {
	return "websocket: the HTTP/2 stream has ended: the client reset it, the connection closed or the handler returned (over HTTP/2 the handler must not return while the Conn is in use, see Accept)"
}

func (streamEndedError) Unwrap() error { return ErrClosed }

// acceptHTTP2 is Accept for a request that came over HTTP/2. It answers on
// a goroutine of its own (handshakeApart), as AcceptConn does: on top of
// the frames net/http has under the handler, the handshake took the
// handler's goroutine, which usually reads the Conn for the rest of its
// life, past the 4 KiB it has, to 8 KiB for good (TestHandlerStackOverStream
// in interop/h2).
func acceptHTTP2(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	return handshakeApart(func() (*Conn, error) { return acceptStream(w, r, opts) })
}

// acceptStream is acceptHTTP2 on the goroutine apart.
func acceptStream(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if ref := checkExtendedConnect(r, opts); ref != nil {
		ref.respond(w)
		return nil, ref
	}
	cfg := opts.connConfig(selectSubprotocol(r.Header, opts.Subprotocols))
	ext := opts.negotiateExtensions(r.Header.Values("Sec-WebSocket-Extensions"), &cfg)

	h := w.Header()
	for k, v := range opts.ResponseHeader {
		if validToken(k) && !reservedHeaders[http.CanonicalHeaderKey(k)] {
			h[k] = v
		}
	}
	if cfg.subprotocol != "" {
		h.Set("Sec-WebSocket-Protocol", cfg.subprotocol)
	}
	if ext != "" {
		h.Set("Sec-WebSocket-Extensions", ext)
	}
	// §5: a 2xx answer opens the WebSocket, with no Sec-WebSocket-Accept.
	// The headers must leave now, not with the first frame: the client
	// waits for them before it sends any.
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(opts.handshakeTimeout()))
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil, fmt.Errorf("websocket: accept: writing response: %w", err)
	}
	// As over HTTP/1.1, the server's read and write timeouts must not
	// outlive the handshake.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("websocket: accept: %w", err)
	}
	rc.SetReadDeadline(time.Time{})
	c := newConn(newStreamConn(w, r, rc), nil, true, cfg)
	// The stream's context ends when the stream does, whoever ends it: the
	// Conn is then closed, so that its readers, its writers and Done all
	// learn it at once.
	context.AfterFunc(r.Context(), c.closeTCP)
	return c, nil
}

// checkExtendedConnect validates an HTTP/2 request as an RFC 8441 opening
// handshake, or says why it is refused.
func checkExtendedConnect(r *http.Request, o *AcceptOptions) *refusal {
	bad := func(reason string) *refusal {
		return &refusal{status: http.StatusBadRequest, reason: reason}
	}
	switch {
	case r.Method != http.MethodConnect:
		// A GET with Upgrade cannot ask for a WebSocket over HTTP/2, which
		// has no Upgrade (RFC 9113 §8.6); the extended CONNECT replaces it.
		return &refusal{status: http.StatusMethodNotAllowed, reason: "over HTTP/2 a WebSocket is opened with an extended CONNECT (RFC 8441)",
			header: http.Header{"Allow": {http.MethodConnect}}}
	case len(r.Header[":protocol"]) == 0:
		return bad("CONNECT without :protocol is not a WebSocket request")
	case !strings.EqualFold(r.Header[":protocol"][0], "websocket"):
		// §5: the value is an Upgrade token, compared as one.
		return bad(`:protocol must be "websocket"`)
	case r.URL.Path == "" || r.URL.Path[0] != '/' || r.URL.Opaque != "":
		return bad("request target must be a path")
	case !validHost(r.Host):
		// §5: :authority stands for the Host header.
		return bad("missing or invalid :authority")
	case r.ContentLength != -1:
		// The request's DATA frames carry the WebSocket: a stream the client
		// has already ended, or whose length it declared, cannot.
		return bad("the request stream must stay open for WebSocket frames")
	}
	// §5: Sec-WebSocket-Version is used as in RFC 6455. A 426 must carry
	// Upgrade (RFC 9110 §15.5.22), which HTTP/2 forbids; RFC 6455 §4.4 shows
	// a 400 with the versions the server speaks, which HTTP/2 can send.
	v := r.Header.Values("Sec-WebSocket-Version")
	if len(v) != 1 || strings.TrimSpace(v[0]) != "13" {
		return &refusal{status: http.StatusBadRequest, reason: "unsupported Sec-WebSocket-Version, want 13",
			header: http.Header{"Sec-Websocket-Version": {"13"}}}
	}
	// §5: Sec-WebSocket-Key is not processed; :protocol took its role of
	// proving that the client asks for a WebSocket.
	if !originAllowed(r, o) {
		return &refusal{status: http.StatusForbidden, reason: "origin not allowed"}
	}
	return nil
}

// streamConn is a net.Conn over an HTTP/2 stream of net/http's server: it
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
type streamConn struct {
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

	// The write deadline is HTTP/2's only while a write is in progress:
	// net/http resets the stream when it passes, writing or not, whereas on
	// TCP a deadline that passes between writes harms nothing.
	dmu     sync.Mutex
	writing bool      // dmu
	armed   bool      // the stream has a write deadline; dmu
	wdl     time.Time // dmu
}

func newStreamConn(w http.ResponseWriter, r *http.Request, rc *http.ResponseController) *streamConn {
	s := &streamConn{w: w, rc: rc, body: r.Body, ctx: r.Context(), done: make(chan struct{})}
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
func (s *streamConn) use() error {
	s.live.RLock()
	if s.closed.Load() {
		s.live.RUnlock()
		return s.cause
	}
	if s.ctx.Err() != nil {
		s.live.RUnlock()
		return errStreamEnded
	}
	return nil
}

// The frames of Read and write are kept small, and what they do seldom is
// in functions of its own: they are on the stack of a handler that reads
// and writes its Conn, which stays at the 4 KiB net/http gives it only if
// the deepest read and write do (TestHandlerStackOverStream in
// interop/h2).

func (s *streamConn) Read(p []byte) (int, error) {
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
func (s *streamConn) readFailed(err error) error {
	if s.closed.Load() {
		return s.cause
	}
	return fmt.Errorf("%w: %w", errStreamEnded, err)
}

func (s *streamConn) Write(p []byte) (int, error) {
	n, err := s.write(net.Buffers{p})
	return int(n), err
}

// writeBuffers writes bufs and flushes them once, so that a frame whose
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
func (s *streamConn) writeBuffers(bufs net.Buffers) (int64, error) {
	if len(bufs) < 2 || bufsLen(bufs) > MaxHeaderSize+64<<10 {
		return s.write(bufs)
	}
	bp := contigPool.Get().(*[]byte)
	b := (*bp)[:0]
	for _, p := range bufs {
		b = append(b, p...)
	}
	n, err := s.write(net.Buffers{b})
	if err == nil {
		// On an error net/http may still hold b, for a stream that is
		// gone: b is not reused then.
		*bp = b[:0]
		contigPool.Put(bp)
	}
	return n, err
}

func bufsLen(bufs net.Buffers) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// write writes bufs and flushes them once.
func (s *streamConn) write(bufs net.Buffers) (int64, error) {
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
func (s *streamConn) writeFailed(err error, timedOut bool) error {
	switch {
	case timedOut:
		// net/http reset the stream when the deadline passed.
		return fmt.Errorf("%w: %w", os.ErrDeadlineExceeded, err)
	case s.closed.Load():
		return s.cause
	default:
		return fmt.Errorf("%w: %w", errStreamEnded, err)
	}
}

// beginWrite marks a write in progress, so that Close can cut it short, and
// arms the write deadline for it.
func (s *streamConn) beginWrite() error {
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
func (s *streamConn) endWrite() (timedOut bool) {
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

func (s *streamConn) SetDeadline(t time.Time) error {
	if err := s.SetReadDeadline(t); err != nil {
		return err
	}
	return s.SetWriteDeadline(t)
}

// SetReadDeadline passes t to the stream. A read deadline that passes ends
// the request body for good: later reads fail even if it is moved.
func (s *streamConn) SetReadDeadline(t time.Time) error {
	if err := s.use(); err != nil {
		return err
	}
	defer s.live.RUnlock()
	return s.rc.SetReadDeadline(t)
}

func (s *streamConn) SetWriteDeadline(t time.Time) error {
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
func (s *streamConn) Close() error {
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
		s.cause = errStreamEnded
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

func (s *streamConn) LocalAddr() net.Addr  { return s.laddr }
func (s *streamConn) RemoteAddr() net.Addr { return s.raddr }

// streamAddr is an address net/http gave as a string that is not ip:port.
type streamAddr string

func (a streamAddr) Network() string { return "tcp" }
func (a streamAddr) String() string  { return string(a) }

// writeBuffers writes bufs to nc: as one flushed write on an HTTP/2 stream,
// where each write is a DATA frame, and by writev otherwise, a Poller's
// own connections included.
func writeBuffers(nc net.Conn, bufs *net.Buffers) (int64, error) {
	if w, ok := nc.(interface {
		writeBuffers(net.Buffers) (int64, error)
	}); ok {
		return w.writeBuffers(*bufs)
	}
	return bufs.WriteTo(nc)
}

// Done returns a channel that is closed once the Conn is closed, whether by
// Close, CloseNow, the peer or a failure.
//
// Over HTTP/2 it is closed only once the Conn has stopped using the
// http.ResponseWriter, so a handler that gave the Conn to other goroutines
// returns safely after <-c.Done() (see Accept). Over HTTP/1.1 it serves the
// same purpose at no cost.
func (c *Conn) Done() <-chan struct{} {
	if s, ok := c.netConn().(*streamConn); ok {
		return s.done
	}
	return c.closed.wait()
}
