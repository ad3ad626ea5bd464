//go:build !js

package websocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// Peers that try to take a Poller down: they trickle frames a byte at a
// time, begin a frame and stall, or send without reading. With a pool of
// 4 workers and 16 such peers, each would hold a worker if anything but a
// handler could, and an honest client would get nothing. The verdict is
// the honest client's echo rate during the attack against that of another
// honest client, of a Poller nobody attacks, measured at the same time in
// the same process: a busy machine slows both alike, the attack may slow
// the first, and a stall fails it (its reads have a deadline).

// pollerUnderAttack serves echoes through a Poller with opts on loopback,
// for AcceptConn'd connections as a server of many clients does, and
// returns its address. Every connection has an Observer that counts and
// logs, as a production server's would: it must not become a way in.
func pollerUnderAttack(t *testing.T, opts *PollerOptions) (*Poller, string) {
	t.Helper()
	p := newTestPoller(t, opts)
	var m Metrics
	accept := &AcceptOptions{Observer: &Observer{
		Metrics: &m,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Read:    func(*Conn, MessageInfo) {},
	}}
	t.Cleanup(func() { t.Logf("the server's metrics: %s", m.String()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var h echoHandler
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c, err := AcceptConn(nc, nil, accept)
				if err != nil {
					nc.Close()
					return
				}
				if err := p.Add(c, h); err != nil {
					c.CloseNow()
				}
			}()
		}
	}()
	return p, ln.Addr().String()
}

// echoHandler writes every message back, and keeps nothing.
type echoHandler struct{}

func (echoHandler) HandleMessage(c *Conn, op Opcode, p []byte) { c.WriteMessage(op, p) }
func (echoHandler) HandleClose(*Conn, error)                   {}

// rawClient connects to addr and completes the opening handshake by hand.
func rawClient(addr string) (net.Conn, *bufio.Reader, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	nc.SetDeadline(time.Now().Add(testTimeout))
	if _, err := nc.Write([]byte(reqSpec{}.build(addr))); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(nc)
	if _, err := readResponse(br); err != nil {
		nc.Close()
		return nil, nil, err
	}
	nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// echoes has c send messages of 1 KiB, each echoed before the next, for
// at least n messages and at least window, and returns the rate.
func echoes(t *testing.T, c *Conn, n int, window time.Duration) float64 {
	t.Helper()
	rate, err := echoRate(c, n, window)
	if err != nil {
		t.Fatal(err)
	}
	return rate
}

func echoRate(c *Conn, n int, window time.Duration) (float64, error) {
	msg := make([]byte, 1024)
	start := time.Now()
	i := 0
	for ; i < n || time.Since(start) < window; i++ {
		msg[0] = byte(i)
		c.SetDeadline(time.Now().Add(testTimeout))
		if err := c.WriteMessage(OpBinary, msg); err != nil {
			return 0, fmt.Errorf("echo %d: %v", i, err)
		}
		if _, got, err := c.ReadMessage(); err != nil || len(got) != len(msg) || got[0] != byte(i) {
			return 0, fmt.Errorf("echo %d: %d bytes, %v: the honest client is stalled", i, len(got), err)
		}
	}
	return float64(i) / time.Since(start).Seconds(), nil
}

// echoesBeside measures the echo rates of attacked and control at the same
// time, each as echoes does: control is an honest client of a Poller of its
// own that nobody attacks, so that a busy machine slows both alike and
// only a Poller the attack stalls tells them apart.
func echoesBeside(t *testing.T, attacked, control *Conn, n int, window time.Duration) (during, beside float64) {
	t.Helper()
	var err1, err2 error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		beside, err2 = echoRate(control, n, window)
	}()
	during, err1 = echoRate(attacked, n, window)
	wg.Wait()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	return during, beside
}

// honestPair starts a Poller with opts for the attack, and another with
// the same options that nobody attacks, and dials an honest client to
// each: the attacked address, its client and the control client.
func honestPair(t *testing.T, opts *PollerOptions) (addr string, attacked, control *Conn) {
	t.Helper()
	_, addr = pollerUnderAttack(t, opts)
	_, quiet := pollerUnderAttack(t, opts)
	var err error
	if attacked, err = Dial(context.Background(), "ws://"+addr+"/", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { attacked.CloseNow() })
	if control, err = Dial(context.Background(), "ws://"+quiet+"/", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { control.CloseNow() })
	return addr, attacked, control
}

// attack runs attackers, n goroutines each calling attacker until stop is
// closed, and returns a func that stops them and waits for them.
func attack(n int, attacker func(stop <-chan struct{})) func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			attacker(stop)
		}()
	}
	return func() {
		close(stop)
		wg.Wait()
	}
}

