package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// The Poller's own connections (fdconn_linux.go): the socket taken over
// from the net.Conn, reads and writes over the descriptor, waits that park
// a goroutine, and a close that no late writer gets past.

// Every byte of the record is paid by every idle connection.
func TestPollerConnRecordFitsIn96Bytes(t *testing.T) {
	if n := unsafe.Sizeof(pollConn{}); n > 96 {
		t.Fatalf("pollConn is %d bytes, want at most 96", n)
	}
}

func TestPollerTakesTheSocketOver(t *testing.T) {
	p := newTestPoller(t, nil)
	a, b := tcpConns(t)
	cli := newConn(a, nil, false, connConfig{})
	srv := newConn(b, nil, true, connConfig{})
	t.Cleanup(func() { cli.CloseNow(); srv.CloseNow() })
	if err := p.Add(srv, newRecorder(echoBack)); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.nc.(*pollConn); !ok {
		t.Fatalf("the Conn's net.Conn is a %T, want the Poller's *pollConn", srv.nc)
	}
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on the net.Conn given to Add: %v, want net.ErrClosed", err)
	}
	if got, want := srv.RemoteAddr().String(), a.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr = %s, want %s", got, want)
	}
	if got, want := srv.LocalAddr().String(), a.RemoteAddr().String(); got != want {
		t.Errorf("LocalAddr = %s, want %s", got, want)
	}
	// 70 MB each way: the deadlines catch a stall, not a slow machine.
	const n = 2000
	go func() {
		for i := range n {
			cli.SetWriteDeadline(time.Now().Add(testTimeout))
			cli.WriteMessage(OpBinary, bytes.Repeat([]byte{byte(i)}, i*37%70000))
		}
	}()
	for i := range n {
		cli.SetReadDeadline(time.Now().Add(testTimeout))
		op, got, err := cli.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := bytes.Repeat([]byte{byte(i)}, i*37%70000); op != OpBinary || !bytes.Equal(got, want) {
			t.Fatalf("message %d: got %v of %d bytes, want binary of %d", i, op, len(got), len(want))
		}
	}
	if err := cli.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if got := srv.RemoteAddr(); got.(*net.TCPAddr) != nil {
		t.Errorf("RemoteAddr once closed = %v, want a nil *net.TCPAddr", got)
	}
}

// Input read into the Conn's buffer before Add, frames the client sent
// behind its handshake, is read first, whatever the buffer's size.
func TestPollerTakeOverKeepsBufferedInput(t *testing.T) {
	for _, size := range []int{DefaultBufferSize, 3 * DefaultBufferSize} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			p := newTestPoller(t, nil)
			a, b := tcpConns(t)
			peer := &rawPeer{t: t, nc: a, br: bufio.NewReader(a), client: true}
			var sent []byte
			for i := range 5 {
				sent = append(sent, fromClient(true, OpText, fmt.Sprint("early ", i, strings.Repeat("x", size/8)))...)
			}
			a.SetDeadline(time.Now().Add(testTimeout))
			a.Write(sent)
			br := bufio.NewReaderSize(b, size)
			if _, err := br.Peek(len(sent)); err != nil {
				t.Fatal(err)
			}
			c := newConn(b, br, true, connConfig{readBufferSize: size})
			t.Cleanup(func() { c.CloseNow() })
			if err := p.Add(c, newRecorder(echoBack)); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				peer.mustReadFrame(OpText, fmt.Sprint("early ", i, strings.Repeat("x", size/8)))
			}
			peer.write(fromClient(true, OpText, "later"))
			peer.mustReadFrame(OpText, "later")
		})
	}
}

// stuckWriter returns a Conn a Poller serves whose peer never reads, and a
// channel that gets the error of the write that fills the socket's buffers,
// once that write has parked.
func stuckWriter(t *testing.T, p *Poller, h Handler) (*Conn, <-chan error) {
	t.Helper()
	_, c := stuckPeer(t, time.Second)
	if err := p.Add(c, h); err != nil {
		t.Fatal(err)
	}
	pc := c.nc.(*pollConn)
	res := make(chan error, 1)
	go func() {
		msg := make([]byte, 64<<10)
		for {
			if err := c.WriteMessage(OpBinary, msg); err != nil {
				res <- err
				return
			}
		}
	}()
	for deadline := time.Now().Add(testTimeout); pc.more.Load() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the write to a peer that does not read did not wait")
		}
	}
	return c, res
}

func waitWriteEnd(t *testing.T, res <-chan error, want error) {
	t.Helper()
	select {
	case err := <-res:
		if !errors.Is(err, want) {
			t.Fatalf("write error = %v, want %v", err, want)
		}
	case <-time.After(testTimeout):
		t.Fatal("the waiting write did not end")
	}
}

