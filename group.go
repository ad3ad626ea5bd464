//go:build !js

package websocket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// Group is a set of server connections that messages are broadcast to and
// that are closed together when the server shuts down: the registry a chat
// room or a live dashboard keeps, and the one any server keeps to close its
// connections with StatusGoingAway. net/http's Server.Shutdown and Close do
// not touch hijacked connections, so a handler takes its Conn with the
// Group's Accept, and main, once the signal to stop has come, shuts the
// Group down, then the http.Server, and returns once both are done:
//
//	room.Shutdown(ctx) // 1001 to every WebSocket, and 503 to new handshakes
//	srv.Shutdown(ctx)  // then the listener and the other requests
//
// Registered with http.Server.RegisterOnShutdown, Shutdown would run on a
// goroutine that nothing waits for, and main would return before the
// Close frames are out. The package doc's Shutting down section has the
// whole program, which TestShutdownRecipe runs.
//
// Each member has a queue of messages waiting to be written, drained by a
// writer goroutine that runs only while the queue is not empty (an idle
// member holds no goroutine) and that writes everything queued at once, in
// one write of up to 64 KiB: the frames of a PreparedMessage, made once,
// copied behind one another. A member that cannot keep up is dropped
// instead of slowing the others: Broadcast and Send never wait for a
// member's writes. A member that stops reading holds at most QueueBytes
// plus one message of the group's memory, for at most WriteTimeout, before
// it is dropped.
// Messages reach each member in the order they were queued for it, and
// every member sees broadcasts in the same order.
//
// A Conn leaves the group when it is closed (by Close, CloseNow, the peer or
// a failure), when Remove is called, or when it is dropped. The Group never
// reads: the handler that accepted or added a Conn goes on reading it, which
// is what answers pings and the peer's Close frame.
//
// The zero value is an empty group with the default limits. A Group is safe
// for concurrent use and must not be copied after first use.
type Group struct {
	// QueueSize is the most messages that may wait to be written to one
	// member. A member whose queue is full when Broadcast or Send queues
	// another message is dropped: removed, and closed with
	// StatusPolicyViolation (1008). Zero means 256. QueueSize counts
	// messages, whatever their size; QueueBytes bounds their bytes.
	QueueSize int

	// QueueBytes bounds the payload bytes waiting for one member, those
	// being written included: a member that already has QueueBytes or more
	// waiting when another message is queued is dropped, as for a full
	// queue. A message of any size can be queued to a member that has
	// caught up, so a member pins at most QueueBytes plus one message of
	// the group's memory (a broadcast's message is shared, made once for
	// all members). Zero means 4 MiB.
	QueueBytes int

	// WriteTimeout bounds each write to a member. A member whose write
	// takes longer, a client that has stopped reading, is dropped as for a
	// full queue; the close then cuts the write short within the Conn's
	// close timeout. Zero means 10 seconds. The Group does not use the
	// Conn's write deadline, which stays the application's.
	WriteTimeout time.Duration

	mu       sync.Mutex
	members  map[*Conn]*member
	list     []*member            // the members, for broadcasting in one pass
	pending  int                  // members, plus closes and Accepts under way
	closing  map[*member]struct{} // closes under way
	shutdown bool
	done     chan struct{} // closed when pending reaches 0 after Shutdown began
	drops    int64         // members dropped so far, for Stats
}

// GroupStats is what a Group holds at one time, and how many members it
// has dropped.
type GroupStats struct {
	Members     int   // Conns in the group
	Queued      int   // messages waiting to be written, all members together
	QueuedBytes int64 // their payloads' bytes, and those being written (a message shared by members counts for each)
	Dropped     int64 // members dropped since the group was made: queue full or write timeout
}

// Stats returns the group's figures now. It takes each member's lock in
// turn, so it costs time in proportion to the members: for a dashboard or
// a scrape, not for every message.
func (g *Group) Stats() GroupStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := GroupStats{Members: len(g.list), Dropped: g.drops}
	for _, m := range g.list {
		m.mu.Lock()
		s.Queued += len(m.queue)
		s.QueuedBytes += int64(m.bytes)
		m.mu.Unlock()
	}
	return s
}

