//go:build !js

package websocket

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Observer lets an application watch its connections: how each opened,
// the messages it carried, the pongs that answered its pings, how it ended,
// and what the library refused or dropped. Set it in AcceptOptions or
// DialOptions; a Conn keeps it for its whole life, and the Groups and
// Pollers that serve the Conn report to it too. Every field is optional.
//
// Like net/http/httptrace's ClientTrace, an Observer is a set of functions
// called as things happen, synchronously, on the goroutine where they
// happen: Accept's or Dial's caller for Opened and Refused, the reading
// goroutine (or the Poller's worker) for Read, the writer for Written, the
// pinging goroutine for Pong, and for Closed and Dropped the goroutine that
// ended the connection, or a Poller's worker. They must be quick and must
// not block: an observer that blocks holds up the goroutine it runs on, as
// a slow handler would, and so that connection, but no other, and never a
// Poller's poll goroutine or its sweep, which report nothing themselves. A
// Conn with no Observer pays one nil check per event.
//
// Metrics and Logger are the ready-made observers: counters a server can
// publish (expvar, or as a starting point for Prometheus or OpenTelemetry),
// and structured logs through log/slog.
type Observer struct {
	// Opened is called once a handshake has succeeded, before Accept,
	// AcceptConn or Dial returns the Conn.
	Opened func(c *Conn, info ConnInfo)

	// Refused is called when a server refuses a handshake, and when a
	// client's handshake is answered with anything but a 101 (an
	// HTTP/2 server: with anything but a 200).
	Refused func(info RefusalInfo)

	// Read is called with each data message once its last byte is read.
	Read func(c *Conn, info MessageInfo)

	// Written is called with each data message once its last frame is
	// written (under a Poller: written or queued).
	Written func(c *Conn, info MessageInfo)

	// Pong is called with the round trip of each ping that a pong
	// answered: Conn.Ping's, and those of AcceptOptions.PingInterval and
	// DialOptions.PingInterval. A Poller's keep-alive measures none.
	Pong func(c *Conn, rtt time.Duration)

	// Closed is called once, when the connection has closed.
	Closed func(c *Conn, info CloseInfo)

	// Dropped is called when a Group or a Poller closes a Conn whose peer
	// does not keep up, before Closed.
	Dropped func(c *Conn, info DropInfo)

	// Metrics, if not nil, counts every event (see Metrics).
	Metrics *Metrics

	// Logger, if not nil, records what the library otherwise keeps to
	// itself: each refused handshake (at Info), each connection that ends
	// in a failure rather than a closing handshake (Warn), and each drop
	// (Warn). Nothing else is logged: a healthy connection logs nothing.
	Logger *slog.Logger
}

// ConnInfo tells how a connection opened.
type ConnInfo struct {
	Server      bool          // the Conn is the server's end
	HTTP2       bool          // the WebSocket is a stream of an HTTP/2 connection (RFC 8441)
	Subprotocol string        // as Conn.Subprotocol
	Extensions  string        // the Sec-WebSocket-Extensions the handshake agreed, or ""
	Handshake   time.Duration // from Accept's call, or Dial's, to the handshake's end
	RemoteAddr  net.Addr
}

// RefusalInfo tells why a handshake failed.
type RefusalInfo struct {
	Server     bool   // refused by this server; else a client's handshake was refused
	Status     int    // the HTTP status of the answer
	Reason     string // the reason given with it
	RemoteAddr string // the peer's address, as net/http gives it
}

// MessageInfo describes a data message.
type MessageInfo struct {
	Op   Opcode // OpText or OpBinary
	Len  int    // the payload as the application reads or writes it
	Wire int    // the payload as it travels: compressed, if it was; frame headers not counted
}

// CloseInfo tells how a connection ended.
type CloseInfo struct {
	// Code and Reason are those of the Close frame that began the closing
	// handshake, the peer's if ByPeer, or StatusAbnormalClosure (1006) if
	// no Close frame went either way.
	Code   StatusCode
	Reason string
	ByPeer bool

	// Err is nil after a closing handshake, and after CloseNow; otherwise
	// it is the failure that ended the connection: the peer's violation
	// (Code is then the one sent for it), the end of the stream, a
	// timeout, or why a Poller or Group dropped it.
	Err error
}

// DropInfo tells why a Group or a Poller dropped a Conn.
type DropInfo struct {
	Reason DropReason
	Group  *Group // the Group that dropped it; nil for a Poller
	Queued int    // what was queued for the peer: messages for a Group, bytes for a Poller
}

// DropReason is why a Conn was dropped: one of the constants below, whose
// values suit labels of metrics.
type DropReason string

// The reasons for a drop.
const (
	DropQueueFull      DropReason = "queue_full"      // a Group's queue for the member was full (QueueSize or QueueBytes)
	DropWriteTimeout   DropReason = "write_timeout"   // output waited past the write timeout
	DropMessageTimeout DropReason = "message_timeout" // a Poller's MessageTimeout passed mid-message
	DropNoPong         DropReason = "no_pong"         // a keep-alive's ping went unanswered
)

// connExtra is what a Conn keeps beyond the read and write paths, only
// when it has any of it: the outcome of its handshake and its Observer,
// with what the Observer will be told of the close. It is apart from the
// Conn, which then pays 8 bytes for all of it (the idle workload of
// benchmarks/).
type connExtra struct {
	subprotocol string
	resp        *http.Response // Dial's 101 response
	obs         *Observer
	remote      net.Addr // the peer's, kept for the Observer: a Poller's Conn has none once closed

	// The closing handshake, as far as it went; closed.mu.
	sent, got         bool // a Close frame was sent, received
	peerFirst         bool // the peer's came first
	sentCode, gotCode StatusCode
	sentWhy, gotWhy   string
	failure           error

	// stopPings, closed, ends the keep-alive of the PingInterval option:
	// a Poller with a PingInterval of its own takes over (Poller.Add).
	stopPings chan struct{}
}

