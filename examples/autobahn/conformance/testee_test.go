package conformance

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The testees are built with the race detector when the tests run under it
// (raceEnabled), so that the conformance cases also look for races in the
// library.

const modulePath = "github.com/fullduplex/websocket/examples/autobahn/"

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "autobahn-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var builds sync.Map // testee name -> func() (string, error)

// buildTestee builds ../name into the temporary directory, once per run.
func buildTestee(t *testing.T, name string) string {
	t.Helper()
	f, _ := builds.LoadOrStore(name, sync.OnceValues(func() (string, error) {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		// go test caches this package's result by what its binary reads,
		// and the testee's build is outside that: reading the testee's
		// sources, the library's among them, makes them part of the key,
		// so that a change to the library runs the cases again.
		list := exec.Command(goBin, "list", "-deps", "-f",
			`{{if not .Standard}}{{range .GoFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}{{end}}`, modulePath+name)
		files, err := list.Output()
		if err != nil {
			return "", fmt.Errorf("go list %s: %v", name, err)
		}
		for _, f := range strings.Fields(string(files)) {
			if _, err := os.ReadFile(f); err != nil {
				return "", err
			}
		}
		out := filepath.Join(binDir, name)
		args := []string{"build", "-o", out}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command(goBin, append(args, modulePath+name)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", name, err, msg)
		}
		return out, nil
	}))
	bin, err := f.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// syncBuffer collects a testee's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// checkTesteeOutput fails t on a race report or a panic in a testee's output.
func checkTesteeOutput(t *testing.T, name, out string) {
	t.Helper()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "http: panic serving", "fatal error:"} {
		if i := strings.Index(out, bad); i >= 0 {
			t.Errorf("%s testee output has %q:\n%s", name, bad, out[i:min(len(out), i+4000)])
		}
	}
}

// startServer builds and starts the server testee on a free port of
// 127.0.0.1 and returns its address once it accepts connections.
func startServer(t *testing.T) string {
	t.Helper()
	bin := buildTestee(t, "server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out syncBuffer
	cmd := exec.Command(bin, "-addr", addr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		checkTesteeOutput(t, "server", out.String())
	})
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, scaled(time.Second))
		if err == nil {
			c.Close()
			return addr
		}
		if time.Since(start) > scaled(10*time.Second) {
			t.Fatalf("server testee does not listen on %s: %v\n%s", addr, err, out.String())
		}
	}
}
