package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket/examples/internal/browser"
	"github.com/fullduplex/websocket/internal/testtime"
)

// TestBrowserEcho opens the echo page in a headless Chromium, types a
// message as a user would and waits for the server's echo to show up in the
// page, and that a long unbroken message wraps instead of widening the
// page; a screenshot goes to $FULLDUPLEX_TEST_OUT/echo.
func TestBrowserEcho(t *testing.T) { modes(t, testBrowserEcho) }

func testBrowserEcho(t *testing.T, h http.Handler) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()
	srv := httptest.NewServer(h)
	defer srv.Close()

	b := browser.StartTest(ctx, t)
	p, err := b.NewPage(ctx, srv.URL+"/", 800, 600)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `document.querySelector("#status").textContent === "connected"`); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("0123456789abcdef", 40) // no break opportunity in 640 characters
	for _, msg := range []string{"Hello, echo!", "κόσμε, ünïcødé ✓", long} {
		err := p.Eval(ctx, `document.querySelector("#text").value = `+strconv.Quote(msg)+`; document.querySelector("#send").click()`, nil)
		if err != nil {
			t.Fatal(err)
		}
		echoed := `[...document.querySelectorAll("#log li.echo")].some(li => li.textContent === ` + strconv.Quote(msg) + `)`
		if err := p.WaitFor(ctx, echoed); err != nil {
			t.Fatalf("waiting for the echo of %q: %v", msg, err)
		}
	}
	var overflows bool
	if err := p.Eval(ctx, `document.documentElement.scrollWidth > document.documentElement.clientWidth`, &overflows); err != nil {
		t.Fatal(err)
	}
	if overflows {
		t.Error("the page scrolls sideways: a long message does not wrap")
	}
	browser.SaveScreenshot(ctx, t, p, "echo", strings.ReplaceAll(t.Name(), "/", "-")+".png")
}
