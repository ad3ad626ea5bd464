package browser

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket/internal/testtime"
)

// TestDriver checks the driver against Chromium itself: evaluation results
// and exceptions, waiting, and the size of a screenshot.
func TestDriver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(30*time.Second))
	defer cancel()
	b := StartTest(ctx, t)
	page := "data:text/html," + url.PathEscape(`<title>t</title><h1 id="h">hello</h1><script>setTimeout(() => document.body.dataset.ready = "yes", 200)</script>`)
	p, err := b.NewPage(ctx, page, 640, 480)
	if err != nil {
		t.Fatal(err)
	}

	var n int
	if err := p.Eval(ctx, "6 * 7", &n); err != nil || n != 42 {
		t.Errorf("Eval(6 * 7) = %d, %v; want 42", n, err)
	}
	var s string
	if err := p.Eval(ctx, `new Promise(r => setTimeout(() => r(document.querySelector("#h").textContent), 10))`, &s); err != nil || s != "hello" {
		t.Errorf("Eval of a promise = %q, %v; want %q", s, err, "hello")
	}
	if err := p.Eval(ctx, `throw new Error("boom")`, nil); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Eval of a throw: error %v, want one mentioning boom", err)
	}
	if err := p.WaitFor(ctx, `document.body.dataset.ready === "yes"`); err != nil {
		t.Error(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	err = p.WaitFor(short, "false")
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor(false): %v, want a deadline error", err)
	}
	if err := b.Call(ctx, "", "No.suchMethod", nil, nil); err == nil {
		t.Error("unknown CDP method: no error")
	}

	shot, err := p.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 640 || got.Y != 480 {
		t.Errorf("screenshot is %v, want 640x480", got)
	}
	if err := p.Close(ctx); err != nil {
		t.Error(err)
	}
}
