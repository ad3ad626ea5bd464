package benchmarks

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"testing"
	"time"
)

// MemResult is one in-memory benchmark measurement.
type MemResult struct {
	NsPerMsg     float64
	MBPerSec     float64
	AllocsPerMsg float64
	BytesPerMsg  float64
	WritesPerMsg float64 // write path only: Write calls on the net.Conn
}

func memResult(r testing.BenchmarkResult) MemResult {
	return MemResult{
		NsPerMsg:     float64(r.T.Nanoseconds()) / float64(r.N),
		MBPerSec:     float64(r.Bytes) * float64(r.N) / 1e6 / r.T.Seconds(),
		AllocsPerMsg: float64(r.MemAllocs) / float64(r.N),
		BytesPerMsg:  float64(r.MemBytes) / float64(r.N),
	}
}

func memConn(l *Lib, data []byte, limit int64) (*ReplayConn, *MemConn, error) {
	nc := NewReplayConn(upgradePrefix(l), data, limit)
	c, err := memUpgrade(l, nc)
	return nc, c, err
}

// upgradePrefix is what l's in-memory conn must yield before any frame:
// the upgrade request, if l reads it off the conn.
func upgradePrefix(l *Lib) []byte {
	if l.ReadsRequest {
		return []byte(UpgradeRequest)
	}
	return nil
}

func memUpgrade(l *Lib, nc net.Conn) (*MemConn, error) {
	c, err := l.NewMem(nc)
	if err != nil {
		return nil, fmt.Errorf("%s: upgrade: %w", l.Name, err)
	}
	return c, nil
}

// ReadBench returns a benchmark of the server read path: l's server
// connection reads pre-built masked binary frames of size bytes replayed
// from memory, one message per op. The handshake happens before the timer
// starts. A failure is also stored in *failure.
func ReadBench(l *Lib, size int, failure *error) func(b *testing.B) {
	return ReadKindBench(l, Binary, size, failure)
}

// ReadKindBench is ReadBench for messages of kind k.
func ReadKindBench(l *Lib, k Kind, size int, failure *error) func(b *testing.B) {
	count := replayCount(size)
	wire, _ := MaskedKindFrames(k, size, count)
	frameLen := int64(len(wire) / count)
	return func(b *testing.B) {
		// One message before the clock lets the application's buffer
		// reach its size (steady state). A push library's read loop cannot
		// stop after one message; gws allocates per message anyway.
		warm := 1
		if l.Push {
			warm = 0
		}
		nc, c, err := memConn(l, wire, int64(b.N+warm)*frameLen)
		if err != nil {
			*failure = err
			b.Fatal(err)
		}
		defer c.Close()
		defer nc.Close()
		if warm > 0 {
			if err := c.Read(warm, nil); err != nil {
				*failure = fmt.Errorf("%s: read: %w", l.Name, err)
				b.Fatal(*failure)
			}
		}
		b.SetBytes(int64(size))
		b.ReportAllocs()
		b.ResetTimer()
		if err := c.Read(b.N, nil); err != nil {
			*failure = fmt.Errorf("%s: read: %w", l.Name, err)
			b.Fatal(*failure)
		}
		b.StopTimer()
	}
}

// WriteBench returns a benchmark of the server write path: l's server
// connection writes binary messages of size bytes to a connection that
// discards them. The Write calls per message of the last run are stored in
// *writes; a failure in *failure.
func WriteBench(l *Lib, size int, writes *float64, failure *error) func(b *testing.B) {
	return WriteKindBench(l, Binary, size, writes, failure)
}

// WriteKindBench is WriteBench for messages of kind k. A library without
// WriteText fails it with ErrNoText.
func WriteKindBench(l *Lib, k Kind, size int, writes *float64, failure *error) func(b *testing.B) {
	return writeKindBench(l, k, size, func(prefix []byte) writeConn { return NewReplayConn(prefix, nil, -1) }, writes, failure)
}

// LockedWriteKindBench is WriteKindBench writing to a LockedConn, whose
// Write only takes a lock and copies: the write-locked workload, an outside
// referee's setup for small writes.
func LockedWriteKindBench(l *Lib, k Kind, size int, writes *float64, failure *error) func(b *testing.B) {
	return writeKindBench(l, k, size, func(prefix []byte) writeConn { return NewLockedConn(prefix) }, writes, failure)
}

// writeConn is the in-memory conn of a write workload.
type writeConn interface {
	net.Conn
	Writes() (calls, bytes int64)
	ResetWrites()
}

