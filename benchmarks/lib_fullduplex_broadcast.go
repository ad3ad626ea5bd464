package benchmarks

import websocket "github.com/fullduplex/websocket"

// Broadcast encodes each message once with NewPreparedMessage and queues it
// for every connection with Group.Broadcast: each connection's writer
// goroutine, running only while its queue is not empty, writes everything
// queued in one writev of the shared frames.
func (h *fdHub) Broadcast(msgs [][]byte) error {
	for _, m := range msgs {
		pm, err := websocket.NewPreparedMessage(websocket.OpBinary, m)
		if err != nil {
			return err
		}
		h.g.Broadcast(pm)
	}
	return nil
}
