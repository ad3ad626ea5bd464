package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
	"github.com/redis/go-redis/v9"
)

// inProcess serves n, a node of a room in r that the test drives itself (its
// Stream reader is not started unless the test calls Start), on a loopback
// server, and shuts both down when t ends. It returns the WebSocket URL
// for a name.
func inProcess(t *testing.T, n *node) func(name, last string) string {
	t.Helper()
	ts := httptest.NewServer(n)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(10*time.Second))
		defer cancel()
		n.Shutdown(ctx)
		ts.Close()
		n.Wait()
	})
	return func(name, last string) string {
		u := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws?name=" + name
		if last != "" {
			u += "&last=" + last
		}
		return u
	}
}

// testNode makes a node of room with the test's bounds, logging to t.
func testNode(t *testing.T, r *redisServer, room string) *node {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	cfg := defaultConfig()
	cfg.Room = room
	cfg.Backlog = 0
	cfg.RedisTimeout = testtime.Scaled(time.Second)
	cfg.CloseTimeout = testtime.Scaled(2 * time.Second)
	cfg.Logf = t.Logf
	return newNode(cfg, rdb)
}

// readEvent reads the next event of c, or fails t.
func readEvent(t *testing.T, c *websocket.Conn) event {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
	_, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	var ev event
	if err := json.Unmarshal(p, &ev); err != nil {
		t.Fatalf("bad event %q: %v", p, err)
	}
	return ev
}

