//go:build !race

package conformance

// raceEnabled reports whether the tests run under the race detector; the
// testees are then built with it too (testee_test.go). A constant, so that
// package variables (timeScale) can depend on it.
const raceEnabled = false
