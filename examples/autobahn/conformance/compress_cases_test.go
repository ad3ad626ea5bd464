package conformance

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Sections 12 and 13: permessage-deflate (RFC 7692), as case12_x_x.py
// builds them. Each case sends messages one at a time, cut in turn from a
// test file (wrapping round at its end), and checks every echo.

// msgSizes is the suite's MSG_SIZES: payload length and auto-fragment size
// (0: one frame), cases x.x.1 to x.x.18.
var msgSizes = []struct{ size, frag int }{
	{16, 0}, {64, 0}, {256, 0}, {1024, 0}, {4096, 0}, {8192, 0}, {16384, 0}, {32768, 0}, {65536, 0}, {131072, 0},
	{8192, 256}, {16384, 256}, {32768, 256}, {65536, 256}, {131072, 256}, {131072, 1024}, {131072, 4096}, {131072, 32768},
}

// messageCount is how many messages a case sends: the suite's 1000 with
// CONFORMANCE_FULL, otherwise fewer, about 512 KiB a case (64 KiB under the
// race detector, which slows compress/flate tenfold in harness and testee).
func messageCount(size int) int {
	if full {
		return 1000
	}
	budget := 512 << 10
	if raceEnabled {
		budget = 64 << 10
	}
	return max(2, min(50, budget/size))
}

// testData stands in for the suite's test files, which are not available
// here: generated, deterministic data of the same kinds.
type testData struct {
	name   string
	binary bool
	data   []byte
}

var testDataOnce = sync.OnceValue(func() []testData {
	return []testData{
		{"Human readable text, German (binary)", true, genText(300<<10, true)},
		{"Bitmap 512x512 grey (binary)", true, genBitmap()},
		{"A larger PDF-like file, mixed (binary)", true, genMixed(400 << 10)},
		{"Large JSON data (utf8)", false, genJSON(300 << 10)},
		{"Large HTML data (utf8)", false, genHTML(300 << 10)},
	}
})

func genText(n int, umlauts bool) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("Habe nun ach Philosophie Juristerei und Medizin und leider auch Theologie durchaus studiert mit heißem Bemühn Da steh ich nun ich armer Tor Und bin so klug als wie zuvor Heiße Magister heiße Doktor gar Und ziehe schon an die zehen Jahr Herauf herab und quer und krumm Meine Schüler an der Nase herum Und sehe daß wir nichts wissen können Das will mir schier das Herz verbrennen Zwar bin ich gescheiter als all die Laffen Doktoren Magister Schreiber und Pfaffen Mich plagen keine Skrupel noch Zweifel Fürchte mich weder vor Hölle noch Teufel")
	plain := strings.NewReplacer("ß", "ss", "ü", "ue", "ö", "oe", "ä", "ae")
	var sb strings.Builder
	for sb.Len() < n {
		w := words[r.IntN(len(words))]
		if !umlauts {
			w = plain.Replace(w)
		}
		sb.WriteString(w)
		switch r.IntN(12) {
		case 0:
			sb.WriteString(".\n")
		case 1:
			sb.WriteString(", ")
		default:
			sb.WriteByte(' ')
		}
	}
	return []byte(sb.String()[:n])
}

func genBitmap() []byte {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 0, 54+1024+512*512)
	b = append(b, "BM"...)
	b = append(b, make([]byte, 52+1024)...)
	for y := range 512 {
		for x := range 512 {
			v := (x*x+y*y)/1024 + r.IntN(8)
			b = append(b, byte(v))
		}
	}
	return b
}

func genMixed(n int) []byte {
	r := rand.New(rand.NewPCG(5, 6))
	text := genText(n, false)
	b := make([]byte, 0, n)
	for len(b) < n {
		if r.IntN(3) == 0 {
			k := 256 + r.IntN(4096)
			for range k {
				b = append(b, byte(r.Uint32()))
			}
		} else {
			k := 512 + r.IntN(2048)
			off := r.IntN(len(text) - k)
			b = append(b, text[off:off+k]...)
		}
	}
	return b[:n]
}

