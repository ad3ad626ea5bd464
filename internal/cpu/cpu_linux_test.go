package cpu

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The CPUID checks against the kernel's: Linux lists a flag in
// /proc/cpuinfo only when the CPU has it and the kernel saves the registers
// it needs, which is what the assembly asks.
func TestFeaturesMatchLinux(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("not amd64")
	}
	if runtime.GOOS != "linux" {
		t.Skip("not Linux")
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip(err)
	}
	var flags []string
	for line := range strings.Lines(string(info)) {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "flags" {
			flags = strings.Fields(value)
			break
		}
	}
	if flags == nil {
		t.Skip("no flags line in /proc/cpuinfo")
	}
	has := func(names ...string) bool {
		for _, n := range names {
			if !slices.Contains(flags, n) {
				return false
			}
		}
		return true
	}
	want := Features{
		HasSSSE3:  has("ssse3"),
		HasAVX2:   has("avx2"),
		HasAVX512: has("avx2", "avx512f", "avx512bw", "avx512vbmi"),
	}
	if purego {
		want = Features{}
	}
	if X86 != want {
		t.Errorf("X86 = %+v, /proc/cpuinfo says %+v", X86, want)
	}
}
