package h2

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// TestMain runs the tests with GODEBUG=http2xconnect=1, which net/http's
// server reads once at start-up: without it the server does not advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL and refuses every extended CONNECT. When
// the variable lacks it, the test binary runs itself again with it.
func TestMain(m *testing.M) {
	if mode := os.Getenv("H2_MEM_CLIENT"); mode != "" {
		n, _ := strconv.Atoi(os.Getenv("H2_MEM_N"))
		if err := memClient(mode, os.Getenv("H2_MEM_URL"), n, os.Getenv("H2_MEM_ECHO") == "true"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if !strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		godebug := "http2xconnect=1"
		if g := os.Getenv("GODEBUG"); g != "" {
			godebug = g + "," + godebug
		}
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), "GODEBUG="+godebug)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// server is net/http's server over TLS with HTTP/2, as httptest starts it,
// counting the TCP connections it accepts and the HTTP/2 requests it sees.
type server struct {
	*httptest.Server
	tcpConns atomic.Int32
	h2Reqs   atomic.Int32
}

func startServer(t testing.TB, h http.Handler, configure func(*http.Server)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			s.h2Reqs.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	s.EnableHTTP2 = true
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.tcpConns.Add(1)
		}
	}
	if configure != nil {
		configure(s.Config)
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// dial opens one TCP connection to s and speaks HTTP/2 on it with
// golang.org/x/net/http2's client: every WebSocket the test opens with it
// is a stream of that connection.
func (s *server) dial(t testing.TB) *http2.ClientConn {
	t.Helper()
	cfg := s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"h2"}
	d := &tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: testtime.Scaled(5 * time.Second)}}
	nc, err := d.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if p := nc.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	// A stream window of 256 KiB rather than x/net's 4 MiB keeps the tests
	// that fill it short.
	tr, err := http2.ConfigureTransports(&http.Transport{HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: 256 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := tr.NewClientConn(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// client is the client side of a WebSocket over an HTTP/2 stream, written
// here for the tests since the library has none: frames go out masked in the
// request body and come in from the response body.
type client struct {
	resp   *http.Response
	br     *bufio.Reader
	pw     *io.PipeWriter
	cancel func() // resets the stream (RST_STREAM CANCEL)
	wmu    sync.Mutex
	wbuf   []byte // the frame being written, reused; wmu
}

// open sends an extended CONNECT for path on cc with the headers hdr (which
// may override the defaults, or delete them when set to nil) and returns the
// response. The WebSocket is usable when the status is 200.
func open(t testing.TB, cc *http2.ClientConn, s *server, path string, hdr http.Header) (*client, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodConnect, s.URL+path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header[":protocol"] = []string{"websocket"}
	req.Header.Set("Sec-WebSocket-Version", "13")
	for k, v := range hdr {
		if v == nil {
			delete(req.Header, k)
		} else {
			req.Header[k] = v
		}
	}
	rtCtx, rtCancel := context.WithTimeout(context.Background(), testtime.Scaled(10*time.Second))
	defer rtCancel()
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := cc.RoundTrip(req)
		done <- result{resp, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-rtCtx.Done():
		cancel()
		t.Fatalf("no response to the extended CONNECT for %s", path)
	}
	if res.err != nil {
		cancel()
		t.Fatalf("extended CONNECT for %s: %v", path, res.err)
	}
	// x/net/http2 resets the stream (RST_STREAM CANCEL) when reading the
	// request body fails or the response body is closed early.
	reset := func() {
		cancel()
		pw.CloseWithError(errors.New("stream reset by the test"))
		res.resp.Body.Close()
	}
	c := &client{resp: res.resp, br: bufio.NewReader(res.resp.Body), pw: pw, cancel: reset}
	t.Cleanup(func() {
		cancel()
		pw.Close()
		res.resp.Body.Close()
	})
	return c, res.resp
}

// openWS opens a WebSocket and fails t unless the server accepted it.
func openWS(t testing.TB, cc *http2.ClientConn, s *server, path string, hdr http.Header) *client {
	t.Helper()
	c, resp := open(t, cc, s, path, hdr)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		t.Fatalf("%s: status %d (%s), want 200", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	return c
}

// writeFrame writes one masked frame (RFC 6455 §5.3: a client masks every
// frame, over HTTP/2 too, RFC 8441 §5).
func (c *client) writeFrame(fin, rsv1 bool, op websocket.Opcode, p []byte) error {
	h := websocket.Header{Fin: fin, Rsv1: rsv1, Opcode: op, Length: int64(len(p)), Masked: true, Mask: [4]byte{0x9e, 0x21, 0x4c, 0xd7}}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// The frame is built in a buffer kept from one write to the next, as
	// the library's client does, so that the benchmarks weigh HTTP/2
	// rather than this test code's garbage.
	b := websocket.AppendHeader(c.wbuf[:0], h)
	start := len(b)
	b = append(b, p...)
	websocket.Mask(h.Mask, 0, b[start:])
	c.wbuf = b
	_, err := c.pw.Write(b)
	return err
}

func (c *client) writeMessage(op websocket.Opcode, p []byte) error {
	return c.writeFrame(true, false, op, p)
}

// closeError is the Close frame a read met.
type closeError struct {
	code   websocket.StatusCode
	reason string
}

func (e *closeError) Error() string { return fmt.Sprintf("close frame %v %q", e.code, e.reason) }

// readMessage reads the next data message, answering pings, joining
// fragments and inflating it when compressed; a Close frame ends it with a
// *closeError. It checks that the server masks nothing.
func (c *client) readMessage() (websocket.Opcode, []byte, error) {
	return c.appendMessage(nil)
}

// appendMessage is readMessage appending the message to b: the payload of
// a data frame is read straight into b, so reading into the same b again
// allocates nothing once it is large enough (as Conn.AppendMessage).
func (c *client) appendMessage(b []byte) (websocket.Opcode, []byte, error) {
	var op websocket.Opcode
	msg := b
	start := len(b)
	compressed := false
	for {
		h, err := websocket.ReadHeader(c.br)
		if err != nil {
			return 0, b, err
		}
		if h.Masked {
			return 0, b, errors.New("masked frame from the server")
		}
		if h.Opcode == websocket.OpPing || h.Opcode == websocket.OpPong || h.Opcode == websocket.OpClose {
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(c.br, p); err != nil {
				return 0, b, err
			}
			switch h.Opcode {
			case websocket.OpPing:
				if err := c.writeFrame(true, false, websocket.OpPong, p); err != nil {
					return 0, b, err
				}
			case websocket.OpClose:
				ce := &closeError{code: websocket.StatusNoStatusReceived}
				if len(p) >= 2 {
					ce.code = websocket.StatusCode(binary.BigEndian.Uint16(p))
					ce.reason = string(p[2:])
				}
				return 0, b, ce
			}
			continue
		}
		if h.Opcode != websocket.OpContinuation {
			op = h.Opcode
			compressed = h.Rsv1
		}
		n := len(msg)
		msg = slices.Grow(msg, int(h.Length))[:n+int(h.Length)]
		if _, err := io.ReadFull(c.br, msg[n:]); err != nil {
			return 0, b, err
		}
		if h.Fin {
			break
		}
	}
	if compressed {
		r := flate.NewReader(io.MultiReader(bytes.NewReader(msg[start:]), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
		out, err := io.ReadAll(r)
		if err != nil {
			return 0, b, fmt.Errorf("inflating: %w", err)
		}
		msg = append(msg[:start], out...)
	}
	return op, msg, nil
}

// deflate compresses p as a permessage-deflate message body (RFC 7692
// §7.2.1): a raw DEFLATE stream, flushed, less its final 00 00 ff ff.
func deflate(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// closeHandshake sends a Close frame and reads up to the server's answer.
func (c *client) closeHandshake(code websocket.StatusCode, reason string) (*closeError, error) {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	if err := c.writeFrame(true, false, websocket.OpClose, append(p, reason...)); err != nil {
		return nil, err
	}
	for {
		_, _, err := c.readMessage()
		var ce *closeError
		if errors.As(err, &ce) {
			return ce, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ended waits for the server to end the stream after its Close frame: the
// response body ends (END_STREAM), or is reset with NO_ERROR after it.
func (c *client) ended(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		n, err := io.Copy(io.Discard, c.br)
		if err == nil && n > 0 {
			err = fmt.Errorf("%d bytes after the Close frame", n)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after the closing handshake the stream ended with %v, want END_STREAM", err)
		}
	case <-time.After(testtime.Scaled(10 * time.Second)):
		t.Error("the server did not end the stream after the closing handshake")
	}
}

// pattern returns n bytes of valid UTF-8 that are not all alike.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i*7%26)
	}
	return b
}

// echoHandler echoes every message; when proto is not nil it records the
// ProtoMajor of each request it accepts.
func echoHandler(opts *websocket.AcceptOptions, errs chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			op, msg, err := c.ReadMessage()
			if err != nil {
				if errs != nil {
					errs <- err
				}
				return
			}
			if err := c.WriteMessage(op, msg); err != nil {
				return
			}
		}
	}
}