const (
	defaultGroupQueue   = 256
	defaultGroupBytes   = 4 << 20
	defaultWriteTimeout = 10 * time.Second
)

// member is one Conn of a Group: its queue and the state of its writer.
type member struct {
	c     *Conn
	g     *Group
	index int // in g.list; g.mu

	mu      sync.Mutex
	queue   []*PreparedMessage
	bytes   int  // the payloads of queue and of the batch being written
	writing bool // a writer goroutine is running, or the member is gone
	gone    bool // removed or dropped: queue no more
}

// Accept upgrades the request as the package's Accept does and makes the
// Conn a member, in one step that Shutdown waits for: a Conn accepted while
// the group shuts down is closed with StatusGoingAway, as the members are,
// before Shutdown returns. Once the group is shutting down, a request not
// yet taken over is refused with 503 Service Unavailable. On error the
// request has been answered, and the handler must not write another
// response.
//
// A handler behind net/http uses it rather than the package's Accept and
// then Add: a Shutdown that began between those two would not wait for the
// Conn, which Add would then refuse, and a program that exits once
// Shutdown returns would drop it with no Close frame.
func (g *Group) Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	g.mu.Lock()
	if g.shutdown {
		g.mu.Unlock()
		ref := &refusal{status: http.StatusServiceUnavailable, reason: shutdownReason}
		ref.respond(w)
		return nil, ref
	}
	g.pending++ // the accept under way, which Shutdown waits for
	g.mu.Unlock()
	c, err := Accept(w, r, opts)
	if err != nil {
		g.mu.Lock()
		g.pending--
		g.checkDoneLocked()
		g.mu.Unlock()
		return nil, err
	}
	g.add(c, true)
	return c, nil
}

// Add makes c a member. It returns false, and adds nothing, if c is closed
// or the group is shutting down; the caller then closes c, with
// StatusGoingAway in the second case, as Shutdown does the members. Adding
// a member again does nothing and returns true. A handler behind net/http
// takes its Conn with the Group's Accept instead, which Shutdown waits for.
func (g *Group) Add(c *Conn) bool { return g.add(c, false) }

// add makes c a member. accepted says that Accept counted c in pending
// before taking it over, and that Shutdown may be waiting for it: c is then
// added even if the group is shutting down, and closed as Shutdown closed
// the others.
func (g *Group) add(c *Conn, accepted bool) bool {
	g.mu.Lock()
	if accepted {
		g.pending-- // the member's count, below, takes over
	} else if g.shutdown {
		g.mu.Unlock()
		return false
	}
	if _, ok := g.members[c]; ok {
		g.checkDoneLocked()
		g.mu.Unlock()
		return true
	}
	if g.members == nil {
		g.members = make(map[*Conn]*member)
	}
	m := &member{c: c, g: g, index: len(g.list)}
	g.members[c] = m
	g.list = append(g.list, m)
	g.pending++
	if g.shutdown {
		g.closeLocked(m, StatusGoingAway, shutdownReason)
	}
	g.mu.Unlock()

	// Registered first and then checked, so that either closeTCP sees the
	// flag and removes c, or Add sees c closed (or both).
	c.addCloseHook(g)
	if c.isClosed() {
		g.Remove(c)
		return false
	}
	return true
}

// Remove takes c out of the group without closing it. Messages queued for c
// and not yet written are discarded; a write under way finishes. Removing a
// Conn that is not a member does nothing.
func (g *Group) Remove(c *Conn) {
	g.mu.Lock()
	m := g.removeLocked(c)
	g.mu.Unlock()
	if m != nil {
		c.removeCloseHook(g)
	}
}

// Len returns the number of members.
func (g *Group) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.list)
}

