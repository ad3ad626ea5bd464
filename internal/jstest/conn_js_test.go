//go:build js

package jstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

var serverURL = os.Getenv(URLEnv)

// bound is the nominal bound of every wait of these tests.
const bound = 10 * time.Second

// dial connects to path on the server, failing t if it cannot, and closes
// the Conn when t ends.
func dial(t *testing.T, path string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	if serverURL == "" {
		t.Skipf("%s is not set: go test ./internal/jstest runs these tests with a server", URLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(bound))
	defer cancel()
	c, err := websocket.Dial(ctx, serverURL+path, opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// within runs f on a goroutine and fails t if it has not returned within the
// scaled bound, so that no test waits for ever.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(testtime.Scaled(bound)):
		t.Fatalf("%s: not done within %v", what, testtime.Scaled(bound))
	}
}

// serverResult asks the server how its connection with id ended.
func serverResult(t *testing.T, id string) Result {
	t.Helper()
	c := dial(t, "/result?id="+id, nil)
	var res Result
	within(t, "reading the server's result", func() {
		if err := c.ReadJSON(&res); err != nil {
			t.Errorf("reading the result of %s: %v", id, err)
		}
	})
	return res
}

var ids atomic.Int64

func newID(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), ids.Add(1))
}

func payload(n int, text bool) []byte {
	p := make([]byte, n)
	for i := range p {
		if text {
			p[i] = 'a' + byte(i%26)
		} else {
			p[i] = byte(i * 7)
		}
	}
	return p
}

func TestEchoEverySizeClass(t *testing.T) {
	c := dial(t, "/echo", nil)
	// 125 and 126 straddle the 7-bit length, 65535 and 65536 the 16-bit one.
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		for _, op := range []websocket.Opcode{websocket.OpText, websocket.OpBinary} {
			p := payload(n, op == websocket.OpText)
			within(t, fmt.Sprintf("echo of %d bytes of %v", n, op), func() {
				if err := c.WriteMessage(op, p); err != nil {
					t.Errorf("write %d bytes of %v: %v", n, op, err)
					return
				}
				gotOp, got, err := c.ReadMessage()
				switch {
				case err != nil:
					t.Errorf("read %d bytes of %v: %v", n, op, err)
				case gotOp != op || !bytes.Equal(got, p):
					t.Errorf("sent %d bytes of %v, got %d of %v", n, op, len(got), gotOp)
				}
			})
		}
	}
}

func TestAppendMessageReusesTheBuffer(t *testing.T) {
	c := dial(t, "/echo", nil)
	buf := make([]byte, 0, 4096)
	within(t, "echoes", func() {
		for _, s := range []string{"one", "two", "three"} {
			if err := c.WriteMessage(websocket.OpText, []byte(s)); err != nil {
				t.Fatal(err)
			}
			op, b, err := c.AppendMessage(buf[:0])
			if err != nil || op != websocket.OpText || string(b) != s || &b[0] != &buf[:1][0] {
				t.Fatalf("AppendMessage = %v %q %v, want text %q in the buffer given", op, b, err, s)
			}
		}
	})
}

func TestNextReaderAndNextWriter(t *testing.T) {
	c := dial(t, "/echo", nil)
	within(t, "a message streamed both ways", func() {
		w, err := c.NextWriter(websocket.OpBinary)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			fmt.Fprintf(w, "part %d;", i)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		op, r, err := c.NextReader()
		if err != nil || op != websocket.OpBinary {
			t.Fatalf("NextReader = %v, %v", op, err)
		}
		var got bytes.Buffer
		if _, err := io.CopyBuffer(&got, r, make([]byte, 7)); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.String(), "part 0;part 1;") || !strings.HasSuffix(got.String(), "part 99;") {
			t.Fatalf("read back %q", got.String())
		}
	})
}

func TestJSON(t *testing.T) {
	c := dial(t, "/echo", nil)
	type msg struct {
		Name string
		N    []int
	}
	within(t, "JSON both ways", func() {
		in := msg{"κόσμε", []int{1, 2, 3}}
		if err := c.WriteJSON(in); err != nil {
			t.Fatal(err)
		}
		var out msg
		if err := c.ReadJSON(&out); err != nil {
			t.Fatal(err)
		}
		if out.Name != in.Name || len(out.N) != 3 {
			t.Fatalf("got %+v, want %+v", out, in)
		}
		// Not JSON: the error wraps ErrInvalidJSON and the Conn goes on.
		c.WriteMessage(websocket.OpText, []byte("{nope"))
		if err := c.ReadJSON(&out); !errors.Is(err, websocket.ErrInvalidJSON) {
			t.Fatalf("ReadJSON of {nope: %v, want ErrInvalidJSON", err)
		}
		if err := c.WriteJSON(in); err != nil {
			t.Fatal(err)
		}
		if err := c.ReadJSON(&out); err != nil {
			t.Fatalf("after invalid JSON: %v", err)
		}
	})
}

