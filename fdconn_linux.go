package websocket

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// A connection the Poller serves through epoll does its I/O on a descriptor
// of its own. Add takes the socket over from the net.Conn it came with: it
// dups the descriptor and closes the net.Conn, whose netFD, addresses and
// runtime poller record would otherwise stay with every idle connection.
// The pollConn is then the Conn's net.Conn: reads and writes are
// non-blocking syscalls, and one that would block waits through a dup of
// the descriptor that the runtime's poller watches (wait), so a waiter parks
// a goroutine, not a thread, and holds the dup only while it waits.

// fdClosed marks pollConn.ref once Close has been called; the bits below it
// count the goroutines inside a syscall on the descriptor. The descriptor is
// closed when both say so, so that a number the kernel hands out again is
// never read or written by a late caller.
const fdClosed = 1 << 30

// fdMore is a pollConn's state that only waiting needs; it is allocated by
// the first waiter and let go by the last.
type fdMore struct {
	mu      sync.Mutex
	gone    bool // let go: a waiter must load pollConn.more again
	waiters []fdWaiter
	pending []byte // input read before Add took the socket over; only Add sets it
}

type fdWaiter struct {
	f     *os.File
	write bool
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
	if cerr := rc.Control(func(s uintptr) { fd, err = dupCloexec(int(s)) }); cerr != nil {
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
	var pending []byte
	if c.br != nil {
		if n := c.br.Buffered(); n > 0 {
			pending = make([]byte, n)
			c.br.Read(pending)
		}
		if c.br.Size() == DefaultBufferSize {
			putReader(c.br)
			c.br = nil
		}
	}
	// Closing the net.Conn frees its runtime poller record, and takes the
	// socket out of the runtime's epoll; the dup keeps the socket open.
	// Deadline setters and address getters may run on other goroutines:
	// they load nc under ncMu.
	old := c.nc
	c.ncMu.Lock()
	c.nc = pc
	c.ncMu.Unlock()
	old.Close()
	if c.br != nil {
		c.br.Reset(pc)
	}
	if len(pending) > 0 {
		// Back into a read buffer, which Peek fills from pending.
		pc.more.Store(&fdMore{pending: pending})
		c.attachReader()
		c.br.Peek(len(pending))
		pc.more.Store(nil)
	}
	return nil
}

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

// Read reads what has arrived, and waits for input only if none has.
func (pc *pollConn) Read(b []byte) (int, error) {
	if m := pc.more.Load(); m != nil && len(m.pending) > 0 {
		n := copy(b, m.pending)
		m.pending = m.pending[n:]
		return n, nil
	}
	if !pc.acquire() {
		return 0, pc.opError("read", net.ErrClosed)
	}
	defer pc.release()
	if len(b) == 0 {
		return 0, nil
	}
	if expired(pc.rdl.Load()) {
		return 0, pc.opError("read", os.ErrDeadlineExceeded)
	}
	for {
		n, err := syscall.Read(int(pc.fd), b)
		switch err {
		case nil:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return pc.wait(b, false)
		}
		return 0, pc.opError("read", os.NewSyscallError("read", err))
	}
}

// Write writes all of b, waiting for room in the socket's buffer when
// there is none.
func (pc *pollConn) Write(b []byte) (int, error) {
	if !pc.acquire() {
		return 0, pc.opError("write", net.ErrClosed)
	}
	defer pc.release()
	if expired(pc.wdl.Load()) {
		return 0, pc.opError("write", os.ErrDeadlineExceeded)
	}
	n := 0
	for n < len(b) {
		k, err := syscall.Write(int(pc.fd), b[n:])
		if k > 0 {
			n += k
		}
		switch err {
		case nil, syscall.EINTR:
			continue
		case syscall.EAGAIN:
			k, err := pc.wait(b[n:], true)
			return n + k, err
		}
		return n, pc.opError("write", os.NewSyscallError("write", err))
	}
	return n, nil
}

// tryWrite writes what of b the socket takes now, without waiting: a
// short count with a nil error means its buffer is full. It is for the
// Poller's pings (poller_ping.go), which must not wait on one peer.
func (pc *pollConn) tryWrite(b []byte) (int, error) {
	if !pc.acquire() {
		return 0, pc.opError("write", net.ErrClosed)
	}
	defer pc.release()
	for {
		n, err := syscall.Write(int(pc.fd), b)
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		}
		return 0, pc.opError("write", os.NewSyscallError("write", err))
	}
}

