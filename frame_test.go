package websocket

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// readHexFile reads a golden file of white-space separated hex bytes with
// '#' comments (see testdata/rfc6455/README).
func readHexFile(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "rfc6455", name))
	if err != nil {
		tb.Fatal(err)
	}
	var digits strings.Builder
	for line := range strings.Lines(string(raw)) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return b
}

// countingPayload returns n bytes byte(i), the payload the tests give the
// RFC's binary examples, whose content the RFC leaves open.
func countingPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// goldenFrame is one frame of a golden file: the header it must parse to and
// its unmasked payload.
type goldenFrame struct {
	h       Header
	payload []byte
}

var rfcKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// goldenFiles lists RFC 6455 §5.7's examples with the frames they hold. The
// expected headers come from the RFC's prose, not from the codec.
var goldenFiles = []struct {
	file       string
	headerOnly bool // the file stores the header; the test appends the payload
	frames     []goldenFrame
}{
	{file: "single-unmasked-text.hex", frames: []goldenFrame{
		{Header{Fin: true, Opcode: OpText, Length: 5}, []byte("Hello")},
	}},
	{file: "single-masked-text.hex", frames: []goldenFrame{
		{Header{Fin: true, Opcode: OpText, Masked: true, Mask: rfcKey, Length: 5}, []byte("Hello")},
	}},
	{file: "fragmented-unmasked-text.hex", frames: []goldenFrame{
		{Header{Fin: false, Opcode: OpText, Length: 3}, []byte("Hel")},
		{Header{Fin: true, Opcode: OpContinuation, Length: 2}, []byte("lo")},
	}},
	{file: "unmasked-ping.hex", frames: []goldenFrame{
		{Header{Fin: true, Opcode: OpPing, Length: 5}, []byte("Hello")},
	}},
	{file: "masked-pong.hex", frames: []goldenFrame{
		{Header{Fin: true, Opcode: OpPong, Masked: true, Mask: rfcKey, Length: 5}, []byte("Hello")},
	}},
	{file: "binary-256-header.hex", headerOnly: true, frames: []goldenFrame{
		{Header{Fin: true, Opcode: OpBinary, Length: 256}, countingPayload(256)},
	}},
	{file: "binary-64k-header.hex", headerOnly: true, frames: []goldenFrame{
		{Header{Fin: true, Opcode: OpBinary, Length: 65536}, countingPayload(65536)},
	}},
}

// goldenWire returns the full bytes of a golden example, payload included.
func goldenWire(tb testing.TB, file string, headerOnly bool, frames []goldenFrame) []byte {
	tb.Helper()
	b := readHexFile(tb, file)
	if headerOnly {
		b = append(b, frames[0].payload...)
	}
	return b
}

