package conformance

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// caseDef is one case of the catalogue. run plays the harness's side; it is
// written once for both roles (the peer masks, or checks masking, by role).
type caseDef struct {
	id      string
	desc    string
	info    bool // the suite reports the case as INFORMATIONAL
	pmd     *pmdCase
	timeout time.Duration // nominal, scaled (timing_test.go); 0 means defaultCaseTimeout
	onlyIn  *role         // nil: both roles
	run     func(p *peer)
}

const defaultCaseTimeout = 5 * time.Second

// pmdCase is how a case negotiates permessage-deflate: the offers the
// suite's client makes (server role) and the suite server's accept function
// (client role), as in case12_x_x.py.
type pmdCase struct {
	offers []pmdParams
	accept func(offers []pmdParams) (pmdParams, bool)
}

func b(s string) []byte { return []byte(s) }

// rep is the suite's payload_len: pattern repeated and cut to n bytes. The
// payloads are shared, read only, by every case and both roles: the
// catalogue is built once per role and once more by its self-test, and a
// copy per case of section 9's payloads (up to 4 MiB, 36 cases of them)
// made the harness allocate and clear over 100 MiB each time, which the
// race detector slows to seconds.
func rep(pattern string, n int) []byte {
	if n == 0 {
		return []byte{}
	}
	type key struct {
		pattern string
		n       int
	}
	if b, ok := payloads.Load(key{pattern, n}); ok {
		return b.([]byte)
	}
	b, _ := payloads.LoadOrStore(key{pattern, n}, bytes.Repeat([]byte(pattern), n/len(pattern)+1)[:n:n])
	return b.([]byte)
}

var payloads sync.Map // rep's payloads by pattern and length

// full turns on the suite's full sizes (9.x up to 16 MiB, 1000 messages per
// case in 9.7, 9.8, 12.x and 13.x).
var full = os.Getenv("CONFORMANCE_FULL") != ""

