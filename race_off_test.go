//go:build !race

package websocket

// raceEnabled reports whether the tests run under the race detector, which
// enlarges every stack frame (stack_test.go) and slows the tests several
// times over (timing_test.go). It is a constant, not set by an init
// function, so that package-level variables can depend on it.
const raceEnabled = false
