//go:build !js

package jstest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// TestUnderNode builds this package's tests for js/wasm and runs them under
// Node, against the server below, whose address they get in URLEnv.
func TestUnderNode(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the js/wasm tests in -short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI must run the js/wasm tests (on Debian: apt-get install nodejs)", err)
		}
		t.Skipf("skipping the js/wasm tests: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(5*time.Minute))
	defer cancel()

	bin := filepath.Join(t.TempDir(), "jstest.wasm")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the js/wasm tests: %v\n%s", err, out)
	}

	srv := httptest.NewServer(newServer(t))
	defer srv.Close()

	args := append(NodeArgs(t, node), filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec_node.js"), bin, "-test.v")
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(), URLEnv+"=ws"+strings.TrimPrefix(srv.URL, "http"))
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the js/wasm tests under node: %v", err)
	}
}

// NodeArgs returns the flags node needs for a WebSocket global: none from
// Node 22 on, --experimental-websocket on Node 20 and 21.
func NodeArgs(t testing.TB, node string) []string {
	t.Helper()
	args := []string{"--stack-size=8192"} // as go_js_wasm_exec does
	out, err := exec.Command(node, "-p", "typeof WebSocket").Output()
	if err != nil {
		t.Fatalf("%s: %v", node, err)
	}
	if strings.TrimSpace(string(out)) != "function" {
		args = append(args, "--experimental-websocket")
	}
	return args
}

// server is the peer of the js tests: endpoints that echo, close with a
// given code, break the protocol, flood, and report how a client closed.
type server struct {
	t  testing.TB
	mu sync.Mutex
	// results holds, by the id a test chose, how the server's read of that
	// connection ended.
	results map[string]chan Result
	// releases holds, by id, the channels that let a sink start reading.
	releases map[string]chan struct{}
}

func newServer(t testing.TB) http.Handler {
	s := &server{t: t, results: make(map[string]chan Result), releases: make(map[string]chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/close", s.close)
	mux.HandleFunc("/broken", s.broken)
	mux.HandleFunc("/send", s.send)
	mux.HandleFunc("/sink", s.sink)
	mux.HandleFunc("/release", s.release)
	mux.HandleFunc("/result", s.result)
	return mux
}

func (s *server) slot(id string) chan Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.results[id]
	if !ok {
		ch = make(chan Result, 1)
		s.results[id] = ch
	}
	return ch
}

// readToEnd reads c until its read fails and records how under the id of
// the request, if it has one.
func (s *server) readToEnd(r *http.Request, c *websocket.Conn) {
	var n int
	var err error
	for err == nil {
		_, _, err = c.ReadMessage()
		if err == nil {
			n++
		}
	}
	if id := r.URL.Query().Get("id"); id != "" {
		ce := new(websocket.CloseError)
		var res Result
		if errors.As(err, &ce) {
			res = Result{Code: int(ce.Code), Reason: ce.Reason, Messages: n}
		} else {
			res = Result{Err: err.Error(), Messages: n}
		}
		s.slot(id) <- res
	}
}

func accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	return websocket.Accept(w, r, &websocket.AcceptOptions{
		SkipOriginCheck: true,
		Subprotocols:    []string{"chat.v2", "chat.v1"},
	})
}

// echo sends every message back, until the client closes (with ?id=, the
// close is recorded).
func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	c, err := accept(w, r)
	if err != nil {
		return
	}
	defer c.CloseNow()
	var n int
	for {
		op, p, err := c.ReadMessage()
		if err != nil {
			if id := r.URL.Query().Get("id"); id != "" {
				res := Result{Code: int(websocket.CloseStatus(err)), Messages: n}
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					res.Reason = ce.Reason
				} else {
					res.Err = err.Error()
				}
				s.slot(id) <- res
			}
			return
		}
		n++
		if err := c.WriteMessage(op, p); err != nil {
			return
		}
	}
}

// close closes at once with ?code= and ?reason=.
func (s *server) close(w http.ResponseWriter, r *http.Request) {
	c, err := accept(w, r)
	if err != nil {
		return
	}
	defer c.CloseNow()
	code, _ := strconv.Atoi(r.URL.Query().Get("code"))
	c.Close(websocket.StatusCode(code), r.URL.Query().Get("reason"))
}

// broken completes the handshake and sends a frame with a reserved opcode,
// which the client must fail the connection for (RFC 6455 §5.2).
func (s *server) broken(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer nc.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", websocket.AcceptKey(key))
	brw.Write([]byte{0x83, 0x00}) // FIN, opcode 3, empty
	brw.Flush()
	// Wait for the client to give up on the connection, within a bound.
	nc.SetReadDeadline(time.Now().Add(testtime.Scaled(10 * time.Second)))
	buf := make([]byte, 512)
	for {
		if _, err := nc.Read(buf); err != nil {
			return
		}
	}
}

// send sends ?n= messages (1 by default) of ?size= bytes, binary, without
// waiting, then reads until the client closes (recorded under ?id=).
func (s *server) send(w http.ResponseWriter, r *http.Request) {
	c, err := accept(w, r)
	if err != nil {
		return
	}
	defer c.CloseNow()
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil {
		n = 1
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.readToEnd(r, c)
	}()
	p := make([]byte, size)
	for i := 0; i < n; i++ {
		if c.WriteMessage(websocket.OpBinary, p) != nil {
			break
		}
	}
	<-done
}

// sink takes the client's messages without reading them until /release is
// dialled with the same ?id=, so that the client's writes back up; then it
// reads them all.
func (s *server) sink(w http.ResponseWriter, r *http.Request) {
	c, err := accept(w, r)
	if err != nil {
		return
	}
	defer c.CloseNow()
	select {
	case <-s.releaseChan(r.URL.Query().Get("id")):
	case <-time.After(testtime.Scaled(time.Minute)):
		return
	}
	s.readToEnd(r, c)
}

func (s *server) releaseChan(id string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.releases[id]
	if !ok {
		ch = make(chan struct{})
		s.releases[id] = ch
	}
	return ch
}

// release lets the sink with ?id= read.
func (s *server) release(w http.ResponseWriter, r *http.Request) {
	c, err := accept(w, r)
	if err != nil {
		return
	}
	defer c.CloseNow()
	close(s.releaseChan(r.URL.Query().Get("id")))
	c.Close(websocket.StatusNormalClosure, "")
}

// result sends, as one JSON text message, how the connection with ?id= ended
// on the server, once it has.
func (s *server) result(w http.ResponseWriter, r *http.Request) {
	c, err := accept(w, r)
	if err != nil {
		return
	}
	defer c.CloseNow()
	var res Result
	select {
	case res = <-s.slot(r.URL.Query().Get("id")):
	case <-time.After(testtime.Scaled(10 * time.Second)):
		res = Result{Err: "no result within the bound"}
	}
	p, _ := json.Marshal(res)
	c.WriteMessage(websocket.OpText, p)
	c.Close(websocket.StatusNormalClosure, "")
}
