//go:build !js

package websocket

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a MessageHandler that records what the Poller hands it, and answers
// each message through fn if set.
type recorder struct {
	fn     func(c *Conn, op Opcode, p []byte)
	mu     sync.Mutex
	msgs   []string
	closed chan error // HandleClose's error, once per connection
}

func newRecorder(fn func(c *Conn, op Opcode, p []byte)) *recorder {
	return &recorder{fn: fn, closed: make(chan error, 16384)}
}

func (r *recorder) HandleMessage(c *Conn, op Opcode, p []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, fmt.Sprintf("%v:%s", op, p))
	r.mu.Unlock()
	if r.fn != nil {
		r.fn(c, op, p)
	}
}

func (r *recorder) HandleClose(c *Conn, err error) {
	if !c.isClosed() {
		err = fmt.Errorf("HandleClose before the connection is closed (%w)", err)
	}
	r.closed <- err
}

func (r *recorder) waitClose(t testing.TB) error {
	t.Helper()
	select {
	case err := <-r.closed:
		return err
	case <-time.After(testTimeout):
		t.Fatal("HandleClose was not called")
		return nil
	}
}

// echoBack is a handler that writes every message back.
func echoBack(c *Conn, op Opcode, p []byte) { c.WriteMessage(op, p) }

func newTestPoller(t testing.TB, opts *PollerOptions) *Poller {
	t.Helper()
	p, err := NewPoller(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// pollerPair returns a blocking client Conn whose server end a Poller
// serves with h.
func pollerPair(t testing.TB, p *Poller, h MessageHandler, ccfg, scfg connConfig) *Conn {
	t.Helper()
	cli, srv := connPair(t, tcpConns, ccfg, scfg)
	if err := p.Add(srv, h); err != nil {
		t.Fatal(err)
	}
	return cli
}

func TestPollerEchoesInOrder(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 4095, 4096, 4097, 65536, 1 << 20}
	p := newTestPoller(t, nil)
	cli := pollerPair(t, p, newRecorder(echoBack), connConfig{}, connConfig{})
	cli.SetDeadline(time.Now().Add(testTimeout))
	go func() {
		for i, n := range sizes {
			cli.WriteMessage(OpBinary, bytes.Repeat([]byte{byte(i)}, n))
		}
	}()
	for i, n := range sizes {
		op, got, err := cli.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if op != OpBinary || !bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, n)) {
			t.Fatalf("message %d: got %v of %d bytes, want binary of %d bytes %#x", i, op, len(got), n, i)
		}
	}
}

func TestPollerAnswersPingsBetweenAndInsideMessages(t *testing.T) {
	p := newTestPoller(t, nil)
	rec := newRecorder(nil)
	cli, srv := tcpConns(t)
	peer := &rawPeer{t: t, nc: cli, br: bufio.NewReader(cli), client: true}
	c := newConn(srv, nil, true, connConfig{})
	t.Cleanup(func() { c.CloseNow() })
	if err := p.Add(c, rec); err != nil {
		t.Fatal(err)
	}
	peer.write(fromClient(true, OpPing, "alone"))
	peer.mustReadFrame(OpPong, "alone")
	peer.write(fromClient(false, OpText, "a"))
	peer.write(fromClient(true, OpPing, "inside"))
	peer.mustReadFrame(OpPong, "inside")
	peer.write(fromClient(true, OpContinuation, "b"))
	peer.write(clientClose(1000, ""))
	peer.expectClose(StatusNormalClosure)
	var ce *CloseError
	if err := rec.waitClose(t); !errors.As(err, &ce) || ce.Code != StatusNormalClosure {
		t.Fatalf("HandleClose error = %v, want a *CloseError with 1000", err)
	}
	if got := strings.Join(rec.msgs, ","); got != "text:ab" {
		t.Fatalf("messages %q, want one text message \"ab\"", got)
	}
}

