package browser

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// countingListener counts the bytes read from the connections it accepts.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// echoPage sends 40 distinct JSON messages of some 2 kB to the echo
// server, checks each echo and sets window.result to "ok" or the error.
const echoPage = `<!DOCTYPE html><script>
const ws = new WebSocket("ws://" + location.host + "/ws");
const msgs = [];
for (let i = 0; i < 40; i++) {
  let m = "[";
  for (let j = 0; j < 30; j++) m += JSON.stringify({id: i * 100 + j, user: "user" + (i * 7 + j) % 13, active: j % 2 == 0, text: "hello from the browser"}) + ",";
  msgs.push(m + "0]");
}
let next = 0;
ws.onopen = () => ws.send(msgs[next]);
ws.onmessage = (e) => {
  if (e.data !== msgs[next]) { window.result = "echo " + next + " differs"; return; }
  if (++next === msgs.length) { window.result = "ok " + ws.extensions; ws.close(1000); return; }
  ws.send(msgs[next]);
};
ws.onerror = () => { window.result = window.result || "error"; };
ws.onclose = (e) => { window.result = window.result || "closed " + e.code; };
</script>`

// TestBrowserDeflateWindows echoes messages with Chromium over
// permessage-deflate with and without context takeover, in windows of 9, 12
// and 15 bits that the server asks for both directions (RFC 7692 §7.1.2):
// every echo must be what was sent, which Chromium's zlib inflates within
// the window it agreed to, and what Chromium sends must shrink.
func TestBrowserDeflateWindows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(90*time.Second))
	defer cancel()
	b := StartTest(ctx, t)
	for _, takeover := range []bool{false, true} {
		for _, bits := range []int{9, 12, 15} {
			t.Run(fmt.Sprintf("takeover=%v/bits=%d", takeover, bits), func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				var read atomic.Int64
				opts := &websocket.AcceptOptions{Compression: websocket.CompressionOptions{ContextTakeover: takeover, WindowBits: bits, Threshold: -1}}
				mux := http.NewServeMux()
				mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, echoPage) })
				mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
					c, err := websocket.Accept(w, r, opts)
					if err != nil {
						return
					}
					defer c.CloseNow()
					for {
						op, p, err := c.ReadMessage()
						if err != nil {
							return
						}
						if err := c.WriteMessage(op, p); err != nil {
							return
						}
					}
				})
				hs := &http.Server{Handler: mux, ReadHeaderTimeout: testtime.Scaled(5 * time.Second)}
				go hs.Serve(countingListener{ln, &read})
				defer hs.Close()
				page, err := b.NewPage(ctx, "http://"+ln.Addr().String()+"/", 400, 300)
				if err != nil {
					t.Fatal(err)
				}
				defer page.Close(ctx)
				if err := page.WaitFor(ctx, `window.result !== undefined`); err != nil {
					t.Fatal(err)
				}
				var result string
				if err := page.Eval(ctx, `window.result`, &result); err != nil {
					t.Fatal(err)
				}
				ext, ok := strings.CutPrefix(result, "ok ")
				if !ok {
					t.Fatalf("page: %s", result)
				}
				if want := fmt.Sprintf("client_max_window_bits=%d", bits); bits < 15 && !strings.Contains(ext, want) {
					t.Errorf("Chromium agreed to %q, want %s", ext, want)
				}
				if takeover == strings.Contains(ext, "client_no_context_takeover") {
					t.Errorf("Chromium agreed to %q, context takeover %v", ext, takeover)
				}
				// 40 messages of some 2 kB: compressed, Chromium's side is a
				// few kB at most.
				n := read.Load()
				t.Logf("Chromium sent %d bytes with %q", n, ext)
				if n > 20000 {
					t.Errorf("Chromium sent %d bytes for 40 messages of 2 kB: not compressed", n)
				}
			})
		}
	}
}
