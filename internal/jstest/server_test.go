//go:build !js

package jstest

import (
	"bufio"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket/internal/testtime"
)

// TestUnderNode builds this package's tests for js/wasm and runs them under
// Node, against the server of server.go, whose address they get in URLEnv.
func TestUnderNode(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the js/wasm tests in -short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI must run the js/wasm tests (on Debian: apt-get install nodejs)", err)
		}
		t.Skipf("skipping the js/wasm tests: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(5*time.Minute))
	defer cancel()

	bin := filepath.Join(t.TempDir(), "jstest.wasm")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the js/wasm tests: %v\n%s", err, out)
	}

	srv := httptest.NewServer(NewServer())
	defer srv.Close()

	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	execJS := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec_node.js")
	args := append(nodeArgs(t, node), execJS, bin, "-test.v")
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(), URLEnv+"=ws"+strings.TrimPrefix(srv.URL, "http"))
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the js/wasm tests under node: %v", err)
	}
}

// nodeArgs returns the flags that give node a WebSocket global: none from
// Node 22 on, --experimental-websocket on Node 20 and 21. Node 18, Debian
// 12's, has none, and the ws package that npm ci installs in interop/ stands
// in for it, as a browser's WebSocket: it has the same API. Without either,
// t is skipped, or failed under CI.
func nodeArgs(t testing.TB, node string) []string {
	t.Helper()
	args := []string{"--stack-size=8192"} // as go_js_wasm_exec does
	switch {
	case hasWebSocket(node):
		return args
	case hasWebSocket(node, "--experimental-websocket"):
		return append(args, "--experimental-websocket")
	}
	ws, err := filepath.Abs(filepath.Join("..", "..", "interop", "node_modules", "ws"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ws); err == nil {
		t.Logf("%s has no WebSocket: the ws package stands in", node)
		shim := filepath.Join(t.TempDir(), "websocket.js")
		if err := os.WriteFile(shim, []byte("globalThis.WebSocket = require("+strconv.Quote(ws)+");\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return append(args, "--require", shim)
	}
	msg := node + " has no WebSocket: Node 20.10 and later have one; for an older Node, npm ci in interop/ installs the ws package"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI must run the js/wasm tests", msg)
	}
	t.Skip(msg)
	return nil
}

// hasWebSocket reports whether node, run with flags, has a WebSocket global.
func hasWebSocket(node string, flags ...string) bool {
	out, err := exec.Command(node, append(flags, "-p", "typeof WebSocket")...).Output()
	return err == nil && strings.TrimSpace(string(out)) == "function"
}
