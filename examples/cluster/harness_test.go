package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fullduplex/websocket/internal/testtime"
)

// The tests run the node as real processes, as it is deployed: one node can
// then be killed with SIGKILL, and each has its own fds and scheduler.
// TestMain builds it once.
var (
	nodeBin   string // the node executable, built by TestMain
	buildErr  error
	redisBin  string // redis-server, or "" if it is not installed
	redisSkip string // why the Redis tests cannot run
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cluster-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if redisBin, err = exec.LookPath("redis-server"); err != nil {
		redisSkip = "redis-server not installed (on Debian: apt-get install redis-server)"
	} else {
		nodeBin = filepath.Join(dir, "node")
		args := []string{"build", "-o", nodeBin}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build of the node: %v\n%s", err, out)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needRedis skips t when redis-server is missing, except under CI (CI=true),
// where these tests must run and a missing server fails them.
func needRedis(t *testing.T) {
	t.Helper()
	if redisSkip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI must run the cluster tests", redisSkip)
		}
		t.Skipf("skipping: %s", redisSkip)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// redisServer is a redis-server started by a test, on a loopback port of its
// own, with its files in a temporary directory.
type redisServer struct {
	t       *testing.T
	addr    string
	dir     string
	persist bool
	extra   []string
	cmd     *exec.Cmd
	log     bytes.Buffer
}

// startRedis starts a Redis server for t and stops it when t ends. With
// persist, every write is in its append-only file before Redis answers, so
// a restart (even after SIGKILL) finds every entry again.
// extra are more redis-server arguments.
func startRedis(t *testing.T, persist bool, extra ...string) *redisServer {
	t.Helper()
	needRedis(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &redisServer{t: t, addr: addr, dir: t.TempDir(), persist: persist, extra: extra}
	r.start()
	t.Cleanup(func() { r.kill() })
	return r
}

func (r *redisServer) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	args := []string{"--port", port, "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"}
	if r.persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	r.cmd = exec.Command(redisBin, append(args, r.extra...)...)
	r.cmd.Stdout = &r.log
	r.cmd.Stderr = &r.log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(testtime.Scaled(10 * time.Second))
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.kill()
			r.t.Fatalf("redis-server on %s not answering: %v\n%s", r.addr, err, r.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the server with SIGKILL, as a crash would.
func (r *redisServer) kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// client returns a Redis client for the test's own look at the data.
func (r *redisServer) client(t *testing.T) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: r.addr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// nodeProc is a node process started by a test.
type nodeProc struct {
	t    *testing.T
	name string
	addr string // host:port it serves on
	cmd  *exec.Cmd

	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
}

// startNode starts a node of room "test" named name on a free loopback port,
// with extra flags, and stops it (SIGTERM) when t ends.
func startNode(t *testing.T, redisAddr, name string, extra ...string) *nodeProc {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-redis", redisAddr, "-room", "test", "-name", name}, extra...)
	p := &nodeProc{t: t, name: name, cmd: exec.Command(nodeBin, args...), exited: make(chan struct{})}
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			if _, rest, ok := strings.Cut(line, "serving on http://"); ok {
				addr, _, _ := strings.Cut(rest, " ")
				select {
				case ready <- addr:
				default:
				}
			}
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.addr = <-ready:
	case <-p.exited:
		t.Fatalf("node %s exited before serving:\n%s", name, p.log())
	case <-time.After(testtime.Scaled(20 * time.Second)):
		p.cmd.Process.Kill()
		t.Fatalf("node %s not serving after 20s:\n%s", name, p.log())
	}
	t.Cleanup(func() { p.stop() })
	return p
}

func (p *nodeProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// url returns the node's WebSocket URL for name, resuming after last if
// last is not empty.
func (p *nodeProc) url(name, last string) string {
	u := "ws://" + p.addr + "/ws?name=" + name
	if last != "" {
		u += "&last=" + last
	}
	return u
}

// kill ends the node with SIGKILL: no close frames, no presence cleanup.
func (p *nodeProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// stop ends the node as an operator would (SIGTERM) and checks that it
// exits cleanly and, under -race, without a race report.
func (p *nodeProc) stop() {
	p.t.Helper()
	select {
	case <-p.exited:
		return // killed by the test
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(testtime.Scaled(15 * time.Second)):
		p.cmd.Process.Kill()
		<-p.exited
		p.t.Errorf("node %s still running 15s after SIGTERM:\n%s", p.name, p.log())
		return
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Errorf("node %s exited with %d:\n%s", p.name, code, p.log())
	}
	if strings.Contains(p.log(), "DATA RACE") {
		p.t.Errorf("node %s reports a data race:\n%s", p.name, p.log())
	}
}

// streamIDs returns the IDs of every entry of the room's Stream, read by the
// test itself from Redis.
func streamIDs(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(5*time.Second))
	defer cancel()
	msgs, err := rdb.XRange(ctx, "fullduplex:chat:{test}:messages", "-", "+").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

func itoa(i int) string { return strconv.Itoa(i) }
