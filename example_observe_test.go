//go:build !js

package websocket_test

import (
	"context"
	"expvar"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/fullduplex/websocket"
)

// An Observer watches connections as they open, carry messages and close.
// Here the server reports each connection's end, and the client what it
// reads, compressed on the wire.
func ExampleObserver() {
	ended := make(chan string, 1)
	server := &websocket.Observer{
		Closed: func(c *websocket.Conn, info websocket.CloseInfo) {
			ended <- fmt.Sprintf("server: closed with %v by the peer: %v", info.Code, info.ByPeer)
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Observer: server})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.WriteMessage(websocket.OpText, []byte(strings.Repeat("news ", 200)))
		c.ReadMessage() // until the client closes
	}))
	defer srv.Close()

	client := &websocket.Observer{
		Opened: func(c *websocket.Conn, info websocket.ConnInfo) {
			fmt.Println("client: opened, compression:", info.Extensions != "")
		},
		Read: func(c *websocket.Conn, m websocket.MessageInfo) {
			fmt.Printf("client: read %v of %d bytes, %d on the wire\n", m.Op, m.Len, m.Wire)
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Observer: client})
	if err != nil {
		log.Fatal(err)
	}
	c.ReadMessage()
	c.Close(websocket.StatusNormalClosure, "")
	fmt.Println(<-ended)
	// Output:
	// client: opened, compression: true
	// client: read text of 1000 bytes, 17 on the wire
	// server: closed with 1000 (normal closure) by the peer: true
}

// Metrics counts what its Observers see. Published with expvar, the counts
// are served as JSON at /debug/vars.
func ExampleMetrics() {
	var m websocket.Metrics
	expvar.Publish("websocket_example", &m)
	opts := &websocket.AcceptOptions{Observer: &websocket.Observer{Metrics: &m}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(op, p)
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, msg := range []string{"one", "two", "three"} {
		c.WriteMessage(websocket.OpText, []byte(msg))
		c.ReadMessage()
	}
	s := m.Snapshot()
	fmt.Printf("%d open, %d messages in, %d bytes in\n", s.ConnsOpen, s.MessagesIn, s.BytesIn)
	// Output: 1 open, 3 messages in, 11 bytes in
}

// An Observer's Logger records what the library otherwise keeps to
// itself: here, a handshake refused for want of a subprotocol.
func ExampleObserver_logger() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == "time" || a.Key == "remote" {
				return slog.Attr{} // not the same from one run to the next
			}
			return a
		},
	}))
	opts := &websocket.AcceptOptions{
		Subprotocols:       []string{"chat.v1"},
		RequireSubprotocol: true,
		Observer:           &websocket.Observer{Logger: logger},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		websocket.Accept(w, r, opts)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	fmt.Println(err)
	// Output:
	// level=INFO msg="websocket: handshake refused" status=400 reason="no offered subprotocol is spoken here; offer one of [\"chat.v1\"]" server=true
	// websocket: handshake failed (status 400): expected 101 Switching Protocols, got 400 Bad Request
}
