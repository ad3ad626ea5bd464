package websocket

import (
	"bytes"
	"fmt"
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

// TestPreparedMessageConcurrentBroadcast sends prepared messages from many
// goroutines to many connections at once, with ordinary writes mixed in,
// and checks that every reader gets every message whole.
func TestPreparedMessageConcurrentBroadcast(t *testing.T) {
	const conns, writers, msgs = 6, 4, 40
	type pair struct{ cli, srv *Conn }
	pairs := make([]pair, conns)
	for i := range pairs {
		pairs[i].cli, pairs[i].srv = connPair(t, tcpConns, connConfig{}, connConfig{})
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
					if (i+w)%3 == 0 {
						err = p.srv.WriteMessage(OpText, pm.payload)
					} else {
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
}

// TestPreparedMessageCompressed checks that a server with permessage-deflate
// sends a prepared message compressed (RSV1) and the client reads it back,
// with and without context takeover, and that the shared compressed frame
// is made once per level.
func TestPreparedMessageCompressed(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			params := &deflateParams{writeTakeover: takeover, readTakeover: takeover, writeWindowBits: maxWindowBits, level: DefaultCompressionLevel, threshold: 0}
			cli, srv := connPair(t, tcpConns, connConfig{deflate: params}, connConfig{deflate: params})
			msg := bytes.Repeat([]byte(`{"candidate":"Vim","votes":12345}`), 60)
			pm, _ := NewPreparedMessage(OpText, msg)
			go func() {
				for range 3 {
					srv.WritePreparedMessage(pm)
				}
			}()
			cli.SetReadDeadline(time.Now().Add(testTimeout))
			for range 3 {
				op, got, err := cli.ReadMessage()
				if err != nil || op != OpText || !bytes.Equal(got, msg) {
					t.Fatalf("read %v %d B, %v", op, len(got), err)
				}
			}
			pm.mu.Lock()
			defer pm.mu.Unlock()
			if want := map[bool]int{false: 1, true: 0}[takeover]; len(pm.deflated) != want {
				t.Fatalf("%d shared compressed frames, want %d", len(pm.deflated), want)
			}
			if !takeover && len(pm.deflated[0].frame) >= len(pm.frame)/4 {
				t.Fatalf("compressed frame of %d B for a %d B message", len(pm.deflated[0].frame), len(msg))
			}
		})
	}
}

func BenchmarkWritePreparedMessage(b *testing.B) {
	for _, size := range []int{16, 1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("server/%dB", size), func(b *testing.B) {
			c := newConn(&replayConn{}, nil, true, connConfig{})
			pm, _ := NewPreparedMessage(OpBinary, make([]byte, size))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WritePreparedMessage(pm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
