package websocket

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sampleKey and sampleAccept are the example of RFC 6455 §1.3.
const (
	sampleKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

const hsTimeout = 5 * time.Second

func TestAcceptKeyRFCExample(t *testing.T) {
	if got := AcceptKey(sampleKey); got != sampleAccept {
		t.Fatalf("AcceptKey(%q) = %q, want %q", sampleKey, got, sampleAccept)
	}
}

// hsListen returns a loopback listener closed when the test ends.
func hsListen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// echo sends every message it reads back to the peer until the connection
// fails, bounded by hsTimeout.
func echo(c *Conn) {
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(hsTimeout))
	for {
		op, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(op, append([]byte(c.Subprotocol()+":"), p...)); err != nil {
			return
		}
	}
}

// exchange sends messages both ways through c, connected to an echo server
// that selected subprotocol "echo".
func exchange(t *testing.T, c *Conn) {
	t.Helper()
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(hsTimeout))
	if c.Subprotocol() != "echo" || c.IsServer() {
		t.Fatalf("client Subprotocol %q IsServer %v", c.Subprotocol(), c.IsServer())
	}
	// The large message crosses the handshake's header limit, which must not
	// outlive the handshake.
	for _, m := range []struct {
		op Opcode
		p  string
	}{{OpText, "hello"}, {OpBinary, strings.Repeat("\x00\xff", 20<<10)}} {
		if err := c.WriteMessage(m.op, []byte(m.p)); err != nil {
			t.Fatal(err)
		}
		op, p, err := c.ReadMessage()
		if err != nil || op != m.op || string(p) != "echo:"+m.p {
			t.Fatalf("got %v %.20q (%d bytes), %v; want %v echo:%.14q", op, p, len(p), err, m.op, m.p)
		}
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestAcceptDialRoundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{Subprotocols: []string{"echo"}})
		if err == nil {
			echo(c)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	c, err := Dial(ctx, srv.URL, &DialOptions{Subprotocols: []string{"other", "echo"}})
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, c)
}

func TestAcceptConnDialRoundTrip(t *testing.T) {
	ln := hsListen(t)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		if c, err := AcceptConn(nc, nil, &AcceptOptions{Subprotocols: []string{"echo"}}); err == nil {
			echo(c)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	c, err := Dial(ctx, "ws://"+ln.Addr().String(), &DialOptions{Subprotocols: []string{"echo"}})
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, c)
}
