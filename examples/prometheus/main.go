// Command prometheus is a WebSocket server whose connections are counted by
// Prometheus: the hooks of a websocket.Observer (NewObserver) feed counters,
// gauges and histograms, and the Group's or the Poller's Stats are read at
// each scrape (NewGroupCollector, NewPollerCollector).
//
//	go run . -addr localhost:8085      # then: curl localhost:8085/metrics
//	go run . -poller
//
// The WebSocket endpoint is /ws. By default it is a room: every message a
// client sends goes to every client connected, its sender included (alone
// in the room, a client hears its own echo), through a websocket.Group.
// With -poller each message is echoed to its sender alone, through a
// websocket.Poller. The metrics are at /metrics, with the Go runtime's and
// the process's. By default it listens on localhost only; in a container
// or a VM, listen on every interface with -addr :8085.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	addr := flag.String("addr", "localhost:8085", "address to listen on (use :PORT in a container or VM)")
	usePoller := flag.Bool("poller", false, "echo through a Poller instead of a room through a Group")
	ping := flag.Duration("ping", 30*time.Second, "keep-alive ping interval (0: none); with a Group, each pong's round trip goes to websocket_ping_rtt_seconds")
	flag.Parse()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s, err := newServer(reg, config{poller: *usePoller, ping: *ping})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("prometheus: %v (is another server on that port? choose one with -addr)", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	log.Printf("prometheus: WebSockets at ws://%s/ws, metrics at http://%[1]s/metrics", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The WebSockets first (1001 to each), then the http.Server: see the
	// package doc of websocket, Shutting down.
	if err := s.shutdown(ctx); err != nil {
		log.Print(err)
	}
	if err := hs.Shutdown(ctx); err != nil {
		log.Print(err)
	}
}

// config is what the flags choose.
type config struct {
	poller bool          // echo through a Poller, not a room through a Group
	ping   time.Duration // keep-alive ping interval; 0: none
	queue  int           // the room's Group.QueueSize; 0: its default
}

// server serves /ws and /metrics.
type server struct {
	mux    *http.ServeMux
	opts   *websocket.AcceptOptions
	room   *websocket.Group  // every message to every member; nil with a Poller
	poller *websocket.Poller // each message echoed; nil with a Group
}

// newServer returns a server whose metrics are registered on reg and
// served from it.
func newServer(reg *prometheus.Registry, cfg config) (*server, error) {
	obs, err := NewObserver(reg)
	if err != nil {
		return nil, err
	}
	s := &server{mux: http.NewServeMux(), opts: &websocket.AcceptOptions{Observer: obs}}
	if cfg.poller {
		if s.poller, err = websocket.NewPoller(&websocket.PollerOptions{PingInterval: cfg.ping}); err != nil {
			return nil, err
		}
		err = reg.Register(NewPollerCollector(s.poller, nil))
		s.mux.Handle("/ws", http.HandlerFunc(s.serveEcho))
	} else {
		s.opts.PingInterval = cfg.ping
		s.room = &websocket.Group{QueueSize: cfg.queue}
		err = reg.Register(NewGroupCollector(s.room, nil))
		s.mux.Handle("/ws", http.HandlerFunc(s.serveRoom))
	}
	if err != nil {
		return nil, err
	}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return s, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// serveRoom reads the client's messages and broadcasts each to the room.
// Reading is also what answers the client's pings and its Close frame.
func (s *server) serveRoom(w http.ResponseWriter, r *http.Request) {
	c, err := s.room.Accept(w, r, s.opts)
	if err != nil {
		return // refused, and counted: Accept has answered the request
	}
	defer c.CloseNow()
	for {
		op, p, err := c.ReadMessage()
		if err != nil {
			return // the close is counted by its code
		}
		pm, err := websocket.NewPreparedMessage(op, p)
		if err != nil {
			return
		}
		s.room.Broadcast(pm) // a member that does not keep up is dropped, and counted
	}
}

// serveEcho hands the Conn to the Poller, which calls HandleMessage with
// each message.
func (s *server) serveEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, s.opts)
	if err != nil {
		return
	}
	if err := s.poller.Add(c, echo{}); err != nil {
		c.CloseNow()
	}
}

// echo is the Poller's MessageHandler: each message back to its sender.
type echo struct{}

func (echo) HandleMessage(c *websocket.Conn, op websocket.Opcode, p []byte) { c.WriteMessage(op, p) }
func (echo) HandleClose(*websocket.Conn, error)                             {}

// shutdown closes every WebSocket with 1001 and waits for their ends.
func (s *server) shutdown(ctx context.Context) error {
	if s.poller != nil {
		return s.poller.Shutdown(ctx)
	}
	return s.room.Shutdown(ctx)
}
