package benchmarks

import websocket "github.com/fullduplex/websocket"

// Broadcast encodes each message once with NewPreparedMessage and writes
// the same frame bytes to every connection with WritePreparedMessage.
func (h *fdHub) Broadcast(msgs [][]byte) error {
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
