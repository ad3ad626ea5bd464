//go:build !js

package websocket

import (
	"errors"
	"runtime"
	"time"
)

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
