package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RaiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the new soft limit.
func RaiseFileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	r.Cur = r.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	return r.Cur
}

// MemStats is a server process's memory after a forced GC.
type MemStats struct {
	RSS        uint64 // resident set size (VmRSS)
	HeapAlloc  uint64 // live Go heap
	StackInuse uint64 // goroutine stacks
	Goroutines int
}

func readMemStats() MemStats {
	// A collection shrinks a goroutine's stack by half at most, and only
	// if it uses under a quarter of it: several let a stack grown deep
	// once (a handshake through net/http) come down to what it uses
	// while idle, as the collections of a long-running server would.
	for range 4 {
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := MemStats{HeapAlloc: ms.HeapAlloc, StackInuse: ms.StackInuse, Goroutines: runtime.NumGoroutine()}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				s.RSS = kb << 10
			}
		}
	}
	return s
}

// ServeChild runs l's echo server in this process for MeasureIdle: it prints
// "ADDR host:port", then answers each "stats" line read from in with
// "STATS rss heap stack goroutines", and returns when in ends.
func ServeChild(l *Lib, in io.Reader, out io.Writer) error {
	RaiseFileLimit()
	s, err := StartEcho(l)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(out, "ADDR %s\n", s.Addr)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if sc.Text() == "stats" {
			m := readMemStats()
			fmt.Fprintf(out, "STATS %d %d %d %d\n", m.RSS, m.HeapAlloc, m.StackInuse, m.Goroutines)
		}
	}
	return sc.Err()
}

// DeflateOffer is the permessage-deflate offer (RFC 7692) of the idle
// workload's compressed variant: no context takeover either way, the
// default of fullduplex's client, so neither side keeps a window between
// messages.
const DeflateOffer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// IdleResult is the memory an idle connection costs a server process.
type IdleResult struct {
	Conns           int
	RSSPerConn      float64
	HeapPerConn     float64
	StackPerConn    float64
	GoroutinesAdded int
}

type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func (c *child) line(prefix string) ([]string, error) {
	return c.lineWithin(prefix, 30*time.Second)
}

// lineWithin reads the child's next line, which must start with prefix,
// waiting at most timeout, and returns its other fields.
func (c *child) lineWithin(prefix string, timeout time.Duration) ([]string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() { s, err := c.out.ReadString('\n'); ch <- res{s, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		f := strings.Fields(r.s)
		if len(f) == 0 || f[0] != prefix {
			return nil, fmt.Errorf("server child: unexpected line %q", r.s)
		}
		return f[1:], nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("child: no %s line in %v", prefix, timeout)
	}
}

func (c *child) stats() (MemStats, error) {
	if _, err := io.WriteString(c.in, "stats\n"); err != nil {
		return MemStats{}, err
	}
	f, err := c.line("STATS")
	if err != nil {
		return MemStats{}, err
	}
	if len(f) != 4 {
		return MemStats{}, fmt.Errorf("server child: bad stats %q", f)
	}
	var v [4]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(f[i], 10, 64); err != nil {
			return MemStats{}, err
		}
	}
	return MemStats{RSS: v[0], HeapAlloc: v[1], StackInuse: v[2], Goroutines: int(v[3])}, nil
}

// MeasureIdle starts `exe args...` with env added (a program that calls ServeChild for one
// library), connects n clients that each complete the handshake (offering
// the extensions ext, which the server must accept; "" for none) and one
// 16-byte echo, and reports the growth of the child's memory per client.
func MeasureIdle(exe string, args, env []string, n int, ext string) (IdleResult, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return IdleResult{}, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return IdleResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return IdleResult{}, err
	}
	ch := &child{cmd: cmd, in: in, out: bufio.NewReader(outp)}
	defer func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	f, err := ch.line("ADDR")
	if err != nil || len(f) != 1 {
		return IdleResult{}, fmt.Errorf("server child: no address: %v", err)
	}
	addr := f[0]
	before, err := ch.stats()
	if err != nil {
		return IdleResult{}, err
	}

	clients, err := dialIdle(addr, n, ext)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	if err != nil {
		return IdleResult{}, err
	}
	time.Sleep(100 * time.Millisecond) // let the server settle its last conns
	after, err := ch.stats()
	if err != nil {
		return IdleResult{}, err
	}
	d := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return IdleResult{
		Conns:           n,
		RSSPerConn:      d(after.RSS, before.RSS),
		HeapPerConn:     d(after.HeapAlloc, before.HeapAlloc),
		StackPerConn:    d(after.StackInuse, before.StackInuse),
		GoroutinesAdded: after.Goroutines - before.Goroutines,
	}, nil
}

// dialIdle connects n clients to addr, 32 at a time; each completes the
// handshake and one echo, so that the server has set up everything a live
// connection holds.
func dialIdle(addr string, n int, ext string) ([]*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	payload := Payload(16, 16)
	frame := AppendFrame(nil, 0x2, payload, true, [4]byte{1, 2, 3, 4})
	clients := make([]*Client, n)
	errs := make([]error, 32)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 16)
			// Sources 127.0.0.10-25, so that runs one after another do
			// not run out of ephemeral ports while the connections of
			// the last are in TIME_WAIT.
			laddr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+w%16))}
			for i := w; i < n; i += 32 {
				c, err := DialExtensions(ctx, addr, laddr, ext)
				if err != nil {
					errs[w] = err
					return
				}
				clients[i] = c
				c.NetConn().SetDeadline(time.Now().Add(30 * time.Second))
				if err := c.WriteRaw(frame); err != nil {
					errs[w] = err
					return
				}
				_, p, err := c.ReadMessage(buf)
				if err != nil {
					errs[w] = err
					return
				}
				if !bytes.Equal(p, payload) {
					errs[w] = fmt.Errorf("idle echo: got %d bytes, want 16", len(p))
					return
				}
				c.NetConn().SetDeadline(time.Time{})
			}
		}()
	}
	wg.Wait()
	var out []*Client
	for _, c := range clients {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, errors.Join(errs...)
}
