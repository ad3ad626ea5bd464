package websocket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Opcode is the 4-bit frame type of RFC 6455 §5.2.
type Opcode byte

// The opcodes defined by RFC 6455 §5.2. OpText and OpBinary are also the two
// message types a Conn reads and writes.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// String returns the opcode's name, as "text" or "opcode(3)" for a reserved one.
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return fmt.Sprintf("opcode(%d)", byte(o))
}

// IsControl reports whether o is a control opcode (close, ping, pong or a
// reserved 0xB-0xF), which RFC 6455 §5.5 limits to 125 bytes and forbids to fragment.
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsReserved reports whether o is one of the opcodes RFC 6455 leaves undefined
// (0x3-0x7 and 0xB-0xF).
func (o Opcode) IsReserved() bool {
	return o > OpBinary && o < OpClose || o > OpPong
}

// Header is a frame header (RFC 6455 §5.2).
type Header struct {
	Fin    bool
	Rsv1   bool // set on the first frame of a compressed message (RFC 7692)
	Rsv2   bool
	Rsv3   bool
	Opcode Opcode
	Masked bool
	Mask   [4]byte // the masking key, meaningful when Masked is set
	Length int64   // payload length in bytes
}

// MaxHeaderSize is the largest encoded frame header: 2 bytes, an 8-byte
// extended length and a 4-byte masking key.
const MaxHeaderSize = 14

// MaxControlPayload is the largest payload a control frame may carry (RFC 6455 §5.5).
const MaxControlPayload = 125

// ErrProtocol is wrapped by every error that reports a violation of RFC 6455 by
// the peer; a Conn answers such violations with StatusProtocolError (1002).
var ErrProtocol = errors.New("websocket: protocol error")

// errShortHeader reports that a buffer holds only part of a header.
var errShortHeader = errors.New("websocket: short frame header")

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// headerSize returns the encoded size of a header whose first two bytes are b0 and b1.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// ParseHeader decodes the header at the start of b and returns it with its
// encoded size. It checks every rule that a header alone can break: reserved
// opcodes, control frames that are fragmented or longer than 125 bytes, a
// 64-bit length with its top bit set and a length not encoded in the fewest
// bytes; such errors wrap ErrProtocol. The RSV bits are returned as they are:
// whether they are allowed depends on the negotiated extensions. If b holds
// only part of a header, ParseHeader returns io.ErrUnexpectedEOF.
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) < 2 {
		return Header{}, 0, io.ErrUnexpectedEOF
	}
	n := headerSize(b[1])
	if len(b) < n {
		return Header{}, 0, io.ErrUnexpectedEOF
	}
	h := Header{
		Fin:    b[0]&0x80 != 0,
		Rsv1:   b[0]&0x40 != 0,
		Rsv2:   b[0]&0x20 != 0,
		Rsv3:   b[0]&0x10 != 0,
		Opcode: Opcode(b[0] & 0x0f),
		Masked: b[1]&0x80 != 0,
	}
	var ok bool
	h.Length, ok = payloadLength(b)
	if !ok {
		return h, n, lengthError(b)
	}
	if h.Masked {
		copy(h.Mask[:], b[n-4:n])
	}
	if h.Opcode.IsReserved() {
		return h, n, protocolErrorf("reserved opcode %d", byte(h.Opcode))
	}
	if h.Opcode.IsControl() {
		if !h.Fin {
			return h, n, protocolErrorf("fragmented %v frame", h.Opcode)
		}
		if h.Length > MaxControlPayload {
			return h, n, protocolErrorf("%v frame of %d bytes exceeds 125", h.Opcode, h.Length)
		}
	}
	return h, n, nil
}

// payloadLength decodes the payload length of the header at the start of b,
// which holds all of it, and reports whether it is encoded as RFC 6455 §5.2
// requires: in the fewest bytes, with the top bit of a 64-bit length clear.
// ParseHeader and the Conn's fast path (fastDataFrame) both decide by it.
func payloadLength(b []byte) (int64, bool) {
	switch l := b[1] & 0x7f; l {
	case 126:
		n := binary.BigEndian.Uint16(b[2:])
		return int64(n), n >= 126
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		return int64(u), u>>63 == 0 && u > 0xffff
	default:
		return int64(l), true
	}
}

// lengthError says why payloadLength refused the length of the header b.
func lengthError(b []byte) error {
	if b[1]&0x7f == 126 {
		return protocolErrorf("16-bit length %d fits in 7 bits", binary.BigEndian.Uint16(b[2:]))
	}
	u := binary.BigEndian.Uint64(b[2:])
	if u>>63 != 0 {
		return protocolErrorf("64-bit length has its most significant bit set")
	}
	return protocolErrorf("64-bit length %d fits in 16 bits", u)
}

// ReadHeader reads one frame header from r, reading no byte past it, and
// checks it as ParseHeader does. A reader that ends before the first byte
// gives io.EOF; one that ends inside the header gives io.ErrUnexpectedEOF.
func ReadHeader(r io.Reader) (Header, error) {
	var b [MaxHeaderSize]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return Header{}, err
	}
	n := headerSize(b[1])
	if _, err := io.ReadFull(r, b[2:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Header{}, err
	}
	h, _, err := ParseHeader(b[:n])
	return h, err
}

// AppendHeader appends the encoding of h to b, using the shortest length form,
// and returns the extended slice. It encodes h as given and does not validate it.
func AppendHeader(b []byte, h Header) []byte {
	b0 := byte(h.Opcode & 0x0f)
	if h.Fin {
		b0 |= 0x80
	}
	if h.Rsv1 {
		b0 |= 0x40
	}
	if h.Rsv2 {
		b0 |= 0x20
	}
	if h.Rsv3 {
		b0 |= 0x10
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	switch {
	case h.Length < 126:
		b = append(b, b0, b1|byte(h.Length))
	case h.Length <= 0xffff:
		b = append(b, b0, b1|126)
		b = binary.BigEndian.AppendUint16(b, uint16(h.Length))
	default:
		b = append(b, b0, b1|127)
		b = binary.BigEndian.AppendUint64(b, uint64(h.Length))
	}
	if h.Masked {
		b = append(b, h.Mask[:]...)
	}
	return b
}

// WriteHeader writes the encoding of h to w in a single Write call.
func WriteHeader(w io.Writer, h Header) error {
	var buf [MaxHeaderSize]byte
	_, err := w.Write(AppendHeader(buf[:0], h))
	return err
}
