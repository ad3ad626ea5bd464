// Command wsbench runs the fullduplex benchmark workloads against
// fullduplex, gorilla/websocket, coder/websocket, gobwas/ws and lxzan/gws,
// interleaving the libraries round by round, and prints Markdown tables of
// medians with ratios to the best peer library.
//
// Usage:
//
//	go run ./cmd/wsbench -quick            # under 2 minutes
//	go run ./cmd/wsbench -full -out r.md   # under 10 minutes
//	go run ./cmd/wsbench -workloads read,write -libs fullduplex,gobwas
//	go run ./cmd/wsbench -workloads write-locked -kinds binary,text   # small writes, the referee's conn
//	go run ./cmd/wsbench -workloads attack -attack-time 5s   # hostile peers, see the README
//	go run ./cmd/wsbench -attack trickle-data -n 128 -attack-addr 127.0.0.1:8082   # attackers alone
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	bench "github.com/fullduplex/websocket/benchmarks"
)

type config struct {
	benchTime             time.Duration
	memRounds             int
	echoTime              time.Duration
	echoRounds            int
	idleConns, idleRounds int
	bcastConns, bcastMsgs int
	bcastRounds           int
}

var modes = map[string]config{
	"smoke": {benchTime: 5 * time.Millisecond, memRounds: 1, echoTime: 50 * time.Millisecond, echoRounds: 1,
		idleConns: 50, idleRounds: 1, bcastConns: 20, bcastMsgs: 5, bcastRounds: 1},
	"quick": {benchTime: 100 * time.Millisecond, memRounds: 3, echoTime: 300 * time.Millisecond, echoRounds: 3,
		idleConns: 2000, idleRounds: 1, bcastConns: 1000, bcastMsgs: 20, bcastRounds: 3},
	"full": {benchTime: 300 * time.Millisecond, memRounds: 5, echoTime: time.Second, echoRounds: 5,
		idleConns: 10000, idleRounds: 2, bcastConns: 1000, bcastMsgs: 100, bcastRounds: 5},
}

var memSizes = []struct {
	name string
	n    int
}{{"16 B", 16}, {"1 KiB", 1 << 10}, {"16 KiB", 16 << 10}, {"1 MiB", 1 << 20}}

var echoSizes = []struct {
	name string
	n    int
}{{"16 B", 16}, {"1 KiB", 1 << 10}, {"64 KiB", 64 << 10}}

