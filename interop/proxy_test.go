package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// connectProxy is a minimal HTTP CONNECT proxy (RFC 9110 §9.3.6) on
// 127.0.0.1 that tunnels only to loopback addresses and records the targets
// it was asked for.
type connectProxy struct {
	ln   net.Listener
	auth string // required Proxy-Authorization value, if not empty

	wg      sync.WaitGroup
	mu      sync.Mutex
	targets []string // targets of accepted CONNECTs
	refused []string // why requests were refused
	conns   []net.Conn
}

func startConnectProxy(t *testing.T, auth string) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln, auth: auth}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(testtime.Scaled(10 * time.Second)):
			t.Error("proxy goroutines still running 10s after the test")
		}
	})
	return p
}

func (p *connectProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *connectProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *connectProxy) refuse(c net.Conn, status, why string) {
	p.mu.Lock()
	p.refused = append(p.refused, why)
	p.mu.Unlock()
	extra := ""
	if strings.HasPrefix(status, "407") {
		extra = "Proxy-Authenticate: Basic realm=\"interop\"\r\n"
	}
	io.WriteString(c, "HTTP/1.1 "+status+"\r\n"+extra+"Content-Length: 0\r\nConnection: close\r\n\r\n")
}

func (p *connectProxy) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(testtime.Scaled(60 * time.Second)))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		p.refuse(c, "405 Method Not Allowed", "method "+req.Method)
		return
	}
	if p.auth != "" && req.Header.Get("Proxy-Authorization") != p.auth {
		p.refuse(c, "407 Proxy Authentication Required", "Proxy-Authorization "+req.Header.Get("Proxy-Authorization"))
		return
	}
	host, _, err := net.SplitHostPort(req.Host)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		p.refuse(c, "403 Forbidden", "target "+req.Host) // tunnels stay on this machine
		return
	}
	up, err := net.DialTimeout("tcp", req.Host, testtime.Scaled(5*time.Second))
	if err != nil {
		p.refuse(c, "502 Bad Gateway", err.Error())
		return
	}
	p.track(up)
	defer up.Close()
	up.SetDeadline(time.Now().Add(testtime.Scaled(60 * time.Second)))
	p.mu.Lock()
	p.targets = append(p.targets, req.Host)
	p.mu.Unlock()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(up, br) // br: bytes the client sent right after the request
		up.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(c, up)
		c.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}()
	<-done
	<-done
}

func (p *connectProxy) seen() (targets, refused []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...), append([]string(nil), p.refused...)
}

// TestClientThroughConnectProxy dials each peer server through the proxy,
// with and without proxy credentials, and checks messages round-trip and the
// proxy tunnelled exactly the one connection.
func TestClientThroughConnectProxy(t *testing.T) {
	cases := []struct {
		name     string
		userinfo *url.Userinfo
		auth     string // what the proxy requires
		wantOK   bool
	}{
		{"no_auth", nil, "", true},
		{"basic_auth", url.UserPassword("fd-user", "s3cret"), "Basic " + base64.StdEncoding.EncodeToString([]byte("fd-user:s3cret")), true},
		{"missing_auth_refused", nil, "Basic " + base64.StdEncoding.EncodeToString([]byte("fd-user:s3cret")), false},
	}
	forEachPeer(t, func(t *testing.T, p *peer) {
		s := startPeerServer(t, p, serverConfig{})
		target := strings.TrimPrefix(s.url, "ws://")
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				proxy := startConnectProxy(t, tc.auth)
				proxyURL := &url.URL{Scheme: "http", Host: proxy.ln.Addr().String(), User: tc.userinfo}
				opts := plainDial()
				opts.Proxy = http.ProxyURL(proxyURL)
				ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(15*time.Second))
				defer cancel()
				c, err := websocket.Dial(ctx, s.url+"/echo", opts)
				targets, refused := proxy.seen()
				if !tc.wantOK {
					if err == nil {
						c.CloseNow()
						t.Fatal("Dial succeeded through a proxy that refused the CONNECT")
					}
					if len(targets) != 0 || len(refused) != 1 {
						t.Errorf("proxy tunnelled %q and refused %q; want one refusal", targets, refused)
					}
					t.Logf("Dial error: %v", err)
					return
				}
				if err != nil {
					t.Fatalf("Dial through the proxy: %v (proxy refused: %q)", err, refused)
				}
				defer c.CloseNow()
				c.SetDeadline(time.Now().Add(testtime.Scaled(30 * time.Second)))
				for _, want := range [][]byte{[]byte("through the tunnel ✓"), randomPayload(false, 70000)} {
					op := websocket.OpText
					if len(want) > 1000 {
						op = websocket.OpBinary
					}
					if err := c.WriteMessage(op, want); err != nil {
						t.Fatal(err)
					}
					gotOp, got, err := c.ReadMessage()
					if err != nil || gotOp != op || !bytes.Equal(got, want) {
						t.Fatalf("echo through the proxy: %s %d B, %v; want %s %d B", opName(gotOp), len(got), err, opName(op), len(want))
					}
				}
				closeNormally(t, c)
				targets, refused = proxy.seen()
				if len(targets) != 1 || targets[0] != target || len(refused) != 0 {
					t.Errorf("proxy tunnelled %q and refused %q; want exactly one CONNECT to %s", targets, refused, target)
				}
			})
		}
	})
}
