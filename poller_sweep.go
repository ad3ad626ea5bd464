//go:build !js

package websocket

import (
	"fmt"
	"os"
	"time"
)

// The Poller's sweep: one goroutine that goes over the connections in the
// epoll set every tick and keeps their deadlines, so that no connection
// needs a timer or a goroutine of its own for them:
//
//   - MessageTimeout: input pending past pollMore.mdl fails the connection
//     with StatusPolicyViolation;
//   - WriteTimeout: output queued past pollMore.odl drops it, and a
//     connection closed with output still queued is closed for good;
//   - the read deadline the Conn sets for its closing handshake and for
//     linger (rdl) closes it;
//   - PingInterval: the keep-alive below.
//
// The keep-alive: a goroutine per connection pinging on a ticker would cost
// what the Poller saves, so each connection keeps only pollConn.quiet, a
// byte: the ping sweeps that found no input since the one before. ready
// clears it when input arrives. Any input will do: a peer that sends is
// alive, and matching pongs to pings would take more state per connection.

const (
	quietPing   = 3    // quiet sweeps before a ping: over an interval of silence
	quietClose  = 5    // before the connection is closed: an interval after the ping
	quietPinged = 0x80 // a ping went out since the last input
	quietLost   = 0x40 // closed for its silence; end tells the MessageHandler
)

// sweepBatch is how many connections a sweep takes from the slots per hold
// of the Poller's lock, so that Add and the poll goroutine never wait for a
// whole sweep of a large set.
const sweepBatch = 256

// sweepTick is how often the sweep runs: often enough that a deadline is
// kept within an eighth of the shortest timeout, and at least every
// maxSweepTick, for the close timeouts and linger of the Conns.
func (p *Poller) sweepTick() time.Duration {
	const maxSweepTick = 250 * time.Millisecond
	tick := min(p.timeout/8, p.writeTimeout/8, maxSweepTick)
	if p.ping > 0 {
		tick = min(tick, p.ping/2)
	}
	return max(tick, time.Millisecond)
}

// sweep keeps the deadlines of the connections in the epoll set, and pings
// them every half PingInterval, until Close.
func (p *Poller) sweep() {
	defer p.wg.Done()
	tick := p.sweepTick()
	t := time.NewTicker(tick)
	defer t.Stop()
	batch := make([]*pollConn, 0, sweepBatch)
	var pinged time.Time
	for {
		var now time.Time
		select {
		case <-p.quit:
			return
		case now = <-t.C:
		}
		ping := p.ping > 0 && now.Sub(pinged) >= p.ping/2-tick/2
		if ping {
			pinged = now
		}
		p.sweepAll(batch, now.UnixNano(), ping)
	}
}

// sweepAll sweeps every connection in the slots once, a batch at a time.
func (p *Poller) sweepAll(batch []*pollConn, now int64, ping bool) {
	for fd := 0; ; {
		batch, fd = p.slotsFrom(batch[:0], fd)
		if len(batch) == 0 {
			return
		}
		for i, pc := range batch {
			p.sweepConn(pc, now, ping)
			batch[i] = nil
		}
	}
}

// slotsFrom appends to batch, up to its capacity, the connections in the
// slots from fd on, and returns the slot to go on from.
func (p *Poller) slotsFrom(batch []*pollConn, fd int) ([]*pollConn, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return batch, fd
	}
	for ; fd < len(p.slots) && len(batch) < cap(batch); fd++ {
		if pc := p.slots[fd]; pc != nil {
			batch = append(batch, pc)
		}
	}
	return batch, fd
}

// What the sweep does to a connection, once it has let pc.mu go.
const (
	sweepNothing = iota
	sweepClose   // close it: a deadline passed, or the peer is lost
	sweepTimeout // fail it with StatusPolicyViolation: MessageTimeout
	sweepPing    // ping it
)

