package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"
)

// Tests of the DEFLATE encoder of deflate.go. What it writes is decoded by
// compress/flate, never by code of this package, and every back-reference is
// checked against the window by scanBackRefs, a decoder of the block
// structure written from RFC 1951 for the purpose.

// encoderMessages are messages of the kinds a connection sends: empty, tiny,
// text that compresses, bytes that do not, long runs, and messages longer
// than any window, some repeating earlier ones.
func encoderMessages() [][]byte {
	r := rand.New(rand.NewSource(1))
	random := make([]byte, 70000)
	r.Read(random)
	return [][]byte{
		{}, []byte("a"), []byte("Hello"), jsonish(100, 1), jsonish(100, 1), jsonish(1000, 2),
		random[:300], bytes.Repeat([]byte{'z'}, 5000), jsonish(40000, 3), random,
		jsonish(1000, 2), []byte("€uro text ✓"), jsonish(200000, 4), jsonish(300, 5),
		bytes.Repeat([]byte("ab"), 70000), jsonish(3000, 3),
	}
}

// decodeStream inflates payloads as RFC 7692 §7.2.2 describes, with
// compress/flate: with context takeover, each message has the earlier
// output as its dictionary.
func decodeStream(t testing.TB, payloads [][]byte, takeover bool) [][]byte {
	t.Helper()
	var out [][]byte
	var hist []byte
	for i, p := range payloads {
		src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(sourceTail[:]))
		var dict []byte
		if takeover {
			dict = hist[max(0, len(hist)-maxWindow):]
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

// checkWindow fails t if a payload refers further back than 2^bits bytes, or
// before the start of its context.
func checkWindow(t testing.TB, payloads [][]byte, takeover bool, bits int) {
	t.Helper()
	var prior int64
	for i, p := range payloads {
		if !takeover {
			prior = 0
		}
		maxDist, n, err := scanBackRefs(p, prior)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if maxDist > 1<<bits {
			t.Fatalf("message %d: back-reference of %d bytes past a window of %d (max_window_bits=%d)", i, maxDist, 1<<bits, bits)
		}
		prior += n
	}
}

// TestEncoderEveryWindow compresses the same messages at every window size
// of RFC 7692 §7.1.2, with and without context takeover, whole and written
// in pieces, and checks that compress/flate decodes them and that no
// back-reference leaves the window.
func TestEncoderEveryWindow(t *testing.T) {
	msgs := encoderMessages()
	for bits := minWindowBits; bits <= maxWindowBits; bits++ {
		for _, takeover := range []bool{false, true} {
			for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
				t.Run(fmt.Sprintf("bits=%d/takeover=%v/level=%d", bits, takeover, level), func(t *testing.T) {
					e := newEncoder(bits, level, takeover)
					var payloads [][]byte
					for i, m := range msgs {
						var p []byte
						if i%2 == 0 {
							p, _ = e.appendCompressed(nil, m)
						} else {
							var out sliceWriter
							e.begin(&out, nil)
							for rest := m; len(rest) > 0; {
								k := min(len(rest), 1+i*977%(len(rest)+1))
								e.write(rest[:k])
								rest = rest[k:]
							}
							if _, err := e.end(); err != nil {
								t.Fatal(err)
							}
							p = out.b
						}
						if bytes.HasSuffix(p, deflateTail[:]) && len(m) > 0 {
							t.Fatalf("message %d ends with the tail RFC 7692 §7.2.1 removes", i)
						}
						payloads = append(payloads, p)
					}
					if !bytes.Equal(payloads[0], []byte{0}) {
						t.Errorf("empty message compresses to %x, want 00 (RFC 7692 §7.2.3.6)", payloads[0])
					}
					got := decodeStream(t, payloads, takeover)
					for i := range msgs {
						if !bytes.Equal(got[i], msgs[i]) {
							t.Fatalf("message %d: %d bytes decoded, want %d", i, len(got[i]), len(msgs[i]))
						}
					}
					checkWindow(t, payloads, takeover, bits)
					if level == flate.HuffmanOnly {
						return
					}
					// Compression shows: the repeated message with takeover,
					// and text within any window.
					if takeover && len(payloads[4]) >= len(payloads[3])/2 {
						t.Errorf("a repeated 100-byte message compresses to %d bytes, the first to %d: context not taken over", len(payloads[4]), len(payloads[3]))
					}
					if len(payloads[12]) > len(msgs[12])/2 {
						t.Errorf("200 kB of JSON-like text compress to %d bytes", len(payloads[12]))
					}
				})
			}
		}
	}
}

// TestEncoderIncompressibleGrowsLittle checks the stored-block fallback:
// random bytes grow by no more than the headers of stored blocks, one per
// block of encMaxToken tokens.
func TestEncoderIncompressibleGrowsLittle(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, n := range []int{10, 1000, 65535, 65536, 300000} {
		m := make([]byte, n)
		r.Read(m)
		e := newEncoder(15, flate.BestSpeed, false)
		p, _ := e.appendCompressed(nil, m)
		if limit := n + 5*(n/encMaxToken+2) + 1; len(p) > limit {
			t.Errorf("%d random bytes compress to %d, more than %d", n, len(p), limit)
		}
		if got := decodeStream(t, [][]byte{p}, false)[0]; !bytes.Equal(got, m) {
			t.Fatalf("%d random bytes do not round-trip", n)
		}
	}
}

// TestEncoderTakeoverMemory checks what an encoder keeps between messages
// with context takeover: a history of the window and a little slack, and
// a table of 16 KiB, whatever size the messages had.
func TestEncoderTakeoverMemory(t *testing.T) {
	for _, bits := range []int{8, 9, 12, 15} {
		e := newEncoder(bits, flate.BestSpeed, true)
		for _, m := range encoderMessages() {
			e.appendCompressed(nil, m)
			if want := 1<<bits + histSlack(1<<bits); cap(e.hist) != want || len(e.hist) > want {
				t.Fatalf("bits %d: history of %d bytes, capacity %d; want capacity %d", bits, len(e.hist), cap(e.hist), want)
			}
			if e.active() {
				t.Fatal("scratch held after the message")
			}
		}
	}
}

// TestBuildLengthsComplete checks the Huffman code lengths on random
// frequencies: no length over the limit, and a complete code (the Kraft sum
// is exactly 1), which RFC 1951 decoders such as zlib require for codes of
// more than one symbol.
func TestBuildLengthsComplete(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var tmp [numLitLen]uint32
	for i := 0; i < 2000; i++ {
		n := 2 + r.Intn(numLitLen-1)
		limit := []int{7, 15}[i%2]
		if limit == 7 {
			n = min(n, numCL)
		}
		freq := make([]uint32, n)
		used := 0
		for s := range freq {
			switch r.Intn(4) {
			case 0: // unused
			case 1: // skewed, for long codes
				freq[s] = 1 << r.Intn(14)
			default:
				freq[s] = uint32(1 + r.Intn(100))
			}
			if freq[s] != 0 {
				used++
			}
		}
		if used < 2 {
			freq[0], freq[1] = 1, 1
			used = 2
		}
		lens := make([]uint8, n)
		buildLengths(freq, lens, limit, &tmp)
		kraft := 0
		for s, l := range lens {
			if (l == 0) != (freq[s] == 0) || int(l) > limit {
				t.Fatalf("symbol %d of frequency %d has length %d (limit %d)", s, freq[s], l, limit)
			}
			if l > 0 {
				kraft += 1 << (limit - int(l))
			}
		}
		if kraft != 1<<limit {
			t.Fatalf("Kraft sum %d/%d: code not complete", kraft, 1<<limit)
		}
	}
}

// FuzzEncoder round-trips fuzzed messages through the encoder at the window
// size and takeover mode the fuzzer picks and compress/flate's reader,
// checking that no back-reference leaves the window.
func FuzzEncoder(f *testing.F) {
	f.Add([]byte("Hello"), uint8(7), true, uint16(3))
	f.Add(jsonish(600, 1), uint8(0), false, uint16(100))
	f.Add(bytes.Repeat([]byte("abc"), 200), uint8(1), true, uint16(257))
	f.Fuzz(fuzzEncoderBody)
}

func fuzzEncoderBody(t *testing.T, data []byte, bits uint8, takeover bool, cut uint16) {
	b := minWindowBits + int(bits%8)
	level := []int{flate.BestSpeed, flate.HuffmanOnly}[bits/8%2]
	e := newEncoder(b, level, takeover)
	// Three messages: data cut in two, then data again, which with
	// takeover may refer to the first two.
	k := int(cut) % (len(data) + 1)
	msgs := [][]byte{data[:k], data[k:], data}
	var payloads [][]byte
	for i, m := range msgs {
		if i == 1 {
			var out sliceWriter
			e.begin(&out, nil)
			for rest := m; len(rest) > 0; rest = rest[min(len(rest), 1+int(cut)%7):] {
				e.write(rest[:min(len(rest), 1+int(cut)%7)])
			}
			e.end()
			payloads = append(payloads, out.b)
			continue
		}
		p, err := e.appendCompressed(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, p)
	}
	got := decodeStream(t, payloads, takeover)
	for i := range msgs {
		if !bytes.Equal(got[i], msgs[i]) {
			t.Fatalf("message %d: decoded %d bytes, want %d", i, len(got[i]), len(msgs[i]))
		}
	}
	checkWindow(t, payloads, takeover, b)
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// scanBackRefs decodes the blocks of a permessage-deflate payload (RFC 1951
// §3.2) without keeping the output and returns the longest back-reference
// distance and the output length. prior is how much output came before in
// the same LZ77 context: a distance past it and the output so far is an
// error. The payload ends on a block boundary, in the empty stored block
// whose last 4 bytes RFC 7692 §7.2.1 removes.
func scanBackRefs(data []byte, prior int64) (maxDist int, outLen int64, err error) {
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
				e, err := br.bits(uint(lengthExtra[sym]))
				if err != nil {
					return 0, 0, err
				}
				length := int(lengthBase[sym]) + int(e)
				ds, err := br.decode(dist)
				if err != nil || ds >= 30 {
					return 0, 0, fmt.Errorf("distance code %d: %v", ds, err)
				}
				if e, err = br.bits(uint(distExtra[ds])); err != nil {
					return 0, 0, err
				}
				d := int(distBase[ds]) + int(e)
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

func scanFixed() (*scanCode, *scanCode) {
	var l [288]int
	for i := range l {
		l[i] = []int{8, 9, 7, 8}[btoi(i >= 144)+btoi(i >= 256)+btoi(i >= 280)]
	}
	lit, _ := newScanCode(l[:])
	d := make([]int, 30)
	for i := range d {
		d[i] = 5
	}
	dist, _ := newScanCode(d)
	return lit, dist
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
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

// TestScanBackRefs checks the scanner against compress/flate, whose window
// is 32 KiB: back-references are found in text, none in Huffman-only output.
func TestScanBackRefs(t *testing.T) {
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
		msg := jsonish(70000, 1)
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, level)
		fw.Write(msg)
		fw.Flush()
		maxDist, n, err := scanBackRefs(bytes.TrimSuffix(b.Bytes(), deflateTail[:]), 0)
		if err != nil || n != int64(len(msg)) || maxDist > maxWindow || (level == flate.HuffmanOnly) != (maxDist == 0) {
			t.Errorf("level %d: longest distance %d, %d bytes, %v", level, maxDist, n, err)
		}
	}
}
