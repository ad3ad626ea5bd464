package websocket

import "encoding/binary"

// utf8Validator checks UTF-8 incrementally: bytes may arrive in pieces that
// split a code point, and Write fails at the first byte that cannot begin or
// continue a valid sequence (RFC 3629), so a bad text message is refused as
// soon as it goes wrong (RFC 6455 §8.1) rather than once it is complete.
type utf8Validator struct {
	need   uint8 // continuation bytes still expected in the current code point
	lo, hi byte  // the allowed range of the next continuation byte
}

// Write reports whether p, following everything written before, can still
// become valid UTF-8.
func (v *utf8Validator) Write(p []byte) bool {
	i := 0
	for i < len(p) {
		if v.need == 0 {
			for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
				i += 8
			}
			if i == len(p) {
				break
			}
			b := p[i]
			i++
			// Ranges from RFC 3629 §4: the second byte's range excludes overlong
			// forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
			switch {
			case b < 0x80:
			case b < 0xC2:
				return false
			case b < 0xE0:
				v.need, v.lo, v.hi = 1, 0x80, 0xBF
			case b == 0xE0:
				v.need, v.lo, v.hi = 2, 0xA0, 0xBF
			case b == 0xED:
				v.need, v.lo, v.hi = 2, 0x80, 0x9F
			case b < 0xF0:
				v.need, v.lo, v.hi = 2, 0x80, 0xBF
			case b == 0xF0:
				v.need, v.lo, v.hi = 3, 0x90, 0xBF
			case b < 0xF4:
				v.need, v.lo, v.hi = 3, 0x80, 0xBF
			case b == 0xF4:
				v.need, v.lo, v.hi = 3, 0x80, 0x8F
			default:
				return false
			}
			continue
		}
		b := p[i]
		i++
		if b < v.lo || b > v.hi {
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xBF
	}
	return true
}

// Complete reports whether the bytes written so far end on a code point boundary.
func (v *utf8Validator) Complete() bool { return v.need == 0 }

// Reset forgets all bytes written.
func (v *utf8Validator) Reset() { *v = utf8Validator{} }