// trickle sends frame one byte at a time, every gap, over and over, on
// one connection, until stop, reconnecting when the server drops it.
func trickle(addr string, frame []byte, gap time.Duration, stop <-chan struct{}) {
	for {
		nc, _, err := rawClient(addr)
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(gap):
				continue
			}
		}
		go func() { // what the server sends back (pongs) is read and dropped
			buf := make([]byte, 512)
			for {
				if _, err := nc.Read(buf); err != nil {
					return
				}
			}
		}()
		for i := 0; ; i = (i + 1) % len(frame) {
			if _, err := nc.Write(frame[i : i+1]); err != nil {
				break // dropped: come back
			}
			select {
			case <-stop:
				nc.Close()
				return
			case <-time.After(gap):
			}
		}
		nc.Close()
	}
}

// The honest client's rate must keep at least this share of the rate of
// the client beside it. It is low: what the test tells apart is an honest
// client served from one that gets nothing.
const minAttackedShare = 0.2

func TestPollerHostileTricklersHoldNoWorker(t *testing.T) {
	const (
		workers   = 4
		attackers = 4 * workers
		honest    = 200
		window    = 500 * time.Millisecond
	)
	tests := []struct {
		kind    string
		frame   []byte
		gap     time.Duration // between the bytes of frame
		timeout time.Duration // MessageTimeout
	}{
		// A 7-byte masked frame with a 1-byte payload, a byte every
		// 100 ms: each frame comes whole, within MessageTimeout, and
		// the next begins.
		{"data", fromClient(true, OpBinary, "x"), 100 * time.Millisecond, 0},
		{"ping", fromClient(true, OpPing, "x"), 100 * time.Millisecond, 0},
		// One byte of a header and no more: dropped at MessageTimeout,
		// several times while the honest client is measured, and back.
		{"header", fromClient(true, OpBinary, "x")[:1], time.Hour, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			addr, c, ctl := honestPair(t, &PollerOptions{Workers: workers, MessageTimeout: tt.timeout})
			stop := attack(attackers, func(stop <-chan struct{}) { trickle(addr, tt.frame, tt.gap, stop) })
			defer stop()
			time.Sleep(100 * time.Millisecond) // every attacker connected and trickling
			during, beside := echoesBeside(t, c, ctl, honest, window)
			t.Logf("%d attackers, %d workers: %.0f echoes/s during the attack, %.0f beside it on a Poller not attacked (%.2fx)", attackers, workers, during, beside, during/beside)
			if during < minAttackedShare*beside {
				t.Errorf("%.0f echoes/s during the attack, %.0f beside it: below %.1fx", during, beside, minAttackedShare)
			}
		})
	}
}

// Clients that send as fast as they can and never read, each message
// echoed: their output is queued, and while it waits they are not read, so
// they hold neither a worker nor more memory than a message each; the
// honest client goes on.
func TestPollerHostileNonReadersHoldNoWorker(t *testing.T) {
	const (
		workers   = 4
		attackers = 4 * workers
		honest    = 400
		msgSize   = 64 << 10
		queue     = 256 << 10
	)
	addr, c, ctl := honestPair(t, &PollerOptions{Workers: workers, WriteQueueLimit: queue})
	echoes(t, c, honest, 0) // warm up
	heapBefore := liveHeap()
	frame := clientFrame(Header{Fin: true, Opcode: OpBinary}, make([]byte, msgSize))
	var sent sync.Map
	stop := attack(attackers, func(stop <-chan struct{}) {
		nc, _, err := rawClient(addr)
		if err != nil {
			return
		}
		defer nc.Close()
		nc.(*net.TCPConn).SetReadBuffer(4096) // and never read
		go func() { <-stop; nc.Close() }()
		n := 0
		for ; n < (8<<20)/msgSize; n++ {
			if _, err := nc.Write(frame); err != nil {
				break
			}
		}
		sent.Store(nc, n)
		<-stop
	})
	defer stop()
	time.Sleep(200 * time.Millisecond) // the attackers' buffers fill
	during, beside := echoesBeside(t, c, ctl, honest, 0)
	grown := int64(liveHeap()) - int64(heapBefore)
	t.Logf("%d non-readers, %d workers: %.0f echoes/s during the attack, %.0f beside it on a Poller not attacked (%.2fx); live heap grew %d bytes, %d per attacker",
		attackers, workers, during, beside, during/beside, grown, grown/attackers)
	if during < minAttackedShare*beside {
		t.Errorf("%.0f echoes/s during the attack, %.0f beside it: below %.1fx", during, beside, minAttackedShare)
	}
	// What a non-reader may cost: its queue, a message arriving and one
	// echoed, and a read buffer.
	if per, bound := grown/attackers, int64(queue+3*msgSize+DefaultBufferSize); per > bound {
		t.Errorf("live heap grew %d bytes per non-reader, want at most %d", per, bound)
	}
}
