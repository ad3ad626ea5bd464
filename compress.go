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
	// but holds a compressor (about 1 MiB with compress/flate) and a 32 KiB
	// history per connection for its whole life. It is only a preference: a
	// peer may still ask either side not to take over its context.
	ContextTakeover bool

	// Level is the compress/flate level used to compress, from flate.BestSpeed
	// to flate.BestCompression, or flate.HuffmanOnly. 0 means
	// DefaultCompressionLevel; an invalid level also falls back to it.
	Level int

	// Threshold is the payload size below which WriteMessage sends a message
	// uncompressed; 0 means DefaultCompressionThreshold and a negative value
	// compresses every message. Messages written with NextWriter are
	// compressed whatever their size, which is not known when they begin.
	Threshold int
}

// DefaultCompressionLevel is the compression level unless CompressionOptions
// says otherwise. On JSON-like text flate.BestSpeed compresses a 1 KiB message
// to 32% in half the time of the default level (29%), and a 64 KiB one to 24%
// five times faster (18%), see BenchmarkDeflateLevel: it resets a pooled
// compressor without clearing 640 KiB of hash tables, which matters when
// every message starts afresh (no context takeover).
const DefaultCompressionLevel = flate.BestSpeed

// DefaultCompressionThreshold is the payload size below which messages are
// sent uncompressed unless CompressionOptions says otherwise. compress/flate
// spends some 15-20µs on any message, building its Huffman tables, which on
// shorter messages buys a saving of a few hundred bytes at most
// (BenchmarkDeflateLevel).
const DefaultCompressionThreshold = 512

const (
	extensionName = "permessage-deflate"
	maxWindowBits = 15 // compress/flate always uses a 32 KiB window
	minWindowBits = 8
	maxWindow     = 1 << maxWindowBits
)

// deflateParams is the outcome of a permessage-deflate negotiation, seen from
// one endpoint: "write" is the direction this endpoint compresses, "read" the
// one it decompresses.
type deflateParams struct {
	writeTakeover   bool // keep the compressor's window across messages
	readTakeover    bool // the peer may refer to earlier messages
	writeWindowBits int  // the largest window this endpoint may compress with
	level           int
	threshold       int
}

func (o *CompressionOptions) level() int {
	if o.Level == 0 || o.Level < flate.HuffmanOnly || o.Level > flate.BestCompression {
		return DefaultCompressionLevel
	}
	return o.Level
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
	w       deflater       // guarded by the Conn's msgMu
	cw      compressWriter // what NextWriter returns; msgMu
	r       inflater       // used only by the reading goroutine (readMu)
	src     payloadReader  // the inflater's source; readMu
	rText   bool           // the message being inflated is text; readMu
}

func newCompression(p *deflateParams) *compression {
	c := &compression{params: *p}
	c.w.level, c.w.takeover = p.level, p.writeTakeover
	c.w.limit = math.MaxInt
	if p.writeWindowBits < maxWindowBits {
		// The client limited our window with server_max_window_bits (a
		// client offers no client_max_window_bits, see deflateOffer).
		// compress/flate always uses a 32 KiB window and cannot be told
		// otherwise, so we honour the limit by what we compress: only whole
		// messages no longer than the window, each from a fresh state,
		// which therefore hold no farther back-reference (RFC 7692 §7.1.2);
		// longer and streamed messages go uncompressed, which RSV1 per
		// message allows (§6.1).
		c.w.limit, c.w.takeover = 1<<p.writeWindowBits, false
	}
	c.r.takeover = p.readTakeover
	return c
}

// compressWhole reports whether a whole message of n bytes is to be sent compressed.
func (c *compression) compressWhole(n int) bool {
	return c != nil && !c.noWrite.Load() && n >= c.params.threshold && n <= c.w.limit
}

// compressStream reports whether a message written with NextWriter, whose
// length is unknown, is to be sent compressed.
func (c *compression) compressStream() bool {
	return c != nil && !c.noWrite.Load() && c.w.limit == math.MaxInt
}

