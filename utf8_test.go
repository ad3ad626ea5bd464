package websocket

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// validateWhole runs p through a fresh validator in one Write.
func validateWhole(p []byte) bool {
	var v utf8Validator
	return v.Write(p) && v.Complete()
}

// validateSplit runs p through a fresh validator in two Writes split at i.
func validateSplit(p []byte, i int) bool {
	var v utf8Validator
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
			var v utf8Validator
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
				var v utf8Validator
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
			var v utf8Validator
			if !v.Write(p[:tt.failAt]) {
				t.Fatalf("Write(first %d bytes) = false, before the bad byte", tt.failAt)
			}
			var w utf8Validator
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
			var v utf8Validator
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
	var v utf8Validator
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
	var v utf8Validator
	if n := testing.AllocsPerRun(100, func() { v.Reset(); v.Write(p) }); n != 0 {
		t.Errorf("Write allocates %v times per call, want 0", n)
	}
}
