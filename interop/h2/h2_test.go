package h2

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// TestExtendedConnectHandshake checks Accept's answers to extended CONNECT
// requests (RFC 8441 §4, §5) made by x/net/http2's client to net/http's
// server: a 200 with no Sec-WebSocket-Accept, the subprotocol and
// permessage-deflate negotiated as over HTTP/1.1, and the refusals.
func TestExtendedConnectHandshake(t *testing.T) {
	opts := &websocket.AcceptOptions{Subprotocols: []string{"chat.v2", "chat.v1"}}
	s := startServer(t, echoHandler(opts, nil), nil)
	cc := s.dial(t)
	self := "https://" + s.Listener.Addr().String()
	for _, tc := range []struct {
		name       string
		hdr        http.Header
		status     int
		wantHeader map[string]string // "" means absent
	}{
		{name: "Accepted", status: 200, wantHeader: map[string]string{
			"Sec-Websocket-Accept": "", "Sec-Websocket-Protocol": "", "Sec-Websocket-Extensions": ""}},
		{name: "SubprotocolServerPreference", hdr: http.Header{"Sec-Websocket-Protocol": {"chat.v1, chat.v2"}}, status: 200,
			wantHeader: map[string]string{"Sec-Websocket-Protocol": "chat.v2"}},
		{name: "PermessageDeflate", hdr: http.Header{"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"}}, status: 200,
			wantHeader: map[string]string{"Sec-Websocket-Extensions": "permessage-deflate; server_no_context_takeover; client_no_context_takeover"}},
		{name: "KeyIsNotProcessed", hdr: http.Header{"Sec-Websocket-Key": {"not a key"}}, status: 200},
		{name: "SameOriginAllowed", hdr: http.Header{"Origin": {self}}, status: 200},
		{name: "CrossOriginRefused", hdr: http.Header{"Origin": {"https://evil.example"}}, status: 403},
		{name: "VersionMissing", hdr: http.Header{"Sec-Websocket-Version": nil}, status: 400,
			wantHeader: map[string]string{"Sec-Websocket-Version": "13"}},
		{name: "VersionOther", hdr: http.Header{"Sec-Websocket-Version": {"8"}}, status: 400,
			wantHeader: map[string]string{"Sec-Websocket-Version": "13"}},
		{name: "ProtocolNotWebSocket", hdr: http.Header{":protocol": {"webtransport"}}, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := open(t, cc, s, "/ws", tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			for k, want := range tc.wantHeader {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
	t.Run("GetRefused", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/ws", nil)
		resp, err := cc.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "CONNECT" {
			t.Errorf("GET over HTTP/2: status %d, Allow %q; want 405, CONNECT", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	if n := s.tcpConns.Load(); n != 1 {
		t.Errorf("the server accepted %d TCP connections, want 1", n)
	}
}

// TestManyWebSocketsOneConnection opens 100 WebSockets as streams of one
// HTTP/2 connection and echoes messages of every length encoding on all of
// them at once, and 1 MiB and 4 MiB messages on two.
func TestManyWebSocketsOneConnection(t *testing.T) {
	errs := make(chan error, 200)
	s := startServer(t, echoHandler(nil, errs), nil)
	cc := s.dial(t)
	const n = 100
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = openWS(t, cc, s, "/ws", nil)
	}
	var wg sync.WaitGroup
	fails := make(chan string, n)
	for i, c := range clients {
		sizes := []int{0, 1, 125, 126, 1000, 65535, 65536}
		if i%50 == 0 {
			sizes = append(sizes, 1<<20, 4<<20)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, size := range sizes {
				for _, op := range []websocket.Opcode{websocket.OpText, websocket.OpBinary} {
					want := pattern(size + i)
					if err := c.writeMessage(op, want); err != nil {
						fails <- fmt.Sprintf("stream %d: write %d B: %v", i, len(want), err)
						return
					}
					gotOp, got, err := c.readMessage()
					if err != nil || gotOp != op || !bytes.Equal(got, want) {
						fails <- fmt.Sprintf("stream %d: sent %v %d B, got %v %d B, %v", i, op, len(want), gotOp, len(got), err)
						return
					}
				}
			}
			ce, err := c.closeHandshake(websocket.StatusNormalClosure, "")
			if err != nil || ce.code != websocket.StatusNormalClosure {
				fails <- fmt.Sprintf("stream %d: closing handshake: %v %v", i, ce, err)
			}
		}()
	}
	wg.Wait()
	close(fails)
	for f := range fails {
		t.Error(f)
	}
	for range n {
		select {
		case err := <-errs:
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Errorf("a server read ended with %v, want the client's close 1000", err)
			}
		case <-time.After(testtime.Scaled(10 * time.Second)):
			t.Fatal("not every handler saw the client's Close frame")
		}
	}
	if got := s.tcpConns.Load(); got != 1 {
		t.Errorf("the server accepted %d TCP connections, want 1", got)
	}
	if got := s.h2Reqs.Load(); got != n {
		t.Errorf("the server saw %d HTTP/2 requests, want %d", got, n)
	}
}

// TestClosingHandshakeOverStream checks both directions of the closing
// handshake (RFC 6455 §7) on a stream: the server's Close frame is answered
// and the server ends the stream (RFC 8441 §6: END_STREAM stands for the TCP
// close), and a client's Close frame is echoed with its code.
func TestClosingHandshakeOverStream(t *testing.T) {
	got := make(chan error, 1)
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if r.URL.Path == "/server-closes" {
			c.Close(4000, "bye ✓")
			got <- nil
			return
		}
		_, _, err = c.ReadMessage()
		got <- err
	}), nil)
	cc := s.dial(t)

	t.Run("ServerCloses", func(t *testing.T) {
		c := openWS(t, cc, s, "/server-closes", nil)
		_, _, err := c.readMessage()
		var ce *closeError
		if !errors.As(err, &ce) || ce.code != 4000 || ce.reason != "bye ✓" {
			t.Fatalf("read %v, want the server's close 4000", err)
		}
		p := []byte{0x0f, 0xa0} // 4000
		if err := c.writeFrame(true, false, websocket.OpClose, p); err != nil {
			t.Fatal(err)
		}
		c.ended(t)
		<-got
	})
	t.Run("ClientCloses", func(t *testing.T) {
		c := openWS(t, cc, s, "/client-closes", nil)
		ce, err := c.closeHandshake(4001, "done")
		if err != nil || ce.code != 4001 {
			t.Fatalf("closing handshake: %v %v, want the echo of 4001", ce, err)
		}
		c.ended(t)
		var sce *websocket.CloseError
		if err := <-got; !errors.As(err, &sce) || sce.Code != 4001 || sce.Reason != "done" {
			t.Errorf("server read %v, want CloseError 4001 \"done\"", err)
		}
	})
}

// TestCompressionOverStream sends a compressed message and reads the
// server's compressed echo (RFC 7692) over a stream.
func TestCompressionOverStream(t *testing.T) {
	s := startServer(t, echoHandler(nil, nil), nil)
	cc := s.dial(t)
	c := openWS(t, cc, s, "/ws", http.Header{"Sec-Websocket-Extensions": {"permessage-deflate"}})
	if ext := c.resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(ext, "permessage-deflate") {
		t.Fatalf("extensions %q: permessage-deflate not negotiated", ext)
	}
	want := []byte(strings.Repeat(`{"id":1234,"name":"κόσμε ✓","ok":true},`, 2000))
	if err := c.writeFrame(true, true, websocket.OpText, deflate(want)); err != nil {
		t.Fatal(err)
	}
	// readMessage inflates a frame with RSV1: the echo must come compressed.
	h, err := websocket.ReadHeader(c.br)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Rsv1 || h.Length >= int64(len(want)) {
		t.Fatalf("echo frame %+v: want RSV1 and a payload shorter than %d bytes", h, len(want))
	}
	c.br = bufio.NewReader(io.MultiReader(bytes.NewReader(websocket.AppendHeader(nil, h)), c.br))
	op, got, err := c.readMessage()
	if err != nil || op != websocket.OpText || !bytes.Equal(got, want) {
		t.Fatalf("echo: %v %d B %v, want the text sent (%d B)", op, len(got), err, len(want))
	}
}

// TestFlowControlSlowReader checks HTTP/2 flow control both ways: a server
// writing to a client that does not read blocks rather than buffering, and a
// handler that does not read holds up its own stream only, not the others
// of the connection, when the stream's receive window is smaller than the
// connection's.
func TestFlowControlSlowReader(t *testing.T) {
	release := make(chan struct{})
	written := make(chan error, 1)
	const big = 4<<20 + 1 // more than the client's stream window
	mux := http.NewServeMux()
	mux.Handle("/ws", echoHandler(nil, nil))
	mux.HandleFunc("/push", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		written <- c.WriteMessage(websocket.OpBinary, pattern(big))
		c.ReadMessage()
	})
	mux.HandleFunc("/stalled", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		<-release
		op, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		c.WriteMessage(op, []byte(fmt.Sprint(len(msg))))
		c.ReadMessage()
	})
	s := startServer(t, mux, func(hs *http.Server) {
		hs.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: 256 << 10, MaxReceiveBufferPerConnection: 4 << 20}
	})
	cc := s.dial(t)

	t.Run("ClientReadsSlowly", func(t *testing.T) {
		c := openWS(t, cc, s, "/push", nil)
		select {
		case err := <-written:
			t.Fatalf("a %d-byte message was written (%v) to a client that read nothing: flow control did not hold it", big, err)
		case <-time.After(time.Second):
		}
		op, got, err := c.readMessage()
		if err != nil || op != websocket.OpBinary || !bytes.Equal(got, pattern(big)) {
			t.Fatalf("read %v %d B %v, want the %d B sent", op, len(got), err, big)
		}
		select {
		case err := <-written:
			if err != nil {
				t.Fatalf("server write: %v", err)
			}
		case <-time.After(testtime.Scaled(10 * time.Second)):
			t.Fatal("the server's write did not finish once the client read")
		}
	})

	t.Run("ServerReadsSlowly", func(t *testing.T) {
		stalled := openWS(t, cc, s, "/stalled", nil)
		const size = 4 << 20
		sent := make(chan error, 1)
		go func() { sent <- stalled.writeMessage(websocket.OpBinary, pattern(size)) }()
		// While that stream is stalled, another on the same connection is
		// served.
		other := openWS(t, cc, s, "/ws", nil)
		for i := range 20 {
			want := pattern(1000 + i)
			if err := other.writeMessage(websocket.OpText, want); err != nil {
				t.Fatal(err)
			}
			if _, got, err := other.readMessage(); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("echo on another stream while one is stalled: %d B, %v", len(got), err)
			}
		}
		select {
		case err := <-sent:
			t.Fatalf("the client wrote %d bytes (%v) to a handler that read nothing: flow control did not hold them", size, err)
		case <-time.After(500 * time.Millisecond):
		}
		close(release)
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		if _, got, err := stalled.readMessage(); err != nil || string(got) != fmt.Sprint(size) {
			t.Fatalf("the stalled handler read %q bytes, %v; want %d", got, err, size)
		}
	})
}

