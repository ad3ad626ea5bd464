package main

import "syscall"

// connsWithinFDLimit returns n, or fewer if the process may not open the
// 2n descriptors (and some to spare) that n loopback connections take.
func connsWithinFDLimit(n int) int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err == nil && r.Cur < uint64(2*n+200) {
		return max(0, (int(r.Cur)-200)/2)
	}
	return n
}
