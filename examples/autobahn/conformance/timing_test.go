package conformance

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Time in the harness, as in the library's own tests (timing_test.go at the
// module's root): a bound after which the harness calls a case FAILED (an
// echo, a Close frame, the end of the TCP connection that never come) is
// scaled by timeScale, so that a loaded machine, or the race detector, does
// not fail a testee that is only slow; a passing case never waits for one.
// A window in which nothing may happen (the client must not close TCP
// first; part 1 of 6.4.x is no reason to fail) is not scaled: a slow
// machine can only make it miss a fault, and it is waited out in every
// passing case.

// timeScale is FULLDUPLEX_TEST_TIMESCALE if set (1: the nominal bounds, for
// a quiet machine), else 2, and 5 under the race detector.
var timeScale = timeScaleFrom(os.Getenv("FULLDUPLEX_TEST_TIMESCALE"))

func timeScaleFrom(s string) float64 {
	if s == "" {
		if raceEnabled {
			return 5
		}
		return 2
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || f > 1000 {
		panic(fmt.Sprintf("FULLDUPLEX_TEST_TIMESCALE=%q: want a factor for the tests' time bounds, such as 1 or 4", s))
	}
	return f
}

// scaled returns the nominal bound d times timeScale.
func scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * timeScale)
}
