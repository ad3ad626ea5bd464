//go:build !js

package websocket

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// FuzzServerConn feeds arbitrary bytes to a server Conn, which must neither
// panic nor hang, and with a small read limit cannot be made to hold much.
func FuzzServerConn(f *testing.F) {
	for _, tt := range connViolations {
		f.Add(bytes.Join(tt.chunks, nil))
	}
	f.Add(bytes.Join([][]byte{
		fromClient(false, OpText, "Hel"), fromClient(true, OpPing, "p"),
		fromClient(true, OpContinuation, "lo"), fromClient(true, OpBinary, "\x00\x01"),
		clientClose(1000, "bye"),
	}, nil))
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, data, true, connConfig{readLimit: 1024, closeTimeout: 100 * time.Millisecond})
	})
}

// FuzzClientConn is FuzzServerConn for a client Conn, fed what a hostile
// server could send.
func FuzzClientConn(f *testing.F) {
	for _, tt := range connViolations {
		f.Add(bytes.Join(tt.chunks, nil))
	}
	f.Add(bytes.Join([][]byte{
		fromServer(false, OpText, "Hel"), fromServer(true, OpPing, "p"),
		fromServer(true, OpContinuation, "lo"), fromServer(true, OpBinary, "\x00\x01"),
		fromServer(true, OpClose, "\x03\xe8bye"),
	}, nil))
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, data, false, connConfig{readLimit: 1024, closeTimeout: 100 * time.Millisecond})
	})
}

// FuzzServerConnCompressed is FuzzServerConn with permessage-deflate
// negotiated (RFC 7692), with context takeover when the first byte is odd
// (for a frame: a text or continuation frame first):
// the read limit must hold for decompressed messages too, and bad compressed
// data must fail the connection, never panic or hang it.
func FuzzServerConnCompressed(f *testing.F) {
	msg := jsonish(3000, 1)
	payload := compressed(f, msg)
	for _, seed := range [][]byte{
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, payload),
		bytes.Join([][]byte{
			clientFrame(Header{Rsv1: true, Opcode: OpText}, payload[:10]),
			fromClient(true, OpPing, "p"),
			clientFrame(Header{Fin: true, Opcode: OpContinuation}, payload[10:]),
			clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, compressed(f, []byte("hello hello"))),
			fromClient(true, OpText, "plain"),
			clientClose(1000, ""),
		}, nil),
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpBinary}, compressed(f, make([]byte, 100000))),
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, []byte{0x07, 0x00}),
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, nil),
		clientFrame(Header{Fin: true, Rsv1: true, Opcode: OpText}, []byte{0x01, 0x00, 0x00, 0xff, 0xff, 'x'}),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &deflateParams{writeWindowBits: maxWindowBits, level: DefaultCompressionLevel}
		if len(data) > 0 && data[0]&1 == 1 {
			p.readTakeover, p.writeTakeover = true, true
		}
		fuzzConn(t, data, true, connConfig{readLimit: 1024, closeTimeout: 100 * time.Millisecond, deflate: p})
	})
}

// fuzzConn feeds data to a Conn made with cfg, a server or a client, whose
// read limit must be at most 1024, reading messages until an error.
func fuzzConn(t *testing.T, data []byte, server bool, cfg connConfig) {
	t.Helper()
	a, b := net.Pipe()
	c := newConn(b, nil, server, cfg)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); io.Copy(io.Discard, a) }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.SetWriteDeadline(time.Now().Add(testTimeout))
		a.Write(data)
		a.Close()
	}()
	c.SetReadDeadline(time.Now().Add(testTimeout))
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 0, 2048)
		for range 1000 {
			var err error
			_, buf, err = c.AppendMessage(buf[:0])
			if err != nil {
				return
			}
			if len(buf) > 1024 {
				t.Errorf("read a message of %d bytes past the 1024-byte limit", len(buf))
			}
		}
	}()
	// Every wait of the Conn is bounded: by the read deadline above, the
	// close timeout or linger. A hang is a wait past all of them; a slow
	// return is only a loaded machine (a 2 s bound once failed under CPU
	// starvation on an input that passes 150 times in 150).
	hang := 4 * testTimeout
	select {
	case <-done:
	case <-time.After(hang):
		t.Fatalf("the Conn did not return within %v on % x", hang, data)
	}
	c.CloseNow()
	a.Close()
	wg.Wait()
}
