package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/examples/internal/browser"
	"github.com/fullduplex/websocket/internal/testtime"
)

// The tests in this file use headless Chromium's own WebSocket client as the
// peer of the library's server: its framing, masking, permessage-deflate
// (it offers "permessage-deflate; client_max_window_bits" on every
// connection) and closing handshake are an implementation nobody here wrote.

// peerScript defines, in the page, helpers the tests' expressions use:
// open(path) connects to path on the page's host; echo(ws, data) sends data
// and resolves with the next message; payload(kind, n) makes a text message
// of n UTF-8 bytes (JSON-like, so it compresses) or n pseudo-random bytes
// (which do not); same(a, b) compares two messages exactly; closed(ws)
// resolves with the close event's code, reason and wasClean.
const peerScript = `
window.peer = {
  open(path) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error("cannot open " + path));
    });
  },
  echo(ws, data) {
    return new Promise((resolve, reject) => {
      ws.onmessage = (e) => resolve(e.data);
      ws.onclose = (e) => reject(new Error("closed with " + e.code + " " + e.reason));
      ws.send(data);
    });
  },
  payload(kind, n) {
    if (kind === "binary") {
      const b = new Uint8Array(n);
      let x = 2463534242;
      for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff; }
      return b.buffer;
    }
    const unit = '{"id":1234,"name":"κόσμε ✓","ok":true},';  // 45 bytes of UTF-8
    const bytes = new TextEncoder().encode(unit.repeat(Math.ceil(n / 45) + 1));
    let end = n;
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;  // whole code points only
    return new TextDecoder().decode(bytes.subarray(0, end)) + "x".repeat(n - end);
  },
  same(a, b) {
    if (typeof a !== typeof b) return false;
    if (typeof a === "string") return a === b;
    const x = new Uint8Array(a), y = new Uint8Array(b);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  },
  closed(ws) {
    return new Promise((resolve) => {
      ws.onclose = (e) => resolve({code: e.code, reason: e.reason, clean: e.wasClean});
    });
  },
};
`

// peerServer serves peerHandler on HTTP/1.1 until t ends.
func peerServer(t *testing.T, closeErr chan<- error) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(peerHandler(t, closeErr))
	t.Cleanup(srv.Close)
	return srv
}

// peerHandler serves the echo example with extra endpoints for the peer
// tests: /ws-poller echoes through a Poller, as -poller does; /ws-takeover
// and /ws-plain echo with context takeover and with no
// compression; /ws-close closes with 4002 after the first message;
// /ws-limit has a 1 KiB read limit; /ws-observe reports the error its
// read ended with on closeErr.
func peerHandler(t *testing.T, closeErr chan<- error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", newHandler(nil))
	p, err := websocket.NewPoller(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	mux.Handle("/ws-poller", pollerEcho{p})
	echoWith := func(opts *websocket.AcceptOptions) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, opts)
			if err != nil {
				return
			}
			defer c.CloseNow()
			for {
				op, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(op, msg); err != nil {
					return
				}
			}
		}
	}
	mux.HandleFunc("/ws-takeover", echoWith(&websocket.AcceptOptions{
		Compression: websocket.CompressionOptions{ContextTakeover: true, Threshold: -1}}))
	mux.HandleFunc("/ws-plain", echoWith(&websocket.AcceptOptions{
		Compression: websocket.CompressionOptions{Disabled: true}}))
	mux.HandleFunc("/ws-limit", echoWith(&websocket.AcceptOptions{ReadLimit: 1024}))
	mux.HandleFunc("/ws-close", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
		c.Close(4002, "done ✓")
	})
	mux.HandleFunc("/ws-observe", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), testtime.Scaled(10*time.Second))
		defer cancel()
		// Ping needs a reader for the pong: read in the background.
		read := make(chan error, 1)
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					read <- err
					return
				}
			}
		}()
		if _, err := c.Ping(ctx); err != nil {
			closeErr <- err
			return
		}
		if err := c.WriteMessage(websocket.OpText, []byte("ponged")); err != nil {
			closeErr <- err
			return
		}
		closeErr <- <-read
	})
	return mux
}

// openPeerPage starts Chromium, with the extra flags, on the echo page at
// url and installs peerScript.
func openPeerPage(ctx context.Context, t *testing.T, url string, extra ...string) *browser.Page {
	t.Helper()
	b := browser.StartTest(ctx, t, extra...)
	p, err := b.NewPage(ctx, url+"/", 800, 600)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Eval(ctx, peerScript, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBrowserPeerEchoesEverySize has Chromium send text and binary messages
// of every length encoding (7, 16 and 64 bits) up to 4 MiB to the server,
// with permessage-deflate as Chromium and each server configuration agree
// on it, and checks that every echo comes back exactly.
func TestBrowserPeerEchoesEverySize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(90*time.Second))
	defer cancel()
	p := openPeerPage(ctx, t, peerServer(t, nil).URL)
	testEchoesEverySize(ctx, t, p)
}

