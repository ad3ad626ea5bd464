package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"log"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fullduplex/websocket"
	"github.com/redis/go-redis/v9"
)

//go:embed static
var static embed.FS

// config tunes a node; defaultConfig gives the values main starts from.
type config struct {
	Name            string        // this node, as the page and the presence list show it
	Room            string        // the room, which names its keys in Redis
	Backlog         int           // messages a newcomer gets first
	MaxLen          int64         // the Stream keeps about this many messages: how far back a client can resume
	QueueSize       int           // messages that may wait for one client; a client whose queue is full is dropped
	PresenceTTL     time.Duration // a node's users vanish this long after it stops its heartbeat
	MaxListed       int           // users named in a presence list; a bigger room sends the first ones and the count
	Block           time.Duration // how long one XREAD waits for new entries
	RedisTimeout    time.Duration // bound on each other Redis command
	WriteTimeout    time.Duration // bound on one write to a client; a client that stalls longer is dropped
	CloseTimeout    time.Duration // bound on the closing handshake
	PingInterval    time.Duration // keep-alive pings, which also find dead peers
	MaxMessageBytes int64         // read limit on a client's message; larger closes with 1009
	MaxTextRunes    int           // longest chat message, in characters
	MaxNameRunes    int           // longest user name, in characters
	Logf            func(format string, args ...any)
}

func defaultConfig() config {
	return config{
		Name:            "node",
		Room:            "lobby",
		Backlog:         50,
		MaxLen:          10000,
		QueueSize:       256,
		PresenceTTL:     6 * time.Second,
		MaxListed:       100,
		Block:           5 * time.Second,
		RedisTimeout:    3 * time.Second,
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

// event is every message a node sends, as JSON.
type event struct {
	Type    string   `json:"type"`              // "hello", "message", "presence" or "error"
	ID      string   `json:"id,omitempty"`      // "message": its Stream ID, which the client sends back as last= when it reconnects
	Name    string   `json:"name,omitempty"`    // who spoke; in "hello", the user's own name
	Text    string   `json:"text,omitempty"`    // the message, or the error
	Node    string   `json:"node,omitempty"`    // "message": the node it was sent to; "hello": the node serving this client
	Room    string   `json:"room,omitempty"`    // "hello": the room
	Time    int64    `json:"time,omitempty"`    // Unix milliseconds
	Resumed bool     `json:"resumed,omitempty"` // "hello": History is what came after the client's last ID, not the last messages
	Gap     bool     `json:"gap,omitempty"`     // "hello": the client's last ID is older than the Stream's oldest entry; messages between may be lost
	Users   []user   `json:"users,omitempty"`   // "hello", "presence": who is in the room, on which node (the first MaxListed)
	Online  int      `json:"online,omitempty"`  // "hello", "presence": how many are in the room
	Joined  []string `json:"joined,omitempty"`  // "presence": who came since the last update
	Left    []string `json:"left,omitempty"`    // "presence": who went
	History []event  `json:"history,omitempty"` // "hello": messages, oldest first
}

// clientMessage is what a client sends: {"type":"message","text":"..."}.
type clientMessage struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// node serves one process's share of the room: the page at /, the
// WebSocket at /ws?name=NAME[&last=ID].
type node struct {
	cfg            config
	rdb            *redis.Client
	tail           *redis.Client // its own connection for XREAD BLOCK, closed to stop it
	streamKey      string        // the room's messages
	presenceKey    string        // who is online
	changedChannel string        // Pub/Sub: presence changed
	instance       string        // random: tells this run's connections from an earlier run's
	connSeq        atomic.Uint64

	mux      *http.ServeMux
	conns    sync.WaitGroup      // running WebSocket handlers
	observer *websocket.Observer // logs the clients the room drops

	// room holds the clients here: it queues every message for each, drops
	// a client that cannot keep up (1008) and closes them all on Shutdown
	// (1001). See fanout.go.
	room websocket.Group

	mu      sync.Mutex                 // guards what follows, and orders every broadcast and join
	last    streamID                   // the last Stream entry delivered
	recent  []entry                    // the last entries delivered, for clients joining meanwhile
	forgot  streamID                   // the last entry dropped from recent
	moved   chan struct{}              // closed at the next delivery; nil if nobody waits for it
	present map[*websocket.Conn]string // the presence entries of the clients in room
	closing bool

	presenceMu sync.Mutex
	users      []user // who was online at the last look

	stop         context.CancelFunc
	loops        sync.WaitGroup
	shutdownOnce sync.Once
}

// newNode returns a node of the room cfg.Room kept in rdb. Start must be
// called before it serves.
func newNode(cfg config, rdb *redis.Client) *node {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	cfg.QueueSize = max(cfg.QueueSize, 1)
	// The {room} hash tag keeps a room's keys on one shard of a Redis
	// Cluster, where they could then share a transaction.
	prefix := "fullduplex:chat:{" + cfg.Room + "}:"
	var b [6]byte
	rand.Read(b[:])
	n := &node{
		cfg:            cfg,
		rdb:            rdb,
		tail:           redis.NewClient(tailOptions(rdb.Options())),
		streamKey:      prefix + "messages",
		presenceKey:    prefix + "online",
		changedChannel: prefix + "online-changed",
		instance:       hex.EncodeToString(b[:]),
		mux:            http.NewServeMux(),
		present:        make(map[*websocket.Conn]string),
	}
	n.room.QueueSize = cfg.QueueSize
	n.room.WriteTimeout = cfg.WriteTimeout
	n.observer = &websocket.Observer{Dropped: func(c *websocket.Conn, d websocket.DropInfo) {
		cfg.Logf("cluster: dropping %s (%s, %d queued): client too slow", c.RemoteAddr(), d.Reason, d.Queued)
	}}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	n.mux.HandleFunc("GET /ws", n.serveWebSocket)
	n.mux.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:")
		files.ServeHTTP(w, r)
	}))
	return n
}

