//go:build js

package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall/js"
	"time"
	"unicode/utf8"
)

// closeEvent is what the browser's close event tells: the code and reason of
// the Close frame received, or 1006 if none came (RFC 6455 §7.1.5).
type closeEvent struct {
	code   StatusCode
	reason string
}

// err returns the error reads return after the event: a *CloseError for
// the peer's Close frame, or for a connection this side closed an error
// wrapping errLocalClose (IsNormalClose).
func (e closeEvent) err(local bool) error {
	switch {
	case e.code == StatusAbnormalClosure:
		// The browser reports 1006 for a connection that ended without a
		// Close frame, and for one it failed itself (a frame breaking RFC
		// 6455, invalid UTF-8), whose cause it does not tell.
		return fmt.Errorf("websocket: connection ended without a close frame (the browser reports 1006): %w", io.ErrUnexpectedEOF)
	case local:
		return fmt.Errorf("%w: %w", errLocalClose, &CloseError{Code: e.code, Reason: e.reason})
	}
	return &CloseError{Code: e.code, Reason: e.reason}
}

// gotClose handles the close event, the last the browser sends.
func (c *Conn) gotClose(ev js.Value) {
	c.mu.Lock()
	c.closeEvent = closeEvent{code: StatusCode(ev.Get("code").Int()), reason: ev.Get("reason").String()}
	if c.rerr == nil {
		c.rerr = c.closeEvent.err(c.closing)
	}
	c.signal()
	c.mu.Unlock()
	c.closeOnce.Do(func() { close(c.closed) })
	c.release()
}

// scriptCode returns the code a script may send for code: a script may send
// only 1000 and 3000-4999 (the WebSocket API's close method throws on the
// others), so the codes 1001-1014 go out as the code plus 3000, 4001-4014,
// in the range RFC 6455 §7.4.2 leaves to private use.
func scriptCode(code StatusCode) StatusCode {
	if code > StatusNormalClosure && code < 3000 {
		return code + 3000
	}
	return code
}

// closeWS asks the browser for a Close frame with code (none if 0) and
// reason, and returns what the browser throws, if it does.
func (c *Conn) closeWS(code StatusCode, reason string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			jerr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("websocket: close: %w", jerr)
		}
	}()
	if code == 0 {
		c.ws.Call("close")
	} else {
		c.ws.Call("close", int(scriptCode(code)), reason)
	}
	return nil
}

// failLocked ends the connection for a failure seen on this side: reads
// return err once the messages queued before are read. The caller holds mu.
func (c *Conn) failLocked(code StatusCode, reason string, err error) {
	c.rerr = err
	if !c.closing {
		c.closing = true
		c.closeWS(code, reason)
	}
	c.signal()
}

// Close performs the closing handshake through the browser: it asks the
// browser to send a Close frame with code and reason, and waits up to the
// close timeout for the browser's close event, which comes once the peer has
// answered and the connection has ended. code 0 sends a Close frame with no
// body. Close may be called from any goroutine, while another reads or
// writes: a reading goroutine gets the messages that arrive until the peer's
// Close frame, then an error for which IsNormalClose is true. It returns an
// error wrapping ErrClosed if the connection was already closing or closed.
//
// A script may send only 1000 and 3000-4999, so the other codes a Conn may
// send (1001-1003 and 1007-1014) go out as the code plus 3000, with the
// reason as given: StatusGoingAway arrives as 4001, and the failures the Conn
// detects itself, StatusPolicyViolation and StatusMessageTooBig, as 4008 and
// 4009. A reason longer than 123 bytes is cut, at a character boundary.
//
// When no close event comes within the close timeout, Close returns nil all
// the same and the Conn is done with the connection; the browser goes on
// waiting for the peer, as no script can cut a connection short.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code != 0 && !code.validOnWire() {
		return fmt.Errorf("websocket: close code %d may not be sent", code)
	}
	if !utf8.ValidString(reason) {
		return fmt.Errorf("websocket: close reason: %w", ErrInvalidUTF8)
	}
	if len(reason) > MaxControlPayload-2 {
		reason = reason[:MaxControlPayload-2]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	select {
	case <-c.closed:
		return fmt.Errorf("websocket: close: %w", ErrClosed)
	default:
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return fmt.Errorf("websocket: close: %w: close frame already sent", ErrClosed)
	}
	c.closing = true
	c.mu.Unlock()
	if err := c.closeWS(code, reason); err != nil {
		c.finish(fmt.Errorf("%w: %w", errLocalClose, err))
		return err
	}
	t := time.NewTimer(c.closeTimeout)
	defer t.Stop()
	select {
	case <-c.closed:
		return nil
	case <-t.C:
		// The browser keeps waiting for the peer, and no script can cut
		// the connection short; this Conn is done with it.
		c.finish(fmt.Errorf("%w: no close event within the close timeout (%v)", errLocalClose, c.closeTimeout))
		return nil
	}
}

