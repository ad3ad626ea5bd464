package main

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fullduplex/websocket"
)

//go:embed static
var static embed.FS

// options tune the room; defaultOptions gives the values main uses.
type options struct {
	Backlog         int           // recent messages kept for newcomers
	QueueSize       int           // messages that may wait for one client; a client whose queue is full is dropped
	WriteTimeout    time.Duration // bound on one write to a client; a client that stalls longer is dropped
	CloseTimeout    time.Duration // bound on the closing handshake
	PingInterval    time.Duration // keep-alive pings, which also find dead peers
	MaxMessageBytes int64         // read limit on a client's message; larger closes with 1009
	MaxTextRunes    int           // longest chat message, in characters
	MaxNameRunes    int           // longest user name, in characters
	Logf            func(format string, args ...any)
}

func defaultOptions() options {
	return options{
		Backlog:         50,
		QueueSize:       64,
		WriteTimeout:    10 * time.Second,
		CloseTimeout:    5 * time.Second,
		PingInterval:    30 * time.Second,
		MaxMessageBytes: 4 << 10,
		MaxTextRunes:    1000,
		MaxNameRunes:    24,
		Logf:            log.Printf,
	}
}

// StatusInvalidName is the close code for a connection whose name is not
// acceptable. It is in the range RFC 6455 §7.4.2 leaves to applications; the
// page asks for another name instead of reconnecting.
const StatusInvalidName websocket.StatusCode = 4000

// event is every message the server sends, as JSON.
type event struct {
	Type    string   `json:"type"`              // "hello", "message", "join", "leave" or "error"
	Name    string   `json:"name,omitempty"`    // who spoke, joined or left; in "hello", the user's own name
	Text    string   `json:"text,omitempty"`    // the message, or the error
	Time    int64    `json:"time,omitempty"`    // Unix milliseconds
	Users   []string `json:"users,omitempty"`   // "hello", "join", "leave": who is in the room
	History []event  `json:"history,omitempty"` // "hello": the last messages, oldest first
}

// clientMessage is what a page sends: {"type":"message","text":"..."}.
type clientMessage struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// server is the room: an http.Handler serving the page at / and the
// WebSocket at /ws?name=NAME.
type server struct {
	opts  options
	mux   *http.ServeMux
	conns sync.WaitGroup // running WebSocket handlers

	mu      sync.Mutex // guards what follows, and orders every broadcast
	clients map[*client]struct{}
	history []event // at most opts.Backlog messages, oldest first
	closing bool
}

// client is one connected page. Only its writer goroutine writes to conn, in
// the order messages were queued on send.
type client struct {
	conn *websocket.Conn
	name string
	send chan []byte

	stopOnce  sync.Once
	done      chan struct{} // closed when the client is dropped or leaves
	leaveOnce sync.Once
}

func newServer(opts options) *server {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	// join queues the hello without waiting, which needs room for one.
	opts.QueueSize = max(opts.QueueSize, 1)
	s := &server{opts: opts, mux: http.NewServeMux(), clients: make(map[*client]struct{})}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
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
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	// The page is served by this server, so the default same-origin check
	// is what we want: another site's page cannot join the room.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		ReadLimit:    s.opts.MaxMessageBytes,
		PingInterval: s.opts.PingInterval,
		CloseTimeout: s.opts.CloseTimeout,
	})
	if err != nil {
		s.opts.Logf("chat: accept from %s: %v", r.RemoteAddr, err)
		return // Accept has answered the request
	}
	s.conns.Add(1)
	defer s.conns.Done()

	name, ok := s.cleanName(r.URL.Query().Get("name"))
	if !ok {
		conn.Close(StatusInvalidName, "a name is 1 to 24 printable characters")
		return
	}
	c := &client{
		conn: conn,
		name: name,
		send: make(chan []byte, s.opts.QueueSize),
		done: make(chan struct{}),
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

// readLoop reads the client's messages until the connection ends.
func (s *server) readLoop(c *client) {
	for {
		op, p, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if op != websocket.OpText {
			s.reply(c, "messages are JSON text")
			continue
		}
		var m clientMessage
		if err := json.Unmarshal(p, &m); err != nil || m.Type != "message" {
			s.reply(c, `expected {"type":"message","text":"..."}`)
			continue
		}
		text := strings.TrimSpace(m.Text)
		switch n := utf8.RuneCountInString(text); {
		case n == 0:
			continue
		case n > s.opts.MaxTextRunes:
			s.reply(c, "message too long")
			continue
		}
		s.broadcast(event{Type: "message", Name: c.name, Text: text, Time: time.Now().UnixMilli()})
	}
}

// writeLoop sends what is queued for c until c is dropped or leaves. A write
// that takes longer than WriteTimeout means the client has stopped reading.
func (s *server) writeLoop(c *client) {
	for {
		select {
		case <-c.done:
			return
		case msg := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
			if err := c.conn.WriteMessage(websocket.OpText, msg); err != nil {
				if !errors.Is(err, websocket.ErrClosed) {
					// Most likely the deadline: the client stopped reading.
					s.drop(c, websocket.StatusPolicyViolation, "write failed: client too slow")
				}
				return // closed: the read loop sees it and announces the leave
			}
		}
	}
}

// join adds c to the room: it gets the room's recent history, and everyone
// (c included) hears that c joined. It reports false once the server is
// shutting down.
func (s *server) join(c *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.clients[c] = struct{}{}
	hello := event{Type: "hello", Name: c.name, Users: s.usersLocked(), History: slices.Clone(s.history)}
	// The queue is empty, so the hello always fits.
	c.send <- prepare(hello)
	s.broadcastLocked(event{Type: "join", Name: c.name, Time: time.Now().UnixMilli(), Users: hello.Users})
	return true
}

// leave removes c, if it is still in the room, and tells the others.
func (s *server) leave(c *client) {
	c.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, c)
	s.announceLeaveLocked(c)
}

