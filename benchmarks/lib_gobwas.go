package benchmarks

import (
	"bufio"
	"net"
	"sync"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// gobwas: ws.Upgrade straight on the net.Conn (no net/http); wsutil.Reader
// over a 4 KiB bufio.Reader with wsutil.ControlFrameHandler for control
// frames; writes as ws.WriteHeaderBuffer (the header encoded in a scratch
// array of the conn's: ws.WriteHeader allocates one per call) + payload into
// a 4 KiB bufio.Writer and one Flush (one syscall per small message, where
// wsutil.WriteServerMessage makes two); fan-out writes one pre-compiled
// frame (ws.CompileFrame) to every conn.

type gobwasConn struct {
	nc  net.Conn
	rd  *wsutil.Reader
	ctl wsutil.FrameHandlerFunc
	mu  sync.Mutex // guards bw, hdr and writes to nc
	bw  *bufio.Writer
	hdr [ws.MaxHeaderSize]byte
}

func newGobwasConn(nc net.Conn) (*gobwasConn, error) {
	if _, err := ws.Upgrade(nc); err != nil {
		return nil, err
	}
	c := &gobwasConn{nc: nc, bw: bufio.NewWriterSize(nc, 4096)}
	c.ctl = wsutil.ControlFrameHandler(nc, ws.StateServerSide)
	c.rd = &wsutil.Reader{
		Source:         bufio.NewReaderSize(nc, 4096),
		State:          ws.StateServerSide,
		CheckUTF8:      true,
		OnIntermediate: c.ctl,
	}
	return c, nil
}

// read reads the next data message into buf[:0].
func (c *gobwasConn) read(buf []byte) (ws.OpCode, []byte, error) {
	for {
		hdr, err := c.rd.NextFrame()
		if err != nil {
			return 0, buf, err
		}
		if hdr.OpCode.IsControl() {
			c.mu.Lock()
			err := c.ctl(hdr, c.rd)
			c.mu.Unlock()
			if err != nil {
				return 0, buf, err
			}
			continue
		}
		buf, err = readAll(c.rd, buf)
		return hdr.OpCode, buf, err
	}
}

func (c *gobwasConn) write(op ws.OpCode, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ws.WriteHeaderBuffer(c.bw, ws.Header{Fin: true, OpCode: op, Length: int64(len(p))}, c.hdr[:]); err != nil {
		return err
	}
	if _, err := c.bw.Write(p); err != nil {
		return err
	}
	return c.bw.Flush()
}

func (c *gobwasConn) writeRaw(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.nc.Write(frame)
	return err
}

func init() {
	register(&Lib{
		Name:          "gobwas",
		ValidatesUTF8: true, // wsutil.Reader with CheckUTF8
		ReadsRequest:  true,
		NewMem: func(nc net.Conn) (*MemConn, error) {
			c, err := newGobwasConn(nc)
			if err != nil {
				return nil, err
			}
			var buf []byte
			return &MemConn{
				Read: func(n int, got func([]byte)) error {
					for range n {
						var err error
						if _, buf, err = c.read(buf); err != nil {
							return err
						}
						if got != nil {
							got(buf)
						}
					}
					return nil
				},
				Write:     func(p []byte) error { return c.write(ws.OpBinary, p) },
				WriteText: func(p []byte) error { return c.write(ws.OpText, p) },
				Close:     func() { nc.Close() },
			}, nil
		},
		Serve: func(ln net.Listener) error {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return err
				}
				go func() {
					defer nc.Close()
					c, err := newGobwasConn(nc)
					if err != nil {
						return
					}
					var buf []byte
					for {
						op, b, err := c.read(buf)
						if err != nil {
							return
						}
						buf = b
						if err := c.write(op, buf); err != nil {
							return
						}
					}
				}()
			}
		},
		NewHub: func(ln net.Listener) Hub {
			h := &gobwasHub{}
			go func() {
				for {
					nc, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						c, err := newGobwasConn(nc)
						if err != nil {
							nc.Close()
							return
						}
						h.add(c)
						var buf []byte
						for {
							if _, buf, err = c.read(buf); err != nil {
								nc.Close()
								return
							}
						}
					}()
				}
			}()
			return h
		},
	})
}

type gobwasHub struct{ connSet[*gobwasConn] }

func (h *gobwasHub) Broadcast(msgs [][]byte) error {
	frames := make([][]byte, len(msgs))
	for i, m := range msgs {
		f, err := ws.CompileFrame(ws.NewBinaryFrame(m))
		if err != nil {
			return err
		}
		frames[i] = f
	}
	conns := h.snapshot()
	return fanOut(len(conns), func(lo, hi int) error {
		for _, c := range conns[lo:hi] {
			for _, f := range frames {
				if err := c.writeRaw(f); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (h *gobwasHub) Close() {
	for _, c := range h.snapshot() {
		c.nc.Close()
	}
}
