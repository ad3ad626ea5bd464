package benchmarks

import websocket "github.com/fullduplex/websocket"

// TEMPORARY until prepared.go lands.
func (h *fdHub) Broadcast(msgs [][]byte) error {
	conns := h.snapshot()
	return fanOut(len(conns), func(lo, hi int) error {
		for _, c := range conns[lo:hi] {
			for _, m := range msgs {
				if err := c.WriteMessage(websocket.OpBinary, m); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