func main() {
	var (
		quick     = flag.Bool("quick", false, "quick mode (default): under 2 minutes")
		full      = flag.Bool("full", false, "full mode: under 10 minutes, 10,000 idle clients")
		smoke     = flag.Bool("smoke", false, "tiny run that only checks every workload works")
		workloads = flag.String("workloads", "read,write,echo,idle,broadcast", "comma-separated workloads")
		libList   = flag.String("libs", strings.Join(bench.LibOrder, ","), "comma-separated libraries")
		out       = flag.String("out", "", "also write the Markdown report to this file")
		serve     = flag.String("serve", "", "internal: run LIB's echo server for the idle workload")
		idleConns = flag.Int("idle", 0, "idle clients (overrides the mode)")
		kinds     = flag.String("kinds", "binary,text,mixed", "comma-separated message kinds of the read and write workloads")
		scaleN    = flag.String("scale", "10000,19000", "scale workload: comma-separated connection counts; echo and churn run at the first")
		scaleTime = flag.Duration("scale-time", 3*time.Second, "scale workload: duration of its echo and of its churn")
		bcast     = flag.Int("bcast", 0, "broadcast clients (overrides the mode); past 2,000 they run in a child process")
		bcastMsgs = flag.Int("bcast-msgs", 0, "messages per broadcast round (overrides the mode)")
		bcastRnds = flag.Int("bcast-rounds", 0, "broadcast rounds (overrides the mode)")
		bcastKid  = flag.String("bcast-child", "", "internal: N,M,SIZE: run N broadcast clients against the address given as argument")
		a         attackFlags
	)
	a.register()
	flag.Parse()
	if a.kind != "" {
		if err := a.runAttackers(); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if *bcastKid != "" {
		var n, m, size int
		if _, err := fmt.Sscanf(*bcastKid, "%d,%d,%d", &n, &m, &size); err != nil || flag.NArg() != 1 {
			fatalf("-bcast-child N,M,SIZE ADDR")
		}
		bench.RaiseFileLimit()
		if err := bench.BroadcastClients(flag.Arg(0), n, m, size, os.Stdin, os.Stdout); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if *serve != "" {
		l := bench.LibByName(*serve)
		if l == nil {
			fatalf("unknown library %q", *serve)
		}
		if err := bench.ServeChild(l, os.Stdin, os.Stdout); err != nil {
			fatalf("%v", err)
		}
		return
	}
	_ = quick
	mode := "quick"
	switch {
	case *full:
		mode = "full"
	case *smoke:
		mode = "smoke"
	}
	cfg := modes[mode]
	if *idleConns > 0 {
		cfg.idleConns = *idleConns
	}
	if *bcast > 0 {
		cfg.bcastConns = *bcast
	}
	if *bcastMsgs > 0 {
		cfg.bcastMsgs = *bcastMsgs
	}
	if *bcastRnds > 0 {
		cfg.bcastRounds = *bcastRnds
	}
	self := "fullduplex"
	switch *workloads {
	case "scale":
		// The scale workload has its own columns: the event-driven mode
		// and nbio besides the others (lib_scale.go).
		self = "fullduplex-poller"
		if !flagSet("libs") {
			*libList = strings.Join(bench.ScaleOrder, ",")
		}
	case "attack":
		// So has the attack workload (attack_run.go): the Poller, the
		// blocking API and nbio.
		self = "fullduplex-poller"
		if !flagSet("libs") {
			*libList = strings.Join(bench.AttackOrder, ",")
		}
	}
	var libs []*bench.Lib
	var names []string
	for _, n := range strings.Split(*libList, ",") {
		l := bench.LibByName(strings.TrimSpace(n))
		if l == nil {
			fatalf("unknown library %q", n)
		}
		libs = append(libs, l)
		names = append(names, l.Name)
	}
	var general bool // a workload other than attack ran
	limit := bench.RaiseFileLimit()
	bench.SetBenchTime(cfg.benchTime)

	start := time.Now()
	r := &runner{cfg: cfg, libs: libs}
	r.tab.Marks = map[string]string{}
	for _, l := range libs {
		if l.ValidatesUTF8 {
			r.tab.Marks[l.Name] = " ✓"
		}
	}
	for _, k := range strings.Split(*kinds, ",") {
		switch strings.TrimSpace(k) {
		case "binary":
			r.kinds = append(r.kinds, bench.Binary)
		case "text":
			r.kinds = append(r.kinds, bench.Text)
		case "mixed":
			r.kinds = append(r.kinds, bench.Mixed)
		default:
			fatalf("unknown kind %q", k)
		}
	}
	for _, w := range strings.Split(*workloads, ",") {
		t0 := time.Now()
		var err error
		switch strings.TrimSpace(w) {
		case "read":
			err = r.memory("read", bench.BenchReadKind)
		case "write":
			err = r.memory("write", bench.BenchWriteKind)
		case "write-locked":
			err = r.memory("write-locked", bench.BenchLockedWriteKind)
		case "echo":
			err = r.echo()
		case "idle":
			err = r.idle()
		case "broadcast":
			err = r.broadcast()
		case "scale":
			err = r.scale(*scaleN, *scaleTime)
		case "attack":
			err = r.attack(&a)
		default:
			err = fmt.Errorf("unknown workload %q", w)
		}
		general = general || strings.TrimSpace(w) != "attack"
		if err != nil {
			fatalf("%s: %v", w, err)
		}
		logf("%s done in %v", w, time.Since(t0).Round(time.Millisecond))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Mode %s (%s), %s, %s/%s, GOMAXPROCS %d, %s, RLIMIT_NOFILE %d; %v.\n\n",
		mode, *workloads, cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.Version(),
		limit, time.Since(start).Round(time.Second))
	if general {
		fmt.Fprintf(&b, "Medians of interleaved rounds. **Ratio** = how many times better than the best peer (fullduplex not counted), whatever the metric's direction: above 1.00 is ahead of every peer, the best peer is 1.00; in brackets the lowest and highest ratio of a single round. Read and write workloads: binary messages, \"text\" ASCII text, \"mixed\" text in several scripts (44 %% of its bytes not ASCII); ✓ marks the libraries that check text they read is UTF-8.\n\n")
		b.WriteString(r.tab.Summary(names, self))
		b.WriteString("\nAll metrics (medians):\n\n")
		b.WriteString(r.tab.Raw(names))
		if behind := r.tab.Behind(names, self); len(behind) > 0 {
			fmt.Fprintf(&b, "\n%s behind the best peer on: %s\n", self, strings.Join(behind, "; "))
		}
	}
	if r.attackCols != nil {
		if general {
			b.WriteString("\n")
		}
		b.WriteString(r.attackReport)
	}
	fmt.Print(b.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			fatalf("%v", err)
		}
	}
}

type runner struct {
	cfg   config
	libs  []*bench.Lib
	kinds []bench.Kind
	tab   bench.Table

	// The attack workload's own table (attack.go).
	atk          bench.Table
	attackCols   []string
	attackReport string
}

// order rotates the libraries by round, so that no library always runs
// first (or right after the same neighbour).
func (r *runner) order(round int) []*bench.Lib {
	n := len(r.libs)
	out := make([]*bench.Lib, n)
	for i := range n {
		out[i] = r.libs[(i+round)%n]
	}
	return out
}

func (r *runner) memory(kind string, run func(*bench.Lib, bench.Kind, int) (bench.MemResult, error)) error {
	for round := range r.cfg.memRounds {
		for _, k := range r.kinds {
			for _, s := range memSizes {
				for _, l := range r.order(round) {
					if err := r.memoryCase(kind, run, l, k, s.name, s.n); err != nil {
						return err
					}
				}
			}
		}
		logf("%s round %d/%d", kind, round+1, r.cfg.memRounds)
	}
	return nil
}

// memoryCase runs one in-memory case and records its metrics; a library
// that cannot write text is left out of the text write rows.
func (r *runner) memoryCase(kind string, run func(*bench.Lib, bench.Kind, int) (bench.MemResult, error), l *bench.Lib, k bench.Kind, size string, n int) error {
	m, err := run(l, k, n)
	if errors.Is(err, bench.ErrNoText) {
		return nil
	}
	if err != nil {
		return err
	}
	w := kind + " " + size
	if k != bench.Binary {
		w = kind + " " + k.String() + " " + size
	}
	r.tab.Add(bench.Metric{Workload: w, Name: "ns/msg", Lower: true, Summary: true, Format: bench.FmtNs, With: "allocs/msg"}, l.Name, m.NsPerMsg)
	r.tab.Add(bench.Metric{Workload: w, Name: "MB/s", Format: bench.FmtMBs}, l.Name, m.MBPerSec)
	r.tab.Add(bench.Metric{Workload: w, Name: "allocs/msg", Lower: true, Format: bench.FmtCount}, l.Name, m.AllocsPerMsg)
	r.tab.Add(bench.Metric{Workload: w, Name: "B/msg", Lower: true, Format: bench.FmtBytes}, l.Name, m.BytesPerMsg)
	if strings.HasPrefix(kind, "write") {
		r.tab.Add(bench.Metric{Workload: w, Name: "writes/msg", Lower: true, Format: bench.FmtCount}, l.Name, m.WritesPerMsg)
	}
	return nil
}

func (r *runner) echo() error {
	servers := map[string]*bench.Server{}
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	for _, l := range r.libs {
		s, err := bench.StartEcho(l)
		if err != nil {
			return err
		}
		servers[l.Name] = s
	}
	for round := range r.cfg.echoRounds {
		for _, conns := range []int{1, 64} {
			for _, s := range echoSizes {
				for _, l := range r.order(round) {
					e, err := bench.RunEcho(servers[l.Name].Addr, conns, s.n, r.cfg.echoTime)
					if err != nil {
						return fmt.Errorf("%s: %w", l.Name, err)
					}
					w := fmt.Sprintf("echo %s ×%d", s.name, conns)
					r.tab.Add(bench.Metric{Workload: w, Name: "msgs/s", Summary: true, Format: bench.FmtRate}, l.Name, e.MsgsPerSec())
					r.tab.Add(bench.Metric{Workload: w, Name: "p50", Lower: true, Summary: conns == 64, Format: bench.FmtNs}, l.Name, float64(e.P50))
					r.tab.Add(bench.Metric{Workload: w, Name: "p99", Lower: true, Summary: conns == 64, Format: bench.FmtNs}, l.Name, float64(e.P99))
				}
			}
		}
		logf("echo round %d/%d", round+1, r.cfg.echoRounds)
	}
	return nil
}

func (r *runner) idle() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	w := fmt.Sprintf("idle ×%d", r.cfg.idleConns)
	for round := range r.cfg.idleRounds {
		for _, l := range r.order(round) {
			if err := r.idleOne(exe, l.Name, w, ""); err != nil {
				return err
			}
			// fullduplex also with permessage-deflate negotiated (the
			// peers' servers run without it), to show what compression
			// costs an idle connection.
			if l.Name == "fullduplex" {
				if err := r.idleOne(exe, l.Name, w+", permessage-deflate", bench.DeflateOffer); err != nil {
					return err
				}
			}
		}
		logf("idle round %d/%d", round+1, r.cfg.idleRounds)
	}
	return nil
}

