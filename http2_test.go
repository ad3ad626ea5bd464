//go:build !js

package websocket

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// The Conn over an HTTP/2 stream runs against net/http's server with
// golang.org/x/net/http2's client in interop/h2, and against Chromium in
// examples/echo; here are the handshake's rules, on requests built as
// net/http's HTTP/2 server builds them.

// h2Request is an extended CONNECT as net/http hands it to a handler: the
// :protocol pseudo-header in Header, :authority in Host, an open body.
func h2Request(edit func(r *http.Request)) *http.Request {
	r := &http.Request{
		Method:        http.MethodConnect,
		URL:           &url.URL{Path: "/chat"},
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Host:          "chat.example",
		ContentLength: -1,
		Body:          http.NoBody,
		Header: http.Header{
			":protocol":             {"websocket"},
			"Sec-Websocket-Version": {"13"},
		},
	}
	if edit != nil {
		edit(r)
	}
	return r
}

func TestAcceptHTTP2ValidatesExtendedConnect(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(r *http.Request)
		opts       AcceptOptions
		want       int
		wantHeader map[string]string
	}{
		{name: "MethodMustBeCONNECT", edit: func(r *http.Request) { r.Method = http.MethodGet }, want: 405,
			wantHeader: map[string]string{"Allow": "CONNECT"}},
		{name: "ProtocolMissing", edit: func(r *http.Request) { delete(r.Header, ":protocol") }, want: 400},
		{name: "ProtocolOther", edit: func(r *http.Request) { r.Header[":protocol"] = []string{"connect-udp"} }, want: 400},
		{name: "TargetMustBePath", edit: func(r *http.Request) { r.URL = &url.URL{Opaque: "chat"} }, want: 400},
		{name: "AuthorityMissing", edit: func(r *http.Request) { r.Host = "" }, want: 400},
		{name: "StreamEnded", edit: func(r *http.Request) { r.ContentLength = 0 }, want: 400},
		{name: "VersionMissing", edit: func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") }, want: 400,
			wantHeader: map[string]string{"Sec-WebSocket-Version": "13"}},
		{name: "Version8", edit: func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, want: 400,
			wantHeader: map[string]string{"Sec-WebSocket-Version": "13", "Upgrade": ""}},
		{name: "VersionTwice", edit: func(r *http.Request) { r.Header["Sec-Websocket-Version"] = []string{"13", "13"} }, want: 400},
		{name: "CrossOriginForbidden", edit: func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, want: 403},
		{name: "OriginPatternAllowedButNoStream", edit: func(r *http.Request) {
			r.Header.Set("Origin", "https://app.example")
			r.ContentLength = 0
		}, opts: AcceptOptions{OriginPatterns: []string{"app.example"}}, want: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, err := Accept(w, h2Request(tc.edit), &tc.opts)
			if c != nil || err == nil {
				t.Fatalf("Accept returned %v, %v; want a refusal", c, err)
			}
			if w.Code != tc.want {
				t.Errorf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			for k, v := range tc.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestCheckExtendedConnectAccepts checks the requests the handshake lets
// through: Sec-WebSocket-Key is not processed (RFC 8441 §5), :protocol is
// an Upgrade token compared without case, and the origin is checked against
// :authority.
func TestCheckExtendedConnectAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(r *http.Request)
	}{
		{name: "Minimal"},
		{name: "KeyIgnored", edit: func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "not a key") }},
		{name: "ProtocolCaseInsensitive", edit: func(r *http.Request) { r.Header[":protocol"] = []string{"WebSocket"} }},
		{name: "SameOrigin", edit: func(r *http.Request) { r.Header.Set("Origin", "https://chat.example") }},
		{name: "SameOriginDefaultPort", edit: func(r *http.Request) {
			r.Host = "chat.example:443"
			r.Header.Set("Origin", "https://chat.example")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ref := checkExtendedConnect(h2Request(tc.edit), &AcceptOptions{}); ref != nil {
				t.Errorf("refused: %v", ref)
			}
		})
	}
}
