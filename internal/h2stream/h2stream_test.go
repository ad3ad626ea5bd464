package h2stream

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

var errEnded = errors.New("stream ended")

// serve runs h over each request's stream of an HTTP/2 server with TLS,
// and returns a client whose requests are HTTP/2 too.
func serve(t *testing.T, h func(*Conn)) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.WriteHeader(http.StatusOK)
		rc.Flush()
		c := New(w, r, rc, errEnded)
		h(c)
		c.Close()
		<-c.Done()
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

// open sends a request whose body the test writes, and returns the
// response whose body it reads: a full-duplex stream.
func open(t *testing.T, srv *httptest.Server, cl *http.Client) (io.WriteCloser, io.ReadCloser) {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("HTTP/%d, want 2", resp.ProtoMajor)
	}
	t.Cleanup(func() { pw.Close(); resp.Body.Close() })
	return pw, resp.Body
}

func TestConnEchoesBothWays(t *testing.T) {
	srv, cl := serve(t, func(c *Conn) {
		buf := make([]byte, 64<<10)
		for {
			if err := c.WaitReadable(); err != nil {
				return
			}
			n, err := c.Read(buf)
			if n > 0 {
				// Header and payload apart, as the engine writes them.
				if _, err := c.WriteBuffers([][]byte{buf[:1], buf[1:n]}); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	w, r := open(t, srv, cl)
	for _, n := range []int{1, 4096, 20000} {
		want := bytes.Repeat([]byte{byte(n)}, n)
		if _, err := w.Write(want); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, n)
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: echo of %d bytes, %v", n, len(got), err)
		}
	}
}

// Close ends a read in progress, with net.ErrClosed's error, and Done is
// closed once the ResponseWriter is no longer used.
func TestConnCloseEndsARead(t *testing.T) {
	res := make(chan error, 1)
	started := make(chan *Conn, 1)
	srv, cl := serve(t, func(c *Conn) {
		started <- c
		_, err := c.Read(make([]byte, 16))
		res <- err
	})
	open(t, srv, cl)
	c := <-started
	c.SetReadDeadline(time.Time{})
	go c.Close()
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("read returned no error once closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read was not ended by Close")
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done was not closed")
	}
	if _, err := c.Write([]byte("late")); err == nil {
		t.Fatal("a write after Close succeeded")
	}
}
