// Command clusterbench measures the fan-out of the cluster example: one
// room, N node processes behind one redis-server, and thousands of
// WebSocket clients in this process. A few clients publish at a fixed total
// rate; every client records, for every message, the time from its
// publication to its delivery.
//
//	go run ./cmd/clusterbench                      # 3 nodes x 1000, then 1 node x 3000
//	go run ./cmd/clusterbench -rate 50 -duration 20s
//	go run ./cmd/clusterbench -nodes 1 -clients 1500 -profile /tmp/prof   # and a CPU profile of the node
//
// It builds the node (go build) and starts redis-server itself. Besides
// messages per second delivered and the latency percentiles it reports the
// CPU time each process took per 1,000 deliveries, and the latency of Redis
// alone (XADD to XREAD BLOCK wake-up, on a separate stream, under the same
// load): where the time goes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

var (
	clients    = flag.Int("clients", 3000, "WebSocket clients in all")
	setups     = flag.String("nodes", "3,1", "node counts to measure, in turn")
	rate       = flag.Int("rate", 100, "messages published per second, in all")
	publishers = flag.Int("publishers", 30, "clients that publish (spread over the nodes)")
	size       = flag.Int("size", 64, "bytes of text per message")
	duration   = flag.Duration("duration", 10*time.Second, "measurement time")
	warmup     = flag.Duration("warmup", 3*time.Second, "time to let presence settle after connecting, not measured")
	profile    = flag.String("profile", "", "if set, write a CPU profile of the first node during each measurement into this folder")
)

// quiet drops the Redis client's own log lines: its connection retries while
// redis-server stops between setups are expected.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func main() {
	flag.Parse()
	log.SetFlags(0)
	redis.SetLogger(quiet{})
	dir, err := os.MkdirTemp("", "clusterbench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "node")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/fullduplex/websocket/examples/cluster").CombinedOutput(); err != nil {
		log.Fatalf("go build of the node: %v\n%s", err, out)
	}
	fmt.Printf("%d clients, %d publishers, %d msg/s of %d B, %v measured after %v warm-up, GOMAXPROCS %s, %d CPUs\n\n",
		*clients, *publishers, *rate, *size, *duration, *warmup, os.Getenv("GOMAXPROCS"), numCPU())
	fmt.Printf("%-16s %12s %11s %9s %9s %9s %8s | %-28s | %-22s | %5s | %s\n",
		"setup", "delivered/s", "of offered", "p50 ms", "p99 ms", "max ms", "lost", "CPU ms/1000 redis nodes clnt", "redis alone p50/p99 ms", "load", "dropped")
	for _, s := range strings.Split(*setups, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("bad -nodes %q", *setups)
		}
		r, err := run(dir, bin, n)
		if err != nil {
			log.Fatal(err)
		}
		label := fmt.Sprintf("%d node(s) x %d", n, *clients/n)
		fmt.Printf("%-16s %12.0f %10.1f%% %9.2f %9.2f %9.2f %8d | %16.1f %5.1f %5.1f | %9.2f / %-10.2f | %5s | %d\n",
			label, r.perSec, 100*r.perSec/float64(*rate**clients), ms(r.p50), ms(r.p99), ms(r.max), r.lost,
			r.cpuRedis, r.cpuNodes, r.cpuClients, ms(r.redisP50), ms(r.redisP99), r.load, r.dropped)
	}
}

// drops counts the clients the nodes dropped as too slow, in this run.
var drops atomic.Int64

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

type result struct {
	perSec                         float64
	p50, p99, max                  time.Duration
	lost                           int64
	cpuRedis, cpuNodes, cpuClients float64 // ms per 1,000 deliveries
	redisP50, redisP99             time.Duration
	load                           string
	dropped                        int64 // clients the nodes dropped as too slow
}

