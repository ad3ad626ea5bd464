package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fullduplex/websocket"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestOTelObserver gives one OTel Observer to both ends of real
// connections, an echo server and its client, and reads what the SDK's
// manual reader collected: each event once per end, told apart by role
// where the instrument has it.
func TestOTelObserver(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	obs, err := NewOTelObserver(provider.Meter("github.com/fullduplex/websocket/examples/prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Observer: obs})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(op, p)
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	_, err = websocket.Dial(ctx, url, &websocket.DialOptions{Observer: obs, Header: http.Header{"Origin": {"https://elsewhere.example"}}})
	var he *websocket.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden {
		t.Fatalf("Dial from another origin: %v, want a 403", err)
	}
	c, err := websocket.Dial(ctx, url, &websocket.DialOptions{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetDeadline(time.Now().Add(patience))
	c.WriteMessage(websocket.OpText, []byte("hello"))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "hello" {
		t.Fatalf("echo: %q, %v", p, err)
	}
	go func() { // for the pong and the closing handshake
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		if otelValue(rm, "websocket.closes") == 2 { // both ends told
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for both ends' closes: %d", patience, otelValue(rm, "websocket.closes"))
		}
	}
	for _, w := range []struct {
		name  string
		attrs []string
		want  int64
	}{
		{"websocket.connections.open", nil, 0},
		{"websocket.connections", []string{"role", "server", "protocol", "h1"}, 1},
		{"websocket.connections", []string{"role", "client", "protocol", "h1"}, 1},
		{"websocket.handshake.duration", []string{"role", "server"}, 1},
		{"websocket.handshakes.refused", []string{"role", "server", "status", "403"}, 1},
		{"websocket.handshakes.refused", []string{"role", "client", "status", "403"}, 1},
		{"websocket.messages", []string{"direction", "in", "type", "text"}, 2},
		{"websocket.messages", []string{"direction", "out", "type", "text"}, 2},
		{"websocket.message.bytes", []string{"direction", "in", "type", "text"}, 10},
		{"websocket.wire.bytes", []string{"direction", "out"}, 10},
		{"websocket.ping.rtt", nil, 1},
		{"websocket.closes", []string{"code", "1000", "by_peer", "true"}, 1},  // the server's
		{"websocket.closes", []string{"code", "1000", "by_peer", "false"}, 1}, // the client's
	} {
		if got := otelValue(rm, w.name, w.attrs...); got != w.want {
			t.Errorf("%s%v = %d, want %d", w.name, w.attrs, got, w.want)
		}
	}
}

// otelValue returns, for the instrument name, the sum of the data points
// whose attributes are exactly attrs (name, value, name, value...), or of
// all its points if attrs is empty: a counter's value, a histogram's
// count. A by_peer attribute is a bool.
func otelValue(rm metricdata.ResourceMetrics, name string, attrs ...string) int64 {
	var kv []attribute.KeyValue
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i] == "by_peer" {
			kv = append(kv, attribute.Bool(attrs[i], attrs[i+1] == "true"))
		} else {
			kv = append(kv, attribute.String(attrs[i], attrs[i+1]))
		}
	}
	want := attribute.NewSet(kv...)
	match := func(s attribute.Set) bool { return len(attrs) == 0 || s.Equals(&want) }
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if match(p.Attributes) {
						n += p.Value
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if match(p.Attributes) {
						n += int64(p.Count)
					}
				}
			}
		}
	}
	return n
}

// BenchmarkOTelObserver is what a message costs the OTel Observer, with
// the SDK's meter provider behind it.
func BenchmarkOTelObserver(b *testing.B) {
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer provider.Shutdown(context.Background())
	obs, err := NewOTelObserver(provider.Meter("bench"))
	if err != nil {
		b.Fatal(err)
	}
	info := websocket.MessageInfo{Op: websocket.OpText, Len: 1024, Wire: 300}
	b.ReportAllocs()
	for b.Loop() {
		obs.Read(nil, info)
	}
}
