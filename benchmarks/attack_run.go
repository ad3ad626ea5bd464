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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The attack workload: honest clients echo 1 KiB messages back to back
// against one server, first alone (baseline), then while attackers
// (attack.go), in a process of their own, try to hold the server's
// resources. The honest clients' rate during the attack over the same run's
// baseline says how much the attack took; their worst latency, whether any
// of them was held up; the server's RSS, what the attack cost it in memory.
//
// One server at a time, in a child process of its own (ServeChild), or
// one already running (an address, and a PID to read its memory from).

// AttackSetup is one measurement of the attack workload.
type AttackSetup struct {
	// Exe is the program started for the server and for the attackers.
	Exe string
	// ServeArgs and ServeEnv make Exe run ServeChild for the server under
	// test; with ServeArgs nil the server is the one already at Addr.
	ServeArgs, ServeEnv []string
	// Addr and Path locate a server already running (ServeArgs nil); PID
	// is its process, whose RSS is read from /proc (0: not read).
	Addr, Path string
	PID        int
	// AttackerCmd returns the arguments and environment that make Exe run
	// RunAttackers with c.
	AttackerCmd func(c AttackConfig) (args, env []string)

	Kind  AttackKind
	N     int           // attackers
	Phase time.Duration // baseline and attack, each
	Rate  int           // attackers connecting a second; 0 is 500
	Total int           // bytes each nonreader sends; 0 is NonReaderTotal
	// Honest clients and their message size: 0 is 16 and 1 KiB.
	Honest, Size int
	// MaxRSS makes the nonreaders hold (send no more) once the server's
	// RSS passes it, so that a server that buffers without bound does not
	// take the machine's memory (nbio keeps what nonreaders do not read),
	// and ends the attack early past twice it; 0: no bound.
	MaxRSS uint64
	// MaxTCPMem makes the nonreaders hold once the machine's TCP socket
	// buffers (tcpMem) pass it (AttackConfig.MaxTCPMem), and ends the
	// attack early past 1.5 times it: past tcp_mem's pressure threshold
	// the kernel shrinks every socket's buffers, the machine's other
	// users' too. 0: no bound.
	MaxTCPMem uint64
}

// PhaseResult is what the honest clients saw in one phase.
type PhaseResult struct {
	Elapsed  time.Duration
	Msgs     int // echoes completed within the phase
	P50, P99 time.Duration
	// Max is the worst latency: of the echoes completed, and of those
	// still awaited when the phase ended (how long they had waited then).
	Max    time.Duration
	Errors int // honest connections that failed (and were made again)
}

// Rate is the echoes a second.
func (p PhaseResult) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Msgs) / p.Elapsed.Seconds()
}

// AttackResult is one measurement of the attack workload.
type AttackResult struct {
	Baseline, Attack PhaseResult
	Ramp             time.Duration // until every attacker had connected (or failed to)
	Ready            AttackStats   // the attackers once all had connected
	End              AttackStats   // and at the end of the attack phase
	// The server's RSS at the end of the baseline and of the attack, and
	// the highest of the samples taken every 250 ms from the attackers'
	// start to the attack's end; 0 when not read.
	RSSBaseline, RSSEnd, RSSPeak uint64
	// TCPMemPeak is the machine's TCP socket buffers (mem of
	// /proc/net/sockstat), highest sample over the same time: every
	// socket's, both ends of every connection and other processes too.
	TCPMemPeak uint64
	// Held reports that the server's RSS passed MaxRSS, and the
	// attackers were told to hold (End.Held says how many did, for
	// that reason or MaxTCPMem).
	Held bool
	// Cut says why the attack phase ended early, if it did: "server RSS"
	// (past twice MaxRSS) or "TCP memory" (past 1.5 times MaxTCPMem); ""
	// if it did not.
	Cut string
	// Recovery is the time from the attackers' end until every honest
	// client had an echo back; -1 if not within recoveryMax.
	Recovery time.Duration
}

// Ratio is the honest rate during the attack over the baseline's.
func (r AttackResult) Ratio() float64 {
	if r.Baseline.Rate() == 0 {
		return 0
	}
	return r.Attack.Rate() / r.Baseline.Rate()
}

// recoveryMax bounds the wait for the honest clients once the attackers
// are gone: past the Poller's default MessageTimeout (10 s).
const recoveryMax = 15 * time.Second