// loadavg is the machine's 1-minute load average: on a shared machine, how
// many others wanted the CPU meanwhile.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// run measures one setup: n nodes sharing the clients evenly.
func run(dir, bin string, n int) (result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	drops.Store(0)

	redisAddr, redisProc, err := startRedis(dir)
	if err != nil {
		return result{}, err
	}
	defer func() { redisProc.Process.Kill(); redisProc.Wait() }()

	var nodes []*exec.Cmd
	var addrs []string
	defer func() {
		for _, p := range nodes {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}()
	pprofAddr := ""
	for i := range n {
		var extra []string
		if i == 0 && *profile != "" {
			pprofAddr = freeAddr()
			extra = []string{"-pprof", pprofAddr}
		}
		p, addr, err := startNode(bin, redisAddr, "n"+strconv.Itoa(i), extra...)
		if err != nil {
			return result{}, err
		}
		nodes = append(nodes, p)
		addrs = append(addrs, addr)
	}

	// Connect every client, 64 at a time.
	cs := make([]*benchClient, *clients)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var dialErr atomic.Value
	for i := range cs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			url := "ws://" + addrs[i%n] + "/ws?name=c" + strconv.Itoa(i)
			conn, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				dialErr.Store(err)
				return
			}
			cs[i] = &benchClient{conn: conn}
		})
	}
	wg.Wait()
	if err, _ := dialErr.Load().(error); err != nil {
		return result{}, fmt.Errorf("dial: %w", err)
	}
	var measuring atomic.Bool
	var readers sync.WaitGroup
	for _, c := range cs {
		readers.Go(func() { c.read(&measuring) })
	}
	time.Sleep(*warmup)

	probe := startProbe(ctx, redisAddr, &measuring)
	pids := []int{redisProc.Process.Pid}
	for _, p := range nodes {
		pids = append(pids, p.Process.Pid)
	}
	before := cpuTimes(append(pids, os.Getpid()))

	profiled := make(chan struct{})
	if pprofAddr != "" {
		go func() {
			defer close(profiled)
			secs := strconv.Itoa(int(duration.Seconds()))
			path := filepath.Join(*profile, fmt.Sprintf("node-%dx%d.pprof", n, *clients/n))
			if err := fetch("http://"+pprofAddr+"/debug/pprof/profile?seconds="+secs, path); err != nil {
				log.Printf("profile: %v", err)
			}
		}()
	} else {
		close(profiled)
	}

	// Publish: each publisher its share of the rate, at even intervals.
	var sent atomic.Int64
	measuring.Store(true)
	start := time.Now()
	pctx, pstop := context.WithTimeout(ctx, *duration)
	var pubs sync.WaitGroup
	pad := strings.Repeat("x", max(0, *size-40))
	for p := range *publishers {
		c := cs[p*len(cs)/(*publishers)]
		pubs.Go(func() {
			every := time.Duration(float64(time.Second) * float64(*publishers) / float64(*rate))
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-pctx.Done():
					return
				case <-t.C:
				}
				msg := `{"type":"message","text":"` + strconv.FormatInt(time.Now().UnixNano(), 10) + " " + pad + `"}`
				if c.conn.WriteMessage(websocket.OpText, []byte(msg)) == nil {
					sent.Add(1)
				}
			}
		})
	}
	pubs.Wait()
	pstop()
	<-profiled
	// Let what was published arrive: until every client has every message,
	// or nothing more arrives for 2 seconds.
	want := sent.Load() * int64(len(cs))
	for got, still := int64(-1), 0; still < 20; {
		n := deliveredSoFar(cs)
		if n >= want {
			break
		}
		if n == got {
			still++
		} else {
			got, still = n, 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	measuring.Store(false)
	elapsed := lastDelivery(cs).Sub(start)
	after := cpuTimes(append(pids, os.Getpid()))

	var lat []time.Duration
	var delivered int64
	for _, c := range cs {
		c.mu.Lock()
		lat = append(lat, c.lat...)
		c.mu.Unlock()
	}
	delivered = int64(len(lat))
	slices.Sort(lat)
	r := result{perSec: float64(delivered) / elapsed.Seconds(), lost: want - delivered, load: loadavg(), dropped: drops.Load()}
	if len(lat) > 0 {
		r.p50, r.p99, r.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(delivered) * 1000 }
	r.cpuRedis = per(after[0] - before[0])
	for i := range nodes {
		r.cpuNodes += per(after[1+i] - before[1+i])
	}
	r.cpuClients = per(after[len(after)-1] - before[len(before)-1])
	r.redisP50, r.redisP99 = probe()

	cancel()
	for _, c := range cs {
		c.conn.CloseNow()
	}
	readers.Wait()
	return r, nil
}

// benchClient is one client: it keeps the latency of every message it gets
// while measuring.
type benchClient struct {
	conn *websocket.Conn
	mu   sync.Mutex
	lat  []time.Duration
	last time.Time // of the last message measured
}

func deliveredSoFar(cs []*benchClient) int64 {
	var n int64
	for _, c := range cs {
		c.mu.Lock()
		n += int64(len(c.lat))
		c.mu.Unlock()
	}
	return n
}

func lastDelivery(cs []*benchClient) time.Time {
	var t time.Time
	for _, c := range cs {
		c.mu.Lock()
		if c.last.After(t) {
			t = c.last
		}
		c.mu.Unlock()
	}
	return t
}

func (c *benchClient) read(measuring *atomic.Bool) {
	key := []byte(`"text":"`)
	var buf []byte
	for {
		_, p, err := c.conn.AppendMessage(buf[:0])
		if err != nil {
			return
		}
		buf = p
		now := time.Now().UnixNano()
		if !measuring.Load() || !bytes.Contains(p, []byte(`"type":"message"`)) {
			continue
		}
		i := bytes.Index(p, key)
		if i < 0 {
			continue
		}
		rest := p[i+len(key):]
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			continue
		}
		sent, err := strconv.ParseInt(string(rest[:j]), 10, 64)
		if err != nil {
			continue
		}
		c.mu.Lock()
		c.lat = append(c.lat, time.Duration(now-sent))
		c.last = time.Unix(0, now)
		c.mu.Unlock()
	}
}

