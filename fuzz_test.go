//go:build !js

package websocket

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

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

func FuzzMask(f *testing.F) {
	addGoldenSeeds(f, binary.LittleEndian.Uint32(rfcKey[:]), 0, 3)
	f.Add(make([]byte, 100), uint32(0x01020380), 3, 33)
	f.Fuzz(func(t *testing.T, b []byte, k uint32, pos, split int) {
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], k)
		pos &= 3
		if split < 0 {
			split = -split
		}
		if split < 0 { // -MinInt
			split = 0
		}
		split %= len(b) + 1
		want := bytes.Clone(b)
		wantPos := maskRef(key, pos, want)
		got := bytes.Clone(b)
		if p := Mask(key, pos, got); p != wantPos || !bytes.Equal(got, want) {
			t.Fatalf("whole: pos %d (want %d), equal %v", p, wantPos, bytes.Equal(got, want))
		}
		got = bytes.Clone(b)
		if p := Mask(key, Mask(key, pos, got[:split]), got[split:]); p != wantPos || !bytes.Equal(got, want) {
			t.Fatalf("split at %d: pos %d (want %d), equal %v", split, p, wantPos, bytes.Equal(got, want))
		}
	})
}

// FuzzUTF8 checks the validator against unicode/utf8 on every code path
// this machine has (AVX2, SSSE3, portable): the whole input, split in two at
// split, and split at random points drawn from split; and, for short inputs,
// that a Write fails at the first byte that cannot be completed.
func FuzzUTF8(f *testing.F) {
	addGoldenSeeds(f, 0)
	for _, tt := range utf8Cases {
		f.Add([]byte(tt.in), len(tt.in)/2)
	}
	f.Add([]byte(strings.Repeat("Größe €5 — 日本語テキスト 😀 ", 4)), 37)
	f.Fuzz(func(t *testing.T, p []byte, split int) {
		if split < 0 {
			split = -split
		}
		if split < 0 {
			split = 0
		}
		r := rand.New(rand.NewPCG(uint64(split), uint64(len(p))))
		split %= len(p) + 1
		want := utf8.Valid(p)
		defer currentUTF8Path().use()
		for _, path := range utf8Paths() {
			path.use()
			if got := validateWhole(p); got != want {
				t.Fatalf("%s: % x: got %v, want %v", path.name, p, got, want)
			}
			if got := validateSplit(p, split); got != want {
				t.Fatalf("%s: % x split at %d: got %v, want %v", path.name, p, split, got, want)
			}
			var v utf8Validator
			ok := true
			var cuts []int
			for rest := p; len(rest) > 0 && ok; {
				k := min(len(rest), r.IntN(80))
				cuts = append(cuts, k)
				ok = v.Write(rest[:k])
				rest = rest[k:]
			}
			if got := ok && v.Complete(); got != want {
				t.Fatalf("%s: % x in pieces of %v: got %v, want %v", path.name, p, cuts, got, want)
			}
			// Fail fast: the first Write that fails is the one with the
			// first byte after which no valid UTF-8 can follow.
			if len(p) > 256 {
				continue
			}
			bad := firstBadByte(p)
			for _, k := range []int{0, split} {
				if bad >= 0 && k > bad {
					continue
				}
				var v utf8Validator
				end := len(p)
				if bad >= 0 {
					end = bad
				}
				if !v.Write(p[:k]) || !v.Write(p[k:end]) {
					t.Fatalf("%s: % x split at %d: failed before the first bad byte %d", path.name, p, k, bad)
				}
				if bad >= 0 && v.Write(p[bad:bad+1]) {
					t.Fatalf("%s: % x split at %d: bad byte %d accepted", path.name, p, k, bad)
				}
			}
		}
	})
}

