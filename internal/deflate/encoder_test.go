package deflate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand"
	"testing"

	"github.com/fullduplex/websocket/internal/deflate/deflatetest"
)

// Tests of the Encoder. What it writes is decoded by compress/flate, never by
// code of this package, and every back-reference is checked against the
// window by deflatetest's scanner.

// deflateTail ends every flushed DEFLATE stream: RFC 7692 §7.2.1 has the
// sender remove it.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// jsonish is deflatetest's JSON-like text, which compresses as messages do.
func jsonish(n int, seed int64) []byte { return deflatetest.JSONish(n, seed) }

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

// TestEncoderEveryWindow compresses the same messages at every window size
// of RFC 7692 §7.1.2, with and without context takeover, whole and written
// in pieces, and checks that compress/flate decodes them and that no
// back-reference leaves the window.
func TestEncoderEveryWindow(t *testing.T) {
	msgs := encoderMessages()
	for bits := 8; bits <= maxWindowBits; bits++ {
		for _, takeover := range []bool{false, true} {
			for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression} {
				t.Run(fmt.Sprintf("bits=%d/takeover=%v/level=%d", bits, takeover, level), func(t *testing.T) {
					e := NewEncoder(bits, level, takeover)
					var payloads [][]byte
					for i, m := range msgs {
						var p []byte
						if i%2 == 0 {
							p = e.AppendCompressed(nil, m)
						} else {
							var out sliceWriter
							e.Begin(&out)
							for rest := m; len(rest) > 0; {
								k := min(len(rest), 1+i*977%(len(rest)+1))
								e.Write(rest[:k])
								rest = rest[k:]
							}
							if err := e.End(); err != nil {
								t.Fatal(err)
							}
							p = out.b
						}
						if bytes.HasSuffix(p, deflateTail) && len(m) > 0 {
							t.Fatalf("message %d ends with the tail RFC 7692 §7.2.1 removes", i)
						}
						payloads = append(payloads, p)
					}
					if !bytes.Equal(payloads[0], []byte{0}) {
						t.Errorf("empty message compresses to %x, want 00 (RFC 7692 §7.2.3.6)", payloads[0])
					}
					got := deflatetest.Decode(t, payloads, takeover)
					for i := range msgs {
						if !bytes.Equal(got[i], msgs[i]) {
							t.Fatalf("message %d: %d bytes decoded, want %d", i, len(got[i]), len(msgs[i]))
						}
					}
					deflatetest.CheckWindow(t, payloads, takeover, bits)
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
		e := NewEncoder(15, flate.BestSpeed, false)
		p := e.AppendCompressed(nil, m)
		if limit := n + 5*(n/encMaxToken+2) + 1; len(p) > limit {
			t.Errorf("%d random bytes compress to %d, more than %d", n, len(p), limit)
		}
		if got := deflatetest.Decode(t, [][]byte{p}, false)[0]; !bytes.Equal(got, m) {
			t.Fatalf("%d random bytes do not round-trip", n)
		}
	}
}

// TestEncoderTakeoverMemory checks what an encoder keeps between messages
// with context takeover: a history of the window and a little slack, and
// a table of 16 KiB, whatever size the messages had.
func TestEncoderTakeoverMemory(t *testing.T) {
	for _, bits := range []int{8, 9, 12, 15} {
		e := NewEncoder(bits, flate.BestSpeed, true)
		for _, m := range encoderMessages() {
			e.AppendCompressed(nil, m)
			if want := 1<<bits + histSlack(1<<bits); cap(e.hist) != want || len(e.hist) > want {
				t.Fatalf("bits %d: history of %d bytes, capacity %d; want capacity %d", bits, len(e.hist), cap(e.hist), want)
			}
			if got, want := e.Retained(), 1<<bits+histSlack(1<<bits)+2*encTable; got != want {
				t.Fatalf("bits %d: Retained() = %d, want %d", bits, got, want)
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
	b := 8 + int(bits%8)
	level := []int{flate.BestSpeed, flate.HuffmanOnly}[bits/8%2]
	e := NewEncoder(b, level, takeover)
	// Three messages: data cut in two, then data again, which with
	// takeover may refer to the first two.
	k := int(cut) % (len(data) + 1)
	msgs := [][]byte{data[:k], data[k:], data}
	var payloads [][]byte
	for i, m := range msgs {
		if i == 1 {
			var out sliceWriter
			e.Begin(&out)
			for rest := m; len(rest) > 0; rest = rest[min(len(rest), 1+int(cut)%7):] {
				e.Write(rest[:min(len(rest), 1+int(cut)%7)])
			}
			e.End()
			payloads = append(payloads, out.b)
			continue
		}
		payloads = append(payloads, e.AppendCompressed(nil, m))
	}
	got := deflatetest.Decode(t, payloads, takeover)
	for i := range msgs {
		if !bytes.Equal(got[i], msgs[i]) {
			t.Fatalf("message %d: decoded %d bytes, want %d", i, len(got[i]), len(msgs[i]))
		}
	}
	deflatetest.CheckWindow(t, payloads, takeover, b)
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}
