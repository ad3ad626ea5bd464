package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// peer runs script on the proxy's end of a pipe and returns the client's.
func peer(t *testing.T, script func(nc net.Conn)) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	deadline := time.Now().Add(10 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	go func() {
		defer b.Close()
		script(b)
	}()
	t.Cleanup(func() { a.Close() })
	return a
}

func TestHTTPConnect(t *testing.T) {
	for _, tc := range []struct {
		name, answer, wantErr string
		user                  *url.Userinfo
	}{
		{name: "Open", answer: "HTTP/1.1 200 Connection established\r\n\r\n"},
		{name: "Any2xx", answer: "HTTP/1.1 204 No Content\r\n\r\n"},
		{name: "Credentials", answer: "HTTP/1.1 200 OK\r\n\r\n", user: url.UserPassword("ann", "s3cret")},
		{name: "Refused", answer: "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", wantErr: "refused CONNECT: 407"},
		{name: "DataPastAnswer", answer: "HTTP/1.1 200 OK\r\n\r\nearly", wantErr: "sent data past"},
		{name: "AnswerTooLarge", answer: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("x", maxResponseBytes) + "\r\n\r\n", wantErr: "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &url.URL{Scheme: "http", Host: "proxy.example:3128", User: tc.user}
			got := make(chan *http.Request, 1)
			nc := peer(t, func(nc net.Conn) {
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				got <- req
				io.WriteString(nc, tc.answer)
			})
			_, err := Connect(context.Background(), nc, p, "ws.example:443", nil)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Connect: %v, want %q", err, tc.wantErr)
			}
			req := <-got
			if req.Method != http.MethodConnect || req.Host != "ws.example:443" || req.RequestURI != "ws.example:443" {
				t.Errorf("request %s %s, Host %s", req.Method, req.RequestURI, req.Host)
			}
			if auth := req.Header.Get("Proxy-Authorization"); (tc.user != nil) != (auth == "Basic "+BasicAuth(tc.user)) && tc.user != nil {
				t.Errorf("Proxy-Authorization %q", auth)
			}
		})
	}
}

// A SOCKS5 CONNECT as RFC 1928 lays it out, with RFC 1929's credentials.
func TestSOCKS5Connect(t *testing.T) {
	p := &url.URL{Scheme: "socks5", Host: "socks.example:1080", User: url.UserPassword("ann", "pw")}
	sent := make(chan []byte, 1)
	nc := peer(t, func(nc net.Conn) {
		var got bytes.Buffer
		b := make([]byte, 4)
		io.ReadFull(nc, b[:4]) // VER NMETHODS METHODS...
		got.Write(b[:4])
		nc.Write([]byte{5, socksUserPass})
		auth := make([]byte, 1+1+3+1+2)
		io.ReadFull(nc, auth)
		got.Write(auth)
		nc.Write([]byte{1, 0})
		req := make([]byte, 4+1+len("ws.example")+2)
		io.ReadFull(nc, req)
		got.Write(req)
		nc.Write([]byte{5, 0, 0, socksAtypIPv4, 10, 0, 0, 1, 0x1f, 0x90})
		sent <- got.Bytes()
	})
	if _, err := Connect(context.Background(), nc, p, "ws.example:443", nil); err != nil {
		t.Fatal(err)
	}
	want := []byte{5, 2, socksNoAuth, socksUserPass, 1, 3, 'a', 'n', 'n', 2, 'p', 'w',
		5, socksCmdConnect, 0, socksAtypDomain, 10, 'w', 's', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', 1, 0xbb}
	if got := <-sent; !bytes.Equal(got, want) {
		t.Errorf("the proxy got % x\nwant               % x", got, want)
	}
}

func TestSOCKS5Refusal(t *testing.T) {
	p := &url.URL{Scheme: "socks5", Host: "socks.example"}
	nc := peer(t, func(nc net.Conn) {
		io.ReadFull(nc, make([]byte, 3))
		nc.Write([]byte{5, socksNoAuth})
		io.ReadFull(nc, make([]byte, 4+4+2))
		nc.Write([]byte{5, 5, 0, socksAtypIPv4, 0, 0, 0, 0, 0, 0})
	})
	_, err := Connect(context.Background(), nc, p, "10.0.0.1:80", nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused (5)") {
		t.Fatalf("Connect: %v, want the proxy's refusal", err)
	}
}

func TestCheckAndAddr(t *testing.T) {
	for _, tc := range []struct {
		raw, addr string
		ok        bool
	}{
		{"http://p.example", "p.example:80", true},
		{"https://p.example", "p.example:443", true},
		{"socks5h://p.example:9050", "p.example:9050", true},
		{"ftp://p.example", "", false},
		{"http://:8080", "", false},
	} {
		u, _ := url.Parse(tc.raw)
		if err := Check(u); (err == nil) != tc.ok {
			t.Errorf("Check(%s) = %v", tc.raw, err)
		}
		if tc.ok && Addr(u) != tc.addr {
			t.Errorf("Addr(%s) = %s, want %s", tc.raw, Addr(u), tc.addr)
		}
	}
}
