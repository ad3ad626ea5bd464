//go:build !js

package websocket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestRequireSubprotocol(t *testing.T) {
	opts := &AcceptOptions{Subprotocols: []string{"v2.chat", "v1.chat"}, RequireSubprotocol: true}
	cases := []struct {
		offer  string // the Sec-WebSocket-Protocol line, "" for none
		status int
		chosen string
	}{
		{"v1.chat", 101, "v1.chat"},
		{"other, v2.chat", 101, "v2.chat"},
		{"other", 400, ""},
		{"", 400, ""},
	}
	for name, serve := range map[string]func(*testing.T, *AcceptOptions) (string, chan error){
		"Accept": acceptServer, "AcceptConn": acceptConnServer,
	} {
		t.Run(name, func(t *testing.T) {
			addr, errs := serve(t, opts)
			for _, tc := range cases {
				spec := reqSpec{}
				if tc.offer != "" {
					spec.set = []string{"Sec-WebSocket-Protocol: " + tc.offer}
				}
				resp, body := hsRoundTrip(t, addr, spec.build(addr))
				err := hsRecvErr(t, errs)
				if resp.StatusCode != tc.status || resp.Header.Get("Sec-WebSocket-Protocol") != tc.chosen {
					t.Fatalf("offer %q: %d with subprotocol %q, want %d with %q", tc.offer, resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"), tc.status, tc.chosen)
				}
				if tc.status == 400 && (err == nil || !strings.Contains(body, `"v2.chat" "v1.chat"`) || !strings.Contains(err.Error(), "v2.chat")) {
					t.Fatalf("offer %q: body %q, error %v; want both to name the subprotocols spoken", tc.offer, body, err)
				}
			}
		})
	}
	// Without RequireSubprotocol the handshake goes on with none.
	addr, errs := acceptServer(t, &AcceptOptions{Subprotocols: opts.Subprotocols})
	resp, _ := hsRoundTrip(t, addr, reqSpec{set: []string{"Sec-WebSocket-Protocol: other"}}.build(addr))
	if err := hsRecvErr(t, errs); resp.StatusCode != 101 || err != nil {
		t.Fatalf("without RequireSubprotocol: %d, %v; want 101", resp.StatusCode, err)
	}
}

func TestSubprotocolsListsOffersInOrder(t *testing.T) {
	r := &http.Request{Header: http.Header{"Sec-Websocket-Protocol": {"b, a", " c ,, d"}}}
	if got := Subprotocols(r); !slices.Equal(got, []string{"b", "a", "c", "d"}) {
		t.Fatalf("Subprotocols = %q", got)
	}
	if got := Subprotocols(&http.Request{Header: http.Header{}}); got != nil {
		t.Fatalf("Subprotocols with no offer = %q, want nil", got)
	}
}

// TestOriginRefusalNamesOriginAndHost: the 403 body and Accept's error name
// both, quoted, in a body that is plain text.
func TestOriginRefusalNamesOriginAndHost(t *testing.T) {
	addr, errs := acceptServer(t, &AcceptOptions{OriginPatterns: []string{"localhost:5173"}})
	for _, origin := range []string{"http://localhost:5174", `http://x"<script>alert(1)</script>`} {
		resp, body := hsRoundTrip(t, addr, reqSpec{set: []string{"Origin: " + origin}}.build(addr))
		err := hsRecvErr(t, errs)
		want := `origin ` + quote(origin) + ` not allowed for host ` + quote(addr)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, want) || err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("refused origin: %d, body %q, error %v; want 403 and both to say %s", resp.StatusCode, body, err, want)
		}
		if !strings.Contains(body, "OriginPatterns") {
			t.Errorf("body %q does not say how to allow the origin", body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("refusal served as %q (nosniff %q), want text/plain, not sniffed", ct, resp.Header.Get("X-Content-Type-Options"))
		}
	}
	resp, _ := hsRoundTrip(t, addr, reqSpec{set: []string{"Origin: http://localhost:5173"}}.build(addr))
	if err := hsRecvErr(t, errs); resp.StatusCode != 101 || err != nil {
		t.Fatalf("allowed origin: %d, %v", resp.StatusCode, err)
	}
}

func quote(s string) string { return strconv.Quote(s) }

// loggingWriter is a middleware's ResponseWriter; withUnwrap adds the
// method that lets http.ResponseController reach the server's writer.
type loggingWriter struct {
	http.ResponseWriter
	status int
}

func (w *loggingWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

type unwrappingWriter struct{ loggingWriter }

func (w *unwrappingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestAcceptBehindMiddlewareSaysToUnwrap: a wrapped ResponseWriter that
// hides the connection gets an error saying what to add; with Unwrap,
// Accept works.
func TestAcceptBehindMiddlewareSaysToUnwrap(t *testing.T) {
	for _, unwrap := range []bool{false, true} {
		errs := make(chan error, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var ww http.ResponseWriter = &loggingWriter{ResponseWriter: w}
			if unwrap {
				ww = &unwrappingWriter{loggingWriter{ResponseWriter: w}}
			}
			c, err := Accept(ww, r, nil)
			if c != nil {
				c.CloseNow()
			}
			errs <- err
		}))
		ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
		c, derr := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		cancel()
		err := <-errs
		srv.Close()
		if unwrap {
			if err != nil || derr != nil {
				t.Fatalf("with Unwrap: Accept %v, Dial %v", err, derr)
			}
			c.CloseNow()
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "*websocket.loggingWriter") || !strings.Contains(err.Error(), "Unwrap() http.ResponseWriter") ||
			!errors.Is(err, http.ErrNotSupported) {
			t.Fatalf("Accept behind a middleware without Unwrap: %v; want it to name the writer's type and Unwrap", err)
		}
	}
}
