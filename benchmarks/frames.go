package benchmarks

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"strings"
	"unicode/utf8"
)

// UpgradeRequest is the canned client opening handshake replayed to servers
// in memory (RFC 6455 section 4.1; the key is the RFC's own example).
const UpgradeRequest = "GET /ws HTTP/1.1\r\n" +
	"Host: 127.0.0.1\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\n\r\n"

// upgradeHTTPRequest parses UpgradeRequest for the libraries that take an
// *http.Request.
func upgradeHTTPRequest() *http.Request {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(UpgradeRequest)))
	if err != nil {
		panic(err)
	}
	r.RemoteAddr = "127.0.0.1:9"
	return r
}

// AppendFrame appends one final, unfragmented frame with opcode op carrying
// payload; with mask, the payload is masked with key (client to server,
// RFC 6455 section 5.3). It is written here, not borrowed from a library
// under test, so that every server reads the same bytes.
func AppendFrame(b []byte, op byte, payload []byte, mask bool, key [4]byte) []byte {
	b = append(b, 0x80|op)
	var mbit byte
	if mask {
		mbit = 0x80
	}
	n := len(payload)
	switch {
	case n <= 125:
		b = append(b, mbit|byte(n))
	case n <= 0xFFFF:
		b = append(b, mbit|126, byte(n>>8), byte(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !mask {
		return append(b, payload...)
	}
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range payload {
		b[start+i] ^= key[i&3]
	}
	return b
}

// Payload returns n deterministic pseudo-random bytes.
func Payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	p := make([]byte, n)
	for i := 0; i < n; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		copy(p[i:], w[:])
	}
	return p
}

// Kind is what the messages of an in-memory workload carry.
type Kind int

const (
	Binary Kind = iota // binary messages of pseudo-random bytes
	Text               // text messages of ASCII words
	Mixed              // text messages in several scripts, 44 % of their bytes not ASCII
)

// Kinds lists every Kind, in table order.
var Kinds = []Kind{Binary, Text, Mixed}

// String names k in workload names: "" for Binary, which keeps the names
// of the earlier binary-only reports.
func (k Kind) String() string {
	return [...]string{"", "text", "mixed"}[k]
}

// mixedScript is chat text in several scripts: of a kilobyte of it, 450
// bytes are not ASCII (issue 12's referee text had 455).
const mixedScript = "Hi: hello, мир! Grüße aus Köln — 東京 😀 ok. "

// asciiText is the ASCII text of the Text kind.
const asciiText = "The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs. "

// KindPayload returns size bytes of kind k: Payload's bytes, or text
// repeated, cut at a code point boundary and filled up with ASCII so that it
// is valid UTF-8.
func KindPayload(k Kind, size int) []byte {
	src := asciiText
	switch k {
	case Binary:
		return Payload(size, uint64(size))
	case Mixed:
		src = mixedScript
	}
	p := []byte(strings.Repeat(src, size/len(src)+1)[:size])
	i := size
	for !utf8.Valid(p[:i]) {
		i--
	}
	for ; i < size; i++ {
		p[i] = '.'
	}
	return p
}

// opcode is the frame opcode of k (RFC 6455 section 5.2).
func (k Kind) opcode() byte {
	if k == Binary {
		return 0x2
	}
	return 0x1
}

// MaskedFrames returns the bytes of count masked binary frames of size bytes
// each (each with its own mask key), and the payload of every frame.
func MaskedFrames(size, count int) (wire []byte, payload []byte) {
	return MaskedKindFrames(Binary, size, count)
}

// MaskedKindFrames is MaskedFrames for messages of kind k.
func MaskedKindFrames(k Kind, size, count int) (wire []byte, payload []byte) {
	payload = KindPayload(k, size)
	r := rand.New(rand.NewPCG(uint64(size), 1))
	for range count {
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], r.Uint32()|1)
		wire = AppendFrame(wire, k.opcode(), payload, true, key)
	}
	return wire, payload
}

// replayCount is how many frames of size bytes make a replay buffer of about
// 256 KiB (at least one), so that the reader does not see one hot cache line.
func replayCount(size int) int {
	return max(1, (256<<10)/(size+14))
}
