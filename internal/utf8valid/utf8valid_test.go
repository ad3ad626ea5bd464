package utf8valid

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fullduplex/websocket/internal/cpu"
)

// validateWhole runs p through a fresh validator in one Write.
func validateWhole(p []byte) bool {
	var v Validator
	return v.Write(p) && v.Complete()
}

// validateSplit runs p through a fresh validator in two Writes split at i.
func validateSplit(p []byte, i int) bool {
	var v Validator
	return v.Write(p[:i]) && v.Write(p[i:]) && v.Complete()
}

// completionReps holds, for each continuation position, bytes from which every
// allowed range of RFC 3629 §4 (80-BF, A0-BF, 80-9F, 90-BF, 80-8F) has a member.
var completionReps = []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}

// completable reports whether some valid UTF-8 string starts with p, using
// only unicode/utf8: p is valid, or valid once up to three continuation bytes
// are added.
func completable(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	buf := append(bytes.Clone(p), 0, 0, 0)
	for _, a := range completionReps {
		buf[len(p)] = a
		if utf8.Valid(buf[:len(p)+1]) {
			return true
		}
		for _, b := range completionReps {
			buf[len(p)+1] = b
			if utf8.Valid(buf[:len(p)+2]) {
				return true
			}
			for _, c := range completionReps {
				buf[len(p)+2] = c
				if utf8.Valid(buf[:len(p)+3]) {
					return true
				}
			}
		}
	}
	return false
}

