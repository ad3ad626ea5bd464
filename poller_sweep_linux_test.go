package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// The keep-alive of connections in the epoll set: the sweep.

// A peer that answers nothing is pinged once and then closed, not before
// two intervals; HandleClose says why, and no goroutine is left.
func TestPollerPingClosesSilentPeer(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	p, err := NewPoller(&PollerOptions{PingInterval: testPingInterval})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(nil)
	a, br := handshakenPeer(t, p, rec)
	start := time.Now()
	err = rec.waitClose(t)
	took := time.Since(start)
	t.Logf("closed after %v (%.2f intervals): %v", took.Round(time.Millisecond), float64(took)/float64(testPingInterval), err)
	if !isPingLoss(err) {
		t.Errorf("HandleClose error = %v, want one wrapping ErrClosed that names the ping", err)
	}
	if took < 2*testPingInterval-testPingInterval/4 {
		t.Errorf("closed after %v, before 2 intervals of %v", took, testPingInterval)
	}
	// What the peer was sent: one ping, then the end.
	a.SetReadDeadline(time.Now().Add(testTimeout))
	got, _ := bufio.NewReader(br).Peek(64)
	if want := fromServer(true, OpPing, ""); !bytes.Equal(got, want) {
		t.Errorf("the peer got % x, want one empty ping % x and the end", got, want)
	}
	p.Close()
	waitGoroutines(t, goroutines)
}

// A peer that answers pings, with pongs its ping handler writes, stays
// open however many intervals pass: here, through five pings.
func TestPollerPingAnsweredKeepsConn(t *testing.T) {
	p := newTestPoller(t, &PollerOptions{PingInterval: testPingInterval})
	rec := newRecorder(echoBack)
	cli := pollerPair(t, p, rec, connConfig{}, connConfig{})
	pings := answerPings(cli)
	msgs := make(chan string, 1)
	go func() {
		for {
			_, m, err := cli.ReadMessage()
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(m)
		}
	}()
	if n := waitCount(t, pings.Load, 5); n < 5 {
		t.Fatalf("%d pings, want 5", n)
	}
	select {
	case err := <-rec.closed:
		t.Fatalf("closed while answering pings: %v", err)
	default:
	}
	if err := cli.WriteMessage(OpText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if m := <-msgs; m != "still here" {
		t.Fatalf("echo %q", m)
	}
}

// Any input counts: a peer that sends a message every quarter interval
// and never reads, so never answers a ping, stays open, and is never
// pinged. (A writer late by three quarters of an interval, on a loaded
// machine, may be pinged; the interval is scaled for that.)
func TestPollerPingInputCountsAsLiveness(t *testing.T) {
	p := newTestPoller(t, &PollerOptions{PingInterval: testPingInterval})
	rec := newRecorder(nil)
	a, br := handshakenPeer(t, p, rec)
	a.SetWriteDeadline(time.Now().Add(testTimeout))
	const n = 16
	for range n {
		if _, err := a.Write(fromClient(true, OpText, "tick")); err != nil {
			t.Fatalf("the connection ended while the peer sent: %v", err)
		}
		select {
		case err := <-rec.closed:
			t.Fatalf("closed while the peer sends: %v", err)
		case <-time.After(testPingInterval / 4):
		}
	}
	handled := func() int32 {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return int32(len(rec.msgs))
	}
	if got := waitCount(t, handled, n); got != n {
		t.Errorf("%d messages handled, want %d", got, n)
	}
	// Open still: a Close frame is answered, with nothing before it.
	a.Write(clientClose(1000, ""))
	peer := &rawPeer{t: t, nc: a, br: br, client: true}
	peer.expectClose(StatusNormalClosure)
	if err := rec.waitClose(t); CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("HandleClose error = %v, want the peer's 1000", err)
	}
}

