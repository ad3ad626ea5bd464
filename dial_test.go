//go:build !js

package websocket

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

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

// noTakeover is the answer to the offer of a zero CompressionOptions, which
// asks the server not to keep its context (RFC 7692 §7.1.1).
const noTakeover = "server_no_context_takeover; client_no_context_takeover"

// respondExt answers with a 101 carrying one Sec-WebSocket-Extensions line
// for each of exts.
func respondExt(exts ...string) func(r *http.Request) string {
	return func(r *http.Request) string {
		var h string
		for _, e := range exts {
			h += "Sec-WebSocket-Extensions: " + e + "\r\n"
		}
		return response101(r, h)
	}
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
		comp        CompressionOptions
		wantDeflate bool // on success, permessage-deflate is in use
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
		// §4.1: Upgrade is "websocket", case-insensitively, and no list.
		{name: "UpgradeList", wantStatus: 101, respond: func(r *http.Request) string {
			return strings.Replace(response101(r, ""), "Upgrade: websocket", "Upgrade: websocket, h2c", 1)
		}},
		{name: "UpgradeTwice", wantStatus: 101, respond: func(r *http.Request) string {
			return response101(r, "Upgrade: websocket\r\n")
		}},
		// §11.3.3: Sec-WebSocket-Accept at most once, even if right.
		{name: "AcceptTwice", wantStatus: 101, respond: func(r *http.Request) string {
			return response101(r, "Sec-WebSocket-Accept: "+AcceptKey(r.Header.Get("Sec-WebSocket-Key"))+"\r\n")
		}},
		// §4.1 item 6, §11.3.4: one subprotocol, on one line.
		{name: "SubprotocolTwoLines", offer: []string{"a", "b"}, wantStatus: 101, respond: func(r *http.Request) string {
			return response101(r, "Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: a\r\n")
		}},
		{name: "Status101NoHeaders", wantStatus: 101, respond: func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\n\r\n"
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
		// §4.1 item 5: an extension not offered fails the connection.
		{name: "UnofferedExtension", comp: CompressionOptions{Disabled: true}, wantStatus: 101, respond: func(r *http.Request) string {
			return response101(r, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
		}},
		{name: "UnknownExtension", wantStatus: 101, respond: respondExt("x-webkit-deflate-frame")},
		{name: "DeflateAndUnknownExtension", wantStatus: 101, respond: respondExt("permessage-deflate; " + noTakeover + ", x-foo")},
		{name: "DeflateAcceptedTwice", wantStatus: 101, respond: respondExt("permessage-deflate; "+noTakeover, "permessage-deflate; "+noTakeover)},
		{name: "DeflateDeclined", respond: respondExt()},
		{name: "DeflateAccepted", wantDeflate: true, respond: respondExt("permessage-deflate; " + noTakeover)},
		{name: "DeflateParamsCaseInsensitive", wantDeflate: true, respond: respondExt("Permessage-Deflate; Server_No_Context_Takeover;Client_No_Context_Takeover")},
		// RFC 7692 §7.1.2.1: a server may limit its own window unasked.
		{name: "DeflateServerWindowLimit", wantDeflate: true,
			respond: respondExt("permessage-deflate; " + noTakeover + "; server_max_window_bits=9")},
		// §7.1.1.1: the server may decline to take over its context unasked.
		{name: "DeflateServerNoTakeoverUnasked", comp: CompressionOptions{ContextTakeover: true}, wantDeflate: true,
			respond: respondExt("permessage-deflate; server_no_context_takeover")},
		{name: "DeflateTakeover", comp: CompressionOptions{ContextTakeover: true}, wantDeflate: true, respond: respondExt("permessage-deflate")},
		// §7.1.1.1: asked not to take over its context, a server that accepts
		// must say so; a response that does not answers no offer (§7.1).
		{name: "DeflateServerNoTakeoverIgnored", wantStatus: 101, respond: respondExt("permessage-deflate; client_no_context_takeover")},
		{name: "DeflateUnknownParameter", wantStatus: 101, respond: respondExt("permessage-deflate; " + noTakeover + "; x=1")},
		{name: "DeflateRepeatedParameter", wantStatus: 101,
			respond: respondExt("permessage-deflate; " + noTakeover + "; server_no_context_takeover")},
		{name: "DeflateNoContextTakeoverWithValue", wantStatus: 101,
			respond: respondExt("permessage-deflate; server_no_context_takeover=1; client_no_context_takeover")},
		// §7.1.2.2: client_max_window_bits, offered, needs a value in a response.
		{name: "DeflateClientWindowBitsWithoutValue", wantStatus: 101,
			respond: respondExt("permessage-deflate; " + noTakeover + "; client_max_window_bits")},
		{name: "DeflateWindowBitsWithoutValue", wantStatus: 101,
			respond: respondExt("permessage-deflate; " + noTakeover + "; server_max_window_bits")},
		{name: "DeflateWindowBitsTooLarge", wantStatus: 101,
			respond: respondExt("permessage-deflate; " + noTakeover + "; server_max_window_bits=16")},
		{name: "DeflateWindowBitsTooSmall", wantStatus: 101,
			respond: respondExt("permessage-deflate; " + noTakeover + "; server_max_window_bits=7")},
		{name: "DeflateMalformed", wantStatus: 101, respond: respondExt("permessage-deflate; " + noTakeover + `; x="`)},
		{name: "EndlessHeader", wantStatus: -1, respond: func(r *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\n" + strings.Repeat("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 4096)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := hsFakeServer(t, tt.respond)
			c, err := Dial(context.Background(), "ws://"+addr+"/", &DialOptions{Subprotocols: tt.offer, HandshakeTimeout: hsTimeout, Compression: tt.comp})
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatal(err)
				}
				defer c.CloseNow()
				if c.Subprotocol() != tt.wantSubprot {
					t.Fatalf("Subprotocol() = %q, want %q", c.Subprotocol(), tt.wantSubprot)
				}
				if (c.comp != nil) != tt.wantDeflate {
					t.Fatalf("compression in use %v, want %v", c.comp != nil, tt.wantDeflate)
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

// TestDialDeflateOffer checks the client's permessage-deflate offer (RFC 7692
// §5, §7.1): one offer made of the RFC's parameters, asking the server not to
// keep its context unless ContextTakeover is set, none when Disabled, and no
// other taken from DialOptions.Header.
func TestDialDeflateOffer(t *testing.T) {
	reqs := make(chan *http.Request, 1)
	addr := hsFakeServer(t, func(r *http.Request) string {
		reqs <- r
		return response101(r, "")
	})
	for _, tt := range []struct {
		name     string
		opts     CompressionOptions
		wantSNCT bool // server_no_context_takeover asked for
	}{
		{"ZeroNoTakeover", CompressionOptions{}, true},
		{"ContextTakeover", CompressionOptions{ContextTakeover: true}, false},
		{"Disabled", CompressionOptions{Disabled: true}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := &DialOptions{Compression: tt.opts, HandshakeTimeout: hsTimeout,
				Header: http.Header{"Sec-Websocket-Extensions": {"x-injected"}}}
			c, err := Dial(context.Background(), "ws://"+addr, opts)
			if err != nil {
				t.Fatal(err)
			}
			c.CloseNow()
			offers := (<-reqs).Header.Values("Sec-WebSocket-Extensions")
			if tt.opts.Disabled {
				if len(offers) != 0 {
					t.Fatalf("offered %q with compression disabled", offers)
				}
				return
			}
			if len(offers) != 1 || strings.Contains(offers[0], ",") {
				t.Fatalf("offers %q, want one", offers)
			}
			elems := strings.Split(offers[0], ";")
			if strings.TrimSpace(elems[0]) != "permessage-deflate" {
				t.Fatalf("offer %q", offers[0])
			}
			snct := false
			for _, e := range elems[1:] {
				k, v, hasValue := strings.Cut(strings.TrimSpace(e), "=")
				switch k {
				case "server_no_context_takeover", "client_no_context_takeover":
					if hasValue {
						t.Errorf("%s has a value", k)
					}
					snct = snct || k == "server_no_context_takeover"
				case "server_max_window_bits", "client_max_window_bits":
					if n, err := strconv.Atoi(v); hasValue && (err != nil || n < 8 || n > 15) {
						t.Errorf("%s=%q out of range", k, v)
					}
				default:
					t.Errorf("parameter %q is not one of RFC 7692's", k)
				}
			}
			if snct != tt.wantSNCT {
				t.Errorf("offer %q: server_no_context_takeover %v, want %v", offers[0], snct, tt.wantSNCT)
			}
		})
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
		{"ProxySchemeUnknown", "ws://127.0.0.1/", DialOptions{Proxy: http.ProxyURL(&url.URL{Scheme: "socks4", Host: "127.0.0.1:1"})}},
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

// TestDialHostHeader checks the Host of the request (RFC 6455 §4.1 item 4):
// the URL's host, with its port unless it is the scheme's default.
func TestDialHostHeader(t *testing.T) {
	hosts := make(chan string, 1)
	addr := hsFakeServer(t, func(r *http.Request) string {
		hosts <- r.Host
		return response101(r, "")
	})
	for in, want := range map[string]string{
		"ws://chat.example/":         "chat.example",
		"ws://chat.example:80/":      "chat.example",
		"http://chat.example:80/":    "chat.example",
		"ws://chat.example:/":        "chat.example",
		"ws://chat.example:443/":     "chat.example:443",
		"ws://chat.example:8080/":    "chat.example:8080",
		"ws://[2001:db8::1]:80/":     "[2001:db8::1]",
		"ws://[2001:db8::1]:81/":     "[2001:db8::1]:81",
		"ws://user:pw@chat.example/": "chat.example",
	} {
		opts := &DialOptions{HandshakeTimeout: hsTimeout, Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
			NetDialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}
		c, err := Dial(context.Background(), in, opts)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		c.CloseNow()
		if got := <-hosts; got != want {
			t.Errorf("%s: Host %q, want %q", in, got, want)
		}
	}
}

// TestDialWSSDefaultPortSameOrigin dials wss://example.com:443 as a page of
// https://example.com would, with its Origin: a server's same-origin check
// (here Accept's default one) must see the same authority in Host and
// Origin, which browsers send without the default port.
func TestDialWSSDefaultPortSameOrigin(t *testing.T) {
	hosts := make(chan string, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.Host
		if c, err := Accept(w, r, nil); err == nil {
			c.CloseNow()
		}
	}))
	defer srv.Close()
	conf := srv.Client().Transport.(*http.Transport).TLSClientConfig // trusts the test certificate, valid for example.com
	opts := &DialOptions{
		TLSConfig: conf, HandshakeTimeout: hsTimeout, Header: http.Header{"Origin": {"https://example.com"}},
		Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "example.com:443" {
				return nil, fmt.Errorf("dialed %s, want example.com:443", addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}
	c, err := Dial(context.Background(), "wss://example.com:443/", opts)
	if err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	if h := <-hosts; h != "example.com" {
		t.Errorf("Host %q, want example.com", h)
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
	// Promptly means before DefaultHandshakeTimeout, which would end the
	// handshake otherwise: the longest bound that tells the two apart.
	t.Run("Cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := Dial(ctx, url, nil)
		if !errors.Is(err, context.Canceled) || time.Since(start) >= DefaultHandshakeTimeout {
			t.Fatalf("after %v: %v, want context.Canceled promptly", time.Since(start), err)
		}
	})
	t.Run("HandshakeTimeout", func(t *testing.T) {
		start := time.Now()
		_, err := Dial(context.Background(), url, &DialOptions{HandshakeTimeout: 100 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) >= DefaultHandshakeTimeout {
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

// A handshake that times out while the response's header is half read says
// it timed out, not that the header was malformed.
func TestDialTimeoutMidHeaderSaysTimeout(t *testing.T) {
	addr := hsFakeServer(t, func(*http.Request) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnec"
	})
	_, err := Dial(context.Background(), "ws://"+addr, &DialOptions{HandshakeTimeout: 100 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "malformed") {
		t.Fatalf("Dial: %v, want context.DeadlineExceeded, and no word of a malformed header", err)
	}
}
