//go:build !js

package websocket

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// reqSpec describes a raw handshake request. The default is a valid request
// with the RFC's example key; set replaces the default headers it names.
type reqSpec struct {
	line string   // request line; "" means "GET /chat HTTP/1.1"
	omit []string // default header names to leave out
	set  []string // raw header lines, "Name: value"
	body string
}

func (s reqSpec) build(host string) string {
	line := s.line
	if line == "" {
		line = "GET /chat HTTP/1.1"
	}
	b := line + "\r\n"
	replaced := map[string]bool{}
	for _, o := range s.omit {
		replaced[http.CanonicalHeaderKey(o)] = true
	}
	for _, l := range s.set {
		name, _, _ := strings.Cut(l, ":")
		replaced[http.CanonicalHeaderKey(name)] = true
	}
	for _, kv := range [][2]string{
		{"Host", host}, {"Upgrade", "websocket"}, {"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", sampleKey}, {"Sec-WebSocket-Version", "13"},
	} {
		if !replaced[http.CanonicalHeaderKey(kv[0])] {
			b += kv[0] + ": " + kv[1] + "\r\n"
		}
	}
	for _, l := range s.set {
		b += l + "\r\n"
	}
	return b + "\r\n" + s.body
}

// hsRoundTrip writes req on a new connection to addr and reads the response.
func hsRoundTrip(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, hsTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(hsTimeout))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(resp.Body)
	}
	return resp, string(body)
}

// acceptServer serves Accept through an httptest.Server and reports the
// result of each call.
func acceptServer(t *testing.T, opts *AcceptOptions) (addr string, errs chan error) {
	t.Helper()
	errs = make(chan error, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if c != nil {
			c.CloseNow()
		}
		errs <- err
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), errs
}

// acceptConnServer serves AcceptConn on a raw listener.
func acceptConnServer(t *testing.T, opts *AcceptOptions) (addr string, errs chan error) {
	t.Helper()
	ln := hsListen(t)
	errs = make(chan error, 16)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c, err := AcceptConn(nc, nil, opts)
				if c != nil {
					c.CloseNow()
				}
				nc.Close()
				errs <- err
			}()
		}
	}()
	return ln.Addr().String(), errs
}

func hsRecvErr(t *testing.T, errs chan error) error {
	t.Helper()
	select {
	case err := <-errs:
		return err
	case <-time.After(hsTimeout):
		t.Fatal("the server never returned")
		return nil
	}
}

