//go:build !js

package websocket

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// socksProxy is a SOCKS5 server (RFC 1928, RFC 1929) for the tests: it
// tunnels CONNECT requests, resolving the host names in hosts itself.
type socksProxy struct {
	user, pass string            // required credentials; "" for none
	hosts      map[string]string // host name to the address it stands for
	reply      byte              // CONNECT reply code to send; 0 tunnels

	mu      sync.Mutex
	methods []byte // the methods the client offered
	target  string // host:port asked for, as sent
	atyp    byte
}

func (p *socksProxy) serve(t *testing.T) string {
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
	return ln.Addr().String()
}

func (p *socksProxy) handle(nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(hsTimeout))
	br := bufio.NewReader(nc)
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:2]); err != nil || hdr[0] != 5 {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return
	}
	p.mu.Lock()
	p.methods = methods
	p.mu.Unlock()
	want := byte(0)
	if p.user != "" {
		want = 2
	}
	if !strings.Contains(string(methods), string(want)) {
		nc.Write([]byte{5, 0xff})
		return
	}
	nc.Write([]byte{5, want})
	if want == 2 {
		field := func() string {
			n, _ := br.ReadByte()
			b := make([]byte, n)
			io.ReadFull(br, b)
			return string(b)
		}
		if v, _ := br.ReadByte(); v != 1 {
			return
		}
		if user, pass := field(), field(); user != p.user || pass != p.pass {
			nc.Write([]byte{1, 1})
			return
		}
		nc.Write([]byte{1, 0})
	}
	if _, err := io.ReadFull(br, hdr[:4]); err != nil || hdr[0] != 5 || hdr[1] != 1 {
		return
	}
	var host string
	switch hdr[3] {
	case 1, 4:
		ip := make([]byte, 4)
		if hdr[3] == 4 {
			ip = make([]byte, 16)
		}
		io.ReadFull(br, ip)
		host = net.IP(ip).String()
	case 3:
		n, _ := br.ReadByte()
		b := make([]byte, n)
		io.ReadFull(br, b)
		host = string(b)
	}
	var port [2]byte
	if _, err := io.ReadFull(br, port[:]); err != nil {
		return
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
	p.mu.Lock()
	p.target, p.atyp = target, hdr[3]
	p.mu.Unlock()
	if p.reply != 0 {
		nc.Write([]byte{5, p.reply, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	if a, ok := p.hosts[target]; ok {
		target = a
	}
	up, err := net.DialTimeout("tcp", target, hsTimeout)
	if err != nil {
		nc.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	// A bound address given as a domain name, to check the client reads
	// the reply's variable length right.
	nc.Write([]byte{5, 0, 0, 3, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0x04, 0x38})
	go io.Copy(up, br)
	io.Copy(nc, up)
}

// echoServerURL serves the package's echo over plain HTTP.
func echoServerAddr(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetDeadline(time.Now().Add(hsTimeout))
		for {
			op, msg, err := c.ReadMessage()
			if err != nil || c.WriteMessage(op, msg) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// echoOnce dials u with opts, sends a message and checks the echo.
func echoOnce(u string, opts *DialOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	c, err := Dial(ctx, u, opts)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(hsTimeout))
	if err := c.WriteMessage(OpText, []byte("through")); err != nil {
		return err
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "through" {
		return fmt.Errorf("echo: %q, %v", msg, err)
	}
	return c.Close(StatusNormalClosure, "")
}

func TestDialThroughSOCKS5(t *testing.T) {
	echo := echoServerAddr(t)
	cases := []struct {
		name    string
		proxy   func() *socksProxy
		userinf *url.Userinfo
		target  string // the URL's host:port
		wantErr string // "" for success
	}{
		{"no auth, IP", func() *socksProxy { return &socksProxy{} }, nil, echo, ""},
		{"no auth, name resolved by the proxy", func() *socksProxy { return &socksProxy{hosts: map[string]string{"echo.test:80": echo}} }, nil, "echo.test", ""},
		{"user and password", func() *socksProxy { return &socksProxy{user: "u", pass: "p:w"} }, url.UserPassword("u", "p:w"), echo, ""},
		{"wrong password", func() *socksProxy { return &socksProxy{user: "u", pass: "p:w"} }, url.UserPassword("u", "x"), echo, "refused the username and password"},
		{"no credentials", func() *socksProxy { return &socksProxy{user: "u", pass: "p:w"} }, nil, echo, "requires authentication"},
		{"CONNECT refused", func() *socksProxy { return &socksProxy{reply: 2} }, nil, echo, "connection not allowed by ruleset (2)"},
	}
	for _, tc := range cases {
		for _, scheme := range []string{"socks5", "socks5h"} {
			t.Run(tc.name+"/"+scheme, func(t *testing.T) {
				p := tc.proxy()
				proxyURL := &url.URL{Scheme: scheme, User: tc.userinf, Host: p.serve(t)}
				err := echoOnce("ws://"+tc.target+"/", &DialOptions{Proxy: http.ProxyURL(proxyURL)})
				if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "p:w") {
					t.Errorf("error %q shows the password", err)
				}
				p.mu.Lock()
				defer p.mu.Unlock()
				wantMethods := "\x00"
				if tc.userinf != nil {
					wantMethods = "\x00\x02"
				}
				if string(p.methods) != wantMethods {
					t.Errorf("client offered methods % x, want % x", p.methods, wantMethods)
				}
				wantTarget, wantAtyp := tc.target, byte(1)
				if !strings.Contains(tc.target, ":") {
					wantTarget, wantAtyp = tc.target+":80", 3
				}
				if tc.wantErr == "" || p.reply != 0 {
					if p.target != wantTarget || p.atyp != wantAtyp {
						t.Errorf("proxy was asked for %q as address type %d, want %q as %d", p.target, p.atyp, wantTarget, wantAtyp)
					}
				}
			})
		}
	}
}

// TestDialThroughHTTPSProxy tunnels ws and wss through a CONNECT proxy
// reached over TLS, whose certificate is checked with DialOptions.TLSConfig.
func TestDialThroughHTTPSProxy(t *testing.T) {
	echo := echoServerAddr(t)
	wssURL, wssConf := serveTLS(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetDeadline(time.Now().Add(hsTimeout))
		op, msg, _ := c.ReadMessage()
		c.WriteMessage(op, msg)
		c.ReadMessage()
	})
	cert, _ := testCert(t)
	// One pool trusting both the proxy and the wss server.
	conf := wssConf.Clone()
	conf.RootCAs.AddCert(cert.Leaf)

	for _, status := range []int{200, 407} {
		for _, target := range []string{"ws://" + echo + "/", wssURL} {
			p := &connectProxy{status: status}
			ln := tls.NewListener(hsListen(t), &tls.Config{Certificates: []tls.Certificate{cert}})
			go func() {
				for {
					nc, err := ln.Accept()
					if err != nil {
						return
					}
					go p.handle(nc)
				}
			}()
			proxyURL := &url.URL{Scheme: "https", User: url.UserPassword("user", "pw"), Host: ln.Addr().String()}
			err := echoOnce(target, &DialOptions{Proxy: http.ProxyURL(proxyURL), TLSConfig: conf})
			if status == 200 && err != nil || status != 200 && (err == nil || !strings.Contains(err.Error(), "407")) {
				t.Fatalf("%s through a proxy answering %d: %v", target, status, err)
			}
			p.mu.Lock()
			if p.connect != 1 || p.auth != "Basic dXNlcjpwdw==" {
				t.Errorf("proxy saw %d CONNECT with auth %q", p.connect, p.auth)
			}
			p.mu.Unlock()
		}
	}
	// A proxy whose certificate is not trusted is refused.
	ln := tls.NewListener(hsListen(t), &tls.Config{Certificates: []tls.Certificate{cert}})
	go func() {
		if nc, err := ln.Accept(); err == nil {
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(hsTimeout))
			io.Copy(io.Discard, nc)
		}
	}()
	err := echoOnce("ws://"+echo+"/", &DialOptions{Proxy: http.ProxyURL(&url.URL{Scheme: "https", Host: ln.Addr().String()})})
	if err == nil || !strings.Contains(err.Error(), "TLS handshake with proxy") {
		t.Fatalf("untrusted proxy: %v", err)
	}
}

func TestDialRefusesUnknownProxyScheme(t *testing.T) {
	err := echoOnce("ws://127.0.0.1:1/", &DialOptions{Proxy: http.ProxyURL(&url.URL{Scheme: "socks4", Host: "127.0.0.1:1"})})
	if err == nil || !strings.Contains(err.Error(), `scheme "socks4"`) {
		t.Fatalf("socks4 proxy: %v", err)
	}
}

// TestDialProxyFromEnvironment runs a child test process with HTTP_PROXY
// and HTTPS_PROXY set, since net/http reads the environment once per
// process.
func TestDialProxyFromEnvironment(t *testing.T) {
	if addr := os.Getenv("WSTEST_ECHO_VIA_ENV"); addr != "" {
		if err := echoOnce(addr, nil); err != nil {
			t.Fatal(err)
		}
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	echo := echoServerAddr(t)
	p := &socksProxy{user: "u", pass: "p", hosts: map[string]string{"echo.test:80": echo}}
	proxy := "socks5h://u:p@" + p.serve(t)
	for _, tc := range []struct {
		env  []string
		used bool
	}{
		{[]string{"HTTP_PROXY=" + proxy}, true},
		{[]string{"HTTPS_PROXY=" + proxy}, false}, // for wss only: ws goes direct and cannot resolve echo.test
		{[]string{"HTTP_PROXY=" + proxy, "NO_PROXY=echo.test"}, false},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDialProxyFromEnvironment$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WSTEST_ECHO_VIA_ENV=ws://echo.test/", "http_proxy=", "https_proxy=", "no_proxy=", "REQUEST_METHOD=")
		cmd.Env = append(cmd.Env, tc.env...)
		p.mu.Lock()
		p.target = ""
		p.mu.Unlock()
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.used {
			t.Fatalf("with %q: child %v, want success %v\n%s", tc.env, err, tc.used, out)
		}
		p.mu.Lock()
		if used := p.target != ""; used != tc.used {
			t.Errorf("with %q: proxy used %v, want %v", tc.env, used, tc.used)
		}
		p.mu.Unlock()
	}
}
