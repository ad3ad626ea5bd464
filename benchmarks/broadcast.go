package benchmarks

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// BroadcastRig is one library's broadcast hub with its clients connected.
type BroadcastRig struct {
	Lib     *Lib
	ln      *trackListener
	hub     Hub
	clients []*Client
	msgs    [][]byte

	done    sync.WaitGroup // one count per client per round
	readers sync.WaitGroup
	failed  atomic.Pointer[error]
}

// NewBroadcastRig starts l's hub and connects n clients, each of which
// expects rounds of m binary messages of size bytes numbered 0..m-1.
func NewBroadcastRig(l *Lib, n, m, size int) (*BroadcastRig, error) {
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	r := &BroadcastRig{Lib: l, ln: ln, hub: l.NewHub(ln)}
	for i := range m {
		msg := Payload(size, uint64(i))
		binary.BigEndian.PutUint32(msg, uint32(i))
		r.msgs = append(r.msgs, msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for range n {
		c, err := Dial(ctx, ln.Addr().String(), nil)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: broadcast dial: %w", l.Name, err)
		}
		r.clients = append(r.clients, c)
	}
	for r.hub.Len() < n {
		if ctx.Err() != nil {
			r.Close()
			return nil, fmt.Errorf("%s: hub has %d of %d conns", l.Name, r.hub.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
	for _, c := range r.clients {
		r.readers.Add(1)
		go r.read(c, m, size)
	}
	return r, nil
}

func (r *BroadcastRig) fail(err error) {
	r.failed.CompareAndSwap(nil, &err)
}

func (r *BroadcastRig) read(c *Client, m, size int) {
	defer r.readers.Done()
	buf := make([]byte, 0, size)
	for seq := 0; ; seq = (seq + 1) % m {
		_, p, err := c.ReadMessage(buf)
		if err != nil {
			if seq != 0 { // a round was under way
				r.fail(fmt.Errorf("%s: broadcast client: %w", r.Lib.Name, err))
				r.done.Done()
			}
			return
		}
		if len(p) != size || binary.BigEndian.Uint32(p) != uint32(seq) {
			r.fail(fmt.Errorf("%s: broadcast client: message %d: %d bytes, number %d", r.Lib.Name, seq, len(p), binary.BigEndian.Uint32(p)))
		}
		buf = p
		if seq == m-1 {
			r.done.Done()
		}
	}
}

// Round broadcasts the m messages to every client and returns the time until
// the last client had received all of them.
func (r *BroadcastRig) Round(timeout time.Duration) (time.Duration, error) {
	r.done.Add(len(r.clients))
	t0 := time.Now()
	if err := r.hub.Broadcast(r.msgs); err != nil {
		return 0, fmt.Errorf("%s: broadcast: %w", r.Lib.Name, err)
	}
	finished := make(chan struct{})
	go func() { r.done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(timeout):
		return 0, fmt.Errorf("%s: broadcast round not delivered within %v", r.Lib.Name, timeout)
	}
	elapsed := time.Since(t0)
	if p := r.failed.Load(); p != nil {
		return 0, *p
	}
	return elapsed, nil
}

// Close disconnects everything.
func (r *BroadcastRig) Close() {
	for _, c := range r.clients {
		c.Close()
	}
	r.hub.Close()
	r.ln.closeAll()
	r.readers.Wait()
}
