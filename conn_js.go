//go:build js

package websocket

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"
	"unicode/utf8"

	"github.com/fullduplex/websocket/internal/httphead"
)

// The browser's WebSocket object reads and writes the frames, answers pings
// and runs the closing handshake; this Conn gives it the API of the native
// one. What differs is in the package doc (doc.go) and on each method.

const (
	// readQueueMessages bounds the messages that may wait, arrived and not
	// yet read, and readQueueBytes, or the read limit if larger, their
	// bytes. The browser cannot be told to stop reading, so a message that
	// finds the queue full fails the connection instead of growing it.
	readQueueMessages = 1024
	readQueueBytes    = DefaultReadLimit

	// writeBufferLimit is how much the browser may hold unsent
	// (bufferedAmount) before a write waits; a write then polls
	// bufferedAmount, every writePollMin to writePollMax, since the
	// browser has no event for a buffer that drained.
	writeBufferLimit = 1 << 20
	writePollMin     = time.Millisecond
	writePollMax     = 16 * time.Millisecond
)

// Conn is a WebSocket connection made by Dial, over the browser's WebSocket
// object.
//
// Concurrency: one goroutine at a time may read (ReadMessage, AppendMessage,
// ReadJSON, NextReader and the reader it returns). Any number of goroutines
// may write at once: messages are sent whole, one after another. Close and
// CloseNow may be called from any goroutine at any time.
//
// Messages arrive whole, read or not: the browser reads the socket on its own
// and hands each message to the Conn, which queues it until the application
// reads it. At most 1024 messages may wait, and at most 16 MiB
// (DefaultReadLimit), or the read limit if it is larger; a message that finds
// the queue full fails the connection with 4008
// (see Close), and reads return the messages queued before it, then an error
// wrapping ErrClosed. A connection whose application does not read is so
// closed rather than left to grow without bound.
//
// Writes wait while the browser holds more than 1 MiB not yet sent (its
// bufferedAmount), which they poll every 1 to 16 ms, so a writer faster than
// the network waits, as on a native Conn, instead of growing the browser's
// buffer.
type Conn struct {
	ws           js.Value
	url          string
	closeTimeout time.Duration
	readLimit    atomic.Int64
	resp         *http.Response
	subprotocol  string
	funcs        []js.Func
	releaseOnce  sync.Once

	opened    chan struct{} // closed by the open event
	errored   chan struct{} // closed by an error event before the open event
	errOnce   sync.Once
	closed    chan struct{} // Done: closed by the close event, CloseNow or Close's timeout
	closeOnce sync.Once

	mu          sync.Mutex
	queue       []jsMessage // arrived, not read: queue[head:]
	head        int
	queuedBytes int64
	rerr        error         // what reads return once the queue is empty
	closing     bool          // a Close frame was asked of the browser
	ready       chan struct{} // capacity 1: a message or rerr arrived
	closeEvent  closeEvent    // the browser's close event, once closed

	writeMu sync.Mutex

	rdl, wdl deadline
}

// jsMessage is a message as the browser handed it over, its payload still in
// JavaScript's memory, so that AppendMessage copies it straight into the
// caller's buffer.
type jsMessage struct {
	op Opcode
	b  js.Value // a Uint8Array
	n  int
}

var (
	uint8Array  = js.Global().Get("Uint8Array")
	textEncoder = js.Global().Get("TextEncoder").New()
	textDecoder = js.Global().Get("TextDecoder").New()
	noop        = js.Global().Get("Function").New()
)

func newConn(ws js.Value, opts *DialOptions) *Conn {
	c := &Conn{
		ws:           ws,
		url:          ws.Get("url").String(),
		closeTimeout: opts.CloseTimeout,
		opened:       make(chan struct{}),
		errored:      make(chan struct{}),
		closed:       make(chan struct{}),
		ready:        make(chan struct{}, 1),
	}
	if c.closeTimeout <= 0 {
		c.closeTimeout = DefaultCloseTimeout
	}
	limit := opts.ReadLimit
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	c.readLimit.Store(limit)
	c.rdl.init()
	c.wdl.init()
	// The handlers run on the browser's event loop and must not block: they
	// queue what they get and return.
	on := func(event string, f func(ev js.Value)) {
		fn := js.FuncOf(func(this js.Value, args []js.Value) any {
			f(args[0])
			return nil
		})
		c.funcs = append(c.funcs, fn)
		ws.Set("on"+event, fn)
	}
	on("open", func(js.Value) { close(c.opened) })
	on("message", c.gotMessage)
	on("close", c.gotClose)
	// An error event is followed by the close event, which says what the
	// browser lets a script know; but Node 20 sends no close event when
	// the handshake fails, so Dial heeds an error that comes before the
	// connection opened.
	on("error", func(js.Value) {
		select {
		case <-c.opened:
		default:
			c.errOnce.Do(func() { close(c.errored) })
		}
	})
	return c
}