func TestAcceptValidatesRequest(t *testing.T) {
	key15 := base64.StdEncoding.EncodeToString(make([]byte, 15))
	key17 := base64.StdEncoding.EncodeToString(make([]byte, 17))
	tests := []struct {
		name       string
		req        reqSpec
		opts       AcceptOptions
		want       int
		wantHeader map[string]string
	}{
		{name: "Valid", want: 101},
		{name: "MethodMustBeGET", req: reqSpec{line: "POST /chat HTTP/1.1"}, want: 405, wantHeader: map[string]string{"Allow": "GET"}},
		{name: "TargetAsteriskRefused", req: reqSpec{line: "GET * HTTP/1.1"}, want: 400},
		{name: "TargetAbsoluteURI", req: reqSpec{line: "GET ws://chat.example/chat HTTP/1.1", set: []string{"Host: chat.example"}}, want: 101},
		{name: "HTTP10Refused", req: reqSpec{line: "GET /chat HTTP/1.0"}, want: 400},
		{name: "UpgradeMissing", req: reqSpec{omit: []string{"Upgrade"}}, want: 400},
		{name: "UpgradeOtherProtocol", req: reqSpec{set: []string{"Upgrade: h2c"}}, want: 400},
		{name: "UpgradeCaseInsensitive", req: reqSpec{set: []string{"Upgrade: WebSocket"}}, want: 101},
		{name: "UpgradeInList", req: reqSpec{set: []string{"Upgrade: foo/2, websocket"}}, want: 101},
		{name: "ConnectionMissing", req: reqSpec{omit: []string{"Connection"}}, want: 400},
		{name: "ConnectionKeepAliveUpgradeList", req: reqSpec{set: []string{"Connection: keep-alive, Upgrade"}}, want: 101},
		{name: "ConnectionTokensAcrossLines", req: reqSpec{set: []string{"Connection: keep-alive", "Connection: upgrade"}}, want: 101},
		{name: "ConnectionKeepAliveOnly", req: reqSpec{set: []string{"Connection: keep-alive"}}, want: 400},
		{name: "ConnectionUpgradeSubstringNotToken", req: reqSpec{set: []string{"Connection: upgrades"}}, want: 400},
		{name: "KeyMissing", req: reqSpec{omit: []string{"Sec-WebSocket-Key"}}, want: 400},
		{name: "Key15Bytes", req: reqSpec{set: []string{"Sec-WebSocket-Key: " + key15}}, want: 400},
		{name: "Key17Bytes", req: reqSpec{set: []string{"Sec-WebSocket-Key: " + key17}}, want: 400},
		{name: "KeyBadBase64", req: reqSpec{set: []string{"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!!"}}, want: 400},
		{name: "KeyTwice", req: reqSpec{set: []string{"Sec-WebSocket-Key: " + sampleKey, "Sec-WebSocket-Key: " + sampleKey}}, want: 400},
		{name: "Version8UpgradeRequired", req: reqSpec{set: []string{"Sec-WebSocket-Version: 8"}}, want: 426,
			wantHeader: map[string]string{"Sec-WebSocket-Version": "13", "Upgrade": "websocket"}},
		{name: "VersionTwice", req: reqSpec{set: []string{"Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 13"}}, want: 400},
		{name: "VersionMissingUpgradeRequired", req: reqSpec{omit: []string{"Sec-WebSocket-Version"}}, want: 426,
			wantHeader: map[string]string{"Sec-WebSocket-Version": "13"}},
		{name: "BodyRefused", req: reqSpec{set: []string{"Content-Length: 5"}, body: "hello"}, want: 400},
		{name: "CrossOriginForbidden", req: reqSpec{set: []string{"Origin: http://evil.example"}}, want: 403},
		{name: "OriginWithoutHostForbidden", req: reqSpec{set: []string{"Origin: data:,x"}}, want: 403},
		{name: "NoOriginAllowed", want: 101},
		{name: "SameOriginAllowed", req: reqSpec{set: []string{"Host: chat.example", "Origin: https://chat.example"}}, want: 101},
		{name: "SameOriginCaseInsensitive", req: reqSpec{set: []string{"Host: Chat.Example:8080", "Origin: http://chat.EXAMPLE:8080"}}, want: 101},
		{name: "SameOriginDefaultPort", req: reqSpec{set: []string{"Host: chat.example:443", "Origin: https://chat.example"}}, want: 101},
		{name: "SameHostOtherPortForbidden", req: reqSpec{set: []string{"Host: chat.example:8080", "Origin: http://chat.example:9090"}}, want: 403},
		{name: "OriginPatternAllowed", req: reqSpec{set: []string{"Origin: https://App.Example.com"}},
			opts: AcceptOptions{OriginPatterns: []string{"*.example.com"}}, want: 101},
		{name: "OriginPatternMismatchForbidden", req: reqSpec{set: []string{"Origin: https://example.com.evil"}},
			opts: AcceptOptions{OriginPatterns: []string{"*.example.com", "example.com"}}, want: 403},
		{name: "SkipOriginCheck", req: reqSpec{set: []string{"Origin: http://evil.example"}},
			opts: AcceptOptions{SkipOriginCheck: true}, want: 101},
		{name: "NullOriginForbidden", req: reqSpec{set: []string{"Origin: null"}}, want: 403},
		{name: "NullOriginPattern", req: reqSpec{set: []string{"Origin: null"}},
			opts: AcceptOptions{OriginPatterns: []string{"null"}}, want: 101},
		{name: "NullOriginSkip", req: reqSpec{set: []string{"Origin: null"}},
			opts: AcceptOptions{SkipOriginCheck: true}, want: 101},
	}
	for _, server := range acceptServers {
		t.Run(server.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					addr, errs := server.serve(t, &tt.opts)
					resp, body := hsRoundTrip(t, addr, tt.req.build(addr))
					err := hsRecvErr(t, errs)
					if resp.StatusCode != tt.want {
						t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tt.want)
					}
					for k, v := range tt.wantHeader {
						if got := resp.Header.Get(k); got != v {
							t.Errorf("%s: %q, want %q", k, got, v)
						}
					}
					if tt.want != 101 {
						if err == nil {
							t.Error("server returned no error")
						}
						if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || strings.TrimSpace(body) == "" {
							t.Errorf("want a plain-text reason, got %q: %q", resp.Header.Get("Content-Type"), body)
						}
						return
					}
					if err != nil {
						t.Fatalf("server error: %v", err)
					}
					if got := resp.Header.Get("Sec-WebSocket-Accept"); got != sampleAccept {
						t.Errorf("Sec-WebSocket-Accept %q, want %q", got, sampleAccept)
					}
					if !headerHasToken(resp.Header, "Upgrade", "websocket") || !headerHasToken(resp.Header, "Connection", "upgrade") {
						t.Errorf("101 without Upgrade/Connection: %v", resp.Header)
					}
				})
			}
		})
	}
}

