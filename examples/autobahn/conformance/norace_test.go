//go:build !race

package conformance

// raceEnabled reports whether the tests run under the race detector; the
// testees are then built with it too (testee_test.go).
const raceEnabled = false
