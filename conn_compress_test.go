//go:build !js

package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket/internal/deflate"
	"github.com/fullduplex/websocket/internal/deflate/deflatetest"
)

// Tests of permessage-deflate (RFC 7692) through a Conn; the negotiation is
// tested in compress_test.go, and the codec alone in internal/deflate.

// wireTap records the headers of the frames written to a net.Conn.
type wireTap struct {
	net.Conn
	mu      sync.Mutex
	buf     []byte
	headers []Header
	keep    bool     // keep the payloads of unmasked messages too
	msgs    [][]byte // payloads of whole messages, frames joined
	cur     []byte
}

func (w *wireTap) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	for {
		h, n, err := ParseHeader(w.buf)
		if err != nil || int64(len(w.buf)) < int64(n)+h.Length {
			break
		}
		w.headers = append(w.headers, h)
		if w.keep && !h.Opcode.IsControl() {
			w.cur = append(w.cur, w.buf[n:n+int(h.Length)]...)
			if h.Fin {
				w.msgs, w.cur = append(w.msgs, w.cur), nil
			}
		}
		w.buf = w.buf[n+int(h.Length):]
	}
	w.mu.Unlock()
	return w.Conn.Write(p)
}

// messages returns the payloads of the messages written, if keep was set.
func (w *wireTap) messages() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.msgs
}

func (w *wireTap) frames() []Header {
	w.mu.Lock()
	defer w.mu.Unlock()
	hs := w.headers
	w.headers = nil
	return hs
}

// deflatePair returns a server and a client Conn joined by net.Pipe with the
// given permessage-deflate parameters (nil for none), the server's writes
// recorded by the returned tap.
func deflatePair(t testing.TB, srv, cli *deflateParams) (s, c *Conn, tap *wireTap) {
	t.Helper()
	a, b := pipeConns(t)
	deadline := time.Now().Add(testTimeout)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	tap = &wireTap{Conn: a}
	s = newConn(tap, nil, true, connConfig{deflate: srv})
	c = newConn(b, nil, false, connConfig{deflate: cli})
	return s, c, tap
}