func TestAcceptSubprotocolServerPreference(t *testing.T) {
	tests := []struct {
		name    string
		server  []string
		offered []string // raw header lines
		want    string
	}{
		{"ServerOrderWins", []string{"v2", "v1"}, []string{"Sec-WebSocket-Protocol: v1, v2"}, "v2"},
		{"ListAcrossLines", []string{"chat", "v1"}, []string{"Sec-WebSocket-Protocol: v1", "Sec-WebSocket-Protocol: x,chat"}, "chat"},
		{"OnlyCommonOne", []string{"a", "b"}, []string{"Sec-WebSocket-Protocol: c, b"}, "b"},
		{"NoneInCommon", []string{"a"}, []string{"Sec-WebSocket-Protocol: b"}, ""},
		{"ServerHasNone", nil, []string{"Sec-WebSocket-Protocol: a"}, ""},
		{"ClientOffersNone", []string{"a"}, nil, ""},
		{"CaseSensitive", []string{"Chat"}, []string{"Sec-WebSocket-Protocol: chat"}, ""},
		{"NonTokenNeverSelected", []string{"a b", "c"}, []string{"Sec-WebSocket-Protocol: a b, c"}, "c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, errs := acceptServer(t, &AcceptOptions{Subprotocols: tt.server})
			resp, _ := hsRoundTrip(t, addr, reqSpec{set: tt.offered}.build(addr))
			if err := hsRecvErr(t, errs); err != nil || resp.StatusCode != 101 {
				t.Fatalf("status %d, err %v", resp.StatusCode, err)
			}
			got := resp.Header.Values("Sec-WebSocket-Protocol")
			if tt.want == "" && len(got) != 0 || tt.want != "" && (len(got) != 1 || got[0] != tt.want) {
				t.Fatalf("Sec-WebSocket-Protocol %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAcceptHostRequired checks that a request without a valid Host, the
// server's authority (RFC 6455 §4.2.1 item 2, RFC 9112 §3.2), is refused
// with 400. http.Server refuses these before Accept runs; AcceptConn reads
// the request itself and must refuse them too.
func TestAcceptHostRequired(t *testing.T) {
	tests := []struct {
		name string
		req  reqSpec
	}{
		{"Missing", reqSpec{omit: []string{"Host"}}},
		{"Empty", reqSpec{set: []string{"Host: "}}},
		{"Space", reqSpec{set: []string{"Host: chat example"}}},
		{"UserInfo", reqSpec{set: []string{"Host: user@chat.example"}}},
		{"Twice", reqSpec{set: []string{"Host: chat.example", "Host: chat.example"}}},
	}
	for _, server := range acceptServers {
		t.Run(server.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					addr, errs := server.serve(t, nil)
					resp, body := hsRoundTrip(t, addr, tt.req.build(addr))
					if resp.StatusCode != http.StatusBadRequest {
						t.Fatalf("status %d %q, want 400", resp.StatusCode, body)
					}
					if server.name == "AcceptConn" && hsRecvErr(t, errs) == nil {
						t.Fatal("AcceptConn returned no error")
					}
				})
			}
		})
	}
}

func TestAcceptResponseHeaderCannotOverrideHandshake(t *testing.T) {
	opts := &AcceptOptions{ResponseHeader: http.Header{
		"Set-Cookie":           {"session=1"},
		"Upgrade":              {"h2c"},
		"Connection":           {"close"},
		"Sec-Websocket-Accept": {"forged"},
		"X-Injected":           {"a\r\nEvil: 1"},
		"Bad Name":             {"x"},
	}}
	for _, serve := range []func(*testing.T, *AcceptOptions) (string, chan error){acceptServer, acceptConnServer} {
		addr, errs := serve(t, opts)
		resp, _ := hsRoundTrip(t, addr, reqSpec{}.build(addr))
		if err := hsRecvErr(t, errs); err != nil || resp.StatusCode != 101 {
			t.Fatalf("status %d, err %v", resp.StatusCode, err)
		}
		h := resp.Header
		if h.Get("Set-Cookie") != "session=1" {
			t.Errorf("Set-Cookie %q", h.Get("Set-Cookie"))
		}
		for k, want := range map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-Websocket-Accept": sampleAccept} {
			if len(h[k]) != 1 || h[k][0] != want {
				t.Errorf("%s = %q, want only %q", k, h[k], want)
			}
		}
		if h.Get("Evil") != "" || h.Get("Bad Name") != "" {
			t.Errorf("header injected: %v", h)
		}
	}
}

