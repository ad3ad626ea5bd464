package websocket

import (
	"compress/flate"
	"errors"
	"io"
	"sync/atomic"

	"github.com/fullduplex/websocket/internal/deflate"
)

// CompressionOptions configures the permessage-deflate extension (RFC 7692).
// The zero value enables it without context takeover: an idle connection then
// holds no compression state at all, since compressors and decompressors are
// taken from pools only while a message is in flight.
type CompressionOptions struct {
	// Disabled turns compression off: a server declines every offer and a
	// client makes none.
	Disabled bool

	// ContextTakeover keeps the LZ77 window from one message to the next in
	// both directions, which compresses runs of similar messages much better
	// (chat events to a third of what they compress to alone), but holds
	// the window of history each way and an 8 KiB table for the connection's
	// whole life: about 90 KiB with 32 KiB windows (see WindowBits). It is
	// only a preference: a peer may still ask either side not to take over
	// its context.
	ContextTakeover bool

	// Level is a compress/flate level, from flate.BestSpeed to
	// flate.BestCompression, or flate.HuffmanOnly, which compresses with
	// Huffman codes alone. Messages are compressed by this package's own
	// encoder, which has two efforts: flate.BestSpeed, as fast as
	// compress/flate's, and every other level, about twice its CPU on long
	// messages for 5-15% less output (BenchmarkDeflate). 0 means
	// DefaultCompressionLevel; an invalid level also falls back to it.
	Level int

	// WindowBits limits the LZ77 window of both directions to 2^WindowBits
	// bytes, from 8 to 15 (RFC 7692 §7.1.2): this endpoint compresses within
	// it and asks the peer to, when the peer lets itself be asked. With
	// context takeover, a Conn keeps that much history each way between
	// messages (plus a 16 KiB table and a little slack), so 32 KiB windows
	// cost about 90 KiB per connection and 9-bit ones about 20 KiB; smaller
	// windows compress less. 0, or a value out of range, means 15.
	WindowBits int

	// Threshold is the payload size below which WriteMessage sends a message
	// uncompressed; a negative value compresses every message, and 0 means
	// DefaultCompressionThreshold without context takeover and every
	// message with it. Messages written with NextWriter are
	// compressed whatever their size, which is not known when they begin.
	Threshold int
}

// DefaultCompressionLevel is the compression level unless CompressionOptions
// says otherwise: the faster effort of the encoder (see
// CompressionOptions.Level).
const DefaultCompressionLevel = flate.BestSpeed

// DefaultCompressionThreshold is the payload size below which messages are
// sent uncompressed without context takeover, unless CompressionOptions says
// otherwise: compressed alone, a shorter message saves a few hundred bytes
// at most, for the time of compressing and decompressing it
// (BenchmarkDeflate). With context takeover, short messages refer to the
// ones before and compress well, so by default all are compressed.
const DefaultCompressionThreshold = 512

const (
	extensionName = "permessage-deflate"
	maxWindowBits = 15
	minWindowBits = 8
)

// deflateParams is the outcome of a permessage-deflate negotiation, seen from
// one endpoint: "write" is the direction this endpoint compresses, "read" the
// one it decompresses.
type deflateParams struct {
	ext             string // the Sec-WebSocket-Extensions value agreed, for the Observer
	writeTakeover   bool   // keep the compressor's window across messages
	readTakeover    bool   // the peer may refer to earlier messages
	writeWindowBits int    // the largest window this endpoint may compress with (0: 15)
	readWindowBits  int    // the largest window the peer may compress with (0: 15)
	level           int
	threshold       int
}

func (o *CompressionOptions) level() int {
	if o.Level == 0 || o.Level < flate.HuffmanOnly || o.Level > flate.BestCompression {
		return DefaultCompressionLevel
	}
	return o.Level
}

func (o *CompressionOptions) windowBits() int { return windowBits(o.WindowBits) }

// thresholdFor is the threshold of a negotiated direction.
func (o *CompressionOptions) thresholdFor(takeover bool) int {
	if o.Threshold == 0 && takeover {
		return 0
	}
	return o.threshold()
}

func (o *CompressionOptions) threshold() int {
	switch {
	case o.Threshold == 0:
		return DefaultCompressionThreshold
	case o.Threshold < 0:
		return 0
	}
	return o.Threshold
}

// compression is a Conn's permessage-deflate state; a Conn without the
// extension negotiated has none. The codec's state is held by value, so
// that the read and write paths reach it with no further indirection.
type compression struct {
	params  deflateParams    // set when the Conn is made, never changed
	noWrite atomic.Bool      // set by SetWriteCompression(false)
	w       deflate.Encoder  // guarded by the Conn's msgMu
	cw      compressWriter   // what NextWriter returns; msgMu
	r       deflate.Inflater // used only by the reading goroutine (readMu)
	src     payloadReader    // the inflater's source; readMu
	rText   bool             // the message being inflated is text; readMu
}

func newCompression(p *deflateParams) *compression {
	c := &compression{params: *p}
	// The encoder keeps its back-references within the window agreed
	// (RFC 7692 §7.1.2), whatever its size, so every message may be
	// compressed, with or without context takeover.
	c.w = deflate.NewEncoder(windowBits(p.writeWindowBits), p.level, p.writeTakeover)
	c.r = deflate.NewInflater(windowBits(p.readWindowBits), p.readTakeover)
	return c
}

// extensions returns the Sec-WebSocket-Extensions value agreed, or "".
func (c *compression) extensions() string {
	if c == nil {
		return ""
	}
	return c.params.ext
}

// windowBits is the window size of a negotiated max_window_bits, 0 meaning
// none was negotiated and the window is the largest.
func windowBits(b int) int {
	if b < minWindowBits || b > maxWindowBits {
		return maxWindowBits
	}
	return b
}

// compressWhole reports whether a whole message of n bytes is to be sent compressed.
func (c *compression) compressWhole(n int) bool {
	return c != nil && !c.noWrite.Load() && n >= c.params.threshold
}

// compressStream reports whether a message written with NextWriter, whose
// length is unknown, is to be sent compressed.
func (c *compression) compressStream() bool {
	return c != nil && !c.noWrite.Load()
}

// compressWriter is the io.WriteCloser NextWriter returns for a compressed
// message: it compresses into the frame writer w and, on Close, flushes and
// closes w, which sends the final frame.
type compressWriter struct {
	e *deflate.Encoder
	w *messageWriter
	n int // bytes written, before compression
}

// writer begins a message compressed into the frame writer w and returns
// its compressWriter. The caller holds msgMu.
func (c *compression) writer(w *messageWriter) io.WriteCloser {
	c.w.Begin(w)
	c.cw = compressWriter{e: &c.w, w: w}
	return &c.cw
}

func (cw *compressWriter) Write(p []byte) (int, error) {
	if cw.e == nil {
		return 0, errors.New("websocket: write to a closed message writer")
	}
	n, err := cw.e.Write(p)
	cw.n += n
	return n, err
}

// Close flushes the compressor and closes the frame writer, which sends the
// final frame and lets other writers go on, even when the flush failed.
func (cw *compressWriter) Close() error {
	if cw.e == nil {
		return errors.New("websocket: message writer already closed")
	}
	err := cw.e.End()
	cw.e = nil
	if cerr := cw.w.close(cw.n); err == nil {
		err = cerr
	}
	return err
}
