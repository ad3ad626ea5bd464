// Package websocket implements the WebSocket protocol (RFC 6455), both server
// and client, with permessage-deflate compression (RFC 7692), using only the
// standard library.
//
// # Server
//
// Accept upgrades a request received by net/http; AcceptConn does the same
// on a net.Conn from a listener of your own.
//
//	func echo(w http.ResponseWriter, r *http.Request) {
//		c, err := websocket.Accept(w, r, nil)
//		if err != nil {
//			return // Accept has answered the request
//		}
//		defer c.CloseNow()
//		for {
//			op, msg, err := c.ReadMessage()
//			if err != nil {
//				return
//			}
//			if err := c.WriteMessage(op, msg); err != nil {
//				return
//			}
//		}
//	}
//
// By default Accept refuses browser requests from another origin (403),
// which guards against cross-site WebSocket hijacking; AcceptOptions lists
// more origins to allow.
//
// # HTTP/2
//
// Accept also completes WebSocket handshakes made over HTTP/2 (RFC 8441),
// which net/http's server lets clients make when the program starts with
// GODEBUG=http2xconnect=1. The WebSocket is then a stream of the HTTP/2
// connection, and the stream ends when the handler returns: the handler must
// not return while the Conn is in use. The echo handler above is right as it
// is, since it uses the Conn only from its own goroutine and closes it before
// returning; a handler that hands the Conn to other goroutines waits for
// <-c.Done() first. Routes must accept the CONNECT method ("/ws", not only
// "GET /ws"). Dial speaks HTTP/1.1 only.
//
// # Client
//
//	c, err := websocket.Dial(ctx, "wss://example.com/ws", nil)
//	if err != nil {
//		return err
//	}
//	defer c.Close(websocket.StatusNormalClosure, "")
//
// Dial speaks ws and wss, tunnels through HTTP proxies with CONNECT (from
// the environment by default), and returns a *HandshakeError with the
// status, headers and start of the body when the server refuses.
//
// # In the browser
//
// Compiled to WebAssembly (GOOS=js GOARCH=wasm), Dial opens the browser's
// WebSocket object, and the Conn it returns has the native methods and
// errors, so one client program builds for both (examples/wasm). The
// browser speaks the protocol itself and lets a script ask less of it; what
// differs:
//
//	                      native                      in the browser
//	DialOptions           every field                 Subprotocols, HandshakeTimeout, ReadLimit and
//	                                                  CloseTimeout; Header, Jar, TLSConfig, Proxy,
//	                                                  NetDialContext, PingInterval and Compression
//	                                                  fail Dial with errors.ErrUnsupported; there
//	                                                  is no Observer
//	a refused handshake   *HandshakeError             an error that cannot say why (nor can a script)
//	Response              the 101 response            101 with Sec-WebSocket-Protocol and -Extensions
//	compression           CompressionOptions          the browser's own (see Response)
//	Ping, WritePing/Pong  sent                        errors.ErrUnsupported; the browser answers pings
//	ping, pong handlers   called                      no effect
//	Close codes           any valid code              1001-1014 go out as 4001-4014: scripts may
//	                                                  send only 1000 and 3000-4999
//	CloseNow              drops the connection        sends a Close frame with no code, returns at once
//	NextWriter            streams fragments           keeps the message; Close sends it whole
//	read limit            before the payload comes    once the message has come whole (4009)
//	unread messages       stay in the socket          queued, up to 1024 and 16 MiB (or the read
//	                                                  limit); one more fails the connection (4008)
//	writes                wait for the socket         wait while the browser holds over 1 MiB unsent
//	                                                  (bufferedAmount, polled every 1 to 16 ms)
//	deadlines             a timed-out write breaks    a timed-out read or write leaves the Conn usable
//	LocalAddr, RemoteAddr IP addresses                none, and the URL (network "websocket")
//	server side           Accept, Group, Poller       not in the js build, nor are PreparedMessage,
//	                                                  Observer and Metrics
//
// A failure the browser detects (a frame that breaks RFC 6455, invalid
// UTF-8) reaches a script as 1006, with no Close frame: the read's error
// wraps io.ErrUnexpectedEOF, as for a connection that ends without one.
//
// # Messages
//
// ReadMessage and WriteMessage move whole messages. AppendMessage reads into
// a buffer of the caller's, so a steady reader allocates nothing.
// NextReader and NextWriter stream a message of any size; NextWriter sends
// it as fragments. NetConn turns a Conn into a byte stream, and
// NewPreparedMessage encodes a message once for many connections.
//
// A Group holds a server's connections: Broadcast queues a PreparedMessage
// for every member without waiting for any (a member that cannot keep up is
// dropped with StatusPolicyViolation), and Shutdown closes them all with
// StatusGoingAway (see Shutting down, below).
//
// # Concurrency
//
// One goroutine at a time may read. Any number may write: messages go out
// whole, never interleaved, and control frames may pass a message streamed
// through NextWriter. Close and CloseNow may be called from any goroutine.
// Pings are answered and the peer's Close frame is handled while reading, so
// a goroutine must be reading (or a Poller serving the connection) for
// them to be seen; the PingInterval option sends keep-alive pings and drops
// a peer that stops answering them.
//
// # Many connections: the event-driven mode
//
// A goroutine reading each connection keeps the 2 KiB stack it starts with
// (AcceptConn and Dial run the handshake on a goroutine of their own, and
// the read and write paths of small messages stay shallow): about 4 KiB of a server's
// memory for an idle connection, with no read or write buffer held. A
// handler behind net/http that reads the Conn itself costs twice that, since
// net/http keeps the request and the stack it grew while the handler runs;
// over HTTP/1.1 the handler may hand the Conn to a goroutine of its own and
// return (see Accept).
//
// A Poller serves connections without a goroutine each: it waits for input
// on all of them at once (epoll on Linux), reads what arrives, with the same
// frame handling and limits as ReadMessage, and calls a MessageHandler with each
// whole message, in order for each connection, on a bounded pool of
// workers. A connection with no message arriving holds no goroutine and no
// buffer: about 0.6 KiB of a server's memory on Linux, where the Poller
// takes the socket over from its net.Conn (the scale workload of
// benchmarks/).
//
//	p, err := websocket.NewPoller(nil)
//	...
//	c, err := websocket.Accept(w, r, nil) // or AcceptConn, or Dial
//	...
//	err = p.Add(c, handler) // handler.HandleMessage(c, op, msg) for each message
//
// No peer can hold a Poller up: a worker only runs handlers. Input is kept
// on its connection until a frame or message is whole, within
// PollerOptions.MessageTimeout of its first byte; writes never wait, and
// what the socket does not take is queued on the connection, within
// WriteQueueLimit and WriteTimeout, while the connection is not read. Over
// HTTP/2, Add serves the connection on the handler's goroutine, whose
// return would end the stream. TLS connections, and every connection on
// systems other than Linux, are served by a goroutine each through the same
// MessageHandler. PollerOptions.PingInterval keeps the connections alive, from one
// goroutine that sweeps them all: a peer silent for an interval is pinged,
// and dropped if it stays silent for another.
//
// The blocking API is lean too: a reader waiting for the next message over
// TCP holds no read buffer (on Linux), only its goroutine.
//
// # Observing
//
// An Observer set in AcceptOptions or DialOptions is told of each
// connection's life: how it opened, each message read and written (with its
// size on the wire), the round trips of pings, how it closed, refused
// handshakes, and drops by a Group or a Poller. Its functions run on the
// goroutine where the event happens and must not block; with no Observer a
// Conn pays a nil check per event. Metrics counts everything an Observer
// sees and publishes it through expvar; Observer.Logger logs refusals,
// failures and drops through log/slog; Group.Stats and Poller.Stats read
// queues and workers.
//
//	var m websocket.Metrics
//	expvar.Publish("websocket", &m) // served as JSON at /debug/vars
//	opts := &websocket.AcceptOptions{Observer: &websocket.Observer{Metrics: &m, Logger: slog.Default()}}
//
// # Closing
//
// Close runs the closing handshake: it sends a Close frame and waits,
// bounded by the close timeout, for the peer's. A Close from the peer is
// echoed, and reads then return a *CloseError with its code and reason; use
// errors.As or CloseStatus. A peer that breaks the protocol gets the
// matching close code (1002 for a framing error, 1007 for invalid UTF-8,
// 1009 for a message over the read limit) and the read returns the error.
//
// # Shutting down
//
// http.Server.Shutdown closes the listeners and waits for the requests under
// way, but not for WebSockets over HTTP/1.1: Accept took their connections
// over, and the server has forgotten them. Nor does it wait for the
// functions registered with RegisterOnShutdown, which it starts on
// goroutines of their own. A program whose main returns once the server's
// Shutdown has returned ends its WebSockets with no Close frame: their
// clients see 1006 (abnormal closure), a failure, where StatusGoingAway
// (1001) would have told them that the server is going away as planned. So
// a server takes its WebSockets with a Group's Accept, and main shuts the
// Group down, then the http.Server, and returns once both are done. The
// whole program, but for its package clause and imports:
//
//	var room websocket.Group
//
//	func serve(w http.ResponseWriter, r *http.Request) {
//		c, err := room.Accept(w, r, nil)
//		if err != nil {
//			return // refused: Accept has answered the request
//		}
//		defer c.CloseNow()
//		for { // read until the connection ends: this answers pings and the Close
//			if _, _, err := c.ReadMessage(); err != nil {
//				return
//			}
//		}
//	}
//
//	func main() {
//		addr := flag.String("addr", ":8080", "address to listen on")
//		flag.Parse()
//		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
//		defer stop()
//
//		http.HandleFunc("/ws", serve)
//		srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 10 * time.Second}
//		go func() {
//			if err := srv.ListenAndServe(); err != http.ErrServerClosed {
//				log.Fatal(err)
//			}
//		}()
//
//		<-ctx.Done()
//		stop() // a second signal ends the program at once
//		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//		defer cancel()
//		room.Shutdown(ctx) // 1001 to every WebSocket, and 503 to new handshakes
//		srv.Shutdown(ctx)  // then the listener and the other requests
//	}
//
// TestShutdownRecipe builds this program as written here, connects 20
// clients, sends it SIGTERM and checks that every client gets 1001, ten
// times in a row. The Group goes first because over HTTP/2 a WebSocket is
// a stream that the server's Shutdown waits for, and the stream ends only
// once the WebSocket is closed. From then on the Group's Accept refuses
// handshakes with 503, so no WebSocket opens behind the Group's back, and
// one under way when the Shutdown began is closed with 1001 and waited for
// as the members are (with the package's Accept and then Add, a Conn could
// slip between the two). The signals are caught before the server starts,
// since until then SIGTERM ends the program at once.
//
// A server that never broadcasts keeps its WebSockets in a Group for this
// alone: a member costs about 160 bytes and no goroutine. A Conn in no Group
// gets no Close frame when main returns. A server whose connections a
// Poller serves shuts the Poller down in the Group's place: p.Shutdown(ctx),
// then srv.Shutdown(ctx) (the Poller's Close ends its connections with no
// closing handshake).
//
// # Limits and defaults
//
// Every limit is on by default: messages up to DefaultReadLimit (16 MiB),
// compressed messages counted at their inflated size, and a message's buffer
// grown only as its payload arrives, so a frame header's claim commits no
// memory. Close waits at most DefaultCloseTimeout for the peer, and every
// frame the Conn writes on its own (a pong, the answer to a Close) must go
// out within the close timeout, or the connection fails: a peer that sends
// without reading cannot hold the reader. Buffers are DefaultBufferSize and
// reused, so AppendMessage and the write methods make no allocation per
// message in steady state.
//
// AcceptConn bounds the opening handshake by DefaultHandshakeTimeout and
// DefaultMaxHeaderBytes. Accept reads no request itself: net/http has read it
// before the handler runs, within the http.Server's own limits, which are
// off unless set. Serve Accept from a server that bounds them:
//
//	srv := &http.Server{
//		Addr:              ":8080",
//		Handler:           mux,
//		ReadHeaderTimeout: 10 * time.Second, // a slow request head is cut off
//		MaxHeaderBytes:    8 << 10,          // the default is 1 MiB
//	}
//
// The http.Server's ReadTimeout and WriteTimeout, if set, are lifted from a
// connection Accept takes over.
//
// Writes of messages are not bounded by default: a write waits while the peer
// does not read, as on a net.Conn, which is the backpressure a sender needs.
// Bound them with SetWriteDeadline, or with PingInterval, which closes a
// connection whose peer stops answering and so ends a write stuck on it;
// Close and CloseNow also end it, from any goroutine.
//
// # Compression
//
// permessage-deflate is negotiated by default, without context takeover, so
// an idle connection holds no compression state; messages shorter than
// DefaultCompressionThreshold go uncompressed. See CompressionOptions and
// SetWriteCompression. A PreparedMessage is compressed once and shared by the
// server connections that compress without context takeover.
//
// # Frames
//
// Header, ParseHeader, ReadHeader, AppendHeader, WriteHeader and Mask are the
// frame codec the Conn is built on, for programs that drive frames
// themselves.
//
// # How the code is organised
//
// The root package is the RFC 6455 engine and the API; what the engine
// uses but is not WebSocket lives under internal/, each package tested and
// fuzzed alone. Where to look:
//
//	frame.go, mask.go          the frame header codec; Mask
//	handshake.go               what both handshakes share: the accept key, ws URLs, limits
//	accept.go, http2.go        the server's handshake over HTTP/1.1 and HTTP/2 (RFC 8441)
//	dial.go                    the client: proxy, TLS, handshake
//	conn.go                    the Conn and its options
//	read.go, readbuf.go        frames in, messages out; the read buffer lent while input arrives
//	write.go, prepared.go      messages in, frames out; PreparedMessage
//	ping.go, close.go          ping/pong and keep-alive; the closing handshake
//	status.go                  close codes, CloseError and the errors both builds return
//	compress.go                permessage-deflate (RFC 7692): negotiation and the message paths
//	json.go, netconn.go        ReadJSON/WriteJSON; a Conn as a net.Conn
//	group.go                   Group: registry, broadcast, the batched writer
//	poller*.go                 the Poller: epoll loop, fair queue, sweep, the Conn's rewiring
//	observe.go                 Observer and Metrics
//	conn_js.go                 the js/wasm build: Dial and Conn over the browser's WebSocket
//	internal/cpu               x86 feature checks, one place for the kernels
//	internal/mask              the masker (AVX2/SSE2 assembly, portable Go)
//	internal/utf8valid         the incremental UTF-8 validator (AVX-512/AVX2/SSSE3)
//	internal/deflate           DEFLATE encoder and inflater with 8-15 bit windows
//	internal/httphead          header tokens and extension lists
//	internal/netpoll           epoll and the non-blocking socket the Poller drives
//	internal/h2stream          a net.Conn over an HTTP/2 stream
//	internal/proxy             HTTP CONNECT, https and SOCKS5 proxies
//	internal/jstest            the js build's tests, run in Node and Chromium against a Go server
//	internal/testtime          how long tests wait, scaled for busy machines
package websocket
