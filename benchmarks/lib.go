package benchmarks

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
)

// Lib adapts one WebSocket library to the workloads, each through the
// library's own best public API for the job.
type Lib struct {
	// Name is the short name used in tables and on the command line.
	Name string
	// ReadsRequest reports whether the library's server parses the upgrade
	// request off the connection itself (the in-memory conn must then yield
	// UpgradeRequest first) rather than taking an *http.Request.
	ReadsRequest bool
	// ValidatesUTF8 reports whether the library checks that text messages
	// it reads are UTF-8 (RFC 6455 §8.1), as configured here; the reports
	// mark it, since on text the others do less work.
	ValidatesUTF8 bool
	// Push reports whether the library delivers messages to a handler from
	// a read loop that runs until the connection fails (gws), rather than
	// returning one message per call.
	Push bool
	// NewMem upgrades the in-memory nc to a server connection.
	NewMem func(nc net.Conn) (*MemConn, error)
	// Serve runs an echo server on ln (path /ws) until ln is closed: every
	// data message is sent back with its opcode.
	Serve func(ln net.Listener) error
	// NewHub starts a broadcast server on ln: it accepts WebSocket clients
	// and, on request, sends messages to all of them with the library's
	// fan-out API.
	NewHub func(ln net.Listener) Hub
}

// MemConn is a server connection over an in-memory net.Conn.
type MemConn struct {
	// Read reads n binary messages, handing each payload to got (which may
	// be nil) before the next read may reuse its memory.
	Read func(n int, got func([]byte)) error
	// Write writes p as one binary message.
	Write func(p []byte) error
	// WriteText writes p, valid UTF-8, as one text message; nil if the
	// adapter has none (the text write workloads then skip the library).
	WriteText func(p []byte) error
	// Close releases the connection (no closing handshake).
	Close func()
}

// Hub is a broadcast server.
type Hub interface {
	// Len reports the number of upgraded connections.
	Len() int
	// Broadcast sends each message, in order, as a binary message to every
	// connection. It may return before the bytes are written (gws queues).
	Broadcast(msgs [][]byte) error
	// Close closes every connection.
	Close()
}

// libs is every library in table order; fullduplex first.
var libs = map[string]*Lib{}

// LibOrder is the order of columns in reports.
var LibOrder = []string{"fullduplex", "gorilla", "coder", "gobwas", "gws"}

func register(l *Lib) { libs[l.Name] = l }

// Libs returns the registered libraries in LibOrder.
func Libs() []*Lib {
	var out []*Lib
	for _, n := range LibOrder {
		if l := libs[n]; l != nil {
			out = append(out, l)
		}
	}
	return out
}

// LibByName returns the named library or nil.
func LibByName(name string) *Lib { return libs[name] }

// readAll reads r to EOF into buf[:0], growing buf only when it is full, so
// that a reused buffer makes the copy allocation-free.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// fanOut calls fn on GOMAXPROCS contiguous shards of [0, n) concurrently:
// the fan-out loop used for the libraries whose writes block, so that they
// use the same number of cores as the ones that queue writes. Each shard
// writes all messages to one connection before the next, as gws's
// per-connection write queues do, so that every library's clients can read
// several frames per read call.
func fanOut(n int, fn func(lo, hi int) error) error {
	p := min(runtime.GOMAXPROCS(0), n)
	if p <= 1 {
		return fn(0, n)
	}
	errs := make([]error, p)
	var wg sync.WaitGroup
	for i := range p {
		lo, hi := i*n/p, (i+1)*n/p
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(lo, hi)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// connSet tracks the server connections of a hub.
type connSet[T any] struct {
	mu    sync.Mutex
	conns []T
}

func (s *connSet[T]) add(c T) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

func (s *connSet[T]) snapshot() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]T(nil), s.conns...)
}

func (s *connSet[T]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
