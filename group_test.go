//go:build !js

package websocket

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// groupServer accepts WebSocket connections on loopback, adds each to g and
// reads it until it fails, as an application's handler would.
type groupServer struct {
	g        *Group
	ln       net.Listener
	addr     string
	handlers sync.WaitGroup
	added    chan *Conn // every Conn added, in order
}

// startGroupServer serves g; sndbuf, if not 0, shrinks the kernel send buffer
// of every accepted connection, so that a client that stops reading stalls
// the server's writes after kilobytes.
func startGroupServer(t *testing.T, g *Group, sndbuf int, opts *AcceptOptions) *groupServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &groupServer{g: g, ln: ln, addr: ln.Addr().String(), added: make(chan *Conn, 100)}
	s.handlers.Add(1)
	go func() {
		defer s.handlers.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if tc, ok := nc.(*net.TCPConn); ok && sndbuf > 0 {
				tc.SetWriteBuffer(sndbuf)
			}
			s.handlers.Add(1)
			go func() {
				defer s.handlers.Done()
				c, err := AcceptConn(nc, nil, opts)
				if err != nil {
					nc.Close()
					return
				}
				defer c.CloseNow()
				if !g.Add(c) {
					c.Close(StatusGoingAway, "shutting down")
					return
				}
				s.added <- c
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

// stop closes the listener, shuts the group down and waits for every
// handler to return. It may be called more than once.
func (s *groupServer) stop() {
	s.ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s.g.Shutdown(ctx)
	s.handlers.Wait()
}

// dialGroup connects a client and waits until the server has added it.
func (s *groupServer) dial(t *testing.T, opts *DialOptions) *Conn {
	t.Helper()
	c, _ := s.dialPair(t, opts)
	return c
}

// dialPair is dial that also returns the server's side of the connection.
func (s *groupServer) dialPair(t *testing.T, opts *DialOptions) (client, server *Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Dial(ctx, "ws://"+s.addr+"/", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	select {
	case server = <-s.added:
	case <-time.After(testTimeout):
		t.Fatalf("server did not add the connection within %v", testTimeout)
	}
	return c, server
}

// checkGoroutines fails t if, within a bounded wait, more goroutines run
// than before.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left behind:\n%s", n-before, buf[:runtime.Stack(buf, true)])
	}
}

// numbered returns a message of size bytes (at least 4) carrying i.
func numbered(t *testing.T, op Opcode, i, size int) *PreparedMessage {
	t.Helper()
	p := make([]byte, size)
	for j := range p {
		p[j] = 'a' + byte(j%26)
	}
	binary.BigEndian.PutUint32(p, uint32(i))
	if op == OpText {
		copy(p, fmt.Sprintf("%04d", i%10000))
	}
	pm, err := NewPreparedMessage(op, p)
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

// readNumbered reads n messages from c and checks they are numbered
// 0..n-1, in order, and of size bytes.
func readNumbered(c *Conn, op Opcode, n, size int) error {
	c.SetReadDeadline(time.Now().Add(2 * testTimeout))
	for i := range n {
		gotOp, p, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		var num int
		if op == OpText {
			fmt.Sscanf(string(p[:4]), "%d", &num)
		} else {
			num = int(binary.BigEndian.Uint32(p))
		}
		if gotOp != op || len(p) != size || num != i%10000 {
			return fmt.Errorf("message %d: got %v of %d bytes numbered %d, want %v of %d bytes", i, gotOp, len(p), num, op, size)
		}
	}
	return nil
}

func TestGroupBroadcastReachesEveryMemberInOrder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		members  int
		messages int
		size     int
		op       Opcode
		compress bool
	}{
		{"1member", 1, 200, 16, OpBinary, false},
		{"20members/16B", 20, 300, 16, OpBinary, false},
		{"20members/1KiB", 20, 300, 1 << 10, OpBinary, false},
		{"5members/64KiB", 5, 40, 64 << 10, OpBinary, false},
		{"10members/text/compressed", 10, 200, 2 << 10, OpText, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			func() {
				g := &Group{QueueSize: tc.messages}
				opts := &AcceptOptions{Compression: CompressionOptions{Disabled: !tc.compress}}
				s := startGroupServer(t, g, 0, opts)
				defer s.stop()
				conns := make([]*Conn, tc.members)
				for i := range conns {
					conns[i] = s.dial(t, &DialOptions{Compression: CompressionOptions{Disabled: !tc.compress}})
				}
				if g.Len() != tc.members {
					t.Fatalf("Len = %d, want %d", g.Len(), tc.members)
				}
				errs := make(chan error, tc.members)
				for _, c := range conns {
					go func() { errs <- readNumbered(c, tc.op, tc.messages, tc.size) }()
				}
				for i := range tc.messages {
					g.Broadcast(numbered(t, tc.op, i, tc.size))
				}
				for range conns {
					if err := <-errs; err != nil {
						t.Fatal(err)
					}
				}
				if g.Len() != tc.members {
					t.Fatalf("after the broadcast Len = %d, want %d: a member was dropped", g.Len(), tc.members)
				}
				for _, c := range conns {
					c.Close(StatusNormalClosure, "")
				}
			}()
			checkGoroutines(t, before)
		})
	}
}

