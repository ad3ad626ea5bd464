//go:build !unix

package h2

import "time"

// cpuTime is not measured here: BenchmarkEcho's cpu-µs/op reads 0.
func cpuTime() time.Duration { return 0 }