// Start finds the end of the room's Stream, waiting for Redis if it must
// until ctx ends, and starts following the Stream and the presence from
// there.
func (n *node) Start(ctx context.Context) error {
	for {
		last, err := n.latest(ctx)
		if err == nil {
			n.mu.Lock()
			n.last = last
			n.mu.Unlock()
			break
		}
		n.cfg.Logf("cluster: waiting for redis at %s: %v", n.rdb.Options().Addr, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	bg, stop := context.WithCancel(context.Background())
	n.stop = stop
	n.loops.Add(2)
	go func() { defer n.loops.Done(); n.readStream(bg) }()
	go func() { defer n.loops.Done(); n.watchPresence(bg) }()
	n.refreshPresence(ctx)
	return nil
}

func (n *node) ServeHTTP(w http.ResponseWriter, r *http.Request) { n.mux.ServeHTTP(w, r) }

func (n *node) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	// Counted before the takeover, after which http.Server.Shutdown no
	// longer waits for this handler, so that Wait does; once the node is
	// shutting down, no WebSocket opens. The Conn joins the room only once
	// its hello is ready (join), so it is not taken with the room's Accept.
	if !n.track() {
		http.Error(w, "node shutting down", http.StatusServiceUnavailable)
		return
	}
	defer n.conns.Done()
	// The page is served by this node, so the default same-origin check is
	// what we want. Behind a load balancer every node has the public
	// origin as its Host.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		ReadLimit:    n.cfg.MaxMessageBytes,
		PingInterval: n.cfg.PingInterval,
		CloseTimeout: n.cfg.CloseTimeout,
		Observer:     n.observer,
	})
	if err != nil {
		n.cfg.Logf("cluster: accept from %s: %v", r.RemoteAddr, err)
		return // Accept has answered the request
	}
	defer conn.CloseNow()

	q := r.URL.Query()
	name, ok := n.cleanName(q.Get("name"))
	if !ok {
		conn.Close(StatusInvalidName, "a name is 1 to 24 printable characters")
		return
	}
	// A client that already has messages says the last one's ID; one that
	// sends none, or something that is not an ID, is a newcomer.
	after, resume := parseStreamID(q.Get("last"))
	member := n.memberOf(name)
	ctx := context.WithoutCancel(r.Context())
	if code, why := n.join(ctx, conn, name, member, resume, after); code != 0 {
		conn.Close(code, why)
		return
	}
	n.enter(ctx, member)
	n.readLoop(ctx, conn, name)
	n.leave(conn)
	n.exit(ctx, member)
}