// The Poller keeps every rule of the blocking API: the violations of
// conn_violation_test.go each fail the connection with the same code, and
// HandleClose gets the error a blocking read returns.
func TestPollerProtocolViolations(t *testing.T) {
	p := newTestPoller(t, nil)
	for _, tt := range connViolations {
		t.Run(tt.name, func(t *testing.T) {
			peer, c := newRawPeer(t, tcpConns, !tt.toClient, connConfig{readLimit: tt.readLimit, closeTimeout: testTimeout})
			rec := newRecorder(nil)
			if err := p.Add(c, rec); err != nil {
				t.Fatal(err)
			}
			peer.sendAsync(tt.chunks...)
			peer.expectClose(tt.code)
			if !tt.toClient {
				peer.nc.SetWriteDeadline(time.Now().Add(testTimeout))
				peer.nc.Write(clientClose(uint16(tt.code), ""))
				peer.expectEOF()
			}
			peer.nc.Close()
			if err := rec.waitClose(t); !errors.Is(err, tt.err) {
				t.Fatalf("HandleClose error = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestPollerCloseInitiatedByHandler(t *testing.T) {
	p := newTestPoller(t, nil)
	rec := newRecorder(func(c *Conn, op Opcode, p []byte) { c.Close(StatusGoingAway, "bye") })
	cli := pollerPair(t, p, rec, connConfig{}, connConfig{})
	cli.SetDeadline(time.Now().Add(testTimeout))
	cli.WriteMessage(OpText, []byte("close please"))
	_, _, err := cli.ReadMessage()
	if CloseStatus(err) != StatusGoingAway {
		t.Fatalf("client read error = %v, want the server's 1001", err)
	}
	var ce *CloseError
	if err := rec.waitClose(t); !errors.As(err, &ce) || ce.Code != StatusGoingAway {
		t.Fatalf("HandleClose error = %v, want the echo of 1001 as a *CloseError", err)
	}
}

func TestPollerCloseOfIdleConnFromAnotherGoroutine(t *testing.T) {
	p := newTestPoller(t, nil)
	rec := newRecorder(nil)
	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	if err := p.Add(srv, rec); err != nil {
		t.Fatal(err)
	}
	res := readLoop(cli)
	if err := srv.Close(StatusNormalClosure, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-res; CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("client read error = %v, want 1000", err)
	}
	if err := rec.waitClose(t); CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("HandleClose error = %v, want the client's echo of 1000", err)
	}
}

func TestPollerCompression(t *testing.T) {
	params := func() *deflateParams { return &deflateParams{writeWindowBits: maxWindowBits, level: flate.BestSpeed} }
	p := newTestPoller(t, nil)
	cli := pollerPair(t, p, newRecorder(echoBack), connConfig{deflate: params()}, connConfig{deflate: params()})
	cli.SetDeadline(time.Now().Add(testTimeout))
	for _, n := range []int{10, 600, 100 << 10} {
		msg := strings.Repeat("compressible text ", n/18+1)[:n]
		if err := cli.WriteMessage(OpText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		op, got, err := cli.ReadMessage()
		if err != nil || op != OpText || string(got) != msg {
			t.Fatalf("%d bytes: got %v %d bytes, %v", n, op, len(got), err)
		}
	}
}

// A peer that sends part of a frame and stalls holds a worker for
// MessageTimeout at most; it is then failed with 1008, and the other
// connections are served again.
func TestPollerHalfFrameStallTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	p := newTestPoller(t, &PollerOptions{Workers: 1, MessageTimeout: timeout})
	peer, c := newRawPeer(t, tcpConns, true, connConfig{closeTimeout: 200 * time.Millisecond})
	rec := newRecorder(nil)
	if err := p.Add(c, rec); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	peer.write(partialFrame(Header{Fin: true, Opcode: OpBinary, Masked: true, Length: 100}, "half"))
	peer.expectClose(StatusPolicyViolation)
	if d := time.Since(start); d < timeout {
		t.Fatalf("failed after %v, before the timeout of %v", d, timeout)
	}
	err := rec.waitClose(t)
	if !isTimeout(err) {
		t.Fatalf("HandleClose error = %v, want a timeout", err)
	}
	cli := pollerPair(t, p, newRecorder(echoBack), connConfig{}, connConfig{})
	cli.SetDeadline(time.Now().Add(testTimeout))
	cli.WriteMessage(OpText, []byte("after"))
	if _, got, err := cli.ReadMessage(); err != nil || string(got) != "after" {
		t.Fatalf("other connection after the stall: %q, %v", got, err)
	}
}

// With every worker held by a blocked handler, a message on another
// connection waits (backpressure) and is handled once a worker is free.
func TestPollerPoolExhaustionWaits(t *testing.T) {
	p := newTestPoller(t, &PollerOptions{Workers: 2})
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	blocking := newRecorder(func(c *Conn, op Opcode, p []byte) {
		entered <- struct{}{}
		<-release
	})
	for range 2 {
		cli := pollerPair(t, p, blocking, connConfig{}, connConfig{})
		cli.WriteMessage(OpText, []byte("block"))
	}
	for range 2 {
		select {
		case <-entered:
		case <-time.After(testTimeout):
			t.Fatal("the blocking handlers did not run")
		}
	}
	handled := make(chan struct{}, 1)
	third := pollerPair(t, p, newRecorder(func(c *Conn, op Opcode, p []byte) { handled <- struct{}{} }), connConfig{}, connConfig{})
	third.WriteMessage(OpText, []byte("waits"))
	select {
	case <-handled:
		t.Fatal("a third message was handled while both workers were held")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case <-handled:
	case <-time.After(testTimeout):
		t.Fatal("the waiting message was not handled once a worker was free")
	}
}

// Thousands of idle connections cost no goroutine each and keep no net.Conn
// of the runtime's, and no goroutine is left once the Poller is closed;
// HandleClose is called for every one.
func TestPollerIdleConnsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Poller falls back to a goroutine per connection")
	}
	n := connsWithinFDLimit(2000)
	if n < 200 {
		t.Skipf("a descriptor limit too low for %d connections", 200)
	}
	before := runtime.NumGoroutine()
	p, err := NewPoller(&PollerOptions{Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(echoBack)
	clients, conns := servePollerConns(t, p, rec, n)
	for _, c := range conns {
		// No net.Conn with its netFD and runtime poller record is kept.
		if _, ok := any(c.nc).(*pollConn); !ok {
			t.Fatalf("a served Conn keeps its %T", c.nc)
		}
	}
	// One message through every tenth connection: each is served, and
	// goes back to idle.
	buf := make([]byte, 64)
	for i := 0; i < n; i += 10 {
		a := clients[i]
		a.SetDeadline(time.Now().Add(testTimeout))
		if _, err := a.Write(fromClient(true, OpText, "hi")); err != nil {
			t.Fatal(err)
		}
		if k, err := a.Read(buf); err != nil || !bytes.Equal(buf[:k], fromServer(true, OpText, "hi")) {
			t.Fatalf("conn %d: echo % x, %v", i, buf[:k], err)
		}
	}
	if got := runtime.NumGoroutine() - before; got > 8+2 {
		t.Fatalf("%d goroutines for %d connections, want at most the 8 workers and the poller", got, n)
	}
	// A worker gives the buffer back once the echo is written, which the
	// client may see first: wait, bounded, for every one to be idle.
	var held int
	for deadline := time.Now().Add(testTimeout); ; time.Sleep(5 * time.Millisecond) {
		held = 0
		for _, c := range conns {
			c.readMu.Lock()
			if c.br != nil {
				held++
			}
			c.readMu.Unlock()
		}
		if held == 0 || time.Now().After(deadline) {
			break
		}
	}
	if held > 0 {
		t.Fatalf("%d idle connections hold a read buffer", held)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := rec.waitClose(t); !errors.Is(err, ErrClosed) {
			t.Fatalf("HandleClose %d: %v, want ErrClosed", i, err)
		}
	}
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before {
		t.Fatalf("%d goroutines after Close, %d before NewPoller", got, before)
	}
}

// Frames a client sends right behind its handshake are in the handshake's
// buffer, where the socket never reports them: Add serves them at once.
func TestPollerFramesBehindHandshake(t *testing.T) {
	p := newTestPoller(t, nil)
	rec := newRecorder(echoBack)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c, err := AcceptConn(nc, nil, nil)
		if err != nil {
			nc.Close()
			return
		}
		p.Add(c, rec)
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	req := reqSpec{}.build(ln.Addr().String())
	a.SetDeadline(time.Now().Add(testTimeout))
	a.Write(append([]byte(req), fromClient(true, OpText, "early")...))
	peer := &rawPeer{t: t, nc: a, br: bufio.NewReader(a), client: true}
	if _, err := readResponse(peer.br); err != nil {
		t.Fatal(err)
	}
	peer.mustReadFrame(OpText, "early")
}

// Blocking readers waiting for their next message over TCP hold no read
// buffer: the heap grows by far less than DefaultBufferSize per connection.
func TestConnIdleReadersHoldNoBuffer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("readiness is waited for on Linux only")
	}
	n := connsWithinFDLimit(500)
	if n < 100 {
		t.Skipf("a descriptor limit too low for %d connections", 100)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var clients []net.Conn
	var conns []*Conn
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
		for _, c := range clients {
			c.Close()
		}
	}()
	got := make(chan error, n)
	before := heap()
	for range n {
		a, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, a)
		b, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c := newConn(b, nil, true, connConfig{})
		conns = append(conns, c)
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					got <- err
					return
				}
				got <- nil
			}
		}()
		// One message first, so the reader has had a buffer and let it go.
		a.Write(fromClient(true, OpText, "hi"))
	}
	for range n {
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(testTimeout):
			t.Fatal("a message was not read")
		}
	}
	per := (float64(heap()) - float64(before)) / float64(n)
	t.Logf("%.0f heap bytes per idle connection (both ends)", per)
	if per > DefaultBufferSize {
		t.Fatalf("%.0f heap bytes per idle connection: the read buffer (%d bytes) is held", per, DefaultBufferSize)
	}
}

