//go:build !js

package websocket

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fullduplex/websocket/internal/utf8valid"
)

// connConfig is what the handshake hands to newConn; zero fields mean defaults.
type connConfig struct {
	subprotocol     string
	readLimit       int64
	readBufferSize  int
	writeBufferSize int
	pingInterval    time.Duration
	closeTimeout    time.Duration
	deflate         *deflateParams // nil: permessage-deflate not negotiated (RFC 7692, compress.go)
}

// Conn is a WebSocket connection, made by Accept, AcceptConn or Dial.
//
// Concurrency: one goroutine at a time may read (ReadMessage, AppendMessage,
// ReadJSON, NextReader and the reader it returns). Any number of goroutines
// may write at once (WriteMessage, WriteJSON, NextWriter,
// WritePreparedMessage, WritePing, WritePong, Ping):
// messages are written whole, one after another, never interleaved; control
// frames may go out between the frames of a message being streamed through
// NextWriter. Close and CloseNow may be called from any goroutine at any time.
//
// Control frames are handled while reading: a ping is answered with a pong, a
// Close frame is answered and ends the connection. Ping and PingInterval
// therefore need some goroutine to be reading; on a Conn the application only
// writes to, CloseRead is that goroutine.
type Conn struct {
	// Fields are ordered to leave no padding: the Conn fills the 288-byte
	// size class exactly, so an idle connection pays no more than that
	// for it (the idle workload of benchmarks/). Buffers are the pools'
	// and lent only while a frame is read or written.
	nc           net.Conn
	br           *bufio.Reader
	x            *connExtra // nil: no subprotocol, response or Observer (observe.go)
	closeTimeout time.Duration

	// Read side: guarded by readMu, held by the one reader (or by Close
	// when no reader is active).
	readLimit atomic.Int64
	rerr      error // sticky: every later read returns it
	rRemain   int64 // payload bytes left in the current frame
	rMaskPos  int   // key position of the next payload byte
	rSize     int64 // payload bytes of the current message so far
	mr        messageReader
	onPing    func([]byte) error
	onPong    func([]byte) error
	pinger    atomic.Pointer[pinger] // Ping's waiters; nil until the first Ping
	readMu    sync.Mutex
	rMask     [4]byte             // masking key of the current frame
	rOp       Opcode              // type of the message being read, 0 between messages
	rFin      bool                // the current frame is the message's last
	rMasked   bool                // the current frame is masked
	rComp     bool                // the current message is compressed (RFC 7692 §6.2)
	rOne      [1]byte             // AppendMessage's probe for the end of a compressed message
	rUTF8     utf8valid.Validator // state of the current text message
	server    bool
	evented   bool // read as input is reported (a Poller), not by the application; readMu
	midFrames bool // a message's first frames are out, not its last; frameMu

	// Write side. msgMu is held for a whole message, frameMu for one frame;
	// control frames take only frameMu, so they can pass a streamed message,
	// and so do messages of one frame while no message is mid-frames
	// (write.go).
	msgMu     sync.Mutex
	frameMu   sync.Mutex
	closeSent atomic.Bool
	byApp     atomic.Bool // closed by CloseNow (IsNormalClose)
	ncMu      sync.Mutex  // guards nc where no other lock does (netConn)
	wbuf      []byte      // MaxHeaderSize bytes of room, then the payload buffer; msgMu
	wbufSize  int
	mw        messageWriter
	werr      error // sticky; frameMu

	comp   *compression // permessage-deflate state; nil when not negotiated
	closed closeState   // whether the TCP connection is closed (close.go)
}

