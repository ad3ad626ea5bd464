package conformance

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// role says which end the testee is.
type role int

const (
	serverRole role = iota // the testee is the server; the harness is the suite's fuzzingclient
	clientRole             // the testee is the client; the harness is the suite's fuzzingserver
)

func (r role) String() string {
	if r == serverRole {
		return "server"
	}
	return "client"
}

// Timing (see timing_test.go). The suite gives a server
// serverConnectionDropTimeout (1 s) to close TCP after the closing
// handshake, and a client as long after the server has: here that is
// scaled, up to 4 s, short of the 5 s close timeout a testee that waited for
// its peer to close first would take instead. A client that closes first
// within clientFirstWindow of the handshake is reported: a window, not
// scaled.
var (
	dropTimeout  = min(scaled(time.Second), 4*time.Second)
	eventTimeout = scaled(3 * time.Second) // default wait for an expected event
)

const (
	clientFirstWindow = 15 * time.Millisecond
	maxMessage        = 64 << 20
)

// peer is the harness's end of one case's connection.
type peer struct {
	role     role
	nc       net.Conn
	br       *bufio.Reader
	mask     bool // the harness masks its frames: it is the client
	pmd      *pmdState
	deadline time.Time

	out    []byte // frames queued: the suite writes the frames of one callback at once
	events chan event
	done   chan struct{} // closed when the reader goroutine has returned

	closeSent bool
	finished  bool // the case reached the end of the connection
	// lenientReset: the testee failed the connection, where the suite does
	// not require a clean TCP close ("requireClean": False), so a reset
	// after the Close frames is noted rather than failed.
	lenientReset bool
	notes        []string
	writeErrors  []string
	trace        []string // what was sent and received, for failure reports
}

type evKind int

const (
	evMessage evKind = iota
	evPing
	evPong
	evClose
	evEOF       // the testee ended the TCP connection (err says how)
	evViolation // the testee broke the protocol
	evTimeout   // nothing came in time (returned by next, never sent)
)

type event struct {
	kind       evKind
	op         byte
	data       []byte
	compressed bool
	code       int // close: -1 for a Close frame without a body
	reason     string
	err        error
	at         time.Time
}

func (e event) String() string {
	switch e.kind {
	case evMessage:
		c := ""
		if e.compressed {
			c = " compressed"
		}
		return fmt.Sprintf("%s%s message of %d bytes %s", opName(e.op), c, len(e.data), quote(e.data))
	case evPing:
		return "ping " + quote(e.data)
	case evPong:
		return "pong " + quote(e.data)
	case evClose:
		if e.code < 0 {
			return "Close frame without code"
		}
		return fmt.Sprintf("Close %d %q", e.code, e.reason)
	case evEOF:
		if e.err == nil {
			return "TCP closed (FIN)"
		}
		return "TCP ended: " + e.err.Error()
	case evViolation:
		return "protocol violation by the testee: " + e.err.Error()
	case evTimeout:
		return "nothing (timeout)"
	}
	return "?"
}

func quote(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q…", b[:40])
	}
	return fmt.Sprintf("%q", b)
}

// caseFailure aborts a case; runCase recovers it.
type caseFailure struct{ msg string }

func (p *peer) failf(format string, args ...any) {
	panic(caseFailure{fmt.Sprintf(format, args...)})
}

