// Command server is the testee for the server side of the Autobahn|Testsuite
// (the fuzzingclient mode): it echoes every message back unchanged, text as
// text, with permessage-deflate on for every message. See ../README.md.
// With -poller its connections are served by a websocket.Poller, with its
// default options, rather than a goroutine each.
//
//	go run ./examples/autobahn/server -addr 127.0.0.1:9002
//	go run ./examples/autobahn/server -addr 127.0.0.1:9002 -poller
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/fullduplex/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9002", "address to listen on")
	usePoller := flag.Bool("poller", false, "serve the connections through a websocket.Poller")
	flag.Parse()
	var h http.Handler = http.HandlerFunc(echo)
	if *usePoller {
		p, err := websocket.NewPoller(nil)
		if err != nil {
			log.Fatal(err)
		}
		h = pollerEcho{p}
	}
	hs := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("autobahn server testee on ws://%s (poller: %v)", *addr, *usePoller)
	log.Fatal(hs.ListenAndServe())
}

// options are those of both testees: the suite's largest messages are
// 16 MiB (cases 9.x), and a threshold below zero compresses every message so
// that cases 12.x and 13.x exercise the compressor at every size.
var options = websocket.AcceptOptions{
	SkipOriginCheck: true, // the suite sends an Origin of its own
	ReadLimit:       64 << 20,
	Compression:     websocket.CompressionOptions{Threshold: -1},
}

// echo reads whole messages, so a text message is known to be valid UTF-8
// before any of it is sent back, and writes each back as it came.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &options)
	if err != nil {
		return
	}
	defer c.CloseNow()
	var buf []byte
	for {
		op, msg, err := c.AppendMessage(buf[:0])
		if err != nil {
			return // the Conn has answered the peer's Close or failed the connection
		}
		if err := c.WriteMessage(op, msg); err != nil {
			return
		}
		buf = msg
	}
}

// pollerEcho is echo through a Poller: the handler hands the Conn over, and
// each message, whole and checked, is written back as it came.
type pollerEcho struct{ p *websocket.Poller }

func (e pollerEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &options)
	if err != nil {
		return
	}
	if err := e.p.Add(c, e); err != nil {
		c.CloseNow()
	}
}

func (pollerEcho) HandleMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	c.WriteMessage(op, p)
}

func (pollerEcho) HandleClose(*websocket.Conn, error) {}