// sweepConn keeps pc's deadlines and, on a ping sweep, counts one more
// sweep without input and pings or closes it when that makes enough. Only
// pc.mu is held, and only to look and mark: connections are closed and
// pinged without it.
func (p *Poller) sweepConn(pc *pollConn, now int64, ping bool) {
	act := sweepNothing
	pc.mu.Lock()
	m := pc.more
	due := func(d int64) bool { return d != 0 && d <= now }
	switch {
	case m != nil && m.closeDone:
		if due(m.odl) {
			pc.closeFD() // closed with output the peer did not take in time
		}
	case pc.state == pollDone:
	case m != nil && m.queued() > 0 && due(m.odl):
		pc.why, pc.queued, act = whyWriteTimeout, int32(min(m.queued(), 1<<30)), sweepClose
	case due(pc.rdl.Load()):
		act = sweepClose
	case m != nil && due(m.mdl):
		if pc.state == pollIdle {
			act = sweepTimeout
		}
	case ping:
		act = p.keepAliveLocked(pc, m != nil && m.queued() > 0)
	}
	pc.mu.Unlock()

	switch act {
	case sweepClose:
		pc.c.closeTCP()
	case sweepTimeout:
		p.timeOut(pc)
	case sweepPing:
		if !p.pingNow(pc) {
			// Not sent: the next sweep tries again, and the close comes
			// all the same if the peer stays silent.
			pc.mu.Lock()
			pc.quiet &^= quietPinged
			pc.mu.Unlock()
		}
	}
}

// keepAliveLocked counts a ping sweep without input on pc and says what to
// do. A connection with output queued is not pinged: its peer is not
// reading, and its silence will close it. The caller holds pc.mu.
func (p *Poller) keepAliveLocked(pc *pollConn, queued bool) int {
	if pc.state != pollIdle {
		pc.quiet = 0 // a worker has it, or will: input came
		return sweepNothing
	}
	pinged := pc.quiet&quietPinged != 0
	n := min(pc.quiet&^quietPinged+1, quietClose) // never as far as quietLost
	pc.quiet = n
	switch {
	case n >= quietClose:
		// A closing handshake begun here has its own deadline, and its
		// end is a local close (IsNormalClose), not a lost peer.
		if pc.c.closeSent.Load() {
			return sweepNothing
		}
		pc.quiet = quietLost
		return sweepClose
	case pinged:
		pc.quiet |= quietPinged
	case n >= quietPing && !queued:
		pc.quiet |= quietPinged
		return sweepPing
	}
	return sweepNothing
}

// timeOut fails pc, whose pending input has not come whole within
// MessageTimeout, with StatusPolicyViolation. A worker may have taken pc
// since the sweep looked: the next sweep looks again.
func (p *Poller) timeOut(pc *pollConn) {
	c := pc.c
	if !c.readMu.TryLock() {
		return
	}
	pc.mu.Lock()
	idle := pc.state == pollIdle
	if m := pc.more; idle && m != nil {
		m.msg, m.mdl = nil, 0
	}
	pc.mu.Unlock()
	if idle && c.rerr == nil && !c.isClosed() {
		pc.budget, pc.drained = turnBudget, false
		c.fail(StatusPolicyViolation, fmt.Errorf("websocket: message not complete within %v: %w", p.timeout, os.ErrDeadlineExceeded))
		pc.mu.Lock()
		pc.why = whyMessageTimeout // once the Close frame is out: writes stop here
		pc.mu.Unlock()
	}
	more := !c.isClosed() && (!pc.drained || c.br != nil && c.br.Buffered() > 0)
	c.releaseReader()
	c.readMu.Unlock()
	if more {
		// The linger stopped where its budget did, not at the end of
		// the input: a turn goes on with it.
		pc.mu.Lock()
		queue := pc.state == pollIdle
		if queue {
			pc.state = pollQueued
		}
		pc.mu.Unlock()
		if queue {
			p.q.push(pc)
		}
	}
}

// pingNow writes an empty ping to pc's Conn if that can be done without
// waiting, and reports whether it did. A write in progress (frameMu held)
// means the peer is being written to: the next sweep tries again.
func (p *Poller) pingNow(pc *pollConn) bool {
	c := pc.c
	if !c.frameMu.TryLock() {
		return false
	}
	defer c.frameMu.Unlock()
	if c.writable() != nil {
		return false
	}
	return c.writeShortLocked(OpPing, nil) == nil
}

// keepAlive pings a connection the Poller serves with a goroutine of its
// own, as the PingInterval of AcceptOptions does, and marks it lost if it
// closes it, for end.
func (p *Poller) keepAlive(pc *pollConn) {
	defer p.wg.Done()
	pc.c.keepAlive(p.ping, nil, func() {
		pc.mu.Lock()
		pc.quiet = quietLost
		pc.mu.Unlock()
	})
}
