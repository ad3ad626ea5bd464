package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// testOptions are small and quick, so drops and closes happen fast.
func testOptions(t *testing.T) options {
	o := defaultOptions()
	// Long enough that a reader on a loaded machine, descheduled for a
	// while, is not taken for a stalled one; the slow client is dropped by
	// its full queue first.
	o.WriteTimeout = testtime.Scaled(2 * time.Second)
	o.CloseTimeout = 500 * time.Millisecond
	o.Logf = t.Logf
	return o
}

// startServer serves a room on 127.0.0.1; ln, if not nil, wraps the listener.
func startServer(t *testing.T, o options, wrap func(net.Listener) net.Listener) (*server, string) {
	t.Helper()
	s := newServer(o)
	ts := httptest.NewUnstartedServer(s)
	if wrap != nil {
		ts.Listener = wrap(ts.Listener)
	}
	ts.Start()
	t.Cleanup(func() {
		s.Shutdown()
		ts.Close()
		s.Wait()
	})
	return s, ts.URL
}

// dial joins the room at base as name.
func dial(t *testing.T, ctx context.Context, base, name string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws?name=" + url.QueryEscape(name)
	c, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		t.Fatalf("dial as %q: %v", name, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// next reads the next event, failing the test after a deadline.
func next(t *testing.T, c *websocket.Conn) event {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
	op, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if op != websocket.OpText {
		t.Fatalf("got a %v message, want text", op)
	}
	var ev event
	if err := json.Unmarshal(p, &ev); err != nil {
		t.Fatalf("bad event %q: %v", p, err)
	}
	return ev
}

// until reads events until one satisfies ok, within 100 events.
func until(t *testing.T, c *websocket.Conn, what string, ok func(event) bool) event {
	t.Helper()
	for range 100 {
		if ev := next(t, c); ok(ev) {
			return ev
		}
	}
	t.Fatalf("no %s within 100 events", what)
	return event{}
}

func say(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	b, _ := json.Marshal(clientMessage{Type: "message", Text: text})
	c.SetWriteDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
	if err := c.WriteMessage(websocket.OpText, b); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
}

func TestMessageReachesEveryoneWithJoinAndLeave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(20*time.Second))
	defer cancel()
	_, base := startServer(t, testOptions(t), nil)

	alice := dial(t, ctx, base, "alice", nil)
	if ev := next(t, alice); ev.Type != "hello" || ev.Name != "alice" || !slices.Equal(ev.Users, []string{"alice"}) {
		t.Fatalf("alice's first event = %+v, want hello to alice with users [alice]", ev)
	}
	bob := dial(t, ctx, base, "  bob ", nil) // names are trimmed
	if ev := next(t, bob); ev.Type != "hello" || ev.Name != "bob" || !slices.Equal(ev.Users, []string{"alice", "bob"}) {
		t.Fatalf("bob's first event = %+v, want hello to bob with users [alice bob]", ev)
	}
	until(t, alice, "join of bob", func(ev event) bool { return ev.Type == "join" && ev.Name == "bob" })

	say(t, bob, "  hello, room  ")
	for _, c := range []*websocket.Conn{alice, bob} {
		ev := until(t, c, "bob's message", func(ev event) bool { return ev.Type == "message" })
		if ev.Name != "bob" || ev.Text != "hello, room" || ev.Time == 0 {
			t.Fatalf("message = %+v, want bob saying %q with a time", ev, "hello, room")
		}
	}

	if err := bob.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Logf("bob close: %v", err)
	}
	ev := until(t, alice, "leave of bob", func(ev event) bool { return ev.Type == "leave" })
	if ev.Name != "bob" || !slices.Equal(ev.Users, []string{"alice"}) {
		t.Fatalf("leave = %+v, want bob leaving alice alone", ev)
	}
}

func TestBacklogHoldsOnlyTheLastMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(20*time.Second))
	defer cancel()
	o := testOptions(t)
	o.Backlog = 5
	_, base := startServer(t, o, nil)

	alice := dial(t, ctx, base, "alice", nil)
	var sent []string
	for i := range 12 {
		text := fmt.Sprintf("message %d", i)
		say(t, alice, text)
		sent = append(sent, text)
		until(t, alice, text, func(ev event) bool { return ev.Type == "message" && ev.Text == text })
	}

	bob := dial(t, ctx, base, "bob", nil)
	hello := next(t, bob)
	if hello.Type != "hello" {
		t.Fatalf("first event = %+v, want hello", hello)
	}
	var got []string
	for _, ev := range hello.History {
		if ev.Type != "message" || ev.Name != "alice" {
			t.Errorf("history entry %+v is not one of alice's messages", ev)
		}
		got = append(got, ev.Text)
	}
	if want := sent[len(sent)-5:]; !slices.Equal(got, want) {
		t.Fatalf("newcomer's history = %q, want the last 5 messages %q", got, want)
	}
}

