//go:build !js

package websocket

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"
	"testing"
	"time"
)

// TestPreparedMessageFramesMatchWriteMessage checks that a server sends the
// same frame for a prepared message as WriteMessage does, for payload
// lengths in each of the three length encodings.
func TestPreparedMessageFramesMatchWriteMessage(t *testing.T) {
	peer, srv := newRawPeer(t, tcpConns, true, connConfig{})
	for _, n := range []int{0, 125, 126, 65535, 65536, 300000} {
		for _, op := range []Opcode{OpText, OpBinary} {
			p := bytes.Repeat([]byte{'x'}, n)
			pm, err := NewPreparedMessage(op, p)
			if err != nil {
				t.Fatal(err)
			}
			clear(p) // the message keeps its own copy
			go func() {
				srv.WriteMessage(op, bytes.Repeat([]byte{'x'}, n))
				srv.WritePreparedMessage(pm)
			}()
			h1, p1, err1 := peer.readFrame()
			h2, p2, err2 := peer.readFrame()
			if err1 != nil || err2 != nil {
				t.Fatalf("%v %d B: %v, %v", op, n, err1, err2)
			}
			if h1 != h2 || !bytes.Equal(p1, p2) || !h2.Fin || h2.Opcode != op || len(p2) != n {
				t.Fatalf("%v %d B: WriteMessage sent %+v (%d B), WritePreparedMessage %+v (%d B)", op, n, h1, len(p1), h2, len(p2))
			}
		}
	}
}

// TestPreparedMessageClientMasksEachSend checks that a client masks every
// send of a prepared message with a fresh key (RFC 6455 §5.3).
func TestPreparedMessageClientMasksEachSend(t *testing.T) {
	peer, cli := newRawPeer(t, tcpConns, false, connConfig{})
	pm, _ := NewPreparedMessage(OpBinary, []byte("the same message, twice"))
	go func() {
		cli.WritePreparedMessage(pm)
		cli.WritePreparedMessage(pm)
	}()
	h1, p1, err1 := peer.readFrame() // readFrame checks the Masked bit for the role
	h2, p2, err2 := peer.readFrame()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if string(p1) != "the same message, twice" || !bytes.Equal(p1, p2) {
		t.Fatalf("payloads %q and %q", p1, p2)
	}
	if h1.Mask == h2.Mask {
		t.Fatalf("both sends masked with key % x", h1.Mask)
	}
	if !bytes.Equal(pm.payload, p1) {
		t.Fatal("masking changed the prepared payload")
	}
}

func TestNewPreparedMessageRejectsControlOpcodes(t *testing.T) {
	for _, op := range []Opcode{OpContinuation, OpClose, OpPing, OpPong, 3} {
		if _, err := NewPreparedMessage(op, nil); err == nil {
			t.Errorf("NewPreparedMessage(%v) did not fail", op)
		}
	}
}

// prepNoTakeover and prepTakeover are the permessage-deflate parameters of the
// tests, with every message compressed whatever its size.
var (
	prepNoTakeover = &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel}
	prepTakeover   = &deflateParams{writeTakeover: true, readTakeover: true, writeWindowBits: maxWindowBits, level: DefaultCompressionLevel}
)

// TestPreparedMessageConcurrentBroadcast sends prepared messages from many
// goroutines to many connections at once, with ordinary writes and streamed
// messages mixed in, and checks that every reader gets every message whole:
// whole messages never interleave (RFC 6455 §5.4), and with compression the
// shared compressed frame is made once however many senders race for it.
func TestPreparedMessageConcurrentBroadcast(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params *deflateParams
	}{{"plain", nil}, {"deflate", prepNoTakeover}, {"deflate-takeover", prepTakeover}} {
		t.Run(tc.name, func(t *testing.T) { testConcurrentBroadcast(t, tc.params) })
	}
}

