//go:build !js

package websocket

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/fullduplex/websocket/internal/httphead"
)

// AcceptOptions configures Accept and AcceptConn. A nil *AcceptOptions is the
// same as a zero AcceptOptions, whose every field has a safe default.
type AcceptOptions struct {
	// Subprotocols lists the application protocols the server speaks, most
	// preferred first. The first one the client also offers is selected
	// (RFC 6455 §4.2.2 item 5.4); when none matches, the response names no
	// subprotocol and the client decides whether to go on, unless
	// RequireSubprotocol is set. Subprotocols(r) lists what a client offers.
	Subprotocols []string

	// RequireSubprotocol refuses a handshake that offers none of
	// Subprotocols with 400 Bad Request, naming the subprotocols the server
	// speaks, instead of going on with none. RFC 6455 leaves the status to
	// the server (§4.2.2); 400 is what most servers send.
	RequireSubprotocol bool

	// OriginPatterns lists further origins allowed to connect, as path.Match
	// patterns matched against the origin's host[:port], lowercased:
	// "example.com", "*.example.com", "localhost:*". A request whose Origin
	// has the same host as the request's Host is always allowed, and so is a
	// request with no Origin (a client that is not a browser). An opaque
	// "null" origin is matched as the string "null".
	OriginPatterns []string

	// SkipOriginCheck accepts every Origin. Browsers send cookies with
	// cross-origin WebSocket requests, so this exposes the server to
	// cross-site WebSocket hijacking unless it authenticates otherwise
	// (RFC 6455 §10.2).
	SkipOriginCheck bool

	// ResponseHeader holds extra headers for the 101 response, such as
	// Set-Cookie. The headers the handshake itself sets (Upgrade,
	// Connection, Sec-WebSocket-Accept, Sec-WebSocket-Protocol and
	// Sec-WebSocket-Extensions) cannot be overridden; use Subprotocols to
	// choose a subprotocol.
	ResponseHeader http.Header

	// HandshakeTimeout bounds reading the request in AcceptConn and writing
	// the response in both Accept and AcceptConn. Zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// MaxHeaderBytes bounds the size of the request line and headers that
	// AcceptConn reads; a larger request is refused with 431. Zero means
	// DefaultMaxHeaderBytes. Accept relies on http.Server.MaxHeaderBytes.
	MaxHeaderBytes int

	// ReadLimit is the largest message the Conn reads; zero means
	// DefaultReadLimit. See Conn.SetReadLimit.
	ReadLimit int64

	// ReadBufferSize and WriteBufferSize size the Conn's buffers; zero
	// means DefaultBufferSize.
	ReadBufferSize, WriteBufferSize int

	// PingInterval, if positive, makes the Conn ping the peer that often
	// and close the connection when a pong does not come back within the
	// interval. Pongs are seen only while some goroutine reads the Conn: a
	// Conn the application only writes to must call Conn.CloseRead, or it
	// is dropped after the first interval however healthy the peer. It
	// costs a goroutine per Conn: for a Conn given to a Poller, set
	// PollerOptions.PingInterval instead, which replaces this one when
	// both are set.
	PingInterval time.Duration

	// CloseTimeout bounds the wait for the peer's Close frame in Conn.Close;
	// zero means DefaultCloseTimeout.
	CloseTimeout time.Duration

	// Compression configures permessage-deflate (RFC 7692). The zero value
	// turns it on with no context takeover: the server accepts the first
	// offer it can honour and asks the client not to keep its context
	// either. See CompressionOptions.
	Compression CompressionOptions

	// Observer, if not nil, is told of every handshake Accept and
	// AcceptConn complete or refuse, and of what then happens on each
	// Conn. See Observer.
	Observer *Observer
}

func (o *AcceptOptions) connConfig(subprotocol string) connConfig {
	return connConfig{
		subprotocol:     subprotocol,
		readLimit:       o.ReadLimit,
		readBufferSize:  o.ReadBufferSize,
		writeBufferSize: o.WriteBufferSize,
		pingInterval:    o.PingInterval,
		closeTimeout:    o.CloseTimeout,
	}
}

