package websocket

import (
	"errors"
	"net"
	"syscall"
)

// Readiness from the kernel on Linux: a probe of a socket for input, for
// the blocking API's wait between messages (readbuf.go), and an epoll
// instance for the Poller (poller.go).

// rawConnOf returns nc's syscall.RawConn when nc is a socket whose
// readiness the runtime's poller reports (a *net.TCPConn or *net.UnixConn,
// as Accept's hijacked connection is), or nil for anything else: a
// *tls.Conn, whose plaintext may be buffered inside it while the socket has
// nothing, or a net.Pipe.
func rawConnOf(nc net.Conn) syscall.RawConn {
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

// epoll is the Poller's own epoll instance, beside the runtime's. The
// sockets in it are the Poller's own (fdconn_linux.go), out of the
// runtime's. Each is in the set once, for input and for room to write,
// edge-triggered: a report says that something changed, and the reader reads
// until the socket is empty (a short read or EAGAIN) before it waits for the
// next report, so no epoll_ctl is needed per message. The event's data
// carries the descriptor and a sequence number, so that a report for a
// descriptor closed and reused meanwhile is told apart.
type epoll struct {
	fd           int
	wakeR, wakeW int // a pipe whose read end is in the set, to end wait
}

type epollEvent = syscall.EpollEvent

const (
	epollEvents = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | -syscall.EPOLLET
	// epollInput is what a report of input, an end or an error carries.
	epollInput = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR
	// epollOutput is what a report of room to write, or an error, carries.
	epollOutput = syscall.EPOLLOUT | syscall.EPOLLHUP | syscall.EPOLLERR
)

func newEpoll() (*epoll, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	e := &epoll{fd: fd, wakeR: p[0], wakeW: p[1]}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(e.wakeR), Pad: -1}
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, e.wakeR, &ev); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// add puts fd in the set. Input that is there already is reported.
func (e *epoll) add(fd int, seq uint32) error {
	ev := syscall.EpollEvent{Events: epollEvents, Fd: int32(fd), Pad: int32(seq)}
	return syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_ADD, fd, &ev)
}

// del takes fd out of the set; it must be called before fd is closed.
func (e *epoll) del(fd int) {
	syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_DEL, fd, nil)
}

// wait blocks until some descriptors are ready and calls ready for each,
// with its descriptor, sequence number and events. It returns false once
// wake has been called.
func (e *epoll) wait(events []epollEvent, ready func(fd int, seq uint32, ev uint32)) bool {
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

// wake makes wait return false, now and from then on (the pipe stays
// readable).
func (e *epoll) wake() { syscall.Write(e.wakeW, []byte{0}) }

// spare returns a new descriptor for the Poller to keep in reserve
// (Poller.takeFD).
func (e *epoll) spare() (int, error) { return dupCloexec(e.wakeR) }

func (e *epoll) close() {
	syscall.Close(e.wakeR)
	syscall.Close(e.wakeW)
	syscall.Close(e.fd)
}
