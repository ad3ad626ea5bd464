package websocket

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
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
	maxWindow     = 1 << maxWindowBits
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
// extension negotiated has none.
type compression struct {
	params  deflateParams
	noWrite atomic.Bool    // set by SetWriteCompression(false)
	w       encoder        // guarded by the Conn's msgMu
	cw      compressWriter // what NextWriter returns; msgMu
	r       inflater       // used only by the reading goroutine (readMu)
	src     payloadReader  // the inflater's source; readMu
	rText   bool           // the message being inflated is text; readMu
}

func newCompression(p *deflateParams) *compression {
	c := &compression{params: *p}
	// The encoder keeps its back-references within the window agreed
	// (RFC 7692 §7.1.2), whatever its size, so every message may be
	// compressed, with or without context takeover.
	c.w = newEncoder(windowBits(p.writeWindowBits), p.level, p.writeTakeover)
	c.r.takeover = p.readTakeover
	// zlib compresses with a 512-byte window when 8 bits are agreed
	// (§7.1.2.1), so the history kept for a peer is never shorter.
	c.r.hist.window = max(1<<windowBits(p.readWindowBits), 512)
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
	e *encoder
	w *messageWriter
	n int // bytes written, before compression
}

func (e *encoder) writer(cw *compressWriter, w *messageWriter) io.WriteCloser {
	e.begin(w, nil)
	*cw = compressWriter{e: e, w: w}
	return cw
}

func (cw *compressWriter) Write(p []byte) (int, error) {
	if cw.e == nil {
		return 0, errors.New("websocket: write to a closed message writer")
	}
	if cw.e.err != nil {
		return 0, cw.e.err
	}
	cw.e.write(p)
	if cw.e.err != nil {
		return 0, cw.e.err
	}
	cw.n += len(p)
	return len(p), nil
}

// Close flushes the compressor and closes the frame writer, which sends the
// final frame and lets other writers go on, even when the flush failed.
func (cw *compressWriter) Close() error {
	if cw.e == nil {
		return errors.New("websocket: message writer already closed")
	}
	_, err := cw.e.end()
	cw.e = nil
	if cerr := cw.w.close(cw.n); err == nil {
		err = cerr
	}
	return err
}

// deflateTail ends every flushed DEFLATE stream: RFC 7692 §7.2.1 has the
// sender remove it and §7.2.2 the receiver append it again.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// errInvalidDeflate is wrapped by the read error for a compressed message that
// is not valid DEFLATE data (RFC 1951); the Conn closes with
// StatusInvalidFramePayloadData.
var errInvalidDeflate = errors.New("websocket: invalid compressed data")

// flateReader is a pooled decompressor with the source it reads.
type flateReader struct {
	fr  io.ReadCloser
	src inflateSource
}

var flateReaderPool = sync.Pool{New: func() any {
	f := new(flateReader)
	f.fr = flate.NewReader(&f.src)
	return f
}}

// inflater decompresses messages, one at a time. Its flate reader is held only
// while a message is in flight; with context takeover, the last 32 KiB of
// output are kept instead and given to the next message's reader as its
// dictionary, which makes it decode as if the stream had never stopped.
type inflater struct {
	takeover  bool
	hist      history
	f         *flateReader
	limit     int64 // the read limit of the message in flight
	remaining int64 // output the read limit still allows
}

// begin starts decompressing a message whose payload, across its frames, is
// read from r; at most limit bytes of output are allowed (none if negative).
func (z *inflater) begin(r io.Reader, limit int64) {
	z.f = flateReaderPool.Get().(*flateReader)
	z.f.src = inflateSource{r: r}
	var dict []byte
	if z.takeover {
		dict = z.hist.dict()
	}
	z.f.fr.(flate.Resetter).Reset(&z.f.src, dict)
	if limit < 0 {
		limit = math.MaxInt64
	}
	z.limit, z.remaining = limit, limit
}

// active reports whether a message is in flight.
func (z *inflater) active() bool { return z.f != nil }

func (z *inflater) release() {
	if z.f != nil {
		z.f.src = inflateSource{}
		flateReaderPool.Put(z.f)
		z.f = nil
	}
}

