//go:build !js

package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
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

// ---- The closing handshake (RFC 6455 §5.5.1, §7.1) on a Conn ----

// RFC 6455 §5.5.1: the endpoint that receives a Close frame first answers
// with one, typically echoing the code; §7.1.1: the server then closes TCP.
func TestConnPeerCloseEchoesCode(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			p, c := newRawPeer(t, tr.conns, true, connConfig{})
			res := readAsync(c)
			p.write(clientClose(1001, "bye"))
			p.expectClose(StatusGoingAway)
			r := waitRead(t, res)
			var ce *CloseError
			if !errors.As(r.err, &ce) || *ce != (CloseError{Code: StatusGoingAway, Reason: "bye"}) {
				t.Fatalf("ReadMessage error = %v, want *CloseError{1001, bye}", r.err)
			}
			p.expectEOF()
			if _, _, err := c.ReadMessage(); CloseStatus(err) != StatusGoingAway {
				t.Errorf("ReadMessage after close = %v, want the peer's *CloseError again", err)
			}
			if err := c.WriteMessage(OpText, []byte("x")); !errors.Is(err, ErrClosed) {
				t.Errorf("WriteMessage after close = %v, want ErrClosed", err)
			}
			if err := c.WritePing(nil); !errors.Is(err, ErrClosed) {
				t.Errorf("WritePing after close = %v, want ErrClosed", err)
			}
		})
	}
}

// A Close frame with no body is reported as 1005 (RFC 6455 §7.1.5) and
// answered with 1000: 1005 itself may not be sent.
func TestConnPeerCloseWithoutCodeEchoes1000(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, true, connConfig{})
	res := readAsync(c)
	p.write(fromClient(true, OpClose, ""))
	h, body, err := p.readFrame()
	if err != nil || h.Opcode != OpClose {
		t.Fatalf("got %v frame, %v; want a Close frame", h.Opcode, err)
	}
	if !bytes.Equal(body, []byte{0x03, 0xe8}) {
		t.Fatalf("echoed Close body % x, want 03 e8 (1000)", body)
	}
	if r := waitRead(t, res); CloseStatus(r.err) != StatusNoStatusReceived {
		t.Fatalf("ReadMessage error = %v, want code 1005", r.err)
	}
}

// A data message may not follow a Close frame (RFC 6455 §5.5.1): the Conn
// stops at the Close frame and never delivers the message.
func TestConnIgnoresDataAfterPeerClose(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, true, connConfig{})
	p.write(append(clientClose(1000, ""), fromClient(true, OpText, "late")...))
	if _, msg, err := c.ReadMessage(); CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("ReadMessage = %q, %v; want the Close", msg, err)
	}
	if _, msg, err := c.ReadMessage(); err == nil {
		t.Fatalf("ReadMessage after the Close returned %q", msg)
	}
}

func TestConnCloseServerInitiated(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			p, c := newRawPeer(t, tr.conns, true, connConfig{})
			done := make(chan error, 1)
			go func() { done <- c.Close(StatusNormalClosure, "done") }()
			if reason := p.expectClose(StatusNormalClosure); reason != "done" {
				t.Fatalf("Close reason %q, want done", reason)
			}
			p.write(clientClose(1000, ""))
			p.expectEOF()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Close = %v", err)
				}
			case <-time.After(testTimeout):
				t.Fatal("Close did not return")
			}
			if _, _, err := c.ReadMessage(); CloseStatus(err) != StatusNormalClosure {
				t.Errorf("ReadMessage after Close = %v, want the peer's *CloseError", err)
			}
			if err := c.WriteMessage(OpBinary, nil); !errors.Is(err, ErrClosed) {
				t.Errorf("WriteMessage after Close = %v, want ErrClosed", err)
			}
			if err := c.Close(StatusNormalClosure, ""); !errors.Is(err, ErrClosed) {
				t.Errorf("second Close = %v, want ErrClosed", err)
			}
		})
	}
}

