package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"
)

// Tests of the Inflater, alone and on what the Encoder writes.

// referenceInflate decodes compressed payloads with compress/flate directly,
// as RFC 7692 §7.2.2 describes: each payload gets the 4-byte tail back and,
// with context takeover, all of them form one DEFLATE stream, whose output
// is the messages one after another.
func referenceInflate(t *testing.T, payloads [][]byte, takeover bool) []byte {
	t.Helper()
	var stream, out bytes.Buffer
	for _, p := range payloads {
		stream.Write(p)
		stream.Write([]byte{0, 0, 0xff, 0xff})
		if !takeover {
			stream.Write([]byte{0x01, 0, 0, 0xff, 0xff}) // end this stream
			if _, err := io.Copy(&out, flate.NewReader(&stream)); err != nil {
				t.Fatalf("reference inflate: %v", err)
			}
		}
	}
	if takeover {
		stream.Write([]byte{0x01, 0, 0, 0xff, 0xff})
		if _, err := io.Copy(&out, flate.NewReader(&stream)); err != nil {
			t.Fatalf("reference inflate: %v", err)
		}
	}
	return out.Bytes()
}

// inflateAll begins a message of payload on z and reads all of it.
func inflateAll(z *Inflater, payload []byte, limit int64) ([]byte, error) {
	z.Begin(bytes.NewReader(payload), limit)
	return io.ReadAll(z)
}

func TestDeflateRoundTrip(t *testing.T) {
	msgs := [][]byte{{}, []byte("a"), jsonish(1000, 1), jsonish(1000, 1), jsonish(70000, 2), bytes.Repeat([]byte("xyz"), 50000), jsonish(300, 3)}
	for _, takeover := range []bool{false, true} {
		for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
			t.Run(fmt.Sprintf("takeover=%v/level=%d", takeover, level), func(t *testing.T) {
				e, z := NewEncoder(15, level, takeover), NewInflater(15, takeover)
				var payloads [][]byte
				for _, m := range msgs {
					p := e.AppendCompressed(nil, m)
					if bytes.HasSuffix(p, deflateTail) {
						t.Fatalf("payload of %d bytes still ends with the sync flush tail", len(m))
					}
					payloads = append(payloads, p)
					if !takeover && (e.table != nil || e.hist != nil || e.Retained() != 0) {
						t.Fatal("compressor held between messages without context takeover")
					}
				}
				if len(payloads[0]) != 1 || payloads[0][0] != 0 {
					t.Errorf("empty message compresses to %x, want 00 (RFC 7692 §7.2.3.6)", payloads[0])
				}
				if takeover && level != flate.HuffmanOnly && len(payloads[3]) >= len(payloads[2])/4 {
					t.Errorf("repeated message compressed to %d bytes, first copy %d: context not taken over", len(payloads[3]), len(payloads[2]))
				}
				if ref, want := referenceInflate(t, payloads, takeover), bytes.Join(msgs, nil); !bytes.Equal(ref, want) {
					t.Fatalf("reference inflate gives %d bytes, want %d", len(ref), len(want))
				}
				for i, p := range payloads {
					got, err := inflateAll(&z, p, 1<<20)
					if err != nil || !bytes.Equal(got, msgs[i]) {
						t.Fatalf("message %d: inflater gives %d bytes, %v; want %d bytes", i, len(got), err, len(msgs[i]))
					}
					if z.Active() {
						t.Fatal("decompressor held after the message ended")
					}
				}
			})
		}
	}
}

