//go:build !js

package jstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// server is the peer of the js tests: endpoints that echo, close with a
// given code, break the protocol, flood, and report how a client closed.
type server struct {
	mu sync.Mutex
	// results holds, by the id a test chose, how the server's read of that
	// connection ended.
	results map[string]chan Result
	// releases holds, by id, the channels that let a sink start reading.
	releases map[string]chan struct{}
}

// NewServer returns the handler of the server the js tests run against;
// TestUnderNode serves it at the root, examples/wasm under /jstest/ with the
// page that runs the tests in Chromium.
func NewServer() http.Handler {
	s := &server{results: make(map[string]chan Result), releases: make(map[string]chan struct{})}
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