func genJSON(n int) []byte {
	r := rand.New(rand.NewPCG(7, 8))
	var sb strings.Builder
	sb.WriteString("[")
	for i := 0; sb.Len() < n; i++ {
		fmt.Fprintf(&sb, `{"id":%d,"name":"user%d","email":"user%d@example.com","active":%v,"score":%.3f,"tags":["a%d","b%d"],"address":{"city":"City%d","zip":"%05d"}},`+"\n",
			i, r.IntN(100000), r.IntN(100000), r.IntN(2) == 0, r.Float64()*1000, r.IntN(50), r.IntN(50), r.IntN(300), r.IntN(100000))
	}
	return []byte(sb.String()[:n])
}

func genHTML(n int) []byte {
	r := rand.New(rand.NewPCG(9, 10))
	text := string(genText(n, false))
	var sb strings.Builder
	sb.WriteString("<!DOCTYPE html>\n<html><head><title>Test</title></head><body>\n")
	for sb.Len() < n {
		off := r.IntN(len(text) - 400)
		fmt.Fprintf(&sb, "<div class=\"c%d\"><p id=\"p%d\">%s</p><a href=\"/page/%d\">link</a></div>\n", r.IntN(20), r.IntN(1000), text[off:off+50+r.IntN(300)], r.IntN(1000))
	}
	return []byte(sb.String()[:n])
}

// The suite's offers (PerMessageDeflateOffer: accept_no_context_takeover and
// accept_max_window_bits on, so client_no_context_takeover and a bare
// client_max_window_bits are always in the offer) and its server's accept
// functions (accept1 to accept7 in case12_x_x.py), as pmdParams.
func suiteOffer(requestNoCtx bool, requestBits int) pmdParams {
	return pmdParams{clientNoCtx: true, clientBits: -1, serverNoCtx: requestNoCtx, serverBits: requestBits}
}

// offerAccept is PerMessageDeflateOfferAccept: the response echoes what the
// client asked of the server and adds what the suite asks of the client.
func offerAccept(o pmdParams, requestNoCtx bool, requestBits int) pmdParams {
	return pmdParams{serverNoCtx: o.serverNoCtx, serverBits: max(0, o.serverBits), clientNoCtx: requestNoCtx, clientBits: requestBits}
}

func acceptIf(need func(o pmdParams) bool, requestNoCtx bool, requestBits int) func([]pmdParams) (pmdParams, bool) {
	return func(offers []pmdParams) (pmdParams, bool) {
		for _, o := range offers {
			if need(o) {
				return offerAccept(o, requestNoCtx, requestBits), true
			}
		}
		return pmdParams{}, false
	}
}

var (
	anyOffer       = func(pmdParams) bool { return true }
	acceptsNoCtx   = func(o pmdParams) bool { return o.clientNoCtx }
	acceptsBits    = func(o pmdParams) bool { return o.clientBits != 0 }
	acceptsBoth    = func(o pmdParams) bool { return o.clientNoCtx && o.clientBits != 0 }
	accept1        = acceptIf(anyOffer, false, 0)
	accept2        = acceptIf(acceptsNoCtx, true, 0)
	accept3        = acceptIf(acceptsBits, false, 8)
	accept4        = acceptIf(acceptsBits, false, 15)
	accept5        = acceptIf(acceptsBoth, true, 8)
	accept6        = acceptIf(acceptsBoth, true, 15)
	accept7        = func(o []pmdParams) (pmdParams, bool) { return firstAccept(o, accept5, accept2, accept1) }
	defaultPMDCase = &pmdCase{offers: []pmdParams{suiteOffer(false, 0)}, accept: accept1}
)

func firstAccept(o []pmdParams, fs ...func([]pmdParams) (pmdParams, bool)) (pmdParams, bool) {
	for _, f := range fs {
		if r, ok := f(o); ok {
			return r, true
		}
	}
	return pmdParams{}, false
}

