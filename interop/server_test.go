package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// The tests in this file run the Go side as the server against peer clients.
// The Go server's paths are those ws_client.js and py_client.py expect.

// goServer is a Go WebSocket server on 127.0.0.1 whose handlers record what
// went wrong, for the test to report once the peer client is done.
type goServer struct {
	url     string
	opts    websocket.AcceptOptions
	reasons map[string]string // close reasons by code for /goclose

	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []string
	closes  map[int]string // /close: code -> reason the Go side read
	rtts    []time.Duration
	fails   []string     // /expectfail: how each read failed
	read    atomic.Int64 // bytes read from and written to all connections
	written atomic.Int64
}

// startGoServer serves the interop paths with opts until the test ends.
func startGoServer(t *testing.T, opts websocket.AcceptOptions) *goServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &goServer{opts: opts, closes: make(map[int]string)}
	_, s.reasons = closeCodes(false)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: testtime.Scaled(10 * time.Second)}
	counting := &countingListener{Listener: ln, s: s}
	go srv.Serve(counting)
	s.url = "ws://" + ln.Addr().String()
	t.Cleanup(func() {
		srv.Close()
		counting.closeAll()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(testtime.Scaled(15 * time.Second)):
			t.Error("Go handlers still running 15s after the test")
		}
	})
	return s
}

func (s *goServer) errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

// wait waits for the handlers of the connections so far to return and reports
// their errors.
func (s *goServer) wait(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(testtime.Scaled(15 * time.Second)):
		t.Error("Go handlers still running 15s after the peer client exited")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.errs {
		t.Error("Go server: " + e)
	}
	s.errs = nil
}

func (s *goServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	opts := s.opts
	if r.URL.Path == "/subproto" {
		opts.Subprotocols = strings.Split(r.URL.Query().Get("server"), ",")
	}
	c, err := websocket.Accept(w, r, &opts)
	if err != nil {
		s.errorf("Accept %s: %v", r.URL, err)
		return
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(testtime.Scaled(60 * time.Second)))
	q := r.URL.Query()
	switch r.URL.Path {
	case "/echo":
		s.echo(c, r.URL.Path)
	case "/echostream":
		s.echoStream(c)
	case "/fragmented":
		s.sendFragmented(c, q.Get("op"), q.Get("size"), q.Get("chunks"))
	case "/ping":
		s.ping(c)
	case "/close":
		code, _ := strconv.Atoi(q.Get("code"))
		_, b, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			s.errorf("close %d: ReadMessage got %q, %v; want a *CloseError", code, b, err)
			return
		}
		s.mu.Lock()
		s.closes[code] = fmt.Sprintf("%d %q", ce.Code, ce.Reason)
		s.mu.Unlock()
	case "/goclose":
		code, _ := strconv.Atoi(q.Get("code"))
		if err := c.Close(websocket.StatusCode(code), s.reasons[strconv.Itoa(code)]); err != nil {
			s.errorf("Close(%d): %v", code, err)
		}
	case "/expectfail":
		if n, _ := strconv.ParseInt(q.Get("limit"), 10, 64); n > 0 {
			c.SetReadLimit(n)
		}
		_, b, err := c.ReadMessage()
		kind := fmt.Sprintf("message of %d B, %v", len(b), err)
		switch {
		case errors.Is(err, websocket.ErrMessageTooBig):
			kind = "toobig"
		case errors.Is(err, websocket.ErrInvalidUTF8):
			kind = "badutf8"
		}
		s.mu.Lock()
		s.fails = append(s.fails, kind)
		s.mu.Unlock()
	case "/subproto":
		if c.Subprotocol() == "" && r.Header.Get("Sec-WebSocket-Protocol") != "" {
			// The client may fail the connection when the server selects none
			// of its subprotocols (RFC 6455 §4.1; ws does): whatever happens
			// next is up to the peer, which checks it.
			if c.WriteMessage(websocket.OpText, []byte("proto:")) == nil {
				c.ReadMessage()
			}
			return
		}
		if err := c.WriteMessage(websocket.OpText, []byte("proto:"+c.Subprotocol())); err != nil {
			s.errorf("subproto: %v", err)
			return
		}
		s.echo(c, r.URL.Path)
	default:
		c.Close(websocket.StatusPolicyViolation, "unknown path")
	}
}

// echo sends every message back until the peer closes; the peer clients end
// with a normal closure, anything else is an error.
func (s *goServer) echo(c *websocket.Conn, what string) {
	for {
		op, b, err := c.ReadMessage()
		if err != nil {
			s.endOfRead(what, err)
			return
		}
		if err := c.WriteMessage(op, b); err != nil {
			s.errorf("%s: WriteMessage: %v", what, err)
			return
		}
	}
}

func (s *goServer) endOfRead(what string, err error) {
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		s.errorf("%s: read ended with %v, want the peer's normal closure", what, err)
	}
}