// TestGroupSendKeepsOrderWithBroadcast interleaves messages to one member
// with broadcasts: each member gets its own in the order they were queued.
func TestGroupSendKeepsOrderWithBroadcast(t *testing.T) {
	g := &Group{}
	s := startGroupServer(t, g, 0, nil)
	a, serverA := s.dialPair(t, nil)
	b := s.dial(t, nil)
	const n = 100
	for i := range n {
		g.Broadcast(numbered(t, OpBinary, 2*i, 16))
		if !g.Send(serverA, numbered(t, OpBinary, 2*i+1, 16)) {
			t.Fatal("Send to a member returned false")
		}
	}
	if err := readNumbered(a, OpBinary, 2*n, 16); err != nil {
		t.Fatalf("a: %v", err)
	}
	b.SetReadDeadline(time.Now().Add(testTimeout))
	for i := range n {
		_, p, err := b.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.BigEndian.Uint32(p); got != uint32(2*i) {
			t.Fatalf("b's message %d is numbered %d, want %d", i, got, 2*i)
		}
	}
	if g.Send(b, numbered(t, OpBinary, 0, 16)) {
		t.Fatal("Send to a client-side Conn, not a member, returned true")
	}
}

// TestGroupDropsSlowMemberWith1008 has one client stop reading while
// another reads everything: the slow one is dropped with 1008 within the
// bound (by a full queue or by a stalled write), the other gets every
// message in order.
func TestGroupDropsSlowMemberWith1008(t *testing.T) {
	for _, tc := range []struct {
		name    string
		queue   int
		timeout time.Duration
		bound   time.Duration // from the first message until the drop
	}{
		// A write timeout of an hour: only the queue can drop the member.
		{"QueueFull", 8, time.Hour, scaled(10 * time.Second)},
		{"WriteStalls", 1 << 20, time.Second, scaled(10 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			func() {
				g := &Group{QueueSize: tc.queue, WriteTimeout: tc.timeout}
				s := startGroupServer(t, g, 4096, &AcceptOptions{CloseTimeout: 500 * time.Millisecond, Compression: CompressionOptions{Disabled: true}})
				defer s.stop()
				fast := s.dial(t, nil)
				slow := s.dial(t, &DialOptions{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if tc, ok := nc.(*net.TCPConn); ok {
						tc.SetReadBuffer(4096)
					}
					return nc, err
				}})

				const size = 1 << 10
				start := time.Now()
				var dropped time.Duration
				sent := 0
				for ; time.Since(start) < 2*tc.bound; sent++ {
					g.Broadcast(numbered(t, OpBinary, sent, size))
					// fast reads each message before the next is sent, so
					// its queue never holds more than one.
					if err := readRange(fast, sent, sent+1, size); err != nil {
						t.Fatalf("fast client: %v", err)
					}
					if g.Len() == 1 && dropped == 0 {
						dropped = time.Since(start)
					}
					if dropped > 0 && sent > 64 {
						break
					}
				}
				if dropped == 0 || dropped > tc.bound {
					t.Fatalf("slow member dropped after %v (0: never), want within %v", dropped, tc.bound)
				}
				t.Logf("slow member dropped after %v; %d messages reached the fast one", dropped, sent+1)
				// The slow client, reading at last, finds 1008, or the
				// connection cut if the Close frame could not get through.
				slow.SetReadDeadline(time.Now().Add(2 * testTimeout))
				for {
					_, _, err := slow.ReadMessage()
					if err == nil {
						continue
					}
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatalf("slow client's connection still open: %v", err)
					}
					if code := CloseStatus(err); code != 0 && code != StatusPolicyViolation {
						t.Fatalf("slow client closed with %v, want %v", code, StatusPolicyViolation)
					}
					t.Logf("slow client's read ends with %v", err)
					break
				}
			}()
			checkGoroutines(t, before)
		})
	}
}

// readRange reads the messages numbered lo..hi-1.
func readRange(c *Conn, lo, hi, size int) error {
	c.SetReadDeadline(time.Now().Add(2 * testTimeout))
	for i := lo; i < hi; i++ {
		_, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if len(p) != size || binary.BigEndian.Uint32(p) != uint32(i) {
			return fmt.Errorf("message %d: %d bytes numbered %d", i, len(p), binary.BigEndian.Uint32(p))
		}
	}
	return nil
}

