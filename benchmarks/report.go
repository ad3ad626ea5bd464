package benchmarks

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Metric describes one measured quantity of one workload.
type Metric struct {
	Workload string // e.g. "read 1 KiB"
	Name     string // e.g. "ns/msg"
	Lower    bool   // lower is better
	Summary  bool   // shown in the summary table with a ratio
	Format   func(float64) string
	// With names a metric of the same workload whose median the summary
	// shows next to this one's, e.g. "allocs/msg".
	With string
}

// Table gathers samples (one per round) and renders medians as Markdown.
type Table struct {
	// Marks are appended to library names in table headers, e.g. to mark
	// the libraries that validate UTF-8.
	Marks map[string]string

	rows  []*row
	index map[[2]string]*row
}

// header is the first two lines of a table with a column per library.
func (t *Table) header(libs []string) string {
	var b strings.Builder
	b.WriteString("| workload | metric |")
	for _, l := range libs {
		fmt.Fprintf(&b, " %s%s |", l, t.Marks[l])
	}
	fmt.Fprintf(&b, "\n|---|---|%s\n", strings.Repeat("---:|", len(libs)))
	return b.String()
}

// spread returns the smallest and largest of the per-round ratios of lib
// to the best peer of self in that round; ok is false unless every library
// has a sample for every round.
func (r *row) spread(libs []string, self, lib string) (lo, hi float64, ok bool) {
	n := len(r.samples[lib])
	for _, l := range libs {
		if len(r.samples[l]) != n {
			return 0, 0, false
		}
	}
	if n < 2 {
		return 0, 0, false
	}
	for i := range n {
		var best float64
		found := false
		for _, l := range libs {
			if l == self {
				continue
			}
			v := r.samples[l][i]
			if !found || (r.Lower && v < best) || (!r.Lower && v > best) {
				best, found = v, true
			}
		}
		if !found {
			return 0, 0, false
		}
		q := Ratio(r.samples[lib][i], best, r.Lower)
		if i == 0 || q < lo {
			lo = q
		}
		if i == 0 || q > hi {
			hi = q
		}
	}
	return lo, hi, true
}

type row struct {
	Metric
	samples map[string][]float64
}

// Add records one sample of m for lib.
func (t *Table) Add(m Metric, lib string, v float64) {
	if t.index == nil {
		t.index = map[[2]string]*row{}
	}
	k := [2]string{m.Workload, m.Name}
	r := t.index[k]
	if r == nil {
		r = &row{Metric: m, samples: map[string][]float64{}}
		t.index[k] = r
		t.rows = append(t.rows, r)
	}
	r.samples[lib] = append(r.samples[lib], v)
}

// Median returns the median sample of the metric for lib.
func (t *Table) Median(workload, name, lib string) (float64, bool) {
	r := t.index[[2]string{workload, name}]
	if r == nil || len(r.samples[lib]) == 0 {
		return 0, false
	}
	return median(r.samples[lib]), true
}

func median(s []float64) float64 {
	s = slices.Clone(s)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ratio is how many times better v is than the best peer value best: above
// 1 is better, whatever the direction of the metric.
func Ratio(v, best float64, lower bool) float64 {
	if lower {
		if v == 0 {
			if best == 0 {
				return 1
			}
			return math.Inf(1)
		}
		return best / v
	}
	if best == 0 {
		return math.Inf(1)
	}
	return v / best
}

// bestPeer is the best median among libs other than self and its
// variants (fullduplex-poller, fullduplex-http: all "fullduplex…").
func (r *row) bestPeer(libs []string, self string) (float64, bool) {
	var best float64
	found := false
	for _, l := range libs {
		if l == self || strings.HasPrefix(l, "fullduplex") || len(r.samples[l]) == 0 {
			continue
		}
		v := median(r.samples[l])
		if !found || (r.Lower && v < best) || (!r.Lower && v > best) {
			best, found = v, true
		}
	}
	return best, found
}

// Behind lists the summary metrics on which self is worse than the best of
// the other libraries, with its ratio.
func (t *Table) Behind(libs []string, self string) []string {
	var out []string
	for _, r := range t.rows {
		if !r.Summary || len(r.samples[self]) == 0 {
			continue
		}
		best, ok := r.bestPeer(libs, self)
		if !ok {
			continue
		}
		if q := Ratio(median(r.samples[self]), best, r.Lower); q < 1 {
			out = append(out, fmt.Sprintf("%s %s: %.2f×", r.Workload, r.Name, q))
		}
	}
	return out
}

// Summary renders the summary metrics: per library the ratio to the best
// peer of self (bold), the range of the ratios round by round, the median
// value and the median of the metric named by With.
func (t *Table) Summary(libs []string, self string) string {
	var b strings.Builder
	b.WriteString(t.header(libs))
	for _, r := range t.rows {
		if !r.Summary {
			continue
		}
		best, ok := r.bestPeer(libs, self)
		fmt.Fprintf(&b, "| %s | %s |", r.Workload, r.Name)
		for _, l := range libs {
			if len(r.samples[l]) == 0 {
				b.WriteString(" – |")
				continue
			}
			v := median(r.samples[l])
			if ok {
				fmt.Fprintf(&b, " **%.2f×**", Ratio(v, best, r.Lower))
				if lo, hi, ok := r.spread(libs, self, l); ok {
					fmt.Fprintf(&b, " (%.2f–%.2f)", lo, hi)
				}
			}
			fmt.Fprintf(&b, " %s", r.Format(v))
			if w := t.index[[2]string{r.Workload, r.With}]; w != nil && len(w.samples[l]) > 0 {
				fmt.Fprintf(&b, ", %s %s", w.Format(median(w.samples[l])), strings.TrimSuffix(r.With, "/msg"))
			}
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Raw renders every metric's median per library.
func (t *Table) Raw(libs []string) string {
	var b strings.Builder
	b.WriteString(t.header(libs))
	for _, r := range t.rows {
		fmt.Fprintf(&b, "| %s | %s |", r.Workload, r.Name)
		for _, l := range libs {
			if len(r.samples[l]) == 0 {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %s |", r.Format(median(r.samples[l])))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Number formats for metrics.
var (
	FmtNs = func(v float64) string {
		switch {
		case v >= 1e6:
			return fmt.Sprintf("%.2f ms", v/1e6)
		case v >= 1e4:
			return fmt.Sprintf("%.1f µs", v/1e3)
		}
		return fmt.Sprintf("%.0f ns", v)
	}
	FmtMBs   = func(v float64) string { return fmt.Sprintf("%.0f MB/s", v) }
	FmtCount = func(v float64) string { return fmt.Sprintf("%.2f", v) }
	FmtBytes = func(v float64) string {
		switch {
		case math.Abs(v) >= 1<<20:
			return fmt.Sprintf("%.1f MiB", v/(1<<20))
		case math.Abs(v) >= 10<<10:
			return fmt.Sprintf("%.1f KiB", v/(1<<10))
		}
		return fmt.Sprintf("%.0f B", v)
	}
	FmtRate = func(v float64) string {
		switch {
		case v >= 1e6:
			return fmt.Sprintf("%.2f M/s", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.1f k/s", v/1e3)
		}
		return fmt.Sprintf("%.0f /s", v)
	}
)