func TestAcceptConnHeaderLargerThanLimit(t *testing.T) {
	addr, errs := acceptConnServer(t, &AcceptOptions{MaxHeaderBytes: 1024})
	// Just under the limit is fine; over it is refused with 431.
	small := reqSpec{set: []string{"X-Pad: " + strings.Repeat("a", 700)}}
	if resp, _ := hsRoundTrip(t, addr, small.build(addr)); resp.StatusCode != 101 {
		t.Fatalf("request under the limit: status %d", resp.StatusCode)
	}
	if err := hsRecvErr(t, errs); err != nil {
		t.Fatal(err)
	}
	big := reqSpec{set: []string{"X-Pad: " + strings.Repeat("a", 2000)}}
	resp, _ := hsRoundTrip(t, addr, big.build(addr))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
	if err := hsRecvErr(t, errs); err == nil {
		t.Fatal("AcceptConn accepted an oversized request")
	}
}

// TestAcceptConnSilentClientTimesOut: AcceptConn gives up on a client that
// sends nothing, or never finishes its request, after HandshakeTimeout: no
// sooner, and before DefaultHandshakeTimeout, which it would take otherwise.
func TestAcceptConnSilentClientTimesOut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	addr, errs := acceptConnServer(t, &AcceptOptions{HandshakeTimeout: timeout})
	for _, sent := range []string{"", "GET / HTTP/1.1\r\nHost: x\r\n"} { // nothing; a request never finished
		start := time.Now() // before the server can start its timer
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(nc, sent)
		err = hsRecvErr(t, errs)
		if !isTimeout(err) {
			t.Errorf("sent %q: error %v, want a timeout", sent, err)
		}
		if d := time.Since(start); d < timeout || d >= DefaultHandshakeTimeout {
			t.Errorf("sent %q: returned after %v, want %v or a little more", sent, d, timeout)
		}
		nc.Close()
	}
}

// TestAcceptKeepsBytesAfterRequest checks that a frame arriving with the
// request, in the same read, is not lost with the handshake's buffer.
func TestAcceptKeepsBytesAfterRequest(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	payload := []byte("early")
	frame := AppendHeader(nil, Header{Fin: true, Opcode: OpText, Masked: true, Mask: key, Length: int64(len(payload))})
	Mask(key, 0, payload)
	frame = append(frame, payload...)

	got := make(chan string, 1)
	check := func(c *Conn, err error) {
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.CloseNow()
		c.SetDeadline(time.Now().Add(hsTimeout))
		_, p, err := c.ReadMessage()
		got <- fmt.Sprintf("%s %v", p, err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		check(Accept(w, r, nil))
	}))
	defer srv.Close()
	ln := hsListen(t)
	go func() {
		if nc, err := ln.Accept(); err == nil {
			defer nc.Close()
			check(AcceptConn(nc, nil, nil))
		}
	}()
	for _, addr := range []string{srv.Listener.Addr().String(), ln.Addr().String()} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(hsTimeout))
		nc.Write(append([]byte(reqSpec{}.build(addr)), frame...))
		select {
		case s := <-got:
			if s != "early <nil>" {
				t.Errorf("%s: read %q, want the early frame", addr, s)
			}
		case <-time.After(hsTimeout):
			t.Fatal("no message")
		}
		nc.Close()
	}
}