// afterOpen notes what the handshake agreed, once the open event came.
func (c *Conn) afterOpen() {
	c.subprotocol = c.ws.Get("protocol").String()
	h := make(http.Header)
	if c.subprotocol != "" {
		h.Set("Sec-WebSocket-Protocol", c.subprotocol)
	}
	if ext := c.ws.Get("extensions").String(); ext != "" {
		h.Set("Sec-WebSocket-Extensions", ext)
	}
	c.resp = &http.Response{
		Status:     "101 Switching Protocols",
		StatusCode: http.StatusSwitchingProtocols,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
	}
}

// release lets go of the event handlers, once the browser will call none.
func (c *Conn) release() {
	c.releaseOnce.Do(func() {
		for _, ev := range []string{"onopen", "onmessage", "onclose"} {
			c.ws.Set(ev, js.Null())
		}
		// An error event may still come (Node's ws package sends one
		// for a connection closed while connecting), and one that no
		// handler takes ends a Node program.
		c.ws.Set("onerror", noop)
		for _, f := range c.funcs {
			f.Release()
		}
	})
}

// gotMessage queues a message event's data, or fails the connection when it
// is over the read limit or the queue is full.
func (c *Conn) gotMessage(ev js.Value) {
	data := ev.Get("data")
	m := jsMessage{op: OpBinary}
	if data.Type() == js.TypeString {
		m.op = OpText
		m.b = textEncoder.Call("encode", data)
	} else {
		m.b = uint8Array.New(data) // binaryType is "arraybuffer"
	}
	m.n = m.b.Get("byteLength").Int()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rerr != nil {
		return // failed: the connection is going away
	}
	limit := c.readLimit.Load()
	switch {
	case int64(m.n) > limit:
		c.failLocked(StatusMessageTooBig, "message too big",
			fmt.Errorf("%w: a message of %d bytes, over the limit of %d", ErrMessageTooBig, m.n, limit))
		return
	case len(c.queue)-c.head >= readQueueMessages || c.queuedBytes+int64(m.n) > max(limit, readQueueBytes):
		c.failLocked(StatusPolicyViolation, "reader too slow",
			fmt.Errorf("websocket: %d messages (%d bytes) arrived and were not read, the most the queue holds: %w",
				len(c.queue)-c.head, c.queuedBytes, ErrClosed))
		return
	}
	if c.head > 0 && len(c.queue) == cap(c.queue) {
		c.queue = c.queue[:copy(c.queue, c.queue[c.head:])]
		c.head = 0
	}
	c.queue = append(c.queue, m)
	c.queuedBytes += int64(m.n)
	c.signal()
}

