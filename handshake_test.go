package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// sampleKey and sampleAccept are the example of RFC 6455 §1.3.
const (
	sampleKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

const hsTimeout = 5 * time.Second

func TestAcceptKeyRFCExample(t *testing.T) {
	if got := AcceptKey(sampleKey); got != sampleAccept {
		t.Fatalf("AcceptKey(%q) = %q, want %q", sampleKey, got, sampleAccept)
	}
}

// hsListen returns a loopback listener closed when the test ends.
func hsListen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

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
	for _, server := range []struct {
		name  string
		serve func(*testing.T, *AcceptOptions) (string, chan error)
	}{{"Accept", acceptServer}, {"AcceptConn", acceptConnServer}} {
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

func TestAcceptConnSilentClientTimesOut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	addr, errs := acceptConnServer(t, &AcceptOptions{HandshakeTimeout: timeout})
	for _, sent := range []string{"", "GET / HTTP/1.1\r\nHost: x\r\n"} { // nothing; a request never finished
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		io.WriteString(nc, sent)
		err = hsRecvErr(t, errs)
		if !isTimeout(err) {
			t.Errorf("sent %q: error %v, want a timeout", sent, err)
		}
		if d := time.Since(start); d < timeout/2 || d > 10*timeout {
			t.Errorf("sent %q: returned after %v, want about %v", sent, d, timeout)
		}
		nc.Close()
	}
}

// hsFakeServer answers each WebSocket request with what respond returns, then
// holds the connection until the client closes it.
func hsFakeServer(t *testing.T, respond func(r *http.Request) string) string {
	t.Helper()
	ln := hsListen(t)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(hsTimeout))
				r, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				if _, err := io.WriteString(nc, respond(r)); err == nil {
					io.Copy(io.Discard, nc)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func response101(r *http.Request, extra string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		AcceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n" + extra + "\r\n"
}

func TestDialVerifiesResponse(t *testing.T) {
	longBody := strings.Repeat("x", 5000)
	tests := []struct {
		name        string
		offer       []string
		respond     func(r *http.Request) string
		wantStatus  int // 0: success
		wantBody    string
		wantSubprot string
	}{
		{name: "Valid", respond: func(r *http.Request) string { return response101(r, "") }},
		{name: "InterimResponseSkipped", respond: func(r *http.Request) string {
			return "HTTP/1.1 100 Continue\r\n\r\n" + response101(r, "")
		}},
		{name: "TokensCaseInsensitive", respond: func(r *http.Request) string {
			return "HTTP/1.1 101 OK\r\nUpgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\nSec-WebSocket-Accept: " +
				AcceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		}},
		{name: "WrongAccept", wantStatus: 101, respond: func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + sampleAccept + "\r\n\r\n"
		}},
		{name: "MissingAccept", wantStatus: 101, respond: func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		}},
		{name: "MissingUpgrade", wantStatus: 101, respond: func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
				AcceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		}},
		{name: "MissingConnection", wantStatus: 101, respond: func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " +
				AcceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
		}},
		{name: "Status200NotSwitching", wantStatus: 200, wantBody: "hello", respond: func(r *http.Request) string {
			return "HTTP/1.1 200 OK\r\nX-Test: yes\r\nContent-Length: 5\r\n\r\nhello"
		}},
		{name: "ErrorBodyBounded", wantStatus: 403, wantBody: longBody[:MaxHandshakeErrorBody], respond: func(r *http.Request) string {
			return "HTTP/1.1 403 Forbidden\r\nX-Test: yes\r\nContent-Length: 5000\r\n\r\n" + longBody
		}},
		{name: "UnofferedSubprotocol", offer: []string{"a"}, wantStatus: 101, respond: func(r *http.Request) string {
			return response101(r, "Sec-WebSocket-Protocol: b\r\n")
		}},
		{name: "SubprotocolWhenNoneOffered", wantStatus: 101, respond: func(r *http.Request) string {
			return response101(r, "Sec-WebSocket-Protocol: a\r\n")
		}},
		{name: "TwoSubprotocolsSelected", offer: []string{"a", "b"}, wantStatus: 101, respond: func(r *http.Request) string {
			return response101(r, "Sec-WebSocket-Protocol: a, b\r\n")
		}},
		{name: "OfferedSubprotocol", offer: []string{"a", "b"}, wantSubprot: "b", respond: func(r *http.Request) string {
			return response101(r, "Sec-WebSocket-Protocol: b\r\n")
		}},
		{name: "UnofferedExtension", wantStatus: 101, respond: func(r *http.Request) string {
			return response101(r, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
		}},
		{name: "EndlessHeader", wantStatus: -1, respond: func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\n" + strings.Repeat("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 4096)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := hsFakeServer(t, tt.respond)
			c, err := Dial(context.Background(), "ws://"+addr+"/", &DialOptions{Subprotocols: tt.offer, HandshakeTimeout: hsTimeout})
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				defer c.CloseNow()
				if c.Subprotocol() != tt.wantSubprot {
					t.Fatalf("Subprotocol() = %q, want %q", c.Subprotocol(), tt.wantSubprot)
				}
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatal("Dial succeeded")
			}
			if tt.wantStatus < 0 {
				return
			}
			var he *HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("error %v (%T), want *HandshakeError", err, err)
			}
			if he.StatusCode != tt.wantStatus || he.Reason == "" {
				t.Fatalf("status %d reason %q, want status %d", he.StatusCode, he.Reason, tt.wantStatus)
			}
			if string(he.Body) != tt.wantBody {
				t.Errorf("body %d bytes %.20q, want %d bytes", len(he.Body), he.Body, len(tt.wantBody))
			}
			if tt.wantStatus != 101 && he.Header.Get("X-Test") != "yes" {
				t.Errorf("header %v lacks X-Test", he.Header)
			}
		})
	}
}

