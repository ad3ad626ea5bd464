package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
	"github.com/redis/go-redis/v9"
)

// smallBuffers gives every accepted connection a small send buffer, so a
// client that stops reading stalls the node's writer after a few messages
// rather than after megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestSlowClientIsDroppedLocally runs a node in the test process, so its
// sockets can be made small: a client that never reads fills its queue and
// is dropped with 1008, while the others get every message, in order, at the
// pace they read.
func TestSlowClientIsDroppedLocally(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()
	r := startRedis(t, false)
	rdb := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer rdb.Close()
	cfg := defaultConfig()
	cfg.Room = "slow"
	cfg.QueueSize = 16
	cfg.Backlog = 0
	cfg.WriteTimeout = testtime.Scaled(2 * time.Second) // alice's and bob's writes must beat it
	cfg.CloseTimeout = 500 * time.Millisecond
	cfg.Logf = t.Logf
	n := newNode(cfg, rdb)
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(n)
	ts.Listener = smallBuffers{ts.Listener}
	ts.Start()
	defer func() { n.Shutdown(ctx); ts.Close(); n.Wait() }()
	base := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws?name="

	slow, err := websocket.Dial(ctx, base+"slow", &websocket.DialOptions{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(4096)
			}
			return c, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	var fast []*websocket.Conn
	for _, name := range []string{"alice", "bob"} {
		c, err := websocket.Dial(ctx, base+name, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		fast = append(fast, c)
	}
	localCount := n.room.Len
	for localCount() < 3 {
		if ctx.Err() != nil {
			t.Fatalf("%d of 3 clients registered: %v", localCount(), ctx.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// alice sends; after each message alice and bob read up to it, so the
	// room moves at the pace of its readers while slow reads nothing.
	pad := strings.Repeat("x", 900)
	const maxMessages, after = 2000, 20
	droppedAt := -1
	for i := 0; i < maxMessages && (droppedAt < 0 || i < droppedAt+after); i++ {
		text := fmt.Sprintf("%d %s", i, pad)
		b, _ := json.Marshal(clientMessage{Type: "message", Text: text})
		fast[0].SetWriteDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
		if err := fast[0].WriteMessage(websocket.OpText, b); err != nil {
			t.Fatal(err)
		}
		for _, c := range fast {
			for {
				c.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
				_, p, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				var ev event
				json.Unmarshal(p, &ev)
				if ev.Type != "message" {
					continue
				}
				if ev.Text != text {
					t.Fatalf("got %.10q, want %.10q: lost or reordered", ev.Text, text)
				}
				break
			}
		}
		if droppedAt < 0 && localCount() == 2 {
			droppedAt = i
		}
	}
	if droppedAt < 0 {
		t.Fatalf("slow client still served after %d messages", maxMessages)
	}
	t.Logf("slow client dropped after %d messages; alice and bob got them all", droppedAt+1)

	// slow, reading at last, finds its connection ended: with 1008 if the
	// Close frame got through, or cut off if it did not.
	for i := 0; ; i++ {
		slow.SetReadDeadline(time.Now().Add(testtime.Scaled(5 * time.Second)))
		_, _, err := slow.ReadMessage()
		if err == nil {
			if i > maxMessages+10 {
				t.Fatal("slow client still receiving")
			}
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("slow client's connection still open: %v", err)
		}
		if code := websocket.CloseStatus(err); code != 0 && code != websocket.StatusPolicyViolation {
			t.Fatalf("slow client closed with %v, want %v", code, websocket.StatusPolicyViolation)
		}
		break
	}
}
