package conformance

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// Outcomes, as the suite's reports name them.
const (
	statusOK            = "OK"
	statusFailed        = "FAILED"
	statusInformational = "INFORMATIONAL"
	statusUnimplemented = "UNIMPLEMENTED"
)

type result struct {
	status string
	msg    string // why it failed, or what an informational case showed
	notes  string
	wire   string // what crossed the wire, kept for failures
	dur    time.Duration
}

// play runs a case on an open connection and judges it.
func play(c caseDef, p *peer) (res result) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			cf, ok := r.(caseFailure)
			if !ok {
				panic(r)
			}
			res = result{status: statusFailed, msg: cf.msg}
		}
		if err := p.finish(); err != nil && res.status == statusOK {
			res = result{status: statusFailed, msg: err.Error()}
		}
		if res.status == statusOK && !p.finished {
			res = result{status: statusFailed, msg: "the case ended before the connection did"}
		}
		if c.info {
			if res.status == statusOK {
				res.msg = "behaved as a sequential implementation should"
			}
			res.status = statusInformational
		}
		res.notes = p.summary()
		if res.status == statusFailed {
			res.wire = strings.Join(p.trace, "\n        ")
		}
		res.dur = time.Since(start)
	}()
	c.run(p)
	return result{status: statusOK}
}

// report turns a result into the subtest's outcome. UNIMPLEMENTED (the suite
// declined or was declined permessage-deflate) is logged, not failed: the
// suite does not count it as a failure either.
func report(t *testing.T, c caseDef, res result) {
	t.Helper()
	notes := ""
	if res.notes != "" {
		notes = "\n  notes: " + res.notes
	}
	if res.wire != "" {
		notes += "\n  wire: " + res.wire
	}
	switch res.status {
	case statusOK:
		if res.notes != "" {
			t.Log(res.notes)
		}
	case statusFailed:
		t.Errorf("FAILED: %s\n  case: %s%s", res.msg, c.desc, notes)
	default:
		t.Logf("%s: %s\n  case: %s%s", res.status, res.msg, c.desc, notes)
	}
}

// summarize logs the tally of a role's results and the failed cases.
func summarize(t *testing.T, r role, ids []string, results map[string]result) {
	t.Helper()
	tally := map[string]int{}
	var failed, other []string
	var total time.Duration
	ran := 0
	for _, id := range ids {
		res, ok := results[id]
		if !ok {
			continue // left out by -run, or never asked for by the client (a failure of its own)
		}
		ran++
		tally[res.status]++
		total += res.dur
		switch res.status {
		case statusOK:
		case statusFailed:
			failed = append(failed, id)
		default:
			other = append(other, id+" ("+res.status+")")
		}
	}
	keys := make([]string, 0, len(tally))
	for k := range tally {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, tally[k]))
	}
	t.Logf("%s role: %d of %d cases run in %v: %s", r, ran, len(ids), total.Round(time.Millisecond), strings.Join(parts, ", "))
	if len(failed) > 0 {
		t.Logf("%s role: failed: %s", r, strings.Join(failed, " "))
	}
	if len(other) > 0 {
		t.Logf("%s role: not judged: %s", r, strings.Join(other, " "))
	}
}

func casesFor(r role) []caseDef {
	var cs []caseDef
	for _, c := range catalogue() {
		if c.onlyIn == nil || *c.onlyIn == r {
			cs = append(cs, c)
		}
	}
	return cs
}

// ---- Server role: the harness is the suite's fuzzingclient.

// TestServerRole runs the catalogue against the server testee, or against
// the server at CONFORMANCE_SERVER (host:port/path), to check the harness on
// other implementations.
func TestServerRole(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipping the conformance catalogue in -short mode")
	}
	target := os.Getenv("CONFORMANCE_SERVER")
	if target == "" {
		target = startServer(t) + "/"
	}
	cases := casesFor(serverRole)
	results := map[string]result{}
	var ids []string
	for _, c := range cases {
		ids = append(ids, c.id)
		t.Run(c.id, func(t *testing.T) {
			res := runServerCase(target, c)
			results[c.id] = res
			report(t, c, res)
		})
	}
	summarize(t, serverRole, ids, results)
}

