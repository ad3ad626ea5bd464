//go:build !js

package websocket

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// httpGroupServer serves WebSockets taken with g.Accept from an
// http.Server on loopback; each handler reads its Conn until it fails.
// wrap, if not nil, wraps each request's ResponseWriter.
type httpGroupServer struct {
	hs       *http.Server
	addr     string
	served   chan error
	handlers sync.WaitGroup
}

func startHTTPGroupServer(t *testing.T, g *Group, wrap func(http.ResponseWriter) http.ResponseWriter) *httpGroupServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &httpGroupServer{addr: ln.Addr().String(), served: make(chan error, 1)}
	s.hs = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handlers.Add(1)
		defer s.handlers.Done()
		if wrap != nil {
			w = wrap(w)
		}
		c, err := g.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})}
	go func() { s.served <- s.hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.hs.Shutdown(ctx)
		g.Shutdown(ctx)
		s.handlers.Wait()
	})
	return s
}

// readClose reads c in a goroutine, as a page does, and sends what ended
// the read.
func readClose(c *Conn) <-chan error {
	ch := make(chan error, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := c.ReadMessage()
		ch <- err
	}()
	return ch
}

// TestGroupAcceptBehindHTTPServer: Group.Shutdown and then
// http.Server.Shutdown, in that order and waited for, as main does, close a
// WebSocket taken with the Group's Accept with 1001.
func TestGroupAcceptBehindHTTPServer(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		var g Group
		s := startHTTPGroupServer(t, &g, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := Dial(ctx, "ws://"+s.addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		read := readClose(c)
		if err := g.Shutdown(ctx); err != nil {
			t.Fatalf("Group.Shutdown: %v", err)
		}
		if err := s.hs.Shutdown(ctx); err != nil {
			t.Fatalf("http.Server.Shutdown after the group's: %v", err)
		}
		if err := <-read; CloseStatus(err) != StatusGoingAway {
			t.Fatalf("client read ends with %v, want close %v", err, StatusGoingAway)
		}
		if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve = %v", err)
		}
		s.handlers.Wait()
	}()
	checkGoroutines(t, before)
}

// stallAfterHijack is a ResponseWriter whose Hijack, once the connection
// is taken over, and so forgotten by http.Server.Shutdown, waits until
// proceed is closed: a handler descheduled just after the takeover.
type stallAfterHijack struct {
	http.ResponseWriter
	hijacked chan struct{}
	proceed  chan struct{}
}

func (w *stallAfterHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	close(w.hijacked)
	<-w.proceed
	return nc, brw, err
}

// TestGroupShutdownWaitsForAcceptUnderWay: a Conn that the Group's Accept
// has taken over from the http.Server (which then forgets it), but not yet
// made a member, when Shutdown begins is closed with 1001 too, and Shutdown
// waits for it. With Accept and then Add, Shutdown returned at once and Add
// refused the Conn, which a program exiting then dropped with no Close
// frame.
func TestGroupShutdownWaitsForAcceptUnderWay(t *testing.T) {
	var g Group
	stall := &stallAfterHijack{hijacked: make(chan struct{}), proceed: make(chan struct{})}
	var release sync.Once
	proceed := func() { release.Do(func() { close(stall.proceed) }) }
	s := startHTTPGroupServer(t, &g, func(w http.ResponseWriter) http.ResponseWriter {
		stall.ResponseWriter = w
		return stall
	})
	t.Cleanup(proceed) // before the server's clean-up, which waits for the handler
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type dial struct {
		c   *Conn
		err error
	}
	dialed := make(chan dial, 1)
	go func() {
		c, err := Dial(ctx, "ws://"+s.addr+"/", nil)
		dialed <- dial{c, err}
	}()
	select {
	case <-stall.hijacked:
	case <-ctx.Done():
		t.Fatal("the handler did not take the connection over within 10s")
	}
	shut := make(chan error, 1)
	go func() { shut <- g.Shutdown(ctx) }()
	// Shutdown cannot end before the accept does. A slow machine may let
	// it look as if it waited when it would not have, never the reverse.
	select {
	case err := <-shut:
		t.Fatalf("Group.Shutdown returned %v while an accept was under way", err)
	case <-time.After(100 * time.Millisecond):
	}
	proceed()
	d := <-dialed
	if d.err != nil {
		t.Fatal(d.err)
	}
	c := d.c
	defer c.CloseNow()
	if err := <-readClose(c); CloseStatus(err) != StatusGoingAway {
		t.Fatalf("client read ends with %v, want close %v", err, StatusGoingAway)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Group.Shutdown = %v, want nil", err)
	}
	if g.Len() != 0 {
		t.Fatalf("Len after Shutdown = %d, want 0", g.Len())
	}
}

// TestGroupAcceptRefusedWhileShuttingDown: once the group is shutting down,
// a handshake is refused with 503 rather than taken over.
func TestGroupAcceptRefusedWhileShuttingDown(t *testing.T) {
	var g Group
	s := startHTTPGroupServer(t, &g, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := Dial(ctx, "ws://"+s.addr+"/", nil)
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("Dial = %v, want a handshake refused with 503", err)
	}
}

// TestGroupAcceptFailedHandshakeIsNotWaitedFor: a request that is no
// WebSocket handshake leaves nothing for Shutdown to wait for.
func TestGroupAcceptFailedHandshakeIsNotWaitedFor(t *testing.T) {
	var g Group
	s := startHTTPGroupServer(t, &g, nil)
	resp, err := http.Get("http://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET: %s, want 400", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want nil", err)
	}
}
