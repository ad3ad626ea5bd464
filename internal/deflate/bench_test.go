package deflate

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/fullduplex/websocket/internal/deflate/deflatetest"
)

// Benchmarks of the codec alone; those through a Conn
// (BenchmarkCompressedWrite, BenchmarkCompressedRead) are the root's.

// BenchmarkDeflate compresses one JSON-like message from a fresh state, as
// every message is without context takeover, with this package's encoder
// (32 KiB window, at BestSpeed, at any other level and with Huffman codes
// only) and with
// compress/flate from a pooled writer at BestSpeed (what this package used)
// and at its default level 6, zlib's. "ratio" is compressed/original.
func BenchmarkDeflate(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"128B", 128}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"64KiB", 64 << 10}} {
		for _, impl := range []struct {
			name string
			make func() streamCompressor
		}{
			{"ours1", func() streamCompressor { return ourStream(15, flate.BestSpeed, false) }},
			{"ours6", func() streamCompressor { return ourStream(15, flate.DefaultCompression, false) }},
			{"ours-huffman", func() streamCompressor { return ourStream(15, flate.HuffmanOnly, false) }},
			{"flate1", func() streamCompressor { return flateStream(flate.BestSpeed, false) }},
			{"flate6", func() streamCompressor { return flateStream(flate.DefaultCompression, false) }},
		} {
			b.Run(size.name+"/"+impl.name, func(b *testing.B) {
				msg := jsonish(size.n, 1)
				c := impl.make()
				out := c(nil, msg)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					out = c(out[:0], msg)
				}
				b.ReportMetric(float64(len(out))/float64(len(msg)), "ratio")
			})
		}
	}
}

// BenchmarkInflate decompresses one message with a pooled decompressor.
func BenchmarkInflate(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"128B", 128}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}} {
		for _, takeover := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/takeover=%v", size.name, takeover), func(b *testing.B) {
				msg := jsonish(size.n, 1)
				payload := deflatetest.Compress(msg)
				z := NewInflater(15, takeover)
				var src bytes.Reader
				buf := make([]byte, size.n+1)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					src.Reset(payload)
					z.Begin(&src, -1)
					if n, err := io.ReadFull(&z, buf); n != len(msg) || err != io.ErrUnexpectedEOF {
						b.Fatalf("inflated %d bytes, %v", n, err)
					}
				}
			})
		}
	}
}

// chatMessages returns n events shaped as the chat example's (a JSON object
// with type, name, text and time), as a chat server sends them one by one.
func chatMessages(n int, seed int64) [][]byte {
	r := rand.New(rand.NewSource(seed))
	words := strings.Fields("hello there anyone around today the build is green again I pushed a fix for the flaky test can you review my change please thanks lunch at noon sounds good see you in the meeting room coffee first deploy went fine what about the new release notes ok done")
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	msgs := make([][]byte, n)
	t := int64(1764590000000)
	for i := range msgs {
		var sb strings.Builder
		for k := 2 + r.Intn(12); k > 0; k-- {
			sb.WriteString(words[r.Intn(len(words))])
			sb.WriteByte(' ')
		}
		t += int64(r.Intn(5000))
		msgs[i] = fmt.Appendf(nil, `{"type":"message","name":%q,"text":%q,"time":%d}`, names[r.Intn(len(names))], strings.TrimSpace(sb.String()), t)
	}
	return msgs
}

// cuts returns n messages of size bytes cut in turn from data, as the
// conformance suite's cases 12 and 13 make theirs.
func cuts(data []byte, size, n int) [][]byte {
	msgs := make([][]byte, n)
	for i, p := 0, 0; i < n; i++ {
		for len(msgs[i]) < size {
			k := min(size-len(msgs[i]), len(data)-p)
			msgs[i] = append(msgs[i], data[p:p+k]...)
			p = (p + k) % len(data)
		}
	}
	return msgs
}

// streamCompressor compresses a stream of messages, as one side of a
// connection does.
type streamCompressor func(dst, msg []byte) []byte

// flateStream compresses with compress/flate at level, as this package did
// before its own encoder: from a pooled writer reset for each message
// without context takeover, one writer for the stream with it.
func flateStream(level int, takeover bool) streamCompressor {
	var out sliceWriter
	fw, _ := flate.NewWriter(&out, level)
	return func(dst, msg []byte) []byte {
		out.b = dst
		if !takeover {
			fw.Reset(&out)
		}
		fw.Write(msg)
		fw.Flush()
		return bytes.TrimSuffix(out.b, deflateTail)
	}
}

func ourStream(bits, level int, takeover bool) streamCompressor {
	e := NewEncoder(bits, level, takeover)
	return func(dst, msg []byte) []byte {
		return e.AppendCompressed(dst, msg)
	}
}

