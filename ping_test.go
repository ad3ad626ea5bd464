//go:build !js

package websocket

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestConnPingHandler(t *testing.T) {
	t.Run("Custom", func(t *testing.T) {
		p, c := newRawPeer(t, pipeConns, true, connConfig{})
		var got []string
		c.SetPingHandler(func(b []byte) error { got = append(got, string(b)); return nil })
		res := readAsync(c)
		p.write(fromClient(true, OpPing, "abc"))
		p.write(fromClient(true, OpText, "m1"))
		if r := waitRead(t, res); r.err != nil || string(r.msg) != "m1" {
			t.Fatalf("ReadMessage = %q, %v", r.msg, r.err)
		}
		if len(got) != 1 || got[0] != "abc" {
			t.Fatalf("handler saw %q, want [abc]", got)
		}
		// The handler replaced the pong: the next frame is the message below.
		go c.WriteMessage(OpText, []byte("after"))
		p.mustReadFrame(OpText, "after")
	})
	t.Run("ErrorEndsRead", func(t *testing.T) {
		p, c := newRawPeer(t, pipeConns, true, connConfig{})
		boom := errors.New("boom")
		c.SetPingHandler(func([]byte) error { return boom })
		res := readAsync(c)
		p.sendAsync(fromClient(true, OpPing, "x"))
		if r := waitRead(t, res); !errors.Is(r.err, boom) {
			t.Fatalf("ReadMessage error = %v, want the handler's", r.err)
		}
	})
	t.Run("NilRestoresDefault", func(t *testing.T) {
		p, c := newRawPeer(t, pipeConns, true, connConfig{})
		c.SetPingHandler(func([]byte) error { return nil })
		c.SetPingHandler(nil)
		res := readAsync(c)
		p.write(fromClient(true, OpPing, "again"))
		p.mustReadFrame(OpPong, "again")
		p.write(fromClient(true, OpBinary, "m"))
		waitRead(t, res)
	})
}

func TestConnPongHandler(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, true, connConfig{})
	var got []string
	c.SetPongHandler(func(b []byte) error { got = append(got, string(b)); return nil })
	res := readAsync(c)
	p.write(fromClient(true, OpPong, "xyz"))
	p.write(fromClient(true, OpPong, ""))
	p.write(fromClient(true, OpText, "m"))
	if r := waitRead(t, res); r.err != nil {
		t.Fatal(r.err)
	}
	if len(got) != 2 || got[0] != "xyz" || got[1] != "" {
		t.Fatalf("pong handler saw %q, want [xyz \"\"]", got)
	}
}

func TestConnPing(t *testing.T) {
	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	readLoop(cli)
	readLoop(srv)
	for _, c := range []*Conn{cli, srv} {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		rtt, err := c.Ping(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Ping from server=%v: %v", c.server, err)
		}
		if rtt <= 0 || rtt > testTimeout {
			t.Fatalf("Ping RTT %v", rtt)
		}
	}
	// Several at once, each answered by its own pong.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			if _, err := cli.Ping(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestConnPingContextExpires(t *testing.T) {
	// Nobody reads on the server, so no pong comes back.
	cli, _ := connPair(t, tcpConns, connConfig{}, connConfig{})
	readLoop(cli)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := cli.Ping(ctx); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ping error = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Ping still waits for its pong long after its 50ms context expired")
	}
}

// Ping must return when its context ends even if the ping cannot be written
// (a peer that does not read), or the keep-alive could never detect such a
// peer; the connection, whose write side is stuck, is then closed.
func TestConnPingContextBoundsBlockedWrite(t *testing.T) {
	cli, _ := connPair(t, pipeConns, connConfig{}, connConfig{}) // nobody reads the server end
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := cli.Ping(ctx); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ping error = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(testTimeout):
		cli.CloseNow()
		t.Fatal("Ping still blocked long after its 50ms context expired")
	}
	// Without the context, the write would end only when the close timeout
	// bounding the Conn's own writes fails the connection.
	if d := time.Since(start); d >= DefaultCloseTimeout {
		t.Fatalf("Ping took %v to return with a 50ms context: as long as the close timeout", d)
	}
	if err := cli.WriteMessage(OpText, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("WriteMessage after the stuck ping = %v, want ErrClosed", err)
	}
}