// readLoop reads the client's messages and appends them to the Stream until
// the connection ends. The client sees its own message when it comes back
// from the Stream, in the room's order; an error event if it could not be
// sent.
func (n *node) readLoop(ctx context.Context, conn *websocket.Conn, name string) {
	for {
		op, p, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if op != websocket.OpText {
			n.reply(conn, "messages are JSON text")
			continue
		}
		var m clientMessage
		if err := json.Unmarshal(p, &m); err != nil || m.Type != "message" {
			n.reply(conn, `expected {"type":"message","text":"..."}`)
			continue
		}
		text := strings.TrimSpace(m.Text)
		switch k := utf8.RuneCountInString(text); {
		case k == 0:
			continue
		case k > n.cfg.MaxTextRunes:
			n.reply(conn, "message too long")
			continue
		}
		if err := n.publish(ctx, name, text); err != nil {
			n.cfg.Logf("cluster: publish for %q: %v", name, err)
			n.reply(conn, "not sent: message store unavailable")
		}
	}
}

// reply sends an error to conn alone, in order with the broadcasts.
func (n *node) reply(conn *websocket.Conn, text string) {
	n.room.Send(conn, prepare(event{Type: "error", Text: text}))
}

// Shutdown turns new connections away (503, before the handshake), closes
// every one it has with 1001 (going away) and waits for that, within ctx,
// then stops following Redis. Pages reconnect, through the load balancer,
// to another node. It may be called more than once.
func (n *node) Shutdown(ctx context.Context) {
	n.shutdownOnce.Do(func() {
		n.mu.Lock()
		n.closing = true
		if n.moved != nil {
			close(n.moved) // joins waiting for a delivery give up
			n.moved = nil
		}
		n.mu.Unlock()
		n.room.Shutdown(ctx)
		if n.stop != nil {
			n.stop()
		}
		// A blocked XREAD does not watch its context: closing its
		// connection ends it now rather than after Block.
		n.tail.Close()
	})
}

// tailOptions are those of the client for the blocking reads: the server
// and credentials of o, one connection, which the reader keeps.
func tailOptions(o *redis.Options) *redis.Options {
	return &redis.Options{
		Network:                  o.Network,
		Addr:                     o.Addr,
		Dialer:                   o.Dialer,
		Username:                 o.Username,
		Password:                 o.Password,
		DB:                       o.DB,
		TLSConfig:                o.TLSConfig,
		PoolSize:                 1,
		MaxRetries:               -1,
		MaintNotificationsConfig: o.MaintNotificationsConfig,
	}
}

// Wait waits for every WebSocket handler and background loop to return,
// once Shutdown has been called.
func (n *node) Wait() {
	n.conns.Wait()
	n.loops.Wait()
}

// cleanName trims name and checks it is 1 to MaxNameRunes printable
// characters.
func (n *node) cleanName(name string) (string, bool) {
	name = strings.TrimSpace(name)
	k := utf8.RuneCountInString(name)
	if k == 0 || k > n.cfg.MaxNameRunes || !utf8.ValidString(name) {
		return "", false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", false
		}
	}
	return name, true
}

// prepare encodes ev once for every client that gets it.
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
