package mask

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzMask checks Mask against the byte-at-a-time reference, whole and in
// two pieces.
func FuzzMask(f *testing.F) {
	// The masked "Hello" of RFC 6455 §5.7, with its key.
	f.Add([]byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}, binary.LittleEndian.Uint32(rfcKey[:]), 0, 3)
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