// announceLeaveLocked tells the room that c left, once per client, whether c
// left on its own or was dropped.
func (s *server) announceLeaveLocked(c *client) {
	c.leaveOnce.Do(func() {
		if !s.closing {
			s.broadcastLocked(event{Type: "leave", Name: c.name, Time: time.Now().UnixMilli(), Users: s.usersLocked()})
		}
	})
}

// broadcast sends ev to every client; messages are kept for newcomers.
func (s *server) broadcast(ev event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broadcastLocked(ev)
}

// broadcastLocked queues ev for every client without ever waiting for one:
// a client whose queue is full is dropped, so one slow or dead reader cannot
// hold up the room. The JSON is encoded once for all clients. Because
// queueing happens under s.mu, every client sees events in the same order.
func (s *server) broadcastLocked(ev event) {
	if ev.Type == "message" && s.opts.Backlog > 0 {
		if len(s.history) == s.opts.Backlog {
			s.history = slices.Delete(s.history, 0, 1)
		}
		s.history = append(s.history, ev)
	}
	msg := prepare(ev)
	var dropped []*client
	for c := range s.clients {
		select {
		case c.send <- msg:
		default:
			delete(s.clients, c)
			s.dropLocked(c, websocket.StatusPolicyViolation, "send queue full: client too slow")
			dropped = append(dropped, c)
		}
	}
	// The room hears at once, not when the dropped connection has closed.
	// Each announcement may drop others in turn; every drop removes a
	// client, so this ends.
	for _, c := range dropped {
		s.announceLeaveLocked(c)
	}
}

// reply sends an error to c alone.
func (s *server) reply(c *client, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case c.send <- prepare(event{Type: "error", Text: text}):
	default:
		delete(s.clients, c)
		s.dropLocked(c, websocket.StatusPolicyViolation, "send queue full: client too slow")
		s.announceLeaveLocked(c)
	}
}

// drop removes c from the room and closes its connection with code.
func (s *server) drop(c *client, code websocket.StatusCode, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, c)
	s.dropLocked(c, code, reason)
	s.announceLeaveLocked(c)
}

// dropLocked closes c in the background: the closing handshake waits for
// the peer, and the caller holds the room's lock. Its read loop then ends and
// the others hear that c left.
func (s *server) dropLocked(c *client, code websocket.StatusCode, reason string) {
	c.stopOnce.Do(func() {
		close(c.done)
		s.opts.Logf("chat: dropping %q (%s): %s", c.name, c.conn.RemoteAddr(), reason)
		go func() {
			// Close is bounded by CloseTimeout, but a writer stuck on a
			// dead peer holds the connection for up to WriteTimeout first;
			// CloseNow is the backstop for both.
			t := time.AfterFunc(s.opts.WriteTimeout+s.opts.CloseTimeout, func() { c.conn.CloseNow() })
			defer t.Stop()
			c.conn.Close(code, reason)
		}()
	})
}

// stop ends c's writer; used when c leaves on its own.
func (c *client) stop() {
	c.stopOnce.Do(func() { close(c.done) })
}

// Shutdown closes every connection with 1001 (going away) and turns new ones
// away. The pages show the closure and reconnect, with backoff, to the next
// server.
func (s *server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for c := range s.clients {
		delete(s.clients, c)
		s.dropLocked(c, websocket.StatusGoingAway, "server shutting down")
	}
}

// Wait waits for every WebSocket handler to return.
func (s *server) Wait() { s.conns.Wait() }

// usersLocked returns the names in the room, sorted.
func (s *server) usersLocked() []string {
	users := make([]string, 0, len(s.clients))
	for c := range s.clients {
		users = append(users, c.name)
	}
	slices.Sort(users)
	return users
}

// cleanName trims name and checks it is 1 to MaxNameRunes printable
// characters.
func (s *server) cleanName(name string) (string, bool) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n == 0 || n > s.opts.MaxNameRunes || !utf8.ValidString(name) {
		return "", false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", false
		}
	}
	return name, true
}

// prepare encodes ev once; the same bytes go to every client, which only
// read them.
func prepare(ev event) []byte {
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // event has only strings, numbers and slices of them
	}
	return b
}
