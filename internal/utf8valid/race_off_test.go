//go:build !race

package utf8valid

// raceEnabled reports whether the tests run under the race detector, which
// enlarges every stack frame (stack_test.go).
const raceEnabled = false