// Close with code 0 sends a Close frame with an empty body.
func TestConnCloseWithoutCode(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, true, connConfig{closeTimeout: testTimeout})
	go c.Close(0, "")
	h, body, err := p.readFrame()
	if err != nil || h.Opcode != OpClose || len(body) != 0 {
		t.Fatalf("got %v frame with body % x, %v; want an empty Close frame", h.Opcode, body, err)
	}
	p.write(clientClose(1000, ""))
	p.expectEOF()
}

// Close must not hang when the peer never answers: it gives up after the
// close timeout and closes the connection. That the timeout is the one
// configured, not DefaultCloseTimeout, shows in Close returning before the
// default would have passed, however loaded the machine.
func TestConnCloseTimesOutOnSilentPeer(t *testing.T) {
	const timeout = 200 * time.Millisecond
	p, c := newRawPeer(t, tcpConns, true, connConfig{closeTimeout: timeout})
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- c.Close(StatusGoingAway, "") }()
	p.expectClose(StatusGoingAway)
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("Close did not return after its timeout")
	}
	if d := time.Since(start); d < timeout || d >= DefaultCloseTimeout {
		t.Errorf("Close took %v with a close timeout of %v: want at least that, and less than the default %v", d, timeout, DefaultCloseTimeout)
	}
	p.expectEOF()
}

// RFC 6455 §7.1.1: after the Close frames have crossed, the server closes
// the TCP connection first; the client waits for it (up to its timeout).
func TestConnClientWaitsForServerToCloseTCP(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, false, connConfig{closeTimeout: testTimeout})
	res := readAsync(c)
	p.write(fromServer(true, OpClose, string(closeBody(4001, "later"))))
	p.expectClose(4001)
	p.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if b, err := p.br.ReadByte(); err == nil {
		t.Fatalf("client sent %#x after its Close frame", b)
	} else if ne := net.Error(nil); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("client closed the TCP connection before the server: %v", err)
	}
	p.nc.Close()
	r := waitRead(t, res)
	var ce *CloseError
	if !errors.As(r.err, &ce) || ce.Code != 4001 || ce.Reason != "later" {
		t.Fatalf("ReadMessage error = %v, want *CloseError{4001, later}", r.err)
	}
}

// TestConnCloseHandshake closes Conn against Conn from either side: the
// initiator's Close returns once the peer's echo arrived, the peer's read
// returns the initiator's code, and both are closed for writing.
func TestConnCloseHandshake(t *testing.T) {
	for _, tr := range transports {
		for _, serverCloses := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/serverCloses=%v", tr.name, serverCloses), func(t *testing.T) {
				cli, srv := connPair(t, tr.conns, connConfig{}, connConfig{})
				closer, other := cli, srv
				if serverCloses {
					closer, other = srv, cli
				}
				res := readAsync(other)
				start := time.Now()
				if err := closer.Close(4000, "app done"); err != nil {
					t.Fatalf("Close = %v", err)
				}
				if d := time.Since(start); d >= DefaultCloseTimeout {
					t.Errorf("Close took %v: it waited for its timeout, not for the handshake", d)
				}
				r := waitRead(t, res)
				var ce *CloseError
				if !errors.As(r.err, &ce) || *ce != (CloseError{Code: 4000, Reason: "app done"}) {
					t.Fatalf("peer's ReadMessage error = %v, want *CloseError{4000, app done}", r.err)
				}
				// The initiator read the peer's echo of its code.
				if _, _, err := closer.ReadMessage(); CloseStatus(err) != 4000 {
					t.Errorf("initiator's ReadMessage after Close = %v, want the echoed 4000", err)
				}
				for _, c := range []*Conn{closer, other} {
					if err := c.WriteMessage(OpText, []byte("x")); !errors.Is(err, ErrClosed) {
						t.Errorf("server=%v: WriteMessage after close = %v, want ErrClosed", c.server, err)
					}
				}
			})
		}
	}
}

