package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	bench "github.com/fullduplex/websocket/benchmarks"
)

// attackFlags are the flags of the attack workload, and of the attackers'
// own mode (-attack KIND), which the workload starts as a child process
// and which also runs alone against any server on this machine.
type attackFlags struct {
	kind     string // -attack: run attackers of this kind, nothing else
	n        int
	addr     string
	path     string
	pid      int
	rate     int
	lifetime time.Duration
	bytes    int

	kinds    string
	trickleN string
	nonN     string
	phase    time.Duration
	rounds   int
	maxRSS   int
	maxTCP   int
}

func (a *attackFlags) register() {
	flag.StringVar(&a.kind, "attack", "", "run attackers of this kind (trickle-data, trickle-header, trickle-ping, nonreader) against -attack-addr, and nothing else; they stop when stdin ends or after -attack-for")
	flag.IntVar(&a.n, "n", 128, "with -attack: attacking connections")
	flag.StringVar(&a.addr, "attack-addr", "", "attack workload: a server already running at this loopback address, instead of a child per library; with -attack: the server to attack")
	flag.StringVar(&a.path, "attack-path", "/ws", "request path at -attack-addr")
	flag.IntVar(&a.pid, "attack-pid", 0, "attack workload: the process of the server at -attack-addr, to read its RSS from /proc (0: not read)")
	flag.IntVar(&a.rate, "attack-rate", 500, "attackers connecting a second while they ramp up")
	flag.DurationVar(&a.lifetime, "attack-for", time.Minute, "with -attack: stop after this long")
	flag.IntVar(&a.bytes, "attack-bytes", bench.NonReaderTotal, "what each nonreader sends, in 64 KiB messages")
	flag.StringVar(&a.kinds, "attacks", "trickle-data,trickle-header,trickle-ping,nonreader", "attack workload: comma-separated kinds of attacker")
	flag.StringVar(&a.trickleN, "attack-trickle-n", "128,1024", "attack workload: comma-separated attacker counts of the trickling kinds")
	flag.StringVar(&a.nonN, "attack-nonreader-n", "64,1024", "attack workload: comma-separated attacker counts of nonreader")
	flag.DurationVar(&a.phase, "attack-time", 5*time.Second, "attack workload: length of the baseline and of the attack phase")
	flag.IntVar(&a.rounds, "attack-rounds", 1, "attack workload: rounds (the library order rotates each round)")
	flag.IntVar(&a.maxRSS, "attack-max-rss", 3072, "attack workload: nonreaders send no more once the server's RSS passes this many MiB, and the attack ends past twice it (0: no bound)")
	flag.IntVar(&a.maxTCP, "attack-max-tcp-mem", -1, "nonreaders send no more once the machine's TCP buffers (/proc/net/sockstat) pass this many MiB, and the attack ends past 1.5 times it (-1: two thirds of tcp_mem's pressure threshold; 0: no bound)")
}

// runAttackers is the -attack mode.
func (a *attackFlags) runAttackers() error {
	bench.RaiseFileLimit()
	return bench.RunAttackers(a.config(bench.AttackKind(a.kind), a.n, a.addr, a.path), os.Stdin, os.Stdout)
}

func (a *attackFlags) config(k bench.AttackKind, n int, addr, path string) bench.AttackConfig {
	return bench.AttackConfig{Kind: k, N: n, Addr: addr, Path: path, Rate: a.rate, For: a.lifetime, Total: a.bytes,
		MaxTCPMem: a.tcpBound()}
}

// args are the command-line arguments of the -attack mode for c.
func (a *attackFlags) args(c bench.AttackConfig) []string {
	return []string{"-attack", string(c.Kind), "-n", strconv.Itoa(c.N), "-attack-addr", c.Addr,
		"-attack-path", c.Path, "-attack-rate", strconv.Itoa(c.Rate), "-attack-for", c.For.String(),
		"-attack-bytes", strconv.Itoa(c.Total), "-attack-max-tcp-mem", strconv.FormatUint(c.MaxTCPMem>>20, 10)}
}

