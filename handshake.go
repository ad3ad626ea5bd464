package websocket

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultHandshakeTimeout bounds an opening handshake when the options leave
// HandshakeTimeout zero.
const DefaultHandshakeTimeout = 10 * time.Second

// DefaultMaxHeaderBytes bounds the request line and headers AcceptConn reads
// when AcceptOptions.MaxHeaderBytes is zero.
const DefaultMaxHeaderBytes = 8 << 10

// websocketGUID is appended to the client's key before hashing (RFC 6455
// §1.3): a value no non-WebSocket server would know, so a 101 carrying the
// right Sec-WebSocket-Accept proves the server understood the handshake.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a Sec-WebSocket-Key:
// the base64 encoding of the SHA-1 hash of key followed by the WebSocket GUID
// (RFC 6455 §4.2.2 item 5.4).
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(websocketGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// AcceptOptions configures Accept and AcceptConn. A nil *AcceptOptions is the
// same as a zero AcceptOptions, whose every field has a safe default.
type AcceptOptions struct {
	// Subprotocols lists the application protocols the server speaks, most
	// preferred first. The first one the client also offers is selected
	// (RFC 6455 §4.2.2 item 5.4); when none matches, the response names no
	// subprotocol and the client decides whether to go on.
	Subprotocols []string

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

	// PingInterval, if positive, makes the Conn ping the peer that often.
	PingInterval time.Duration

	// CloseTimeout bounds the wait for the peer's Close frame in Conn.Close;
	// zero means DefaultCloseTimeout.
	CloseTimeout time.Duration

	// Compression configures permessage-deflate (RFC 7692). The zero value
	// accepts a client's offer without context takeover; see
	// CompressionOptions.
	Compression CompressionOptions
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
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	if opts == nil {
		opts = &AcceptOptions{}
	}
	key, ref := checkRequest(r, opts)
	if ref != nil {
		h := w.Header()
		for k, v := range ref.header {
			h[k] = v
		}
		http.Error(w, ref.reason, ref.status)
		return nil, ref
	}
	cfg := opts.connConfig(selectSubprotocol(r.Header, opts.Subprotocols))
	ext := opts.negotiateExtensions(r.Header.Values("Sec-WebSocket-Extensions"), &cfg)

	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "websocket: cannot take over the connection", http.StatusInternalServerError)
		return nil, fmt.Errorf("websocket: accept: %w", err)
	}
	// The server's read and write timeouts must not outlive the handshake:
	// a WebSocket connection is long-lived and has deadlines of its own.
	if err := writeResponse(nc, opts.handshakeTimeout(), key, cfg.subprotocol, ext, opts.ResponseHeader); err != nil {
		nc.Close()
		return nil, err
	}
	// The client may have sent frames right behind its request; the
	// hijacked reader holds them.
	var br *bufio.Reader
	if brw.Reader.Buffered() > 0 {
		br = brw.Reader
	}
	return newConn(nc, br, true, cfg), nil
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
	if opts == nil {
		opts = &AcceptOptions{}
	}
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
	lim.n = -1
	return newConn(nc, rd, true, cfg), nil
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

