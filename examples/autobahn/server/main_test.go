package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// dialTestee plays the suite's fuzzingclient against the testee.
func dialTestee(t *testing.T) *websocket.Conn {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(echo))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(5*time.Second))
	defer cancel()
	opts := &websocket.DialOptions{ReadLimit: 64 << 20, Header: http.Header{"Origin": {"http://fuzzingclient.example"}}}
	c, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetDeadline(time.Now().Add(testtime.Scaled(30 * time.Second)))
	return c
}

func TestServerTesteeEchoes(t *testing.T) {
	c := dialTestee(t)
	pongs := make(chan string, 1)
	c.SetPongHandler(func(p []byte) error { pongs <- string(p); return nil })

	// Sizes around each length encoding and the suite's 16 MiB maximum.
	for _, n := range []int{0, 125, 126, 65535, 65536, 16 << 20} {
		want := bytes.Repeat([]byte("*"), n)
		if err := c.WriteMessage(websocket.OpBinary, want); err != nil {
			t.Fatal(err)
		}
		op, got, err := c.ReadMessage()
		if err != nil || op != websocket.OpBinary || !bytes.Equal(got, want) {
			t.Fatalf("%d B: got %v %d B, %v", n, op, len(got), err)
		}
	}

	// A fragmented text message with a ping between its fragments (cases
	// 5.x): the pong comes at once, the message whole afterwards.
	w, err := c.NextWriter(websocket.OpText)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte("fragment "), 1000))
	if err := c.WritePing([]byte("between")); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("end"))
	w.Close()
	op, got, err := c.ReadMessage()
	if err != nil || op != websocket.OpText || len(got) != 9003 || !strings.HasSuffix(string(got), "end") {
		t.Fatalf("fragmented text: %v %d B, %v", op, len(got), err)
	}
	select {
	case p := <-pongs:
		if p != "between" {
			t.Fatalf("pong %q, want the ping's payload", p)
		}
	default:
		t.Fatal("no pong came before the echo")
	}

	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
}

// TestServerTesteeFailsInvalidText is case 6.x in small: the testee must not
// echo a text message that is not UTF-8, and must close with 1007.
func TestServerTesteeFailsInvalidText(t *testing.T) {
	c := dialTestee(t)
	if err := c.WriteMessage(websocket.OpText, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("got %q, %v; want close 1007", msg, err)
	}
}
