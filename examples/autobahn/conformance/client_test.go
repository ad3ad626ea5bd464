package conformance

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ---- Client role: the harness is the suite's fuzzingserver.

const agent = "fullduplex-conformance"

// fuzzingServer serves the suite's three endpoints to the client testee:
// /getCaseCount, /runCase?case=N&agent=A and /updateReports?agent=A.
type fuzzingServer struct {
	cases []caseDef

	mu      sync.Mutex
	results map[string]result
	errs    []string
	counts  int
	reports []string
}

func (s *fuzzingServer) errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

// TestClientRole runs the catalogue against the client testee, or against
// the program at CONFORMANCE_CLIENT (which takes the testee's -url and
// -agent flags), to check the harness on other implementations.
func TestClientRole(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipping the conformance catalogue in -short mode")
	}
	bin := os.Getenv("CONFORMANCE_CLIENT")
	if bin == "" {
		bin = buildTestee(t, "client")
	}
	s := &fuzzingServer{cases: casesFor(clientRole), results: map[string]result{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: scaled(5 * time.Second)}
	go hs.Serve(ln)
	defer hs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out syncBuffer
	cmd := exec.CommandContext(ctx, bin, "-url", "ws://"+ln.Addr().String(), "-agent", agent)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()

	var ids []string
	for _, c := range s.cases {
		ids = append(ids, c.id)
		t.Run(c.id, func(t *testing.T) {
			s.mu.Lock()
			res, ok := s.results[c.id]
			s.mu.Unlock()
			if !ok {
				t.Errorf("the client never ran the case\n  case: %s", c.desc)
				return
			}
			report(t, c, res)
		})
	}
	summarize(t, clientRole, ids, s.results)

	if runErr != nil {
		t.Errorf("client testee: %v\noutput (last 4000 bytes):\n%s", runErr, tail(out.String(), 4000))
	}
	checkTesteeOutput(t, "client", out.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.errs {
		t.Error(e)
	}
	if s.counts != 1 {
		t.Errorf("getCaseCount called %d times, want 1", s.counts)
	}
	if len(s.reports) != 1 || s.reports[0] != agent {
		t.Errorf("updateReports calls for agents %q, want one for %q", s.reports, agent)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (s *fuzzingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, err := checkClientRequest(r)
	if err != nil {
		s.errorf("%s: client's opening handshake: %v", r.URL, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/getCaseCount":
		s.mu.Lock()
		s.counts++
		s.mu.Unlock()
		p, err := acceptConn(w, key, "", nil, time.Now().Add(scaled(defaultCaseTimeout)))
		if err != nil {
			s.errorf("getCaseCount: %v", err)
			return
		}
		n := strconv.Itoa(len(s.cases))
		res := play(caseDef{id: "getCaseCount", run: func(p *peer) {
			p.send(fr{op: opText, data: b(n)})
			p.closeHandshake(1000, "")
		}}, p)
		if res.status != statusOK {
			s.errorf("getCaseCount: %s", res.msg)
		}
	case "/runCase":
		n, err := strconv.Atoi(q.Get("case"))
		if err != nil || n < 1 || n > len(s.cases) {
			s.errorf("runCase with case=%q", q.Get("case"))
			http.Error(w, "no such case", http.StatusNotFound)
			return
		}
		if a := q.Get("agent"); a != agent {
			s.errorf("runCase %d: agent %q, want %q", n, a, agent)
		}
		c := s.cases[n-1]
		res := s.runCase(w, r, key, c)
		s.mu.Lock()
		s.results[c.id] = res
		s.mu.Unlock()
	case "/updateReports":
		s.mu.Lock()
		s.reports = append(s.reports, q.Get("agent"))
		s.mu.Unlock()
		p, err := acceptConn(w, key, "", nil, time.Now().Add(scaled(defaultCaseTimeout)))
		if err != nil {
			s.errorf("updateReports: %v", err)
			return
		}
		if res := play(caseDef{id: "updateReports", run: func(p *peer) { p.closeHandshake(1000, "") }}, p); res.status != statusOK {
			s.errorf("updateReports: %s", res.msg)
		}
	default:
		s.errorf("request for %s", r.URL)
		http.NotFound(w, r)
	}
}

func (s *fuzzingServer) runCase(w http.ResponseWriter, r *http.Request, key string, c caseDef) result {
	deadline := time.Now().Add(scaled(cmp(c.timeout, defaultCaseTimeout)))
	var offers []pmdParams
	exts, err := parseExtensions(r.Header.Values("Sec-WebSocket-Extensions"))
	if err != nil {
		return result{status: statusFailed, msg: fmt.Sprintf("client's Sec-WebSocket-Extensions: %v", err)}
	}
	for _, e := range exts {
		if !strings.EqualFold(e.name, "permessage-deflate") {
			continue
		}
		o, err := parsePMD(e, true)
		if err != nil {
			return result{status: statusFailed, msg: fmt.Sprintf("client's permessage-deflate offer: %v", err)}
		}
		offers = append(offers, o)
	}
	var resp string
	var st *pmdState
	declined := false
	if c.pmd != nil {
		if a, ok := c.pmd.accept(offers); ok {
			resp, st = a.String(), newPMDState(a, false)
		} else {
			declined = true
		}
	}
	p, err := acceptConn(w, key, resp, st, deadline)
	if err != nil {
		return result{status: statusFailed, msg: err.Error()}
	}
	if declined {
		// The suite's onOpen: no compression agreed, so close at once.
		res := play(caseDef{id: c.id, run: func(p *peer) { p.closeHandshake(1000, "") }}, p)
		if res.status == statusOK {
			res = result{status: statusUnimplemented, msg: fmt.Sprintf("the suite's server cannot accept the client's offers %v", offers)}
		}
		return res
	}
	return play(c, p)
}

// checkClientRequest checks a client's opening handshake (RFC 6455 §4.1,
// §4.2.1) and returns its key.
func checkClientRequest(r *http.Request) (string, error) {
	h := r.Header
	switch {
	case r.Method != http.MethodGet:
		return "", fmt.Errorf("method %s", r.Method)
	case !r.ProtoAtLeast(1, 1):
		return "", fmt.Errorf("protocol %s", r.Proto)
	case r.Host == "":
		return "", errors.New("no Host")
	case !hasToken(h.Values("Upgrade"), "websocket"):
		return "", fmt.Errorf("Upgrade %q", h.Values("Upgrade"))
	case !hasToken(h.Values("Connection"), "upgrade"):
		return "", fmt.Errorf("Connection %q", h.Values("Connection"))
	case len(h.Values("Sec-WebSocket-Version")) != 1 || h.Get("Sec-WebSocket-Version") != "13":
		return "", fmt.Errorf("Sec-WebSocket-Version %q", h.Values("Sec-WebSocket-Version"))
	case len(h.Values("Sec-WebSocket-Key")) != 1:
		return "", fmt.Errorf("Sec-WebSocket-Key %q", h.Values("Sec-WebSocket-Key"))
	}
	key := h.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return "", fmt.Errorf("Sec-WebSocket-Key %q is not 16 bytes in base64", key)
	}
	return key, nil
}

// acceptConn answers the handshake with 101 (RFC 6455 §4.2.2) and takes the
// connection over.
func acceptConn(w http.ResponseWriter, key, ext string, st *pmdState, deadline time.Time) (*peer, error) {
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, err
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nServer: AutobahnTestSuite stand-in\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n"
	if ext != "" {
		resp += "Sec-WebSocket-Extensions: " + ext + "\r\n"
	}
	nc.SetDeadline(deadline)
	if _, err := nc.Write([]byte(resp + "\r\n")); err != nil {
		nc.Close()
		return nil, err
	}
	return newPeer(clientRole, nc, brw.Reader, st, deadline), nil
}