// startProbe measures Redis alone while the benchmark runs: XADD to a
// stream of its own, 20 times a second, and the wake-up of an XREAD BLOCK
// on it. The returned func stops it and gives p50 and p99.
func startProbe(ctx context.Context, addr string, measuring *atomic.Bool) func() (time.Duration, time.Duration) {
	opts := func() *redis.Options {
		return &redis.Options{Addr: addr, MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}}
	}
	w, rd := redis.NewClient(opts()), redis.NewClient(opts())
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	wg.Go(func() {
		last := "$"
		for ctx.Err() == nil {
			res, err := rd.XRead(ctx, &redis.XReadArgs{Streams: []string{"probe", last}, Block: time.Second}).Result()
			now := time.Now().UnixNano()
			if err != nil {
				continue
			}
			for _, m := range res[0].Messages {
				last = m.ID
				sent, _ := strconv.ParseInt(m.Values["t"].(string), 10, 64)
				mu.Lock()
				lat = append(lat, time.Duration(now-sent))
				mu.Unlock()
			}
		}
	})
	wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.XAdd(ctx, &redis.XAddArgs{Stream: "probe", MaxLen: 1000, Approx: true, Values: []any{"t", time.Now().UnixNano()}})
			}
		}
	})
	return func() (time.Duration, time.Duration) {
		cancel()
		rd.Close() // ends a blocked XREAD
		wg.Wait()
		w.Close()
		slices.Sort(lat)
		if len(lat) == 0 {
			return 0, 0
		}
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}
}

func startRedis(dir string) (string, *exec.Cmd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("redis-server: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if rdb.Ping(context.Background()).Err() == nil {
			return addr, cmd, nil
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return "", nil, fmt.Errorf("redis-server on %s not answering", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startNode starts a node and returns it once it serves. Its queue is deep
// and its backlog empty, so what is measured is the fan-out.
func startNode(bin, redisAddr, name string, extra ...string) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-redis", redisAddr, "-room", "bench", "-name", name,
		"-queue", "4096", "-backlog", "0"}, extra...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			if _, rest, ok := strings.Cut(line, "serving on http://"); ok {
				addr, _, _ := strings.Cut(rest, " ")
				ready <- addr
				continue
			}
			if strings.Contains(line, "too slow") {
				drops.Add(1)
			}
		}
	}()
	select {
	case addr := <-ready:
		return cmd, addr, nil
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("node %s not serving", name)
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fetch writes what url answers to path.
func fetch(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// cpuTimes returns the user+system CPU time of each process so far.
func cpuTimes(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and
		// may hold spaces: utime and stime are the 12th and 13th.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[i] = time.Duration(u+s) * time.Second / 100 // USER_HZ
	}
	return out
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return bytes.Count(b, []byte("\nprocessor")) + boolInt(bytes.HasPrefix(b, []byte("processor")))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