// utf8Cases are named by the RFC 3629 rule they exercise. failAt is the index
// of the first byte after which no valid UTF-8 can follow, or -1 when every
// prefix can still be completed (valid input or input cut short).
var utf8Cases = []struct {
	name   string
	in     string
	valid  bool
	failAt int
}{
	{"Empty", "", true, -1},
	{"ASCII", "Hello, world", true, -1},
	{"ASCIILong", strings.Repeat("abcdefgh", 9) + "xyz", true, -1},
	{"TwoByte", "\u00e9t\u00e9", true, -1},
	{"ThreeByte", "\u20ac\u2603\uffff", true, -1},
	{"FourByte", "\U0001F600\U0010FFFF\U00010000", true, -1},
	{"MaxBoundaries", "\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff", true, -1},
	{"Mixed", "a\u00e9\u20ac\U0001F600b" + strings.Repeat("x", 20) + "\u00e9", true, -1},
	{"Autobahn6.2", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true, -1},

	{"LoneContinuation80", "\x80", false, 0},
	{"LoneContinuationBF", "a\xbf", false, 1},
	{"ContinuationAfterComplete", "\xc3\xa9\x80", false, 2},
	{"OverlongC0", "\xc0\x80", false, 0},
	{"OverlongC1", "\xc1\xbf", false, 0},
	{"OverlongE0", "\xe0\x80\x80", false, 1},
	{"OverlongE09F", "\xe0\x9f\xbf", false, 1},
	{"OverlongF0", "\xf0\x80\x80\x80", false, 1},
	{"OverlongF08F", "\xf0\x8f\xbf\xbf", false, 1},
	{"SurrogateHighFirst", "\xed\xa0\x80", false, 1},
	{"SurrogateLowLast", "\xed\xbf\xbf", false, 1},
	{"SurrogatePair", "\xed\xa0\x80\xed\xb0\x80", false, 1},
	{"AboveMaxF490", "\xf4\x90\x80\x80", false, 1},
	{"AboveMaxF4BF", "\xf4\xbf\xbf\xbf", false, 1},
	{"LeadF5", "\xf5\x80\x80\x80", false, 0},
	{"LeadF7", "\xf7", false, 0},
	{"LeadF8", "\xf8\x88\x80\x80\x80", false, 0},
	{"LeadFC", "\xfc", false, 0},
	{"LeadFE", "\xfe", false, 0},
	{"LeadFF", "ab\xff", false, 2},
	{"BadSecondByteASCII", "\xc3a", false, 1},
	{"BadThirdByte", "\xe2\x82a", false, 2},
	{"BadFourthByte", "\xf0\x9f\x98\xc0", false, 3},
	{"LeadInsideSequence", "\xe2\xc3\xa9", false, 1},
	{"BadAfterLongASCII", strings.Repeat("a", 17) + "\xff" + strings.Repeat("a", 20), false, 17},
	{"BadAfterWordOfASCII", strings.Repeat("a", 8) + "\x80", false, 8},
	{"BadAfterMultibyte", "\u20ac\u20ac\xed\xa0\x80", false, 7},
	{"Autobahn6.3", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", false, 12},

	{"TruncatedTwoByte", "\xc3", false, -1},
	{"TruncatedThreeByte", "a\xe2\x82", false, -1},
	{"TruncatedFourByte1", "\xf0", false, -1},
	{"TruncatedFourByte3", "\xf0\x9f\x98", false, -1},
	{"TruncatedF4", "\xf4\x8f\xbf", false, -1},
}

func TestUTF8ValidatorMatchesUTF8Valid(t *testing.T) {
	for _, tt := range utf8Cases {
		t.Run(tt.name, func(t *testing.T) {
			p := []byte(tt.in)
			if utf8.Valid(p) != tt.valid {
				t.Fatalf("bad test case: utf8.Valid = %v", !tt.valid)
			}
			if got := validateWhole(p); got != tt.valid {
				t.Errorf("whole: got %v, want %v", got, tt.valid)
			}
			for i := 0; i <= len(p); i++ {
				if got := validateSplit(p, i); got != tt.valid {
					t.Errorf("split at %d: got %v, want %v", i, got, tt.valid)
				}
			}
			var v Validator
			ok := true
			for i := range p {
				ok = ok && v.Write(p[i:i+1])
			}
			if got := ok && v.Complete(); got != tt.valid {
				t.Errorf("byte at a time: got %v, want %v", got, tt.valid)
			}
		})
	}
}

// RFC 6455 §8.1 lets an endpoint fail a text message as soon as its bytes can
// no longer be valid UTF-8; the validator must say so at that very byte.
func TestUTF8ValidatorFailsFast(t *testing.T) {
	for _, tt := range utf8Cases {
		t.Run(tt.name, func(t *testing.T) {
			p := []byte(tt.in)
			if tt.failAt < 0 {
				var v Validator
				if !v.Write(p) {
					t.Fatalf("Write(% x) = false, but the input can still be completed", p)
				}
				if v.Complete() != tt.valid {
					t.Fatalf("Complete() = %v, want %v", v.Complete(), tt.valid)
				}
				return
			}
			if !completable(p[:tt.failAt]) || completable(p[:tt.failAt+1]) {
				t.Fatalf("bad test case: failAt %d disagrees with unicode/utf8", tt.failAt)
			}
			var v Validator
			if !v.Write(p[:tt.failAt]) {
				t.Fatalf("Write(first %d bytes) = false, before the bad byte", tt.failAt)
			}
			var w Validator
			if w.Write(p[:tt.failAt+1]) {
				t.Fatalf("Write(first %d bytes) = true, including the bad byte at %d", tt.failAt+1, tt.failAt)
			}
			// The same when the bad byte arrives in a Write of its own.
			if v.Write(p[tt.failAt : tt.failAt+1]) {
				t.Fatalf("Write(bad byte %#x) after the prefix = true", p[tt.failAt])
			}
		})
	}
}

// TestUTF8ValidatorExhaustiveShort compares the validator with unicode/utf8
// on every 1- and 2-byte input and every 3-byte input with a multibyte lead,
// whole and split; and on every 2-byte input checks it fails at the first
// byte that cannot be completed.
func TestUTF8ValidatorExhaustiveShort(t *testing.T) {
	var p [3]byte
	for a := range 256 {
		p[0] = byte(a)
		if got, want := validateWhole(p[:1]), utf8.Valid(p[:1]); got != want {
			t.Fatalf("% x: got %v, want %v", p[:1], got, want)
		}
		for b := range 256 {
			p[1] = byte(b)
			want := utf8.Valid(p[:2])
			if validateWhole(p[:2]) != want || validateSplit(p[:2], 1) != want {
				t.Fatalf("% x: got %v/%v, want %v", p[:2], validateWhole(p[:2]), validateSplit(p[:2], 1), want)
			}
			var v Validator
			ok1 := v.Write(p[:1])
			ok2 := ok1 && v.Write(p[1:2])
			if ok1 != completable(p[:1]) || ok2 != completable(p[:2]) {
				t.Fatalf("% x: prefix verdicts %v,%v; want %v,%v", p[:2], ok1, ok2, completable(p[:1]), completable(p[:2]))
			}
			if a < 0xe0 {
				continue
			}
			for c := range 256 {
				p[2] = byte(c)
				want := utf8.Valid(p[:3])
				if validateWhole(p[:3]) != want || validateSplit(p[:3], 2) != want {
					t.Fatalf("% x: got %v, want %v", p[:3], !want, want)
				}
			}
		}
	}
}

func TestUTF8ValidatorFourByteEdges(t *testing.T) {
	edges := []byte{0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff}
	for lead := 0xf0; lead <= 0xff; lead++ {
		for _, b := range edges {
			for _, c := range edges {
				for _, d := range edges {
					p := []byte{byte(lead), b, c, d}
					want := utf8.Valid(p)
					for i := 0; i <= 4; i++ {
						if got := validateSplit(p, i); got != want {
							t.Fatalf("% x split at %d: got %v, want %v", p, i, got, want)
						}
					}
				}
			}
		}
	}
}

func TestUTF8ValidatorReset(t *testing.T) {
	var v Validator
	v.Write([]byte{0xe2, 0x82})
	if v.Complete() {
		t.Fatal("Complete() = true inside a code point")
	}
	v.Reset()
	if !v.Complete() || !v.Write([]byte("a")) {
		t.Fatal("Reset did not forget the partial code point")
	}
}

func TestUTF8ValidatorAllocs(t *testing.T) {
	p := []byte(strings.Repeat("h\u00e9llo w\u00f6rld \u20ac", 20))
	var v Validator
	if n := testing.AllocsPerRun(100, func() { v.Reset(); v.Write(p) }); n != 0 {
		t.Errorf("Write allocates %v times per call, want 0", n)
	}
}

// utf8Path is one way this build can validate the bulk of a Write: the
// AVX-512, AVX2 or SSSE3 assembly, or the portable unicode/utf8 path,
// selected by the values useAVX512, useAVX2 and useSSSE3 take while it runs.
type utf8Path struct {
	name                string
	avx512, avx2, ssse3 bool
}

// utf8Paths lists the paths this machine can run; under purego or on other
// architectures, only the portable one.
func utf8Paths() []utf8Path {
	var ps []utf8Path
	if cpu.X86.HasSSSE3 && cpu.X86.HasAVX2 && cpu.X86.HasAVX512 {
		ps = append(ps, utf8Path{"avx512", true, true, true})
	}
	if cpu.X86.HasSSSE3 && cpu.X86.HasAVX2 {
		ps = append(ps, utf8Path{"avx2", false, true, true})
	}
	if cpu.X86.HasSSSE3 {
		ps = append(ps, utf8Path{"ssse3", false, false, true})
	}
	return append(ps, utf8Path{"portable", false, false, false})
}

// use selects the path.
func (p utf8Path) use() { useAVX512, useAVX2, useSSSE3 = p.avx512, p.avx2, p.ssse3 }

// currentUTF8Path is the path selected now: `defer currentUTF8Path().use()`
// restores it.
func currentUTF8Path() utf8Path { return utf8Path{"current", useAVX512, useAVX2, useSSSE3} }

// forEachUTF8Path runs f as a subtest on each path.
func forEachUTF8Path(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	defer currentUTF8Path().use()
	for _, p := range utf8Paths() {
		p.use()
		t.Run(p.name, f)
	}
}

// utf8Runes are code points of every encoded length and at the edges of
// the ranges RFC 3629 §4 allows, to build text from.
var utf8Runes = []rune{
	'a', 'z', 0, 0x7f, 0x80, 0xe9, 0x7ff, 0x800, 0x20ac, 0xd7ff, 0xe000, 0xfffd, 0xffff,
	0x10000, 0x1f600, 0xfffff, 0x100000, 0x10ffff, 'Ж', '語',
}

// utf8EdgeBytes are the bytes at which some rule of RFC 3629 §4 changes.
var utf8EdgeBytes = []byte{
	0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
	0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff,
}

// randomUTF8 returns n runes of valid UTF-8, and with probability one half
// one byte of it replaced by an edge byte, or the text cut at a random byte.
func randomUTF8(r *rand.Rand, n int) []byte {
	var p []byte
	ascii := r.IntN(4) == 0 // long runs of ASCII, for the ASCII shortcuts
	for range n {
		if ascii && r.IntN(8) != 0 {
			p = append(p, byte('a'+r.IntN(26)))
			continue
		}
		p = utf8.AppendRune(p, utf8Runes[r.IntN(len(utf8Runes))])
	}
	switch r.IntN(4) {
	case 0:
		if len(p) > 0 {
			p[r.IntN(len(p))] = utf8EdgeBytes[r.IntN(len(utf8EdgeBytes))]
		}
	case 1:
		if len(p) > 0 {
			p[r.IntN(len(p))] = byte(r.Uint32())
		}
	case 2:
		p = p[:r.IntN(len(p)+1)]
	}
	return p
}

// firstBadByte returns the index of the first byte after which no valid
// UTF-8 can follow, by unicode/utf8 alone (completable), or -1.
func firstBadByte(p []byte) int {
	if completable(p) {
		return -1
	}
	// completable holds for a prefix if it holds for a longer one.
	lo, hi := 0, len(p) // completable(p[:lo]), !completable(p[:hi])
	for hi-lo > 1 {
		if m := (lo + hi) / 2; completable(p[:m]) {
			lo = m
		} else {
			hi = m
		}
	}
	return hi - 1
}

// TestUTF8ValidatorEveryPathMatchesUTF8Valid checks, on every path, random
// text of every length up to 100 runes and some long ones, valid and not, at
// every alignment within a 64-byte line: the whole verdict against
// unicode/utf8, the same at every split point into two Writes and at random
// splits into many, and that a Write fails at the first byte that cannot be
// completed and not one byte before, whatever the split.
func TestUTF8ValidatorEveryPathMatchesUTF8Valid(t *testing.T) {
	forEachUTF8Path(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(12, 1))
		buf := make([]byte, 64+4*1000)
		for i := range 3000 {
			n := i % 101
			if i%100 == 0 {
				n = 200 + r.IntN(800)
			}
			src := randomUTF8(r, n)
			off := r.IntN(64)
			p := buf[off : off+len(src)]
			copy(p, src)
			want := utf8.Valid(p)
			if got := validateWhole(p); got != want {
				t.Fatalf("% x at offset %d: got %v, want %v", p, off, got, want)
			}
			step := 1
			if len(p) > 300 {
				step = 7
			}
			for k := 0; k <= len(p); k += step {
				if got := validateSplit(p, k); got != want {
					t.Fatalf("% x at offset %d split at %d: got %v, want %v", p, off, k, got, want)
				}
			}
			var v Validator
			ok := true
			for rest := p; len(rest) > 0 && ok; {
				k := min(len(rest), r.IntN(70))
				ok = v.Write(rest[:k])
				rest = rest[k:]
			}
			if got := ok && v.Complete(); got != want {
				t.Fatalf("% x in random pieces: got %v, want %v", p, got, want)
			}
			bad := firstBadByte(p)
			if bad < 0 {
				continue
			}
			for _, k := range []int{0, bad / 2, bad, r.IntN(bad + 1)} {
				var v Validator
				if !v.Write(p[:k]) || !v.Write(p[k:bad]) {
					t.Fatalf("% x split at %d: failed before the first bad byte %d", p, k, bad)
				}
				if v.Write(p[bad : bad+1]) {
					t.Fatalf("% x split at %d: bad byte %d (%#x) accepted", p, k, bad, p[bad])
				}
				var w Validator
				if w.Write(p[:k]) && w.Write(p[k:bad+1]) {
					t.Fatalf("% x split at %d: prefix through bad byte %d accepted", p, k, bad)
				}
			}
		}
	})
}

