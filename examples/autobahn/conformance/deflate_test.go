package conformance

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
)

// permessage-deflate (RFC 7692 §7.2) for the harness, on compress/flate, as
// the suite does it on zlib: the sender flushes each message with a sync
// flush and drops the 0x00 0x00 0xff 0xff it ends with; the receiver appends
// it again and inflates, with the earlier messages as dictionary unless the
// sender resets its context for every message.

type pmdState struct {
	// Harness to testee.
	sendTakeover bool
	sendBits     int // window the testee allows us
	fw           *flate.Writer
	wbuf         bytes.Buffer

	// Testee to harness.
	recvTakeover bool
	recvBits     int           // window we allowed the testee
	hist         []byte        // the last 32 KiB inflated, with takeover
	histLen      int64         // bytes inflated in this context, for the window check
	fr           io.ReadCloser // the inflater, reset for each message
	rbuf         bytes.Buffer  // what it inflates
}

// newPMDState sets up the harness's end of an agreed response. The harness
// is the client in the server role and the server in the client role.
func newPMDState(resp pmdParams, harnessIsClient bool) *pmdState {
	s := &pmdState{sendBits: 15, recvBits: 15}
	bits := func(b int) int {
		if b > 0 {
			return b
		}
		return 15
	}
	if harnessIsClient {
		s.sendTakeover, s.sendBits = !resp.clientNoCtx, bits(resp.clientBits)
		s.recvTakeover, s.recvBits = !resp.serverNoCtx, bits(resp.serverBits)
	} else {
		s.sendTakeover, s.sendBits = !resp.serverNoCtx, bits(resp.serverBits)
		s.recvTakeover, s.recvBits = !resp.clientNoCtx, bits(resp.clientBits)
	}
	return s
}

// compress returns the compressed payload of msg. Under a window limit the
// harness compresses with Huffman codes only, which refer to nothing
// earlier, since compress/flate's window cannot be made smaller. With
// context takeover it compresses at level 2, the fastest of compress/flate's
// levels that searches the whole 32 KiB window (level 1 looks back one
// write only), so that back-references reach across messages; without, at
// level 1, each message on its own, whose reset costs nothing (level 2
// clears 640 KiB of hash chains). The suite's zlib level 6 costs five
// times as much under the race detector, which instruments the harness
// too, for no more coverage of the testee's inflater.
func (s *pmdState) compress(msg []byte) []byte {
	level := flate.BestSpeed
	switch {
	case s.sendBits < 15:
		level = flate.HuffmanOnly
	case s.sendTakeover:
		level = 2
	}
	s.wbuf.Reset()
	switch {
	case s.fw == nil:
		s.fw, _ = flate.NewWriter(&s.wbuf, level)
	case !s.sendTakeover && level != flate.HuffmanOnly: // Huffman codes refer to nothing earlier
		s.fw.Reset(&s.wbuf) // a fresh context, as a new writer has
	}
	s.fw.Write(msg)
	s.fw.Flush()
	out := bytes.Clone(s.wbuf.Bytes())
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		panic("compress/flate sync flush did not end with 00 00 ff ff")
	}
	return out[:len(out)-4]
}

