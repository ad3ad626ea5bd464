//go:build !js

package websocket

import (
	"errors"
	"fmt"
	"io"
	"net"
)

// Reading: whole messages (ReadMessage, AppendMessage) and streamed ones
// (NextReader), the frames under them (RFC 6455 §5.2, §5.4), the control
// frames among them (§5.5), and the read limit.

// ReadMessage reads the next data message and returns its type (OpText or
// OpBinary) and its payload in a newly allocated slice.
func (c *Conn) ReadMessage() (Opcode, []byte, error) {
	return c.AppendMessage(nil)
}

// AppendMessage reads the next data message, appends its payload to b and
// returns the message type and the extended slice. Reusing the returned slice,
// as in b, err = c.AppendMessage(b[:0]), reads without allocating once b is
// large enough. b grows only as payload arrives, never past the read limit:
// a frame header claiming a long payload commits no memory for it.
func (c *Conn) AppendMessage(b []byte) (Opcode, []byte, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	op, err := c.nextMessage()
	if err != nil {
		return 0, b, err
	}
	b, err = c.appendData(b, len(b))
	return op, b, err
}

// appendData appends the rest of the current message to b, whose bytes
// from start are the message's so far, and returns a nil error at its end.
// It is apart from AppendMessage for the Poller, which reads a message a
// piece at a time as it arrives (readPolled).
func (c *Conn) appendData(b []byte, start int) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			var end bool
			var err error
			if b, end, err = c.makeRoom(b, start); end || err != nil {
				return b, err
			}
			continue
		}
		n, err := c.readData(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// makeRoom is AppendMessage's step when b, holding the message from start,
// is full. It reports whether the message has ended. It is apart, and not
// inlined, to keep AppendMessage's frame small, which is on the stack when
// a ping is answered (TestConnReaderStackStaysSmall).
//
//go:noinline
func (c *Conn) makeRoom(b []byte, start int) ([]byte, bool, error) {
	if c.inflating() {
		b, err := c.appendInflatedByte(b, start)
		if err == io.EOF {
			return b, true, nil
		}
		return b, false, err
	}
	// The frame's length is only a claim: grow by what has arrived, to the
	// end of the message at the most. A compressed message that is not
	// being inflated is being gathered whole (readPolled), and held to the
	// bound on its payload.
	bound := c.rRemain
	if !c.rFin {
		limit := c.readLimit.Load()
		if c.rComp {
			limit = compressedLimit(limit)
		}
		bound = limit - c.rSize
	}
	return grow(b, start, firstGrowth, bound), false, nil
}

// appendInflatedByte is AppendMessage's step when b is full and the message
// is compressed: the decompressed size is not known, and b may hold all of
// it already, so it looks for the end before growing b. It returns io.EOF
// at the end of the message.
//
//go:noinline
func (c *Conn) appendInflatedByte(b []byte, start int) ([]byte, error) {
	n, err := c.readInflated(c.rOne[:])
	if n > 0 {
		// What the decompressor gives has arrived: double from 512 bytes.
		b = grow(b, start, 512, c.comp.r.Limit()-c.comp.r.Inflated()+1)
		b = append(b, c.rOne[0])
	}
	return b, err
}

// firstGrowth is the most AppendMessage commits to a message before any of
// its payload is in b: a peer must send what it claims before it costs more
// (a 14-byte header may claim 16 MiB).
const firstGrowth = 32 << 10

// grow returns b with room for n more bytes: as much again as the message
// (from start) holds already, at least first, at most bound, and so at least
// one byte. Growing by what has arrived commits at most twice the payload
// received, and costs amortised constant time per byte. The last growth
// takes bound exactly, so a buffer kept for the next read, as in an echo
// loop, is no larger than the messages need.
//
//go:noinline
func grow(b []byte, start, first int, bound int64) []byte {
	n := int64(max(len(b)-start, first))
	n = max(min(n, bound), 1)
	if int64(cap(b)-len(b)) >= n {
		return b
	}
	nb := make([]byte, len(b), int64(len(b))+n)
	copy(nb, b)
	return nb
}

// NextReader waits for the next data message and returns its type and a
// reader of its payload, which returns io.EOF at the end of the message. The
// rest of a message not read to its end is discarded by the next read. The
// reader must not be used after the next call to a read method.
func (c *Conn) NextReader() (Opcode, io.Reader, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	op, err := c.nextMessage()
	if err != nil {
		return 0, nil, err
	}
	return op, &c.mr, nil
}

type messageReader struct{ c *Conn }

func (r *messageReader) Read(p []byte) (int, error) {
	r.c.readMu.Lock()
	defer r.c.readMu.Unlock()
	return r.c.readData(p)
}

// nextMessage discards what is left of the current message and reads frames
// up to the first of the next data message.
func (c *Conn) nextMessage() (Opcode, error) {
	if c.rerr != nil {
		return 0, c.rerr
	}
	if c.evented {
		return 0, errPolledRead
	}
	if c.comp != nil {
		c.abandonInflate()
	}
	if c.rOp != 0 || c.inflating() {
		bp := getWbuf()
		for c.rOp != 0 || c.inflating() {
			if _, err := c.readData(bp[:]); err != nil && err != io.EOF {
				wbufPool.Put(bp)
				return 0, err
			}
		}
		wbufPool.Put(bp)
	}
	if err := c.readyReader(); err != nil {
		return 0, err
	}
	if err := c.nextDataFrame(); err != nil {
		return 0, err
	}
	return c.rOp, nil
}

// readData reads the current message into p, decompressed if it is
// compressed. It returns io.EOF, possibly with n > 0, at the end of the message.
func (c *Conn) readData(p []byte) (int, error) {
	if c.inflating() {
		return c.readInflated(p)
	}
	return c.readPayload(p)
}

// readPayload reads payload of the current message into p, crossing frames
// as needed. It returns io.EOF, possibly with n > 0, at the end of the message.
func (c *Conn) readPayload(p []byte) (int, error) {
	if c.rerr != nil {
		return 0, c.rerr
	}
	if c.rOp == 0 {
		return 0, io.EOF
	}
	for c.rRemain == 0 {
		if c.rFin {
			return 0, c.endMessage()
		}
		if err := c.nextDataFrame(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.rRemain {
		p = p[:c.rRemain]
	}
	n, err := c.br.Read(p)
	p = p[:n]
	if c.rMasked {
		c.rMaskPos = Mask(c.rMask, c.rMaskPos, p)
	}
	c.rRemain -= int64(n)
	c.rSize += int64(n)
	if c.rOp == OpText && !c.rComp && !c.rUTF8.Write(p) {
		return n, c.fail(StatusInvalidFramePayloadData, fmt.Errorf("%w in text message", ErrInvalidUTF8))
	}
	if err != nil {
		return n, c.readFailed(err)
	}
	if c.rRemain == 0 && c.rFin {
		return n, c.endMessage()
	}
	return n, nil
}

// endMessage checks the end of a complete message and returns io.EOF.
func (c *Conn) endMessage() error {
	if c.rOp == OpText && !c.rComp && !c.rUTF8.Complete() {
		return c.fail(StatusInvalidFramePayloadData, fmt.Errorf("%w: text message ends inside a code point", ErrInvalidUTF8))
	}
	if c.x != nil && !c.rComp && c.x.obs != nil {
		c.observeRead(c.rOp, c.rSize, c.rSize) // a compressed one once inflated
	}
	c.rOp = 0
	return io.EOF
}

// nextDataFrame reads frames, handling any control frames among them, until
// the header of a data frame, and checks it against the message in progress
// (RFC 6455 §5.4).
func (c *Conn) nextDataFrame() error {
	for {
		if c.fastDataFrame() {
			return nil
		}
		h, err := c.readHeader()
		if err != nil {
			return err
		}
		if h.Opcode.IsControl() {
			if err := c.handleControl(h); err != nil {
				return err
			}
			continue
		}
		if !c.dataFrameFits(h.Opcode, h.Fin, h.Rsv1, h.Length) {
			return c.refuseDataFrame(h)
		}
		c.beginDataFrame(h.Opcode, h.Fin, h.Rsv1, h.Masked, h.Mask, h.Length)
		return nil
	}
}

// dataFrameFits reports whether a data frame of type op, with length bytes
// of payload, may come now (its header read and checked): in sequence with
// the message in progress (RFC 6455 §5.4), within the read limit, and, if
// it ends a text message without payload, not ending it inside a code
// point. It is the one rule of both paths, fastDataFrame and nextDataFrame.
func (c *Conn) dataFrameFits(op Opcode, fin, rsv1 bool, length int64) bool {
	size, comp := c.rSize, c.rComp
	if op == OpContinuation {
		if c.rOp == 0 {
			return false
		}
		if fin && length == 0 && c.rOp == OpText && !comp && !c.rUTF8.Complete() {
			return false
		}
	} else {
		if c.rOp != 0 {
			return false
		}
		size, comp = 0, rsv1
	}
	// A message over the limit is refused on its header, before it is
	// read. A compressed message is held to its decompressed size as it is
	// inflated; its payload only to a looser bound (compressedLimit).
	limit := c.readLimit.Load()
	if comp {
		limit = compressedLimit(limit)
	}
	return length <= limit-size
}

// beginDataFrame takes a data frame's header that dataFrameFits allowed:
// the frame's payload is read next.
func (c *Conn) beginDataFrame(op Opcode, fin, rsv1, masked bool, key [4]byte, length int64) {
	if op != OpContinuation {
		c.rOp = op
		c.rSize = 0
		c.rUTF8.Reset()
		c.rComp = rsv1
		if rsv1 {
			c.beginInflate(op)
		}
	}
	c.rFin = fin
	c.rRemain = length
	c.rMasked = masked
	c.rMask = key
	c.rMaskPos = 0
}

// fastDataFrame takes the header of the next frame straight from the read
// buffer into the Conn when it is the common case: a whole header already
// buffered, a text, binary or continuation frame with no RSV bit, masked
// exactly when it comes from a client, whose length (payloadLength) and
// place in the message (dataFrameFits) are as the general path would
// allow. Anything else returns false with nothing consumed, for the general
// path to handle, and refuse.
func (c *Conn) fastDataFrame() bool {
	if c.br.Buffered() < MaxHeaderSize {
		return false
	}
	b, _ := c.br.Peek(MaxHeaderSize)
	b0, b1 := b[0], b[1]
	op := Opcode(b0 & 0x0f)
	if b0&0x70 != 0 || (b1&0x80 != 0) != c.server || op > OpBinary {
		return false
	}
	length, ok := payloadLength(b)
	fin := b0&0x80 != 0
	if !ok || !c.dataFrameFits(op, fin, false, length) {
		return false
	}
	n := headerSize(b1)
	var key [4]byte
	if c.server {
		key = [4]byte(b[n-4 : n])
	}
	c.br.Discard(n)
	c.beginDataFrame(op, fin, false, c.server, key, length)
	return true
}

// The failures of nextDataFrame, apart and not inlined to keep its frame
// small (TestConnReaderStackStaysSmall).

// refuseDataFrame fails the connection over the data frame whose header h
// dataFrameFits refused.
//
//go:noinline
func (c *Conn) refuseDataFrame(h Header) error {
	if (h.Opcode == OpContinuation) != (c.rOp != 0) {
		return c.outOfSequence(h)
	}
	if h.Length > 0 || !h.Fin {
		return c.tooBig(h)
	}
	return c.cutCodePoint()
}

//go:noinline
func (c *Conn) outOfSequence(h Header) error {
	if h.Opcode == OpContinuation {
		return c.failFrame(h, StatusProtocolError, protocolErrorf("continuation frame with no message to continue"))
	}
	return c.failFrame(h, StatusProtocolError, protocolErrorf("%v frame inside a fragmented message", h.Opcode))
}

//go:noinline
func (c *Conn) tooBig(h Header) error {
	return c.failFrame(h, StatusMessageTooBig, fmt.Errorf("%w (%d bytes)", ErrMessageTooBig, c.readLimit.Load()))
}

//go:noinline
func (c *Conn) cutCodePoint() error {
	return c.fail(StatusInvalidFramePayloadData, fmt.Errorf("%w: text message ends inside a code point", ErrInvalidUTF8))
}

// readHeader reads and checks one frame header from the buffered reader.
func (c *Conn) readHeader() (Header, error) {
	b, err := c.br.Peek(2)
	if err != nil {
		if len(b) == 0 && c.rOp == 0 {
			return Header{}, c.idleReadFailed(err)
		}
		return Header{}, c.readFailed(err)
	}
	n := headerSize(b[1])
	whole := n
	if b[0]&0x08 != 0 && b[1]&0x7f <= MaxControlPayload && n+int(b[1]&0x7f) <= c.br.Size() {
		// A control frame is read whole, header and payload, so that one
		// cut short under a Poller is taken again whole (errWouldBlock).
		whole += int(b[1] & 0x7f)
	}
	if whole > len(b) {
		if b, err = c.br.Peek(whole); err != nil {
			return Header{}, c.readFailed(err)
		}
	}
	h, _, err := ParseHeader(b)
	c.br.Discard(n)
	if err != nil {
		c.rRemain = h.Length
		if b[1]&0x7f == 127 {
			c.rRemain = -1 // a bad 64-bit length: the next frame is lost
		}
		return h, c.fail(StatusProtocolError, err)
	}
	// RFC 6455 §5.1: clients mask every frame, servers none.
	if h.Masked != c.server {
		if c.server {
			return h, c.failFrame(h, StatusProtocolError, protocolErrorf("unmasked frame from client"))
		}
		return h, c.failFrame(h, StatusProtocolError, protocolErrorf("masked frame from server"))
	}
	// RFC 6455 §5.2: RSV bits must be 0 unless an extension defines them.
	// permessage-deflate defines RSV1, on the first frame of a data message
	// only (RFC 7692 §6.1).
	if h.Rsv2 || h.Rsv3 || h.Rsv1 && (c.comp == nil || h.Opcode.IsControl() || h.Opcode == OpContinuation) {
		return h, c.failFrame(h, StatusProtocolError, protocolErrorf("reserved bits set with no extension negotiated"))
	}
	return h, nil
}

// handleControl reads the payload of a control frame and acts on it.
func (c *Conn) handleControl(h Header) error {
	// The payload is read in place, in the read buffer, rather than into
	// a buffer of the Conn's own that every idle Conn would carry. A read
	// buffer smaller than the payload (ReadBufferSize below 125) takes a
	// copy instead. The rare branches are apart, and not inlined, to keep
	// the frame of the path to a pong small (TestConnReaderStackStaysSmall).
	n := int(h.Length)
	if n > c.br.Size() {
		return c.handleControlCopy(h)
	}
	p, err := c.br.Peek(n)
	if err != nil {
		return c.readFailed(err)
	}
	if h.Masked {
		Mask(h.Mask, 0, p)
	}
	err = c.controlPayload(h.Opcode, p)
	c.br.Discard(n)
	return err
}

// handleControlCopy is handleControl with a read buffer smaller than the
// payload.
//
//go:noinline
func (c *Conn) handleControlCopy(h Header) error {
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return c.readFailed(err)
	}
	if h.Masked {
		Mask(h.Mask, 0, p)
	}
	return c.controlPayload(h.Opcode, p)
}

// controlPayload acts on a control frame of type op with payload p.
func (c *Conn) controlPayload(op Opcode, p []byte) error {
	switch op {
	case OpPing:
		if c.onPing != nil {
			if err := c.onPing(p); err != nil {
				c.rerr = err
				return err
			}
			return nil
		}
		// A pong that cannot go out after our Close frame is not owed
		// (RFC 6455 §5.5.1), and any other failed write shows up on the next
		// write or read; but a peer that pings and does not read must not
		// hold the reader (§5.5.2 asks for the pong "as soon as practical").
		if stalled, _ := c.writeOwnControl(OpPong, p); stalled {
			return c.pongStalled()
		}
	case OpPong:
		c.gotPong(p)
		if c.onPong != nil {
			if err := c.onPong(p); err != nil {
				c.rerr = err
				return err
			}
		}
	case OpClose:
		return c.closeFrame(p)
	}
	return nil
}

//go:noinline
func (c *Conn) pongStalled() error {
	c.rerr = fmt.Errorf("%w: the peer took no pong within %v", ErrClosed, c.closeTimeout)
	return c.rerr
}

// closeFrame acts on the peer's Close frame, with payload p.
//
//go:noinline
func (c *Conn) closeFrame(p []byte) error {
	ce, err := parseClosePayload(p)
	if err != nil {
		if errors.Is(err, ErrInvalidUTF8) {
			return c.fail(StatusInvalidFramePayloadData, err)
		}
		return c.fail(StatusProtocolError, err)
	}
	return c.peerClosed(ce)
}

// readFailed records a failure of the underlying connection while reading.
func (c *Conn) readFailed(err error) error {
	if err == errWouldBlock {
		return err // nothing lost: the Poller reads again when more arrives
	}
	// This side sent a Close frame (Close) or closed the connection
	// (CloseNow): the connection ending now however it ends, even without
	// the peer's Close frame or with a reset, is the end that was asked
	// for (IsNormalClose). A violation by the peer fails the read before.
	switch {
	case c.closeSent.Load() || c.byApp.Load():
		err = fmt.Errorf("%w: %w", errLocalClose, err)
	case c.isClosed():
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	case err == io.EOF:
		err = fmt.Errorf("websocket: connection ended without a close frame: %w", io.ErrUnexpectedEOF)
		c.noteFailure(err)
	default:
		err = fmt.Errorf("websocket: read: %w", err)
		c.noteFailure(err)
	}
	c.rerr = err
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.closeTCP()
	}
	return err
}