func TestPollerStuckWriteEndsBySetWriteDeadline(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	p, err := NewPoller(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, res := stuckWriter(t, p, newRecorder(nil))
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	waitWriteEnd(t, res, os.ErrDeadlineExceeded)
	t.Logf("write ended %v after the deadline was set", time.Since(start))
	p.Close()
	waitGoroutines(t, goroutines)
}

func TestPollerStuckWriteEndsByCloseNow(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	p, err := NewPoller(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, res := stuckWriter(t, p, newRecorder(nil))
	time.Sleep(20 * time.Millisecond)
	c.CloseNow()
	waitWriteEnd(t, res, ErrClosed)
	p.Close()
	waitGoroutines(t, goroutines)
}

// Writes that wait park goroutines, not threads: a hundred peers that do
// not read cost no thread each.
func TestPollerStuckWritesHoldNoThread(t *testing.T) {
	n := connsWithinFDLimit(100)
	if n < 50 {
		t.Skipf("a descriptor limit too low for %d connections", 50)
	}
	p := newTestPoller(t, nil)
	before := threads(t)
	var ress []<-chan error
	for range n {
		_, res := stuckWriter(t, p, newRecorder(nil))
		ress = append(ress, res)
	}
	if got := threads(t) - before; got > n/4 {
		t.Errorf("%d threads more for %d waiting writes", got, n)
	}
	p.Close()
	for _, res := range ress {
		waitWriteEnd(t, res, ErrClosed)
	}
}

// threads returns the number of threads of the process.
func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Skip(err)
			}
			return n
		}
	}
	t.Skip("no thread count in /proc/self/status")
	return 0
}

// Close races with writers; once it has closed the descriptor, its number
// goes to the next socket, which no late writer may write to.
func TestPollerCloseRacesWritesAndNoLateWriteReachesAReusedDescriptor(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pair := func() (net.Conn, net.Conn) {
		a, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		b, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	p := newTestPoller(t, nil)
	reused := 0
	for range 30 {
		a, b := pair()
		c := newConn(b, nil, true, connConfig{})
		if err := p.Add(c, newRecorder(nil)); err != nil {
			t.Fatal(err)
		}
		fd := int(c.nc.(*pollConn).fd)
		var writers sync.WaitGroup
		for range 4 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				for c.WriteMessage(OpText, []byte("stale")) == nil {
				}
			}()
		}
		time.Sleep(time.Millisecond)
		c.CloseNow()
		// New sockets while the writers may still be at it: one is likely
		// to get the closed descriptor's number.
		var news []net.Conn
		for range 3 {
			na, nb := pair()
			news = append(news, na, nb)
		}
		writers.Wait()
		for _, nc := range news {
			if fdNum(nc) == fd {
				reused++
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
			if k, err := nc.Read(make([]byte, 64)); k > 0 {
				t.Fatalf("a new socket got %q: a late write reached a reused descriptor", "stale")
			} else if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read on a new socket: %v", err)
			}
		}
		for _, nc := range news {
			nc.Close()
		}
		a.Close()
	}
	t.Logf("the closed descriptor's number was reused in %d of 30 rounds", reused)
}

func fdNum(nc net.Conn) int {
	fd := -1
	if rc := rawConnOf(nc); rc != nil {
		rc.Control(func(s uintptr) { fd = int(s) })
	}
	return fd
}

// A read that waits ends with the read deadline, and with Close, at once.
func TestPollerConnReadWaitEndsByDeadlineAndClose(t *testing.T) {
	for _, byClose := range []bool{false, true} {
		t.Run(fmt.Sprintf("byClose=%v", byClose), func(t *testing.T) {
			p := newTestPoller(t, nil)
			a, b := tcpConns(t)
			c := newConn(b, nil, true, connConfig{})
			t.Cleanup(func() { c.CloseNow() })
			if err := p.Add(c, newRecorder(nil)); err != nil {
				t.Fatal(err)
			}
			pc := c.nc.(*pollConn)
			res := make(chan error, 1)
			go func() {
				_, err := pc.Read(make([]byte, 16))
				res <- err
			}()
			for pc.more.Load() == nil {
				time.Sleep(time.Millisecond)
			}
			want := net.ErrClosed
			if byClose {
				c.CloseNow()
			} else {
				want = os.ErrDeadlineExceeded
				pc.SetReadDeadline(time.Now())
			}
			select {
			case err := <-res:
				if !errors.Is(err, want) {
					t.Fatalf("read error = %v, want %v", err, want)
				}
				if ne, ok := err.(net.Error); !byClose && (!ok || !ne.Timeout()) {
					t.Fatalf("read error %v is not a net.Error whose Timeout is true", err)
				}
			case <-time.After(testTimeout):
				t.Fatal("the waiting read did not end")
			}
			a.Close()
		})
	}
}

// A Unix socket is taken over too, and its addresses stay Unix ones.
func TestPollerTakesAUnixSocketOver(t *testing.T) {
	ln, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	a, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	p := newTestPoller(t, nil)
	cli := newConn(a, nil, false, connConfig{})
	srv := newConn(b, nil, true, connConfig{})
	t.Cleanup(func() { cli.CloseNow(); srv.CloseNow() })
	if err := p.Add(srv, newRecorder(echoBack)); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.nc.(*pollConn); !ok {
		t.Fatalf("the Conn's net.Conn is a %T, want the Poller's *pollConn", srv.nc)
	}
	if got, ok := srv.LocalAddr().(*net.UnixAddr); !ok || got.String() != ln.Addr().String() {
		t.Errorf("LocalAddr = %v, want %v", srv.LocalAddr(), ln.Addr())
	}
	cli.SetDeadline(time.Now().Add(testTimeout))
	for _, n := range []int{1, 70000} {
		want := bytes.Repeat([]byte("u"), n)
		cli.WriteMessage(OpBinary, want)
		if _, got, err := cli.ReadMessage(); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: got %d bytes, %v", n, len(got), err)
		}
	}
}