// TestStreamResetMidMessage resets a stream (RST_STREAM CANCEL) in the
// middle of a message: the handler's read fails with an error wrapping
// ErrClosed, the handler returns, and the connection serves new streams.
func TestStreamResetMidMessage(t *testing.T) {
	readErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle("/ws", echoHandler(nil, nil))
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_, _, err = c.ReadMessage()
		readErr <- err
	})
	s := startServer(t, mux, nil)
	cc := s.dial(t)
	c := openWS(t, cc, s, "/reset", nil)
	h := websocket.Header{Fin: true, Opcode: websocket.OpBinary, Length: 1 << 20, Masked: true}
	b := append(websocket.AppendHeader(nil, h), make([]byte, 100<<10)...)
	if _, err := c.pw.Write(b); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let part of the message arrive
	c.cancel()
	select {
	case err := <-readErr:
		if !errors.Is(err, websocket.ErrClosed) {
			t.Errorf("read after the reset: %v, want an error wrapping ErrClosed", err)
		}
	case <-time.After(testtime.Scaled(10 * time.Second)):
		buf := make([]byte, 1<<20)
		t.Log(string(buf[:runtime.Stack(buf, true)]))
		t.Fatal("the handler's read did not end after the stream was reset")
	}
	d := openWS(t, cc, s, "/ws", nil)
	if err := d.writeMessage(websocket.OpText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := d.readMessage(); err != nil || string(got) != "still here" {
		t.Fatalf("echo after a reset: %q %v", got, err)
	}
}

