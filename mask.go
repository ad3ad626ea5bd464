package websocket

import "github.com/fullduplex/websocket/internal/mask"

// Mask XORs b in place with the masking key (RFC 6455 §5.3), starting at
// position pos of the key, and returns the key position for the byte after b.
// Masking is its own inverse, so Mask both masks and unmasks. Passing the
// returned position to the next call lets a payload be (un)masked in pieces of
// any size as it streams: Mask(k, Mask(k, 0, p[:i]), p[i:]) equals Mask(k, 0, p).
func Mask(key [4]byte, pos int, b []byte) int {
	// One call deep, so that Mask inlines and callers reach the
	// architecture's masker (internal/mask) in a single call.
	return mask.Mask(key, pos, b)
}
