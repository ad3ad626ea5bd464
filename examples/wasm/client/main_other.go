//go:build !js

package main

import (
	"context"
	"flag"
	"fmt"
	"log"
)

func main() {
	url := flag.String("url", "ws://localhost:8084/ws", "the echo server's WebSocket URL")
	flag.Parse()
	report := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	if err := run(context.Background(), *url, report); err != nil {
		log.Fatal(err)
	}
	report("done")
}