func TestWriteInvalidUTF8Text(t *testing.T) {
	c := dial(t, "/echo", nil)
	if err := c.WriteMessage(websocket.OpText, []byte{0xff}); !errors.Is(err, websocket.ErrInvalidUTF8) {
		t.Fatalf("WriteMessage of invalid UTF-8: %v, want ErrInvalidUTF8", err)
	}
}

func TestSubprotocolAndResponse(t *testing.T) {
	c := dial(t, "/echo", &websocket.DialOptions{Subprotocols: []string{"chat.v1"}})
	if got := c.Subprotocol(); got != "chat.v1" {
		t.Errorf("Subprotocol() = %q, want chat.v1", got)
	}
	resp := c.Response()
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Protocol") != "chat.v1" {
		t.Errorf("Response() = %d %v", resp.StatusCode, resp.Header)
	}
	t.Logf("extensions agreed: %q", resp.Header.Get("Sec-WebSocket-Extensions"))
}

func TestClientCloses(t *testing.T) {
	for _, tt := range []struct {
		code       websocket.StatusCode
		reason     string
		wantCode   int
		wantReason string
	}{
		{websocket.StatusNormalClosure, "bye", 1000, "bye"},
		{3001, "app", 3001, "app"},
		// A script may not send 1001: it goes out as 4001.
		{websocket.StatusGoingAway, "away", 4001, "away"},
		{0, "", int(websocket.StatusNoStatusReceived), ""},
		{websocket.StatusNormalClosure, strings.Repeat("é", 100), 1000, strings.Repeat("é", 61)},
	} {
		id := newID(t)
		c := dial(t, "/echo?id="+id, nil)
		within(t, "Close", func() {
			if err := c.Close(tt.code, tt.reason); err != nil {
				t.Errorf("Close(%v): %v", tt.code, err)
			}
		})
		select {
		case <-c.Done():
		default:
			t.Errorf("Done not closed after Close returned")
		}
		_, _, err := c.ReadMessage()
		if !websocket.IsNormalClose(err) || !errors.Is(err, websocket.ErrClosed) {
			t.Errorf("read after Close: %v, want a normal close wrapping ErrClosed", err)
		}
		if err := c.WriteMessage(websocket.OpText, nil); !errors.Is(err, websocket.ErrClosed) {
			t.Errorf("write after Close: %v, want ErrClosed", err)
		}
		if err := c.Close(websocket.StatusNormalClosure, ""); !errors.Is(err, websocket.ErrClosed) {
			t.Errorf("second Close: %v, want ErrClosed", err)
		}
		res := serverResult(t, id)
		if res.Code != tt.wantCode || res.Reason != tt.wantReason {
			t.Errorf("Close(%v, %q): the server saw %+v, want %d %q", tt.code, tt.reason, res, tt.wantCode, tt.wantReason)
		}
	}
}

func TestCloseInvalidCode(t *testing.T) {
	c := dial(t, "/echo", nil)
	if err := c.Close(websocket.StatusAbnormalClosure, ""); err == nil || errors.Is(err, websocket.ErrClosed) {
		t.Fatalf("Close(1006) = %v, want an error about the code", err)
	}
}

