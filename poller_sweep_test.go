//go:build !js

package websocket

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The Poller's keep-alive (PollerOptions.PingInterval, poller_sweep.go).

// testPingInterval is the keep-alive interval of the tests, which an
// answering peer's pong must beat: scaled, as a bound a loaded machine
// must meet (timing_test.go). Verdicts are counts and order: the pings a
// peer got, and what came after them.
var testPingInterval = scaled(200 * time.Millisecond)

// waitCount waits, within testTimeout, until n() is at least want, and
// returns n().
func waitCount(t *testing.T, n func() int32, want int32) int32 {
	t.Helper()
	for deadline := time.Now().Add(testTimeout); n() < want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return n()
}

// answerPings has c answer each ping with its pong, as its default
// handler does, and returns how many it has answered.
func answerPings(c *Conn) *atomic.Int32 {
	pings := new(atomic.Int32)
	c.SetPingHandler(func(b []byte) error {
		pings.Add(1)
		return c.WritePong(b)
	})
	return pings
}

// handshakenPeer returns the raw client end of a connection that completed
// the opening handshake through AcceptConn, whose server Conn p serves with
// h. The client reads nothing past the 101 response unless the test does.
func handshakenPeer(t *testing.T, p *Poller, h MessageHandler) (net.Conn, *bufio.Reader) {
	t.Helper()
	a, b := tcpConns(t)
	added := make(chan error, 1)
	go func() {
		c, err := AcceptConn(b, nil, nil)
		if err == nil {
			err = p.Add(c, h)
		}
		added <- err
	}()
	a.SetDeadline(time.Now().Add(testTimeout))
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := a.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(a)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	a.SetDeadline(time.Time{})
	return a, br
}

// isPingLoss reports whether err is the one HandleClose gets for a peer
// the keep-alive gave up on.
func isPingLoss(err error) bool {
	return errors.Is(err, ErrClosed) && !IsNormalClose(err) && strings.Contains(err.Error(), "no answer to a ping")
}

// A connection served by a goroutine of its own (here over a net.Pipe) is
// kept alive too, by the Conn's own keep-alive: a silent peer is dropped
// with the same error, an answering one stays.
func TestPollerPingServedByAGoroutine(t *testing.T) {
	p := newTestPoller(t, &PollerOptions{PingInterval: testPingInterval})
	silent := newRecorder(nil)
	_, c := newRawPeer(t, pipeConns, true, connConfig{})
	if err := p.Add(c, silent); err != nil {
		t.Fatal(err)
	}
	answering := newRecorder(nil)
	cli, srv := connPair(t, pipeConns, connConfig{}, connConfig{})
	if err := p.Add(srv, answering); err != nil {
		t.Fatal(err)
	}
	pings := answerPings(cli)
	readLoop(cli)
	if err := silent.waitClose(t); !isPingLoss(err) {
		t.Errorf("HandleClose error = %v, want one wrapping ErrClosed that names the ping", err)
	}
	// The answering peer outlives the silent one by three pings more.
	n := pings.Load()
	if got := waitCount(t, pings.Load, n+3); got < n+3 {
		t.Fatalf("the answering peer got %d pings, want %d", got, n+3)
	}
	select {
	case err := <-answering.closed:
		t.Fatalf("answering peer closed: %v", err)
	default:
	}
}

// The cost of a sweep that finds every connection quiet but not yet due a
// ping, the common case: 100,000 connections, and the longest the
// Poller's lock is held for one batch of them.
func BenchmarkPollerSweep(b *testing.B) {
	const n = 100_000
	p := &Poller{ping: time.Minute, slots: make([]*pollConn, n)}
	for i := range p.slots {
		p.slots[i] = &pollConn{p: p, state: pollIdle}
	}
	batch := make([]*pollConn, 0, sweepBatch)
	var hold time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p.sweepAll(batch, 0, true)
		b.StopTimer()
		for _, pc := range p.slots {
			pc.quiet = 0
		}
		start := time.Now()
		p.slotsFrom(batch[:0], 0)
		hold = max(hold, time.Since(start))
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/conn")
	b.ReportMetric(float64(hold.Nanoseconds()), "ns/batch-lock-max")
}