// TestUTF8ValidatorEveryPathPairsAtBlockEdges puts every pair of bytes, and
// every triple whose first byte is a lead byte of three or four, at the
// places in a 64-byte message where the vector code's blocks meet (16 and 32
// bytes) and at its end, on every path: each rule of RFC 3629 §4 is a rule
// about the bytes that follow a lead byte, and these are where one block
// must carry what it has seen into the next.
func TestUTF8ValidatorEveryPathPairsAtBlockEdges(t *testing.T) {
	forEachUTF8Path(t, func(t *testing.T) {
		var msg [64]byte
		fill := func() {
			copy(msg[:], strings.Repeat("\u00e9ab", 22))
		}
		check := func(p []byte) {
			t.Helper()
			want := utf8.Valid(p)
			if got := validateWhole(p); got != want {
				t.Fatalf("% x: got %v, want %v", p, got, want)
			}
		}
		// "éab" repeated: 2-byte code points end at 1, 5, 9, ...; start the
		// pair or triple just after one, so that what is around it is valid.
		for _, at := range []int{13, 29, 61} {
			for a := range 256 {
				for b := range 256 {
					fill()
					msg[at], msg[at+1] = byte(a), byte(b)
					check(msg[:at+2])
					check(msg[:])
					if a < 0xe0 || at > 61 {
						continue
					}
					for _, c := range utf8EdgeBytes {
						msg[at+2] = c
						check(msg[:])
					}
				}
			}
		}
	})
}

