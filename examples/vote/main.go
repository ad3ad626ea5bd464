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
	log.Printf("vote: serving on http://%s", ln.Addr())

	<-ctx.Done()
	stop() // a second Ctrl-C ends the program at once
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The shutdown of the websocket package doc: the board (a websocket.Group)
	// first, which closes every WebSocket with 1001 and waits (the pages
	// show it and reconnect), then the http.Server. A hook registered with
	// RegisterOnShutdown would not be waited for.
	s.Shutdown()
	hs.Shutdown(sctx)
	s.Wait()
}
