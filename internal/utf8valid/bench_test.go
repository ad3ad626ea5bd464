package utf8valid

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fullduplex/websocket/internal/mask"
)

// mixedScript is chat text in several scripts: of a kilobyte of it, 450
// bytes are not ASCII (the text of issue 12's measurements had 455).
const mixedScript = "Hi: hello, мир! Grüße aus Köln — 東京 😀 ok. "

// mixedText returns n bytes of mixedScript repeated, cut at a code point
// boundary and filled up with ASCII, so it is valid UTF-8.
func mixedText(n int) []byte {
	p := []byte(strings.Repeat(mixedScript, n/len(mixedScript)+1)[:n])
	i := n
	for !utf8.Valid(p[:i]) {
		i--
	}
	for ; i < n; i++ {
		p[i] = '.'
	}
	return p
}

// BenchmarkUTF8 is the validator's throughput on ASCII and on mixed-script
// text of 16 KiB (in cache) and 1 MiB (past L2 on most CPUs), as the Conn
// calls it (validator) and on each code path this machine has, next to
// unicode/utf8.Valid and, as yardsticks for "memory speed", Mask and copy
// on the same sizes. GB/s is bytes per nanosecond.
func BenchmarkUTF8(b *testing.B) {
	sizes := []struct {
		name string
		n    int
	}{{"16KiB", 16 << 10}, {"1MiB", 1 << 20}}
	ascii := func(n int) []byte {
		return []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", n/45+1)[:n])
	}
	inputs := []struct {
		name string
		text func(n int) []byte
	}{{"ascii", ascii}, {"mixed", mixedText}}
	run := func(b *testing.B, p []byte, f func([]byte) bool) {
		if !f(p) {
			b.Fatal("benchmark input is not valid UTF-8")
		}
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			if !f(p) {
				b.Fatal("invalid")
			}
		}
		b.ReportMetric(float64(b.N)*float64(len(p))/float64(b.Elapsed().Nanoseconds()), "GB/s")
	}
	// each runs f on every input at every size, as name/input/size.
	each := func(name string, f func([]byte) bool) {
		for _, in := range inputs {
			for _, s := range sizes {
				p := in.text(s.n)
				b.Run(name+"/"+in.name+"/"+s.name, func(b *testing.B) { run(b, p, f) })
			}
		}
	}
	var v Validator
	validate := func(p []byte) bool { v.Reset(); return v.Write(p) && v.Complete() }
	each("validator", validate)
	restore := currentUTF8Path()
	for _, path := range utf8Paths() {
		path.use()
		each(path.name, validate)
	}
	restore.use()
	each("stdlib", utf8.Valid)
	for _, s := range sizes {
		buf := mixedText(s.n)
		b.Run("mask/"+s.name, func(b *testing.B) {
			run(b, buf, func(p []byte) bool { mask.Mask([4]byte{0x37, 0xfa, 0x21, 0x3d}, 1, p); return true })
		})
		dst := make([]byte, s.n)
		b.Run("copy/"+s.name, func(b *testing.B) {
			run(b, buf, func(p []byte) bool { return copy(dst, p) == len(p) })
		})
	}
}
