package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fullduplex/websocket"
)

//go:embed static
var static embed.FS

// options configure the board; defaultOptions gives the values main uses.
type options struct {
	Title           string
	Candidates      []string
	ReplyQueue      int           // error replies that may wait for one client; more drops it
	WriteTimeout    time.Duration // bound on one write; a client that stalls longer is dropped
	CloseTimeout    time.Duration // bound on the closing handshake
	PingInterval    time.Duration // keep-alive pings, which also find dead peers
	MaxMessageBytes int64         // read limit; a vote is a few dozen bytes
	Logf            func(format string, args ...any)
}

func defaultOptions() options {
	return options{
		Title:           "What's for lunch?",
		Candidates:      []string{"Pizza", "Sushi", "Tacos", "Ramen"},
		ReplyQueue:      8,
		WriteTimeout:    10 * time.Second,
		CloseTimeout:    5 * time.Second,
		PingInterval:    30 * time.Second,
		MaxMessageBytes: 512,
		Logf:            log.Printf,
	}
}

// counts is the board as every page sees it. Seq grows by one with every
// vote, so a page (or a test) can tell newer counts from older ones.
type counts struct {
	Type       string      `json:"type"` // "counts"
	Seq        int64       `json:"seq"`
	Title      string      `json:"title"`
	Candidates []candidate `json:"candidates"`
	Total      int64       `json:"total"`
	Online     int         `json:"online"` // pages connected
}

type candidate struct {
	Name  string `json:"name"`
	Votes int64  `json:"votes"`
}

// errorReply answers a bad vote, to its sender only.
type errorReply struct {
	Type  string `json:"type"` // "error"
	Error string `json:"error"`
}

// vote is the one message a page sends: {"type":"vote","candidate":"Sushi"}.
type vote struct {
	Type      string `json:"type"`
	Candidate string `json:"candidate"`
}

// server is the board: an http.Handler serving the page at / and the
// WebSocket at /ws.
type server struct {
	opts  options
	index map[string]int // candidate name to its place on the board
	mux   *http.ServeMux
	conns sync.WaitGroup

	mu      sync.Mutex // guards what follows; every change and its broadcast happen under it
	votes   []int64
	seq     int64
	clients map[*client]struct{}
	closing bool
}

// client is one open page. Counts are a full state, so a client never needs
// a queue of them: latest holds the newest not yet sent, and a client that
// reads slowly simply skips intermediate boards. Only error replies queue.
type client struct {
	conn    *websocket.Conn
	wake    chan struct{} // capacity 1: "latest has changed"
	replies chan []byte
	done    chan struct{}
	once    sync.Once

	mu     sync.Mutex
	latest []byte
}

func newServer(opts options) (*server, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &server{opts: opts, index: make(map[string]int), mux: http.NewServeMux(), clients: make(map[*client]struct{})}
	for _, name := range opts.Candidates {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, errors.New("vote: empty candidate name")
		}
		if _, dup := s.index[name]; dup {
			return nil, fmt.Errorf("vote: candidate %q listed twice", name)
		}
		s.index[name] = len(s.index)
	}
	if len(s.index) == 0 {
		return nil, errors.New("vote: no candidates")
	}
	s.opts.Candidates = make([]string, len(s.index))
	for name, i := range s.index {
		s.opts.Candidates[i] = name
	}
	s.votes = make([]int64, len(s.index))

	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(sub)
	// Over HTTP/2 a WebSocket opens with CONNECT (RFC 8441). The handler
	// keeps the Conn's stream alive: it returns only after its writer has
	// stopped and the Conn is closed.
	s.mux.HandleFunc("GET /ws", s.serveWebSocket)
	s.mux.HandleFunc("CONNECT /ws", s.serveWebSocket)
	s.mux.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:")
		files.ServeHTTP(w, r)
	}))
	return s, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	// Same-origin only (the default): another site cannot vote through a
	// visitor's browser.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		ReadLimit:    s.opts.MaxMessageBytes,
		PingInterval: s.opts.PingInterval,
		CloseTimeout: s.opts.CloseTimeout,
	})
	if err != nil {
		s.opts.Logf("vote: accept from %s: %v", r.RemoteAddr, err)
		return
	}
	s.conns.Add(1)
	defer s.conns.Done()

	c := &client{
		conn:    conn,
		wake:    make(chan struct{}, 1),
		replies: make(chan []byte, max(s.opts.ReplyQueue, 1)),
		done:    make(chan struct{}),
	}
	if !s.join(c) {
		conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(c)
	}()
	s.readLoop(c)
	s.leave(c)
	<-writerDone
	conn.CloseNow()
}