// A ping whose write goes out in time is not affected by its context ending
// later: the connection stays open. The context leaves a loaded machine
// room to write the ping (into the socket's buffer) before it expires.
func TestConnPingContextExpiresAfterWriteKeepsConn(t *testing.T) {
	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	readLoop(cli) // srv does not read: no pong
	ctx, cancel := context.WithTimeout(context.Background(), scaled(500*time.Millisecond))
	defer cancel()
	if _, err := cli.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping error = %v, want context.DeadlineExceeded", err)
	}
	if err := cli.WriteMessage(OpText, []byte("still open")); err != nil {
		t.Fatalf("WriteMessage after the ping: %v", err)
	}
	op, msg, err := srv.ReadMessage()
	if err != nil || op != OpText || string(msg) != "still open" {
		t.Fatalf("server read %v %q, %v", op, msg, err)
	}
}

// The keep-alive closes a connection whose peer stops answering pings.
func TestConnKeepAliveClosesSilentPeer(t *testing.T) {
	p, c := newRawPeer(t, tcpConns, true, connConfig{pingInterval: 50 * time.Millisecond})
	done := readLoop(c)
	for pings := 0; ; pings++ {
		h, _, err := p.readFrame()
		if err != nil {
			break // the Conn gave up on us
		}
		if h.Opcode != OpPing {
			t.Fatalf("got a %v frame, want only pings", h.Opcode)
		}
		if pings == 100 {
			t.Fatal("the keep-alive still pings after 100 pings unanswered")
		}
	}
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("the reader did not end after the keep-alive gave up")
	}
}

// A client answers a server's ping with a masked pong (RFC 6455 §5.1, §5.5.3).
func TestConnClientAnswersPingMasked(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, false, connConfig{})
	res := readAsync(c)
	p.write(fromServer(true, OpPing, "srv"))
	p.mustReadFrame(OpPong, "srv") // readFrame checks the mask
	p.write(fromServer(true, OpBinary, "m"))
	if r := waitRead(t, res); r.err != nil || string(r.msg) != "m" {
		t.Fatalf("ReadMessage = %q, %v", r.msg, r.err)
	}
}

// keepAliveInterval is a keep-alive interval for tests in which a healthy
// peer must not be dropped: its pong must come back within the interval,
// which a loaded machine takes long to do.
var keepAliveInterval = scaled(500 * time.Millisecond)

// pingBoth has each Conn ping the other and wait for the pong, with their
// readers running: the ping path of the keep-alive, without waiting for its
// interval.
func pingBoth(t *testing.T, conns ...*Conn) {
	t.Helper()
	for _, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		_, err := c.Ping(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Ping from server=%v: %v", c.server, err)
		}
	}
}

// pongSignal sets c's pong handler to signal on the channel it returns,
// never blocking c's reader; call it before c has a reader.
func pongSignal(c *Conn) <-chan struct{} {
	ch := make(chan struct{}, 1)
	c.SetPongHandler(func([]byte) error {
		select {
		case ch <- struct{}{}:
		default:
		}
		return nil
	})
	return ch
}

// A pong handler's error ends the read with that error, as a ping
// handler's does.
func TestConnPongHandlerErrorEndsRead(t *testing.T) {
	peer, c := newRawPeer(t, tcpConns, true, connConfig{})
	stop := errors.New("enough pongs")
	c.SetPongHandler(func(p []byte) error {
		if string(p) == "last" {
			return stop
		}
		return nil
	})
	peer.write(fromClient(true, OpPong, "first"))
	peer.write(fromClient(true, OpPong, "last"))
	c.SetReadDeadline(time.Now().Add(testTimeout))
	if _, _, err := c.ReadMessage(); err != stop {
		t.Fatalf("read error %v, want the pong handler's", err)
	}
}