// TestAcceptConnReadsPastHeaderLimit checks that the handshake's header
// limit ends with the handshake: messages larger than MaxHeaderBytes, one
// sent right behind the request and one after, are read whole, whether or
// not the caller passes a buffered reader of its own.
func TestAcceptConnReadsPastHeaderLimit(t *testing.T) {
	key := [4]byte{9, 8, 7, 6}
	frame := func(n int) ([]byte, []byte) {
		payload := bytes.Repeat([]byte{'z'}, n)
		f := AppendHeader(nil, Header{Fin: true, Opcode: OpBinary, Masked: true, Mask: key, Length: int64(n)})
		masked := slices.Clone(payload)
		Mask(key, 0, masked)
		return append(f, masked...), payload
	}
	for _, ownReader := range []bool{false, true} {
		ln := hsListen(t)
		type result struct {
			msgs [][]byte
			err  error
		}
		done := make(chan result, 1)
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				done <- result{err: err}
				return
			}
			defer nc.Close()
			var br *bufio.Reader
			if ownReader {
				br = bufio.NewReaderSize(nc, 64<<10)
			}
			c, err := AcceptConn(nc, br, &AcceptOptions{MaxHeaderBytes: 1024})
			if err != nil {
				done <- result{err: err}
				return
			}
			c.SetDeadline(time.Now().Add(hsTimeout))
			var r result
			for range 2 {
				_, p, err := c.ReadMessage()
				if err != nil {
					r.err = err
					break
				}
				r.msgs = append(r.msgs, p)
			}
			done <- r
		}()
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(hsTimeout))
		f1, p1 := frame(20000)
		f2, p2 := frame(30000)
		nc.Write(append([]byte(reqSpec{}.build(ln.Addr().String())), f1...))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %v %v", resp, err)
		}
		nc.Write(f2)
		select {
		case r := <-done:
			if r.err != nil || len(r.msgs) != 2 || !bytes.Equal(r.msgs[0], p1) || !bytes.Equal(r.msgs[1], p2) {
				t.Fatalf("own reader %v: read %d messages, %v", ownReader, len(r.msgs), r.err)
			}
		case <-time.After(hsTimeout):
			t.Fatal("no messages")
		}
	}
}

// deflateResponse returns the parameters of the server's single
// permessage-deflate response, or ok false when the response names no
// extension. It fails the test on anything else.
func deflateResponse(t *testing.T, h http.Header) (params map[string]string, ok bool) {
	t.Helper()
	v := h.Values("Sec-WebSocket-Extensions")
	if len(v) == 0 {
		return nil, false
	}
	if len(v) != 1 || strings.Contains(v[0], ",") {
		t.Fatalf("Sec-WebSocket-Extensions %q: want one extension", v)
	}
	elems := strings.Split(v[0], ";")
	if name := strings.TrimSpace(elems[0]); name != "permessage-deflate" {
		t.Fatalf("server accepted %q, which was not offered", name)
	}
	params = map[string]string{}
	for _, e := range elems[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(e), "=")
		if _, dup := params[k]; dup {
			t.Fatalf("parameter %s repeated in %q", k, v[0])
		}
		params[k] = val
	}
	return params, true
}

