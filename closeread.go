package websocket

import (
	"context"
	"errors"
)

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