// smallBuffers shrinks the kernel send buffer of every accepted connection,
// so a client that stops reading blocks the server's writes after kilobytes
// rather than megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestSlowClientIsDroppedAndOthersContinue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(30*time.Second))
	defer cancel()
	o := testOptions(t)
	o.QueueSize = 16
	o.Backlog = 0
	s, base := startServer(t, o, func(l net.Listener) net.Listener { return smallBuffers{l} })

	// slow completes the handshake and then never reads; its small receive
	// buffer makes it stall the server's writer quickly.
	slow := dial(t, ctx, base, "slow", &websocket.DialOptions{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(4096)
			}
			return c, err
		},
	})
	alice := dial(t, ctx, base, "alice", nil)
	bob := dial(t, ctx, base, "bob", nil)
	next(t, alice) // hello
	next(t, bob)   // hello

	// alice sends; after each message alice and bob read up to it, so the
	// room moves at the pace of its readers while slow reads nothing.
	pad := strings.Repeat("x", 900)
	dropped := map[*websocket.Conn]int{}
	var bobGot []string
	// The leave is announced once the dropped connection has ended: within
	// WriteTimeout and CloseTimeout of the drop.
	const maxMessages, after = 100000, 20
	deadline := time.Now().Add(testtime.Scaled(15 * time.Second))
	var sent int
	for i := 0; i < maxMessages && time.Now().Before(deadline) && (len(dropped) < 2 || i < dropped[alice]+after); i++ {
		text := fmt.Sprintf("%d %s", i, pad)
		say(t, alice, text)
		sent++
		for _, c := range []*websocket.Conn{alice, bob} {
			ev := until(t, c, "message "+text[:4], func(ev event) bool {
				if ev.Type == "leave" && ev.Name == "slow" {
					if _, ok := dropped[c]; ok {
						t.Errorf("leave of slow announced twice")
					}
					dropped[c] = i
				}
				return ev.Type == "message"
			})
			if c == bob {
				bobGot = append(bobGot, ev.Text)
			}
			if ev.Text != text {
				t.Fatalf("got message %.10q, want %.10q: messages lost or reordered", ev.Text, text)
			}
		}
	}
	if len(dropped) < 2 {
		t.Fatalf("slow client still in the room after %d messages of %d bytes (leave seen by %d)", sent, len(pad), len(dropped))
	}
	t.Logf("slow client dropped after %d messages; %d messages in all reached alice and bob", dropped[alice]+1, sent)
	if len(bobGot) != sent {
		t.Fatalf("bob got %d messages, want %d", len(bobGot), sent)
	}
	s.mu.Lock()
	users := s.usersLocked()
	s.mu.Unlock()
	if !slices.Equal(users, []string{"alice", "bob"}) {
		t.Fatalf("room = %q, want [alice bob]", users)
	}

	// The dropped client, reading at last, finds its connection ended: with
	// 1008 if the Close frame got through, or cut off if it did not.
	for i := 0; ; i++ {
		slow.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
		_, _, err := slow.ReadMessage()
		if err == nil {
			if i > maxMessages+10 {
				t.Fatal("slow client still receiving")
			}
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("slow client's connection still open: %v", err)
		}
		if code := websocket.CloseStatus(err); code != 0 && code != websocket.StatusPolicyViolation {
			t.Fatalf("slow client closed with %v, want %v", code, websocket.StatusPolicyViolation)
		}
		t.Logf("slow client's read ends with: %v", err)
		break
	}
}

func TestBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(20*time.Second))
	defer cancel()
	o := testOptions(t)
	_, base := startServer(t, o, nil)

	t.Run("InvalidNameClosesWith4000", func(t *testing.T) {
		for _, name := range []string{"", "   ", strings.Repeat("n", 25), "a\x01b"} {
			c := dial(t, ctx, base, name, nil)
			c.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
			_, _, err := c.ReadMessage()
			if code := websocket.CloseStatus(err); code != StatusInvalidName {
				t.Errorf("name %q: read error %v, want close %d", name, err, StatusInvalidName)
			}
		}
	})

	t.Run("MalformedMessagesGetAnErrorAndChangeNothing", func(t *testing.T) {
		c := dial(t, ctx, base, "carol", nil)
		next(t, c) // hello
		until(t, c, "own join", func(ev event) bool { return ev.Type == "join" })
		for _, m := range []struct {
			op websocket.Opcode
			p  string
		}{
			{websocket.OpText, "not json"},
			{websocket.OpText, `{"type":"shout","text":"hi"}`},
			{websocket.OpBinary, `{"type":"message","text":"hi"}`},
			{websocket.OpText, `{"type":"message","text":"` + strings.Repeat("y", o.MaxTextRunes+1) + `"}`},
		} {
			c.WriteMessage(m.op, []byte(m.p))
			if ev := next(t, c); ev.Type != "error" || ev.Text == "" {
				t.Errorf("after %v %.40q: got %+v, want an error event", m.op, m.p, ev)
			}
		}
		// Whitespace is not a message: nothing comes back for it, and the
		// next event is the real message.
		say(t, c, "   ")
		say(t, c, "real")
		if ev := next(t, c); ev.Type != "message" || ev.Text != "real" {
			t.Fatalf("got %+v, want the message %q", ev, "real")
		}
	})

	t.Run("OverReadLimitClosesWith1009", func(t *testing.T) {
		c := dial(t, ctx, base, "dave", nil)
		next(t, c) // hello
		c.WriteMessage(websocket.OpText, []byte(`{"type":"message","text":"`+strings.Repeat("z", int(o.MaxMessageBytes))+`"}`))
		for range 10 {
			c.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
			_, _, err := c.ReadMessage()
			if err != nil {
				if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
					t.Fatalf("read error %v, want close %v", err, websocket.StatusMessageTooBig)
				}
				return
			}
		}
		t.Fatal("connection still open after an oversized message")
	})
}

func TestDuplicateNameIsRefusedWith4000(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(20*time.Second))
	defer cancel()
	_, base := startServer(t, testOptions(t), nil)

	alice := dial(t, ctx, base, "alice", nil)
	next(t, alice) // hello
	bob := dial(t, ctx, base, "bob", nil)
	next(t, bob) // hello

	// The same name, also after trimming, is refused while alice is in the
	// room; a name differing in case is another name.
	for _, name := range []string{"alice", " alice "} {
		c := dial(t, ctx, base, name, nil)
		c.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != StatusInvalidName || !strings.Contains(ce.Reason, "taken") {
			t.Fatalf("second %q: read error %v, want close %d saying the name is taken", name, err, StatusInvalidName)
		}
	}
	other := dial(t, ctx, base, "Alice", nil)
	if ev := next(t, other); ev.Type != "hello" || ev.Name != "Alice" {
		t.Fatalf("Alice's first event = %+v, want hello to Alice", ev)
	}

	// The refused ones never joined, so the first leave bob hears is
	// alice's; once she has left, the name is free again.
	if err := alice.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Logf("alice close: %v", err)
	}
	ev := until(t, bob, "alice's leave", func(ev event) bool { return ev.Type == "leave" })
	if ev.Name != "alice" || !slices.Equal(ev.Users, []string{"Alice", "bob"}) {
		t.Fatalf("leave = %+v, want alice leaving Alice and bob", ev)
	}
	again := dial(t, ctx, base, "alice", nil)
	if ev := next(t, again); ev.Type != "hello" || ev.Name != "alice" {
		t.Fatalf("alice's first event on rejoining = %+v, want hello to alice", ev)
	}
}

func TestShutdownClosesWithGoingAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(20*time.Second))
	defer cancel()
	s, base := startServer(t, testOptions(t), nil)
	c := dial(t, ctx, base, "erin", nil)
	next(t, c) // hello
	s.Shutdown()
	var err error
	for i := 0; err == nil && i < 10; i++ {
		c.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
		_, _, err = c.ReadMessage()
	}
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Fatalf("read error %v, want close %v", err, websocket.StatusGoingAway)
	}
	// A newcomer after shutdown is turned away the same way.
	c2 := dial(t, ctx, base, "frank", nil)
	c2.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
	if _, _, err := c2.ReadMessage(); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("newcomer's read error %v, want close %v", err, websocket.StatusGoingAway)
	}
}

func TestPageIsServed(t *testing.T) {
	_, base := startServer(t, testOptions(t), nil)
	for path, want := range map[string]string{"/": "<title>fullduplex chat</title>", "/app.js": "new WebSocket(", "/style.css": "#log"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, err = io.Copy(&b, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.Contains(b.String(), want) {
			t.Errorf("GET %s: %d %v, body lacks %q", path, resp.StatusCode, err, want)
		}
	}
}
