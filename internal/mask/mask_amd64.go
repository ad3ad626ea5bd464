//go:build amd64 && !purego

package mask

import "encoding/binary"

// mask is small enough to inline, so a call to Mask compiles to a direct call
// of maskAsm: the assembly runs as a leaf without a Go frame around it, which
// keeps short payloads (the common case) as fast as with generic.
func mask(key [4]byte, pos int, b []byte) int {
	return maskAsm(binary.LittleEndian.Uint32(key[:]), pos, b)
}

// maskAsm is Mask with the key as a little-endian uint32. Payloads of 128
// bytes and more go through AVX2 registers 128 bytes a turn where useAVX2 is
// set, then SSE2 (part of the amd64 baseline) takes 64 and 16 bytes a turn
// from 32 bytes up, and general registers finish the last 31 bytes or fewer
// without a loop.
//
//go:noescape
func maskAsm(key uint32, pos int, b []byte) int

// hasAsm tells tests whether Mask runs assembly in this build.
const hasAsm = true