// readable reports whether input, an end of stream or an error waits on
// the socket, without taking any of it.
func (pc *pollConn) readable() bool {
	if !pc.acquire() {
		return false
	}
	defer pc.release()
	return probeReadable(uintptr(pc.fd))
}

// writeBuffers writes a frame's header and payload with one writev, as
// net.Buffers does on a *net.TCPConn (conn_writer.go).
func (pc *pollConn) writeBuffers(bufs net.Buffers) (int64, error) {
	if len(bufs) != 2 || len(bufs[0]) == 0 || len(bufs[1]) == 0 {
		var n int64
		for _, b := range bufs {
			k, err := pc.Write(b)
			n += int64(k)
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	if !pc.acquire() {
		return 0, pc.opError("write", net.ErrClosed)
	}
	if expired(pc.wdl.Load()) {
		pc.release()
		return 0, pc.opError("write", os.ErrDeadlineExceeded)
	}
	iov := [2]syscall.Iovec{{Base: &bufs[0][0]}, {Base: &bufs[1][0]}}
	iov[0].SetLen(len(bufs[0]))
	iov[1].SetLen(len(bufs[1]))
	var r uintptr
	var e syscall.Errno
	for {
		r, _, e = syscall.Syscall(syscall.SYS_WRITEV, uintptr(pc.fd), uintptr(unsafe.Pointer(&iov[0])), 2)
		if e != syscall.EINTR {
			break
		}
	}
	pc.release()
	n := int(r)
	switch {
	case e == syscall.EAGAIN:
		n = 0
	case e != 0:
		return 0, pc.opError("writev", os.NewSyscallError("writev", e))
	case n == len(bufs[0])+len(bufs[1]):
		return int64(n), nil
	}
	// Short: Write waits for room for the rest.
	if n < len(bufs[0]) {
		k, err := pc.Write(bufs[0][n:])
		n += k
		if err != nil {
			return int64(n), err
		}
		n = len(bufs[0])
	}
	k, err := pc.Write(bufs[1][n-len(bufs[0]):])
	return int64(n + k), err
}

// wait reads or writes b once the descriptor is ready, within the deadline:
// a dup of it, opened as an *os.File, is watched by the runtime's poller,
// and the syscall runs inside its RawConn. The caller has acquired the
// descriptor.
func (pc *pollConn) wait(b []byte, write bool) (int, error) {
	op := "read"
	if write {
		op = "write"
	}
	fd, err := dupCloexec(int(pc.fd))
	if err != nil {
		return 0, pc.opError(op, err)
	}
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, pc.opError(op, err)
	}
	m := pc.enter(f, write)
	defer pc.leave(m, f)
	n := 0
	var serr error
	if write {
		err = rc.Write(func(s uintptr) bool {
			for n < len(b) {
				k, e := syscall.Write(int(s), b[n:])
				if k > 0 {
					n += k
				}
				switch e {
				case nil, syscall.EINTR:
				case syscall.EAGAIN:
					return false
				default:
					serr = e
					return true
				}
			}
			return true
		})
	} else {
		err = rc.Read(func(s uintptr) bool {
			for {
				k, e := syscall.Read(int(s), b)
				switch e {
				case syscall.EINTR:
					continue
				case syscall.EAGAIN:
					return false
				case nil:
					n = k
					if k == 0 {
						serr = io.EOF
					}
				default:
					serr = e
				}
				return true
			}
		})
	}
	switch {
	case serr == io.EOF:
		return 0, io.EOF
	case serr != nil:
		return n, pc.opError(op, os.NewSyscallError(op, serr))
	case err == nil:
		return n, nil
	case pc.ref.Load()&fdClosed != 0:
		return n, pc.opError(op, net.ErrClosed)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, pc.opError(op, os.ErrDeadlineExceeded)
	}
	return n, pc.opError(op, err)
}

// aLongTimeAgo is a deadline that has passed: it ends a wait at once.
var aLongTimeAgo = time.Unix(1, 0)

// enter records f as waiting, so that Close and deadline changes reach it,
// and gives it the deadline now in force.
func (pc *pollConn) enter(f *os.File, write bool) *fdMore {
	for {
		m := pc.more.Load()
		if m == nil {
			m = new(fdMore)
			if !pc.more.CompareAndSwap(nil, m) {
				continue
			}
		}
		m.mu.Lock()
		if m.gone {
			m.mu.Unlock()
			continue
		}
		m.waiters = append(m.waiters, fdWaiter{f, write})
		// Checked after the waiter is recorded: Close and the deadline
		// setters store first and look at the waiters second.
		switch {
		case pc.ref.Load()&fdClosed != 0:
			f.SetDeadline(aLongTimeAgo)
		case write:
			f.SetWriteDeadline(unixTime(pc.wdl.Load()))
		default:
			f.SetReadDeadline(unixTime(pc.rdl.Load()))
		}
		m.mu.Unlock()
		return m
	}
}

// leave forgets f, and lets m go when no one else waits.
func (pc *pollConn) leave(m *fdMore, f *os.File) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, w := range m.waiters {
		if w.f == f {
			last := len(m.waiters) - 1
			m.waiters[i] = m.waiters[last]
			m.waiters[last] = fdWaiter{}
			m.waiters = m.waiters[:last]
			break
		}
	}
	if len(m.waiters) == 0 {
		m.gone = true
		pc.more.CompareAndSwap(m, nil)
	}
}

