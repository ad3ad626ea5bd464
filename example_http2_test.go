//go:build !js

package websocket_test

import (
	"net/http"
	"sync"

	"github.com/fullduplex/websocket"
)

// A handler that gives the Conn to other goroutines, here a room that
// broadcasts to its members, waits for Done before it returns: over HTTP/2
// the WebSocket is a stream that ends with the handler (RFC 8441). Over
// HTTP/1.1 the wait is harmless.
func ExampleConn_Done() {
	var mu sync.Mutex
	room := map[*websocket.Conn]bool{}
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		room[c] = true // others write to c from now on
		mu.Unlock()
		go func() {
			defer c.CloseNow()
			for {
				op, msg, err := c.ReadMessage()
				if err != nil {
					break
				}
				mu.Lock()
				for m := range room {
					m.WriteMessage(op, msg)
				}
				mu.Unlock()
			}
			mu.Lock()
			delete(room, c)
			mu.Unlock()
		}()
		<-c.Done() // the handler outlives every use of c
	})
}