// idleOne measures lib's idle connections, the clients offering ext, into
// the rows of workload w.
func (r *runner) idleOne(exe, lib, w, ext string) error {
	m, err := bench.MeasureIdle(exe, []string{"-serve", lib}, nil, r.cfg.idleConns, ext)
	if err != nil {
		return fmt.Errorf("%s %s: %w", lib, ext, err)
	}
	r.tab.Add(bench.Metric{Workload: w, Name: "RSS/conn", Lower: true, Summary: true, Format: bench.FmtBytes}, lib, m.RSSPerConn)
	r.tab.Add(bench.Metric{Workload: w, Name: "heap/conn", Lower: true, Summary: true, Format: bench.FmtBytes}, lib, m.HeapPerConn)
	r.tab.Add(bench.Metric{Workload: w, Name: "stack/conn", Lower: true, Format: bench.FmtBytes}, lib, m.StackPerConn)
	r.tab.Add(bench.Metric{Workload: w, Name: "goroutines/conn", Lower: true, Format: bench.FmtCount}, lib, float64(m.GoroutinesAdded)/float64(m.Conns))
	return nil
}

// remoteBroadcast is the broadcast workload with the clients in a child
// process, for more clients than one process may hold with their server
// connections. One library's hub runs at a time, made afresh for each
// round (one warm-up round, then the timed one); the rounds still rotate
// the libraries. It also reports the server process's memory per client
// after a round.
func (r *runner) remoteBroadcast() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	const size = 1 << 10
	w := fmt.Sprintf("broadcast 1 KiB ×%d msgs → %d", r.cfg.bcastMsgs, r.cfg.bcastConns)
	args := []string{"-bcast-child", fmt.Sprintf("%d,%d,%d", r.cfg.bcastConns, r.cfg.bcastMsgs, size)}
	for round := range r.cfg.bcastRounds {
		for _, l := range r.order(round) {
			g, err := bench.NewRemoteBroadcastRig(l, exe, args, r.cfg.bcastConns, r.cfg.bcastMsgs, size)
			if err != nil {
				return err
			}
			_, err = g.Round(time.Minute) // warm-up
			var d time.Duration
			if err == nil {
				d, err = g.Round(time.Minute)
			}
			rss, heap, gor := g.Memory()
			g.Close()
			if err != nil {
				return err
			}
			deliveries := float64(r.cfg.bcastMsgs * r.cfg.bcastConns)
			r.tab.Add(bench.Metric{Workload: w, Name: "time", Lower: true, Summary: true, Format: bench.FmtNs}, l.Name, float64(d))
			r.tab.Add(bench.Metric{Workload: w, Name: "deliveries/s", Format: bench.FmtRate}, l.Name, deliveries/d.Seconds())
			r.tab.Add(bench.Metric{Workload: w, Name: "server RSS/client", Lower: true, Format: bench.FmtBytes}, l.Name, rss)
			r.tab.Add(bench.Metric{Workload: w, Name: "server heap/client", Lower: true, Format: bench.FmtBytes}, l.Name, heap)
			r.tab.Add(bench.Metric{Workload: w, Name: "goroutines/client", Lower: true, Format: bench.FmtCount}, l.Name, gor)
			logf("broadcast %s round %d: %v, %.0f deliveries/s, heap %.0f B/client, RSS %.0f B/client, %.2f goroutines/client", l.Name, round+1, d, deliveries/d.Seconds(), heap, rss, gor)
		}
		logf("broadcast round %d/%d", round+1, r.cfg.bcastRounds)
	}
	return nil
}

