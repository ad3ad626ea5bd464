package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// The tests in this file run the Go side as the client against peer servers.

// plainDial is the DialOptions of the tests that are not about compression.
func plainDial() *websocket.DialOptions {
	opts := &websocket.DialOptions{HandshakeTimeout: testtime.Scaled(10 * time.Second)}
	opts.Compression.Disabled = true
	return opts
}

// dial connects to path on s, with a deadline over the whole exchange.
func dial(t *testing.T, s *peerServer, path string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(15*time.Second))
	defer cancel()
	c, err := websocket.Dial(ctx, s.url+path, opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if err := c.SetDeadline(time.Now().Add(testtime.Scaled(60 * time.Second))); err != nil {
		t.Fatal(err)
	}
	return c
}

// closeNormally runs the closing handshake from the Go side.
func closeNormally(t *testing.T, c *websocket.Conn) {
	t.Helper()
	if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// readText reads the next message and requires it to be text.
func readText(t *testing.T, c *websocket.Conn, what string) string {
	t.Helper()
	op, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("reading %s: %v", what, err)
	}
	if op != websocket.OpText {
		t.Fatalf("%s: got %v message %q, want text", what, op, b)
	}
	return string(b)
}

func opName(op websocket.Opcode) string {
	if op == websocket.OpText {
		return "text"
	}
	return "binary"
}

func TestClientEchoMessageSizes(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		c := dial(t, s, "/echo", plainDial())
		for _, op := range []websocket.Opcode{websocket.OpText, websocket.OpBinary} {
			for _, size := range messageSizes {
				want := randomPayload(op == websocket.OpText, size)
				if err := c.WriteMessage(op, want); err != nil {
					t.Fatalf("WriteMessage %s %d B: %v", opName(op), size, err)
				}
				gotOp, got, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("ReadMessage echo of %s %d B: %v", opName(op), size, err)
				}
				if gotOp != op || !bytes.Equal(got, want) {
					t.Errorf("echo of %s %d B: got %s %d B (equal=%v)", opName(op), size, opName(gotOp), len(got), bytes.Equal(got, want))
				}
			}
		}
		closeNormally(t, c)
	})
}

// TestClientStreamingEcho writes each size through NextWriter in pieces and
// reads the echo through NextReader.
func TestClientStreamingEcho(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		c := dial(t, s, "/echo", plainDial())
		for _, op := range []websocket.Opcode{websocket.OpText, websocket.OpBinary} {
			for _, size := range messageSizes {
				want := randomPayload(op == websocket.OpText, size)
				w, err := c.NextWriter(op)
				if err != nil {
					t.Fatalf("NextWriter: %v", err)
				}
				for rest := want; len(rest) > 0; {
					n := min(len(rest), 1+len(want)/3)
					if _, err := w.Write(rest[:n]); err != nil {
						t.Fatalf("Write %s %d B: %v", opName(op), size, err)
					}
					rest = rest[n:]
				}
				if err := w.Close(); err != nil {
					t.Fatalf("closing writer of %s %d B: %v", opName(op), size, err)
				}
				gotOp, r, err := c.NextReader()
				if err != nil {
					t.Fatalf("NextReader echo of %s %d B: %v", opName(op), size, err)
				}
				got, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("reading echo of %s %d B: %v", opName(op), size, err)
				}
				if gotOp != op || !bytes.Equal(got, want) {
					t.Errorf("echo of %s %d B: got %s %d B (equal=%v)", opName(op), size, opName(gotOp), len(got), bytes.Equal(got, want))
				}
			}
		}
		closeNormally(t, c)
	})
}

func TestClientEchoUTF8(t *testing.T) {
	texts := []string{"é", "€uro", "smile 😀", strings.Repeat("mixed: aé€😀z", 1000)}
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		c := dial(t, s, "/echo", plainDial())
		for _, text := range texts {
			if err := c.WriteMessage(websocket.OpText, []byte(text)); err != nil {
				t.Fatal(err)
			}
			if got := readText(t, c, "echo"); got != text {
				t.Errorf("echo of %.20q: got %.20q", text, got)
			}
		}
		closeNormally(t, c)
	})
}

