package main

import (
	"bytes"
	"context"
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
	QueueSize       int           // boards and replies that may wait for one client; more drops it
	PublishInterval time.Duration // the newest board goes out at most this often
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
		QueueSize:       256,
		PublishInterval: 50 * time.Millisecond,
		WriteTimeout:    10 * time.Second,
		CloseTimeout:    5 * time.Second,
		PingInterval:    30 * time.Second,
		MaxMessageBytes: 512,
		Logf:            log.Printf,
	}
}

// counts is the board as every page sees it. Seq grows with every change
// (a vote, a page opened or closed), so a page (or a test) can tell newer
// counts from older ones; boards published together skip numbers.
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
	conns sync.WaitGroup // running WebSocket handlers

	// pages holds the open pages: it queues each board for every page,
	// drops a page that cannot keep up (1008) and closes them all on
	// Shutdown (1001).
	pages websocket.Group

	mu      sync.Mutex // guards what follows, and orders every change
	votes   []int64
	seq     int64
	closing bool

	changed   chan struct{} // capacity 1: the board changed since the last broadcast
	stop      chan struct{} // closed by Shutdown: the publisher ends
	stopOnce  sync.Once
	published chan struct{} // closed when the publisher has ended
}

func newServer(opts options) (*server, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &server{opts: opts, index: make(map[string]int), mux: http.NewServeMux(),
		changed: make(chan struct{}, 1), stop: make(chan struct{}), published: make(chan struct{})}
	s.pages.QueueSize = opts.QueueSize
	s.pages.WriteTimeout = opts.WriteTimeout
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
	go s.publish()
	return s, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	// Counted before the takeover, after which http.Server.Shutdown no
	// longer waits for this handler, so that Wait does.
	s.conns.Add(1)
	defer s.conns.Done()
	// Same-origin only (the default): another site cannot vote through a
	// visitor's browser. A page from the start, which Shutdown closes with
	// 1001 (once it has begun, handshakes are refused with 503).
	conn, err := s.pages.Accept(w, r, &websocket.AcceptOptions{
		ReadLimit:    s.opts.MaxMessageBytes,
		PingInterval: s.opts.PingInterval,
		CloseTimeout: s.opts.CloseTimeout,
	})
	if err != nil {
		s.opts.Logf("vote: accept from %s: %v", r.RemoteAddr, err)
		return
	}
	defer conn.CloseNow()

	s.join()
	for {
		op, p, err := conn.ReadMessage()
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusPolicyViolation {
				s.opts.Logf("vote: dropped %s: too slow", conn.RemoteAddr())
			}
			break
		}
		if err := s.handle(op, p); err != nil {
			// To the sender alone, in order with the boards.
			b, _ := json.Marshal(errorReply{Type: "error", Error: err.Error()})
			s.pages.Send(conn, prepare(b))
		}
	}
	s.leave(conn)
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

// publishLocked records a change of the board, which the publisher sends.
// It runs under s.mu together with the change, so Seq orders the changes.
func (s *server) publishLocked() {
	s.seq++
	select {
	case s.changed <- struct{}{}:
	default: // already pending; the publisher sends the newest board
	}
}

// publish broadcasts the newest board after each change, at most once every
// PublishInterval, until Shutdown. A board is a full state, so the changes
// of an interval go out as one board: a burst of votes costs each page one
// message, not one per vote, and a page's queue fills only if it stops
// reading. Boards reach each page in Seq order, and every board is a state
// that existed: it is made under s.mu.
func (s *server) publish() {
	defer close(s.published)
	for {
		select {
		case <-s.stop:
			return
		case <-s.changed:
		}
		s.mu.Lock()
		b := counts{Type: "counts", Seq: s.seq, Title: s.opts.Title, Online: s.pages.Len()}
		for i, name := range s.opts.Candidates {
			b.Candidates = append(b.Candidates, candidate{Name: name, Votes: s.votes[i]})
			b.Total += s.votes[i]
		}
		p, err := json.Marshal(b)
		if err != nil {
			panic(err) // counts holds only strings and numbers
		}
		// Encoded and framed once, queued for all; under s.mu so that a
		// page that joins now gets this board or a later one.
		s.pages.Broadcast(prepare(p))
		s.mu.Unlock()
		if s.opts.PublishInterval > 0 {
			t := time.NewTimer(s.opts.PublishInterval)
			select {
			case <-s.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// prepare frames p, JSON, as one text message for any number of pages.
func prepare(p []byte) *websocket.PreparedMessage {
	pm, err := websocket.NewPreparedMessage(websocket.OpText, p)
	if err != nil {
		panic(err) // OpText is a message type
	}
	return pm
}

// join tells every page, the new one included, the new number of pages
// online.
func (s *server) join() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.publishLocked()
	}
}

// leave removes conn, whether it left or was dropped, and the others see
// one page fewer online.
func (s *server) leave(conn *websocket.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages.Remove(conn)
	if !s.closing {
		s.publishLocked()
	}
}

// Shutdown closes every connection with 1001 (going away) and turns new ones
// away; it returns once they are closed, each within CloseTimeout. The pages
// show it and reconnect with backoff.
func (s *server) Shutdown() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.published
	s.pages.Shutdown(context.Background())
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
