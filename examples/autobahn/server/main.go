// Command server is the testee for the server side of the Autobahn|Testsuite
// (the fuzzingclient mode): it echoes every message back unchanged, text as
// text, with permessage-deflate on for every message. See ../README.md.
//
//	go run ./examples/autobahn/server -addr 127.0.0.1:9002
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
	flag.Parse()
	hs := &http.Server{Addr: *addr, Handler: http.HandlerFunc(echo), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("autobahn server testee on ws://%s", *addr)
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
