package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// testTimeout bounds every wait: a failure, not a slow pass, when it passes.
var testTimeout = testtime.Scaled(10 * time.Second)

// dialRaw connects to addr and completes the opening handshake by hand, so
// that a client costs the test process a socket and nothing else.
func dialRaw(t testing.TB, addr string, oneByte bool) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(testTimeout))
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	// Read the response only, byte by byte if a tick may follow it at
	// once.
	var resp []byte
	b := make([]byte, 256)
	if oneByte {
		b = b[:1]
	}
	for !strings.HasSuffix(string(resp), "\r\n\r\n") {
		n, err := nc.Read(b)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		resp = append(resp, b[:n]...)
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 101 ") {
		t.Fatalf("handshake: %q", resp)
	}
	nc.SetDeadline(time.Time{})
	return nc
}

// readText reads one unfragmented text frame from the server.
func readText(t testing.TB, br *bufio.Reader) string {
	t.Helper()
	var h [2]byte
	if _, err := br.Read(h[:1]); err != nil {
		t.Fatal(err)
	}
	b1, err := br.ReadByte()
	if err != nil {
		t.Fatal(err)
	}
	h[1] = b1
	if h[0] != 0x81 || h[1] > 125 {
		t.Fatalf("frame header % x, want a short text frame", h)
	}
	p := make([]byte, h[1])
	for i := range p {
		if p[i], err = br.ReadByte(); err != nil {
			t.Fatal(err)
		}
	}
	return string(p)
}

// sendText sends a masked text frame.
func sendText(t testing.TB, nc net.Conn, s string) {
	t.Helper()
	key := [4]byte{1, 2, 3, 4}
	f := append([]byte{0x81, 0x80 | byte(len(s))}, key[:]...)
	for i := range len(s) {
		f = append(f, s[i]^key[i%4])
	}
	if _, err := nc.Write(f); err != nil {
		t.Fatal(err)
	}
}

func startServer(t testing.TB, every time.Duration) (*server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(every, 0)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { ln.Close(); s.Close() })
	return s, ln.Addr().String()
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

func TestTickerTicksAndPauses(t *testing.T) {
	s, addr := startServer(t, 20*time.Millisecond)
	nc := dialRaw(t, addr, true)
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(testTimeout))
	br := bufio.NewReader(nc)
	for range 3 {
		if _, err := time.Parse(time.RFC3339Nano, readText(t, br)); err != nil {
			t.Fatalf("tick is not a time: %v", err)
		}
	}
	sendText(t, nc, "pause")
	for deadline := time.Now().Add(testTimeout); !s.allPaused(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server has not taken the pause")
		}
	}
	// A tick already on its way may still come, until a pause in them
	// longer than a loaded machine leaves between two writes; then none
	// for a while.
	for range 100 {
		nc.SetReadDeadline(time.Now().Add(testtime.Scaled(200 * time.Millisecond)))
		if _, err := br.ReadByte(); err != nil {
			break
		}
	}
	nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if b, err := br.ReadByte(); err == nil {
		t.Fatalf("got %#x after pause", b)
	}
}

// allPaused reports whether every client has paused its ticks.
func (s *server) allPaused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, paused := range s.clients {
		if !paused {
			return false
		}
	}
	return true
}

// Thousands of idle clients cost the server no goroutine each and under a
// kilobyte of memory: here both ends live in the test process, and the
// growth of the heap and stacks is divided by the clients.
func TestTickerIdleClientsAreCheap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Poller holds no goroutine per connection on Linux only")
	}
	n := 3000 // under a second; fewer would leave the pools' and maps' steps a large share
	n = connsWithinFDLimit(n+100) - 100
	if n < 200 {
		t.Skip("a descriptor limit too low for 200 clients")
	}
	mem := func() (uint64, int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc + ms.StackInuse, runtime.NumGoroutine()
	}
	s, addr := startServer(t, time.Hour) // no tick during the count
	// The first clients pay for what the server sets up once (the poller,
	// pools, maps growing); the count starts after them.
	const warm = 100
	clients := make([]net.Conn, 0, warm+n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	deadline := time.Now().Add(testTimeout)
	dial := func(k int) {
		for range k {
			clients = append(clients, dialRaw(t, addr, false))
		}
		for s.count() < len(clients) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := s.count(); got != len(clients) {
			t.Fatalf("%d clients registered, want %d", got, len(clients))
		}
	}
	dial(warm)
	for runtime.NumGoroutine() > 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	before, g0 := mem()
	dial(n)
	// The handshake goroutines end; on a loaded machine that takes a while,
	// and their stacks are not the idle clients' cost.
	for runtime.NumGoroutine() > g0+100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	after, g1 := mem()
	per := (float64(after) - float64(before)) / float64(n)
	t.Logf("%d idle clients: %.0f bytes of heap and stack each (both ends), %d goroutines more", n, per, g1-g0)
	// A goroutine per connection alone would be 2 KiB of stack, a read
	// buffer 4 KiB, and a net.Conn kept by the Poller about 500 bytes
	// more (its netFD and addresses, and the runtime's poller record).
	if per > 1536 {
		t.Errorf("%.0f bytes per idle client (both ends), want at most 1536", per)
	}
	if g1-g0 > 100 {
		t.Errorf("%d goroutines more for %d idle clients", g1-g0, n)
	}
	// And they are live: one closing is seen by the server.
	clients[0].Close()
	total := len(clients)
	for s.count() == total && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.count() != total-1 {
		t.Fatalf("%d clients after one left, want %d", s.count(), total-1)
	}
}

// With keep-alive on, a client that sends nothing and answers no ping is
// pinged once and then dropped, and one that answers stays. The answer must
// beat the interval, which leaves room for a loaded machine; the silent
// client's one ping and then the end, not a time, show it was dropped at
// the first ping unanswered.
func TestTickerDropsSilentClients(t *testing.T) {
	ping := testtime.Scaled(500 * time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(time.Hour, ping)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { ln.Close(); s.Close() })
	addr := ln.Addr().String()

	silent := dialRaw(t, addr, false)
	defer silent.Close()
	// The answering client reads in a goroutine, and so answers pings.
	c, err := websocket.Dial(t.Context(), "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	pings := make(chan struct{}, 64)
	c.SetPingHandler(func(p []byte) error {
		pings <- struct{}{}
		return c.WritePong(p)
	})
	go c.ReadMessage()

	// The silent client is sent a ping (2 bytes), then its connection ends.
	start := time.Now()
	silent.SetReadDeadline(start.Add(testTimeout))
	got, _ := io.ReadAll(silent)
	if !bytes.Equal(got, []byte{0x89, 0}) {
		t.Fatalf("silent client got %q before the end, want one empty ping", got)
	}
	for len(pings) == 0 && time.Since(start) < testTimeout {
		time.Sleep(ping / 4)
	}
	if len(pings) == 0 {
		t.Fatal("the answering client was never pinged")
	}
	if err := c.WriteMessage(websocket.OpText, []byte("pause")); err != nil {
		t.Fatalf("the answering client was dropped: %v", err)
	}
	for s.count() != 1 && time.Since(start) < testTimeout {
		time.Sleep(ping / 4)
	}
	if n := s.count(); n != 1 {
		t.Fatalf("%d clients registered, want the answering one", n)
	}
}
