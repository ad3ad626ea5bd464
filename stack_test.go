//go:build !js

package websocket

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// idleStackPerConn serves n connections the way a user does, with a
// goroutine each that calls AcceptConn and then echoes until the end, has
// each client send a pong and have a small text message echoed, and
// returns the stack the server's goroutines hold once idle, per connection.
func idleStackPerConn(t *testing.T, n int) int64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	settle()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c, err := AcceptConn(nc, nil, nil)
				if err != nil {
					nc.Close()
					return
				}
				defer c.CloseNow()
				var buf []byte
				for {
					op, b, err := c.AppendMessage(buf[:0])
					if err != nil {
						return
					}
					buf = b
					if err := c.WriteMessage(op, buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	clients := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		c.SetDeadline(time.Now().Add(testTimeout))
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		resp := make([]byte, 129)
		if _, err := io.ReadFull(c, resp); err != nil || !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 ")) {
			t.Fatalf("handshake: %q, %v", resp, err)
		}
	}
	for _, c := range clients {
		// A pong, as a keep-alive gets, and a text message, masked with a
		// zero key.
		msg := []byte("a small message, é")
		frames := append([]byte{0x8a, 0x81, 0, 0, 0, 0, 'p'}, 0x81, 0x80|byte(len(msg)), 0, 0, 0, 0)
		frames = append(frames, msg...)
		if _, err := c.Write(frames); err != nil {
			t.Fatal(err)
		}
		want := append([]byte{0x81, byte(len(msg))}, msg...)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("echo = %q, %v; want %q", got, err, want)
		}
	}
	return parkedStackSince(&before) / int64(n)
}

// A goroutine starts with a 2 KiB stack, and one that grew keeps twice that
// for good once it waits in a read (the runtime halves a stack only when
// under a quarter of it is in use). So AcceptConn and Dial run the handshake
// on a goroutine of its own, and the read and write paths of small messages keep
// their frames small, for a blocking reader to stay at 2 KiB: an idle
// connection then costs 2 KiB less. A few goroutines may still grow (the
// first take from a sync.Pool after a collection goes deep), hence the
// average's margin; at 4 KiB each the test fails. Answering a ping does
// grow the stack: the timer that bounds the pong (writeOwnControl) is
// armed through the runtime's timer heap, which goes deep.
//
// It runs in a child process with GODEBUG=adaptivestackstart=0: by default
// the runtime starts goroutines with the average stack it last saw in use,
// which in a server of idle readers is theirs, but in a test process is
// raised by the test's own deep goroutines.
func TestConnReaderStackStaysSmall(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector enlarges every frame")
	}
	if testing.Short() {
		t.Skip("frames differ between Go releases: checked with the newest only")
	}
	if !strings.Contains(os.Getenv("GODEBUG"), "adaptivestackstart=0") {
		cmd := exec.Command(os.Args[0], "-test.run=^TestConnReaderStackStaysSmall$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "GODEBUG=adaptivestackstart=0")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestConnReaderStackStaysSmall")) {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	if got := idleStackPerConn(t, 300); got > 2560 {
		t.Fatalf("idle readers hold %d bytes of stack each, want the 2 KiB a goroutine starts with", got)
	}
	if got := idleClientStackPerConn(t, 300); got > 2560 {
		t.Fatalf("idle clients' readers hold %d bytes of stack each, want the 2 KiB a goroutine starts with", got)
	}
}

// idleClientStackPerConn is idleStackPerConn for clients: n goroutines each
// call Dial, have a small text message echoed by a Poller (which holds no
// goroutine per connection), and read on. It returns the stack they hold
// once idle, per connection.
func idleClientStackPerConn(t *testing.T, n int) int64 {
	p, err := NewPoller(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, &AcceptOptions{Compression: CompressionOptions{Disabled: true}})
		if err != nil {
			return
		}
		if err := p.Add(c, newRecorder(echoBack)); err != nil {
			c.CloseNow()
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	settle()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	echoed := make(chan error, n)
	for range n {
		go func() {
			c, err := Dial(t.Context(), url, nil)
			if err != nil {
				echoed <- err
				return
			}
			defer c.CloseNow()
			c.WriteMessage(OpText, []byte("a small message, é"))
			_, p, err := c.ReadMessage()
			if err == nil && string(p) != "a small message, é" {
				err = fmt.Errorf("echo %q", p)
			}
			echoed <- err
			for err == nil {
				_, _, err = c.ReadMessage()
			}
		}()
		if err := <-echoed; err != nil {
			t.Fatal(err)
		}
	}
	return parkedStackSince(&before) / int64(n)
}

// parkedStackSince returns the stack in use beyond before once the last
// goroutines have parked in their reads: the least of a few samples 50 ms
// apart, since a goroutine a loaded machine has not yet run to its read is
// not shrunk by the collection.
func parkedStackSince(before *runtime.MemStats) int64 {
	least := int64(math.MaxInt64)
	for range 5 {
		time.Sleep(50 * time.Millisecond)
		settle()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		least = min(least, int64(after.StackInuse)-int64(before.StackInuse))
	}
	return least
}

// settle collects until the stacks of goroutines that have ended are freed.
func settle() {
	for range 4 {
		runtime.GC()
	}
	debug.FreeOSMemory()
}
