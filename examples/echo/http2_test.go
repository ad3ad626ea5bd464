package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket/internal/testtime"
)

// The tests in this file serve the echo example over HTTPS with HTTP/2, as
// -tls does, to headless Chromium: with GODEBUG=http2xconnect=1 its
// WebSockets must travel as streams of the page's HTTP/2 connection (RFC
// 8441), without it over HTTP/1.1 as before.

const xconnect = "http2xconnect=1"

// inProcessWithXConnect reports whether this process runs with (on) or
// without (!on) http2xconnect=1 in GODEBUG, which net/http reads once at
// start-up. When it does not, it runs t again in a child process of the
// test binary with GODEBUG set accordingly, passes on its outcome and
// returns false: the caller then returns.
func inProcessWithXConnect(t *testing.T, on bool) bool {
	t.Helper()
	godebug := os.Getenv("GODEBUG")
	if strings.Contains(godebug, xconnect) == on {
		return true
	}
	if os.Getenv("ECHO_TEST_CHILD") != "" {
		t.Fatalf("child process with GODEBUG=%q", godebug)
	}
	var keep []string
	for s := range strings.SplitSeq(godebug, ",") {
		if s != "" && s != xconnect {
			keep = append(keep, s)
		}
	}
	if on {
		keep = append(keep, xconnect)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "GODEBUG="+strings.Join(keep, ","), "ECHO_TEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a child process with GODEBUG=%q:\n%s", strings.Join(keep, ","), out)
	switch {
	case err != nil:
		t.Fatalf("the child process failed: %v", err)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()):
		t.Skip("skipped in the child process")
	}
	return false
}

// protoLog records the HTTP protocol of each request a handler sees, by path.
type protoLog struct {
	mu     sync.Mutex
	protos map[string][]int
}

func (l *protoLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		if l.protos == nil {
			l.protos = make(map[string][]int)
		}
		l.protos[r.URL.Path] = append(l.protos[r.URL.Path], r.ProtoMajor)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// check fails t unless every request for a path starting with prefix (or
// equal to it, if exact), and at least one, came over HTTP/major.
func (l *protoLog) check(t *testing.T, prefix string, exact bool, major int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for path, ps := range l.protos {
		if exact && path != prefix || !strings.HasPrefix(path, prefix) {
			continue
		}
		for _, p := range ps {
			n++
			if p != major {
				t.Errorf("%s came over HTTP/%d, want HTTP/%d", path, p, major)
			}
		}
	}
	if n == 0 {
		t.Errorf("no request for %s*", prefix)
	}
}

// serveTLS serves h as the echo example's -tls does on a loopback port and
// returns its https URL.
func serveTLS(t *testing.T, h http.Handler) string {
	t.Helper()
	hs, err := newServer(h, true, false)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "https://" + ln.Addr().String()
}

// TestBrowserOverHTTP2 has Chromium load the echo page over HTTP/2 and run
// the peer tests (every length encoding, permessage-deflate with and without
// context takeover, the closing handshake begun by either side, a message
// over the read limit) on WebSockets that must all be HTTP/2 streams.
func TestBrowserOverHTTP2(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the browser test in -short mode")
	}
	if !inProcessWithXConnect(t, true) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(120*time.Second))
	defer cancel()
	var log protoLog
	observed := make(chan error, 1)
	url := serveTLS(t, log.wrap(peerHandler(t, observed)))
	p := openPeerPage(ctx, t, url, "--ignore-certificate-errors")
	t.Run("EverySize", func(t *testing.T) { testEchoesEverySize(ctx, t, p) })
	t.Run("ClosingHandshake", func(t *testing.T) { testClosingHandshake(ctx, t, p, observed) })
	log.check(t, "/ws", false, 2)
	log.check(t, "/", true, 2)
}

// TestBrowserHTTP2Fallback serves the page over HTTP/2 without
// http2xconnect=1: the server does not offer extended CONNECT, and
// Chromium's WebSocket must come over HTTP/1.1 and work.
func TestBrowserHTTP2Fallback(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the browser test in -short mode")
	}
	if !inProcessWithXConnect(t, false) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()
	var log protoLog
	url := serveTLS(t, log.wrap(peerHandler(t, nil)))
	p := openPeerPage(ctx, t, url, "--ignore-certificate-errors")
	var got string
	err := p.Eval(ctx, `(async () => {
		const ws = await peer.open("/ws");
		const got = await peer.echo(ws, "over HTTP/1.1 ✓");
		ws.close(1000);
		return got;
	})()`, &got)
	if err != nil {
		t.Fatal(err)
	}
	if got != "over HTTP/1.1 ✓" {
		t.Errorf("echo %q", got)
	}
	log.check(t, "/ws", false, 1)
	log.check(t, "/", true, 2)
}

// TestServerProtocols checks the -tls and -h2c servers' protocols with Go's
// own client: HTTP/2 over TLS, and HTTP/2 in clear text with prior knowledge.
func TestServerProtocols(t *testing.T) {
	var log protoLog
	h := log.wrap(newHandler(nil))

	url := serveTLS(t, h)
	var p http.Protocols
	p.SetHTTP2(true)
	tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: testtime.Scaled(10 * time.Second)}).Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("-tls answered over HTTP/%d, want 2", resp.ProtoMajor)
	}

	hs, err := newServer(h, false, true)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	defer hs.Close()
	var pc http.Protocols
	pc.SetUnencryptedHTTP2(true)
	trc := &http.Transport{Protocols: &pc}
	defer trc.CloseIdleConnections()
	resp, err = (&http.Client{Transport: trc, Timeout: testtime.Scaled(10 * time.Second)}).Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("-h2c answered over HTTP/%d, want 2", resp.ProtoMajor)
	}
}
