// Command vote is a live voting board: click a candidate to vote, and the
// counts on every open page change at once, pushed over a WebSocket.
//
//	go run ./examples/vote            # then open http://localhost:8081
//	go run ./examples/vote -addr :9000 -title "Best editor?" -candidates "Vim,Emacs,VS Code"
//
// It listens on port 8081 by default so it can run beside the chat example
// (8080), on localhost only; in a container or a VM, listen on every
// interface with -addr :PORT (e.g. -addr :8081) and publish that port.
// Counts live in memory: a restart starts the board from zero.
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
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "localhost:8081", "address to listen on (use :PORT in a container or VM)")
	title := flag.String("title", "What's for lunch?", "question shown above the board")
	list := flag.String("candidates", "Pizza,Sushi,Tacos,Ramen", "comma-separated candidates")
	flag.Parse()

	opts := defaultOptions()
	opts.Title = *title
	opts.Candidates = strings.Split(*list, ",")
	s, err := newServer(opts)
	if err != nil {
		log.Fatal(err)
	}

	// Bind first, so that a busy port fails here, before "serving on".
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("vote: %v (is another server on that port? choose one with -addr)", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	// Shutdown does not touch hijacked connections: the board (a
	// websocket.Group) closes each WebSocket with 1001 itself, and the
	// pages reconnect to the next server.
	hs.RegisterOnShutdown(s.Shutdown)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()

	log.Printf("vote: serving on http://%s", ln.Addr())
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	s.Wait()
}
