package h2

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// The benchmarks compare a WebSocket over an HTTP/2 stream with one over its
// own TLS connection with HTTP/1.1, against the same net/http server:
//
//	cd interop && go test -run '^$' -bench . -benchtime 1000x -count 3 ./h2/
//
// In BenchmarkOpen and BenchmarkEcho both clients run in the benchmark's
// process: the library's Dial for HTTP/1.1, and for HTTP/2 x/net/http2 with
// the tests' frame code, so the figures measure the whole exchange, both
// ends. In BenchmarkEcho both clients read into a buffer they reuse and
// write from one, as the server does: an HTTP/2 client that allocated
// per frame made 200 KB of garbage per 64 KiB echo and took 1.6 times as
// long, more than half of the gap to HTTP/1.1 that was put on HTTP/2.
// BenchmarkMemoryPerWebSocket runs its clients in a child process and
// counts the server alone.

// wsURL is s's WebSocket URL for Dial.
func wsURL(s *server) string { return "wss" + strings.TrimPrefix(s.URL, "https") + "/ws" }

func dialH1(b *testing.B, url string, s *server) *websocket.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(10*time.Second))
	defer cancel()
	cfg := s.Client().Transport.(*http.Transport).TLSClientConfig
	c, err := websocket.Dial(ctx, url, &websocket.DialOptions{TLSConfig: cfg})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// percentiles reports the 50th and 99th percentiles of d.
func percentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkOpen times opening a WebSocket up to its first echo: as a new
// stream of an HTTP/2 connection already open, and as a new TCP and TLS
// connection with an HTTP/1.1 upgrade.
func BenchmarkOpen(b *testing.B) {
	s := startServer(b, echoHandler(nil, nil), nil)
	defer s.Close()
	msg := []byte("hello")
	b.Run("http2-stream", func(b *testing.B) {
		cc := s.dial(b)
		defer cc.Close()
		d := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			c := openWS(b, cc, s, "/ws", http.Header{"Sec-Websocket-Extensions": nil})
			c.writeMessage(websocket.OpText, msg)
			if _, _, err := c.readMessage(); err != nil {
				b.Fatal(err)
			}
			d = append(d, time.Since(t0))
			c.cancel()
		}
		percentiles(b, d)
	})
	b.Run("http1-tls", func(b *testing.B) {
		d := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			c := dialH1(b, wsURL(s), s)
			c.WriteMessage(websocket.OpText, msg)
			if _, _, err := c.ReadMessage(); err != nil {
				b.Fatal(err)
			}
			d = append(d, time.Since(t0))
			c.CloseNow()
		}
		percentiles(b, d)
	})
}