// BenchmarkDeflateStream compresses streams of messages with this package's
// encoder at windows of 9, 12 and 15 bits, at BestSpeed (ours1) and at any
// other level (ours6), and with compress/flate (32 KiB window) at BestSpeed,
// the level this package used, and at its default level 6, zlib's: chat events of the chat example, and the conformance
// suite's kinds of payload (JSON and text cut into 4 KiB messages). "ratio"
// is compressed/original over the whole stream, made once, from a fresh
// state; the time is per message.
func BenchmarkDeflateStream(b *testing.B) {
	workloads := []struct {
		name string
		msgs [][]byte
	}{
		{"chat", chatMessages(3000, 1)},
		{"json4KiB", cuts(jsonish(400<<10, 2), 4096, 100)},
		{"text4KiB", cuts(germanish(400<<10, 3), 4096, 100)},
	}
	impls := []struct {
		name string
		make func(takeover bool) streamCompressor
	}{
		{"flate1", func(t bool) streamCompressor { return flateStream(flate.BestSpeed, t) }},
		{"flate6", func(t bool) streamCompressor { return flateStream(flate.DefaultCompression, t) }},
	}
	for _, level := range []int{flate.BestSpeed, 6} {
		for _, bits := range []int{9, 12, 15} {
			impls = append(impls, struct {
				name string
				make func(takeover bool) streamCompressor
			}{fmt.Sprintf("ours%d/bits=%d", level, bits), func(t bool) streamCompressor { return ourStream(bits, level, t) }})
		}
	}
	for _, w := range workloads {
		in := 0
		for _, m := range w.msgs {
			in += len(m)
		}
		for _, takeover := range []bool{false, true} {
			for _, impl := range impls {
				b.Run(fmt.Sprintf("%s/takeover=%v/%s", w.name, takeover, impl.name), func(b *testing.B) {
					c := impl.make(takeover)
					out, total := []byte(nil), 0
					for _, m := range w.msgs {
						out = c(out[:0], m)
						total += len(out)
					}
					c = impl.make(takeover)
					b.SetBytes(int64(in / len(w.msgs)))
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						out = c(out[:0], w.msgs[i%len(w.msgs)])
						i++
					}
					b.ReportMetric(float64(total)/float64(in), "ratio")
				})
			}
		}
	}
}

// germanish returns n bytes of German-like prose, as the suite's text file.
func germanish(n int, seed int64) []byte {
	r := rand.New(rand.NewSource(seed))
	words := strings.Fields("Habe nun ach Philosophie Juristerei und Medizin und leider auch Theologie durchaus studiert mit heißem Bemühn Da steh ich nun ich armer Tor Und bin so klug als wie zuvor Heiße Magister heiße Doktor gar Und ziehe schon an die zehen Jahr Herauf herab und quer und krumm Meine Schüler an der Nase herum")
	var b []byte
	for len(b) < n {
		b = append(b, words[r.Intn(len(words))]...)
		if r.Intn(12) == 0 {
			b = append(b, '\n')
		} else {
			b = append(b, ' ')
		}
	}
	return b[:n]
}

// zlibScript compresses the length-prefixed messages on its stdin with
// zlib, as a permessage-deflate sender does (a sync flush per message, its
// 4-byte tail removed), and prints the compressed total.
const zlibScript = `
import struct, sys, zlib
bits, level, takeover = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
data, i, total, c = sys.stdin.buffer.read(), 0, 0, None
while i < len(data):
    n = struct.unpack("<I", data[i:i+4])[0]
    m = data[i+4:i+4+n]
    i += 4 + n
    if c is None or not takeover:
        c = zlib.compressobj(level, zlib.DEFLATED, -bits)
    out = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
    total += len(out) - 4
print(total)
`

// BenchmarkZlibRatio reports, as "ratio", what zlib (through python3, at
// level 1 and at its default level 6) compresses BenchmarkDeflateStream's
// workloads to within windows of 9, 12 and 15 bits: the reference for this
// package's encoder at the same windows. Its time is python's. Run it with
// -benchtime=1x.
func BenchmarkZlibRatio(b *testing.B) {
	python, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not found")
	}
	for _, w := range []struct {
		name string
		msgs [][]byte
	}{
		{"chat", chatMessages(3000, 1)},
		{"json4KiB", cuts(jsonish(400<<10, 2), 4096, 100)},
		{"text4KiB", cuts(germanish(400<<10, 3), 4096, 100)},
	} {
		var in bytes.Buffer
		total := 0
		for _, m := range w.msgs {
			in.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(m))))
			in.Write(m)
			total += len(m)
		}
		for _, takeover := range []bool{false, true} {
			for _, level := range []int{1, 6} {
				for _, bits := range []int{9, 12, 15} {
					b.Run(fmt.Sprintf("%s/takeover=%v/zlib%d/bits=%d", w.name, takeover, level, bits), func(b *testing.B) {
						var n int
						for b.Loop() {
							cmd := exec.Command(python, "-c", zlibScript, strconv.Itoa(bits), strconv.Itoa(level), map[bool]string{false: "0", true: "1"}[takeover])
							cmd.Stdin = bytes.NewReader(in.Bytes())
							out, err := cmd.Output()
							if err != nil {
								b.Fatal(err)
							}
							if n, err = strconv.Atoi(strings.TrimSpace(string(out))); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(n)/float64(total), "ratio")
					})
				}
			}
		}
	}
}
