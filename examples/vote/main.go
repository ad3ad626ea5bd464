// Command vote is a live voting board: click a candidate to vote, and the
// counts on every open page change at once, pushed over a WebSocket.
//
//	go run ./examples/vote            # then open http://localhost:8081
//	go run ./examples/vote -addr :9000 -title "Best editor?" -candidates "Vim,Emacs,VS Code"
//
// It listens on port 8081 by default so it can run beside the chat example
// (8080). Counts live in memory: a restart starts the board from zero.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "localhost:8081", "address to listen on")
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

	hs := &http.Server{Addr: *addr, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	// Shutdown does not touch hijacked connections: the board closes each
	// WebSocket with 1001 itself, and the pages reconnect to the next server.
	hs.RegisterOnShutdown(s.Shutdown)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()

	log.Printf("vote: serving on http://%s", *addr)
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	s.Wait()
}
