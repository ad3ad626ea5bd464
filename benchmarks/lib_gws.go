package benchmarks

import (
	"bufio"
	"errors"
	"net"
	"net/http"

	"github.com/lxzan/gws"
)

// gws: event handlers; UpgradeFromConn on a raw listener (as gws.Server
// does), Upgrader for the in-memory conns (through a hijacker); the
// message buffer is pooled and handed back with Message.Close;
// WriteMessage; Broadcaster for fan-out (encodes once, queues one write per
// connection on gws's per-connection write queues).

type gwsLogger struct{}

func (gwsLogger) Error(...any) {}

// gwsOption turns on gws's UTF-8 check of text messages (off by default),
// so that it reads text under the same rule as fullduplex and gobwas
// (RFC 6455 §8.1).
func gwsOption() *gws.ServerOption {
	return &gws.ServerOption{Logger: gwsLogger{}, CheckUtf8Enabled: true}
}

type gwsReadHandler struct {
	gws.BuiltinEventHandler
	n   int
	got func([]byte)
}

func (h *gwsReadHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	h.n++
	if h.got != nil {
		h.got(m.Bytes())
	}
	m.Close()
}

type gwsEchoHandler struct{ gws.BuiltinEventHandler }

func (gwsEchoHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	_ = c.WriteMessage(m.Opcode, m.Bytes())
	m.Close()
}

type gwsHub struct {
	gws.BuiltinEventHandler
	connSet[*gws.Conn]
}

func (h *gwsHub) OnOpen(c *gws.Conn) { h.add(c) }

func (h *gwsHub) OnMessage(c *gws.Conn, m *gws.Message) { m.Close() }

func (h *gwsHub) Broadcast(msgs [][]byte) error {
	conns := h.snapshot()
	var errs []error
	for _, m := range msgs {
		b := gws.NewBroadcaster(gws.OpcodeBinary, m)
		for _, c := range conns {
			if err := b.Broadcast(c); err != nil {
				errs = append(errs, err)
			}
		}
		b.Close()
	}
	return errors.Join(errs...)
}

func (h *gwsHub) Close() {
	for _, c := range h.snapshot() {
		c.NetConn().Close()
	}
}

// gwsServe is gws.Server.RunListener without its one flaw for a benchmark:
// RunListener never returns, spinning on Accept once the listener is
// closed. Like it, it parses the request with net/http's ReadRequest over a
// 4 KiB bufio.Reader that the connection then keeps, and runs ReadLoop.
func gwsServe(ln net.Listener, up *gws.Upgrader) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			br := bufio.NewReaderSize(nc, 4096)
			r, err := http.ReadRequest(br)
			if err != nil {
				nc.Close()
				return
			}
			c, err := up.UpgradeFromConn(nc, br, r)
			if err != nil {
				nc.Close()
				return
			}
			c.ReadLoop()
		}()
	}
}

var errGwsShort = errors.New("benchmarks: gws read loop ended early")

func init() {
	register(&Lib{
		Name:          "gws",
		ValidatesUTF8: true, // CheckUtf8Enabled
		Push:          true,
		NewMem: func(nc net.Conn) (*MemConn, error) {
			h := &gwsReadHandler{}
			c, err := gws.NewUpgrader(h, gwsOption()).Upgrade(newHijackWriter(nc), upgradeHTTPRequest())
			if err != nil {
				return nil, err
			}
			return &MemConn{
				// gws pushes messages to handlers from ReadLoop, which runs
				// until the conn fails: the in-memory conn ends in io.EOF
				// right after the n-th frame.
				Read: func(n int, got func([]byte)) error {
					h.got = got
					c.ReadLoop()
					if h.n != n {
						return errGwsShort
					}
					return nil
				},
				Write:     func(p []byte) error { return c.WriteMessage(gws.OpcodeBinary, p) },
				WriteText: func(p []byte) error { return c.WriteMessage(gws.OpcodeText, p) },
				Close:     func() { c.NetConn().Close() },
			}, nil
		},
		Serve: func(ln net.Listener) error {
			return gwsServe(ln, gws.NewUpgrader(gwsEchoHandler{}, gwsOption()))
		},
		NewHub: func(ln net.Listener) Hub {
			h := &gwsHub{}
			go gwsServe(ln, gws.NewUpgrader(h, gwsOption()))
			return h
		},
	})
}
