package h2

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// TestLengthClaimOverReadLimit claims a 16 MiB + 1 message in a frame
// header and sends nothing more: the server refuses it on the header with
// 1009 (it cannot wait for, nor buffer, bytes that have not arrived) and ends
// the stream.
func TestLengthClaimOverReadLimit(t *testing.T) {
	readErr := make(chan error, 1)
	s := startServer(t, echoHandler(nil, readErr), nil)
	cc := s.dial(t)
	c := openWS(t, cc, s, "/ws", nil)
	h := websocket.Header{Fin: true, Opcode: websocket.OpBinary, Length: websocket.DefaultReadLimit + 1, Masked: true}
	if _, err := c.pw.Write(websocket.AppendHeader(nil, h)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.readMessage()
	var ce *closeError
	if !errors.As(err, &ce) || ce.code != websocket.StatusMessageTooBig {
		t.Fatalf("read %v, want close 1009", err)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, websocket.ErrMessageTooBig) {
			t.Errorf("server read %v, want ErrMessageTooBig", err)
		}
	case <-time.After(testtime.Scaled(10 * time.Second)):
		t.Fatal("the server's read did not end")
	}
	c.ended(t)
}

// TestPingFloodWithoutReading sends pings and never reads the pongs: HTTP/2
// flow control must stop the flood once the windows are full, rather than
// the server buffering pongs without bound, and a reset must then free the
// handler.
func TestPingFloodWithoutReading(t *testing.T) {
	handlerDone := make(chan struct{})
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		echoHandler(nil, nil)(w, r)
	}), nil)
	cc := s.dial(t)
	c := openWS(t, cc, s, "/ws", nil)
	var sent atomic.Int64
	flood := make(chan error, 1)
	go func() {
		ping := make([]byte, websocket.MaxControlPayload)
		for {
			if err := c.writeFrame(true, false, websocket.OpPing, ping); err != nil {
				flood <- err
				return
			}
			sent.Add(int64(len(ping) + 6))
		}
	}()
	// Wait until the flood stalls: no progress for a second.
	last := int64(-1)
	deadline := time.Now().Add(testtime.Scaled(60 * time.Second))
	for n := sent.Load(); n != last; n = sent.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("the flood never stalled: %d bytes sent", n)
		}
		last = n
		time.Sleep(time.Second)
	}
	// What may be in flight: the server's receive window for the stream
	// (1 MiB by default), the client's for the pongs (256 KiB, see dial) and
	// the pipes' buffers. Far more would mean pongs are buffered without bound.
	if n := sent.Load(); n > 4<<20 {
		t.Errorf("%d bytes of pings went out before the flood stalled, want under 4 MiB", n)
	}
	t.Logf("the flood stalled after %d bytes of pings", sent.Load())
	c.cancel()
	select {
	case <-handlerDone:
	case <-time.After(testtime.Scaled(10 * time.Second)):
		t.Fatal("the handler did not return after the stream was reset")
	}
}

// TestHandlerReturnedEarly returns from the handler while the Conn is still
// in use, the mistake Accept's doc warns of: later reads and writes must
// fail with an error wrapping ErrClosed that says what happened, Done must be
// closed, and nothing may panic.
func TestHandlerReturnedEarly(t *testing.T) {
	got := make(chan *websocket.Conn, 1)
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		got <- c // and return at once
	}), nil)
	cc := s.dial(t)
	openWS(t, cc, s, "/ws", nil)
	c := <-got
	select {
	case <-c.Done():
	case <-time.After(testtime.Scaled(10 * time.Second)):
		t.Fatal("Done not closed after the handler returned")
	}
	err := c.WriteMessage(websocket.OpText, []byte("too late"))
	if !errors.Is(err, websocket.ErrClosed) {
		t.Errorf("write after the handler returned: %v, want an error wrapping ErrClosed", err)
	}
	if _, _, err := c.ReadMessage(); !errors.Is(err, websocket.ErrClosed) || !strings.Contains(err.Error(), "handler returned") {
		t.Errorf("read after the handler returned: %v, want an error wrapping ErrClosed that names the cause", err)
	}
	if err := c.SetWriteDeadline(time.Now().Add(time.Second)); err == nil {
		t.Error("SetWriteDeadline after the handler returned succeeded")
	}
	if err := c.CloseNow(); !errors.Is(err, websocket.ErrClosed) {
		t.Errorf("CloseNow: %v, want ErrClosed", err)
	}
}

