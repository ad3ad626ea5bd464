package utf8valid

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzUTF8 checks the validator against unicode/utf8 on every code path
// this machine has (AVX2, SSSE3, portable): the whole input, split in two at
// split, and split at random points drawn from split; and, for short inputs,
// that a Write fails at the first byte that cannot be completed.
func FuzzUTF8(f *testing.F) {
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
			var v Validator
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
				var v Validator
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
