//go:build !js

package websocket

import (
	"bufio"
	"fmt"
	"io"
	"sync"

	"github.com/fullduplex/websocket/internal/netpoll"
)

// Read buffers. A Conn whose read buffer has the default size holds it only
// while input is arriving: between messages, with nothing buffered, it goes
// back to readerPool, and a reader waits for input holding none (where the
// connection can report readiness: see readyReader), so an idle connection
// costs no read buffer (the idle workload of benchmarks/). The blocking API
// and the Poller share this: in both, the frame state machine of conn.go
// reads from c.br once readyReader or attachReader has given it one.

// readerPool holds *bufio.Reader of DefaultBufferSize, reading from nil.
var readerPool sync.Pool

// putReader gives br to readerPool if it has the default size. Its
// buffered bytes, if any, are lost. net/http's hijacked reader goes there
// too: the server does not touch it after the hijack.
func putReader(br *bufio.Reader) {
	if br.Size() == DefaultBufferSize {
		br.Reset(nil)
		readerPool.Put(br)
	}
}

// attachReader gives c a read buffer if it has none. The caller holds
// readMu, or is the only goroutine that reads c.
func (c *Conn) attachReader() {
	if c.br != nil {
		return
	}
	br, ok := readerPool.Get().(*bufio.Reader)
	if !ok {
		br = newReader()
	}
	resetReader(br, c.nc)
	c.br = br
}

// newReader and resetReader are apart from attachReader, and not inlined,
// to keep its frame small: a reader's stack stays within the 2 KiB a
// goroutine starts with only if every frame on the read path is small (see
// TestConnReaderStackStaysSmall).
//
//go:noinline
func newReader() *bufio.Reader { return bufio.NewReaderSize(nil, DefaultBufferSize) }

//go:noinline
func resetReader(br *bufio.Reader, r io.Reader) { br.Reset(r) }

// releaseReader gives c's read buffer back to readerPool if it is of the
// default size and holds nothing. The caller holds readMu.
func (c *Conn) releaseReader() {
	if c.br == nil || c.br.Buffered() > 0 || c.br.Size() != DefaultBufferSize {
		return
	}
	putReader(c.br)
	c.br = nil
}

// readyReader is called between messages, before the next frame header is
// read: with nothing buffered, it waits for input without holding a read
// buffer, if the connection can say when input is ready, and then attaches
// one. The caller holds readMu.
func (c *Conn) readyReader() error {
	if c.br != nil && (c.br.Buffered() > 0 || c.br.Size() != DefaultBufferSize) {
		return nil
	}
	rc := netpoll.RawConn(c.nc)
	if rc == nil {
		// An HTTP/2 stream can say when input is ready too (h2stream).
		if w, ok := c.nc.(interface{ WaitReadable() error }); ok {
			c.releaseReader()
			if err := w.WaitReadable(); err != nil {
				return c.idleReadFailed(err)
			}
		}
		c.attachReader()
		return nil
	}
	c.releaseReader()
	// The wait honours the read deadline and ends when the connection is
	// closed, as a read would; the read that follows reports EOF and errors.
	if err := netpoll.WaitReadable(rc); err != nil {
		return c.idleReadFailed(err)
	}
	c.attachReader()
	// The first read of the message is made here rather than deeper, under
	// the frame parsing, so that the read path's deepest stack is that of
	// a small frame whose bytes are buffered (TestConnReaderStackStaysSmall).
	if _, err := c.br.Peek(1); err != nil {
		return c.idleReadFailed(err)
	}
	return nil
}

// idleReadFailed records a failed read between messages, before any byte
// of the next one has arrived. A timeout then loses nothing, so the Conn
// stays readable (SetReadDeadline). The caller holds readMu.
func (c *Conn) idleReadFailed(err error) error {
	if err == errWouldBlock {
		return err
	}
	if isTimeout(err) && !c.isClosed() {
		// bufio.Reader clears a read error once it has returned it, so
		// the next read tries the network again.
		return fmt.Errorf("websocket: read: %w", err)
	}
	return c.readFailed(err)
}