func compressionCases() []caseDef {
	var cs []caseDef
	for j, td := range testDataOnce() {
		for i, s := range msgSizes {
			cs = append(cs, caseDef{
				id:      fmt.Sprintf("12.%d.%d", j+1, i+1),
				desc:    fmt.Sprintf("%s: send %d compressed messages of %d bytes, auto-fragment %d, default offer", td.name, messageCount(s.size), s.size, s.frag),
				pmd:     defaultPMDCase,
				timeout: 30 * time.Second,
				run:     pmdEcho(td, s.size, s.frag),
			})
		}
	}
	json := testDataOnce()[3]
	for j, dp := range []pmdCase{
		{[]pmdParams{suiteOffer(false, 0)}, accept1},
		{[]pmdParams{suiteOffer(true, 0)}, accept2},
		{[]pmdParams{suiteOffer(false, 8)}, accept3},
		{[]pmdParams{suiteOffer(false, 15)}, accept4},
		{[]pmdParams{suiteOffer(true, 8)}, accept5},
		{[]pmdParams{suiteOffer(true, 15)}, accept6},
		{[]pmdParams{suiteOffer(true, 8), suiteOffer(true, 0), suiteOffer(false, 0)}, accept7},
	} {
		for i, s := range msgSizes {
			cs = append(cs, caseDef{
				id:      fmt.Sprintf("13.%d.%d", j+1, i+1),
				desc:    fmt.Sprintf("send %d compressed messages of %d bytes, auto-fragment %d; offers %v", messageCount(s.size), s.size, s.frag, dp.offers),
				pmd:     &dp,
				timeout: 30 * time.Second,
				run:     pmdEcho(json, s.size, s.frag),
			})
		}
	}
	// Beyond the suite: server_max_window_bits from 9 to 14 (the suite
	// asks for 8 and 15 only), with message sizes around the window, every
	// echo compressed within the window.
	server := serverRole
	for _, bits := range []int{9, 10, 11, 12, 13, 14} {
		for k, noCtx := range []bool{false, true} {
			dp := &pmdCase{offers: []pmdParams{suiteOffer(noCtx, bits)}}
			sizes := []int{64, 1<<bits - 1, 1 << bits, 1<<bits + 1, 4 << bits, 65536}
			for i, size := range sizes {
				cs = append(cs, caseDef{
					id:      fmt.Sprintf("x13.%d.w%d.%d", 3+2*k, bits, i+1),
					desc:    fmt.Sprintf("(not in the suite) send %d compressed messages of %d bytes; offer %v", min(10, messageCount(size)), size, dp.offers[0]),
					pmd:     dp,
					onlyIn:  &server,
					timeout: 30 * time.Second,
					run:     pmdEchoN(json, size, 0, min(10, messageCount(size)), true),
				})
			}
		}
	}
	// The same in the client role: the harness's server limits the
	// client's window with client_max_window_bits, as the suite's accept3
	// to accept6 do for 8 and 15 bits.
	client := clientRole
	for _, bits := range []int{9, 10, 11, 12, 13, 14} {
		for k, noCtx := range []bool{false, true} {
			dp := &pmdCase{accept: acceptIf(acceptsBits, noCtx, bits)}
			sizes := []int{64, 1<<bits - 1, 1 << bits, 1<<bits + 1, 4 << bits, 65536}
			for i, size := range sizes {
				cs = append(cs, caseDef{
					id:      fmt.Sprintf("x13.%d.w%d.%d", 4+2*k, bits, i+1),
					desc:    fmt.Sprintf("(not in the suite) send %d compressed messages of %d bytes; answer client_max_window_bits=%d, client_no_context_takeover %v", min(10, messageCount(size)), size, bits, noCtx),
					pmd:     dp,
					onlyIn:  &client,
					timeout: 30 * time.Second,
					run:     pmdEchoN(json, size, 0, min(10, messageCount(size)), true),
				})
			}
		}
	}
	return append(cs, pmdExtraCases()...)
}