// TestClientReceivesFragmented has the peer send messages in several frames
// (ws at byte offsets, so utf8 text is split inside characters; websockets
// between characters, with a final empty continuation frame) and checks the
// reassembled message against the digest the peer sends after it.
func TestClientReceivesFragmented(t *testing.T) {
	cases := []struct {
		op           string
		size, chunks int
	}{
		{"text", 0, 1},
		{"text", 10, 10},
		{"binary", 1000, 3},
		{"binary", 200000, 7},
		{"text", 65536, 2},
		{"utf8", 1000, 7},
		{"utf8", 100000, 13},
	}
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		for _, tc := range cases {
			for _, streaming := range []bool{false, true} {
				name := fmt.Sprintf("%s_%dB_%dframes_streaming=%v", tc.op, tc.size, tc.chunks, streaming)
				t.Run(name, func(t *testing.T) {
					q := url.Values{"op": {tc.op}, "size": {strconv.Itoa(tc.size)}, "chunks": {strconv.Itoa(tc.chunks)}}
					c := dial(t, s, "/fragmented?"+q.Encode(), plainDial())
					wantOp := websocket.OpText
					if tc.op == "binary" {
						wantOp = websocket.OpBinary
					}
					var got string
					var op websocket.Opcode
					if streaming {
						var r io.Reader
						var err error
						op, r, err = c.NextReader()
						if err != nil {
							t.Fatalf("NextReader: %v", err)
						}
						if got, err = digestReader(r); err != nil {
							t.Fatalf("reading: %v", err)
						}
					} else {
						var b []byte
						var err error
						op, b, err = c.ReadMessage()
						if err != nil {
							t.Fatalf("ReadMessage: %v", err)
						}
						got = digest(b)
					}
					want := readText(t, c, "digest")
					if op != wantOp || got != want {
						t.Errorf("got %s %s, peer sent %s %s", opName(op), got, opName(wantOp), want)
					}
					closeNormally(t, c)
				})
			}
		}
	})
}

// TestClientSendsFragmented streams messages through NextWriter in several
// writes and has the peer report what it reassembled. websockets also reports
// how many frames the message came in; a message several times the write
// buffer must not arrive as one frame. A ping is written from another
// goroutine while the message is open (RFC 6455 §5.4 lets control frames in
// between fragments; the Conn documents that it sends them so).
func TestClientSendsFragmented(t *testing.T) {
	const writeBuffer = 4096
	cases := []struct {
		op     websocket.Opcode
		size   int
		writes int
	}{
		{websocket.OpText, 0, 1},
		{websocket.OpText, 10, 10},
		{websocket.OpBinary, 1000, 3},
		{websocket.OpBinary, 64 << 10, 4},
		{websocket.OpText, 1 << 20, 16},
	}
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		opts := plainDial()
		opts.WriteBufferSize = writeBuffer
		c := dial(t, s, "/count", opts)
		var mu sync.Mutex
		var pongs []string
		c.SetPongHandler(func(b []byte) error {
			mu.Lock()
			pongs = append(pongs, string(b))
			mu.Unlock()
			return nil
		})
		for i, tc := range cases {
			what := fmt.Sprintf("%s %d B in %d writes", opName(tc.op), tc.size, tc.writes)
			data := randomPayload(tc.op == websocket.OpText, tc.size)
			w, err := c.NextWriter(tc.op)
			if err != nil {
				t.Fatalf("NextWriter: %v", err)
			}
			step := (tc.size + tc.writes - 1) / tc.writes
			for j := 0; j < tc.writes; j++ {
				part := data[min(j*step, tc.size):min((j+1)*step, tc.size)]
				if _, err := w.Write(part); err != nil {
					t.Fatalf("%s: Write: %v", what, err)
				}
				if j == 0 && tc.writes > 1 {
					pingDuringMessage(t, c, "mid "+strconv.Itoa(i))
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("%s: closing writer: %v", what, err)
			}
			report := readText(t, c, "report")
			var frames int
			var typ, sum string
			var n int
			if _, err := fmt.Sscanf(report, "frames:%d type:%s len:%d %s", &frames, &typ, &n, &sum); err != nil {
				t.Fatalf("%s: peer report %q: %v", what, report, err)
			}
			if got, want := fmt.Sprintf("%s len:%d", sum, n), digest(data); typ != opName(tc.op) || got != want {
				t.Errorf("%s: peer reassembled %s %s, want %s %s", what, typ, got, opName(tc.op), want)
			}
			if frames >= 0 && tc.size >= 4*writeBuffer && frames < 2 {
				t.Errorf("%s: peer saw %d frame(s); a streamed message this much larger than the write buffer (%d B) must be fragmented", what, frames, writeBuffer)
			}
			if frames >= 0 {
				t.Logf("%s: %d frames", what, frames)
			}
		}
		closeNormally(t, c)
		mu.Lock()
		defer mu.Unlock()
		for i, tc := range cases {
			if tc.writes > 1 && !contains(pongs, "mid "+strconv.Itoa(i)) {
				t.Errorf("no pong for the ping written during message %d; pongs: %q", i, pongs)
			}
		}
	})
}