// exchangeMessages sends msgs from w to r, alternating WriteMessage and a NextWriter
// fed in pieces, and checks what r reads.
func exchangeMessages(t *testing.T, w, r *Conn, msgs [][]byte) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		for i, m := range msgs {
			if i%2 == 0 {
				if err := w.WriteMessage(OpText, m); err != nil {
					errc <- err
					return
				}
				continue
			}
			nw, err := w.NextWriter(OpText)
			if err != nil {
				errc <- err
				return
			}
			for rest := m; len(rest) > 0; {
				k := min(len(rest), 1+len(rest)/3)
				nw.Write(rest[:k])
				rest = rest[k:]
			}
			if err := nw.Close(); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	var buf []byte
	for i, m := range msgs {
		op, got, err := r.AppendMessage(buf[:0])
		if err != nil || op != OpText || !bytes.Equal(got, m) {
			t.Fatalf("message %d of %d bytes: op %v, %d bytes, err %v", i, len(m), op, len(got), err)
		}
		buf = got
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
}

// TestCompressedRoundTripEveryParameterCombination runs messages both ways
// over every combination of context takeover and window limits a response
// can express (RFC 7692 §7.1), the server side negotiated by negotiateDeflate
// from an offer, the client side by clientDeflateResponse from the response.
func TestCompressedRoundTripEveryParameterCombination(t *testing.T) {
	msgs := [][]byte{[]byte("short"), jsonish(300, 1), jsonish(600, 2), jsonish(600, 2), {}, jsonish(5000, 3), jsonish(40000, 4), jsonish(5000, 3), []byte("€uro text ✓")}
	for _, takeover := range []bool{false, true} {
		opts := CompressionOptions{ContextTakeover: takeover, Threshold: -1}
		for _, sNoCtx := range []bool{false, true} {
			for _, cNoCtx := range []bool{false, true} {
				for _, sBits := range []string{"", "9", "15"} {
					for _, cBits := range []bool{false, true} {
						offer := extensionName
						if sNoCtx {
							offer += "; server_no_context_takeover"
						}
						if cNoCtx {
							offer += "; client_no_context_takeover"
						}
						if sBits != "" {
							offer += "; server_max_window_bits=" + sBits
						}
						if cBits { // as browsers offer; our server leaves it
							offer += "; client_max_window_bits"
						}
						name := fmt.Sprintf("takeover=%v/snoctx=%v/cnoctx=%v/sbits=%s/cbits=%v", takeover, sNoCtx, cNoCtx, sBits, cBits)
						t.Run(name, func(t *testing.T) {
							resp, sp := negotiateDeflate([]string{offer}, &opts)
							if sp == nil {
								t.Fatalf("offer %q declined", offer)
							}
							cp, err := clientDeflateResponse([]string{resp}, &CompressionOptions{ContextTakeover: true, Threshold: -1})
							if err != nil {
								t.Fatalf("response %q refused: %v", resp, err)
							}
							s, c, _ := deflatePair(t, sp, cp)
							exchangeMessages(t, s, c, msgs)
							exchangeMessages(t, c, s, msgs)
						})
					}
				}
			}
		}
	}
}

// RSV1 marks the first frame of a compressed message only (RFC 7692 §6.1);
// messages under the threshold, opted out, or over a window the peer limited
// us to go out uncompressed, and context takeover shrinks a repeated message.
func TestCompressedFramesOnTheWire(t *testing.T) {
	p := &deflateParams{writeWindowBits: maxWindowBits, level: flate.BestSpeed, threshold: 512, writeTakeover: true, readTakeover: true}
	s, c, tap := deflatePair(t, p, p)
	msg := jsonish(10000, 5) // over the write buffer: several frames
	go func() {
		s.WriteMessage(OpText, msg)
		s.WriteMessage(OpText, msg)       // with takeover, a copy of the last message
		s.WriteMessage(OpText, msg[:511]) // under the threshold
		s.SetWriteCompression(false)
		s.WriteMessage(OpText, msg) // opted out
		s.SetWriteCompression(true)
		w, _ := s.NextWriter(OpBinary)
		w.Write(msg)
		w.Write(bytes.Repeat([]byte{'z'}, 64<<10)) // several frames
		w.Close()
	}()
	for i := 0; i < 5; i++ {
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	var firsts []Header
	for _, h := range tap.frames() {
		if h.Opcode != OpContinuation {
			firsts = append(firsts, h)
		} else if h.Rsv1 {
			t.Errorf("RSV1 set on a continuation frame (RFC 7692 §6.1 allows it on the first only)")
		}
	}
	if len(firsts) != 5 {
		t.Fatalf("%d messages on the wire, want 5", len(firsts))
	}
	for i, want := range []bool{true, true, false, false, true} {
		if firsts[i].Rsv1 != want {
			t.Errorf("message %d: RSV1 %v, want %v", i, firsts[i].Rsv1, want)
		}
	}
	if firsts[0].Length >= int64(len(msg))/2 || firsts[1].Length >= firsts[0].Length/4 {
		t.Errorf("compressed sizes %d then %d for %d bytes: not compressed, or context not taken over", firsts[0].Length, firsts[1].Length, len(msg))
	}
}

// A server limited by the client to a window smaller than 32 KiB
// (server_max_window_bits=12) compresses every message, whole or streamed,
// longer than the window or not, and refers no further back than the window
// (RFC 7692 §7.1.2.1), with context takeover too.
func TestCompressedServerWindowLimit(t *testing.T) {
	opts := CompressionOptions{Threshold: -1, ContextTakeover: true}
	resp, sp := negotiateDeflate([]string{"permessage-deflate; server_max_window_bits=12"}, &opts)
	if sp == nil {
		t.Fatal("offer declined")
	}
	cp, err := clientDeflateResponse([]string{resp}, &CompressionOptions{ContextTakeover: true})
	if err != nil {
		t.Fatal(err)
	}
	s, c, tap := deflatePair(t, sp, cp)
	tap.keep = true
	msgs := [][]byte{jsonish(4096, 1), jsonish(4097, 2), jsonish(30000, 3), jsonish(3000, 3)}
	go func() {
		for i, m := range msgs {
			if i%2 == 0 {
				s.WriteMessage(OpText, m)
				continue
			}
			w, _ := s.NextWriter(OpText)
			w.Write(m)
			w.Close()
		}
	}()
	for i, m := range msgs {
		if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, m) {
			t.Fatalf("message %d: %d bytes, %v", i, len(got), err)
		}
	}
	var rsv1 []bool
	for _, h := range tap.frames() {
		if h.Opcode != OpContinuation {
			rsv1 = append(rsv1, h.Rsv1)
		}
	}
	if fmt.Sprint(rsv1) != "[true true true true]" {
		t.Fatalf("RSV1 of the messages %v, want all set", rsv1)
	}
	payloads := tap.messages()
	checkWindow(t, payloads, true, 12)
	if n := len(payloads[2]); n > len(msgs[2])/2 {
		t.Errorf("30000 bytes of text compress to %d within a 4 KiB window", n)
	}
}

// TestCompressionHeldOnlyInFlight checks that without context takeover a Conn
// holds neither compressor nor decompressor between messages.
func TestCompressionHeldOnlyInFlight(t *testing.T) {
	p := &deflateParams{writeWindowBits: maxWindowBits, level: flate.BestSpeed}
	s, c, _ := deflatePair(t, p, p)
	exchangeMessages(t, s, c, [][]byte{jsonish(2000, 1), jsonish(9000, 2)})
	exchangeMessages(t, c, s, [][]byte{jsonish(2000, 1), jsonish(9000, 2)})
	for _, conn := range []*Conn{s, c} {
		if conn.comp.w.Retained() != 0 || conn.comp.r.Active() || conn.comp.r.Retained() != 0 || conn.wbuf != nil {
			t.Errorf("server=%v holds compression state while idle", conn.server)
		}
	}
}

// compressed returns msg compressed as a permessage-deflate payload, by
// compress/flate directly rather than by the code under test.
func compressed(t testing.TB, msg []byte) []byte {
	t.Helper()
	return deflatetest.Compress(msg)
}

// clientFrame encodes a masked frame as a client sends it.
func clientFrame(h Header, payload []byte) []byte {
	h.Masked = true
	return frameBytes(h, payload)
}

// A compressed message may be fragmented, with control frames between its
// fragments (RFC 7692 §6.2, RFC 6455 §5.4), which are not compressed.
func TestCompressedFragmentsWithInterleavedControlFrames(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			p, c := newRawPeer(t, pipeConns, true, connConfig{deflate: &deflateParams{writeWindowBits: maxWindowBits, level: 1, readTakeover: takeover}})
			msg := jsonish(3000, 8)
			payload := compressed(t, msg)
			third := len(payload) / 3
			res := readAsync(c)
			p.sendAsync(
				clientFrame(Header{Rsv1: true, Opcode: OpText}, payload[:third]),
				clientFrame(Header{Fin: true, Opcode: OpPing}, []byte("p1")),
				clientFrame(Header{Opcode: OpContinuation}, payload[third:2*third]),
				clientFrame(Header{Fin: true, Opcode: OpPing}, []byte("p2")),
				clientFrame(Header{Fin: true, Opcode: OpContinuation}, payload[2*third:]),
				// An uncompressed message after it, in the same stream.
				clientFrame(Header{Fin: true, Opcode: OpBinary}, []byte("plain")),
			)
			p.mustReadFrame(OpPong, "p1")
			p.mustReadFrame(OpPong, "p2")
			if r := waitRead(t, res); r.err != nil || r.op != OpText || !bytes.Equal(r.msg, msg) {
				t.Fatalf("op %v, %d bytes, %v; want the %d-byte text", r.op, len(r.msg), r.err, len(msg))
			}
			if r := waitRead(t, readAsync(c)); r.err != nil || r.op != OpBinary || string(r.msg) != "plain" {
				t.Fatalf("op %v, %q, %v; want binary plain", r.op, r.msg, r.err)
			}
		})
	}
}

