package main

import (
	"strconv"
	"time"

	"github.com/fullduplex/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// NewObserver returns an Observer whose hooks count what the connections it
// is given to do, in Prometheus collectors registered on reg:
//
//	websocket_connections_open                         gauge
//	websocket_connections_total{role,protocol}         counter
//	websocket_handshake_seconds{role}                  histogram
//	websocket_handshakes_refused_total{role,status}    counter
//	websocket_messages_total{direction,type}           counter
//	websocket_message_bytes_total{direction,type}      counter
//	websocket_wire_bytes_total{direction}              counter
//	websocket_ping_rtt_seconds                         histogram
//	websocket_closes_total{code,by_peer}               counter
//	websocket_drops_total{reason}                      counter
//
// Every label has a bounded set of values (see closeCodeLabel and
// statusLabel), so a peer cannot grow the number of series. The hooks run on
// the connections' goroutines: a message costs three atomic additions, on
// counters looked up once, here, and no allocation (BenchmarkObserver).
//
// Give the Observer to AcceptOptions or DialOptions, or both: role tells
// their connections apart. Its Metrics and Logger fields are free for the
// ready-made observers. reg must not hold these names already; to run two,
// wrap reg with prometheus.WrapRegistererWith and a label of your own.
func NewObserver(reg prometheus.Registerer) (*websocket.Observer, error) {
	m := newPromMetrics()
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m.observer(), nil
}

// Label values, indexed as the curried children of promMetrics are.
var (
	roles      = [2]string{"client", "server"} // by ConnInfo.Server, RefusalInfo.Server
	protocols  = [2]string{"h1", "h2"}         // by ConnInfo.HTTP2: HTTP/1.1 upgrade, RFC 8441 stream
	directions = [2]string{"in", "out"}        // read, written
	types      = [2]string{"text", "binary"}
)

const (
	in, out = 0, 1
)

// latencyBuckets suit a handshake or a ping's round trip, from a loopback
// peer's 100µs to a distant or overloaded one's 5s.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// promMetrics holds the collectors, and the children of the vectors that
// the hooks use per message or per connection, curried once: a hook then
// indexes an array instead of hashing label values under a lock.
type promMetrics struct {
	open       prometheus.Gauge
	conns      *prometheus.CounterVec
	handshakes *prometheus.HistogramVec
	refused    *prometheus.CounterVec
	messages   *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	wire       *prometheus.CounterVec
	rtt        prometheus.Histogram
	closes     *prometheus.CounterVec
	drops      *prometheus.CounterVec

	connsBy     [2][2]prometheus.Counter                    // [server][http2]
	handshakeBy [2]prometheus.Observer                      // [server]
	messagesBy  [2][2]prometheus.Counter                    // [direction][type]
	bytesBy     [2][2]prometheus.Counter                    // [direction][type]
	wireBy      [2]prometheus.Counter                       // [direction]
	dropsBy     map[websocket.DropReason]prometheus.Counter // read-only once made
}

func newPromMetrics() *promMetrics {
	m := &promMetrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "websocket_connections_open",
			Help: "WebSocket connections open now: opened and not yet closed.",
		}),
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "websocket_connections_total",
			Help: "WebSocket connections opened, by role (server: accepted, client: dialled) and protocol (h1: HTTP/1.1 upgrade, h2: HTTP/2 stream).",
		}, []string{"role", "protocol"}),
		handshakes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "websocket_handshake_seconds",
			Help:    "Duration of the successful opening handshakes, from Accept's or Dial's call to the handshake's end, by role.",
			Buckets: latencyBuckets,
		}, []string{"role"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "websocket_handshakes_refused_total",
			Help: "Opening handshakes refused, by role (server: refused by this server, client: a server refused ours) and HTTP status.",
		}, []string{"role", "status"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "websocket_messages_total",
			Help: "Data messages read (in) and written (out), by type.",
		}, []string{"direction", "type"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "websocket_message_bytes_total",
			Help: "Payload bytes of the data messages, as the application reads or writes them, by direction and type.",
		}, []string{"direction", "type"}),
		wire: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "websocket_wire_bytes_total",
			Help: "Payload bytes of the data messages as they travel (compressed, if they were; frame headers not counted), by direction.",
		}, []string{"direction"}),
		rtt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "websocket_ping_rtt_seconds",
			Help:    "Round trip of each ping a pong answered: Conn.Ping's and the keep-alive's of AcceptOptions and DialOptions (a Poller's keep-alive measures none).",
			Buckets: latencyBuckets,
		}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "websocket_closes_total",
			Help: "Connections closed, by the close code of the Close frame that began the closing handshake (1006: none went either way; 3xxx, 4xxx: the application ranges, lumped) and whether the peer sent it first.",
		}, []string{"code", "by_peer"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "websocket_drops_total",
			Help: "Connections a Group or a Poller dropped because the peer did not keep up, by reason.",
		}, []string{"reason"}),
	}
	// Every child a hook may use on a hot path is made now, which also
	// exports its series at 0 from the start, as rate() wants.
	for s := range 2 {
		for h := range 2 {
			m.connsBy[s][h] = m.conns.WithLabelValues(roles[s], protocols[h])
		}
		m.handshakeBy[s] = m.handshakes.WithLabelValues(roles[s])
	}
	for d := range 2 {
		for t := range 2 {
			m.messagesBy[d][t] = m.messages.WithLabelValues(directions[d], types[t])
			m.bytesBy[d][t] = m.bytes.WithLabelValues(directions[d], types[t])
		}
		m.wireBy[d] = m.wire.WithLabelValues(directions[d])
	}
	m.dropsBy = make(map[websocket.DropReason]prometheus.Counter)
	for _, r := range []websocket.DropReason{websocket.DropQueueFull, websocket.DropWriteTimeout, websocket.DropMessageTimeout, websocket.DropNoPong} {
		m.dropsBy[r] = m.drops.WithLabelValues(string(r))
	}
	return m
}