func TestServerCloses(t *testing.T) {
	for _, tt := range []struct {
		code   websocket.StatusCode
		reason string
		normal bool
	}{
		{websocket.StatusNormalClosure, "done", true},
		{websocket.StatusGoingAway, "restarting", true},
		{websocket.StatusProtocolError, "bad frame", false},
		{websocket.StatusMessageTooBig, "", false},
		{4000, "app", false},
		{0, "", true}, // no code: 1005
	} {
		c := dial(t, fmt.Sprintf("/close?code=%d&reason=%s", tt.code, tt.reason), nil)
		want := tt.code
		if want == 0 {
			want = websocket.StatusNoStatusReceived
		}
		within(t, "the server's close", func() {
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			switch {
			case !errors.As(err, &ce):
				t.Errorf("server closed with %v: read %v, want a *CloseError", tt.code, err)
			case ce.Code != want || ce.Reason != tt.reason:
				t.Errorf("server closed with %v %q: got %v %q", tt.code, tt.reason, ce.Code, ce.Reason)
			case websocket.IsNormalClose(err) != tt.normal:
				t.Errorf("IsNormalClose(%v) = %v", err, !tt.normal)
			}
			<-c.Done()
			if err := c.Close(websocket.StatusNormalClosure, ""); !errors.Is(err, websocket.ErrClosed) {
				t.Errorf("Close after the server's close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestServerBreaksProtocol: the browser fails a connection whose server
// breaks RFC 6455, and tells the script only 1006.
func TestServerBreaksProtocol(t *testing.T) {
	c := dial(t, "/broken", nil)
	within(t, "the failure", func() {
		_, _, err := c.ReadMessage()
		if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || websocket.IsNormalClose(err) || websocket.CloseStatus(err) != 0 {
			t.Errorf("read from a server breaking the protocol: %v, want the end without a close frame", err)
		}
		<-c.Done()
	})
}

func TestReadLimit(t *testing.T) {
	id := newID(t)
	c := dial(t, "/send?size=2000&id="+id, &websocket.DialOptions{ReadLimit: 1000})
	within(t, "a message over the limit", func() {
		_, _, err := c.ReadMessage()
		if !errors.Is(err, websocket.ErrMessageTooBig) {
			t.Errorf("read of 2000 bytes with a limit of 1000: %v, want ErrMessageTooBig", err)
		}
		if _, _, err2 := c.ReadMessage(); !errors.Is(err2, websocket.ErrMessageTooBig) {
			t.Errorf("second read: %v, want the same error", err2)
		}
	})
	if res := serverResult(t, id); res.Code != 4009 {
		t.Errorf("the server saw %+v, want 4009", res)
	}

	// SetReadLimit raises it for what comes next.
	c = dial(t, "/send?size=2000", nil)
	c.SetReadLimit(4000)
	within(t, "a message under the limit", func() {
		if _, p, err := c.ReadMessage(); err != nil || len(p) != 2000 {
			t.Errorf("read: %d bytes, %v", len(p), err)
		}
	})
}

// TestReadQueueBound: a client that does not read gets at most the queue's
// messages, then the connection fails with 4008.
func TestReadQueueBound(t *testing.T) {
	id := newID(t)
	c := dial(t, "/send?n=5000&size=10&id="+id, nil)
	within(t, "the overflow", func() { <-c.Done() })
	n := 0
	var err error
	for err == nil {
		_, _, err = c.ReadMessage()
		if err == nil {
			n++
		}
	}
	if n == 0 || n > 1024 {
		t.Errorf("read %d messages before the failure, want 1 to 1024", n)
	}
	if !errors.Is(err, websocket.ErrClosed) || websocket.IsNormalClose(err) {
		t.Errorf("read after the overflow: %v, want a failure wrapping ErrClosed", err)
	}
	if res := serverResult(t, id); res.Code != 4008 {
		t.Errorf("the server saw %+v, want 4008", res)
	}
}

// TestReadQueueAboveASmallReadLimit: a burst of messages, each within a
// small read limit and together over it, waits whole for the reader.
func TestReadQueueAboveASmallReadLimit(t *testing.T) {
	c := dial(t, "/send?n=50&size=100", &websocket.DialOptions{ReadLimit: 100})
	time.Sleep(200 * time.Millisecond) // let the burst arrive unread
	within(t, "the burst", func() {
		for i := 0; i < 50; i++ {
			if _, p, err := c.ReadMessage(); err != nil || len(p) != 100 {
				t.Fatalf("message %d: %d bytes, %v", i, len(p), err)
			}
		}
	})
}

// TestWritesWaitForTheBrowsersBuffer: writing to a server that does not read
// blocks once the buffers fill, rather than growing the browser's: a write
// deadline then passes, having sent nothing, and once the server reads, the
// Conn writes again.
func TestWritesWaitForTheBrowsersBuffer(t *testing.T) {
	id := newID(t)
	c := dial(t, "/sink?id="+id, nil)
	// Random bytes: Chromium agrees permessage-deflate, and zeros would go
	// out as a thousandth of their size, never filling a buffer.
	p := make([]byte, 1<<20)
	rand.Read(p)
	var sent int
	within(t, "writes to a server that does not read", func() {
		for ; sent < 256; sent++ {
			c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
			err := c.WriteMessage(websocket.OpBinary, p)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatalf("write %d: %v", sent, err)
			}
		}
	})
	t.Logf("%d MiB written before a write waited past its deadline", sent)
	if sent == 256 {
		t.Fatalf("256 MiB written to a server that reads nothing: writes do not wait")
	}
	dial(t, "/release?id="+id, nil)
	c.SetWriteDeadline(time.Time{})
	within(t, "a write once the server reads", func() {
		if err := c.WriteMessage(websocket.OpBinary, p); err != nil {
			t.Errorf("write after the server began to read: %v", err)
		}
		if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Error(err)
		}
	})
	// The write that timed out sent nothing: the server read the others.
	if res := serverResult(t, id); res.Code != 1000 || res.Messages != sent+1 {
		t.Errorf("the server saw %+v, want 1000 after %d messages", res, sent+1)
	}
}

func TestReadDeadlineLeavesTheConnReadable(t *testing.T) {
	c := dial(t, "/echo", nil)
	within(t, "reads", func() {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, _, err := c.ReadMessage(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read with nothing coming: %v, want os.ErrDeadlineExceeded", err)
		}
		c.SetReadDeadline(time.Time{})
		c.WriteMessage(websocket.OpText, []byte("still here"))
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "still here" {
			t.Fatalf("read after the deadline: %q, %v", p, err)
		}
	})
}

func TestCloseNow(t *testing.T) {
	id := newID(t)
	c := dial(t, "/echo?id="+id, nil)
	read := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage()
		read <- err
	}()
	if err := c.CloseNow(); err != nil {
		t.Fatal(err)
	}
	within(t, "the read CloseNow ends", func() {
		if err := <-read; !errors.Is(err, websocket.ErrClosed) || !websocket.IsNormalClose(err) {
			t.Errorf("read: %v, want a normal close wrapping ErrClosed", err)
		}
	})
	if err := c.CloseNow(); !errors.Is(err, websocket.ErrClosed) {
		t.Errorf("second CloseNow: %v, want ErrClosed", err)
	}
	if res := serverResult(t, id); res.Code != int(websocket.StatusNoStatusReceived) {
		t.Errorf("the server saw %+v, want 1005", res)
	}
}

func TestCloseRead(t *testing.T) {
	c := dial(t, "/close?code=1000&reason=over", nil)
	ctx := c.CloseRead(context.Background())
	within(t, "CloseRead's context", func() { <-ctx.Done() })
	if err := context.Cause(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("cause %v, want the server's 1000", err)
	}
}

func TestNetConn(t *testing.T) {
	c := dial(t, "/echo", nil)
	nc := websocket.NetConn(c, websocket.OpBinary)
	within(t, "a byte stream", func() {
		if _, err := nc.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 5)
		if _, err := io.ReadFull(nc, b); err != nil || string(b) != "hello" {
			t.Fatalf("read %q, %v", b, err)
		}
		if err := nc.Close(); err != nil {
			t.Fatal(err)
		}
	})
	if nc.RemoteAddr().Network() != "websocket" || !strings.HasPrefix(nc.RemoteAddr().String(), "ws://") {
		t.Errorf("RemoteAddr() = %v", nc.RemoteAddr())
	}
}

func TestWhatTheBrowserDoesNotAllow(t *testing.T) {
	if serverURL == "" {
		t.Skipf("%s is not set", URLEnv)
	}
	ctx := context.Background()
	for name, opts := range map[string]*websocket.DialOptions{
		"Header":       {Header: map[string][]string{"Authorization": {"x"}}},
		"Proxy":        {Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }},
		"PingInterval": {PingInterval: time.Second},
		"Compression":  {Compression: websocket.CompressionOptions{Disabled: true}},
	} {
		if _, err := websocket.Dial(ctx, serverURL+"/echo", opts); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Dial with %s: %v, want errors.ErrUnsupported", name, err)
		}
	}
	c := dial(t, "/echo", nil)
	if _, err := c.Ping(ctx); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Ping: %v, want errors.ErrUnsupported", err)
	}
	if err := c.WritePing(nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("WritePing: %v, want errors.ErrUnsupported", err)
	}
}

func TestDialFails(t *testing.T) {
	if serverURL == "" {
		t.Skipf("%s is not set", URLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(bound))
	defer cancel()
	// Not a WebSocket endpoint: the server answers 404.
	start := time.Now()
	if c, err := websocket.Dial(ctx, serverURL+"/nowhere", nil); err == nil {
		c.CloseNow()
		t.Fatal("Dial of a 404 succeeded")
	} else {
		t.Logf("%v after %v", err, time.Since(start))
	}
	if _, err := websocket.Dial(ctx, "ftp://example.com/", nil); err == nil {
		t.Fatal("Dial of an ftp URL succeeded")
	}
	// A context that ends first.
	short, cancel2 := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel2()
	if _, err := websocket.Dial(short, serverURL+"/echo", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial with an expired context: %v", err)
	}
}