func (r *runner) broadcast() error {
	if r.cfg.bcastConns > 2000 {
		return r.remoteBroadcast()
	}
	rigs := map[string]*bench.BroadcastRig{}
	defer func() {
		for _, g := range rigs {
			g.Close()
		}
	}()
	for _, l := range r.libs {
		g, err := bench.NewBroadcastRig(l, r.cfg.bcastConns, r.cfg.bcastMsgs, 1<<10)
		if err != nil {
			return err
		}
		rigs[l.Name] = g
		if _, err := g.Round(time.Minute); err != nil { // warm-up
			return err
		}
	}
	w := fmt.Sprintf("broadcast 1 KiB ×%d msgs → %d", r.cfg.bcastMsgs, r.cfg.bcastConns)
	for round := range r.cfg.bcastRounds {
		for _, l := range r.order(round) {
			d, err := rigs[l.Name].Round(time.Minute)
			if err != nil {
				return err
			}
			deliveries := float64(r.cfg.bcastMsgs * r.cfg.bcastConns)
			r.tab.Add(bench.Metric{Workload: w, Name: "time", Lower: true, Summary: true, Format: bench.FmtNs}, l.Name, float64(d))
			r.tab.Add(bench.Metric{Workload: w, Name: "deliveries/s", Format: bench.FmtRate}, l.Name, deliveries/d.Seconds())
			logf("broadcast %s round %d: %v, %.0f deliveries/s", l.Name, round+1, d, deliveries/d.Seconds())
		}
		logf("broadcast round %d/%d", round+1, r.cfg.bcastRounds)
	}
	return nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wsbench: "+format+"\n", args...)
}

