package netpoll

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// RawConn returns nc's syscall.RawConn when nc is a socket whose readiness
// the runtime's poller reports (a *net.TCPConn or *net.UnixConn, as an
// http.Server's hijacked connection is), or nil for anything else: a
// *tls.Conn, whose plaintext may be buffered inside it while the socket has
// nothing, or a net.Pipe.
func RawConn(nc net.Conn) syscall.RawConn {
	var sc syscall.Conn
	switch nc := nc.(type) {
	case *net.TCPConn:
		sc = nc
	case *net.UnixConn:
		sc = nc
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// WaitReadable waits until the socket of rc has input, an end of stream or
// an error to report, within its read deadline, taking none of it: a
// reader waits so without holding a buffer. Its errors name the operation
// "read", as the Conn's reads do, and not "raw-read".
func WaitReadable(rc syscall.RawConn) error {
	err := rc.Read(probeReadable)
	if oe, ok := err.(*net.OpError); ok && oe.Op == "raw-read" {
		oe.Op = "read" // a fresh error of each call
	}
	return err
}

// probeReadable reports whether the socket fd has input, an end of stream
// or an error to report, without consuming anything: it is what
// syscall.RawConn.Read calls, waiting for readability while it returns
// false. A zero-byte read would not do: the runtime returns at once from
// one without asking the kernel.
func probeReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EINTR
}

// Epoll is an epoll instance of one's own, beside the runtime's. Each
// socket is in the set once, for input and for room to write,
// edge-triggered: a report says that something changed, and the reader
// reads until the socket is empty (a short read or EAGAIN) before it waits
// for the next report, so no epoll_ctl is needed per message. A report
// carries the descriptor and a tag given to Add, so that a report for a
// descriptor closed and reused meanwhile is told apart.
type Epoll struct {
	fd           int
	wakeR, wakeW int // a pipe whose read end is in the set, to end Wait
}

// Event is a readiness report, for Wait.
type Event = syscall.EpollEvent

const (
	events = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | syscall.EPOLLET&0xffffffff
	// Input is what a report of input, an end or an error carries.
	Input = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR
	// Output is what a report of room to write, or an error, carries.
	Output = syscall.EPOLLOUT | syscall.EPOLLHUP | syscall.EPOLLERR
)

// New returns an epoll instance.
func New() (*Epoll, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	e := &Epoll{fd: fd, wakeR: p[0], wakeW: p[1]}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(e.wakeR), Pad: -1}
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, e.wakeR, &ev); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Add puts fd in the set. Input that is there already is reported.
func (e *Epoll) Add(fd int, tag uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(tag)}
	return syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_ADD, fd, &ev)
}

// Del takes fd out of the set; it must be called before fd is closed.
func (e *Epoll) Del(fd int) {
	syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_DEL, fd, nil)
}

// Wait blocks until some descriptors are ready and calls ready for each,
// with its descriptor, tag and events. It returns false once Wake has been
// called.
func (e *Epoll) Wait(events []Event, ready func(fd int, tag uint32, ev uint32)) bool {
	n, err := syscall.EpollWait(e.fd, events, -1)
	if errors.Is(err, syscall.EINTR) {
		return true
	}
	if err != nil {
		return false
	}
	for _, ev := range events[:n] {
		if int(ev.Fd) == e.wakeR && ev.Pad == -1 {
			return false
		}
		ready(int(ev.Fd), uint32(ev.Pad), ev.Events)
	}
	return true
}

// Wake makes Wait return false, now and from then on (the pipe stays
// readable).
func (e *Epoll) Wake() { syscall.Write(e.wakeW, []byte{0}) }

// Spare returns a new descriptor to keep in reserve for Dup.
func (e *Epoll) Spare() (int, error) { return dupCloexec(e.wakeR) }

// Close releases the instance.
func (e *Epoll) Close() {
	syscall.Close(e.wakeR)
	syscall.Close(e.wakeW)
	syscall.Close(e.fd)
}

// Dup returns a descriptor of the caller's own for the socket s: spare,
// made the socket's by dup3, if spare is not negative, so that it needs no
// descriptor the process may not have; else a new one. A spare that
// cannot be used is closed.
func Dup(s, spare int) (int, error) {
	if spare >= 0 {
		if err := syscall.Dup3(s, spare, syscall.O_CLOEXEC); err == nil {
			return spare, nil
		}
		syscall.Close(spare)
	}
	fd, err := dupCloexec(s)
	if err == nil && fd > 1<<30 {
		syscall.Close(fd)
		return -1, syscall.EMFILE
	}
	return fd, err
}

// CloseSpare closes a spare descriptor that Dup did not take.
func CloseSpare(fd int) { syscall.Close(fd) }

func dupCloexec(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, os.NewSyscallError("fcntl", e)
	}
	return int(r), nil
}

// closedFD marks FD.ref once Close has been called; the bits below it count
// the goroutines inside a syscall on the descriptor. The descriptor is
// closed when both say so, so that a number the kernel hands out again is
// never read or written by a late caller.
const closedFD = 1 << 30

