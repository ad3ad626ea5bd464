package benchmarks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The attackers of the attack workload (attack_run.go): hostile peers that
// try to hold a server's resources with little of their own, run in a
// process of their own so that their CPU and descriptors are not the
// honest clients'. Every kind completes the opening handshake first.
//
//   - trickle-data: a 7-byte masked binary frame (1-byte payload) sent one
//     byte a second, frame after frame, for ever; a dropped connection is
//     not made again.
//   - trickle-header: the first byte of a frame header, then nothing; when
//     the server drops the connection, connect and do it again.
//   - trickle-ping: trickle-data with ping frames.
//   - nonreader: 8 MiB in masked 64 KiB binary messages, written as fast as
//     the socket takes them, and nothing ever read (an echo server's
//     answers pile up): SO_RCVBUF is set to 4 KiB before connecting (the
//     kernel doubles it), so the window it advertises stays tiny.
//
// Nonreaders hold, sending nothing more but keeping their connections and
// still reading nothing, once the machine's TCP buffers pass
// AttackConfig.MaxTCPMem, or when told to ("hold" on their input, which the
// workload sends when the server's RSS passes its bound). A server that
// stops reading them leaves several MiB of each in kernel buffers (its
// receive buffer grows while it reads fast, up to tcp_rmem), and 1,024 of
// them would take the machine past tcp_mem, where every socket on it
// suffers, not only the server's.
//
// Only IPv4 loopback is attacked: this is an instrument for servers on the
// same machine.

// AttackKind names one kind of attacker.
type AttackKind string

// The kinds of attacker.
const (
	TrickleData   AttackKind = "trickle-data"
	TrickleHeader AttackKind = "trickle-header"
	TricklePing   AttackKind = "trickle-ping"
	NonReader     AttackKind = "nonreader"
)

// AttackKinds lists every AttackKind in table order.
var AttackKinds = []AttackKind{TrickleData, TrickleHeader, TricklePing, NonReader}

const (
	// trickleEvery is the pace of the trickling kinds: one byte a second.
	trickleEvery = time.Second
	// NonReaderTotal is what each nonreader sends, in messages of
	// NonReaderMessage bytes.
	NonReaderTotal   = 8 << 20
	NonReaderMessage = 64 << 10
	// nonreaderRcvBuf keeps a nonreader's receive window tiny; the kernel
	// doubles it and enforces a floor of about 4.5 KiB.
	nonreaderRcvBuf = 4 << 10
	// nonreaderSndBuf bounds what the kernel holds for each nonreader on
	// this side: 1,024 of them with autotuned send buffers (up to 4 MiB)
	// could push the machine's TCP memory (tcp_mem) into pressure, which
	// would hurt every socket on it, not only the server's.
	nonreaderSndBuf = 128 << 10
)

// AttackConfig is what an attacker process does.
type AttackConfig struct {
	Kind AttackKind
	N    int    // connections
	Addr string // host:port of the server, IPv4 loopback
	Path string // request path; "" is /ws
	Rate int    // connections a second while ramping up; 0 is 500
	// For bounds the attackers' life, so that they end even if nothing
	// tells them to; 0 is a minute.
	For time.Duration
	// Total is what each nonreader sends; 0 is NonReaderTotal.
	Total int
	// MaxTCPMem makes the nonreaders hold once the machine's TCP buffers
	// (tcpMem) pass it; 0: no bound.
	MaxTCPMem uint64
}

// Spec encodes c for ParseAttackSpec, for a child process.
func (c AttackConfig) Spec() string {
	return fmt.Sprintf("%s %d %s %s %d %v %d %d", c.Kind, c.N, c.Addr, c.path(), c.Rate, c.For, c.Total, c.MaxTCPMem)
}

// ParseAttackSpec decodes what Spec encoded.
func ParseAttackSpec(s string) (AttackConfig, error) {
	var c AttackConfig
	var kind, d string
	if _, err := fmt.Sscanf(s, "%s %d %s %s %d %s %d %d", &kind, &c.N, &c.Addr, &c.Path, &c.Rate, &d, &c.Total, &c.MaxTCPMem); err != nil {
		return c, fmt.Errorf("attack spec %q: %w", s, err)
	}
	c.Kind = AttackKind(kind)
	var err error
	c.For, err = time.ParseDuration(d)
	return c, err
}

