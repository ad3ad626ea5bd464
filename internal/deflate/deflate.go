// Package deflate is the DEFLATE codec (RFC 1951) of permessage-deflate
// (RFC 7692): an Encoder of its own, whose back-references keep within the
// window agreed with the peer, and an Inflater over compress/flate's
// reader, which holds it only while a message is in flight. Both work on
// payloads as they travel in frames: each message's DEFLATE blocks end in
// a sync flush whose 4-byte tail, 0x00 0x00 0xff 0xff, the sender removes
// (RFC 7692 §7.2.1). What is negotiated, when to compress and what to do
// with a failure is the Conn's to decide; this package knows nothing of
// frames or connections.
package deflate

import "errors"

var (
	// ErrTooBig is returned by Inflater.Read when a message inflates past
	// the limit given to Begin.
	ErrTooBig = errors.New("websocket: compressed message inflates past the read limit")

	// ErrInvalid is wrapped by the error Inflater.Read returns for a
	// message that is not valid DEFLATE data (RFC 1951).
	ErrInvalid = errors.New("websocket: invalid compressed data")
)

const (
	maxWindowBits = 15
	maxWindow     = 1 << maxWindowBits // the largest window of RFC 7692 §7.1.2
)

// histSlack is how much a takeover history holds past its window, so that
// short messages are compressed in place and the history slides once every
// few of them instead of once each.
func histSlack(window int) int { return min(window, 8192) }
