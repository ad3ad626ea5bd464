package websocket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/fullduplex/websocket"
)

// echoHandler is the server of the examples: it sends every message back.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered the request
	}
	defer c.CloseNow()
	for {
		op, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(op, msg); err != nil {
			return
		}
	}
}

// wsURL turns the URL of an httptest.Server into a WebSocket URL.
func wsURL(s *httptest.Server) string { return "ws" + strings.TrimPrefix(s.URL, "http") }

// An echo server behind net/http, and a client that talks to it.
func ExampleAccept() {
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()

	if err := c.WriteMessage(websocket.OpText, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	op, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(op, string(msg))
	fmt.Println(c.Close(websocket.StatusNormalClosure, "done"))
	// Output:
	// text hello
	// <nil>
}

// A client offering subprotocols; the server picks the first of its own
// list that the client offers.
func ExampleDial() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"v2.chat", "v1.chat"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.ReadMessage() // until the client closes
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{
		Subprotocols: []string{"v1.chat", "v2.chat"},
		Header:       http.Header{"Authorization": {"Bearer token"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Subprotocol())
	c.Close(websocket.StatusNormalClosure, "")
	// Output: v2.chat
}

// A refused handshake returns a *HandshakeError with the server's answer.
func ExampleHandshakeError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no token", http.StatusUnauthorized)
	}))
	defer srv.Close()

	_, err := websocket.Dial(context.Background(), wsURL(srv), nil)
	var he *websocket.HandshakeError
	if errors.As(err, &he) {
		fmt.Println(he.StatusCode, strings.TrimSpace(string(he.Body)))
	}
	// Output: 401 no token
}

// Streaming a message of any size: NextWriter sends it as fragments and
// NextReader reads it as it comes.
func ExampleConn_NextWriter() {
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	defer srv.Close()
	c, err := websocket.Dial(context.Background(), wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()

	w, err := c.NextWriter(websocket.OpBinary)
	if err != nil {
		log.Fatal(err)
	}
	for range 100 {
		w.Write(make([]byte, 1000)) // written as the buffer fills
	}
	if err := w.Close(); err != nil { // the final fragment
		log.Fatal(err)
	}

	op, r, err := c.NextReader()
	if err != nil {
		log.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	fmt.Println(op, n, err)
	// Output: binary 100000 <nil>
}

// The peer's close code and reason come back from the read as a
// *CloseError.
func ExampleCloseError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.Close(websocket.StatusGoingAway, "restarting")
	}))
	defer srv.Close()
	c, err := websocket.Dial(context.Background(), wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()

	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Println(ce.Code, ce.Reason)
	}
	fmt.Println(websocket.CloseStatus(err) == websocket.StatusGoingAway)
	// Output:
	// 1001 (going away) restarting
	// true
}

// A byte stream over a WebSocket, as tunnels need.
func ExampleNetConn() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		nc := websocket.NetConn(c, websocket.OpBinary)
		defer nc.Close()
		io.Copy(nc, strings.NewReader("a stream of bytes"))
	}))
	defer srv.Close()
	c, err := websocket.Dial(context.Background(), wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	b, err := io.ReadAll(websocket.NetConn(c, websocket.OpBinary)) // io.EOF at the server's close
	fmt.Printf("%q %v\n", b, err)
	// Output: "a stream of bytes" <nil>
}

// Building and parsing a frame with the low-level codec.
func ExampleAppendHeader() {
	payload := []byte("Hello")
	h := websocket.Header{Fin: true, Opcode: websocket.OpText, Masked: true, Mask: [4]byte{0x37, 0xfa, 0x21, 0x3d}, Length: int64(len(payload))}
	frame := websocket.AppendHeader(nil, h)
	start := len(frame)
	frame = append(frame, payload...)
	websocket.Mask(h.Mask, 0, frame[start:])
	fmt.Printf("% x\n", frame) // RFC 6455 §5.7, a masked "Hello"

	got, n, err := websocket.ParseHeader(frame)
	fmt.Println(got.Opcode, got.Fin, got.Length, n, err)
	websocket.Mask(got.Mask, 0, frame[n:])
	fmt.Println(string(frame[n:]))
	// Output:
	// 81 85 37 fa 21 3d 7f 9f 4d 51 58
	// text true 5 6 <nil>
	// Hello
}
