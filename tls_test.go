//go:build !js

package websocket

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// testCert generates a self-signed certificate for 127.0.0.1 and returns
// it with a pool that trusts it.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fullduplex test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// serveTLS serves handler over TLS on loopback and returns its wss URL and
// a client TLS config that trusts it.
func serveTLS(t *testing.T, handler http.HandlerFunc) (string, *tls.Config) {
	t.Helper()
	cert, pool := testCert(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: testTimeout}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "wss://" + ln.Addr().String() + "/", &tls.Config{RootCAs: pool}
}

// TestTLSRoundTrip exchanges messages over wss, with and without
// compression, and ends with the closing handshake.
func TestTLSRoundTrip(t *testing.T) {
	url, conf := serveTLS(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetDeadline(time.Now().Add(testTimeout))
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(op, p); err != nil {
				return
			}
		}
	})
	for _, disabled := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		c, err := Dial(ctx, url, &DialOptions{TLSConfig: conf, Compression: CompressionOptions{Disabled: disabled}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if (c.comp == nil) != disabled {
			t.Fatalf("compression disabled %v, negotiated %v", disabled, c.comp != nil)
		}
		c.SetDeadline(time.Now().Add(testTimeout))
		for _, n := range []int{0, 125, 70000, 1 << 20} {
			want := bytes.Repeat([]byte("wss "), n/4)
			if err := c.WriteMessage(OpText, want); err != nil {
				t.Fatal(err)
			}
			op, got, err := c.ReadMessage()
			if err != nil || op != OpText || !bytes.Equal(got, want) {
				t.Fatalf("%d B: got %v %d B, %v", n, op, len(got), err)
			}
		}
		if err := c.Close(StatusNormalClosure, ""); err != nil {
			t.Fatalf("close handshake over TLS: %v", err)
		}
	}
}

// TestTLSServerFailsWithCloseCode checks that a server failing a TLS
// connection over a message too big still gets its Close frame to the
// client, which has more of the message in flight.
func TestTLSServerFailsWithCloseCode(t *testing.T) {
	url, conf := serveTLS(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{ReadLimit: 1000})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetDeadline(time.Now().Add(testTimeout))
		c.ReadMessage()
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Dial(ctx, url, &DialOptions{TLSConfig: conf, Compression: CompressionOptions{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(testTimeout))
	go c.WriteMessage(OpBinary, make([]byte, 200000))
	_, _, err = c.ReadMessage()
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusMessageTooBig {
		t.Fatalf("read = %v; want the server's close 1009", err)
	}
}
