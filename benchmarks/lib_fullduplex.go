package benchmarks

import (
	"context"
	"net"

	websocket "github.com/fullduplex/websocket"
)

// fullduplex: AcceptConn straight on the net.Conn (no net/http);
// AppendMessage into a reused buffer; WriteMessage; NewPreparedMessage and
// WritePreparedMessage for fan-out (the frame is encoded once and the same
// bytes go to every connection). The client offers no compression, so none
// is negotiated, as with every other library here.

func fdAccept(nc net.Conn) (*websocket.Conn, error) {
	return websocket.AcceptConn(nc, nil, nil)
}

func init() {
	register(&Lib{
		Name:          "fullduplex",
		ValidatesUTF8: true,
		ReadsRequest:  true,
		NewMem: func(nc net.Conn) (*MemConn, error) {
			c, err := fdAccept(nc)
			if err != nil {
				return nil, err
			}
			var buf []byte
			return &MemConn{
				Read: func(n int, got func([]byte)) error {
					for range n {
						var err error
						if _, buf, err = c.AppendMessage(buf[:0]); err != nil {
							return err
						}
						if got != nil {
							got(buf)
						}
					}
					return nil
				},
				Write:     func(p []byte) error { return c.WriteMessage(websocket.OpBinary, p) },
				WriteText: func(p []byte) error { return c.WriteMessage(websocket.OpText, p) },
				Close:     func() { c.CloseNow() },
			}, nil
		},
		Serve: func(ln net.Listener) error {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return err
				}
				go func() {
					c, err := fdAccept(nc)
					if err != nil {
						nc.Close()
						return
					}
					fdEcho(c)
				}()
			}
		},
		NewHub: func(ln net.Listener) Hub {
			h := &fdHub{}
			go fdServeHub(ln, &h.g)
			return h
		},
	})
}

// fdServeHub accepts WebSocket clients on ln into g, each read by its own
// goroutine until it fails. A round's burst (100 messages) fits a member's
// queue: the default, 256, takes it.
func fdServeHub(ln net.Listener, g *websocket.Group) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			c, err := fdAccept(nc)
			if err != nil {
				nc.Close()
				return
			}
			if !g.Add(c) {
				c.CloseNow()
				return
			}
			var buf []byte
			for {
				if _, buf, err = c.AppendMessage(buf[:0]); err != nil {
					c.CloseNow()
					return
				}
			}
		}()
	}
}

type fdHub struct{ g websocket.Group }

func (h *fdHub) Len() int { return h.g.Len() }

// Close ends every connection at once: Shutdown with a context already
// done closes with 1001 and then cuts the connections without waiting.
func (h *fdHub) Close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.g.Shutdown(ctx)
}