func TestGoldenRFC6455Parse(t *testing.T) {
	for _, g := range goldenFiles {
		t.Run(g.file, func(t *testing.T) {
			wire := goldenWire(t, g.file, g.headerOnly, g.frames)
			b := wire
			for i, want := range g.frames {
				h, n, err := ParseHeader(b)
				if err != nil {
					t.Fatalf("frame %d: ParseHeader: %v", i, err)
				}
				if h != want.h {
					t.Fatalf("frame %d: ParseHeader = %+v, want %+v", i, h, want.h)
				}
				if int64(len(b)-n) < h.Length {
					t.Fatalf("frame %d: %d bytes left for a %d-byte payload", i, len(b)-n, h.Length)
				}
				payload := bytes.Clone(b[n : n+int(h.Length)])
				if h.Masked {
					Mask(h.Mask, 0, payload)
				}
				if !bytes.Equal(payload, want.payload) {
					t.Fatalf("frame %d: payload %q, want %q", i, payload, want.payload)
				}
				b = b[n+int(h.Length):]
			}
			if len(b) != 0 {
				t.Fatalf("%d bytes left after the last frame", len(b))
			}

			// ReadHeader must see the same headers and leave each payload unread.
			r := bytes.NewReader(wire)
			for i, want := range g.frames {
				h, err := ReadHeader(r)
				if err != nil || h != want.h {
					t.Fatalf("frame %d: ReadHeader = %+v, %v; want %+v", i, h, err, want.h)
				}
				if _, err := r.Seek(h.Length, io.SeekCurrent); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := ReadHeader(r); err != io.EOF {
				t.Fatalf("ReadHeader at the end = %v, want io.EOF", err)
			}
		})
	}
}

func TestGoldenRFC6455Build(t *testing.T) {
	for _, g := range goldenFiles {
		t.Run(g.file, func(t *testing.T) {
			want := goldenWire(t, g.file, g.headerOnly, g.frames)
			var got []byte
			for _, f := range g.frames {
				got = AppendHeader(got, f.h)
				start := len(got)
				got = append(got, f.payload...)
				if f.h.Masked {
					Mask(f.h.Mask, 0, got[start:])
				}
			}
			if !bytes.Equal(got, want) {
				n := min(len(got), len(want), 32)
				t.Fatalf("built % x..., want % x... (lengths %d, %d)", got[:n], want[:n], len(got), len(want))
			}

			// WriteHeader writes the same header bytes.
			var buf bytes.Buffer
			if err := WriteHeader(&buf, g.frames[0].h); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(want, buf.Bytes()) {
				t.Fatalf("WriteHeader wrote % x, want a prefix of % x", buf.Bytes(), want[:min(len(want), 14)])
			}
		})
	}
}

// lengthEncodings gives the exact header bytes for lengths at the edges of the
// 7-, 16- and 64-bit forms (RFC 6455 §5.2, "Payload length"), written by hand.
var lengthEncodings = []struct {
	name   string
	length int64
	masked bool
	wire   string // hex
}{
	{"7bit/0", 0, false, "8200"},
	{"7bit/1", 1, false, "8201"},
	{"7bit/125", 125, false, "827d"},
	{"16bit/126", 126, false, "827e007e"},
	{"16bit/127", 127, false, "827e007f"},
	{"16bit/256", 256, false, "827e0100"},
	{"16bit/65535", 65535, false, "827effff"},
	{"64bit/65536", 65536, false, "827f0000000000010000"},
	{"64bit/2^32", 1 << 32, false, "827f0000000100000000"},
	{"64bit/2^63-1", 1<<63 - 1, false, "827f7fffffffffffffff"},
	{"7bit/125/masked", 125, true, "82fd01020304"},
	{"16bit/126/masked", 126, true, "82fe007e01020304"},
	{"16bit/65535/masked", 65535, true, "82feffff01020304"},
	{"64bit/65536/masked", 65536, true, "82ff000000000001000001020304"},
}

func TestHeaderLengthEncodingBoundaries(t *testing.T) {
	for _, tt := range lengthEncodings {
		t.Run(tt.name, func(t *testing.T) {
			wire, _ := hex.DecodeString(tt.wire)
			h := Header{Fin: true, Opcode: OpBinary, Length: tt.length, Masked: tt.masked}
			if tt.masked {
				h.Mask = [4]byte{1, 2, 3, 4}
			}
			if got := AppendHeader(nil, h); !bytes.Equal(got, wire) {
				t.Errorf("AppendHeader = % x, want % x", got, wire)
			}
			got, n, err := ParseHeader(wire)
			if err != nil || n != len(wire) || got != h {
				t.Errorf("ParseHeader = %+v, %d, %v; want %+v, %d, nil", got, n, err, h, len(wire))
			}
			// Bytes after the header are not part of it.
			got, n, err = ParseHeader(append(bytes.Clone(wire), 0xff, 0xff))
			if err != nil || n != len(wire) || got != h {
				t.Errorf("ParseHeader with trailing bytes = %+v, %d, %v", got, n, err)
			}
		})
	}
}

func TestParseHeaderShortBufferIsUnexpectedEOF(t *testing.T) {
	for _, tt := range lengthEncodings {
		t.Run(tt.name, func(t *testing.T) {
			wire, _ := hex.DecodeString(tt.wire)
			for i := range len(wire) {
				if _, _, err := ParseHeader(wire[:i]); err != io.ErrUnexpectedEOF {
					t.Errorf("ParseHeader(first %d of %d bytes) error = %v, want io.ErrUnexpectedEOF", i, len(wire), err)
				}
			}
		})
	}
}

func TestReadHeaderEOFBeforeHeaderUnexpectedEOFInside(t *testing.T) {
	for _, tt := range lengthEncodings {
		t.Run(tt.name, func(t *testing.T) {
			wire, _ := hex.DecodeString(tt.wire)
			if _, err := ReadHeader(bytes.NewReader(nil)); err != io.EOF {
				t.Errorf("ReadHeader(empty) error = %v, want io.EOF", err)
			}
			for i := 1; i < len(wire); i++ {
				if _, err := ReadHeader(bytes.NewReader(wire[:i])); err != io.ErrUnexpectedEOF {
					t.Errorf("ReadHeader(first %d of %d bytes) error = %v, want io.ErrUnexpectedEOF", i, len(wire), err)
				}
			}
		})
	}
}

func TestReadHeaderReadsNoBytePastHeader(t *testing.T) {
	for _, tt := range lengthEncodings {
		t.Run(tt.name, func(t *testing.T) {
			wire, _ := hex.DecodeString(tt.wire)
			in := append(bytes.Clone(wire), "rest"...)
			for _, r := range []struct {
				name string
				r    func(io.Reader) io.Reader
			}{
				{"whole", func(r io.Reader) io.Reader { return r }},
				{"onebyte", iotest.OneByteReader},
				{"dataerr", iotest.DataErrReader},
				{"half", iotest.HalfReader},
			} {
				// DataErrReader reads ahead, so read the rest through the
				// same reader ReadHeader was given.
				rd := r.r(bytes.NewReader(in))
				h, err := ReadHeader(rd)
				if err != nil || h.Length != tt.length {
					t.Fatalf("%s: ReadHeader = %+v, %v", r.name, h, err)
				}
				if rest, _ := io.ReadAll(rd); string(rest) != "rest" {
					t.Fatalf("%s: left %q unread, want %q", r.name, rest, "rest")
				}
			}
		})
	}
}

func TestReadHeaderPassesOnReaderError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := ReadHeader(iotest.ErrReader(boom)); err != boom {
		t.Errorf("ReadHeader error = %v, want %v", err, boom)
	}
	r := io.MultiReader(bytes.NewReader([]byte{0x82, 0x7e, 0x01}), iotest.ErrReader(boom))
	if _, err := ReadHeader(r); err != boom {
		t.Errorf("ReadHeader error inside the header = %v, want %v", err, boom)
	}
}