// echoStream echoes through NextReader and NextWriter with a small buffer.
func (s *goServer) echoStream(c *websocket.Conn) {
	buf := make([]byte, 1000)
	for {
		op, r, err := c.NextReader()
		if err != nil {
			s.endOfRead("echostream", err)
			return
		}
		w, err := c.NextWriter(op)
		if err != nil {
			s.errorf("echostream: NextWriter: %v", err)
			return
		}
		if _, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, buf); err != nil {
			s.errorf("echostream: copy: %v", err)
			return
		}
		if err := w.Close(); err != nil {
			s.errorf("echostream: closing writer: %v", err)
			return
		}
	}
}

// sendFragmented streams one message through NextWriter in chunks writes,
// sends its digest, then echoes.
func (s *goServer) sendFragmented(c *websocket.Conn, opName, sizeStr, chunksStr string) {
	size, _ := strconv.Atoi(sizeStr)
	chunks, _ := strconv.Atoi(chunksStr)
	op := websocket.OpText
	if opName == "binary" {
		op = websocket.OpBinary
	}
	data := randomPayload(op == websocket.OpText, size)
	w, err := c.NextWriter(op)
	if err != nil {
		s.errorf("fragmented: NextWriter: %v", err)
		return
	}
	step := max(1, (size+chunks-1)/chunks)
	for i := 0; i < chunks; i++ {
		if _, err := w.Write(data[min(i*step, size):min((i+1)*step, size)]); err != nil {
			s.errorf("fragmented: Write: %v", err)
			return
		}
	}
	if err := w.Close(); err != nil {
		s.errorf("fragmented: closing writer: %v", err)
		return
	}
	if err := c.WriteMessage(websocket.OpText, []byte(digest(data))); err != nil {
		s.errorf("fragmented: digest: %v", err)
		return
	}
	s.echo(c, "fragmented")
}

// ping reads (answering the peer's pings) while pinging the peer three
// times, then tells the peer it is done.
func (s *goServer) ping(c *websocket.Conn) {
	readDone := make(chan error, 1)
	go func() {
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				readDone <- err
				return
			}
			s.errorf("ping: unexpected message %q", b)
		}
	}()
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(10*time.Second))
		rtt, err := c.Ping(ctx)
		cancel()
		if err != nil {
			s.errorf("Ping %d: %v", i, err)
			break
		}
		s.mu.Lock()
		s.rtts = append(s.rtts, rtt)
		s.mu.Unlock()
	}
	if err := c.WriteMessage(websocket.OpText, []byte("ping-done")); err != nil {
		s.errorf("ping: writing ping-done: %v", err)
	}
	select {
	case err := <-readDone:
		s.endOfRead("ping", err)
	case <-time.After(testtime.Scaled(30 * time.Second)):
		s.errorf("ping: peer did not close within %v", testtime.Scaled(30*time.Second))
	}
}

// countingListener counts the bytes of all its connections into s, and closes
// them all at the end of the test.
type countingListener struct {
	net.Listener
	s     *goServer
	mu    sync.Mutex
	conns []net.Conn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return &countingConn{Conn: c, read: &l.s.read, written: &l.s.written}, nil
}

func (l *countingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

type countingConn struct {
	net.Conn
	read, written *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// plainAccept is the AcceptOptions of the tests that are not about compression.
func plainAccept() websocket.AcceptOptions {
	var opts websocket.AcceptOptions
	opts.Compression.Disabled = true
	return opts
}

func TestServerEchoMessageSizes(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startGoServer(t, plainAccept())
		for _, path := range []string{"/echo", "/echostream"} {
			err := runPeerClient(t, p, s.url, map[string]any{"scenario": "sizes", "sizes": messageSizes, "echo_path": path})
			if err != nil {
				t.Errorf("%s: %v", path, err)
			}
			s.wait(t)
		}
	})
}

func TestServerEchoUTF8(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startGoServer(t, plainAccept())
		if err := runPeerClient(t, p, s.url, map[string]any{"scenario": "utf8"}); err != nil {
			t.Error(err)
		}
		s.wait(t)
	})
}

// TestServerFragmented has the peer send messages in several frames with a
// ping between the first two, and receive messages the Go side streams
// through NextWriter in several writes; websockets checks those larger than
// a few write buffers came in several frames.
func TestServerFragmented(t *testing.T) {
	const writeBuffer = 4096
	forEachPeer(t, func(t *testing.T, p *peer) {
		opts := plainAccept()
		opts.WriteBufferSize = writeBuffer
		s := startGoServer(t, opts)
		err := runPeerClient(t, p, s.url, map[string]any{
			"scenario":            "fragments",
			"fragments":           [][2]int{{0, 1}, {10, 10}, {1000, 3}, {200000, 7}, {1 << 20, 16}},
			"min_fragmented_size": 4 * writeBuffer,
		})
		if err != nil {
			t.Error(err)
		}
		s.wait(t)
	})
}

