// Package interop checks fullduplex against WebSocket implementations nobody
// here wrote: Node's ws and Python's websockets, each as server and as client.
//
// The package holds only tests. They start the peer scripts in peers/ as
// child processes: a peer server prints the port it listens on, a peer client
// runs a scripted exchange against a Go server and exits non-zero on any
// mismatch, so both sides check what they receive. The peers need
// `npm ci` in this directory and Debian's python3-websockets
// (/usr/bin/python3); without them the tests skip, except under CI=true,
// where a missing peer is a failure.
package interop
