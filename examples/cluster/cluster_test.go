package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// sendAll has each sender say its messages "<name> <k>" for k < perSender,
// concurrently, each waiting for the room's echo of the one before.
func sendAll(ctx context.Context, senders []*member, perSender int, pace time.Duration) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(senders))
	for _, s := range senders {
		wg.Go(func() {
			for k := range perSender {
				if err := s.say(ctx, fmt.Sprintf("%s %d", s.name, k)); err != nil {
					errs <- err
					return
				}
				time.Sleep(pace)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// checkSenders fails t unless each sender's messages came, in every
// member's history, once each and in the order they were said.
func checkSenders(t *testing.T, m *member, senders []*member, perSender int) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	next := map[string]int{}
	for _, ev := range m.msgs {
		want := fmt.Sprintf("%s %d", ev.Name, next[ev.Name])
		if ev.Text != want {
			t.Errorf("%s: got %q from %s, want %q", m.name, ev.Text, ev.Name, want)
			return
		}
		next[ev.Name]++
	}
	for _, s := range senders {
		if next[s.name] != perSender {
			t.Errorf("%s: %d messages from %s, want %d", m.name, next[s.name], s.name, perSender)
		}
	}
}

func TestThreeNodesEveryClientGetsEveryMessageOnceInOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()
	r := startRedis(t, false)
	nodes := []*nodeProc{startNode(t, r.addr, "a"), startNode(t, r.addr, "b"), startNode(t, r.addr, "c")}

	var members, senders []*member
	for i := range 30 {
		m := join(ctx, t, "u"+itoa(i), false, nodes[i%3])
		members = append(members, m)
		if i < 6 { // two senders on each node
			senders = append(senders, m)
		}
	}
	const perSender = 25
	if err := sendAll(ctx, senders, perSender, 0); err != nil {
		t.Fatal(err)
	}
	total := perSender * len(senders)
	for _, m := range members {
		if err := m.waitFor(ctx, fmt.Sprintf("%d messages", total), func() bool { return len(m.msgs) >= total }); err != nil {
			t.Fatal(err)
		}
	}
	// Late extras would show as a longer history than the Stream's.
	time.Sleep(200 * time.Millisecond)
	want := streamIDs(t, r.client(t))
	if len(want) != total {
		t.Fatalf("the Stream holds %d entries, want %d", len(want), total)
	}
	sameHistory(t, want, members)
	for _, m := range members {
		checkSenders(t, m, senders, perSender)
	}
}

func TestKilledNodeClientsResumeElsewhere(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(90*time.Second))
	defer cancel()
	const ttl = 2 * time.Second
	r := startRedis(t, false)
	flags := []string{"-presence-ttl", ttl.String()}
	a, b, c := startNode(t, r.addr, "a", flags...), startNode(t, r.addr, "b", flags...), startNode(t, r.addr, "c", flags...)
	nodes := []*nodeProc{a, b, c}

	// Each member starts on its own node and moves on to the next ones
	// when it loses it: c's go to a or b.
	var members, senders []*member
	for i := range 30 {
		order := slices.Concat(nodes[i%3:], nodes[:i%3])
		m := join(ctx, t, "u"+itoa(i), true, order...)
		members = append(members, m)
		if i < 9 { // three senders on each node
			senders = append(senders, m)
		}
	}
	watcher := members[28] // on b: never disconnected
	if watcher.nodes[0] != b {
		t.Fatal("watcher not on b")
	}
	if err := watcher.waitFor(ctx, "30 users online", func() bool { return len(watcher.users) == 30 }); err != nil {
		t.Fatal(err)
	}

	const perSender = 30
	sent := make(chan error, 1)
	go func() { sent <- sendAll(ctx, senders, perSender, 10*time.Millisecond) }()

	total := perSender * len(senders)
	if err := watcher.waitFor(ctx, "a third of the messages", func() bool { return len(watcher.msgs) >= total/3 }); err != nil {
		t.Fatal(err)
	}
	c.kill()
	killed := time.Now()
	t.Logf("killed node c after %d messages of %d", watcher.count(), total)

	// c's users go from the presence list within the TTL (plus the
	// watcher's node's next look, a third of it), though their clients are
	// back on other nodes by then, under the same names.
	onC := func() bool {
		for _, u := range watcher.users {
			if u.Node == "c" {
				return true
			}
		}
		return false
	}
	pctx, pcancel := context.WithTimeout(ctx, ttl+ttl/3+testtime.Scaled(3*time.Second))
	err := watcher.waitFor(pctx, "presence without node c", func() bool { return !onC() })
	pcancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node c's users gone from the presence list %v after the kill", time.Since(killed).Round(10*time.Millisecond))

	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if err := m.waitFor(ctx, fmt.Sprintf("%d messages", total), func() bool { return len(m.msgs) >= total }); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	want := streamIDs(t, r.client(t))
	if len(want) != total {
		t.Fatalf("the Stream holds %d entries, want %d: a message was lost or sent twice", len(want), total)
	}
	sameHistory(t, want, members)
	for _, m := range members {
		checkSenders(t, m, senders, perSender)
	}
	moved := 0
	for _, m := range members {
		m.mu.Lock()
		if len(m.hellos) > 1 {
			moved++
			if last := m.hellos[len(m.hellos)-1]; !last.Resumed || last.Node == "c" {
				t.Errorf("%s: last hello %+v, want a resumption on a or b", m.name, last)
			}
		}
		m.mu.Unlock()
	}
	if moved < 10 {
		t.Errorf("%d members reconnected, want c's 10 at least", moved)
	}
	// Everyone is online again, on a or b, each once.
	err = watcher.waitFor(ctx, "30 users on a and b", func() bool { return len(watcher.users) == 30 && !onC() })
	if err != nil {
		t.Fatal(err)
	}
}

func TestRedisRestartLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()
	r := startRedis(t, true)
	a, b := startNode(t, r.addr, "a"), startNode(t, r.addr, "b")
	reader := join(ctx, t, "reader", false, a)
	sender := join(ctx, t, "sender", false, b)

	for k := range 10 {
		if err := sender.say(ctx, fmt.Sprintf("sender %d", k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := reader.waitFor(ctx, "10 messages", func() bool { return len(reader.msgs) == 10 }); err != nil {
		t.Fatal(err)
	}

	// Redis dies. A message sent now is refused, not lost quietly, and a
	// newcomer is told to try again later.
	r.kill()
	down := func(m *member) bool { return len(m.errorTexts) > 0 }
	sendRaw(t, sender, "while redis is down")
	if err := sender.waitFor(ctx, "error event", func() bool { return down(sender) }); err != nil {
		t.Fatal(err)
	}
	if got := sender.errorTexts[0]; !strings.Contains(got, "not sent") {
		t.Errorf("error while redis is down = %q, want a not sent", got)
	}
	newcomer, err := websocket.Dial(ctx, a.url("newcomer", ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	newcomer.SetReadDeadline(time.Now().Add(testtime.Scaled(10 * time.Second)))
	if _, _, err := newcomer.ReadMessage(); websocket.CloseStatus(err) != websocket.StatusTryAgainLater {
		t.Errorf("newcomer while redis is down: %v, want close %v", err, websocket.StatusTryAgainLater)
	}
	newcomer.CloseNow()
	time.Sleep(500 * time.Millisecond) // the nodes' readers are in their backoff now

	// Redis comes back with its data. Messages sent through b at once,
	// before a's reader is back, reach a's reader from where it stopped.
	r.start()
	for k := 10; k < 20; k++ {
		text := fmt.Sprintf("sender %d", k)
		for {
			sender.mu.Lock()
			sender.errorTexts = nil
			sender.mu.Unlock()
			sendRaw(t, sender, text)
			err := sender.waitFor(ctx, "echo or error", func() bool { return sender.seen[text] > 0 || down(sender) })
			if err != nil {
				t.Fatal(err)
			}
			if sender.has(text) {
				break
			}
			time.Sleep(50 * time.Millisecond) // b's client has not reconnected yet
		}
	}
	if err := reader.waitFor(ctx, "20 messages", func() bool { return len(reader.msgs) == 20 }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	want := streamIDs(t, r.client(t))
	if len(want) != 20 {
		t.Fatalf("the Stream holds %d entries after the restart, want 20", len(want))
	}
	sameHistory(t, want, []*member{reader, sender})
	checkSenders(t, reader, []*member{sender}, 20)
	if !strings.Contains(a.log(), "reading the stream again") {
		t.Errorf("node a's log does not show its reader resuming:\n%s", a.log())
	}
}

// sendRaw sends text once on m's connection.
func sendRaw(t *testing.T, m *member, text string) {
	t.Helper()
	c := m.currentConn()
	if c == nil {
		t.Fatalf("%s not connected", m.name)
	}
	c.SetWriteDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
	if err := c.WriteMessage(websocket.OpText, []byte(`{"type":"message","text":"`+text+`"}`)); err != nil {
		t.Fatal(err)
	}
}

// TestResumeOlderThanTheStreamSaysSo resumes after an ID that MAXLEN has
// trimmed away: the hello has what the Stream still holds, up to the last
// message, and says there may be a gap. Resuming after an ID still held has
// exactly the messages after it and no gap.
func TestResumeOlderThanTheStreamSaysSo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()
	// Small Stream nodes, so MAXLEN ~ 4 really trims.
	r := startRedis(t, false, "--stream-node-max-entries", "2")
	a := startNode(t, r.addr, "a", "-maxlen", "4")
	sender := join(ctx, t, "sender", false, a)
	for k := range 20 {
		if err := sender.say(ctx, fmt.Sprintf("sender %d", k)); err != nil {
			t.Fatal(err)
		}
	}
	ids := sender.ids()
	sender.check(t)

	hello := func(last string) event {
		t.Helper()
		c, err := websocket.Dial(ctx, a.url("late", last), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.SetReadDeadline(time.Now().Add(testtime.Scaled(10 * time.Second)))
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var ev event
		if err := json.Unmarshal(p, &ev); err != nil || ev.Type != "hello" {
			t.Fatalf("first event %q, want a hello", p)
		}
		return ev
	}
	historyIDs := func(ev event) []string {
		var out []string
		for _, h := range ev.History {
			out = append(out, h.ID)
		}
		return out
	}

	ev := hello(ids[0])
	got := historyIDs(ev)
	if !ev.Resumed || !ev.Gap {
		t.Errorf("resuming after a trimmed ID: resumed %v, gap %v; want both", ev.Resumed, ev.Gap)
	}
	if len(got) == 0 || len(got) >= len(ids)-1 || !slices.Equal(got, ids[len(ids)-len(got):]) {
		t.Errorf("resuming after a trimmed ID gave %d messages %v, want the Stream's last few of %v", len(got), got, ids)
	}

	ev = hello(ids[len(ids)-3])
	if got, want := historyIDs(ev), ids[len(ids)-2:]; !ev.Resumed || ev.Gap || !slices.Equal(got, want) {
		t.Errorf("resuming after a held ID: resumed %v, gap %v, history %v; want %v and no gap", ev.Resumed, ev.Gap, got, want)
	}
}

// TestRedisLosesItsDataRoomGoesOn restarts Redis empty (no persistence)
// under two nodes: the nodes' heartbeats put their users back in the
// presence set, and a message sent afterwards reaches the other node, whose
// reader resumes from an ID the new Stream never had (new IDs are later,
// being made from the clock).
func TestRedisLosesItsDataRoomGoesOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()
	r := startRedis(t, false)
	flags := []string{"-presence-ttl", "1s"}
	a, b := startNode(t, r.addr, "a", flags...), startNode(t, r.addr, "b", flags...)
	alice := join(ctx, t, "alice", false, a)
	bob := join(ctx, t, "bob", false, b)
	if err := bob.say(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	both := func() bool { return len(alice.users) == 2 && alice.seen["before"] == 1 }
	if err := alice.waitFor(ctx, "bob online and his message", both); err != nil {
		t.Fatal(err)
	}

	r.kill()
	r.start()
	emptied := time.Now()
	for {
		bob.mu.Lock()
		bob.errorTexts = nil
		bob.mu.Unlock()
		sendRaw(t, bob, "after")
		err := bob.waitFor(ctx, "echo or error", func() bool { return bob.seen["after"] > 0 || len(bob.errorTexts) > 0 })
		if err != nil {
			t.Fatal(err)
		}
		if bob.has("after") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := alice.waitFor(ctx, `"after"`, func() bool { return alice.seen["after"] == 1 }); err != nil {
		t.Fatal(err)
	}
	if got := streamIDs(t, r.client(t)); len(got) != 1 {
		t.Errorf("the new Stream holds %d entries, want 1", len(got))
	}
	users := func() []user {
		alice.mu.Lock()
		defer alice.mu.Unlock()
		return alice.users
	}
	pctx, pcancel := context.WithTimeout(ctx, testtime.Scaled(5*time.Second))
	defer pcancel()
	err := alice.waitFor(pctx, "both users back", func() bool {
		return slices.Equal(alice.users, []user{{"alice", "a"}, {"bob", "b"}})
	})
	if err != nil {
		t.Fatalf("%v; users %v", err, users())
	}
	t.Logf("both users back in the presence list %v after Redis came back empty", time.Since(emptied).Round(10*time.Millisecond))
	alice.check(t)
	bob.check(t)
}