// A message abandoned part-way through NextReader is skipped by the next
// read, with or without context takeover.
func TestCompressedPartialReadThenNext(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			p := &deflateParams{writeWindowBits: maxWindowBits, level: 1, writeTakeover: takeover, readTakeover: takeover}
			s, c, _ := deflatePair(t, p, p)
			msgs := [][]byte{jsonish(50000, 1), jsonish(50000, 1), jsonish(2000, 2)}
			go func() {
				for _, m := range msgs {
					s.WriteMessage(OpText, m)
				}
			}()
			for _, m := range msgs[:2] {
				_, r, err := c.NextReader()
				if err != nil {
					t.Fatal(err)
				}
				head := make([]byte, 100)
				if _, err := r.Read(head); err != nil || !bytes.Equal(head, m[:100]) {
					t.Fatalf("first bytes %q, %v", head, err)
				}
			}
			if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msgs[2]) {
				t.Fatalf("third message: %d bytes, %v", len(got), err)
			}
		})
	}
}

// TestCompressedProtocolErrors checks the rules RFC 7692 §6 adds to RFC 6455
// §5.2, and the close codes of bad compressed data (RFC 7692 §8, RFC 6455
// §7.4.1): 1007 for data that does not inflate or is not UTF-8 once
// inflated, 1009 for a message that inflates past the read limit.
func TestCompressedProtocolErrors(t *testing.T) {
	p := &deflateParams{writeWindowBits: maxWindowBits, level: 1}
	good := compressed(t, []byte("hello hello hello"))
	bomb := compressed(t, make([]byte, 16<<20)) // 16 MiB of zeros in some 16 KiB
	tests := []struct {
		name   string
		params *deflateParams
		frames [][]byte
		code   StatusCode
		err    error
	}{
		{"Rsv1WithoutNegotiation", nil, [][]byte{clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, good)}, StatusProtocolError, ErrProtocol},
		{"Rsv1OnContinuation", p, [][]byte{clientFrame(Header{Opcode: OpText}, []byte("a")), clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpContinuation}, good)}, StatusProtocolError, ErrProtocol},
		{"Rsv1OnContinuationOfCompressed", p, [][]byte{clientFrame(Header{Rsv1: true, Opcode: OpText}, good[:3]), clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpContinuation}, good[3:])}, StatusProtocolError, ErrProtocol},
		{"Rsv1OnPing", p, [][]byte{clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpPing}, good[:2])}, StatusProtocolError, ErrProtocol},
		{"Rsv1OnClose", p, [][]byte{clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpClose}, []byte{3, 232})}, StatusProtocolError, ErrProtocol},
		{"Rsv2StillReserved", p, [][]byte{clientFrame(Header{Fin: true, Rsv2: true, Opcode: OpText}, good)}, StatusProtocolError, ErrProtocol},
		{"InvalidDeflateData", p, [][]byte{clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, []byte{0x07, 0x00})}, StatusInvalidFramePayloadData, deflate.ErrInvalid},
		{"InvalidUTF8AfterInflate", p, [][]byte{clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, compressed(t, []byte("ok \xff")))}, StatusInvalidFramePayloadData, ErrInvalidUTF8},
		{"TruncatedUTF8AfterInflate", p, [][]byte{clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, compressed(t, []byte("ok \xe2\x82")))}, StatusInvalidFramePayloadData, ErrInvalidUTF8},
		{"DecompressionBomb", p, [][]byte{clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, bomb)}, StatusMessageTooBig, ErrMessageTooBig},
		{"DecompressionBombFragmented", p, [][]byte{clientFrame(Header{Rsv1: true, Opcode: OpBinary}, bomb[:100]), clientFrame(Header{Fin: true, Opcode: OpContinuation}, bomb[100:])}, StatusMessageTooBig, ErrMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The close timeout bounds the Close frame's write too, which
			// over a pipe waits for the peer's read: a guard only.
			peer, c := newRawPeer(t, pipeConns, true, connConfig{deflate: tt.params, readLimit: 64 << 10, closeTimeout: testTimeout})
			res := readLoop(c)
			peer.sendAsync(tt.frames...)
			peer.expectClose(tt.code)
			peer.nc.Close()
			select {
			case err := <-res:
				if !errors.Is(err, tt.err) {
					t.Errorf("read error %v, want %v", err, tt.err)
				}
			case <-time.After(testTimeout):
				t.Fatal("the read did not return")
			}
		})
	}
}

