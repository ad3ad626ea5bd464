package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// member is a test's chat client: it stays connected to one of nodes,
// moving to the next when its node goes away (if it may reconnect), and
// checks every message as it comes: each must be after the one before it in
// the Stream, so a duplicate or a message out of order is caught where it
// happens.
type member struct {
	t         *testing.T
	name      string
	nodes     []*nodeProc
	reconnect bool

	mu         sync.Mutex
	conn       *websocket.Conn // nil while connecting
	msgs       []event
	seen       map[string]int // message text: times received
	problems   []string
	users      []user // the latest presence
	hellos     []event
	errorTexts []string
	closeCode  websocket.StatusCode // the last close code seen
	done       chan struct{}
}

// join starts a member connected to nodes[0] (then nodes[1] and so on, if
// reconnect) and waits for its hello.
func join(ctx context.Context, t *testing.T, name string, reconnect bool, nodes ...*nodeProc) *member {
	t.Helper()
	m := &member{t: t, name: name, nodes: nodes, reconnect: reconnect, seen: map[string]int{}, done: make(chan struct{})}
	go m.run(ctx)
	if err := m.waitFor(ctx, "hello", func() bool { return len(m.hellos) > 0 }); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *member) run(ctx context.Context) {
	defer close(m.done)
	for i := 0; ctx.Err() == nil; i++ {
		m.session(ctx, m.nodes[i%len(m.nodes)])
		if !m.reconnect {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// session is one connection: dial, hello, messages until it ends.
func (m *member) session(ctx context.Context, n *nodeProc) {
	m.mu.Lock()
	last := ""
	if len(m.msgs) > 0 {
		last = m.msgs[len(m.msgs)-1].ID
	}
	m.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, testtime.Scaled(5*time.Second))
	conn, err := websocket.Dial(dctx, n.url(m.name, last), nil)
	cancel()
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { conn.CloseNow() })
	defer stop()
	defer conn.CloseNow()
	for {
		conn.SetReadDeadline(time.Now().Add(testtime.Scaled(30 * time.Second)))
		_, p, err := conn.ReadMessage()
		if err != nil {
			m.mu.Lock()
			m.conn = nil
			m.closeCode = websocket.CloseStatus(err)
			m.mu.Unlock()
			return
		}
		var ev event
		if err := json.Unmarshal(p, &ev); err != nil {
			m.problem("bad event %q: %v", p, err)
			return
		}
		m.mu.Lock()
		switch ev.Type {
		case "hello":
			if !ev.Resumed && len(m.msgs) > 0 {
				m.problemLocked("hello after %s is not a resumption", last)
			}
			for _, h := range ev.History {
				m.addLocked(h)
			}
			m.hellos = append(m.hellos, ev)
			m.users = ev.Users
			m.conn = conn
		case "message":
			m.addLocked(ev)
		case "presence":
			m.users = ev.Users
		case "error":
			m.errorTexts = append(m.errorTexts, ev.Text)
		}
		m.mu.Unlock()
	}
}

func (m *member) addLocked(ev event) {
	id, ok := parseStreamID(ev.ID)
	if !ok {
		m.problemLocked("message %q without a stream ID", ev.Text)
		return
	}
	if n := len(m.msgs); n > 0 {
		prev, _ := parseStreamID(m.msgs[n-1].ID)
		if !prev.less(id) {
			m.problemLocked("message %s (%q) after %s: duplicated or out of order", ev.ID, ev.Text, prev)
		}
	}
	m.msgs = append(m.msgs, ev)
	m.seen[ev.Text]++
}

func (m *member) problem(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.problemLocked(format, args...)
}

func (m *member) problemLocked(format string, args ...any) {
	m.problems = append(m.problems, m.name+": "+fmt.Sprintf(format, args...))
}

// waitFor polls cond, under m.mu, until it holds, or fails when ctx ends
// first. It may be called from any goroutine.
func (m *member) waitFor(ctx context.Context, what string, cond func() bool) error {
	for {
		m.mu.Lock()
		ok := cond()
		m.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			m.mu.Lock()
			defer m.mu.Unlock()
			return fmt.Errorf("%s: no %s (%d messages, problems %q): %w", m.name, what, len(m.msgs), m.problems, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// connected waits until the member is connected and returns its Conn.
func (m *member) connected(ctx context.Context) (*websocket.Conn, error) {
	var c *websocket.Conn
	err := m.waitFor(ctx, "connection", func() bool { c = m.conn; return c != nil })
	return c, err
}

func (m *member) has(text string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen[text] > 0
}

// say sends text and waits until it comes back from the room. If the
// connection breaks first, it looks for text among the messages the next
// node sends on resuming, and sends it again only if it is not there: a
// message is never sent twice, and none is lost on the way.
func (m *member) say(ctx context.Context, text string) error {
	b, _ := json.Marshal(clientMessage{Type: "message", Text: text})
	for !m.has(text) {
		c, err := m.connected(ctx)
		if err != nil {
			return err
		}
		if m.has(text) {
			break
		}
		c.SetWriteDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
		c.WriteMessage(websocket.OpText, b) // a failure shows as the connection ending
		// On the same connection the message comes back (or an error
		// does) however long it takes, within ctx: only a new connection
		// may need it sent again (a bound here would send it twice on a
		// machine slow to echo).
		for ctx.Err() == nil && !m.has(text) {
			if m.currentConn() != c {
				// Reconnected: the resumed history has everything
				// the room had; wait a while for what was in flight
				// (appended, but not yet read by the new node).
				time.Sleep(testtime.Scaled(time.Second))
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %q not echoed: %w", m.name, text, ctx.Err())
		}
	}
	return nil
}

func (m *member) currentConn() *websocket.Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conn
}

// ids returns the Stream IDs of the messages m has, in order.
func (m *member) ids() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, len(m.msgs))
	for i, ev := range m.msgs {
		ids[i] = ev.ID
	}
	return ids
}

func (m *member) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

// check fails t if m saw a duplicate, a message out of order, or a message
// more than once.
func (m *member) check(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.problems {
		t.Error(p)
	}
	for text, k := range m.seen {
		if k != 1 {
			t.Errorf("%s: %q received %d times", m.name, text, k)
		}
	}
}

// sameHistory fails t unless every member has exactly the IDs want.
func sameHistory(t *testing.T, want []string, members []*member) {
	t.Helper()
	for _, m := range members {
		m.check(t)
		if got := m.ids(); !slices.Equal(got, want) {
			t.Errorf("%s has %d messages, the Stream %d; first difference at %d", m.name, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
