// Command cluster is the chat room of examples/chat served by any number of
// node processes that share nothing but a Redis server.
//
//	redis-server --port 6379 &
//	go run . -addr localhost:8081 -name a &
//	go run . -addr localhost:8082 -name b &
//	go run . -addr localhost:8083 -name c
//
// Each node holds its own WebSockets. A message sent to any node is appended
// to the room's Redis Stream and every node reads the Stream, so every page
// gets every message, in the same order, whichever node it is on. Messages
// carry their Stream ID; a page that reconnects (to any node) says the last
// ID it has and gets exactly what it missed. Who is online is kept in Redis
// with an expiry, so a node that dies stops counting its users within
// seconds. See README.md for the design.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // on DefaultServeMux, served only with -pprof
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

func main() {
	cfg := defaultConfig()
	host, _ := os.Hostname()
	addr := flag.String("addr", "localhost:8080", "address to serve the page and the WebSocket on")
	redisAddr := flag.String("redis", "localhost:6379", "address of the Redis server")
	flag.StringVar(&cfg.Room, "room", cfg.Room, "the chat room (names its keys in Redis)")
	flag.StringVar(&cfg.Name, "name", host, "this node's name, shown on the page and in the presence list")
	flag.IntVar(&cfg.Backlog, "backlog", cfg.Backlog, "number of recent messages shown to a newcomer")
	flag.Int64Var(&cfg.MaxLen, "maxlen", cfg.MaxLen, "messages the Stream keeps (about): how far back a client can resume")
	flag.IntVar(&cfg.QueueSize, "queue", cfg.QueueSize, "messages that may wait for a slow client before it is dropped")
	flag.DurationVar(&cfg.PresenceTTL, "presence-ttl", cfg.PresenceTTL, "a dead node's users vanish from the presence list within this")
	pprofAddr := flag.String("pprof", "", "if set, serve net/http/pprof on this address (for profiling; keep it private)")
	flag.IntVar(&cfg.MaxListed, "presence-list", cfg.MaxListed, "users named in a presence list; a bigger room sends these and the count")
	flag.Parse()
	if cfg.Name == "" {
		cfg.Name = *addr
	}

	if *pprofAddr != "" {
		go func() { log.Print(http.ListenAndServe(*pprofAddr, nil)) }()
	}

	rdb := redis.NewClient(&redis.Options{
		Addr: *redisAddr,
		// No retries: an XADD retried after a lost reply could add the
		// message twice. A failed send is reported to the client instead.
		MaxRetries: -1,
		// Maintenance notifications are for Redis Enterprise/Cloud.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer rdb.Close()
	n := newNode(cfg, rdb)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx); err != nil {
		log.Fatal(err)
	}

	// Bind before saying where we serve, so the address logged is one that
	// answers (and a test can wait for the line).
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: n, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	log.Printf("cluster: node %q of room %q serving on http://%s (redis %s)", cfg.Name, cfg.Room, ln.Addr(), *redisAddr)

	<-ctx.Done()
	stop() // a second Ctrl-C ends the program at once
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The shutdown of the websocket package doc: the node's Group first,
	// which closes every WebSocket with 1001 and waits (the pages reconnect,
	// through the load balancer, to another node), while the node refuses
	// new ones with 503, then the http.Server. A hook registered with
	// RegisterOnShutdown would not be waited for.
	n.Shutdown(sctx)
	hs.Shutdown(sctx)
	n.Wait()
}
