//go:build !js

package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The threat model in one place: a peer, client or server, that anyone can
// be, sending whatever it likes and reading only if it likes. Whatever it
// does, a Conn must not commit memory for bytes that have not arrived, grow a
// message past the read limit, let its reader be held by a write the peer
// never takes, or stretch its closing handshake past one close timeout.
// Other hostile input is covered where the rule lives: the violation table
// (conn_violation_test.go), linger (close_test.go), decompression bombs
// (conn_compress_test.go) and the fuzz targets (fuzz_test.go).

// liveHeap returns the bytes of live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A frame header claims its payload length before any of it is sent: 14
// bytes may claim 16 MiB. Reading such a message must cost what has arrived
// (plus a bounded step), not what is claimed, in either role and with
// compression too. Each Conn here gets a header claiming 16 MiB, 16 bytes of
// payload, and then nothing.
func TestHostileLengthClaimCommitsNoMemory(t *testing.T) {
	const (
		conns   = 20
		claim   = 16 << 20
		perConn = 64 << 10 // firstGrowth and slack; the claim is 256 times more
	)
	stored := []byte{0x00, 0x10, 0x00, 0xef, 0xff} // DEFLATE: a stored block of 16 bytes follows
	cases := []struct {
		name   string
		server bool // the Conn under test is a server, the raw peer a client
		rsv1   bool
		first  []byte // payload sent after the header
	}{
		{"server", true, false, make([]byte, 16)},
		{"client", false, false, make([]byte, 16)},
		{"server/compressed", true, true, append(stored, make([]byte, 16)...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := connConfig{readLimit: 64 << 20, closeTimeout: 100 * time.Millisecond}
			if tc.rsv1 {
				cfg.deflate = &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel}
			}
			before := liveHeap()
			for range conns {
				p, c := newRawPeer(t, pipeConns, tc.server, cfg)
				h := Header{Fin: true, Rsv1: tc.rsv1, Opcode: OpBinary, Length: claim, Masked: tc.server}
				go c.ReadMessage()
				// net.Pipe: a write returns once the Conn has read it, so
				// after the second write the first has been taken in whole.
				p.write(frameBytes(h, tc.first))
				p.write([]byte{0})
				t.Cleanup(func() { c.CloseNow() })
			}
			grown := int64(liveHeap()) - int64(before)
			t.Logf("%d readers of a %d-byte claim: live heap grew %d bytes, %d per Conn", conns, claim, grown, grown/conns)
			if grown > conns*perConn {
				t.Errorf("live heap grew %d bytes for %d Conns (%d each), want at most %d each", grown, conns, grown/conns, perConn)
			}
		})
	}
}

// A message refused at the read limit must not have grown the buffer past
// the limit first: doubling a buffer of nearly the limit would pin almost
// twice it. The limit here is not a power of two, as doubling steps are.
func TestHostileGrowthStopsAtReadLimit(t *testing.T) {
	const limit = 1<<20 + 1000
	big := bytes.Repeat([]byte("x"), 2*limit)
	var fragmented [][]byte
	for i := 0; i+64<<10 <= len(big); i += 64 << 10 {
		fragmented = append(fragmented, clientFrame(Header{Opcode: OpContinuation}, big[i:i+64<<10]))
	}
	fragmented[0][0] = byte(OpBinary) // the first frame opens the message
	cases := []struct {
		name    string
		deflate bool
		frames  [][]byte
	}{
		{"fragmented", false, fragmented},
		{"compressed", true, [][]byte{clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, compressed(t, big))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := connConfig{readLimit: limit, closeTimeout: 100 * time.Millisecond}
			if tc.deflate {
				cfg.deflate = &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel}
			}
			p, c := newRawPeer(t, tcpConns, true, cfg)
			p.sendAsync(tc.frames...)
			_, b, err := c.AppendMessage(nil)
			if !errors.Is(err, ErrMessageTooBig) {
				t.Fatalf("AppendMessage error = %v, want ErrMessageTooBig", err)
			}
			if cap(b) > limit {
				t.Errorf("buffer grew to %d bytes for a read limit of %d", cap(b), limit)
			}
			reason := p.expectClose(StatusMessageTooBig)
			if !strings.Contains(reason, strconv.Itoa(limit)) {
				t.Errorf("close reason %q does not name the limit %d", reason, limit)
			}
		})
	}
}