// kick sets the deadline t on the waiters for reads, writes or both.
func (pc *pollConn) kick(t time.Time, read, write bool) {
	m := pc.more.Load()
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.waiters {
		if w.write && write {
			w.f.SetWriteDeadline(t)
		} else if !w.write && read {
			w.f.SetReadDeadline(t)
		}
	}
}

func unixTime(d int64) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Unix(0, d)
}

// Close closes the connection: waiting reads and writes return an error
// wrapping net.ErrClosed, and the descriptor is closed once no call is
// inside a syscall on it.
func (pc *pollConn) Close() error {
	for {
		v := pc.ref.Load()
		if v&fdClosed != 0 {
			return pc.opError("close", net.ErrClosed)
		}
		if pc.ref.CompareAndSwap(v, v|fdClosed) {
			pc.kick(aLongTimeAgo, true, true)
			if v == 0 {
				syscall.Close(int(pc.fd))
			}
			return nil
		}
	}
}

// CloseWrite shuts the sending side down, as *net.TCPConn's does.
func (pc *pollConn) CloseWrite() error {
	if !pc.acquire() {
		return pc.opError("close", net.ErrClosed)
	}
	defer pc.release()
	if err := syscall.Shutdown(int(pc.fd), syscall.SHUT_WR); err != nil {
		return pc.opError("close", os.NewSyscallError("shutdown", err))
	}
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

// SetDeadline sets both deadlines, reaching reads and writes that wait.
func (pc *pollConn) SetDeadline(t time.Time) error { return pc.setDeadline(t, true, true) }

// SetReadDeadline sets the read deadline, reaching a read that waits.
func (pc *pollConn) SetReadDeadline(t time.Time) error { return pc.setDeadline(t, true, false) }

// SetWriteDeadline sets the write deadline, reaching writes that wait.
func (pc *pollConn) SetWriteDeadline(t time.Time) error { return pc.setDeadline(t, false, true) }

func (pc *pollConn) setDeadline(t time.Time, read, write bool) error {
	if pc.ref.Load()&fdClosed != 0 {
		return pc.opError("set", net.ErrClosed)
	}
	var d int64
	switch {
	case t.IsZero():
	case t.Before(aLongTimeAgo):
		d = aLongTimeAgo.UnixNano()
	case t.Year() >= 2262: // past int64 nanoseconds
		d = 1<<63 - 1
	default:
		d = t.UnixNano()
	}
	if read {
		pc.rdl.Store(d)
	}
	if write {
		pc.wdl.Store(d)
	}
	pc.kick(t, read, write)
	return nil
}
