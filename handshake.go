package websocket

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fullduplex/websocket/internal/httphead"
)

// The opening handshake (RFC 6455 §4): what both roles share. The server
// side is in accept.go, the client side in dial.go and proxy.go.

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
		if !httphead.IsToken(k) || skipReserved && reservedHeaders[http.CanonicalHeaderKey(k)] {
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

// Subprotocols returns the subprotocols a client's handshake request
// offers, in the client's order of preference (RFC 6455 §4.1 item 10), or
// nil. A reverse proxy forwards them to the backend with
// DialOptions.Subprotocols, then accepts the client with the one the
// backend chose as the only entry of AcceptOptions.Subprotocols.
func Subprotocols(r *http.Request) []string {
	return headerList(r.Header, "Sec-WebSocket-Protocol")
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

// Error says what was wrong with the response and its status.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket: handshake failed (status %d): %s", e.StatusCode, e.Reason)
}

// errHeaderTooLarge is returned by a headerLimiter past its limit.
var errHeaderTooLarge = errors.New("websocket: handshake header too large")

// headerLimiter lets at most n bytes be read through it, so that a peer
// cannot make the handshake read an endless header; n < 0 lifts the limit
// once the handshake is over.
type headerLimiter struct {
	r   io.Reader
	n   int64
	err error // the last error from r, which net/textproto may report as a malformed header
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
	if err != nil {
		l.err = err
	}
	return n, err
}

// cause returns err, or the network's error behind it: a header cut short
// by a timeout or a reset reads as malformed to net/textproto.
func (l *headerLimiter) cause(err error) error {
	if l.err != nil && l.err != io.EOF && !errors.Is(err, l.err) {
		return l.err
	}
	return err
}

// connReader returns the reader a Conn should read from once the handshake
// read through rd, which reads from nc through lim (and, if the caller gave
// one, the caller's br). Bytes past the handshake may be buffered in rd or
// br and must be kept. When there are none, which is the rule since a client
// waits for the 101 before it sends frames (RFC 6455 §4.1), rd is pointed at
// nc itself and the limiter is gone from every later read. Otherwise the
// lifted limiter stays under rd, costing one call per refill of its buffer.
func connReader(rd *bufio.Reader, lim *headerLimiter, br *bufio.Reader, nc net.Conn) *bufio.Reader {
	lim.n = -1
	switch {
	case rd.Buffered() > 0:
		return rd
	case br != nil && br.Buffered() > 0:
		return br
	}
	rd.Reset(nc)
	return rd
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// DefaultReadLimit is the largest message, in bytes, that a Conn reads unless
// the ReadLimit option or SetReadLimit says otherwise.
const DefaultReadLimit = 16 << 20

// DefaultBufferSize is the size of a Conn's read buffer and of its write
// buffer when the options leave them zero.
const DefaultBufferSize = 4096

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
