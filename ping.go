//go:build !js

package websocket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Pings: RFC 6455 §5.5.2 and §5.5.3, as a round-trip measure and a keep-alive.

// pinger holds the Pings waiting for their pongs. A Conn makes it on its
// first Ping, so that a connection that never pings holds none of it.
type pinger struct {
	mu    sync.Mutex
	seq   uint64                   // id of the last ping sent
	waits map[uint64]chan struct{} // by ping id, until the pong or the end of Ping
}

// Ping sends a ping and waits for the pong that answers it, returning the
// round-trip time. Some goroutine must be reading for the pong to be seen.
// If ctx ends before the ping could even be written, the peer has stopped
// reading and the connection is closed: a write blocked on it cannot be
// abandoned without cutting a frame short.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	return c.ping(ctx, c.closeTCP)
}

// ping is Ping, with stalled called to close the connection when ctx ends
// before the ping is written.
func (c *Conn) ping(ctx context.Context, stalled func()) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	pg := c.pinger.Load()
	if pg == nil {
		c.pinger.CompareAndSwap(nil, &pinger{waits: make(map[uint64]chan struct{})})
		pg = c.pinger.Load()
	}
	done := make(chan struct{})
	pg.mu.Lock()
	pg.seq++
	id := pg.seq
	pg.waits[id] = done
	pg.mu.Unlock()
	defer func() {
		pg.mu.Lock()
		delete(pg.waits, id)
		pg.mu.Unlock()
	}()
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], id)
	start := time.Now()
	// The ping waits for frameMu and the network like any write, which a
	// peer that stopped reading blocks for ever; detecting such a peer is
	// what pings are for (RFC 6455 §5.5.2), so ctx must bound the write too.
	// Closing is the only way to undo a write in progress that works on
	// every net.Conn, and a write cut short by a deadline would leave the
	// stream in mid-frame (§5.2), unusable for writing anyway.
	stop := context.AfterFunc(ctx, stalled)
	err := c.WritePing(p[:])
	if !stop() {
		return 0, ctx.Err()
	}
	if err != nil {
		return 0, err
	}
	select {
	case <-done:
		rtt := time.Since(start)
		c.observePong(rtt)
		return rtt, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.closed.wait():
		return 0, fmt.Errorf("%w before the pong arrived", ErrClosed)
	}
}

// gotPong wakes the Ping waiting for this pong, if any.
func (c *Conn) gotPong(p []byte) {
	if len(p) != 8 {
		return
	}
	pg := c.pinger.Load()
	if pg == nil {
		return // no Ping has been sent: nobody waits
	}
	id := binary.BigEndian.Uint64(p)
	pg.mu.Lock()
	if done, ok := pg.waits[id]; ok {
		close(done)
		delete(pg.waits, id)
	}
	pg.mu.Unlock()
}

// stopKeepAlive ends the keep-alive goroutine of the PingInterval option,
// if c has one; once only.
func (c *Conn) stopKeepAlive() {
	if c.x == nil {
		return
	}
	c.closed.mu.Lock()
	if ch := c.x.stopPings; ch != nil {
		close(ch)
		c.x.stopPings = nil
	}
	c.closed.mu.Unlock()
}

// keepAlive pings every interval and closes the connection when a pong does
// not come back within the interval, until stop is closed (nil: never). lost, if not nil, is called just
// before it closes the connection for that reason, so that a Poller can
// tell its MessageHandler why (poller_sweep.go).
func (c *Conn) keepAlive(interval time.Duration, stop <-chan struct{}, lost func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	closed := c.closed.wait()
	// lost is called before the connection is closed, so that whoever
	// sees it closed can tell why, and not if someone else closed it.
	stalled := func() {
		if !c.isClosed() {
			if c.x != nil {
				c.noteFailure(fmt.Errorf("websocket: no pong within %v: %w", interval, ErrClosed))
				c.observeDrop(DropInfo{Reason: DropNoPong})
			}
			if lost != nil {
				lost()
			}
		}
		c.closeTCP()
	}
	for {
		select {
		case <-closed:
			return
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			_, err := c.ping(ctx, stalled)
			cancel()
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					stalled()
				} else {
					c.closeTCP()
				}
				return
			}
		}
	}
}

// Writes the Conn makes on its own, such as a pong, must not block its
// reader for ever on a peer that sends but does not read (its receive
// window full, our writes stall): a timer fails the connection when such a
// write has not completed within the close timeout, waiting for frameMu
// included. Timers are pooled, so a ping costs no allocation.

// writeBound is a timer that closes the Conn it guards when it fires.
type writeBound struct {
	t *time.Timer
	c atomic.Pointer[Conn]
}

var writeBoundPool = sync.Pool{New: func() any {
	w := new(writeBound)
	w.t = time.AfterFunc(time.Hour, func() {
		if c := w.c.Load(); c != nil {
			c.closeTCP()
		}
	})
	w.t.Stop()
	return w
}}

// writeOwnControl writes a control frame the Conn owes the peer, a pong,
// within the close timeout. It reports whether the write stalled: the peer
// did not take the frame in time and the connection has been closed.
func (c *Conn) writeOwnControl(op Opcode, payload []byte) (stalled bool, err error) {
	if q, ok := c.nc.(interface{ drainWithin(time.Duration) }); ok {
		// Under a Poller the write does not wait: what the socket does
		// not take is queued, and the Poller drops the connection if the
		// queue has not drained within the bound.
		err = c.writeControl(op, payload)
		q.drainWithin(c.closeTimeout)
		return false, err
	}
	w := writeBoundPool.Get().(*writeBound)
	w.c.Store(c)
	w.t.Reset(c.closeTimeout)
	err = c.writeControl(op, payload)
	if !w.t.Stop() {
		return true, err // fired: w may still be in use, so it is not put back
	}
	w.c.Store(nil)
	writeBoundPool.Put(w)
	return false, err
}