// MeasureAttack runs s: the server (started, or found), its honest load
// alone for s.Phase, then the attackers, and once they have all connected
// the honest load again for s.Phase; then the attackers leave.
func MeasureAttack(s AttackSetup) (AttackResult, error) {
	r := AttackResult{Recovery: -1}
	if s.Honest <= 0 {
		s.Honest = 16
	}
	if s.Size <= 0 {
		s.Size = 1 << 10
	}
	if s.Rate <= 0 {
		s.Rate = 500
	}
	addr, path, pid := s.Addr, s.Path, s.PID
	if s.ServeArgs != nil {
		ch, a, stop, err := startChild(s.Exe, s.ServeArgs, s.ServeEnv)
		if err != nil {
			return r, err
		}
		defer stop()
		addr, path, pid = a, "/ws", ch.cmd.Process.Pid
	}
	if path == "" {
		path = "/ws"
	}
	if err := checkLoopback(addr); err != nil {
		return r, err
	}
	h, err := startHonest(addr, path, s.Honest, s.Size)
	if err != nil {
		return r, fmt.Errorf("honest clients: %w", err)
	}
	defer h.close()
	m := startSampler(pid, s.MaxRSS, s.MaxTCPMem, h.base)
	defer m.close()

	from := h.now()
	time.Sleep(s.Phase)
	to := h.now()
	r.Baseline = h.window(from, to, h.inflight(to))
	r.RSSBaseline = m.rssNow()
	if err := h.failure(); err != nil {
		return r, fmt.Errorf("honest clients at baseline: %w", err)
	}
	if r.Baseline.Msgs == 0 {
		return r, errors.New("honest clients: no echo at baseline")
	}

	ramp := time.Duration(s.N) * time.Second / time.Duration(s.Rate)
	cfg := AttackConfig{Kind: s.Kind, N: s.N, Addr: addr, Path: path, Rate: s.Rate,
		For: ramp + s.Phase + 2*time.Minute, Total: s.Total, MaxTCPMem: s.MaxTCPMem}
	args, env := s.AttackerCmd(cfg)
	atk, stopAttackers, err := startAttackers(s.Exe, args, env)
	if err != nil {
		return r, err
	}
	defer stopAttackers()
	rampFrom := h.now()
	m.sample()
	type readiness struct {
		st  AttackStats
		err error
	}
	ready := make(chan readiness, 1)
	go func() {
		f, err := atk.lineWithin("READY", ramp+time.Minute)
		var st AttackStats
		if err == nil {
			st, err = parseAttackStats(f)
		}
		ready <- readiness{st, err}
	}()
	// hold tells the attackers, once, to send no more.
	soft := m.soft
	hold := func() {
		r.Held, soft = true, nil
		io.WriteString(atk.in, "hold\n")
	}
wait:
	for {
		select {
		case rd := <-ready:
			if rd.err != nil {
				return r, fmt.Errorf("attackers: %w", rd.err)
			}
			r.Ready = rd.st
			break wait
		case <-soft:
			hold()
		case <-m.hard:
			// Still ramping up: no attack phase, and the READY line
			// is still awaited, so no stats either.
			r.Cut = m.why()
			break wait
		}
	}
	from = h.now()
	r.Ramp = time.Duration(from - rampFrom)
	to = from
	if r.Cut == "" {
		t := time.NewTimer(s.Phase)
	phase:
		for {
			select {
			case <-t.C:
				break phase
			case <-soft:
				hold()
			case <-m.hard:
				r.Cut = m.why()
				t.Stop()
				break phase
			}
		}
		to = h.now()
	}
	inflight := h.inflight(to)
	r.RSSEnd = m.sample()
	r.RSSPeak, r.TCPMemPeak = m.peak(rampFrom, h.now())
	if to > from {
		if r.End, err = attackerStats(atk); err != nil {
			return r, err
		}
	}
	stopAttackers()
	left := h.now()
	r.Attack = h.window(from, to, inflight)
	r.Recovery = h.recovery(left, recoveryMax)
	return r, nil
}

// startAttackers starts `exe args...` with env added, a program that calls
// RunAttackers, and returns it with the function that ends it.
func startAttackers(exe string, args, env []string) (*child, func(), error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			in.Close()
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	}
	return &child{cmd: cmd, in: in, out: bufio.NewReader(out)}, stop, nil
}

func attackerStats(c *child) (AttackStats, error) {
	if _, err := io.WriteString(c.in, "stats\n"); err != nil {
		return AttackStats{}, err
	}
	f, err := c.lineWithin("STATS", 10*time.Second)
	if err != nil {
		return AttackStats{}, fmt.Errorf("attackers: %w", err)
	}
	return parseAttackStats(f)
}

// honestLoad is the honest clients: each sends a message and waits for its
// echo, back to back, from start to close, and logs when each echo came
// back and how long it took, so that phases are windows of one log.
type honestLoad struct {
	addr, path string
	size       int
	frame      []byte
	base       time.Time // times are offsets from base (monotonic)
	stop       atomic.Bool
	wg         sync.WaitGroup
	cs         []*honestClient
}

