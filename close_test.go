package websocket

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// closeBody builds a Close frame body from a code and a reason.
func closeBody(code uint16, reason string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, reason...)
}

func TestParseClosePayloadEmptyIsNoStatus(t *testing.T) {
	// RFC 6455 §7.1.5: a Close frame without a code is reported as 1005.
	ce, err := parseClosePayload(nil)
	if err != nil || ce == nil || *ce != (CloseError{Code: StatusNoStatusReceived}) {
		t.Fatalf("parseClosePayload(empty) = %+v, %v; want code 1005", ce, err)
	}
}

func TestParseClosePayloadOneByteIsProtocolError(t *testing.T) {
	// RFC 6455 §5.5.1: a body, if present, starts with a 2-byte code.
	for _, b := range [][]byte{{0x03}, {0xe8}, {0x00}} {
		if _, err := parseClosePayload(b); !errors.Is(err, ErrProtocol) {
			t.Errorf("parseClosePayload(% x) error = %v, want ErrProtocol", b, err)
		}
	}
}

// RFC 6455 §7.4: codes below 1000, the undefined 1004, the local-only 1005,
// 1006 and 1015, unassigned 1016-2999 and anything from 5000 up may not be
// sent; 1000-1003, 1007-1014 (IANA registry) and 3000-4999 may.
func TestParseClosePayloadCodes(t *testing.T) {
	for _, tt := range []struct {
		code uint16
		ok   bool
	}{
		{0, false}, {1, false}, {999, false}, {1004, false}, {1005, false}, {1006, false},
		{1015, false}, {1016, false}, {1100, false}, {2000, false}, {2999, false},
		{5000, false}, {65535, false},
		{1000, true}, {1001, true}, {1002, true}, {1003, true}, {1007, true}, {1008, true},
		{1009, true}, {1010, true}, {1011, true}, {1012, true}, {1013, true}, {1014, true},
		{3000, true}, {3999, true}, {4000, true}, {4999, true},
	} {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			for _, reason := range []string{"", "bye"} {
				ce, err := parseClosePayload(closeBody(tt.code, reason))
				if !tt.ok {
					if !errors.Is(err, ErrProtocol) {
						t.Errorf("reason %q: error = %v, want ErrProtocol", reason, err)
					}
					continue
				}
				if err != nil || ce == nil || *ce != (CloseError{Code: StatusCode(tt.code), Reason: reason}) {
					t.Errorf("reason %q: got %+v, %v", reason, ce, err)
				}
			}
		})
	}
}

// TestParseClosePayloadEveryCode sweeps all 65536 codes against the ranges above.
func TestParseClosePayloadEveryCode(t *testing.T) {
	for c := range 1 << 16 {
		ok := c >= 1000 && c <= 1003 || c >= 1007 && c <= 1014 || c >= 3000 && c <= 4999
		_, err := parseClosePayload(closeBody(uint16(c), ""))
		if ok != (err == nil) {
			t.Errorf("code %d: error %v, want ok=%v", c, err, ok)
		}
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("code %d: error %v does not wrap ErrProtocol", c, err)
		}
	}
}

// RFC 6455 §7.1.6 and §8.1: an invalid UTF-8 reason fails the connection
// with 1007, not 1002, so the error must wrap ErrInvalidUTF8 only.
func TestParseClosePayloadInvalidUTF8Reason(t *testing.T) {
	for _, reason := range []string{"\xff", "ok\xc0\x80", "\xed\xa0\x80", "\xe2\x82", "abc\xf0\x9f\x98", "\x80"} {
		_, err := parseClosePayload(closeBody(1000, reason))
		if !errors.Is(err, ErrInvalidUTF8) {
			t.Errorf("reason %q: error = %v, want ErrInvalidUTF8", reason, err)
		}
		if errors.Is(err, ErrProtocol) {
			t.Errorf("reason %q: error %v wraps ErrProtocol; it calls for 1007, not 1002", reason, err)
		}
	}
}

func TestParseClosePayloadLongestReason(t *testing.T) {
	reason := strings.Repeat("\u20ac", 41) // 123 bytes: the most a control frame can hold
	ce, err := parseClosePayload(closeBody(4000, reason))
	if err != nil || ce.Code != 4000 || ce.Reason != reason {
		t.Fatalf("got %+v, %v", ce, err)
	}
}

