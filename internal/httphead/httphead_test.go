package httphead

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseExtensions(t *testing.T) {
	type P = Param
	tests := []struct {
		name   string
		values []string
		want   []Extension
	}{
		{"Empty", []string{""}, nil},
		{"BareToken", []string{"permessage-deflate"}, []Extension{{Name: "permessage-deflate"}}},
		{"ParamWithoutValue", []string{"permessage-deflate; client_max_window_bits"},
			[]Extension{{"permessage-deflate", []P{{Name: "client_max_window_bits"}}}}},
		{"TokenValue", []string{"permessage-deflate;server_max_window_bits=10"},
			[]Extension{{"permessage-deflate", []P{{"server_max_window_bits", "10", true}}}}},
		{"QuotedValueRFC6455Sec9_1", []string{`permessage-deflate; server_max_window_bits="10"`},
			[]Extension{{"permessage-deflate", []P{{"server_max_window_bits", "10", true}}}}},
		{"QuotedPairUnescaped", []string{`x; a="1\0"`}, []Extension{{"x", []P{{"a", "10", true}}}}},
		{"WhitespaceAroundSeparators", []string{" foo ;  a = 1 ;b\t, bar "},
			[]Extension{{"foo", []P{{"a", "1", true}, {Name: "b"}}}, {Name: "bar"}}},
		{"SeveralOffers", []string{"permessage-deflate; client_no_context_takeover, permessage-deflate"},
			[]Extension{{"permessage-deflate", []P{{Name: "client_no_context_takeover"}}}, {Name: "permessage-deflate"}}},
		{"EmptyListElementsRFC7230Sec7", []string{", a ,, b,"}, []Extension{{Name: "a"}, {Name: "b"}}},
		{"SeveralHeaderLines", []string{"a", "b; c"}, []Extension{{Name: "a"}, {"b", []P{{Name: "c"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExtensions(tt.values)
			if err != nil {
				t.Fatalf("ParseExtensions(%q): %v", tt.values, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseExtensions(%q) = %+v, want %+v", tt.values, got, tt.want)
			}
		})
	}
}

func TestParseExtensionsMalformed(t *testing.T) {
	for _, v := range []string{
		"a b",           // two tokens without a separator
		"a; ",           // parameter name missing
		"a; =1",         // parameter name missing before a value
		"a; b=",         // value missing
		`a; b="1`,       // unterminated quoted string
		`a; b="1 2"`,    // quoted value that is not a token (RFC 6455 §9.1)
		`a; b=""`,       // empty quoted value
		"a; b=1=2",      // stray '='
		"[x]",           // not a token
		"a; b=\"\x01\"", // control character in a quoted string
		";a",
	} {
		if exts, err := ParseExtensions([]string{v}); err == nil {
			t.Errorf("ParseExtensions(%q) = %+v, want an error", v, exts)
		}
	}
}

func TestIsToken(t *testing.T) {
	for s, want := range map[string]bool{
		"chat.v2": true, "permessage-deflate": true, "x!#$%&'*+-.^_`|~9": true,
		"": false, "a b": false, "a,b": false, "a/b": false, "é": false, "a\x7f": false, `"q"`: false,
	} {
		if got := IsToken(s); got != want {
			t.Errorf("IsToken(%q) = %v, want %v", s, got, want)
		}
	}
}

// Whatever a peer sends, ParseExtensions returns an error or extensions
// whose names and parameter names are tokens, as are the values once
// unescaped (RFC 6455 §9.1).
func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{"permessage-deflate; client_max_window_bits", `x; a="1\0", y`, ", a ,, b,", "a; b=\"1 2\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exts, err := ParseExtensions(strings.Split(s, "\n"))
		if err != nil {
			return
		}
		for _, e := range exts {
			if !IsToken(e.Name) {
				t.Fatalf("extension name %q is not a token", e.Name)
			}
			for _, p := range e.Params {
				if !IsToken(p.Name) || p.HasValue && !IsToken(p.Value) {
					t.Fatalf("parameter %q=%q is not tokens", p.Name, p.Value)
				}
			}
		}
	})
}
