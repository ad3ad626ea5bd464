// Command echo is the smallest useful WebSocket server: it sends every message
// back to its sender unchanged, text as text and binary as binary, and serves
// a page to try it from a browser.
//
//	go run ./examples/echo            # then open http://localhost:8082
//	go run ./examples/echo -addr :9000
//
// The WebSocket endpoint is /ws; any WebSocket client can use it too.
package main

import (
	_ "embed"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/fullduplex/websocket"
)

//go:embed index.html
var page []byte

func main() {
	addr := flag.String("addr", "localhost:8082", "address to listen on")
	flag.Parse()
	hs := &http.Server{Addr: *addr, Handler: newHandler(), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("echo: serving on http://%s", *addr)
	log.Fatal(hs.ListenAndServe())
}

// newHandler serves the page at / and the echo endpoint at /ws.
func newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.HandleFunc("/ws", serveEcho)
	return mux
}

// serveEcho echoes each message as it arrives. It streams rather than
// reading whole messages, so a message of any size within the read limit
// costs one buffer, and a text message is checked as UTF-8 while it passes.
func serveEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil) // same-origin browsers and non-browser clients
	if err != nil {
		return // Accept has answered the request
	}
	defer c.CloseNow()
	for {
		op, msg, err := c.NextReader()
		if err != nil {
			if websocket.CloseStatus(err) == 0 && !errors.Is(err, websocket.ErrClosed) {
				log.Printf("echo: %v: %v", r.RemoteAddr, err)
			}
			return
		}
		out, err := c.NextWriter(op)
		if err != nil {
			return
		}
		if _, err := io.Copy(out, msg); err != nil {
			return
		}
		if err := out.Close(); err != nil {
			return
		}
	}
}
