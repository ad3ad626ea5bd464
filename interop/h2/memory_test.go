package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/fullduplex/websocket"
)

// What the server holds per WebSocket: BenchmarkMemoryPerWebSocket and
// TestHandlerStackOverStream open WebSockets from a child process (the
// test binary run as memClient), so that the server's memory is counted
// alone.

// raceEnabled is set when the race detector is on (race_on_test.go).
var raceEnabled bool

// startMemServer starts the server the memory figures are taken from:
// WebSockets echoed by the library at /ws, net/http's floor at /floor, and
// up to 1000 concurrent streams per HTTP/2 connection rather than 250.
func startMemServer(t testing.TB) *server {
	t.Helper()
	echo := echoHandler(nil, nil)
	floor := floorHandler(64)
	return startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/floor" {
			floor(w, r)
			return
		}
		echo(w, r)
	}), func(hs *http.Server) {
		hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1000}
	})
}

// serverMemory has a child process open n WebSockets to s in mode
// ("http2-stream", "http2-floor" or "http1-tls"), each with a 1 KiB echo
// first if echo is set, and returns the heap and the stacks that s holds
// per WebSocket once they are idle. It returns once the child has closed
// them and their handlers have ended.
func serverMemory(t testing.TB, s *server, mode string, n int, echo bool) (heap, stack float64) {
	t.Helper()
	inUse := func() (heap, stack uint64) {
		// Twice: what sync.Pools hold survives one collection, and would
		// be freed by the next during the measurement.
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.StackInuse
	}
	goroutines := runtime.NumGoroutine()
	heap0, stack0 := inUse()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "H2_MEM_CLIENT="+mode, "H2_MEM_URL="+s.URL, "H2_MEM_N="+strconv.Itoa(n),
		"H2_MEM_ECHO="+strconv.FormatBool(echo))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
		// Handlers end some time after their client has gone: wait for
		// the last one, lest the stacks it frees count against the next
		// measurement.
		for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > goroutines; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines left, want %d", runtime.NumGoroutine(), goroutines)
			}
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("client: %q %v", line, err)
	}
	time.Sleep(200 * time.Millisecond) // let the last handlers settle
	h, st := inUse()
	return float64(int64(h-heap0)) / float64(n), float64(int64(st-stack0)) / float64(n)
}

// TestHandlerStackOverStream checks that a handler reading a Conn over an
// HTTP/2 stream keeps about the 4 KiB of stack that net/http's floor keeps
// (a handler reading the request body): Accept answers on a goroutine of
// its own, without which the handler's stack grows to 8 KiB for the life
// of the WebSocket. It runs in a child process with the runtime's adaptive
// starting stack size off, so that every goroutine starts at 2 KiB.
func TestHandlerStackOverStream(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector enlarges every frame")
	}
	if !strings.Contains(os.Getenv("GODEBUG"), "adaptivestackstart=0") {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHandlerStackOverStream$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "GODEBUG="+os.Getenv("GODEBUG")+",adaptivestackstart=0")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestHandlerStackOverStream")) {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	s := startMemServer(t)
	for _, echo := range []bool{false, true} {
		_, floor := serverMemory(t, s, "http2-floor", 200, echo)
		_, lib := serverMemory(t, s, "http2-stream", 200, echo)
		t.Logf("echo %v: stack per WebSocket %.0f B, net/http's floor %.0f B", echo, lib, floor)
		if lib > 6<<10 {
			t.Errorf("echo %v: handlers hold %.0f B of stack each, want about 4 KiB (net/http's floor %.0f B)", echo, lib, floor)
		}
	}
}

// floorHandler returns http2-floor's handler, the least a handler that
// keeps a stream open and reads it holds and does: it answers 200 and
// echoes the request body through a buffer of size bytes, writing and
// flushing what each read brings.
func floorHandler(size int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		if rc.Flush() != nil {
			return
		}
		b := make([]byte, size)
		for {
			n, err := r.Body.Read(b)
			if n > 0 {
				w.Write(b[:n])
				rc.Flush()
			}
			if err != nil {
				return
			}
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