// A TLS connection, whose plaintext the socket's readiness does not
// show, is served by a goroutine of its own through the same MessageHandler.
func TestPollerTLSFallsBackToAGoroutine(t *testing.T) {
	p := newTestPoller(t, nil)
	rec := newRecorder(echoBack)
	url, conf := serveTLS(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		if err := p.Add(c, rec); err != nil {
			c.CloseNow()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Dial(ctx, url, &DialOptions{TLSConfig: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(testTimeout))
	for _, n := range []int{5, 70000} {
		want := bytes.Repeat([]byte("t"), n)
		c.WriteMessage(OpText, want)
		if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes over TLS: got %d bytes, %v", n, len(got), err)
		}
	}
	if err := c.Close(StatusGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	if err := rec.waitClose(t); CloseStatus(err) != StatusGoingAway {
		t.Fatalf("HandleClose error = %v, want the client's 1001", err)
	}
}

// The hostile peers of hostile_test.go, against connections a Poller
// serves: the same bounds hold when a worker does the reading.

func TestPollerHostileLengthClaimCommitsNoMemory(t *testing.T) {
	const (
		conns   = 20
		claim   = 16 << 20
		perConn = 64 << 10
	)
	p := newTestPoller(t, &PollerOptions{Workers: conns + 4})
	rec := newRecorder(nil)
	before := liveHeap()
	for range conns {
		peer, c := newRawPeer(t, tcpConns, true, connConfig{readLimit: 64 << 20, closeTimeout: 100 * time.Millisecond})
		if err := p.Add(c, rec); err != nil {
			t.Fatal(err)
		}
		peer.write(frameBytes(Header{Fin: true, Opcode: OpBinary, Length: claim, Masked: true}, make([]byte, 16)))
	}
	// The workers take the bytes in: each connection has input pending.
	for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		pending := 0
		p.mu.Lock()
		for _, pc := range p.slots {
			if pc != nil {
				pc.mu.Lock()
				if pc.more != nil && pc.more.mdl != 0 {
					pending++
				}
				pc.mu.Unlock()
			}
		}
		p.mu.Unlock()
		if pending == conns {
			break
		}
	}
	grown := int64(liveHeap()) - int64(before)
	t.Logf("%d served Conns with a %d-byte claim: live heap grew %d bytes, %d per Conn", conns, claim, grown, grown/conns)
	if grown > conns*perConn {
		t.Errorf("live heap grew %d bytes for %d Conns (%d each), want at most %d each", grown, conns, grown/conns, perConn)
	}
}

func TestPollerHostileBombAndGrowthStopAtReadLimit(t *testing.T) {
	const limit = 1<<20 + 1000
	big := bytes.Repeat([]byte("x"), 2*limit)
	var fragmented [][]byte
	for i := 0; i+64<<10 <= len(big); i += 64 << 10 {
		fragmented = append(fragmented, clientFrame(Header{Opcode: OpContinuation}, big[i:i+64<<10]))
	}
	fragmented[0][0] = byte(OpBinary)
	p := newTestPoller(t, nil)
	for _, tc := range []struct {
		name    string
		deflate bool
		frames  [][]byte
	}{
		{"fragmented", false, fragmented},
		{"compressed", true, [][]byte{clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, compressed(t, big))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := connConfig{readLimit: limit, closeTimeout: 100 * time.Millisecond}
			if tc.deflate {
				cfg.deflate = &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel}
			}
			peer, c := newRawPeer(t, tcpConns, true, cfg)
			rec := newRecorder(nil)
			if err := p.Add(c, rec); err != nil {
				t.Fatal(err)
			}
			peer.sendAsync(tc.frames...)
			if reason := peer.expectClose(StatusMessageTooBig); !strings.Contains(reason, fmt.Sprint(limit)) {
				t.Errorf("close reason %q does not name the limit %d", reason, limit)
			}
			if err := rec.waitClose(t); !errors.Is(err, ErrMessageTooBig) {
				t.Fatalf("HandleClose error = %v, want ErrMessageTooBig", err)
			}
		})
	}
}

