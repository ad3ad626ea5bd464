package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fullduplex/websocket/internal/testtime"
)

// peer is an independent WebSocket implementation driven through the scripts
// in peers/.
type peer struct {
	name    string
	install string // how to get it, for the skip message
	prog    string
	server  string // script playing the server
	client  string // script playing the client

	once sync.Once
	err  error // why the peer cannot run, found once
}

// pythonPath is Debian's interpreter, for which python3-websockets installs;
// the python3 first on PATH may be another one without the package.
func pythonPath() string {
	if p := os.Getenv("FULLDUPLEX_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

var peers = []*peer{
	{
		name:    "node-ws",
		install: "run `npm ci` in interop/ (needs node and npm)",
		prog:    "node",
		server:  "peers/ws_server.js",
		client:  "peers/ws_client.js",
	},
	{
		name:    "python-websockets",
		install: "apt-get install python3-websockets",
		prog:    pythonPath(),
		server:  "peers/py_server.py",
		client:  "peers/py_client.py",
	},
}

// probe reports why p cannot run, or nil.
func (p *peer) probe() error {
	p.once.Do(func() {
		if _, err := exec.LookPath(p.prog); err != nil {
			p.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(20*time.Second))
		defer cancel()
		var check *exec.Cmd
		switch p.prog {
		case "node":
			check = exec.CommandContext(ctx, p.prog, "-e", `const v = require("ws/package.json").version; if (!/^8\./.test(v)) { console.error("ws " + v + ", want 8.x"); process.exit(1) }`)
		default:
			check = exec.CommandContext(ctx, p.prog, "-c", `import sys, websockets; v = websockets.__version__; sys.exit(0 if int(v.split(".")[0]) >= 10 else "websockets " + v + ", want >= 10")`)
		}
		if out, err := check.CombinedOutput(); err != nil {
			p.err = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
		}
	})
	return p.err
}

// requirePeer stops the test when p cannot run: a skip with the reason on a
// developer's machine, a failure in CI, where .ci/run installs every peer.
func requirePeer(t *testing.T, p *peer) {
	t.Helper()
	err := p.probe()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("peer %s unavailable in CI (%s): %v", p.name, p.install, err)
	}
	t.Skipf("peer %s unavailable, skipping (%s): %v", p.name, p.install, err)
}

// forEachPeer runs f as a subtest for each peer that can run.
func forEachPeer(t *testing.T, f func(t *testing.T, p *peer)) {
	t.Helper()
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			requirePeer(t, p)
			f(t, p)
		})
	}
}

// lockedBuffer collects a child's stderr for the log of a failed test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil // bounded: a runaway peer must not eat the memory
	}
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// peerServer is a running peer server process.
type peerServer struct {
	url string // ws://127.0.0.1:port

	mu     sync.Mutex
	events map[string]chan []string
	nextID atomic.Int64
}

// serverConfig is the JSON config of ws_server.js and py_server.py.
type serverConfig struct {
	Compress     bool           `json:"compress"`
	Deflate      *deflateConfig `json:"deflate,omitempty"`
	Subprotocols []string       `json:"subprotocols,omitempty"`
}

// startPeerServer starts p's server script and returns once it listens. The
// process is killed and reaped when the test ends.
func startPeerServer(t *testing.T, p *peer, cfg serverConfig) *peerServer {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, p.prog, p.server, string(js))
	cmd.WaitDelay = 5 * time.Second
	stderr := new(lockedBuffer)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s server: %v", p.name, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait() // killed: the exit status says nothing
		if t.Failed() {
			if s := stderr.String(); s != "" {
				t.Logf("%s server stderr:\n%s", p.name, s)
			}
		}
	})

	s := &peerServer{events: make(map[string]chan []string)}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "PORT":
				port <- f[1]
			case len(f) >= 3 && f[0] == "EVENT":
				s.event(f[1]) <- f[2:]
			}
		}
	}()
	select {
	case pt := <-port:
		if _, err := strconv.Atoi(pt); err != nil {
			t.Fatalf("%s server printed port %q", p.name, pt)
		}
		s.url = "ws://127.0.0.1:" + pt
	case <-time.After(testtime.Scaled(20 * time.Second)):
		t.Fatalf("%s server did not print its port within %v; stderr:\n%s", p.name, testtime.Scaled(20*time.Second), stderr.String())
	}
	return s
}

