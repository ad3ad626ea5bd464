package main

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/fullduplex/websocket/examples/internal/browser"
	"github.com/fullduplex/websocket/internal/testtime"
)

// js quotes s as a JavaScript string literal (JSON strings are valid JS).
func js(s string) string { return strconv.Quote(s) }

// TestBrowserPagesOnTwoNodesChat opens the page of node a for Alice and of
// node b for Bob in a headless Chromium: each sees the other's messages and
// who is on which node. Node b then restarts while Alice goes on talking;
// Bob's page reconnects with the last ID it has and shows what it missed,
// once. Screenshots go to $FULLDUPLEX_TEST_OUT/cluster.
func TestBrowserPagesOnTwoNodesChat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(90*time.Second))
	defer cancel()
	br := browser.StartTest(ctx, t)
	r := startRedis(t, false)
	a, b := startNode(t, r.addr, "a"), startNode(t, r.addr, "b")

	alice, err := br.NewPage(ctx, "http://"+a.addr+"/", 800, 600)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := br.NewPage(ctx, "http://"+b.addr+"/", 800, 600)
	if err != nil {
		t.Fatal(err)
	}
	wait := func(p *browser.Page, expr string) {
		t.Helper()
		if err := p.WaitFor(ctx, expr); err != nil {
			t.Fatal(err)
		}
	}
	join := func(p *browser.Page, name, node string) {
		t.Helper()
		err := p.Eval(ctx, `document.querySelector("#name").value = `+js(name)+`; document.querySelector("#join").click()`, nil)
		if err != nil {
			t.Fatal(err)
		}
		wait(p, `document.querySelector("#status").textContent === "connected as " + `+js(name))
		wait(p, `document.querySelector("#node").textContent === "node " + `+js(node)+` + " · room test"`)
	}
	send := func(p *browser.Page, text string) {
		t.Helper()
		err := p.Eval(ctx, `document.querySelector("#text").value = `+js(text)+`; document.querySelector("#send").click()`, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	// count is how many times the page's log shows text said by who.
	count := func(who, text string) string {
		return fmt.Sprintf(`[...document.querySelectorAll("#log li.msg")].filter(li =>
			li.querySelector(".who").textContent === %s && li.querySelector(".text").textContent === %s).length`, js(who), js(text))
	}
	users := `[...document.querySelectorAll("#users li")].map(li => li.textContent).join(",")`

	join(alice, "Alice", "a")
	join(bob, "Bob", "b")
	for _, p := range []*browser.Page{alice, bob} {
		wait(p, users+` === "Alicea,Bobb"`)
	}

	msg1 := "Hi Bob! I am on node a, you are on node b."
	send(alice, msg1)
	wait(bob, count("Alice", msg1)+" === 1")
	wait(alice, count("Alice", msg1)+" === 1")
	msg2 := "And yet here it is, through the Redis Stream."
	send(bob, msg2)
	wait(alice, count("Bob", msg2)+" === 1")
	wait(bob, count("Bob", msg2)+" === 1")
	browser.SaveScreenshot(ctx, t, alice, "cluster", "alice-on-a.png")
	browser.SaveScreenshot(ctx, t, bob, "cluster", "bob-on-b.png")

	// Node b goes away; Alice keeps talking through a.
	b.stop()
	wait(bob, `document.querySelector("#status").classList.contains("closed")`)
	msg3 := "Bob, your node is down: you will get this when you are back."
	send(alice, msg3)
	wait(alice, count("Alice", msg3)+" === 1")

	// b comes back on the same address; Bob's page resumes after msg2.
	startNode(t, r.addr, "b", "-addr", b.addr)
	wait(bob, `document.querySelector("#status").textContent === "connected as Bob"`)
	wait(bob, count("Alice", msg3)+" === 1")
	wait(bob, `[...document.querySelectorAll("#log li.notice")].some(li => li.textContent === "Reconnected to node b; 1 missed.")`)
	var n int
	if err := bob.Eval(ctx, count("Alice", msg1)+" + "+count("Bob", msg2)+" + "+count("Alice", msg3), &n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("Bob's page shows the three messages %d times in all, want 3", n)
	}
	browser.SaveScreenshot(ctx, t, bob, "cluster", "bob-resumed.png")
}
