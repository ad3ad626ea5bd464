package websocket

import (
	"time"

	"github.com/fullduplex/websocket/internal/testtime"
)

// Time in these tests. No verdict may hang on how fast the machine is:
//
//   - A bound after which a test declares a failure (a frame that never
//     comes, a read or a Close that never returns) is a guard against a
//     hang, far beyond what the awaited event takes on a quiet machine, and
//     scaled (see scaled) for slower ones. A passing test does not wait
//     for it. testTimeout and hsTimeout are the usual ones.
//   - Where a test needs time to pass (a keep-alive interval, a close
//     timeout), it waits for the events in order and counts them, and a
//     time bound is only the guard on that wait; an interval the library
//     must see a reply within is scaled too, since a loaded machine answers
//     late.
//   - A check that an option takes effect (a close timeout of 200 ms rather
//     than the default 5 s) compares with the default it would otherwise
//     take, the longest bound that still catches the fault, not with a
//     multiple of the option.
//   - A window in which nothing may happen (no frame before the peer's
//     Close) is not scaled: a slow machine can only make it miss a fault,
//     never invent one, and a longer window would slow every passing run.

// scaled returns the nominal bound d times the scale of package testtime:
// FULLDUPLEX_TEST_TIMESCALE if set (1 keeps the nominal bounds, which suit
// a quiet machine; a larger factor gives a busier one room), else 2, and 5
// under the race detector, which slows these tests several times over. A
// test that passes takes no longer for it, one that fails takes longer to
// say so. -short does not change it: it leaves the long tests out, the
// machine is no faster for it.
func scaled(d time.Duration) time.Duration { return testtime.Scaled(d) }

var (
	// testTimeout bounds every wait in these tests: a failure, not a
	// slow pass, when it passes.
	testTimeout = scaled(5 * time.Second)
	// hsTimeout bounds an opening handshake in the handshake tests.
	hsTimeout = scaled(5 * time.Second)
)
