package websocket

import (
	"bufio"
	"net"
	"time"
)

// DefaultReadLimit is the largest message a Conn reads unless SetReadLimit or
// the ReadLimit option says otherwise.
const DefaultReadLimit = 16 << 20

// connConfig is what the handshake hands to newConn.
type connConfig struct {
	subprotocol     string
	readLimit       int64
	readBufferSize  int
	writeBufferSize int
	pingInterval    time.Duration
	closeTimeout    time.Duration
}

// Conn is a WebSocket connection. (stub: being written)
type Conn struct {
	nc     net.Conn
	br     *bufio.Reader
	server bool
	cfg    connConfig
}

func newConn(nc net.Conn, br *bufio.Reader, server bool, cfg connConfig) *Conn {
	return &Conn{nc: nc, br: br, server: server, cfg: cfg}
}
