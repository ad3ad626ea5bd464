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
// runtime's; a read or write that must wait uses a dup, which the runtime's
// does watch. This one is level-triggered and one-shot (EPOLLONESHOT), so a
// connection is reported once and not again until rearm, which the worker
// that handled it calls when it is done. The event's data carries the
// descriptor and a sequence number, so that a report for a descriptor
// closed and reused meanwhile is told apart.
type epoll struct {
	fd           int
	wakeR, wakeW int // a pipe whose read end is in the set, to end wait
}

type epollEvent = syscall.EpollEvent

const epollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

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

// add puts fd in the set, armed.
func (e *epoll) add(fd int, seq uint32) error {
	ev := syscall.EpollEvent{Events: epollEvents, Fd: int32(fd), Pad: int32(seq)}
	return syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_ADD, fd, &ev)
}

// rearm arms fd again after a report. Level-triggered, it is reported at
// once if input came meanwhile.
func (e *epoll) rearm(fd int, seq uint32) error {
	ev := syscall.EpollEvent{Events: epollEvents, Fd: int32(fd), Pad: int32(seq)}
	return syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_MOD, fd, &ev)
}

// del takes fd out of the set; it must be called before fd is closed.
func (e *epoll) del(fd int) {
	syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_DEL, fd, nil)
}

// wait blocks until some descriptors are ready and calls ready for each,
// with its descriptor and sequence number. It returns false once wake has
// been called.
func (e *epoll) wait(events []epollEvent, ready func(fd int, seq uint32)) bool {
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
		ready(int(ev.Fd), uint32(ev.Pad))
	}
	return true
}

// wake makes wait return false, now and from then on (the pipe stays
// readable).
func (e *epoll) wake() { syscall.Write(e.wakeW, []byte{0}) }

func (e *epoll) close() {
	syscall.Close(e.wakeR)
	syscall.Close(e.wakeW)
	syscall.Close(e.fd)
}