// utf8EdgeSequences has a member of every class of invalid UTF-8 (RFC 3629
// §3, §4), named by it, and valid sequences of each length, to put into
// otherwise valid text.
var utf8EdgeSequences = []struct{ class, seq string }{
	{"Valid2", "\u00e9"}, {"Valid3", "\u20ac"},
	{"Valid4", "\U0001F600"}, {"ValidMax", "\U0010FFFF"},
	{"Overlong2", "\xc0\xaf"}, {"Overlong2C1", "\xc1\xbf"},
	{"Overlong3", "\xe0\x80\xaf"}, {"Overlong3Max", "\xe0\x9f\xbf"},
	{"Overlong4", "\xf0\x80\x80\xaf"}, {"Overlong4Max", "\xf0\x8f\xbf\xbf"},
	{"SurrogateFirst", "\xed\xa0\x80"}, {"SurrogateLast", "\xed\xbf\xbf"},
	{"AboveMaxF4", "\xf4\x90\x80\x80"}, {"AboveMaxF5", "\xf5\x80\x80\x80"},
	{"AboveMaxF7", "\xf7\xbf\xbf\xbf"}, {"FiveByte", "\xf8\x88\x80\x80\x80"},
	{"LeadFF", "\xff"}, {"Truncated2", "\xc3"},
	{"Truncated3", "\xe2\x82"}, {"Truncated4", "\xf0\x9f\x98"},
	{"TruncatedF4", "\xf4\x8f"}, {"StrayContinuation", "\x80"},
	{"StrayContinuationBF", "\xbf"}, {"TooLong2", "\xc3\xa9\x80"},
	{"TooLong4", "\xf0\x9f\x98\x80\xbf"}, {"LeadInsideSequence", "\xe2\xc3\xa9"},
}