// signal wakes the reader. The caller holds mu.
func (c *Conn) signal() {
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

// next returns the oldest message queued, waiting for one within the read
// deadline; once the queue is empty and the connection has ended, it returns
// why.
func (c *Conn) next() (jsMessage, error) {
	for {
		c.mu.Lock()
		if c.head < len(c.queue) {
			m := c.queue[c.head]
			c.queue[c.head] = jsMessage{}
			c.head++
			if c.head == len(c.queue) {
				c.queue, c.head = c.queue[:0], 0
			}
			c.queuedBytes -= int64(m.n)
			c.mu.Unlock()
			return m, nil
		}
		err := c.rerr
		c.mu.Unlock()
		if err != nil {
			return jsMessage{}, err
		}
		select {
		case <-c.ready:
		case <-c.rdl.wait():
			// Messages arrive whole, so a read that times out never
			// leaves one half read: the Conn stays readable.
			return jsMessage{}, fmt.Errorf("websocket: read: %w", os.ErrDeadlineExceeded)
		}
	}
}

// ReadMessage reads the next data message and returns its type (OpText or
// OpBinary) and its payload in a newly allocated slice.
func (c *Conn) ReadMessage() (Opcode, []byte, error) {
	return c.AppendMessage(nil)
}

// AppendMessage reads the next data message, appends its payload to b and
// returns the message type and the extended slice. The payload is copied
// from the browser's memory straight into b, so reusing the returned slice,
// as in b, err = c.AppendMessage(b[:0]), reads without allocating once b is
// large enough.
func (c *Conn) AppendMessage(b []byte) (Opcode, []byte, error) {
	m, err := c.next()
	if err != nil {
		return 0, b, err
	}
	b = slices.Grow(b, m.n)
	n := len(b)
	b = b[:n+m.n]
	js.CopyBytesToGo(b[n:], m.b)
	return m.op, b, nil
}

// NextReader waits for the next data message and returns its type and a
// reader of its payload, which returns io.EOF at the end of the message. The
// message has arrived whole: the reader copies it from the browser's memory
// as it is read. The rest of a message not read to its end is discarded by
// the next read. The reader must not be used after the next call to a read
// method.
func (c *Conn) NextReader() (Opcode, io.Reader, error) {
	m, err := c.next()
	if err != nil {
		return 0, nil, err
	}
	return m.op, &messageReader{m: m}, nil
}

type messageReader struct {
	m   jsMessage
	off int
}

func (r *messageReader) Read(p []byte) (int, error) {
	if r.off == r.m.n {
		return 0, io.EOF
	}
	end := min(r.off+len(p), r.m.n)
	n := js.CopyBytesToGo(p, r.m.b.Call("subarray", r.off, end))
	r.off += n
	return n, nil
}

// WriteMessage writes p as one message of type op (OpText or OpBinary). It is
// safe to call concurrently with other writes; the message is not interleaved
// with any other. The Conn does not keep p: the browser has its own copy once
// WriteMessage returns.
//
// It first waits while the browser holds more than 1 MiB unsent (see Conn),
// within the write deadline; a write that times out has sent nothing and
// leaves the Conn writable. A text message must be valid UTF-8, which the
// browser could not send as it is: the error then wraps ErrInvalidUTF8.
func (c *Conn) WriteMessage(op Opcode, p []byte) error {
	switch {
	case op != OpText && op != OpBinary:
		return fmt.Errorf("websocket: %v is not a message type (want OpText or OpBinary)", op)
	case op == OpText && !utf8.Valid(p):
		return fmt.Errorf("websocket: write: %w in a text message", ErrInvalidUTF8)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.waitBuffered(); err != nil {
		return err
	}
	b := uint8Array.New(len(p))
	js.CopyBytesToJS(b, p)
	var data js.Value = b
	if op == OpText {
		data = textDecoder.Call("decode", b)
	}
	c.ws.Call("send", data)
	return nil
}

// waitBuffered waits until the browser holds at most writeBufferLimit bytes
// unsent and the connection is open. The caller holds writeMu.
func (c *Conn) waitBuffered() error {
	delay := writePollMin
	for {
		if err := c.writable(); err != nil {
			return err
		}
		if c.ws.Get("bufferedAmount").Int() <= writeBufferLimit {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.closed:
		case <-c.wdl.wait():
			t.Stop()
			return fmt.Errorf("websocket: write: %w", os.ErrDeadlineExceeded)
		}
		t.Stop()
		delay = min(2*delay, writePollMax)
	}
}

// writable returns an error wrapping ErrClosed once a Close frame was asked
// of the browser or the connection has ended.
func (c *Conn) writable() error {
	select {
	case <-c.closed:
		return fmt.Errorf("websocket: write: %w", ErrClosed)
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return fmt.Errorf("websocket: write: %w: close frame already sent", ErrClosed)
	}
	return nil
}

// NextWriter returns a writer for a message of type op (OpText or OpBinary).
// The browser sends only whole messages, so the writer keeps what is written
// to it and Close sends it as one message, as WriteMessage would; it must be
// closed, and not used after. Other writers do not wait for it.
func (c *Conn) NextWriter(op Opcode) (io.WriteCloser, error) {
	if op != OpText && op != OpBinary {
		return nil, fmt.Errorf("websocket: %v is not a message type (want OpText or OpBinary)", op)
	}
	if err := c.writable(); err != nil {
		return nil, err
	}
	return &messageWriter{c: c, op: op}, nil
}

type messageWriter struct {
	c      *Conn
	op     Opcode
	buf    bytes.Buffer
	closed bool
}

var errWriterClosed = errors.New("websocket: write to a closed message writer")

func (w *messageWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errWriterClosed
	}
	return w.buf.Write(p)
}

func (w *messageWriter) Close() error {
	if w.closed {
		return errWriterClosed
	}
	w.closed = true
	return w.c.WriteMessage(w.op, w.buf.Bytes())
}

// SetReadLimit sets the largest message, in bytes, that reads accept. The browser has received a
// message whole before the Conn sees it, so the limit is checked as each
// message arrives: a larger one fails the connection with 4009 (see Close),
// and reads return the messages queued before it, then an error wrapping
// ErrMessageTooBig. It applies to messages that arrive after the call.
func (c *Conn) SetReadLimit(n int64) { c.readLimit.Store(n) }

// SetDeadline sets the read and write deadlines, as net.Conn does.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline for reads, as net.Conn does. A read that
// times out returns an error for which os.ErrDeadlineExceeded is true and
// leaves the Conn readable: messages arrive whole, so no read is ever cut
// inside one.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for writes, as net.Conn does. It bounds
// a write's wait for the browser's buffer (see WriteMessage): the browser
// takes a message at once, or not at all.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	return nil
}