func fatalf(format string, args ...any) {
	logf(format, args...)
	os.Exit(1)
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// scale runs the scale workload (benchmarks/scale.go) for each library, a
// server child each time, at each connection count in list.
func (r *runner) scale(list string, d time.Duration) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	for i, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		echo := time.Duration(0)
		if i == 0 {
			echo = d
		}
		for _, l := range r.order(i) {
			m, err := bench.MeasureScale(exe, []string{"-serve", l.Name}, n, echo, echo)
			if err != nil {
				return fmt.Errorf("%s ×%d: %w", l.Name, n, err)
			}
			w := fmt.Sprintf("idle ×%d", n)
			r.tab.Add(bench.Metric{Workload: w, Name: "RSS/conn", Lower: true, Summary: true, Format: bench.FmtBytes}, l.Name, m.Idle.RSSPerConn)
			r.tab.Add(bench.Metric{Workload: w, Name: "heap/conn", Lower: true, Format: bench.FmtBytes}, l.Name, m.Idle.HeapPerConn)
			r.tab.Add(bench.Metric{Workload: w, Name: "stack/conn", Lower: true, Format: bench.FmtBytes}, l.Name, m.Idle.StackPerConn)
			r.tab.Add(bench.Metric{Workload: w, Name: "goroutines/conn", Lower: true, Format: bench.FmtCount}, l.Name, float64(m.Idle.GoroutinesAdded)/float64(n))
			r.tab.Add(bench.Metric{Workload: w, Name: "kernel slab/socket", Lower: true, Format: bench.FmtBytes}, l.Name, m.SlabPerSocket)
			if echo > 0 {
				w := fmt.Sprintf("echo 1 KiB, 1%% of ×%d active", n)
				r.tab.Add(bench.Metric{Workload: w, Name: "msgs/s", Summary: true, Format: bench.FmtRate}, l.Name, m.EchoMsgsPerS)
				r.tab.Add(bench.Metric{Workload: w, Name: "p50", Lower: true, Format: bench.FmtNs}, l.Name, float64(m.EchoP50))
				r.tab.Add(bench.Metric{Workload: w, Name: "p99", Lower: true, Summary: true, Format: bench.FmtNs}, l.Name, float64(m.EchoP99))
				r.tab.Add(bench.Metric{Workload: w, Name: "RSS/conn after", Lower: true, Summary: true, Format: bench.FmtBytes}, l.Name, m.RSSAfterEcho)
				r.tab.Add(bench.Metric{Workload: "churn (connect, echo, close; 32 at a time)", Name: "conns/s", Summary: true, Format: bench.FmtRate}, l.Name, m.ChurnConnsPer)
			}
			logf("scale ×%d %s: %.0f B/conn RSS", n, l.Name, m.Idle.RSSPerConn)
		}
	}
	return nil
}
