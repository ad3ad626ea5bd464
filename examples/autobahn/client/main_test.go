package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/fullduplex/websocket/internal/testtime"
)

// fakeSuite plays the suite's fuzzingserver: three cases, each sending a few
// messages and checking that every one comes back unchanged.
type fakeSuite struct {
	mu      sync.Mutex
	passed  map[int]bool
	reports []string
	t       *testing.T
}

var fakeCases = [][]struct {
	op      websocket.Opcode
	payload []byte
	frags   int // > 1: sent through NextWriter in that many writes
}{
	1: {{websocket.OpText, []byte("Hello, testee"), 1}, {websocket.OpBinary, []byte{0, 1, 2, 0xff}, 1}},
	2: {{websocket.OpText, bytes.Repeat([]byte("κόσμε"), 20000), 5}, {websocket.OpBinary, nil, 1}},
	3: {{websocket.OpBinary, bytes.Repeat([]byte{0xaa}, 1<<20), 1}},
}

func (s *fakeSuite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{ReadLimit: 64 << 20})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(testtime.Scaled(20 * time.Second)))
	switch r.URL.Path {
	case "/getCaseCount":
		c.WriteMessage(websocket.OpText, []byte(strconv.Itoa(len(fakeCases)-1)))
		c.Close(websocket.StatusNormalClosure, "")
	case "/runCase":
		n, _ := strconv.Atoi(r.URL.Query().Get("case"))
		if n < 1 || n >= len(fakeCases) || r.URL.Query().Get("agent") != "tester" {
			c.Close(websocket.StatusPolicyViolation, "bad query "+r.URL.RawQuery)
			return
		}
		ok := true
		for _, m := range fakeCases[n] {
			w, _ := c.NextWriter(m.op)
			step := max(1, len(m.payload)/m.frags)
			for p := m.payload; len(p) > 0; p = p[min(step, len(p)):] {
				w.Write(p[:min(step, len(p))])
			}
			if err := w.Close(); err != nil {
				ok = false
				break
			}
			op, got, err := c.ReadMessage()
			if err != nil || op != m.op || !bytes.Equal(got, m.payload) {
				s.t.Errorf("case %d: echo %v %d B, %v; want %v %d B", n, op, len(got), err, m.op, len(m.payload))
				ok = false
				break
			}
		}
		// Recorded before Close: the testee goes on to the next case once
		// Close has ended the connection, and the test may look at passed
		// as soon as the testee is done.
		s.mu.Lock()
		s.passed[n] = ok
		s.mu.Unlock()
		c.Close(websocket.StatusNormalClosure, "")
	case "/updateReports":
		s.mu.Lock()
		s.reports = append(s.reports, r.URL.Query().Get("agent"))
		s.mu.Unlock()
		c.Close(websocket.StatusNormalClosure, "")
	default:
		c.Close(websocket.StatusPolicyViolation, "unknown path")
	}
}

func TestClientTesteeRunsEveryCase(t *testing.T) {
	suite := &fakeSuite{passed: map[int]bool{}, t: t}
	srv := httptest.NewServer(suite)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testtime.Scaled(60*time.Second))
	defer cancel()
	var log strings.Builder
	logf := func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) }
	if err := run(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), "tester", logf); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	suite.mu.Lock()
	defer suite.mu.Unlock()
	for n := 1; n < len(fakeCases); n++ {
		if !suite.passed[n] {
			t.Errorf("case %d did not pass (ran: %v)", n, suite.passed)
		}
	}
	if len(suite.reports) != 1 || suite.reports[0] != "tester" {
		t.Errorf("updateReports calls: %q, want one for agent tester", suite.reports)
	}
}
