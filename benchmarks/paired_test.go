package benchmarks

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var pairedRounds = flag.Int("paired", 0, "TestWriteLockedPaired: rounds (0 skips the test)")

// TestWriteLockedPaired is the write-locked workload for a machine too noisy
// for benchmarks that run a library for a second at a time: every round
// writes a short burst (-paired-burst messages) per library, in an order
// rotated each round, so that the libraries of one round are timed within
// milliseconds of each other, and each round gives its own ratios. It
// prints, per case, fullduplex's median time and its ratio to each peer
// (the peer's time over fullduplex's: above 1 fullduplex is faster), the
// median of the rounds' ratios with their 10th and 90th percentiles:
//
//	go test -run WriteLockedPaired -paired 300 -v
func TestWriteLockedPaired(t *testing.T) {
	if *pairedRounds <= 0 {
		t.Skip("-paired N runs it")
	}
	ls := Libs()
	for _, k := range []Kind{Binary, Text} {
		for _, size := range []int{16, 1 << 10} {
			p := KindPayload(k, size)
			writes := make([]func([]byte) error, len(ls))
			for i, l := range ls {
				nc := NewLockedConn(upgradePrefix(l))
				c, err := memUpgrade(l, nc)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if writes[i] = c.Write; k == Text {
					writes[i] = c.WriteText
				}
			}
			ns := make([][]float64, len(ls)) // per library, per round
			for r := range *pairedRounds {
				for j := range ls {
					i := (j + r) % len(ls)
					start := time.Now()
					for range *pairedBurst {
						if err := writes[i](p); err != nil {
							t.Fatal(err)
						}
					}
					ns[i] = append(ns[i], float64(time.Since(start).Nanoseconds())/float64(*pairedBurst))
				}
			}
			var b strings.Builder
			name := k.String()
			if name == "" {
				name = "binary"
			}
			fmt.Fprintf(&b, "write-locked %s %d B: fullduplex %.1f ns", name, size, quantile(ns[0], 0.5))
			for i, l := range ls[1:] {
				ratios := make([]float64, len(ns[0]))
				for r := range ratios {
					ratios[r] = ns[i+1][r] / ns[0][r]
				}
				fmt.Fprintf(&b, "; %s %.2f× (%.2f–%.2f)", l.Name, quantile(ratios, 0.5), quantile(ratios, 0.1), quantile(ratios, 0.9))
			}
			t.Log(b.String())
		}
	}
}

var pairedBurst = flag.Int("paired-burst", 20000, "TestWriteLockedPaired: messages per library and round")

func quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}