func (p *peer) notef(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

func newPeer(r role, nc net.Conn, br *bufio.Reader, pmd *pmdState, deadline time.Time) *peer {
	p := &peer{
		role: r, nc: nc, br: br, mask: r == serverRole, pmd: pmd, deadline: deadline,
		events: make(chan event, 1<<14), done: make(chan struct{}),
	}
	nc.SetDeadline(deadline)
	go p.readLoop()
	return p
}

// readLoop reads the testee's frames, checks each against RFC 6455 and
// RFC 7692, and turns them into events.
func (p *peer) readLoop() {
	defer close(p.done)
	var (
		msgOp    byte
		msg      []byte
		msgComp  bool
		inMsg    bool
		gotClose bool
	)
	emit := func(e event) { e.at = time.Now(); p.events <- e }
	violation := func(format string, args ...any) {
		emit(event{kind: evViolation, err: fmt.Errorf(format, args...)})
	}
	for {
		f, err := readFrame(p.br, maxMessage)
		if err != nil {
			if err == io.EOF {
				emit(event{kind: evEOF})
			} else {
				emit(event{kind: evEOF, err: err})
			}
			return
		}
		if gotClose {
			violation("%s frame after its Close frame (RFC 6455 §5.5.1)", opName(f.op))
			continue
		}
		// §5.1: a server must not mask, a client must.
		if p.role == serverRole && f.masked {
			violation("masked frame from the server (RFC 6455 §5.1)")
		}
		if p.role == clientRole && !f.masked {
			violation("unmasked frame from the client (RFC 6455 §5.1)")
		}
		if f.nonMin {
			violation("payload length of %d not in its minimal encoding (RFC 6455 §5.2)", len(f.payload))
		}
		// §5.2: RSV bits only as an extension defines them; permessage-deflate
		// defines RSV1 on the first frame of a data message (RFC 7692 §6).
		first := f.op == opText || f.op == opBinary
		if f.rsv&3 != 0 || f.rsv&rsv1 != 0 && (p.pmd == nil || !first) {
			violation("RSV bits %03b on a %s frame", f.rsv, opName(f.op))
		}
		switch {
		case f.op >= 8:
			if !f.fin || len(f.payload) > 125 {
				violation("%s frame fragmented or over 125 bytes (RFC 6455 §5.5)", opName(f.op))
			}
			switch f.op {
			case opPing:
				emit(event{kind: evPing, data: f.payload})
			case opPong:
				emit(event{kind: evPong, data: f.payload})
			case opClose:
				gotClose = true
				e := event{kind: evClose, code: -1}
				switch len(f.payload) {
				case 0:
				case 1:
					violation("Close frame body of 1 byte (RFC 6455 §5.5.1)")
				default:
					e.code = int(binary.BigEndian.Uint16(f.payload))
					e.reason = string(f.payload[2:])
					if !closeCodeValid(e.code) {
						violation("Close code %d may not be sent (RFC 6455 §7.4)", e.code)
					}
					if !utf8.Valid(f.payload[2:]) {
						violation("Close reason is not UTF-8 (RFC 6455 §5.5.1)")
					}
				}
				emit(e)
			default:
				violation("reserved opcode %d (RFC 6455 §5.2)", f.op)
			}
			continue
		case f.op == opCont:
			if !inMsg {
				violation("continuation frame with no message to continue (RFC 6455 §5.4)")
				continue
			}
		case first:
			if inMsg {
				violation("%s frame inside a fragmented message (RFC 6455 §5.4)", opName(f.op))
			}
			inMsg, msgOp, msg, msgComp = true, f.op, nil, f.rsv&rsv1 != 0
		default:
			violation("reserved opcode %d (RFC 6455 §5.2)", f.op)
			continue
		}
		if len(msg)+len(f.payload) > maxMessage {
			violation("message over %d bytes", maxMessage)
			return
		}
		if msg == nil && f.fin {
			msg = f.payload // a message in one frame: no copy, which costs under -race
		} else {
			msg = append(msg, f.payload...)
		}
		if !f.fin {
			continue
		}
		inMsg = false
		if msgComp {
			out, err := p.pmd.decompress(msg)
			if err != nil {
				violation("compressed %s message: %v", opName(msgOp), err)
				continue
			}
			msg = out
		}
		if msgOp == opText && !utf8.Valid(msg) {
			violation("text message is not UTF-8 (RFC 6455 §8.1)")
		}
		emit(event{kind: evMessage, op: msgOp, data: msg, compressed: msgComp})
	}
}

// ---- Sending ----

// fr is a frame the harness sends.
type fr struct {
	op   byte
	data []byte
	more bool // FIN clear
	rsv  byte
	chop int  // write the frame in pieces of this many bytes (the suite's chopsize)
	sync bool // write the frame on its own, then pause (the suite's sync=True)
}

func (p *peer) send(f fr) {
	p.tracef("→ %s", describe(!f.more, f.rsv, f.op, f.data, f.chop, f.sync))
	if f.chop == 0 && !f.sync {
		p.out = appendFrame(p.out, !f.more, f.rsv, f.op, f.data, p.mask)
		return
	}
	p.flush()
	b := appendFrame(nil, !f.more, f.rsv, f.op, f.data, p.mask)
	if f.chop == 0 { // sync
		p.write(b)
		time.Sleep(2 * time.Millisecond)
		return
	}
	for len(b) > 0 {
		n := min(f.chop, len(b))
		p.write(b[:n])
		b = b[n:]
	}
}

// sendRaw queues bytes as they are.
func (p *peer) sendRaw(b []byte) {
	p.tracef("→ %d raw bytes % x", len(b), b[:min(len(b), 24)])
	p.out = append(p.out, b...)
}

func (p *peer) tracef(format string, args ...any) {
	if len(p.trace) < 40 {
		p.trace = append(p.trace, fmt.Sprintf(format, args...))
	} else if len(p.trace) == 40 {
		p.trace = append(p.trace, "…")
	}
}

func describe(fin bool, rsv, op byte, data []byte, chop int, sync bool) string {
	s := opName(op)
	if !fin {
		s += " (FIN clear)"
	}
	if rsv != 0 {
		s += fmt.Sprintf(" RSV=%d", rsv)
	}
	s += fmt.Sprintf(" %d B %s", len(data), quote(data))
	if chop > 0 {
		s += fmt.Sprintf(", in chops of %d", chop)
	}
	if sync {
		s += ", on its own"
	}
	return s
}

// sendMessage queues a message as the suite's sendMessage does: compressed
// when permessage-deflate is agreed, and in frames of fragSize payload bytes
// (the compressed payload, when compressed) if fragSize > 0.
func (p *peer) sendMessage(op byte, data []byte, fragSize int) {
	rsv := byte(0)
	p.tracef("→ %s message %d B %s, compressed %v, fragments of %d", opName(op), len(data), quote(data), p.pmd != nil, fragSize)
	if p.pmd != nil {
		data = p.pmd.compress(data)
		rsv = rsv1
	}
	if fragSize <= 0 || len(data) <= fragSize {
		p.out = appendFrame(p.out, true, rsv, op, data, p.mask)
		return
	}
	for i := 0; i < len(data); i += fragSize {
		end := min(i+fragSize, len(data))
		p.out = appendFrame(p.out, end == len(data), rsv, op, data[i:end], p.mask)
		op, rsv = opCont, 0
	}
}

func (p *peer) sendClose(code int, reason string) {
	p.send(fr{op: opClose, data: closeBody(code, reason)})
	p.closeSent = true
}

func (p *peer) flush() {
	if len(p.out) > 0 {
		p.write(p.out)
		p.out = p.out[:0]
	}
}

// write writes b. A failed write is noted, not fatal: a testee that fails
// the connection may stop reading; what it sent says whether it was right.
func (p *peer) write(b []byte) {
	if len(p.writeErrors) > 0 {
		return
	}
	if _, err := p.nc.Write(b); err != nil {
		p.writeErrors = append(p.writeErrors, err.Error())
	}
}

// ---- Receiving ----

// next flushes what is queued and returns the next event, or an evTimeout
// event after d. A protocol violation fails the case.
func (p *peer) next(d time.Duration) event {
	p.flush()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case e := <-p.events:
		p.tracef("← %v", e)
		if e.kind == evViolation {
			p.failf("%v", e)
		}
		return e
	case <-t.C:
		p.tracef("← nothing for %v", d)
		return event{kind: evTimeout}
	}
}

