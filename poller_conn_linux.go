package websocket

import (
	"bufio"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/fullduplex/websocket/internal/netpoll"
)

// A connection the Poller serves through epoll does its I/O on a descriptor
// of its own, a netpoll.FD. Add takes the socket over from the net.Conn it
// came with: it moves the descriptor to one of the Poller's and closes the
// net.Conn, whose netFD, addresses and runtime poller record would
// otherwise stay with every idle connection. The pollConn is then the
// Conn's net.Conn, and nothing on it ever waits:
//
//   - Read returns what has arrived, or errWouldBlock when nothing has: the
//     Poller reads again when epoll reports input (poller.go).
//   - Write writes what the socket takes at once and queues the rest on the
//     connection, up to PollerOptions.WriteQueueLimit; the poll goroutine
//     writes the queue when epoll reports room (flush).
//
// So a worker is never held by the network, and a connection costs one
// descriptor however its peer behaves.

// pendingSource serves input read before Add took the socket over, then
// reads from the pollConn: it is the source of the read buffer it is put
// back in.
type pendingSource struct {
	p  []byte
	pc *pollConn
}

func (s *pendingSource) Read(b []byte) (int, error) {
	if len(s.p) > 0 {
		n := copy(b, s.p)
		s.p = s.p[n:]
		return n, nil
	}
	return s.pc.Read(b)
}