// checkRequest validates a client's opening handshake as RFC 6455 §4.2.1
// lists it and returns its Sec-WebSocket-Key, or why it is refused.
func checkRequest(r *http.Request, o *AcceptOptions) (string, *refusal) {
	bad := func(reason string) (string, *refusal) {
		return "", &refusal{status: http.StatusBadRequest, reason: reason}
	}
	switch {
	case r.Method != http.MethodGet:
		return "", &refusal{status: http.StatusMethodNotAllowed, reason: "method must be GET",
			header: http.Header{"Allow": {"GET"}}}
	case !r.ProtoAtLeast(1, 1):
		return bad("HTTP/1.1 or later required")
	case r.Host == "":
		return bad("missing Host header")
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return bad(`Upgrade header must include "websocket"`)
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return bad(`Connection header must include "Upgrade"`)
	}
	// §4.2.2 item 4: an unknown version is answered with the versions the
	// server speaks, so the client may retry with one of them (§4.4). A 426
	// must also carry Upgrade (RFC 9110 §15.5.22).
	if v := r.Header.Values("Sec-WebSocket-Version"); len(v) != 1 || strings.TrimSpace(v[0]) != "13" {
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
		return "", &refusal{status: http.StatusForbidden, reason: "origin not allowed"}
	}
	return key, nil
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
// client offered, or "" (RFC 6455 §4.2.2 item 5.4).
func selectSubprotocol(h http.Header, prefs []string) string {
	offered := headerList(h, "Sec-WebSocket-Protocol")
	for _, p := range prefs {
		for _, q := range offered {
			if p == q {
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

// reservedHeaders are set by the handshake itself and never taken from the
// caller's headers, so that they cannot contradict it.
var reservedHeaders = map[string]bool{
	"Host": true, "Upgrade": true, "Connection": true, "Content-Length": true, "Transfer-Encoding": true,
	"Sec-Websocket-Key": true, "Sec-Websocket-Version": true, "Sec-Websocket-Accept": true,
	"Sec-Websocket-Protocol": true, "Sec-Websocket-Extensions": true,
}

// appendHeader appends h in wire format. With skipReserved it leaves out the
// reservedHeaders. Like net/http's server, it drops fields with invalid names
// and turns CR and LF in values into spaces, so a header cannot be injected.
func appendHeader(b []byte, h http.Header, skipReserved bool) []byte {
	for k, vs := range h {
		if !validToken(k) || skipReserved && reservedHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, crlfToSpace.Replace(v)...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

var crlfToSpace = strings.NewReplacer("\r", " ", "\n", " ")

// headerList returns the elements of the comma-separated lists in all of h's
// name fields (RFC 9110 §5.3, §5.6.1), without empty elements.
func headerList(h http.Header, name string) []string {
	var list []string
	for _, v := range h.Values(name) {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.Trim(e, " \t"); e != "" {
				list = append(list, e)
			}
		}
	}
	return list
}

// headerHasToken reports whether token, compared case-insensitively, is an
// element of h's name lists.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for e := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.Trim(e, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// validToken reports whether s is an HTTP token (RFC 9110 §5.6.2), the
// grammar of header names and of subprotocol names (RFC 6455 §4.1 item 10).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// errHeaderTooLarge is returned by a headerLimiter past its limit.
var errHeaderTooLarge = errors.New("websocket: handshake header too large")

// headerLimiter lets at most n bytes be read through it, so that a peer
// cannot make the handshake read an endless header; n < 0 lifts the limit
// once the handshake is over.
type headerLimiter struct {
	r io.Reader
	n int64
}

func (l *headerLimiter) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// newKey returns a Sec-WebSocket-Key: a fresh random 16-byte nonce in base64
// (RFC 6455 §4.1 item 7).
func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// DialOptions configures Dial. A nil *DialOptions is the same as a zero
// DialOptions.
type DialOptions struct {
	// Header holds extra request headers, such as Origin, Authorization or
	// Cookie. The headers of the handshake itself (Upgrade, Connection and
	// the Sec-WebSocket-* fields) cannot be set this way; a Host entry
	// replaces the Host taken from the URL.
	Header http.Header

	// Subprotocols lists the application protocols offered to the server,
	// in order of preference (RFC 6455 §4.1 item 10).
	Subprotocols []string

	// TLSConfig configures wss connections. It is cloned; an empty
	// ServerName is set from the URL's host, and NextProtos, if set, is
	// replaced by "http/1.1", the only protocol the handshake speaks.
	TLSConfig *tls.Config

	// NetDialContext opens the TCP connection to the server or the proxy;
	// nil means a net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Proxy returns the proxy for a request (whose URL has scheme http for
	// ws and https for wss), or nil for none; nil Proxy means
	// http.ProxyFromEnvironment. Only http:// proxies are supported: Dial
	// asks them for a tunnel with CONNECT, sending the proxy URL's user
	// information as Basic Proxy-Authorization.
	Proxy func(*http.Request) (*url.URL, error)

	// HandshakeTimeout bounds the whole handshake, from dialing to the 101
	// response; zero means DefaultHandshakeTimeout. The context passed to
	// Dial may end it sooner.
	HandshakeTimeout time.Duration

	// ReadLimit is the largest message the Conn reads; zero means
	// DefaultReadLimit. See Conn.SetReadLimit.
	ReadLimit int64

	// ReadBufferSize and WriteBufferSize size the Conn's buffers; zero
	// means DefaultBufferSize.
	ReadBufferSize, WriteBufferSize int

	// PingInterval, if positive, makes the Conn ping the peer that often.
	PingInterval time.Duration

	// CloseTimeout bounds the wait for the peer's Close frame in Conn.Close;
	// zero means DefaultCloseTimeout.
	CloseTimeout time.Duration

	// Compression configures permessage-deflate (RFC 7692). The zero value
	// offers it without context takeover; see CompressionOptions.
	Compression CompressionOptions
}

// extensionOffer is the client's extension hook (RFC 6455 §9.1): the value
// of the request's Sec-WebSocket-Extensions, "" for none.
func (o *DialOptions) extensionOffer() string {
	return deflateOffer(&o.Compression)
}

// acceptExtensions is the other half of the client's extension hook: it
// checks the response's Sec-WebSocket-Extensions values against the offer
// and records what was agreed in cfg. §4.1 item 5 fails the connection on
// any extension that was not offered.
func (o *DialOptions) acceptExtensions(values []string, cfg *connConfig) error {
	p, err := clientDeflateResponse(values, &o.Compression)
	if err != nil {
		return err
	}
	cfg.deflate = p
	return nil
}

// HandshakeError is returned by Dial when the server's response is not a
// valid opening handshake (RFC 6455 §4.1): a status other than 101, or a 101
// that fails one of the client's checks.
type HandshakeError struct {
	// StatusCode and Header are the response's.
	StatusCode int
	Header     http.Header
	// Body is at most the first MaxHandshakeErrorBody bytes of the
	// response body; nil for a 101.
	Body []byte
	// Reason says what was wrong.
	Reason string
}

// MaxHandshakeErrorBody bounds HandshakeError.Body.
const MaxHandshakeErrorBody = 1 << 10

// maxResponseHeaderBytes bounds the status line and headers Dial reads.
const maxResponseHeaderBytes = 16 << 10

// Error says what was wrong with the response and its status.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket: handshake failed (status %d): %s", e.StatusCode, e.Reason)
}

// Dial opens a WebSocket connection to urlStr, a ws:// or wss:// URL (http://
// and https:// are taken as their WebSocket counterparts), performing the
// client's opening handshake (RFC 6455 §4.1). opts may be nil.
//
// ctx bounds the dial and the handshake, not the returned Conn. When the
// server answers with something other than a valid 101 response the error is
// a *HandshakeError.
func Dial(ctx context.Context, urlStr string, opts *DialOptions) (*Conn, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	u, err := parseWebSocketURL(urlStr)
	if err != nil {
		return nil, err
	}
	key := newKey()
	req, err := buildRequest(u, key, opts)
	if err != nil {
		return nil, err
	}
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	raw, proxyURL, err := dialServer(ctx, u, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, err
	}
	// The context's deadline covers every read and write of the handshake,
	// and its cancellation interrupts them at once.
	deadline, _ := ctx.Deadline()
	raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })

	c, err := handshake(ctx, raw, proxyURL, u, key, req, opts)
	if !stop() && err == nil {
		// The context ended as the handshake succeeded, and its deadline
		// may already be set in the past: the Conn is unusable.
		c.CloseNow()
		return nil, fmt.Errorf("websocket: dial %s: %w", u.Host, ctx.Err())
	}
	if err != nil {
		raw.Close()
		var he *HandshakeError
		if errors.As(err, &he) {
			return nil, err
		}
		// The connection's deadline is the context's, and may expire an
		// instant before the context notices.
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("%w (%w)", err, cerr)
		} else if isTimeout(err) {
			return nil, fmt.Errorf("%w (%w)", err, context.DeadlineExceeded)
		}
		return nil, err
	}
	return c, nil
}

func handshake(ctx context.Context, raw net.Conn, proxyURL *url.URL, u *url.URL, key string, req []byte, opts *DialOptions) (*Conn, error) {
	nc := raw
	if proxyURL != nil {
		if err := proxyConnect(raw, u, proxyURL); err != nil {
			return nil, err
		}
	}
	if u.Scheme == "wss" {
		tc, err := tlsClient(ctx, raw, u, opts.TLSConfig)
		if err != nil {
			return nil, err
		}
		nc = tc
	}
	if _, err := nc.Write(req); err != nil {
		return nil, fmt.Errorf("websocket: dial %s: writing request: %w", u.Host, err)
	}
	size := opts.ReadBufferSize
	if size <= 0 {
		size = DefaultBufferSize
	}
	lim := &headerLimiter{r: nc, n: maxResponseHeaderBytes}
	br := bufio.NewReaderSize(lim, size)
	resp, err := readResponse(br)
	if err != nil {
		if errors.Is(err, errHeaderTooLarge) {
			err = fmt.Errorf("response header larger than %d bytes", maxResponseHeaderBytes)
		}
		return nil, fmt.Errorf("websocket: dial %s: reading response: %w", u.Host, err)
	}
	lim.n = -1
	cfg := connConfig{
		readLimit:       opts.ReadLimit,
		readBufferSize:  opts.ReadBufferSize,
		writeBufferSize: opts.WriteBufferSize,
		pingInterval:    opts.PingInterval,
		closeTimeout:    opts.CloseTimeout,
	}
	if err := checkResponse(resp, key, opts, &cfg); err != nil {
		return nil, err
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("websocket: dial %s: %w", u.Host, err)
	}
	// br may already hold the server's first frames.
	return newConn(nc, br, false, cfg), nil
}

// readResponse reads the response to the handshake, skipping interim 1xx
// responses other than 101 (RFC 9110 §15.2), a bounded number of them.
func readResponse(br *bufio.Reader) (*http.Response, error) {
	get := &http.Request{Method: http.MethodGet}
	for range 8 {
		resp, err := http.ReadResponse(br, get)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode/100 != 1 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
	return nil, errors.New("too many interim responses")
}

// checkResponse applies the client's checks of RFC 6455 §4.1 to the
// server's response, in the order the RFC lists them.
func checkResponse(resp *http.Response, key string, opts *DialOptions, cfg *connConfig) error {
	fail := func(reason string) error {
		he := &HandshakeError{StatusCode: resp.StatusCode, Header: resp.Header, Reason: reason}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			he.Body, _ = io.ReadAll(io.LimitReader(resp.Body, MaxHandshakeErrorBody))
		}
		return he
	}
	h := resp.Header
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fail("expected 101 Switching Protocols, got " + resp.Status)
	}
	if !headerHasToken(h, "Upgrade", "websocket") {
		return fail(`response Upgrade header does not include "websocket"`)
	}
	if !headerHasToken(h, "Connection", "upgrade") {
		return fail(`response Connection header does not include "Upgrade"`)
	}
	if a := h.Values("Sec-WebSocket-Accept"); len(a) != 1 || strings.TrimSpace(a[0]) != AcceptKey(key) {
		return fail("wrong Sec-WebSocket-Accept")
	}
	if err := opts.acceptExtensions(h.Values("Sec-WebSocket-Extensions"), cfg); err != nil {
		return fail(err.Error())
	}
	// §4.1 item 6: the server may select one subprotocol, from the offer.
	if p := headerList(h, "Sec-WebSocket-Protocol"); len(p) > 0 {
		if len(p) > 1 || !slices.Contains(opts.Subprotocols, p[0]) {
			return fail(fmt.Sprintf("server selected subprotocol %q that was not offered", strings.Join(p, ", ")))
		}
		cfg.subprotocol = p[0]
	}
	return nil
}

// parseWebSocketURL parses a ws or wss URL (RFC 6455 §3), mapping http and
// https to them.
func parseWebSocketURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("websocket: URL %q: scheme must be ws or wss", s)
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("websocket: URL %q has no host", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		// §3: fragment identifiers MUST NOT be used in WebSocket URIs.
		return nil, fmt.Errorf("websocket: URL %q has a fragment", s)
	}
	return u, nil
}

