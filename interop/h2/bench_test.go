package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/fullduplex/websocket"
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

func dialH1(b *testing.B, s *server) *websocket.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := s.Client().Transport.(*http.Transport).TLSClientConfig
	c, err := websocket.Dial(ctx, wsURL(s), &websocket.DialOptions{TLSConfig: cfg})
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
			c := dialH1(b, s)
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
// over a stream, and over a TLS connection of its own.
func BenchmarkEcho(b *testing.B) {
	s := startServer(b, echoHandler(&websocket.AcceptOptions{Compression: websocket.CompressionOptions{Disabled: true}}, nil), nil)
	defer s.Close()
	for _, size := range []int{1 << 10, 16 << 10, 64 << 10} {
		name := map[int]string{1 << 10: "1KiB", 16 << 10: "16KiB", 64 << 10: "64KiB"}[size]
		msg := pattern(size)
		b.Run("http2-stream/"+name, func(b *testing.B) {
			cc := s.dial(b)
			defer cc.Close()
			c := openWS(b, cc, s, "/ws", nil)
			defer c.cancel()
			var buf []byte
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				c.writeMessage(websocket.OpBinary, msg)
				var err error
				if _, buf, err = c.appendMessage(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("http1-tls/"+name, func(b *testing.B) {
			c := dialH1(b, s)
			defer c.CloseNow()
			var buf []byte
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				c.WriteMessage(websocket.OpBinary, msg)
				var err error
				if _, buf, err = c.AppendMessage(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
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
// stream whose handler keeps its goroutine and reads: it answers 200 and
// echoes the request body's bytes through a 64-byte buffer, as
// benchmarks/'s http-floor does over HTTP/1.1. Any handler that reads a
// WebSocket over HTTP/2 pays at least that.
func BenchmarkMemoryPerWebSocket(b *testing.B) {
	const n = 500
	inUse := func() (heap, stack uint64) {
		// Twice: what sync.Pools hold survives one collection, and would
		// be freed by the next during the measurement.
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.StackInuse
	}
	echo := echoHandler(nil, nil)
	s := startServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/floor" {
			floorHandler(w, r)
			return
		}
		echo(w, r)
	}), func(hs *http.Server) {
		hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1000}
	})
	defer s.Close()
	// Handlers end some time after their client has gone: each run waits
	// for the last one, lest the stacks it frees count against the next.
	settle := func(b *testing.B, want int) {
		for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d goroutines left, want %d", runtime.NumGoroutine(), want)
			}
		}
	}
	for _, mode := range []string{"http2-stream", "http2-floor", "http1-tls"} {
		for _, traffic := range []string{"idle", "echoed"} {
			b.Run(mode+"/"+traffic, func(b *testing.B) {
				goroutines := runtime.NumGoroutine()
				heap0, stack0 := inUse()
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), "H2_MEM_CLIENT="+mode, "H2_MEM_URL="+s.URL, "H2_MEM_N="+strconv.Itoa(n),
					"H2_MEM_ECHO="+strconv.FormatBool(traffic == "echoed"))
				stdin, _ := cmd.StdinPipe()
				stdout, _ := cmd.StdoutPipe()
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				line, err := bufio.NewReader(stdout).ReadString('\n')
				if err != nil || line != "ready\n" {
					b.Fatalf("client: %q %v", line, err)
				}
				time.Sleep(200 * time.Millisecond) // let the last handlers settle
				heap, stack := inUse()
				dh, ds := float64(int64(heap-heap0))/n, float64(int64(stack-stack0))/n
				b.ReportMetric(dh+ds, "B/ws")
				b.ReportMetric(dh, "heap-B/ws")
				b.ReportMetric(ds, "stack-B/ws")
				stdin.Close()
				cmd.Wait()
				settle(b, goroutines)
			})
		}
	}
}

// floorHandler is http2-floor's handler: the least a handler that keeps a
// stream open and reads it holds. It answers 200 and echoes the request
// body through a 64-byte buffer.
func floorHandler(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	var b [64]byte
	for {
		n, err := r.Body.Read(b[:])
		if n > 0 {
			w.Write(b[:n])
			rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// memClient is the test binary's client mode for BenchmarkMemoryPerWebSocket:
// it opens H2_MEM_N WebSockets to H2_MEM_URL, the floor's path for
// http2-floor, echoes a 1 KiB message on each if H2_MEM_ECHO is true, says
// "ready" and holds them until its standard input ends.
func memClient(mode, url string, n int, echo bool) error {
	tlsCfg := &tls.Config{InsecureSkipVerify: true} // the benchmark's own server
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	msg := pattern(1 << 10)
	switch mode {
	case "http1-tls":
		for range n {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(url, "https")+"/ws", &websocket.DialOptions{TLSConfig: tlsCfg})
			cancel()
			if err != nil {
				return err
			}
			closers = append(closers, func() { c.CloseNow() })
			if echo {
				if err := c.WriteMessage(websocket.OpBinary, msg); err != nil {
					return err
				}
				if _, _, err := c.ReadMessage(); err != nil {
					return err
				}
			}
		}
	case "http2-stream", "http2-floor":
		path := "/ws"
		if mode == "http2-floor" {
			path = "/floor"
		}
		tlsCfg.NextProtos = []string{"h2"}
		nc, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), tlsCfg)
		if err != nil {
			return err
		}
		tr, _ := http2.ConfigureTransports(&http.Transport{})
		cc, err := tr.NewClientConn(nc)
		if err != nil {
			return err
		}
		closers = append(closers, func() { cc.Close() })
		for range n {
			pr, pw := io.Pipe()
			req, _ := http.NewRequest(http.MethodConnect, url+path, pr)
			req.Header[":protocol"] = []string{"websocket"}
			req.Header.Set("Sec-WebSocket-Version", "13")
			resp, err := cc.RoundTrip(req)
			if err != nil {
				return err
			}
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			closers = append(closers, func() { pw.Close(); resp.Body.Close() })
			if echo {
				c := &client{resp: resp, br: bufio.NewReader(resp.Body), pw: pw}
				if err := c.writeMessage(websocket.OpBinary, msg); err != nil {
					return err
				}
				// The floor echoes the masked frame as it came.
				h, err := websocket.ReadHeader(c.br)
				if err != nil {
					return err
				}
				if _, err := io.CopyN(io.Discard, c.br, h.Length); err != nil {
					return err
				}
			}
		}
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return nil
}