type honestClient struct {
	sent atomic.Int64 // offset+1 the awaited message was sent at; 0: none

	mu   sync.Mutex
	nc   net.Conn       // the current connection, for close
	done []honestSample // echoes, in order
	errs []int64        // offsets of failures
	err  error          // the first failure
}

type honestSample struct{ at, lat int64 }

// maxHonestSamples bounds each client's log: at 16 clients sharing 100,000
// echoes a second, 2.5 minutes' worth.
const maxHonestSamples = 1 << 20

// honestDeadline bounds every honest read and write; close ends them
// sooner.
const honestDeadline = 10 * time.Minute

func (h *honestLoad) now() int64 { return int64(time.Since(h.base)) }

// startHonest connects n clients to addr, checks one echo of each byte for
// byte, and starts their load.
func startHonest(addr, path string, n, size int) (*honestLoad, error) {
	payload := Payload(size, uint64(size)+3)
	h := &honestLoad{addr: addr, path: path, size: size, base: time.Now(),
		frame: AppendFrame(nil, 0x2, payload, true, [4]byte{0x11, 0x22, 0x33, 0x44})}
	clients := make([]*Client, n)
	for i := range clients {
		c, err := h.dial()
		if err == nil {
			clients[i] = c
			var p []byte
			if err = c.WriteRaw(h.frame); err == nil {
				_, p, err = c.ReadMessage(nil)
			}
			if err == nil && !bytes.Equal(p, payload) {
				err = fmt.Errorf("echo of %d bytes: got %d, or other bytes", size, len(p))
			}
		}
		if err != nil {
			for _, c := range clients[:i+1] {
				if c != nil {
					c.Close()
				}
			}
			return nil, err
		}
	}
	for _, c := range clients {
		hc := &honestClient{nc: c.NetConn()}
		h.cs = append(h.cs, hc)
		h.wg.Add(1)
		go h.run(hc, c)
	}
	return h, nil
}

func (h *honestLoad) dial() (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := DialWith(ctx, &net.Dialer{}, h.addr, h.path, "")
	if err != nil {
		return nil, err
	}
	c.NetConn().SetDeadline(time.Now().Add(honestDeadline))
	return c, nil
}

