// Package jstest holds the tests of the js/wasm build of the websocket
// package: the tests in its _js_test.go files run under Node, compiled to
// WebAssembly, against a server of the package's own running natively.
//
// go test ./internal/jstest builds them (GOOS=js GOARCH=wasm go test -c),
// starts the server (server_test.go) and runs them under node with the Go
// distribution's wasm_exec_node.js, passing the server's address in URLEnv.
// Run alone, without the server, the js tests skip.
package jstest

// URLEnv names the environment variable that holds the server's ws:// URL.
const URLEnv = "FULLDUPLEX_JSTEST_URL"

// Result is how the server's read of a connection ended, as its /result
// endpoint reports it: a Close frame's code and reason, or another error,
// and the messages read before.
type Result struct {
	Code     int    `json:"code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Err      string `json:"err,omitempty"`
	Messages int    `json:"messages"`
}
