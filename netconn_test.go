//go:build !js

package websocket

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// netConnPair returns byte-stream views of a client and a server Conn over
// loopback TCP.
func netConnPair(t *testing.T) (cli, srv net.Conn) {
	t.Helper()
	c, s := connPair(t, tcpConns, connConfig{}, connConfig{})
	return NetConn(c, OpBinary), NetConn(s, OpBinary)
}

// stallGuard renews the deadline of its net.Conn before every Read and
// Write, so that a transfer fails when it stalls, not when a loaded machine
// is slow to move all of it.
type stallGuard struct{ net.Conn }

func (g stallGuard) Read(p []byte) (int, error) {
	g.SetReadDeadline(time.Now().Add(testTimeout))
	return g.Conn.Read(p)
}

func (g stallGuard) Write(p []byte) (int, error) {
	g.SetWriteDeadline(time.Now().Add(testTimeout))
	return g.Conn.Write(p)
}

// TestNetConnTunnelsStream copies 8 MiB each way at once through io.Copy
// with odd chunk sizes and checks the bytes that arrive, in order. Each
// read and write has a deadline of its own: 8 MiB each way under the race
// detector on a busy machine outlasted one deadline for the whole copy.
func TestNetConnTunnelsStream(t *testing.T) {
	c, s := netConnPair(t)
	cli, srv := stallGuard{c}, stallGuard{s}
	data := make([]byte, 8<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	send := func(w net.Conn, seed uint64) error {
		rng := rand.New(rand.NewPCG(seed, 3))
		for p := data; len(p) > 0; {
			n := min(len(p), 1+rng.IntN(100000))
			if _, err := w.Write(p[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	sums := make(chan [32]byte, 2)
	for i, pair := range [][2]net.Conn{{cli, srv}, {srv, cli}} {
		w, r := pair[0], pair[1]
		wg.Add(2)
		go func() { defer wg.Done(); errs <- send(w, uint64(i)) }()
		go func() {
			defer wg.Done()
			h := sha256.New()
			_, err := io.CopyN(h, r, int64(len(data)))
			errs <- err
			var sum [32]byte
			h.Sum(sum[:0])
			sums <- sum
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := sha256.Sum256(data)
	for range 2 {
		if got := <-sums; got != want {
			t.Fatal("the bytes read differ from the bytes written")
		}
	}
}

// TestNetConnEOFOnNormalClose checks that a normal closure ends the stream
// with io.EOF after every byte sent before it, including empty messages.
func TestNetConnEOFOnNormalClose(t *testing.T) {
	cli, srv := netConnPair(t)
	srv.SetReadDeadline(time.Now().Add(testTimeout))
	go func() {
		cli.Write([]byte("hello, "))
		cli.Write(nil) // an empty message is no data, not the end
		cli.Write([]byte("world"))
		cli.Close()
	}()
	got, err := io.ReadAll(srv)
	if err != nil || string(got) != "hello, world" {
		t.Fatalf("ReadAll = %q, %v; want %q, nil", got, err, "hello, world")
	}
	if n, err := srv.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v; want io.EOF again", n, err)
	}
}

// TestNetConnReportsAbnormalClose checks that a close with another code is
// an error, not the end of the stream.
func TestNetConnReportsAbnormalClose(t *testing.T) {
	c, s := connPair(t, tcpConns, connConfig{}, connConfig{})
	srv := NetConn(s, OpBinary)
	srv.SetReadDeadline(time.Now().Add(testTimeout))
	go c.Close(StatusInternalError, "boom")
	_, err := io.ReadAll(srv)
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusInternalError {
		t.Fatalf("ReadAll error = %v; want the peer's close 1011", err)
	}
}

func TestNetConnReadDeadline(t *testing.T) {
	_, srv := netConnPair(t)
	srv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err := srv.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v; want a timeout", err)
	}
	if d := time.Since(start); d > testTimeout {
		t.Fatalf("Read returned after %v", d)
	}
}

// TestNetConnSmallReads reads a message through a buffer smaller than it,
// so one message spans several Reads.
func TestNetConnSmallReads(t *testing.T) {
	cli, srv := netConnPair(t)
	srv.SetReadDeadline(time.Now().Add(testTimeout))
	want := bytes.Repeat([]byte("0123456789"), 100)
	go cli.Write(want)
	var got []byte
	buf := make([]byte, 7)
	for len(got) < len(want) {
		n, err := srv.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
	if srv.LocalAddr() == nil || srv.RemoteAddr() == nil || srv.RemoteAddr().String() != cli.LocalAddr().String() {
		t.Fatalf("addresses: local %v remote %v, peer local %v", srv.LocalAddr(), srv.RemoteAddr(), cli.LocalAddr())
	}
}

func TestNetConnCloseTwice(t *testing.T) {
	cli, srv := netConnPair(t)
	go io.Copy(io.Discard, srv)
	srv.SetDeadline(time.Now().Add(testTimeout))
	cli.SetDeadline(time.Now().Add(testTimeout))
	go func() { io.Copy(io.Discard, cli) }()
	if err := cli.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := cli.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v; want net.ErrClosed", err)
	}
	if _, err := cli.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v; want ErrClosed", err)
	}
}

// TestNetConnZeroLengthRead checks that Read with an empty buffer returns at
// once, as on a TCP connection, rather than waiting for a message.
func TestNetConnZeroLengthRead(t *testing.T) {
	_, srv := netConnPair(t)
	srv.SetReadDeadline(time.Now().Add(testTimeout))
	if n, err := srv.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
}

// TestNetConnConcurrentWrites has several goroutines write to one stream at
// once, as net.Conn allows: every Write arrives whole, never split by another.
func TestNetConnConcurrentWrites(t *testing.T) {
	cli, srv := netConnPair(t)
	cli.SetDeadline(time.Now().Add(testTimeout))
	srv.SetDeadline(time.Now().Add(testTimeout))
	const writers, writes, size = 4, 50, 3000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunk := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range writes {
				if _, err := cli.Write(chunk); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	got := make([]byte, writers*writes*size)
	_, err := io.ReadFull(srv, got)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(got); i += size {
		if c := got[i]; c < 'a' || c >= 'a'+writers || !bytes.Equal(got[i:i+size], bytes.Repeat([]byte{c}, size)) {
			t.Fatalf("bytes %d to %d mix writes", i, i+size)
		}
	}
}

// TestNetConnNoGoroutineLeak tunnels through an echo between Conns that
// send keep-alive pings, and closes; every goroutine the Conns or the test
// started must then end.
func TestNetConnNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		cfg := connConfig{pingInterval: keepAliveInterval}
		c, s := connPair(t, tcpConns, cfg, cfg)
		cli, srv := NetConn(c, OpBinary), NetConn(s, OpBinary)
		cli.SetDeadline(time.Now().Add(testTimeout))
		srv.SetDeadline(time.Now().Add(testTimeout))
		echoed := make(chan error, 1)
		go func() { _, err := io.Copy(srv, srv); echoed <- err }()
		data := bytes.Repeat([]byte("tunnel "), 10000)
		got := make([]byte, len(data))
		read := make(chan error, 1)
		go func() { _, err := io.ReadFull(cli, got); read <- err }()
		pingBoth(t, c, s) // answered by the readers
		if _, err := cli.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := <-read; err != nil || !bytes.Equal(got, data) {
			t.Fatalf("echo: %v", err)
		}
		if err := cli.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-echoed; err != nil {
			t.Fatalf("the echo ended with %v; want io.EOF, which io.Copy reports as nil", err)
		}
		srv.Close()
	}()
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