// Close from another goroutine while a reader waits: the reader gets the
// peer's echo as a *CloseError.
func TestConnCloseWhileReading(t *testing.T) {
	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	srvDone := readLoop(srv)
	res := readAsync(cli)
	time.Sleep(10 * time.Millisecond) // let the reader block
	if err := cli.Close(StatusGoingAway, ""); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if r := waitRead(t, res); CloseStatus(r.err) != StatusGoingAway {
		t.Fatalf("reader's error = %v, want the echoed 1001", r.err)
	}
	if err := <-srvDone; CloseStatus(err) != StatusGoingAway {
		t.Fatalf("server's error = %v, want 1001", err)
	}
}

// RFC 6455 §7.4.1: 1005, 1006 and 1015 "MUST NOT be set as a status code in
// a Close control frame by an endpoint". Close may refuse them or replace
// them, but must not send them.
func TestConnCloseNeverSendsLocalOnlyCodes(t *testing.T) {
	for _, code := range []StatusCode{StatusNoStatusReceived, StatusAbnormalClosure, StatusTLSHandshake, 1004, 999, 5000} {
		t.Run(fmt.Sprint(uint16(code)), func(t *testing.T) {
			p, c := newRawPeer(t, tcpConns, true, connConfig{closeTimeout: 100 * time.Millisecond})
			done := make(chan error, 1)
			go func() { done <- c.Close(code, "") }()
			p.nc.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
			h, err := ReadHeader(p.br)
			if err != nil {
				<-done
				return // nothing sent
			}
			body := make([]byte, h.Length)
			io.ReadFull(p.br, body)
			Mask(h.Mask, 0, body)
			if h.Opcode == OpClose && len(body) >= 2 {
				if got := StatusCode(binary.BigEndian.Uint16(body)); !got.validOnWire() {
					t.Fatalf("Close(%d) sent code %d on the wire", code, got)
				}
			}
			<-done
		})
	}
}

// A reason too long for a control frame is cut, not sent whole (RFC 6455 §5.5).
func TestConnCloseLongReasonFitsControlFrame(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, true, connConfig{closeTimeout: testTimeout})
	reason := strings.Repeat("€", 100) // 300 bytes
	go c.Close(StatusNormalClosure, reason)
	got := p.expectClose(StatusNormalClosure)
	if len(got)+2 > MaxControlPayload || !utf8.ValidString(got) || !strings.HasPrefix(reason, got) || len(got) < 120 {
		t.Fatalf("sent reason of %d bytes %q", len(got), got)
	}
	p.write(clientClose(1000, ""))
	p.expectEOF()
}