// echoTimeout is how long to wait for the echo of a message of n bytes:
// eventTimeout, and 200 ms (scaled) more per 32 KiB, which the testee may
// have to compress.
func echoTimeout(n int) time.Duration {
	return eventTimeout + scaled(time.Duration(n/(32<<10))*200*time.Millisecond)
}

func (p *peer) expectMessage(op byte, want []byte) event {
	e := p.next(echoTimeout(len(want)))
	if e.kind != evMessage {
		p.failf("want the echo, a %s message of %d bytes %s; got %v", opName(op), len(want), quote(want), e)
	}
	if e.op != op || !bytes.Equal(e.data, want) {
		p.failf("want a %s message of %d bytes %s; got %v%s", opName(op), len(want), quote(want), e, diff(e.data, want))
	}
	return e
}

func diff(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf(" (first difference at byte %d)", i)
		}
	}
	return ""
}

func (p *peer) expectPong(want []byte) {
	e := p.next(eventTimeout)
	if e.kind != evPong || !bytes.Equal(e.data, want) {
		p.failf("want pong %s; got %v", quote(want), e)
	}
}

// expectNothing checks that the testee sends nothing for d.
func (p *peer) expectNothing(d time.Duration, why string) {
	if e := p.next(d); e.kind != evTimeout {
		p.failf("%s: want nothing for %v, got %v", why, d, e)
	}
}

