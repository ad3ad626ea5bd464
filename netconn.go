package websocket

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// NetConn returns a net.Conn that carries a byte stream over c, for
// tunnelling protocols that expect one. Each Write sends its bytes as one
// message of type op; Read returns the payloads of the incoming messages, of
// either type, one after another, without their boundaries. With OpText each
// Write must be valid UTF-8 on its own, so OpBinary suits arbitrary bytes.
//
// Read returns io.EOF once the peer closes with StatusNormalClosure or
// StatusGoingAway, and the close error for any other code. Close runs the
// closing handshake with StatusNormalClosure. Deadlines are the Conn's: unlike
// on a TCP connection, a Read or Write that times out leaves the stream
// unusable in that direction, since the Conn cannot resume a frame cut short.
// As net.Conn requires, its methods may be called from several goroutines;
// reads are serialized, and the Conn must not be read from elsewhere.
func NetConn(c *Conn, op Opcode) net.Conn {
	return &netConn{c: c, op: op}
}

type netConn struct {
	c  *Conn
	op Opcode

	readMu sync.Mutex
	r      io.Reader // the message being read; nil between messages
	rerr   error     // sticky
}

func (nc *netConn) Read(p []byte) (int, error) {
	nc.readMu.Lock()
	defer nc.readMu.Unlock()
	if nc.rerr != nil {
		return 0, nc.rerr
	}
	if len(p) == 0 {
		return 0, nil // as a TCP connection does, without waiting for data
	}
	for {
		if nc.r == nil {
			_, r, err := nc.c.NextReader()
			if err != nil && isTimeout(err) {
				// Between messages the Conn stays readable after a
				// timeout (SetReadDeadline), as a net.Conn does; a
				// timeout that broke it comes back from it each time.
				return 0, err
			}
			if err != nil {
				nc.rerr = streamError(err)
				return 0, nc.rerr
			}
			nc.r = r
		}
		n, err := nc.r.Read(p)
		if err == io.EOF {
			nc.r = nil
			if n == 0 {
				continue // an empty message, or the end of one: go on to the next
			}
			err = nil
		}
		if err != nil {
			nc.rerr = streamError(err)
		}
		return n, nc.rerr
	}
}

// streamError maps the end of the WebSocket to the end of the byte stream:
// a normal closure is io.EOF, as a clean TCP close would be.
func streamError(err error) error {
	switch CloseStatus(err) {
	case StatusNormalClosure, StatusGoingAway:
		return io.EOF
	}
	return err
}

func (nc *netConn) Write(p []byte) (int, error) {
	if err := nc.c.WriteMessage(nc.op, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (nc *netConn) Close() error {
	err := nc.c.Close(StatusNormalClosure, "")
	if errors.Is(err, ErrClosed) {
		return net.ErrClosed
	}
	return err
}

func (nc *netConn) LocalAddr() net.Addr                { return nc.c.LocalAddr() }
func (nc *netConn) RemoteAddr() net.Addr               { return nc.c.RemoteAddr() }
func (nc *netConn) SetDeadline(t time.Time) error      { return nc.c.SetDeadline(t) }
func (nc *netConn) SetReadDeadline(t time.Time) error  { return nc.c.SetReadDeadline(t) }
func (nc *netConn) SetWriteDeadline(t time.Time) error { return nc.c.SetWriteDeadline(t) }