// Subprotocol returns the subprotocol chosen in the handshake, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Response returns what a script is told of the server's 101 response:
// its status, and as headers the subprotocol (Sec-WebSocket-Protocol) and the
// extensions agreed (Sec-WebSocket-Extensions), as the browser reports them.
// The browser shows a script no other header of the response.
func (c *Conn) Response() *http.Response { return c.resp }

// LocalAddr returns an address that names no endpoint: a script is not told
// its connection's local address.
func (c *Conn) LocalAddr() net.Addr { return addr("") }

// RemoteAddr returns the URL the connection was made to, as a net.Addr of
// network "websocket": a script is not told the server's IP address.
func (c *Conn) RemoteAddr() net.Addr { return addr(c.url) }

type addr string

func (addr) Network() string  { return "websocket" }
func (a addr) String() string { return string(a) }

// Done returns a channel that is closed once the Conn is closed, whether by
// Close, CloseNow, the peer or a failure.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// deadline is a channel closed when the time set passes, as net.Pipe's
// deadlines are.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	passed chan struct{}
}

func (d *deadline) init() { d.passed = make(chan struct{}) }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.passed // the timer fired: wait for it to close the channel
	}
	d.timer = nil
	select {
	case <-d.passed:
		d.passed = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	if dur := time.Until(t); dur > 0 {
		ch := d.passed
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	close(d.passed)
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passed
}

// DefaultHandshakeTimeout and HandshakeError are shared with the native
// build (handshake.go); in the browser Dial never returns a HandshakeError,
// since a script is not shown why a handshake failed.

// DialOptions configures Dial. A nil *DialOptions is the same as a zero
// DialOptions.
//
// In the browser the WebSocket object makes the connection, and it takes
// nothing but a URL and subprotocols: the fields it cannot honour exist so
// that one program compiles for both builds, and Dial returns an error
// wrapping errors.ErrUnsupported when one of them is set, rather than
// ignoring it.
type DialOptions struct {
	// Header must be empty: the browser sets the handshake's headers
	// itself (Origin, Cookie, User-Agent...). Pass credentials in the URL
	// or in the first message instead.
	Header http.Header

	// Jar must be nil: the browser sends the cookies it holds for the
	// URL and stores those the server sets.
	Jar http.CookieJar

	// Subprotocols lists the application protocols offered to the server,
	// in order of preference (RFC 6455 §4.1 item 10).
	Subprotocols []string

	// TLSConfig must be nil: the browser verifies wss certificates
	// against its own roots.
	TLSConfig *tls.Config

	// NetDialContext must be nil: a script cannot open sockets.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Proxy must be nil: the browser's proxy settings apply.
	Proxy func(*http.Request) (*url.URL, error)

	// HandshakeTimeout bounds the handshake, from Dial's call to the
	// browser's open event; zero means DefaultHandshakeTimeout. The
	// context passed to Dial may end it sooner.
	HandshakeTimeout time.Duration

	// ReadLimit is the largest message the Conn reads; zero means
	// DefaultReadLimit. See Conn.SetReadLimit.
	ReadLimit int64

	// ReadBufferSize and WriteBufferSize are ignored: the browser owns
	// the connection's buffers.
	ReadBufferSize, WriteBufferSize int

	// PingInterval must be zero: a script cannot send pings. The browser
	// answers the server's pings itself, so a server's keep-alive works.
	PingInterval time.Duration

	// CloseTimeout bounds the wait for the closing handshake in
	// Conn.Close; zero means DefaultCloseTimeout.
	CloseTimeout time.Duration

	// Compression must be its zero value: the browser decides whether to
	// offer permessage-deflate, and with what parameters (Chromium and
	// Firefox offer it). What was agreed is in the Conn's Response.
	Compression CompressionOptions
}

// CompressionOptions stands for the native build's options for
// permessage-deflate (RFC 7692), which the browser negotiates by itself;
// DialOptions.Compression must be left zero.
type CompressionOptions struct {
	Disabled        bool
	ContextTakeover bool
	Level           int
	WindowBits      int
	Threshold       int
}

// unsupported returns the error for an option or a method the browser does
// not allow.
func unsupported(what, why string) error {
	return fmt.Errorf("websocket: %s: %s in the browser: %w", what, why, errors.ErrUnsupported)
}

// check returns an error for the first option the browser cannot honour.
func (o *DialOptions) check() error {
	switch {
	case len(o.Header) > 0:
		return unsupported("DialOptions.Header", "the handshake's headers are the browser's")
	case o.Jar != nil:
		return unsupported("DialOptions.Jar", "the cookies are the browser's")
	case o.TLSConfig != nil:
		return unsupported("DialOptions.TLSConfig", "certificates are checked by the browser")
	case o.NetDialContext != nil:
		return unsupported("DialOptions.NetDialContext", "there are no sockets")
	case o.Proxy != nil:
		return unsupported("DialOptions.Proxy", "the proxy is the browser's")
	case o.PingInterval != 0:
		return unsupported("DialOptions.PingInterval", "a script cannot send pings")
	case o.Compression != CompressionOptions{}:
		return unsupported("DialOptions.Compression", "compression is negotiated by the browser")
	}
	seen := make(map[string]bool, len(o.Subprotocols))
	for _, p := range o.Subprotocols {
		// The WebSocket constructor throws on these; say which one.
		if !httphead.IsToken(p) || seen[p] {
			return fmt.Errorf("websocket: subprotocol %q is not a token or is offered twice", p)
		}
		seen[p] = true
	}
	return nil
}

// Dial opens a WebSocket connection to urlStr, a ws:// or wss:// URL
// (http:// and https:// are taken as their WebSocket counterparts), with the
// browser's WebSocket object. opts may be nil.
//
// ctx bounds the handshake, not the returned Conn. The browser does not tell
// a script why a connection failed to open (a refused connection, a
// handshake the server refused, a certificate it did not trust and a
// blocked mixed-content request all look the same), so the error says only
// that it failed; the browser's console has the details.
func Dial(ctx context.Context, urlStr string, opts *DialOptions) (*Conn, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	u, err := parseWebSocketURL(urlStr)
	if err != nil {
		return nil, err
	}
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c, err := newJSConn(u.String(), opts)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.opened:
		c.afterOpen()
		return c, nil
	case <-c.closed:
		c.release()
		return nil, fmt.Errorf("websocket: dial %s: the browser could not open the connection (it does not tell scripts why; see its console): %w", u.Redacted(), c.closeEvent.err(false))
	case <-c.errored:
		c.closeWS(0, "")
		c.release()
		return nil, fmt.Errorf("websocket: dial %s: the browser could not open the connection (it does not tell scripts why; see its console): %w", u.Redacted(), closeEvent{code: StatusAbnormalClosure}.err(false))
	case <-ctx.Done():
		// Closing a WebSocket that is still connecting fails it at once.
		c.closeWS(0, "")
		c.release()
		return nil, fmt.Errorf("websocket: dial %s: %w", u.Redacted(), ctx.Err())
	}
}

