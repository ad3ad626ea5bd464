package benchmarks

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestRatioAboveOneMeansBetterInBothDirections(t *testing.T) {
	tests := []struct {
		name    string
		v, best float64
		lower   bool
		want    float64
	}{
		{"lower is better: half the time is twice as good", 50, 100, true, 2},
		{"lower is better: double the time is half as good", 200, 100, true, 0.5},
		{"higher is better: double the rate is twice as good", 200, 100, false, 2},
		{"higher is better: equal is 1", 100, 100, false, 1},
		{"zero against zero is even", 0, 0, true, 1},
		{"zero against some is infinitely better", 0, 3, true, math.Inf(1)},
	}
	for _, tt := range tests {
		if got := Ratio(tt.v, tt.best, tt.lower); got != tt.want {
			t.Errorf("%s: Ratio(%v, %v, %v) = %v, want %v", tt.name, tt.v, tt.best, tt.lower, got, tt.want)
		}
	}
}

func TestTableUsesMedianAndBestPeerExcludingSelf(t *testing.T) {
	var tab Table
	m := Metric{Workload: "read 16 B", Name: "ns/msg", Lower: true, Summary: true, Format: FmtNs}
	for _, v := range []float64{100, 900, 110} { // median 110
		tab.Add(m, "self", v)
	}
	for _, v := range []float64{220, 200, 1} { // median 200
		tab.Add(m, "a", v)
	}
	tab.Add(m, "b", 440)
	if got, _ := tab.Median("read 16 B", "ns/msg", "self"); got != 110 {
		t.Errorf("median of self = %v, want 110", got)
	}
	s := tab.Summary([]string{"self", "a", "b"}, "self")
	// Best peer is a (200): self is 200/110 = 1.82× better, b 200/440 = 0.45×.
	for _, want := range []string{"**1.82×** 110 ns", "**1.00×** 200 ns", "**0.45×** 440 ns"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if b := tab.Behind([]string{"self", "a", "b"}, "self"); len(b) != 0 {
		t.Errorf("Behind = %v, want none", b)
	}
	tab.Add(m, "b", 10)
	tab.Add(m, "b", 10) // b's median becomes 10
	if b := tab.Behind([]string{"self", "a", "b"}, "self"); len(b) != 1 {
		t.Errorf("Behind = %v, want one entry", b)
	}
}

// TestSummaryShowsSpreadAllocsAndMarks checks the summary cell: the ratio of
// the medians, the range of the round-by-round ratios against the best peer
// of that round, the median of the With metric, and the header marks.
func TestSummaryShowsSpreadAllocsAndMarks(t *testing.T) {
	tab := Table{Marks: map[string]string{"a": " ✓"}}
	m := Metric{Workload: "read 16 B", Name: "ns/msg", Lower: true, Summary: true, Format: FmtNs, With: "allocs/msg"}
	allocs := Metric{Workload: "read 16 B", Name: "allocs/msg", Lower: true, Format: FmtCount}
	// Round by round, self against a: 100/50 = 2, 100/100 = 1, 100/80 = 1.25.
	for i, v := range []float64{50, 100, 80} {
		tab.Add(m, "self", v)
		tab.Add(m, "a", []float64{100, 100, 100}[i])
		tab.Add(allocs, "self", 0)
		tab.Add(allocs, "a", 2)
	}
	s := tab.Summary([]string{"self", "a"}, "self")
	for _, want := range []string{"| self | a ✓ |", "**1.25×** (1.00–2.00) 80 ns, 0.00 allocs |", "**1.00×** (1.00–1.00) 100 ns, 2.00 allocs |"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

// TestAttackSummaryShowsRatioSpreadAndTargets checks the attack table's
// cell: the median ratio to the same server's baseline, the range over
// rounds, the rates, and the target mark, which for the trickling kinds
// also needs every worst latency under a second.
func TestAttackSummaryShowsRatioSpreadAndTargets(t *testing.T) {
	var tab Table
	round := func(w, lib string, before, during float64, worst time.Duration) {
		r := AttackResult{
			Baseline: PhaseResult{Elapsed: time.Second, Msgs: int(before), Max: time.Millisecond},
			Attack:   PhaseResult{Elapsed: time.Second, Msgs: int(during), Max: worst},
			RSSEnd:   10 << 20, RSSPeak: 12 << 20,
		}
		r.AddTo(&tab, w, lib)
	}
	trickle, non := AttackWorkload(TrickleData, 128), AttackWorkload(NonReader, 64)
	round(trickle, "a", 1000, 900, 10*time.Millisecond)
	round(trickle, "a", 1000, 950, 20*time.Millisecond)
	round(trickle, "b", 1000, 900, time.Second) // a second: misses the target
	round(trickle, "b", 1000, 1000, time.Millisecond)
	round(non, "a", 1000, 0, 5*time.Second)
	round(non, "a", 1000, 100, 5*time.Second)
	round(non, "b", 1000, 800, 3*time.Second) // no latency target for nonreaders
	round(non, "b", 1000, 900, 3*time.Second)
	s := AttackSummary(&tab, []string{"a", "b"})
	for _, want := range []string{
		"| trickle-data ×128 | **0.93×** (0.90–0.95) 1.0 k/s → 925 /s, worst 20.00 ms, RSS 10.0 MiB (peak 12.0 MiB) ✓ | **0.95×** (0.90–1.00)",
		"worst 1.00 s, RSS 10.0 MiB (peak 12.0 MiB) ✗ |",
		"| nonreader ×64 | **0.05×** (0.00–0.10)",
		"850 /s, worst 3.00 s, RSS",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "✓") != 2 || strings.Count(s, "✗") != 2 {
		t.Errorf("want two cells meeting the targets and two not:\n%s", s)
	}
}
