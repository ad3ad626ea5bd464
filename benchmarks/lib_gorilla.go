package benchmarks

import (
	"net"
	"net/http"

	"github.com/gorilla/websocket"
)

// gorilla: Upgrader through net/http (websocket.NewConn is not public), with
// the hijacked 4 KiB buffers reused (ReadBufferSize/WriteBufferSize 0);
// NextReader into a reused buffer; WriteMessage; PreparedMessage for fan-out.

var gorillaUpgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func init() {
	register(&Lib{
		Name: "gorilla",
		NewMem: func(nc net.Conn) (*MemConn, error) {
			c, err := gorillaUpgrader.Upgrade(newHijackWriter(nc), upgradeHTTPRequest(), nil)
			if err != nil {
				return nil, err
			}
			var buf []byte
			return &MemConn{
				Read: func(n int, got func([]byte)) error {
					for range n {
						_, r, err := c.NextReader()
						if err != nil {
							return err
						}
						if buf, err = readAll(r, buf); err != nil {
							return err
						}
						if got != nil {
							got(buf)
						}
					}
					return nil
				},
				Write:     func(p []byte) error { return c.WriteMessage(websocket.BinaryMessage, p) },
				WriteText: func(p []byte) error { return c.WriteMessage(websocket.TextMessage, p) },
				Close:     func() { c.Close() },
			}, nil
		},
		Serve: func(ln net.Listener) error {
			return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := gorillaUpgrader.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer c.Close()
				var buf []byte
				for {
					mt, rd, err := c.NextReader()
					if err != nil {
						return
					}
					if buf, err = readAll(rd, buf); err != nil {
						return
					}
					if err := c.WriteMessage(mt, buf); err != nil {
						return
					}
				}
			}))
		},
		NewHub: func(ln net.Listener) Hub {
			h := &gorillaHub{}
			go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := gorillaUpgrader.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				h.add(c)
				for {
					if _, _, err := c.NextReader(); err != nil {
						c.Close()
						return
					}
				}
			}))
			return h
		},
	})
}

type gorillaHub struct{ connSet[*websocket.Conn] }

func (h *gorillaHub) Broadcast(msgs [][]byte) error {
	pms := make([]*websocket.PreparedMessage, len(msgs))
	for i, m := range msgs {
		pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, m)
		if err != nil {
			return err
		}
		pms[i] = pm
	}
	conns := h.snapshot()
	return fanOut(len(conns), func(lo, hi int) error {
		for _, c := range conns[lo:hi] {
			for _, pm := range pms {
				if err := c.WritePreparedMessage(pm); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (h *gorillaHub) Close() {
	for _, c := range h.snapshot() {
		c.Close()
	}
}