func TestGroupShutdownClosesAllWithGoingAway(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		g := &Group{}
		s := startGroupServer(t, g, 0, nil)
		defer s.stop()
		conns := []*Conn{s.dial(t, nil), s.dial(t, nil), s.dial(t, nil)}
		codes := make(chan StatusCode, len(conns))
		for _, c := range conns {
			go func() {
				c.SetReadDeadline(time.Now().Add(2 * testTimeout))
				_, _, err := c.ReadMessage()
				codes <- CloseStatus(err)
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown = %v, want nil", err)
		}
		if g.Len() != 0 {
			t.Fatalf("Len after Shutdown = %d, want 0", g.Len())
		}
		for range conns {
			if code := <-codes; code != StatusGoingAway {
				t.Fatalf("client read ends with close %v, want %v", code, StatusGoingAway)
			}
		}
		// A newcomer is turned away with 1001 too.
		ctx2, cancel2 := context.WithTimeout(context.Background(), testTimeout)
		defer cancel2()
		c, err := Dial(ctx2, "ws://"+s.addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.SetReadDeadline(time.Now().Add(testTimeout))
		if _, _, err := c.ReadMessage(); CloseStatus(err) != StatusGoingAway {
			t.Fatalf("newcomer's read ends with %v, want close %v", err, StatusGoingAway)
		}
		if err := g.Shutdown(ctx); err != nil {
			t.Fatalf("second Shutdown = %v, want nil", err)
		}
	}()
	checkGoroutines(t, before)
}

// TestGroupShutdownReturnsWhenContextEnds: a client that never reads never
// answers the Close frame, so the close waits its whole timeout (a minute
// here); Shutdown returns when its context ends, not when that timeout
// does, and ends that connection.
func TestGroupShutdownReturnsWhenContextEnds(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		const closeTimeout = time.Minute
		g := &Group{}
		s := startGroupServer(t, g, 0, &AcceptOptions{CloseTimeout: closeTimeout})
		defer s.stop()
		deaf := s.dial(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := g.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want %v", err, context.DeadlineExceeded)
		}
		if d := time.Since(start); d >= closeTimeout {
			t.Fatalf("Shutdown took %v: it waited out the close timeout, not its context", d)
		}
		if g.Len() != 0 {
			t.Fatalf("Len = %d, want 0", g.Len())
		}
		// The deaf client finds the Close frame and then the end.
		deaf.SetReadDeadline(time.Now().Add(testTimeout))
		if _, _, err := deaf.ReadMessage(); CloseStatus(err) != StatusGoingAway {
			t.Fatalf("client read ends with %v, want close %v", err, StatusGoingAway)
		}
	}()
	checkGoroutines(t, before)
}

// TestGroupMemberLeavesWhenClosed: however a member's Conn ends, it leaves
// the group, and nothing of it stays behind.
func TestGroupMemberLeavesWhenClosed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(server, client *Conn)
	}{
		{"ServerClose", func(s, c *Conn) {
			go c.ReadMessage() // answers the Close frame
			s.Close(StatusNormalClosure, "")
		}},
		{"ServerCloseNow", func(s, _ *Conn) { s.CloseNow() }},
		{"ClientClose", func(_, c *Conn) { c.Close(StatusNormalClosure, "") }},
		{"ClientGone", func(_, c *Conn) { c.CloseNow() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Group{}
			s := startGroupServer(t, g, 0, nil)
			c, server := s.dialPair(t, nil)
			tc.close(server, c)
			deadline := time.Now().Add(testTimeout)
			for g.Len() > 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if g.Len() != 0 {
				t.Fatalf("Len = %d after the Conn closed, want 0", g.Len())
			}
			closeHooks.Lock()
			_, held := closeHooks.m[server]
			closeHooks.Unlock()
			if held {
				t.Fatal("the closed Conn is still recorded as grouped")
			}
		})
	}
}

func TestGroupAddRemove(t *testing.T) {
	g := &Group{}
	s := startGroupServer(t, g, 0, nil)
	c, server := s.dialPair(t, nil)
	if !g.Add(server) || g.Len() != 1 {
		t.Fatalf("adding a member again: Len = %d, want 1", g.Len())
	}
	g.Remove(server)
	g.Remove(server) // no-op
	if g.Len() != 0 {
		t.Fatalf("Len after Remove = %d, want 0", g.Len())
	}
	g.Broadcast(numbered(t, OpBinary, 0, 16))
	// A removed member is still open and gets nothing from the group.
	server.WriteMessage(OpBinary, []byte("direct"))
	c.SetReadDeadline(time.Now().Add(testTimeout))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "direct" {
		t.Fatalf("read %q, %v; want the direct message only", p, err)
	}
	closeHooks.Lock()
	_, held := closeHooks.m[server]
	closeHooks.Unlock()
	if held {
		t.Fatal("a removed Conn is still recorded as grouped")
	}
}

