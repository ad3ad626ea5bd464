package conformance

import (
	"time"

	"github.com/fullduplex/websocket/internal/testtime"
)

// Time in the harness, as in the library's own tests (timing_test.go at the
// module's root): a bound after which the harness calls a case FAILED (an
// echo, a Close frame, the end of the TCP connection that never come) is
// scaled by FULLDUPLEX_TEST_TIMESCALE (see package testtime), so that a
// loaded machine, or the race detector, does not fail a testee that is only
// slow; a passing case never waits for one. A window in which nothing may
// happen (the client must not close TCP first; part 1 of 6.4.x is no
// reason to fail) is not scaled: a slow machine can only make it miss a
// fault, and it is waited out in every passing case.

// scaled returns the nominal bound d scaled for this machine.
func scaled(d time.Duration) time.Duration { return testtime.Scaled(d) }
