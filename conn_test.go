//go:build !js

package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestConnEchoMessages(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 4095, 4096, 4097, 65535, 65536, 1 << 20}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cli, srv := connPair(t, tr.conns, connConfig{}, connConfig{})
			done := make(chan error, 1)
			go func() {
				for range 2 * len(sizes) {
					op, msg, err := srv.ReadMessage()
					if err == nil {
						err = srv.WriteMessage(op, msg)
					}
					if err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			for _, n := range sizes {
				for _, op := range []Opcode{OpBinary, OpText} {
					msg := bytes.Repeat([]byte("é-x"), n/4+1)[:n]
					if op == OpText {
						msg = bytes.Repeat([]byte("a"), n)
					}
					werr := make(chan error, 1)
					go func() { werr <- cli.WriteMessage(op, msg) }()
					gotOp, got, err := cli.ReadMessage()
					if err != nil || gotOp != op || !bytes.Equal(got, msg) {
						t.Fatalf("%v of %d bytes: echo %v, %d bytes, %v", op, n, gotOp, len(got), err)
					}
					if err := <-werr; err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// RFC 6455 §5.4: control frames may come between the fragments of a message,
// and §5.5.2: a ping is answered with a pong carrying the same payload "as
// soon as is practical" — here, before the next fragment is sent.
func TestConnFragmentsWithInterleavedPings(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			p, c := newRawPeer(t, tr.conns, true, connConfig{})
			res := readAsync(c)
			p.write(fromClient(false, OpText, "Hel"))
			p.write(fromClient(true, OpPing, "p1"))
			p.mustReadFrame(OpPong, "p1")
			p.write(fromClient(false, OpContinuation, ""))
			p.write(fromClient(false, OpContinuation, "l"))
			p.write(fromClient(true, OpPing, ""))
			p.mustReadFrame(OpPong, "")
			p.write(fromClient(true, OpPong, "unsolicited"))
			p.write(fromClient(true, OpContinuation, "o"))
			r := waitRead(t, res)
			if r.err != nil || r.op != OpText || string(r.msg) != "Hello" {
				t.Fatalf("ReadMessage = %v %q %v, want text Hello", r.op, r.msg, r.err)
			}
		})
	}
}

// msgPayload returns the payload of message seq of writer id: its id and seq
// then bytes that depend on both, so a reader can check it is whole.
func msgPayload(id, seq int) []byte {
	n := (id*131 + seq*17) % 3000
	if seq%10 == 9 {
		n += 9000 // larger than the write buffer
	}
	b := make([]byte, 8+n)
	binary.BigEndian.PutUint32(b, uint32(id))
	binary.BigEndian.PutUint32(b[4:], uint32(seq))
	for i := range n {
		b[8+i] = byte(id*7 + seq + i)
	}
	return b
}

// TestConnConcurrentWritersNeverInterleave has many goroutines write whole
// messages at once, some through NextWriter in pieces, while pings go out
// between them; the reader checks every message arrives whole and in each
// writer's order.
func TestConnConcurrentWritersNeverInterleave(t *testing.T) {
	const writers, perWriter = 8, 40
	cli, srv := connPair(t, tcpConns, connConfig{writeBufferSize: 1024}, connConfig{})
	readLoop(cli) // takes the server's pongs
	var wg sync.WaitGroup
	for id := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range perWriter {
				p := msgPayload(id, seq)
				var err error
				if seq%3 == 0 {
					var w io.WriteCloser
					if w, err = cli.NextWriter(OpBinary); err == nil {
						for q := p; len(q) > 0 && err == nil; {
							k := min(len(q), 700)
							_, err = w.Write(q[:k])
							q = q[k:]
						}
						if cerr := w.Close(); err == nil {
							err = cerr
						}
					}
				} else {
					err = cli.WriteMessage(OpBinary, p)
				}
				if err != nil {
					t.Errorf("writer %d message %d: %v", id, seq, err)
					return
				}
			}
		}()
	}
	stopPings := make(chan struct{})
	pingsDone := make(chan struct{})
	go func() {
		defer close(pingsDone)
		for i := 0; ; i++ {
			select {
			case <-stopPings:
				return
			case <-time.After(time.Millisecond):
			}
			if err := cli.WritePing([]byte(fmt.Sprint(i))); err != nil {
				t.Errorf("ping: %v", err)
				return
			}
		}
	}()
	next := make([]int, writers)
	srv.SetReadDeadline(time.Now().Add(4 * testTimeout))
	for range writers * perWriter {
		op, msg, err := srv.ReadMessage()
		if err != nil {
			t.Fatalf("ReadMessage: %v", err)
		}
		if op != OpBinary || len(msg) < 8 {
			t.Fatalf("got %v message of %d bytes", op, len(msg))
		}
		id, seq := int(binary.BigEndian.Uint32(msg)), int(binary.BigEndian.Uint32(msg[4:]))
		if id >= writers || seq != next[id] || !bytes.Equal(msg, msgPayload(id, seq)) {
			t.Fatalf("message from writer %d seq %d (want seq %d) is damaged or out of order", id, seq, next[id%writers])
		}
		next[id]++
	}
	close(stopPings)
	<-pingsDone
	wg.Wait()
}