// stuckPeer returns a server Conn whose client, the returned net.Conn, has
// a small receive buffer and never reads: the server's writes stall once
// the socket buffers are full.
func stuckPeer(t *testing.T, closeTimeout time.Duration) (net.Conn, *Conn) {
	t.Helper()
	a, b := tcpConns(t)
	a.(*net.TCPConn).SetReadBuffer(4096)
	b.(*net.TCPConn).SetWriteBuffer(4096)
	return a, newConn(b, nil, true, connConfig{closeTimeout: closeTimeout})
}

// RFC 6455 §5.5.2 asks for a pong to every ping. A peer that pings without
// reading fills its receive window with pongs; the pong that no longer goes
// out must not hold the reader for ever: within the close timeout the
// connection fails and the read returns.
func TestHostilePingFloodWithoutReadingIsDropped(t *testing.T) {
	const closeTimeout = 300 * time.Millisecond
	for _, thenClose := range []bool{false, true} {
		t.Run(fmt.Sprintf("thenClose=%v", thenClose), func(t *testing.T) {
			goroutines := runtime.NumGoroutine()
			a, c := stuckPeer(t, closeTimeout)
			ping := fromClient(true, OpPing, strings.Repeat("p", MaxControlPayload))
			var flood sync.WaitGroup
			flood.Add(1)
			go func() {
				defer flood.Done()
				// Bounded: 10 s or 64 MiB of pings, far more than it takes.
				a.SetWriteDeadline(time.Now().Add(testTimeout))
				burst := bytes.Repeat(ping, 512)
				for sent := 0; sent < 64<<20; sent += len(burst) {
					if _, err := a.Write(burst); err != nil {
						return
					}
					if thenClose && sent > 8<<20 {
						a.Write(clientClose(1000, ""))
						return
					}
				}
			}()
			start := time.Now()
			res := make(chan error, 1)
			go func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						res <- err
						return
					}
				}
			}()
			select {
			case err := <-res:
				t.Logf("read ended after %v: %v", time.Since(start).Round(time.Millisecond), err)
				if !errors.Is(err, ErrClosed) && CloseStatus(err) == 0 {
					t.Errorf("read error = %v, want one wrapping ErrClosed or a *CloseError", err)
				}
			case <-time.After(testTimeout):
				t.Fatal("the reader is still held by a peer that pings and does not read")
			}
			a.Close()
			flood.Wait()
			waitGoroutines(t, goroutines)
		})
	}
}

// waitGoroutines waits, a bounded time, for the goroutine count to come
// back to n, and fails if it does not.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, want %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The whole closing handshake fits in one close timeout: a client whose
// server answers its Close late, and then keeps the TCP connection open,
// gives up once the timeout Close started with has passed, not a second
// timeout after the answer.
func TestHostileSlowCloseAnswerFitsOneCloseTimeout(t *testing.T) {
	closeTimeout := scaled(1500 * time.Millisecond)
	p, c := newRawPeer(t, tcpConns, false, connConfig{closeTimeout: closeTimeout})
	done := make(chan error, 1)
	go func() { done <- c.Close(StatusNormalClosure, "") }()
	p.expectClose(StatusNormalClosure)
	time.Sleep(closeTimeout * 3 / 4)
	p.write(fromServer(true, OpClose, string(closeBody(1000, ""))))
	answered := time.Now()
	select {
	case <-done:
	case <-time.After(3 * closeTimeout):
		t.Fatal("Close did not return")
	}
	// Within the close timeout Close began with, a quarter of it after the
	// answer; a new timeout from the answer would take all of it again.
	if d := time.Since(answered); d > closeTimeout*3/4 {
		t.Errorf("Close returned %v after the answer, with a close timeout of %v", d, closeTimeout)
	}
}

// A flate stream that inflates to far more than it weighs: the Conn refuses
// it at the read limit, and names the limit in its Close reason.
func TestHostileBombCloseReasonNamesLimit(t *testing.T) {
	const limit = 4096
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(make([]byte, 1<<20))
	fw.Flush()
	payload := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	p, c := newRawPeer(t, tcpConns, true, connConfig{readLimit: limit, closeTimeout: 100 * time.Millisecond, deflate: &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel}})
	p.sendAsync(clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, payload))
	if _, _, err := c.ReadMessage(); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("ReadMessage error = %v, want ErrMessageTooBig", err)
	}
	if reason := p.expectClose(StatusMessageTooBig); !strings.Contains(reason, "4096") {
		t.Errorf("close reason %q does not name the read limit 4096", reason)
	}
}
