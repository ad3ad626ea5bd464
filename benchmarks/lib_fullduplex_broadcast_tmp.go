package benchmarks

import websocket "github.com/fullduplex/websocket"

// Broadcast writes each message to every connection with WriteMessage.
// The package has no PreparedMessage yet (prepared.go); once it has, this
// file gives way to one that encodes each message once with
// NewPreparedMessage and sends it with WritePreparedMessage.
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