func TestPollerHostilePingFloodWithoutReadingIsDropped(t *testing.T) {
	const closeTimeout = 300 * time.Millisecond
	p := newTestPoller(t, nil)
	a, c := stuckPeer(t, closeTimeout)
	rec := newRecorder(nil)
	if err := p.Add(c, rec); err != nil {
		t.Fatal(err)
	}
	ping := fromClient(true, OpPing, strings.Repeat("p", MaxControlPayload))
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.SetWriteDeadline(time.Now().Add(testTimeout))
		burst := bytes.Repeat(ping, 512)
		for sent := 0; sent < 64<<20; sent += len(burst) {
			if _, err := a.Write(burst); err != nil {
				return
			}
		}
	}()
	select {
	case err := <-rec.closed:
		if !errors.Is(err, ErrClosed) && CloseStatus(err) == 0 {
			t.Errorf("HandleClose error = %v, want one wrapping ErrClosed or a *CloseError", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the worker is still held by a peer that pings and does not read")
	}
	a.Close()
	<-done
}

// servePollerConns connects n raw clients over loopback and gives the
// server side of each to p with h. The clients are closed when the test
// ends.
func servePollerConns(t *testing.T, p *Poller, h MessageHandler, n int) ([]net.Conn, []*Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	clients := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range clients {
			c.Close()
		}
	})
	conns := make([]*Conn, 0, n)
	for range n {
		a, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, a)
		b, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c := newConn(b, nil, true, connConfig{})
		conns = append(conns, c)
		if err := p.Add(c, h); err != nil {
			t.Fatal(err)
		}
	}
	return clients, conns
}

