package websocket

import (
	"net"
	"sync"
)

// Writing several prepared messages at once, for Group: one writev of the
// shared frames instead of one write(2) per message.

// batchBufs holds the frames of one batch for net.Buffers.WriteTo, which
// consumes the slice it is given: frames keeps the start.
type batchBufs struct {
	frames net.Buffers
	nb     net.Buffers
}

var batchPool = sync.Pool{New: func() any { return new(batchBufs) }}

// maxBatchFrames bounds the frames of one writev. The kernel takes at most
// 1024 (IOV_MAX), and the poller keeps the iovec array of the largest
// writev a connection made for the connection's life: 64 frames cost it
// 1 KiB.
const maxBatchFrames = 64

// writePreparedBatch writes pms in order, as many calls of
// WritePreparedMessage would, with nothing interleaved between them. A
// server Conn sends the frames (compressed ones where permessage-deflate
// without context takeover applies) in one writev of at most
// maxBatchFrames frames at a time, without copying them; a client, which
// masks every frame, and a Conn that compresses with context takeover
// write one message at a time.
func (c *Conn) writePreparedBatch(pms []*PreparedMessage, bufs *batchBufs) error {
	if !c.server || c.comp != nil && c.comp.w.takeover {
		for _, pm := range pms {
			if err := c.WritePreparedMessage(pm); err != nil {
				return err
			}
		}
		return nil
	}
	c.msgMu.Lock()
	defer c.msgMu.Unlock()
	for len(pms) > 0 {
		n := min(len(pms), maxBatchFrames)
		frames := bufs.frames[:0]
		for _, pm := range pms[:n] {
			frame := pm.frame
			if c.comp.compressWhole(len(pm.payload)) {
				var err error
				if frame, err = pm.deflatedFrame(c.comp.w.level); err != nil {
					return err
				}
			}
			frames = append(frames, frame)
		}
		bufs.frames = frames
		err := c.writeFrames(bufs)
		clear(frames) // keep no reference to the messages
		if err != nil {
			return err
		}
		pms = pms[n:]
	}
	return nil
}

// writeFrames writes bufs.frames, whole frames, in one writev. The caller
// holds msgMu.
func (c *Conn) writeFrames(bufs *batchBufs) error {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	var err error
	if len(bufs.frames) == 1 {
		_, err = c.nc.Write(bufs.frames[0])
	} else {
		bufs.nb = bufs.frames
		_, err = bufs.nb.WriteTo(c.nc)
		bufs.nb = nil
	}
	return c.wrote(err)
}
