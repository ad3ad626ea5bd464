package netpoll

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection, closed when
// the test ends.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if a, err = net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// socketPair returns a loopback TCP connection's client end and a netpoll
// FD over a dup of its server end, which is closed.
func socketPair(t *testing.T) (net.Conn, *FD) {
	t.Helper()
	a, b := tcpPair(t)
	var err error
	var fd int
	RawConn(b).Control(func(s uintptr) { fd, err = Dup(int(s), -1) })
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	syscall.SetNonblock(fd, true)
	f := new(FD)
	f.Init(fd, false)
	t.Cleanup(func() { f.Close() })
	return a, f
}

func TestFDReadNeverWaits(t *testing.T) {
	a, f := socketPair(t)
	buf := make([]byte, 64)
	if n, drained, err := f.Read(buf); n != 0 || !drained || err != ErrWouldBlock {
		t.Fatalf("read of nothing: %d %v %v, want ErrWouldBlock", n, drained, err)
	}
	a.Write([]byte("hello"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, drained, err := f.Read(buf)
		if err == ErrWouldBlock && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			continue
		}
		if string(buf[:n]) != "hello" || !drained || err != nil {
			t.Fatalf("read %q %v %v, want hello, drained", buf[:n], drained, err)
		}
		break
	}
	a.Close()
	for {
		_, _, err := f.Read(buf)
		if err == ErrWouldBlock && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != io.EOF {
			t.Fatalf("read after the peer closed: %v, want EOF", err)
		}
		break
	}
}

// Writev takes what the socket takes and says so, never waiting.
func TestFDWritevStopsWhenFull(t *testing.T) {
	_, f := socketPair(t)
	syscall.SetsockoptInt(f.Num(), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
	chunk := make([]byte, 64<<10)
	var total int64
	for i := 0; i < 10_000; i++ {
		n, err := f.Writev([][]byte{chunk[:10], chunk})
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n < int64(len(chunk)+10) {
			return // full: a short count, no error
		}
	}
	t.Fatalf("%d bytes written to a peer that reads nothing, and never full", total)
}

func TestFDCloseAndAddresses(t *testing.T) {
	a, f := socketPair(t)
	if got, want := f.RemoteAddr().String(), a.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr %s, want %s", got, want)
	}
	if !f.Close() || f.Close() {
		t.Error("Close twice did not report the first only")
	}
	if _, _, err := f.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read once closed: %v", err)
	}
	if addr := f.LocalAddr(); addr.(*net.TCPAddr) != nil {
		t.Errorf("LocalAddr once closed: %v, want a nil *net.TCPAddr", addr)
	}
}

// Epoll reports input once per arrival (edge-triggered), with the tag.
func TestEpollReportsInputWithTag(t *testing.T) {
	a, f := socketPair(t)
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Add(f.Num(), 7); err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("x"))
	events := make([]Event, 8)
	got := make(chan uint32, 8)
	go func() {
		for e.Wait(events, func(fd int, tag uint32, ev uint32) {
			if ev&Input != 0 && fd == f.Num() {
				got <- tag
			}
		}) {
		}
		close(got)
	}()
	select {
	case tag := <-got:
		if tag != 7 {
			t.Errorf("tag %d, want 7", tag)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report of input")
	}
	e.Wake()
	for range got {
	}
}

// Dup with a spare takes the spare's number, needing no new descriptor.
func TestDupIntoSpare(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	spare, err := e.Spare()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := socketPair(t)
	var fd int
	RawConn(a).Control(func(s uintptr) { fd, err = Dup(int(s), spare) })
	if err != nil || fd != spare {
		t.Fatalf("Dup into spare %d: %d, %v", spare, fd, err)
	}
	syscall.Close(fd)
}

// WaitReadable returns when input arrives, takes none of it, and reports
// its read deadline as a read's timeout, named "read".
func TestWaitReadable(t *testing.T) {
	a, b := tcpPair(t)
	b.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	err := WaitReadable(RawConn(b))
	var oe *net.OpError
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("WaitReadable past the deadline: %v, want a read's timeout", err)
	}
	b.SetReadDeadline(time.Now().Add(time.Minute))
	a.Write([]byte("x"))
	if err := WaitReadable(RawConn(b)); err != nil {
		t.Fatalf("WaitReadable with input: %v", err)
	}
	buf := make([]byte, 2)
	if n, err := b.Read(buf); n != 1 || buf[0] != 'x' {
		t.Fatalf("after WaitReadable, Read = %q, %v; want the byte it waited for", buf[:n], err)
	}
}