func (s *server) readLoop(c *client) {
	for {
		op, p, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if err := s.handle(op, p); err != nil {
			s.reply(c, err.Error())
		}
	}
}

// handle applies one message from a page. A bad message changes nothing and
// returns the error to show its sender.
func (s *server) handle(op websocket.Opcode, p []byte) error {
	if op != websocket.OpText {
		return errors.New(`votes are JSON text messages: {"type":"vote","candidate":"..."}`)
	}
	var v vote
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return errors.New(`malformed vote: want {"type":"vote","candidate":"..."}`)
	}
	if v.Type != "vote" {
		return fmt.Errorf("unknown message type %q: want \"vote\"", v.Type)
	}
	i, ok := s.index[v.Candidate]
	if !ok {
		return fmt.Errorf("unknown candidate %q", v.Candidate)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.votes[i]++
	s.publishLocked()
	return nil
}

// publishLocked hands the current board to every client. It runs under s.mu
// together with the change it reports, so boards reach each client in Seq
// order and every board is a state that existed: no vote is counted twice
// or lost between two boards.
func (s *server) publishLocked() {
	s.seq++
	b := counts{Type: "counts", Seq: s.seq, Title: s.opts.Title, Online: len(s.clients)}
	for i, name := range s.opts.Candidates {
		b.Candidates = append(b.Candidates, candidate{Name: name, Votes: s.votes[i]})
		b.Total += s.votes[i]
	}
	p, err := json.Marshal(b)
	if err != nil {
		panic(err) // counts holds only strings and numbers
	}
	// Encoded once, sent to all; writers only read it.
	for c := range s.clients {
		c.mu.Lock()
		c.latest = p
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default: // already woken; it will pick up the newest
		}
	}
}

// writeLoop sends c its error replies and the newest board, until c leaves or
// is dropped.
func (s *server) writeLoop(c *client) {
	for {
		var board []byte
		var reply []byte
		select {
		case <-c.done:
			return
		case reply = <-c.replies:
		case <-c.wake:
			c.mu.Lock()
			board, c.latest = c.latest, nil
			c.mu.Unlock()
		}
		c.conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		var err error
		switch {
		case reply != nil:
			err = c.conn.WriteMessage(websocket.OpText, reply)
		case board != nil:
			err = c.conn.WriteMessage(websocket.OpText, board)
		}
		if err != nil {
			if !errors.Is(err, websocket.ErrClosed) {
				// Most likely the deadline: the client stopped reading.
				s.drop(c, websocket.StatusPolicyViolation, "write failed: client too slow")
			}
			return // closed: the read loop sees it and the client leaves
		}
	}
}

// reply queues an error for c alone; a client that lets replies pile up is
// dropped rather than waited for.
func (s *server) reply(c *client, msg string) {
	p, _ := json.Marshal(errorReply{Type: "error", Error: msg})
	select {
	case c.replies <- p:
	default:
		s.drop(c, websocket.StatusPolicyViolation, "reply queue full: client too slow")
	}
}

// join adds c to the board; c and everyone else get a board with the new
// number of pages online. It reports false once the server is shutting down.
func (s *server) join(c *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.clients[c] = struct{}{}
	s.publishLocked()
	return true
}

func (s *server) leave(c *client) {
	c.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c]; ok {
		delete(s.clients, c)
		if !s.closing {
			s.publishLocked()
		}
	}
}

// drop removes c and closes it with code in the background.
func (s *server) drop(c *client, code websocket.StatusCode, reason string) {
	s.leave(c)
	s.opts.Logf("vote: dropping %s: %s", c.conn.RemoteAddr(), reason)
	go func() {
		// Close is bounded by CloseTimeout; CloseNow is the backstop
		// should a write stuck on a dead peer hold it up.
		t := time.AfterFunc(s.opts.WriteTimeout+s.opts.CloseTimeout, func() { c.conn.CloseNow() })
		defer t.Stop()
		c.conn.Close(code, reason)
	}()
}

func (c *client) stop() { c.once.Do(func() { close(c.done) }) }

// Shutdown closes every connection with 1001 (going away) and turns new ones
// away; the pages show it and reconnect with backoff.
func (s *server) Shutdown() {
	s.mu.Lock()
	s.closing = true
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	for _, c := range clients {
		s.drop(c, websocket.StatusGoingAway, "server shutting down")
	}
}

// Wait waits for every WebSocket handler to return.
func (s *server) Wait() { s.conns.Wait() }

// snapshot returns the votes per candidate, for tests.
func (s *server) snapshot() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int64, len(s.votes))
	for i, name := range s.opts.Candidates {
		m[name] = s.votes[i]
	}
	return m
}
