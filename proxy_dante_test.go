//go:build !js

package websocket

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// dantedPath is Dante's SOCKS5 server (Debian's dante-server), the real
// peer for the SOCKS client; .ci/run installs it.
const dantedPath = "/usr/sbin/danted"

// startDante runs danted on a free loopback port with no authentication
// (its username method checks system accounts, which a test must not
// make; the in-test server covers RFC 1929) and returns its address.
func startDante(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(dantedPath); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("danted unavailable in CI (apt-get install dante-server; run as root): %v", err)
		}
		t.Skipf("danted unavailable (apt-get install dante-server; run as root): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // danted binds it; another process taking it meanwhile is unlikely
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "danted.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`logoutput: stderr
internal: 127.0.0.1 port = %s
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
`, port)), 0o644)
	cmd := exec.Command(dantedPath, "-f", conf, "-p", filepath.Join(dir, "pid"), "-N", "1")
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(hsTimeout):
			cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(hsTimeout); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("danted did not listen on %s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestDialThroughDante dials through a real SOCKS5 server, by address and
// by a name the proxy resolves.
func TestDialThroughDante(t *testing.T) {
	if testing.Short() {
		t.Skip("starts danted")
	}
	proxy := startDante(t)
	_, port, _ := net.SplitHostPort(echoServerAddr(t))
	for _, scheme := range []string{"socks5", "socks5h"} {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			u := "ws://" + net.JoinHostPort(host, port) + "/"
			// http.ProxyURL, unlike the environment, proxies loopback too.
			err := echoOnce(u, &DialOptions{Proxy: http.ProxyURL(&url.URL{Scheme: scheme, Host: proxy})})
			if err != nil {
				t.Errorf("%s via %s: %v", u, scheme, err)
			}
		}
	}
	// A port nobody listens on: danted's refusal comes back as an error.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	err := echoOnce("ws://"+dead+"/", &DialOptions{Proxy: http.ProxyURL(&url.URL{Scheme: "socks5", Host: proxy})})
	if err == nil || !strings.Contains(err.Error(), "refused CONNECT") {
		t.Fatalf("dial of a closed port through danted: %v, want the proxy's refusal", err)
	}
}