func testConcurrentBroadcast(t *testing.T, params *deflateParams) {
	const conns, writers, msgs = 6, 4, 30
	type pair struct{ cli, srv *Conn }
	pairs := make([]pair, conns)
	for i := range pairs {
		// A small write buffer makes streamed messages many frames, so a
		// whole message sent amid them would be seen.
		pairs[i].cli, pairs[i].srv = connPair(t, tcpConns, connConfig{deflate: params}, connConfig{deflate: params, writeBufferSize: 256})
	}
	prepared := make([]*PreparedMessage, msgs)
	for i := range prepared {
		prepared[i], _ = NewPreparedMessage(OpText, bytes.Repeat([]byte{byte('a' + i%26)}, 1000+i*500))
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, pm := range prepared {
				for _, p := range pairs {
					var err error
					switch (i + w) % 4 {
					case 0:
						err = p.srv.WriteMessage(OpText, pm.payload)
					case 1:
						err = writeStreamed(p.srv, pm.payload)
					default:
						err = p.srv.WritePreparedMessage(pm)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.cli.SetReadDeadline(time.Now().Add(testTimeout))
			for range writers * msgs {
				op, m, err := p.cli.ReadMessage()
				if err != nil {
					t.Error(err)
					return
				}
				i := (len(m) - 1000) / 500
				if op != OpText || i < 0 || i >= msgs || !bytes.Equal(m, prepared[i].payload) {
					t.Errorf("got %v message of %d B that is no prepared message", op, len(m))
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, pm := range prepared {
		want := 0
		if params != nil && !params.writeTakeover {
			want = 1
		}
		if n := deflatedCount(pm); n != want {
			t.Fatalf("message %d: %d compressed frames made, want %d", i, n, want)
		}
	}
}

// writeStreamed writes p through NextWriter in 100-byte pieces, so the
// message goes out in several frames when it is not compressed.
func writeStreamed(c *Conn, p []byte) error {
	w, err := c.NextWriter(OpText)
	if err != nil {
		return err
	}
	for ; len(p) > 0; p = p[min(100, len(p)):] {
		if _, err := w.Write(p[:min(100, len(p))]); err != nil {
			return err
		}
	}
	return w.Close()
}

func deflatedCount(pm *PreparedMessage) int {
	if l := pm.deflated.Load(); l != nil {
		return len(*l)
	}
	return 0
}

// TestPreparedMessageCompressedFrame checks the compressed frame a server
// without context takeover sends: RSV1 on a final frame (RFC 7692 §6.1), a
// payload that inflates to the message once the removed tail is appended
// back (§7.2.2), the same bytes on every send and on every connection, and
// the same frame as WriteMessage sends.
func TestPreparedMessageCompressedFrame(t *testing.T) {
	msg := bytes.Repeat([]byte(`{"candidate":"Vim","votes":12345}`), 60)
	pm, _ := NewPreparedMessage(OpText, msg)
	var frames [][]byte
	var wm []byte
	for range 2 {
		peer, srv := newRawPeer(t, tcpConns, true, connConfig{deflate: prepNoTakeover})
		go func() {
			srv.WritePreparedMessage(pm)
			srv.WritePreparedMessage(pm)
			srv.WriteMessage(OpText, msg)
		}()
		for i := range 3 {
			h, p, err := peer.readFrame()
			if err != nil {
				t.Fatal(err)
			}
			if !h.Fin || !h.Rsv1 || h.Opcode != OpText {
				t.Fatalf("frame %+v; want a final compressed text frame", h)
			}
			if len(p) >= len(msg)/4 {
				t.Fatalf("compressed payload of %d B for a %d B message", len(p), len(msg))
			}
			got, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff}))))
			if err != io.ErrUnexpectedEOF || !bytes.Equal(got, msg) { // no final block: the reader stops at the end of input
				t.Fatalf("payload inflates to %d B, %v", len(got), err)
			}
			if i == 2 {
				wm = frameBytes(h, p)
			} else {
				frames = append(frames, frameBytes(h, p))
			}
		}
	}
	for _, f := range frames[1:] {
		if !bytes.Equal(f, frames[0]) {
			t.Fatal("sends of one prepared message differ")
		}
	}
	if !bytes.Equal(wm, frames[0]) {
		t.Fatalf("WriteMessage sent % x, WritePreparedMessage % x", wm, frames[0])
	}
	if n := deflatedCount(pm); n != 1 {
		t.Fatalf("%d compressed frames made, want 1", n)
	}
}

// TestPreparedMessageCompressionChoices checks when a prepared message goes
// compressed: never below the threshold or after SetWriteCompression(false),
// and with the Conn's own compressor under context takeover (the shared
// frame would leave the peer's window out of step with ours, RFC 7692 §7.2.1).
func TestPreparedMessageCompressionChoices(t *testing.T) {
	big := bytes.Repeat([]byte("abcd"), 300)
	for _, tc := range []struct {
		name     string
		params   deflateParams
		off      bool
		msg      []byte
		rsv1     bool
		deflated int
	}{
		{"below threshold", deflateParams{writeWindowBits: maxWindowBits, level: 1, threshold: 2000}, false, big, false, 0},
		{"write compression off", *prepNoTakeover, true, big, false, 0},
		{"no context takeover shares", *prepNoTakeover, false, big, true, 1},
		{"context takeover compresses its own", *prepTakeover, false, big, true, 0},
		{"limited window, message fits", deflateParams{writeWindowBits: 11, level: 1}, false, big, true, 1},
		{"limited window, context takeover compresses its own", deflateParams{writeTakeover: true, writeWindowBits: 11, level: 1}, false, big, true, 0},
		{"limited window, message longer than it, shared", deflateParams{writeWindowBits: 9, level: 1}, false, big, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer, srv := newRawPeer(t, tcpConns, true, connConfig{deflate: &tc.params})
			srv.SetWriteCompression(!tc.off)
			pm, _ := NewPreparedMessage(OpBinary, tc.msg)
			go srv.WritePreparedMessage(pm)
			h, p, err := peer.readFrame()
			if err != nil {
				t.Fatal(err)
			}
			if h.Rsv1 != tc.rsv1 || !h.Fin {
				t.Fatalf("frame %+v; want Rsv1 %v", h, tc.rsv1)
			}
			if !tc.rsv1 && !bytes.Equal(p, tc.msg) {
				t.Fatal("uncompressed payload differs from the message")
			}
			if n := deflatedCount(pm); n != tc.deflated {
				t.Fatalf("%d shared compressed frames, want %d", n, tc.deflated)
			}
		})
	}
}

