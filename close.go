//go:build !js

package websocket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fullduplex/websocket/internal/utf8valid"
)

// parseClosePayload decodes and validates a received Close frame body
// (RFC 6455 §5.5.1): empty, or a valid code followed by a UTF-8 reason.
func parseClosePayload(p []byte) (*CloseError, error) {
	switch len(p) {
	case 0:
		return &CloseError{Code: StatusNoStatusReceived}, nil
	case 1:
		return nil, protocolErrorf("close frame body of 1 byte")
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.validOnWire() {
		return nil, protocolErrorf("close code %d is not allowed on the wire", code)
	}
	var v utf8valid.Validator
	if !v.Write(p[2:]) || !v.Complete() {
		return nil, fmt.Errorf("%w in close reason", ErrInvalidUTF8)
	}
	return &CloseError{Code: code, Reason: string(p[2:])}, nil
}

// appendClosePayload appends a Close frame body for code and reason to b. The
// reason is cut so the body fits a control frame, at a UTF-8 boundary.
func appendClosePayload(b []byte, code StatusCode, reason string) []byte {
	if code == 0 || code == StatusNoStatusReceived {
		return b
	}
	const maxReason = MaxControlPayload - 2
	if len(reason) > maxReason {
		reason = reason[:maxReason]
		for i := len(reason) - 1; i >= 0 && i >= len(reason)-3; i-- {
			if reason[i]&0xC0 != 0x80 { // the start of the last code point
				var v utf8valid.Validator
				if !v.Write([]byte(reason[i:])) || !v.Complete() {
					reason = reason[:i]
				}
				break
			}
		}
	}
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return append(b, reason...)
}

// Close performs the closing handshake (RFC 6455 §7.1.2): it sends a Close
// frame with code and reason, waits up to the close timeout for the peer's
// Close frame, and closes the TCP connection. code 0 sends a Close frame with
// no body. Close may be called from any goroutine, while another reads or
// writes: a reading goroutine sees the peer's Close frame and gets its
// *CloseError; without one, Close reads and discards until the Close frame
// comes. It returns an error wrapping ErrClosed if the connection was already
// closing or closed.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code != 0 && !code.validOnWire() {
		return fmt.Errorf("websocket: close code %d may not be sent", code)
	}
	deadline := time.Now().Add(c.closeTimeout)
	err := c.writeClose(code, reason)
	if err != nil && !errors.Is(err, errCloseSent) {
		c.closeTCP()
		return err
	}
	if _, polled := c.netConn().(interface{ nonblocking() }); polled {
		// The Poller reads: it sees the peer's Close frame and ends the
		// connection, or closes it at the deadline. A handler that closes
		// must not hold its worker for the answer.
		c.SetReadDeadline(deadline)
		return err
	}
	if c.readMu.TryLock() {
		// No goroutine is reading: read until the peer's Close frame. The
		// read path answers it and ends the connection, as it would for a reader.
		c.nc.SetReadDeadline(deadline)
		for {
			if _, err := c.nextMessage(); err != nil {
				break
			}
		}
		c.readMu.Unlock()
	}
	t := time.NewTimer(time.Until(deadline))
	select {
	case <-c.closed.wait():
	case <-t.C:
	}
	t.Stop()
	c.closeTCP()
	return err
}

// CloseNow closes the TCP connection at once, without a closing handshake.
// Reads and writes in progress return errors wrapping ErrClosed.
func (c *Conn) CloseNow() error {
	if c.isClosed() {
		<-c.Done() // over HTTP/2, the stream is left alone once it returns
		return ErrClosed
	}
	c.byApp.Store(true)
	c.closeTCP()
	return nil
}