func (o *AcceptOptions) handshakeTimeout() time.Duration {
	if o.HandshakeTimeout > 0 {
		return o.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// negotiateExtensions is the server's extension hook (RFC 6455 §9.1): given
// the client's Sec-WebSocket-Extensions values it returns the value for the
// response ("" for none) and records what was agreed in cfg. The only
// extension is permessage-deflate; other offers are ignored, which §9.1
// allows.
func (o *AcceptOptions) negotiateExtensions(offers []string, cfg *connConfig) string {
	ext, p := negotiateDeflate(offers, &o.Compression)
	cfg.deflate = p
	return ext
}

// Accept completes the server side of the opening handshake (RFC 6455 §4.2)
// for a request received by an http.Server and takes the connection over
// from it through http.ResponseController.Hijack. opts may be nil.
//
// A request that is not a valid WebSocket handshake is answered with an
// error status and a short plain-text reason: 405 for a method other than
// GET, 426 with "Sec-WebSocket-Version: 13" for another protocol version, 403
// for a refused Origin (see AcceptOptions.OriginPatterns) and 400 for the
// rest. Accept then returns an error; the response has been written, so the
// handler must not write another.
//
// The request was read by the http.Server before the handler ran, so its
// bounds are the server's: set http.Server.ReadHeaderTimeout (none by
// default) and MaxHeaderBytes (1 MiB by default) on any server reachable by
// untrusted clients. AcceptOptions.HandshakeTimeout bounds only the writing
// of the response here.
//
// Over HTTP/2, Accept completes an extended CONNECT (RFC 8441) with a 200
// response, and the Conn runs over that stream of the HTTP/2 connection, with
// the same rules and limits as over TCP. net/http's server lets clients send
// extended CONNECT only when the GODEBUG environment variable holds
// http2xconnect=1 when the program starts; browsers then open their
// WebSockets as streams of the page's connection. A route for them must
// accept the CONNECT method: "/ws" does, "GET /ws" does not. Refusals are 405
// for a method other than CONNECT, 400 with "Sec-WebSocket-Version: 13" for
// another version, 403 for a refused Origin (compared with :authority) and
// 400 for the rest.
//
// The stream ends when the handler returns, so over HTTP/2 the handler must
// not return while the Conn is in use. A handler that reads the Conn itself
// and defers c.CloseNow() is right as it is, and so is one that gives it to
// a Poller (Poller.Add returns once it has ended); one that hands the Conn
// to other goroutines must wait for <-c.Done() before it returns. Reads and writes
// after the stream has ended return an error wrapping ErrClosed that says so.
// Over HTTP/1.1 the connection is taken over and outlives the handler.
//
// Memory: while the handler runs, net/http keeps the request and the
// handler's goroutine, whose stack net/http has grown to 4 KiB: about 8.6
// KiB for an idle connection read in the handler. Over HTTP/1.1 a server
// holding many connections can hand the Conn to a goroutine of its own, or
// to a Poller, and return: an idle connection then costs about 4 KiB, or
// 0.6 KiB under a Poller (the scale workload of benchmarks/).
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	var start time.Time
	if opts.Observer != nil {
		start = time.Now()
	}
	var c *Conn
	var err error
	if r.ProtoMajor == 2 {
		c, err = acceptHTTP2(w, r, opts) // RFC 8441, in http2.go
	} else {
		c, err = acceptHTTP1(w, r, opts)
	}
	opts.observe(c, err, start, r.ProtoMajor == 2, r.RemoteAddr)
	return c, err
}

// observe tells the Observer, if any, of a handshake's outcome.
func (o *AcceptOptions) observe(c *Conn, err error, start time.Time, http2 bool, remote string) {
	if o.Observer == nil {
		return
	}
	var ref *refusal
	switch {
	case c != nil:
		c.opened(o.Observer, start, http2, c.comp.extensions())
	case errors.As(err, &ref):
		o.Observer.refused(RefusalInfo{Server: true, Status: ref.status, Reason: ref.reason, RemoteAddr: remote})
	}
}

// acceptHTTP1 is Accept for a request that came over HTTP/1.x.
func acceptHTTP1(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	key, ref := checkRequest(r, opts)
	if ref != nil {
		ref.respond(w)
		return nil, ref
	}
	cfg := opts.connConfig(selectSubprotocol(r.Header, opts.Subprotocols))
	ext := opts.negotiateExtensions(r.Header.Values("Sec-WebSocket-Extensions"), &cfg)

	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "websocket: cannot take over the connection", http.StatusInternalServerError)
		return nil, hijackError(w, err)
	}
	// The server's read and write timeouts must not outlive the handshake:
	// a WebSocket connection is long-lived and has deadlines of its own.
	if err := writeResponse(nc, opts.handshakeTimeout(), key, cfg.subprotocol, ext, opts.ResponseHeader); err != nil {
		nc.Close()
		return nil, err
	}
	return newConn(nc, releaseHijacked(nc, brw), true, cfg), nil
}

