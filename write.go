//go:build !js

package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
)

// Writing: whole messages, control frames, and messages streamed through
// NextWriter.

var errCloseSent = fmt.Errorf("%w: close frame already sent", ErrClosed)

func checkDataOpcode(op Opcode) error {
	if op != OpText && op != OpBinary {
		return fmt.Errorf("websocket: %v is not a message type (want OpText or OpBinary)", op)
	}
	return nil
}

// WriteMessage writes p as one message of type op (OpText or OpBinary). It is
// safe to call concurrently with other writes; the message is not interleaved
// with any other. The Conn does not keep p.
func (c *Conn) WriteMessage(op Opcode, p []byte) error {
	if len(p) <= DefaultBufferSize && c.comp == nil && (op == OpText || op == OpBinary) {
		// The common message, of one frame: the stack of a goroutine
		// that writes it stays within the 2 KiB it starts with
		// (TestConnReaderStackStaysSmall).
		return c.writeSingle(op, p)
	}
	return c.writeMessage(op, p)
}

// writeMessage is WriteMessage for every other message.
func (c *Conn) writeMessage(op Opcode, p []byte) error {
	if err := checkDataOpcode(op); err != nil {
		return err
	}
	if len(p) <= DefaultBufferSize && !c.comp.compressWhole(len(p)) {
		return c.writeSingle(op, p)
	}
	c.msgMu.Lock()
	defer c.msgMu.Unlock()
	wire := len(p)
	var err error
	switch {
	case c.comp.compressWhole(len(p)):
		c.mw.sent = 0
		err = c.writeCompressed(op, p)
		wire = c.mw.sent
	case len(p) <= c.wbufSize:
		buf := c.payloadBuf()
		copy(buf, p)
		err = c.writeBuffered(true, false, op, len(p))
	default:
		err = c.writeFrame(true, op, p)
	}
	c.releaseWbuf()
	if c.x != nil && err == nil && c.x.obs != nil {
		c.observeWritten(op, len(p), wire)
	}
	return err
}

// writeSingle writes p, at most DefaultBufferSize bytes, as an uncompressed
// message of one frame. The frame is built whole, and masked by a client,
// before any lock, in a buffer of its own (c.wbuf belongs to the holder of
// msgMu): a short frame in a shortBuf, a longer one in a write buffer of
// wbufPool.
//
// It is written under frameMu alone when it can be: a frame written whole
// under frameMu cannot split another message unless that message is between
// its frames (a message streamed through NextWriter, or compressed), and
// those mark it in midFrames under frameMu. Then the frame waits for msgMu,
// as a message of several frames does, until the other message is done
// (writeAfterMessage). Small writes so pay one uncontended lock rather than
// two.
//
// The path is written out, with no defer and no call it can do without: at
// a few tens of nanoseconds a message each counted, in the write-locked
// workload of benchmarks/ and BenchmarkConnWriteLocked.
func (c *Conn) writeSingle(op Opcode, p []byte) error {
	var buf []byte
	var sb *shortBuf
	var bp *defaultWbuf
	if len(p) <= MaxControlPayload {
		sb, _ = shortPool.Get().(*shortBuf)
		if sb == nil {
			sb = newShortBuf()
		}
		buf = sb[:]
	} else {
		bp = getWbuf()
		buf = bp[:]
	}
	var frame []byte
	if c.server {
		n := putHeader(buf, op, len(p), nil)
		frame = buf[:n+copy(buf[n:], p)]
	} else {
		frame = c.buildFrame(buf, op, p)
	}
	var err error
	c.frameMu.Lock()
	if c.midFrames {
		c.frameMu.Unlock()
		err = c.writeAfterMessage(frame)
	} else {
		if err = c.writable(); err == nil {
			if _, err = c.nc.Write(frame); err != nil {
				err = c.wrote(err)
			}
		}
		c.frameMu.Unlock()
	}
	if sb != nil {
		shortPool.Put(sb)
	} else {
		wbufPool.Put(bp)
	}
	if c.x != nil && err == nil && c.x.obs != nil {
		c.observeWritten(op, len(p), len(p))
	}
	return err
}

// writeAfterMessage writes frame, a whole message, once the message between
// its frames is done: under msgMu no other message is.
func (c *Conn) writeAfterMessage(frame []byte) error {
	c.msgMu.Lock()
	defer c.msgMu.Unlock()
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	return c.writeLocked(frame)
}

