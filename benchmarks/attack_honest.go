package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The honest clients of the attack workload (attack_run.go).

// honestLoad is the honest clients: each sends a message and waits for its
// echo, back to back, from start to close, and logs when each echo came
// back and how long it took, so that phases are windows of one log.
type honestLoad struct {
	addr, path string
	size       int
	frame      []byte
	base       time.Time // times are offsets from base (monotonic)
	stop       atomic.Bool
	wg         sync.WaitGroup
	cs         []*honestClient
}

type honestClient struct {
	sent atomic.Int64 // offset+1 the awaited message was sent at; 0: none

	mu   sync.Mutex
	nc   net.Conn       // the current connection, for close
	done []honestSample // echoes, in order
	errs []int64        // offsets of failures
	err  error          // the first failure
}

type honestSample struct{ at, lat int64 }

// maxHonestSamples bounds each client's log: at 16 clients sharing 100,000
// echoes a second, 2.5 minutes' worth.
const maxHonestSamples = 1 << 20

// honestDeadline bounds every honest read and write; close ends them
// sooner.
const honestDeadline = 10 * time.Minute

func (h *honestLoad) now() int64 { return int64(time.Since(h.base)) }

// startHonest connects n clients to addr, checks one echo of each byte for
// byte, and starts their load.
func startHonest(addr, path string, n, size int) (*honestLoad, error) {
	payload := Payload(size, uint64(size)+3)
	h := &honestLoad{addr: addr, path: path, size: size, base: time.Now(),
		frame: AppendFrame(nil, 0x2, payload, true, [4]byte{0x11, 0x22, 0x33, 0x44})}
	clients := make([]*Client, n)
	for i := range clients {
		c, err := h.dial()
		if err == nil {
			clients[i] = c
			var p []byte
			if err = c.WriteRaw(h.frame); err == nil {
				_, p, err = c.ReadMessage(nil)
			}
			if err == nil && !bytes.Equal(p, payload) {
				err = fmt.Errorf("echo of %d bytes: got %d, or other bytes", size, len(p))
			}
		}
		if err != nil {
			for _, c := range clients[:i+1] {
				if c != nil {
					c.Close()
				}
			}
			return nil, err
		}
	}
	for _, c := range clients {
		hc := &honestClient{nc: c.NetConn()}
		h.cs = append(h.cs, hc)
		h.wg.Add(1)
		go h.run(hc, c)
	}
	return h, nil
}

func (h *honestLoad) dial() (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := DialWith(ctx, &net.Dialer{}, h.addr, h.path, "")
	if err != nil {
		return nil, err
	}
	c.NetConn().SetDeadline(time.Now().Add(honestDeadline))
	return c, nil
}

// run is one honest client's loop, until close. A connection that fails
// is counted and made again.
func (h *honestLoad) run(hc *honestClient, c *Client) {
	defer h.wg.Done()
	buf := make([]byte, 0, h.size)
	for !h.stop.Load() {
		if c == nil {
			var err error
			if c, err = h.dial(); err != nil {
				hc.fail(h.now(), err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			hc.mu.Lock()
			hc.nc = c.NetConn()
			hc.mu.Unlock()
			if h.stop.Load() {
				break
			}
		}
		t0 := h.now()
		hc.sent.Store(t0 + 1)
		err := c.WriteRaw(h.frame)
		var p []byte
		if err == nil {
			_, p, err = c.ReadMessage(buf)
		}
		t1 := h.now()
		hc.sent.Store(0)
		if err == nil && len(p) != h.size {
			err = fmt.Errorf("echo: got %d bytes, want %d", len(p), h.size)
		}
		if err != nil {
			c.Close()
			c = nil
			if !h.stop.Load() {
				hc.fail(t1, err)
			}
			continue
		}
		buf = p
		hc.mu.Lock()
		if len(hc.done) < maxHonestSamples {
			hc.done = append(hc.done, honestSample{at: t1, lat: t1 - t0})
		}
		hc.mu.Unlock()
	}
	if c != nil {
		c.Close()
	}
}

func (hc *honestClient) fail(at int64, err error) {
	hc.mu.Lock()
	hc.errs = append(hc.errs, at)
	if hc.err == nil {
		hc.err = err
	}
	hc.mu.Unlock()
}

// failure returns the first failure of any client, if any.
func (h *honestLoad) failure() error {
	for _, hc := range h.cs {
		hc.mu.Lock()
		err := hc.err
		hc.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// close ends the load: every connection is closed, which ends a client
// that waits for an echo.
func (h *honestLoad) close() {
	h.stop.Store(true)
	for _, hc := range h.cs {
		hc.mu.Lock()
		hc.nc.Close()
		hc.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// inflight returns, of the echoes awaited at offset at, how long the
// oldest had been.
func (h *honestLoad) inflight(at int64) time.Duration {
	var worst int64
	for _, hc := range h.cs {
		if s := hc.sent.Load(); s != 0 && s-1 <= at {
			worst = max(worst, at-(s-1))
		}
	}
	return time.Duration(worst)
}

// window returns the phase from offset from to offset to, given the oldest
// echo awaited at its end.
func (h *honestLoad) window(from, to int64, inflight time.Duration) PhaseResult {
	p := PhaseResult{Elapsed: time.Duration(to - from), Max: inflight}
	var lat []int64
	for _, hc := range h.cs {
		hc.mu.Lock()
		i, _ := slices.BinarySearchFunc(hc.done, from, func(s honestSample, t int64) int { return cmpInt(s.at, t) })
		for ; i < len(hc.done) && hc.done[i].at < to; i++ {
			lat = append(lat, hc.done[i].lat)
		}
		for _, e := range hc.errs {
			if e >= from && e < to {
				p.Errors++
			}
		}
		hc.mu.Unlock()
	}
	p.Msgs = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		p.P50 = time.Duration(lat[len(lat)/2])
		p.P99 = time.Duration(lat[min(len(lat)-1, len(lat)*99/100)])
		p.Max = max(p.Max, time.Duration(lat[len(lat)-1]))
	}
	return p
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// recovery waits until every client has had an echo back after offset
// since, at most bound, and returns how long that took, or -1.
func (h *honestLoad) recovery(since int64, bound time.Duration) time.Duration {
	deadline := time.Now().Add(bound)
	for {
		var last int64
		all := true
		for _, hc := range h.cs {
			hc.mu.Lock()
			n := len(hc.done)
			ok := n > 0 && hc.done[n-1].at > since
			if ok {
				// The first echo after since.
				i, _ := slices.BinarySearchFunc(hc.done, since+1, func(s honestSample, t int64) int { return cmpInt(s.at, t) })
				last = max(last, hc.done[i].at)
			}
			hc.mu.Unlock()
			all = all && ok
		}
		if all {
			return time.Duration(last - since)
		}
		if time.Now().After(deadline) {
			return -1
		}
		time.Sleep(10 * time.Millisecond)
	}
}