// writeClose sends a Close frame unless one was sent already. A writer
// stuck on a peer that does not read must not hold the Close frame back for
// ever, so the write deadline is cut to the close timeout first.
func (c *Conn) writeClose(code StatusCode, reason string) error {
	c.SetWriteDeadline(time.Now().Add(c.closeTimeout))
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if c.closeSent.Load() {
		return errCloseSent
	}
	c.closeSent.Store(true)
	if c.x != nil {
		c.noteSent(code, reason)
	}
	if c.werr != nil {
		return c.werr
	}
	var body [MaxControlPayload]byte
	return c.writeShortLocked(OpClose, appendClosePayload(body[:0], code, reason))
}

// peerClosed handles the peer's Close frame: it answers with a Close frame
// echoing the code, if none was sent yet (RFC 6455 §5.5.1), and ends the TCP
// connection, at once on a server, and on a client once the server has closed
// it or the close timeout has passed (§7.1.1: the server closes first).
func (c *Conn) peerClosed(ce *CloseError) error {
	code := ce.Code
	if code == StatusNoStatusReceived {
		code = StatusNormalClosure
	}
	sentFirst := c.closeSent.Load()
	if c.x != nil {
		c.noteGot(ce, !sentFirst)
	}
	c.writeClose(code, "")
	c.rerr = ce
	if !c.server {
		// The closing handshake fits in one close timeout: when this
		// client began it, Close has bounded it already.
		if !sentFirst {
			c.nc.SetReadDeadline(time.Now().Add(c.closeTimeout))
		}
		c.rRemain, c.rSize = -1, 0 // to the end of the stream (lingerOn)
		c.lingerOn()
		return ce
	}
	c.closeTCP()
	return ce
}

// fail fails the connection (RFC 6455 §7.1.7) after a violation by the peer:
// it sends a Close frame with code and a short reason, ends the TCP
// connection (see linger) and makes err the error of every later read. The
// caller holds readMu, and rRemain is the payload of the current frame still
// to come, or -1 if the stream cannot be followed any more.
func (c *Conn) fail(code StatusCode, err error) error {
	if c.x != nil {
		c.noteFailure(err)
	}
	reason := strings.TrimPrefix(err.Error(), "websocket: ")
	werr := c.writeClose(code, reason)
	c.rerr = err
	if werr != nil && !errors.Is(werr, errCloseSent) {
		c.closeTCP() // the Close frame did not go out: nothing to wait for
		return err
	}
	c.linger()
	return err
}

// failFrame fails the connection over the frame whose header h was just
// read, none of whose payload has been.
func (c *Conn) failFrame(h Header, code StatusCode, err error) error {
	c.rRemain = h.Length
	return c.fail(code, err)
}

// Bounds on linger: long enough for a peer on a real network to read our
// Close frame and answer, short enough that a failing connection holds its
// goroutine and socket briefly. The byte bound keeps a peer that goes on
// sending from holding it for the whole time at full speed.
const (
	lingerTimeout = 2 * time.Second
	lingerBytes   = 1 << 20
)

// linger ends the TCP connection after fail has sent its Close frame. It is
// not closed at once because the failure usually leaves part of the
// offending message unread (a message over the read limit is refused on its
// header), and a socket closed with unread input is reset (RFC 1122
// §4.2.2.13): the peer then drops what it had not yet read, our Close frame
// included, and reports 1006 instead of our code. So the input is read and
// thrown away, within lingerTimeout (and the close timeout) and lingerBytes,
// until the peer is done sending:
//
//   - A server half-closes where it can, which is its closing the TCP
//     connection first as RFC 6455 §7.1.1 asks, then skips frames up to the
//     peer's Close frame (the end of what a peer sends, §5.5.1) or the end
//     of the stream, and closes. Following frames rather than waiting for
//     the end of the stream also serves connections without CloseWrite
//     (net.Conn wrappers), whose peer waits for us to close.
//   - A client waits for the server to close the connection (§7.1.1).
//
// linger runs on the reading goroutine, so the failed read returns once the
// connection is closed: a caller that then calls CloseNow, as a deferred
// clean-up does, would otherwise cut the linger short and bring the reset
// back. peerClosed makes a client wait in the same way. Under a Poller it
// does not wait: lingerOn stops where the input that has arrived ends, and
// the Poller calls it again as more arrives, its sweep keeping the deadline.
func (c *Conn) linger() {
	// The reader holds readMu and rerr is set, so nothing else reads the
	// connection. rRemain and rSize, which no read uses any more, keep
	// the frame left to skip and the bytes thrown away.
	c.nc.SetReadDeadline(time.Now().Add(min(lingerTimeout, c.closeTimeout)))
	c.rSize = 0
	if c.server {
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	} else {
		c.rRemain = -1
	}
	c.lingerOn()
}

