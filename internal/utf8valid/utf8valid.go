// Package utf8valid checks text messages as they arrive (RFC 6455 §8.1):
// an incremental UTF-8 validator whose bulk runs in AVX-512, AVX2 or SSSE3
// assembly on amd64, by the lookup-table method of Keiser and Lemire.
package utf8valid

// Validator checks UTF-8 incrementally: bytes may arrive in pieces that
// split a code point, and Write fails as soon as the bytes so far cannot
// begin any valid UTF-8 (RFC 3629), so a bad text message is refused as soon
// as it goes wrong (RFC 6455 §8.1) rather than once it is complete.
//
// The bulk of each piece is checked whole by valid: vector assembly on
// amd64 (utf8valid_amd64.s), unicode/utf8 elsewhere. Only the code point that a
// piece's boundary cuts goes through the byte-at-a-time state below: its
// first bytes at the end of one Write, its last at the start of the next.
type Validator struct {
	need   uint8 // continuation bytes still expected in the current code point
	lo, hi byte  // the allowed range of the next continuation byte
}

// Write reports whether p, following everything written before, can still
// become valid UTF-8.
func (v *Validator) Write(p []byte) bool {
	if v.need != 0 {
		n := min(len(p), int(v.need))
		if !v.writeBytes(p[:n]) {
			return false
		}
		p = p[n:]
	}
	// p now starts on a code point boundary. Cut it before a lead byte in
	// its last three, where a code point may be cut short: everything
	// before the cut is then whole code points, or wrong, since the byte
	// after the cut is not a continuation byte.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		if b := p[i]; b < 0x80 {
			break
		} else if b >= 0xc0 {
			cut = i
			break
		}
	}
	return valid(p[:cut]) && v.writeBytes(p[cut:])
}

// writeBytes is Write one byte at a time, for at most a code point.
func (v *Validator) writeBytes(p []byte) bool {
	for _, b := range p {
		if v.need != 0 {
			if b < v.lo || b > v.hi {
				return false
			}
			v.need--
			v.lo, v.hi = 0x80, 0xbf
			continue
		}
		// Ranges from RFC 3629 §4: the second byte's range excludes overlong
		// forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
		switch {
		case b < 0x80:
		case b < 0xc2:
			return false
		case b < 0xe0:
			v.need, v.lo, v.hi = 1, 0x80, 0xbf
		case b == 0xe0:
			v.need, v.lo, v.hi = 2, 0xa0, 0xbf
		case b == 0xed:
			v.need, v.lo, v.hi = 2, 0x80, 0x9f
		case b < 0xf0:
			v.need, v.lo, v.hi = 2, 0x80, 0xbf
		case b == 0xf0:
			v.need, v.lo, v.hi = 3, 0x90, 0xbf
		case b < 0xf4:
			v.need, v.lo, v.hi = 3, 0x80, 0xbf
		case b == 0xf4:
			v.need, v.lo, v.hi = 3, 0x80, 0x8f
		default:
			return false
		}
	}
	return true
}

// Complete reports whether the bytes written so far end on a code point boundary.
func (v *Validator) Complete() bool { return v.need == 0 }

// Reset forgets all bytes written.
func (v *Validator) Reset() { *v = Validator{} }
