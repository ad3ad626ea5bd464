package mask

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fullduplex/websocket/internal/cpu"
)

// rfcKey is the masking key of RFC 6455 §5.7's examples.
var rfcKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// maskRef is the masking of RFC 6455 §5.3 written out byte by byte:
// octet i of the payload is XORed with octet (i mod 4) of the key.
func maskRef(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return (pos + len(b)) % 4
}

var maskKeys = [][4]byte{
	rfcKey,
	{0x01, 0x02, 0x04, 0x80},
	{0xff, 0xff, 0xff, 0xff},
	{0, 0, 0, 0},
}

// maskLengths covers every short length, where the word loops hand over to the
// byte loops, and a few long ones.
func maskLengths() []int {
	var ls []int
	for n := 0; n <= 100; n++ {
		ls = append(ls, n)
	}
	return append(ls, 127, 128, 129, 255, 256, 1023, 1024, 1025, 4096+7, 65536+3)
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestMaskMatchesReference checks Mask against maskRef for every length up to
// 100 and some long ones, every key position and every alignment of the slice
// within a larger buffer, and that no byte outside the slice changes.
func TestMaskMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const guard = 16
	for _, key := range maskKeys[:2] {
		for _, n := range maskLengths() {
			src := randomBytes(r, n)
			for pos := range 4 {
				want := bytes.Clone(src)
				wantPos := maskRef(key, pos, want)
				for off := range 8 {
					buf := make([]byte, guard+off+n+guard)
					for i := range buf {
						buf[i] = 0xa5
					}
					copy(buf[guard+off:], src)
					got := buf[guard+off : guard+off+n]
					gotPos := Mask(key, pos, got)
					if gotPos != wantPos {
						t.Fatalf("key % x len %d pos %d off %d: returned pos %d, want %d", key, n, pos, off, gotPos, wantPos)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("key % x len %d pos %d off %d: wrong output", key, n, pos, off)
					}
					for i, c := range buf {
						if (i < guard+off || i >= guard+off+n) && c != 0xa5 {
							t.Fatalf("key % x len %d pos %d off %d: byte %d outside the slice changed", key, n, pos, off, i-guard-off)
						}
					}
				}
			}
		}
	}
}

// RFC 6455 §5.3: masking and unmasking are the same operation.
func TestMaskIsInvolution(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, key := range maskKeys {
		for _, n := range []int{0, 1, 7, 8, 33, 1000} {
			src := randomBytes(r, n)
			b := bytes.Clone(src)
			Mask(key, 1, b)
			Mask(key, 1, b)
			if !bytes.Equal(b, src) {
				t.Fatalf("key % x len %d: masking twice did not restore the input", key, n)
			}
		}
	}
}

// TestMaskChunkedEqualsWhole checks that a payload masked in two or three
// pieces, threading the returned position, equals the payload masked at once,
// whatever the split points: this is how a Conn unmasks a frame as it streams.
func TestMaskChunkedEqualsWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, key := range maskKeys[:2] {
		for _, n := range []int{0, 1, 3, 4, 5, 8, 9, 31, 32, 33, 64, 71, 100} {
			src := randomBytes(r, n)
			for pos := range 4 {
				want := bytes.Clone(src)
				wantPos := maskRef(key, pos, want)
				for i := 0; i <= n; i++ {
					got := bytes.Clone(src)
					p := Mask(key, Mask(key, pos, got[:i]), got[i:])
					if p != wantPos || !bytes.Equal(got, want) {
						t.Fatalf("key % x len %d pos %d split %d: pos %d (want %d), equal %v", key, n, pos, i, p, wantPos, bytes.Equal(got, want))
					}
					if n > 40 {
						continue
					}
					for j := i; j <= n; j++ {
						got := bytes.Clone(src)
						p := Mask(key, pos, got[:i])
						p = Mask(key, p, got[i:j])
						p = Mask(key, p, got[j:])
						if p != wantPos || !bytes.Equal(got, want) {
							t.Fatalf("key % x len %d pos %d splits %d,%d: wrong", key, n, pos, i, j)
						}
					}
				}
			}
		}
	}
}

// The RFC's own example: "Hello" masked with 37 fa 21 3d.
func TestMaskRFC6455Example(t *testing.T) {
	b := []byte("Hello")
	if p := Mask(rfcKey, 0, b); p != 1 {
		t.Errorf("Mask returned position %d, want 1", p)
	}
	if want := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}; !bytes.Equal(b, want) {
		t.Errorf("Mask(Hello) = % x, want % x", b, want)
	}
}