// newJSConn makes the browser's WebSocket and a Conn listening to its events.
func newJSConn(urlStr string, opts *DialOptions) (c *Conn, err error) {
	protocols := make([]any, len(opts.Subprotocols))
	for i, p := range opts.Subprotocols {
		protocols[i] = p
	}
	ctor := js.Global().Get("WebSocket")
	if ctor.IsUndefined() {
		return nil, unsupported("Dial", "this JavaScript runtime has no WebSocket (Node before 22 needs --experimental-websocket)")
	}
	defer func() {
		// The constructor throws (js.Error) on what the checks above do
		// not cover, such as a port the browser blocks.
		if r := recover(); r != nil {
			jerr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			c, err = nil, fmt.Errorf("websocket: dial %s: %w", urlStr, jerr)
		}
	}()
	ws := ctor.New(urlStr, protocols)
	ws.Set("binaryType", "arraybuffer")
	c = newConn(ws, opts)
	return c, nil
}

// closeEvent is what the browser's close event tells: the code and reason of
// the Close frame received, or 1006 if none came (RFC 6455 §7.1.5).
type closeEvent struct {
	code   StatusCode
	reason string
}

// err returns the error reads return after the event: a *CloseError for
// the peer's Close frame, or for a connection this side closed an error
// wrapping errLocalClose (IsNormalClose).
func (e closeEvent) err(local bool) error {
	switch {
	case e.code == StatusAbnormalClosure:
		// The browser reports 1006 for a connection that ended without a
		// Close frame, and for one it failed itself (a frame breaking RFC
		// 6455, invalid UTF-8), whose cause it does not tell.
		return fmt.Errorf("websocket: connection ended without a close frame (the browser reports 1006): %w", io.ErrUnexpectedEOF)
	case local:
		return fmt.Errorf("%w: %w", errLocalClose, &CloseError{Code: e.code, Reason: e.reason})
	}
	return &CloseError{Code: e.code, Reason: e.reason}
}

