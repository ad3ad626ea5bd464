package websocket

import (
	"bytes"
	"compress/flate"
	"sync"
)

// PreparedMessage is a message encoded once to be written to many
// connections, as a broadcast does. On a server Conn, WritePreparedMessage
// sends the same frame bytes to every connection: no copy, no encoding and no
// allocation per send. A PreparedMessage is safe for concurrent use.
type PreparedMessage struct {
	op      Opcode
	payload []byte
	frame   []byte // the server's frame: header and payload, unmasked

	mu       sync.Mutex
	deflated []deflatedFrame // the server's compressed frames, one per level
}

// deflatedFrame is a PreparedMessage compressed at one level, which any
// connection that compresses without context takeover can send.
type deflatedFrame struct {
	level int
	frame []byte
	err   error
}

// NewPreparedMessage returns a message of type op (OpText or OpBinary) with
// payload p, which it copies. It does not check that text is valid UTF-8.
func NewPreparedMessage(op Opcode, p []byte) (*PreparedMessage, error) {
	if err := checkDataOpcode(op); err != nil {
		return nil, err
	}
	frame := AppendHeader(make([]byte, 0, MaxHeaderSize+len(p)), Header{Fin: true, Opcode: op, Length: int64(len(p))})
	n := len(frame)
	frame = append(frame, p...)
	return &PreparedMessage{op: op, payload: frame[n:], frame: frame}, nil
}

// WritePreparedMessage writes pm as one message, as WriteMessage would. A
// client masks every frame with a fresh key (RFC 6455 §5.3), so on a client
// Conn it costs what WriteMessage does. With permessage-deflate negotiated,
// a server Conn that compresses without context takeover sends a compressed
// frame made once per compression level and shared; one that keeps its
// context compresses pm with its own compressor.
func (c *Conn) WritePreparedMessage(pm *PreparedMessage) error {
	if !c.server || c.comp != nil && c.comp.params.writeTakeover && c.comp.compressWhole(len(pm.payload)) {
		return c.WriteMessage(pm.op, pm.payload)
	}
	frame := pm.frame
	if c.comp.compressWhole(len(pm.payload)) {
		f, err := pm.deflatedFrame(c.comp.params.level)
		if err != nil {
			return err
		}
		frame = f
	}
	c.msgMu.Lock()
	defer c.msgMu.Unlock()
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	return c.writeLocked(frame)
}

// deflatedFrame returns pm's server frame compressed at level, making it on
// first use.
func (pm *PreparedMessage) deflatedFrame(level int) ([]byte, error) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	for _, d := range pm.deflated {
		if d.level == level {
			return d.frame, d.err
		}
	}
	frame, err := deflateFrame(pm.op, pm.payload, level)
	pm.deflated = append(pm.deflated, deflatedFrame{level, frame, err})
	return frame, err
}

// deflateFrame compresses p alone, as a message without context takeover
// is (RFC 7692 §7.2.1: a DEFLATE block flushed with an empty stored block,
// whose 0x00 0x00 0xff 0xff tail is removed), and frames it with RSV1 set.
func deflateFrame(op Opcode, p []byte, level int) ([]byte, error) {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, level)
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(p); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	frame := AppendHeader(make([]byte, 0, MaxHeaderSize+len(body)), Header{Fin: true, Rsv1: true, Opcode: op, Length: int64(len(body))})
	return append(frame, body...), nil
}