// BenchmarkEcho measures the round trip of one message on one WebSocket:
// over a stream, and over a TLS connection of its own. cpu-µs/op is the
// processor time the process spent per echo, both ends, which a machine
// shared with other work spreads less than the wall time.
//
// The server reads each message with ReadMessage, a new slice each, as most
// handlers do; under the -reuse modes it reads with AppendMessage into a
// buffer it keeps, which leaves the transport's own cost.
//
// http2-floor is not the library: the same masked frame echoed back as
// bytes by a handler with a 64 KiB buffer, reading the request body and
// writing and flushing what it read. It is what net/http's server and
// x/net's client cost for the round trip alone, which no WebSocket over
// them can beat.
func BenchmarkEcho(b *testing.B) {
	opts := &websocket.AcceptOptions{Compression: websocket.CompressionOptions{Disabled: true}}
	echo := echoHandler(opts, nil)
	floor := floorHandler(64<<10 + websocket.MaxHeaderSize)
	s := startServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/floor":
			floor(w, r)
		case r.URL.Query().Has("reuse"):
			reuseEcho(w, r, opts)
		default:
			echo(w, r)
		}
	}), nil)
	defer s.Close()
	loop := func(b *testing.B, size int, echo func() error) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		cpu0 := cpuTime()
		for b.Loop() {
			if err := echo(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
	for _, size := range []int{1 << 10, 16 << 10, 64 << 10} {
		name := map[int]string{1 << 10: "1KiB", 16 << 10: "16KiB", 64 << 10: "64KiB"}[size]
		msg := pattern(size)
		for _, mode := range []string{"http2-stream", "http2-stream-reuse"} {
			b.Run(mode+"/"+name, func(b *testing.B) {
				cc := s.dial(b)
				defer cc.Close()
				path := "/ws"
				if mode == "http2-stream-reuse" {
					path += "?reuse"
				}
				c := openWS(b, cc, s, path, nil)
				defer c.cancel()
				var buf []byte
				loop(b, size, func() (err error) {
					c.writeMessage(websocket.OpBinary, msg)
					_, buf, err = c.appendMessage(buf[:0])
					return err
				})
			})
		}
		b.Run("http2-floor/"+name, func(b *testing.B) {
			cc := s.dial(b)
			defer cc.Close()
			c := openWS(b, cc, s, "/floor", nil)
			defer c.cancel()
			buf := make([]byte, size)
			loop(b, size, func() error {
				c.writeMessage(websocket.OpBinary, msg)
				// The frame comes back as it went, masked.
				if _, err := websocket.ReadHeader(c.br); err != nil {
					return err
				}
				_, err := io.ReadFull(c.br, buf)
				return err
			})
		})
		for _, mode := range []string{"http1-tls", "http1-tls-reuse"} {
			b.Run(mode+"/"+name, func(b *testing.B) {
				url := wsURL(s)
				if mode == "http1-tls-reuse" {
					url += "?reuse"
				}
				c := dialH1(b, url, s)
				defer c.CloseNow()
				var buf []byte
				loop(b, size, func() (err error) {
					c.WriteMessage(websocket.OpBinary, msg)
					_, buf, err = c.AppendMessage(buf[:0])
					return err
				})
			})
		}
	}
}

// reuseEcho is the -reuse modes' handler: it echoes every message, read
// with AppendMessage into a buffer it keeps.
func reuseEcho(w http.ResponseWriter, r *http.Request, opts *websocket.AcceptOptions) {
	c, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	defer c.CloseNow()
	var buf []byte
	for {
		op, msg, err := c.AppendMessage(buf[:0])
		if err != nil {
			return
		}
		buf = msg
		if err := c.WriteMessage(op, msg); err != nil {
			return
		}
	}
}

// BenchmarkMemoryPerWebSocket opens 500 WebSockets, once whatever b.N,
// from a child process (the test binary run as memClient), and reports the
// heap and stacks the server holds per WebSocket once they are idle: as
// streams of one HTTP/2 connection (whose limit of concurrent streams is
// raised from 250 to 1000), and as TLS connections of their own. Under
// "idle" no message has been sent; under "echoed" each WebSocket has had a
// 1 KiB message echoed first, so that what a stream keeps after traffic is
// counted too.
//
// http2-floor is not the library but what net/http alone holds for a
// stream whose handler keeps its goroutine and reads (floorHandler, with a
// 64-byte buffer), as benchmarks/'s http-floor does over HTTP/1.1. Any
// handler that reads a WebSocket over HTTP/2 pays at least that.
//
// Stacks vary by up to 2 KiB from run to run: the runtime starts a
// goroutine with a stack the size of the average it has seen lately
// (GODEBUG=adaptivestackstart=0 turns that off).
func BenchmarkMemoryPerWebSocket(b *testing.B) {
	const n = 500
	s := startMemServer(b)
	modes := []string{"http2-stream", "http2-floor", "http1-tls"}
	// The first WebSockets of a process pay for what is made once (about
	// 500 KB: pools, tables, the HTTP/2 connection), which would fall on
	// whichever mode runs first.
	for _, mode := range modes {
		serverMemory(b, s, mode, 50, true)
	}
	for _, mode := range modes {
		for _, traffic := range []string{"idle", "echoed"} {
			b.Run(mode+"/"+traffic, func(b *testing.B) {
				heap, stack := serverMemory(b, s, mode, n, traffic == "echoed")
				b.ReportMetric(heap+stack, "B/ws")
				b.ReportMetric(heap, "heap-B/ws")
				b.ReportMetric(stack, "stack-B/ws")
			})
		}
	}
}
