//go:build !js

package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// sampleKey and sampleAccept are the example of RFC 6455 §1.3.
const (
	sampleKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

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
	if c.Subprotocol() != "echo" || c.server {
		t.Fatalf("client Subprotocol %q server %v", c.Subprotocol(), c.server)
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

// writeTap records every byte written to a net.Conn.
type writeTap struct {
	net.Conn
	mu sync.Mutex
	b  []byte
}

func (w *writeTap) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.b = append(w.b, p...)
	w.mu.Unlock()
	return w.Conn.Write(p)
}

// frames returns the headers of the first n frames written after the HTTP
// head of the handshake.
func (w *writeTap) frames(t *testing.T, n int) []Header {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	_, b, ok := bytes.Cut(w.b, []byte("\r\n\r\n"))
	if !ok {
		t.Fatal("no handshake on the wire")
	}
	var hs []Header
	for len(hs) < n {
		h, hn, err := ParseHeader(b)
		if err != nil || int64(len(b)-hn) < h.Length {
			t.Fatalf("%d frames on the wire, want %d", len(hs), n)
		}
		hs = append(hs, h)
		b = b[hn+int(h.Length):]
	}
	return hs
}

// TestHandshakeDeflateRoundTrip checks that what the handshake negotiates is
// what the Conns do: Dial against AcceptConn, each with its own
// CompressionOptions, then two equal messages each way. Compressed messages
// carry RSV1 on the wire (RFC 7692 §6); with context takeover the second
// refers to the first and is much shorter (§7.1.1), without it is not.
func TestHandshakeDeflateRoundTrip(t *testing.T) {
	msg := []byte(strings.Repeat(`{"id":12,"name":"fullduplex","tags":["ws","deflate"]},`, 80))
	off := CompressionOptions{Disabled: true}
	on := CompressionOptions{}
	takeover := CompressionOptions{ContextTakeover: true}
	tests := []struct {
		name                   string
		client, server         CompressionOptions
		compressed, takingOver bool
	}{
		{"ZeroValuesCompress", on, on, true, false},
		{"BothTakeOver", takeover, takeover, true, true},
		{"ClientAsksNoTakeover", on, takeover, true, false},
		{"ServerRefusesTakeover", takeover, on, true, false},
		{"ClientDisabled", off, on, false, false},
		{"ServerDisabled", on, off, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := hsListen(t)
			srvTap := make(chan *writeTap, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				tap := &writeTap{Conn: nc}
				srvTap <- tap
				defer nc.Close()
				c, err := AcceptConn(tap, nil, &AcceptOptions{Compression: tt.server})
				if err != nil {
					return
				}
				defer c.CloseNow()
				c.SetDeadline(time.Now().Add(hsTimeout))
				for range 2 {
					op, p, err := c.ReadMessage()
					if err != nil || c.WriteMessage(op, p) != nil {
						return
					}
				}
				c.ReadMessage() // until the client closes
			}()
			var cliTap *writeTap
			opts := &DialOptions{Compression: tt.client, HandshakeTimeout: hsTimeout,
				NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err == nil {
						cliTap = &writeTap{Conn: nc}
						return cliTap, nil
					}
					return nil, err
				}}
			c, err := Dial(context.Background(), "ws://"+ln.Addr().String(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			c.SetDeadline(time.Now().Add(hsTimeout))
			for range 2 {
				if err := c.WriteMessage(OpText, msg); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				if op, p, err := c.ReadMessage(); err != nil || op != OpText || !bytes.Equal(p, msg) {
					t.Fatalf("echo: %v %d bytes, %v", op, len(p), err)
				}
			}
			for side, tap := range map[string]*writeTap{"client": cliTap, "server": <-srvTap} {
				fs := tap.frames(t, 2)
				for i, f := range fs {
					if f.Rsv1 != tt.compressed || !f.Fin || f.Opcode != OpText {
						t.Errorf("%s message %d: %+v, want RSV1 %v", side, i, f, tt.compressed)
					}
				}
				switch {
				case !tt.compressed:
					if fs[0].Length != int64(len(msg)) {
						t.Errorf("%s sent %d bytes for a %d-byte message", side, fs[0].Length, len(msg))
					}
				case fs[0].Length >= int64(len(msg))/4:
					t.Errorf("%s compressed %d bytes to %d", side, len(msg), fs[0].Length)
				case tt.takingOver != (fs[1].Length < fs[0].Length/2):
					t.Errorf("%s: second message %d bytes after %d, context takeover %v", side, fs[1].Length, fs[0].Length, tt.takingOver)
				}
			}
		})
	}
}

// TestConnReaderDropsHeaderLimiter checks that once a handshake is read, the
// Conn's reader reads from the connection itself when nothing past the
// handshake is buffered, so that the header limiter costs later reads
// nothing, and through the lifted limiter, losing no byte, when something
// is.
func TestConnReaderDropsHeaderLimiter(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	deadline := time.Now().Add(hsTimeout)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	go io.WriteString(b, "from the connection")

	// Nothing buffered: a limiter whose source fails must not be read.
	lim := &headerLimiter{r: iotest.ErrReader(errors.New("read through the limiter")), n: 100}
	rd := connReader(bufio.NewReader(lim), lim, nil, a)
	got := make([]byte, len("from the connection"))
	if _, err := io.ReadFull(rd, got); err != nil || string(got) != "from the connection" {
		t.Fatalf("read %q, %v", got, err)
	}

	// Bytes buffered past a handshake of 8 bytes, more than the limit
	// still to come: all are read, in order.
	lim = &headerLimiter{r: strings.NewReader("HEADERS\nbuffered" + strings.Repeat("z", 5000)), n: 24}
	br := bufio.NewReaderSize(lim, 16)
	if line, err := br.ReadString('\n'); err != nil || line != "HEADERS\n" {
		t.Fatalf("handshake read %q, %v", line, err)
	}
	rd = connReader(br, lim, nil, a)
	rest, err := io.ReadAll(rd)
	if err != nil || string(rest) != "buffered"+strings.Repeat("z", 5000) {
		t.Fatalf("after the handshake: %d bytes, %v", len(rest), err)
	}
}