// takeOver makes pc the Conn's net.Conn in place of the socket it came with.
// Input already in the read buffer is kept. The caller holds the Conn's
// readMu, frameMu and closed.mu, so nothing uses the old net.Conn meanwhile.
func (pc *pollConn) takeOver() error {
	c := pc.c
	rc := netpoll.RawConn(c.nc)
	if rc == nil {
		return errors.ErrUnsupported
	}
	fd, err := -1, error(nil)
	if cerr := rc.Control(func(s uintptr) { fd, err = pc.p.takeFD(int(s)) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	_, unix := c.nc.(*net.UnixConn)
	pc.sock.Init(fd, unix)
	// Under a Poller the read buffer is always one of the pool's: a frame
	// header and a whole control frame must fit in it (readHeader), and it
	// is let go between messages.
	var pending []byte
	if c.br != nil {
		if n := c.br.Buffered(); n > 0 {
			pending = make([]byte, n)
			c.br.Read(pending)
		}
		if c.br.Size() == DefaultBufferSize {
			putReader(c.br)
		}
		c.br = nil
	}
	// Closing the net.Conn frees its runtime poller record, and takes the
	// socket out of the runtime's epoll; the Poller's descriptor keeps the
	// socket open. Deadline setters and address getters may run on other
	// goroutines: they load nc under ncMu.
	old := c.nc
	c.ncMu.Lock()
	c.nc = pc
	c.ncMu.Unlock()
	old.Close()
	pc.p.refillSpare()
	if len(pending) > 0 {
		// Back into a read buffer, which Peek fills from pending.
		br := bufio.NewReaderSize(&pendingSource{pending, pc}, max(len(pending), DefaultBufferSize))
		br.Peek(len(pending))
		c.br = br
	}
	return nil
}

// nonblocking marks a net.Conn whose reads never wait (Conn.Close).
func (pc *pollConn) nonblocking() {}

// expired reports whether the deadline d, in Unix nanoseconds, has passed.
func expired(d int64) bool { return d != 0 && d <= time.Now().UnixNano() }

// Read reads what has arrived. It never waits: with nothing there it
// returns errWouldBlock, as it does once the turn's budget is spent.
// Only the worker serving the connection reads, holding readMu.
func (pc *pollConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if pc.budget <= 0 {
		pc.drained = false
		return 0, errWouldBlock
	}
	n, drained, err := pc.sock.Read(b)
	pc.drained = drained
	pc.budget -= int32(min(n, turnBudget))
	return n, err
}

// Write writes b whole or not at all, as far as its caller can tell: what
// the socket does not take at once waits in the connection's queue, which
// the poll goroutine writes once there is room. It never waits. It fails if
// the queue already holds more than the Poller's WriteQueueLimit, the peer
// not reading: the connection is then dropped.
func (pc *pollConn) Write(b []byte) (int, error) {
	var bufs [2][]byte
	bufs[0] = b
	n, err := pc.writeOrQueue(bufs[:1])
	return int(n), err
}

// WriteBuffers writes a frame's header and payload with one writev, as
// net.Buffers does on a *net.TCPConn (write.go), and queues what the
// socket does not take.
func (pc *pollConn) WriteBuffers(bufs net.Buffers) (int64, error) {
	return pc.writeOrQueue(bufs)
}

func (pc *pollConn) writeOrQueue(bufs [][]byte) (int64, error) {
	var total int64
	for _, b := range bufs {
		total += int64(len(b))
	}
	if expired(pc.wdl.Load()) {
		return 0, pc.sock.OpError("write", os.ErrDeadlineExceeded)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.why != 0 {
		return 0, pc.sock.OpError("write", net.ErrClosed)
	}
	m := pc.more
	if m == nil || m.queued() == 0 {
		n, err := pc.sock.Writev(bufs)
		if err != nil {
			return n, err
		}
		if n == total {
			return n, nil
		}
		bufs = netpoll.Skip(bufs, n)
	} else if m.queued() > pc.p.queueLimit {
		// The peer has not taken what was queued before: drop it. The
		// shutdown wakes the connection, whose worker ends it.
		pc.why, pc.queued = whyOverflow, int32(min(m.queued(), 1<<30))
		pc.sock.Shutdown(syscall.SHUT_RDWR)
		return 0, pc.sock.OpError("write", errOverflow)
	}
	if m == nil {
		m = new(pollMore)
		pc.more = m
	}
	if m.queued() == 0 {
		m.out, m.off = m.out[:0], 0
		m.odl = time.Now().Add(pc.p.writeTimeout).UnixNano()
		if d := pc.wdl.Load(); d != 0 {
			m.odl = min(m.odl, d)
		}
	}
	for _, b := range bufs {
		m.out = append(m.out, b...)
	}
	return total, nil
}

// flush writes queued output, once epoll reports room for it, and closes
// the descriptor if it was only waiting for that. It reports whether the
// connection, paused while output waited, has input to read now, for the
// caller to queue it. The caller holds mu.
func (pc *pollConn) flush() bool {
	m := pc.more
	if m == nil || m.queued() == 0 {
		return false
	}
	var bufs [1][]byte
	bufs[0] = m.out[m.off:]
	n, err := pc.sock.Writev(bufs[:])
	m.off += int(n)
	if err != nil {
		// The peer is gone: a turn reads the end of it.
		m.out, m.off = nil, 0
		pc.sock.Shutdown(syscall.SHUT_RDWR)
	}
	if m.queued() > 0 {
		return false
	}
	// Drained: a large queue is let go, a small one kept for the next.
	m.out, m.off, m.odl = m.out[:0], 0, 0
	if cap(m.out) > DefaultBufferSize {
		m.out = nil
	}
	if m.shutDone {
		m.shutDone = false
		pc.sock.Shutdown(syscall.SHUT_WR)
	}
	if m.closeDone {
		pc.closeFD()
	}
	pc.tidy()
	if pc.state != pollPaused {
		return false
	}
	pc.state = pollIdle
	if !pc.again {
		return false
	}
	pc.again = false
	return pc.wantTurn()
}

// tidy lets pc.more go when nothing is pending. The caller holds mu.
func (pc *pollConn) tidy() {
	if m := pc.more; m != nil && m.msg == nil && m.mdl == 0 && m.queued() == 0 && !m.closeDone && !m.shutDone {
		pc.more = nil
	}
}

// Close closes the connection. Output still queued is written first, as a
// blocking write would have finished, unless the connection is being
// dropped or closed by CloseNow; the descriptor is closed once it has
// drained, or at its deadline (the Poller's sweep).
func (pc *pollConn) Close() error {
	pc.closing()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.sock.Closed() {
		return pc.sock.OpError("close", net.ErrClosed)
	}
	if m := pc.more; m != nil && m.queued() > 0 && pc.why == 0 && !pc.c.byApp.Load() && !pc.p.isClosed() {
		if !m.closeDone {
			m.closeDone = true
			m.odl = min(m.odl, time.Now().Add(pc.c.closeTimeout).UnixNano())
		}
		return nil
	}
	pc.closeFD()
	return nil
}

// closeFD takes the descriptor out of the Poller and closes it once no
// call is inside a syscall on it. The caller holds mu.
func (pc *pollConn) closeFD() {
	if m := pc.more; m != nil {
		m.out, m.off, m.closeDone, m.shutDone = nil, 0, false, false
	}
	pc.p.forget(pc)
	pc.sock.Close()
}

// CloseWrite shuts the sending side down, as *net.TCPConn's does, once the
// queued output has gone out.
func (pc *pollConn) CloseWrite() error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if m := pc.more; m != nil && m.queued() > 0 && !pc.sock.Closed() {
		m.shutDone = true
		return nil
	}
	return pc.sock.Shutdown(syscall.SHUT_WR)
}

// LocalAddr asks the kernel, holding no address between calls. Once the
// connection is closed it returns a nil *net.TCPAddr or *net.UnixAddr.
func (pc *pollConn) LocalAddr() net.Addr { return pc.sock.LocalAddr() }

// RemoteAddr is like LocalAddr, for the peer's address.
func (pc *pollConn) RemoteAddr() net.Addr { return pc.sock.RemoteAddr() }

// SetDeadline sets both deadlines.
func (pc *pollConn) SetDeadline(t time.Time) error { return pc.setDeadline(t, true, true) }

// SetReadDeadline sets the read deadline: once it has passed, the Poller's
// sweep closes the connection. The Conn sets it for its closing handshake
// and for linger; MessageTimeout is apart (pollMore.mdl).
func (pc *pollConn) SetReadDeadline(t time.Time) error { return pc.setDeadline(t, true, false) }

// SetWriteDeadline sets the write deadline: writes begun after it fail, and
// output queued must have drained by then.
func (pc *pollConn) SetWriteDeadline(t time.Time) error { return pc.setDeadline(t, false, true) }

func (pc *pollConn) setDeadline(t time.Time, read, write bool) error {
	if pc.sock.Closed() {
		return pc.sock.OpError("set", net.ErrClosed)
	}
	var d int64
	switch {
	case t.IsZero():
	case t.Year() >= 2262: // past int64 nanoseconds
		d = 1<<63 - 1
	default:
		d = max(t.UnixNano(), 1)
	}
	if read {
		pc.rdl.Store(d)
	}
	if write {
		pc.wdl.Store(d)
		if d != 0 {
			pc.drainBy(d)
		}
	}
	return nil
}

// drainBy brings the deadline of the output queued now forward to d: a
// write deadline bounds how long output may wait for the peer, as it bounds
// a blocking write.
func (pc *pollConn) drainBy(d int64) {
	pc.mu.Lock()
	if m := pc.more; m != nil && m.queued() > 0 {
		m.odl = min(m.odl, d)
	}
	pc.mu.Unlock()
}

// drainWithin is drainBy in d from now, for a write the Conn makes on its
// own (writeOwnControl): a pong waits for the peer no longer than the
// close timeout, as it would on a blocking Conn.
func (pc *pollConn) drainWithin(d time.Duration) {
	pc.drainBy(time.Now().Add(d).UnixNano())
}
