//go:build !js

package websocket

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestConnOneFrameMessageWaitsForStreamedMessage checks the rule that lets a
// message of one frame take frameMu alone: it must never go out between the
// frames of a message streamed through NextWriter (RFC 6455 §5.4), so it
// waits until the streamed message is closed, while a ping still passes
// (§5.5). Sizes cover the frame built in a shortBuf, the one built in a pooled
// buffer and the one written under msgMu; both roles, since a client masks.
func TestConnOneFrameMessageWaitsForStreamedMessage(t *testing.T) {
	for _, server := range []bool{true, false} {
		for _, n := range []int{0, 16, MaxControlPayload, MaxControlPayload + 1, 1024, DefaultBufferSize, DefaultBufferSize + 1} {
			t.Run(fmt.Sprintf("server=%v/%d", server, n), func(t *testing.T) {
				p, c := newRawPeer(t, tcpConns, !server, connConfig{writeBufferSize: 16})
				c.SetWriteDeadline(time.Now().Add(testTimeout))
				streamed := bytes.Repeat([]byte("0123456789"), 5)
				whole := bytes.Repeat([]byte{'w'}, n)
				w, err := c.NextWriter(OpText)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(streamed[:40]); err != nil { // two frames out, the third buffered
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- c.WriteMessage(OpBinary, whole) }()
				select {
				case err := <-done:
					t.Fatalf("WriteMessage returned (%v) while a streamed message was between frames", err)
				case <-time.After(50 * time.Millisecond):
				}
				if err := c.WritePing([]byte("pass")); err != nil {
					t.Fatalf("ping while a message is streamed: %v", err)
				}
				if _, err := w.Write(streamed[40:]); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				var got []byte
				var pinged bool
				for i := 0; ; i++ {
					h, payload, err := p.readFrame()
					if err != nil {
						t.Fatal(err)
					}
					if h.Opcode == OpPing {
						pinged = true
						continue
					}
					if want := map[bool]Opcode{true: OpText, false: OpContinuation}[i == 0]; h.Opcode != want {
						t.Fatalf("frame %d of the streamed message is %v, want %v", i, h.Opcode, want)
					}
					got = append(got, payload...)
					if h.Fin {
						break
					}
				}
				if !pinged || !bytes.Equal(got, streamed) {
					t.Fatalf("ping seen: %v; streamed message %q, want %q", pinged, got, streamed)
				}
				h, payload, err := p.readFrame()
				if err != nil || h.Opcode != OpBinary || !h.Fin || !bytes.Equal(payload, whole) {
					t.Fatalf("after the streamed message: %+v, %d bytes, %v; want the whole binary message", h, len(payload), err)
				}
			})
		}
	}
}

// TestPutHeaderIsAppendHeader checks that the header a Conn builds in place
// for a frame it writes whole is the one AppendHeader encodes (RFC 6455
// §5.2), at every length where the encoding changes and around it, for
// each role and opcode.
func TestPutHeaderIsAppendHeader(t *testing.T) {
	key := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	for _, op := range []Opcode{OpText, OpBinary, OpClose, OpPing, OpPong} {
		for _, n := range []int{0, 1, 16, 124, 125, 126, 127, 1024, DefaultBufferSize, 0xfffe, 0xffff, 0x10000, 1 << 20, 1<<31 + 5} {
			for _, masked := range []bool{false, true} {
				h := Header{Fin: true, Opcode: op, Length: int64(n), Masked: masked}
				var k *[4]byte
				if masked {
					h.Mask, k = key, &key
				}
				want := AppendHeader(nil, h)
				var b [MaxHeaderSize]byte
				if got := b[:putHeader(b[:], op, n, k)]; !bytes.Equal(got, want) {
					t.Errorf("%v, %d bytes, masked %v: putHeader % x, AppendHeader % x", op, n, masked, got, want)
				}
			}
		}
	}
}