// tcpBound is -attack-max-tcp-mem in bytes.
func (a *attackFlags) tcpBound() uint64 {
	if a.maxTCP < 0 {
		return bench.TCPMemPressure() / 3 * 2
	}
	return uint64(a.maxTCP) << 20
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad attacker count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// attack runs the attack workload (benchmarks/attack_run.go): for each
// kind and count of attackers, every library's server in a child of its
// own, or the server at -attack-addr, baseline then attack, rounds times.
func (r *runner) attack(a *attackFlags) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	type cell struct {
		k bench.AttackKind
		n int
	}
	var cells []cell
	for _, f := range strings.Split(a.kinds, ",") {
		k := bench.AttackKind(strings.TrimSpace(f))
		list := a.trickleN
		switch k {
		case bench.TrickleData, bench.TrickleHeader, bench.TricklePing:
		case bench.NonReader:
			list = a.nonN
		default:
			return fmt.Errorf("unknown attack %q", k)
		}
		ns, err := parseCounts(list)
		if err != nil {
			return err
		}
		for _, n := range ns {
			cells = append(cells, cell{k, n})
		}
	}
	maxTCP := a.tcpBound()
	cols := []string{}
	for _, l := range r.libs {
		cols = append(cols, l.Name)
	}
	if a.addr != "" {
		cols = []string{a.addr}
	}
	r.attackCols = cols
	load0 := loadAvg()
	t0 := time.Now()
	for round := range a.rounds {
		order := cols
		if a.addr == "" {
			order = nil
			for _, l := range r.order(round) {
				order = append(order, l.Name)
			}
		}
		for _, c := range cells {
			for _, col := range order {
				s := bench.AttackSetup{
					Exe: exe, Kind: c.k, N: c.n, Phase: a.phase, Rate: a.rate, Total: a.bytes,
					MaxRSS: uint64(a.maxRSS) << 20, MaxTCPMem: maxTCP,
					AttackerCmd: func(ac bench.AttackConfig) ([]string, []string) { return a.args(ac), nil },
				}
				if a.addr != "" {
					s.Addr, s.Path, s.PID = a.addr, a.path, a.pid
				} else {
					s.ServeArgs = []string{"-serve", col}
				}
				w := bench.AttackWorkload(c.k, c.n)
				m, err := bench.MeasureAttack(s)
				if err != nil {
					// One server failing (or refusing) leaves its cell
					// empty; the others are still worth having.
					logf("attack %s %s round %d: %v", w, col, round+1, err)
					continue
				}
				m.AddTo(&r.atk, w, col)
				logf("attack %s %s round %d: %.0f → %.0f echoes/s (%.2f×), max %v, RSS %s (peak %s), %d attackers up, %d dropped, %d reconnects, %s sent, %d held, TCP mem peak %s, recovery %v%s",
					w, col, round+1, m.Baseline.Rate(), m.Attack.Rate(), m.Ratio(), m.Attack.Max.Round(time.Millisecond),
					bench.FmtBytes(float64(m.RSSEnd)), bench.FmtBytes(float64(m.RSSPeak)), m.Ready.Established,
					m.End.Dropped, m.End.Reconnects, bench.FmtBytes(float64(m.End.Bytes)), m.End.Held, bench.FmtBytes(float64(m.TCPMemPeak)), m.Recovery.Round(time.Millisecond),
					cutNote(m.Cut))
			}
		}
		logf("attack round %d/%d", round+1, a.rounds)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Under attack: %d honest clients echoing 1 KiB back to back in wsbench; attackers in a child process, connecting at %d/s from 127.0.0.2-9; %v of baseline then %v of attack per server and attack, %d round(s); nonreaders send %s each in 64 KiB messages, but hold (send no more, read nothing, keep the connection) once the server's RSS passes %d MiB or the machine's TCP buffers %s. Load average (1, 5, 15 min) %s at the start, %s at the end; %v.\n\n",
		16, a.rate, a.phase, a.phase, a.rounds, bench.FmtBytes(float64(a.bytes)), a.maxRSS, bench.FmtBytes(float64(maxTCP)), load0, loadAvg(), time.Since(t0).Round(time.Second))
	b.WriteString("Ratio = honest echoes a second during the attack over the same server's baseline in the same run (median; in brackets the lowest and highest of a round), then baseline → during (medians), the worst honest latency during the attack in any round (echoes still awaited at its end count with the time they had waited), and the server's RSS at the end of the attack (its peak from the attackers' start, sampled every 250 ms). ✓: every round met the Poller rewrite's targets (ratio ≥ 0.8; trickling kinds also worst latency < 1 s).\n\n")
	b.WriteString(bench.AttackSummary(&r.atk, cols))
	b.WriteString("\nAll metrics (medians):\n\n")
	b.WriteString(r.atk.Raw(cols))
	r.attackReport = b.String()
	return nil
}

func cutNote(why string) string {
	if why == "" {
		return ""
	}
	return ", attack cut short: " + why + " past its backstop"
}

// loadAvg returns the first three fields of /proc/loadavg, as uptime
// prints them.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