// TestConnNextWriterFragments checks what NextWriter puts on the wire: a text
// frame then continuation frames, the last with FIN, all masked by a client,
// and control frames may pass between them (RFC 6455 §5.4).
func TestConnNextWriterFragments(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, false, connConfig{writeBufferSize: 16})
	msg := strings.Repeat("0123456789", 5) // 50 bytes: three full buffers and 2 bytes
	done := make(chan error, 1)
	go func() {
		w, err := c.NextWriter(OpText)
		if err == nil {
			_, err = io.WriteString(w, msg[:40])
		}
		if err == nil {
			err = c.WritePing([]byte("mid"))
		}
		if err == nil {
			_, err = io.WriteString(w, msg[40:])
		}
		if err == nil {
			err = w.Close()
		}
		done <- err
	}()
	var got []byte
	var ops []string
	for {
		h, payload, err := p.readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if h.Opcode == OpPing {
			ops = append(ops, "ping")
			if string(payload) != "mid" {
				t.Fatalf("ping payload %q", payload)
			}
			continue
		}
		wantOp := OpContinuation
		if len(got) == 0 && len(ops) == 0 {
			wantOp = OpText
		}
		if h.Opcode != wantOp || h.Length > 16 {
			t.Fatalf("frame %d: %v of %d bytes, want %v of at most 16", len(ops), h.Opcode, h.Length, wantOp)
		}
		ops = append(ops, h.Opcode.String())
		got = append(got, payload...)
		if h.Fin {
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Fatalf("reassembled %q, want %q", got, msg)
	}
	if !strings.Contains(strings.Join(ops, ","), ",ping,") || len(ops) < 5 {
		t.Fatalf("frames %v: want several fragments with the ping between them", ops)
	}
}

func TestConnWriteMessageRejectsNonDataOpcodes(t *testing.T) {
	_, c := newRawPeer(t, pipeConns, true, connConfig{})
	for _, op := range []Opcode{OpContinuation, OpClose, OpPing, OpPong, 0x3} {
		if err := c.WriteMessage(op, nil); err == nil {
			t.Errorf("WriteMessage(%v) succeeded", op)
		}
		if w, err := c.NextWriter(op); err == nil {
			w.Close()
			t.Errorf("NextWriter(%v) succeeded", op)
		}
	}
	if err := c.WritePing(make([]byte, 126)); err == nil {
		t.Error("WritePing with 126 bytes succeeded")
	}
	if err := c.WritePong(make([]byte, 126)); err == nil {
		t.Error("WritePong with 126 bytes succeeded")
	}
}

func TestConnAppendMessageDoesNotAllocate(t *testing.T) {
	// A text message in three fragments with a ping between them, then a
	// binary message: UTF-8 checking, reassembly and the pong are all on the path.
	var stream []byte
	stream = append(stream, fromClient(false, OpText, "héllo, ")...)
	stream = append(stream, fromClient(true, OpPing, "ping")...)
	stream = append(stream, fromClient(false, OpContinuation, strings.Repeat("wörld ", 100))...)
	stream = append(stream, fromClient(true, OpContinuation, "€")...)
	stream = append(stream, fromClient(true, OpBinary, strings.Repeat("\x00\xff", 3000))...)
	c := newConn(&replayConn{data: stream}, nil, true, connConfig{})
	buf := make([]byte, 0, 8192)
	read := func() {
		var err error
		if _, buf, err = c.AppendMessage(buf[:0]); err != nil {
			t.Fatal(err)
		}
	}
	read()
	read()
	if n := testing.AllocsPerRun(200, read); n != 0 {
		t.Errorf("AppendMessage allocates %v times per message in steady state, want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() { c.WriteMessage(OpBinary, buf[:100]) }); n != 0 {
		t.Errorf("WriteMessage allocates %v times per message in steady state, want 0", n)
	}
}

func TestConnReadDeadline(t *testing.T) {
	_, srv := connPair(t, tcpConns, connConfig{}, connConfig{})
	srv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	err := waitRead(t, readAsync(srv)).err
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadMessage error = %v, want a deadline error", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("ReadMessage error %v is not a net.Error timeout", err)
	}
}

func TestConnWriteDeadline(t *testing.T) {
	// On a pipe nobody reads, so the write blocks until its deadline.
	_, srv := connPair(t, pipeConns, connConfig{}, connConfig{})
	srv.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	done := make(chan error, 1)
	go func() { done <- srv.WriteMessage(OpBinary, make([]byte, 100)) }()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("WriteMessage error = %v, want a deadline error", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("WriteMessage still blocked long after its 50ms deadline")
	}
}

