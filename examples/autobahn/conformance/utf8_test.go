package conformance

import "unicode/utf8"

// utf8Group is one subcategory of cases 6.5 to 6.23: the sequences of
// Markus Kuhn's UTF-8 decoder test file, in the suite's order
// (createUtf8TestSequences in case6_x_x.py), each marked valid or not.
type utf8Group struct {
	name string
	seqs []utf8Seq
}

type utf8Seq struct {
	valid bool
	b     string
}

// kosme is "κόσμε", the Greek word the test file starts with.
const kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

func utf8Groups() []utf8Group {
	var g []utf8Group
	add := func(name string, seqs ...utf8Seq) { g = append(g, utf8Group{name, seqs}) }
	ok := func(s string) utf8Seq { return utf8Seq{true, s} }
	bad := func(s string) utf8Seq { return utf8Seq{false, s} }

	add("Some valid UTF-8 sequences",
		ok("hello\x24world"), ok("hello\xc2\xa2world"), ok("hello\xe2\x82\xacworld"),
		ok("hello\xf0\xa4\xad\xa2world"), ok(kosme))

	var prefixes []utf8Seq
	for i := 1; i <= len(kosme); i++ {
		prefixes = append(prefixes, utf8Seq{utf8.ValidString(kosme[:i]), kosme[:i]})
	}
	add("All prefixes of a valid UTF-8 string that contains multi-byte code points", prefixes...)

	add("First possible sequence of a certain length",
		ok("\x00"), ok("\xc2\x80"), ok("\xe0\xa0\x80"), ok("\xf0\x90\x80\x80"))
	add("First possible sequence length 5/6 (invalid codepoints)",
		bad("\xf8\x88\x80\x80\x80"), bad("\xfc\x84\x80\x80\x80\x80"))
	add("Last possible sequence of a certain length",
		ok("\x7f"), ok("\xdf\xbf"), ok("\xef\xbf\xbf"), ok("\xf4\x8f\xbf\xbf"))
	add("Last possible sequence length 4/5/6 (invalid codepoints)",
		bad("\xf7\xbf\xbf\xbf"), bad("\xfb\xbf\xbf\xbf\xbf"), bad("\xfd\xbf\xbf\xbf\xbf\xbf"))
	add("Other boundary conditions",
		ok("\xed\x9f\xbf"), ok("\xee\x80\x80"), ok("\xef\xbf\xbd"), ok("\xf4\x8f\xbf\xbf"), bad("\xf4\x90\x80\x80"))

	var all []byte
	for c := 0x80; c < 0xbf; c++ {
		all = append(all, byte(c))
	}
	add("Unexpected continuation bytes",
		bad("\x80"), bad("\xbf"), bad("\x80\xbf"), bad("\x80\xbf\x80"), bad("\x80\xbf\x80\xbf"),
		bad("\x80\xbf\x80\xbf\x80"), bad("\x80\xbf\x80\xbf\x80\xbf"), bad(string(all)))

	var lonely []utf8Seq
	for _, r := range [][2]int{{0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}} {
		var s []byte
		for c := r[0]; c < r[1]; c++ {
			s = append(s, byte(c), 0x20)
		}
		lonely = append(lonely, bad(string(s)))
	}
	add("Lonely start characters", lonely...)

	missing := []string{"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"}
	var ms []utf8Seq
	cat := ""
	for _, s := range missing {
		ms = append(ms, bad(s))
		cat += s
	}
	add("Sequences with last continuation byte missing", ms...)
	add("Concatenation of incomplete sequences", bad(cat))
	add("Impossible bytes", bad("\xfe"), bad("\xff"), bad("\xfe\xfe\xff\xff"))
	add("Examples of an overlong ASCII character",
		bad("\xc0\xaf"), bad("\xe0\x80\xaf"), bad("\xf0\x80\x80\xaf"), bad("\xf8\x80\x80\x80\xaf"), bad("\xfc\x80\x80\x80\x80\xaf"))
	add("Maximum overlong sequences",
		bad("\xc1\xbf"), bad("\xe0\x9f\xbf"), bad("\xf0\x8f\xbf\xbf"), bad("\xf8\x87\xbf\xbf\xbf"), bad("\xfc\x83\xbf\xbf\xbf\xbf"))
	add("Overlong representation of the NUL character",
		bad("\xc0\x80"), bad("\xe0\x80\x80"), bad("\xf0\x80\x80\x80"), bad("\xf8\x80\x80\x80\x80"), bad("\xfc\x80\x80\x80\x80\x80"))
	add("Single UTF-16 surrogates",
		bad("\xed\xa0\x80"), bad("\xed\xad\xbf"), bad("\xed\xae\x80"), bad("\xed\xaf\xbf"),
		bad("\xed\xb0\x80"), bad("\xed\xbe\x80"), bad("\xed\xbf\xbf"))
	add("Paired UTF-16 surrogates",
		bad("\xed\xa0\x80\xed\xb0\x80"), bad("\xed\xa0\x80\xed\xbf\xbf"), bad("\xed\xad\xbf\xed\xb0\x80"),
		bad("\xed\xad\xbf\xed\xbf\xbf"), bad("\xed\xae\x80\xed\xb0\x80"), bad("\xed\xae\x80\xed\xbf\xbf"),
		bad("\xed\xaf\xbf\xed\xb0\x80"), bad("\xed\xaf\xbf\xed\xbf\xbf"))

	nonchars := []utf8Seq{ok("\xef\xbf\xbe"), ok("\xef\xbf\xbf")}
	for _, z1 := range []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4} {
		for _, z2 := range []byte{0x8f, 0x9f, 0xaf, 0xbf} {
			if z1 == 0xf4 && z2 != 0x8f {
				continue // past U+10FFFF
			}
			for _, z3 := range []byte{0xbe, 0xbf} {
				zz := string([]byte{z1, z2, 0xbf, z3})
				if zz == "\xf0\x8f\xbf\xbe" || zz == "\xf0\x8f\xbf\xbf" {
					continue // overlong
				}
				nonchars = append(nonchars, ok(zz))
			}
		}
	}
	add("Non-character code points (valid UTF-8)", nonchars...)
	add("Unicode specials (i.e. replacement char)",
		ok("\xef\xbf\xb9"), ok("\xef\xbf\xba"), ok("\xef\xbf\xbb"), ok("\xef\xbf\xbc"),
		ok("\xef\xbf\xbd"), ok("\xef\xbf\xbe"), ok("\xef\xbf\xbf"))
	return g
}