// decompress inflates a received compressed message and checks that every
// back-reference lies within the window the harness allowed (RFC 7692
// §7.1.2.1) and within what was sent before in the same context.
func (s *pmdState) decompress(payload []byte) ([]byte, error) {
	// Room for the end of a sync flush, and then for a final block.
	data := append(make([]byte, 0, len(payload)+9), payload...)
	data = append(data, 0x00, 0x00, 0xff, 0xff)
	prior := int64(0)
	if s.recvTakeover {
		prior = s.histLen
	}
	maxDist, _, err := scanDeflate(data, prior)
	if err != nil {
		return nil, fmt.Errorf("compressed payload: %w", err)
	}
	if maxDist > 1<<s.recvBits {
		return nil, fmt.Errorf("back-reference of %d bytes exceeds the %d-byte window agreed (max_window_bits=%d)", maxDist, 1<<s.recvBits, s.recvBits)
	}
	var dict []byte
	if s.recvTakeover {
		dict = s.hist
	}
	// A final empty stored block ends the stream, so the reader gives io.EOF.
	src := bytes.NewReader(append(data, 0x01, 0x00, 0x00, 0xff, 0xff))
	if s.fr == nil {
		s.fr = flate.NewReaderDict(src, dict)
	} else if err := s.fr.(flate.Resetter).Reset(src, dict); err != nil {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	s.rbuf.Reset()
	if _, err := s.rbuf.ReadFrom(s.fr); err != nil {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	out := bytes.Clone(s.rbuf.Bytes())
	if s.recvTakeover {
		s.histLen += int64(len(out))
		s.hist = append(s.hist, out...)
		if len(s.hist) > 64<<10 {
			s.hist = bytes.Clone(s.hist[len(s.hist)-32<<10:])
		}
	}
	return out, nil
}

// scanDeflate decodes the DEFLATE blocks of data (RFC 1951) without keeping
// the output, and returns the longest back-reference distance used and the
// output length. prior is how much output preceded data in the same LZ77
// context: a distance past it refers to nothing. It stops after a final block
// or at the end of data on a block boundary, as a sync-flushed message ends.
func scanDeflate(data []byte, prior int64) (maxDist int, outLen int64, err error) {
	br := &bitReader{b: data}
	for {
		if br.exhausted() {
			return maxDist, outLen, nil
		}
		final, err := br.bits(1)
		if err != nil {
			return 0, 0, err
		}
		typ, err := br.bits(2)
		if err != nil {
			return 0, 0, err
		}
		switch typ {
		case 0:
			br.align()
			if br.pos+4 > len(br.b) {
				return 0, 0, io.ErrUnexpectedEOF
			}
			n := int(br.b[br.pos]) | int(br.b[br.pos+1])<<8
			nn := int(br.b[br.pos+2]) | int(br.b[br.pos+3])<<8
			if n != ^nn&0xffff {
				return 0, 0, errors.New("stored block LEN/NLEN mismatch")
			}
			br.pos += 4
			if br.pos+n > len(br.b) {
				return 0, 0, io.ErrUnexpectedEOF
			}
			br.pos += n
			outLen += int64(n)
		case 1, 2:
			var lit, dist *huffman
			if typ == 1 {
				lit, dist = fixedHuffman()
			} else if lit, dist, err = br.dynamicTables(); err != nil {
				return 0, 0, err
			}
			for {
				sym, err := br.decode(lit)
				if err != nil {
					return 0, 0, err
				}
				if sym < 256 {
					outLen++
					continue
				}
				if sym == 256 {
					break
				}
				sym -= 257
				if sym >= 29 {
					return 0, 0, errors.New("invalid length code")
				}
				e, err := br.bits(uint(lengthExtra[sym]))
				if err != nil {
					return 0, 0, err
				}
				length := lengthBase[sym] + int(e)
				ds, err := br.decode(dist)
				if err != nil {
					return 0, 0, err
				}
				if ds >= 30 {
					return 0, 0, errors.New("invalid distance code")
				}
				e, err = br.bits(uint(distExtra[ds]))
				if err != nil {
					return 0, 0, err
				}
				d := distBase[ds] + int(e)
				if int64(d) > prior+outLen {
					return 0, 0, fmt.Errorf("distance %d refers before the start of the context (%d bytes)", d, prior+outLen)
				}
				maxDist = max(maxDist, d)
				outLen += int64(length)
			}
		default:
			return 0, 0, errors.New("reserved block type 3")
		}
		if final == 1 {
			return maxDist, outLen, nil
		}
	}
}

var (
	lengthBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

type bitReader struct {
	b    []byte
	pos  int
	acc  uint32
	nacc uint
}

// exhausted reports whether only padding bits of the last byte are left.
func (r *bitReader) exhausted() bool { return r.pos >= len(r.b) && r.acc == 0 }

func (r *bitReader) bits(n uint) (uint32, error) {
	for r.nacc < n {
		if r.pos >= len(r.b) {
			return 0, io.ErrUnexpectedEOF
		}
		r.acc |= uint32(r.b[r.pos]) << r.nacc
		r.pos++
		r.nacc += 8
	}
	v := r.acc & (1<<n - 1)
	r.acc >>= n
	r.nacc -= n
	return v, nil
}

func (r *bitReader) align() { r.acc, r.nacc = 0, 0 }

// huffman is a canonical Huffman code as RFC 1951 §3.2.2 builds it: the
// number of codes of each length and the symbols in code order.
type huffman struct {
	count  [16]int
	symbol []int
}

func newHuffman(lengths []int) (*huffman, error) {
	h := &huffman{symbol: make([]int, 0, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - h.count[l]
		if left < 0 {
			return nil, errors.New("over-subscribed Huffman code")
		}
	}
	for l := 1; l < 16; l++ {
		for s, sl := range lengths {
			if sl == l {
				h.symbol = append(h.symbol, s)
			}
		}
	}
	return h, nil
}

// decode reads one symbol, a bit at a time (RFC 1951 codes start at the
// most significant bit).
func (r *bitReader) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code |= int(b)
		count := h.count[l]
		if code-first < count {
			return h.symbol[index+code-first], nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errors.New("invalid Huffman code")
}

func fixedHuffman() (*huffman, *huffman) {
	var l [288]int
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	lit, _ := newHuffman(l[:])
	var d [30]int
	for i := range d {
		d[i] = 5
	}
	dist, _ := newHuffman(d[:])
	return lit, dist
}

var clOrder = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

func (r *bitReader) dynamicTables() (*huffman, *huffman, error) {
	hlit, err := r.bits(5)
	if err != nil {
		return nil, nil, err
	}
	hdist, err := r.bits(5)
	if err != nil {
		return nil, nil, err
	}
	hclen, err := r.bits(4)
	if err != nil {
		return nil, nil, err
	}
	nlen, ndist := int(hlit)+257, int(hdist)+1
	var cl [19]int
	for i := 0; i < int(hclen)+4; i++ {
		v, err := r.bits(3)
		if err != nil {
			return nil, nil, err
		}
		cl[clOrder[i]] = int(v)
	}
	clh, err := newHuffman(cl[:])
	if err != nil {
		return nil, nil, err
	}
	lengths := make([]int, 0, nlen+ndist)
	for len(lengths) < nlen+ndist {
		sym, err := r.decode(clh)
		if err != nil {
			return nil, nil, err
		}
		if sym < 16 {
			lengths = append(lengths, sym)
			continue
		}
		rep, prev := 0, 0
		switch sym {
		case 16:
			if len(lengths) == 0 {
				return nil, nil, errors.New("repeat with no previous length")
			}
			prev = lengths[len(lengths)-1]
			v, err := r.bits(2)
			if err != nil {
				return nil, nil, err
			}
			rep = 3 + int(v)
		case 17:
			v, err := r.bits(3)
			if err != nil {
				return nil, nil, err
			}
			rep = 3 + int(v)
		default:
			v, err := r.bits(7)
			if err != nil {
				return nil, nil, err
			}
			rep = 11 + int(v)
		}
		if len(lengths)+rep > nlen+ndist {
			return nil, nil, errors.New("code lengths overrun")
		}
		for range rep {
			lengths = append(lengths, prev)
		}
	}
	lit, err := newHuffman(lengths[:nlen])
	if err != nil {
		return nil, nil, err
	}
	dist, err := newHuffman(lengths[nlen:])
	if err != nil {
		return nil, nil, err
	}
	return lit, dist, nil
}
