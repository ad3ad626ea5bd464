// Package proxy opens a tunnel to a server through the proxy a WebSocket
// client is told to use: an HTTP proxy asked with CONNECT (RFC 9110
// §9.3.6), the same over TLS to an https proxy, or a SOCKS5 proxy (RFC 1928,
// with RFC 1929's username and password).
package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// defaultPorts are the schemes spoken here and their ports.
var defaultPorts = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}

// Check reports an error unless p's scheme is one of http, https, socks5
// and socks5h and p names a host.
func Check(p *url.URL) error {
	if defaultPorts[p.Scheme] == "" {
		return fmt.Errorf("websocket: proxy %s: scheme %q is not one of http, https, socks5 and socks5h", p.Redacted(), p.Scheme)
	}
	if p.Hostname() == "" {
		return fmt.Errorf("websocket: proxy %s has no host", p.Redacted())
	}
	return nil
}

// Addr returns the host and port to connect to for p, the port defaulting
// to its scheme's.
func Addr(p *url.URL) string {
	if p.Port() == "" {
		return net.JoinHostPort(p.Hostname(), defaultPorts[p.Scheme])
	}
	return p.Host
}

// Connect asks the proxy p at the other end of nc for a tunnel to addr
// (host:port) and returns the connection to speak through: nc itself, or
// for an https proxy the TLS connection to the proxy that carries the
// tunnel, whose certificate is checked against conf for the proxy's own
// name, as net/http does. ctx bounds the TLS handshake; nc's deadline the
// rest.
func Connect(ctx context.Context, nc net.Conn, p *url.URL, addr string, conf *tls.Config) (net.Conn, error) {
	switch p.Scheme {
	case "https":
		tc, err := proxyTLS(ctx, nc, p, conf)
		if err != nil {
			return nil, err
		}
		return tc, httpConnect(tc, addr, p)
	case "socks5", "socks5h":
		return nc, socksConnect(nc, addr, p)
	}
	return nc, httpConnect(nc, addr, p)
}

// proxyTLS runs the TLS handshake with an https proxy.
func proxyTLS(ctx context.Context, nc net.Conn, p *url.URL, conf *tls.Config) (*tls.Conn, error) {
	if conf == nil {
		conf = &tls.Config{}
	} else {
		conf = conf.Clone()
	}
	conf.ServerName = p.Hostname()
	conf.NextProtos = nil // CONNECT is asked in HTTP/1.1
	tc := tls.Client(nc, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("websocket: TLS handshake with proxy %s: %w", p.Redacted(), err)
	}
	return tc, nil
}

// maxResponseBytes bounds the status line and headers of a CONNECT answer.
const maxResponseBytes = 16 << 10

// httpConnect asks the HTTP proxy at the other end of nc for a tunnel to
// addr. Any 2xx answer opens the tunnel.
func httpConnect(nc net.Conn, addr string, p *url.URL) error {
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if p.User != nil {
		req += "Proxy-Authorization: Basic " + BasicAuth(p.User) + "\r\n"
	}
	if _, err := nc.Write([]byte(req + "\r\n")); err != nil {
		return fmt.Errorf("websocket: proxy %s: %w", p.Redacted(), err)
	}
	// The proxy sends nothing past its answer before we speak through the
	// tunnel; a byte it did send would belong to no one, so it is an error.
	lim := &io.LimitedReader{R: nc, N: maxResponseBytes}
	br := bufio.NewReaderSize(lim, 1024)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		if lim.N <= 0 {
			err = errors.New("response header too large")
		}
		return fmt.Errorf("websocket: proxy %s: reading CONNECT response: %w", p.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("websocket: proxy %s refused CONNECT: %s", p.Redacted(), resp.Status)
	}
	if br.Buffered() > 0 {
		return fmt.Errorf("websocket: proxy %s sent data past its CONNECT response", p.Redacted())
	}
	return nil
}

// BasicAuth returns the credentials of u for a Basic Authorization header
// (RFC 7617).
func BasicAuth(u *url.Userinfo) string {
	pass, _ := u.Password()
	return base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + pass))
}
