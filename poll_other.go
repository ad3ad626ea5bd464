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

// The Poller takes no socket over (fdconn_linux.go).

type fdMore struct{}

func (pc *pollConn) takeOver() error { return errors.ErrUnsupported }

func (pc *pollConn) tryWrite([]byte) (int, error) { return 0, errors.ErrUnsupported }

func (pc *pollConn) readable() bool { return false }

type epoll struct{}

type epollEvent struct{}

func newEpoll() (*epoll, error) { return nil, errors.ErrUnsupported }

func (e *epoll) add(fd int, seq uint32) error                  { return errors.ErrUnsupported }
func (e *epoll) rearm(fd int, seq uint32) error                { return errors.ErrUnsupported }
func (e *epoll) del(fd int)                                    {}
func (e *epoll) wait(_ []epollEvent, _ func(int, uint32)) bool { return false }
func (e *epoll) wake()                                         {}
func (e *epoll) close()                                        {}