// Broadcast queues the messages pms, in order, for every member and returns
// without waiting for any write. A member whose queue cannot take them all
// is dropped; Broadcast returns how many were. Broadcasts made one after
// another reach every member in that order; concurrent ones are ordered
// the same way for all members. Messages queued together go out together:
// broadcasting a burst in one call lets each member's writer send it in one
// write. The messages must not be modified afterwards; they may be
// broadcast again.
func (g *Group) Broadcast(pms ...*PreparedMessage) int {
	g.mu.Lock()
	var full []*member
	for _, m := range g.list {
		if !m.enqueue(pms) {
			full = append(full, m)
		}
	}
	// Dropped once the loop is over: a drop moves the last member into
	// the dropped one's place in g.list.
	drops := make([]dropped, len(full))
	for i, m := range full {
		drops[i] = g.dropLocked(m, DropQueueFull)
	}
	g.mu.Unlock()
	for _, d := range drops {
		d.observe(g)
	}
	return len(drops)
}

// Send queues pms for the member c alone, in order with the messages
// broadcast to it, and returns without waiting for the write. It returns
// false if c is not a member, or if its queue could not take them all, in
// which case c is dropped.
func (g *Group) Send(c *Conn, pms ...*PreparedMessage) bool {
	g.mu.Lock()
	m := g.members[c]
	if m == nil {
		g.mu.Unlock()
		return false
	}
	if !m.enqueue(pms) {
		d := g.dropLocked(m, DropQueueFull)
		g.mu.Unlock()
		d.observe(g)
		return false
	}
	g.mu.Unlock()
	return true
}

const shutdownReason = "server shutting down"

// Shutdown closes every member with StatusGoingAway (1001), makes Add refuse
// new members and Accept refuse new handshakes, and waits until every member
// has left and every close started by the group has ended, handshakes that
// Accept had under way included, or until ctx is done. Each Close is bounded
// by the Conn's close timeout (AcceptOptions.CloseTimeout). If ctx ends
// first, Shutdown ends the remaining connections at once (CloseNow), waits
// for its closes to return and returns ctx.Err(). Shutdown may be called
// more than once and from several goroutines; each call waits as the first
// does. A server calls it from main before http.Server.Shutdown, which
// over HTTP/2 waits for the WebSockets' streams (see Group).
func (g *Group) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if !g.shutdown {
		g.shutdown = true
		g.done = make(chan struct{})
		for _, m := range g.list {
			g.closeLocked(m, StatusGoingAway, shutdownReason)
		}
		g.checkDoneLocked()
	}
	done := g.done
	g.mu.Unlock()

	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// Closes still under way hold their Conns in members or pending: end
	// them now, so that every goroutine the group started returns.
	closeNowAll(&g.mu, func() (left []*Conn) {
		for _, m := range g.list {
			left = append(left, m.c)
		}
		for m := range g.closing {
			left = append(left, m.c)
		}
		return left
	})
	<-done
	return ctx.Err()
}

// dropped is a member just dropped, with what its Observer is to be told
// once the Group's lock is let go: an Observer must not hold the Group up.
type dropped struct {
	c      *Conn
	why    DropReason // "": a write failed, which is no drop for the Observer
	queued int
}

func (d dropped) observe(g *Group) {
	if d.why != "" {
		d.c.observeDrop(DropInfo{Reason: d.why, Group: g, Queued: d.queued})
	}
}

// dropReasons are the reasons of the Close frames a Group's drops send.
var dropReasons = map[DropReason]string{
	DropQueueFull:    "send queue full: client too slow",
	DropWriteTimeout: "write timed out: client too slow",
	"":               "write failed",
}

// drop removes m, if it is still a member, and closes its Conn with
// StatusPolicyViolation.
func (g *Group) drop(m *member, why DropReason) {
	g.mu.Lock()
	if g.members[m.c] != m {
		g.mu.Unlock()
		return
	}
	d := g.dropLocked(m, why)
	g.mu.Unlock()
	d.observe(g)
}