// pmdExtraCases go beyond the suite, on what it leaves out of sections 12
// and 13: control frames and errors inside compressed messages.
func pmdExtraCases() []caseDef {
	text := testDataOnce()[3].data[:3000]
	x := func(id, desc string, run func(p *peer)) caseDef {
		return caseDef{id: id, desc: "(not in the suite) " + desc, pmd: defaultPMDCase, run: run}
	}
	return []caseDef{
		x("x12.1", "compressed text in 3 frames with a ping between them: pong at once, then the echo", func(p *peer) {
			c := p.pmd.compress(text)
			n := len(c) / 3
			p.send(fr{op: opText, rsv: rsv1, data: c[:n], more: true})
			p.send(fr{op: opPing, data: b("between")})
			p.send(fr{op: opCont, data: c[n : 2*n], more: true})
			p.expectPong(b("between"))
			p.send(fr{op: opCont, data: c[2*n:]})
			p.expectMessage(opText, text)
			p.closeHandshake(1000, "")
		}),
		x("x12.2", "compressed text that inflates to invalid UTF-8: fail 1007", func(p *peer) {
			p.send(fr{op: opText, rsv: rsv1, data: p.pmd.compress(append(bytesClone(text), "\xed\xa0\x80"...))})
			p.expectFail(1007)
		}),
		x("x12.3", "compressed message with RSV1 set on its continuation frame too: fail 1002 (RFC 7692 §6.1)", func(p *peer) {
			c := p.pmd.compress(text)
			p.send(fr{op: opBinary, rsv: rsv1, data: c[:10], more: true})
			p.send(fr{op: opCont, rsv: rsv1, data: c[10:]})
			p.expectFail(1002)
		}),
		x("x12.4", "ping with RSV1 set, permessage-deflate agreed: fail 1002 (RFC 7692 §6.1)", func(p *peer) {
			p.send(fr{op: opPing, rsv: rsv1, data: b("ping")})
			p.expectFail(1002)
		}),
		x("x12.5", "RSV1 message that is not DEFLATE data: fail 1007 (1002 accepted)", func(p *peer) {
			p.send(fr{op: opBinary, rsv: rsv1, data: b("\xff\xff\xff\xff\xff\xff")})
			p.expectFail(1007, 1002)
		}),
		x("x12.6", "uncompressed and compressed messages mixed (RSV1 is per message, RFC 7692 §6)", func(p *peer) {
			for i := range 4 {
				msg := text[i*100 : i*100+700]
				if i%2 == 0 {
					p.send(fr{op: opText, data: msg})
				} else {
					p.sendMessage(opText, msg, 0)
				}
				p.expectMessage(opText, msg)
			}
			p.closeHandshake(1000, "")
		}),
		x("x12.7", "compressed empty message", func(p *peer) {
			p.sendMessage(opText, []byte{}, 0)
			p.expectMessage(opText, []byte{})
			p.closeHandshake(1000, "")
		}),
		x("x12.8", "compressed message ending in a BFINAL block (RFC 7692 §7.2.3.4)", func(p *peer) {
			p.send(fr{op: opText, rsv: rsv1, data: compressFinal(text)})
			p.expectMessage(opText, text)
			p.closeHandshake(1000, "")
		}),
		x("x12.9", "compressed text split into frames of 1 byte", func(p *peer) {
			p.sendMessage(opText, text[:500], 1)
			p.expectMessage(opText, text[:500])
			p.closeHandshake(1000, "")
		}),
	}
}

func bytesClone(b []byte) []byte { return append([]byte(nil), b...) }

// compressFinal compresses msg into a stream ended by a final block, then
// the empty stored block of RFC 7692 §7.2.1 without its last 4 bytes.
func compressFinal(msg []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write(msg)
	w.Close()
	return append(buf.Bytes(), 0x00)
}

func pmdEcho(td testData, size, frag int) func(p *peer) {
	return pmdEchoN(td, size, frag, messageCount(size), false)
}

// pmdEchoN sends count messages and checks their echoes; with strict, an
// echo that comes uncompressed fails the case (the suite only notes it).
func pmdEchoN(td testData, size, frag, count int, strict bool) func(p *peer) {
	op := byte(opText)
	if td.binary {
		op = opBinary
	}
	return func(p *peer) {
		ptr, plain := 0, 0
		for range count {
			msg := make([]byte, 0, size)
			for len(msg) < size {
				k := min(size-len(msg), len(td.data)-ptr)
				msg = append(msg, td.data[ptr:ptr+k]...)
				ptr = (ptr + k) % len(td.data)
			}
			p.sendMessage(op, msg, frag)
			if e := p.expectMessage(op, msg); !e.compressed {
				plain++
			}
		}
		if plain > 0 && strict {
			p.failf("%d of %d echoes came uncompressed", plain, count)
		}
		if plain > 0 {
			p.notef("%d of %d echoes came uncompressed", plain, count)
		}
		p.closeHandshake(1000, "")
	}
}
