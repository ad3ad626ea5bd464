//go:build !js

package websocket

import (
	"github.com/fullduplex/websocket/internal/httphead"
	"github.com/fullduplex/websocket/internal/proxy"

	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

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

	// Jar, if not nil, supplies the cookies sent with the handshake (added
	// to any Cookie in Header) and stores those the server sets with
	// Set-Cookie, in the 101 response or in a refusal, as an http.Client
	// with this Jar would: the URL given to the jar has scheme http for ws
	// and https for wss, so that Secure cookies go over wss only.
	Jar http.CookieJar

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
	// http.ProxyFromEnvironment, which reads HTTP_PROXY for ws, HTTPS_PROXY
	// for wss and NO_PROXY (but not ALL_PROXY, as net/http does not), and
	// never proxies localhost or loopback addresses. Use http.ProxyURL for
	// a fixed proxy. The proxy URL's scheme says how to ask for a tunnel:
	//
	//   - http: a CONNECT request (RFC 9110 §9.3.6), with the URL's user
	//     information as Basic Proxy-Authorization;
	//   - https: the same, through TLS to the proxy, whose certificate is
	//     checked against TLSConfig for the proxy's host name;
	//   - socks5 and socks5h: SOCKS version 5 (RFC 1928), with the URL's
	//     user information as username and password (RFC 1929). Both send
	//     the server's host name for the proxy to resolve, as net/http does,
	//     so that no name is looked up outside the proxy.
	//
	// The port defaults to 80, 443 and 1080 respectively.
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
	// turns it on with no context takeover: the client offers it and asks
	// the server not to keep its context. See CompressionOptions.
	Compression CompressionOptions

	// Observer, if not nil, is told of the handshake's outcome, a refusal
	// included, and of what then happens on the Conn. See Observer.
	Observer *Observer
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

// maxResponseHeaderBytes bounds the status line and headers Dial reads.
const maxResponseHeaderBytes = 16 << 10

// Dial opens a WebSocket connection to urlStr, a ws:// or wss:// URL (http://
// and https:// are taken as their WebSocket counterparts), performing the
// client's opening handshake (RFC 6455 §4.1). opts may be nil.
//
// ctx bounds the dial and the handshake, not the returned Conn. When the
// server answers with something other than a valid 101 response the error is
// a *HandshakeError, which carries the response's status, headers and the
// start of its body. The 101 response itself is the Conn's Response.
//
// Dial sends no Origin unless opts.Header has one: RFC 6455 §4.1 item 8
// asks it of browsers only. Nor does it queue handshakes to the same
// address one behind the other, as §4.1 item 2 asks of a client: that rule
// keeps scripts in a browser from flooding a host, and a program that dials
// chooses its own concurrency.
func Dial(ctx context.Context, urlStr string, opts *DialOptions) (*Conn, error) {
	return handshakeApart(func() (*Conn, error) { return dial(ctx, urlStr, opts) })
}

func dial(ctx context.Context, urlStr string, opts *DialOptions) (*Conn, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	if err := opts.Compression.check(); err != nil {
		return nil, err
	}
	o := opts.Observer
	if o == nil {
		return dialURL(ctx, urlStr, opts)
	}
	start := time.Now()
	c, err := dialURL(ctx, urlStr, opts)
	var he *HandshakeError
	switch {
	case c != nil:
		c.opened(o, start, false, c.comp.extensions())
	case errors.As(err, &he):
		o.refused(RefusalInfo{Status: he.StatusCode, Reason: he.Reason, RemoteAddr: urlStr})
	}
	return c, err
}

func dialURL(ctx context.Context, urlStr string, opts *DialOptions) (*Conn, error) {
	u, err := parseWebSocketURL(urlStr)
	if err != nil {
		return nil, err
	}
	key := newKey()
	if opts.Jar != nil {
		opts = withJarCookies(opts, u)
	}
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
		var err error
		if nc, err = proxy.Connect(ctx, raw, proxyURL, hostPort(u), opts.TLSConfig); err != nil {
			return nil, err
		}
	}
	if u.Scheme == "wss" {
		tc, err := tlsClient(ctx, nc, u, opts.TLSConfig)
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
		err = lim.cause(err)
		if errors.Is(err, errHeaderTooLarge) {
			err = fmt.Errorf("response header larger than %d bytes", maxResponseHeaderBytes)
		}
		return nil, fmt.Errorf("websocket: dial %s: reading response: %w", u.Host, err)
	}
	br = connReader(br, lim, nil, nc)
	if opts.Jar != nil {
		if rc := resp.Cookies(); len(rc) > 0 {
			opts.Jar.SetCookies(httpURL(u), rc)
		}
	}
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
	c := newConn(nc, br, false, cfg)
	resp.Body = http.NoBody // what follows the 101 are frames, the Conn's
	if c.x == nil {
		c.x = new(connExtra)
	}
	c.x.resp = resp
	return c, nil
}

// Response returns the server's 101 response to Dial: its status and
// headers (Set-Cookie, rate limits, session ids...), with an empty Body.
// It returns nil for a server's Conn.
func (c *Conn) Response() *http.Response {
	if c.x == nil {
		return nil
	}
	return c.x.resp
}