// finish ends the Conn on this side: reads in progress and later ones return
// err, and Done is closed.
func (c *Conn) finish(err error) {
	c.mu.Lock()
	c.queue, c.head, c.queuedBytes = nil, 0, 0
	if c.rerr == nil {
		c.rerr = err
	}
	c.signal()
	c.mu.Unlock()
	c.closeOnce.Do(func() { close(c.closed) })
}

// CloseNow ends the Conn at once: reads and writes in progress return errors
// wrapping ErrClosed. A script cannot drop a connection without the closing
// handshake, so CloseNow asks the browser for a Close frame with no code, as
// close() does, and returns without waiting for the answer.
func (c *Conn) CloseNow() error {
	c.mu.Lock()
	closing := c.closing
	c.closing = true
	c.mu.Unlock()
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	if !closing {
		c.closeWS(0, "")
	}
	c.finish(fmt.Errorf("%w: CloseNow", errLocalClose))
	return nil
}

var errDataOnWriteOnly = errors.New("websocket: data message on a connection that only writes")

// CloseRead is for connections the application only writes to. It starts a
// goroutine that reads the connection until it ends, so that the peer's
// Close frame is noticed; the browser answers pings itself. A data message
// from the peer fails the connection with StatusPolicyViolation (sent as
// 4008, see Close). After CloseRead the application must not read from c.
//
// The returned context is derived from ctx and is cancelled when the read side
// ends; context.Cause then returns the read's error (see IsNormalClose).
func (c *Conn) CloseRead(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		_, err := c.next()
		if err == nil {
			c.mu.Lock()
			c.failLocked(StatusPolicyViolation, "data on a write-only connection", errDataOnWriteOnly)
			c.mu.Unlock()
			err = errDataOnWriteOnly
		}
		cancel(err)
	}()
	return ctx
}

// Ping returns an error wrapping errors.ErrUnsupported: a script cannot send
// pings. The browser answers the server's pings itself.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	return 0, unsupported("Ping", "a script cannot send pings")
}

// WritePing returns an error wrapping errors.ErrUnsupported: a script cannot
// send pings.
func (c *Conn) WritePing(payload []byte) error {
	return unsupported("WritePing", "a script cannot send pings")
}

// WritePong returns an error wrapping errors.ErrUnsupported: a script cannot
// send pongs. The browser answers the server's pings itself.
func (c *Conn) WritePong(payload []byte) error {
	return unsupported("WritePong", "a script cannot send pongs")
}

// SetPingHandler has no effect: the browser answers pings itself and does
// not show them to scripts.
func (c *Conn) SetPingHandler(h func(payload []byte) error) {}

// SetPongHandler has no effect: the browser does not show pongs to scripts.
func (c *Conn) SetPongHandler(h func(payload []byte) error) {}

// SetWriteCompression has no effect: the browser decides which messages it
// compresses, when permessage-deflate was agreed.
func (c *Conn) SetWriteCompression(enabled bool) {}
