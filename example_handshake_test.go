//go:build !js

package websocket_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/fullduplex/websocket"
)

// The 101 response's headers, and a cookie jar that keeps the session the
// server sets for the next connection.
func ExampleConn_Response() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := http.Header{"X-Ratelimit-Remaining": {"99"}}
		if _, err := r.Cookie("session"); err != nil {
			h.Set("Set-Cookie", "session=s3cr3t; Path=/; HttpOnly")
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{ResponseHeader: h})
		if err != nil {
			return
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{Jar: jar})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	resp := c.Response()
	fmt.Println(resp.StatusCode, resp.Header.Get("X-Ratelimit-Remaining"))

	u, _ := url.Parse(srv.URL)
	fmt.Println(jar.Cookies(u)) // sent with the next Dial using this jar
	// Output:
	// 101 99
	// [session=s3cr3t]
}

// A server that speaks only its own subprotocols refuses clients offering
// none of them.
func ExampleAcceptOptions_requireSubprotocol() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols:       []string{"v2.chat", "v1.chat"},
			RequireSubprotocol: true,
		})
		if err != nil {
			return // answered with 400
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{Subprotocols: []string{"v3.chat"}})
	var he *websocket.HandshakeError
	if errors.As(err, &he) {
		fmt.Println(he.StatusCode, strings.TrimSpace(string(he.Body)))
	}
	// Output: 400 no offered subprotocol is spoken here; offer one of ["v2.chat" "v1.chat"]
}

// A reverse proxy forwards the client's subprotocol offers to the backend,
// then accepts the client with the one the backend chose.
func ExampleSubprotocols() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"v1.chat"}})
		if err != nil {
			return
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer backend.Close()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		offers := websocket.Subprotocols(r)
		fmt.Println("client offers", offers)
		up, err := websocket.Dial(r.Context(), wsURL(backend), &websocket.DialOptions{Subprotocols: offers})
		if err != nil {
			http.Error(w, "backend unavailable", http.StatusBadGateway)
			return
		}
		defer up.CloseNow()
		var chosen []string
		if p := up.Subprotocol(); p != "" {
			chosen = []string{p}
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: chosen})
		if err != nil {
			return
		}
		defer c.CloseNow()
		// ... copy messages both ways until either side closes ...
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer proxy.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, wsURL(proxy), &websocket.DialOptions{Subprotocols: []string{"v2.chat", "v1.chat"}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	fmt.Println("chosen", c.Subprotocol())
	// Output:
	// client offers [v2.chat v1.chat]
	// chosen v1.chat
}

// Cross-origin development: the page is served by a dev server on :5173
// (Vite's default) and talks to the WebSocket server on :8082. The browser
// sends "Origin: http://localhost:5173", which is not the server's own
// host, so the server lists it in OriginPatterns. A refused origin gets a
// 403 that names the Origin and the Host.
func ExampleAcceptOptions_originPatterns() {
	opts := &websocket.AcceptOptions{
		// In development only; list the real origins in production.
		OriginPatterns: []string{"localhost:5173", "127.0.0.1:5173"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return // the error says which Origin and Host were refused
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, origin := range []string{"http://localhost:5173", "http://localhost:3000"} {
		// What a browser sends from a page of that origin.
		c, err := websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{Header: http.Header{"Origin": {origin}}})
		var he *websocket.HandshakeError
		switch {
		case err == nil:
			fmt.Println(origin, "allowed")
			c.CloseNow()
		case errors.As(err, &he):
			body := strings.Replace(string(he.Body), srv.Listener.Addr().String(), "127.0.0.1:8082", 1)
			fmt.Print(he.StatusCode, " ", body)
		}
	}
	// Output:
	// http://localhost:5173 allowed
	// 403 origin "http://localhost:3000" not allowed for host "127.0.0.1:8082": the server must list the origin's host in AcceptOptions.OriginPatterns
}

// Dialing through a proxy: SOCKS5 with a username and password, the
// proxy resolving the server's name. http://, https:// (TLS to the proxy)
// and socks5:// proxies work the same way, and a nil Proxy takes them from
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY.
func ExampleDialOptions_proxy() {
	proxyURL := &url.URL{Scheme: "socks5h", User: url.UserPassword("user", "password"), Host: "proxy.internal:1080"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, "wss://feed.example.com/live", &websocket.DialOptions{
		Proxy: http.ProxyURL(proxyURL),
	})
	if err != nil {
		log.Print(err)
		return
	}
	defer c.CloseNow()
}