// TestAcceptDeflateResponse checks the server's answer to permessage-deflate
// offers (RFC 7692 §5, §7.1) through both entry points: it accepts at most
// one offer, the first it can honour, declines rather than fails on offers
// it cannot, and answers each parameter as the RFC requires.
func TestAcceptDeflateResponse(t *testing.T) {
	const (
		snct = "server_no_context_takeover"
		cnct = "client_no_context_takeover"
	)
	tests := []struct {
		name   string
		offers []string // Sec-WebSocket-Extensions lines
		opts   CompressionOptions
		want   map[string]string // nil: declined
	}{
		// The offer of Chrome and Firefox. §7.1.1: the server may refuse to
		// keep either context without being asked.
		{name: "BrowserOfferNoTakeover", offers: []string{"permessage-deflate; client_max_window_bits"},
			want: map[string]string{snct: "", cnct: ""}},
		{name: "BrowserOfferTakeover", offers: []string{"permessage-deflate; client_max_window_bits"},
			opts: CompressionOptions{ContextTakeover: true}, want: map[string]string{}},
		// §7.1.1.1: asked not to take over its context, a server that
		// accepts must say so.
		{name: "ServerNoContextTakeoverHonoured", offers: []string{"permessage-deflate; server_no_context_takeover"},
			opts: CompressionOptions{ContextTakeover: true}, want: map[string]string{snct: ""}},
		{name: "ClientNoContextTakeoverHonoured", offers: []string{"permessage-deflate; client_no_context_takeover"},
			opts: CompressionOptions{ContextTakeover: true}, want: map[string]string{cnct: ""}},
		// §7.1.2.1: accepting a window limit means answering it, no larger.
		{name: "ServerWindowLimitAnswered", offers: []string{"permessage-deflate; server_max_window_bits=10"},
			opts: CompressionOptions{ContextTakeover: true}, want: map[string]string{"server_max_window_bits": "10"}},
		// §7.1.2.2: client_max_window_bits in the response only if offered.
		{name: "NoClientWindowBitsUnoffered", offers: []string{"permessage-deflate"},
			opts: CompressionOptions{ContextTakeover: true}, want: map[string]string{}},
		// §5: offers in preference order; ones the server cannot honour are
		// skipped (§7.1: declined, not failed).
		{name: "FirstAcceptableOfSeveral", offers: []string{
			"permessage-deflate; server_max_window_bits=7, permessage-deflate; x-unknown, " +
				"permessage-deflate; client_max_window_bits=9; server_max_window_bits=12, permessage-deflate"},
			opts: CompressionOptions{ContextTakeover: true}, want: map[string]string{"server_max_window_bits": "12"}},
		{name: "OffersAcrossHeaderLines", offers: []string{"x-webkit-deflate-frame", "permessage-deflate; server_no_context_takeover"},
			opts: CompressionOptions{ContextTakeover: true}, want: map[string]string{snct: ""}},
		{name: "QuotedParameterValue", offers: []string{`permessage-deflate; server_max_window_bits="11"`},
			opts: CompressionOptions{ContextTakeover: true}, want: map[string]string{"server_max_window_bits": "11"}},
		{name: "ServerDisabledDeclines", offers: []string{"permessage-deflate; client_max_window_bits"},
			opts: CompressionOptions{Disabled: true}},
		{name: "UnknownExtensionIgnored", offers: []string{"x-webkit-deflate-frame"}},
		{name: "RepeatedParameterDeclined", offers: []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}},
		{name: "WindowBitsWithoutValueDeclined", offers: []string{"permessage-deflate; server_max_window_bits"}},
		{name: "WindowBitsOutOfRangeDeclined", offers: []string{"permessage-deflate; client_max_window_bits=16"}},
		{name: "NoContextTakeoverWithValueDeclined", offers: []string{"permessage-deflate; client_no_context_takeover=1"}},
		{name: "MalformedHeaderDeclined", offers: []string{"permessage-deflate; ="}},
		{name: "NoOffer"},
	}
	for _, server := range acceptServers {
		t.Run(server.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					addr, errs := server.serve(t, &AcceptOptions{Compression: tt.opts})
					var lines []string
					for _, o := range tt.offers {
						lines = append(lines, "Sec-WebSocket-Extensions: "+o)
					}
					resp, body := hsRoundTrip(t, addr, reqSpec{set: lines}.build(addr))
					// An offer, good or bad, never costs the connection.
					if err := hsRecvErr(t, errs); err != nil || resp.StatusCode != 101 {
						t.Fatalf("status %d %q, server error %v", resp.StatusCode, body, err)
					}
					got, ok := deflateResponse(t, resp.Header)
					switch {
					case tt.want == nil && ok:
						t.Fatalf("accepted with %v, want declined", got)
					case tt.want != nil && !ok:
						t.Fatal("declined, want accepted")
					case ok && !maps.Equal(got, tt.want):
						t.Fatalf("response parameters %v, want %v", got, tt.want)
					}
				})
			}
		})
	}
}

// acceptServers are the two ways to serve a handshake, which every server
// check runs against.
var acceptServers = []struct {
	name  string
	serve func(*testing.T, *AcceptOptions) (string, chan error)
}{{"Accept", acceptServer}, {"AcceptConn", acceptConnServer}}
