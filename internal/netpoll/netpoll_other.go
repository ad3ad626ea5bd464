//go:build !linux

package netpoll

import (
	"errors"
	"net"
	"syscall"
)

// Elsewhere than on Linux there is no readiness from the kernel: a blocking
// reader holds its read buffer while it waits, and a Poller serves each
// connection with a goroutine of its own.

func RawConn(net.Conn) syscall.RawConn { return nil }

func WaitReadable(syscall.RawConn) error { return errors.ErrUnsupported }

type Epoll struct{}

type Event struct{}

const (
	Input  = 0
	Output = 0
)

func New() (*Epoll, error) { return nil, errors.ErrUnsupported }

func (e *Epoll) Add(fd int, tag uint32) error                     { return errors.ErrUnsupported }
func (e *Epoll) Del(fd int)                                       {}
func (e *Epoll) Wait(_ []Event, _ func(int, uint32, uint32)) bool { return false }
func (e *Epoll) Wake()                                            {}
func (e *Epoll) Spare() (int, error)                              { return -1, errors.ErrUnsupported }
func (e *Epoll) Close()                                           {}
func Dup(int, int) (int, error)                                   { return -1, errors.ErrUnsupported }
func CloseSpare(int)                                              {}

// FD has no descriptor elsewhere: Num is -1.
type FD struct{ fd int32 }

func (f *FD) Init(fd int, unix bool) { f.fd = int32(fd) }
func (f *FD) Num() int               { return int(f.fd) }
