package benchmarks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// Server is a running loopback server of one library.
type Server struct {
	Addr string
	ln   *trackListener
	done chan error
}

// trackListener remembers accepted conns so that stopping a server also
// ends its connections, whatever the library does on listener close.
type trackListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackListener) closeAll() {
	l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

func listen() (*trackListener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &trackListener{Listener: ln}, nil
}

// StartEcho starts l's echo server on a fresh loopback port.
func StartEcho(l *Lib) (*Server, error) {
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, done: make(chan error, 1)}
	go func() { s.done <- l.Serve(ln) }()
	return s, nil
}

// Close stops the server and closes its connections.
func (s *Server) Close() {
	s.ln.closeAll()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
}

// EchoResult is one loopback echo measurement.
type EchoResult struct {
	Msgs     int
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// MsgsPerSec is the round-trip rate over all connections.
func (r EchoResult) MsgsPerSec() float64 { return float64(r.Msgs) / r.Elapsed.Seconds() }

// maxSamples bounds the latency samples kept per connection.
const maxSamples = 1 << 18

// RunEcho opens conns clients to the echo server at addr, and for d each
// one sends a binary message of size bytes and waits for its echo, back to
// back. Latency is send to full echo received.
func RunEcho(addr string, conns, size int, d time.Duration) (EchoResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	payload := Payload(size, uint64(size)+7)
	frame := AppendFrame(nil, 0x2, payload, true, [4]byte{0x37, 0xfa, 0x21, 0x3d})

	clients := make([]*Client, conns)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range clients {
		c, err := Dial(ctx, addr, nil)
		if err != nil {
			return EchoResult{}, err
		}
		clients[i] = c
	}

	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		counts   = make([]int, conns)
		samples  = make([][]time.Duration, conns)
		errs     = make([]error, conns)
		deadline time.Time
	)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, size)
			lat := make([]time.Duration, 0, 4096)
			// Warm up (and check the echo byte for byte) before the clock.
			for range 3 {
				if err := c.WriteRaw(frame); err != nil {
					errs[i] = err
					return
				}
				op, p, err := c.ReadMessage(buf)
				if err != nil {
					errs[i] = err
					return
				}
				if op != 0x2 || !bytes.Equal(p, payload) {
					errs[i] = fmt.Errorf("echo: got opcode %d, %d bytes; want binary %d bytes", op, len(p), size)
					return
				}
				buf = p
			}
			<-start
			c.NetConn().SetDeadline(deadline.Add(10 * time.Second))
			n := 0
			for {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				if err := c.WriteRaw(frame); err != nil {
					errs[i] = err
					return
				}
				_, p, err := c.ReadMessage(buf)
				if err != nil {
					errs[i] = err
					return
				}
				if len(p) != size {
					errs[i] = fmt.Errorf("echo: got %d bytes, want %d", len(p), size)
					return
				}
				buf = p
				if len(lat) < maxSamples {
					lat = append(lat, time.Since(t0))
				}
				n++
			}
			counts[i] = n
			samples[i] = lat
		}()
	}
	t0 := time.Now()
	deadline = t0.Add(d)
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return EchoResult{}, err
	}
	r := EchoResult{Elapsed: elapsed}
	var all []time.Duration
	for i := range counts {
		r.Msgs += counts[i]
		all = append(all, samples[i]...)
	}
	if len(all) == 0 {
		return r, errors.New("echo: no round trip completed")
	}
	slices.Sort(all)
	r.P50 = all[len(all)/2]
	r.P99 = all[min(len(all)-1, len(all)*99/100)]
	return r, nil
}
