// Package netpoll is what the WebSocket engine needs of the kernel's
// readiness reports: a wait for input that holds no buffer (WaitReadable),
// an epoll instance of one's own (Epoll), and sockets read and written
// without ever waiting (FD). On systems other than Linux there is none of
// it: RawConn returns nil and New fails with errors.ErrUnsupported.
package netpoll

import "errors"

// ErrWouldBlock is returned by FD.Read when nothing has arrived: the caller
// reads again once epoll reports input.
var ErrWouldBlock = errors.New("websocket: no input yet")
