package main

import (
	"context"
	"embed"
	"encoding/json"
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
// acceptable: malformed, or taken by someone in the room. It is in the range
// RFC 6455 §7.4.2 leaves to applications; the page shows the reason and asks
// for another name instead of reconnecting.
const StatusInvalidName websocket.StatusCode = 4000

// What join reports.
type joinResult int

const (
	joined    joinResult = iota
	nameTaken            // someone in the room has the name
	closing              // the server is shutting down
)

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

	// room holds the connections: it queues each message for every client,
	// drops a client that cannot keep up (1008) and closes them all on
	// Shutdown (1001).
	room websocket.Group

	mu      sync.Mutex // guards what follows, and orders every broadcast
	names   map[*websocket.Conn]string
	history []event // at most opts.Backlog messages, oldest first
	closing bool
}

func newServer(opts options) *server {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &server{opts: opts, mux: http.NewServeMux(), names: make(map[*websocket.Conn]string)}
	// join queues the hello, which needs room for one.
	s.room.QueueSize = max(opts.QueueSize, 1)
	s.room.WriteTimeout = opts.WriteTimeout
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
	// Counted before the takeover, after which http.Server.Shutdown no
	// longer waits for this handler, so that Wait does.
	s.conns.Add(1)
	defer s.conns.Done()
	// The page is served by this server, so the default same-origin check
	// is what we want: another site's page cannot join the room. The Conn
	// joins the room only with a valid name, and its hello must be the
	// first message it gets, so it is not taken with the room's Accept; if
	// the room, shutting down, refuses it, it is closed with 1001 below.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		ReadLimit:    s.opts.MaxMessageBytes,
		PingInterval: s.opts.PingInterval,
		CloseTimeout: s.opts.CloseTimeout,
	})
	if err != nil {
		s.opts.Logf("chat: accept from %s: %v", r.RemoteAddr, err)
		return // Accept has answered the request
	}
	defer conn.CloseNow()

	name, ok := s.cleanName(r.URL.Query().Get("name"))
	if !ok {
		conn.Close(StatusInvalidName, "a name is 1 to 24 printable characters")
		return
	}
	switch s.join(conn, name) {
	case nameTaken:
		// Two users with one name could not tell their messages apart,
		// and one could pass for the other. A page that reconnects before
		// the server has seen its old connection end gets this too, and
		// asks for a name again.
		conn.Close(StatusInvalidName, "that name is taken")
		return
	case closing:
		conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	s.readLoop(conn, name)
	s.leave(conn, name)
}

// readLoop reads the client's messages until the connection ends: the
// client leaves, or the room drops it or shuts down.
func (s *server) readLoop(conn *websocket.Conn, name string) {
	for {
		op, p, err := conn.ReadMessage()
		if err != nil {
			if code := websocket.CloseStatus(err); code == websocket.StatusPolicyViolation {
				s.opts.Logf("chat: dropped %q (%s): too slow", name, conn.RemoteAddr())
			}
			return
		}
		if op != websocket.OpText {
			s.reply(conn, "messages are JSON text")
			continue
		}
		var m clientMessage
		if err := json.Unmarshal(p, &m); err != nil || m.Type != "message" {
			s.reply(conn, `expected {"type":"message","text":"..."}`)
			continue
		}
		text := strings.TrimSpace(m.Text)
		switch n := utf8.RuneCountInString(text); {
		case n == 0:
			continue
		case n > s.opts.MaxTextRunes:
			s.reply(conn, "message too long")
			continue
		}
		s.broadcast(event{Type: "message", Name: name, Text: text, Time: time.Now().UnixMilli()})
	}
}

// join adds conn to the room: it gets the room's recent history, and
// everyone (conn included) hears that name joined. It refuses a name that
// someone in the room has (names are compared as they are shown: exactly,
// after trimming), and every connection once the server is shutting down.
func (s *server) join(conn *websocket.Conn, name string) joinResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return closing
	}
	for _, n := range s.names {
		if n == name {
			return nameTaken
		}
	}
	if !s.room.Add(conn) {
		return closing
	}
	s.names[conn] = name
	users := s.usersLocked()
	// Queued under s.mu, so the hello comes before any later broadcast.
	s.room.Send(conn, prepare(event{Type: "hello", Name: name, Users: users, History: slices.Clone(s.history)}))
	s.broadcastLocked(event{Type: "join", Name: name, Time: time.Now().UnixMilli(), Users: users})
	return joined
}

// leave removes conn, whether it left or was dropped, and tells the others.
func (s *server) leave(conn *websocket.Conn, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.room.Remove(conn)
	delete(s.names, conn)
	if !s.closing {
		s.broadcastLocked(event{Type: "leave", Name: name, Time: time.Now().UnixMilli(), Users: s.usersLocked()})
	}
}

// broadcast sends ev to every client; messages are kept for newcomers.
func (s *server) broadcast(ev event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broadcastLocked(ev)
}

// broadcastLocked queues ev for every client without ever waiting for one
// (see websocket.Group: a client whose queue is full is dropped, so one
// slow or dead reader cannot hold up the room). The JSON is encoded and
// framed once for all clients. Because queueing happens under s.mu, every
// client sees events in the same order.
func (s *server) broadcastLocked(ev event) {
	if ev.Type == "message" && s.opts.Backlog > 0 {
		if len(s.history) == s.opts.Backlog {
			s.history = slices.Delete(s.history, 0, 1)
		}
		s.history = append(s.history, ev)
	}
	s.room.Broadcast(prepare(ev))
}

// reply sends an error to conn alone, in order with the broadcasts.
func (s *server) reply(conn *websocket.Conn, text string) {
	s.room.Send(conn, prepare(event{Type: "error", Text: text}))
}

// Shutdown closes every connection with 1001 (going away) and turns new ones
// away; it returns once they are closed, each within CloseTimeout. The pages
// show the closure and reconnect, with backoff, to the next server.
func (s *server) Shutdown() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.room.Shutdown(context.Background())
}

// Wait waits for every WebSocket handler to return.
func (s *server) Wait() { s.conns.Wait() }

// usersLocked returns the names in the room, sorted.
func (s *server) usersLocked() []string {
	users := make([]string, 0, len(s.names))
	for _, name := range s.names {
		users = append(users, name)
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

// prepare encodes ev once, as JSON in a text frame; the same frame bytes go
// to every client.
func prepare(ev event) *websocket.PreparedMessage {
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // event has only strings, numbers and slices of them
	}
	pm, err := websocket.NewPreparedMessage(websocket.OpText, b)
	if err != nil {
		panic(err) // OpText is a message type
	}
	return pm
}