func writeKindBench(l *Lib, k Kind, size int, newConn func(prefix []byte) writeConn, writes *float64, failure *error) func(b *testing.B) {
	payload := KindPayload(k, size)
	return func(b *testing.B) {
		nc := newConn(upgradePrefix(l))
		c, err := memUpgrade(l, nc)
		if err != nil {
			*failure = err
			b.Fatal(err)
		}
		defer c.Close()
		defer nc.Close()
		write := c.Write
		if k != Binary {
			if write = c.WriteText; write == nil {
				*failure = ErrNoText
				b.Fatal(*failure)
			}
		}
		nc.ResetWrites()
		b.SetBytes(int64(size))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := write(payload); err != nil {
				*failure = fmt.Errorf("%s: write: %w", l.Name, err)
				b.Fatal(*failure)
			}
		}
		b.StopTimer()
		calls, n := nc.Writes()
		if n < int64(b.N)*int64(size+2) {
			*failure = fmt.Errorf("%s: wrote %d bytes for %d messages of %d bytes", l.Name, n, b.N, size)
			b.Fatal(*failure)
		}
		*writes = float64(calls) / float64(b.N)
	}
}

// ErrNoText is the failure of a text write workload for a library whose
// adapter has no WriteText.
var ErrNoText = errors.New("the adapter writes no text messages")

// BenchRead runs ReadBench with testing.Benchmark.
func BenchRead(l *Lib, size int) (MemResult, error) { return BenchReadKind(l, Binary, size) }

// BenchWrite runs WriteBench with testing.Benchmark.
func BenchWrite(l *Lib, size int) (MemResult, error) { return BenchWriteKind(l, Binary, size) }

// BenchReadKind runs ReadKindBench with testing.Benchmark.
func BenchReadKind(l *Lib, k Kind, size int) (MemResult, error) {
	var failure error
	r := testing.Benchmark(ReadKindBench(l, k, size, &failure))
	if failure != nil {
		return MemResult{}, failure
	}
	return memResult(r), nil
}

// BenchWriteKind runs WriteKindBench with testing.Benchmark.
func BenchWriteKind(l *Lib, k Kind, size int) (MemResult, error) {
	return runWriteBench(l, k, size, WriteKindBench)
}

// BenchLockedWriteKind runs LockedWriteKindBench with testing.Benchmark.
func BenchLockedWriteKind(l *Lib, k Kind, size int) (MemResult, error) {
	return runWriteBench(l, k, size, LockedWriteKindBench)
}

func runWriteBench(l *Lib, k Kind, size int, bench func(*Lib, Kind, int, *float64, *error) func(*testing.B)) (MemResult, error) {
	var failure error
	var writes float64
	r := testing.Benchmark(bench(l, k, size, &writes, &failure))
	if failure != nil {
		return MemResult{}, failure
	}
	m := memResult(r)
	m.WritesPerMsg = writes
	return m, nil
}

// CheckMem reads count messages of size bytes through l in memory and
// writes one, checking what was read and that a frame was written. It is the
// correctness check behind BenchRead and BenchWrite.
func CheckMem(l *Lib, size, count int) error { return CheckMemKind(l, Binary, size, count) }

// CheckMemKind is CheckMem for messages of kind k.
func CheckMemKind(l *Lib, k Kind, size, count int) error {
	wire, payload := MaskedKindFrames(k, size, count)
	nc, c, err := memConn(l, wire, int64(len(wire)))
	if err != nil {
		return err
	}
	defer nc.Close()
	got := 0
	var bad error
	err = c.Read(count, func(p []byte) {
		got++
		if bad == nil && !bytes.Equal(p, payload) {
			bad = fmt.Errorf("%s: message %d: got %d bytes, want %d (or contents differ)", l.Name, got, len(p), len(payload))
		}
	})
	c.Close()
	if err != nil {
		return fmt.Errorf("%s: read: %w", l.Name, err)
	}
	if bad != nil {
		return bad
	}
	if got != count {
		return fmt.Errorf("%s: read %d messages, want %d", l.Name, got, count)
	}

	nc, c, err = memConn(l, nil, -1)
	if err != nil {
		return err
	}
	defer nc.Close()
	defer c.Close()
	nc.Capture()
	write := c.Write
	if k != Binary {
		if write = c.WriteText; write == nil {
			return fmt.Errorf("%s: %w", l.Name, ErrNoText)
		}
	}
	for range 2 {
		if err := write(payload); err != nil {
			return fmt.Errorf("%s: write: %w", l.Name, err)
		}
	}
	// Parse what went on the wire with the benchmark client's own frame
	// reader: two unmasked messages of k's opcode equal to payload, nothing
	// more.
	out := &Client{br: bufio.NewReader(bytes.NewReader(nc.Captured()))}
	var buf []byte
	for i := range 2 {
		op, p, err := out.ReadMessage(buf)
		if err != nil {
			return fmt.Errorf("%s: written message %d: %w", l.Name, i, err)
		}
		if op != k.opcode() || !bytes.Equal(p, payload) {
			return fmt.Errorf("%s: written message %d: opcode %d, %d bytes; want opcode %d, %d bytes", l.Name, i, op, len(p), k.opcode(), size)
		}
		buf = p
	}
	if n := out.br.Buffered(); n != 0 {
		return fmt.Errorf("%s: %d stray bytes written after two messages", l.Name, n)
	}
	return nil
}

// SetBenchTime sets the target duration of each in-memory benchmark.
func SetBenchTime(d time.Duration) {
	testing.Init()
	flag.Set("test.benchtime", d.String())
}
