//go:build !js

package websocket

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// tlsConns returns the two ends of a TLS connection over loopback, its
// handshake done, the first end the client.
func tlsConns(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	a, b := tcpConns(t)
	cert, pool := testCert(t)
	ca := tls.Client(a, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	cb := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert}})
	a.SetDeadline(time.Now().Add(testTimeout))
	b.SetDeadline(time.Now().Add(testTimeout))
	errc := make(chan error, 1)
	go func() { errc <- cb.Handshake() }()
	if err := ca.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	a.SetDeadline(time.Time{})
	b.SetDeadline(time.Time{})
	return ca, cb
}

// readSignal wraps the Conn's end of a connection to signal on got each
// time a read of it returns bytes.
type readSignal struct {
	net.Conn
	got chan struct{}
}

func (c readSignal) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		select {
		case c.got <- struct{}{}:
		default:
		}
	}
	return n, err
}

// signalling returns conns with the second end, the Conn's, wrapped in a
// readSignal on got.
func signalling(conns func(testing.TB) (net.Conn, net.Conn), got chan struct{}) func(testing.TB) (net.Conn, net.Conn) {
	return func(t testing.TB) (net.Conn, net.Conn) {
		a, b := conns(t)
		return a, readSignal{b, got}
	}
}

// expireRead has c read until first has happened (nothing, if first is
// nil), then makes the read's deadline pass, and checks that the read
// timed out. Ordering the deadline after the event, rather than giving the
// event 20 ms, holds however late a loaded machine runs either goroutine.
func expireRead(t *testing.T, c *Conn, first func()) error {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testTimeout))
	res := readAsync(c)
	if first != nil {
		first()
	}
	c.SetReadDeadline(time.Now())
	r := waitRead(t, res)
	if !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadMessage = %v %q, %v; want a deadline error", r.op, r.msg, r.err)
	}
	c.SetReadDeadline(time.Now().Add(testTimeout))
	return r.err
}

// TestReadTimeoutBetweenMessagesKeepsConnReadable checks SetReadDeadline's
// contract: a deadline that passes while no byte of the next message has
// arrived costs nothing, even after a control frame, and on a TLS
// connection too.
func TestReadTimeoutBetweenMessagesKeepsConnReadable(t *testing.T) {
	// Not over net.Pipe: its writes wait for the reader, so the pong would
	// wait for the test, which waits for the read.
	for _, tr := range []struct {
		name  string
		conns func(testing.TB) (net.Conn, net.Conn)
	}{{"tcp", tcpConns}, {"tls", tlsConns}} {
		t.Run(tr.name, func(t *testing.T) {
			p, c := newRawPeer(t, tr.conns, true, connConfig{})
			expireRead(t, c, nil)
			p.sendAsync(fromClient(true, OpText, "one"))
			if op, msg, err := c.ReadMessage(); op != OpText || string(msg) != "one" || err != nil {
				t.Fatalf("after a timeout between messages: %v %q %v, want text \"one\"", op, msg, err)
			}
			// A ping answered, then a timeout before the next message.
			p.sendAsync(fromClient(true, OpPing, "hi"))
			expireRead(t, c, func() { p.mustReadFrame(OpPong, "hi") })
			p.sendAsync(fromClient(true, OpBinary, "two"))
			if op, msg, err := c.ReadMessage(); op != OpBinary || string(msg) != "two" || err != nil {
				t.Fatalf("after a ping and a timeout: %v %q %v, want binary \"two\"", op, msg, err)
			}
		})
	}
}

// TestReadTimeoutInsideMessageFailsReadSide checks the other half of the
// contract: once any byte of a frame has arrived, or a message is under way,
// a timeout leaves the stream in mid-frame and later reads fail.
func TestReadTimeoutInsideMessageFailsReadSide(t *testing.T) {
	whole := fromClient(true, OpText, "hello")
	cases := []struct {
		name, rest string
		sent       []byte
	}{
		{"in the header", "", whole[:1]},
		{"in the masking key", "", whole[:4]},
		{"in the payload", "", whole[:8]},
		{"between fragments", "", fromClient(false, OpText, "hel")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan struct{}, 1)
			p, c := newRawPeer(t, signalling(tcpConns, got), true, connConfig{})
			p.write(tc.sent)
			first := expireRead(t, c, func() {
				select {
				case <-got: // the Conn has read what was sent
				case <-time.After(testTimeout):
					t.Fatal("the Conn read nothing of what was sent")
				}
			})
			p.sendAsync(whole[len(tc.sent)%len(whole):])
			_, msg, err := c.ReadMessage()
			if err == nil || err.Error() != first.Error() {
				t.Fatalf("read after a timeout %s: %q, %v; want the same error again (%v)", tc.name, msg, err, first)
			}
		})
	}
}

// TestNetConnReadTimeoutBetweenMessages: the net.Conn adapter keeps the
// Conn's promise, as a net.Conn whose deadline may be extended after a
// timeout.
func TestNetConnReadTimeoutBetweenMessages(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, true, connConfig{})
	nc := NetConn(c, OpBinary)
	buf := make([]byte, 16)
	nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond)) // nothing comes
	if _, err := nc.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read error = %v, want a deadline error", err)
	}
	nc.SetReadDeadline(time.Now().Add(testTimeout))
	p.sendAsync(fromClient(true, OpBinary, "bytes"))
	if n, err := nc.Read(buf); err != nil || string(buf[:n]) != "bytes" {
		t.Fatalf("Read after a timeout between messages: %q, %v", buf[:n], err)
	}
}