// run is one honest client's loop, until close. A connection that fails
// is counted and made again.
func (h *honestLoad) run(hc *honestClient, c *Client) {
	defer h.wg.Done()
	buf := make([]byte, 0, h.size)
	for !h.stop.Load() {
		if c == nil {
			var err error
			if c, err = h.dial(); err != nil {
				hc.fail(h.now(), err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			hc.mu.Lock()
			hc.nc = c.NetConn()
			hc.mu.Unlock()
			if h.stop.Load() {
				break
			}
		}
		t0 := h.now()
		hc.sent.Store(t0 + 1)
		err := c.WriteRaw(h.frame)
		var p []byte
		if err == nil {
			_, p, err = c.ReadMessage(buf)
		}
		t1 := h.now()
		hc.sent.Store(0)
		if err == nil && len(p) != h.size {
			err = fmt.Errorf("echo: got %d bytes, want %d", len(p), h.size)
		}
		if err != nil {
			c.Close()
			c = nil
			if !h.stop.Load() {
				hc.fail(t1, err)
			}
			continue
		}
		buf = p
		hc.mu.Lock()
		if len(hc.done) < maxHonestSamples {
			hc.done = append(hc.done, honestSample{at: t1, lat: t1 - t0})
		}
		hc.mu.Unlock()
	}
	if c != nil {
		c.Close()
	}
}

func (hc *honestClient) fail(at int64, err error) {
	hc.mu.Lock()
	hc.errs = append(hc.errs, at)
	if hc.err == nil {
		hc.err = err
	}
	hc.mu.Unlock()
}

// failure returns the first failure of any client, if any.
func (h *honestLoad) failure() error {
	for _, hc := range h.cs {
		hc.mu.Lock()
		err := hc.err
		hc.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// close ends the load: every connection is closed, which ends a client
// that waits for an echo.
func (h *honestLoad) close() {
	h.stop.Store(true)
	for _, hc := range h.cs {
		hc.mu.Lock()
		hc.nc.Close()
		hc.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// inflight returns, of the echoes awaited at offset at, how long the
// oldest had been.
func (h *honestLoad) inflight(at int64) time.Duration {
	var worst int64
	for _, hc := range h.cs {
		if s := hc.sent.Load(); s != 0 && s-1 <= at {
			worst = max(worst, at-(s-1))
		}
	}
	return time.Duration(worst)
}

// window returns the phase from offset from to offset to, given the oldest
// echo awaited at its end.
func (h *honestLoad) window(from, to int64, inflight time.Duration) PhaseResult {
	p := PhaseResult{Elapsed: time.Duration(to - from), Max: inflight}
	var lat []int64
	for _, hc := range h.cs {
		hc.mu.Lock()
		i, _ := slices.BinarySearchFunc(hc.done, from, func(s honestSample, t int64) int { return cmpInt(s.at, t) })
		for ; i < len(hc.done) && hc.done[i].at < to; i++ {
			lat = append(lat, hc.done[i].lat)
		}
		for _, e := range hc.errs {
			if e >= from && e < to {
				p.Errors++
			}
		}
		hc.mu.Unlock()
	}
	p.Msgs = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		p.P50 = time.Duration(lat[len(lat)/2])
		p.P99 = time.Duration(lat[min(len(lat)-1, len(lat)*99/100)])
		p.Max = max(p.Max, time.Duration(lat[len(lat)-1]))
	}
	return p
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// recovery waits until every client has had an echo back after offset
// since, at most bound, and returns how long that took, or -1.
func (h *honestLoad) recovery(since int64, bound time.Duration) time.Duration {
	deadline := time.Now().Add(bound)
	for {
		var last int64
		all := true
		for _, hc := range h.cs {
			hc.mu.Lock()
			n := len(hc.done)
			ok := n > 0 && hc.done[n-1].at > since
			if ok {
				// The first echo after since.
				i, _ := slices.BinarySearchFunc(hc.done, since+1, func(s honestSample, t int64) int { return cmpInt(s.at, t) })
				last = max(last, hc.done[i].at)
			}
			hc.mu.Unlock()
			all = all && ok
		}
		if all {
			return time.Duration(last - since)
		}
		if time.Now().After(deadline) {
			return -1
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memSampler reads a process's RSS and the machine's TCP memory every
// 250 ms, and tells when they pass their bounds.
type memSampler struct {
	pid            int
	rssMax, tcpMax uint64
	base           time.Time
	soft           chan struct{} // closed once the RSS passed rssMax
	hard           chan struct{} // closed once either passed its backstop
	quit           chan struct{}
	done           chan struct{}

	mu      sync.Mutex
	samples []memSample
	softed  bool
	cut     string // which backstop was passed
}

type memSample struct {
	at       int64
	rss, tcp uint64
}

func startSampler(pid int, rssMax, tcpMax uint64, base time.Time) *memSampler {
	m := &memSampler{pid: pid, rssMax: rssMax, tcpMax: tcpMax, base: base, soft: make(chan struct{}),
		hard: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-t.C:
			case <-m.quit:
				return
			}
		}
	}()
	return m
}

// sample takes a sample now, closes soft and hard if it passes their
// bounds, and returns its RSS.
func (m *memSampler) sample() uint64 {
	s := memSample{at: int64(time.Since(m.base)), rss: m.rssNow(), tcp: tcpMem()}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = append(m.samples, s)
	if !m.softed && m.rssMax > 0 && s.rss > m.rssMax {
		m.softed = true
		close(m.soft)
	}
	if m.cut == "" {
		switch {
		case m.rssMax > 0 && s.rss > 2*m.rssMax:
			m.cut = "server RSS"
		case m.tcpMax > 0 && s.tcp > m.tcpMax/2*3:
			m.cut = "TCP memory"
		}
		if m.cut != "" {
			close(m.hard)
		}
	}
	return s.rss
}

// why returns the backstop that was passed.
func (m *memSampler) why() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cut
}

func (m *memSampler) close() {
	close(m.quit)
	<-m.done
}

// rssNow returns the process's VmRSS, or 0.
func (m *memSampler) rssNow() uint64 {
	if m.pid <= 0 {
		return 0
	}
	return procStatusBytes(m.pid, "VmRSS:")
}

// peak returns the highest RSS and TCP memory sampled between the offsets
// from and to.
func (m *memSampler) peak(from, to int64) (rss, tcp uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.samples {
		if s.at >= from && s.at <= to {
			rss, tcp = max(rss, s.rss), max(tcp, s.tcp)
		}
	}
	return rss, tcp
}

// procStatusBytes returns the field (e.g. "VmRSS:") of /proc/PID/status,
// in bytes, or 0.
func procStatusBytes(pid int, field string) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TCPMemPressure returns the machine's tcp_mem pressure threshold (its
// second value), in bytes, or 0.
func TCPMemPressure() uint64 {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_mem")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// tcpMem returns the "mem" of the TCP line of /proc/net/sockstat (pages
// of socket buffers, the unit of tcp_mem), in bytes, or 0.
func tcpMem() uint64 {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i += 2 {
			if f[i] == "mem" {
				pages, _ := strconv.ParseUint(f[i+1], 10, 64)
				return pages * uint64(os.Getpagesize())
			}
		}
	}
	return 0
}
