// Package deflatetest checks permessage-deflate payloads (RFC 7692) from
// outside the codec that made them, for the tests of internal/deflate and
// of the Conn: Decode inflates them with compress/flate, CheckWindow and
// ScanBackRefs look at every back-reference, with a decoder of the block
// structure written from RFC 1951 for the purpose, and Compress and
// JSONish make inputs. Nothing here uses code of internal/deflate, so what
// it finds is not the codec agreeing with itself.
package deflatetest

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"
)

// tail ends every flushed DEFLATE stream: RFC 7692 §7.2.1 has the sender
// remove it, and §7.2.2 the receiver append it again.
var tail = []byte{0x00, 0x00, 0xff, 0xff}

// Compress returns msg compressed alone, as a message without context
// takeover is, by compress/flate at flate.BestSpeed: DEFLATE blocks ended
// by a sync flush whose 4-byte tail is removed (RFC 7692 §7.2.1).
func Compress(msg []byte) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write(msg)
	fw.Flush()
	return bytes.TrimSuffix(b.Bytes(), tail)
}

// Decode inflates payloads with compress/flate as RFC 7692 §7.2.2
// describes, and fails t if one is not valid DEFLATE data: each gets the
// tail back and, with context takeover, the last 32 KiB of the earlier
// messages' output as its dictionary.
func Decode(t testing.TB, payloads [][]byte, takeover bool) [][]byte {
	t.Helper()
	var out [][]byte
	var hist []byte
	for i, p := range payloads {
		src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(tail), bytes.NewReader([]byte{0x01, 0x00, 0x00, 0xff, 0xff}))
		var dict []byte
		if takeover {
			dict = hist[max(0, len(hist)-32<<10):]
		}
		got, err := io.ReadAll(flate.NewReaderDict(src, dict))
		if err != nil {
			t.Fatalf("message %d: compress/flate: %v", i, err)
		}
		hist = append(hist, got...)
		out = append(out, got)
	}
	return out
}

// CheckWindow fails t if a payload refers further back than 2^bits bytes,
// the window agreed (RFC 7692 §7.1.2), or before the start of its context:
// the message itself, and with context takeover the messages before.
func CheckWindow(t testing.TB, payloads [][]byte, takeover bool, bits int) {
	t.Helper()
	var prior int64
	for i, p := range payloads {
		if !takeover {
			prior = 0
		}
		maxDist, n, err := ScanBackRefs(p, prior)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if maxDist > 1<<bits {
			t.Fatalf("message %d: back-reference of %d bytes past a window of %d (max_window_bits=%d)", i, maxDist, 1<<bits, bits)
		}
		prior += n
	}
}

// JSONish returns n bytes of JSON-like text that compresses the way real
// messages do: repeated keys, varying values. The same n and seed give the
// same bytes.
func JSONish(n int, seed int64) []byte {
	r := rand.New(rand.NewSource(seed))
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, `{"id":%d,"user":"user%d","active":%v,"score":%.3f,"tags":["a%d","b%d"]},`,
			r.Intn(1e6), r.Intn(1000), r.Intn(2) == 1, r.Float64()*100, r.Intn(50), r.Intn(50))
	}
	return b.Bytes()[:n]
}