func (c AttackConfig) path() string {
	if c.Path == "" {
		return "/ws"
	}
	return c.Path
}

// checkLoopback refuses any server address but IPv4 loopback.
func checkLoopback(addr string) error {
	a, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return err
	}
	if !a.IP.IsLoopback() {
		return fmt.Errorf("attack: %s is not loopback (127.0.0.0/8): refused", addr)
	}
	return nil
}

// AttackStats counts what the attackers of one process did.
type AttackStats struct {
	Established int64 // handshakes completed, reconnections included
	Open        int64 // connections open now
	Reconnects  int64 // trickle-header: connections made again after a drop
	Dropped     int64 // connections the server closed
	Failed      int64 // connections or handshakes that failed
	Bytes       int64 // frame bytes written (nonreader: whole messages)
	Held        int64 // nonreaders that stopped before their Total, holding
}

type attackCounters struct {
	established, open, reconnects, dropped, failed, bytes, held atomic.Int64
	hold                                                        atomic.Bool // nonreaders send no more
}

func (a *attackCounters) stats() AttackStats {
	return AttackStats{a.established.Load(), a.open.Load(), a.reconnects.Load(), a.dropped.Load(), a.failed.Load(), a.bytes.Load(), a.held.Load()}
}

func (s AttackStats) String() string {
	return fmt.Sprintf("%d %d %d %d %d %d %d", s.Established, s.Open, s.Reconnects, s.Dropped, s.Failed, s.Bytes, s.Held)
}

func parseAttackStats(f []string) (AttackStats, error) {
	var v [7]int64
	if len(f) != len(v) {
		return AttackStats{}, fmt.Errorf("attackers: bad stats %q", f)
	}
	for i := range v {
		var err error
		if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return AttackStats{}, err
		}
	}
	return AttackStats{v[0], v[1], v[2], v[3], v[4], v[5], v[6]}, nil
}

// RunAttackers runs c.N attackers of kind c.Kind against c.Addr. They
// connect at c.Rate a second, from 127.0.0.2-9 (so that reconnections do not
// run out of ephemeral ports while closed ones sit in TIME_WAIT); once each
// has connected (or failed to) it prints "READY" and the stats, then
// answers each "stats" line read from in with "STATS" and the stats
// (AttackStats.String); a "hold" line makes nonreaders send no more. When
// in ends or c.For has passed, it closes every connection, prints "DONE"
// and the stats, and returns.
func RunAttackers(c AttackConfig, in io.Reader, out io.Writer) error {
	if c.Rate <= 0 {
		c.Rate = 500
	}
	if c.For <= 0 {
		c.For = time.Minute
	}
	if c.Total <= 0 {
		c.Total = NonReaderTotal
	}
	if err := checkLoopback(c.Addr); err != nil {
		return err
	}
	var run func(ctx context.Context, a *attackCounters, i int, ready func())
	switch c.Kind {
	case TrickleData:
		run = c.trickle(0x2)
	case TricklePing:
		run = c.trickle(0x9)
	case TrickleHeader:
		run = c.header
	case NonReader:
		run = c.nonReader()
	default:
		return fmt.Errorf("attack: unknown kind %q", c.Kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.For)
	defer cancel()
	var (
		a      attackCounters
		wg     sync.WaitGroup
		outMu  sync.Mutex
		ramped sync.WaitGroup
	)
	say := func(word string) {
		outMu.Lock()
		fmt.Fprintf(out, "%s %s\n", word, a.stats())
		outMu.Unlock()
	}
	ended := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			switch strings.TrimSpace(sc.Text()) {
			case "stats":
				say("STATS")
			case "hold":
				a.hold.Store(true)
			}
		}
		close(ended)
	}()
	if c.Kind == NonReader && c.MaxTCPMem > 0 {
		// Every 20 ms: 1,024 nonreaders on loopback fill buffers at a
		// GB a second or more.
		go func() {
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for !a.hold.Load() {
				if tcpMem() > c.MaxTCPMem {
					a.hold.Store(true)
				}
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		select {
		case <-ended:
		case <-ctx.Done():
		}
		cancel()
	}()
	start := time.Now()
	ramped.Add(c.N)
	for i := range c.N {
		// A bounded rate: a burst of thousands of connections would fill
		// the server's accept queue and measure that instead.
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(c.Rate))); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			ready := func() { once.Do(ramped.Done) }
			defer ready()
			if ctx.Err() == nil {
				run(ctx, &a, i, ready)
			}
		}()
	}
	ramped.Wait()
	say("READY")
	<-ctx.Done()
	wg.Wait()
	say("DONE")
	return nil
}