// utf8BlockLengths are the lengths the block tests use: every length to
// 300, for the first block, the padded short inputs and a turn or two of
// each kernel; and lengths around multiples of 64 to 1100, where the
// largest turns (128 bytes), ASCII skips (256) and the last block fall in
// every combination.
func utf8BlockLengths(short bool) []int {
	var ns []int
	for n := 0; n <= 300; n++ {
		ns = append(ns, n)
	}
	step := 64
	if short {
		step = 192
	}
	for m := 320; m <= 1100; m += step {
		ns = append(ns, m-3, m-1, m, m+1, m+3)
	}
	return ns
}

// utf8Backgrounds returns the valid texts of n bytes (or a little less,
// to end on a code point boundary) the block tests put sequences into:
// ASCII, which the kernels skip a block or more at a time, and text in
// several scripts, which they check byte by byte.
func utf8Backgrounds(n int) []struct {
	name string
	text []byte
} {
	mixed := []byte(strings.Repeat("aé€😀Жx語", n/15+1)[:n])
	for !utf8.Valid(mixed) {
		mixed = mixed[:len(mixed)-1]
	}
	return []struct {
		name string
		text []byte
	}{{"ascii", []byte(strings.Repeat("a", n))}, {"mixed", mixed}}
}

// checkEveryPath checks p on each of paths against unicode/utf8; a failure
// names p by format and args.
func checkEveryPath(t *testing.T, paths []utf8Path, p []byte, format string, args ...any) {
	t.Helper()
	want := utf8.Valid(p)
	for _, path := range paths {
		path.use()
		if got := validateWhole(p); got != want {
			t.Fatalf("%s: %s: got %v, want %v", path.name, fmt.Sprintf(format, args...), got, want)
		}
	}
}