// FuzzServerConn feeds arbitrary bytes to a server Conn, which must neither
// panic nor hang, and with a small read limit cannot be made to hold much.
func FuzzServerConn(f *testing.F) {
	for _, tt := range connViolations {
		f.Add(bytes.Join(tt.chunks, nil))
	}
	f.Add(bytes.Join([][]byte{
		fromClient(false, OpText, "Hel"), fromClient(true, OpPing, "p"),
		fromClient(true, OpContinuation, "lo"), fromClient(true, OpBinary, "\x00\x01"),
		clientClose(1000, "bye"),
	}, nil))
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, data, true, connConfig{readLimit: 1024, closeTimeout: 100 * time.Millisecond})
	})
}

// FuzzClientConn is FuzzServerConn for a client Conn, fed what a hostile
// server could send.
func FuzzClientConn(f *testing.F) {
	for _, tt := range connViolations {
		f.Add(bytes.Join(tt.chunks, nil))
	}
	f.Add(bytes.Join([][]byte{
		fromServer(false, OpText, "Hel"), fromServer(true, OpPing, "p"),
		fromServer(true, OpContinuation, "lo"), fromServer(true, OpBinary, "\x00\x01"),
		fromServer(true, OpClose, "\x03\xe8bye"),
	}, nil))
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, data, false, connConfig{readLimit: 1024, closeTimeout: 100 * time.Millisecond})
	})
}

// FuzzServerConnCompressed is FuzzServerConn with permessage-deflate
// negotiated (RFC 7692), with context takeover when the first byte is odd
// (for a frame: a text or continuation frame first):
// the read limit must hold for decompressed messages too, and bad compressed
// data must fail the connection, never panic or hang it.
func FuzzServerConnCompressed(f *testing.F) {
	msg := jsonish(3000, 1)
	payload := compressed(f, msg)
	for _, seed := range [][]byte{
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, payload),
		bytes.Join([][]byte{
			clientFrame(Header{Rsv1: true, Opcode: OpText}, payload[:10]),
			fromClient(true, OpPing, "p"),
			clientFrame(Header{Fin: true, Opcode: OpContinuation}, payload[10:]),
			clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, compressed(f, []byte("hello hello"))),
			fromClient(true, OpText, "plain"),
			clientClose(1000, ""),
		}, nil),
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, compressed(f, make([]byte, 100000))),
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, []byte{0x07, 0x00}),
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, nil),
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, []byte{0x01, 0x00, 0x00, 0xff, 0xff, 'x'}),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel}
		if len(data) > 0 && data[0]&1 == 1 {
			p.readTakeover, p.writeTakeover = true, true
		}
		fuzzConn(t, data, true, connConfig{readLimit: 1024, closeTimeout: 100 * time.Millisecond, deflate: p})
	})
}

// fuzzConn feeds data to a Conn made with cfg, a server or a client, whose
// read limit must be at most 1024, reading messages until an error.
func fuzzConn(t *testing.T, data []byte, server bool, cfg connConfig) {
	t.Helper()
	a, b := net.Pipe()
	c := newConn(b, nil, server, cfg)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); io.Copy(io.Discard, a) }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.SetWriteDeadline(time.Now().Add(testTimeout))
		a.Write(data)
		a.Close()
	}()
	c.SetReadDeadline(time.Now().Add(testTimeout))
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 0, 2048)
		for range 1000 {
			var err error
			_, buf, err = c.AppendMessage(buf[:0])
			if err != nil {
				return
			}
			if len(buf) > 1024 {
				t.Errorf("read a message of %d bytes past the 1024-byte limit", len(buf))
			}
		}
	}()
	// Every wait of the Conn is bounded: by the read deadline above, the
	// close timeout or linger. A hang is a wait past all of them; a slow
	// return is only a loaded machine (a 2 s bound once failed under CPU
	// starvation on an input that passes 150 times in 150).
	hang := 4 * testTimeout
	select {
	case <-done:
	case <-time.After(hang):
		t.Fatalf("the Conn did not return within %v on % x", hang, data)
	}
	c.CloseNow()
	a.Close()
	wg.Wait()
}
