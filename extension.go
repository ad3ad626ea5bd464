package websocket

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Negotiating permessage-deflate (RFC 7692 §5, §7.1): parsing
// Sec-WebSocket-Extensions, the server's answer to offers and the client's
// offer and check of the answer. The compression itself is in compress.go.

// extension is one element of a Sec-WebSocket-Extensions header.
type extension struct {
	name   string
	params []extensionParam
}

type extensionParam struct {
	name, value string
	hasValue    bool
}

// parseExtensions parses Sec-WebSocket-Extensions header values (RFC 6455
// §9.1): a comma-separated list of extensions, each a token followed by
// ;-separated parameters whose values are tokens or quoted strings. A quoted
// value must still be a token once unescaped (§9.1). Empty list elements are
// allowed, as in every #rule list (RFC 7230 §7).
func parseExtensions(values []string) ([]extension, error) {
	var exts []extension
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
			var e extension
			if e.name, s = cutToken(s); e.name == "" {
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
				var p extensionParam
				if p.name, s = cutToken(trimOWS(s[1:])); p.name == "" {
					return nil, fmt.Errorf("bad extension parameter at %q", s)
				}
				if s = trimOWS(s); s != "" && s[0] == '=' {
					p.hasValue = true
					s = trimOWS(s[1:])
					if s != "" && s[0] == '"' {
						var ok bool
						if p.value, s, ok = cutQuoted(s); !ok || !isToken(p.value) {
							return nil, fmt.Errorf("bad quoted value of extension parameter %q", p.name)
						}
					} else if p.value, s = cutToken(s); p.value == "" {
						return nil, fmt.Errorf("missing value of extension parameter %q", p.name)
					}
				}
				e.params = append(e.params, p)
			}
			exts = append(exts, e)
		}
	}
	return exts, nil
}

func trimOWS(s string) string { return strings.TrimLeft(s, " \t") }

// isTokenChar reports whether c is a tchar of RFC 7230 §3.2.6.
func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c < 0x80 && strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
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

// parseWindowBits parses a max_window_bits value: a decimal integer from 8 to
// 15 without leading zeros (RFC 7692 §7.1.2).
func parseWindowBits(v string) (int, bool) {
	if len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= minWindowBits && n <= maxWindowBits
}

// negotiateDeflate is the server side: it accepts the first permessage-deflate
// offer in the request's Sec-WebSocket-Extensions values that it can honour
// and returns the response extension, or "" and nil if there is none. RFC 7692
// §7.1 makes the server decline, rather than fail, offers with unknown,
// repeated or invalid parameters; a malformed header declines them all.
func negotiateDeflate(values []string, opts *CompressionOptions) (string, *deflateParams) {
	if opts.Disabled {
		return "", nil
	}
	offers, err := parseExtensions(values)
	if err != nil {
		return "", nil
	}
	for _, e := range offers {
		if !strings.EqualFold(e.name, extensionName) {
			continue
		}
		if resp, p, ok := acceptOffer(e.params, opts); ok {
			return resp, p
		}
	}
	return "", nil
}

func acceptOffer(params []extensionParam, opts *CompressionOptions) (string, *deflateParams, bool) {
	var (
		seen                     [4]bool
		serverNoCtx, clientNoCtx bool
		serverBits, clientBits   int // offered; clientBits is -1 for a bare client_max_window_bits
		noTakeover               = !opts.ContextTakeover
		ours                     = opts.windowBits()
		resp                     = extensionName
		p                        = &deflateParams{writeWindowBits: ours, readWindowBits: maxWindowBits, level: opts.level(), threshold: opts.threshold()}
	)
	for _, q := range params {
		i := paramIndex(q.name)
		if i < 0 || seen[i] {
			return "", nil, false
		}
		seen[i] = true
		switch i {
		case 0, 1: // server_no_context_takeover, client_no_context_takeover: no value
			if q.hasValue {
				return "", nil, false
			}
			serverNoCtx = serverNoCtx || i == 0
			clientNoCtx = clientNoCtx || i == 1
		case 2: // server_max_window_bits: a value is required (§7.1.2.1)
			bits, ok := parseWindowBits(q.value)
			if !q.hasValue || !ok {
				return "", nil, false
			}
			serverBits = bits
		case 3: // client_max_window_bits: the value is optional (§7.1.2.2)
			bits, ok := parseWindowBits(q.value)
			if q.hasValue && !ok {
				return "", nil, false
			}
			clientBits = -1
			if q.hasValue {
				clientBits = bits
			}
		}
	}
	// The server may refuse to take over its own context even unasked
	// (§7.1.1.1), and must when asked. It may also tell the client not to
	// (§7.1.1.2); doing so whenever the client offers it lets us keep no
	// history between messages.
	if serverNoCtx || noTakeover {
		resp += "; server_no_context_takeover"
	}
	if clientNoCtx || noTakeover {
		resp += "; client_no_context_takeover"
	}
	// A client may limit our window (§7.1.2.1), and accepting means echoing
	// a value no larger; our encoder keeps to any window. Unasked, we may
	// still tell the client that ours is smaller than 32 KiB.
	if serverBits != 0 {
		p.writeWindowBits = min(serverBits, ours)
	}
	if p.writeWindowBits < maxWindowBits || serverBits != 0 {
		resp += "; server_max_window_bits=" + strconv.Itoa(p.writeWindowBits)
	}
	// A client that offers client_max_window_bits lets us limit its window
	// (§7.1.2.2), which we do when WindowBits is below 15, to keep less
	// history for it. Otherwise its window stays up to 32 KiB, which
	// compress/flate inflates.
	if clientBits != 0 && ours < maxWindowBits {
		if clientBits > 0 {
			ours = min(ours, clientBits)
		}
		resp += "; client_max_window_bits=" + strconv.Itoa(ours)
		p.readWindowBits = ours
	}
	p.writeTakeover = !serverNoCtx && !noTakeover
	p.readTakeover = !clientNoCtx && !noTakeover
	p.threshold = opts.thresholdFor(p.writeTakeover)
	p.ext = resp
	return resp, p, true
}

