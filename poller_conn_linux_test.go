package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/fullduplex/websocket/internal/netpoll"
)

// The Poller's own connections (poller_conn_linux.go): the socket taken over
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

// stuckWriter returns a Conn a Poller serves with h, whose peer never
// reads, and the peer's end; their socket buffers are small.
func stuckWriter(t *testing.T, p *Poller, h MessageHandler) (*Conn, net.Conn) {
	t.Helper()
	// The close timeout bounds the wait for a peer that reads its queue
	// and answers the Close late, on a busy machine: scaled.
	a, c := stuckPeer(t, scaled(time.Second))
	if err := p.Add(c, h); err != nil {
		t.Fatal(err)
	}
	return c, a
}

// queued returns how many bytes wait in c's queue.
func queued(c *Conn) int {
	pc := c.nc.(*pollConn)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.more == nil {
		return 0
	}
	return pc.more.queued()
}

// writeUntil writes msg to c until a write fails or stop says so, at most
// max times, on a goroutine of its own, and returns the writes made, the
// error that ended them, if any, and the most c had queued. A write that
// waits for the peer keeps it from returning.
func writeUntil(t *testing.T, c *Conn, msg []byte, limit int, stop func() bool) (int, error, int) {
	t.Helper()
	type result struct {
		n, most int
		err     error
	}
	res := make(chan result, 1)
	go func() {
		var r result
		for r.n < limit && !stop() {
			if r.err = c.WriteMessage(OpBinary, msg); r.err != nil {
				break
			}
			r.n++
			r.most = max(r.most, queued(c))
		}
		res <- r
	}()
	select {
	case r := <-res:
		return r.n, r.err, r.most
	case <-time.After(testTimeout):
		t.Fatal("a write to a peer that does not read waited")
		return 0, nil, 0
	}
}

// Writes to a peer that does not read never wait: what the socket does not
// take is queued, up to WriteQueueLimit and one message, and the write that
// finds more than the limit queued fails with an error wrapping ErrClosed
// and drops the connection; HandleClose says why.
func TestPollerWriteQueueOverflowDropsTheNonReader(t *testing.T) {
	const limit = 64 << 10
	p := newTestPoller(t, &PollerOptions{WriteQueueLimit: limit})
	rec := newRecorder(nil)
	c, _ := stuckWriter(t, p, rec)
	msg := make([]byte, 16<<10)
	n, err, most := writeUntil(t, c, msg, 100_000, func() bool { return false })
	t.Logf("%d writes of %d bytes, then %v; at most %d bytes queued", n, len(msg), err, most)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("write error = %v, want one wrapping ErrClosed", err)
	}
	if bound := limit + len(msg) + MaxHeaderSize; most > bound {
		t.Errorf("%d bytes queued, want at most the limit and a message, %d", most, bound)
	}
	if err := rec.waitClose(t); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "WriteQueueLimit") {
		t.Fatalf("HandleClose error = %v, want the queue's", err)
	}
	if err := c.WriteMessage(OpText, []byte("after")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after the drop: %v, want one wrapping ErrClosed", err)
	}
}