func newConn(nc net.Conn, br *bufio.Reader, server bool, cfg connConfig) *Conn {
	size := cfg.readBufferSize
	if size <= 0 {
		size = DefaultBufferSize
	}
	// Keep the handshake's reader when it holds bytes already read past the
	// handshake (frames the peer sent at once). Otherwise a read buffer of
	// the default size is taken from readerPool when input arrives
	// (readbuf.go), and the handshake's goes there; another size is the
	// Conn's own for good.
	if br != nil && br.Buffered() == 0 && (size == DefaultBufferSize || br.Size() != size) {
		putReader(br)
		br = nil
	}
	if br == nil && size != DefaultBufferSize {
		br = bufio.NewReaderSize(nc, size)
	}
	c := &Conn{
		nc:           nc,
		br:           br,
		server:       server,
		closeTimeout: cfg.closeTimeout,
		wbufSize:     cfg.writeBufferSize,
	}
	if cfg.subprotocol != "" {
		c.x = &connExtra{subprotocol: cfg.subprotocol}
	}
	if c.closeTimeout <= 0 {
		c.closeTimeout = DefaultCloseTimeout
	}
	if c.wbufSize <= 0 {
		c.wbufSize = DefaultBufferSize
	}
	limit := cfg.readLimit
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	c.readLimit.Store(limit)
	c.mr.c = c
	c.mw.c = c
	if cfg.deflate != nil {
		c.comp = newCompression(cfg.deflate)
		c.comp.src.c = c
	}
	if cfg.pingInterval > 0 {
		if c.x == nil {
			c.x = new(connExtra)
		}
		c.x.stopPings = make(chan struct{})
		go c.keepAlive(cfg.pingInterval, c.x.stopPings, nil)
	}
	return c
}

// Subprotocol returns the subprotocol chosen in the handshake, or "".
func (c *Conn) Subprotocol() string {
	if c.x == nil {
		return ""
	}
	return c.x.subprotocol
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr {
	c.ncMu.Lock()
	defer c.ncMu.Unlock()
	return c.nc.LocalAddr()
}

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr {
	c.ncMu.Lock()
	defer c.ncMu.Unlock()
	return c.nc.RemoteAddr()
}

// netConn returns c.nc to a caller that holds none of the locks its users
// hold (readMu, frameMu, closed.mu): Poller.Add replaces it, under ncMu too.
func (c *Conn) netConn() net.Conn {
	c.ncMu.Lock()
	defer c.ncMu.Unlock()
	return c.nc
}

// SetReadLimit sets the largest message, in bytes, that reads accept. A larger
// message fails the read with an error wrapping ErrMessageTooBig and closes the
// connection with StatusMessageTooBig, without reading the rest of it.
func (c *Conn) SetReadLimit(n int64) { c.readLimit.Store(n) }

// SetDeadline sets the read and write deadlines, as net.Conn does. A write
// that times out leaves the Conn unusable for writing; for reads, see
// SetReadDeadline.
func (c *Conn) SetDeadline(t time.Time) error {
	c.ncMu.Lock()
	defer c.ncMu.Unlock()
	return c.nc.SetDeadline(t)
}

// SetReadDeadline sets the deadline for reads, as net.Conn does. A read that
// times out while waiting for the next message, before any byte of it has
// arrived, returns an error for which os.ErrDeadlineExceeded is true and
// leaves the Conn readable: set a later deadline and read again, as a server
// polling idle clients does. A timeout anywhere else, inside a message or
// inside a frame header, leaves the stream in mid-frame and fails every
// later read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.ncMu.Lock()
	defer c.ncMu.Unlock()
	return c.nc.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for writes, as net.Conn does.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.ncMu.Lock()
	defer c.ncMu.Unlock()
	return c.nc.SetWriteDeadline(t)
}

// SetPingHandler sets the function called with the payload of each ping
// received. The payload is only valid during the call. A non-nil error from h
// is returned by the read. nil restores the default, which answers with a pong
// carrying the same payload (RFC 6455 §5.5.2). Call it before reading, or from
// the reading goroutine.
func (c *Conn) SetPingHandler(h func(payload []byte) error) { c.onPing = h }

// SetPongHandler sets the function called with the payload of each pong
// received, which is only valid during the call. A non-nil error from h is
// returned by the read, as a ping handler's is. Call it before reading, or
// from the reading goroutine.
func (c *Conn) SetPongHandler(h func(payload []byte) error) { c.onPong = h }