func TestServerPing(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startGoServer(t, plainAccept())
		payloads := []string{"", "68656c6c6f", fmt.Sprintf("%x", randomPayload(false, websocket.MaxControlPayload))}
		if err := runPeerClient(t, p, s.url, map[string]any{"scenario": "ping", "payloads": payloads}); err != nil {
			t.Error(err)
		}
		s.wait(t)
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.rtts) != 3 {
			t.Errorf("Go server got %d RTTs from Ping, want 3", len(s.rtts))
		}
		for _, rtt := range s.rtts {
			if rtt <= 0 || rtt > testtime.Scaled(10*time.Second) {
				t.Errorf("Ping RTT %v", rtt)
			}
		}
	})
}

// TestServerPeerCloses has the peer client close with each code a client may
// send; the Go server must read the code and reason, and answer (the peer
// checks the closing handshake completes).
func TestServerPeerCloses(t *testing.T) {
	codes, reasons := closeCodes(true)
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startGoServer(t, plainAccept())
		if err := runPeerClient(t, p, s.url, map[string]any{"scenario": "close", "codes": codes, "reasons": reasons}); err != nil {
			t.Error(err)
		}
		s.wait(t)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, code := range codes {
			want := fmt.Sprintf("%d %q", code, reasons[strconv.Itoa(code)])
			if got := s.closes[code]; got != want {
				t.Errorf("peer closed with %s; Go read %q", want, got)
			}
		}
	})
}

// TestServerCloses closes from the Go server with each code a server may send;
// the peer client checks code and reason.
func TestServerCloses(t *testing.T) {
	codes, reasons := closeCodes(false)
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startGoServer(t, plainAccept())
		if err := runPeerClient(t, p, s.url, map[string]any{"scenario": "goclose", "codes": codes, "reasons": reasons}); err != nil {
			t.Error(err)
		}
		s.wait(t)
	})
}

// TestServerSubprotocol checks the Go server picks the first of its own
// preferences that the client offers (AcceptOptions.Subprotocols), and none
// when there is no common one.
func TestServerSubprotocol(t *testing.T) {
	cases := []struct {
		name   string
		server []string
		offer  []string
		want   string
	}{
		{"server_preference_wins", []string{"chat.v2", "chat.v1"}, []string{"chat.v1", "chat.v2"}, "chat.v2"},
		{"only_common_one", []string{"chat.v2", "chat.v1"}, []string{"chat.v3", "chat.v1"}, "chat.v1"},
		{"no_common", []string{"chat.v2"}, []string{"chat.v3"}, ""},
		{"no_offer", []string{"chat.v2"}, []string{}, ""},
	}
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startGoServer(t, plainAccept())
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := runPeerClient(t, p, s.url, map[string]any{"scenario": "subproto", "server": tc.server, "offer": tc.offer, "expect": tc.want})
				if err != nil {
					t.Error(err)
				}
				s.wait(t)
			})
		}
	})
}

// failCase is something the Go side must refuse by failing the connection
// with a status code (RFC 6455 §7.1.7, §7.4.1).
type failCase struct {
	Kind     string `json:"kind"` // toobig or badutf8
	Op       string `json:"op,omitempty"`
	Size     int    `json:"size,omitempty"`
	Chunks   int    `json:"chunks,omitempty"`
	Limit    int64  `json:"limit,omitempty"`
	WantCode int    `json:"want_code"`
}

var failCases = []failCase{
	{Kind: "toobig", Op: "binary", Size: 5000, Chunks: 1, Limit: 1000, WantCode: 1009},
	{Kind: "toobig", Op: "text", Size: 5000, Chunks: 5, Limit: 1000, WantCode: 1009},
	{Kind: "toobig", Op: "binary", Size: 1001, Chunks: 1, Limit: 1000, WantCode: 1009},
	{Kind: "badutf8", WantCode: 1007},
}

// canSend reports whether p's library can send what c needs: websockets
// only sends text it has encoded from a str, so never invalid UTF-8.
func (p *peer) canSend(c failCase) bool {
	return c.Kind != "badutf8" || p.prog == "node"
}

// TestServerFailsConnection sends the Go server a message over its read limit
// and a text message that is not UTF-8; it must fail the connection with
// 1009 and 1007, which the peer client checks, and its read must return
// ErrMessageTooBig and ErrInvalidUTF8.
func TestServerFailsConnection(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		var cases []failCase
		for _, c := range failCases {
			if p.canSend(c) {
				cases = append(cases, c)
			} else {
				t.Logf("%s cannot send %s; not checked with this peer", p.name, c.Kind)
			}
		}
		s := startGoServer(t, plainAccept())
		if err := runPeerClient(t, p, s.url, map[string]any{"scenario": "fail", "cases": cases}); err != nil {
			t.Error(err)
		}
		s.wait(t)
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.fails) != len(cases) {
			t.Fatalf("Go server saw %d failed reads %q, want %d", len(s.fails), s.fails, len(cases))
		}
		for i, c := range cases {
			if s.fails[i] != c.Kind {
				t.Errorf("case %d (%+v): Go read ended with %s", i, c, s.fails[i])
			}
		}
	})
}
