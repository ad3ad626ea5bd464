package deflate

import (
	"compress/flate"
	"fmt"
	"io"
	"math"
	"sync"
)

// An Inflater decompresses the messages of one direction of a
// permessage-deflate stream, a message at a time: Begin, then Read until
// it returns an error or io.EOF. compress/flate's reader (about 40 KiB) is
// taken from a pool for each message and given back at its end; with
// context takeover, the last window of output is kept between messages
// instead and given to the next message's reader as its dictionary, which
// makes it decode as if the stream had never stopped (RFC 7692 §7.2.2).
//
// An Inflater is not safe for concurrent use: one goroutine at a time
// reads its messages. The zero Inflater decompresses without context
// takeover; NewInflater makes one with.
type Inflater struct {
	takeover  bool
	hist      history
	f         *flateReader
	limit     int64 // the limit of the message in flight
	remaining int64 // output the limit still allows
}

// NewInflater returns an Inflater for a peer that compresses within a
// window of 2^windowBits bytes, windowBits from 8 to 15 (RFC 7692 §7.1.2),
// and, with takeover, refers to its earlier messages; the Inflater then
// keeps that window of their output between messages (Retained).
func NewInflater(windowBits int, takeover bool) Inflater {
	// zlib compresses with a 512-byte window when 8 bits are agreed
	// (RFC 7692 §7.1.2.1), so the history kept is never shorter.
	return Inflater{takeover: takeover, hist: history{window: max(1<<windowBits, 512)}}
}

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

// Begin starts decompressing a message whose payload, across its frames,
// is read from src, which is kept until the message ends; at most limit
// bytes of output are allowed, or any number if limit is negative. No
// message may be in flight (Active).
func (z *Inflater) Begin(src io.Reader, limit int64) {
	z.f = flateReaderPool.Get().(*flateReader)
	z.f.src = inflateSource{r: src}
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

// Active reports whether a message is in flight: begun, and not yet ended
// by io.EOF, an error or Release.
func (z *Inflater) Active() bool { return z.f != nil }

// Release ends the message in flight, if any, without reading the rest of
// its payload, and gives its reader back to the pool. With context
// takeover the next message's dictionary is then the output read so far,
// so a message that has been read from must be read to its end instead:
// the peer's next message may refer to the rest.
func (z *Inflater) Release() {
	if z.f != nil {
		z.f.src = inflateSource{}
		flateReaderPool.Put(z.f)
		z.f = nil
	}
}

// Limit returns the limit on the output of the message in flight, or of
// the last one, as given to Begin (math.MaxInt64 for none).
func (z *Inflater) Limit() int64 { return z.limit }

// Inflated returns the output of the message in flight, or of the last
// one, so far.
func (z *Inflater) Inflated() int64 { return z.limit - z.remaining }

// Retained returns how many bytes of memory the Inflater keeps between
// messages: with context takeover, its history once a message has been
// read; without, none.
func (z *Inflater) Retained() int { return cap(z.hist.b) }

// Read reads decompressed bytes of the message into p. At the end of the
// DEFLATE stream it returns io.EOF; what follows a final block in the
// payload (RFC 7692 §7.2.3.3) is left unread. It returns ErrTooBig, and no
// bytes, once the output would pass the limit; an error wrapping
// ErrInvalid if the payload is not valid DEFLATE data; and an error of the
// source unchanged. The message ends with io.EOF or any error, and Read
// then returns 0, io.EOF until the next Begin.
//
// Read never asks the decompressor for more than one byte past the limit,
// so a small payload that inflates to gigabytes costs at most the limit
// plus a 32 KiB window to refuse.
func (z *Inflater) Read(p []byte) (int, error) {
	if z.f == nil {
		return 0, io.EOF
	}
	if int64(len(p)) > z.remaining {
		p = p[:z.remaining+1]
	}
	n, err := z.f.fr.Read(p)
	if int64(n) > z.remaining {
		z.Release()
		return 0, ErrTooBig
	}
	z.remaining -= int64(n)
	if z.takeover {
		z.hist.write(p[:n])
	}
	switch {
	case err == io.EOF:
		z.Release()
	case err != nil:
		if z.f.src.err != nil {
			err = z.f.src.err
		} else {
			err = fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		z.Release()
	}
	return n, err
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
