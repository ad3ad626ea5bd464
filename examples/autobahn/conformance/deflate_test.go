package conformance

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"

	"github.com/fullduplex/websocket/internal/deflate/deflatetest"
)

// permessage-deflate (RFC 7692 §7.2) for the harness, on compress/flate, as
// the suite does it on zlib: the sender flushes each message with a sync
// flush and drops the 0x00 0x00 0xff 0xff it ends with; the receiver appends
// it again and inflates, with the earlier messages as dictionary unless the
// sender resets its context for every message.

type pmdState struct {
	// Harness to testee.
	sendTakeover bool
	sendBits     int // window the testee allows us
	fw           *flate.Writer
	wbuf         bytes.Buffer

	// Testee to harness.
	recvTakeover bool
	recvBits     int           // window we allowed the testee
	hist         []byte        // the last 32 KiB inflated, with takeover
	histLen      int64         // bytes inflated in this context, for the window check
	fr           io.ReadCloser // the inflater, reset for each message
	rbuf         bytes.Buffer  // what it inflates
}

// newPMDState sets up the harness's end of an agreed response. The harness
// is the client in the server role and the server in the client role.
func newPMDState(resp pmdParams, harnessIsClient bool) *pmdState {
	s := &pmdState{sendBits: 15, recvBits: 15}
	bits := func(b int) int {
		if b > 0 {
			return b
		}
		return 15
	}
	if harnessIsClient {
		s.sendTakeover, s.sendBits = !resp.clientNoCtx, bits(resp.clientBits)
		s.recvTakeover, s.recvBits = !resp.serverNoCtx, bits(resp.serverBits)
	} else {
		s.sendTakeover, s.sendBits = !resp.serverNoCtx, bits(resp.serverBits)
		s.recvTakeover, s.recvBits = !resp.clientNoCtx, bits(resp.clientBits)
	}
	return s
}

// compress returns the compressed payload of msg. Under a window limit the
// harness compresses with Huffman codes only, which refer to nothing
// earlier, since compress/flate's window cannot be made smaller. With
// context takeover it compresses at level 2, the fastest of compress/flate's
// levels that searches the whole 32 KiB window (level 1 looks back one
// write only), so that back-references reach across messages; without, at
// level 1, each message on its own, whose reset costs nothing (level 2
// clears 640 KiB of hash chains). The suite's zlib level 6 costs five
// times as much under the race detector, which instruments the harness
// too, for no more coverage of the testee's inflater.
func (s *pmdState) compress(msg []byte) []byte {
	level := flate.BestSpeed
	switch {
	case s.sendBits < 15:
		level = flate.HuffmanOnly
	case s.sendTakeover:
		level = 2
	}
	s.wbuf.Reset()
	switch {
	case s.fw == nil:
		s.fw, _ = flate.NewWriter(&s.wbuf, level)
	case !s.sendTakeover && level != flate.HuffmanOnly: // Huffman codes refer to nothing earlier
		s.fw.Reset(&s.wbuf) // a fresh context, as a new writer has
	}
	s.fw.Write(msg)
	s.fw.Flush()
	out := bytes.Clone(s.wbuf.Bytes())
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		panic("compress/flate sync flush did not end with 00 00 ff ff")
	}
	return out[:len(out)-4]
}

// decompress inflates a received compressed message and checks that every
// back-reference lies within the window the harness allowed (RFC 7692
// §7.1.2.1) and within what was sent before in the same context.
func (s *pmdState) decompress(payload []byte) ([]byte, error) {
	// Room for the end of a sync flush, and then for a final block.
	data := append(make([]byte, 0, len(payload)+9), payload...)
	data = append(data, 0x00, 0x00, 0xff, 0xff)
	prior := int64(0)
	if s.recvTakeover {
		prior = s.histLen
	}
	maxDist, _, err := deflatetest.ScanBackRefs(payload, prior) // as sent: the sync flush's tail removed
	if err != nil {
		return nil, fmt.Errorf("compressed payload: %w", err)
	}
	if maxDist > 1<<s.recvBits {
		return nil, fmt.Errorf("back-reference of %d bytes exceeds the %d-byte window agreed (max_window_bits=%d)", maxDist, 1<<s.recvBits, s.recvBits)
	}
	var dict []byte
	if s.recvTakeover {
		dict = s.hist
	}
	// A final empty stored block ends the stream, so the reader gives io.EOF.
	src := bytes.NewReader(append(data, 0x01, 0x00, 0x00, 0xff, 0xff))
	if s.fr == nil {
		s.fr = flate.NewReaderDict(src, dict)
	} else if err := s.fr.(flate.Resetter).Reset(src, dict); err != nil {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	s.rbuf.Reset()
	if _, err := s.rbuf.ReadFrom(s.fr); err != nil {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	out := bytes.Clone(s.rbuf.Bytes())
	if s.recvTakeover {
		s.histLen += int64(len(out))
		s.hist = append(s.hist, out...)
		if len(s.hist) > 64<<10 {
			s.hist = bytes.Clone(s.hist[len(s.hist)-32<<10:])
		}
	}
	return out, nil
}