// CloseNow ends a blocked read and a blocked write at once.
func TestConnCloseNowUnblocks(t *testing.T) {
	// Nobody reads or writes at the other end of the pipe.
	_, srv := connPair(t, pipeConns, connConfig{}, connConfig{})
	res := readAsync(srv)
	werr := make(chan error, 1)
	go func() { werr <- srv.WriteMessage(OpBinary, make([]byte, 10)) }()
	time.Sleep(20 * time.Millisecond)
	if err := srv.CloseNow(); err != nil {
		t.Fatalf("CloseNow = %v", err)
	}
	if r := waitRead(t, res); !errors.Is(r.err, ErrClosed) {
		t.Errorf("blocked ReadMessage = %v, want ErrClosed", r.err)
	}
	select {
	case err := <-werr:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("blocked WriteMessage = %v, want ErrClosed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("WriteMessage still blocked after CloseNow")
	}
	if err := srv.CloseNow(); !errors.Is(err, ErrClosed) {
		t.Errorf("second CloseNow = %v, want ErrClosed", err)
	}
}

// The channel Close, Ping and the keep-alive wait on is made on the first
// wait: made before the connection closes it must be closed then, and made
// after it must be closed already.
func TestConnClosedWaitBeforeAndAfterClose(t *testing.T) {
	_, early := connPair(t, pipeConns, connConfig{}, connConfig{})
	_, late := connPair(t, pipeConns, connConfig{}, connConfig{})
	before := early.closed.wait()
	select {
	case <-before:
		t.Fatal("wait channel closed while the connection is open")
	default:
	}
	early.CloseNow()
	late.CloseNow()
	for name, ch := range map[string]<-chan struct{}{"made before": before, "made after": late.closed.wait()} {
		select {
		case <-ch:
		case <-time.After(testTimeout):
			t.Errorf("wait channel %s the close is still open", name)
		}
	}
}

// slowCloseConn is a net.Conn whose Close blocks until release is closed, as
// a TLS connection's may while its close_notify waits on the network.
type slowCloseConn struct {
	net.Conn
	closing, release chan struct{}
}

func (c *slowCloseConn) Close() error {
	close(c.closing)
	<-c.release
	return c.Conn.Close()
}

// A wait for the close must not queue behind a closer stuck in the
// net.Conn's Close: the connection counts as closed from its start.
func TestConnClosedWaitDuringSlowClose(t *testing.T) {
	_, b := pipeConns(t)
	nc := &slowCloseConn{Conn: b, closing: make(chan struct{}), release: make(chan struct{})}
	c := newConn(nc, nil, true, connConfig{})
	go c.CloseNow()
	<-nc.closing
	defer close(nc.release)
	waited := make(chan struct{})
	go func() {
		<-c.closed.wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(testTimeout):
		t.Fatal("wait blocked while Close was in the net.Conn's Close")
	}
}

// RFC 6455 §5.5.1: after sending a Close frame an endpoint sends no more data
// frames, however many writers race with Close.
func TestConnNoDataFrameAfterClose(t *testing.T) {
	// The close timeout also bounds sending the Close frame, behind the
	// writers' frames a loaded machine reads slowly: a guard only.
	p, c := newRawPeer(t, tcpConns, true, connConfig{closeTimeout: testTimeout})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				if err := c.WriteMessage(OpBinary, make([]byte, 100)); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("WriteMessage = %v, want ErrClosed", err)
					}
					return
				}
			}
		}()
	}
	closed := make(chan error, 1)
	go func() {
		time.Sleep(5 * time.Millisecond)
		closed <- c.Close(StatusGoingAway, "")
	}()
	sawClose := false
	for {
		h, _, err := p.readFrame()
		if err != nil {
			break
		}
		if sawClose {
			t.Fatalf("a %v frame after the Close frame", h.Opcode)
		}
		if h.Opcode == OpClose {
			sawClose = true
			p.write(clientClose(1001, ""))
		}
	}
	if !sawClose {
		t.Fatal("no Close frame")
	}
	wg.Wait()
	<-closed
}

// Close from two goroutines at once: one handshake, no panic.
func TestConnConcurrentClose(t *testing.T) {
	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	readLoop(srv)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- cli.Close(StatusNormalClosure, "") }()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, ErrClosed) {
			t.Errorf("Close = %v, want nil or ErrClosed", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d Close calls succeeded, want exactly 1", ok)
	}
}

// A Conn that fails the connection over a message it did not read to the end
// must not close the socket with that input unread: Linux would answer with a
// reset, and the peer would lose our Close frame and see 1006 instead of 1009
// (RFC 6455 §7.1.7 asks that the Close frame be sent, then the connection
// closed). The peer must read the Close frame and then a clean end of stream.
func TestConnFailDoesNotResetWithUnreadInput(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, true, connConfig{readLimit: 1000, closeTimeout: testTimeout})
	res := readLoop(c)
	// More than one read buffer, so that the kernel still holds some of it
	// when the Conn refuses the frame on its header.
	p.sendAsync(fromClient(true, OpBinary, strings.Repeat("x", 5000)))
	p.wg.Wait()
	time.Sleep(20 * time.Millisecond) // the bytes now wait unread at the Conn
	p.expectClose(StatusMessageTooBig)
	p.nc.SetReadDeadline(time.Now().Add(testTimeout))
	if b, err := p.br.ReadByte(); err != io.EOF {
		t.Fatalf("after the Close frame read %#x, %v; want a clean io.EOF, not a reset", b, err)
	}
	// As a client would, answer and close; the Conn then ends its side too
	// and the read returns.
	p.write(clientClose(1009, ""))
	p.nc.Close()
	expectReadEndsClosed(t, res, c, ErrMessageTooBig)
}