// pingDuringMessage writes a ping from another goroutine while this one holds
// an open NextWriter, and fails if it does not go out within a few seconds.
func pingDuringMessage(t *testing.T, c *websocket.Conn, payload string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.WritePing([]byte(payload)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("WritePing during a message: %v", err)
		}
	case <-time.After(testtime.Scaled(5 * time.Second)):
		t.Fatalf("WritePing blocked for 5s while a NextWriter message was open")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestClientPing has the peer send an unsolicited pong and a ping, and check
// that the Go side answers with the ping's payload; meanwhile the Go side
// pings the peer and measures the round trip.
func TestClientPing(t *testing.T) {
	payloads := map[string][]byte{
		"empty":   nil,
		"short":   []byte("hello"),
		"maximum": randomPayload(false, websocket.MaxControlPayload),
	}
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		for name, payload := range payloads {
			t.Run(name, func(t *testing.T) {
				c := dial(t, s, "/ping?payload="+fmt.Sprintf("%x", payload), plainDial())
				msgs := make(chan string, 4)
				readErr := make(chan error, 1)
				go func() {
					for {
						_, b, err := c.ReadMessage()
						if err != nil {
							readErr <- err
							close(msgs)
							return
						}
						msgs <- string(b)
					}
				}()
				for i := 0; i < 3; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(10*time.Second))
					rtt, err := c.Ping(ctx)
					cancel()
					if err != nil {
						t.Fatalf("Ping %d: %v", i, err)
					}
					if rtt <= 0 || rtt > testtime.Scaled(10*time.Second) {
						t.Errorf("Ping %d: RTT %v", i, rtt)
					}
				}
				select {
				case m, ok := <-msgs:
					if !ok {
						t.Fatalf("read failed before the peer's pong report: %v", <-readErr)
					}
					if m != "pong-ok" {
						t.Errorf("peer on the pong to its ping %x: %s", payload, m)
					}
				case <-time.After(testtime.Scaled(15 * time.Second)):
					t.Fatalf("no pong report from the peer within %v", testtime.Scaled(15*time.Second))
				}
				closeAndDrain(t, c, msgs, readErr)
			})
		}
	})
}

// closeAndDrain closes c while another goroutine reads it, and waits for that
// reader to stop.
func closeAndDrain(t *testing.T, c *websocket.Conn, msgs chan string, readErr chan error) {
	t.Helper()
	if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-readErr:
		_ = err // the reader ends with the close or ErrClosed, either is fine
	case <-time.After(testtime.Scaled(15 * time.Second)):
		t.Error("reader still blocked 15s after Close")
	}
	for range msgs {
	}
}

// TestClientPeerCloses has the peer close with each code it may send; the Go
// client must report the code and reason and answer with a Close frame.
func TestClientPeerCloses(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		for _, cc := range closeCases {
			if cc.clientOnly {
				continue // the peer is the server here
			}
			t.Run(strconv.Itoa(cc.code), func(t *testing.T) {
				id := s.newID()
				q := url.Values{"id": {id}, "code": {strconv.Itoa(cc.code)}, "reason": {cc.reason}}
				c := dial(t, s, "/close?"+q.Encode(), plainDial())
				_, b, err := c.ReadMessage()
				var ce *websocket.CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("ReadMessage after the peer's close %d: got %q, %v; want a *CloseError", cc.code, b, err)
				}
				if int(ce.Code) != cc.code || ce.Reason != cc.reason {
					t.Errorf("peer closed with %d %q; CloseError has %d %q", cc.code, cc.reason, ce.Code, ce.Reason)
				}
				if got := websocket.CloseStatus(err); int(got) != cc.code {
					t.Errorf("CloseStatus = %d, want %d", got, cc.code)
				}
				if err := c.WriteMessage(websocket.OpText, []byte("late")); !errors.Is(err, websocket.ErrClosed) {
					t.Errorf("WriteMessage after the close: %v, want an error wrapping ErrClosed", err)
				}
				ev := s.waitEvent(t, id)
				if ev[0] != "closed" || ev[1] == "1006" {
					t.Errorf("peer saw %q after its close: the Go client did not answer with a Close frame", ev)
				}
			})
		}
	})
}

