//go:build !js

package websocket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		op, msg, err := c.ReadMessage()
		if err != nil {
			return // the client has closed, or the deadline has passed
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
	c.SetDeadline(time.Now().Add(5 * time.Second))

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
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
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

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := websocket.Dial(ctx, wsURL(srv), nil)
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(5 * time.Second))

	w, err := c.NextWriter(websocket.OpBinary)
	if err != nil {
		log.Fatal(err)
	}
	for range 100 {
		w.Write(make([]byte, 1000)) // sent a buffer at a time
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

// Close runs the closing handshake; the peer's read returns a *CloseError
// with the code and reason.
func ExampleConn_Close() {
	peerErr := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			peerErr <- err
			return
		}
		defer c.CloseNow()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err = c.ReadMessage() // answers the client's Close frame
		peerErr <- err
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}

	// Close sends a Close frame, waits for the server's and ends the connection.
	fmt.Println(c.Close(websocket.StatusNormalClosure, "bye"))

	var ce *websocket.CloseError
	if err := <-peerErr; errors.As(err, &ce) {
		fmt.Println(ce.Code, ce.Reason)
	}
	err = c.WriteMessage(websocket.OpText, []byte("too late"))
	fmt.Println(errors.Is(err, websocket.ErrClosed))
	// Output:
	// <nil>
	// 1000 (normal closure) bye
	// true
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))

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

// A broadcast: the message is framed once, and every server connection
// sends the same bytes.
func ExampleNewPreparedMessage() {
	joined := make(chan *websocket.Conn, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		joined <- c // the Conn outlives the handler
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var clients []*websocket.Conn
	for range 3 {
		c, err := websocket.Dial(ctx, wsURL(srv), nil)
		if err != nil {
			log.Fatal(err)
		}
		defer c.CloseNow()
		clients = append(clients, c)
	}

	pm, err := websocket.NewPreparedMessage(websocket.OpText, []byte("price: 42"))
	if err != nil {
		log.Fatal(err)
	}
	for range clients {
		c := <-joined
		defer c.CloseNow()
		if err := c.WritePreparedMessage(pm); err != nil {
			log.Fatal(err)
		}
	}

	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := c.ReadMessage()
		fmt.Println(i, string(msg), err)
	}
	// Output:
	// 0 price: 42 <nil>
	// 1 price: 42 <nil>
	// 2 price: 42 <nil>
}

// A byte stream over a WebSocket, as tunnels need.
func ExampleNetConn() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		nc := websocket.NetConn(c, websocket.OpBinary)
		defer nc.Close() // a normal closure: the end of the stream
		io.Copy(nc, strings.NewReader("a stream of bytes"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}

	nc := websocket.NetConn(c, websocket.OpBinary)
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(nc) // reads until io.EOF, at the server's close
	fmt.Printf("%q %v\n", b, err)
	// Output: "a stream of bytes" <nil>
}

// Building a frame with the low-level codec: the masked "Hello" of RFC 6455
// §5.7.
func ExampleAppendHeader() {
	payload := []byte("Hello")
	h := websocket.Header{
		Fin:    true,
		Opcode: websocket.OpText,
		Masked: true,
		Mask:   [4]byte{0x37, 0xfa, 0x21, 0x3d},
		Length: int64(len(payload)),
	}
	frame := websocket.AppendHeader(nil, h)
	start := len(frame)
	frame = append(frame, payload...)
	websocket.Mask(h.Mask, 0, frame[start:])
	fmt.Printf("% x\n", frame)
	// Output: 81 85 37 fa 21 3d 7f 9f 4d 51 58
}

// Parsing a frame with the low-level codec: ParseHeader reports the header
// and its size, and asks for more bytes when the header is cut short.
func ExampleParseHeader() {
	frame := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}

	_, _, err := websocket.ParseHeader(frame[:3])
	fmt.Println(err == io.ErrUnexpectedEOF)

	h, n, err := websocket.ParseHeader(frame)
	if err != nil {
		log.Fatal(err)
	}
	payload := frame[n : n+int(h.Length)]
	websocket.Mask(h.Mask, 0, payload)
	fmt.Println(h.Opcode, h.Fin, h.Masked, n, string(payload))
	// Output:
	// true
	// text true true 6 Hello
}

