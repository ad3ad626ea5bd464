package websocket

import (
	"errors"
	"io"
)

// Streaming writes: a message sent as frames while it is written (RFC 6455
// §5.4), compressed as it goes when permessage-deflate is on.

// NextWriter returns a writer for a message of type op (OpText or OpBinary),
// sent as one or more frames as its buffer fills; Close sends the final frame.
// Other writers wait until the writer is closed, so it must be closed, and not
// used after. Pings and pongs still go out between its frames.
func (c *Conn) NextWriter(op Opcode) (io.WriteCloser, error) {
	if err := checkDataOpcode(op); err != nil {
		return nil, err
	}
	c.msgMu.Lock()
	c.payloadBuf()
	c.mw.op, c.mw.n, c.mw.done, c.mw.rsv1 = op, 0, false, false
	if c.comp.compressStream() {
		c.mw.rsv1 = true
		return c.comp.w.writer(&c.comp.cw, &c.mw), nil
	}
	return &c.mw, nil
}

type messageWriter struct {
	c    *Conn
	n    int    // payload bytes buffered
	op   Opcode // opcode of the next frame: the message type, then OpContinuation
	rsv1 bool   // set RSV1 on the next frame: the first of a compressed message
	done bool
}

func (w *messageWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("websocket: write to a closed message writer")
	}
	c := w.c
	total := 0
	for len(p) > 0 {
		if w.n == c.wbufSize {
			if err := w.flush(false); err != nil {
				return total, err
			}
		}
		k := copy(c.wbuf[MaxHeaderSize+w.n:], p)
		w.n += k
		total += k
		p = p[k:]
	}
	return total, nil
}

func (w *messageWriter) flush(fin bool) error {
	err := w.c.writeBuffered(fin, w.rsv1, w.op, w.n)
	w.op, w.n, w.rsv1 = OpContinuation, 0, false
	return err
}

// Close sends the message's final frame and lets other writers go on.
func (w *messageWriter) Close() error {
	if w.done {
		return errors.New("websocket: message writer already closed")
	}
	w.done = true
	err := w.flush(true)
	w.c.releaseWbuf()
	w.c.msgMu.Unlock()
	return err
}