// TestWritePreparedMessageServerAllocs checks the promise of broadcast: a
// server sends a prepared message, plain or compressed, with no allocation.
func TestWritePreparedMessageServerAllocs(t *testing.T) {
	for _, params := range []*deflateParams{nil, prepNoTakeover} {
		c := newConn(&replayConn{}, nil, true, connConfig{deflate: params})
		pm, _ := NewPreparedMessage(OpBinary, bytes.Repeat([]byte("x"), 1<<10))
		c.WritePreparedMessage(pm) // makes the compressed frame
		if n := testing.AllocsPerRun(100, func() { c.WritePreparedMessage(pm) }); n != 0 {
			t.Errorf("compression %v: %v allocations per send, want 0", params != nil, n)
		}
	}
}

func BenchmarkWritePreparedMessage(b *testing.B) {
	roles := []struct {
		name   string
		server bool
		params *deflateParams
	}{{"server", true, nil}, {"server-deflate", true, prepNoTakeover}, {"client", false, nil}}
	for _, role := range roles {
		for _, s := range connBenchSizes[:3] {
			b.Run(role.name+"/"+s.name, func(b *testing.B) {
				c := newConn(&replayConn{}, nil, role.server, connConfig{deflate: role.params})
				pm, _ := NewPreparedMessage(OpBinary, bytes.Repeat([]byte("0123456789abcdef"), s.n/16))
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WritePreparedMessage(pm); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestPreparedMessageFramePerWindow checks that connections compressing
// within different windows share one frame per window, each of which the
// peer decodes, and none refers past its window (RFC 7692 §7.1.2).
func TestPreparedMessageFramePerWindow(t *testing.T) {
	msg := jsonish(20000, 3)
	pm, _ := NewPreparedMessage(OpText, msg)
	for _, bits := range []int{9, 15, 9, 12} {
		frame, err := pm.deflatedFrame(DefaultCompressionLevel, bits)
		if err != nil {
			t.Fatal(err)
		}
		h, n, err := ParseHeader(frame)
		if err != nil || !h.Rsv1 {
			t.Fatalf("%d bits: header %+v, %v", bits, h, err)
		}
		payload := frame[n:]
		if got := decodeStream(t, [][]byte{payload}, false)[0]; !bytes.Equal(got, msg) {
			t.Fatalf("%d bits: frame decodes to %d bytes, want %d", bits, len(got), len(msg))
		}
		checkWindow(t, [][]byte{payload}, false, bits)
	}
	if n := deflatedCount(pm); n != 3 {
		t.Fatalf("%d frames made for windows of 9, 12 and 15 bits, want 3", n)
	}
}