// A member dropped from the middle of the list, while the others are
// broadcast to in the same call, leaves them all their messages: the drop
// moves the last member into its place, after the loop.
func TestGroupBroadcastDropsAMemberNotLast(t *testing.T) {
	g := &Group{QueueSize: 2, WriteTimeout: time.Hour}
	_, stuck := stuckPeer(t, time.Second)
	g.Add(stuck) // first in the list, and never reads
	var readers []*Conn
	for range 3 {
		cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
		go func() {
			for {
				if _, _, err := srv.ReadMessage(); err != nil {
					return
				}
			}
		}()
		g.Add(srv)
		readers = append(readers, cli)
	}
	var mu sync.Mutex
	counts := make([]int, len(readers))
	done := make(chan struct{}, len(readers))
	for i, cli := range readers {
		go func() {
			defer func() { done <- struct{}{} }()
			cli.SetReadDeadline(time.Now().Add(testTimeout))
			for {
				if _, _, err := cli.ReadMessage(); err != nil {
					return
				}
				mu.Lock()
				counts[i]++
				mu.Unlock()
			}
		}()
	}
	// Each broadcast is read by the readers before the next, so that only
	// the member that does not read falls behind.
	allGot := func(n int) bool {
		deadline := time.Now().Add(testTimeout)
		for time.Now().Before(deadline) {
			mu.Lock()
			ok := true
			for _, c := range counts {
				ok = ok && c >= n
			}
			mu.Unlock()
			if ok {
				return true
			}
			time.Sleep(time.Millisecond)
		}
		return false
	}
	big, _ := NewPreparedMessage(OpBinary, make([]byte, 256<<10))
	sent, dropped := 0, 0
	for sent < 200 && dropped == 0 {
		dropped = g.Broadcast(big)
		sent++
		if !allGot(sent) {
			t.Fatalf("the readers did not get broadcast %d", sent)
		}
	}
	if dropped != 1 || g.Len() != len(readers) {
		t.Fatalf("after %d broadcasts: %d dropped, %d members, want the one that does not read dropped", sent, dropped, g.Len())
	}
	for range 5 { // and the group goes on
		if d := g.Broadcast(big); d != 0 {
			t.Fatalf("%d readers dropped after the drop", d)
		}
		sent++
		if !allGot(sent) {
			t.Fatalf("the readers did not get broadcast %d, after the drop", sent)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range readers {
		<-done
	}
}

// QueueBytes bounds what a member that does not read pins, counting the
// batch being written: with 64 KiB messages and 1 MiB, the 17th broadcast
// drops it, long before QueueSize's 256 messages would. A message of any
// size still goes to a member that has caught up.
func TestGroupQueueBytesDropsNonReader(t *testing.T) {
	const size, limit = 64 << 10, 1 << 20
	g := &Group{QueueBytes: limit, WriteTimeout: time.Hour}
	_, b := pipeConns(t) // a write to b waits for a read that never comes
	stuck := newConn(b, nil, true, connConfig{closeTimeout: 10 * time.Millisecond})
	g.Add(stuck)
	for i := 1; i <= 256; i++ {
		pm, _ := NewPreparedMessage(OpBinary, bytes.Repeat([]byte{byte(i)}, size))
		dropped := g.Broadcast(pm)
		if want := i == limit/size+1; (dropped == 1) != want {
			t.Fatalf("broadcast %d of %d bytes dropped %d members; want the member dropped at broadcast %d", i, size, dropped, limit/size+1)
		}
		if dropped == 1 {
			break
		}
	}
	if s := g.Stats(); s.Members != 0 || s.Dropped != 1 {
		t.Fatalf("after the drop: %+v, want no members and one dropped", s)
	}

	big := &Group{QueueBytes: 1024}
	cli, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	big.Add(srv)
	cli.SetReadDeadline(time.Now().Add(testTimeout))
	for i := range 3 {
		deadline := time.Now().Add(testTimeout)
		for big.Stats().QueuedBytes > 0 { // the writer counts the last one written
			if time.Now().After(deadline) {
				t.Fatalf("QueuedBytes %d after the member read everything", big.Stats().QueuedBytes)
			}
			time.Sleep(time.Millisecond)
		}
		pm, _ := NewPreparedMessage(OpBinary, make([]byte, 1<<20))
		if d := big.Broadcast(pm); d != 0 {
			t.Fatalf("a 1 MiB message to a member that caught up, over a 1 KiB QueueBytes: %d dropped", d)
		}
		if _, p, err := cli.ReadMessage(); err != nil || len(p) != 1<<20 {
			t.Fatalf("message %d: %d bytes, %v", i, len(p), err)
		}
	}
}
