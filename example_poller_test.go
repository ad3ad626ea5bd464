//go:build !js

package websocket_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/fullduplex/websocket"
)

// upper is a MessageHandler: it answers each message with the message in
// capitals, and says goodbye when the connection ends.
type upper struct{ closed chan error }

func (upper) HandleMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	c.WriteMessage(op, []byte(strings.ToUpper(string(p))))
}

func (u upper) HandleClose(c *websocket.Conn, err error) { u.closed <- err }

// A server whose connections a Poller serves: the HTTP handler returns once
// the connection is handed over, and the connection holds no goroutine
// while no message is arriving. Over HTTP/2 a WebSocket is a stream that
// ends with its handler: there Add returns once the Conn has ended.
func ExamplePoller() {
	p, err := websocket.NewPoller(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	h := upper{closed: make(chan error, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		if err := p.Add(c, h); err != nil {
			c.CloseNow()
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.WriteMessage(websocket.OpText, []byte("hello"))
	_, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg))
	c.Close(websocket.StatusNormalClosure, "")
	fmt.Println(websocket.CloseStatus(<-h.closed))
	// Output:
	// HELLO
	// 1000 (normal closure)
}

// A Poller that keeps its connections alive: a peer that answers nothing,
// here a client that never reads and so never answers a ping, is pinged
// and then dropped. A peer that reads (and so answers) or sends stays.
func ExamplePollerOptions_pingInterval() {
	p, err := websocket.NewPoller(&websocket.PollerOptions{PingInterval: 50 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	h := upper{closed: make(chan error, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		if err := p.Add(c, h); err != nil {
			c.CloseNow()
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	fmt.Println(<-h.closed)
	// Output:
	// websocket: no answer to a ping within 50ms: websocket: connection closed
}
