//go:build !js

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// TestNativeClient runs the client natively, over the library's own client,
// against an echo server that closes when asked, as the example's does
// (examples/wasm runs the same code in Chromium).
func TestNativeClient(t *testing.T) {
	closed := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				if ce, ok := err.(*websocket.CloseError); ok {
					closed <- strconv.Itoa(int(ce.Code)) + " " + ce.Reason
				}
				return
			}
			if rest, ok := strings.CutPrefix(string(p), "close "); ok && op == websocket.OpText {
				code, reason, _ := strings.Cut(rest, " ")
				n, _ := strconv.Atoi(code)
				c.Close(websocket.StatusCode(n), reason)
				return
			}
			c.WriteMessage(op, p)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(30*time.Second))
	defer cancel()
	var steps []string
	err := run(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", func(format string, args ...any) {
		steps = append(steps, format)
	})
	if err != nil {
		t.Fatalf("%v, after the steps %q", err, steps)
	}
	select {
	case got := <-closed:
		if got != "1000 bye from the client" {
			t.Errorf("the server saw the client close with %q", got)
		}
	case <-time.After(testtime.Scaled(10 * time.Second)):
		t.Fatal("the server did not see the client close")
	}
}