func TestDialRequestHeaders(t *testing.T) {
	reqs := make(chan *http.Request, 2)
	addr := hsFakeServer(t, func(r *http.Request) string {
		reqs <- r
		return response101(r, "")
	})
	opts := &DialOptions{
		Subprotocols: []string{"chat", "superchat"},
		Header: http.Header{
			"Origin": {"http://app.example"}, "Authorization": {"Bearer t"},
			"Upgrade": {"h2c"}, "Sec-Websocket-Key": {sampleKey}, "Sec-Websocket-Version": {"8"},
		},
	}
	var keys []string
	for range 2 {
		c, err := Dial(context.Background(), "ws://"+addr+"/path?q=1", opts)
		if err != nil {
			t.Fatal(err)
		}
		c.CloseNow()
		r := <-reqs
		key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key"))
		if err != nil || len(key) != 16 {
			t.Fatalf("key %q: %d bytes, %v", r.Header.Get("Sec-WebSocket-Key"), len(key), err)
		}
		keys = append(keys, string(key))
		for k, want := range map[string]string{
			"Upgrade": "websocket", "Connection": "Upgrade", "Sec-Websocket-Version": "13",
			"Sec-Websocket-Protocol": "chat, superchat", "Origin": "http://app.example", "Authorization": "Bearer t",
		} {
			if got := r.Header[k]; len(got) != 1 || got[0] != want {
				t.Errorf("%s = %q, want only %q", k, got, want)
			}
		}
		if r.Method != "GET" || r.RequestURI != "/path?q=1" || r.Host != addr || r.Proto != "HTTP/1.1" {
			t.Errorf("request %s %s %s Host %s", r.Method, r.RequestURI, r.Proto, r.Host)
		}
	}
	if keys[0] == keys[1] || keys[0] == "the sample nonce" {
		t.Error("Sec-WebSocket-Key is not fresh for each handshake")
	}
}

func TestDialRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts DialOptions
	}{
		{"SchemeFTP", "ftp://127.0.0.1/", DialOptions{}},
		{"NoHost", "ws:///path", DialOptions{}},
		{"Fragment", "ws://127.0.0.1/#frag", DialOptions{}},
		{"SubprotocolNotToken", "ws://127.0.0.1/", DialOptions{Subprotocols: []string{"a b"}}},
		{"SubprotocolTwice", "ws://127.0.0.1/", DialOptions{Subprotocols: []string{"a", "a"}}},
		{"HeaderValueCRLF", "ws://127.0.0.1/", DialOptions{Header: http.Header{"X": {"a\r\nb: c"}}}},
		{"HeaderNameInvalid", "ws://127.0.0.1/", DialOptions{Header: http.Header{"A:B": {"c"}}}},
		{"ProxyNotHTTP", "ws://127.0.0.1/", DialOptions{Proxy: http.ProxyURL(&url.URL{Scheme: "socks5", Host: "127.0.0.1:1"})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dialed := false
			tt.opts.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dialed = true
				return nil, errors.New("must not dial")
			}
			if _, err := Dial(context.Background(), tt.url, &tt.opts); err == nil || dialed {
				t.Fatalf("err %v, dialed %v", err, dialed)
			}
		})
	}
}

func TestDialDefaultPorts(t *testing.T) {
	for in, want := range map[string]string{
		"ws://example.com/": "example.com:80", "wss://example.com": "example.com:443",
		"http://example.com": "example.com:80", "https://example.com": "example.com:443",
		"ws://example.com:8080": "example.com:8080", "ws://[::1]/": "[::1]:80",
	} {
		var got string
		opts := &DialOptions{
			Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
			NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				got = addr
				return nil, errors.New("stop")
			},
		}
		Dial(context.Background(), in, opts)
		if got != want {
			t.Errorf("%s dialed %q, want %q", in, got, want)
		}
	}
}

func TestDialContextCancelDuringHandshake(t *testing.T) {
	ln := hsListen(t)
	go func() { // accepts, reads, never answers
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(hsTimeout))
				io.Copy(io.Discard, nc)
			}()
		}
	}()
	url := "ws://" + ln.Addr().String()
	t.Run("Cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := Dial(ctx, url, nil)
		if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
			t.Fatalf("after %v: %v, want context.Canceled promptly", time.Since(start), err)
		}
	})
	t.Run("HandshakeTimeout", func(t *testing.T) {
		start := time.Now()
		_, err := Dial(context.Background(), url, &DialOptions{HandshakeTimeout: 100 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Fatalf("after %v: %v, want context.DeadlineExceeded promptly", time.Since(start), err)
		}
	})
}

func TestDialTLSForcesHTTP11(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := Accept(w, r, nil); err == nil {
			c.CloseNow()
		}
	}))
	srv.EnableHTTP2 = true // the server prefers h2 over ALPN
	srv.StartTLS()
	defer srv.Close()
	conf := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	conf.NextProtos = []string{"h2", "http/1.1"}
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	c, err := Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https"), &DialOptions{TLSConfig: conf})
	if err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	if len(conf.NextProtos) != 2 || conf.ServerName != "" {
		t.Error("Dial modified the caller's tls.Config")
	}
	// Without the test CA the certificate must be refused.
	if c, err := Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https"), nil); err == nil {
		c.CloseNow()
		t.Fatal("Dial trusted an unknown certificate")
	}
}

// connectProxy is an HTTP proxy that only tunnels CONNECT requests.
type connectProxy struct {
	mu      sync.Mutex
	connect int
	target  string
	auth    string
	status  int
}

func (p *connectProxy) serve(t *testing.T) *url.URL {
	t.Helper()
	ln := hsListen(t)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(nc)
		}
	}()
	return &url.URL{Scheme: "http", User: url.UserPassword("user", "pa:ss"), Host: ln.Addr().String()}
}

