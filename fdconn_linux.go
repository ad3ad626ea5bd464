package websocket

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// A connection the Poller serves through epoll does its I/O on a descriptor
// of its own. Add takes the socket over from the net.Conn it came with: it
// moves the descriptor to one of the Poller's and closes the net.Conn, whose
// netFD, addresses and runtime poller record would otherwise stay with every
// idle connection. The pollConn is then the Conn's net.Conn, and nothing on
// it ever waits:
//
//   - Read returns what has arrived, or errWouldBlock when nothing has: the
//     Poller reads again when epoll reports input (poller.go).
//   - Write writes what the socket takes at once and queues the rest on the
//     connection, up to PollerOptions.WriteQueueLimit; the poll goroutine
//     writes the queue when epoll reports room (flush).
//
// So a worker is never held by the network, and a connection costs one
// descriptor however its peer behaves.

// fdClosed marks pollConn.ref once the descriptor is to be closed; the bits
// below it count the goroutines inside a syscall on it. The descriptor is
// closed when both say so, so that a number the kernel hands out again is
// never read or written by a late caller.
const fdClosed = 1 << 30

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
	rc := rawConnOf(c.nc)
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
	if fd > 1<<30 {
		syscall.Close(fd)
		return syscall.EMFILE
	}
	pc.fd = int32(fd)
	_, pc.unix = c.nc.(*net.UnixConn)
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

// dup3 makes the descriptor to refer to the socket s, closing what it was.
func dup3(s, to int) error { return syscall.Dup3(s, to, syscall.O_CLOEXEC) }

func closeDescriptor(fd int) { syscall.Close(fd) }

func dupCloexec(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, os.NewSyscallError("fcntl", e)
	}
	return int(r), nil
}

