// Package testtime scales the time bounds of the tests, the library's
// (timing_test.go at the module's root), the examples' and the interop
// suite's alike, so that a loaded machine, or the race detector, does not
// fail a test that is only slow. It is for tests only.
//
// A bound after which a test declares a failure (a message, a close, a page
// that never comes) is a nominal duration, right for a quiet machine,
// passed through Scaled; a passing test never waits for it. A window in
// which nothing may happen is not scaled: a slow machine can only make it
// miss a fault, and every passing run waits it out.
package testtime

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Env names the environment variable that sets Scale.
const Env = "FULLDUPLEX_TEST_TIMESCALE"

// Scale multiplies every bound a test fails on: the value of
// FULLDUPLEX_TEST_TIMESCALE if set (1 keeps the nominal bounds), else 2,
// and 5 under the race detector, which slows the tests several times over.
var Scale = scaleFrom(os.Getenv(Env))

func scaleFrom(s string) float64 {
	if s == "" {
		if raceEnabled {
			return 5
		}
		return 2
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || f > 1000 {
		panic(fmt.Sprintf("%s=%q: want a factor for the tests' time bounds, such as 1 or 4", Env, s))
	}
	return f
}

// Scaled returns the nominal bound d times Scale.
func Scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * Scale)
}
