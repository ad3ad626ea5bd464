//go:build !js

package websocket

import (
	"sync"
	"sync/atomic"

	"github.com/fullduplex/websocket/internal/deflate"
)

// PreparedMessage is a message encoded once to be written to many
// connections, as a broadcast does. On a server Conn, WritePreparedMessage
// sends the same frame bytes to every connection: no copy, no encoding and no
// allocation per send. A PreparedMessage is safe for concurrent use.
type PreparedMessage struct {
	op      Opcode
	payload []byte
	frame   []byte // the server's frame: header and payload, unmasked

	// deflated holds the server's compressed frames, at most one per
	// compression level and window size, made on first use. Senders read it without a lock;
	// mu serializes the making of a frame, which replaces the slice.
	mu       sync.Mutex
	deflated atomic.Pointer[[]deflatedFrame]
}

// deflatedFrame is a PreparedMessage compressed at one level within one
// window, which any server Conn that compresses so without context takeover
// can send.
type deflatedFrame struct {
	level, bits int
	frame       []byte
	err         error
}

// NewPreparedMessage returns a message of type op (OpText or OpBinary) with
// payload p, which it copies. It does not check that text is valid UTF-8.
// The error is for an op that is not a message type.
func NewPreparedMessage(op Opcode, p []byte) (*PreparedMessage, error) {
	if err := checkDataOpcode(op); err != nil {
		return nil, err
	}
	frame := AppendHeader(make([]byte, 0, MaxHeaderSize+len(p)), Header{Fin: true, Opcode: op, Length: int64(len(p))})
	n := len(frame)
	frame = append(frame, p...)
	return &PreparedMessage{op: op, payload: frame[n:], frame: frame}, nil
}

// WritePreparedMessage writes pm as one message, as WriteMessage would, and
// like it may be called concurrently with other writes. A client masks every
// frame with a fresh key (RFC 6455 §5.3), so on a client Conn it costs what
// WriteMessage does.
//
// With permessage-deflate negotiated, a server Conn that compresses without
// context takeover sends a compressed frame that is made once per
// compression level and window size and then shared; one that keeps its context compresses
// pm with its own compressor, since the peer's window must see every message
// that the compressor's does (RFC 7692 §7.2.1).
func (c *Conn) WritePreparedMessage(pm *PreparedMessage) error {
	frame := pm.frame
	if c.comp.compressWhole(len(pm.payload)) {
		// params is set when the Conn is made and never changes, so it
		// may be read without msgMu.
		if !c.server || c.comp.params.writeTakeover {
			return c.WriteMessage(pm.op, pm.payload)
		}
		var err error
		if frame, err = pm.deflatedFrame(c.comp.params.level, windowBits(c.comp.params.writeWindowBits)); err != nil {
			return err
		}
	} else if !c.server {
		return c.WriteMessage(pm.op, pm.payload)
	}
	// msgMu keeps the frame from landing between the fragments of a
	// message streamed through NextWriter (RFC 6455 §5.4).
	c.msgMu.Lock()
	c.frameMu.Lock()
	err := c.writeLocked(frame)
	c.frameMu.Unlock()
	c.msgMu.Unlock()
	if c.x != nil && err == nil && c.x.obs != nil {
		c.observeWritten(pm.op, len(pm.payload), framePayload(frame))
	}
	return err
}

// framePayload returns the payload length of frame, a server's whole frame.
func framePayload(frame []byte) int { return len(frame) - headerSize(frame[1]) }

// deflatedFrame returns pm's server frame compressed at level within a
// window of 2^bits bytes, making it on first use.
func (pm *PreparedMessage) deflatedFrame(level, bits int) ([]byte, error) {
	if f, ok := findDeflated(pm.deflated.Load(), level, bits); ok {
		return f.frame, f.err
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	old := pm.deflated.Load()
	if f, ok := findDeflated(old, level, bits); ok {
		return f.frame, f.err // made while we waited for mu
	}
	f := deflatedFrame{level: level, bits: bits}
	f.frame, f.err = deflateFrame(pm.op, pm.payload, level, bits)
	var list []deflatedFrame
	if old != nil {
		list = append(list, *old...)
	}
	list = append(list, f)
	pm.deflated.Store(&list)
	return f.frame, f.err
}

func findDeflated(list *[]deflatedFrame, level, bits int) (deflatedFrame, bool) {
	if list != nil {
		for _, f := range *list {
			if f.level == level && f.bits == bits {
				return f, true
			}
		}
	}
	return deflatedFrame{}, false
}

// deflateFrame compresses p alone, as a message without context takeover
// is (RFC 7692 §7.2.1: DEFLATE blocks ended by a sync flush whose empty
// stored block, 0x00 0x00 0xff 0xff, is removed), and frames it whole with
// RSV1 set (§6.1), its back-references within 2^bits bytes.
func deflateFrame(op Opcode, p []byte, level, bits int) ([]byte, error) {
	e := deflate.NewEncoder(bits, level, false)
	body := e.AppendCompressed(nil, p)
	frame := AppendHeader(make([]byte, 0, MaxHeaderSize+len(body)), Header{Fin: true, Rsv1: true, Opcode: op, Length: int64(len(body))})
	return append(frame, body...), nil
}