// Length and distance codes (RFC 1951 §3.2.5) and the order of the code
// length code's lengths (§3.2.7).
var (
	lengthBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder     = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// ScanBackRefs decodes the blocks of a permessage-deflate payload (RFC 1951
// §3.2) without keeping the output and returns the longest back-reference
// distance and the output length. prior is how much output came before in
// the same LZ77 context: a distance past it and the output so far is an
// error. The payload ends on a block boundary, in the empty stored block
// whose last 4 bytes RFC 7692 §7.2.1 removes, or with a final block.
func ScanBackRefs(data []byte, prior int64) (maxDist int, outLen int64, err error) {
	br := &scanReader{b: data}
	for {
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
			br.acc, br.nacc = 0, 0
			if br.pos == len(br.b) {
				return maxDist, outLen, nil // the stripped sync flush
			}
			if br.pos+4 > len(br.b) {
				return 0, 0, io.ErrUnexpectedEOF
			}
			n := int(br.b[br.pos]) | int(br.b[br.pos+1])<<8
			if n != ^(int(br.b[br.pos+2])|int(br.b[br.pos+3])<<8)&0xffff {
				return 0, 0, errors.New("stored block LEN/NLEN mismatch")
			}
			if br.pos += 4 + n; br.pos > len(br.b) {
				return 0, 0, io.ErrUnexpectedEOF
			}
			outLen += int64(n)
		case 1, 2:
			lit, dist := scanFixed()
			if typ == 2 {
				if lit, dist, err = br.dynamicTables(); err != nil {
					return 0, 0, err
				}
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
				if sym -= 257; sym >= 29 {
					return 0, 0, errors.New("invalid length code")
				}
				e, err := br.bits(lengthExtra[sym])
				if err != nil {
					return 0, 0, err
				}
				length := lengthBase[sym] + int(e)
				ds, err := br.decode(dist)
				if err != nil || ds >= 30 {
					return 0, 0, fmt.Errorf("distance code %d: %v", ds, err)
				}
				if e, err = br.bits(distExtra[ds]); err != nil {
					return 0, 0, err
				}
				d := distBase[ds] + int(e)
				if int64(d) > prior+outLen {
					return 0, 0, fmt.Errorf("distance %d before the start of the context (%d bytes)", d, prior+outLen)
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

type scanReader struct {
	b    []byte
	pos  int
	acc  uint32
	nacc uint
}

func (r *scanReader) bits(n uint) (uint32, error) {
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

// scanCode is a canonical Huffman code: counts of codes per length and the
// symbols in code order (RFC 1951 §3.2.2).
type scanCode struct {
	count  [16]int
	symbol []int
}

func newScanCode(lengths []int) (*scanCode, error) {
	h := &scanCode{}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		if left = left<<1 - h.count[l]; left < 0 {
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

func (r *scanReader) decode(h *scanCode) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code |= int(b)
		if count := h.count[l]; code-first < count {
			return h.symbol[index+code-first], nil
		} else {
			index += count
			first = (first + count) << 1
		}
		code <<= 1
	}
	return 0, errors.New("invalid Huffman code")
}

// scanFixed returns the fixed codes (RFC 1951 §3.2.6).
func scanFixed() (*scanCode, *scanCode) {
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
	lit, _ := newScanCode(l[:])
	d := make([]int, 30)
	for i := range d {
		d[i] = 5
	}
	dist, _ := newScanCode(d)
	return lit, dist
}

func (r *scanReader) dynamicTables() (*scanCode, *scanCode, error) {
	var head [3]uint32
	for i, n := range []uint{5, 5, 4} {
		v, err := r.bits(n)
		if err != nil {
			return nil, nil, err
		}
		head[i] = v
	}
	nlen, ndist := int(head[0])+257, int(head[1])+1
	var cl [19]int
	for i := 0; i < int(head[2])+4; i++ {
		v, err := r.bits(3)
		if err != nil {
			return nil, nil, err
		}
		cl[clOrder[i]] = int(v)
	}
	clh, err := newScanCode(cl[:])
	if err != nil {
		return nil, nil, err
	}
	var lengths []int
	for len(lengths) < nlen+ndist {
		sym, err := r.decode(clh)
		if err != nil {
			return nil, nil, err
		}
		if sym < 16 {
			lengths = append(lengths, sym)
			continue
		}
		prev, nb, base := 0, uint(2), 3
		switch sym {
		case 16:
			if len(lengths) == 0 {
				return nil, nil, errors.New("repeat with no previous length")
			}
			prev = lengths[len(lengths)-1]
		case 17:
			nb = 3
		default:
			nb, base = 7, 11
		}
		v, err := r.bits(nb)
		if err != nil {
			return nil, nil, err
		}
		for range base + int(v) {
			lengths = append(lengths, prev)
		}
	}
	if len(lengths) > nlen+ndist {
		return nil, nil, errors.New("code lengths overrun")
	}
	lit, err := newScanCode(lengths[:nlen])
	if err != nil {
		return nil, nil, err
	}
	dist, err := newScanCode(lengths[nlen:])
	return lit, dist, err
}
