//go:build !js

package websocket

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics counts what an Observer sees: connections opened and open,
// handshakes refused by status, messages and bytes each way, close codes,
// drops and pongs. Give it to the Observer of AcceptOptions or DialOptions
// (Observer.Metrics) and read Snapshot, or publish it with expvar, whose
// /debug/vars then serves it as JSON:
//
//	var m websocket.Metrics
//	expvar.Publish("websocket", &m)
//	opts := &websocket.AcceptOptions{Observer: &websocket.Observer{Metrics: &m}}
//
// The zero value is ready to use. A Metrics is safe for concurrent use and
// costs a few atomic additions per event; one Metrics may count for many
// Observers.
type Metrics struct {
	open, total                        atomic.Int64
	msgsIn, msgsOut                    atomic.Int64
	bytesIn, bytesOut, wireIn, wireOut atomic.Int64
	pongs, pongNanos                   atomic.Int64

	mu      sync.Mutex
	refusal map[int]int64
	closes  map[StatusCode]int64
	drops   map[DropReason]int64
}

// MetricsSnapshot is what a Metrics has counted, at one time.
type MetricsSnapshot struct {
	ConnsOpen          int64                `json:"conns_open"`
	ConnsOpened        int64                `json:"conns_opened"`
	HandshakesRefused  map[int]int64        `json:"handshakes_refused"` // by HTTP status
	MessagesIn         int64                `json:"messages_in"`
	MessagesOut        int64                `json:"messages_out"`
	BytesIn            int64                `json:"bytes_in"` // payload, as the application reads it
	BytesOut           int64                `json:"bytes_out"`
	WireBytesIn        int64                `json:"wire_bytes_in"` // payload on the wire, compressed or not
	WireBytesOut       int64                `json:"wire_bytes_out"`
	Closes             map[StatusCode]int64 `json:"closes"` // by CloseInfo.Code
	Drops              map[DropReason]int64 `json:"drops"`
	Pongs              int64                `json:"pongs"`
	PongRoundTripTotal time.Duration        `json:"pong_round_trip_total_ns"` // over Pongs: the mean
}

// Snapshot returns the counts so far.
func (m *Metrics) Snapshot() MetricsSnapshot {
	m.mu.Lock()
	s := MetricsSnapshot{
		HandshakesRefused: clonedOrEmpty(m.refusal),
		Closes:            clonedOrEmpty(m.closes),
		Drops:             clonedOrEmpty(m.drops),
	}
	m.mu.Unlock()
	s.ConnsOpen, s.ConnsOpened = m.open.Load(), m.total.Load()
	s.MessagesIn, s.MessagesOut = m.msgsIn.Load(), m.msgsOut.Load()
	s.BytesIn, s.BytesOut = m.bytesIn.Load(), m.bytesOut.Load()
	s.WireBytesIn, s.WireBytesOut = m.wireIn.Load(), m.wireOut.Load()
	s.Pongs, s.PongRoundTripTotal = m.pongs.Load(), time.Duration(m.pongNanos.Load())
	return s
}

func clonedOrEmpty[K comparable](m map[K]int64) map[K]int64 {
	c := make(map[K]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// String returns the snapshot as JSON, which makes a *Metrics an
// expvar.Var.
func (m *Metrics) String() string {
	b, _ := json.Marshal(m.Snapshot())
	return string(b)
}

func (m *Metrics) opened() {
	m.open.Add(1)
	m.total.Add(1)
}

func (m *Metrics) refused(status int) {
	m.mu.Lock()
	if m.refusal == nil {
		m.refusal = make(map[int]int64)
	}
	m.refusal[status]++
	m.mu.Unlock()
}

func (m *Metrics) read(info MessageInfo) {
	m.msgsIn.Add(1)
	m.bytesIn.Add(int64(info.Len))
	m.wireIn.Add(int64(info.Wire))
}

func (m *Metrics) written(info MessageInfo) {
	m.msgsOut.Add(1)
	m.bytesOut.Add(int64(info.Len))
	m.wireOut.Add(int64(info.Wire))
}

func (m *Metrics) pong(rtt time.Duration) {
	m.pongs.Add(1)
	m.pongNanos.Add(int64(rtt))
}

func (m *Metrics) closed(info CloseInfo) {
	m.open.Add(-1)
	m.mu.Lock()
	if m.closes == nil {
		m.closes = make(map[StatusCode]int64)
	}
	m.closes[info.Code]++
	m.mu.Unlock()
}

func (m *Metrics) dropped(r DropReason) {
	m.mu.Lock()
	if m.drops == nil {
		m.drops = make(map[DropReason]int64)
	}
	m.drops[r]++
	m.mu.Unlock()
}
