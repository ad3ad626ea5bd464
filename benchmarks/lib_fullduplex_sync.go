package benchmarks

import (
	"net"

	websocket "github.com/fullduplex/websocket"
)

// fullduplex-sync is fullduplex's fan-out before Group, kept to compare
// against: WritePreparedMessage from GOMAXPROCS goroutines over shards of
// the connections, one write(2) per message per connection. It serves the
// broadcast workload only and is not in LibOrder: name it with -libs.

type fdSyncHub struct{ connSet[*websocket.Conn] }

func (h *fdSyncHub) Broadcast(msgs [][]byte) error {
	pms := make([]*websocket.PreparedMessage, len(msgs))
	for i, m := range msgs {
		pm, err := websocket.NewPreparedMessage(websocket.OpBinary, m)
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

func (h *fdSyncHub) Close() {
	for _, c := range h.snapshot() {
		c.CloseNow()
	}
}

func init() {
	register(&Lib{
		Name: "fullduplex-sync",
		NewHub: func(ln net.Listener) Hub {
			h := &fdSyncHub{}
			go func() {
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
						h.add(c)
						var buf []byte
						for {
							if _, buf, err = c.AppendMessage(buf[:0]); err != nil {
								c.CloseNow()
								return
							}
						}
					}()
				}
			}()
			return h
		},
	})
}