// A Conn may be shared before Add, as a server registering its clients
// before it hands them to a Poller does: deadlines, addresses and Done from
// another goroutine while Add takes the socket over are not a race (run
// under -race), and writes go on over the new descriptor.
func TestPollerAddWhileConnInUse(t *testing.T) {
	p, err := NewPoller(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 20 {
		a, b := tcpConns(t)
		c := newConn(b, nil, true, connConfig{})
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.SetWriteDeadline(time.Now().Add(testTimeout))
				c.SetReadDeadline(time.Time{})
				c.SetDeadline(time.Time{})
				_ = c.RemoteAddr()
				_ = c.LocalAddr()
				_ = c.Done()
			}
		}()
		if err := p.Add(c, newRecorder(nil)); err != nil {
			t.Fatal(err)
		}
		close(stop)
		<-done
		if err := c.WriteMessage(OpText, []byte("after Add")); err != nil {
			t.Fatal(err)
		}
		a.SetReadDeadline(time.Now().Add(testTimeout))
		buf := make([]byte, 64)
		if k, err := a.Read(buf); err != nil || !bytes.Equal(buf[:k], fromServer(true, OpText, "after Add")) {
			t.Fatalf("read % x, %v", buf[:k], err)
		}
		c.CloseNow()
	}
}

// Shutdown closes every connection with 1001 and waits for the peers'
// answers, read by the Poller, and for HandleClose; a Conn added meanwhile
// is closed as the others, and Add refuses once the Poller is closed.
func TestPollerShutdown(t *testing.T) {
	p, err := NewPoller(nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(echoBack)
	const n = 20
	var clients []*Conn
	for range n {
		cli := pollerPair(t, p, rec, connConfig{}, connConfig{})
		cli.SetDeadline(time.Now().Add(testTimeout))
		clients = append(clients, cli)
	}
	got := make(chan error, n)
	for _, cli := range clients {
		go func() {
			_, _, err := cli.ReadMessage()
			got <- err
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i := range n {
		if err := rec.waitClose(t); CloseStatus(err) != StatusGoingAway {
			t.Errorf("HandleClose %d: %v, want the peer's echo of 1001", i, err)
		}
		if err := <-got; CloseStatus(err) != StatusGoingAway {
			t.Errorf("client %d: %v, want 1001", i, err)
		}
	}
	_, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	if err := p.Add(srv, rec); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Shutdown: %v, want an error wrapping ErrClosed", err)
	}
}
