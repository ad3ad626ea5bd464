package websocket

import "time"

// The Poller's keep-alive (PollerOptions.PingInterval). A goroutine per
// connection pinging on a ticker would cost what the Poller saves, so one
// goroutine sweeps the connections in the epoll set every half interval,
// and each keeps only pollConn.quiet, a byte that was padding: the sweeps
// that found no input since the one before. ready clears it when input
// arrives. Any input will do: a peer that sends is alive, and matching
// pongs to pings would take more state per connection.

const (
	quietPing   = 3    // quiet sweeps before a ping: over an interval of silence
	quietClose  = 5    // before the connection is closed: an interval after the ping
	quietPinged = 0x80 // a ping went out since the last input
	quietLost   = 0x40 // closed for its silence; end tells the Handler
)

// sweepBatch is how many connections a sweep takes from the slots per hold
// of the Poller's lock, so that Add and the poll goroutine never wait for a
// whole sweep of a large set.
const sweepBatch = 256

// sweep keeps the connections in the epoll set alive until Close.
func (p *Poller) sweep() {
	defer p.wg.Done()
	t := time.NewTicker(max(p.ping/2, 1))
	defer t.Stop()
	batch := make([]*pollConn, 0, sweepBatch)
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
		p.sweepAll(batch)
	}
}

// sweepAll sweeps every connection in the slots once, a batch at a time.
func (p *Poller) sweepAll(batch []*pollConn) {
	for fd := 0; ; {
		batch, fd = p.slotsFrom(batch[:0], fd)
		if len(batch) == 0 {
			return
		}
		for i, pc := range batch {
			p.sweepConn(pc)
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

// sweepConn counts one more sweep without input on pc, and pings or closes
// it when that makes enough. Only pc.mu is held, and only to look and mark:
// pings are written and connections closed without it.
func (p *Poller) sweepConn(pc *pollConn) {
	pc.mu.Lock()
	if pc.state != pollIdle {
		if pc.state == pollBusy {
			pc.quiet = 0 // a worker has it: input came
		}
		pc.mu.Unlock()
		return
	}
	pinged := pc.quiet&quietPinged != 0
	n := min(pc.quiet&^quietPinged+1, quietClose) // never as far as quietLost
	ping := n >= quietPing && n < quietClose && !pinged
	pc.quiet = n
	if pinged || ping {
		pc.quiet |= quietPinged
	}
	pc.mu.Unlock()

	switch {
	case n >= quietClose:
		// Input the poll goroutine has not handed on yet, when every
		// worker is busy, is input all the same. A closing handshake
		// begun here has its own timeout, and its end is a local close
		// (IsNormalClose), not a lost peer.
		if pc.readable() || pc.c.closeSent.Load() {
			return
		}
		pc.mu.Lock()
		lost := pc.state == pollIdle
		if lost {
			pc.quiet = quietLost
		}
		pc.mu.Unlock()
		if lost {
			pc.c.closeTCP() // as Conn.keepAlive does
		}
	case ping:
		if !p.pingNow(pc) {
			// Not sent: the next sweep tries again, and the close
			// comes all the same if the peer stays silent.
			pc.mu.Lock()
			if pc.quiet == n|quietPinged {
				pc.quiet = n
			}
			pc.mu.Unlock()
		}
	}
}

// pingNow writes an empty ping to pc's Conn if that can be done without
// waiting, and reports whether it did. A write in progress (frameMu held)
// or a full socket buffer means the peer is not reading now; the sweep
// must not wait on one peer, and the silence is what will close it.
func (p *Poller) pingNow(pc *pollConn) bool {
	c := pc.c
	if !c.frameMu.TryLock() {
		return false
	}
	if c.writable() != nil {
		c.frameMu.Unlock()
		return false
	}
	// RFC 6455 §5.5.2; a client's frames are masked (§5.1), an empty
	// payload leaves only the key.
	f := [6]byte{0x80 | byte(OpPing)}
	n := 2
	if !c.server {
		f[1] = 0x80
		key := newMaskKey()
		copy(f[2:], key[:])
		n = 6
	}
	k, err := pc.tryWrite(f[:n])
	switch {
	case err != nil:
		c.wrote(err)
		c.frameMu.Unlock()
		c.closeTCP()
		return false
	case k == 0:
		c.frameMu.Unlock()
		return false
	case k < n:
		// Part of the frame is out: the rest must follow before any other
		// frame, so a goroutine waits for room, within the interval.
		p.wg.Add(1)
		go p.finishPing(c, f, k, n)
	default:
		c.frameMu.Unlock()
	}
	return true
}

// finishPing writes the rest of a ping, f[k:n], that pingNow began, and
// lets frameMu go. f is a copy, so that the common case allocates nothing.
func (p *Poller) finishPing(c *Conn, f [6]byte, k, n int) {
	defer p.wg.Done()
	defer c.frameMu.Unlock()
	t := time.AfterFunc(p.ping, c.closeTCP)
	_, err := c.nc.Write(f[k:n])
	t.Stop()
	c.wrote(err)
}

// keepAlive pings a connection the Poller serves with a goroutine of its
// own, as the PingInterval of AcceptOptions does, and marks it lost if it
// closes it, for end.
func (p *Poller) keepAlive(pc *pollConn) {
	defer p.wg.Done()
	pc.c.keepAlive(p.ping, func() {
		pc.mu.Lock()
		pc.quiet = quietLost
		pc.mu.Unlock()
	})
}
