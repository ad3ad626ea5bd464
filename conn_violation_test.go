//go:build !js

package websocket

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// connViolations lists one breach of RFC 6455 per entry with the close code
// the Conn must answer with and the error its read must wrap. Chunks are all
// the peer sends before the Conn's Close frame: where a frame is cut short,
// the Conn must fail on what it got, without waiting for the rest (rest
// bytes, which the peer sends after the Close frame, as a peer unaware of
// the failure would, before its own Close frame). unframed: the violation
// leaves no frame to follow (the peer's Close frame ends what it sends; a
// length with its top bit set cannot be skipped), so the server reads to
// the end of the stream, which the peer must end first over a pipe (there
// is no half-close).
var connViolations = []struct {
	name      string
	toClient  bool // the Conn under test is a client (default: a server)
	readLimit int64
	chunks    [][]byte
	rest      int
	unframed  bool
	code      StatusCode
	err       error
}{
	{name: "ContinuationWithNothingToContinue", chunks: [][]byte{fromClient(true, OpContinuation, "x")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "ContinuationAfterCompleteMessage", chunks: [][]byte{fromClient(true, OpText, "a"), fromClient(true, OpContinuation, "b")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "TextInsideFragmentedMessage", chunks: [][]byte{fromClient(false, OpText, "a"), fromClient(true, OpText, "b")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "BinaryInsideFragmentedMessage", chunks: [][]byte{fromClient(false, OpBinary, "a"), fromClient(false, OpBinary, "b")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "UnmaskedFrameToServer", chunks: [][]byte{fromServer(true, OpText, "hi")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "UnmaskedPingToServer", chunks: [][]byte{fromServer(true, OpPing, "hi")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "MaskedFrameToClient", toClient: true, chunks: [][]byte{fromClient(true, OpText, "hi")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "RSV1WithoutExtension", chunks: [][]byte{withB0(fromClient(true, OpText, "hi"), 0x40)},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "RSV2WithoutExtension", chunks: [][]byte{withB0(fromClient(true, OpText, "hi"), 0x20)},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "RSV3WithoutExtension", chunks: [][]byte{withB0(fromClient(true, OpText, "hi"), 0x10)},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "RSV1OnPing", chunks: [][]byte{withB0(fromClient(true, OpPing, ""), 0x40)},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "ReservedDataOpcode3", chunks: [][]byte{fromClient(true, 0x3, "")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "ReservedControlOpcodeB", chunks: [][]byte{fromClient(true, 0xB, "")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "ControlFrameOver125", chunks: [][]byte{headerOnly(Header{Fin: true, Opcode: OpPing, Masked: true, Length: 126})}, rest: 126,
		code: StatusProtocolError, err: ErrProtocol},
	{name: "FragmentedPing", chunks: [][]byte{fromClient(false, OpPing, "a")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "FragmentedClose", chunks: [][]byte{fromClient(false, OpClose, "")},
		code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseOneByteBody", chunks: [][]byte{fromClient(true, OpClose, "\x03")}, unframed: true,
		code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseCode999", chunks: [][]byte{clientClose(999, "")}, unframed: true, code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseCode1004", chunks: [][]byte{clientClose(1004, "")}, unframed: true, code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseCode1005", chunks: [][]byte{clientClose(1005, "")}, unframed: true, code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseCode1006", chunks: [][]byte{clientClose(1006, "")}, unframed: true, code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseCode1015", chunks: [][]byte{clientClose(1015, "")}, unframed: true, code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseCode1016", chunks: [][]byte{clientClose(1016, "")}, unframed: true, code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseCode2999", chunks: [][]byte{clientClose(2999, "")}, unframed: true, code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseCode5000", chunks: [][]byte{clientClose(5000, "")}, unframed: true, code: StatusProtocolError, err: ErrProtocol},
	{name: "CloseCode0", chunks: [][]byte{clientClose(0, "")}, unframed: true, code: StatusProtocolError, err: ErrProtocol},
	{name: "InvalidUTF8SingleFrame", chunks: [][]byte{fromClient(true, OpText, "ok\xff")},
		code: StatusInvalidFramePayloadData, err: ErrInvalidUTF8},
	{name: "InvalidUTF8Surrogate", chunks: [][]byte{fromClient(true, OpText, "\xed\xa0\x80")},
		code: StatusInvalidFramePayloadData, err: ErrInvalidUTF8},
	{name: "InvalidUTF8SplitAcrossFragments", chunks: [][]byte{fromClient(false, OpText, "ab\xe2\x82"), fromClient(true, OpContinuation, "(")},
		code: StatusInvalidFramePayloadData, err: ErrInvalidUTF8},
	{name: "InvalidUTF8TruncatedAtEnd", chunks: [][]byte{fromClient(false, OpText, "ab\xe2"), fromClient(true, OpContinuation, "\x82")},
		code: StatusInvalidFramePayloadData, err: ErrInvalidUTF8},
	{name: "InvalidUTF8TruncatedEmptyFinal", chunks: [][]byte{fromClient(false, OpText, "ab\xe2"), fromClient(true, OpContinuation, "")},
		code: StatusInvalidFramePayloadData, err: ErrInvalidUTF8},
	// Fail fast (RFC 6455 §8.1): only the first fragment is sent, the rest never.
	{name: "InvalidUTF8FirstFragmentOnly", chunks: [][]byte{fromClient(false, OpText, "hello\xc0\xaf")},
		code: StatusInvalidFramePayloadData, err: ErrInvalidUTF8},
	// Only the first 8 of 100 announced bytes are sent: the Conn fails mid-frame.
	{name: "InvalidUTF8MidFrame", chunks: [][]byte{partialFrame(Header{Fin: true, Opcode: OpText, Masked: true, Length: 100}, "abcd\xf5xyz")}, rest: 92,
		code: StatusInvalidFramePayloadData, err: ErrInvalidUTF8},
	{name: "InvalidUTF8CloseReason", chunks: [][]byte{clientClose(1000, "bye\xff")}, unframed: true,
		code: StatusInvalidFramePayloadData, err: ErrInvalidUTF8},
	// Only the header of a 1 TiB frame is sent: the Conn must refuse it on
	// the header, not try to read (or allocate) the payload.
	{name: "MessageOverReadLimitHeaderOnly", readLimit: 1024,
		chunks: [][]byte{headerOnly(Header{Fin: true, Opcode: OpBinary, Masked: true, Length: 1 << 40})},
		code:   StatusMessageTooBig, err: ErrMessageTooBig},
	{name: "MessageOverReadLimitJustOver", readLimit: 1024,
		chunks: [][]byte{headerOnly(Header{Fin: true, Opcode: OpBinary, Masked: true, Length: 1025})}, rest: 1025,
		code: StatusMessageTooBig, err: ErrMessageTooBig},
	{name: "MessageOverReadLimitAcrossFragments", readLimit: 1024,
		chunks: [][]byte{fromClient(false, OpBinary, strings.Repeat("a", 1000)), headerOnly(Header{Opcode: OpContinuation, Masked: true, Length: 25})}, rest: 25,
		code: StatusMessageTooBig, err: ErrMessageTooBig},
	{name: "Length64TopBitSet", chunks: [][]byte{withLength64(0x8000000000000000)}, unframed: true,
		code: StatusProtocolError, err: ErrProtocol},
	{name: "Length16NonMinimal", chunks: [][]byte{{0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0, 0, 0}},
		code: StatusProtocolError, err: ErrProtocol},
}

// withB0 sets bits in the first header byte of frame b.
func withB0(b []byte, bits byte) []byte {
	b[0] |= bits
	return b
}

// headerOnly encodes just the header h, announcing a payload not sent.
func headerOnly(h Header) []byte {
	if h.Masked {
		h.Mask = peerKey
	}
	return AppendHeader(nil, h)
}

// partialFrame encodes header h and only the first bytes of its payload, masked.
func partialFrame(h Header, payload string) []byte {
	h.Mask = peerKey
	b := AppendHeader(nil, h)
	start := len(b)
	b = append(b, payload...)
	Mask(h.Mask, 0, b[start:])
	return b
}

// withLength64 encodes a masked binary frame header with a raw 64-bit length.
func withLength64(l uint64) []byte {
	b := []byte{0x82, 0xff}
	b = binary.BigEndian.AppendUint64(b, l)
	return append(b, peerKey[:]...)
}

// TestConnProtocolViolations: the Conn fails the connection with the right
// code on each of connViolations, over TCP and over a pipe (no half-close,
// no buffering: every write waits for the Conn's read). The close timeout is
// a guard only: the peer answers as a peer does, so that no case passes by
// waiting it out, and a loaded machine cannot make the Conn give up on a
// Close frame the peer is about to read.
func TestConnProtocolViolations(t *testing.T) {
	for _, tr := range transports {
		for _, tt := range connViolations {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				chunks := tt.chunks
				p, c := newRawPeer(t, tr.conns, !tt.toClient, connConfig{readLimit: tt.readLimit, closeTimeout: testTimeout})
				res := readLoop(c)
				p.sendAsync(chunks...)
				p.expectClose(tt.code)
				p.wg.Wait()
				// RFC 6455 §7.1.7: after failing, the Conn closes the
				// connection. The peer answers as RFC 6455 §7.1.1 has it: a
				// client with its Close frame, after which the server
				// closes; a server by closing. The Conn may have closed
				// already, so the writes may fail.
				if !tt.toClient {
					p.nc.SetWriteDeadline(time.Now().Add(testTimeout))
					if tt.rest > 0 {
						p.nc.Write(make([]byte, tt.rest))
					}
					p.nc.Write(clientClose(uint16(tt.code), ""))
					if tt.unframed && tr.name == "pipe" {
						p.nc.Close() // the server reads to the end of the stream
					} else {
						p.expectEOF()
					}
				}
				p.nc.Close()
				var err error
				select {
				case err = <-res:
				case <-time.After(testTimeout):
					t.Fatal("ReadMessage did not return")
				}
				if !errors.Is(err, tt.err) {
					t.Fatalf("ReadMessage error = %v, want %v", err, tt.err)
				}
				if !c.isClosed() {
					t.Fatal("the read returned before the connection was closed")
				}
				if _, _, err := c.ReadMessage(); !errors.Is(err, tt.err) {
					t.Errorf("second ReadMessage error = %v, want %v again", err, tt.err)
				}
				if err := c.WriteMessage(OpText, []byte("late")); !errors.Is(err, ErrClosed) {
					t.Errorf("WriteMessage after the failure = %v, want ErrClosed", err)
				}
			})
		}
	}
}
