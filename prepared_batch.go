package websocket

// Writing several prepared messages at once, for Group: their frames are
// copied into one buffer and written together, one write(2) instead of one
// per message.
//
// A copy rather than a writev of the shared frames: the poller keeps, for
// the life of each connection, the iovec array of the largest writev it made
// (16 bytes a frame, so up to 1 KiB a member after a burst of 64), and on
// loopback a writev of pieces that do not continue each other in memory
// loses to one contiguous write past a TCP segment (conn_fast.go). Copying
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
