package main

import (
	"errors"
	"sync"
	"time"

	"github.com/fullduplex/websocket"
)

// This file is the node's local fan-out: the WebSockets this node holds and
// the queue in front of each. Everything about other nodes lives in
// stream.go and presence.go; when the library grows a broadcast type for a
// group of connections, this file is what it replaces.

// local is this node's share of the room: its clients, and the position in
// the Stream up to which it has handed messages to them.
type local struct {
	writeTimeout time.Duration
	closeTimeout time.Duration
	logf         func(format string, args ...any)

	mu      sync.Mutex // guards what follows, and orders every delivery
	clients map[*client]struct{}
	last    streamID // the last Stream entry delivered
	closing bool
}

// client is one connected page or program. Only its writer goroutine writes
// to conn, in the order messages were queued on send.
type client struct {
	conn   *websocket.Conn
	name   string
	member string // its entry in the room's presence set
	send   chan *websocket.PreparedMessage

	// after is the last Stream entry the client has or will get in its
	// hello; deliver skips entries up to it. Guarded by local.mu.
	after streamID

	stopOnce sync.Once
	done     chan struct{} // closed when the client is dropped or leaves
}

func newLocal(writeTimeout, closeTimeout time.Duration, logf func(string, ...any)) *local {
	return &local{
		writeTimeout: writeTimeout,
		closeTimeout: closeTimeout,
		logf:         logf,
		clients:      make(map[*client]struct{}),
	}
}

// join adds c, which wants the entries after the ID after. From now on c's
// queue gets every entry after upTo (the node's position, or after if that is
// later), so the caller sends c the entries in (after, upTo] itself, from the
// Stream, before anything queued: nothing is missed and nothing comes twice.
// join reports false once the node is shutting down.
func (l *local) join(c *client, after streamID) (upTo streamID, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return streamID{}, false
	}
	c.after = after
	if after.less(l.last) {
		c.after = l.last
	}
	l.clients[c] = struct{}{}
	return l.last, true
}

// track adds one to handlers unless the node is shutting down, so that
// handlers.Wait after shutdown never races with an Add.
func (l *local) track(handlers *sync.WaitGroup) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	handlers.Add(1)
	return true
}

// leave removes c and stops its writer.
func (l *local) leave(c *client) {
	l.mu.Lock()
	delete(l.clients, c)
	l.mu.Unlock()
	c.stop()
}

// position returns the last Stream entry delivered.
func (l *local) position() streamID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// setPosition starts delivery after id, before any client has joined.
func (l *local) setPosition(id streamID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = id
}

// deliver queues the Stream entry id, encoded once as pm, for every client
// that does not have it yet. Entries must come in Stream order.
func (l *local) deliver(id streamID, pm *websocket.PreparedMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = id
	for c := range l.clients {
		if !c.after.less(id) {
			continue // c has it from its hello
		}
		l.queueLocked(c, pm)
	}
}

// broadcast queues pm, which is not a Stream entry (a presence change), for
// every client.
func (l *local) broadcast(pm *websocket.PreparedMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.clients {
		l.queueLocked(c, pm)
	}
}

// sendTo queues pm, a reply, for c alone, if c is still here.
func (l *local) sendTo(c *client, pm *websocket.PreparedMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.clients[c]; ok {
		l.queueLocked(c, pm)
	}
}

// queueLocked queues pm for c without ever waiting: a client whose queue is
// full is dropped (close 1008), so one slow reader cannot hold up the node,
// and through it the room.
func (l *local) queueLocked(c *client, pm *websocket.PreparedMessage) {
	select {
	case c.send <- pm:
	default:
		delete(l.clients, c)
		l.dropLocked(c, websocket.StatusPolicyViolation, "send queue full: client too slow")
	}
}

// members returns the presence entries of the clients here.
func (l *local) members() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make([]string, 0, len(l.clients))
	for c := range l.clients {
		m = append(m, c.member)
	}
	return m
}

// drop removes c and closes its connection with code.
func (l *local) drop(c *client, code websocket.StatusCode, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, c)
	l.dropLocked(c, code, reason)
}

// dropLocked closes c in the background, since the closing handshake waits
// for the peer and the caller holds the lock. c's read loop then ends and its
// handler takes it out of the room's presence.
func (l *local) dropLocked(c *client, code websocket.StatusCode, reason string) {
	c.stopOnce.Do(func() {
		close(c.done)
		l.logf("cluster: dropping %q (%s): %s", c.name, c.conn.RemoteAddr(), reason)
		go func() {
			// A writer stuck on a dead peer holds the connection for up
			// to writeTimeout before Close can send; CloseNow is the
			// backstop for both.
			t := time.AfterFunc(l.writeTimeout+l.closeTimeout, func() { c.conn.CloseNow() })
			defer t.Stop()
			c.conn.Close(code, reason)
		}()
	})
}

// shutdown closes every connection with 1001 (going away) and turns new
// ones away.
func (l *local) shutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	for c := range l.clients {
		delete(l.clients, c)
		l.dropLocked(c, websocket.StatusGoingAway, "node shutting down")
	}
}

// stop ends c's writer; used when c leaves on its own.
func (c *client) stop() { c.stopOnce.Do(func() { close(c.done) }) }

// writeLoop writes hello and then what is queued for c, until c is dropped
// or leaves. A write that takes longer than writeTimeout means the client
// has stopped reading.
func (l *local) writeLoop(c *client, hello []byte) {
	c.conn.SetWriteDeadline(time.Now().Add(l.writeTimeout))
	if err := c.conn.WriteMessage(websocket.OpText, hello); err != nil {
		l.writeFailed(c, err)
		return
	}
	for {
		select {
		case <-c.done:
			return
		case pm := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(l.writeTimeout))
			if err := c.conn.WritePreparedMessage(pm); err != nil {
				l.writeFailed(c, err)
				return
			}
		}
	}
}

func (l *local) writeFailed(c *client, err error) {
	if !errors.Is(err, websocket.ErrClosed) {
		// Most likely the deadline: the client stopped reading.
		l.drop(c, websocket.StatusPolicyViolation, "write failed: client too slow")
	}
	// Closed: the read loop sees it and the handler cleans up.
}