// lingerOn throws input away for linger: frame by frame from the payload
// left in rRemain up to the peer's Close frame, or to the end of the stream
// if rRemain is negative, within lingerBytes, and then closes the
// connection. It returns errWouldBlock if it stopped for input that has
// not arrived (under a Poller); the connection is then still open.
func (c *Conn) lingerOn() error {
	c.attachReader()
	for c.rRemain >= 0 {
		if c.rRemain > lingerBytes-c.rSize {
			c.closeTCP()
			return nil
		}
		n, err := c.br.Discard(int(c.rRemain))
		c.rRemain -= int64(n)
		c.rSize += int64(n)
		if err == nil {
			err = c.lingerHeader()
		}
		if err == errWouldBlock {
			return err
		}
		if err != nil {
			c.closeTCP()
			return nil
		}
	}
	for c.rSize < lingerBytes {
		n, err := c.br.Discard(int(lingerBytes - c.rSize))
		c.rSize += int64(n)
		if err == errWouldBlock {
			return err
		}
		if err != nil {
			break
		}
	}
	c.closeTCP()
	return nil
}

// lingerHeader reads the header of the next frame lingerOn skips, and sets
// rRemain to its payload, or to -1 after the peer's Close frame or a header
// that does not parse, which has lingerOn read to the end.
func (c *Conn) lingerHeader() error {
	b, err := c.br.Peek(2)
	if err != nil {
		return err
	}
	if b, err = c.br.Peek(headerSize(b[1])); err != nil {
		return err
	}
	h, n, err := ParseHeader(b)
	if err != nil {
		c.rRemain = -1 // lost track of the frames: read to the end
		return nil
	}
	c.br.Discard(n)
	c.rSize += int64(n)
	c.rRemain = h.Length
	if h.Opcode == OpClose {
		return io.EOF // the end of what the peer sends (§5.5.1)
	}
	return nil
}

// closeState records that the TCP connection is closed, and gives those
// who wait for that (Close, Ping, the keep-alive) a channel closed then. The
// channel is made on the first wait, so that an idle connection nobody waits
// on holds none (the idle workload of benchmarks/).
type closeState struct {
	mu     sync.Mutex // held while closing, so a second closer waits for the first
	done   atomic.Bool
	hooked atomic.Bool // the Conn may have close hooks (closeHooks)
	ch     chan struct{}
}

// closedChan is the channel wait returns once the connection is closed, so
// that a wait then does not queue behind a closer still in net.Conn.Close
// (a TLS connection's may block on its close_notify for seconds).
var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// wait returns a channel closed once the TCP connection is.
func (s *closeState) wait() <-chan struct{} {
	if s.done.Load() {
		return closedChan
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
		if s.done.Load() {
			close(s.ch)
		}
	}
	return s.ch
}

func (c *Conn) closeTCP() {
	s := &c.closed
	s.mu.Lock()
	if s.done.Load() {
		s.mu.Unlock()
		return
	}
	// Mark the Conn closed first, so a read or write that the Close cuts
	// short sees it and reports ErrClosed.
	s.done.Store(true)
	if s.ch != nil {
		close(s.ch)
	}
	c.nc.Close()
	if s.hooked.Load() {
		c.runCloseHooks()
	}
	// A Poller reports the end itself, from a worker: the goroutine closing
	// may be its sweep, which an Observer must not hold up.
	observe := c.x != nil && c.x.obs != nil && !c.evented
	s.mu.Unlock()
	if observe {
		c.observeClosed(nil)
	}
}

