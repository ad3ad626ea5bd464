//go:build unix

package h2

import (
	"syscall"
	"time"
)

// cpuTime returns the processor time, user and system, the process has
// used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
