//go:build js

package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall/js"
	"time"

	"github.com/fullduplex/websocket/internal/httphead"
)

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
