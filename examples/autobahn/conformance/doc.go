// Package conformance holds a stand-in for the Autobahn|Testsuite, which
// cannot be installed where this project is built: its tests build the two
// testees of ../server and ../client and run the suite's case catalogue
// (sections 1 to 7, 9, 10, 12 and 13, case for case, numbered as the suite
// numbers them) against them, the server as the suite's fuzzingclient does
// and the client as its fuzzingserver does, through /getCaseCount, /runCase
// and /updateReports.
//
// The harness speaks the protocol on its own: it builds, masks and parses
// frames, does both opening handshakes and compresses with compress/flate,
// using nothing of the library under test. It judges strictly: an outcome
// the suite reports as NON-STRICT, UNCLEAN (where the suite requires a clean
// close) or WRONG CODE fails here, and so does a testee that drops TCP where
// RFC 6455 asks for a Close frame. Cases whose ids start with x are not in
// the suite: window sizes it does not ask for, and errors and control
// frames inside compressed messages.
//
// Sizes are cut to keep the run short: 9.x up to 4 MiB, 200 messages in
// 9.7 and 9.8, and about 512 KiB of messages per case in 12.x and 13.x (64
// KiB under the race detector). The environment changes what is run:
//
//	CONFORMANCE_FULL=1                 the suite's sizes: 16 MiB, 1000 messages
//	CONFORMANCE_SERVER=host:port/path  test that server instead of ../server
//	CONFORMANCE_CLIENT=/path/to/binary test that client (same flags as ../client)
//	FULLDUPLEX_TEST_TIMESCALE=4        how much longer than on a quiet machine to
//	                                   wait before failing a case (default 2, 5
//	                                   under the race detector)
//
//	go test -race -count=1 -v ./examples/autobahn/conformance
package conformance
