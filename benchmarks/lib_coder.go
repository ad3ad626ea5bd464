package benchmarks

import (
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// coder: Accept through net/http (the only way in); Reader into a reused
// buffer (Read allocates a fresh slice per message); Write per connection for
// fan-out (coder has no prepared-message API). The read limit is lifted so
// that 1 MiB messages pass (the default is 32 KiB).

var coderOpts = &websocket.AcceptOptions{InsecureSkipVerify: true}

func coderAccept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	c, err := websocket.Accept(w, r, coderOpts)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(-1)
	return c, nil
}

func init() {
	ctx := context.Background()
	register(&Lib{
		Name: "coder",
		NewMem: func(nc net.Conn) (*MemConn, error) {
			c, err := coderAccept(newHijackWriter(nc), upgradeHTTPRequest())
			if err != nil {
				return nil, err
			}
			var buf []byte
			return &MemConn{
				Read: func(n int, got func([]byte)) error {
					for range n {
						_, r, err := c.Reader(ctx)
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
				Write:     func(p []byte) error { return c.Write(ctx, websocket.MessageBinary, p) },
				WriteText: func(p []byte) error { return c.Write(ctx, websocket.MessageText, p) },
				Close:     func() { c.CloseNow() },
			}, nil
		},
		Serve: func(ln net.Listener) error {
			return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := coderAccept(w, r)
				if err != nil {
					return
				}
				defer c.CloseNow()
				var buf []byte
				for {
					typ, rd, err := c.Reader(ctx)
					if err != nil {
						return
					}
					if buf, err = readAll(rd, buf); err != nil {
						return
					}
					if err := c.Write(ctx, typ, buf); err != nil {
						return
					}
				}
			}))
		},
		NewHub: func(ln net.Listener) Hub {
			h := &coderHub{}
			go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := coderAccept(w, r)
				if err != nil {
					return
				}
				h.add(c)
				var buf []byte
				for {
					_, rd, err := c.Reader(ctx)
					if err == nil {
						buf, err = readAll(rd, buf)
					}
					if err != nil {
						c.CloseNow()
						return
					}
				}
			}))
			return h
		},
	})
}

type coderHub struct{ connSet[*websocket.Conn] }

func (h *coderHub) Broadcast(msgs [][]byte) error {
	ctx := context.Background()
	conns := h.snapshot()
	return fanOut(len(conns), func(lo, hi int) error {
		for _, c := range conns[lo:hi] {
			for _, m := range msgs {
				if err := c.Write(ctx, websocket.MessageBinary, m); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (h *coderHub) Close() {
	for _, c := range h.snapshot() {
		c.CloseNow()
	}
}