// TestWriteDeadlineBetweenWrites lets a write deadline pass while nothing
// is written: as on TCP, that fails later writes but leaves the stream and
// its reads alone (net/http would reset the stream if the deadline were
// handed to it while no write is in progress).
func TestWriteDeadlineBetweenWrites(t *testing.T) {
	results := make(chan string, 2)
	deadlines := make(chan time.Time, 1)
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		deadline := time.Now().Add(50 * time.Millisecond)
		c.SetWriteDeadline(deadline)
		deadlines <- deadline
		_, msg, err := c.ReadMessage() // sent once the deadline has passed
		if err != nil {
			results <- "read: " + err.Error()
			return
		}
		results <- "read " + string(msg)
		if err := c.WriteMessage(websocket.OpText, msg); err != nil {
			results <- "write failed"
		} else {
			results <- "write succeeded"
		}
	}), nil)
	cc := s.dial(t)
	c := openWS(t, cc, s, "/ws", nil)
	// Ordered after the server's deadline, not 300 ms after the stream
	// opened, which a handler a loaded machine runs late could outlast.
	select {
	case deadline := <-deadlines:
		time.Sleep(time.Until(deadline) + 10*time.Millisecond)
	case <-time.After(testtime.Scaled(10 * time.Second)):
		t.Fatal("the handler set no deadline")
	}
	if err := c.writeMessage(websocket.OpText, []byte("late")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"read late", "write failed"} {
		select {
		case got := <-results:
			if got != want {
				t.Errorf("server: %s, want %s", got, want)
			}
		case <-time.After(testtime.Scaled(10 * time.Second)):
			t.Fatalf("server: no result, want %s", want)
		}
	}
}

// TestCloseNowCutsBlockedWrite blocks a server write on flow control (the
// client reads nothing) and calls CloseNow from another goroutine: it must
// reset the stream, so that the write returns and Done is closed, rather
// than wait for a client that will never read.
func TestCloseNowCutsBlockedWrite(t *testing.T) {
	writeErr := make(chan error, 1)
	conns := make(chan *websocket.Conn, 1)
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		conns <- c
		writeErr <- c.WriteMessage(websocket.OpBinary, make([]byte, 4<<20))
		<-c.Done()
	}), nil)
	cc := s.dial(t)
	openWS(t, cc, s, "/ws", nil)
	c := <-conns
	select {
	case err := <-writeErr:
		t.Fatalf("a 4 MiB write to a client that reads nothing returned %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	closed := make(chan struct{})
	go func() { c.CloseNow(); close(closed) }()
	select {
	case err := <-writeErr:
		if !errors.Is(err, websocket.ErrClosed) {
			t.Errorf("blocked write cut by CloseNow: %v, want an error wrapping ErrClosed", err)
		}
	case <-time.After(testtime.Scaled(10 * time.Second)):
		t.Fatal("CloseNow did not cut the blocked write short")
	}
	select {
	case <-closed:
	case <-time.After(testtime.Scaled(10 * time.Second)):
		t.Fatal("CloseNow did not return")
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed after CloseNow returned")
	}
}

// TestViolationsOverStream sends frames that break RFC 6455 on a stream:
// the server fails the WebSocket with the code the rule calls for, as over
// TCP, and ends the stream.
func TestViolationsOverStream(t *testing.T) {
	s := startServer(t, echoHandler(nil, nil), nil)
	cc := s.dial(t)
	bomb := deflate(make([]byte, 64<<20)) // inflates past the 16 MiB read limit
	for _, tc := range []struct {
		name  string
		hdr   http.Header
		frame []byte // nil: a masked frame of op with payload
		op    websocket.Opcode
		rsv1  bool
		data  []byte
		want  websocket.StatusCode
	}{
		{name: "UnmaskedFrame", frame: websocket.AppendHeader(nil, websocket.Header{Fin: true, Opcode: websocket.OpText, Length: 2}), want: websocket.StatusProtocolError},
		{name: "ReservedOpcode", op: 3, data: []byte("x"), want: websocket.StatusProtocolError},
		{name: "InvalidUTF8", op: websocket.OpText, data: []byte{0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80}, want: websocket.StatusInvalidFramePayloadData},
		{name: "RSV1WithoutExtension", op: websocket.OpBinary, rsv1: true, data: []byte("x"), want: websocket.StatusProtocolError},
		{name: "DeflateBomb", hdr: http.Header{"Sec-Websocket-Extensions": {"permessage-deflate"}}, op: websocket.OpBinary, rsv1: true, data: bomb, want: websocket.StatusMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := openWS(t, cc, s, "/ws", tc.hdr)
			var err error
			if tc.frame != nil {
				_, err = c.pw.Write(append(tc.frame, "hi"...))
			} else {
				err = c.writeFrame(true, tc.rsv1, tc.op, tc.data)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.readMessage()
			var ce *closeError
			if !errors.As(err, &ce) || ce.code != tc.want {
				t.Fatalf("read %v, want close %v", err, tc.want)
			}
			// Answered, the server ends the stream at once; unanswered, it
			// would read on for 2 s (it cannot end its side alone, as it
			// half-closes TCP): the bound that tells the two apart.
			start := time.Now()
			if err := c.writeFrame(true, false, websocket.OpClose, []byte{byte(tc.want >> 8), byte(tc.want)}); err != nil {
				t.Fatal(err)
			}
			c.ended(t)
			if d := time.Since(start); d >= 2*time.Second {
				t.Errorf("the stream ended %v after the client's Close frame: the server read on as if unanswered", d)
			}
		})
	}
}