// event returns the channel on which the EVENT lines of connection id arrive.
func (s *peerServer) event(id string) chan []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.events[id]
	if !ok {
		ch = make(chan []string, 4)
		s.events[id] = ch
	}
	return ch
}

// newID returns a fresh connection id for the id query parameter.
func (s *peerServer) newID() string {
	return "c" + strconv.FormatInt(s.nextID.Add(1), 10)
}

// waitEvent returns the next EVENT fields (kind, args...) of connection id.
func (s *peerServer) waitEvent(t *testing.T, id string) []string {
	t.Helper()
	select {
	case f := <-s.event(id):
		return f
	case <-time.After(testtime.Scaled(15 * time.Second)):
		t.Fatalf("no event from the peer server for connection %s within %v", id, testtime.Scaled(15*time.Second))
		return nil
	}
}

// runPeerClient runs p's client script with cfg (to which it adds url) and
// returns an error carrying its output if the script reports a mismatch.
func runPeerClient(t *testing.T, p *peer, url string, cfg map[string]any) error {
	t.Helper()
	cfg["url"] = url
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(150*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, p.prog, p.client, string(js))
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s client %s: %v\n%s", p.name, cfg["scenario"], err, out)
	}
	return nil
}

// The message sizes of the task: around the 7-bit/16-bit/64-bit length
// encodings of RFC 6455 §5.2, and one large message.
var messageSizes = []int{0, 125, 126, 65535, 65536, 4 << 20}

// randomPayload returns size random bytes; for text they are printable ASCII,
// so any prefix is valid UTF-8.
func randomPayload(text bool, size int) []byte {
	b := make([]byte, size)
	rand.Read(b)
	if text {
		for i := range b {
			b[i] = 0x20 + b[i]%95
		}
	}
	return b
}

// digest is the form in which the peers and the Go handlers describe a
// message they sent: "sha256:<hex> len:<n>".
func digest(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:]) + " len:" + strconv.Itoa(len(b))
}

// digestReader is digest for a stream.
func digestReader(r io.Reader) (string, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(h, r, make([]byte, 1000)) // odd size: crosses frame boundaries
	return "sha256:" + hex.EncodeToString(h.Sum(nil)) + " len:" + strconv.FormatInt(n, 10), err
}

// closeCases are the codes a peer may send in a Close frame (RFC 6455 §7.4.1
// and §7.4.2: 1004-1006 and 1015 are never sent, 1016-2999 are reserved for
// future RFCs), each with a reason; the longest reason fills the 123 bytes a
// control frame leaves after the code (§5.5).
var closeCases = []struct {
	code       int
	reason     string
	clientOnly bool // §7.4.1: 1010 is sent by a client whose extension the server refused
}{
	{1000, "", false},
	{1001, "going away ✓", false},
	{1002, "protocol error", false},
	{1003, "unsupported data", false},
	{1007, "invalid payload", false},
	{1008, "policy violation", false},
	{1009, "message too big", false},
	{1010, "extension required", true},
	{1011, "internal error", false},
	{1012, "service restart", false},
	{1013, "try again later", false},
	{1014, "bad gateway", false},
	{3000, "registered 3000", false},
	{3999, "registered 3999", false},
	{4000, "private 4000", false},
	{4999, strings.Repeat("é", 61) + "!", false},
}

// closeCodes returns the codes of closeCases and their reasons by code, less
// the client-only codes when the closing side is a server.
func closeCodes(closerIsClient bool) ([]int, map[string]string) {
	var codes []int
	reasons := make(map[string]string)
	for _, c := range closeCases {
		if c.clientOnly && !closerIsClient {
			continue
		}
		codes = append(codes, c.code)
		reasons[strconv.Itoa(c.code)] = c.reason
	}
	return codes, reasons
}

// hexReason decodes a reason as the peer servers print it: hex, or "-".
func hexReason(t *testing.T, s string) string {
	t.Helper()
	if s == "-" {
		return ""
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("peer printed reason %q: %v", s, err)
	}
	return string(b)
}