// TestInflateTakeoverAcrossWindow checks that the history handed to the next
// message is the last 32 KiB of output however it was read, by decoding a
// stream whose messages refer back up to 32 KiB, read in odd-sized pieces.
func TestInflateTakeoverAcrossWindow(t *testing.T) {
	var stream bytes.Buffer
	fw, _ := flate.NewWriter(&stream, flate.BestCompression)
	src := jsonish(200000, 7)
	var msgs, payloads [][]byte
	for off, i := 0, 0; off < len(src); i++ {
		n := min([]int{1, 5000, 33000, 40000, 17}[i%5], len(src)-off)
		m := src[off : off+n]
		if i%3 == 2 {
			m = src[max(0, off-32000) : max(0, off-32000)+n] // far back-references
		}
		off += n
		stream.Reset()
		fw.Write(m)
		fw.Flush()
		msgs = append(msgs, m)
		payloads = append(payloads, bytes.Clone(bytes.TrimSuffix(stream.Bytes(), deflateTail)))
	}
	z := &Inflater{takeover: true}
	buf := make([]byte, 777)
	for i, p := range payloads {
		z.Begin(bytes.NewReader(p), -1)
		var got []byte
		for {
			n, err := z.Read(buf[:1+i%len(buf)])
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if !bytes.Equal(got, msgs[i]) {
			t.Fatalf("message %d: got %d bytes, want %d", i, len(got), len(msgs[i]))
		}
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestInflateBombRefused checks that the read limit applies to the
// decompressed size and stops decompression early: 256 MiB of zeros
// compresses to about 256 KiB, and a 1 MiB limit must be hit after reading a
// small part of that.
func TestInflateBombRefused(t *testing.T) {
	// Compressing 256 MiB is slow under the race detector, so compress 1 MiB
	// chunks with sync flushes: once the window is all zeros every chunk
	// compresses to the same bytes, which can then be repeated.
	var payload, chunk bytes.Buffer
	fw, _ := flate.NewWriter(&chunk, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 2; i++ {
		payload.Write(chunk.Bytes())
		chunk.Reset()
		fw.Write(zeros)
		fw.Flush()
	}
	for i := 2; i < 256; i++ {
		payload.Write(chunk.Bytes())
	}
	src := &countingReader{r: bytes.NewReader(payload.Bytes())}
	var z Inflater
	z.Begin(src, 1<<20)
	n, err := io.Copy(io.Discard, &z)
	if err != ErrTooBig {
		t.Fatalf("got %d bytes, err %v; want ErrTooBig", n, err)
	}
	if n > 1<<20 {
		t.Errorf("returned %d bytes past a limit of %d", n, 1<<20)
	}
	if src.n > payload.Len()/50 {
		t.Errorf("read %d of %d compressed bytes to refuse a 1 MiB limit", src.n, payload.Len())
	}
	if z.Active() {
		t.Error("decompressor held after the error")
	}
}

func TestInflateLimitExact(t *testing.T) {
	e, z := NewEncoder(15, flate.BestSpeed, false), NewInflater(15, false)
	m := jsonish(5000, 4)
	p := e.AppendCompressed(nil, m)
	if got, err := inflateAll(&z, p, 5000); err != nil || !bytes.Equal(got, m) {
		t.Fatalf("message of exactly the limit: %d bytes, %v", len(got), err)
	}
	if _, err := inflateAll(&z, p, 4999); err != ErrTooBig {
		t.Fatalf("message one byte over the limit: %v, want ErrTooBig", err)
	}
	if z.Limit() != 4999 || z.Inflated() > 4999 {
		t.Fatalf("Limit() = %d, Inflated() = %d after a message over the limit of 4999", z.Limit(), z.Inflated())
	}
}

func TestInflateMalformed(t *testing.T) {
	e := NewEncoder(15, flate.BestSpeed, false)
	good := e.AppendCompressed(nil, jsonish(3000, 5))
	var withDict bytes.Buffer // refers to a dictionary the receiver does not have
	fw, _ := flate.NewWriterDict(&withDict, flate.BestSpeed, jsonish(3000, 5))
	fw.Write(jsonish(3000, 5))
	fw.Flush()
	for name, p := range map[string][]byte{
		"ReservedBlockType":     {0x07, 0x00},                   // BTYPE 11 is an error (RFC 1951 §3.2.3)
		"StoredLengthMismatch":  {0x00, 0x05, 0x00, 0x00, 0x00}, // NLEN is not the complement of LEN
		"DistanceBeforeStart":   withDict.Bytes(),
		"TruncatedDynamicBlock": good[:len(good)/2],
	} {
		t.Run(name, func(t *testing.T) {
			var z Inflater
			_, err := inflateAll(&z, p, 1<<20)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if z.Active() {
				t.Fatal("decompressor held after the error")
			}
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestInflateSourceErrorPassedThrough(t *testing.T) {
	want := errors.New("frame error")
	var z Inflater
	z.Begin(io.MultiReader(bytes.NewReader([]byte{0x02}), errReader{want}), 1<<20)
	if _, err := io.ReadAll(&z); err != want {
		t.Fatalf("err = %v, want the source's error unchanged", err)
	}
}

// TestInflateIgnoresDataAfterFinalBlock follows RFC 7692 §7.2.3.3: a sender
// may end a message with a block that has BFINAL set; what follows it in the
// payload is not decompressed.
func TestInflateIgnoresDataAfterFinalBlock(t *testing.T) {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write([]byte("hello"))
	fw.Close()
	b.WriteByte(0x00) // what remains of an empty stored block once the tail is removed
	var z Inflater
	if got, err := inflateAll(&z, b.Bytes(), 100); err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestHistoryKeepsLast32KiB(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	var h history
	var all []byte
	for i := 0; i < 300; i++ {
		p := make([]byte, []int{0, 1, 100, 5000, 32767, 32768, 40000}[r.Intn(7)])
		r.Read(p)
		h.write(p)
		all = append(all, p...)
		if i%7 == 0 {
			want := all[max(0, len(all)-maxWindow):]
			if got := h.dict(); !bytes.Equal(got, want) {
				t.Fatalf("after %d writes: history of %d bytes differs from the last %d", i, len(got), len(want))
			}
		}
	}
}

// TestInflaterHistoryOfWindow checks what an Inflater with context takeover
// keeps between messages: the window agreed and a little slack, but never
// less than 512 bytes, the window zlib compresses with when 8 bits are
// agreed (RFC 7692 §7.1.2.1); and without takeover, nothing.
func TestInflaterHistoryOfWindow(t *testing.T) {
	for _, tt := range []struct {
		bits     int
		takeover bool
		want     int
	}{{8, true, 512 + 512}, {9, true, 512 + 512}, {12, true, 4096 + 4096}, {15, true, 32768 + 8192}, {15, false, 0}} {
		w, z := NewEncoder(tt.bits, flate.BestSpeed, tt.takeover), NewInflater(tt.bits, tt.takeover)
		for _, m := range [][]byte{jsonish(100, 1), jsonish(70000, 2), jsonish(300, 3)} {
			if got, err := inflateAll(&z, w.AppendCompressed(nil, m), -1); err != nil || !bytes.Equal(got, m) {
				t.Fatalf("%d bits: %d bytes, %v", tt.bits, len(got), err)
			}
			if got := z.Retained(); got != tt.want {
				t.Fatalf("%d bits, takeover %v: Retained() = %d, want %d", tt.bits, tt.takeover, got, tt.want)
			}
		}
	}
}

func FuzzInflate(f *testing.F) {
	e := NewEncoder(15, flate.BestSpeed, false)
	good := e.AppendCompressed(nil, jsonish(2000, 6))
	f.Add(good, false)
	f.Add([]byte{0x00}, true)
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, false) // "Hello" from RFC 7692 §7.2.3.1
	f.Add(bytes.Repeat([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, 10), true)
	f.Fuzz(func(t *testing.T, payload []byte, takeover bool) {
		const limit = 64 << 10
		z := NewInflater(15, takeover)
		for i := 0; i < 2; i++ { // twice, so a second message sees the first's history
			got, err := inflateAll(&z, payload, limit)
			if len(got) > limit {
				t.Fatalf("%d bytes past a limit of %d", len(got), limit)
			}
			if err != nil && !errors.Is(err, ErrInvalid) && err != ErrTooBig {
				t.Fatalf("unexpected error %v", err)
			}
			if z.Active() {
				t.Fatal("decompressor held after the message")
			}
		}
		// What we compress, compress/flate must decode, and so must we.
		w, r := NewEncoder(15, flate.BestSpeed, takeover), NewInflater(15, takeover)
		for i := 0; i < 2; i++ {
			p := w.AppendCompressed(nil, payload)
			if got, err := inflateAll(&r, p, -1); err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("round trip: %d bytes, %v", len(got), err)
			}
		}
	})
}