// TestUTF8ValidatorEveryPathSequenceAtEveryPosition puts each sequence of
// utf8EdgeSequences at every position (for lengths past 300, and with -short
// or -race, which sees nothing of assembly, only where it ends or starts
// within 5 bytes of a multiple of 32, where every kernel's turns meet, or
// at the end) of ASCII and of mixed text of
// the utf8BlockLengths, starting at every offset from a 64-byte boundary in
// turn (buf's own alignment aside), so that valid text too is checked wherever the kernels' blocks,
// turns, skips and last block fall. In the mixed text a sequence may land
// inside a code point: unicode/utf8 says what is right.
func TestUTF8ValidatorEveryPathSequenceAtEveryPosition(t *testing.T) {
	buf := make([]byte, 64+1100)
	paths := utf8Paths()
	defer currentUTF8Path().use()
	quick := testing.Short() || raceEnabled
	for _, n := range utf8BlockLengths(quick) {
		for _, bg := range utf8Backgrounds(n) {
			for _, e := range utf8EdgeSequences {
				for i := 0; i+len(e.seq) <= len(bg.text); i++ {
					if (n > 300 || quick) && i%32 >= 3 && i%32 < 27 && i+len(e.seq) < len(bg.text) {
						continue
					}
					off := (i + n) % 64 // every alignment, whatever buf's
					p := buf[off : off+len(bg.text)]
					copy(p, bg.text)
					copy(p[i:], e.seq)
					checkEveryPath(t, paths, p, "%s at %d of %d bytes of %s, offset %d", e.class, i, len(p), bg.name, off)
				}
			}
		}
	}
}

// TestUTF8ValidatorEveryPathCutBeforeASCII puts a sequence cut short after
// mixed text of every length to 400 and before 700 bytes of ASCII: the
// kernels skip ASCII unchecked, so they must find the cut at the end of the
// bytes before it, whether the ASCII starts a block, a turn or a skip.
func TestUTF8ValidatorEveryPathCutBeforeASCII(t *testing.T) {
	paths := utf8Paths()
	defer currentUTF8Path().use()
	for _, cut := range []string{"\xc3", "\xe2", "\xe2\x82", "\xf0\x9f", "\xf0\x9f\x98"} {
		for n := 0; n <= 400; n++ {
			p := append(utf8Backgrounds(n)[1].text, cut...)
			p = append(p, strings.Repeat("a", 700)...)
			checkEveryPath(t, paths, p, "% x after %d bytes of mixed text, then ASCII", cut, n)
		}
	}
}
