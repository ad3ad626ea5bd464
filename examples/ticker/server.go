package main

import (
	"net"
	"sync"
	"time"

	"github.com/fullduplex/websocket"
)

// server accepts WebSocket clients on a listener of its own (AcceptConn,
// no net/http: nothing per connection but the Conn), hands each to a
// Poller, and ticks to all of them.
type server struct {
	poller *websocket.Poller
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	clients map[*websocket.Conn]bool // value: paused
}

// newServer ticks every interval; ping, if positive, is the Poller's
// keep-alive (PollerOptions.PingInterval), which drops clients gone silent,
// paused ones included, with no goroutine each.
func newServer(every, ping time.Duration) (*server, error) {
	p, err := websocket.NewPoller(&websocket.PollerOptions{PingInterval: ping})
	if err != nil {
		return nil, err
	}
	s := &server{poller: p, stop: make(chan struct{}), done: make(chan struct{}), clients: make(map[*websocket.Conn]bool)}
	go s.tick(every)
	return s, nil
}

// Serve accepts connections on ln until it is closed. The handshake runs
// on a goroutine of its own, bounded by the default handshake timeout;
// once it is done, the goroutine ends and the Poller has the connection.
func (s *server) Serve(ln net.Listener) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			c, err := websocket.AcceptConn(nc, nil, &websocket.AcceptOptions{SkipOriginCheck: true})
			if err != nil {
				nc.Close()
				return
			}
			s.mu.Lock()
			s.clients[c] = false
			s.mu.Unlock()
			if err := s.poller.Add(c, s); err != nil {
				s.HandleClose(c, err)
				c.CloseNow()
			}
		}()
	}
}

// HandleMessage runs on one of the Poller's workers: "pause" and "resume"
// stop and restart the ticks for this client.
func (s *server) HandleMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	switch string(p) {
	case "pause", "resume":
		s.mu.Lock()
		if _, ok := s.clients[c]; ok {
			s.clients[c] = string(p) == "pause"
		}
		s.mu.Unlock()
	}
}

// HandleClose forgets the client.
func (s *server) HandleClose(c *websocket.Conn, err error) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
}

// tick sends the time to every client that is not paused. The message is
// encoded once for all of them; a client that cannot take it within a
// second is dropped rather than left to hold up the others.
func (s *server) tick(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	var conns []*websocket.Conn
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			pm, err := websocket.NewPreparedMessage(websocket.OpText, []byte(now.UTC().Format(time.RFC3339Nano)))
			if err != nil {
				continue
			}
			conns = conns[:0]
			s.mu.Lock()
			for c, paused := range s.clients {
				if !paused {
					conns = append(conns, c)
				}
			}
			s.mu.Unlock()
			for _, c := range conns {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if err := c.WritePreparedMessage(pm); err != nil {
					c.CloseNow()
				}
			}
		}
	}
}

// Close stops the ticks and closes every connection.
func (s *server) Close() {
	close(s.stop)
	<-s.done
	s.poller.Close()
}