// dial connects attacker i through d (nil: a plain one), completes the
// handshake and returns the socket; ctx's end closes it, so that no
// attacker outlives RunAttackers.
func (c AttackConfig) dial(ctx context.Context, a *attackCounters, i int, d *net.Dialer) (net.Conn, func(), error) {
	if d == nil {
		d = &net.Dialer{}
	}
	d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%8))}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl, err := DialWith(hctx, d, c.Addr, c.path(), "")
	if err != nil {
		a.failed.Add(1)
		return nil, nil, err
	}
	nc := cl.NetConn()
	a.established.Add(1)
	a.open.Add(1)
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	return nc, func() {
		stop()
		nc.Close()
		a.open.Add(-1)
	}, nil
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, t *time.Timer, d time.Duration) bool {
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

// trickle returns the trickling attacker of frames of opcode op.
func (c AttackConfig) trickle(op byte) func(context.Context, *attackCounters, int, func()) {
	return func(ctx context.Context, a *attackCounters, i int, ready func()) {
		nc, done, err := c.dial(ctx, a, i, nil)
		if err != nil {
			return
		}
		defer done()
		frame := AppendFrame(nil, op, []byte{'x'}, true, [4]byte{byte(i), 1, 2, 3})
		t := time.NewTimer(trickleEvery)
		defer t.Stop()
		for j := 0; ; j++ {
			if _, err := nc.Write(frame[j%len(frame) : j%len(frame)+1]); err != nil {
				if ctx.Err() == nil {
					a.dropped.Add(1)
				}
				return
			}
			a.bytes.Add(1)
			if j == 0 {
				ready()
			}
			if !sleep(ctx, t, trickleEvery) {
				return
			}
		}
	}
}

// header is the trickle-header attacker: one byte of a frame header, then
// a wait for the server to give up, then again.
func (c AttackConfig) header(ctx context.Context, a *attackCounters, i int, ready func()) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for first := true; ctx.Err() == nil; first = false {
		nc, done, err := c.dial(ctx, a, i, nil)
		if err != nil {
			ready()
			// The server may refuse while its accept queue is full: try
			// again, not in a tight loop.
			if !sleep(ctx, t, 100*time.Millisecond) {
				return
			}
			continue
		}
		if !first {
			a.reconnects.Add(1)
		}
		if _, err := nc.Write([]byte{0x82}); err == nil {
			a.bytes.Add(1)
			ready()
			// Whatever the server sends (a Close frame, say) is read and
			// dropped until it closes the connection.
			io.Copy(io.Discard, nc)
		}
		done()
		if ctx.Err() != nil {
			return
		}
		a.dropped.Add(1)
	}
}

// nonReader returns the nonreader attacker, sharing one masked message
// among all of them.
func (c AttackConfig) nonReader() func(context.Context, *attackCounters, int, func()) {
	frame := AppendFrame(nil, 0x2, Payload(NonReaderMessage, 64), true, [4]byte{0x5a, 0xa5, 0x3c, 0xc3})
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			// Before connect, so that the window scale agreed in the
			// handshake matches the small buffer.
			serr = errors.Join(
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, nonreaderRcvBuf),
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, nonreaderSndBuf))
		})
		return errors.Join(err, serr)
	}}
	return func(ctx context.Context, a *attackCounters, i int, ready func()) {
		d := d
		nc, done, err := c.dial(ctx, a, i, &d)
		if err != nil {
			return
		}
		defer done()
		ready()
		for sent := 0; sent < c.Total; sent += NonReaderMessage {
			if a.hold.Load() {
				a.held.Add(1)
				break
			}
			if _, err := nc.Write(frame); err != nil {
				if ctx.Err() == nil {
					a.dropped.Add(1)
				}
				return
			}
			a.bytes.Add(int64(len(frame)))
		}
		// Never read; hold the connection until told to stop.
		<-ctx.Done()
	}
}
