package websocket

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The close codes and errors a Conn reports, shared by the native Conn and
// the browser's (conn_js.go).

// StatusCode is a close status code (RFC 6455 §7.4).
type StatusCode uint16

// The status codes of RFC 6455 §7.4.1 and the IANA registry. StatusNoStatusReceived,
// StatusAbnormalClosure and StatusTLSHandshake are never sent on the wire: they
// only describe a closure locally.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusReceived        StatusCode = 1005
	StatusAbnormalClosure         StatusCode = 1006
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	StatusTLSHandshake            StatusCode = 1015
)

var statusNames = map[StatusCode]string{
	StatusNormalClosure:           "normal closure",
	StatusGoingAway:               "going away",
	StatusProtocolError:           "protocol error",
	StatusUnsupportedData:         "unsupported data",
	StatusNoStatusReceived:        "no status received",
	StatusAbnormalClosure:         "abnormal closure",
	StatusInvalidFramePayloadData: "invalid frame payload data",
	StatusPolicyViolation:         "policy violation",
	StatusMessageTooBig:           "message too big",
	StatusMandatoryExtension:      "mandatory extension",
	StatusInternalError:           "internal error",
	StatusServiceRestart:          "service restart",
	StatusTryAgainLater:           "try again later",
	StatusBadGateway:              "bad gateway",
	StatusTLSHandshake:            "TLS handshake",
}

// String returns the code and its registered name, as "1000 (normal closure)".
func (s StatusCode) String() string {
	if name, ok := statusNames[s]; ok {
		return strconv.Itoa(int(s)) + " (" + name + ")"
	}
	return strconv.Itoa(int(s))
}

// validOnWire reports whether a peer may send s in a Close frame (RFC 6455
// §7.4): the defined codes less those reserved for local use (1005, 1006,
// 1015) and 1004, plus 3000-4999 for libraries and applications.
func (s StatusCode) validOnWire() bool {
	switch {
	case s >= 1000 && s <= 1003, s >= 1007 && s <= 1014:
		return true
	case s >= 3000 && s <= 4999:
		return true
	}
	return false
}

// CloseError is the error a Conn returns once the peer has closed the
// connection with a Close frame: it carries the peer's code and reason. A Close
// frame with no body gives Code StatusNoStatusReceived. Use errors.As to get it.
type CloseError struct {
	Code   StatusCode
	Reason string
}

// Error returns the code, as a number and a name, and the reason, if any:
// "websocket: closed by peer: 1001 (going away): \"restarting\"".
func (e *CloseError) Error() string {
	if e.Reason == "" {
		return "websocket: closed by peer: " + e.Code.String()
	}
	return fmt.Sprintf("websocket: closed by peer: %v: %q", e.Code, e.Reason)
}

// CloseStatus returns the code of the first *CloseError in err's chain, or 0 if
// there is none.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// IsNormalClose reports whether err, returned by a read, is the end of a
// connection that closed as planned rather than a failure:
//
//   - the peer's Close frame with StatusNormalClosure, StatusGoingAway or no
//     code (StatusNoStatusReceived, what a browser's close() sends), or
//   - the end of the connection after this side closed it with Close or
//     CloseNow, whether or not the peer answered with a Close frame.
//
// Anything else is a failure worth logging: another close code, a
// connection that ended without a closing handshake (1006), a protocol
// violation by the peer, a read deadline, or a keep-alive that dropped an
// unresponsive peer. The loop that reads a connection ends with
//
//	if err != nil {
//		if !websocket.IsNormalClose(err) {
//			log.Printf("connection failed: %v", err)
//		}
//		return
//	}
func IsNormalClose(err error) bool {
	switch CloseStatus(err) {
	case StatusNormalClosure, StatusGoingAway, StatusNoStatusReceived:
		return true
	}
	return errors.Is(err, errLocalClose)
}

// errLocalClose is wrapped by the errors of reads that end because this side
// closed the connection (IsNormalClose).
var errLocalClose = fmt.Errorf("%w by this side", ErrClosed)

var (
	// ErrClosed is wrapped by the error a write returns once the connection is
	// closing or closed, and by reads after a closure that had no Close frame.
	ErrClosed = errors.New("websocket: connection closed")
	// ErrMessageTooBig is wrapped by the error a read returns when a message
	// exceeds the read limit; the Conn has then closed with StatusMessageTooBig.
	ErrMessageTooBig = errors.New("websocket: message exceeds read limit")
	// ErrInvalidUTF8 is wrapped by the error a read returns when a text message
	// or a close reason is not valid UTF-8; the Conn has then closed with
	// StatusInvalidFramePayloadData.
	ErrInvalidUTF8 = errors.New("websocket: invalid UTF-8")
)

// DefaultCloseTimeout bounds how long Close waits for the peer's Close frame
// and, on a client, for the server to end the TCP connection.
const DefaultCloseTimeout = 5 * time.Second