// buildFrame puts the final frame of type op with payload p, masked if the
// Conn is a client, at the start of buf, which has room for MaxHeaderSize
// bytes more than p, and returns it. The header goes first and the payload
// behind it: building the payload first, with the header copied in before
// it, stalled the write that read them back (BenchmarkConnWriteLocked/server/1KiB,
// 73 ns a message against 57).
func (c *Conn) buildFrame(buf []byte, op Opcode, p []byte) []byte {
	if c.server {
		n := putHeader(buf, op, len(p), nil)
		return buf[:n+copy(buf[n:], p)]
	}
	key := newMaskKey()
	n := putHeader(buf, op, len(p), &key)
	m := n + copy(buf[n:], p)
	Mask(key, 0, buf[n:m])
	return buf[:m]
}

// putHeader puts at the start of b, which has room for MaxHeaderSize bytes,
// the header of a final frame of type op with an n-byte payload and no RSV
// bit, masked with *key unless key is nil, and returns its length. It is
// AppendHeader for the frames a Conn builds whole, in place
// (TestPutHeaderIsAppendHeader).
func putHeader(b []byte, op Opcode, n int, key *[4]byte) int {
	b[0] = 0x80 | byte(op)
	var i int
	switch {
	case n < 126:
		b[1], i = byte(n), 2
	case n <= 0xffff:
		b[1], i = 126, 4
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b[1], i = 127, 10
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	if key != nil {
		b[1] |= 0x80
		i += copy(b[i:], key[:])
	}
	return i
}

// payloadBuf returns the write buffer past the room kept for a header,
// allocating it on the first write so a Conn that never writes holds none.
func (c *Conn) payloadBuf() []byte {
	if c.wbuf == nil {
		if c.wbufSize == DefaultBufferSize {
			c.wbuf = getWbuf()[:]
		} else {
			c.wbuf = make([]byte, MaxHeaderSize+c.wbufSize)
		}
	}
	return c.wbuf[MaxHeaderSize:]
}

// writeBuffered writes a frame whose n payload bytes are in the write
// buffer: the header goes into the room before them, so the frame leaves in
// one write. The caller holds msgMu.
func (c *Conn) writeBuffered(fin, rsv1 bool, op Opcode, n int) error {
	frame := c.headPayload(c.wbuf, fin, rsv1, op, n)
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	c.midFrames = !fin
	return c.writeLocked(frame)
}

// headPayload masks the n payload bytes that follow MaxHeaderSize bytes of
// room in buf, if the Conn is a client, puts the frame's header right before
// them and returns the frame.
func (c *Conn) headPayload(buf []byte, fin, rsv1 bool, op Opcode, n int) []byte {
	h := Header{Fin: fin, Rsv1: rsv1, Opcode: op, Length: int64(n)}
	payload := buf[MaxHeaderSize : MaxHeaderSize+n]
	if !c.server {
		h.Masked, h.Mask = true, newMaskKey()
		Mask(h.Mask, 0, payload)
	}
	var hb [MaxHeaderSize]byte
	hdr := AppendHeader(hb[:0], h)
	start := MaxHeaderSize - len(hdr)
	copy(buf[start:], hdr)
	return buf[start : MaxHeaderSize+n]
}

// writeFrame writes a frame with payload p, which it does not modify. The
// caller holds msgMu.
func (c *Conn) writeFrame(fin bool, op Opcode, p []byte) error {
	h := Header{Fin: fin, Opcode: op, Length: int64(len(p))}
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if c.server {
		if err := c.writable(); err != nil {
			return err
		}
		if len(p) > maxWritevFrame && len(p) <= maxContiguousWrite {
			// One contiguous write: see maxWritevFrame for why a frame
			// longer than a TCP segment is copied, up to a bound.
			bp := contigPool.Get().(*[]byte)
			b := append(AppendHeader((*bp)[:0], h), p...)
			_, err := c.nc.Write(b)
			*bp = b[:0]
			contigPool.Put(bp)
			return c.wrote(err)
		}
		// One writev for header and payload, with no copy of p.
		wv := writevPool.Get().(*writevBufs)
		wv.bufs = [2][]byte{AppendHeader(wv.hdr[:0], h), p}
		wv.nb = wv.bufs[:]
		_, err := writeBuffers(c.nc, &wv.nb)
		wv.bufs, wv.nb = [2][]byte{}, nil // keep no reference to p
		writevPool.Put(wv)
		return c.wrote(err)
	}
	// A client masks a copy, so p is left as it was, a piece at a time in a
	// buffer of contigPool (64 KiB or more): in the 4 KiB write buffer a
	// 1 MiB message would cost 256 writes, and 4 times as long on loopback
	// (BenchmarkConnWriteLoopback).
	h.Masked, h.Mask = true, newMaskKey()
	bp := contigPool.Get().(*[]byte)
	defer contigPool.Put(bp)
	buf := (*bp)[:cap(*bp)]
	hdr := AppendHeader(buf[:0], h)
	n := copy(buf[len(hdr):], p)
	pos := Mask(h.Mask, 0, buf[len(hdr):len(hdr)+n])
	if err := c.writeLocked(buf[:len(hdr)+n]); err != nil {
		return err
	}
	for p = p[n:]; len(p) > 0; p = p[n:] {
		n = copy(buf, p)
		pos = Mask(h.Mask, pos, buf[:n])
		if err := c.writeLocked(buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// writable reports why no data frame may be written now. The caller holds frameMu.
func (c *Conn) writable() error {
	if c.werr != nil {
		return c.werr
	}
	if c.closeSent.Load() {
		return errCloseSent
	}
	return nil
}

// writeLocked writes b as (part of) a data frame. The caller holds frameMu.
func (c *Conn) writeLocked(b []byte) error {
	if err := c.writable(); err != nil {
		return err
	}
	if _, err := c.nc.Write(b); err != nil {
		return c.wrote(err)
	}
	return nil
}

// wrote records the outcome of a write. The caller holds frameMu.
func (c *Conn) wrote(err error) error {
	if err == nil {
		return nil
	}
	if c.isClosed() {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	} else {
		err = fmt.Errorf("websocket: write: %w", err)
	}
	c.werr = err
	return err
}

// newMaskKey returns a fresh masking key. RFC 6455 §5.3 asks for keys an
// attacker cannot predict; math/rand/v2's top-level generator is ChaCha8,
// seeded from the operating system's entropy, and costs a few nanoseconds.
func newMaskKey() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}

// WritePing writes a ping frame with the given payload, at most 125 bytes,
// and returns without waiting for the pong (Ping waits). It may be called
// concurrently with other writes, and its frame may pass a message being
// written through NextWriter.
func (c *Conn) WritePing(payload []byte) error { return c.writeControlChecked(OpPing, payload) }

// WritePong writes an unsolicited pong frame with the given payload, at most
// 125 bytes: a one-way heartbeat the peer does not answer (RFC 6455 §5.5.3).
// Pings are answered without it. Like WritePing, it may be called
// concurrently with other writes.
func (c *Conn) WritePong(payload []byte) error { return c.writeControlChecked(OpPong, payload) }

func (c *Conn) writeControlChecked(op Opcode, payload []byte) error {
	if len(payload) > MaxControlPayload {
		return fmt.Errorf("websocket: %v payload of %d bytes exceeds 125", op, len(payload))
	}
	return c.writeControl(op, payload)
}

// writeControl writes a control frame under frameMu alone, so that it may
// pass a message streamed through NextWriter.
func (c *Conn) writeControl(op Opcode, payload []byte) error {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	return c.writeShortLocked(op, payload)
}

// writeShortLocked writes a control frame, built in a shortBuf. The caller
// holds frameMu and has checked that the frame may go out.
func (c *Conn) writeShortLocked(op Opcode, payload []byte) error {
	sb := getShortBuf()
	_, err := c.nc.Write(c.buildFrame(sb[:], op, payload))
	shortPool.Put(sb)
	return c.wrote(err)
}

func getShortBuf() *shortBuf {
	sb, _ := shortPool.Get().(*shortBuf)
	if sb == nil {
		sb = newShortBuf()
	}
	return sb
}

// newShortBuf is apart, and not inlined, to keep the allocation's
// temporaries out of writeShortLocked's frame.
//
//go:noinline
func newShortBuf() *shortBuf { return new(shortBuf) }

// shortBuf holds a frame of at most MaxControlPayload bytes: a control
// frame or a short message. They are pooled rather than
// kept by each Conn, so that an idle Conn carries none.
type shortBuf [MaxHeaderSize + MaxControlPayload]byte

var shortPool sync.Pool

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
	c.mw.msgOp, c.mw.sent = op, 0
	if c.comp.compressStream() {
		c.mw.rsv1 = true
		return c.comp.writer(&c.mw), nil
	}
	return &c.mw, nil
}

type messageWriter struct {
	c     *Conn
	n     int    // payload bytes buffered
	sent  int    // payload bytes of the message sent in frames, for the Observer
	op    Opcode // opcode of the next frame: the message type, then OpContinuation
	msgOp Opcode // the message type
	rsv1  bool   // set RSV1 on the next frame: the first of a compressed message
	done  bool
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
	w.sent += w.n
	w.op, w.n, w.rsv1 = OpContinuation, 0, false
	return err
}

// Close sends the message's final frame and lets other writers go on.
func (w *messageWriter) Close() error {
	return w.close(-1)
}

// close is Close, with n the message's length before compression, or -1
// if it was not compressed.
func (w *messageWriter) close(n int) error {
	if w.done {
		return errors.New("websocket: message writer already closed")
	}
	w.done = true
	err := w.flush(true)
	c := w.c
	c.releaseWbuf()
	if n < 0 {
		n = w.sent
	}
	op, wire := w.msgOp, w.sent
	c.msgMu.Unlock()
	if c.x != nil && err == nil && c.x.obs != nil {
		c.observeWritten(op, n, wire)
	}
	return err
}

// Write buffers: shared between connections, so that an idle one holds
// none, and measured in benchmarks/ (BenchmarkConnWrite).

// wbufPool holds write buffers of the default size between messages, so an
// idle connection holds none (the idle-connection workload of benchmarks/).
// It holds them as array pointers, which go into the pool without an
// allocation and come back from the Conn's slice by a conversion.
var wbufPool sync.Pool

type defaultWbuf = [MaxHeaderSize + DefaultBufferSize]byte

// getWbuf takes a buffer from wbufPool, or makes one. Besides writes, it
// lends a buffer to discard payload into.
func getWbuf() *defaultWbuf {
	if bp, ok := wbufPool.Get().(*defaultWbuf); ok {
		return bp
	}
	return new(defaultWbuf)
}

// releaseWbuf returns the write buffer to wbufPool. The caller holds msgMu
// and no frame in the buffer is still being written.
func (c *Conn) releaseWbuf() {
	if c.wbuf != nil && c.wbufSize == DefaultBufferSize {
		wbufPool.Put((*defaultWbuf)(c.wbuf))
		c.wbuf = nil
	}
}

// A server frame too long for the write buffer goes out in one writev of
// its header and the caller's payload, with no copy, unless it is longer
// than maxWritevFrame and at most maxContiguousWrite: such a payload is
// copied behind its header into a buffer of contigPool and written with one
// write. Measured on loopback TCP (Linux 6.18, AMD EPYC; a raw Go
// ping-pong of write against writev, outside this package): a writev whose
// payload does not continue the header in memory costs the same as one
// write while the frame fits one TCP segment (up to 65,483 bytes on lo),
// and loses 35-40 % of the round trips once it does not (64 KiB: 19 k/s
// against 30 k/s; 256 KiB: 6.5 k/s against 10 k/s); copying only the first
// 64 KiB behind the header recovers it at 70 KiB but not at 256 KiB. In
// wsbench, echo 64 KiB ×1: 18.2 k/s by writev against 25.2 k/s copied;
// echo 16 KiB ×1: 52-53 k/s either way. maxWritevFrame is half a loopback
// segment, for a margin; on a NIC, whose segments are shorter (though GSO
// and TSO hand the kernel up to 64 KiB at once), it is not measured. Above
// maxContiguousWrite the copy is not worth its memory.
const (
	maxWritevFrame     = 32 << 10
	maxContiguousWrite = 256 << 10
)

var contigPool = sync.Pool{New: func() any { b := make([]byte, 0, MaxHeaderSize+64<<10); return &b }}

// writevBufs is what a writev of a header and a payload needs. It comes from
// writevPool rather than the Conn, which would hold it while idle; on the
// stack it would escape (net.Buffers.WriteTo takes a pointer, and the
// net.Conn is an interface), an allocation per frame.
type writevBufs struct {
	hdr  [MaxHeaderSize]byte
	bufs [2][]byte
	nb   net.Buffers
}

var writevPool = sync.Pool{New: func() any { return new(writevBufs) }}
