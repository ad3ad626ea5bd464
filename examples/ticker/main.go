// Command ticker is a push server for many mostly idle connections: every
// client that connects to /ws gets a text message with the server's time
// once a second, and may send "pause" or "resume". Connections are served
// by a websocket.Poller, so a client between messages costs no goroutine
// and no buffer: about 0.6 KiB of the server's memory on Linux (the scale
// workload of benchmarks/).
//
//	go run ./examples/ticker                  # then: websocat ws://localhost:8083/ws
//	go run ./examples/ticker -addr :9000 -every 100ms -ping 10s
package main

import (
	"flag"
	"log"
	"net"
	"time"
)

func main() {
	addr := flag.String("addr", "localhost:8083", "address to listen on")
	every := flag.Duration("every", time.Second, "interval between ticks")
	ping := flag.Duration("ping", 30*time.Second, "keep-alive: ping clients silent this long, drop those that stay silent (0: never)")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s, err := newServer(*every, *ping)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	log.Printf("ticker: serving on ws://%s/ws", ln.Addr())
	log.Fatal(s.Serve(ln))
}