// TestClientCloses closes from the Go side with each code a client may send;
// the peer reports the code and reason it received.
func TestClientCloses(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		for _, cc := range closeCases {
			t.Run(strconv.Itoa(cc.code), func(t *testing.T) {
				id := s.newID()
				c := dial(t, s, "/goclose?id="+id, plainDial())
				if err := c.Close(websocket.StatusCode(cc.code), cc.reason); err != nil {
					t.Errorf("Close(%d): %v", cc.code, err)
				}
				ev := s.waitEvent(t, id)
				if len(ev) != 3 || ev[0] != "closed" {
					t.Fatalf("peer event %q", ev)
				}
				if ev[1] != strconv.Itoa(cc.code) || hexReason(t, ev[2]) != cc.reason {
					t.Errorf("Go closed with %d %q; peer saw %s %q", cc.code, cc.reason, ev[1], hexReason(t, ev[2]))
				}
			})
		}
	})
}

// TestClientSubprotocol checks the selection a server makes in its own order
// of preference (RFC 6455 §4.2.2 leaves the choice to the server) is what the
// Go client reports, including when the server picks none.
func TestClientSubprotocol(t *testing.T) {
	server := []string{"chat.v2", "chat.v1"}
	cases := []struct {
		name  string
		offer []string
		want  string
	}{
		{"server_prefers_clients_second", []string{"chat.v1", "chat.v2"}, "chat.v2"},
		{"only_common_one", []string{"chat.v3", "chat.v1"}, "chat.v1"},
		{"single_offer", []string{"chat.v2"}, "chat.v2"},
		{"no_common", []string{"chat.v3"}, ""},
		{"no_offer", nil, ""},
	}
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{Subprotocols: server})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				opts := plainDial()
				opts.Subprotocols = tc.offer
				c := dial(t, s, "/subproto", opts)
				if got := c.Subprotocol(); got != tc.want {
					t.Errorf("Subprotocol() = %q, want %q", got, tc.want)
				}
				if got := readText(t, c, "peer's selection"); got != "proto:"+tc.want {
					t.Errorf("peer reports %q, want proto:%s", got, tc.want)
				}
				closeNormally(t, c)
			})
		}
	})
}

// TestClientFailsConnection has the peer send a message over the Go client's
// read limit (whole and fragmented) and, with ws, a text message that is not
// UTF-8; the read must fail with ErrMessageTooBig or ErrInvalidUTF8 and the
// peer must receive a Close frame with 1009 or 1007.
func TestClientFailsConnection(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		for _, fc := range failCases {
			name := fmt.Sprintf("%s_%s_%dB_%dframes", fc.Kind, fc.Op, fc.Size, fc.Chunks)
			t.Run(name, func(t *testing.T) {
				if !p.canSend(fc) {
					t.Skipf("%s cannot send %s", p.name, fc.Kind)
				}
				id := s.newID()
				path := "/badutf8?id=" + id
				want := websocket.ErrInvalidUTF8
				if fc.Kind == "toobig" {
					q := url.Values{"id": {id}, "op": {fc.Op}, "size": {strconv.Itoa(fc.Size)}, "chunks": {strconv.Itoa(fc.Chunks)}}
					path = "/fragmented?" + q.Encode()
					want = websocket.ErrMessageTooBig
				}
				opts := plainDial()
				opts.ReadLimit = fc.Limit
				c := dial(t, s, path, opts)
				if _, b, err := c.ReadMessage(); !errors.Is(err, want) {
					t.Errorf("ReadMessage: %d B, %v; want an error wrapping %v", len(b), err, want)
				}
				ev := s.waitEvent(t, id)
				if len(ev) < 2 || ev[0] != "closed" || ev[1] != strconv.Itoa(fc.WantCode) {
					t.Errorf("peer saw %q, want closed %d", ev, fc.WantCode)
				}
			})
		}
	})
}