// testEchoesEverySize is TestBrowserPeerEchoesEverySize on the page p.
func testEchoesEverySize(ctx context.Context, t *testing.T, p *browser.Page) {
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20, 4 << 20}
	for _, tc := range []struct {
		path string
		ext  string // what Chromium must report as negotiated
	}{
		// The default: no context takeover either way.
		{"/ws", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"/ws-poller", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"/ws-takeover", "permessage-deflate"},
		{"/ws-plain", ""},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			var res struct {
				Extensions string
				Bad        []string
			}
			err := p.Eval(ctx, `(async () => {
				const ws = await peer.open(`+strconv.Quote(tc.path)+`);
				const bad = [];
				for (const kind of ["text", "binary"]) {
					for (const n of `+jsInts(sizes)+`) {
						const msg = peer.payload(kind, n);
						const got = await peer.echo(ws, msg);
						if (!peer.same(msg, got)) bad.push(kind + " " + n);
					}
				}
				const ext = ws.extensions;
				const done = peer.closed(ws);
				ws.close(1000);
				await done;
				return {Extensions: ext, Bad: bad};
			})()`, &res)
			if err != nil {
				t.Fatal(err)
			}
			if res.Extensions != tc.ext {
				t.Errorf("Chromium negotiated %q, want %q", res.Extensions, tc.ext)
			}
			if len(res.Bad) > 0 {
				t.Errorf("echoes that differ from what Chromium sent: %v", res.Bad)
			}
		})
	}
}

// TestBrowserPeerClosingHandshake checks the closing handshake both ways
// with Chromium: its Close frame reaches the server as a *CloseError with
// code and reason, after a ping the server sent was answered; the server's
// Close reaches the page with code and reason, and both are clean
// (wasClean: the Close frames crossed and TCP was closed in order).
func TestBrowserPeerClosingHandshake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()
	observed := make(chan error, 1)
	p := openPeerPage(ctx, t, peerServer(t, observed).URL)
	testClosingHandshake(ctx, t, p, observed)
}

// testClosingHandshake is TestBrowserPeerClosingHandshake on the page p,
// whose server reports on observed.
func testClosingHandshake(ctx context.Context, t *testing.T, p *browser.Page, observed <-chan error) {
	t.Run("browser closes", func(t *testing.T) {
		var ev struct {
			Code  int
			Clean bool
		}
		err := p.Eval(ctx, `(async () => {
			const ws = await peer.open("/ws-observe");
			const first = await new Promise((resolve) => { ws.onmessage = (e) => resolve(e.data); });
			if (first !== "ponged") throw new Error("first message " + first);
			const done = peer.closed(ws);
			ws.close(4001, "bye ✓");
			return await done;
		})()`, &ev)
		if err != nil {
			t.Fatal(err)
		}
		// The answer echoes the code (RFC 6455 §5.5.1); its reason is free.
		if ev.Code != 4001 || !ev.Clean {
			t.Errorf("Chromium saw close %+v, want the echo of 4001, clean", ev)
		}
		var ce *websocket.CloseError
		select {
		case err := <-observed:
			if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye ✓" {
				t.Errorf("server's read ended with %v, want CloseError 4001 \"bye ✓\"", err)
			}
		case <-ctx.Done():
			t.Fatal("the server's read did not end")
		}
	})

	t.Run("server closes", func(t *testing.T) {
		var ev struct {
			Code   int
			Reason string
			Clean  bool
		}
		err := p.Eval(ctx, `(async () => {
			const ws = await peer.open("/ws-close");
			const done = peer.closed(ws);
			ws.send("close please");
			return await done;
		})()`, &ev)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Code != 4002 || ev.Reason != "done ✓" || !ev.Clean {
			t.Errorf("Chromium saw close %+v, want 4002 \"done ✓\", clean", ev)
		}
	})

	t.Run("message too big", func(t *testing.T) {
		var ev struct {
			Code  int
			Clean bool
		}
		err := p.Eval(ctx, `(async () => {
			const ws = await peer.open("/ws-limit");
			const done = peer.closed(ws);
			ws.send(peer.payload("binary", 2000));
			return await done;
		})()`, &ev)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Code != int(websocket.StatusMessageTooBig) || !ev.Clean {
			t.Errorf("Chromium saw close %+v, want %d, clean (message over the read limit)", ev, websocket.StatusMessageTooBig)
		}
	})
}

// jsInts is ns as a JavaScript array literal.
func jsInts(ns []int) string {
	b, _ := json.Marshal(ns)
	return string(b)
}
