package main

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/fullduplex/websocket"
)

// This file is the node's local fan-out. Its clients are the members of a
// websocket.Group (node.room), which queues each message for each of them
// without waiting, writes what is queued for a member in one write, drops
// with 1008 a client that cannot keep up and closes them all with 1001 on
// Shutdown. What the node adds is the order of joining: a client joins at
// a position in the Stream and gets what came before it from Redis, the
// rest from the Group, each entry once.

// entry is a Stream entry as the node delivers it, encoded once.
type entry struct {
	id streamID
	pm *websocket.PreparedMessage
}

var (
	errShuttingDown = errors.New("node shutting down")
	errBehind       = errors.New("node behind the client's last ID")
)

// deliver broadcasts es, the next entries of the Stream in order, to every
// client here. An XREAD's entries go in one Broadcast, which each member's
// writer sends in one write.
func (n *node) deliver(es []entry) {
	pms := make([]*websocket.PreparedMessage, len(es))
	for i, e := range es {
		pms[i] = e.pm
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// recent keeps QueueSize to twice that many entries, trimmed in one
	// move when it reaches twice.
	for _, e := range es {
		if q := n.cfg.QueueSize; len(n.recent) == 2*q {
			n.forgot = n.recent[q-1].id
			n.recent = slices.Delete(n.recent, 0, q)
		}
		n.recent = append(n.recent, e)
	}
	n.last = es[len(es)-1].id
	n.room.Broadcast(pms...)
	if n.moved != nil {
		close(n.moved)
		n.moved = nil
	}
}

// broadcast sends pm, which is not a Stream entry (a presence change), to
// every client here. It is ordered with join by n.mu, so a client gets
// every change after the users its hello lists.
func (n *node) broadcast(pm *websocket.PreparedMessage) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.room.Broadcast(pm)
}

// join brings conn into the room, or returns why it cannot, as the code and
// reason to close it with (code 0: it joined). The client wants the entries
// after the ID after; a newcomer (not resume) the last Backlog.
//
// Joining is where duplicates and gaps would creep in, so it goes in this
// order: note the node's position P (the last entry delivered); read the
// entries up to P from Redis; then, under n.mu, which every delivery holds
// while it broadcasts, add conn to the Group and queue for it, ahead of
// anything broadcast later, the hello with those entries and then the ones
// the node delivered since P, which it keeps in recent. Entries up to P
// come from Redis, those after from the node, each exactly once.
func (n *node) join(ctx context.Context, conn *websocket.Conn, name, member string, resume bool, after streamID) (websocket.StatusCode, string) {
	upTo, err := n.reach(ctx, after)
	if err == nil {
		var history []event
		var gap bool
		if history, gap, err = n.history(ctx, resume, after, upTo); err == nil {
			return n.admit(conn, name, member, upTo, event{Type: "hello", Resumed: resume, Gap: gap, History: history})
		}
	}
	switch {
	case errors.Is(err, errShuttingDown):
		return websocket.StatusGoingAway, "node shutting down"
	case errors.Is(err, errBehind):
		return websocket.StatusTryAgainLater, "node catching up"
	}
	// Without the messages it missed the client cannot go on; it
	// retries, here or on another node.
	n.cfg.Logf("cluster: history for %q: %v", name, err)
	return websocket.StatusTryAgainLater, "message store unavailable"
}

// admit adds conn, whose presence entry is member, to the Group and queues
// for it hello, completed, and the entries delivered after upTo, in one step
// under n.mu.
func (n *node) admit(conn *websocket.Conn, name, member string, upTo streamID, hello event) (websocket.StatusCode, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if upTo.less(n.forgot) {
		// More went by while the history was read than a client's
		// queue holds: the old per-client queue would have been full.
		return websocket.StatusPolicyViolation, "send queue full: client too slow"
	}
	if !n.room.Add(conn) {
		return websocket.StatusGoingAway, "node shutting down"
	}
	n.present[conn] = member
	// The users are read under n.mu, as presence changes are broadcast:
	// a change the hello misses reaches conn after it.
	hello.Name, hello.Node, hello.Room = name, n.cfg.Name, n.cfg.Room
	hello.Users, hello.Online = n.currentUsers(user{Name: name, Node: n.cfg.Name})
	i := sort.Search(len(n.recent), func(i int) bool { return upTo.less(n.recent[i].id) })
	pms := make([]*websocket.PreparedMessage, 0, 1+len(n.recent)-i)
	pms = append(pms, prepare(hello))
	for _, e := range n.recent[i:] {
		pms = append(pms, e.pm)
	}
	// If they do not all fit the queue, the Group drops conn with 1008,
	// as it drops a client that falls that far behind; its read loop ends.
	n.room.Send(conn, pms...)
	return 0, ""
}

// reach waits until the node has delivered the entry after, if the Stream
// holds it, and returns the node's position then. A client that resumes
// from an entry this node has not read yet (its last node was ahead of this
// one) must not get it again: the Group sends every live entry to every
// member. reach gives up after RedisTimeout with errBehind.
func (n *node) reach(ctx context.Context, after streamID) (streamID, error) {
	pos := n.position()
	if !pos.less(after) {
		return pos, nil
	}
	// An ID the Stream never had (Redis lost its data) is waited for no
	// longer than the Stream's end.
	end, err := n.latest(ctx)
	if err != nil {
		return pos, err
	}
	if end.less(after) {
		after = end
	}
	timeout := time.NewTimer(n.cfg.RedisTimeout)
	defer timeout.Stop()
	for {
		n.mu.Lock()
		pos, closing := n.last, n.closing
		if closing || !pos.less(after) {
			n.mu.Unlock()
			if closing {
				return pos, errShuttingDown
			}
			return pos, nil
		}
		if n.moved == nil {
			n.moved = make(chan struct{})
		}
		moved := n.moved
		n.mu.Unlock()
		select {
		case <-moved:
		case <-timeout.C:
			return pos, errBehind
		}
	}
}

// leave takes conn, which has stopped reading, out of the room.
func (n *node) leave(conn *websocket.Conn) {
	n.mu.Lock()
	delete(n.present, conn)
	n.mu.Unlock()
	n.room.Remove(conn)
}

// track adds one to the running handlers unless the node is shutting down,
// so that Wait after Shutdown never races with an Add.
func (n *node) track() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return false
	}
	n.conns.Add(1)
	return true
}

// position returns the last Stream entry delivered.
func (n *node) position() streamID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.last
}

// members returns the presence entries of the clients here.
func (n *node) members() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := make([]string, 0, len(n.present))
	for _, member := range n.present {
		m = append(m, member)
	}
	return m
}
