package benchmarks

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Broadcast with the clients in another process: 10,000 clients and the
// 10,000 server connections they need do not fit one process's descriptor
// limit here (20,000). The server process then holds only the hub, so its
// memory growth per client is the hub's alone.

// RemoteBroadcastRig is one library's hub in this process with n clients
// in a child process started by BroadcastClients.
type RemoteBroadcastRig struct {
	Lib  *Lib
	ln   *trackListener
	hub  Hub
	msgs [][]byte
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	n    int
	base MemStats
}

// NewRemoteBroadcastRig starts l's hub, then `exe args... ADDR` (a program
// that calls BroadcastClients with n, m, size and ADDR), and waits until the
// hub has the n clients.
func NewRemoteBroadcastRig(l *Lib, exe string, args []string, n, m, size int) (*RemoteBroadcastRig, error) {
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	r := &RemoteBroadcastRig{Lib: l, ln: ln, n: n, base: readMemStats()}
	r.hub = l.NewHub(ln)
	for i := range m {
		msg := Payload(size, uint64(i))
		binary.BigEndian.PutUint32(msg, uint32(i))
		r.msgs = append(r.msgs, msg)
	}
	r.cmd = exec.Command(exe, append(args, ln.Addr().String())...)
	r.cmd.Stderr = os.Stderr
	if r.in, err = r.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	r.out = bufio.NewReader(stdout)
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	if err := r.line("READY", 2*time.Minute); err != nil {
		r.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for r.hub.Len() < n {
		if ctx.Err() != nil {
			r.Close()
			return nil, fmt.Errorf("%s: hub has %d of %d conns", l.Name, r.hub.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
	return r, nil
}

func (r *RemoteBroadcastRig) line(want string, timeout time.Duration) error {
	ch := make(chan error, 1)
	go func() {
		s, err := r.out.ReadString('\n')
		if err == nil && strings.TrimSpace(s) != want {
			err = fmt.Errorf("broadcast clients: %q, want %q", s, want)
		}
		ch <- err
	}()
	select {
	case err := <-ch:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("%s: broadcast clients: no %s in %v", r.Lib.Name, want, timeout)
	}
}

// Round broadcasts the m messages and returns the time until the child
// reported that every client had all of them, in order.
func (r *RemoteBroadcastRig) Round(timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	if err := r.hub.Broadcast(r.msgs); err != nil {
		return 0, fmt.Errorf("%s: broadcast: %w", r.Lib.Name, err)
	}
	if err := r.line("DONE", timeout); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// Memory returns the growth of this process's memory since before the hub
// started, per client: after a round, the hub's idle cost per connection.
func (r *RemoteBroadcastRig) Memory() (rssPerConn, heapPerConn, goroutinesPerConn float64) {
	m := readMemStats()
	n := float64(r.n)
	return (float64(m.RSS) - float64(r.base.RSS)) / n, (float64(m.HeapAlloc) - float64(r.base.HeapAlloc)) / n,
		float64(m.Goroutines-r.base.Goroutines) / n
}

// Close ends the child and the hub.
func (r *RemoteBroadcastRig) Close() {
	if r.in != nil {
		r.in.Close()
	}
	if r.cmd != nil && r.cmd.Process != nil {
		done := make(chan struct{})
		go func() { r.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-done
		}
	}
	r.hub.Close()
	r.ln.closeAll()
}

// BroadcastClients is the child of RemoteBroadcastRig: it connects n
// clients to addr, prints "READY", and then "DONE" each time every client
// has received the next m messages of size bytes, numbered 0..m-1 in
// order. It returns when in ends, or on the first error.
func BroadcastClients(addr string, n, m, size int, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clients := make([]*Client, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range n {
		c, err := Dial(ctx, addr, nil)
		if err != nil {
			return fmt.Errorf("broadcast clients: dial %d: %w", len(clients), err)
		}
		clients = append(clients, c)
	}
	rounds := make(chan struct{}, n)
	failed := make(chan error, n)
	for _, c := range clients {
		go func() {
			buf := make([]byte, 0, size)
			for seq := 0; ; seq = (seq + 1) % m {
				_, p, err := c.ReadMessage(buf)
				if err != nil {
					if seq != 0 {
						failed <- err
					}
					return
				}
				if len(p) != size || binary.BigEndian.Uint32(p) != uint32(seq) {
					failed <- fmt.Errorf("message %d: %d bytes, number %d", seq, len(p), binary.BigEndian.Uint32(p))
					return
				}
				buf = p
				if seq == m-1 {
					rounds <- struct{}{}
				}
			}
		}()
	}
	fmt.Fprintln(out, "READY")
	ended := make(chan struct{})
	go func() { io.Copy(io.Discard, in); close(ended) }()
	for {
		for range n {
			select {
			case <-rounds:
			case err := <-failed:
				return fmt.Errorf("broadcast clients: %w", err)
			case <-ended:
				return nil
			}
		}
		fmt.Fprintln(out, "DONE")
	}
}
