package websocket

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// pushFor has srv send a message every tick for d, as a feed that only
// writes, and reports how long the reading client lasted and why it ended.
func pushFor(t *testing.T, cli, srv *Conn, d, tick time.Duration) (lasted time.Duration, err error) {
	t.Helper()
	go func() {
		tk := time.NewTicker(tick)
		defer tk.Stop()
		end := time.After(d)
		for {
			select {
			case <-end:
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
	start := time.Now()
	cli.SetReadDeadline(time.Now().Add(d + testTimeout))
	for {
		if _, _, err := cli.ReadMessage(); err != nil {
			return time.Since(start), err
		}
	}
}

// TestCloseReadKeepsPingIntervalAlive: a server that only writes, with a
// keep-alive, keeps a healthy client that reads for as long as it pushes
// once CloseRead reads the pongs; without CloseRead the keep-alive sees no
// pong and drops the client after about two intervals.
func TestCloseReadKeepsPingIntervalAlive(t *testing.T) {
	const interval = 100 * time.Millisecond
	const d = 1200 * time.Millisecond // 12 intervals

	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{pingInterval: interval})
	lasted, err := pushFor(t, cli, srv, d, 20*time.Millisecond)
	if lasted > d/2 || IsNormalClose(err) {
		t.Fatalf("without CloseRead the client lasted %v (%v); want it dropped early, else this test proves nothing", lasted, err)
	}

	cli, srv = connPair(t, tcpConns, connConfig{}, connConfig{pingInterval: interval})
	ctx := srv.CloseRead(context.Background())
	lasted, err = pushFor(t, cli, srv, d, 20*time.Millisecond)
	if lasted < d || CloseStatus(err) != StatusNormalClosure {
		t.Fatalf("with CloseRead the client lasted %v and ended with %v; want %v and the server's 1000", lasted, err, d)
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
