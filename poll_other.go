//go:build !linux

package websocket

import (
	"errors"
	"net"
	"syscall"
)

// Elsewhere than on Linux there is no readiness from the kernel: a blocking
// reader holds its read buffer while it waits, and the Poller serves each
// connection with a goroutine of its own (poller.go).

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func probeReadable(uintptr) bool { return true }

// The Poller takes no socket over (fdconn_linux.go), and its records of
// connections have no descriptor of their own.

func (pc *pollConn) takeOver() error { return errors.ErrUnsupported }
func (pc *pollConn) flush() bool     { return false }
func (pc *pollConn) tidy()           {}
func (pc *pollConn) closeFD()        {}

func dupCloexec(int) (int, error) { return -1, errors.ErrUnsupported }
func dup3(int, int) error         { return errors.ErrUnsupported }
func closeDescriptor(int)         {}

type epoll struct{}

type epollEvent struct{}

const (
	epollInput  = 0
	epollOutput = 0
)

func newEpoll() (*epoll, error) { return nil, errors.ErrUnsupported }

func (e *epoll) add(fd int, seq uint32) error                          { return errors.ErrUnsupported }
func (e *epoll) del(fd int)                                            {}
func (e *epoll) wait(_ []epollEvent, _ func(int, uint32, uint32)) bool { return false }
func (e *epoll) wake()                                                 {}
func (e *epoll) spare() (int, error)                                   { return -1, errors.ErrUnsupported }
func (e *epoll) close()                                                {}
