package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

func dialEcho(t *testing.T) *websocket.Conn {
	t.Helper()
	srv := httptest.NewServer(newHandler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(5*time.Second))
	defer cancel()
	c, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetDeadline(time.Now().Add(testtime.Scaled(20 * time.Second)))
	return c
}

// pattern returns n bytes that are valid UTF-8 and not all alike, so an echo
// that drops, repeats or reorders bytes is caught.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i*7%26)
	}
	return b
}

func TestEchoKeepsTypeAndBytes(t *testing.T) {
	c := dialEcho(t)
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		for _, op := range []websocket.Opcode{websocket.OpText, websocket.OpBinary} {
			want := pattern(n)
			if err := c.WriteMessage(op, want); err != nil {
				t.Fatalf("write %v %d B: %v", op, n, err)
			}
			gotOp, got, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("read %v %d B: %v", op, n, err)
			}
			if gotOp != op || !bytes.Equal(got, want) {
				t.Fatalf("sent %v %d B, got %v %d B (equal: %v)", op, n, gotOp, len(got), bytes.Equal(got, want))
			}
		}
	}
}

func TestEchoFragmentedMessage(t *testing.T) {
	c := dialEcho(t)
	w, err := c.NextWriter(websocket.OpText)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 10 {
		// Each part is larger than the write buffer, so it leaves as frames.
		part := bytes.Repeat([]byte{'0' + byte(i)}, 5000)
		want = append(want, part...)
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	op, got, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if op != websocket.OpText || !bytes.Equal(got, want) {
		t.Fatalf("got %v %d B, want text %d B", op, len(got), len(want))
	}
}

// TestEchoRefusesInvalidText checks that the echo does not pass on a text
// message that is not UTF-8: the server fails the connection with 1007.
func TestEchoRefusesInvalidText(t *testing.T) {
	c := dialEcho(t)
	// The library checks what it reads, not what it sends.
	w, err := c.NextWriter(websocket.OpText)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{0xff, 0xfe})
	w.Close()
	_, _, err = c.ReadMessage()
	if got := websocket.CloseStatus(err); got != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("after invalid UTF-8: %v (code %d), want close 1007", err, got)
	}
}

func TestEchoClosesNormally(t *testing.T) {
	c := dialEcho(t)
	if err := c.WriteMessage(websocket.OpText, []byte("bye")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "bye" {
		t.Fatalf("echo: %q, %v", msg, err)
	}
	if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
	// The server's echo of our Close frame carries our code.
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusNormalClosure {
		t.Fatalf("read after close: %v, want the server's close 1000", err)
	}
}
