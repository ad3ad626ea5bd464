package browser

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fullduplex/websocket/internal/testtime"
)

// StartTest starts a browser for t, with the extra flags, and stops it when
// t ends. It skips t under go test -short. Without Chromium it skips t,
// except under CI (CI=true), where the browser tests must run and a missing
// browser fails them.
func StartTest(ctx context.Context, t testing.TB, extra ...string) *Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the browser test in -short mode")
	}
	b, err := Start(ctx, extra...)
	if errors.Is(err, ErrNotFound) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v; CI must run the browser tests", err)
		}
		t.Skipf("skipping the browser test: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// OutDir returns the folder where tests write screenshots: $FULLDUPLEX_TEST_OUT
// if set, else fullduplex-test-out under the system temporary directory, with
// a sub-folder named sub. It creates the folder.
func OutDir(t testing.TB, sub string) string {
	t.Helper()
	root := os.Getenv("FULLDUPLEX_TEST_OUT")
	if root == "" {
		root = filepath.Join(os.TempDir(), "fullduplex-test-out")
	}
	dir := filepath.Join(root, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// SaveScreenshot captures p and writes it as name (a .png file name) into
// OutDir(t, sub), logging the path.
func SaveScreenshot(ctx context.Context, t testing.TB, p *Page, sub, name string) string {
	t.Helper()
	// Let CSS animations and transitions settle, so the picture shows the
	// page at rest.
	if err := p.WaitFor(ctx, "document.getAnimations().length === 0"); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	png, err := p.Screenshot(ctx)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(OutDir(t, sub), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
	return path
}

// App is a server under test: an http.Handler that closes its WebSockets
// itself on Shutdown, and whose Wait returns once they are all done.
type App interface {
	http.Handler
	Shutdown()
	Wait()
}

// Serve serves app on ln until the returned stop is called or t ends. stop
// shuts down as the examples' main functions do on SIGINT: app closes its
// WebSockets (the pages see close 1001), the http.Server stops, and stop
// waits for the handlers.
func Serve(t testing.TB, ln net.Listener, app App) (stop func()) {
	t.Helper()
	hs := &http.Server{Handler: app, ReadHeaderTimeout: testtime.Scaled(5 * time.Second)}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		app.Shutdown()
		hs.Shutdown(ctx)
		app.Wait()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}
