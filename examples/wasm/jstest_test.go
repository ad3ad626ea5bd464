package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fullduplex/websocket/examples/internal/browser"
	"github.com/fullduplex/websocket/internal/jstest"
	"github.com/fullduplex/websocket/internal/testtime"
)

// testPage runs a Go test binary compiled to WebAssembly, /jstest.wasm, with
// -test.v and the server's URL in its environment; it keeps what the tests
// print in window.output and sets window.exitCode when they end.
const testPage = `<!doctype html>
<meta charset="utf-8">
<title>js/wasm tests</title>
<script src="/wasm_exec.js"></script>
<script>
"use strict";
window.output = [];
const log = console.log;
console.log = (...a) => { window.output.push(a.join(" ")); log(...a); };
const go = new Go();
go.argv = ["jstest.wasm", "-test.v"];
go.env = { ` + jstest.URLEnv + `: "ws://" + location.host + "/jstest" };
go.exit = (code) => { window.exitCode = code; };
WebAssembly.instantiateStreaming(fetch("/jstest.wasm"), go.importObject)
  .then((r) => go.run(r.instance))
  .catch((e) => { window.output.push(String(e)); window.exitCode = -1; });
</script>`

// TestJSTestsInChromium runs the js/wasm tests of internal/jstest, which
// go test ./internal/jstest runs under Node, in headless Chromium: the
// browser's WebSocket, its close codes and its bufferedAmount are the ones
// the Conn is written for.
func TestJSTestsInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(5*time.Minute))
	defer cancel()
	b := browser.StartTest(ctx, t)
	_, wasmExec, err := buildClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "jstest.wasm")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "github.com/fullduplex/websocket/internal/jstest")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the js/wasm tests: %v\n%s", err, out)
	}
	tests, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(testPage))
	})
	mux.HandleFunc("GET /wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(wasmExec)
	})
	mux.HandleFunc("GET /jstest.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		w.Write(tests)
	})
	mux.Handle("/jstest/", http.StripPrefix("/jstest", jstest.NewServer()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	p, err := b.NewPage(ctx, srv.URL+"/", 800, 600)
	if err != nil {
		t.Fatal(err)
	}
	waitErr := p.WaitFor(ctx, `window.exitCode !== undefined`)
	var output []string
	if err := p.Eval(ctx, `window.output`, &output); err != nil {
		t.Fatal(err)
	}
	for _, line := range output {
		t.Log(line)
	}
	if waitErr != nil {
		t.Fatal(waitErr)
	}
	var code int
	if err := p.Eval(ctx, `window.exitCode`, &code); err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("the js/wasm tests exited with %d in Chromium", code)
	}
}