var deflateParamNames = [...]string{"server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits"}

func paramIndex(name string) int {
	for i, n := range deflateParamNames {
		if strings.EqualFold(name, n) {
			return i
		}
	}
	return -1
}

// deflateOffer returns the client's Sec-WebSocket-Extensions value, or "" when
// compression is disabled. Without context takeover we ask the server not to
// keep its own, so that neither side holds state between messages. We offer
// client_max_window_bits (§7.1.2.2), so the server may limit our window, and
// keep to what it answers; with WindowBits below 15, we also ask the server
// to compress within that window (server_max_window_bits, §7.1.2.1).
func deflateOffer(opts *CompressionOptions) string {
	if opts.Disabled {
		return ""
	}
	offer := extensionName
	if !opts.ContextTakeover {
		offer += "; server_no_context_takeover; client_no_context_takeover"
	}
	if bits := opts.windowBits(); bits < maxWindowBits {
		return offer + "; server_max_window_bits=" + strconv.Itoa(bits) + "; client_max_window_bits=" + strconv.Itoa(bits)
	}
	return offer + "; client_max_window_bits"
}

// clientDeflateResponse checks the server's Sec-WebSocket-Extensions values
// against the offer made with opts, as RFC 6455 §4.1 and RFC 7692 §7.1 ask:
// the client fails the handshake on an extension it did not offer, on unknown,
// repeated or invalid parameters, and on a response that does not match its
// offer. It returns nil params when the server declined. Its errors are
// reasons for a HandshakeError.
func clientDeflateResponse(values []string, opts *CompressionOptions) (*deflateParams, error) {
	exts, err := parseExtensions(values)
	if err != nil {
		return nil, err
	}
	if len(exts) == 0 {
		return nil, nil
	}
	if opts.Disabled || len(exts) > 1 || !strings.EqualFold(exts[0].name, extensionName) {
		return nil, fmt.Errorf("server accepted extensions %q that were not offered", strings.Join(values, ", "))
	}
	var seen [4]bool
	ours := opts.windowBits()
	p := &deflateParams{
		writeWindowBits: ours, readWindowBits: maxWindowBits, level: opts.level(), threshold: opts.threshold(),
		writeTakeover: opts.ContextTakeover, readTakeover: true,
	}
	for _, q := range exts[0].params {
		i := paramIndex(q.name)
		if i < 0 || seen[i] {
			return nil, fmt.Errorf("unknown or repeated permessage-deflate parameter %q in response", q.name)
		}
		seen[i] = true
		switch i {
		case 0, 1:
			if q.hasValue {
				return nil, fmt.Errorf("permessage-deflate parameter %s has a value", q.name)
			}
			if i == 0 {
				p.readTakeover = false
			} else {
				p.writeTakeover = false
			}
		case 2, 3: // a response must give them a value (§7.1.2)
			bits, ok := parseWindowBits(q.value)
			if !q.hasValue || !ok {
				return nil, fmt.Errorf("invalid permessage-deflate parameter %s=%q", q.name, q.value)
			}
			if i == 2 {
				if bits > ours {
					return nil, fmt.Errorf("server_max_window_bits=%d is larger than the %d offered", bits, ours)
				}
				p.readWindowBits = bits
			} else {
				// We offered client_max_window_bits (see deflateOffer):
				// the server limits our window, and we keep to it.
				p.writeWindowBits = min(ours, bits)
			}
		}
	}
	if !opts.ContextTakeover && p.readTakeover {
		return nil, errors.New("server did not accept server_no_context_takeover as offered")
	}
	if ours < maxWindowBits && !seen[2] {
		return nil, errors.New("server did not accept server_max_window_bits as offered")
	}
	p.threshold = opts.thresholdFor(p.writeTakeover)
	p.ext = strings.Join(values, ", ")
	return p, nil
}
