//go:build !js

package websocket_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/fullduplex/websocket"
)

// JSON messages: the server decodes each request and answers it; a message
// that is not JSON is answered with 1007, as ReadJSON's docs advise.
func ExampleConn_ReadJSON() {
	type request struct {
		Op   string `json:"op"`
		A, B int
	}
	type reply struct {
		Sum int `json:"sum"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		for {
			var req request
			err := c.ReadJSON(&req)
			if errors.Is(err, websocket.ErrInvalidJSON) {
				c.Close(websocket.StatusInvalidFramePayloadData, "want a JSON request")
				return
			}
			if err != nil {
				return // the connection's end
			}
			c.WriteJSON(reply{Sum: req.A + req.B})
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(5 * time.Second))

	c.WriteJSON(request{Op: "add", A: 2, B: 40}) // sends {"op":"add","A":2,"B":40}
	var rep reply
	fmt.Println(c.ReadJSON(&rep), rep.Sum)

	c.WriteMessage(websocket.OpText, []byte("not json"))
	fmt.Println(websocket.CloseStatus(c.ReadJSON(&rep)))
	// Output:
	// <nil> 42
	// 1007 (invalid frame payload data)
}

// A feed that only writes: CloseRead reads for it, so the keep-alive sees
// its pongs and the server learns at once when the client leaves.
func ExampleConn_CloseRead() {
	left := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{PingInterval: time.Second})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := c.CloseRead(r.Context())
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done(): // the client has gone
				left <- context.Cause(ctx)
				return
			case <-tick.C:
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				c.WriteMessage(websocket.OpText, fmt.Appendf(nil, "update %d", n))
			}
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// Long enough for a ping, whose pong has a second to come back: the
	// server keeps the client.
	for i := 0; i < 8; i++ {
		_, msg, err := c.ReadMessage()
		if err != nil {
			log.Fatal(err)
		}
		if i%4 == 3 {
			fmt.Println(string(msg))
		}
	}
	c.Close(websocket.StatusGoingAway, "bye")
	fmt.Println(<-left)
	// Output:
	// update 4
	// update 8
	// websocket: closed by peer: 1001 (going away): "bye"
}

// The end of a read loop: a normal close is not worth logging, a failure
// is.
func ExampleIsNormalClose() {
	ended := make(chan string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, _, err := c.ReadMessage()
			if err != nil {
				if !websocket.IsNormalClose(err) {
					ended <- "failure: " + err.Error() // log.Printf in a real server
					return
				}
				ended <- "normal"
				return
			}
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, code := range []websocket.StatusCode{websocket.StatusNormalClosure, websocket.StatusInternalError} {
		c, err := websocket.Dial(ctx, wsURL(srv), nil)
		if err != nil {
			log.Fatal(err)
		}
		go c.Close(code, "")
		fmt.Println(<-ended)
	}
	// Output:
	// normal
	// failure: websocket: closed by peer: 1011 (internal error)
}

// Polling with a read deadline: a deadline that passes between messages
// leaves the Conn readable.
func ExampleConn_SetReadDeadline() {
	polled := make(chan bool, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		<-polled // quiet for a while
		c.WriteMessage(websocket.OpText, []byte("finally"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.ReadMessage()
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()

	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, err = c.ReadMessage()
	fmt.Println(errors.Is(err, os.ErrDeadlineExceeded)) // nothing yet: do other work
	polled <- true

	c.SetReadDeadline(time.Now().Add(5 * time.Second)) // and read again
	_, msg, err := c.ReadMessage()
	fmt.Println(string(msg), err)
	c.Close(websocket.StatusNormalClosure, "")
	// Output:
	// true
	// finally <nil>
}