// TestServerShutdown shuts the server down: with a hook that closes the
// WebSockets with 1001, each client gets that Close frame and Shutdown
// returns once the streams have ended; Close ends them at once.
func TestServerShutdown(t *testing.T) {
	var mu sync.Mutex
	var conns []*websocket.Conn
	var handlers sync.WaitGroup
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		handlers.Add(1)
		defer handlers.Done()
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		// The Conn is read by another goroutine: the handler waits for it.
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		<-c.Done()
	}), nil)
	s.Config.RegisterOnShutdown(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			go c.Close(websocket.StatusGoingAway, "shutting down")
		}
	})
	cc := s.dial(t)
	clients := make([]*client, 3)
	for i := range clients {
		clients[i] = openWS(t, cc, s, "/ws", nil)
	}
	// Accept answers before its handler has put the Conn in conns: wait for
	// all of them, or the shutdown hook misses one.
	for deadline := time.Now().Add(testtime.Scaled(10 * time.Second)); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(conns)
		mu.Unlock()
		if n == len(clients) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d handlers have their Conn, want %d", n, len(clients))
		}
	}
	// A Close frame that never comes fails the reads below rather than
	// hanging the test.
	watchdog := time.AfterFunc(testtime.Scaled(30*time.Second), func() {
		for _, c := range clients {
			c.cancel()
		}
	})
	defer watchdog.Stop()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(10*time.Second))
		defer cancel()
		shut <- s.Config.Shutdown(ctx)
	}()
	for i, c := range clients {
		// The server's Close frame first, then the answer.
		_, _, err := c.readMessage()
		var ce *closeError
		if !errors.As(err, &ce) || ce.code != websocket.StatusGoingAway || ce.reason != "shutting down" {
			t.Errorf("client %d: %v, want close 1001 \"shutting down\"", i, err)
		}
		if err := c.writeFrame(true, false, websocket.OpClose, []byte{0x03, 0xe9}); err != nil {
			t.Errorf("client %d: answering the Close frame: %v", i, err)
		}
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(testtime.Scaled(15 * time.Second)):
		t.Fatal("Shutdown did not return")
	}
	handlers.Wait()
}

