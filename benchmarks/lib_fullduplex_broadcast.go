package benchmarks

import (
	"net"

	websocket "github.com/fullduplex/websocket"
)

// Broadcast encodes each message once with NewPreparedMessage and queues
// the round's messages for every connection with one Group.Broadcast: each
// connection's writer goroutine, running only while its queue is not empty,
// writes them in one writev of the shared frames (64 frames at most per
// writev).
func (h *fdHub) Broadcast(msgs [][]byte) error {
	pms, err := prepareAll(msgs)
	if err != nil {
		return err
	}
	h.g.Broadcast(pms...)
	return nil
}

func prepareAll(msgs [][]byte) ([]*websocket.PreparedMessage, error) {
	pms := make([]*websocket.PreparedMessage, len(msgs))
	for i, m := range msgs {
		pm, err := websocket.NewPreparedMessage(websocket.OpBinary, m)
		if err != nil {
			return nil, err
		}
		pms[i] = pm
	}
	return pms, nil
}

// fullduplex-each is the same hub broadcasting one message per call, as
// gws's Broadcaster must: a member's writer then sends what has queued by
// the time it runs. Not in LibOrder: name it with -libs.
type fdEachHub struct{ fdHub }

func (h *fdEachHub) Broadcast(msgs [][]byte) error {
	pms, err := prepareAll(msgs)
	if err != nil {
		return err
	}
	for _, pm := range pms {
		h.g.Broadcast(pm)
	}
	return nil
}

func init() {
	register(&Lib{
		Name: "fullduplex-each",
		NewHub: func(ln net.Listener) Hub {
			h := &fdEachHub{}
			go fdServeHub(ln, &h.g)
			return h
		},
	})
}
