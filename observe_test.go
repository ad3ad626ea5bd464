//go:build !js

package websocket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventLog is an Observer that writes down every event, in order.
type eventLog struct {
	mu     sync.Mutex
	events []string
	closed chan CloseInfo
}

func newEventLog() *eventLog { return &eventLog{closed: make(chan CloseInfo, 16)} }

func (l *eventLog) add(format string, a ...any) {
	l.mu.Lock()
	l.events = append(l.events, fmt.Sprintf(format, a...))
	l.mu.Unlock()
}

func (l *eventLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

func (l *eventLog) observer(m *Metrics) *Observer {
	return &Observer{
		Opened: func(c *Conn, i ConnInfo) {
			l.add("opened server=%v h2=%v sub=%q ext=%q", i.Server, i.HTTP2, i.Subprotocol, i.Extensions)
		},
		Refused: func(i RefusalInfo) { l.add("refused server=%v %d %s", i.Server, i.Status, i.Reason) },
		Read:    func(c *Conn, i MessageInfo) { l.add("read %v %d wire=%d", i.Op, i.Len, i.Wire) },
		Written: func(c *Conn, i MessageInfo) { l.add("written %v %d wire=%d", i.Op, i.Len, i.Wire) },
		Pong: func(c *Conn, rtt time.Duration) {
			l.add("pong %v", rtt > 0)
		},
		Closed: func(c *Conn, i CloseInfo) {
			l.add("closed %d %q byPeer=%v err=%v", i.Code, i.Reason, i.ByPeer, i.Err != nil)
			l.closed <- i
		},
		Dropped: func(c *Conn, i DropInfo) {
			l.add("dropped %s group=%v queued>0=%v", i.Reason, i.Group != nil, i.Queued > 0)
		},
		Metrics: m,
	}
}

func (l *eventLog) waitClosed(t *testing.T) CloseInfo {
	t.Helper()
	select {
	case i := <-l.closed:
		return i
	case <-time.After(testTimeout):
		t.Fatalf("Closed was not called; events: %q", l.list())
		return CloseInfo{}
	}
}

// checkEvents fails t unless got is want, entry for entry, where an entry
// of want ending in "*" matches by prefix.
func checkEvents(t *testing.T, who string, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		if w, prefix := strings.CutSuffix(want[i], "*"); prefix {
			ok = strings.HasPrefix(got[i], w)
		} else {
			ok = got[i] == want[i]
		}
	}
	if !ok {
		t.Errorf("%s events:\n\t%s\nwant:\n\t%s", who, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// A Conn's life as both ends' Observers see it: the handshake, messages
// compressed and not, a ping's round trip and the closing handshake the
// client begins, each event once and in order.
func TestObserverSeesAConnsLife(t *testing.T) {
	var sm, cm Metrics
	srvLog, cliLog := newEventLog(), newEventLog()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		c, err := Accept(w, r, &AcceptOptions{Subprotocols: []string{"chat"}, Observer: srvLog.observer(&sm)})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(op, p)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &DialOptions{Subprotocols: []string{"chat"}, Observer: cliLog.observer(&cm)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(testTimeout))
	small, big := []byte("hello"), bytes.Repeat([]byte("compressible "), 100) // 1,300 bytes: over the threshold
	for _, m := range []struct {
		op Opcode
		p  []byte
	}{{OpText, small}, {OpBinary, big}} {
		c.WriteMessage(m.op, m.p)
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	go func() { // for the pong, and the closing handshake
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	<-done
	if i := srvLog.waitClosed(t); i.Code != StatusNormalClosure || i.Reason != "bye" || !i.ByPeer || i.Err != nil {
		t.Errorf("server's CloseInfo %+v, want the client's 1000 \"bye\", by the peer, no error", i)
	}
	if i := cliLog.waitClosed(t); i.Code != StatusNormalClosure || i.ByPeer || i.Err != nil {
		t.Errorf("client's CloseInfo %+v, want its own 1000, no error", i)
	}
	ext := "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	checkEvents(t, "server", srvLog.list(), []string{
		fmt.Sprintf("opened server=true h2=false sub=\"chat\" ext=%q", ext),
		"read text 5 wire=5", "written text 5 wire=5",
		"read binary 1300 wire=*", "written binary 1300 wire=*",
		"closed 1000 \"bye\" byPeer=true err=false",
	})
	checkEvents(t, "client", cliLog.list(), []string{
		"opened server=false h2=false sub=\"chat\" ext=*",
		"written text 5 wire=5", "read text 5 wire=5",
		"written binary 1300 wire=*", "read binary 1300 wire=*",
		"pong true",
		"closed 1000 \"bye\" byPeer=false err=false",
	})
	s := sm.Snapshot()
	if s.ConnsOpened != 1 || s.ConnsOpen != 0 || s.MessagesIn != 2 || s.MessagesOut != 2 || s.BytesIn != 1305 ||
		s.WireBytesIn >= s.BytesIn || s.Closes[StatusNormalClosure] != 1 {
		t.Errorf("server's metrics %+v", s)
	}
	if cs := cm.Snapshot(); cs.Pongs != 1 || cs.PongRoundTripTotal <= 0 {
		t.Errorf("client's metrics %+v, want a pong", cs)
	}
	// As expvar publishes it.
	var js map[string]any
	if err := json.Unmarshal([]byte(sm.String()), &js); err != nil || js["messages_in"] != 2.0 {
		t.Errorf("Metrics.String() = %s, %v", sm.String(), err)
	}
}

// Refused handshakes, at both ends, with the logger's record of the
// server's.
func TestObserverRefused(t *testing.T) {
	var logs bytes.Buffer
	var sm Metrics
	srvLog, cliLog := newEventLog(), newEventLog()
	obs := srvLog.observer(&sm)
	obs.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Accept(w, r, &AcceptOptions{Observer: obs})
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &DialOptions{
		Header: http.Header{"Origin": {"https://elsewhere.example"}}, Observer: cliLog.observer(nil)})
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 403 {
		t.Fatalf("Dial: %v, want a 403", err)
	}
	checkEvents(t, "server", srvLog.list(), []string{"refused server=true 403 *"})
	checkEvents(t, "client", cliLog.list(), []string{"refused server=false 403 *"})
	if got := sm.Snapshot().HandshakesRefused[403]; got != 1 {
		t.Errorf("metrics count %d refusals with 403, want 1", got)
	}
	if !strings.Contains(logs.String(), "handshake refused") || !strings.Contains(logs.String(), "status=403") {
		t.Errorf("log: %q", logs.String())
	}
}

// A peer's violation: the Close frame this side sent for it, and the error.
func TestObserverFailure(t *testing.T) {
	var logs bytes.Buffer
	l := newEventLog()
	obs := l.observer(nil)
	obs.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	peer, c := newRawPeer(t, tcpConns, true, connConfig{})
	c.opened(obs, time.Now(), false, "")
	go c.ReadMessage()
	peer.write(frameBytes(Header{Fin: true, Opcode: OpText}, []byte("unmasked")))
	peer.expectClose(StatusProtocolError)
	peer.nc.Close() // no linger to wait out
	i := l.waitClosed(t)
	if i.Code != StatusProtocolError || i.ByPeer || !errors.Is(i.Err, ErrProtocol) {
		t.Errorf("CloseInfo %+v, want this side's 1002 and the protocol error", i)
	}
	if !strings.Contains(logs.String(), "connection failed") {
		t.Errorf("log: %q", logs.String())
	}
}

// A Group's drop, reported after the Group's lock is let go, and counted
// by Broadcast and Stats.
func TestObserverGroupDrop(t *testing.T) {
	l := newEventLog()
	g := &Group{QueueSize: 1, WriteTimeout: time.Hour}
	_, c := stuckPeer(t, time.Second)
	c.opened(l.observer(nil), time.Now(), false, "")
	g.Add(c)
	big, _ := NewPreparedMessage(OpBinary, make([]byte, 1<<20))
	dropped := 0
	for i := 0; i < 100 && dropped == 0; i++ {
		dropped = g.Broadcast(big)
	}
	if dropped != 1 {
		t.Fatalf("Broadcast dropped %d, want the one member once its queue was full", dropped)
	}
	l.waitClosed(t)
	checkEvents(t, "member", l.list(), []string{"opened *", "dropped queue_full group=true queued>0=true", "closed 1008 \"send queue full: client too slow\" byPeer=false err=true"})
	if s := g.Stats(); s.Dropped != 1 || s.Members != 0 {
		t.Errorf("Stats %+v, want 1 dropped and no member", s)
	}
}

// An Observer that blocks holds up the connection it observes, no other:
// under a Poller, one worker.
func TestObserverThatBlocksHoldsOnlyItsConn(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	blocked := make(chan struct{}, 1)
	stuck := &Observer{Read: func(*Conn, MessageInfo) {
		blocked <- struct{}{}
		<-release
	}}
	p := newTestPoller(t, &PollerOptions{Workers: 2})
	slow := pollerPair(t, p, echoHandler{}, connConfig{}, connConfig{})
	p.mu.Lock()
	for _, pc := range p.slots {
		if pc != nil {
			pc.c.opened(stuck, time.Now(), false, "")
		}
	}
	p.mu.Unlock()
	slow.WriteMessage(OpText, []byte("hold"))
	<-blocked
	c := pollerPair(t, p, echoHandler{}, connConfig{}, connConfig{})
	c.SetDeadline(time.Now().Add(testTimeout))
	for i := range 100 {
		c.WriteMessage(OpText, []byte("on"))
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatalf("echo %d beside a blocked Observer: %v", i, err)
		}
	}
}

// BenchmarkConnObserved is what an Observer costs a message: the read and
// write paths of BenchmarkConnRead and BenchmarkConnWrite at 16 B and
// 1 KiB, with no Observer, with an empty one, and with Metrics counting.
func BenchmarkConnObserved(b *testing.B) {
	var m Metrics
	for _, obs := range []struct {
		name string
		o    *Observer
	}{{"none", nil}, {"empty", &Observer{}}, {"metrics", &Observer{Metrics: &m}}} {
		for _, n := range []int{16, 1 << 10} {
			b.Run(fmt.Sprintf("read/%s/%dB", obs.name, n), func(b *testing.B) {
				frame := frameBytes(Header{Fin: true, Opcode: OpBinary, Masked: true}, bytes.Repeat([]byte{'x'}, n))
				c := newConn(&replayConn{data: frame}, nil, true, connConfig{})
				c.opened(obs.o, time.Now(), false, "")
				buf := make([]byte, 0, n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if _, buf, err = c.AppendMessage(buf[:0]); err != nil || len(buf) != n {
						b.Fatal(len(buf), err)
					}
				}
			})
			b.Run(fmt.Sprintf("write/%s/%dB", obs.name, n), func(b *testing.B) {
				c := newConn(&replayConn{data: []byte{0}}, nil, true, connConfig{})
				c.opened(obs.o, time.Now(), false, "")
				msg := bytes.Repeat([]byte{'x'}, n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WriteMessage(OpBinary, msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