// observer returns c's Observer, or nil.
func (c *Conn) observer() *Observer {
	if c.x == nil {
		return nil
	}
	return c.x.obs
}

// opened reports a new Conn: the Observer is kept, and told.
func (c *Conn) opened(o *Observer, start time.Time, http2 bool, ext string) {
	if o == nil {
		return
	}
	if c.x == nil {
		c.x = new(connExtra)
	}
	c.x.obs, c.x.remote = o, c.RemoteAddr()
	info := ConnInfo{Server: c.server, HTTP2: http2, Subprotocol: c.Subprotocol(), Extensions: ext,
		Handshake: time.Since(start), RemoteAddr: c.x.remote}
	if o.Metrics != nil {
		o.Metrics.opened()
	}
	if o.Opened != nil {
		o.Opened(c, info)
	}
}

// refused reports a refused handshake.
func (o *Observer) refused(info RefusalInfo) {
	if o == nil {
		return
	}
	if o.Metrics != nil {
		o.Metrics.refused(info.Status)
	}
	if o.Logger != nil {
		o.Logger.Info("websocket: handshake refused", "status", info.Status, "reason", info.Reason, "remote", info.RemoteAddr, "server", info.Server)
	}
	if o.Refused != nil {
		o.Refused(info)
	}
}

// observeRead reports a message read whole: n bytes, wire on the wire.
//
//go:noinline
func (c *Conn) observeRead(op Opcode, n, wire int64) {
	o := c.x.obs
	info := MessageInfo{Op: op, Len: int(n), Wire: int(wire)}
	if o.Metrics != nil {
		o.Metrics.read(info)
	}
	if o.Read != nil {
		o.Read(c, info)
	}
}

// observeWritten reports a message written: n bytes, wire on the wire.
//
//go:noinline
func (c *Conn) observeWritten(op Opcode, n, wire int) {
	o := c.x.obs
	info := MessageInfo{Op: op, Len: n, Wire: wire}
	if o.Metrics != nil {
		o.Metrics.written(info)
	}
	if o.Written != nil {
		o.Written(c, info)
	}
}

// observePong reports a ping's round trip.
func (c *Conn) observePong(rtt time.Duration) {
	o := c.observer()
	if o == nil {
		return
	}
	if o.Metrics != nil {
		o.Metrics.pong(rtt)
	}
	if o.Pong != nil {
		o.Pong(c, rtt)
	}
}

// observeDrop reports a drop, before the Conn is closed.
func (c *Conn) observeDrop(info DropInfo) {
	o := c.observer()
	if o == nil {
		return
	}
	if o.Metrics != nil {
		o.Metrics.dropped(info.Reason)
	}
	if o.Logger != nil {
		o.Logger.Warn("websocket: peer dropped", "reason", string(info.Reason), "queued", info.Queued, "remote", c.x.remote)
	}
	if o.Dropped != nil {
		o.Dropped(c, info)
	}
}

// The closing handshake and failures are recorded as they happen, when an
// Observer is set, and reported once the connection has closed.

// noteSent records the Close frame c sends. The caller holds frameMu.
func (c *Conn) noteSent(code StatusCode, reason string) {
	if c.observer() == nil {
		return
	}
	c.closed.mu.Lock()
	if !c.x.sent {
		c.x.sent, c.x.sentCode, c.x.sentWhy = true, code, reason
	}
	c.closed.mu.Unlock()
}

// noteGot records the peer's Close frame; peerFirst if c had sent none.
func (c *Conn) noteGot(ce *CloseError, peerFirst bool) {
	if c.observer() == nil {
		return
	}
	c.closed.mu.Lock()
	c.x.got, c.x.gotCode, c.x.gotWhy, c.x.peerFirst = true, ce.Code, ce.Reason, peerFirst
	c.closed.mu.Unlock()
}

// noteFailure records the failure that ends the connection, the first one.
func (c *Conn) noteFailure(err error) {
	if c.observer() == nil || err == nil {
		return
	}
	c.closed.mu.Lock()
	if c.x.failure == nil {
		c.x.failure = err
	}
	c.closed.mu.Unlock()
}

// closeInfo is what Closed is told. The caller holds closed.mu.
func (x *connExtra) closeInfo() CloseInfo {
	info := CloseInfo{Code: StatusAbnormalClosure, Err: x.failure}
	switch {
	case x.got && (x.peerFirst || !x.sent):
		info.Code, info.Reason, info.ByPeer = x.gotCode, x.gotWhy, true
	case x.sent:
		info.Code, info.Reason = x.sentCode, x.sentWhy
	}
	return info
}

// observeClosed reports c's end, with err, if not nil, the failure as the
// caller knows it better than the Conn does: a drop's, over the end of the
// stream the drop made.
func (c *Conn) observeClosed(err error) {
	o := c.observer()
	if o == nil {
		return
	}
	c.closed.mu.Lock()
	if err != nil {
		c.x.failure = err
	}
	info := c.x.closeInfo()
	c.closed.mu.Unlock()
	if o.Metrics != nil {
		o.Metrics.closed(info)
	}
	if o.Logger != nil && info.Err != nil && !IsNormalClose(info.Err) && !errors.Is(info.Err, errLocalClose) {
		o.Logger.Warn("websocket: connection failed", "code", int(info.Code), "err", info.Err.Error(), "remote", c.x.remote)
	}
	if o.Closed != nil {
		o.Closed(c, info)
	}
}

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
