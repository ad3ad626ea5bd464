//go:build !js

package websocket

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestDialResponseHasHeadersOf101 checks that the 101's headers reach the
// caller through Conn.Response, and that a server Conn has none.
func TestDialResponseHasHeadersOf101(t *testing.T) {
	srvConn := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{ResponseHeader: http.Header{
			"Set-Cookie":            {"session=abc; Path=/"},
			"X-Ratelimit-Remaining": {"41"},
		}})
		if err == nil {
			srvConn <- c
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	c, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	resp := c.Response()
	if resp == nil || resp.StatusCode != http.StatusSwitchingProtocols ||
		resp.Header.Get("X-Ratelimit-Remaining") != "41" || len(resp.Cookies()) != 1 || resp.Cookies()[0].Value != "abc" {
		t.Fatalf("Response() = %+v, want the 101 with its headers", resp)
	}
	sc := <-srvConn
	defer sc.CloseNow()
	if sc.Response() != nil {
		t.Fatal("a server Conn has a Response")
	}
}

// TestDialJar checks that cookies go from the jar into the request, after
// those of DialOptions.Header, and that Set-Cookie of a 101 and of a
// refusal go into the jar.
func TestDialJar(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, strings.Join(r.Header.Values("Cookie"), " | "))
		mu.Unlock()
		if r.URL.Path == "/refuse" {
			http.SetCookie(w, &http.Cookie{Name: "refused", Value: "1", Path: "/"})
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		c, err := Accept(w, r, &AcceptOptions{ResponseHeader: http.Header{"Set-Cookie": {"session=abc; Path=/"}}})
		if err == nil {
			c.CloseNow()
		}
	}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	base, _ := url.Parse(srv.URL)
	jar.SetCookies(base, []*http.Cookie{{Name: "pre", Value: "1", Path: "/"}})
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	opts := &DialOptions{Jar: jar, Header: http.Header{"Cookie": {"hdr=2", "hdr2=3"}}}

	for _, path := range []string{"/", "/refuse", "/"} {
		c, err := Dial(ctx, ws+path, opts)
		var he *HandshakeError
		switch {
		case path == "/refuse" && (!errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized || len(he.Header.Values("Set-Cookie")) != 1):
			t.Fatalf("Dial %s: %v, want a 401 HandshakeError carrying its Set-Cookie", path, err)
		case path != "/refuse" && err != nil:
			t.Fatal(err)
		case err == nil:
			c.CloseNow()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"hdr=2; hdr2=3; pre=1", "hdr=2; hdr2=3; pre=1; session=abc", "hdr=2; hdr2=3; pre=1; refused=1; session=abc"}
	for i, s := range seen {
		// The jar orders cookies by path length, then creation time.
		p := strings.Split(s, "; ")
		slices.Sort(p[2:])
		seen[i] = strings.Join(p, "; ")
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("server saw Cookie headers %q, want %q", seen, want)
	}
	if v := opts.Header.Values("Cookie"); !slices.Equal(v, []string{"hdr=2", "hdr2=3"}) {
		t.Fatalf("Dial changed the caller's Header: Cookie %q", v)
	}
}
