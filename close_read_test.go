//go:build !js

package websocket

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// pushUntil has srv send a message every tick until stop is closed and
// then close normally, as a feed that only writes, and returns the error
// that ended the reading client's reads.
func pushUntil(cli, srv *Conn, tick time.Duration, stop <-chan struct{}) error {
	go func() {
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				srv.Close(StatusNormalClosure, "done")
				return
			case <-tk.C:
				srv.SetWriteDeadline(time.Now().Add(testTimeout))
				if srv.WriteMessage(OpText, []byte("tick")) != nil {
					return
				}
			}
		}
	}()
	cli.SetReadDeadline(time.Now().Add(testTimeout))
	for {
		if _, _, err := cli.ReadMessage(); err != nil {
			return err
		}
	}
}

// TestCloseReadKeepsPingIntervalAlive: a server that only writes, with a
// keep-alive, keeps a healthy client that reads for as long as it pushes
// once CloseRead reads the pongs; without CloseRead the keep-alive sees no
// pong and drops the client. Events decide, not durations: the client
// must be dropped before the feed ends (which it never does by itself), or
// must outlive a keep-alive round answered and end with the feed's 1000.
func TestCloseReadKeepsPingIntervalAlive(t *testing.T) {
	// Nobody reads the pongs: a short interval, which load only delays.
	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{pingInterval: 100 * time.Millisecond})
	stop := make(chan struct{})
	err := pushUntil(cli, srv, 20*time.Millisecond, stop)
	close(stop)
	if errors.Is(err, os.ErrDeadlineExceeded) || IsNormalClose(err) {
		t.Fatalf("without CloseRead the client ended with %v; want it dropped by the keep-alive, else this test proves nothing", err)
	}

	// CloseRead reads the pongs, each of which must beat the interval.
	cli, srv = connPair(t, tcpConns, connConfig{}, connConfig{pingInterval: keepAliveInterval})
	pong := pongSignal(srv)
	ctx := srv.CloseRead(context.Background())
	stop = make(chan struct{})
	ended := make(chan error, 1)
	go func() { ended <- pushUntil(cli, srv, 20*time.Millisecond, stop) }()
	select {
	case <-pong: // a keep-alive round, answered through CloseRead
		close(stop)
	case err := <-ended:
		t.Fatalf("with CloseRead the client ended with %v before a keep-alive round", err)
	case <-time.After(testTimeout):
		t.Fatalf("no keep-alive round within %v", testTimeout)
	}
	select {
	case err := <-ended:
		if CloseStatus(err) != StatusNormalClosure {
			t.Fatalf("with CloseRead the client ended with %v; want the server's 1000 at the end of the feed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the client's reads did not end after the feed's close")
	}
	select {
	case <-ctx.Done():
		if !IsNormalClose(context.Cause(ctx)) {
			t.Fatalf("CloseRead's context ended with %v, want a normal close", context.Cause(ctx))
		}
	case <-time.After(testTimeout):
		t.Fatal("CloseRead's context not done after the close")
	}
}

// TestCloseReadSeesPeerClose: the context ends when the peer closes, with
// its CloseError as the cause, and the peer gets its Close answered.
func TestCloseReadSeesPeerClose(t *testing.T) {
	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	ctx := srv.CloseRead(context.Background())
	if err := cli.Close(StatusGoingAway, "leaving"); err != nil {
		t.Fatalf("client Close: %v", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(testTimeout):
		t.Fatal("CloseRead's context not done after the peer's Close")
	}
	var ce *CloseError
	if err := context.Cause(ctx); !errors.As(err, &ce) || ce.Code != StatusGoingAway || ce.Reason != "leaving" {
		t.Fatalf("cause %v, want the peer's 1001 \"leaving\"", err)
	}
}

// TestCloseReadFailsOnDataMessage: a data message on a connection that only
// writes is a policy violation (1008).
func TestCloseReadFailsOnDataMessage(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, true, connConfig{})
	ctx := c.CloseRead(context.Background())
	p.sendAsync(fromClient(true, OpText, "unexpected"))
	p.expectClose(StatusPolicyViolation)
	p.write(clientClose(1008, ""))
	p.expectEOF()
	select {
	case <-ctx.Done():
	case <-time.After(testTimeout):
		t.Fatal("CloseRead's context not done after the failure")
	}
	if err := context.Cause(ctx); !errors.Is(err, errDataOnWriteOnly) {
		t.Fatalf("cause %v, want %v", err, errDataOnWriteOnly)
	}
}

// TestCloseReadDeadlineClosesConn: a read deadline still applies after
// CloseRead; when it passes nobody would read again, so the connection is
// closed rather than left without a reader.
func TestCloseReadDeadlineClosesConn(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, true, connConfig{})
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	ctx := c.CloseRead(context.Background())
	select {
	case <-ctx.Done():
	case <-time.After(testTimeout):
		t.Fatal("CloseRead's context not done after the read deadline")
	}
	if err := context.Cause(ctx); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("cause %v, want the deadline", err)
	}
	p.expectEOF()
}