func (p *connectProxy) handle(nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(hsTimeout))
	r, err := http.ReadRequest(bufio.NewReader(nc))
	if err != nil || r.Method != http.MethodConnect {
		return
	}
	p.mu.Lock()
	p.connect++
	p.target, p.auth = r.RequestURI, r.Header.Get("Proxy-Authorization")
	status := p.status
	p.mu.Unlock()
	if status != 200 {
		fmt.Fprintf(nc, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", status, http.StatusText(status))
		return
	}
	up, err := net.DialTimeout("tcp", r.RequestURI, hsTimeout)
	if err != nil {
		return
	}
	defer up.Close()
	io.WriteString(nc, "HTTP/1.1 200 Connection established\r\n\r\n")
	go io.Copy(up, nc)
	io.Copy(nc, up)
}

func TestDialThroughConnectProxy(t *testing.T) {
	addr := hsFakeServer(t, func(r *http.Request) string { return response101(r, "") })
	for _, status := range []int{200, 407} {
		p := &connectProxy{status: status}
		proxyURL := p.serve(t)
		ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
		c, err := Dial(ctx, "ws://"+addr+"/", &DialOptions{Proxy: http.ProxyURL(proxyURL)})
		cancel()
		if status == 200 {
			if err != nil {
				t.Fatal(err)
			}
			c.CloseNow()
		} else if err == nil || !strings.Contains(err.Error(), "407") {
			t.Fatalf("proxy answered %d: err %v", status, err)
		}
		p.mu.Lock()
		wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pa:ss"))
		if p.connect != 1 || p.target != addr || p.auth != wantAuth {
			t.Errorf("proxy saw %d CONNECT to %q with auth %q; want 1 to %q with %q", p.connect, p.target, p.auth, addr, wantAuth)
		}
		p.mu.Unlock()
	}
}

// echo sends every message it reads back to the peer until the connection
// fails, bounded by hsTimeout.
func echo(c *Conn) {
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(hsTimeout))
	for {
		op, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(op, append([]byte(c.Subprotocol()+":"), p...)); err != nil {
			return
		}
	}
}

// exchange sends messages both ways through c, connected to an echo server
// that selected subprotocol "echo".
func exchange(t *testing.T, c *Conn) {
	t.Helper()
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(hsTimeout))
	if c.Subprotocol() != "echo" || c.IsServer() {
		t.Fatalf("client Subprotocol %q IsServer %v", c.Subprotocol(), c.IsServer())
	}
	// The large message crosses the handshake's header limit, which must not
	// outlive the handshake.
	for _, m := range []struct {
		op Opcode
		p  string
	}{{OpText, "hello"}, {OpBinary, strings.Repeat("\x00\xff", 20<<10)}} {
		if err := c.WriteMessage(m.op, []byte(m.p)); err != nil {
			t.Fatal(err)
		}
		op, p, err := c.ReadMessage()
		if err != nil || op != m.op || string(p) != "echo:"+m.p {
			t.Fatalf("got %v %.20q (%d bytes), %v; want %v echo:%.14q", op, p, len(p), err, m.op, m.p)
		}
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestAcceptDialRoundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{Subprotocols: []string{"echo"}})
		if err == nil {
			echo(c)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	c, err := Dial(ctx, srv.URL, &DialOptions{Subprotocols: []string{"other", "echo"}})
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, c)
}

func TestAcceptConnDialRoundTrip(t *testing.T) {
	ln := hsListen(t)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		if c, err := AcceptConn(nc, nil, &AcceptOptions{Subprotocols: []string{"echo"}}); err == nil {
			echo(c)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	c, err := Dial(ctx, "ws://"+ln.Addr().String(), &DialOptions{Subprotocols: []string{"echo"}})
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, c)
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

// TestDialKeepsBytesAfterResponse checks that a frame the server sends with
// its 101 reaches the client's first read.
func TestDialKeepsBytesAfterResponse(t *testing.T) {
	addr := hsFakeServer(t, func(r *http.Request) string {
		return response101(r, "") + "\x81\x05first"
	})
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	c, err := Dial(ctx, "ws://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(hsTimeout))
	if op, p, err := c.ReadMessage(); op != OpText || string(p) != "first" || err != nil {
		t.Fatalf("got %v %q %v, want text \"first\"", op, p, err)
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
