// Command chat is a chat room in the browser: every message is pushed to every
// connected page over a WebSocket.
//
//	go run ./examples/chat            # then open http://localhost:8080
//	go run ./examples/chat -addr :9000
//
// By default it listens on localhost only; in a container or a VM, listen on
// every interface with -addr :PORT (e.g. -addr :8080) and publish that port.
//
// Each user picks a name; everyone sees who joins and leaves, and a newcomer
// first gets the last messages of the room. A client that cannot keep up with
// the room is dropped (close 1008) instead of slowing the others down.
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
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on (use :PORT in a container or VM)")
	backlog := flag.Int("backlog", 50, "number of recent messages shown to a newcomer")
	queue := flag.Int("queue", 64, "messages that may wait for a slow client before it is dropped")
	flag.Parse()

	opts := defaultOptions()
	opts.Backlog = *backlog
	opts.QueueSize = *queue
	s := newServer(opts)

	// Bind first, so that a busy port fails here, before "serving on".
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("chat: %v (is another server on that port? choose one with -addr)", err)
	}
	// Signals are caught before serving: until then SIGTERM would end the
	// program with no Close frames.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	log.Printf("chat: serving on http://%s", ln.Addr())

	<-ctx.Done()
	stop() // a second Ctrl-C ends the program at once
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The shutdown of the websocket package doc: the room (a websocket.Group)
	// first, which closes every WebSocket with 1001 and waits (the pages
	// show it and reconnect), then the http.Server. A hook registered with
	// RegisterOnShutdown would not be waited for.
	s.Shutdown()
	hs.Shutdown(sctx)
	s.Wait()
}