// AcceptConn completes the server side of the opening handshake on a
// connection accepted from the caller's own listener, with no http.Server:
// it reads the HTTP request itself, bounded by opts.HandshakeTimeout and
// opts.MaxHeaderBytes, validates it as Accept does and writes the response.
// br, if not nil, must read from nc; it is used when it may already hold
// bytes of the request. opts may be nil.
//
// On failure AcceptConn writes an error response when the request could be
// read (with "Connection: close") and returns an error, but it never closes
// nc: that is left to the caller, who may want to log or reuse it.
func AcceptConn(nc net.Conn, br *bufio.Reader, opts *AcceptOptions) (*Conn, error) {
	return handshakeApart(func() (*Conn, error) { return acceptConn(nc, br, opts) })
}

// handshakeApart runs the handshake f on a goroutine of its own and
// returns what it returns. A handshake goes deep (HTTP parsing, hashing),
// and the caller's goroutine, which usually reads the connection for the
// rest of its life, would keep for good the stack it grew to: the runtime
// halves a stack only when a quarter of it is in use, which a goroutine
// waiting in a read never is at 4 KiB. Kept at the 2 KiB it starts with,
// an idle connection costs 2 KiB less (TestConnReaderStackStaysSmall).
func handshakeApart(f func() (*Conn, error)) (*Conn, error) {
	type result struct {
		c   *Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := f()
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}

func acceptConn(nc net.Conn, br *bufio.Reader, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	var start time.Time
	if opts.Observer != nil {
		start = time.Now()
	}
	c, err := acceptConnRequest(nc, br, opts)
	opts.observe(c, err, start, false, nc.RemoteAddr().String())
	return c, err
}

func acceptConnRequest(nc net.Conn, br *bufio.Reader, opts *AcceptOptions) (*Conn, error) {
	timeout := opts.handshakeTimeout()
	if err := nc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, fmt.Errorf("websocket: accept: %w", err)
	}
	max := opts.MaxHeaderBytes
	if max <= 0 {
		max = DefaultMaxHeaderBytes
	}
	var src io.Reader = nc
	if br != nil {
		src = br
	}
	lim := &headerLimiter{r: src, n: int64(max)}
	rd := bufio.NewReaderSize(lim, min(max, DefaultBufferSize))
	r, err := http.ReadRequest(rd)
	if err != nil {
		err = lim.cause(err)
		switch {
		case errors.Is(err, errHeaderTooLarge):
			writeRefusal(nc, &refusal{status: http.StatusRequestHeaderFieldsTooLarge, reason: "request header too large"})
			return nil, fmt.Errorf("websocket: accept: request header larger than %d bytes", max)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), isTimeout(err):
			// Nobody is listening for an answer.
		default:
			writeRefusal(nc, &refusal{status: http.StatusBadRequest, reason: "malformed HTTP request"})
		}
		return nil, fmt.Errorf("websocket: accept: reading request: %w", err)
	}
	key, ref := checkRequest(r, opts)
	if ref != nil {
		writeRefusal(nc, ref)
		return nil, ref
	}
	cfg := opts.connConfig(selectSubprotocol(r.Header, opts.Subprotocols))
	ext := opts.negotiateExtensions(r.Header.Values("Sec-WebSocket-Extensions"), &cfg)
	if err := writeResponse(nc, timeout, key, cfg.subprotocol, ext, opts.ResponseHeader); err != nil {
		return nil, err
	}
	return newConn(nc, connReader(rd, lim, br, nc), true, cfg), nil
}

// refusal is a failed server handshake: the status and reason sent back, and
// the error Accept and AcceptConn return.
type refusal struct {
	status int
	reason string
	header http.Header
}

func (r *refusal) Error() string {
	return fmt.Sprintf("websocket: handshake refused with %d %s: %s", r.status, http.StatusText(r.status), r.reason)
}