func (c *Conn) isClosed() bool { return c.closed.done.Load() }

// errDataOnWriteOnly fails a connection whose peer sent a data message after
// CloseRead.
var errDataOnWriteOnly = errors.New("websocket: data message on a connection that only writes")

// CloseRead is for connections the application only writes to, such as a
// feed pushed to browsers. Control frames are handled only while some
// goroutine reads (see Conn), so without a reader such a connection never
// answers pings, never sees the pongs of PingInterval or Ping, and never
// notices the peer's Close frame. CloseRead starts a goroutine that reads
// the connection until it ends, doing all of that. A read deadline set on c
// still applies: when it passes the connection is closed.
//
// The peer is not expected to send data: a data message fails the
// connection with StatusPolicyViolation (1008). After CloseRead the
// application must not read from c. A Conn served by a Poller needs no
// CloseRead: the Poller reads it.
//
// The returned context is derived from ctx and is cancelled when the read
// side ends: the peer closed, the connection failed, or c was closed.
// context.Cause then returns the read's error (see IsNormalClose). A writer
// waiting for something to send selects on its Done channel to learn that
// the client has gone. Cancelling ctx cancels the returned context but
// leaves the connection and the goroutine alone: end them with Close.
func (c *Conn) CloseRead(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		c.readMu.Lock()
		defer c.readMu.Unlock()
		_, err := c.nextMessage()
		if err == nil {
			// The header of a data frame has been read and none of its
			// payload: fail as for any frame refused on its header.
			err = c.fail(StatusPolicyViolation, errDataOnWriteOnly)
		}
		// A read deadline that passed leaves the connection open and
		// readable (SetReadDeadline), but nobody would read it again.
		c.closeTCP()
		cancel(err)
	}()
	return ctx
}

// A feature that must hear of a Conn's closing, as a Group must to let its
// member go, registers a close hook; the engine calls each once, when the
// connection has closed, and names no feature. The hooks are kept here,
// off the Conn, so that a Conn with none pays for a flag only (the idle
// workload of benchmarks/).
type closeHook interface{ connClosed(c *Conn) }

var closeHooks struct {
	sync.Mutex
	m map[*Conn][]closeHook
}

// addCloseHook registers h to be told when c has closed.
func (c *Conn) addCloseHook(h closeHook) {
	closeHooks.Lock()
	if closeHooks.m == nil {
		closeHooks.m = make(map[*Conn][]closeHook)
	}
	closeHooks.m[c] = append(closeHooks.m[c], h)
	closeHooks.Unlock()
	c.closed.hooked.Store(true)
}

// removeCloseHook takes h off c's hooks.
func (c *Conn) removeCloseHook(h closeHook) {
	closeHooks.Lock()
	defer closeHooks.Unlock()
	hs := closeHooks.m[c]
	for i, x := range hs {
		if x == h {
			hs = append(hs[:i], hs[i+1:]...)
			break
		}
	}
	if len(hs) == 0 {
		delete(closeHooks.m, c)
	} else {
		closeHooks.m[c] = hs
	}
}

// runCloseHooks tells c's hooks, once, that it has closed.
func (c *Conn) runCloseHooks() {
	closeHooks.Lock()
	hs := closeHooks.m[c]
	delete(closeHooks.m, c)
	closeHooks.Unlock()
	for _, h := range hs {
		h.connClosed(c)
	}
}

// closeNowAll closes at once, with no closing handshake, the Conns that
// list returns with mu held: what a Group or a Poller serves, collected
// under its lock and closed outside it, since a close calls back into its
// owner (a close hook, a Poller's end).
func closeNowAll(mu sync.Locker, list func() []*Conn) {
	mu.Lock()
	conns := list()
	mu.Unlock()
	for _, c := range conns {
		c.CloseNow()
	}
}
