package benchmarks

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// childEnv makes the test binary a ServeChild process for MeasureIdle.
const childEnv = "FULLDUPLEX_BENCH_CHILD"

// bcastChildEnv makes the test binary a BroadcastClients process for
// RemoteBroadcastRig; its value is N,M,SIZE and the address is the last
// argument.
const bcastChildEnv = "FULLDUPLEX_BENCH_BCAST_CHILD"

// attackChildEnv makes the test binary a RunAttackers process for
// MeasureAttack; its value is an AttackConfig's Spec.
const attackChildEnv = "FULLDUPLEX_BENCH_ATTACK_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(attackChildEnv); spec != "" {
		c, err := ParseAttackSpec(spec)
		if err == nil {
			RaiseFileLimit()
			err = RunAttackers(c, os.Stdin, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if spec := os.Getenv(bcastChildEnv); spec != "" {
		var n, msgs, size int
		if _, err := fmt.Sscanf(spec, "%d,%d,%d", &n, &msgs, &size); err != nil {
			os.Exit(2)
		}
		if err := BroadcastClients(os.Args[len(os.Args)-1], n, msgs, size, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if name := os.Getenv(childEnv); name != "" {
		l := LibByName(name)
		if l == nil {
			os.Exit(2)
		}
		if err := ServeChild(l, os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	RaiseFileLimit()
	os.Exit(m.Run())
}

func TestAllLibrariesRegistered(t *testing.T) {
	for _, name := range LibOrder {
		if LibByName(name) == nil {
			t.Errorf("library %q has no adapter", name)
		}
	}
}

// TestInMemoryServerReadsMaskedFramesAndWritesUnmaskedFrames checks, for
// each adapter and message size, that the replayed client frames come out
// as the original payload and that a written message parses as one
// unmasked binary frame carrying the payload (RFC 6455 section 5.1).
func TestInMemoryServerReadsMaskedFramesAndWritesUnmaskedFrames(t *testing.T) {
	for _, l := range Libs() {
		for _, size := range []int{0, 16, 125, 126, 1 << 10, 16 << 10, 65535, 65536, 1 << 20} {
			if err := CheckMem(l, size, 3); err != nil {
				t.Errorf("size %d: %v", size, err)
			}
		}
	}
}

// TestInMemoryServerReadsAndWritesText is the same check for text messages,
// ASCII and mixed-script, at sizes around the frame length encodings.
func TestInMemoryServerReadsAndWritesText(t *testing.T) {
	for _, l := range Libs() {
		for _, k := range []Kind{Text, Mixed} {
			for _, size := range []int{0, 16, 125, 126, 1 << 10, 65536, 1 << 20} {
				if err := CheckMemKind(l, k, size, 3); err != nil {
					t.Errorf("%v size %d: %v", k, size, err)
				}
			}
		}
	}
}

// TestKindPayloadIsValidText checks that the text workloads send what a
// validating library must accept, and that mixed text is mostly not ASCII.
func TestKindPayloadIsValidText(t *testing.T) {
	for _, k := range []Kind{Text, Mixed} {
		for _, size := range []int{0, 1, 16, 1 << 10, 1<<20 + 3} {
			p := KindPayload(k, size)
			if len(p) != size || !utf8.Valid(p) {
				t.Errorf("%v %d: %d bytes, valid UTF-8: %v", k, size, len(p), utf8.Valid(p))
			}
		}
	}
	p := KindPayload(Mixed, 1<<10)
	high := 0
	for _, c := range p {
		if c >= 0x80 {
			high++
		}
	}
	if high < 400 || high > 500 {
		t.Errorf("mixed 1 KiB has %d bytes that are not ASCII, want about 455", high)
	}
}

// TestInMemoryBenchmarksRun runs the read and write benchmarks once each at
// a tiny bench time, checking they report sane numbers.
func TestInMemoryBenchmarksRun(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	SetBenchTime(5 * time.Millisecond)
	for _, l := range Libs() {
		r, err := BenchRead(l, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		if r.NsPerMsg <= 0 || r.MBPerSec <= 0 {
			t.Errorf("%s read: %+v", l.Name, r)
		}
		w, err := BenchWrite(l, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		if w.NsPerMsg <= 0 || w.WritesPerMsg < 1 {
			t.Errorf("%s write: %+v", l.Name, w)
		}
		for _, k := range []Kind{Binary, Text} {
			w, err := BenchLockedWriteKind(l, k, 16)
			if err != nil {
				t.Fatal(err)
			}
			if w.NsPerMsg <= 0 || w.WritesPerMsg < 1 {
				t.Errorf("%s write-locked %v: %+v", l.Name, k, w)
			}
		}
	}
}

// TestEchoServerReturnsEachMessage runs every echo server against the
// shared client; RunEcho compares the first echoes byte for byte and the
// rest by length.
func TestEchoServerReturnsEachMessage(t *testing.T) {
	for _, l := range Libs() {
		s, err := StartEcho(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{16, 64 << 10} {
			r, err := RunEcho(s.Addr, 3, size, 50*time.Millisecond)
			if err != nil {
				t.Errorf("%s size %d: %v", l.Name, size, err)
				continue
			}
			if r.Msgs == 0 || r.P50 <= 0 || r.P99 < r.P50 {
				t.Errorf("%s size %d: %+v", l.Name, size, r)
			}
		}
		s.Close()
	}
}

// TestBroadcastDeliversEveryMessageInOrder checks each hub's fan-out: every
// client gets all messages, numbered in order, in two rounds.
func TestBroadcastDeliversEveryMessageInOrder(t *testing.T) {
	for _, l := range Libs() {
		r, err := NewBroadcastRig(l, 20, 7, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		for round := range 2 {
			if d, err := r.Round(10 * time.Second); err != nil || d <= 0 {
				t.Errorf("%s round %d: %v, %v", l.Name, round, d, err)
			}
		}
		r.Close()
	}
}

// TestRemoteBroadcastDeliversEveryMessageInOrder runs the clients of each
// hub in a child process, as wsbench does past 2,000 clients.
func TestRemoteBroadcastDeliversEveryMessageInOrder(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(bcastChildEnv, "20,7,1024")
	for _, l := range append(Libs(), LibByName("fullduplex-sync"), LibByName("fullduplex-each")) {
		r, err := NewRemoteBroadcastRig(l, exe, []string{"-test.run=^$"}, 20, 7, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		for round := range 2 {
			if d, err := r.Round(10 * time.Second); err != nil || d <= 0 {
				t.Errorf("%s round %d: %v, %v", l.Name, round, d, err)
			}
		}
		if _, heap, _ := r.Memory(); heap <= 0 {
			t.Errorf("%s: heap per client %v, want > 0", l.Name, heap)
		}
		r.Close()
	}
}

// TestIdleMeasuresAChildServer runs each echo server in a child process and
// holds idle clients on it.
func TestIdleMeasuresAChildServer(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range Libs() {
		r, err := MeasureIdle(exe, []string{"-test.run=^$"}, []string{childEnv + "=" + l.Name}, 50, "")
		if err != nil {
			t.Errorf("%s: %v", l.Name, err)
			continue
		}
		if r.Conns != 50 || r.HeapPerConn <= 0 {
			t.Errorf("%s: %+v", l.Name, r)
		}
	}
}

// TestIdleWithDeflateNegotiatesIt holds idle clients that offered
// permessage-deflate on the fullduplex server, which must accept it (the
// client checks the response) and still echo.
func TestIdleWithDeflateNegotiatesIt(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, err := MeasureIdle(exe, []string{"-test.run=^$"}, []string{childEnv + "=fullduplex"}, 50, DeflateOffer)
	if err != nil {
		t.Fatal(err)
	}
	if r.Conns != 50 || r.HeapPerConn <= 0 {
		t.Errorf("%+v", r)
	}
}

// MemSizes are the message sizes of the in-memory workloads.
var benchSizes = []struct {
	name string
	n    int
}{{"16B", 16}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"1MiB", 1 << 20}}

// BenchmarkRead is the in-memory server read path, per library and size,
// of binary messages (BenchmarkReadText, BenchmarkReadMixed: text):
// go test -bench 'Read/fullduplex/1KiB' -cpuprofile cpu.out
func BenchmarkRead(b *testing.B) { benchRead(b, Binary) }

// BenchmarkReadText reads ASCII text messages.
func BenchmarkReadText(b *testing.B) { benchRead(b, Text) }

// BenchmarkReadMixed reads mixed-script text messages.
func BenchmarkReadMixed(b *testing.B) { benchRead(b, Mixed) }

func benchRead(b *testing.B, k Kind) {
	for _, l := range Libs() {
		for _, s := range benchSizes {
			var failure error
			b.Run(l.Name+"/"+s.name, ReadKindBench(l, k, s.n, &failure))
		}
	}
}

// BenchmarkWrite is the in-memory server write path, per library and size,
// of binary messages (BenchmarkWriteText, BenchmarkWriteMixed: text).
func BenchmarkWrite(b *testing.B) { benchWrite(b, Binary) }

// BenchmarkWriteText writes ASCII text messages.
func BenchmarkWriteText(b *testing.B) { benchWrite(b, Text) }

// BenchmarkWriteMixed writes mixed-script text messages.
func BenchmarkWriteMixed(b *testing.B) { benchWrite(b, Mixed) }

// BenchmarkWriteLocked is BenchmarkWrite to a LockedConn (the write-locked
// workload): go test -run '^$' -bench 'WriteLocked/fullduplex/16B' -cpuprofile cpu.out
func BenchmarkWriteLocked(b *testing.B) { benchWriteTo(b, Binary, LockedWriteKindBench) }

// BenchmarkWriteLockedText writes ASCII text messages to a LockedConn.
func BenchmarkWriteLockedText(b *testing.B) { benchWriteTo(b, Text, LockedWriteKindBench) }

func benchWrite(b *testing.B, k Kind) { benchWriteTo(b, k, WriteKindBench) }

func benchWriteTo(b *testing.B, k Kind, bench func(*Lib, Kind, int, *float64, *error) func(*testing.B)) {
	for _, l := range Libs() {
		for _, s := range benchSizes {
			var failure error
			var writes float64
			b.Run(l.Name+"/"+s.name, bench(l, k, s.n, &writes, &failure))
		}
	}
}

// TestScaleServersEcho checks the servers that only the scale workload runs
// (lib_scale.go): each echoes over loopback. The workload is smoke-run by
// .ci/run runs the workload itself, small).
func TestScaleServersEcho(t *testing.T) {
	for _, name := range []string{"fullduplex-poller", "fullduplex-http", "fullduplex-http-go", "http-floor", "nbio"} {
		l := LibByName(name)
		s, err := StartEcho(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{16, 1 << 10, 64 << 10} {
			if r, err := RunEcho(s.Addr, 4, size, 50*time.Millisecond); err != nil || r.Msgs == 0 {
				t.Errorf("%s echo %d B: %d round trips, %v", name, size, r.Msgs, err)
			}
		}
		s.Close()
	}
}

// TestAttackWorkloadRuns smoke-runs the attack workload's machinery: for
// each kind of attacker and each server it measures, a few attackers in a
// child process and 100 ms phases. It checks that the honest clients echo
// at baseline, that the attackers connect and send, and that the figures
// are filled in; not how well a server resists, which the workload itself
// measures.
func TestAttackWorkloadRuns(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	attackers := func(c AttackConfig) ([]string, []string) {
		return []string{"-test.run=^$"}, []string{attackChildEnv + "=" + c.Spec()}
	}
	var tab Table
	for _, lib := range AttackOrder {
		for _, k := range AttackKinds {
			const n = 4
			r, err := MeasureAttack(AttackSetup{
				Exe: exe, ServeArgs: []string{"-test.run=^$"}, ServeEnv: []string{childEnv + "=" + lib},
				AttackerCmd: attackers, Kind: k, N: n, Phase: 100 * time.Millisecond, Honest: 4,
				Total: 1 << 20, MaxRSS: 1 << 30,
			})
			if err != nil {
				t.Errorf("%s %s: %v", lib, k, err)
				continue
			}
			if r.Baseline.Msgs == 0 || r.Baseline.Errors != 0 || r.Baseline.P50 <= 0 || r.Baseline.Max < r.Baseline.P99 {
				t.Errorf("%s %s: baseline %+v", lib, k, r.Baseline)
			}
			if r.Ready.Established < n || r.Ready.Failed != 0 || r.Ready.Bytes < n {
				t.Errorf("%s %s: attackers at READY %+v, want %d connected, each having sent", lib, k, r.Ready, n)
			}
			if r.Attack.Elapsed < 100*time.Millisecond || r.RSSBaseline == 0 || r.RSSEnd == 0 || r.RSSPeak == 0 || r.Cut != "" {
				t.Errorf("%s %s: %+v", lib, k, r)
			}
			r.AddTo(&tab, AttackWorkload(k, n), lib)
		}
	}
	s := AttackSummary(&tab, AttackOrder)
	if strings.Count(s, "\n") != 2+len(AttackKinds) || strings.Contains(s, " – |") {
		t.Errorf("summary:\n%s", s)
	}
}