// Read returns decompressed bytes. It never asks the decompressor for more
// than one byte past the read limit, so a small payload that inflates to
// gigabytes costs at most the limit plus a 32 KiB window to refuse.
func (z *inflater) Read(p []byte) (int, error) {
	if z.f == nil {
		return 0, io.EOF
	}
	if int64(len(p)) > z.remaining {
		p = p[:z.remaining+1]
	}
	n, err := z.f.fr.Read(p)
	if int64(n) > z.remaining {
		z.release()
		return 0, fmt.Errorf("%w: compressed message inflates past %d bytes", ErrMessageTooBig, z.limit)
	}
	z.remaining -= int64(n)
	if z.takeover {
		z.hist.write(p[:n])
	}
	switch {
	case err == io.EOF:
		z.release()
	case err != nil:
		if z.f.src.err != nil {
			err = z.f.src.err
		} else {
			err = fmt.Errorf("%w: %v", errInvalidDeflate, err)
		}
		z.release()
	}
	return n, err
}

// discard ends the message in flight without returning its output. With
// context takeover the rest must still be inflated, since the next message
// may refer to it.
func (z *inflater) discard() error {
	if z.f == nil {
		return nil
	}
	if !z.takeover {
		z.release()
		return nil
	}
	_, err := io.Copy(io.Discard, z)
	return err
}

// inflateSource feeds the decompressor the message payload followed by the
// tail the sender removed and an empty final block, so that a well-formed
// message ends the DEFLATE stream with io.EOF. It is an io.ByteReader so that
// compress/flate reads exactly what it needs and never past the message.
type inflateSource struct {
	r    io.Reader
	err  error // an error of r other than io.EOF
	eof  bool
	buf  [512]byte
	i, n int
	t    int // bytes of sourceTail served
}

// sourceTail is the stripped tail (RFC 7692 §7.2.2) and a final empty stored block.
var sourceTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

func (s *inflateSource) fill() error {
	for s.i == s.n && !s.eof {
		if s.err != nil {
			return s.err
		}
		n, err := s.r.Read(s.buf[:])
		s.i, s.n = 0, n
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			s.err = err
			if n == 0 {
				return err
			}
		}
	}
	return nil
}

func (s *inflateSource) ReadByte() (byte, error) {
	if err := s.fill(); err != nil {
		return 0, err
	}
	if s.i < s.n {
		s.i++
		return s.buf[s.i-1], nil
	}
	if s.t < len(sourceTail) {
		s.t++
		return sourceTail[s.t-1], nil
	}
	return 0, io.EOF
}

func (s *inflateSource) Read(p []byte) (int, error) {
	if err := s.fill(); err != nil {
		return 0, err
	}
	if s.i < s.n {
		n := copy(p, s.buf[s.i:s.n])
		s.i += n
		return n, nil
	}
	if s.t < len(sourceTail) {
		n := copy(p, sourceTail[s.t:])
		s.t += n
		return n, nil
	}
	return 0, io.EOF
}

// history keeps at least the last window bytes written to it (32 KiB if
// window is 0). It is a flat buffer with a little slack, so that keeping it
// costs one copy per byte and a slide now and then, and the dictionary for
// the next message is a plain slice of it.
type history struct {
	window int
	b      []byte
}

func (h *history) size() int {
	if h.window == 0 {
		return maxWindow
	}
	return h.window
}

func (h *history) write(p []byte) {
	w := h.size()
	if h.b == nil {
		h.b = make([]byte, 0, w+histSlack(w))
	}
	if len(p) >= w {
		h.b = append(h.b[:0], p[len(p)-w:]...)
		return
	}
	if len(h.b)+len(p) > cap(h.b) {
		keep := w - len(p) // old bytes still within the window
		h.b = h.b[:copy(h.b, h.b[len(h.b)-keep:])]
	}
	h.b = append(h.b, p...)
}

// dict returns the last window bytes written, or all of them if fewer.
func (h *history) dict() []byte { return h.b[max(0, len(h.b)-h.size()):] }