// acquire reports whether the descriptor is open, and keeps it open until
// release.
func (pc *pollConn) acquire() bool {
	for {
		v := pc.ref.Load()
		if v&fdClosed != 0 {
			return false
		}
		if pc.ref.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

func (pc *pollConn) release() {
	if pc.ref.Add(-1) == fdClosed {
		syscall.Close(int(pc.fd))
	}
}

func (pc *pollConn) network() string {
	if pc.unix {
		return "unix"
	}
	return "tcp"
}

func (pc *pollConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: pc.network(), Err: err}
}

// expired reports whether the deadline d, in Unix nanoseconds, has passed.
func expired(d int64) bool { return d != 0 && d <= time.Now().UnixNano() }

// nonblocking marks a net.Conn whose reads never wait (Conn.Close).
func (pc *pollConn) nonblocking() {}

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
	if !pc.acquire() {
		return 0, pc.opError("read", net.ErrClosed)
	}
	for {
		n, err := syscall.Read(int(pc.fd), b)
		switch err {
		case nil:
			pc.release()
			if n == 0 {
				return 0, io.EOF
			}
			// A short read emptied the socket: epoll reports the next
			// input that comes (edge-triggered).
			pc.drained = n < len(b)
			pc.budget -= int32(min(n, turnBudget))
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			pc.release()
			pc.drained = true
			return 0, errWouldBlock
		}
		pc.release()
		return 0, pc.opError("read", os.NewSyscallError("read", err))
	}
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

// writeBuffers writes a frame's header and payload with one writev, as
// net.Buffers does on a *net.TCPConn (conn_writer.go), and queues what the
// socket does not take.
func (pc *pollConn) writeBuffers(bufs net.Buffers) (int64, error) {
	return pc.writeOrQueue(bufs)
}

func (pc *pollConn) writeOrQueue(bufs [][]byte) (int64, error) {
	var total int64
	for _, b := range bufs {
		total += int64(len(b))
	}
	if expired(pc.wdl.Load()) {
		return 0, pc.opError("write", os.ErrDeadlineExceeded)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.why != 0 {
		return 0, pc.opError("write", net.ErrClosed)
	}
	m := pc.more
	if m == nil || m.queued() == 0 {
		n, err := pc.writev(bufs)
		if err != nil {
			return n, err
		}
		if n == total {
			return n, nil
		}
		bufs = skipBytes(bufs, n)
	} else if m.queued() > pc.p.queueLimit {
		// The peer has not taken what was queued before: drop it. The
		// shutdown wakes the connection, whose worker ends it.
		pc.why, pc.queued = whyOverflow, int32(min(m.queued(), 1<<30))
		pc.shutdown(syscall.SHUT_RDWR)
		return 0, pc.opError("write", errOverflow)
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

// skipBytes returns bufs less their first n bytes.
func skipBytes(bufs [][]byte, n int64) [][]byte {
	for len(bufs) > 0 && n >= int64(len(bufs[0])) {
		n -= int64(len(bufs[0]))
		bufs = bufs[1:]
	}
	if len(bufs) > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}

// writev writes what of bufs the socket takes now, without waiting: a
// short count with a nil error means its buffer is full.
func (pc *pollConn) writev(in [][]byte) (int64, error) {
	if !pc.acquire() {
		return 0, pc.opError("write", net.ErrClosed)
	}
	defer pc.release()
	var local [2][]byte // the caller's slices are not moved on
	bufs := local[:copy(local[:], in)]
	var iov [2]syscall.Iovec
	var total int64
	for len(bufs) > 0 {
		k := 0
		for _, b := range bufs[:min(len(bufs), len(iov))] {
			if len(b) > 0 {
				iov[k] = syscall.Iovec{Base: &b[0]}
				iov[k].SetLen(len(b))
				k++
			}
		}
		if k == 0 {
			return total, nil
		}
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(pc.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return total, nil
		default:
			return total, pc.opError("write", os.NewSyscallError("writev", e))
		}
		total += int64(r)
		bufs = skipBytes(bufs, int64(r))
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
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
	var bufs [2][]byte
	bufs[0] = m.out[m.off:]
	n, err := pc.writev(bufs[:1])
	m.off += int(n)
	if err != nil {
		// The peer is gone: a turn reads the end of it.
		m.out, m.off = nil, 0
		pc.shutdown(syscall.SHUT_RDWR)
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
		pc.shutdown(syscall.SHUT_WR)
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

func (pc *pollConn) shutdown(how int) {
	if pc.acquire() {
		syscall.Shutdown(int(pc.fd), how)
		pc.release()
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
	if pc.ref.Load()&fdClosed != 0 {
		return pc.opError("close", net.ErrClosed)
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
	for {
		v := pc.ref.Load()
		if v&fdClosed != 0 {
			return
		}
		if pc.ref.CompareAndSwap(v, v|fdClosed) {
			if v == 0 {
				syscall.Close(int(pc.fd))
			}
			return
		}
	}
}

// CloseWrite shuts the sending side down, as *net.TCPConn's does, once the
// queued output has gone out.
func (pc *pollConn) CloseWrite() error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.ref.Load()&fdClosed != 0 {
		return pc.opError("close", net.ErrClosed)
	}
	if m := pc.more; m != nil && m.queued() > 0 {
		m.shutDone = true
		return nil
	}
	pc.shutdown(syscall.SHUT_WR)
	return nil
}

// LocalAddr asks the kernel, holding no address between calls. Once the
// connection is closed it returns a nil *net.TCPAddr or *net.UnixAddr.
func (pc *pollConn) LocalAddr() net.Addr { return pc.addr(syscall.Getsockname) }

// RemoteAddr is like LocalAddr, for the peer's address.
func (pc *pollConn) RemoteAddr() net.Addr { return pc.addr(syscall.Getpeername) }

func (pc *pollConn) addr(name func(int) (syscall.Sockaddr, error)) net.Addr {
	var sa syscall.Sockaddr
	if pc.acquire() {
		sa, _ = name(int(pc.fd))
		pc.release()
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
	case *syscall.SockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			a.Zone = strconv.Itoa(int(sa.ZoneId))
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	case *syscall.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	if pc.unix {
		return (*net.UnixAddr)(nil)
	}
	return (*net.TCPAddr)(nil)
}

// SetDeadline sets both deadlines.
func (pc *pollConn) SetDeadline(t time.Time) error { return pc.setDeadline(t, true, true) }

// SetReadDeadline sets the read deadline: once it has passed, the Poller's
// sweep closes the connection. The Conn sets it for its closing handshake
// and for linger; MessageTimeout is apart (pollMore.mdl).
func (pc *pollConn) SetReadDeadline(t time.Time) error { return pc.setDeadline(t, true, false) }

// SetWriteDeadline sets the write deadline: writes begun after it fail.
// Queued output has a deadline of its own (PollerOptions.WriteTimeout).
func (pc *pollConn) SetWriteDeadline(t time.Time) error { return pc.setDeadline(t, false, true) }

func (pc *pollConn) setDeadline(t time.Time, read, write bool) error {
	if pc.ref.Load()&fdClosed != 0 {
		return pc.opError("set", net.ErrClosed)
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