func catalogue() []caseDef {
	var cs []caseDef
	add := func(c caseDef) { cs = append(cs, c) }

	// ---- 1: framing, text and binary messages of every length encoding.
	for _, m := range []struct {
		sub     int
		op      byte
		pattern string
	}{{1, opText, "*"}, {2, opBinary, "\xfe"}} {
		for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536, 65536} {
			chop := 0
			desc := fmt.Sprintf("Send %s message with payload %d", opName(m.op), n)
			if i == 7 {
				chop = 997
				desc += ", sent in chops of 997 octets"
			}
			data := rep(m.pattern, n)
			add(caseDef{id: fmt.Sprintf("1.%d.%d", m.sub, i+1), desc: desc, run: func(p *peer) {
				p.send(fr{op: m.op, data: data, chop: chop})
				p.expectMessage(m.op, data)
				p.closeHandshake(1000, "")
			}})
		}
	}

	// ---- 2: pings and pongs.
	pingCase := func(id, desc string, payload []byte, chop int) {
		add(caseDef{id: id, desc: desc, run: func(p *peer) {
			p.send(fr{op: opPing, data: payload, chop: chop})
			p.expectPong(payload)
			p.closeHandshake(1000, "")
		}})
	}
	pingCase("2.1", "Send ping without payload", []byte{}, 0)
	pingCase("2.2", "Send ping with small text payload", b("Hello, world!"), 0)
	pingCase("2.3", "Send ping with small binary payload", b("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), 0)
	pingCase("2.4", "Send ping with binary payload of 125 octets", rep("\xfe", 125), 0)
	add(caseDef{id: "2.5", desc: "Send ping with binary payload of 126 octets: fail 1002", run: func(p *peer) {
		p.send(fr{op: opPing, data: rep("\xfe", 126)})
		p.expectFail(1002)
	}})
	pingCase("2.6", "Send ping with payload of 125 octets in chops of 1 octet", rep("\xfe", 125), 1)
	add(caseDef{id: "2.7", desc: "Send unsolicited pong without payload: nothing comes back", run: func(p *peer) {
		p.send(fr{op: opPong})
		p.closeHandshake(1000, "")
	}})
	add(caseDef{id: "2.8", desc: "Send unsolicited pong with payload: nothing comes back", run: func(p *peer) {
		p.send(fr{op: opPong, data: b("unsolicited pong payload")})
		p.closeHandshake(1000, "")
	}})
	add(caseDef{id: "2.9", desc: "Send unsolicited pong, then ping: only the ping's pong", run: func(p *peer) {
		p.send(fr{op: opPong, data: b("unsolicited pong payload")})
		p.send(fr{op: opPing, data: b("ping payload")})
		p.expectPong(b("ping payload"))
		p.closeHandshake(1000, "")
	}})
	for _, c := range []struct {
		id   string
		chop int
	}{{"2.10", 0}, {"2.11", 1}} {
		add(caseDef{id: c.id, desc: fmt.Sprintf("Send 10 pings with payload (chops of %d)", c.chop), run: func(p *peer) {
			for i := range 10 {
				p.send(fr{op: opPing, data: b(fmt.Sprintf("payload-%d", i)), chop: c.chop})
			}
			for i := range 10 {
				p.expectPong(b(fmt.Sprintf("payload-%d", i)))
			}
			p.closeHandshake(1000, "")
		}})
	}

	// ---- 3: reserved bits.
	add(caseDef{id: "3.1", desc: "Send small text message with RSV = 1: fail 1002", run: func(p *peer) {
		p.send(fr{op: opText, data: b("Hello, world!"), rsv: 1})
		p.expectFail(1002)
	}})
	for _, c := range []struct {
		id   string
		rsv  byte
		sync bool
		chop int
	}{{"3.2", 2, false, 0}, {"3.3", 3, true, 0}, {"3.4", 4, false, 1}} {
		add(caseDef{id: c.id, desc: fmt.Sprintf("Send text, then text with RSV = %d, then ping (sync %v, chops %d): echo, then fail 1002, no pong", c.rsv, c.sync, c.chop), run: func(p *peer) {
			msg := b("Hello, world!")
			p.send(fr{op: opText, data: msg, sync: c.sync, chop: c.chop})
			p.send(fr{op: opText, data: msg, rsv: c.rsv, sync: c.sync, chop: c.chop})
			p.send(fr{op: opPing, sync: c.sync, chop: c.chop})
			p.expectMessage(opText, msg)
			p.expectFail(1002)
		}})
	}
	add(caseDef{id: "3.5", desc: "Send small binary message with RSV = 5: fail 1002", run: func(p *peer) {
		p.send(fr{op: opBinary, data: b("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), rsv: 5})
		p.expectFail(1002)
	}})
	add(caseDef{id: "3.6", desc: "Send ping with RSV = 6: fail 1002", run: func(p *peer) {
		p.send(fr{op: opPing, data: b("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), rsv: 6})
		p.expectFail(1002)
	}})
	add(caseDef{id: "3.7", desc: "Send close with RSV = 7: fail 1002", run: func(p *peer) {
		p.send(fr{op: opClose, rsv: 7})
		p.expectFail(1002)
	}})

	// ---- 4: reserved opcodes.
	for _, c := range []struct {
		sub int
		ops []byte
	}{{1, []byte{3, 4, 5, 6, 7}}, {2, []byte{11, 12, 13, 14, 15}}} {
		for j, op := range c.ops {
			id := fmt.Sprintf("4.%d.%d", c.sub, j+1)
			var payload []byte
			if j == 1 || j == 3 || j == 4 {
				payload = b("reserved opcode payload")
			}
			if j < 2 {
				add(caseDef{id: id, desc: fmt.Sprintf("Send frame with reserved opcode %d: fail 1002", op), run: func(p *peer) {
					p.send(fr{op: op, data: payload})
					p.expectFail(1002)
				}})
				continue
			}
			add(caseDef{id: id, desc: fmt.Sprintf("Send text, then reserved opcode %d, then ping: echo, fail 1002, no pong", op), run: func(p *peer) {
				msg := b("Hello, world!")
				p.send(fr{op: opText, data: msg})
				p.send(fr{op: op, data: payload})
				p.send(fr{op: opPing})
				p.expectMessage(opText, msg)
				p.expectFail(1002)
			}})
		}
	}

	// ---- 5: fragmentation.
	for _, c := range []struct {
		id string
		op byte
	}{{"5.1", opPing}, {"5.2", opPong}} {
		add(caseDef{id: c.id, desc: fmt.Sprintf("Send %s fragmented into 2 fragments: fail 1002", opName(c.op)), run: func(p *peer) {
			p.send(fr{op: c.op, data: b("fragment1"), more: true})
			p.send(fr{op: opCont, data: b("fragment2")})
			p.expectFail(1002)
		}})
	}
	chops := []struct {
		how  string
		chop int
		sync bool
	}{{"in one chop", 0, false}, {"in octet-wise chops", 1, false}, {"in frame-wise chops", 0, true}}
	for i, ch := range chops {
		add(caseDef{id: fmt.Sprintf("5.%d", 3+i), desc: "Send text message in 2 fragments " + ch.how, run: func(p *peer) {
			p.send(fr{op: opText, data: b("fragment1"), more: true, chop: ch.chop, sync: ch.sync})
			p.send(fr{op: opCont, data: b("fragment2"), chop: ch.chop, sync: ch.sync})
			p.expectMessage(opText, b("fragment1fragment2"))
			p.closeHandshake(1000, "")
		}})
	}
	for i, ch := range chops {
		add(caseDef{id: fmt.Sprintf("5.%d", 6+i), desc: "Send text message in 2 fragments, a ping between them, " + ch.how, run: func(p *peer) {
			p.send(fr{op: opText, data: b("fragment1"), more: true, chop: ch.chop, sync: ch.sync})
			p.send(fr{op: opPing, data: b("pongme!"), chop: ch.chop, sync: ch.sync})
			p.send(fr{op: opCont, data: b("fragment2"), chop: ch.chop, sync: ch.sync})
			p.expectPong(b("pongme!"))
			p.expectMessage(opText, b("fragment1fragment2"))
			p.closeHandshake(1000, "")
		}})
	}
	for i, ch := range chops {
		add(caseDef{id: fmt.Sprintf("5.%d", 9+i), desc: "Send continuation frame with FIN = true and nothing to continue, then text, " + ch.how + ": fail 1002", run: func(p *peer) {
			p.send(fr{op: opCont, data: b("non-continuation payload"), chop: ch.chop, sync: ch.sync})
			p.send(fr{op: opText, data: b("Hello, world!"), chop: ch.chop, sync: ch.sync})
			p.expectFail(1002)
		}})
	}
	for i, ch := range chops {
		add(caseDef{id: fmt.Sprintf("5.%d", 12+i), desc: "Send continuation frame with FIN = false and nothing to continue, then text, " + ch.how + ": fail 1002", run: func(p *peer) {
			p.send(fr{op: opCont, data: b("non-continuation payload"), more: true, chop: ch.chop, sync: ch.sync})
			p.send(fr{op: opText, data: b("Hello, world!"), chop: ch.chop, sync: ch.sync})
			p.expectFail(1002)
		}})
	}
	add(caseDef{id: "5.15", desc: "Send text in 2 fragments, then a continuation with FIN = false, then text: echo, fail 1002", run: func(p *peer) {
		p.send(fr{op: opText, data: b("fragment1"), more: true})
		p.send(fr{op: opCont, data: b("fragment2")})
		p.send(fr{op: opCont, data: b("fragment3"), more: true})
		p.send(fr{op: opText, data: b("fragment4")})
		p.expectMessage(opText, b("fragment1fragment2"))
		p.expectFail(1002)
	}})
	for i, fin := range []bool{false, true} {
		add(caseDef{id: fmt.Sprintf("5.%d", 16+i), desc: fmt.Sprintf("Repeated 2x: continuation with FIN = %v and nothing to continue, then text in 2 fragments: fail 1002", fin), run: func(p *peer) {
			for range 2 {
				p.send(fr{op: opCont, data: b("fragment1"), more: !fin})
				p.send(fr{op: opText, data: b("fragment2"), more: true})
				p.send(fr{op: opCont, data: b("fragment3")})
			}
			p.expectFail(1002)
		}})
	}
	add(caseDef{id: "5.18", desc: "Send text in 2 fragments, both with opcode text: fail 1002", run: func(p *peer) {
		p.send(fr{op: opText, data: b("fragment1"), more: true})
		p.send(fr{op: opText, data: b("fragment2")})
		p.expectFail(1002)
	}})
	for i, sync := range []bool{false, true} {
		add(caseDef{id: fmt.Sprintf("5.%d", 19+i), desc: "Send text in 5 fragments with 2 pings among them, pausing after the first ping: each pong at once, then the message", run: func(p *peer) {
			frags := []string{"fragment1", "fragment2", "fragment3", "fragment4", "fragment5"}
			p.send(fr{op: opText, data: b(frags[0]), more: true, sync: sync})
			p.send(fr{op: opCont, data: b(frags[1]), more: true, sync: sync})
			p.send(fr{op: opPing, data: b("pongme 1!"), sync: sync})
			// The suite waits 1 s here: the pong must come before the
			// message is complete.
			p.expectPong(b("pongme 1!"))
			p.send(fr{op: opCont, data: b(frags[2]), more: true, sync: sync})
			p.send(fr{op: opCont, data: b(frags[3]), more: true, sync: sync})
			p.send(fr{op: opPing, data: b("pongme 2!"), sync: sync})
			p.send(fr{op: opCont, data: b(frags[4]), sync: sync})
			p.expectPong(b("pongme 2!"))
			p.expectMessage(opText, b(strings.Join(frags, "")))
			p.closeHandshake(1000, "")
		}})
	}

	// ---- 6: UTF-8 handling.
	echoText := func(id, desc string, frames ...[]byte) {
		add(caseDef{id: id, desc: desc, run: func(p *peer) {
			var whole []byte
			for i, f := range frames {
				op := byte(opText)
				if i > 0 {
					op = opCont
				}
				p.send(fr{op: op, data: f, more: i < len(frames)-1})
				whole = append(whole, f...)
			}
			p.expectMessage(opText, whole)
			p.closeHandshake(1000, "")
		}})
	}
	echoText("6.1.1", "Send text message of length 0", []byte{})
	echoText("6.1.2", "Send fragmented text message, 3 fragments each of length 0", []byte{}, []byte{}, []byte{})
	echoText("6.1.3", "Send fragmented text message, 3 fragments, first and last of length 0", []byte{}, b("middle frame payload"), []byte{})
	hello := "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"
	echoText("6.2.1", "Send a valid UTF-8 text message in one fragment", b(hello))
	echoText("6.2.2", "Send a valid UTF-8 text message in two fragments, split at a code point boundary", b(hello[:12]), b(hello[12:]))
	echoText("6.2.3", "Send a valid UTF-8 text message in fragments of 1 octet", octets(hello)...)
	echoText("6.2.4", "Send a valid UTF-8 text message (κόσμε) in fragments of 1 octet", octets(kosme)...)
	invalid := kosme + "\xed\xa0\x80" + "edited"
	add(caseDef{id: "6.3.1", desc: "Send an invalid UTF-8 text message in one fragment: fail 1007", run: func(p *peer) {
		p.send(fr{op: opText, data: b(invalid)})
		p.expectFail(1007)
	}})
	add(caseDef{id: "6.3.2", desc: "Send an invalid UTF-8 text message in fragments of 1 octet: fail 1007", run: func(p *peer) {
		p.sendMessage(opText, b(invalid), 1)
		p.expectFail(1007)
	}})
	// 6.4: fail fast. The suite sends part 1, waits 1 s, sends the part that
	// makes the text invalid, waits 1 s, then the rest; OK means the testee
	// failed after part 2, NON-STRICT only after part 3. Strictly, the
	// Close must come before part 3 is sent: here part 3 is held back until
	// the Close comes, or eventTimeout passes, so that order decides and a
	// loaded machine, slow to answer within the suite's second, does not.
	payload641 := kosme + "\xf4\x90\x80\x80" + "edited"
	for _, c := range []struct {
		id     string
		parts  [3]string
		frames bool // each part a frame; otherwise chops of one frame
	}{
		{"6.4.1", [3]string{kosme, "\xf4\x90\x80\x80", "edited"}, true},
		{"6.4.2", [3]string{payload641[:12], payload641[12:13], payload641[13:]}, true},
		{"6.4.3", [3]string{kosme, "\xf4\x90\x80\x80", "edited"}, false},
		{"6.4.4", [3]string{payload641[:12], payload641[12:13], payload641[13:]}, false},
	} {
		desc := "Send invalid UTF-8 text in 3 frames, pausing after each; the 2nd makes it invalid: fail 1007 before the 3rd"
		if !c.frames {
			desc = "Send invalid UTF-8 text in 3 chops of one frame, pausing after each; the 2nd makes it invalid: fail 1007 before the 3rd"
		}
		add(caseDef{id: c.id, desc: desc, run: func(p *peer) {
			var pieces [3][]byte
			if c.frames {
				pieces[0] = appendFrame(nil, false, 0, opText, b(c.parts[0]), p.mask)
				pieces[1] = appendFrame(nil, false, 0, opCont, b(c.parts[1]), p.mask)
				pieces[2] = appendFrame(nil, true, 0, opCont, b(c.parts[2]), p.mask)
			} else {
				f := appendFrame(nil, true, 0, opText, b(strings.Join(c.parts[:], "")), p.mask)
				n := len(f) - len(payload641)
				pieces[0] = f[:n+len(c.parts[0])]
				pieces[1] = f[len(pieces[0]) : len(pieces[0])+len(c.parts[1])]
				pieces[2] = f[len(pieces[0])+len(pieces[1]):]
			}
			p.sendRaw(pieces[0])
			p.expectNothing(200*time.Millisecond, "part 1 is valid UTF-8 so far")
			p.sendRaw(pieces[1])
			e := p.next(eventTimeout)
			if e.kind == evTimeout {
				p.notef("no Close within %v of the invalid part", eventTimeout)
				p.sendRaw(pieces[2])
				e = p.next(eventTimeout)
				if e.kind == evClose && e.code == 1007 {
					p.failf("not fail-fast: the testee failed only after the rest of the message (NON-STRICT)")
				}
			}
			if e.kind != evClose || e.code != 1007 {
				p.failf("want Close 1007 right after the invalid part; got %v", e)
			}
			if !p.closeSent {
				p.sendClose(1000, "")
			}
			p.lenientReset = true
			p.expectDrop()
		}})
	}
	for gi, g := range utf8Groups() {
		for si, s := range g.seqs {
			id := fmt.Sprintf("6.%d.%d", gi+5, si+1)
			if s.valid {
				echoText(id, g.name+": valid, in one fragment, 0x"+fmt.Sprintf("%x", s.b), b(s.b))
				continue
			}
			add(caseDef{id: id, desc: g.name + ": invalid, in one fragment, 0x" + fmt.Sprintf("%x", s.b) + ": fail 1007", run: func(p *peer) {
				p.send(fr{op: opText, data: b(s.b)})
				p.expectFail(1007)
			}})
		}
	}

	// ---- 7: closing.
	add(caseDef{id: "7.1.1", desc: "Send a message followed by a close frame", run: func(p *peer) {
		p.send(fr{op: opText, data: b("Hello World!")})
		p.expectMessage(opText, b("Hello World!"))
		p.closeHandshake(1000, "")
	}})
	add(caseDef{id: "7.1.2", desc: "Send two close frames: the second is ignored", run: func(p *peer) {
		p.sendClose(1000, "")
		p.send(fr{op: opClose})
		p.awaitClose(1000)
	}})
	add(caseDef{id: "7.1.3", desc: "Send a ping after the close frame: no pong", run: func(p *peer) {
		p.sendClose(1000, "")
		p.send(fr{op: opPing, data: b("Hello World!")})
		p.awaitClose(1000)
	}})
	add(caseDef{id: "7.1.4", desc: "Send a text message after the close frame: no echo", run: func(p *peer) {
		p.sendClose(1000, "")
		p.send(fr{op: opText, data: b("Hello World!")})
		p.awaitClose(1000)
	}})
	add(caseDef{id: "7.1.5", desc: "Send message fragment 1, a close frame, then fragment 2: no message", run: func(p *peer) {
		p.send(fr{op: opText, data: b("fragment1"), more: true})
		p.sendClose(1000, "")
		p.send(fr{op: opCont, data: b("fragment2")})
		p.awaitClose(1000)
	}})
	add(caseDef{id: "7.1.6", info: true, desc: "Send a 256 KiB message, a small one, a close frame and a ping: both echoed, then Close 1000", run: func(p *peer) {
		big := rep("BAsd7&jh23", 256<<10)
		p.send(fr{op: opText, data: big})
		p.send(fr{op: opText, data: b("Hello World!")})
		p.sendClose(1000, "")
		p.send(fr{op: opPing})
		p.expectMessage(opText, big)
		p.expectMessage(opText, b("Hello World!"))
		p.awaitClose(1000)
	}})
	add(caseDef{id: "7.3.1", desc: "Send a close frame with payload length 0: Close 1000 (or empty) in answer", run: func(p *peer) {
		p.closeHandshake(-1, "", 1000, -1)
	}})
	add(caseDef{id: "7.3.2", desc: "Send a close frame with payload length 1: fail 1002 (the suite also passes an empty Close; RFC 6455 §5.5.1 makes the body a protocol error)", run: func(p *peer) {
		p.send(fr{op: opClose, data: b("a")})
		p.closeSent = true
		p.expectFail(1002)
	}})
	add(caseDef{id: "7.3.3", desc: "Send a close frame with code 1000 and no reason", run: func(p *peer) {
		p.closeHandshake(1000, "", 1000)
	}})
	add(caseDef{id: "7.3.4", desc: "Send a close frame with code 1000 and a reason", run: func(p *peer) {
		p.closeHandshake(1000, "Hello World!", 1000)
	}})
	add(caseDef{id: "7.3.5", desc: "Send a close frame with code 1000 and a reason of 123 octets (payload 125)", run: func(p *peer) {
		p.closeHandshake(1000, strings.Repeat("*", 123), 1000)
	}})
	add(caseDef{id: "7.3.6", desc: "Send a close frame with code 1000 and a reason of 124 octets (payload 126): fail 1002", run: func(p *peer) {
		p.sendClose(1000, strings.Repeat("*", 124))
		p.expectFail(1002)
	}})
	add(caseDef{id: "7.5.1", desc: "Send a close frame whose reason is not UTF-8: fail 1007 (the suite also accepts 1002)", run: func(p *peer) {
		p.sendClose(1000, invalid)
		p.expectFail(1007, 1002)
	}})
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		add(caseDef{id: fmt.Sprintf("7.7.%d", i+1), desc: fmt.Sprintf("Send close with valid close code %d: clean close with 1000 or the code", code), run: func(p *peer) {
			p.closeHandshake(code, "", 1000, code)
		}})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		add(caseDef{id: fmt.Sprintf("7.9.%d", i+1), desc: fmt.Sprintf("Send close with invalid close code %d: fail 1002", code), run: func(p *peer) {
			p.sendClose(code, "")
			p.expectFail(1002)
		}})
	}
	for i, code := range []int{5000, 65535} {
		add(caseDef{id: fmt.Sprintf("7.13.%d", i+1), info: true, desc: fmt.Sprintf("Send close with close code %d (undefined by the spec)", code), run: func(p *peer) {
			p.sendClose(code, "")
			p.awaitClose(1000, code, 1002)
		}})
	}

	// ---- 9: limits and performance, with the sizes cut (CONFORMANCE_FULL
	// restores them).
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20}
	if full {
		sizes = append(sizes, 8<<20, 16<<20)
	}
	for _, m := range []struct {
		sub     int
		op      byte
		pattern string
	}{{1, opText, "BAsd7&jh23"}, {2, opBinary, "\xfe"}} {
		for i, n := range sizes {
			data := rep(m.pattern, n)
			add(caseDef{id: fmt.Sprintf("9.%d.%d", m.sub, i+1), desc: fmt.Sprintf("Send %s message of %d bytes", opName(m.op), n), timeout: 30 * time.Second, run: func(p *peer) {
				p.send(fr{op: m.op, data: data})
				p.expectMessageWithin(m.op, data, scaled(20*time.Second))
				p.closeHandshake(1000, "")
			}})
		}
	}
	fragMsg := 4 << 20
	for _, m := range []struct {
		sub     int
		op      byte
		pattern string
	}{{3, opText, "*"}, {4, opBinary, "\xfe"}} {
		for i, fs := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
			data := rep(m.pattern, fragMsg)
			add(caseDef{id: fmt.Sprintf("9.%d.%d", m.sub, i+1), desc: fmt.Sprintf("Send fragmented %s message of %d bytes in fragments of %d", opName(m.op), fragMsg, fs), timeout: 30 * time.Second, run: func(p *peer) {
				p.sendMessage(m.op, data, fs)
				p.expectMessageWithin(m.op, data, scaled(20*time.Second))
				p.closeHandshake(1000, "")
			}})
		}
	}
	for _, m := range []struct {
		sub     int
		op      byte
		pattern string
	}{{5, opText, "BAsd7&jh23"}, {6, opBinary, "\xfe"}} {
		for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
			data := rep(m.pattern, 1<<20)
			add(caseDef{id: fmt.Sprintf("9.%d.%d", m.sub, i+1), desc: fmt.Sprintf("Send %s message of 1 MiB in chops of %d octets", opName(m.op), chop), timeout: 30 * time.Second, run: func(p *peer) {
				p.send(fr{op: m.op, data: data, chop: chop})
				p.expectMessageWithin(m.op, data, scaled(20*time.Second))
				p.closeHandshake(1000, "")
			}})
		}
	}
	count := 200
	if full {
		count = 1000
	}
	for _, m := range []struct {
		sub     int
		op      byte
		pattern string
	}{{7, opText, "*"}, {8, opBinary, "\xfe"}} {
		for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
			data := rep(m.pattern, n)
			add(caseDef{id: fmt.Sprintf("9.%d.%d", m.sub, i+1), desc: fmt.Sprintf("Send %d %s messages of %d bytes, one at a time (round trips)", count, opName(m.op), n), timeout: 30 * time.Second, run: func(p *peer) {
				for range count {
					p.send(fr{op: m.op, data: data})
					p.expectMessage(m.op, data)
				}
				p.closeHandshake(1000, "")
			}})
		}
	}

	// ---- 10: auto-fragmentation.
	add(caseDef{id: "10.1.1", desc: "Send text message of 65536 bytes in frames of 1300", run: func(p *peer) {
		data := rep("*", 65536)
		p.sendMessage(opText, data, 1300)
		p.expectMessage(opText, data)
		p.closeHandshake(1000, "")
	}})

	cs = append(cs, compressionCases()...)
	return cs
}

func octets(s string) [][]byte {
	var o [][]byte
	for i := range len(s) {
		o = append(o, []byte{s[i]})
	}
	return o
}

// awaitClose waits for the testee's answer to the Close frame already sent.
func (p *peer) awaitClose(codes ...int) {
	e := p.next(eventTimeout)
	if e.kind != evClose {
		p.failf("sent Close; want the testee's Close with %v, got %v", codes, e)
	}
	if !codeIn(e.code, codes) {
		p.failf("sent Close; want Close with %v, got %v", codes, e)
	}
	p.expectDrop()
}

func (p *peer) expectMessageWithin(op byte, want []byte, d time.Duration) {
	e := p.next(d)
	if e.kind != evMessage || e.op != op || !bytes.Equal(e.data, want) {
		p.failf("want a %s message of %d bytes; got %v%s", opName(op), len(want), e, diff(e.data, want))
	}
}