// buildRequest returns the client's opening handshake (RFC 6455 §4.1),
// rejecting headers and subprotocols that could not be sent as they are.
func buildRequest(u *url.URL, key string, opts *DialOptions) ([]byte, error) {
	host := u.Host
	if h := opts.Header.Get("Host"); h != "" {
		host = h
	}
	for _, p := range opts.Subprotocols {
		// §4.1 item 10: tokens, each offered once.
		if !validToken(p) {
			return nil, fmt.Errorf("websocket: invalid subprotocol %q", p)
		}
	}
	for i, p := range opts.Subprotocols {
		if slices.Contains(opts.Subprotocols[:i], p) {
			return nil, fmt.Errorf("websocket: subprotocol %q offered twice", p)
		}
	}
	b := make([]byte, 0, 512)
	b = append(b, "GET "+u.RequestURI()+" HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	b = append(b, key...)
	b = append(b, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if len(opts.Subprotocols) > 0 {
		b = append(b, "Sec-WebSocket-Protocol: "+strings.Join(opts.Subprotocols, ", ")+"\r\n"...)
	}
	if ext := opts.extensionOffer(); ext != "" {
		b = append(b, "Sec-WebSocket-Extensions: "+ext+"\r\n"...)
	}
	if u.User != nil && opts.Header.Get("Authorization") == "" {
		b = append(b, "Authorization: Basic "+basicAuth(u.User)+"\r\n"...)
	}
	for k, vs := range opts.Header {
		if !validToken(k) {
			return nil, fmt.Errorf("websocket: invalid header name %q", k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, fmt.Errorf("websocket: invalid value for header %q", k)
			}
		}
	}
	b = appendHeader(b, opts.Header, true)
	return append(b, "\r\n"...), nil
}

func basicAuth(u *url.Userinfo) string {
	pw, _ := u.Password()
	return base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + pw))
}