func runServerCase(target string, c caseDef) result {
	addr, path, _ := strings.Cut(target, "/")
	path = "/" + path
	failed := func(format string, args ...any) result {
		return result{status: statusFailed, msg: fmt.Sprintf(format, args...)}
	}
	deadline := time.Now().Add(scaled(cmp(c.timeout, defaultCaseTimeout)))
	nc, err := net.DialTimeout("tcp", addr, scaled(2*time.Second))
	if err != nil {
		return failed("dial: %v", err)
	}
	nc.SetDeadline(deadline)
	br := bufio.NewReaderSize(nc, 64<<10)
	var offer []string
	if c.pmd != nil {
		for _, o := range c.pmd.offers {
			offer = append(offer, o.String())
		}
	}
	h, err := clientHandshake(nc, br, addr, path, strings.Join(offer, ", "))
	if err != nil {
		nc.Close()
		return failed("opening handshake: %v", err)
	}
	exts := h.Values("Sec-WebSocket-Extensions")
	var st *pmdState
	switch {
	case c.pmd == nil && len(exts) > 0:
		nc.Close()
		return failed("server answered with extensions %q, none offered (RFC 6455 §9.1)", exts)
	case c.pmd != nil:
		resp, err := checkPMDResponse(exts, c.pmd.offers)
		if err != nil {
			nc.Close()
			return failed("permessage-deflate response %q: %v", exts, err)
		}
		if resp == nil {
			p := newPeer(serverRole, nc, br, nil, deadline)
			res := play(caseDef{id: c.id, run: func(p *peer) { p.closeHandshake(1000, "") }}, p)
			if res.status == statusOK {
				res = result{status: statusUnimplemented, msg: fmt.Sprintf("server declined the offers %q", offer)}
			}
			return res
		}
		st = newPMDState(*resp, true)
	}
	return play(c, newPeer(serverRole, nc, br, st, deadline))
}

func cmp(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// clientHandshake sends the opening handshake the suite sends (RFC 6455
// §4.1) and checks the server's answer (§4.2.2, §4.1 items 1 to 6).
func clientHandshake(nc net.Conn, br *bufio.Reader, host, path, extensions string) (http.Header, error) {
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + path + " HTTP/1.1\r\nUser-Agent: AutobahnTestSuite stand-in\r\nHost: " + host +
		"\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	if _, err := nc.Write([]byte(req + "\r\n")); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, err
	}
	h := resp.Header
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return nil, fmt.Errorf("status %s", resp.Status)
	case !hasToken(h.Values("Upgrade"), "websocket"):
		return nil, fmt.Errorf("Upgrade %q", h.Values("Upgrade"))
	case !hasToken(h.Values("Connection"), "upgrade"):
		return nil, fmt.Errorf("Connection %q", h.Values("Connection"))
	case len(h.Values("Sec-WebSocket-Accept")) != 1 || h.Get("Sec-WebSocket-Accept") != acceptKey(key):
		return nil, fmt.Errorf("Sec-WebSocket-Accept %q, want %q", h.Values("Sec-WebSocket-Accept"), acceptKey(key))
	case len(h.Values("Sec-WebSocket-Protocol")) > 0:
		return nil, fmt.Errorf("Sec-WebSocket-Protocol %q, none offered", h.Values("Sec-WebSocket-Protocol"))
	}
	return h, nil
}

// checkPMDResponse checks a server's Sec-WebSocket-Extensions against the
// offers: none (nil), or one permessage-deflate element with valid
// parameters that fits one of the offers (RFC 7692 §5, §7.1).
func checkPMDResponse(values []string, offers []pmdParams) (*pmdParams, error) {
	exts, err := parseExtensions(values)
	if err != nil {
		return nil, err
	}
	if len(exts) == 0 {
		return nil, nil
	}
	if len(exts) > 1 || !strings.EqualFold(exts[0].name, "permessage-deflate") {
		return nil, errors.New("want at most one element, permessage-deflate")
	}
	resp, err := parsePMD(exts[0], false)
	if err != nil {
		return nil, err
	}
	var why []string
	for _, o := range offers {
		if err := responseFits(o, resp); err != nil {
			why = append(why, err.Error())
			continue
		}
		return &resp, nil
	}
	return nil, fmt.Errorf("fits none of the offers: %s", strings.Join(why, "; "))
}