// Peers that stopped reading, with output queued for them, do not hold the
// sweep up: a silent peer beside them is closed in time, an answering one
// is pinged as usual, and the stalled ones are not pinged (their queue
// would only grow) and are closed for their silence.
func TestPollerPingStalledPeerDoesNotBlockSweep(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	p, err := NewPoller(&PollerOptions{PingInterval: testPingInterval, WriteQueueLimit: 32 << 20, WriteTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stalled := newRecorder(nil)
	for range 2 {
		stuck, _ := stuckWriter(t, p, stalled)
		msg := make([]byte, 64<<10)
		if _, err, _ := writeUntil(t, stuck, msg, 10_000, func() bool { return queued(stuck) > 0 }); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	silent := newRecorder(nil)
	handshakenPeer(t, p, silent)
	answering := newRecorder(nil)
	cli := pollerPair(t, p, answering, connConfig{}, connConfig{})
	pings := answerPings(cli)
	readLoop(cli)

	if err := silent.waitClose(t); !isPingLoss(err) {
		t.Errorf("silent peer: HandleClose error = %v, want the ping's", err)
	}
	took := time.Since(start)
	for range 2 {
		if err := stalled.waitClose(t); !isPingLoss(err) {
			t.Errorf("stalled peer: HandleClose error = %v, want the ping's", err)
		}
	}
	t.Logf("silent peer closed after %v beside stalled ones", took)
	if n := pings.Load(); n < 1 {
		t.Errorf("the answering peer got %d pings beside the stalled ones", n)
	}
	select {
	case err := <-answering.closed:
		t.Fatalf("answering peer closed: %v", err)
	default:
	}
	p.Close()
	waitGoroutines(t, goroutines)
}

// Idle connections pinged by the sweep still hold no goroutine each: the
// pings go out from the one sweeping goroutine, and no goroutine is left
// once the Poller is closed. The record pays nothing for it
// (TestPollerConnRecordFitsIn96Bytes).
func TestPollerIdleConnsWithPingsHoldNoGoroutine(t *testing.T) {
	const interval = time.Second
	n := connsWithinFDLimit(1000)
	if n < 200 {
		t.Skipf("a descriptor limit too low for %d connections", 200)
	}
	before := runtime.NumGoroutine()
	p, err := NewPoller(&PollerOptions{Workers: 8, PingInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(nil)
	clients, _ := servePollerConns(t, p, rec, n)
	// The goroutines that set the connections up end (on a busy machine,
	// some a while after the handshakes), leaving the poll goroutine and
	// the sweep.
	waitGoroutines(t, before+2)
	// Every connection is pinged, as each client reads; meanwhile the
	// goroutines stay the poll goroutine and the sweep (no input came, so
	// no worker either), give or take a few of the runtime's or the
	// test's own: a goroutine per connection would be a thousand.
	most := runtime.NumGoroutine() - before
	ping := fromServer(true, OpPing, "")
	for i, a := range clients {
		buf := make([]byte, len(ping))
		a.SetReadDeadline(time.Now().Add(testTimeout))
		if k, err := io.ReadFull(a, buf); err != nil || !bytes.Equal(buf[:k], ping) {
			t.Fatalf("client %d of %d read % x, %v; want a ping", i, n, buf[:k], err)
		}
		most = max(most, runtime.NumGoroutine()-before)
	}
	if most > 2+n/100 {
		t.Fatalf("%d goroutines for %d idle connections being pinged, want the poll goroutine and the sweep (and at most %d others)", most, n, n/100)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := rec.waitClose(t); !errors.Is(err, ErrClosed) {
			t.Fatalf("HandleClose %d: %v, want ErrClosed", i, err)
		}
	}
	waitGoroutines(t, before)
}

// The cost of a sweep that pings every connection, over real sockets: a
// write syscall each.
func BenchmarkPollerSweepPings(b *testing.B) {
	n := connsWithinFDLimit(1000)
	p, err := NewPoller(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	p.ping = time.Minute // swept by hand below
	rec := newRecorder(nil)
	for range n {
		a, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		nc, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Add(newConn(nc, nil, true, connConfig{}), rec); err != nil {
			b.Fatal(err)
		}
	}
	batch := make([]*pollConn, 0, sweepBatch)
	due := func() {
		p.mu.Lock()
		slots := append([]*pollConn(nil), p.slots...)
		p.mu.Unlock()
		for _, pc := range slots {
			if pc != nil {
				pc.mu.Lock()
				pc.quiet = quietPing - 1
				pc.mu.Unlock()
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		due()
		b.StartTimer()
		p.sweepAll(batch, time.Now().UnixNano(), true)
	}
	b.StopTimer() // not the closing of it all, deferred
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/conn")
}

// A Conn of the client role, given to a Poller, pings with masked frames
// (RFC 6455 §5.1), which the server end accepts and answers.
func TestPollerPingFromAClientIsMasked(t *testing.T) {
	p := newTestPoller(t, &PollerOptions{PingInterval: testPingInterval})
	rec := newRecorder(nil)
	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	if err := p.Add(cli, rec); err != nil {
		t.Fatal(err)
	}
	pings := answerPings(srv)
	done := readLoop(srv)
	if n := waitCount(t, pings.Load, 2); n < 2 {
		t.Fatalf("%d pings, want 2", n)
	}
	select {
	case err := <-rec.closed:
		t.Fatalf("closed: %v", err)
	case err := <-done:
		t.Fatalf("the server end failed reading the client's pings: %v", err)
	default:
	}
}

// A closing handshake begun on this side with a silent peer ends as Close
// ends it, at its close timeout, and not as a lost peer.
func TestPollerPingLeavesClosingHandshakeAlone(t *testing.T) {
	p := newTestPoller(t, &PollerOptions{PingInterval: testPingInterval})
	rec := newRecorder(nil)
	_, c := newRawPeer(t, tcpConns, true, connConfig{closeTimeout: 4 * testPingInterval})
	if err := p.Add(c, rec); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go c.Close(StatusGoingAway, "")
	err := rec.waitClose(t)
	if took := time.Since(start); isPingLoss(err) || !errors.Is(err, ErrClosed) || took < 4*testPingInterval {
		t.Fatalf("HandleClose error after %v = %v, want ErrClosed at the close timeout, %v", took, err, 4*testPingInterval)
	}
}

// With both PingIntervals set, the Poller's rules: Add ends the keep-alive
// goroutine of the Conn's own, and the Conn still gets the sweep's pings.
func TestPollerPingIntervalReplacesConnsOwn(t *testing.T) {
	p := newTestPoller(t, &PollerOptions{PingInterval: testPingInterval})
	own := connConfig{pingInterval: time.Hour}
	cli, srv := connPair(t, tcpConns, connConfig{}, own)
	waitGoroutinesIn(t, "(*Conn).keepAlive", 1, "before Add: the Conn's own")
	// The client answers the sweep's pings, so the connection stays open.
	pings := answerPings(cli)
	cli.SetReadDeadline(time.Now().Add(2 * testTimeout))
	go cli.ReadMessage()
	if err := p.Add(srv, newRecorder(nil)); err != nil {
		t.Fatal(err)
	}
	waitGoroutinesIn(t, "(*Conn).keepAlive", 0, "after Add to a Poller that pings")
	if srv.isClosed() {
		t.Fatal("the connection closed; the keep-alive ended with it, not with Add")
	}
	if waitCount(t, pings.Load, 1) < 1 {
		t.Fatal("no ping from the Poller's keep-alive")
	}
}

// waitGoroutinesIn waits until want goroutines have fn on their stack.
func waitGoroutinesIn(t *testing.T, fn string, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		n := 0
		for _, g := range bytes.Split(buf, []byte("\n\n")) {
			if bytes.Contains(g, []byte(fn)) {
				n++
			}
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines in %s, want %d", when, n, fn, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
