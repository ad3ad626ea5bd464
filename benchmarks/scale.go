package benchmarks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The scale workload: many connections to one server process, the clients
// in another (this one), as a server holding a million would see them, cut
// to what the machine's descriptor limit allows (about 20,000 a process).
//
//   - idle: n clients connect, complete the handshake and one 16-byte echo
//     (as in the idle workload), and the server's growth is divided by n;
//   - echo: with the n clients connected, 1% of them send 1 KiB messages
//     and wait for the echo, back to back, for a while; rate, latency and
//     the server's RSS per connection after it (what the active
//     connections kept);
//   - churn: 32 clients at a time connect (from 127.0.0.2-9, not to run out
//     of ephemeral ports with connections in TIME_WAIT), complete the
//     handshake and one echo and close, for a while: connections a second.

// ScaleResult is what the scale workload measures of one server.
type ScaleResult struct {
	Idle          IdleResult
	EchoMsgsPerS  float64       // 1% active, 1 KiB
	EchoP50       time.Duration // per round trip
	EchoP99       time.Duration
	RSSAfterEcho  float64 // RSS growth per connection once the echo is over
	ChurnConnsPer float64 // connections set up and torn down a second
	// SlabPerSocket is the growth of the kernel's slab memory (Slab in
	// /proc/meminfo) per socket while the idle clients connect: both ends
	// are on this machine, so it is divided by 2n. The whole machine's,
	// so other processes add noise.
	SlabPerSocket float64
}

// slabBytes returns the Slab line of /proc/meminfo, in bytes, or 0.
func slabBytes() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Slab:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// startChild starts `exe args...` with env added, a program that calls
// ServeChild, and returns it with the address it serves.
func startChild(exe string, args, env []string) (*child, string, func(), error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", nil, err
	}
	ch := &child{cmd: cmd, in: in, out: bufio.NewReader(outp)}
	stop := func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	f, err := ch.line("ADDR")
	if err != nil || len(f) != 1 {
		stop()
		return nil, "", nil, fmt.Errorf("server child: no address: %v", err)
	}
	return ch, f[0], stop, nil
}

// MeasureScale runs the scale workload against the server child `exe
// args...`: n idle clients, then, if echo > 0, the echo of 1% of them for
// echo, and, if churn > 0, connection churn for churn.
func MeasureScale(exe string, args []string, n int, echo, churn time.Duration) (ScaleResult, error) {
	var r ScaleResult
	ch, addr, stop, err := startChild(exe, args, nil)
	if err != nil {
		return r, err
	}
	defer stop()
	before, err := ch.stats()
	if err != nil {
		return r, err
	}
	slab := slabBytes()
	clients, err := dialIdle(addr, n, "")
	closeAll := func() {
		for _, c := range clients {
			c.Close()
		}
		clients = nil
	}
	defer closeAll()
	if err != nil {
		return r, err
	}
	time.Sleep(100 * time.Millisecond)
	r.SlabPerSocket = (float64(slabBytes()) - float64(slab)) / float64(2*n)
	after, err := ch.stats()
	if err != nil {
		return r, err
	}
	d := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	r.Idle = IdleResult{
		Conns:           n,
		RSSPerConn:      d(after.RSS, before.RSS),
		HeapPerConn:     d(after.HeapAlloc, before.HeapAlloc),
		StackPerConn:    d(after.StackInuse, before.StackInuse),
		GoroutinesAdded: after.Goroutines - before.Goroutines,
	}
	if echo > 0 {
		if err := activeEcho(clients, max(1, n/100), 1<<10, echo, &r); err != nil {
			return r, fmt.Errorf("echo: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
		m, err := ch.stats()
		if err != nil {
			return r, err
		}
		r.RSSAfterEcho = d(m.RSS, before.RSS)
	}
	closeAll()
	if churn > 0 {
		rate, err := runChurn(addr, churn)
		if err != nil {
			return r, fmt.Errorf("churn: %w", err)
		}
		r.ChurnConnsPer = rate
	}
	return r, nil
}

// activeEcho has k of the clients, spread over them, echo size-byte
// messages back to back for d.
func activeEcho(clients []*Client, k, size int, d time.Duration, r *ScaleResult) error {
	payload := Payload(size, 11)
	frame := AppendFrame(nil, 0x2, payload, true, [4]byte{9, 8, 7, 6})
	deadline := time.Now().Add(d)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		lat   []time.Duration
		total atomic.Int64
		errs  = make([]error, k)
	)
	step := len(clients) / k
	start := time.Now()
	for i := range k {
		c := clients[i*step]
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.NetConn().SetDeadline(deadline.Add(10 * time.Second))
			buf := make([]byte, 0, size)
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
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
					errs[i] = fmt.Errorf("got %d bytes, want %d", len(p), size)
					return
				}
				buf = p
				if len(mine) < 1<<16 {
					mine = append(mine, time.Since(t0))
				}
				total.Add(1)
			}
			c.NetConn().SetDeadline(time.Time{})
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(lat) == 0 {
		return errors.New("no round trip")
	}
	slices.Sort(lat)
	r.EchoMsgsPerS = float64(total.Load()) / time.Since(start).Seconds()
	r.EchoP50 = lat[len(lat)/2]
	r.EchoP99 = lat[len(lat)*99/100]
	return nil
}

// runChurn connects, echoes once and closes, 32 clients at a time, for d,
// and returns the connections a second.
func runChurn(addr string, d time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	payload := Payload(16, 5)
	frame := AppendFrame(nil, 0x2, payload, true, [4]byte{1, 2, 3, 4})
	deadline := time.Now().Add(d)
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		errs  = make([]error, 32)
	)
	start := time.Now()
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			laddr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+w%8))}
			buf := make([]byte, 0, 16)
			for time.Now().Before(deadline) {
				c, err := Dial(ctx, addr, laddr)
				if err != nil {
					errs[w] = err
					return
				}
				c.NetConn().SetDeadline(time.Now().Add(10 * time.Second))
				if err = c.WriteRaw(frame); err == nil {
					_, _, err = c.ReadMessage(buf)
				}
				c.Close()
				if err != nil {
					errs[w] = err
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds(), errors.Join(errs...)
}
