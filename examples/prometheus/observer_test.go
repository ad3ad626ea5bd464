package main

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// The hooks count into the series their labels name.
func TestObserverHooks(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs, err := NewObserver(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewObserver(reg); err == nil {
		t.Error("a second NewObserver on the same registry succeeded, want an AlreadyRegisteredError")
	}
	obs.Opened(nil, websocket.ConnInfo{Server: true, HTTP2: true, Handshake: 3 * time.Millisecond})
	obs.Read(nil, websocket.MessageInfo{Op: websocket.OpText, Len: 100, Wire: 40})
	obs.Written(nil, websocket.MessageInfo{Op: websocket.OpBinary, Len: 7, Wire: 7})
	obs.Pong(nil, time.Millisecond)
	obs.Refused(websocket.RefusalInfo{Server: false, Status: 502})
	obs.Dropped(nil, websocket.DropInfo{Reason: websocket.DropNoPong})
	obs.Closed(nil, websocket.CloseInfo{Code: 4321, ByPeer: true})
	mf, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	all := make(metrics)
	for _, f := range mf {
		all[f.GetName()] = f
	}
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"websocket_connections_total", []string{"role", "server", "protocol", "h2"}, 1},
		{"websocket_connections_open", nil, 0},
		{"websocket_handshake_seconds", []string{"role", "server"}, 1},
		{"websocket_messages_total", []string{"direction", "in", "type", "text"}, 1},
		{"websocket_message_bytes_total", []string{"direction", "in", "type", "text"}, 100},
		{"websocket_wire_bytes_total", []string{"direction", "in"}, 40},
		{"websocket_messages_total", []string{"direction", "out", "type", "binary"}, 1},
		{"websocket_message_bytes_total", []string{"direction", "out", "type", "binary"}, 7},
		{"websocket_ping_rtt_seconds", nil, 1},
		{"websocket_handshakes_refused_total", []string{"role", "client", "status", "502"}, 1},
		{"websocket_drops_total", []string{"reason", "no_pong"}, 1},
		{"websocket_closes_total", []string{"code", "4xxx", "by_peer", "true"}, 1},
	} {
		if got := all.get(t, w.name, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
}

// BenchmarkObserver is what the hooks cost: a message read or written
// (three atomic additions on curried counters), a pong (a histogram's
// observation), and, for comparison, the floor (three atomic additions on
// bare integers) and a message counted by looking its counters up by label
// values each time, which curried counters avoid.
func BenchmarkObserver(b *testing.B) {
	m := newPromMetrics()
	obs := m.observer()
	info := websocket.MessageInfo{Op: websocket.OpText, Len: 1024, Wire: 300}
	b.Run("Read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			obs.Read(nil, info)
		}
	})
	b.Run("Written", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			obs.Written(nil, info)
		}
	})
	b.Run("Read/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				obs.Read(nil, info)
			}
		})
	})
	b.Run("Pong", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			obs.Pong(nil, 250*time.Microsecond)
		}
	})
	b.Run("floor", func(b *testing.B) {
		var n, bytes, wire atomic.Uint64
		b.ReportAllocs()
		for b.Loop() {
			n.Add(1)
			bytes.Add(uint64(info.Len))
			wire.Add(uint64(info.Wire))
		}
	})
	b.Run("Read/uncurried", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.messages.WithLabelValues("in", "text").Inc()
			m.bytes.WithLabelValues("in", "text").Add(float64(info.Len))
			m.wire.WithLabelValues("in").Add(float64(info.Wire))
		}
	})
}