// Output queued while the peer does not read goes out, whole and in order,
// once it does: the poll goroutine writes the queue as room comes.
func TestPollerQueuedOutputDrainsInOrder(t *testing.T) {
	p := newTestPoller(t, &PollerOptions{WriteQueueLimit: 64 << 20})
	a, b := tcpConns(t)
	c := newConn(b, nil, true, connConfig{})
	if err := p.Add(c, newRecorder(nil)); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	msg := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 20000+i) }
	for i := range n {
		if err := c.WriteMessage(OpBinary, msg(i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if queued(c) == 0 {
		t.Fatal("nothing queued: the socket took 20 MB from a peer that reads nothing")
	}
	peer := &rawPeer{t: t, nc: a, br: bufio.NewReader(a), client: true}
	a.SetReadDeadline(time.Now().Add(testTimeout))
	for i := range n {
		peer.mustReadFrame(OpBinary, string(msg(i)))
	}
	if q := queued(c); q != 0 {
		t.Fatalf("%d bytes still queued once the peer read everything", q)
	}
}

// A queue that does not drain within WriteTimeout drops the connection.
func TestPollerWriteTimeoutDropsTheNonReader(t *testing.T) {
	p := newTestPoller(t, &PollerOptions{WriteTimeout: 100 * time.Millisecond, WriteQueueLimit: 32 << 20})
	rec := newRecorder(nil)
	c, _ := stuckWriter(t, p, rec)
	msg := make([]byte, 16<<10)
	if _, err, _ := writeUntil(t, c, msg, 10_000, func() bool { return queued(c) > 0 }); err != nil {
		t.Fatal(err)
	}
	if err := rec.waitClose(t); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "not taken by the peer within") {
		t.Fatalf("HandleClose error = %v, want the write timeout's", err)
	}
	if err := c.WriteMessage(OpText, []byte("after")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after the drop: %v, want one wrapping ErrClosed", err)
	}
}

// CloseNow drops queued output and closes at once; Close sends its Close
// frame behind the queued output, which a peer that reads later gets whole.
func TestPollerCloseWithOutputQueued(t *testing.T) {
	for _, now := range []bool{true, false} {
		t.Run(fmt.Sprintf("CloseNow=%v", now), func(t *testing.T) {
			goroutines := runtime.NumGoroutine()
			p, err := NewPoller(nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := newRecorder(nil)
			c, a := stuckWriter(t, p, rec)
			msg := bytes.Repeat([]byte("q"), 16<<10)
			n, err, _ := writeUntil(t, c, msg, 10_000, func() bool { return queued(c) > 0 })
			if err != nil {
				t.Fatal(err)
			}
			peer := &rawPeer{t: t, nc: a, br: bufio.NewReader(a), client: true}
			a.SetReadDeadline(time.Now().Add(testTimeout))
			if now {
				c.CloseNow()
				if err := rec.waitClose(t); !errors.Is(err, ErrClosed) {
					t.Fatalf("HandleClose error = %v, want ErrClosed", err)
				}
				// The peer gets what the socket took, then the end: not
				// all of it.
				got := 0
				for ; ; got++ {
					if _, _, err := peer.readFrame(); err != nil {
						break
					}
				}
				if got >= n {
					t.Fatalf("the peer got all %d messages after CloseNow dropped the queue", n)
				}
			} else {
				if err := c.Close(StatusGoingAway, "bye"); err != nil {
					t.Fatal(err)
				}
				for range n {
					peer.mustReadFrame(OpBinary, string(msg))
				}
				peer.expectClose(StatusGoingAway)
				peer.write(clientClose(1001, ""))
				if err := rec.waitClose(t); CloseStatus(err) != StatusGoingAway {
					t.Fatalf("HandleClose error = %v, want the peer's 1001", err)
				}
			}
			p.Close()
			waitGoroutines(t, goroutines)
		})
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
		fd := int(c.nc.(*pollConn).sock.Num())
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
	if rc := netpoll.RawConn(nc); rc != nil {
		rc.Control(func(s uintptr) { fd = int(s) })
	}
	return fd
}

// A read never waits: with nothing arrived it returns errWouldBlock, for
// the Poller to read again when epoll reports input.
func TestPollerConnReadNeverWaits(t *testing.T) {
	p := newTestPoller(t, nil)
	a, b := tcpConns(t)
	c := newConn(b, nil, true, connConfig{})
	t.Cleanup(func() { c.CloseNow() })
	if err := p.Add(c, newRecorder(nil)); err != nil {
		t.Fatal(err)
	}
	pc := c.nc.(*pollConn)
	c.readMu.Lock() // the worker's, so that no turn reads meanwhile
	defer c.readMu.Unlock()
	pc.budget = turnBudget
	if n, err := pc.Read(make([]byte, 16)); n != 0 || err != errWouldBlock {
		t.Fatalf("read with nothing arrived: %d, %v, want 0, errWouldBlock", n, err)
	}
	if !pc.drained {
		t.Error("the socket is empty, and the read did not say so")
	}
	a.Close()
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

// Out of descriptors, as a server under a flood of connections may be, the
// connections a Poller serves go on: reads and writes that must wait take
// no descriptor (the Poller's epoll reports room and input), and Add takes
// a socket over with the spare descriptor the Poller keeps. It runs in a
// child process, whose descriptor limit it lowers.
func TestPollerOutOfDescriptors(t *testing.T) {
	if os.Getenv("FULLDUPLEX_FD_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPollerOutOfDescriptors$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "FULLDUPLEX_FD_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestPollerOutOfDescriptors")) {
			t.Fatalf("child: %v\n%s", err, out)
		}
		t.Logf("child:\n%s", out)
		return
	}
	p := newTestPoller(t, &PollerOptions{WriteQueueLimit: 8 << 20})
	var clients []*Conn
	for range 4 {
		a, b := tcpConns(t)
		cli := newConn(a, nil, false, connConfig{})
		if err := p.Add(newConn(b, nil, true, connConfig{}), newRecorder(echoBack)); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cli)
	}
	a, b := tcpConns(t) // to be added once the descriptors are gone
	late := newConn(a, nil, false, connConfig{})

	// Every descriptor the limit allows, taken.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	low := lim
	low.Cur = uint64(len(open) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	var fill []int
	defer func() {
		for _, fd := range fill {
			syscall.Close(fd)
		}
	}()
	for {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		fill = append(fill, fd)
	}
	t.Logf("descriptor limit %d, all taken", low.Cur)

	if err := p.Add(newConn(b, nil, true, connConfig{}), newRecorder(echoBack)); err != nil {
		t.Fatalf("Add with no descriptor left: %v", err)
	}
	clients = append(clients, late)
	// Messages of 1 MiB each way: the socket buffers take a part, and the
	// reads and writes of the rest wait on the peer.
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for i, cli := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cli.SetDeadline(time.Now().Add(testTimeout))
			for k := range 4 {
				want := bytes.Repeat([]byte{byte(i*4 + k)}, 1<<20)
				go cli.WriteMessage(OpBinary, want)
				_, got, err := cli.ReadMessage()
				if err != nil || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("conn %d, message %d: %d bytes, %v", i, k, len(got), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A Poller's drop: told on a worker, and counted by Stats.
func TestObserverPollerDrop(t *testing.T) {
	l := newEventLog()
	p := newTestPoller(t, &PollerOptions{WriteQueueLimit: 64 << 10})
	_, c := stuckPeer(t, time.Second)
	c.opened(l.observer(nil), time.Now(), false, "")
	if err := p.Add(c, newRecorder(nil)); err != nil {
		t.Fatal(err)
	}
	writeUntil(t, c, make([]byte, 16<<10), 100_000, func() bool { return false })
	i := l.waitClosed(t)
	if !errors.Is(i.Err, ErrClosed) {
		t.Errorf("CloseInfo %+v, want the drop's error", i)
	}
	events := l.list()
	if len(events) < 2 || events[len(events)-2] != "dropped queue_full group=false queued>0=true" {
		t.Errorf("events %q, want the drop before the close", events)
	}
	if s := p.Stats(); s.Dropped[DropQueueFull] != 1 {
		t.Errorf("Stats %+v, want one drop for a full queue", s)
	}
}