// A server's connections in a Group: one broadcast reaches every member,
// and Shutdown closes them all with 1001 (Shutdown and Close of net/http do
// not touch hijacked connections), before the http.Server's Shutdown.
func ExampleGroup() {
	var room websocket.Group
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := room.Accept(w, r, nil) // a member from the start
		if err != nil {
			return
		}
		defer c.CloseNow()
		for { // read until the connection ends; this answers pings and Close
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var clients []*websocket.Conn
	for range 3 {
		c, err := websocket.Dial(ctx, wsURL(srv), nil)
		if err != nil {
			log.Fatal(err)
		}
		defer c.CloseNow()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		clients = append(clients, c)
	}
	for room.Len() < len(clients) && ctx.Err() == nil {
		time.Sleep(time.Millisecond) // until every Accept has added its Conn
	}

	pm, err := websocket.NewPreparedMessage(websocket.OpText, []byte("price: 42"))
	if err != nil {
		log.Fatal(err)
	}
	room.Broadcast(pm) // queued for each member; never waits for one
	for i, c := range clients {
		_, msg, err := c.ReadMessage()
		fmt.Println(i, string(msg), err)
	}

	// The clients read on, as pages do, so they answer the Close frames.
	codes := make([]websocket.StatusCode, len(clients))
	var reading sync.WaitGroup
	for i, c := range clients {
		reading.Add(1)
		go func() {
			defer reading.Done()
			_, _, err := c.ReadMessage()
			codes[i] = websocket.CloseStatus(err)
		}()
	}
	fmt.Println(room.Shutdown(ctx), room.Len()) // closes with 1001 and waits
	srv.Config.Shutdown(ctx)                    // then the rest
	reading.Wait()
	for i, code := range codes {
		fmt.Println(i, code)
	}
	srv.Close()
	// Output:
	// 0 price: 42 <nil>
	// 1 price: 42 <nil>
	// 2 price: 42 <nil>
	// <nil> 0
	// 0 1001 (going away)
	// 1 1001 (going away)
	// 2 1001 (going away)
}

// Ping measures the round trip to the peer; some goroutine must be reading
// for the pong to be seen.
func ExampleConn_Ping() {
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	go func() { // the reader, which sees the pong
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()

	rtt, err := c.Ping(ctx)
	fmt.Println(err, rtt > 0 && rtt < 5*time.Second)
	// Output:
	// <nil> true
}

// PingInterval keeps a connection alive through idle periods and drops a
// peer that stopped answering. Here the client does not read, so it never
// answers the server's pings: the server gives up on it.
func ExampleAcceptOptions_pingInterval() {
	ended := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			PingInterval: 50 * time.Millisecond,
			CloseTimeout: 100 * time.Millisecond,
		})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err = c.ReadMessage() // the reader sees the pongs, or their absence
		ended <- err
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	// No goroutine reads c, so its pongs are never sent.
	err = <-ended
	fmt.Println(err != nil)
	// Output:
	// true
}

// AppendMessage reads into the caller's buffer: reusing it, a loop of reads
// allocates nothing once the buffer has grown to the largest message.
func ExampleConn_AppendMessage() {
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(5 * time.Second))

	buf := make([]byte, 0, 64)
	for _, s := range []string{"one", "two", "three"} {
		if err := c.WriteMessage(websocket.OpText, []byte(s)); err != nil {
			log.Fatal(err)
		}
		var op websocket.Opcode
		op, buf, err = c.AppendMessage(buf[:0])
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(op, string(buf), cap(buf))
	}
	// Output:
	// text one 64
	// text two 64
	// text three 64
}

// AcceptConn upgrades a plain net.Conn, without net/http: for servers that
// accept connections themselves and count the bytes each one costs.
func ExampleAcceptConn() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return // the listener is closed
			}
			go func() {
				c, err := websocket.AcceptConn(nc, nil, nil)
				if err != nil {
					nc.Close() // AcceptConn has answered, but leaves nc open
					return
				}
				defer c.CloseNow()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				op, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				c.WriteMessage(op, append([]byte("got: "), msg...))
				c.Close(websocket.StatusNormalClosure, "")
			}()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.WriteMessage(websocket.OpText, []byte("hi"))
	_, msg, err := c.ReadMessage()
	fmt.Println(string(msg), err)
	_, _, err = c.ReadMessage()
	fmt.Println(websocket.CloseStatus(err))
	// Output:
	// got: hi <nil>
	// 1000 (normal closure)
}