// dropLocked removes the member m and closes its Conn with
// StatusPolicyViolation in the background. The caller holds g.mu, and
// reports the drop once it has let it go.
func (g *Group) dropLocked(m *member, why DropReason) dropped {
	m.mu.Lock()
	d := dropped{c: m.c, why: why, queued: len(m.queue)}
	m.mu.Unlock()
	if why != "" {
		g.drops++
		m.c.noteFailure(fmt.Errorf("websocket: dropped by a Group: %s: %w", dropReasons[why], ErrClosed))
	}
	g.removeLocked(m.c)
	m.c.removeCloseHook(g) // connGroups is taken after g.mu, never before
	g.closeLocked(m, StatusPolicyViolation, dropReasons[why])
	return d
}

// closeLocked closes m's Conn with code in a goroutine that pending
// counts, since the closing handshake waits for the peer. The caller holds
// g.mu.
func (g *Group) closeLocked(m *member, code StatusCode, reason string) {
	if g.closing == nil {
		g.closing = make(map[*member]struct{})
	}
	if _, ok := g.closing[m]; ok {
		return
	}
	g.closing[m] = struct{}{}
	g.pending++
	go func() {
		m.c.Close(code, reason)
		g.mu.Lock()
		delete(g.closing, m)
		g.pending--
		g.checkDoneLocked()
		g.mu.Unlock()
	}()
}

// removeLocked takes c out of the group and returns its member, or nil if
// c was not one. The caller holds g.mu.
func (g *Group) removeLocked(c *Conn) *member {
	m := g.members[c]
	if m == nil {
		return nil
	}
	delete(g.members, c)
	last := g.list[len(g.list)-1]
	last.index = m.index
	g.list[m.index] = last
	g.list[len(g.list)-1] = nil
	g.list = g.list[:len(g.list)-1]
	m.mu.Lock()
	m.gone, m.writing = true, true // no writer starts again
	clear(m.queue)
	m.queue = nil
	m.mu.Unlock()
	g.pending--
	g.checkDoneLocked()
	return m
}

// checkDoneLocked ends Shutdown's wait once nothing is pending. The caller
// holds g.mu.
func (g *Group) checkDoneLocked() {
	if g.shutdown && g.pending == 0 && g.done != nil {
		select {
		case <-g.done:
		default:
			close(g.done)
		}
	}
}

// connClosed takes c, which has closed, out of the group: a Group is one
// of c's close hooks while c is a member.
func (g *Group) connClosed(c *Conn) {
	g.mu.Lock()
	g.removeLocked(c)
	g.mu.Unlock()
}

// How a Group writes to its members: each member's queue, drained by a
// writer goroutine that runs only while the queue is not empty, and the
// batched write of the frames it takes at once.

// enqueue queues pms for m, starting its writer if none runs. It reports
// false if they do not fit the queue. The caller holds g.mu.
func (m *member) enqueue(pms []*PreparedMessage) bool {
	if len(pms) == 0 {
		return true
	}
	limit := m.g.QueueSize
	if limit <= 0 {
		limit = defaultGroupQueue
	}
	limitBytes := m.g.QueueBytes
	if limitBytes <= 0 {
		limitBytes = defaultGroupBytes
	}
	m.mu.Lock()
	if len(m.queue)+len(pms) > limit || m.bytes >= limitBytes {
		m.mu.Unlock()
		return false
	}
	m.queue = append(m.queue, pms...)
	for _, pm := range pms {
		m.bytes += len(pm.payload)
	}
	start := !m.writing
	m.writing = true
	m.mu.Unlock()
	if start {
		go m.write()
	}
	return true
}

