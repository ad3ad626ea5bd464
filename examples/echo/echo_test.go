package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// modes runs test against the echo server of each mode: a goroutine per
// connection, and a Poller (-poller).
func modes(t *testing.T, test func(t *testing.T, h http.Handler)) {
	t.Run("goroutines", func(t *testing.T) { test(t, newHandler(nil)) })
	t.Run("poller", func(t *testing.T) {
		p, err := websocket.NewPoller(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		test(t, newHandler(p))
	})
}

func dialEcho(t *testing.T, h http.Handler) *websocket.Conn {
	t.Helper()
	srv := httptest.NewServer(h)
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
	modes(t, func(t *testing.T, h http.Handler) {
		c := dialEcho(t, h)
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
	})
}

func TestEchoFragmentedMessage(t *testing.T) {
	modes(t, func(t *testing.T, h http.Handler) {
		c := dialEcho(t, h)
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
	})
}

// TestEchoRefusesInvalidText checks that the echo does not pass on a text
// message that is not UTF-8: the server fails the connection with 1007.
func TestEchoRefusesInvalidText(t *testing.T) {
	modes(t, func(t *testing.T, h http.Handler) {
		c := dialEcho(t, h)
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
	})
}

func TestEchoClosesNormally(t *testing.T) {
	modes(t, func(t *testing.T, h http.Handler) {
		c := dialEcho(t, h)
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
	})
}

// The counters at /debug/vars count what an outside client did.
func TestEchoPublishesCounters(t *testing.T) {
	modes(t, func(t *testing.T, h http.Handler) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		vars := func() websocket.MetricsSnapshot {
			t.Helper()
			resp, err := http.Get(srv.URL + "/debug/vars")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var all struct{ Websocket websocket.MetricsSnapshot }
			if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
				t.Fatal(err)
			}
			return all.Websocket
		}
		before := vars()
		c := dialEcho(t, h)
		msg := []byte("counted")
		c.WriteMessage(websocket.OpText, msg)
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		after := vars()
		if after.ConnsOpened != before.ConnsOpened+1 || after.MessagesIn < before.MessagesIn+1 || after.BytesIn < before.BytesIn+int64(len(msg)) {
			t.Errorf("/debug/vars websocket went from %+v to %+v, want one more connection and message", before, after)
		}
	})
}
