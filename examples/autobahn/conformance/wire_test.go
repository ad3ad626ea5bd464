package conformance

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The wire format of RFC 6455 §5, written here from the RFC rather than
// taken from the library under test, so that the harness does not share its
// mistakes.

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// rsv values as the suite numbers them: the three bits RSV1 RSV2 RSV3 read
// as a number, so 4 is RSV1 (permessage-deflate's bit), 1 is RSV3.
const rsv1 = 4

func opName(op byte) string {
	switch op {
	case opCont:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return "opcode " + strconv.Itoa(int(op))
}

// appendFrame appends a frame with the given fields, masked with a fresh
// random key if mask is set (RFC 6455 §5.3).
func appendFrame(b []byte, fin bool, rsv, op byte, payload []byte, mask bool) []byte {
	b0 := rsv<<4 | op&0x0f
	if fin {
		b0 |= 0x80
	}
	var b1 byte
	if mask {
		b1 = 0x80
	}
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, b0, b1|byte(n))
	case n <= 0xffff:
		b = append(b, b0, b1|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, b0, b1|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !mask {
		return append(b, payload...)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range payload {
		b[start+i] ^= key[i&3]
	}
	return b
}

// rframe is a frame read from the testee.
type rframe struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	key     [4]byte
	payload []byte
	nonMin  bool // the length was not in its shortest encoding (§5.2)
}

var errFrameTooLong = errors.New("frame longer than the harness accepts")

// readFrame reads one whole frame, unmasking its payload.
func readFrame(br *bufio.Reader, maxLen int64) (rframe, error) {
	var f rframe
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return f, err
	}
	f.fin = h[0]&0x80 != 0
	f.rsv = h[0] >> 4 & 7
	f.op = h[0] & 0x0f
	f.masked = h[1]&0x80 != 0
	n := int64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(br, e[:]); err != nil {
			return f, unexpected(err)
		}
		n = int64(binary.BigEndian.Uint16(e[:]))
		f.nonMin = n < 126
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(br, e[:]); err != nil {
			return f, unexpected(err)
		}
		u := binary.BigEndian.Uint64(e[:])
		if u>>63 != 0 {
			return f, fmt.Errorf("64-bit length with the top bit set")
		}
		n = int64(u)
		f.nonMin = n <= 0xffff
	}
	if n > maxLen {
		return f, fmt.Errorf("%w (%d bytes)", errFrameTooLong, n)
	}
	if f.masked {
		if _, err := io.ReadFull(br, f.key[:]); err != nil {
			return f, unexpected(err)
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(br, f.payload); err != nil {
		return f, unexpected(err)
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= f.key[i&3]
		}
	}
	return f, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// closeBody builds a Close frame body: a code (if code >= 0) and a reason.
func closeBody(code int, reason string) []byte {
	if code < 0 {
		return []byte(reason)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// closeCodeValid reports whether an endpoint may send code (RFC 6455 §7.4.1,
// §7.4.2 and the IANA registry): 1004, 1005, 1006 and 1015 are reserved,
// 1016-2999 unassigned protocol codes, 3000-4999 for libraries and applications.
func closeCodeValid(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// acceptKey is Sec-WebSocket-Accept for key (RFC 6455 §4.2.2 item 5.4).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// headerTokens splits comma-separated header values into lowercased tokens.
func headerTokens(values []string) []string {
	var t []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				t = append(t, strings.ToLower(s))
			}
		}
	}
	return t
}

func hasToken(values []string, tok string) bool {
	for _, t := range headerTokens(values) {
		if t == tok {
			return true
		}
	}
	return false
}

// extension is one element of a Sec-WebSocket-Extensions header (RFC 6455 §9.1).
type extension struct {
	name   string
	params []extParam
}

type extParam struct {
	name, value string
	hasValue    bool
}

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseExtensions parses Sec-WebSocket-Extensions values by the grammar of
// RFC 6455 §9.1: extension *( ";" param ), param = token [ "=" (token |
// quoted-string) ].
func parseExtensions(values []string) ([]extension, error) {
	var exts []extension
	for _, v := range values {
		p := &extLexer{s: v}
		for {
			p.ows()
			if p.eof() {
				break
			}
			if p.peek() == ',' {
				p.i++
				continue
			}
			var e extension
			if e.name = p.token(); e.name == "" {
				return nil, fmt.Errorf("bad extension list %q", v)
			}
			for {
				p.ows()
				if p.eof() || p.peek() == ',' {
					break
				}
				if p.peek() != ';' {
					return nil, fmt.Errorf("bad extension list %q", v)
				}
				p.i++
				p.ows()
				var q extParam
				if q.name = p.token(); q.name == "" {
					return nil, fmt.Errorf("bad extension parameter in %q", v)
				}
				p.ows()
				if !p.eof() && p.peek() == '=' {
					p.i++
					p.ows()
					q.hasValue = true
					if !p.eof() && p.peek() == '"' {
						s, ok := p.quoted()
						if !ok {
							return nil, fmt.Errorf("bad quoted value in %q", v)
						}
						q.value = s
					} else if q.value = p.token(); q.value == "" {
						return nil, fmt.Errorf("missing parameter value in %q", v)
					}
				}
				e.params = append(e.params, q)
			}
			exts = append(exts, e)
		}
	}
	return exts, nil
}

type extLexer struct {
	s string
	i int
}

func (l *extLexer) eof() bool  { return l.i >= len(l.s) }
func (l *extLexer) peek() byte { return l.s[l.i] }
func (l *extLexer) ows() {
	for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t') {
		l.i++
	}
}
func (l *extLexer) token() string {
	j := l.i
	for l.i < len(l.s) && isTchar(l.s[l.i]) {
		l.i++
	}
	return l.s[j:l.i]
}
func (l *extLexer) quoted() (string, bool) {
	var b strings.Builder
	for l.i++; l.i < len(l.s); l.i++ {
		switch c := l.s[l.i]; c {
		case '"':
			l.i++
			return b.String(), true
		case '\\':
			if l.i++; l.i == len(l.s) {
				return "", false
			}
			b.WriteByte(l.s[l.i])
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// pmdParams are the parameters of one permessage-deflate offer or response
// (RFC 7692 §7.1). Window bits of 0 mean the parameter is absent; -1, that
// client_max_window_bits is present without a value (allowed in an offer).
type pmdParams struct {
	serverNoCtx, clientNoCtx bool
	serverBits, clientBits   int
}

func (p pmdParams) String() string {
	s := "permessage-deflate"
	if p.clientNoCtx {
		s += "; client_no_context_takeover"
	}
	switch {
	case p.clientBits < 0:
		s += "; client_max_window_bits"
	case p.clientBits > 0:
		s += "; client_max_window_bits=" + strconv.Itoa(p.clientBits)
	}
	if p.serverNoCtx {
		s += "; server_no_context_takeover"
	}
	if p.serverBits > 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(p.serverBits)
	}
	return s
}

// parsePMD checks the parameters of a permessage-deflate element: each known,
// at most once, the takeover ones without a value and the window bits a
// decimal from 8 to 15 (RFC 7692 §7.1: a value "1*DIGIT" without leading zeros,
// §7.1.2.1, §7.1.2.2). inOffer allows client_max_window_bits without a value.
func parsePMD(e extension, inOffer bool) (pmdParams, error) {
	var p pmdParams
	seen := map[string]bool{}
	for _, q := range e.params {
		name := strings.ToLower(q.name)
		if seen[name] {
			return p, fmt.Errorf("parameter %s repeated", name)
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if q.hasValue {
				return p, fmt.Errorf("%s has a value", name)
			}
			if name[0] == 's' {
				p.serverNoCtx = true
			} else {
				p.clientNoCtx = true
			}
		case "server_max_window_bits", "client_max_window_bits":
			bits := -1
			if q.hasValue {
				n, err := strconv.Atoi(q.value)
				if err != nil || n < 8 || n > 15 || q.value[0] == '0' {
					return p, fmt.Errorf("%s=%q is not 8 to 15", name, q.value)
				}
				bits = n
			} else if name[0] == 's' || !inOffer {
				return p, fmt.Errorf("%s without a value", name)
			}
			if name[0] == 's' {
				p.serverBits = bits
			} else {
				p.clientBits = bits
			}
		default:
			return p, fmt.Errorf("unknown parameter %s", q.name)
		}
	}
	return p, nil
}

// responseFits reports whether a server's response may answer offer (RFC
// 7692 §7.1.1, §7.1.2): server_no_context_takeover if the offer asked for it,
// server_max_window_bits no larger than asked (and present when asked),
// client_max_window_bits only if offered. client_no_context_takeover the
// server may add whatever the offer says (§7.1.1.2).
func responseFits(offer, resp pmdParams) error {
	if offer.serverNoCtx && !resp.serverNoCtx {
		return errors.New("offer asked for server_no_context_takeover, response lacks it")
	}
	if offer.serverBits > 0 && (resp.serverBits == 0 || resp.serverBits > offer.serverBits) {
		return fmt.Errorf("offer asked for server_max_window_bits=%d, response has %d", offer.serverBits, resp.serverBits)
	}
	if resp.clientBits != 0 && offer.clientBits == 0 {
		return errors.New("response sets client_max_window_bits, which the offer did not include")
	}
	if resp.clientBits > 0 && offer.clientBits > 0 && resp.clientBits > offer.clientBits {
		return fmt.Errorf("response client_max_window_bits=%d exceeds the offer's %d", resp.clientBits, offer.clientBits)
	}
	return nil
}
