// Command echo is the smallest useful WebSocket server: it sends every message
// back to its sender unchanged, text as text and binary as binary, and serves
// a page to try it from a browser.
//
//	go run ./examples/echo            # then open http://localhost:8082
//	go run ./examples/echo -addr :9000
//
// By default it listens on localhost only; in a container or a VM, listen on
// every interface with -addr :PORT (e.g. -addr :8082) and publish that port.
//
// The WebSocket endpoint is /ws; any WebSocket client can use it too.
//
// With -tls it serves HTTPS, HTTP/2 and HTTP/1.1, with a self-signed
// certificate made at start (the browser asks to accept it); with -h2c it
// also serves cleartext HTTP/2 to clients that speak it with prior
// knowledge. Browsers then open their WebSockets as streams of the page's
// HTTP/2 connection (RFC 8441) when net/http lets them, which takes
// GODEBUG=http2xconnect=1 at start:
//
//	GODEBUG=http2xconnect=1 go run ./examples/echo -tls   # https://localhost:8082
//
// Without it they fall back to an HTTP/1.1 connection per WebSocket.
//
// With -poller it serves the same page and endpoint through a
// websocket.Poller with its default options: an idle connection then holds
// no goroutine and no buffer, and no client, however slow or hostile, can
// hold the server up (see the Poller's documentation).
//
//	go run ./examples/echo -poller
//
// Its counters (connections, refused handshakes by status, messages and
// bytes each way, close codes) are at /debug/vars, under "websocket", as
// expvar serves them; with -poller, the Poller's at "websocket_poller".
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"expvar"
	"flag"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/fullduplex/websocket"
)

//go:embed index.html
var page []byte

// metrics counts what every WebSocket of the server does, for /debug/vars.
var metrics websocket.Metrics

// observer is the Observer of every WebSocket: metrics, and the connections
// that fail, logged.
var observer = &websocket.Observer{Metrics: &metrics, Logger: slog.Default()}

func init() { expvar.Publish("websocket", &metrics) }

func main() {
	addr := flag.String("addr", "localhost:8082", "address to listen on (use :PORT in a container or VM)")
	useTLS := flag.Bool("tls", false, "serve HTTPS (HTTP/2 and HTTP/1.1) with a self-signed certificate made at start")
	h2c := flag.Bool("h2c", false, "also serve cleartext HTTP/2 to clients with prior knowledge")
	usePoller := flag.Bool("poller", false, "serve WebSockets through a Poller (event-driven: no goroutine per idle connection)")
	flag.Parse()
	var p *websocket.Poller
	if *usePoller {
		var err error
		if p, err = websocket.NewPoller(nil); err != nil {
			log.Fatal(err)
		}
		expvar.Publish("websocket_poller", expvar.Func(func() any { return p.Stats() }))
	}
	hs, err := newServer(newHandler(p), *useTLS, *h2c)
	if err != nil {
		log.Fatal(err)
	}
	// Bind first, so that a busy port fails here, before "serving on".
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("echo: %v (is another server on that port? choose one with -addr)", err)
	}
	scheme := "http"
	if *useTLS {
		scheme = "https"
	}
	xconnect := "off: WebSockets use HTTP/1.1 (GODEBUG=http2xconnect=1 turns them on)"
	if strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		xconnect = "on"
	}
	mode := "a goroutine per connection"
	if p != nil {
		mode = "a Poller"
	}
	log.Printf("echo: serving on %s://%s, WebSockets through %s", scheme, ln.Addr(), mode)
	if *useTLS || *h2c {
		log.Printf("echo: WebSockets over HTTP/2 %s", xconnect)
	}
	if *useTLS {
		log.Fatal(hs.ServeTLS(ln, "", ""))
	}
	log.Fatal(hs.Serve(ln))
}

// newServer returns the server for handler: HTTP/1.1, plus HTTP/2 over TLS
// with a self-signed certificate when useTLS, plus cleartext HTTP/2 with
// prior knowledge when h2c.
func newServer(handler http.Handler, useTLS, h2c bool) (*http.Server, error) {
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(useTLS)
	p.SetUnencryptedHTTP2(h2c)
	hs.Protocols = &p
	if useTLS {
		cert, err := selfSignedCert()
		if err != nil {
			return nil, err
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	return hs, nil
}

// selfSignedCert makes a certificate for localhost, 127.0.0.1 and ::1,
// valid for a week.
func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"fullduplex echo example"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// newHandler serves the page at / and the echo endpoint at /ws, through p
// if it is not nil. The endpoint's pattern names no method: it takes the
// GET of an HTTP/1.1 upgrade and the CONNECT of a WebSocket over HTTP/2.
func newHandler(p *websocket.Poller) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	if p != nil {
		mux.Handle("/ws", pollerEcho{p})
	} else {
		mux.HandleFunc("/ws", serveEcho)
	}
	mux.Handle("GET /debug/vars", expvar.Handler())
	return mux
}

// pollerEcho serves the echo endpoint through a Poller: the HTTP handler
// hands the Conn over and returns (over HTTP/2, where the WebSocket is a
// stream that ends with the handler, Add returns once the Conn has ended),
// and the Poller calls HandleMessage with each message as it arrives whole.
type pollerEcho struct{ p *websocket.Poller }

func (e pollerEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Observer: observer}) // same-origin browsers and non-browser clients
	if err != nil {
		return // Accept has answered the request
	}
	if err := e.p.Add(c, e); err != nil {
		c.CloseNow()
	}
}

// HandleMessage sends each message back as it came. The write never waits
// for the peer: what the socket does not take is queued, and a peer that
// does not read is dropped by the Poller.
func (pollerEcho) HandleMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	c.WriteMessage(op, p)
}

// HandleClose has nothing to do: the Observer logs connections that fail.
func (pollerEcho) HandleClose(*websocket.Conn, error) {}

// serveEcho echoes each message as it arrives. It streams rather than
// reading whole messages, so a message of any size within the read limit
// costs one buffer, and a text message is checked as UTF-8 while it passes.
// It uses the Conn only from its own goroutine and returns once the Conn is
// closed, as a WebSocket over HTTP/2, which ends with the handler, requires.
func serveEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Observer: observer}) // same-origin browsers and non-browser clients
	if err != nil {
		return // Accept has answered the request
	}
	defer c.CloseNow()
	for {
		op, msg, err := c.NextReader()
		if err != nil {
			return // the Observer logs a failure
		}
		out, err := c.NextWriter(op)
		if err != nil {
			return
		}
		if _, err := io.Copy(out, msg); err != nil {
			return
		}
		if err := out.Close(); err != nil {
			return
		}
	}
}