// respond writes the refusal as the answer to an http.Server's request.
func (r *refusal) respond(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	http.Error(w, r.reason, r.status)
}

// checkRequest validates a client's opening handshake as RFC 6455 §4.2.1
// lists it and returns its Sec-WebSocket-Key, or why it is refused.
func checkRequest(r *http.Request, o *AcceptOptions) (string, *refusal) {
	bad := func(reason string) (string, *refusal) {
		return "", &refusal{status: http.StatusBadRequest, reason: reason}
	}
	if err := o.Compression.check(); err != nil {
		return "", &refusal{status: http.StatusInternalServerError, reason: err.Error()}
	}
	switch {
	case r.Method != http.MethodGet:
		return "", &refusal{status: http.StatusMethodNotAllowed, reason: "method must be GET",
			header: http.Header{"Allow": {"GET"}}}
	case !r.ProtoAtLeast(1, 1):
		return bad("HTTP/1.1 or later required")
	case r.URL.Path != "" && r.URL.Path[0] != '/' || r.URL.Opaque != "":
		// §4.2.1 item 1: the target is a resource name, such as
		// "/chat?room=1", or an absolute URI holding one; not "*".
		return bad("request target must be a path")
	case !validHost(r.Host):
		// §4.2.1 item 2, RFC 9112 §3.2: the request names the server's
		// authority. http.Server checks this already; AcceptConn must.
		return bad("missing or invalid Host header")
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return bad(`Upgrade header must include "websocket"`)
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return bad(`Connection header must include "Upgrade"`)
	}
	// §11.3.5: the field appears at most once in a request.
	v := r.Header.Values("Sec-WebSocket-Version")
	if len(v) > 1 {
		return bad("want one Sec-WebSocket-Version header")
	}
	// §4.2.2 item 4: an unknown version is answered with the versions the
	// server speaks, so the client may retry with one of them (§4.4). A 426
	// must also carry Upgrade (RFC 9110 §15.5.22).
	if len(v) == 0 || strings.TrimSpace(v[0]) != "13" {
		return "", &refusal{status: http.StatusUpgradeRequired, reason: "unsupported Sec-WebSocket-Version, want 13",
			header: http.Header{"Sec-Websocket-Version": {"13"}, "Upgrade": {"websocket"}}}
	}
	// §4.1 item 7 and §11.3.1: one key, a base64-encoded 16-byte nonce.
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return bad("want exactly one Sec-WebSocket-Key header")
	}
	key := strings.TrimSpace(keys[0])
	if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) != 16 {
		return bad("Sec-WebSocket-Key must be 16 bytes in base64")
	}
	// After the request come frames; a body would be read as one.
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return bad("handshake request must have no body")
	}
	if !originAllowed(r, o) {
		return "", originRefusal(r)
	}
	if o.RequireSubprotocol && selectSubprotocol(r.Header, o.Subprotocols) == "" {
		return bad(fmt.Sprintf("no offered subprotocol is spoken here; offer one of %q", o.Subprotocols))
	}
	return key, nil
}

// validHost reports whether h is a URI authority without user information,
// host[:port] (RFC 3986 §3.2.2, §3.2.3), as a Host header must be.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=%:[]", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// originAllowed applies the same-origin policy that browsers leave to the
// server (RFC 6455 §4.2.2 item 4, §10.2): the Origin header says which page
// opened the connection, and cookies are sent whatever it is.
func originAllowed(r *http.Request, o *AcceptOptions) bool {
	origins := r.Header.Values("Origin")
	if o.SkipOriginCheck || len(origins) == 0 {
		return true
	}
	if len(origins) > 1 {
		return false
	}
	host := strings.ToLower(strings.TrimSpace(origins[0]))
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = u.Host
		if sameHost(u.Scheme, host, strings.ToLower(r.Host)) {
			return true
		}
	}
	for _, p := range o.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}

// sameHost compares an origin's host with a request's Host, both lowercased,
// treating an explicit default port of the origin's scheme as absent.
func sameHost(scheme, a, b string) bool {
	if a == b {
		return true
	}
	var port string
	switch scheme {
	case "http", "ws":
		port = ":80"
	case "https", "wss":
		port = ":443"
	default:
		return false
	}
	return strings.TrimSuffix(a, port) == strings.TrimSuffix(b, port)
}

