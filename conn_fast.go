package websocket

import (
	"encoding/binary"
	"net"
	"sync"
)

// The fast paths of the Conn: buffers shared between connections, and a
// frame header decoded without the general path when it is the common case.
// Measured in benchmarks/ (issue 5): see BenchmarkConnRead, BenchmarkConnWrite.

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

// fastDataFrame takes the header of the next frame straight from the read
// buffer into the Conn when it is the common case: a whole header already
// buffered, a text, binary or continuation frame that fits the message in
// progress, no RSV bit, masked exactly when it comes from a client, length
// in minimal encoding and within the read limit. Anything else returns false
// with nothing consumed, for the general path to handle (and reject).
func (c *Conn) fastDataFrame() bool {
	if c.br.Buffered() < MaxHeaderSize {
		return false
	}
	b, _ := c.br.Peek(MaxHeaderSize)
	b0, b1 := b[0], b[1]
	op := Opcode(b0 & 0x0f)
	if b0&0x70 != 0 || (b1&0x80 != 0) != c.server {
		return false
	}
	switch {
	case op == OpContinuation:
		if c.rOp == 0 {
			return false
		}
	case op == OpText || op == OpBinary:
		if c.rOp != 0 {
			return false
		}
	default:
		return false
	}
	n := 2
	length := int64(b1 & 0x7f)
	switch length {
	case 126:
		length = int64(binary.BigEndian.Uint16(b[2:]))
		n = 4
		if length < 126 {
			return false
		}
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 || u <= 0xffff {
			return false
		}
		length = int64(u)
		n = 10
	}
	size := c.rSize
	if op != OpContinuation {
		size = 0
	}
	if length > c.readLimit.Load()-size {
		return false
	}
	if length == 0 && b0&0x80 != 0 && op == OpContinuation && c.rOp == OpText && !c.rUTF8.Complete() {
		return false // the general path reports the truncated code point
	}
	if c.server {
		c.rMask = [4]byte(b[n : n+4])
		n += 4
	}
	c.br.Discard(n)
	if op != OpContinuation {
		c.rOp = op
		c.rSize = 0
		c.rUTF8.Reset()
		c.rComp = false
	}
	c.rFin = b0&0x80 != 0
	c.rRemain = length
	c.rMasked = c.server
	c.rMaskPos = 0
	return true
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
