package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

func testOptions(t *testing.T) options {
	o := defaultOptions()
	o.WriteTimeout = testtime.Scaled(2 * time.Second)
	o.CloseTimeout = 500 * time.Millisecond
	o.Logf = t.Logf
	return o
}

func startServer(t *testing.T, o options) (*server, string) {
	t.Helper()
	s, err := newServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Shutdown()
		ts.Close()
		s.Wait()
	})
	return s, ts.URL
}

func dial(t *testing.T, ctx context.Context, base string) *websocket.Conn {
	t.Helper()
	c, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// message is either reply the server sends.
type message struct {
	counts
	Error string `json:"error"`
}

// read returns the next message; errors are returned, not fatal, so it can
// run in other goroutines.
func read(c *websocket.Conn) (message, error) {
	c.SetReadDeadline(time.Now().Add(testtime.Scaled(10 * time.Second)))
	_, p, err := c.ReadMessage()
	if err != nil {
		return message{}, err
	}
	var m message
	err = json.Unmarshal(p, &m)
	return m, err
}

func mustRead(t *testing.T, c *websocket.Conn) message {
	t.Helper()
	m, err := read(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func send(c *websocket.Conn, op websocket.Opcode, p string) error {
	c.SetWriteDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
	return c.WriteMessage(op, []byte(p))
}

func voteFor(name string) string {
	b, _ := json.Marshal(vote{Type: "vote", Candidate: name})
	return string(b)
}

// votesOf returns the board as a map, checking that its total is the sum.
func votesOf(t *testing.T, m message) map[string]int64 {
	t.Helper()
	got := make(map[string]int64)
	var sum int64
	for _, c := range m.Candidates {
		got[c.Name] = c.Votes
		sum += c.Votes
	}
	if sum != m.Total {
		t.Errorf("board %d: total %d, but the votes add up to %d", m.Seq, m.Total, sum)
	}
	return got
}

func TestConcurrentVotesAreCountedExactly(t *testing.T) {
	const clients, votesEach = 20, 50
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(30*time.Second))
	defer cancel()
	o := testOptions(t)
	s, base := startServer(t, o)

	// Client i's j-th vote goes to candidate (i+j) mod n; want counts the
	// same way, independently of the server.
	names := o.Candidates
	want := make(map[string]int64)
	for i := range clients {
		for j := range votesEach {
			want[names[(i+j)%len(names)]]++
		}
	}

	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, ctx, base)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*clients)
	final := make([]message, clients)
	for i, c := range conns {
		wg.Add(2)
		go func() { // voter
			defer wg.Done()
			for j := range votesEach {
				if err := send(c, websocket.OpText, voteFor(names[(i+j)%len(names)])); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() { // reader: boards must only move forward, until all votes are in
			defer wg.Done()
			var last int64
			for {
				m, err := read(c)
				if err != nil {
					errs <- err
					return
				}
				if m.Type != "counts" {
					errs <- fmt.Errorf("client %d: unexpected %+v", i, m)
					return
				}
				if m.Seq <= last {
					errs <- fmt.Errorf("client %d: board %d after board %d", i, m.Seq, last)
					return
				}
				last = m.Seq
				if m.Total == clients*votesEach {
					final[i] = m
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, m := range final {
		got := votesOf(t, m)
		for name, n := range want {
			if got[name] != n {
				t.Errorf("client %d's last board: %s has %d votes, want %d", i, name, got[name], n)
			}
		}
	}
	for name, n := range s.snapshot() {
		if n != want[name] {
			t.Errorf("server: %s has %d votes, want %d", name, n, want[name])
		}
	}
}

func TestBadVotesAreRejectedAndChangeNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(20*time.Second))
	defer cancel()
	s, base := startServer(t, testOptions(t))
	c := dial(t, ctx, base)
	if m := mustRead(t, c); m.Type != "counts" || m.Total != 0 {
		t.Fatalf("first message = %+v, want an empty board", m)
	}
	for _, tc := range []struct {
		name string
		op   websocket.Opcode
		msg  string
		want string // in the error text
	}{
		{"UnknownCandidate", websocket.OpText, voteFor("Haggis"), `unknown candidate "Haggis"`},
		{"CandidateNamesAreExact", websocket.OpText, voteFor("pizza"), `unknown candidate "pizza"`},
		{"EmptyCandidate", websocket.OpText, voteFor(""), `unknown candidate ""`},
		{"NotJSON", websocket.OpText, "Pizza", "malformed vote"},
		{"TruncatedJSON", websocket.OpText, `{"type":"vote","candidate":"Pizza"`, "malformed vote"},
		{"TrailingData", websocket.OpText, voteFor("Pizza") + voteFor("Pizza"), "malformed vote"},
		{"CandidateNotAString", websocket.OpText, `{"type":"vote","candidate":1}`, "malformed vote"},
		{"UnknownField", websocket.OpText, `{"type":"vote","candidate":"Pizza","weight":100}`, "malformed vote"},
		{"WrongType", websocket.OpText, `{"type":"unvote","candidate":"Pizza"}`, `unknown message type "unvote"`},
		{"BinaryMessage", websocket.OpBinary, voteFor("Pizza"), "JSON text messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := send(c, tc.op, tc.msg); err != nil {
				t.Fatal(err)
			}
			m := mustRead(t, c)
			if m.Type != "error" || !strings.Contains(m.Error, tc.want) {
				t.Fatalf("reply = %+v, want an error containing %q", m, tc.want)
			}
		})
	}
	for name, n := range s.snapshot() {
		if n != 0 {
			t.Errorf("after bad votes, %s has %d votes, want 0", name, n)
		}
	}
	// The connection still works, and the next board counts exactly one vote.
	if err := send(c, websocket.OpText, voteFor("Sushi")); err != nil {
		t.Fatal(err)
	}
	m := mustRead(t, c)
	if got := votesOf(t, m); m.Type != "counts" || m.Total != 1 || got["Sushi"] != 1 {
		t.Fatalf("after one good vote: %+v, want Sushi 1 and total 1", m)
	}
}

func TestEveryPageSeesEachVote(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(20*time.Second))
	defer cancel()
	_, base := startServer(t, testOptions(t))
	a := dial(t, ctx, base)
	mustRead(t, a) // board with 1 online
	b := dial(t, ctx, base)
	if m := mustRead(t, b); m.Online != 2 {
		t.Fatalf("newcomer's board says %d online, want 2", m.Online)
	}
	for range 3 {
		if err := send(a, websocket.OpText, voteFor("Tacos")); err != nil {
			t.Fatal(err)
		}
	}
	// b may skip boards (they are full states), but must reach Tacos 3.
	for {
		m := mustRead(t, b)
		if votesOf(t, m)["Tacos"] == 3 {
			break
		}
		if m.Total > 3 {
			t.Fatalf("board %+v counts more votes than were cast", m)
		}
	}
	// A page that opens now gets the current board straight away.
	c := dial(t, ctx, base)
	if m := mustRead(t, c); votesOf(t, m)["Tacos"] != 3 || m.Total != 3 || m.Online != 3 {
		t.Fatalf("newcomer's board = %+v, want Tacos 3 of 3, 3 online", m)
	}
}

func TestOversizedMessageClosesWith1009(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(20*time.Second))
	defer cancel()
	o := testOptions(t)
	_, base := startServer(t, o)
	c := dial(t, ctx, base)
	mustRead(t, c)
	send(c, websocket.OpText, voteFor(strings.Repeat("P", int(o.MaxMessageBytes))))
	for range 10 {
		if _, err := read(c); err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
				t.Fatalf("read error %v, want close %v", err, websocket.StatusMessageTooBig)
			}
			return
		}
	}
	t.Fatal("connection still open after an oversized message")
}

func TestNewServerRejectsBadCandidates(t *testing.T) {
	for name, list := range map[string][]string{
		"None":      nil,
		"Empty":     {"Pizza", " "},
		"Duplicate": {"Pizza", "Sushi", " Pizza"},
	} {
		o := defaultOptions()
		o.Candidates = list
		if _, err := newServer(o); err == nil {
			t.Errorf("%s: newServer(%q) succeeded, want an error", name, list)
		}
	}
}

func TestPageIsServed(t *testing.T) {
	_, base := startServer(t, testOptions(t))
	for path, want := range map[string]string{"/": "<title>fullduplex vote</title>", "/app.js": "new WebSocket(", "/style.css": ".candidate"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %v, body lacks %q", path, resp.StatusCode, err, want)
		}
	}
}
