// Package mask is the masking of RFC 6455 §5.3: an XOR of the payload with
// a 4-byte key, in AVX2 or SSE2 assembly on amd64 (mask_amd64.s) and in
// portable Go, four words a turn, elsewhere.
package mask

import (
	"encoding/binary"

	"github.com/fullduplex/websocket/internal/cpu"
)

// Mask XORs b in place with the masking key (RFC 6455 §5.3), starting at
// position pos of the key, and returns the key position for the byte after b.
// Masking is its own inverse, so Mask both masks and unmasks. Passing the
// returned position to the next call lets a payload be (un)masked in pieces of
// any size as it streams: Mask(k, Mask(k, 0, p[:i]), p[i:]) equals Mask(k, 0, p).
func Mask(key [4]byte, pos int, b []byte) int {
	// A one-line body so that Mask inlines and callers reach the
	// architecture's masker (mask_amd64.s, or generic) in a single call.
	return mask(key, pos, b)
}

// useAVX2 reports whether the masker may use AVX2. It is a variable, not a
// constant, so that tests can turn it off and cover the SSE2 path on a CPU
// that has AVX2. The assembly reads it.
var useAVX2 = cpu.X86.HasAVX2

// generic is Mask in portable Go: the masker on architectures without
// assembly and under the purego build tag.
func generic(key [4]byte, pos int, b []byte) int {
	pos &= 3
	// Walk the first bytes one at a time until the key is back at position 0,
	// so the word loop below can use the key as it is, whatever pos was.
	if pos != 0 {
		for len(b) > 0 && pos != 0 {
			b[0] ^= key[pos]
			b = b[1:]
			pos = (pos + 1) & 3
		}
		if len(b) == 0 {
			return pos
		}
	}
	n := len(b)
	if n >= 8 {
		k32 := uint64(binary.LittleEndian.Uint32(key[:]))
		k := k32 | k32<<32
		// Four words a turn: the loads and stores compile to plain 8-byte moves
		// (binary.LittleEndian is recognised by the compiler), so this is as fast
		// as an unsafe word loop without its alignment concerns.
		for len(b) >= 32 {
			v0 := binary.LittleEndian.Uint64(b[0:8]) ^ k
			v1 := binary.LittleEndian.Uint64(b[8:16]) ^ k
			v2 := binary.LittleEndian.Uint64(b[16:24]) ^ k
			v3 := binary.LittleEndian.Uint64(b[24:32]) ^ k
			binary.LittleEndian.PutUint64(b[0:8], v0)
			binary.LittleEndian.PutUint64(b[8:16], v1)
			binary.LittleEndian.PutUint64(b[16:24], v2)
			binary.LittleEndian.PutUint64(b[24:32], v3)
			b = b[32:]
		}
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			b = b[8:]
		}
	}
	// Whole words leave the key position unchanged; the tail starts at 0.
	for i := range b {
		b[i] ^= key[i&3]
	}
	return (pos + n) & 3
}