func (m *promMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.open, m.conns, m.handshakes, m.refused, m.messages, m.bytes, m.wire, m.rtt, m.closes, m.drops}
}

func (m *promMetrics) observer() *websocket.Observer {
	return &websocket.Observer{
		Opened: func(_ *websocket.Conn, info websocket.ConnInfo) {
			m.open.Inc()
			m.connsBy[b2i(info.Server)][b2i(info.HTTP2)].Inc()
			m.handshakeBy[b2i(info.Server)].Observe(info.Handshake.Seconds())
		},
		Refused: func(info websocket.RefusalInfo) {
			m.refused.WithLabelValues(roles[b2i(info.Server)], statusLabel(info.Status)).Inc()
		},
		Read: func(_ *websocket.Conn, info websocket.MessageInfo) {
			m.message(in, info)
		},
		Written: func(_ *websocket.Conn, info websocket.MessageInfo) {
			m.message(out, info)
		},
		Pong: func(_ *websocket.Conn, rtt time.Duration) {
			m.rtt.Observe(rtt.Seconds())
		},
		Closed: func(_ *websocket.Conn, info websocket.CloseInfo) {
			m.open.Dec()
			m.closes.WithLabelValues(closeCodeLabel(info.Code), strconv.FormatBool(info.ByPeer)).Inc()
		},
		Dropped: func(_ *websocket.Conn, info websocket.DropInfo) {
			if c, ok := m.dropsBy[info.Reason]; ok {
				c.Inc()
			} else { // a reason newer than this file: still bounded, by the library's constants
				m.drops.WithLabelValues(string(info.Reason)).Inc()
			}
		},
	}
}

// message counts a data message read (in) or written (out): three atomic
// additions.
func (m *promMetrics) message(dir int, info websocket.MessageInfo) {
	t := 0
	if info.Op == websocket.OpBinary {
		t = 1
	}
	m.messagesBy[dir][t].Inc()
	m.bytesBy[dir][t].Add(float64(info.Len))
	m.wireBy[dir].Add(float64(info.Wire))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// closeCodeLabel returns the code label of a close code. The codes RFC 6455
// and IANA's registry define (1000-1015) are labelled as themselves, but
// 3000-4999, which a peer may choose from freely, are lumped into "3xxx"
// and "4xxx", and anything else (which the library would not accept on the
// wire) is "other": 19 values at most, whatever peers send.
func closeCodeLabel(code websocket.StatusCode) string {
	switch {
	case code >= 1000 && code <= 1015:
		return closeCodes[code-1000]
	case code >= 3000 && code <= 3999:
		return "3xxx"
	case code >= 4000 && code <= 4999:
		return "4xxx"
	}
	return "other"
}

var closeCodes = func() (s [16]string) {
	for i := range s {
		s[i] = strconv.Itoa(1000 + i)
	}
	return s
}()

// statusLabel returns the status label of a refused handshake: the HTTP
// status, or "other" for a number outside 100-599, which a server that
// refuses a client's handshake could otherwise choose at will.
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}
