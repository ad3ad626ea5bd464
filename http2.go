//go:build !js

package websocket

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fullduplex/websocket/internal/h2stream"
	"github.com/fullduplex/websocket/internal/httphead"
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
		if httphead.IsToken(k) && !reservedHeaders[http.CanonicalHeaderKey(k)] {
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
	c := newConn(h2stream.New(w, r, rc, errStreamEnded), nil, true, cfg)
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
	if err := o.Compression.check(); err != nil {
		return &refusal{status: http.StatusInternalServerError, reason: err.Error()}
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

// writeBuffers writes bufs to nc: as one flushed write on an HTTP/2 stream,
// where each write is a DATA frame, and by writev otherwise, a Poller's
// own connections included.
func writeBuffers(nc net.Conn, bufs *net.Buffers) (int64, error) {
	if w, ok := nc.(interface {
		WriteBuffers(net.Buffers) (int64, error)
	}); ok {
		return w.WriteBuffers(*bufs)
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
	if s, ok := c.netConn().(*h2stream.Conn); ok {
		return s.Done()
	}
	return c.closed.wait()
}