// entries reads the room's Stream from Redis as the node delivers it.
func entries(t *testing.T, n *node) []entry {
	t.Helper()
	msgs, err := n.rdb.XRange(context.Background(), n.streamKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	es := make([]entry, len(msgs))
	for i, m := range msgs {
		id, _ := parseStreamID(m.ID)
		es[i] = entry{id, prepare(messageEvent(m))}
	}
	return es
}

// TestResumeAheadOfTheNodeGetsEachEntryOnce: a client whose last node had
// read further than this one resumes here after an entry this node has not
// delivered. The Group sends every live entry to every member, so the node
// holds the client back until it has delivered that entry, and the client
// then gets every entry after its last ID once, in order, whether the one
// the node delivers next comes in the hello or live.
func TestResumeAheadOfTheNodeGetsEachEntryOnce(t *testing.T) {
	r := startRedis(t, false)
	n := testNode(t, r, "ahead")
	ctx := context.Background()
	for _, text := range []string{"m0", "m1", "m2", "m3", "m4"} {
		if err := n.publish(ctx, "alice", text); err != nil {
			t.Fatal(err)
		}
	}
	es := entries(t, n)
	// The node has delivered m0 and m1; the client has up to m3.
	n.mu.Lock()
	n.last = es[1].id
	n.mu.Unlock()
	url := inProcess(t, n)

	c, err := websocket.Dial(ctx, url("bob", es[3].id.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	// Wait until the node is holding bob back for m3.
	deadline := time.Now().Add(testtime.Scaled(5 * time.Second))
	for {
		n.mu.Lock()
		waiting := n.moved != nil
		n.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node did not wait to reach bob's last ID")
		}
		time.Sleep(5 * time.Millisecond)
	}
	n.deliver(es[2:4]) // m2 and m3: bob has them
	n.deliver(es[4:5]) // m4, before or after bob is in

	hello := readEvent(t, c)
	if hello.Type != "hello" || !hello.Resumed {
		t.Fatalf("first event %+v, want a resumed hello", hello)
	}
	var got []string
	for _, h := range hello.History {
		got = append(got, h.Text)
	}
	// m5, delivered after bob is surely in, ends what bob must get.
	if err := n.publish(ctx, "alice", "m5"); err != nil {
		t.Fatal(err)
	}
	es = entries(t, n)
	n.deliver(es[5:])
	for !slices.Contains(got, "m5") {
		if ev := readEvent(t, c); ev.Type == "message" {
			got = append(got, ev.Text)
		}
	}
	if want := []string{"m4", "m5"}; !slices.Equal(got, want) {
		t.Fatalf("bob got %q after m3, want %q", got, want)
	}
}

// TestJoinGetsWhatWasDeliveredSinceItsPosition: a client joins at the
// position P the node had when its history was read from Redis; the entries
// the node delivered meanwhile come from the node, after the hello and
// before the live ones, each once. If more went by than the client's queue
// holds, it is dropped with 1008, as it would be falling that far behind.
func TestJoinGetsWhatWasDeliveredSinceItsPosition(t *testing.T) {
	r := startRedis(t, false)
	n := testNode(t, r, "since")
	n.cfg.QueueSize = 4 // the node keeps the last 4 to 8 entries delivered
	n.room.QueueSize = n.cfg.QueueSize
	ctx := context.Background()
	for i := range 10 {
		if err := n.publish(ctx, "alice", "m"+itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	es := entries(t, n)
	n.mu.Lock()
	n.last = es[0].id
	n.mu.Unlock()
	n.deliver(es[1:4])

	// The handler admits its client at the position of m1, with m1 in
	// the hello as if read from Redis, as join does once it has the
	// history.
	admitted := make(chan websocket.StatusCode, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		m1 := messageEvent(redis.XMessage{ID: es[1].id.String(), Values: map[string]any{"name": "alice", "text": "m1"}})
		code, why := n.admit(conn, "bob", n.memberOf("bob"), es[1].id, event{Type: "hello", Resumed: true, History: []event{m1}})
		admitted <- code
		if code != 0 {
			conn.Close(code, why)
			return
		}
		defer n.leave(conn)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer ts.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http")

	c, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	hello := readEvent(t, c)
	if hello.Type != "hello" || len(hello.History) != 1 || hello.History[0].Text != "m1" {
		t.Fatalf("first event %+v, want a hello with m1", hello)
	}
	if code := <-admitted; code != 0 {
		t.Fatalf("admit: close code %v", code)
	}
	n.deliver(es[4:5]) // m4, live
	var got []string
	for !slices.Contains(got, "m4") {
		if ev := readEvent(t, c); ev.Type == "message" {
			got = append(got, ev.Text)
		}
	}
	if want := []string{"m2", "m3", "m4"}; !slices.Equal(got, want) {
		t.Fatalf("bob got %q after the hello, want %q", got, want)
	}
	c.Close(websocket.StatusNormalClosure, "")

	// m5 to m9 move the node's memory of what it delivered past m1.
	n.deliver(es[5:])
	c, err = websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
	_, p, err := c.ReadMessage()
	if code := websocket.CloseStatus(err); code != websocket.StatusPolicyViolation {
		t.Fatalf("got %q, %v; want close %v", p, err, websocket.StatusPolicyViolation)
	}
	if code := <-admitted; code != websocket.StatusPolicyViolation {
		t.Fatalf("admit: close code %v, want %v", code, websocket.StatusPolicyViolation)
	}
}

// TestResumeAheadOfAStuckNodeIsTryAgainLater: if the node does not reach
// the client's last ID within the Redis timeout, the client is closed with
// 1013 and goes elsewhere, rather than getting entries it has.
func TestResumeAheadOfAStuckNodeIsTryAgainLater(t *testing.T) {
	r := startRedis(t, false)
	n := testNode(t, r, "stuck")
	ctx := context.Background()
	for _, text := range []string{"m0", "m1"} {
		if err := n.publish(ctx, "alice", text); err != nil {
			t.Fatal(err)
		}
	}
	es := entries(t, n)
	n.mu.Lock()
	n.last = es[0].id
	n.mu.Unlock()
	url := inProcess(t, n)

	c, err := websocket.Dial(ctx, url("bob", es[1].id.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadDeadline(time.Now().Add(n.cfg.RedisTimeout + testtime.Scaled(5*time.Second)))
	_, p, err := c.ReadMessage()
	if code := websocket.CloseStatus(err); code != websocket.StatusTryAgainLater {
		t.Fatalf("got %q, %v; want close %v", p, err, websocket.StatusTryAgainLater)
	}
	if n.room.Len() != 0 {
		t.Fatalf("%d members, want none", n.room.Len())
	}
}

// TestShutdownClosesClientsGoingAway: the node's Shutdown, which main calls
// before http.Server.Shutdown, closes every client with 1001 through the
// Group and waits for the closing handshakes; a handshake after it is
// refused with 503.
func TestShutdownClosesClientsGoingAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(30*time.Second))
	defer cancel()
	r := startRedis(t, false)
	n := testNode(t, r, "shutdown")
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	url := inProcess(t, n)
	var cs []*websocket.Conn
	for _, name := range []string{"alice", "bob", "carol"} {
		c, err := websocket.Dial(ctx, url(name, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if ev := readEvent(t, c); ev.Type != "hello" {
			t.Fatalf("%s's first event is %q, want hello", name, ev.Type)
		}
		cs = append(cs, c)
	}

	// The clients read while the node shuts down: the Group's Close waits
	// for their answer.
	codes := make(chan websocket.StatusCode, len(cs))
	for _, c := range cs {
		go func() {
			for {
				c.SetReadDeadline(time.Now().Add(testtime.Scaled(10 * time.Second)))
				if _, _, err := c.ReadMessage(); err != nil {
					codes <- websocket.CloseStatus(err)
					return
				}
			}
		}()
	}
	n.Shutdown(ctx)
	if ctx.Err() != nil {
		t.Fatal("Shutdown returned only when the test's context ended")
	}
	if k := n.room.Len(); k != 0 {
		t.Fatalf("%d members after Shutdown, want none", k)
	}
	for range cs {
		if code := <-codes; code != websocket.StatusGoingAway {
			t.Fatalf("client closed with %v, want %v", code, websocket.StatusGoingAway)
		}
	}

	_, err := websocket.Dial(ctx, url("dave", ""), nil)
	var he *websocket.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake after Shutdown: %v, want status %d", err, http.StatusServiceUnavailable)
	}
}
