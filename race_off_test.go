//go:build !race

package websocket

// raceEnabled reports whether the tests run under the race detector, which
// enlarges every stack frame (stack_test.go).
const raceEnabled = false