// countingConn counts the bytes read through it until the first write.
type countingConn struct {
	net.Conn
	n       int
	written bool
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.written {
		c.n += n
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.written = true
	return c.Conn.Write(p)
}

// A decompression bomb is refused having inflated little more than the read
// limit: the time and memory it costs are bounded by the limit, not by what
// the payload would inflate to. The time shows in how much of the frame the
// Conn read before its Close frame, where inflating it all needs all of it
// (what it reads after, to linger, is bounded apart).
func TestCompressedBombRefusedEarly(t *testing.T) {
	const limit = 256 << 10
	bomb := compressed(t, make([]byte, 16<<20)) // 16 MiB of zeros in some 16 KiB
	frame := clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, bomb)
	nc := &countingConn{Conn: &replayConn{data: frame}}
	c := newConn(nc, nil, true, connConfig{deflate: &deflateParams{writeWindowBits: maxWindowBits, level: 1}, readLimit: limit})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, r, err := c.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	var n int64
	for err == nil && n < 16<<20 {
		var k int
		k, err = r.Read(buf)
		n += int64(k)
	}
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("read error %v after %d bytes, want ErrMessageTooBig", err, n)
	}
	if want := fmt.Sprintf("%v: compressed message inflates past %d bytes", ErrMessageTooBig, limit); err.Error() != want {
		t.Errorf("read error %q, want %q", err, want)
	}
	if n > limit {
		t.Errorf("returned %d bytes of a message over the %d-byte limit", n, limit)
	}
	if nc.n > len(frame)/2 {
		t.Errorf("refusing the bomb read %d bytes of its %d-byte frame first", nc.n, len(frame))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", alloc)
	}
}

