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

// serveOn serves a fresh room on ln until the returned stop is called; stop
// closes every WebSocket with 1001 as main does on SIGINT.
func serveOn(t *testing.T, ln net.Listener) (stop func()) {
	t.Helper()
	return browser.Serve(t, ln, newServer(testOptions(t)))
}

// js quotes s as a JavaScript string literal (JSON strings are valid JS).
func js(s string) string { return strconv.Quote(s) }

// TestBrowserChat opens the chat page in two tabs of a headless Chromium,
// joins as two users, sends a message from one and sees it in the other,
// then restarts the server and sees both pages report the closure and
// reconnect. Screenshots go to $FULLDUPLEX_TEST_OUT/chat.
func TestBrowserChat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	stop := serveOn(t, ln)

	b := browser.StartTest(ctx, t)
	base := "http://" + addr + "/"
	alice, err := b.NewPage(ctx, base, 800, 600)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := b.NewPage(ctx, base, 800, 600)
	if err != nil {
		t.Fatal(err)
	}

	join := func(p *browser.Page, name string) {
		t.Helper()
		err := p.Eval(ctx, `document.querySelector("#name").value = `+js(name)+`; document.querySelector("#join").click()`, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitFor(ctx, `document.querySelector("#status").textContent === "connected as " + `+js(name)); err != nil {
			t.Fatal(err)
		}
	}
	send := func(p *browser.Page, text string) {
		t.Helper()
		// As a user would: type into the box and press the button.
		err := p.Eval(ctx, `document.querySelector("#text").value = `+js(text)+`; document.querySelector("#send").click()`, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	// hasMessage is true once the page's log shows text said by who.
	hasMessage := func(who, text string) string {
		return fmt.Sprintf(`[...document.querySelectorAll("#log li.msg")].some(li =>
			li.querySelector(".who").textContent === %s && li.querySelector(".text").textContent === %s)`, js(who), js(text))
	}
	hasNotice := func(text string) string {
		return fmt.Sprintf(`[...document.querySelectorAll("#log li.notice")].some(li => li.textContent.includes(%s))`, js(text))
	}
	wait := func(p *browser.Page, expr string) {
		t.Helper()
		if err := p.WaitFor(ctx, expr); err != nil {
			t.Fatal(err)
		}
	}

	join(alice, "Alice")
	join(bob, "Bob")
	wait(alice, hasNotice("Bob joined."))
	wait(alice, `document.querySelector("#users").textContent === "AliceBob"`)

	msg1 := "Hi Bob! This went from my page to yours over a WebSocket."
	send(alice, msg1)
	wait(bob, hasMessage("Alice", msg1))
	wait(alice, hasMessage("Alice", msg1))
	msg2 := "Got it, pushed to every open page at once."
	send(bob, msg2)
	wait(alice, hasMessage("Bob", msg2))
	wait(bob, hasMessage("Bob", msg2))
	wait(bob, `document.querySelector("#text").value === ""`)

	browser.SaveScreenshot(ctx, t, alice, "chat", "alice.png")
	browser.SaveScreenshot(ctx, t, bob, "chat", "bob.png")

	// The server goes away: both pages show the close code and reason and
	// start their backoff; a new server on the same address gets them back.
	stop()
	for _, p := range []*browser.Page{alice, bob} {
		wait(p, `document.querySelector("#status").classList.contains("closed")`)
		wait(p, hasNotice("Connection closed (1001: server shutting down)"))
	}
	browser.SaveScreenshot(ctx, t, bob, "chat", "bob-closed.png")

	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	serveOn(t, ln2)
	for p, name := range map[*browser.Page]string{alice: "Alice", bob: "Bob"} {
		wait(p, `document.querySelector("#status").textContent === "connected as " + `+js(name))
	}
	msg3 := "Back again after the restart."
	send(bob, msg3)
	wait(alice, hasMessage("Bob", msg3))
	browser.SaveScreenshot(ctx, t, alice, "chat", "alice-reconnected.png")
}
