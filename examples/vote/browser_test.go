package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/fullduplex/websocket/examples/internal/browser"
	"github.com/fullduplex/websocket/internal/testtime"
)

// serveOn serves a fresh board on ln until the returned stop is called.
func serveOn(t *testing.T, ln net.Listener) (stop func()) {
	t.Helper()
	s, err := newServer(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	return browser.Serve(t, ln, s)
}

// TestBrowserVote opens the board in two tabs of a headless Chromium, votes
// by clicking in one and sees the counts change in the other; sends a bad
// vote and sees the error; then restarts the server and sees the pages
// reconnect. Screenshots go to $FULLDUPLEX_TEST_OUT/vote.
func TestBrowserVote(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	stop := serveOn(t, ln)

	b := browser.StartTest(ctx, t)
	var pages [2]*browser.Page
	for i := range pages {
		if pages[i], err = b.NewPage(ctx, "http://"+addr+"/", 800, 600); err != nil {
			t.Fatal(err)
		}
	}
	voter, watcher := pages[0], pages[1]
	wait := func(p *browser.Page, expr string) {
		t.Helper()
		if err := p.WaitFor(ctx, expr); err != nil {
			t.Fatal(err)
		}
	}
	card := func(name string) string {
		return fmt.Sprintf(`document.querySelector('.candidate[data-name=%s]')`, strconv.Quote(name))
	}
	votes := func(name string, n int) string {
		return fmt.Sprintf(`%s?.querySelector(".votes").textContent === "%d"`, card(name), n)
	}
	click := func(p *browser.Page, name string) {
		t.Helper()
		if err := p.Eval(ctx, card(name)+".click()", nil); err != nil {
			t.Fatal(err)
		}
	}

	for _, p := range pages {
		wait(p, `document.querySelector("#status").textContent === "connected"`)
		wait(p, `document.querySelector("#online").textContent === "2"`)
		wait(p, votes("Sushi", 0))
	}

	// Clicks in one page; the other page's counts follow.
	clicks := []string{"Sushi", "Sushi", "Tacos", "Sushi", "Ramen", "Tacos", "Sushi"}
	want := map[string]int{}
	for _, name := range clicks {
		click(voter, name)
		want[name]++
		wait(watcher, votes(name, want[name]))
	}
	for _, name := range defaultOptions().Candidates {
		for _, p := range pages {
			wait(p, votes(name, want[name]))
		}
	}
	wait(watcher, fmt.Sprintf(`document.querySelector("#total").textContent === "%d"`, len(clicks)))
	wait(watcher, card("Sushi")+`.classList.contains("leading")`)
	browser.SaveScreenshot(ctx, t, watcher, "vote", "watcher.png")

	// A bad vote, sent on the page's own socket: the sender sees the
	// server's error; no count moves anywhere.
	if err := voter.Eval(ctx, `ws.send(JSON.stringify({type: "vote", candidate: "Haggis"}))`, nil); err != nil {
		t.Fatal(err)
	}
	wait(voter, `!document.querySelector("#error").hidden &&
		document.querySelector("#error").textContent === 'Vote rejected: unknown candidate "Haggis"'`)
	browser.SaveScreenshot(ctx, t, voter, "vote", "voter-error.png")
	click(voter, "Pizza")
	want["Pizza"]++
	wait(watcher, votes("Pizza", 1))
	wait(watcher, fmt.Sprintf(`document.querySelector("#total").textContent === "%d"`, len(clicks)+1))

	// The server goes away: the pages say so and disable voting, then
	// reconnect to a new server on the same address (which starts from zero).
	stop()
	for _, p := range pages {
		wait(p, `document.querySelector("#status").textContent.startsWith("closed (1001: server shutting down)")`)
		wait(p, card("Pizza")+".disabled")
	}
	browser.SaveScreenshot(ctx, t, watcher, "vote", "watcher-closed.png")
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	serveOn(t, ln2)
	for _, p := range pages {
		wait(p, `document.querySelector("#status").textContent === "connected"`)
		wait(p, `document.querySelector("#total").textContent === "0"`)
	}
	click(watcher, "Ramen")
	wait(voter, votes("Ramen", 1))
}
