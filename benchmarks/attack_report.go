package benchmarks

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The attack workload's rows. Its ratio is not against the best peer, as
// in the other workloads, but against the same server's baseline in the
// same run: the share of the honest throughput an attack leaves.

// AttackWorkload names the rows of kind k with n attackers.
func AttackWorkload(k AttackKind, n int) string { return fmt.Sprintf("%s ×%d", k, n) }

const attackRatio = "during/baseline"

// fmtLatency is FmtNs, in seconds from a second on: a stalled server's
// honest clients wait that long.
func fmtLatency(v float64) string {
	if v >= 1e9 {
		return fmt.Sprintf("%.2f s", v/1e9)
	}
	return FmtNs(v)
}

// fmtRecovery prints a recovery time, or that there was none in time.
func fmtRecovery(v float64) string {
	if v < 0 {
		return fmt.Sprintf("none in %v", recoveryMax)
	}
	return fmtLatency(v)
}

// AddTo records r into t as lib's sample of workload w.
func (r AttackResult) AddTo(t *Table, w, lib string) {
	add := func(name string, lower bool, f func(float64) string, v float64) {
		t.Add(Metric{Workload: w, Name: name, Lower: lower, Format: f}, lib, v)
	}
	add(attackRatio, false, FmtCount, r.Ratio())
	add("msgs/s baseline", false, FmtRate, r.Baseline.Rate())
	add("msgs/s during", false, FmtRate, r.Attack.Rate())
	// No percentile of no echo: a stalled server's row shows "–".
	for _, p := range []struct {
		name  string
		phase PhaseResult
	}{{"baseline", r.Baseline}, {"during", r.Attack}} {
		if p.phase.Msgs > 0 {
			add("p50 "+p.name, true, fmtLatency, float64(p.phase.P50))
			add("p99 "+p.name, true, fmtLatency, float64(p.phase.P99))
		}
	}
	add("max baseline", true, fmtLatency, float64(r.Baseline.Max))
	add("max during", true, fmtLatency, float64(r.Attack.Max))
	add("honest errors during", true, FmtCount, float64(r.Attack.Errors))
	if r.RSSEnd > 0 { // else not read: no PID
		add("server RSS baseline", true, FmtBytes, float64(r.RSSBaseline))
		add("server RSS end", true, FmtBytes, float64(r.RSSEnd))
		add("server RSS peak", true, FmtBytes, float64(r.RSSPeak))
	}
	add("kernel TCP mem peak", true, FmtBytes, float64(r.TCPMemPeak))
	add("attackers connected", false, FmtCount, float64(r.Ready.Established))
	add("attackers open at end", false, FmtCount, float64(r.End.Open))
	add("attackers dropped by server", false, FmtCount, float64(r.End.Dropped))
	add("reconnects", false, FmtCount, float64(r.End.Reconnects))
	add("attack bytes sent", false, FmtBytes, float64(r.End.Bytes))
	add("nonreaders held early", false, FmtCount, float64(r.End.Held))
	held := 0.0
	if r.Held {
		held = 1
	}
	add("held at server RSS bound", true, FmtCount, held)
	add("ramp-up", true, fmtLatency, float64(r.Ramp))
	add("attack phase", false, fmtLatency, float64(r.Attack.Elapsed))
	for _, why := range []string{"server RSS", "TCP memory"} {
		cut := 0.0
		if r.Cut == why {
			cut = 1
		}
		add("cut short: "+why, true, FmtCount, cut)
	}
	add("recovery", true, fmtRecovery, float64(r.Recovery))
}

// AttackSummary renders one row per attack and a column per library:
// the median ratio of the honest rate during the attack to the baseline
// (bold; in brackets the lowest and highest of a round), the baseline and
// attack rates, the worst honest latency during the attack of any round,
// and the server's RSS at its end and at its peak (medians); ✓ when
// every round met the targets (attackMeets), else ✗.
func AttackSummary(t *Table, libs []string) string {
	var b strings.Builder
	b.WriteString("| attack |")
	for _, l := range libs {
		fmt.Fprintf(&b, " %s |", l)
	}
	fmt.Fprintf(&b, "\n|---|%s\n", strings.Repeat("---:|", len(libs)))
	for _, r := range t.rows {
		if r.Name != attackRatio {
			continue
		}
		fmt.Fprintf(&b, "| %s |", r.Workload)
		med := func(name, lib string, f func(float64) string) string {
			v, ok := t.Median(r.Workload, name, lib)
			if !ok {
				return "–"
			}
			return f(v)
		}
		for _, l := range libs {
			s := r.samples[l]
			if len(s) == 0 {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " **%.2f×**", median(s))
			if len(s) > 1 {
				fmt.Fprintf(&b, " (%.2f–%.2f)", slices.Min(s), slices.Max(s))
			}
			worst := slices.Max(t.index[[2]string{r.Workload, "max during"}].samples[l])
			fmt.Fprintf(&b, " %s → %s, worst %s",
				med("msgs/s baseline", l, FmtRate), med("msgs/s during", l, FmtRate), fmtLatency(worst))
			if _, ok := t.Median(r.Workload, "server RSS end", l); ok {
				fmt.Fprintf(&b, ", RSS %s (peak %s)", med("server RSS end", l, FmtBytes), med("server RSS peak", l, FmtBytes))
			}
			if v, _ := t.Median(r.Workload, "nonreaders held early", l); v > 0 {
				fmt.Fprintf(&b, ", %.0f nonreaders held early", v)
			}
			for _, why := range []string{"server RSS", "TCP memory"} {
				if v, _ := t.Median(r.Workload, "cut short: "+why, l); v > 0 {
					fmt.Fprintf(&b, ", attack cut short: %s past its backstop", why)
				}
			}
			if attackMeets(t, r.Workload, l) {
				b.WriteString(" ✓")
			} else {
				b.WriteString(" ✗")
			}
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// attackMeets reports whether every round of lib on workload w meets the
// Poller rewrite's targets: an honest rate during the attack of at least
// 0.8 of the baseline's, and, against the trickling kinds, no honest echo
// waiting a second or more.
func attackMeets(t *Table, w, lib string) bool {
	r := t.index[[2]string{w, attackRatio}]
	m := t.index[[2]string{w, "max during"}]
	if r == nil || m == nil || len(r.samples[lib]) == 0 {
		return false
	}
	latency := !strings.HasPrefix(w, string(NonReader)+" ")
	for i, v := range r.samples[lib] {
		if v < 0.8 || latency && m.samples[lib][i] >= float64(time.Second) {
			return false
		}
	}
	return true
}

// AttackOrder is the order of columns in the attack workload: the
// Poller, the blocking API, and nbio, the event-driven peer.
var AttackOrder = []string{"fullduplex-poller", "fullduplex", "nbio"}