// gotClose handles the close event, the last the browser sends.
func (c *Conn) gotClose(ev js.Value) {
	c.mu.Lock()
	c.closeEvent = closeEvent{code: StatusCode(ev.Get("code").Int()), reason: ev.Get("reason").String()}
	if c.rerr == nil {
		c.rerr = c.closeEvent.err(c.closing)
	}
	c.signal()
	c.mu.Unlock()
	c.closeOnce.Do(func() { close(c.closed) })
	c.release()
}

// scriptCode returns the code a script may send for code: a script may send
// only 1000 and 3000-4999 (the WebSocket API's close method throws on the
// others), so the codes 1001-1014 go out as the code plus 3000, 4001-4014,
// in the range RFC 6455 §7.4.2 leaves to private use.
func scriptCode(code StatusCode) StatusCode {
	if code > StatusNormalClosure && code < 3000 {
		return code + 3000
	}
	return code
}

// closeWS asks the browser for a Close frame with code (none if 0) and
// reason, and returns what the browser throws, if it does.
func (c *Conn) closeWS(code StatusCode, reason string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			jerr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("websocket: close: %w", jerr)
		}
	}()
	if code == 0 {
		c.ws.Call("close")
	} else {
		c.ws.Call("close", int(scriptCode(code)), reason)
	}
	return nil
}

// failLocked ends the connection for a failure seen on this side: reads
// return err once the messages queued before are read. The caller holds mu.
func (c *Conn) failLocked(code StatusCode, reason string, err error) {
	c.rerr = err
	if !c.closing {
		c.closing = true
		c.closeWS(code, reason)
	}
	c.signal()
}

