// Command wasm serves a page whose WebSocket client is written in Go and
// compiled to WebAssembly: the client in ./client, the same program that
// runs in a terminal, talks to this server's echo endpoint through the
// browser's WebSocket.
//
//	go run ./examples/wasm            # then open http://localhost:8084
//
// At start it compiles ./client with GOOS=js GOARCH=wasm (so it is run from
// within the module, with the go command on PATH), and serves the result at
// /client.wasm, with the Go distribution's wasm_exec.js that loads it. The
// page shows each step the client takes: messages sent and echoed, the
// server closing with the code and reason the client asked for, and the
// client closing a second connection, whose code this server logs.
//
// The endpoint /ws echoes every message, except a text message
// "close CODE REASON", which makes the server close with CODE and REASON.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fullduplex/websocket"
)

//go:embed index.html
var page []byte

// clientPkg is the client's import path: built with it, it is found from
// any directory of the module.
const clientPkg = "github.com/fullduplex/websocket/examples/wasm/client"

func main() {
	addr := flag.String("addr", "localhost:8084", "address to listen on (use :PORT in a container or VM)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	wasm, wasmExec, err := buildClient(ctx)
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("wasm: %v (is another server on that port? choose one with -addr)", err)
	}
	a := &app{wasm: wasm, wasmExec: wasmExec, closed: func(c websocket.StatusCode, reason string) {
		log.Printf("wasm: a client closed with %v %q", c, reason)
	}}
	log.Printf("wasm: serving on http://%s", ln.Addr())
	hs := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(hs.Serve(ln))
}

// buildClient compiles the client to WebAssembly and returns it, with the
// wasm_exec.js of the same Go distribution, which the page needs to run it.
func buildClient(ctx context.Context) (wasm, wasmExec []byte, err error) {
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("wasm: go env GOROOT: %w", err)
	}
	wasmExec, err = os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return nil, nil, fmt.Errorf("wasm: %w", err)
	}
	dir, err := os.MkdirTemp("", "fullduplex-wasm-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "client.wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, clientPkg)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("wasm: building the client (run this from within the module): %v\n%s", err, msg)
	}
	wasm, err = os.ReadFile(out)
	return wasm, wasmExec, err
}

// app is the example's server.
type app struct {
	wasm, wasmExec []byte
	// closed is called with the code and reason of each client that
	// closed its connection with a Close frame.
	closed func(code websocket.StatusCode, reason string)
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	serve := func(typ string, b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", typ)
			w.Header().Set("Cache-Control", "no-cache")
			w.Write(b)
		}
	}
	mux.HandleFunc("GET /{$}", serve("text/html; charset=utf-8", page))
	mux.HandleFunc("GET /wasm_exec.js", serve("text/javascript; charset=utf-8", a.wasmExec))
	mux.HandleFunc("GET /client.wasm", serve("application/wasm", a.wasm))
	mux.HandleFunc("/ws", a.echo)
	return mux
}

// echo sends every message back, and closes when asked to.
func (a *app) echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil) // same-origin pages and non-browser clients
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		op, p, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) && a.closed != nil {
			a.closed(ce.Code, ce.Reason)
		}
		if err != nil {
			return
		}
		if op == websocket.OpText {
			if rest, ok := strings.CutPrefix(string(p), "close "); ok {
				codeStr, reason, _ := strings.Cut(rest, " ")
				code, _ := strconv.Atoi(codeStr)
				c.Close(websocket.StatusCode(code), reason)
				return
			}
		}
		if err := c.WriteMessage(op, p); err != nil {
			return
		}
	}
}