// FD is a socket descriptor read and written without waiting: Read returns
// ErrWouldBlock when nothing has arrived, and Writev what the socket took.
// Its zero value is closed; Init opens it.
type FD struct {
	fd   int32
	ref  atomic.Int32 // closedFD, and the calls inside a syscall on fd
	unix bool         // a Unix socket, else TCP
}

// Init makes f the descriptor fd, of a Unix socket if unix, else TCP.
func (f *FD) Init(fd int, unix bool) {
	f.fd, f.unix = int32(fd), unix
	f.ref.Store(0)
}

// Num returns the descriptor's number.
func (f *FD) Num() int { return int(f.fd) }

func (f *FD) acquire() bool {
	for {
		v := f.ref.Load()
		if v&closedFD != 0 {
			return false
		}
		if f.ref.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

func (f *FD) release() {
	if f.ref.Add(-1) == closedFD {
		syscall.Close(int(f.fd))
	}
}

// Closed reports whether Close has been called.
func (f *FD) Closed() bool { return f.ref.Load()&closedFD != 0 }

func (f *FD) network() string {
	if f.unix {
		return "unix"
	}
	return "tcp"
}

// OpError returns err as a *net.OpError of op on f's network.
func (f *FD) OpError(op string, err error) error {
	return &net.OpError{Op: op, Net: f.network(), Err: err}
}

// Read reads what has arrived into b. It returns ErrWouldBlock if nothing
// has, and reports whether the socket is empty now: a short read empties
// it, and epoll reports the next input that comes (edge-triggered).
func (f *FD) Read(b []byte) (n int, drained bool, err error) {
	if !f.acquire() {
		return 0, true, f.OpError("read", net.ErrClosed)
	}
	defer f.release()
	for {
		n, err := syscall.Read(int(f.fd), b)
		switch err {
		case nil:
			if n == 0 {
				return 0, true, io.EOF
			}
			return n, n < len(b), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, true, ErrWouldBlock
		}
		return 0, true, f.OpError("read", os.NewSyscallError("read", err))
	}
}

// Writev writes what of bufs (at most two pieces) the socket takes now,
// without waiting: a short count with a nil error means its buffer is full.
// The caller's slices are not moved on.
func (f *FD) Writev(in [][]byte) (int64, error) {
	if !f.acquire() {
		return 0, f.OpError("write", net.ErrClosed)
	}
	defer f.release()
	var local [2][]byte
	bufs := local[:copy(local[:], in)]
	var iov [2]syscall.Iovec
	var total int64
	for len(bufs) > 0 {
		k := 0
		for _, b := range bufs {
			if len(b) > 0 {
				iov[k] = syscall.Iovec{Base: &b[0]}
				iov[k].SetLen(len(b))
				k++
			}
		}
		if k == 0 {
			return total, nil
		}
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(f.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return total, nil
		default:
			return total, f.OpError("write", os.NewSyscallError("writev", e))
		}
		total += int64(r)
		bufs = Skip(bufs, int64(r))
	}
	return total, nil
}

// Skip returns bufs less their first n bytes, and less the empty slices
// that leaves at their head.
func Skip(bufs [][]byte, n int64) [][]byte {
	for len(bufs) > 0 && n >= int64(len(bufs[0])) {
		n -= int64(len(bufs[0]))
		bufs = bufs[1:]
	}
	if len(bufs) > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}

// Shutdown shuts down the sending side (syscall.SHUT_WR), or both.
func (f *FD) Shutdown(how int) error {
	if !f.acquire() {
		return f.OpError("close", net.ErrClosed)
	}
	defer f.release()
	if err := syscall.Shutdown(int(f.fd), how); err != nil {
		return f.OpError("close", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// Close closes the descriptor once no call is inside a syscall on it. It
// reports false if it was closed already.
func (f *FD) Close() bool {
	for {
		v := f.ref.Load()
		if v&closedFD != 0 {
			return false
		}
		if f.ref.CompareAndSwap(v, v|closedFD) {
			if v == 0 {
				syscall.Close(int(f.fd))
			}
			return true
		}
	}
}

// LocalAddr asks the kernel, holding no address between calls. Once the
// descriptor is closed it returns a nil *net.TCPAddr or *net.UnixAddr.
func (f *FD) LocalAddr() net.Addr { return f.addr(syscall.Getsockname) }

// RemoteAddr is like LocalAddr, for the peer's address.
func (f *FD) RemoteAddr() net.Addr { return f.addr(syscall.Getpeername) }

func (f *FD) addr(name func(int) (syscall.Sockaddr, error)) net.Addr {
	var sa syscall.Sockaddr
	if f.acquire() {
		sa, _ = name(int(f.fd))
		f.release()
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
	if f.unix {
		return (*net.UnixAddr)(nil)
	}
	return (*net.TCPAddr)(nil)
}