func TestAppendClosePayloadNoCodeIsEmpty(t *testing.T) {
	for _, code := range []StatusCode{0, StatusNoStatusReceived} {
		if b := appendClosePayload(nil, code, "ignored"); len(b) != 0 {
			t.Errorf("appendClosePayload(%d) = % x, want an empty body", code, b)
		}
	}
}

func TestAppendClosePayloadEncoding(t *testing.T) {
	b := appendClosePayload([]byte("x"), StatusGoingAway, "bye")
	if want := []byte{'x', 0x03, 0xe9, 'b', 'y', 'e'}; !bytes.Equal(b, want) {
		t.Fatalf("got % x, want % x", b, want)
	}
}

// RFC 6455 §5.5: a control frame body is at most 125 bytes, so the reason is
// cut to 123 bytes, and §5.5.1 wants it to stay UTF-8: the cut must not split
// a code point, and must drop no more than the code point it would split.
func TestAppendClosePayloadTruncatesAtRuneBoundary(t *testing.T) {
	for _, r := range []rune{'a', '\u00e9', '\u20ac', '\U0001F600'} {
		for pad := range 8 {
			for _, total := range []int{123, 124, 125, 130, 200, 1000} {
				reason := strings.Repeat("a", pad) + strings.Repeat(string(r), total/utf8.RuneLen(r))
				b := appendClosePayload(nil, StatusNormalClosure, reason)
				got := string(b[2:])
				if len(b) > MaxControlPayload {
					t.Fatalf("rune %U pad %d len %d: body of %d bytes", r, pad, len(reason), len(b))
				}
				if !utf8.ValidString(got) {
					t.Fatalf("rune %U pad %d len %d: reason %q is not valid UTF-8", r, pad, len(reason), got)
				}
				if !strings.HasPrefix(reason, got) {
					t.Fatalf("rune %U pad %d: reason is not a prefix of the original", r, pad)
				}
				if len(reason) <= MaxControlPayload-2 {
					if got != reason {
						t.Fatalf("rune %U pad %d: a reason that fits was changed", r, pad)
					}
				} else if len(got) <= MaxControlPayload-2-utf8.RuneLen(r) {
					t.Fatalf("rune %U pad %d: cut to %d bytes, more than one code point short of 123", r, pad, len(got))
				}
				ce, err := parseClosePayload(b)
				if err != nil || ce.Reason != got {
					t.Fatalf("rune %U pad %d: the body does not parse back: %v", r, pad, err)
				}
			}
		}
	}
}

func TestStatusCodeString(t *testing.T) {
	for _, tt := range []struct {
		code StatusCode
		want string
	}{
		{StatusNormalClosure, "1000 (normal closure)"},
		{StatusProtocolError, "1002 (protocol error)"},
		{StatusNoStatusReceived, "1005 (no status received)"},
		{StatusInvalidFramePayloadData, "1007 (invalid frame payload data)"},
		{StatusMessageTooBig, "1009 (message too big)"},
		{1004, "1004"},
		{4000, "4000"},
		{0, "0"},
	} {
		if got := tt.code.String(); got != tt.want {
			t.Errorf("StatusCode(%d).String() = %q, want %q", uint16(tt.code), got, tt.want)
		}
	}
}

func TestCloseErrorAndCloseStatus(t *testing.T) {
	ce := &CloseError{Code: StatusGoingAway, Reason: "restart"}
	if !strings.Contains(ce.Error(), "1001") || !strings.Contains(ce.Error(), "restart") {
		t.Errorf("Error() = %q, want the code and reason in it", ce.Error())
	}
	wrapped := fmt.Errorf("read: %w", ce)
	if got := CloseStatus(wrapped); got != StatusGoingAway {
		t.Errorf("CloseStatus(wrapped) = %v, want 1001", got)
	}
	if got := CloseStatus(errors.New("other")); got != 0 {
		t.Errorf("CloseStatus(non-close error) = %v, want 0", got)
	}
	if got := CloseStatus(nil); got != 0 {
		t.Errorf("CloseStatus(nil) = %v, want 0", got)
	}
}