// expectFail is the end of a case where the testee must fail the
// connection: its next frame is a Close frame with one of codes (the suite
// also accepts a plain TCP drop; strictly, RFC 6455 §7.1.7 asks for the Close
// frame), which the harness answers as the suite does, with 1000; then the
// TCP connection must end the right way.
func (p *peer) expectFail(codes ...int) {
	e := p.next(eventTimeout)
	if e.kind != evClose {
		p.failf("want the testee to fail the connection with %v; got %v", codes, e)
	}
	if !codeIn(e.code, codes) {
		p.failf("want Close with %v; got %v", codes, e)
	}
	if !p.closeSent {
		p.sendClose(1000, "")
	}
	p.lenientReset = true
	p.expectDrop()
}

// closeHandshake is the end of a case where the harness closes: it sends a
// Close frame (after anything queued) and the testee must answer with one
// of codes (1000 unless given), before any other frame but those already
// due, and then the TCP connection must end the right way.
func (p *peer) closeHandshake(code int, reason string, codes ...int) {
	if len(codes) == 0 {
		codes = []int{1000}
	}
	p.sendClose(code, reason)
	e := p.next(eventTimeout)
	if e.kind != evClose {
		p.failf("sent Close %d; want the testee's Close with %v, got %v", code, codes, e)
	}
	if !codeIn(e.code, codes) {
		p.failf("sent Close %d; want Close with %v, got %v", code, codes, e)
	}
	p.expectDrop()
}

func codeIn(code int, codes []int) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}

// expectDrop checks how TCP ends once both Close frames have crossed (RFC
// 6455 §7.1.1, §7.1.4): a server closes it at once (the suite waits 1 s and
// calls the closure unclean otherwise); a client waits for the server to
// close first, so here the harness closes after a short look.
func (p *peer) expectDrop() {
	p.flush()
	p.finished = true
	if p.role == serverRole {
		e := p.next(dropTimeout)
		switch {
		case e.kind == evTimeout:
			p.failf("server did not close the TCP connection within %v of the closing handshake", dropTimeout)
		case e.kind != evEOF:
			p.failf("after the closing handshake, want the TCP close; got %v", e)
		case e.err != nil && p.lenientReset:
			p.notef("UNCLEAN, allowed by the suite here: TCP connection ended by %v after the Close frames", e.err)
		case e.err != nil:
			p.failf("TCP connection ended uncleanly after the closing handshake: %v", e.err)
		}
		return
	}
	e := p.next(clientFirstWindow)
	switch e.kind {
	case evTimeout:
	case evEOF:
		p.failf("client closed the TCP connection before the server (RFC 6455 §7.1.1 lets the server close first); %v", e)
	default:
		p.failf("after the closing handshake, got %v", e)
	}
	if tc, ok := p.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	// The client should now close its end.
	e = p.next(dropTimeout)
	if e.kind != evEOF {
		p.failf("client did not close the TCP connection within %v of the server's; got %v", dropTimeout, e)
	}
	switch {
	case e.err != nil && p.lenientReset:
		p.notef("UNCLEAN, allowed by the suite here: TCP connection ended by %v after the Close frames", e.err)
	case e.err != nil:
		p.failf("TCP connection ended uncleanly: %v", e.err)
	}
}

// finish closes the connection and checks what is left once the case is done.
func (p *peer) finish() error {
	p.nc.Close()
	var err error
	check := func(e event) {
		switch {
		case err != nil:
		case e.kind == evViolation:
			err = errors.New(e.String())
		case e.kind != evEOF && p.finished:
			err = fmt.Errorf("after the end of the case: %v", e)
		}
	}
	timeout := time.After(scaled(2 * time.Second))
	for {
		select {
		case e := <-p.events:
			check(e)
		case <-p.done:
			for {
				select {
				case e := <-p.events:
					check(e)
				default:
					return err
				}
			}
		case <-timeout:
			return errors.New("harness reader did not stop")
		}
	}
}

// summary describes what went wrong with the harness's writes, for reports.
func (p *peer) summary() string {
	var s []string
	if len(p.writeErrors) > 0 {
		s = append(s, "harness write failed: "+strings.Join(p.writeErrors, "; "))
	}
	s = append(s, p.notes...)
	return strings.Join(s, "; ")
}