// protocolViolations are headers RFC 6455 forbids, each named by its rule.
var protocolViolations = []struct {
	name string
	wire string // hex
}{
	{"ReservedOpcode3", "8300"},
	{"ReservedOpcode4", "8400"},
	{"ReservedOpcode5", "8500"},
	{"ReservedOpcode6", "8600"},
	{"ReservedOpcode7", "8700"},
	{"ReservedOpcodeB", "8b00"},
	{"ReservedOpcodeC", "8c00"},
	{"ReservedOpcodeD", "8d00"},
	{"ReservedOpcodeE", "8e00"},
	{"ReservedOpcodeF", "8f00"},
	{"ReservedOpcode3NotFin", "0300"},
	{"ReservedOpcodeMasked", "838001020304"},
	{"ControlOver125/close126", "887e007e"},
	{"ControlOver125/ping126", "897e007e"},
	{"ControlOver125/pong126", "8a7e007e"},
	{"ControlOver125/ping65536", "897f0000000000010000"},
	{"ControlOver125/pingMasked126", "89fe007e01020304"},
	{"ControlFragmented/close", "0800"},
	{"ControlFragmented/ping", "0905"},
	{"ControlFragmented/pong", "0a00"},
	{"Length64TopBitSet", "827f8000000000000000"},
	{"Length64AllBitsSet", "827fffffffffffffffff"},
	{"Length64TopBitSetMasked", "82ff800000000000000001020304"},
	{"Length16NonMinimal/0", "827e0000"},
	{"Length16NonMinimal/125", "827e007d"},
	{"Length64NonMinimal/0", "827f0000000000000000"},
	{"Length64NonMinimal/125", "827f000000000000007d"},
	{"Length64NonMinimal/126", "827f000000000000007e"},
	{"Length64NonMinimal/65535", "827f000000000000ffff"},
	{"Length64NonMinimalMasked/65535", "82ff000000000000ffff01020304"},
}