// httpURL returns u with the HTTP scheme of the same security, as cookie
// jars and proxy functions expect.
func httpURL(u *url.URL) *url.URL {
	hu := *u
	hu.Scheme = "http"
	if u.Scheme == "wss" {
		hu.Scheme = "https"
	}
	return &hu
}

// withJarCookies returns a copy of opts whose Header carries the cookies
// opts.Jar has for u, after those Header already had.
func withJarCookies(opts *DialOptions, u *url.URL) *DialOptions {
	cookies := opts.Jar.Cookies(httpURL(u))
	if len(cookies) == 0 {
		return opts
	}
	o := *opts
	o.Header = opts.Header.Clone()
	if o.Header == nil {
		o.Header = http.Header{}
	}
	// http.Request.AddCookie sanitizes names and values as http.Client
	// does, and joins them into one Cookie header (RFC 6265 §5.4).
	if v := o.Header.Values("Cookie"); len(v) > 1 {
		o.Header.Set("Cookie", strings.Join(v, "; ")) // AddCookie keeps only the first
	}
	r := &http.Request{Header: o.Header}
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	return &o
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
	// §4.1 item 2 of the response checks: the value is "websocket", not a
	// list that includes it, as browsers also require.
	if u := headerList(h, "Upgrade"); len(u) != 1 || !strings.EqualFold(u[0], "websocket") {
		return fail(`response Upgrade header is not "websocket"`)
	}
	if !headerHasToken(h, "Connection", "upgrade") {
		return fail(`response Connection header does not include "Upgrade"`)
	}
	// §11.3.3: the field appears at most once in a response.
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

// buildRequest returns the client's opening handshake (RFC 6455 §4.1),
// rejecting headers and subprotocols that could not be sent as they are.
func buildRequest(u *url.URL, key string, opts *DialOptions) ([]byte, error) {
	host := hostHeader(u)
	if h := opts.Header.Get("Host"); h != "" {
		host = h
	}
	for _, p := range opts.Subprotocols {
		// §4.1 item 10: tokens, each offered once.
		if !httphead.IsToken(p) {
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
		b = append(b, "Authorization: Basic "+proxy.BasicAuth(u.User)+"\r\n"...)
	}
	for k, vs := range opts.Header {
		if !httphead.IsToken(k) {
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

// hostHeader returns the Host of a request for u: its host, with the port
// only when it is not the scheme's default (RFC 6455 §4.1 item 4), as
// browsers send it. A server comparing Host with Origin, which browsers send
// without a default port either, then sees the same authority in both.
func hostHeader(u *url.URL) string {
	port := u.Port()
	if port == "" || port == "80" && u.Scheme == "ws" || port == "443" && u.Scheme == "wss" {
		// Trimmed rather than rebuilt, so that an IPv6 literal keeps its
		// brackets and zone as written.
		return strings.TrimSuffix(u.Host, ":"+port)
	}
	return u.Host
}

// dialServer opens the TCP connection for u: to the server itself, or to the
// proxy that opts.Proxy names, which is returned too: the tunnel is then
// still to be asked for with proxy.Connect.
func dialServer(ctx context.Context, u *url.URL, opts *DialOptions) (net.Conn, *url.URL, error) {
	dial := opts.NetDialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	proxyURL, err := proxyFor(u, opts)
	if err != nil {
		return nil, nil, err
	}
	addr := hostPort(u)
	if proxyURL != nil {
		addr = proxy.Addr(proxyURL)
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: dial %s: %w", addr, err)
	}
	return nc, proxyURL, nil
}

// proxyFor returns the proxy to use for u, or nil.
func proxyFor(u *url.URL, opts *DialOptions) (*url.URL, error) {
	choose := opts.Proxy
	if choose == nil {
		choose = http.ProxyFromEnvironment
	}
	// Proxy functions, http.ProxyFromEnvironment first, choose by the HTTP
	// scheme: a ws URL goes where http traffic goes, wss where https does.
	p, err := choose(&http.Request{Method: http.MethodGet, URL: httpURL(u), Header: http.Header{}, Host: u.Host})
	if err != nil {
		return nil, fmt.Errorf("websocket: finding proxy: %w", err)
	}
	if p == nil {
		return nil, nil
	}
	if err := proxy.Check(p); err != nil {
		return nil, err
	}
	return p, nil
}

// hostPort returns u's host and port, the port defaulting to 80 for ws and
// 443 for wss (RFC 6455 §3).
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// tlsClient runs the TLS handshake for a wss connection.
func tlsClient(ctx context.Context, nc net.Conn, u *url.URL, conf *tls.Config) (*tls.Conn, error) {
	if conf == nil {
		conf = &tls.Config{}
	} else {
		conf = conf.Clone()
	}
	if conf.ServerName == "" {
		conf.ServerName = u.Hostname()
	}
	// The opening handshake is HTTP/1.1 (RFC 6455 §4.1); WebSockets over
	// HTTP/2 (RFC 8441) work differently, so never let ALPN pick h2.
	if len(conf.NextProtos) > 0 {
		conf.NextProtos = []string{"http/1.1"}
	}
	tc := tls.Client(nc, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("websocket: TLS handshake with %s: %w", u.Host, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "" && !strings.EqualFold(p, "http/1.1") {
		return nil, fmt.Errorf("websocket: server %s negotiated %q over ALPN", u.Host, p)
	}
	return tc, nil
}