// After failing, a client waits for the server to close the TCP connection
// (RFC 6455 §7.1.1), reading and discarding what comes meanwhile, and then
// closes its own end.
func TestConnFailClientWaitsForServer(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, false, connConfig{readLimit: 1000, closeTimeout: testTimeout})
	res := readLoop(c)
	p.sendAsync(fromServer(true, OpBinary, strings.Repeat("x", 5000)))
	p.expectClose(StatusMessageTooBig)
	p.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if b, err := p.br.ReadByte(); err == nil {
		t.Fatalf("client sent %#x after its Close frame", b)
	} else if ne := net.Error(nil); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("client closed the TCP connection before the server: %v", err)
	}
	p.write(fromServer(true, OpClose, string(closeBody(1009, ""))))
	p.nc.Close()
	expectReadEndsClosed(t, res, c, ErrMessageTooBig)
}

// A peer that never ends the connection holds a failed Conn no longer than
// the close timeout, in either role: with a close timeout shorter than
// lingerTimeout, the Conn must close before lingerTimeout has passed.
func TestConnFailLingerIsBounded(t *testing.T) {
	for _, peerIsClient := range []bool{true, false} {
		t.Run(fmt.Sprintf("server=%v", peerIsClient), func(t *testing.T) {
			p, c := newRawPeer(t, tcpConns, peerIsClient, connConfig{closeTimeout: 200 * time.Millisecond})
			res := readLoop(c)
			start := time.Now()
			if peerIsClient {
				p.write(fromClient(true, OpText, "\xff"))
			} else {
				p.write(fromServer(true, OpText, "\xff"))
			}
			p.expectClose(StatusInvalidFramePayloadData)
			select {
			case err := <-res:
				if !errors.Is(err, ErrInvalidUTF8) {
					t.Fatalf("ReadMessage error = %v, want ErrInvalidUTF8", err)
				}
			case <-time.After(testTimeout):
				t.Fatal("the Conn lingered past its close timeout")
			}
			if !c.isClosed() {
				t.Fatal("the read returned before the connection was closed")
			}
			if d := time.Since(start); d >= lingerTimeout {
				t.Errorf("the Conn lingered %v with a 200ms close timeout, as long as lingerTimeout", d)
			}
		})
	}
}

// On a connection that cannot half-close (net.Pipe here, a net.Conn wrapper
// in practice), a failing server skips the rest of the offending message and
// closes as soon as the client's Close frame comes, without waiting out its
// timeout: the client is waiting for the server to close (RFC 6455 §7.1.1).
func TestConnFailServerEndsOnPeerCloseWithoutHalfClose(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, true, connConfig{readLimit: 1000, closeTimeout: testTimeout})
	res := readLoop(c)
	start := time.Now()
	p.sendAsync(fromClient(true, OpBinary, strings.Repeat("x", 5000)), fromClient(true, OpPing, "late"))
	p.expectClose(StatusMessageTooBig)
	p.wg.Wait()
	p.write(clientClose(1009, ""))
	p.expectEOF()
	if err := <-res; !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("ReadMessage error = %v, want ErrMessageTooBig", err)
	}
	// Waiting out its timeout would take lingerTimeout (under the close
	// timeout): the server must close before.
	if d := time.Since(start); d >= lingerTimeout {
		t.Fatalf("the server took %v to close after the client's Close frame: it waited out lingerTimeout", d)
	}
}

// expectReadEndsClosed waits for the read of readLoop to end with an error
// wrapping want, and checks that it ended only once the connection was
// closed: a failed read lingers until then.
func expectReadEndsClosed(t *testing.T, res <-chan error, c *Conn, want error) {
	t.Helper()
	select {
	case err := <-res:
		if !errors.Is(err, want) {
			t.Fatalf("read error = %v, want %v", err, want)
		}
	case <-time.After(testTimeout):
		t.Fatal("the read did not return after the peer closed")
	}
	if !c.isClosed() {
		t.Fatal("the read returned before the connection was closed")
	}
}