func TestParseHeaderRejectsProtocolViolations(t *testing.T) {
	for _, tt := range protocolViolations {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := hex.DecodeString(tt.wire)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := ParseHeader(wire); !errors.Is(err, ErrProtocol) {
				t.Errorf("ParseHeader(% x) error = %v, want ErrProtocol", wire, err)
			}
			if _, err := ReadHeader(bytes.NewReader(wire)); !errors.Is(err, ErrProtocol) {
				t.Errorf("ReadHeader(% x) error = %v, want ErrProtocol", wire, err)
			}
		})
	}
}

func TestParseHeaderAcceptsLegalEdges(t *testing.T) {
	for _, tt := range []struct {
		name string
		wire string
		want Header
	}{
		{"Control125", "897d", Header{Fin: true, Opcode: OpPing, Length: 125}},
		{"CloseEmpty", "8800", Header{Fin: true, Opcode: OpClose}},
		{"PongMasked", "8a80aabbccdd", Header{Fin: true, Opcode: OpPong, Masked: true, Mask: [4]byte{0xaa, 0xbb, 0xcc, 0xdd}}},
		{"ContinuationNotFin", "0000", Header{Opcode: OpContinuation}},
		{"TextNotFin", "0100", Header{Opcode: OpText}},
		{"BinaryEmptyFin", "8200", Header{Fin: true, Opcode: OpBinary}},
		{"Length64Max", "827f7fffffffffffffff", Header{Fin: true, Opcode: OpBinary, Length: 1<<63 - 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wire, _ := hex.DecodeString(tt.wire)
			h, n, err := ParseHeader(wire)
			if err != nil || n != len(wire) || h != tt.want {
				t.Errorf("ParseHeader(% x) = %+v, %d, %v; want %+v, %d, nil", wire, h, n, err, tt.want, len(wire))
			}
		})
	}
}

// The RSV bits are reported as sent: only the Conn knows the extensions
// negotiated (RFC 6455 §5.2).
func TestParseHeaderReportsRSVBitsAsGiven(t *testing.T) {
	for bits := range 8 {
		b0 := byte(0x80|0x02) | byte(bits)<<4
		h, _, err := ParseHeader([]byte{b0, 0x00})
		if err != nil {
			t.Fatalf("ParseHeader(%#x) error: %v", b0, err)
		}
		want := Header{Fin: true, Opcode: OpBinary, Rsv1: bits&4 != 0, Rsv2: bits&2 != 0, Rsv3: bits&1 != 0}
		if h != want {
			t.Errorf("ParseHeader(%#x) = %+v, want %+v", b0, h, want)
		}
	}
}