// write writes m's queue until it is empty, then ends: a member with
// nothing to send holds no goroutine. Everything queued while a write is
// under way goes out in the next one.
func (m *member) write() {
	timeout := m.g.WriteTimeout
	if timeout <= 0 {
		timeout = defaultWriteTimeout
	}
	var (
		spare []*PreparedMessage
		timer *time.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// Let the broadcaster go on first: messages broadcast one call after
	// another then reach this writer together (benchmarks/README.md).
	runtime.Gosched()
	for {
		m.mu.Lock()
		batch := m.queue
		if len(batch) == 0 || m.gone {
			m.queue = nil
			if !m.gone {
				m.writing = false
			}
			m.mu.Unlock()
			return
		}
		m.queue = spare
		m.mu.Unlock()

		// The watchdog drops a member whose write stalls; Close then cuts
		// the write short with the close timeout as its deadline.
		if timer == nil {
			timer = time.AfterFunc(timeout, m.stalled)
		} else {
			timer.Reset(timeout)
		}
		err := m.c.writePreparedBatch(batch)
		timer.Stop()
		n := 0
		for _, pm := range batch {
			n += len(pm.payload)
		}
		m.mu.Lock()
		m.bytes -= n
		m.mu.Unlock()
		clear(batch) // keep no message alive
		spare = batch[:0]
		if err != nil {
			if errors.Is(err, ErrClosed) {
				m.g.Remove(m.c) // closed by someone else, who will tell
			} else {
				m.g.drop(m, "")
			}
			return
		}
	}
}

// stalled drops m, whose write has taken longer than the write timeout.
func (m *member) stalled() {
	m.g.drop(m, DropWriteTimeout)
}

// Writing several prepared messages at once, for Group: their frames are
// copied into one buffer and written together, one write(2) instead of one
// per message.
//
// A copy rather than a writev of the shared frames: the poller keeps, for
// the life of each connection, the iovec array of the largest writev it made
// (16 bytes a frame, so up to 1 KiB a member after a burst of 64), and on
// loopback a writev of pieces that do not continue each other in memory
// loses to one contiguous write past a TCP segment (write.go). Copying
// 64 KiB costs a few microseconds; the buffer comes from contigPool and goes
// back after the write.

// writePreparedBatch writes pms in order, as many calls of
// WritePreparedMessage would, with nothing but control frames between
// them. A server Conn sends the frames (compressed ones where
// permessage-deflate without context takeover applies) in as few writes as
// the 64 KiB buffer allows; a frame larger than the buffer goes out on its
// own. A client, which masks every frame, and a Conn that compresses with
// context takeover write one message at a time.
func (c *Conn) writePreparedBatch(pms []*PreparedMessage) error {
	if !c.server || c.comp != nil && c.comp.params.writeTakeover {
		for _, pm := range pms {
			if err := c.WritePreparedMessage(pm); err != nil {
				return err
			}
		}
		return nil
	}
	c.msgMu.Lock()
	defer c.msgMu.Unlock()
	bp := contigPool.Get().(*[]byte)
	defer contigPool.Put(bp)
	buf := (*bp)[:0]
	defer func() { *bp = buf[:0] }()
	for _, pm := range pms {
		frame := pm.frame
		if c.comp.compressWhole(len(pm.payload)) {
			var err error
			if frame, err = pm.deflatedFrame(c.comp.params.level, windowBits(c.comp.params.writeWindowBits)); err != nil {
				return err
			}
		}
		if len(buf)+len(frame) > cap(buf) && len(buf) > 0 {
			if err := c.writeWhole(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		if len(frame) > cap(buf) {
			if err := c.writeWhole(frame); err != nil {
				return err
			}
			continue
		}
		buf = append(buf, frame...)
	}
	if len(buf) > 0 {
		if err := c.writeWhole(buf); err != nil {
			return err
		}
	}
	if c.x != nil && c.x.obs != nil {
		c.observeBatch(pms)
	}
	return nil
}

// observeBatch reports the messages of a batch, written whole.
func (c *Conn) observeBatch(pms []*PreparedMessage) {
	for _, pm := range pms {
		wire := len(pm.payload)
		if c.comp.compressWhole(len(pm.payload)) {
			if f, err := pm.deflatedFrame(c.comp.params.level, windowBits(c.comp.params.writeWindowBits)); err == nil {
				wire = framePayload(f)
			}
		}
		c.observeWritten(pm.op, len(pm.payload), wire)
	}
}

// writeWhole writes b, whole frames, in one write. The caller holds msgMu.
func (c *Conn) writeWhole(b []byte) error {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	return c.writeLocked(b)
}