// TestServerCloseEndsStreams closes the server under open WebSockets: the
// handlers' Conns end (Done is closed) and the clients' reads fail.
func TestServerCloseEndsStreams(t *testing.T) {
	var handlers sync.WaitGroup
	var ended atomic.Int32
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Counted before Accept, whose answer the client may act on before
		// Accept has returned here: counted after, a handler could be
		// added while handlers.Wait already waits.
		handlers.Add(1)
		defer handlers.Done()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_, _, err = c.ReadMessage()
		if errors.Is(err, websocket.ErrClosed) {
			ended.Add(1)
		}
		<-c.Done()
	}), nil)
	cc := s.dial(t)
	clients := make([]*client, 3)
	for i := range clients {
		clients[i] = openWS(t, cc, s, "/ws", nil)
	}
	s.Config.Close() // httptest's Close would wait for the handlers
	for i, c := range clients {
		if _, _, err := c.readMessage(); err == nil {
			t.Errorf("client %d read a message from a closed server", i)
		}
	}
	done := make(chan struct{})
	go func() { handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(testtime.Scaled(10 * time.Second)):
		t.Fatal("handlers still running after the server closed")
	}
	if n := ended.Load(); n != 3 {
		t.Errorf("%d of 3 reads failed with ErrClosed", n)
	}
}

// pollerEcho is a Poller's MessageHandler that echoes, and reports each
// connection's end on closed.
type pollerEcho struct{ closed chan<- error }

func (pollerEcho) HandleMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	c.WriteMessage(op, p)
}

func (h pollerEcho) HandleClose(c *websocket.Conn, err error) { h.closed <- err }

// TestPollerOverStream serves WebSockets over HTTP/2 streams through a
// Poller with the handler of an HTTP/1.1 server, Accept then Add then
// return: Add serves the stream on the handler's goroutine, since the
// stream ends with the handler, and returns once HandleClose has.
func TestPollerOverStream(t *testing.T) {
	p, err := websocket.NewPoller(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	events := make(chan string, 64)
	closed := make(chan error, 64)
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		if err := p.Add(c, pollerEcho{closed}); err != nil {
			c.CloseNow()
		}
		events <- "handler returned"
	}), nil)
	cc := s.dial(t)
	const streams = 8
	for i := range streams {
		c := openWS(t, cc, s, "/ws", nil)
		for _, n := range []int{0, 125, 126, 65535, 65536, 1 << 20} {
			want := pattern(n + i)
			if err := c.writeMessage(websocket.OpBinary, want); err != nil {
				t.Fatal(err)
			}
			op, got, err := c.readMessage()
			if err != nil || op != websocket.OpBinary || !bytes.Equal(got, want) {
				t.Fatalf("stream %d, %d bytes: got %v of %d bytes, %v", i, n+i, op, len(got), err)
			}
		}
		select {
		case e := <-events:
			t.Fatalf("stream %d: %s while the WebSocket was open", i, e)
		default:
		}
		ce, err := c.closeHandshake(websocket.StatusNormalClosure, "")
		if err != nil || ce.code != websocket.StatusNormalClosure {
			t.Fatalf("stream %d: closing handshake: %v %v", i, ce, err)
		}
		c.ended(t)
		select {
		case err := <-closed:
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Errorf("stream %d: HandleClose %v, want the client's 1000", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("stream %d: HandleClose was not called", i)
		}
		select {
		case <-events:
		case <-time.After(10 * time.Second):
			t.Fatalf("stream %d: the handler did not return after HandleClose", i)
		}
	}
	if n := s.tcpConns.Load(); n != 1 {
		t.Errorf("the server accepted %d TCP connections, want 1", n)
	}
}