// validHeaders returns many headers that satisfy every rule ParseHeader checks.
func validHeaders() []Header {
	var hs []Header
	lengths := []int64{0, 1, 2, 3, 4, 5, 8, 100, 124, 125, 126, 127, 128, 255, 256, 1000, 4096,
		65534, 65535, 65536, 65537, 1 << 20, 1<<31 - 1, 1 << 31, 1<<32 - 1, 1 << 32, 1 << 40, 1<<63 - 1}
	masks := [][4]byte{{}, {1, 2, 3, 4}, {0xff, 0, 0xff, 0}, rfcKey}
	for _, op := range []Opcode{OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong} {
		for flags := range 16 {
			fin := flags&8 != 0
			if op.IsControl() && !fin {
				continue
			}
			for _, l := range lengths {
				if op.IsControl() && l > MaxControlPayload {
					continue
				}
				for mi, m := range masks {
					hs = append(hs, Header{
						Fin: fin, Rsv1: flags&4 != 0, Rsv2: flags&2 != 0, Rsv3: flags&1 != 0,
						Opcode: op, Masked: mi != 0, Mask: m, Length: l,
					})
				}
			}
		}
	}
	return hs
}

func TestHeaderRoundTrip(t *testing.T) {
	prefix := []byte("prefix")
	for _, h := range validHeaders() {
		b := AppendHeader(bytes.Clone(prefix), h)
		if !bytes.HasPrefix(b, prefix) {
			t.Fatalf("AppendHeader(%+v) overwrote the bytes it appends to", h)
		}
		b = b[len(prefix):]
		if len(b) > MaxHeaderSize {
			t.Fatalf("AppendHeader(%+v) wrote %d bytes, more than MaxHeaderSize", h, len(b))
		}
		wantSize := 2
		switch {
		case h.Length > 0xffff:
			wantSize += 8
		case h.Length > 125:
			wantSize += 2
		}
		if h.Masked {
			wantSize += 4
		}
		if len(b) != wantSize {
			t.Fatalf("AppendHeader(%+v) wrote %d bytes, want %d", h, len(b), wantSize)
		}
		got, n, err := ParseHeader(b)
		if err != nil || n != len(b) || got != h {
			t.Fatalf("ParseHeader(AppendHeader(%+v)) = %+v, %d, %v", h, got, n, err)
		}
		got, err = ReadHeader(bytes.NewReader(b))
		if err != nil || got != h {
			t.Fatalf("ReadHeader(AppendHeader(%+v)) = %+v, %v", h, got, err)
		}
	}
}

// writeCounter counts Write calls.
type writeCounter struct {
	calls int
	buf   bytes.Buffer
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.calls++
	return w.buf.Write(p)
}