func TestMaskAllocs(t *testing.T) {
	b := make([]byte, 1024)
	if n := testing.AllocsPerRun(100, func() { Mask(rfcKey, 3, b) }); n != 0 {
		t.Errorf("Mask allocates %v times per call, want 0", n)
	}
}

// maskPath is one way this build can mask: Mask with or without AVX2, or
// generic called directly so that the portable code is tested on every
// machine, not only where it is the one Mask uses.
type maskPath struct {
	name string
	avx2 bool // the value useAVX2 takes while the path runs
	mask func(key [4]byte, pos int, b []byte) int
}

// maskPaths lists the paths this machine can run: on amd64 with AVX2,
// "avx2" and "noavx2" (the SSE2 loops) are the assembly, elsewhere (and
// under purego) "noavx2" is generic again.
func maskPaths() []maskPath {
	var ps []maskPath
	if cpu.X86.HasAVX2 {
		ps = append(ps, maskPath{"avx2", true, Mask})
	}
	return append(ps, maskPath{"noavx2", false, Mask}, maskPath{"generic", false, generic})
}

// forEachMaskPath runs f as a subtest on each path, with useAVX2 set for it.
func forEachMaskPath(t *testing.T, f func(t *testing.T, mask func([4]byte, int, []byte) int)) {
	t.Helper()
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	for _, p := range maskPaths() {
		useAVX2 = p.avx2
		t.Run(p.name, func(t *testing.T) { f(t, p.mask) })
	}
}

// TestMaskEveryAlignment checks every length up to 300 at every offset of
// b within a 64-byte line and every starting key position against the
// byte-at-a-time reference, on each path, so that each loop's entry, exit
// and hand-over to the next (128, 64, 16 and 8 bytes a turn, then 4, 2 and 1)
// is covered with and without alignment. The whole buffer is compared, so a
// write outside b fails too. Large buffers check the long loops.
func TestMaskEveryAlignment(t *testing.T) {
	forEachMaskPath(t, func(t *testing.T, mask func([4]byte, int, []byte) int) {
		r := rand.New(rand.NewPCG(7, 7))
		key := [4]byte{0x9a, 0x03, 0x7e, 0xc1}
		buf := randomBytes(r, 64+300+64)
		want := make([]byte, len(buf))
		got := make([]byte, len(buf))
		for n := 0; n <= 300; n++ {
			for off := range 64 {
				for pos := range 4 {
					copy(want, buf)
					copy(got, buf)
					wantPos := maskRef(key, pos, want[off:off+n])
					gotPos := mask(key, pos, got[off:off+n])
					if gotPos != wantPos || !bytes.Equal(got, want) {
						t.Fatalf("n=%d off=%d pos=%d: position %d (want %d), bytes equal: %v", n, off, pos, gotPos, wantPos, bytes.Equal(got, want))
					}
				}
			}
		}
		for _, n := range []int{1 << 16, 1<<20 + 61} {
			src := randomBytes(r, n+64)
			for _, off := range []int{0, 1, 31} {
				for _, pos := range []int{0, 3} {
					want := bytes.Clone(src)
					got := bytes.Clone(src)
					wantPos := maskRef(key, pos, want[off:off+n])
					if gotPos := mask(key, pos, got[off:off+n]); gotPos != wantPos || !bytes.Equal(got, want) {
						t.Fatalf("n=%d off=%d pos=%d: position %d (want %d), bytes equal: %v", n, off, pos, gotPos, wantPos, bytes.Equal(got, want))
					}
				}
			}
		}
	})
}

// TestMaskPositionWraps checks that pos is taken modulo 4 whatever its size
// or sign, as the word loops and the assembly's rotation both assume.
func TestMaskPositionWraps(t *testing.T) {
	forEachMaskPath(t, func(t *testing.T, mask func([4]byte, int, []byte) int) {
		src := randomBytes(rand.New(rand.NewPCG(8, 8)), 200)
		for _, pos := range []int{-1, -4, 5, math.MaxInt - 2, math.MinInt, math.MaxInt} {
			for _, n := range []int{0, 3, 40, 200} {
				want := bytes.Clone(src[:n])
				wantPos := maskRef(rfcKey, pos&3, want)
				got := bytes.Clone(src[:n])
				if gotPos := mask(rfcKey, pos, got); gotPos != wantPos || !bytes.Equal(got, want) {
					t.Fatalf("pos %d len %d: position %d (want %d), bytes equal: %v", pos, n, gotPos, wantPos, bytes.Equal(got, want))
				}
			}
		}
	})
}
