//go:build js

package main

import (
	"context"
	"fmt"
	"syscall/js"
)

// main runs the client in the page: it reports into the page's #log list,
// and sets window.clientDone and window.clientError for whoever watches.
func main() {
	doc := js.Global().Get("document")
	loc := js.Global().Get("location")
	scheme := "ws://"
	if loc.Get("protocol").String() == "https:" {
		scheme = "wss://"
	}
	url := scheme + loc.Get("host").String() + "/ws"
	report := func(format string, args ...any) {
		li := doc.Call("createElement", "li")
		li.Set("textContent", fmt.Sprintf(format, args...))
		doc.Call("querySelector", "#log").Call("append", li)
	}
	report("dialling %s from WebAssembly", url)
	err := run(context.Background(), url, report)
	if err != nil {
		report("error: %v", err)
		js.Global().Set("clientError", err.Error())
	} else {
		report("done")
	}
	js.Global().Set("clientDone", true)
}