func TestWriteHeaderSingleWrite(t *testing.T) {
	for _, h := range []Header{
		{Fin: true, Opcode: OpText, Length: 5},
		{Fin: true, Opcode: OpBinary, Length: 1 << 40, Masked: true, Mask: rfcKey},
	} {
		var w writeCounter
		if err := WriteHeader(&w, h); err != nil {
			t.Fatal(err)
		}
		if w.calls != 1 {
			t.Errorf("WriteHeader(%+v) made %d Write calls, want 1", h, w.calls)
		}
		if want := AppendHeader(nil, h); !bytes.Equal(w.buf.Bytes(), want) {
			t.Errorf("WriteHeader wrote % x, want % x", w.buf.Bytes(), want)
		}
	}
	boom := errors.New("boom")
	if err := WriteHeader(errWriter{boom}, Header{Opcode: OpText}); err != boom {
		t.Errorf("WriteHeader to a failing writer = %v, want %v", err, boom)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestOpcodeProperties(t *testing.T) {
	// RFC 6455 §5.2: 0x0-0x2 data, 0x3-0x7 reserved data, 0x8-0xA control, 0xB-0xF reserved control.
	for _, tt := range []struct {
		op       Opcode
		name     string
		control  bool
		reserved bool
	}{
		{0x0, "continuation", false, false},
		{0x1, "text", false, false},
		{0x2, "binary", false, false},
		{0x3, "opcode(3)", false, true},
		{0x4, "opcode(4)", false, true},
		{0x5, "opcode(5)", false, true},
		{0x6, "opcode(6)", false, true},
		{0x7, "opcode(7)", false, true},
		{0x8, "close", true, false},
		{0x9, "ping", true, false},
		{0xA, "pong", true, false},
		{0xB, "opcode(11)", true, true},
		{0xC, "opcode(12)", true, true},
		{0xD, "opcode(13)", true, true},
		{0xE, "opcode(14)", true, true},
		{0xF, "opcode(15)", true, true},
	} {
		if got := tt.op.String(); got != tt.name {
			t.Errorf("Opcode(%d).String() = %q, want %q", byte(tt.op), got, tt.name)
		}
		if got := tt.op.IsControl(); got != tt.control {
			t.Errorf("Opcode(%d).IsControl() = %v, want %v", byte(tt.op), got, tt.control)
		}
		if got := tt.op.IsReserved(); got != tt.reserved {
			t.Errorf("Opcode(%d).IsReserved() = %v, want %v", byte(tt.op), got, tt.reserved)
		}
	}
}

// addGoldenSeeds adds the bytes of each RFC 6455 §5.7 example to f's corpus,
// each extended by the extra arguments of the fuzz target.
func addGoldenSeeds(f *testing.F, extra ...any) {
	f.Helper()
	for _, g := range goldenFiles {
		wire := readHexFile(f, g.file)
		if len(wire) > 512 {
			wire = wire[:512]
		}
		f.Add(append([]any{wire}, extra...)...)
	}
}

// FuzzParseHeader checks ParseHeader on any bytes: what it accepts is a
// legal header that AppendHeader writes back byte for byte, and ReadHeader
// decides every input the same way.
func FuzzParseHeader(f *testing.F) {
	addGoldenSeeds(f)
	for _, tt := range protocolViolations {
		b, _ := hex.DecodeString(tt.wire)
		f.Add(b)
	}
	for _, tt := range lengthEncodings {
		b, _ := hex.DecodeString(tt.wire)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		rh, rerr := ReadHeader(bytes.NewReader(b))
		switch {
		case err == nil:
			if n < 2 || n > MaxHeaderSize || n > len(b) {
				t.Fatalf("ParseHeader(% x) size %d", b, n)
			}
			// The codec accepts only the shortest length form (RFC 6455 §5.2), so
			// re-encoding gives back exactly the bytes parsed.
			if enc := AppendHeader(nil, h); !bytes.Equal(enc, b[:n]) {
				t.Fatalf("AppendHeader(ParseHeader(% x)) = % x", b[:n], enc)
			}
			if h.Length < 0 || h.Opcode.IsReserved() {
				t.Fatalf("ParseHeader(% x) accepted %+v", b, h)
			}
			if h.Opcode.IsControl() && (!h.Fin || h.Length > MaxControlPayload) {
				t.Fatalf("ParseHeader(% x) accepted a bad control frame %+v", b, h)
			}
			if !h.Masked && h.Mask != ([4]byte{}) {
				t.Fatalf("ParseHeader(% x) returned a key for an unmasked frame", b)
			}
			if rerr != nil || rh != h {
				t.Fatalf("ReadHeader = %+v, %v; ParseHeader = %+v", rh, rerr, h)
			}
		case err == io.ErrUnexpectedEOF:
			want := io.ErrUnexpectedEOF
			if len(b) == 0 {
				want = io.EOF
			}
			if rerr != want {
				t.Fatalf("ReadHeader(% x) error = %v, want %v", b, rerr, want)
			}
		case errors.Is(err, ErrProtocol):
			if !errors.Is(rerr, ErrProtocol) {
				t.Fatalf("ParseHeader(% x) error %v but ReadHeader error %v", b, err, rerr)
			}
		default:
			t.Fatalf("ParseHeader(% x) unexpected error %v", b, err)
		}
	})
}
