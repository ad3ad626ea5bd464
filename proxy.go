package websocket

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// dialServer opens the TCP connection for u: to the server itself, or to the
// proxy that opts.Proxy names, which is returned too: the tunnel is then
// still to be asked for with tunnel.
func dialServer(ctx context.Context, u *url.URL, opts *DialOptions) (net.Conn, *url.URL, error) {
	dial := opts.NetDialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	proxyURL, err := proxyFor(u, opts)
	if err != nil {
		return nil, nil, err
	}
	addr := hostPort(u)
	if proxyURL != nil {
		addr = proxyURL.Host
		if proxyURL.Port() == "" {
			addr = net.JoinHostPort(proxyURL.Hostname(), defaultProxyPorts[proxyURL.Scheme])
		}
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: dial %s: %w", addr, err)
	}
	return nc, proxyURL, nil
}

// proxyFor returns the proxy to use for u, or nil.
func proxyFor(u *url.URL, opts *DialOptions) (*url.URL, error) {
	proxy := opts.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	// Proxy functions, http.ProxyFromEnvironment first, choose by the HTTP
	// scheme: a ws URL goes where http traffic goes, wss where https does.
	p, err := proxy(&http.Request{Method: http.MethodGet, URL: httpURL(u), Header: http.Header{}, Host: u.Host})
	if err != nil {
		return nil, fmt.Errorf("websocket: finding proxy: %w", err)
	}
	if p == nil {
		return nil, nil
	}
	if defaultProxyPorts[p.Scheme] == "" {
		return nil, fmt.Errorf("websocket: proxy %s: scheme %q is not one of http, https, socks5 and socks5h", p.Redacted(), p.Scheme)
	}
	if p.Hostname() == "" {
		return nil, fmt.Errorf("websocket: proxy %s has no host", p.Redacted())
	}
	return p, nil
}

// defaultProxyPorts are the proxy schemes Dial speaks and their ports.
var defaultProxyPorts = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}

// tunnel asks the proxy at the other end of nc for a connection to u's host
// and returns the connection to speak through: nc itself, or for an https
// proxy the TLS connection to the proxy that carries the tunnel.
func tunnel(ctx context.Context, nc net.Conn, u, proxyURL *url.URL, conf *tls.Config) (net.Conn, error) {
	switch proxyURL.Scheme {
	case "https":
		tc, err := proxyTLS(ctx, nc, proxyURL, conf)
		if err != nil {
			return nil, err
		}
		return tc, proxyConnect(tc, u, proxyURL)
	case "socks5", "socks5h":
		return nc, socksConnect(nc, u, proxyURL)
	}
	return nc, proxyConnect(nc, u, proxyURL)
}

// proxyTLS runs the TLS handshake with an https proxy, checking its
// certificate against conf (DialOptions.TLSConfig) for the proxy's own name,
// as net/http does.
func proxyTLS(ctx context.Context, nc net.Conn, proxyURL *url.URL, conf *tls.Config) (*tls.Conn, error) {
	if conf == nil {
		conf = &tls.Config{}
	} else {
		conf = conf.Clone()
	}
	conf.ServerName = proxyURL.Hostname()
	conf.NextProtos = nil // CONNECT is asked in HTTP/1.1
	tc := tls.Client(nc, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("websocket: TLS handshake with proxy %s: %w", proxyURL.Redacted(), err)
	}
	return tc, nil
}

// hostPort returns u's host and port, the port defaulting to 80 for ws and
// 443 for wss (RFC 6455 §3).
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// proxyConnect asks the HTTP proxy at the other end of nc for a tunnel to u's
// host (RFC 9110 §9.3.6). Any 2xx answer opens the tunnel.
func proxyConnect(nc net.Conn, u, proxyURL *url.URL) error {
	addr := hostPort(u)
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if proxyURL.User != nil {
		req += "Proxy-Authorization: Basic " + basicAuth(proxyURL.User) + "\r\n"
	}
	if _, err := nc.Write([]byte(req + "\r\n")); err != nil {
		return fmt.Errorf("websocket: proxy %s: %w", proxyURL.Redacted(), err)
	}
	// A reader of one byte at a time would do, but the proxy sends nothing
	// past its answer before we speak through the tunnel; a byte it did
	// send would belong to no one, so it is an error.
	br := bufio.NewReaderSize(&headerLimiter{r: nc, n: maxResponseHeaderBytes}, 1024)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return fmt.Errorf("websocket: proxy %s: reading CONNECT response: %w", proxyURL.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("websocket: proxy %s refused CONNECT: %s", proxyURL.Redacted(), resp.Status)
	}
	if br.Buffered() > 0 {
		return fmt.Errorf("websocket: proxy %s sent data past its CONNECT response", proxyURL.Redacted())
	}
	return nil
}

// tlsClient runs the TLS handshake for a wss connection.
func tlsClient(ctx context.Context, nc net.Conn, u *url.URL, conf *tls.Config) (*tls.Conn, error) {
	if conf == nil {
		conf = &tls.Config{}
	} else {
		conf = conf.Clone()
	}
	if conf.ServerName == "" {
		conf.ServerName = u.Hostname()
	}
	// The opening handshake is HTTP/1.1 (RFC 6455 §4.1); WebSockets over
	// HTTP/2 (RFC 8441) work differently, so never let ALPN pick h2.
	if len(conf.NextProtos) > 0 {
		conf.NextProtos = []string{"http/1.1"}
	}
	tc := tls.Client(nc, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("websocket: TLS handshake with %s: %w", u.Host, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "" && !strings.EqualFold(p, "http/1.1") {
		return nil, fmt.Errorf("websocket: server %s negotiated %q over ALPN", u.Host, p)
	}
	return tc, nil
}
