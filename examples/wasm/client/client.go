// Command client is the Go client of examples/wasm, one program for both
// builds: compiled to WebAssembly (GOOS=js GOARCH=wasm) it runs in the page
// the example's server serves, over the browser's WebSocket; compiled for
// the machine it runs in a terminal, over the library's own client.
//
//	go run ./examples/wasm                                  # then open http://localhost:8084
//	go run ./examples/wasm/client -url ws://localhost:8084/ws
//
// It sends text, binary and JSON messages to the echo server and checks that
// each comes back whole, asks the server to close with a code and a reason
// and checks that they arrive, then closes a second connection itself.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fullduplex/websocket"
)

// run talks to the echo server at url, reporting each step through report.
// Nothing in it knows which build it is in.
func run(ctx context.Context, url string, report func(format string, args ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	report("connected; extensions: %q", c.Response().Header.Get("Sec-WebSocket-Extensions"))

	for _, m := range []struct {
		op websocket.Opcode
		p  []byte
	}{
		{websocket.OpText, []byte("Hello from Go, κόσμε!")},
		{websocket.OpText, nil},
		{websocket.OpBinary, bytes.Repeat([]byte{0, 1, 2, 253, 254, 255}, 20000)},
		{websocket.OpBinary, make([]byte, 1<<20)},
	} {
		if err := c.WriteMessage(m.op, m.p); err != nil {
			return err
		}
		op, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if op != m.op || !bytes.Equal(p, m.p) {
			return fmt.Errorf("sent %d bytes of %v, got %d bytes of %v back", len(m.p), m.op, len(p), op)
		}
		report("echo ok: %d bytes of %v", len(p), op)
	}

	type point struct{ X, Y int }
	if err := c.WriteJSON(point{3, 4}); err != nil {
		return err
	}
	var pt point
	if err := c.ReadJSON(&pt); err != nil {
		return err
	}
	if pt != (point{3, 4}) {
		return fmt.Errorf("JSON came back as %+v", pt)
	}
	report("echo ok: JSON %+v", pt)

	// The server closes when asked: the code and reason must arrive.
	if err := c.WriteMessage(websocket.OpText, []byte("close 4000 asked to close")); err != nil {
		return err
	}
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "asked to close" {
		return fmt.Errorf("after asking the server to close: %v", err)
	}
	report("server closed: %d %s", ce.Code, ce.Reason)

	// And this side closes a second connection; the server logs the code.
	c2, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	if err := c2.Close(websocket.StatusNormalClosure, "bye from the client"); err != nil {
		return err
	}
	report("client closed: %d", websocket.StatusNormalClosure)
	return nil
}