var flateWriterPools [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

// deflater compresses messages. Without context takeover its flate.Writer
// comes from a pool for each message; with it, the writer lives as long as
// the connection.
type deflater struct {
	level    int
	takeover bool
	limit    int // longest message that may be compressed
	fw       *flate.Writer
	strip    tailStripper
	out      sliceWriter
}

// deflateTail ends every flushed DEFLATE stream: RFC 7692 §7.2.1 has the
// sender remove it and §7.2.2 the receiver append it again.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

var errDeflateTail = errors.New("websocket: compressed message does not end with a sync flush")

func (d *deflater) begin(w io.Writer) *flate.Writer {
	d.strip.w, d.strip.n = w, 0
	if d.fw != nil {
		return d.fw
	}
	pool := &flateWriterPools[d.level-flate.HuffmanOnly]
	fw, _ := pool.Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(&d.strip, d.level) // level was checked by CompressionOptions.level
	} else {
		fw.Reset(&d.strip)
	}
	if d.takeover {
		d.fw = fw
	}
	return fw
}

// end flushes the message, checks and drops the 4-byte tail and, without
// context takeover, gives the writer back.
func (d *deflater) end(fw *flate.Writer) error {
	err := fw.Flush()
	if err == nil && (d.strip.n != 4 || d.strip.tail != deflateTail) {
		err = errDeflateTail
	}
	d.strip.w, d.strip.n = nil, 0
	if d.fw == nil {
		flateWriterPools[d.level-flate.HuffmanOnly].Put(fw)
	}
	return err
}

// appendCompressed appends the compressed payload of the message p to dst.
func (d *deflater) appendCompressed(dst, p []byte) ([]byte, error) {
	d.out.b = dst
	fw := d.begin(&d.out)
	_, err := fw.Write(p)
	if err == nil {
		err = d.end(fw)
	} else {
		d.end(fw)
	}
	dst, d.out.b = d.out.b, nil
	return dst, err
}

// compressWriter is the io.WriteCloser NextWriter returns for a compressed
// message: it compresses into the frame writer w and, on Close, flushes and
// closes w, which sends the final frame.
type compressWriter struct {
	d  *deflater
	fw *flate.Writer
	w  io.WriteCloser
}

func (d *deflater) writer(cw *compressWriter, w io.WriteCloser) io.WriteCloser {
	*cw = compressWriter{d: d, fw: d.begin(w), w: w}
	return cw
}

func (cw *compressWriter) Write(p []byte) (int, error) {
	if cw.fw == nil {
		return 0, errors.New("websocket: write to a closed message writer")
	}
	return cw.fw.Write(p)
}

// Close flushes the compressor and closes the frame writer, which sends the
// final frame and lets other writers go on, even when the flush failed.
func (cw *compressWriter) Close() error {
	if cw.fw == nil {
		return errors.New("websocket: message writer already closed")
	}
	err := cw.d.end(cw.fw)
	cw.fw = nil
	if cerr := cw.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// tailStripper passes on all but the last 4 bytes written to it.
type tailStripper struct {
	w    io.Writer
	tail [4]byte
	n    int
}

func (t *tailStripper) Write(p []byte) (int, error) {
	if t.n+len(p) <= len(t.tail) {
		t.n += copy(t.tail[t.n:], p)
		return len(p), nil
	}
	if len(p) >= len(t.tail) {
		if t.n > 0 {
			if _, err := t.w.Write(t.tail[:t.n]); err != nil {
				return 0, err
			}
		}
		k := len(p) - len(t.tail)
		if _, err := t.w.Write(p[:k]); err != nil {
			return 0, err
		}
		t.n = copy(t.tail[:], p[k:])
		return len(p), nil
	}
	k := t.n + len(p) - len(t.tail) // held bytes that must leave now
	if _, err := t.w.Write(t.tail[:k]); err != nil {
		return 0, err
	}
	t.n = copy(t.tail[:], t.tail[k:t.n])
	t.n += copy(t.tail[t.n:], p)
	return len(p), nil
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

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

// history keeps at least the last 32 KiB written to it. It is a flat buffer
// with half a window of slack, so that keeping it costs one copy per byte and
// the dictionary for the next message is a plain slice of it.
type history struct{ b []byte }

func (h *history) write(p []byte) {
	if h.b == nil {
		h.b = make([]byte, 0, maxWindow+maxWindow/2)
	}
	if len(p) >= maxWindow {
		h.b = append(h.b[:0], p[len(p)-maxWindow:]...)
		return
	}
	if len(h.b)+len(p) > cap(h.b) {
		keep := maxWindow - len(p) // old bytes still within the window
		h.b = h.b[:copy(h.b, h.b[len(h.b)-keep:])]
	}
	h.b = append(h.b, p...)
}

// dict returns the last 32 KiB written, or all of it if less.
func (h *history) dict() []byte { return h.b[max(0, len(h.b)-maxWindow):] }
