package benchmarks

import (
	"net"
	"net/http"

	websocket "github.com/fullduplex/websocket"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
)

// The servers of the scale workload (scale.go), beside the libraries of
// LibOrder, which it also runs:
//
//   - fullduplex-poller: AcceptConn, then a websocket.Poller (epoll) serves
//     the connection over a descriptor it takes over; the handler echoes.
//     The handshake runs on a goroutine that ends with it.
//   - fullduplex-http: Accept through net/http, a goroutine per connection
//     (the handler's) reading with AppendMessage.
//   - fullduplex-http-go: Accept through net/http, then the handler hands
//     the Conn to a goroutine of its own, which reads with AppendMessage,
//     and returns, so that net/http lets go of the request (gorilla's chat
//     example does the same with its pumps).
//   - nbio: lesismal/nbio's nbhttp engine in its default non-blocking mode
//     (its own epoll), websocket.Upgrader with OnMessage echoing.
//
// They serve the echo server only (Serve), for the loopback workloads.

// ScaleOrder is the order of columns in the scale workload.
var ScaleOrder = []string{"fullduplex-poller", "nbio", "fullduplex", "fullduplex-http", "fullduplex-http-go", "gorilla", "coder", "gobwas", "gws"}

type pollerEcho struct{}

func (pollerEcho) HandleMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	c.WriteMessage(op, p)
}

func (pollerEcho) HandleClose(*websocket.Conn, error) {}

func init() {
	register(&Lib{
		Name:         "fullduplex-poller",
		ReadsRequest: true,
		Serve: func(ln net.Listener) error {
			// The Poller, like nbio, takes the descriptor over and closes
			// the net.Conn; tracking that would keep the closed net.Conn
			// alive. Poller.Close closes every connection it serves.
			if tl, ok := ln.(*trackListener); ok {
				ln = tl.Listener
			}
			p, err := websocket.NewPoller(nil)
			if err != nil {
				return err
			}
			defer p.Close()
			for {
				nc, err := ln.Accept()
				if err != nil {
					return err
				}
				go func() {
					c, err := fdAccept(nc)
					if err != nil {
						nc.Close()
						return
					}
					if err := p.Add(c, pollerEcho{}); err != nil {
						c.CloseNow()
					}
				}()
			}
		},
	})
	register(&Lib{
		Name: "fullduplex-http",
		Serve: func(ln net.Listener) error {
			return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := websocket.Accept(w, r, &websocket.AcceptOptions{SkipOriginCheck: true})
				if err != nil {
					return
				}
				fdEcho(c)
			}))
		},
	})
	register(&Lib{
		Name: "fullduplex-http-go",
		Serve: func(ln net.Listener) error {
			return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := websocket.Accept(w, r, &websocket.AcceptOptions{SkipOriginCheck: true})
				if err != nil {
					return
				}
				go fdEcho(c)
			}))
		},
	})
	register(&Lib{
		Name: "nbio",
		Serve: func(ln net.Listener) error {
			// nbio takes the descriptor over (a dup) and closes the
			// net.Conn; tracking that would keep the closed net.Conn
			// alive, a cost nbio does not have. Closing the listener ends
			// Serve, which stops the engine and its connections.
			if tl, ok := ln.(*trackListener); ok {
				ln = tl.Listener
			}
			logging.SetLevel(logging.LevelNone)
			u := nbws.NewUpgrader()
			u.CheckOrigin = func(*http.Request) bool { return true }
			u.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) {
				c.WriteMessage(mt, data)
			})
			mux := http.NewServeMux()
			mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
				u.Upgrade(w, r, nil)
			})
			e := nbhttp.NewEngine(nbhttp.Config{Handler: mux, MaxLoad: 1 << 20})
			if err := e.Start(); err != nil {
				return err
			}
			defer e.Stop()
			for {
				nc, err := ln.Accept()
				if err != nil {
					return err
				}
				e.AddConnNonTLSNonBlocking(&nbhttp.Conn{Conn: nc}, nil, func() {})
			}
		},
	})
}

// fdEcho writes back every message of c until it ends, then closes c.
func fdEcho(c *websocket.Conn) {
	defer c.CloseNow()
	var buf []byte
	for {
		op, b, err := c.AppendMessage(buf[:0])
		if err != nil {
			return
		}
		buf = b
		if err := c.WriteMessage(op, buf); err != nil {
			return
		}
	}
}