// TestIdleCompressedConnHoldsNoFlateState checks the point of pooling: with
// compression negotiated without context takeover, an idle Conn that has
// compressed and decompressed a message costs about what one without
// compression does, far less than one flate.Reader (~40 KiB).
func TestIdleCompressedConnHoldsNoFlateState(t *testing.T) {
	plain := idleConnMemory(t, 100, nil)
	deflate := idleConnMemory(t, 100, &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel})
	t.Logf("idle heap per Conn: %.0f B uncompressed, %.0f B with permessage-deflate", plain, deflate)
	if deflate > plain+2048 {
		t.Errorf("an idle Conn with compression holds %.0f B, %.0f B more than without", deflate, deflate-plain)
	}
}

// TestTakeoverConnMemory checks what context takeover in both directions
// costs an idle Conn: its window of history each way and the encoder's hash
// table, at most 96 KiB in all with 32 KiB windows, and far less with small
// ones.
func TestTakeoverConnMemory(t *testing.T) {
	for _, tt := range []struct {
		bits  int
		limit float64
	}{{15, 96 << 10}, {9, 24 << 10}} {
		p := &deflateParams{writeWindowBits: tt.bits, readWindowBits: tt.bits, level: DefaultCompressionLevel, writeTakeover: true, readTakeover: true}
		got := idleConnMemory(t, 100, p)
		t.Logf("idle heap per Conn with context takeover, %d-bit windows: %.0f B", tt.bits, got)
		if got > tt.limit {
			t.Errorf("%d-bit windows: an idle Conn with context takeover holds %.0f B, over %.0f", tt.bits, got, tt.limit)
		}
	}
}

// idleConnMemory returns the heap, in bytes per Conn, held by pairs of idle
// Conns joined by net.Pipe, each of which has written and read one message
// of 1 KiB, compressed when p is not nil. Pools are emptied first (two
// collections), so only what the Conns themselves hold is counted.
func idleConnMemory(tb testing.TB, pairs int, p *deflateParams) float64 {
	tb.Helper()
	if p != nil {
		q := *p
		q.threshold = 0
		p = &q
	}
	msg := jsonish(1024, 3)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]*Conn, 0, 2*pairs)
	var pipes []net.Conn
	for i := 0; i < pairs; i++ {
		a, b := net.Pipe()
		pipes = append(pipes, a, b)
		s := newConn(a, nil, true, connConfig{deflate: p})
		c := newConn(b, nil, false, connConfig{deflate: p})
		for _, dir := range [][2]*Conn{{s, c}, {c, s}} {
			errc := make(chan error, 1)
			go func() { errc <- dir[0].WriteMessage(OpText, msg) }()
			if _, got, err := dir[1].ReadMessage(); err != nil || !bytes.Equal(got, msg) {
				tb.Fatalf("read %d bytes, %v", len(got), err)
			}
			if err := <-errc; err != nil {
				tb.Fatal(err)
			}
		}
		conns = append(conns, s, c)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	perConn := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(conns))
	runtime.KeepAlive(conns)
	for _, nc := range pipes {
		nc.Close()
	}
	return perConn
}