// selectSubprotocol returns the first of the server's subprotocols that the
// client offered, or "" (RFC 6455 §4.2.2 item 5.4). Only tokens are
// selected (§4.1 item 10), so that whatever the server lists, the response
// carries a value the client can parse.
func selectSubprotocol(h http.Header, prefs []string) string {
	offered := headerList(h, "Sec-WebSocket-Protocol")
	for _, p := range prefs {
		for _, q := range offered {
			if p == q && httphead.IsToken(p) {
				return p
			}
		}
	}
	return ""
}

// writeResponse writes the 101 response of RFC 6455 §4.2.2 item 5 on nc,
// bounded by timeout, and leaves nc with no deadline.
func writeResponse(nc net.Conn, timeout time.Duration, key, subprotocol, ext string, extra http.Header) error {
	b := make([]byte, 0, 256)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, AcceptKey(key)...)
	b = append(b, "\r\n"...)
	if subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "+subprotocol+"\r\n"...)
	}
	if ext != "" {
		b = append(b, "Sec-WebSocket-Extensions: "+ext+"\r\n"...)
	}
	b = appendHeader(b, extra, true)
	b = append(b, "\r\n"...)
	if err := nc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("websocket: accept: %w", err)
	}
	if _, err := nc.Write(b); err != nil {
		return fmt.Errorf("websocket: accept: writing response: %w", err)
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("websocket: accept: %w", err)
	}
	return nil
}

// writeRefusal answers a refused request on a raw connection, as http.Error
// would. The connection is not reused, so it says Connection: close.
func writeRefusal(nc net.Conn, r *refusal) {
	body := r.reason + "\n"
	b := make([]byte, 0, 256)
	b = append(b, "HTTP/1.1 "+strconv.Itoa(r.status)+" "+http.StatusText(r.status)+"\r\n"...)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n"...)
	b = append(b, "Content-Length: "+strconv.Itoa(len(body))+"\r\n"...)
	b = appendHeader(b, r.header, false)
	b = append(b, "\r\n"+body...)
	nc.Write(b) // best effort: the handshake has failed either way
}

// releaseHijacked returns the hijacked reader if it holds frames the
// client sent right behind its request, for the Conn to read first, or nil.
// net/http's connection keeps both hijacked buffers, 4 KiB each, for as
// long as the handler runs, but uses neither after the hijack; so the
// buffers it does not hand over are swapped for tiny ones, and the Conn
// takes its read buffer from its pool only while reading (readbuf.go).
// Not inlined: the swap's temporaries would otherwise enlarge Accept's
// frame, which is on the stack when the response is written, and the
// handler's stack (at its deepest then) could double for good.
//
//go:noinline
func releaseHijacked(nc net.Conn, brw *bufio.ReadWriter) *bufio.Reader {
	*brw.Writer = *bufio.NewWriterSize(nc, 1)
	if brw.Reader.Buffered() > 0 {
		return brw.Reader
	}
	*brw.Reader = *bufio.NewReaderSize(nc, 16)
	return nil
}

// originRefusal is the 403 for a cross-origin request that
// AcceptOptions.OriginPatterns does not allow. It names the Origin and the
// Host, quoted so that whatever bytes they hold read as plain text (the
// body is text/plain and not sniffed), and says how to allow the origin,
// since the first to meet it is a developer serving a page from another port.
func originRefusal(r *http.Request) *refusal {
	origins := r.Header.Values("Origin")
	if len(origins) > 1 {
		return &refusal{status: http.StatusForbidden, reason: fmt.Sprintf("%d Origin headers, want one", len(origins))}
	}
	return &refusal{status: http.StatusForbidden, reason: fmt.Sprintf(
		"origin %q not allowed for host %q: the server must list the origin's host in AcceptOptions.OriginPatterns",
		origins[0], r.Host)}
}

// hijackError explains a failed hijack. The usual cause is a middleware
// whose ResponseWriter wraps the server's without exposing it.
func hijackError(w http.ResponseWriter, err error) error {
	if errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("websocket: accept: cannot take over the connection: the http.ResponseWriter is a %T, "+
			"which has neither a Hijack method nor an Unwrap() http.ResponseWriter method returning the writer it wraps; "+
			"a middleware that wraps the ResponseWriter must add Unwrap (see http.NewResponseController) (%w)", w, err)
	}
	return fmt.Errorf("websocket: accept: %w", err)
}
