package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/examples/internal/browser"
	"github.com/fullduplex/websocket/internal/testtime"
)

// closes records the codes the server's clients closed with.
type closes struct {
	mu   sync.Mutex
	got  []string
	more chan struct{}
}

func newCloses() *closes { return &closes{more: make(chan struct{}, 16)} }

func (c *closes) add(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	c.got = append(c.got, code.String()+" "+reason)
	c.mu.Unlock()
	c.more <- struct{}{}
}

// waitFor waits, within the scaled bound, for a client to close with want.
func (c *closes) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(testtime.Scaled(10 * time.Second))
	for {
		c.mu.Lock()
		got := append([]string(nil), c.got...)
		c.mu.Unlock()
		for _, g := range got {
			if g == want {
				return
			}
		}
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("the server saw the closes %q, not %q", got, want)
		}
	}
}

// TestBrowserClient loads the page in a headless Chromium, where the Go
// client compiled to WebAssembly runs against the server: every message
// must come back whole, the server's close code and reason must reach the
// client, and the client's close code the server.
func TestBrowserClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(3*time.Minute))
	defer cancel()
	b := browser.StartTest(ctx, t)
	wasm, wasmExec, err := buildClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cl := newCloses()
	srv := httptest.NewServer((&app{wasm: wasm, wasmExec: wasmExec, closed: cl.add}).handler())
	defer srv.Close()

	p, err := b.NewPage(ctx, srv.URL+"/", 800, 600)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `window.clientDone === true`); err != nil {
		t.Fatal(err)
	}
	var clientErr string
	var steps []string
	if err := p.Eval(ctx, `window.clientError || ""`, &clientErr); err != nil {
		t.Fatal(err)
	}
	if err := p.Eval(ctx, `[...document.querySelectorAll("#log li")].map(li => li.textContent)`, &steps); err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		t.Log(s)
	}
	if clientErr != "" {
		t.Fatalf("the client failed: %s", clientErr)
	}
	log := strings.Join(steps, "\n")
	for _, want := range []string{
		"echo ok: 26 bytes of text",
		"echo ok: 0 bytes of text",
		"echo ok: 1048576 bytes of binary",
		"echo ok: JSON {X:3 Y:4}",
		"server closed: 4000 asked to close",
		"client closed: 1000",
		"done",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	if !strings.Contains(log, "permessage-deflate") {
		t.Errorf("Chromium agreed no permessage-deflate, or the client was not told")
	}
	cl.waitFor(t, "1000 (normal closure) bye from the client")
	browser.SaveScreenshot(ctx, t, p, "wasm", "client.png")
}
