package benchmarks

import (
	"bufio"
	"io"
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
//   - http-floor: not a WebSocket library but what net/http alone holds for
//     a handler that keeps its goroutine: the handler hijacks, answers the
//     handshake, swaps net/http's hijacked buffers for tiny ones and echoes
//     frames by hand, with a 64-byte buffer and nothing else. Every library
//     read in the handler pays at least this.
//   - nbio: lesismal/nbio's nbhttp engine in its default non-blocking mode
//     (its own epoll), websocket.Upgrader with OnMessage echoing.
//
// They serve the echo server only (Serve), for the loopback workloads.

// ScaleOrder is the order of columns in the scale workload.
var ScaleOrder = []string{"fullduplex-poller", "nbio", "fullduplex", "fullduplex-http", "fullduplex-http-go", "http-floor", "gorilla", "coder", "gobwas", "gws"}

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
		Name: "http-floor",
		Serve: func(ln net.Listener) error {
			return http.Serve(ln, http.HandlerFunc(floorEcho))
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

// floorEcho is the http-floor server's handler: the least a handler that
// keeps its goroutine can hold. It reads into a 64-byte buffer, and a
// larger message into a buffer of its own, let go after it.
func floorEcho(w http.ResponseWriter, r *http.Request) {
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer nc.Close()
	key := r.Header.Get("Sec-WebSocket-Key")
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + websocket.AcceptKey(key) + "\r\n\r\n")
	if brw.Flush() != nil || brw.Reader.Buffered() > 0 {
		return
	}
	// net/http's connection keeps its two hijacked 4 KiB buffers while
	// the handler runs: swap them for tiny ones, as fullduplex's Accept does.
	*brw.Reader = *bufio.NewReaderSize(nc, 16)
	*brw.Writer = *bufio.NewWriterSize(nc, 16)
	small := make([]byte, 64)
	for {
		// Final masked client frames only, as the workloads send.
		h := small[:2]
		if _, err := io.ReadFull(brw, h); err != nil {
			return
		}
		op, n := h[0]&0x0f, int(h[1]&0x7f)
		if h[1]&0x80 == 0 || op == 0x8 {
			return
		}
		switch n {
		case 126, 127:
			ext := small[2 : 2+2+6*(n-126)]
			if _, err := io.ReadFull(brw, ext); err != nil {
				return
			}
			n = 0
			for _, b := range ext {
				n = n<<8 | int(b)
			}
			if n > 1<<20 {
				return
			}
		}
		var mask [4]byte
		if _, err := io.ReadFull(brw, mask[:]); err != nil {
			return
		}
		var p []byte
		if n <= len(small) {
			p = small[:n]
		} else {
			p = make([]byte, n)
		}
		if _, err := io.ReadFull(brw, p); err != nil {
			return
		}
		websocket.Mask(mask, 0, p)
		if _, err := nc.Write(AppendFrame(nil, op, p, false, [4]byte{})); err != nil {
			return
		}
	}
}
