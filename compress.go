//go:build !js

package websocket

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/fullduplex/websocket/internal/deflate"
	"github.com/fullduplex/websocket/internal/httphead"
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
	// DefaultCompressionLevel, as the zero value of every option means its
	// default (to send messages uncompressed, set Disabled, not
	// flate.NoCompression); flate.DefaultCompression means the second
	// effort. Any other level fails Dial, and every handshake Accept and
	// AcceptConn answer (with 500), with an error naming it.
	Level int

	// WindowBits limits the LZ77 window of both directions to 2^WindowBits
	// bytes, from 8 to 15 (RFC 7692 §7.1.2): this endpoint compresses within
	// it and asks the peer to, when the peer lets itself be asked. With
	// context takeover, a Conn keeps that much history each way between
	// messages (plus a 16 KiB table and a little slack), so 32 KiB windows
	// cost about 90 KiB per connection and 9-bit ones about 20 KiB; smaller
	// windows compress less. 0 means 15; a value out of range fails
	// handshakes as an invalid Level does.
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

// check reports options no handshake can honour, so that a typo fails the
// first connection loudly rather than every connection quietly.
func (o *CompressionOptions) check() error {
	switch {
	case o.Disabled:
		return nil
	case o.Level < flate.HuffmanOnly || o.Level > flate.BestCompression:
		return fmt.Errorf("websocket: CompressionOptions.Level %d is not a compress/flate level from %d to %d", o.Level, flate.HuffmanOnly, flate.BestCompression)
	case o.WindowBits != 0 && (o.WindowBits < minWindowBits || o.WindowBits > maxWindowBits):
		return fmt.Errorf("websocket: CompressionOptions.WindowBits %d is outside %d to %d", o.WindowBits, minWindowBits, maxWindowBits)
	}
	return nil
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

// Negotiating permessage-deflate (RFC 7692 §5, §7.1): the server's answer
// to offers, and the client's offer and check of the answer.

// parseWindowBits parses a max_window_bits value: a decimal integer from 8 to
// 15 without leading zeros (RFC 7692 §7.1.2).
func parseWindowBits(v string) (int, bool) {
	if len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= minWindowBits && n <= maxWindowBits
}

// negotiateDeflate is the server side: it accepts the first permessage-deflate
// offer in the request's Sec-WebSocket-Extensions values that it can honour
// and returns the response extension, or "" and nil if there is none. RFC 7692
// §7.1 makes the server decline, rather than fail, offers with unknown,
// repeated or invalid parameters; a malformed header declines them all.
func negotiateDeflate(values []string, opts *CompressionOptions) (string, *deflateParams) {
	if opts.Disabled {
		return "", nil
	}
	offers, err := httphead.ParseExtensions(values)
	if err != nil {
		return "", nil
	}
	for _, e := range offers {
		if !strings.EqualFold(e.Name, extensionName) {
			continue
		}
		if resp, p, ok := acceptOffer(e.Params, opts); ok {
			return resp, p
		}
	}
	return "", nil
}

func acceptOffer(params []httphead.Param, opts *CompressionOptions) (string, *deflateParams, bool) {
	var (
		seen                     [4]bool
		serverNoCtx, clientNoCtx bool
		serverBits, clientBits   int // offered; clientBits is -1 for a bare client_max_window_bits
		noTakeover               = !opts.ContextTakeover
		ours                     = opts.windowBits()
		resp                     = extensionName
		p                        = &deflateParams{writeWindowBits: ours, readWindowBits: maxWindowBits, level: opts.level(), threshold: opts.threshold()}
	)
	for _, q := range params {
		i := paramIndex(q.Name)
		if i < 0 || seen[i] {
			return "", nil, false
		}
		seen[i] = true
		switch i {
		case 0, 1: // server_no_context_takeover, client_no_context_takeover: no value
			if q.HasValue {
				return "", nil, false
			}
			serverNoCtx = serverNoCtx || i == 0
			clientNoCtx = clientNoCtx || i == 1
		case 2: // server_max_window_bits: a value is required (§7.1.2.1)
			bits, ok := parseWindowBits(q.Value)
			if !q.HasValue || !ok {
				return "", nil, false
			}
			serverBits = bits
		case 3: // client_max_window_bits: the value is optional (§7.1.2.2)
			bits, ok := parseWindowBits(q.Value)
			if q.HasValue && !ok {
				return "", nil, false
			}
			clientBits = -1
			if q.HasValue {
				clientBits = bits
			}
		}
	}
	// The server may refuse to take over its own context even unasked
	// (§7.1.1.1), and must when asked. It may also tell the client not to
	// (§7.1.1.2); doing so whenever the client offers it lets us keep no
	// history between messages.
	if serverNoCtx || noTakeover {
		resp += "; server_no_context_takeover"
	}
	if clientNoCtx || noTakeover {
		resp += "; client_no_context_takeover"
	}
	// A client may limit our window (§7.1.2.1), and accepting means echoing
	// a value no larger; our encoder keeps to any window. Unasked, we may
	// still tell the client that ours is smaller than 32 KiB.
	if serverBits != 0 {
		p.writeWindowBits = min(serverBits, ours)
	}
	if p.writeWindowBits < maxWindowBits || serverBits != 0 {
		resp += "; server_max_window_bits=" + strconv.Itoa(p.writeWindowBits)
	}
	// A client that offers client_max_window_bits lets us limit its window
	// (§7.1.2.2), which we do when WindowBits is below 15, to keep less
	// history for it. Otherwise its window stays up to 32 KiB, which
	// compress/flate inflates.
	if clientBits != 0 && ours < maxWindowBits {
		if clientBits > 0 {
			ours = min(ours, clientBits)
		}
		resp += "; client_max_window_bits=" + strconv.Itoa(ours)
		p.readWindowBits = ours
	}
	p.writeTakeover = !serverNoCtx && !noTakeover
	p.readTakeover = !clientNoCtx && !noTakeover
	p.threshold = opts.thresholdFor(p.writeTakeover)
	p.ext = resp
	return resp, p, true
}

var deflateParamNames = [...]string{"server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits"}

func paramIndex(name string) int {
	for i, n := range deflateParamNames {
		if strings.EqualFold(name, n) {
			return i
		}
	}
	return -1
}

// deflateOffer returns the client's Sec-WebSocket-Extensions value, or "" when
// compression is disabled. Without context takeover we ask the server not to
// keep its own, so that neither side holds state between messages. We offer
// client_max_window_bits (§7.1.2.2), so the server may limit our window, and
// keep to what it answers; with WindowBits below 15, we also ask the server
// to compress within that window (server_max_window_bits, §7.1.2.1).
func deflateOffer(opts *CompressionOptions) string {
	if opts.Disabled {
		return ""
	}
	offer := extensionName
	if !opts.ContextTakeover {
		offer += "; server_no_context_takeover; client_no_context_takeover"
	}
	if bits := opts.windowBits(); bits < maxWindowBits {
		return offer + "; server_max_window_bits=" + strconv.Itoa(bits) + "; client_max_window_bits=" + strconv.Itoa(bits)
	}
	return offer + "; client_max_window_bits"
}

// clientDeflateResponse checks the server's Sec-WebSocket-Extensions values
// against the offer made with opts, as RFC 6455 §4.1 and RFC 7692 §7.1 ask:
// the client fails the handshake on an extension it did not offer, on unknown,
// repeated or invalid parameters, and on a response that does not match its
// offer. It returns nil params when the server declined. Its errors are
// reasons for a HandshakeError.
func clientDeflateResponse(values []string, opts *CompressionOptions) (*deflateParams, error) {
	exts, err := httphead.ParseExtensions(values)
	if err != nil {
		return nil, err
	}
	if len(exts) == 0 {
		return nil, nil
	}
	if opts.Disabled || len(exts) > 1 || !strings.EqualFold(exts[0].Name, extensionName) {
		return nil, fmt.Errorf("server accepted extensions %q that were not offered", strings.Join(values, ", "))
	}
	var seen [4]bool
	ours := opts.windowBits()
	p := &deflateParams{
		writeWindowBits: ours, readWindowBits: maxWindowBits, level: opts.level(), threshold: opts.threshold(),
		writeTakeover: opts.ContextTakeover, readTakeover: true,
	}
	for _, q := range exts[0].Params {
		i := paramIndex(q.Name)
		if i < 0 || seen[i] {
			return nil, fmt.Errorf("unknown or repeated permessage-deflate parameter %q in response", q.Name)
		}
		seen[i] = true
		switch i {
		case 0, 1:
			if q.HasValue {
				return nil, fmt.Errorf("permessage-deflate parameter %s has a value", q.Name)
			}
			if i == 0 {
				p.readTakeover = false
			} else {
				p.writeTakeover = false
			}
		case 2, 3: // a response must give them a value (§7.1.2)
			bits, ok := parseWindowBits(q.Value)
			if !q.HasValue || !ok {
				return nil, fmt.Errorf("invalid permessage-deflate parameter %s=%q", q.Name, q.Value)
			}
			if i == 2 {
				if bits > ours {
					return nil, fmt.Errorf("server_max_window_bits=%d is larger than the %d offered", bits, ours)
				}
				p.readWindowBits = bits
			} else {
				// We offered client_max_window_bits (see deflateOffer):
				// the server limits our window, and we keep to it.
				p.writeWindowBits = min(ours, bits)
			}
		}
	}
	if !opts.ContextTakeover && p.readTakeover {
		return nil, errors.New("server did not accept server_no_context_takeover as offered")
	}
	if ours < maxWindowBits && !seen[2] {
		return nil, errors.New("server did not accept server_max_window_bits as offered")
	}
	p.threshold = opts.thresholdFor(p.writeTakeover)
	p.ext = strings.Join(values, ", ")
	return p, nil
}

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
