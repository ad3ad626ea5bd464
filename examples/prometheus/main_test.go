package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// patience bounds every wait of these tests: far more than any of them
// takes, so that a verdict is never a matter of timing.
const patience = 20 * time.Second

// testServer is the example's server on a port of the loopback interface.
type testServer struct {
	s        *server
	base, ws string // http://127.0.0.1:port, ws://127.0.0.1:port/ws
}

func startServer(t *testing.T, cfg config) *testServer {
	t.Helper()
	s, err := newServer(prometheus.NewRegistry(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: patience}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		s.shutdown(ctx)
		hs.Shutdown(ctx)
	})
	base := "http://" + ln.Addr().String()
	return &testServer{s: s, base: base, ws: "ws" + strings.TrimPrefix(base, "http") + "/ws"}
}

// metrics is a scrape of /metrics, parsed.
type metrics map[string]*dto.MetricFamily

func (ts *testServer) scrape(t *testing.T) metrics {
	t.Helper()
	resp, err := http.Get(ts.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// value returns the value of the series of family name whose labels are
// exactly labels, given as name, value, name, value...: a counter's or a
// gauge's value, a histogram's count. ok is false if there is no such
// series.
func (m metrics) value(name string, labels ...string) (v float64, ok bool) {
	f := m[name]
	if f == nil {
		return 0, false
	}
	want := make(map[string]string)
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, s := range f.Metric {
		if len(s.Label) != len(want) {
			continue
		}
		match := true
		for _, l := range s.Label {
			match = match && want[l.GetName()] == l.GetValue()
		}
		switch {
		case !match:
		case s.Counter != nil:
			return s.Counter.GetValue(), true
		case s.Gauge != nil:
			return s.Gauge.GetValue(), true
		case s.Histogram != nil:
			return float64(s.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// get is value for a series that must exist.
func (m metrics) get(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := m.value(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in the scrape:\n%s", name, labels, m.dump(name))
	}
	return v
}

// dump returns the series of the families named, as text, for a failure's
// message.
func (m metrics) dump(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		if f := m[n]; f != nil {
			expfmt.MetricFamilyToText(&b, f)
		}
	}
	return b.String()
}

// waitFor scrapes until cond holds, within patience.
func (ts *testServer) waitFor(t *testing.T, what string, cond func(metrics) bool) metrics {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		m := ts.scrape(t)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			names := make([]string, 0, len(m))
			for n := range m {
				if strings.HasPrefix(n, "websocket_") {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			t.Fatalf("waited %v for %s; the last scrape:\n%s", patience, what, m.dump(names...))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client is a WebSocket client that reads all the time, as one must for
// pings and the closing handshake to be answered.
type client struct {
	c    *websocket.Conn
	msgs chan message
	end  chan error // the error that ended reading
}

type message struct {
	op websocket.Opcode
	p  []byte
}

func dial(t *testing.T, ts *testServer, opts *websocket.DialOptions) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := websocket.Dial(ctx, ts.ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	cl := &client{c: c, msgs: make(chan message, 16), end: make(chan error, 1)}
	go func() {
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				cl.end <- err
				return
			}
			cl.msgs <- message{op, p}
		}
	}()
	return cl
}

func (cl *client) expect(t *testing.T, op websocket.Opcode, p []byte) {
	t.Helper()
	select {
	case m := <-cl.msgs:
		if m.op != op || !bytes.Equal(m.p, p) {
			t.Fatalf("got %v of %d B, want %v of %d B", m.op, len(m.p), op, len(p))
		}
	case err := <-cl.end:
		t.Fatalf("reading ended (%v) before a %v message of %d B", err, op, len(p))
	case <-time.After(patience):
		t.Fatalf("no %v message of %d B within %v", op, len(p), patience)
	}
}

// closed returns the error that ended reading.
func (cl *client) closed(t *testing.T) error {
	t.Helper()
	select {
	case err := <-cl.end:
		return err
	case <-time.After(patience):
		t.Fatalf("reading did not end within %v", patience)
		return nil
	}
}

// pattern returns n bytes of valid UTF-8, not all alike.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i*7%26)
	}
	return b
}

// TestMetricsCountRealTraffic drives the server with real clients, the
// room's and the Poller's, and checks what /metrics then says, count for
// count: connections opened, handshakes refused by status, messages and
// bytes each way by type, compression on the wire, the close codes of
// both sides, the handshake histogram, and the ping round trips.
func TestMetricsCountRealTraffic(t *testing.T) {
	// Each message goes to both clients in the room, to its sender alone
	// through the Poller. In the room the server pings every 2 seconds;
	// a Poller's keep-alive measures no round trip, so none is set.
	t.Run("room", func(t *testing.T) { testTraffic(t, config{ping: 2 * time.Second}, 2) })
	t.Run("poller", func(t *testing.T) { testTraffic(t, config{poller: true}, 1) })
}

func testTraffic(t *testing.T, cfg config, fanout int) {
	ts := startServer(t, cfg)
	members := "websocket_group_members"
	if cfg.poller {
		members = "websocket_poller_connections"
	}

	// Two handshakes refused: a page of another origin, and a GET that
	// is no handshake at all.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	_, err := websocket.Dial(ctx, ts.ws, &websocket.DialOptions{Header: http.Header{"Origin": {"https://elsewhere.example"}}})
	var he *websocket.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden {
		t.Fatalf("Dial from another origin: %v, want a 403", err)
	}
	resp, err := http.Get(ts.base + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("GET /ws: %s, want 400", resp.Status)
	}

	// a offers compression (the default), b does not.
	a := dial(t, ts, nil)
	b := dial(t, ts, &websocket.DialOptions{Compression: websocket.CompressionOptions{Disabled: true}})
	ts.waitFor(t, "both clients to be served", func(m metrics) bool { v, _ := m.value(members); return v == 2 })
	send := func(from *client, op websocket.Opcode, p []byte) {
		t.Helper()
		if err := from.c.WriteMessage(op, p); err != nil {
			t.Fatal(err)
		}
		to := []*client{from}
		if fanout == 2 {
			to = []*client{a, b}
		}
		for _, cl := range to {
			cl.expect(t, op, p)
		}
	}
	hello, bin := []byte("hello"), pattern(2000)
	big := bytes.Repeat([]byte("compressible "), 400) // over the compression threshold
	send(a, websocket.OpText, hello)
	send(b, websocket.OpBinary, bin)
	send(a, websocket.OpText, big)

	if !cfg.poller {
		ts.waitFor(t, "a ping's round trip", func(m metrics) bool { v, _ := m.value("websocket_ping_rtt_seconds"); return v >= 1 })
	}

	// The closes: a's 1000, the server's 1007 for b's invalid UTF-8, c's
	// 4001, d's connection cut with no Close frame (1006), and the
	// server's 1001 to e as it shuts down.
	if err := a.c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("a's Close: %v", err)
	}
	w, err := b.c.NextWriter(websocket.OpText) // the library checks what it reads, not what it sends
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{0xff, 0xfe})
	w.Close()
	if err := b.closed(t); websocket.CloseStatus(err) != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("b after invalid UTF-8: %v, want the server's 1007", err)
	}
	c := dial(t, ts, nil)
	if err := c.c.Close(4001, "done here"); err != nil {
		t.Fatalf("c's Close: %v", err)
	}
	d := dial(t, ts, nil)
	d.c.CloseNow()
	e := dial(t, ts, nil)
	ts.waitFor(t, "e alone open", func(m metrics) bool {
		open, _ := m.value("websocket_connections_open")
		n, _ := m.value(members)
		return open == 1 && n == 1
	})
	sctx, scancel := context.WithTimeout(context.Background(), patience)
	defer scancel()
	if err := ts.s.shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := e.closed(t); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("e at shutdown: %v, want 1001", err)
	}
	m := ts.waitFor(t, "every connection closed", func(m metrics) bool {
		open, _ := m.value("websocket_connections_open")
		closes := 0.0
		for _, s := range m["websocket_closes_total"].GetMetric() {
			closes += s.Counter.GetValue()
		}
		return open == 0 && closes == 5
	})

	textIn, binIn := float64(len(hello)+len(big)), float64(len(bin))
	f := float64(fanout)
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"websocket_connections_total", []string{"role", "server", "protocol", "h1"}, 5},
		{"websocket_connections_total", []string{"role", "server", "protocol", "h2"}, 0},
		{"websocket_connections_total", []string{"role", "client", "protocol", "h1"}, 0},
		{"websocket_connections_open", nil, 0},
		{"websocket_handshake_seconds", []string{"role", "server"}, 5},
		{"websocket_handshakes_refused_total", []string{"role", "server", "status", "403"}, 1},
		{"websocket_handshakes_refused_total", []string{"role", "server", "status", "400"}, 1},
		{"websocket_messages_total", []string{"direction", "in", "type", "text"}, 2},
		{"websocket_messages_total", []string{"direction", "in", "type", "binary"}, 1},
		{"websocket_messages_total", []string{"direction", "out", "type", "text"}, 2 * f},
		{"websocket_messages_total", []string{"direction", "out", "type", "binary"}, f},
		{"websocket_message_bytes_total", []string{"direction", "in", "type", "text"}, textIn},
		{"websocket_message_bytes_total", []string{"direction", "in", "type", "binary"}, binIn},
		{"websocket_message_bytes_total", []string{"direction", "out", "type", "text"}, f * textIn},
		{"websocket_message_bytes_total", []string{"direction", "out", "type", "binary"}, f * binIn},
		{"websocket_closes_total", []string{"code", "1000", "by_peer", "true"}, 1},
		{"websocket_closes_total", []string{"code", "1007", "by_peer", "false"}, 1},
		{"websocket_closes_total", []string{"code", "4xxx", "by_peer", "true"}, 1},
		{"websocket_closes_total", []string{"code", "1006", "by_peer", "false"}, 1},
		{"websocket_closes_total", []string{"code", "1001", "by_peer", "false"}, 1},
		{"websocket_drops_total", []string{"reason", "queue_full"}, 0},
		{members, nil, 0},
	} {
		if got := m.get(t, w.name, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
	// On the wire: b's binary message as it is, a's big one compressed
	// both ways (a Group compresses a broadcast once per kind of member).
	wireIn, wireOut := m.get(t, "websocket_wire_bytes_total", "direction", "in"), m.get(t, "websocket_wire_bytes_total", "direction", "out")
	if wireIn < binIn+float64(len(hello)) || wireIn >= textIn+binIn {
		t.Errorf("wire bytes in %v, want at least b's %v and hello's, and less than the %v of payload: a's big message compressed", wireIn, binIn, textIn+binIn)
	}
	if wireOut >= f*(textIn+binIn) {
		t.Errorf("wire bytes out %v, want less than the %v of payload", wireOut, f*(textIn+binIn))
	}
	pings := m.get(t, "websocket_ping_rtt_seconds")
	if !cfg.poller && pings < 1 {
		t.Errorf("%v ping round trips, want at least one", pings)
	}
	if cfg.poller && pings != 0 {
		t.Errorf("%v ping round trips through a Poller, which measures none", pings)
	}
	t.Logf("%v ping round trips; wire bytes in %v of %v, out %v of %v", pings, wireIn, textIn+binIn, wireOut, f*(textIn+binIn))
}

// TestMetricsCountADrop fills the room's queue for a client that does not
// read: the Group drops it with 1008, and both the Observer's counter and
// the Group's Stats count the drop.
func TestMetricsCountADrop(t *testing.T) {
	ts := startServer(t, config{queue: 4})
	// No compression: it would only slow the test (the payload is random).
	plain := &websocket.DialOptions{Compression: websocket.CompressionOptions{Disabled: true}}
	fast := dial(t, ts, plain)
	ts.waitFor(t, "the reader in the room", func(m metrics) bool { v, _ := m.value("websocket_group_members"); return v == 1 })
	// The client that never reads joins last. Broadcast drops a member
	// from inside its loop over the members, which removing it reorders:
	// a member dropped ahead of another panics there, with the Group's
	// lock held (a bug of the library's, reported), so the room's last
	// member is the one this test drops.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	slow, err := websocket.Dial(ctx, ts.ws, plain)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	ts.waitFor(t, "both clients in the room", func(m metrics) bool { v, _ := m.value("websocket_group_members"); return v == 2 })

	// Incompressible, so that the socket buffers fill: a few MiB on
	// loopback, then the queue's 4 messages.
	msg := make([]byte, 256<<10)
	rand.NewChaCha8([32]byte{}).Read(msg)
	dropped := func() bool { v, _ := ts.scrape(t).value("websocket_group_drops_total"); return v == 1 }
	sent := 0
	for deadline := time.Now().Add(patience); !dropped(); sent++ {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages of %d KiB broadcast in %v, and the client that does not read is still in the room", sent, len(msg)>>10, patience)
		}
		if err := fast.c.WriteMessage(websocket.OpBinary, msg); err != nil {
			t.Fatal(err)
		}
		fast.expect(t, websocket.OpBinary, msg)
	}
	t.Logf("dropped after %d messages of %d KiB", sent, len(msg)>>10)
	// The drop's Close frame cannot reach a client that does not read:
	// the close ends at the close timeout (5s).
	m := ts.waitFor(t, "the dropped client closed", func(m metrics) bool {
		v, _ := m.value("websocket_closes_total", "code", "1008", "by_peer", "false")
		return v == 1
	})
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"websocket_drops_total", []string{"reason", "queue_full"}, 1},
		{"websocket_group_drops_total", nil, 1},
		{"websocket_group_members", nil, 1},
		{"websocket_connections_open", nil, 1},
	} {
		if got := m.get(t, w.name, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
}

// The close codes' labels are a bounded set, whatever a peer sends.
func TestCloseCodeLabelIsBounded(t *testing.T) {
	seen := make(map[string]bool)
	for code := range 1 << 16 {
		seen[closeCodeLabel(websocket.StatusCode(code))] = true
	}
	if len(seen) != 19 {
		t.Errorf("%d labels for the 65536 codes, want 19: %v", len(seen), seen)
	}
	for code, want := range map[websocket.StatusCode]string{1000: "1000", 1006: "1006", 1015: "1015", 1016: "other", 2999: "other", 3000: "3xxx", 4001: "4xxx", 4999: "4xxx", 5000: "other"} {
		if got := closeCodeLabel(code); got != want {
			t.Errorf("closeCodeLabel(%d) = %q, want %q", code, got, want)
		}
	}
	for status, want := range map[int]string{99: "other", 100: "100", 403: "403", 599: "599", 600: "other", 999: "other"} {
		if got := statusLabel(status); got != want {
			t.Errorf("statusLabel(%d) = %q, want %q", status, got, want)
		}
	}
}
