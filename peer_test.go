//go:build !js

package websocket

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// The tests' means of driving a Conn: frames built by hand, a raw peer that
// writes them and reads back what the Conn sends (checking the masking of
// its role), connections in memory and over loopback, and readers running
// in the background.

// peerKey is the masking key the raw test peer uses when it plays the client.
var peerKey = [4]byte{0xa1, 0xb2, 0xc3, 0xd4}

// frameBytes encodes one frame. h.Length is set to len(payload) unless it is
// already nonzero (to announce a payload that is not sent). When h.Masked is
// set the payload is masked with peerKey.
func frameBytes(h Header, payload []byte) []byte {
	if h.Length == 0 {
		h.Length = int64(len(payload))
	}
	if h.Masked {
		h.Mask = peerKey
	}
	b := AppendHeader(nil, h)
	start := len(b)
	b = append(b, payload...)
	if h.Masked {
		Mask(h.Mask, 0, b[start:])
	}
	return b
}

// fromClient encodes a frame as a client sends it: masked.
func fromClient(fin bool, op Opcode, payload string) []byte {
	return frameBytes(Header{Fin: fin, Opcode: op, Masked: true}, []byte(payload))
}

// fromServer encodes a frame as a server sends it: unmasked.
func fromServer(fin bool, op Opcode, payload string) []byte {
	return frameBytes(Header{Fin: fin, Opcode: op}, []byte(payload))
}

// clientClose encodes a masked Close frame with a code and reason.
func clientClose(code uint16, reason string) []byte {
	return fromClient(true, OpClose, string(closeBody(code, reason)))
}

// pipeConns returns the two ends of a synchronous in-memory connection.
func pipeConns(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// tcpConns returns the two ends of a TCP connection over loopback.
func tcpConns(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.DialTimeout("tcp", ln.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(testTimeout))
	b, err := ln.Accept()
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

var transports = []struct {
	name  string
	conns func(testing.TB) (net.Conn, net.Conn)
}{
	{"pipe", pipeConns},
	{"tcp", tcpConns},
}

// connPair returns a client and a server Conn talking to each other.
func connPair(t testing.TB, conns func(testing.TB) (net.Conn, net.Conn), ccfg, scfg connConfig) (cli, srv *Conn) {
	t.Helper()
	a, b := conns(t)
	cli = newConn(a, nil, false, ccfg)
	srv = newConn(b, nil, true, scfg)
	t.Cleanup(func() { cli.CloseNow(); srv.CloseNow() })
	return cli, srv
}

// rawPeer drives a Conn with hand-built frames and reads back the frames it
// sends, checking their masking against the role the peer plays.
type rawPeer struct {
	t      testing.TB
	nc     net.Conn
	br     *bufio.Reader
	client bool // the peer plays the client: the Conn under test is a server
	wg     sync.WaitGroup
}

// newRawPeer returns a Conn of the other role than the raw peer, connected to it.
func newRawPeer(t testing.TB, conns func(testing.TB) (net.Conn, net.Conn), peerIsClient bool, cfg connConfig) (*rawPeer, *Conn) {
	t.Helper()
	a, b := conns(t)
	p := &rawPeer{t: t, nc: a, br: bufio.NewReader(a), client: peerIsClient}
	c := newConn(b, nil, peerIsClient, cfg)
	t.Cleanup(func() {
		c.CloseNow()
		a.Close()
		p.wg.Wait()
	})
	return p, c
}

// write writes b and waits until it is written (on a pipe: read by the Conn).
func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	p.nc.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("raw peer write: %v", err)
	}
}

// sendAsync writes the chunks in order from another goroutine, so the test
// can read what the Conn sends meanwhile; write errors are ignored, since the
// Conn may rightly close the connection before reading everything.
func (p *rawPeer) sendAsync(chunks ...[]byte) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.nc.SetWriteDeadline(time.Now().Add(testTimeout))
		for _, c := range chunks {
			if _, err := p.nc.Write(c); err != nil {
				return
			}
		}
	}()
}

// readFrame reads the next frame the Conn sent and returns it unmasked.
func (p *rawPeer) readFrame() (Header, []byte, error) {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(testTimeout))
	h, err := ReadHeader(p.br)
	if err != nil {
		return h, nil, err
	}
	// RFC 6455 §5.1: a client masks every frame, a server none.
	if h.Masked == p.client {
		p.t.Fatalf("frame from the Conn has Masked=%v; the Conn is a server: %v", h.Masked, p.client)
	}
	if h.Length > 1<<24 {
		p.t.Fatalf("frame of %d bytes", h.Length)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(p.br, payload); err != nil {
		return h, nil, err
	}
	if h.Masked {
		Mask(h.Mask, 0, payload)
	}
	return h, payload, nil
}

// mustReadFrame reads a frame and checks its opcode and payload.
func (p *rawPeer) mustReadFrame(op Opcode, payload string) {
	p.t.Helper()
	h, got, err := p.readFrame()
	if err != nil {
		p.t.Fatalf("reading a %v frame: %v", op, err)
	}
	if h.Opcode != op || string(got) != payload || !h.Fin {
		p.t.Fatalf("got %v frame (fin %v) %q, want %v %q", h.Opcode, h.Fin, got, op, payload)
	}
}

// expectClose reads the next frame, which must be a Close frame with code.
func (p *rawPeer) expectClose(code StatusCode) (reason string) {
	p.t.Helper()
	h, body, err := p.readFrame()
	if err != nil {
		p.t.Fatalf("waiting for a Close frame with %v: %v", code, err)
	}
	if h.Opcode != OpClose {
		p.t.Fatalf("got a %v frame, want a Close frame with %v", h.Opcode, code)
	}
	if len(body) < 2 {
		p.t.Fatalf("Close frame body % x, want code %v", body, code)
	}
	if got := StatusCode(binary.BigEndian.Uint16(body)); got != code {
		p.t.Fatalf("Close frame code %v (reason %q), want %v", got, body[2:], code)
	}
	return string(body[2:])
}

// expectEOF checks that the Conn closes the connection: the next read ends.
func (p *rawPeer) expectEOF() {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(testTimeout))
	b, err := p.br.ReadByte()
	if err == nil {
		p.t.Fatalf("read %#x after the Close frame, want the end of the connection", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		p.t.Fatalf("the Conn did not close the connection within %v", testTimeout)
	}
}

// readAsync runs ReadMessage in a goroutine and delivers its outcome.
type readResult struct {
	op  Opcode
	msg []byte
	err error
}

func readAsync(c *Conn) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		op, msg, err := c.ReadMessage()
		ch <- readResult{op, msg, err}
	}()
	return ch
}

func waitRead(t testing.TB, ch <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(testTimeout):
		t.Fatal("ReadMessage did not return")
		panic("unreachable")
	}
}

// readLoop reads and drops messages until an error, as an application's
// reading goroutine would, and reports when it ends.
func readLoop(c *Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
	}()
	return done
}
