package main

import (
	"context"
	"errors"
	"time"

	"github.com/fullduplex/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// NewOTelObserver returns an Observer whose hooks record what NewObserver
// counts on OpenTelemetry instruments made by meter, with the same
// attributes (role, protocol, status, direction, type, code, by_peer,
// reason) and the same bounds on their values. The attribute sets a
// message or an opening needs are made here, once; closes, refusals and
// drops make theirs as they happen.
func NewOTelObserver(meter metric.Meter) (*websocket.Observer, error) {
	var errs []error
	counter := func(name, unit string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithUnit(unit))
		errs = append(errs, err)
		return c
	}
	seconds := func(name string) metric.Float64Histogram {
		h, err := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(latencyBuckets...))
		errs = append(errs, err)
		return h
	}
	open, err := meter.Int64UpDownCounter("websocket.connections.open", metric.WithUnit("{connection}"))
	conns, handshake := counter("websocket.connections", "{connection}"), seconds("websocket.handshake.duration")
	refused, rtt := counter("websocket.handshakes.refused", "{handshake}"), seconds("websocket.ping.rtt")
	messages, bytes, wire := counter("websocket.messages", "{message}"), counter("websocket.message.bytes", "By"), counter("websocket.wire.bytes", "By")
	closes, drops := counter("websocket.closes", "{connection}"), counter("websocket.drops", "{connection}")
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}

	set := func(kv ...attribute.KeyValue) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
	}
	var connsBy, msgBy [2][2][]metric.AddOption
	var roleBy [2][]metric.RecordOption
	var wireBy [2][]metric.AddOption
	for i := range 2 {
		for j := range 2 {
			connsBy[i][j] = set(attribute.String("role", roles[i]), attribute.String("protocol", protocols[j]))
			msgBy[i][j] = set(attribute.String("direction", directions[i]), attribute.String("type", types[j]))
		}
		roleBy[i] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("role", roles[i])))}
		wireBy[i] = set(attribute.String("direction", directions[i]))
	}
	ctx := context.Background()
	message := func(dir int, info websocket.MessageInfo) {
		t := b2i(info.Op == websocket.OpBinary)
		messages.Add(ctx, 1, msgBy[dir][t]...)
		bytes.Add(ctx, int64(info.Len), msgBy[dir][t]...)
		wire.Add(ctx, int64(info.Wire), wireBy[dir]...)
	}
	return &websocket.Observer{
		Opened: func(_ *websocket.Conn, info websocket.ConnInfo) {
			open.Add(ctx, 1)
			conns.Add(ctx, 1, connsBy[b2i(info.Server)][b2i(info.HTTP2)]...)
			handshake.Record(ctx, info.Handshake.Seconds(), roleBy[b2i(info.Server)]...)
		},
		Refused: func(info websocket.RefusalInfo) {
			refused.Add(ctx, 1, set(attribute.String("role", roles[b2i(info.Server)]), attribute.String("status", statusLabel(info.Status)))...)
		},
		Read:    func(_ *websocket.Conn, info websocket.MessageInfo) { message(in, info) },
		Written: func(_ *websocket.Conn, info websocket.MessageInfo) { message(out, info) },
		Pong:    func(_ *websocket.Conn, d time.Duration) { rtt.Record(ctx, d.Seconds()) },
		Closed: func(_ *websocket.Conn, info websocket.CloseInfo) {
			open.Add(ctx, -1)
			closes.Add(ctx, 1, set(attribute.String("code", closeCodeLabel(info.Code)), attribute.Bool("by_peer", info.ByPeer))...)
		},
		Dropped: func(_ *websocket.Conn, info websocket.DropInfo) {
			drops.Add(ctx, 1, set(attribute.String("reason", string(info.Reason)))...)
		},
	}, nil
}
