// Package httphead parses what the WebSocket handshake reads of HTTP
// headers beyond what net/http does: tokens, and the list of extensions
// and their parameters of Sec-WebSocket-Extensions (RFC 6455 §9.1).
package httphead

import (
	"fmt"
	"strings"
)

// Extension is one element of a Sec-WebSocket-Extensions header.
type Extension struct {
	Name   string
	Params []Param
}

// Param is one parameter of an Extension; Value is unescaped.
type Param struct {
	Name, Value string
	HasValue    bool
}

// ParseExtensions parses Sec-WebSocket-Extensions header values (RFC 6455
// §9.1): a comma-separated list of extensions, each a token followed by
// ;-separated parameters whose values are tokens or quoted strings. A quoted
// value must still be a token once unescaped (§9.1). Empty list elements are
// allowed, as in every #rule list (RFC 7230 §7).
func ParseExtensions(values []string) ([]Extension, error) {
	var exts []Extension
	for _, s := range values {
		for {
			s = trimOWS(s)
			if s == "" {
				break
			}
			if s[0] == ',' {
				s = s[1:]
				continue
			}
			var e Extension
			if e.Name, s = cutToken(s); e.Name == "" {
				return nil, fmt.Errorf("bad extension list at %q", s)
			}
			for {
				s = trimOWS(s)
				if s == "" || s[0] == ',' {
					break
				}
				if s[0] != ';' {
					return nil, fmt.Errorf("bad extension list at %q", s)
				}
				var p Param
				if p.Name, s = cutToken(trimOWS(s[1:])); p.Name == "" {
					return nil, fmt.Errorf("bad extension parameter at %q", s)
				}
				if s = trimOWS(s); s != "" && s[0] == '=' {
					p.HasValue = true
					s = trimOWS(s[1:])
					if s != "" && s[0] == '"' {
						var ok bool
						if p.Value, s, ok = cutQuoted(s); !ok || !IsToken(p.Value) {
							return nil, fmt.Errorf("bad quoted value of extension parameter %q", p.Name)
						}
					} else if p.Value, s = cutToken(s); p.Value == "" {
						return nil, fmt.Errorf("missing value of extension parameter %q", p.Name)
					}
				}
				e.Params = append(e.Params, p)
			}
			exts = append(exts, e)
		}
	}
	return exts, nil
}

func trimOWS(s string) string { return strings.TrimLeft(s, " \t") }

// isTokenChar reports whether c is a tchar of RFC 9110 §5.6.2.
func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c < 0x80 && strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// IsToken reports whether s is an HTTP token (RFC 9110 §5.6.2), the
// grammar of header names, of subprotocol names (RFC 6455 §4.1 item 10) and
// of extensions and their parameters (§9.1).
func IsToken(s string) bool {
	t, rest := cutToken(s)
	return t != "" && rest == ""
}

func cutToken(s string) (token, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// cutQuoted unescapes the quoted-string (RFC 7230 §3.2.6) at the start of s.
func cutQuoted(s string) (value, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '\t' || c >= 0x20 && c != 0x7f && c != '\\':
			b.WriteByte(c)
		default:
			return "", s, false
		}
	}
	return "", s, false
}
