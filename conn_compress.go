package websocket

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/fullduplex/websocket/internal/deflate"
)

// This file joins the permessage-deflate codec of internal/deflate (RFC
// 7692), as compress.go sets it up, to the Conn's read and write paths in
// conn.go.

// payloadReader reads the payload of the current compressed message, across
// its frames and past any control frames among them, for the decompressor;
// or, under a Poller, the payload gathered whole before it is decompressed
// (readPolled), since the decompressor cannot stop for input that has not
// arrived and go on later.
type payloadReader struct {
	c        *Conn
	gathered bool
	mem      []byte // the rest of the gathered payload
}

func (r *payloadReader) Read(p []byte) (int, error) {
	if !r.gathered {
		return r.c.readPayload(p)
	}
	if len(r.mem) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.mem)
	r.mem = r.mem[n:]
	return n, nil
}

// compressedLimit is how many payload bytes a compressed message may take on
// the wire under a read limit of limit decompressed bytes. Incompressible
// data grows a little in DEFLATE, and a peer flushing often adds 5 bytes per
// flush, so it is twice the limit and some: the bound only keeps a peer from
// sending without end payload that inflates to nothing. The decompressed
// size is what the read limit is about, and the inflater holds it to that.
func compressedLimit(limit int64) int64 {
	if limit > math.MaxInt64/4 {
		return math.MaxInt64
	}
	return 2*limit + 1024
}

// beginInflate starts decompressing the message whose first frame, with
// RSV1 set (RFC 7692 §6.2), has just been read.
func (c *Conn) beginInflate(op Opcode) {
	c.comp.rText = op == OpText
	c.comp.r.Begin(&c.comp.src, max(0, c.readLimit.Load()))
}

// readInflated reads decompressed payload of the current message. UTF-8 is
// checked on what comes out of the decompressor (RFC 7692 §6: the text is the
// decompressed payload), and its errors become the close codes RFC 7692 §8
// and RFC 6455 §7.4.1 ask for.
func (c *Conn) readInflated(p []byte) (int, error) {
	if c.rerr != nil {
		return 0, c.rerr
	}
	n, err := c.comp.r.Read(p)
	if c.comp.rText && !c.rUTF8.Write(p[:n]) {
		c.comp.r.Release()
		return n, c.fail(StatusInvalidFramePayloadData, fmt.Errorf("%w in text message", ErrInvalidUTF8))
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		// The DEFLATE stream has ended. Payload left after a final block
		// (RFC 7692 §7.2.3.3 allows a BFINAL block) is skipped to reach
		// the end of the message.
		if c.rOp != 0 {
			bp := getWbuf()
			for c.rOp != 0 {
				if _, err := c.readPayload(bp[:]); err != nil && err != io.EOF {
					wbufPool.Put(bp)
					return n, err
				}
			}
			wbufPool.Put(bp)
		}
		if c.comp.rText && !c.rUTF8.Complete() {
			return n, c.fail(StatusInvalidFramePayloadData, fmt.Errorf("%w: text message ends inside a code point", ErrInvalidUTF8))
		}
		if c.x != nil && c.x.obs != nil {
			op := OpBinary
			if c.comp.rText {
				op = OpText
			}
			c.observeRead(op, c.comp.r.Inflated(), c.rSize)
		}
		return n, io.EOF
	case err == deflate.ErrTooBig:
		return n, c.fail(StatusMessageTooBig, fmt.Errorf("%w: compressed message inflates past %d bytes", ErrMessageTooBig, c.comp.r.Limit()))
	case errors.Is(err, deflate.ErrInvalid):
		return n, c.fail(StatusInvalidFramePayloadData, err)
	}
	return n, err // from readPayload, which has dealt with it
}

// inflating reports whether a compressed message is being decompressed.
func (c *Conn) inflating() bool { return c.comp != nil && c.comp.r.Active() }

// abandonInflate is called before skipping the rest of a message: without
// context takeover the decompressor can go back to its pool at once and the
// rest of the payload be skipped unread; with it, the rest must be inflated,
// since the next message may refer to it (RFC 7692 §7.2.2).
func (c *Conn) abandonInflate() {
	if c.comp != nil && !c.comp.params.readTakeover {
		c.comp.r.Release()
	}
}

// writeCompressed writes p as one compressed message through the message
// writer, so that it goes out in frames of the write buffer's size, RSV1 on
// the first (RFC 7692 §6.1), and needs no buffer of its own. The caller
// holds msgMu.
func (c *Conn) writeCompressed(op Opcode, p []byte) error {
	c.payloadBuf()
	c.mw.op, c.mw.n, c.mw.done, c.mw.rsv1 = op, 0, false, true
	c.comp.w.Begin(&c.mw)
	c.comp.w.Write(p)
	err := c.comp.w.End()
	if err == nil {
		err = c.mw.flush(true)
	}
	c.mw.done, c.mw.rsv1 = true, false
	return err
}

// SetWriteCompression sets whether messages begun after the call may be
// compressed, when permessage-deflate was negotiated; it is the per-message
// opt-out, for payloads that do not compress, such as images, which RFC 7692
// §6.1 allows since RSV1 is set per message. The default is true. It is safe
// to call from any goroutine, and it has no effect on a Conn without
// compression.
func (c *Conn) SetWriteCompression(enabled bool) {
	if c.comp != nil {
		c.comp.noWrite.Store(!enabled)
	}
}