// Close performs the closing handshake through the browser: it asks the
// browser to send a Close frame with code and reason, and waits up to the
// close timeout for the browser's close event, which comes once the peer has
// answered and the connection has ended. code 0 sends a Close frame with no
// body. Close may be called from any goroutine, while another reads or
// writes: a reading goroutine gets the messages that arrive until the peer's
// Close frame, then an error for which IsNormalClose is true. It returns an
// error wrapping ErrClosed if the connection was already closing or closed.
//
// A script may send only 1000 and 3000-4999, so the other codes a Conn may
// send (1001-1003 and 1007-1014) go out as the code plus 3000, with the
// reason as given: StatusGoingAway arrives as 4001, and the failures the Conn
// detects itself, StatusPolicyViolation and StatusMessageTooBig, as 4008 and
// 4009. A reason longer than 123 bytes is cut, at a character boundary.
//
// When no close event comes within the close timeout, Close returns nil all
// the same and the Conn is done with the connection; the browser goes on
// waiting for the peer, as no script can cut a connection short.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code != 0 && !code.validOnWire() {
		return fmt.Errorf("websocket: close code %d may not be sent", code)
	}
	if !utf8.ValidString(reason) {
		return fmt.Errorf("websocket: close reason: %w", ErrInvalidUTF8)
	}
	if len(reason) > MaxControlPayload-2 {
		reason = reason[:MaxControlPayload-2]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	select {
	case <-c.closed:
		return fmt.Errorf("websocket: close: %w", ErrClosed)
	default:
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return fmt.Errorf("websocket: close: %w: close frame already sent", ErrClosed)
	}
	c.closing = true
	c.mu.Unlock()
	if err := c.closeWS(code, reason); err != nil {
		c.finish(fmt.Errorf("%w: %w", errLocalClose, err))
		return err
	}
	t := time.NewTimer(c.closeTimeout)
	defer t.Stop()
	select {
	case <-c.closed:
		return nil
	case <-t.C:
		// The browser keeps waiting for the peer, and no script can cut
		// the connection short; this Conn is done with it.
		c.finish(fmt.Errorf("%w: no close event within the close timeout (%v)", errLocalClose, c.closeTimeout))
		return nil
	}
}

// finish ends the Conn on this side: reads in progress and later ones return
// err, and Done is closed.
func (c *Conn) finish(err error) {
	c.mu.Lock()
	c.queue, c.head, c.queuedBytes = nil, 0, 0
	if c.rerr == nil {
		c.rerr = err
	}
	c.signal()
	c.mu.Unlock()
	c.closeOnce.Do(func() { close(c.closed) })
}

// CloseNow ends the Conn at once: reads and writes in progress return errors
// wrapping ErrClosed. A script cannot drop a connection without the closing
// handshake, so CloseNow asks the browser for a Close frame with no code, as
// close() does, and returns without waiting for the answer.
func (c *Conn) CloseNow() error {
	c.mu.Lock()
	closing := c.closing
	c.closing = true
	c.mu.Unlock()
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	if !closing {
		c.closeWS(0, "")
	}
	c.finish(fmt.Errorf("%w: CloseNow", errLocalClose))
	return nil
}

var errDataOnWriteOnly = errors.New("websocket: data message on a connection that only writes")

// CloseRead is for connections the application only writes to. It starts a
// goroutine that reads the connection until it ends, so that the peer's
// Close frame is noticed; the browser answers pings itself. A data message
// from the peer fails the connection with StatusPolicyViolation (sent as
// 4008, see Close). After CloseRead the application must not read from c.
//
// The returned context is derived from ctx and is cancelled when the read side
// ends; context.Cause then returns the read's error (see IsNormalClose).
func (c *Conn) CloseRead(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		_, err := c.next()
		if err == nil {
			c.mu.Lock()
			c.failLocked(StatusPolicyViolation, "data on a write-only connection", errDataOnWriteOnly)
			c.mu.Unlock()
			err = errDataOnWriteOnly
		}
		cancel(err)
	}()
	return ctx
}

// Ping returns an error wrapping errors.ErrUnsupported: a script cannot send
// pings. The browser answers the server's pings itself.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	return 0, unsupported("Ping", "a script cannot send pings")
}

// WritePing returns an error wrapping errors.ErrUnsupported: a script cannot
// send pings.
func (c *Conn) WritePing(payload []byte) error {
	return unsupported("WritePing", "a script cannot send pings")
}

// WritePong returns an error wrapping errors.ErrUnsupported: a script cannot
// send pongs. The browser answers the server's pings itself.
func (c *Conn) WritePong(payload []byte) error {
	return unsupported("WritePong", "a script cannot send pongs")
}

// SetPingHandler has no effect: the browser answers pings itself and does
// not show them to scripts.
func (c *Conn) SetPingHandler(h func(payload []byte) error) {}

// SetPongHandler has no effect: the browser does not show pongs to scripts.
func (c *Conn) SetPongHandler(h func(payload []byte) error) {}

// SetWriteCompression has no effect: the browser decides which messages it
// compresses, when permessage-deflate was agreed.
func (c *Conn) SetWriteCompression(enabled bool) {}