// TestConnNoGoroutineLeak opens and closes connections, with keep-alive pings
// on, and checks every goroutine the Conns started has ended.
func TestConnNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := range 4 {
		a, b := tcpConns(t)
		cfg := connConfig{pingInterval: keepAliveInterval, closeTimeout: testTimeout}
		cli, srv := newConn(a, nil, false, cfg), newConn(b, nil, true, cfg)
		srvDone := readLoop(srv)
		cliDone := readLoop(cli)
		if err := cli.WriteMessage(OpText, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		pingBoth(t, cli, srv)
		closer := cli
		if i%2 == 1 {
			closer = srv
		}
		if err := closer.Close(StatusNormalClosure, ""); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for _, done := range []<-chan error{srvDone, cliDone} {
			select {
			case <-done:
			case <-time.After(testTimeout):
				t.Fatal("a reader did not end after Close")
			}
		}
		a.Close()
		b.Close()
	}
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// Ping must return when its context ends even if the ping cannot be written
// (a peer that does not read): a context is the caller's bound on the call.
func TestConnNextReaderPartialThenNext(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, true, connConfig{readBufferSize: 16})
	p.sendAsync(
		fromClient(false, OpBinary, strings.Repeat("a", 40)),
		fromClient(true, OpContinuation, strings.Repeat("b", 40)),
		fromClient(true, OpText, "next"),
	)
	op, r, err := c.NextReader()
	if err != nil || op != OpBinary {
		t.Fatalf("NextReader = %v, %v", op, err)
	}
	head := make([]byte, 10)
	if _, err := io.ReadFull(r, head); err != nil || string(head) != strings.Repeat("a", 10) {
		t.Fatalf("read %q, %v", head, err)
	}
	op, msg, err := c.ReadMessage()
	if err != nil || op != OpText || string(msg) != "next" {
		t.Fatalf("ReadMessage after a partial read = %v %q %v, want text next", op, msg, err)
	}
}

// NextReader streams a message across frames and ends it with io.EOF.
func TestConnNextReaderStreams(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, true, connConfig{readBufferSize: 16})
	p.sendAsync(
		fromClient(false, OpText, "héllo "),
		fromClient(true, OpPing, "x"),
		fromClient(true, OpContinuation, "wörld"),
	)
	go func() { p.readFrame() }() // the pong
	op, r, err := c.NextReader()
	if err != nil || op != OpText {
		t.Fatalf("NextReader = %v, %v", op, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "héllo wörld" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestConnAppendMessageKeepsPrefix(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, true, connConfig{})
	p.sendAsync(fromClient(true, OpBinary, "tail"))
	_, b, err := c.AppendMessage([]byte("head-"))
	if err != nil || string(b) != "head-tail" {
		t.Fatalf("AppendMessage = %q, %v", b, err)
	}
}

// The read limit bounds the message, not the frame, and a message of
// exactly the limit is allowed.
func TestConnReadLimitExactlyAtLimit(t *testing.T) {
	p, c := newRawPeer(t, pipeConns, true, connConfig{readLimit: 100})
	p.sendAsync(
		fromClient(true, OpBinary, strings.Repeat("x", 100)),
		fromClient(false, OpBinary, strings.Repeat("x", 60)),
		fromClient(true, OpContinuation, strings.Repeat("x", 40)),
	)
	for i := range 2 {
		if _, msg, err := c.ReadMessage(); err != nil || len(msg) != 100 {
			t.Fatalf("message %d: %d bytes, %v; want 100 bytes", i, len(msg), err)
		}
	}
	c.SetReadLimit(10)
	p.sendAsync(fromClient(true, OpBinary, strings.Repeat("x", 11)))
	go p.readFrame()
	if _, _, err := c.ReadMessage(); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("ReadMessage after SetReadLimit(10) = %v, want ErrMessageTooBig", err)
	}
}

// A control frame's payload is read in place, in the read buffer, or copied
// out when the buffer is smaller than the payload: pongs must echo pings of
// every length, unmasked, and a Close frame's reason must arrive whole,
// whatever the buffer's size and wherever a frame starts in it.
func TestConnControlPayloadAnyReadBuffer(t *testing.T) {
	for _, size := range []int{16, 100, 130, DefaultBufferSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p, c := newRawPeer(t, tcpConns, true, connConfig{readBufferSize: size})
			var frames [][]byte
			var want []string
			for _, n := range []int{0, 1, 15, 16, 17, 99, 100, 124, 125} {
				payload := strings.Repeat(string(rune('a'+n%26)), n)
				frames = append(frames, fromClient(true, OpPing, payload))
				want = append(want, payload)
			}
			reason := strings.Repeat("r", 123)
			frames = append(frames, fromClient(true, OpClose, "\x03\xe8"+reason))
			p.sendAsync(bytes.Join(frames, nil))
			done := make(chan error, 1)
			go func() {
				_, _, err := c.ReadMessage()
				done <- err
			}()
			for _, payload := range want {
				p.mustReadFrame(OpPong, payload)
			}
			p.expectClose(StatusNormalClosure)
			var ce *CloseError
			if err := <-done; !errors.As(err, &ce) || ce.Code != StatusNormalClosure || ce.Reason != reason {
				t.Fatalf("ReadMessage = %v, want the peer's close with its %d-byte reason", err, len(reason))
			}
		})
	}
}

// An idle connection pays for its Conn: keep it in the 288-byte size class
// (the idle workload of benchmarks/), with its buffers in the pools.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 288 {
		t.Fatalf("Conn is %d bytes, past the 288-byte size class", n)
	}
}
