package benchmarks

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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
