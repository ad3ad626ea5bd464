//go:build !js

package websocket

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fullduplex/websocket/internal/h2stream"
	"github.com/fullduplex/websocket/internal/netpoll"
)

// MessageHandler receives the messages of the connections a Poller serves.
type MessageHandler interface {
	// HandleMessage is called with each data message of c, whole, in the
	// order they arrive, never for two messages of c at once. p is valid
	// only until HandleMessage returns. It runs on one of the Poller's
	// workers, which it holds until it returns: it may write to c or to
	// other connections (writes to a Conn the Poller serves never wait),
	// close c, or block, but a handler that blocks keeps a worker from
	// the other connections.
	HandleMessage(c *Conn, op Opcode, p []byte)

	// HandleClose is called once, last, when reading c has ended, with the
	// error a blocking read would have returned: a *CloseError when the
	// peer closed the connection, an error wrapping ErrClosed when it was
	// closed on this side or dropped by the Poller, and so on. The
	// connection is closed by then.
	HandleClose(c *Conn, err error)
}

// PollerOptions configures a Poller. A nil *PollerOptions is the same as a
// zero PollerOptions, whose every field has a default.
type PollerOptions struct {
	// Workers bounds the goroutines that run the handlers; they are
	// started as needed and kept until Close. Zero means 16 per CPU
	// (runtime.GOMAXPROCS), and at least 64. Only handlers hold a worker:
	// reading and writing never wait on the network.
	Workers int

	// MessageTimeout bounds how long a frame header, a control frame or a
	// data message may take to arrive once its first byte has. A peer
	// that is slower fails the connection with StatusPolicyViolation, and
	// HandleClose gets an error whose Timeout method reports true. The
	// next message has a bound of its own, from its own first byte. Zero
	// means 10 seconds.
	MessageTimeout time.Duration

	// WriteQueueLimit bounds the output a connection may have waiting for
	// its peer to read, in bytes. A write the socket cannot take at once
	// is queued, and the caller goes on; a write begun while more than
	// WriteQueueLimit bytes wait drops the connection, since its peer is
	// not reading. A message of any size may go to a peer that keeps up:
	// what the kernel's send buffer holds (up to 4 MiB with Linux's
	// default tcp_wmem) does not count, and a message begun with the
	// queue under the limit is queued whole. A connection so holds at
	// most WriteQueueLimit plus one message. Zero means 256 KiB.
	//
	// So under a Poller WriteMessage, like every write, returns at once:
	// nil when its message is written or queued, an error wrapping
	// ErrClosed from the write that finds the queue over the limit (the
	// connection is dropped then, with no Close frame, since its peer
	// reads none), and an error wrapping ErrClosed from every write after
	// a drop. Queued output, like what the kernel buffers, is
	// lost if the connection is dropped before the peer takes it.
	WriteQueueLimit int

	// WriteTimeout bounds how long queued output may wait for the peer
	// to take it: a connection whose queue has not drained within
	// WriteTimeout of its first byte is dropped. Zero means 10 seconds.
	WriteTimeout time.Duration

	// PingInterval, if positive, keeps the connections alive: one that has
	// sent nothing for about PingInterval (between 1 and 1.5 times it) is
	// pinged, and one that still sends nothing for an interval after the
	// ping is closed, with no closing handshake, and HandleClose gets an
	// error wrapping ErrClosed that says so. Any input counts, a pong or
	// a message, so a peer busy sending is never pinged. One goroutine of
	// the Poller sweeps the connections; a connection costs no goroutine
	// or timer for it. Zero means no pings.
	//
	// A connection the Poller serves with a goroutine of its own (see
	// Poller) is pinged by a second goroutine, as the PingInterval of
	// AcceptOptions does: there it is a pong that must come back within
	// the interval.
	PingInterval time.Duration
}

// Defaults of PollerOptions.
const (
	defaultMessageTimeout  = 10 * time.Second
	defaultWriteQueueLimit = 256 << 10
	defaultPollerWrite     = 10 * time.Second
)

// A Poller serves WebSocket connections in event-driven mode: it waits for
// input on all of them at once, and a connection that has no message
// arriving holds no goroutine and no read or write buffer. On Linux it
// waits through epoll, with the same frame handling and limits as the
// blocking API (read limit, UTF-8 checks, pings answered, the closing
// handshake, compression), and calls the MessageHandler with each message once it
// has arrived whole. Connections whose readiness the kernel cannot report,
// a *tls.Conn among them (it may hold decrypted input the socket no longer
// shows), and every connection on other systems, are served by a goroutine
// of their own, with the same MessageHandler.
//
// No peer can hold the Poller up. A worker only runs handlers: input is
// read as it arrives and kept on the connection until a frame or message is
// whole (within the read limit, and MessageTimeout of its first byte), and
// output the socket cannot take waits on the connection (within
// WriteQueueLimit and WriteTimeout) and goes out when epoll reports room.
// Connections with input ready wait their turn in a queue that holds each
// at most once, and a connection with many messages buffered is served one
// message a turn, so a busy peer shares the workers fairly.
//
// Writing to a Conn a Poller serves never waits: WriteMessage and the other
// writes return nil once the message is written or queued; an error
// wrapping ErrClosed once the connection is closed, or when the write
// found more than WriteQueueLimit bytes queued, which drops the connection.
// A connection whose queue does not drain within WriteTimeout is dropped
// too. Either way HandleClose gets an error that says why. Close sends the
// Close frame and returns at once; the Poller reads the peer's answer and
// ends the connection, or closes it when the close timeout has passed.
//
// A Conn given to a Poller must not be read by the application (reads
// return an error); it may be written to and closed from any goroutine, as
// always. A pong answering Ping is read by the Poller, so a handler must
// not wait for one: use PollerOptions.PingInterval.
//
// Keep-alive: set PollerOptions.PingInterval, which costs no goroutine per
// connection. When it is set, Add stops the keep-alive of the Conn's own
// PingInterval (AcceptOptions, DialOptions): one interval rules. Without it,
// the Conn's own keeps working under the Poller, at the cost of the
// goroutine per connection the Poller is there to save.
type Poller struct {
	ep           *netpoll.Epoll // nil where there is none
	timeout      time.Duration
	queueLimit   int
	writeTimeout time.Duration
	ping         time.Duration // PollerOptions.PingInterval; 0: none
	q            readyQueue
	quit         chan struct{}  // closed by Close
	polled       chan struct{}  // closed when the poll goroutine returns
	wg           sync.WaitGroup // workers, the sweep, goroutines per connection
	closing      atomic.Bool    // Close has begun

	mu       sync.Mutex
	closed   bool
	draining chan struct{} // made by Shutdown, closed when live reaches 0
	live     int           // connections served and not yet ended
	drops    map[DropReason]int64
	seq      uint32
	spare    int                    // a descriptor kept for takeOver (takeFD); -1: none
	slots    []*pollConn            // by descriptor: the connections in ep
	others   map[*pollConn]struct{} // served by a goroutine each
}

// pollConn is a Poller's record of one connection. For a connection it
// waits on through epoll it is also the Conn's net.Conn, over a descriptor
// taken from the one the Conn came with (poller_conn_linux.go): one small
// record per connection, and no netFD or runtime poller record besides.
type pollConn struct {
	p    *Poller
	c    *Conn
	h    MessageHandler
	more *pollMore // what is pending, if anything; mu

	rdl, wdl atomic.Int64 // deadlines in Unix nanoseconds; 0: none
	sock     netpoll.FD   // the socket, under epoll; Num() -1: served by a goroutine of its own
	seq      uint32       // tells this connection from a later one on the same fd
	budget   int32        // bytes this turn may still read; readMu
	queued   int32        // bytes queued when the Poller dropped it, for the Observer; mu

	mu      sync.Mutex
	state   uint8 // pollIdle, pollQueued, pollBusy or pollDone; mu
	quiet   uint8 // keep-alive sweeps without input (poller_sweep.go); mu
	why     uint8 // why the Poller dropped it: whyOverflow, whyWriteTimeout; mu
	again   bool  // input reported while queued or busy; mu
	ended   bool  // end has run or is running; mu
	drained bool  // the last read emptied the socket; readMu
}

// pollMore is what a connection holds only while something is pending: a
// message part of which has arrived, or output that waits for the socket.
// It is let go when neither is left, so an idle connection has none. Its
// fields are guarded by pollConn.mu.
type pollMore struct {
	msg []byte // the data message in progress, as far as it has arrived
	mdl int64  // when the input pending must be complete (Unix ns); 0: none

	out       []byte // output the socket has not taken yet, from off
	off       int
	odl       int64 // when out must have drained (Unix ns)
	closeDone bool  // close the descriptor once out has drained
	shutDone  bool  // shut the sending side down once out has drained
}

func (m *pollMore) queued() int { return len(m.out) - m.off }

const (
	pollIdle   = iota // waiting for input; no worker has it
	pollPaused        // not read until its queued output has drained
	pollQueued        // in the ready queue
	pollBusy          // a worker has it, or a goroutine of its own
	pollDone          // ended: HandleClose has been or is being called
)

// wantTurn marks that pc has input to read and reports whether to queue it
// for a turn now: not while it is queued or a worker has it (the turn
// after will read), nor while output waits for the peer to take it. A
// connection whose peer has not taken what was written to it is not read
// until it has, as a blocking writer would not read: so a peer that sends
// without reading is held back by TCP's flow control, and the output kept
// for it stays within what one turn writes. The caller holds mu.
func (pc *pollConn) wantTurn() bool {
	switch pc.state {
	case pollIdle, pollPaused:
		if m := pc.more; m != nil && m.queued() > 0 {
			pc.state, pc.again = pollPaused, true
			return false
		}
		pc.state = pollQueued
		return true
	case pollQueued, pollBusy:
		pc.again = true
	}
	return false
}

const (
	whyOverflow       = 1 + iota // a write found more than WriteQueueLimit queued
	whyWriteTimeout              // the queue did not drain within WriteTimeout
	whyMessageTimeout            // input pending past MessageTimeout
)

// whyDrop is the DropReason of each why.
var whyDrop = [...]DropReason{whyOverflow: DropQueueFull, whyWriteTimeout: DropWriteTimeout, whyMessageTimeout: DropMessageTimeout}

// errOverflow is the write error of a connection dropped because its queue
// was over WriteQueueLimit.
var errOverflow = fmt.Errorf("websocket: dropped: more than the Poller's WriteQueueLimit queued for a peer that does not read: %w", ErrClosed)

// turnBudget is how many bytes a worker reads from one connection in one
// turn: a peer sending fast is then served a piece at a time, in turn with
// the others (Poller.turn).
const turnBudget = 256 << 10

// errWouldBlock is what a read of a Conn a Poller serves returns when the
// input it needs has not arrived: nothing is lost, and the read is taken up
// again when more arrives.
var errWouldBlock = netpoll.ErrWouldBlock

// errPolledRead is what the application's reads return on a Conn a Poller
// serves.
var errPolledRead = errors.New("websocket: read of a Conn a Poller serves")

var errPollerClosed = fmt.Errorf("%w: poller closed", ErrClosed)

// NewPoller returns a Poller, which serves connections until Close. opts
// may be nil.
func NewPoller(opts *PollerOptions) (*Poller, error) {
	if opts == nil {
		opts = &PollerOptions{}
	}
	p := &Poller{
		timeout:      opts.MessageTimeout,
		queueLimit:   opts.WriteQueueLimit,
		writeTimeout: opts.WriteTimeout,
		ping:         opts.PingInterval,
		quit:         make(chan struct{}),
		polled:       make(chan struct{}),
		spare:        -1,
		others:       make(map[*pollConn]struct{}),
		drops:        make(map[DropReason]int64),
	}
	p.q.init(opts.Workers, p)
	if p.timeout <= 0 {
		p.timeout = defaultMessageTimeout
	}
	if p.queueLimit <= 0 {
		p.queueLimit = defaultWriteQueueLimit
	}
	if p.writeTimeout <= 0 {
		p.writeTimeout = defaultPollerWrite
	}
	ep, err := netpoll.New()
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, fmt.Errorf("websocket: poller: %w", err)
	}
	if ep == nil {
		close(p.polled)
		return p, nil
	}
	p.ep = ep
	p.spare, _ = ep.Spare()
	go p.poll()
	p.wg.Add(1)
	go p.sweep()
	return p, nil
}

// Add serves c: from now on the Poller reads c and hands its messages to
// h. Call it once, right after Accept, AcceptConn or Dial, before c is
// read; other goroutines may write to c, set its deadlines or close it
// meanwhile. It returns an error, and leaves c to the caller, if the Poller
// is closed or c is closed or served by a Poller already.
//
// Where the Poller waits through epoll, it takes the socket over: it moves
// it to a descriptor of its own, kept in reserve so that Add does not fail
// when the process is out of descriptors, and closes the net.Conn c was
// made with, which the caller must not use any more. c goes on as before
// over the Poller's descriptor, without the deadlines set before Add; its
// LocalAddr and RemoteAddr ask the kernel on each call, and return a nil
// *net.TCPAddr or *net.UnixAddr once c is closed. In the rare case that the
// kernel refuses to watch the socket (its epoll limits reached) Add closes
// c and returns the error: with Accept and AcceptConn, the client has had
// its 101 by then.
//
// Over HTTP/2 (RFC 8441) a WebSocket is a stream that ends with the handler
// Accept was called from: Add then serves c on the calling goroutine and
// returns once c has ended and HandleClose has returned, so that the same
// handler, Accept then Add then return, serves both protocols.
func (p *Poller) Add(c *Conn, h MessageHandler) error {
	if p.ping > 0 {
		c.stopKeepAlive() // the Poller's keep-alive replaces the Conn's own
	}
	pc := &pollConn{p: p, c: c, h: h, state: pollBusy}
	pc.sock.Init(-1, false)
	if _, ok := c.netConn().(*h2stream.Conn); ok && c.server {
		if err := p.addOther(pc, false); err != nil {
			return err
		}
		p.serveBlocking(pc)
		return nil
	}
	if p.ep == nil || netpoll.RawConn(c.netConn()) == nil {
		return p.addOther(pc, true)
	}
	if p.closing.Load() {
		return errPollerClosed
	}
	// The net.Conn is replaced under the locks of everything that uses it:
	// readers, writers (a keep-alive may be pinging) and closers. From here
	// on the Conn tells pc when it closes, under closed.mu.
	c.readMu.Lock()
	c.frameMu.Lock()
	c.closed.mu.Lock()
	err := fmt.Errorf("websocket: poller: %w, or served by a Poller already", ErrClosed)
	if !c.evented && !c.closed.done.Load() {
		if err = pc.takeOver(); err != nil {
			err = fmt.Errorf("websocket: poller: %w", err)
		} else {
			c.evented = true
		}
	}
	// Frames that came behind the handshake are buffered already, and the
	// socket may never report them: a worker must look at once.
	pending := c.br != nil && c.br.Buffered() > 0
	c.closed.mu.Unlock()
	c.frameMu.Unlock()
	c.readMu.Unlock()
	if err != nil {
		return err
	}

	fd := pc.sock.Num()
	p.mu.Lock()
	err = errPollerClosed
	if !p.closed {
		for fd >= len(p.slots) {
			p.slots = append(p.slots, nil)
		}
		p.seq++
		pc.seq = p.seq
		p.slots[fd] = pc
		if err = p.ep.Add(fd, pc.seq); err != nil {
			p.slots[fd] = nil
			err = fmt.Errorf("websocket: poller: %w", err)
		} else {
			p.live++
		}
	}
	draining := p.draining != nil
	p.mu.Unlock()
	if err != nil {
		// The socket is the Poller's, which cannot serve it.
		pc.mu.Lock()
		pc.state, pc.ended = pollDone, true
		pc.mu.Unlock()
		c.CloseNow()
		return err
	}
	// Input may have come, and the connection closed, meanwhile: a turn
	// looks at both. Until it is idle, reports of input mark it again.
	pc.mu.Lock()
	pc.state = pollIdle
	queue := false
	switch {
	case c.isClosed():
		pc.state, queue = pollQueued, true // for a turn that ends it
	case pending || pc.again:
		pc.again = false
		queue = pc.wantTurn()
	}
	pc.mu.Unlock()
	if queue {
		p.q.push(pc)
	}
	if draining {
		c.Close(StatusGoingAway, shutdownReason) // as Shutdown closed the others
	}
	return nil
}

// addOther records pc as served by a goroutine of its own, and starts it
// if start is set.
func (p *Poller) addOther(pc *pollConn, start bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errPollerClosed
	}
	p.others[pc] = struct{}{}
	p.live++
	p.wg.Add(1)
	if start {
		go p.serveBlocking(pc)
	}
	if p.ping > 0 {
		p.wg.Add(1)
		go p.keepAlive(pc)
	}
	if p.draining != nil {
		go pc.c.Close(StatusGoingAway, shutdownReason) // as Shutdown closed the others
	}
	return nil
}

// takeFD returns a descriptor of the Poller's for the socket s: the spare,
// made the socket's by dup3, when there is one, so that taking a socket
// over needs no descriptor the process may not have.
func (p *Poller) takeFD(s int) (int, error) {
	p.mu.Lock()
	spare := p.spare
	p.spare = -1
	p.mu.Unlock()
	return netpoll.Dup(s, spare)
}

// refillSpare makes a new spare descriptor, once takeOver has closed the
// net.Conn and so freed one.
func (p *Poller) refillSpare() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spare < 0 && !p.closed {
		if fd, err := p.ep.Spare(); err == nil {
			p.spare = fd
		}
	}
}

func (p *Poller) isClosed() bool { return p.closing.Load() }

// Shutdown closes every connection the Poller serves with StatusGoingAway
// (1001), as does Add from then on, and waits, the Poller reading the
// peers' answers meanwhile, until every connection has ended and
// HandleClose has been called for it, or until ctx is done. Then it closes
// the Poller, which closes what is left at once, and returns ctx's error if
// ctx ended first. A server shuts its Poller down before its http.Server,
// as it does a Group (see the package doc's Shutting down): over HTTP/2 the
// http.Server waits for the WebSockets' streams, which end with them. It
// must not be called from a MessageHandler of p.
func (p *Poller) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPollerClosed
	}
	if p.draining == nil {
		p.draining = make(chan struct{})
		p.drainedLocked()
	}
	done := p.draining
	all := p.connsLocked()
	p.mu.Unlock()
	for _, c := range all {
		// Under epoll, Close sends the Close frame and returns; a Conn
		// served by a goroutine of its own waits for the answer.
		go c.Close(StatusGoingAway, shutdownReason)
	}
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.Close()
	return err
}

// PollerStats is what a Poller is doing at one time, and how many
// connections it has dropped.
type PollerStats struct {
	Conns   int                  // connections served
	Workers int                  // workers started (at most PollerOptions.Workers)
	Busy    int                  // workers taking a turn or running a handler now
	Ready   int                  // connections with input, waiting for a worker
	Dropped map[DropReason]int64 // connections dropped since NewPoller, by reason
}

// Stats returns the Poller's figures now: Busy against Workers is how
// loaded the pool is, and a Ready that stays high means handlers hold the
// workers too long.
func (p *Poller) Stats() PollerStats {
	p.mu.Lock()
	s := PollerStats{Conns: p.live, Dropped: clonedOrEmpty(p.drops)}
	p.mu.Unlock()
	p.q.mu.Lock()
	s.Workers, s.Busy, s.Ready = p.q.workers, p.q.workers-p.q.waiting, p.q.n
	p.q.mu.Unlock()
	return s
}

// connsLocked returns the Conns p serves. The caller holds p.mu.
func (p *Poller) connsLocked() []*Conn {
	var all []*Conn
	for _, pc := range p.slots {
		if pc != nil {
			all = append(all, pc.c)
		}
	}
	for pc := range p.others {
		all = append(all, pc.c)
	}
	return all
}

// Close stops the Poller: it closes every connection it serves (with no
// closing handshake), waits for their handlers to return and for
// HandleClose to be called for each, and releases the epoll instance.
// Shutdown closes them with a closing handshake first. Close must not be
// called from a MessageHandler of p, since it waits for them.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPollerClosed
	}
	p.closed = true
	p.closing.Store(true)
	p.mu.Unlock()
	close(p.quit)
	if p.ep != nil {
		p.ep.Wake()
	}
	<-p.polled
	closeNowAll(&p.mu, p.connsLocked)
	p.q.close()
	p.wg.Wait()
	if p.ep != nil {
		p.mu.Lock()
		if p.spare >= 0 {
			netpoll.CloseSpare(p.spare)
			p.spare = -1
		}
		p.mu.Unlock()
		p.ep.Close()
	}
	return nil
}

// poll waits for readiness and acts on it, until Close. It never waits for
// anything else: input puts the connection in the ready queue, room to
// write is used at once (flush).
func (p *Poller) poll() {
	defer close(p.polled)
	events := make([]netpoll.Event, 256)
	for p.ep.Wait(events, p.ready) {
	}
}

// ready is called by poll for a descriptor reported ready.
func (p *Poller) ready(fd int, seq uint32, ev uint32) {
	var pc *pollConn
	p.mu.Lock()
	if fd >= 0 && fd < len(p.slots) {
		pc = p.slots[fd]
	}
	p.mu.Unlock()
	if pc == nil || pc.seq != seq {
		return // closed since, and maybe the descriptor reused
	}
	queue := false
	pc.mu.Lock()
	if ev&netpoll.Output != 0 {
		queue = pc.flush()
	}
	if ev&netpoll.Input != 0 {
		pc.quiet = 0 // the peer is alive
		queue = pc.wantTurn() || queue
	}
	pc.mu.Unlock()
	if queue {
		p.q.push(pc)
	}
}

// worker takes connections from the ready queue and gives each a turn,
// until Close. Its message buffers are kept from one turn to the next, up
// to maxKeptMessage.
func (p *Poller) worker() {
	defer p.wg.Done()
	var w workerBufs
	for {
		pc := p.q.pop()
		if pc == nil {
			return
		}
		p.turn(pc, &w)
	}
}

// workerBufs are a worker's buffers: one for messages, one for the output
// of the decompressor.
type workerBufs struct{ msg, out []byte }

// maxKeptMessage is the largest message buffer a worker keeps between
// messages.
const maxKeptMessage = 64 << 10

// turn serves pc once: it reads what has arrived, up to turnBudget bytes,
// acts on control frames and hands at most one message to the handler.
// A message still arriving stays on pc (pollMore) for the next turn.
func (p *Poller) turn(pc *pollConn, w *workerBufs) {
	c := pc.c
	pc.mu.Lock()
	pc.state, pc.again = pollBusy, false
	buf, resumed := w.msg, false
	if m := pc.more; m != nil && m.msg != nil {
		buf, resumed, m.msg = m.msg, true, nil
	}
	pc.mu.Unlock()
	if c.isClosed() {
		p.end(pc)
		return
	}
	c.readMu.Lock()
	pc.budget, pc.drained = turnBudget, false
	c.attachReader()
	var (
		op  Opcode
		msg []byte
		err error
	)
	if c.rerr == nil {
		op, buf, msg, err = c.readPolled(buf, w.out)
		if err == nil && c.rComp {
			w.out = keepBuf(w.out, msg)
		}
	} else {
		// Failed, and not closed yet: input is thrown away until the
		// peer is done (linger), the deadline closing it otherwise.
		err = c.lingerOn()
	}
	// Input that has begun a frame or a message is pending: the next turn
	// goes on with it, within MessageTimeout of the turn that first saw
	// it. A failed connection has its own deadline (linger).
	pending := c.rerr == nil && (c.rOp != 0 || c.br.Buffered() > 0)
	// Another turn at once if the socket may hold more, or the buffer
	// more than the message just handled. Bytes of an incomplete frame
	// wait for the next report of input.
	more := !pc.drained || err == nil && c.br.Buffered() > 0
	c.releaseReader()
	gave := false
	pc.mu.Lock()
	m := pc.more
	switch {
	case pending:
		if m == nil {
			m = new(pollMore)
			pc.more = m
		}
		if c.rOp != 0 {
			m.msg, gave = buf, true // the message so far
		}
		if m.mdl == 0 {
			m.mdl = time.Now().Add(p.timeout).UnixNano()
		}
	case m != nil:
		m.msg, m.mdl = nil, 0
		pc.tidy()
	}
	pc.mu.Unlock()
	c.readMu.Unlock()
	switch {
	case !gave:
		w.msg = keepBuf(w.msg, buf)
	case !resumed:
		w.msg = nil
	}

	if err == nil && c.rerr == nil {
		pc.h.HandleMessage(c, op, msg)
	}
	p.settle(pc, more)
}

// keepBuf returns the buffer a worker keeps of b, or old if b is too large
// to keep.
func keepBuf(old, b []byte) []byte {
	if cap(b) > maxKeptMessage {
		return old
	}
	return b[:0]
}

// settle ends a turn: pc goes back to the ready queue if it has more to
// read, ends if it is closed, or waits for input.
func (p *Poller) settle(pc *pollConn, more bool) {
	pc.mu.Lock()
	if pc.c.isClosed() {
		pc.mu.Unlock()
		p.end(pc)
		return
	}
	again := more || pc.again
	pc.state, pc.again = pollIdle, false
	queue := again && pc.wantTurn()
	pc.mu.Unlock()
	if queue {
		p.q.push(pc)
	}
}

// readPolled advances the read side of c with the input that has arrived,
// without waiting for more: it acts on control frames as they come and
// appends the payload of the data message in progress to b, which holds
// what had arrived of it before. Once the message is whole it returns it,
// with its type: in b, or for a compressed message, whose payload is
// gathered in b and decompressed whole (compress/flate cannot stop for
// input and go on later), in out, grown as needed. It returns errWouldBlock
// once the input is used up, or the error that ended reading. It always
// returns b, grown, for the caller to keep. The caller holds readMu.
func (c *Conn) readPolled(b, out []byte) (op Opcode, nb, msg []byte, err error) {
	if c.rOp == 0 {
		if err := c.nextDataFrame(); err != nil {
			return 0, b, nil, err
		}
		b = b[:0]
		if c.inflating() {
			c.comp.r.Release() // begun again once the payload is whole
		}
	}
	op = c.rOp
	if b, err = c.appendData(b, 0); err != nil || !c.rComp {
		return op, b, b, err
	}
	c.comp.src.gathered, c.comp.src.mem = true, b
	c.beginInflate(op)
	out, err = c.appendData(out[:0], 0)
	c.comp.src.gathered, c.comp.src.mem = false, nil
	return op, b, out, err
}

// end finishes pc once reading it has ended, or it was closed: it closes
// the connection if it is not closed yet and calls HandleClose, with the
// reason the Poller dropped it, if it did. It runs once.
func (p *Poller) end(pc *pollConn) {
	pc.mu.Lock()
	if pc.ended {
		pc.mu.Unlock()
		return
	}
	pc.ended, pc.state = true, pollDone
	if m := pc.more; m != nil {
		m.msg, m.mdl = nil, 0
	}
	why, lost, queued := pc.why, pc.quiet == quietLost, int(pc.queued)
	pc.mu.Unlock()
	if pc.sock.Num() < 0 {
		p.forget(pc)
	}
	c := pc.c
	c.readMu.Lock()
	err := c.rerr
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	c.readMu.Unlock()
	var drop DropReason
	switch {
	case why == whyOverflow:
		err = errOverflow
	case why == whyWriteTimeout:
		err = fmt.Errorf("websocket: dropped: output not taken by the peer within %v: %w", p.writeTimeout, ErrClosed)
	case lost:
		err, drop = fmt.Errorf("websocket: no answer to a ping within %v: %w", p.ping, ErrClosed), DropNoPong
	case err == nil:
		err = ErrClosed
	}
	if why != 0 {
		drop = whyDrop[why]
	}
	if drop != "" {
		p.mu.Lock()
		p.drops[drop]++
		p.mu.Unlock()
	}
	if !c.isClosed() {
		c.closeTCP()
	}
	if c.evented && c.x != nil && c.x.obs != nil {
		// Told here, on a worker, not where it closed (closeTCP).
		var dropErr error
		if drop != "" {
			c.observeDrop(DropInfo{Reason: drop, Queued: queued})
			dropErr = err
		}
		c.observeClosed(dropErr)
	}
	pc.h.HandleClose(c, err)
	p.mu.Lock()
	p.live--
	p.drainedLocked()
	p.mu.Unlock()
}

// drainedLocked tells Shutdown when no connection is left. The caller holds
// p.mu.
func (p *Poller) drainedLocked() {
	if p.live > 0 || p.draining == nil {
		return
	}
	select {
	case <-p.draining:
	default:
		close(p.draining)
	}
}

// closing is called when the Conn closes its net.Conn, the pollConn: a
// connection no worker has is queued, for a turn that ends it.
func (pc *pollConn) closing() {
	pc.mu.Lock()
	queue := pc.state == pollIdle || pc.state == pollPaused
	if queue {
		pc.state = pollQueued
	}
	pc.mu.Unlock()
	if queue {
		pc.p.q.push(pc)
	}
}

// forget takes pc out of the Poller's records and out of the epoll set.
func (p *Poller) forget(pc *pollConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd := pc.sock.Num()
	if fd < 0 {
		delete(p.others, pc)
		return
	}
	if fd < len(p.slots) && p.slots[fd] == pc {
		p.slots[fd] = nil
		p.ep.Del(fd)
	}
}

// serveBlocking serves pc with a goroutine of its own, for a connection
// whose readiness the Poller cannot wait for.
func (p *Poller) serveBlocking(pc *pollConn) {
	defer p.wg.Done()
	c := pc.c
	var buf []byte
	for {
		op, msg, err := c.AppendMessage(buf[:0])
		if err != nil {
			break
		}
		pc.h.HandleMessage(c, op, msg)
		if cap(msg) <= maxKeptMessage {
			buf = msg
		}
	}
	p.end(pc)
}

// readyQueue holds the connections with input to read, in the order it
// came, each at most once (pollQueued), so it never holds more entries
// than the Poller has connections. Workers are started as it needs them,
// up to max.
type readyQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	ring    []*pollConn // a circle: n entries from head
	head, n int
	idle    int // workers waiting, less those already signalled
	waiting int // workers waiting
	workers int
	max     int
	closed  bool
	start   func() // starts a worker
}

func (q *readyQueue) init(workers int, p *Poller) {
	q.cond.L = &q.mu
	q.max = workers
	if q.max <= 0 {
		q.max = max(64, 16*runtime.GOMAXPROCS(0))
	}
	// A func value, set here, rather than a call: the worker's read path
	// leads back to push, which a call would make an initialization cycle.
	q.start = func() {
		p.wg.Add(1)
		go p.worker()
	}
}

// push puts pc at the end of the queue and wakes a worker for it, or
// starts one.
func (q *readyQueue) push(pc *pollConn) {
	q.mu.Lock()
	if q.n == len(q.ring) {
		ring := make([]*pollConn, max(16, 2*len(q.ring)))
		for i := range q.n {
			ring[i] = q.ring[(q.head+i)%len(q.ring)]
		}
		q.ring, q.head = ring, 0
	}
	q.ring[(q.head+q.n)%len(q.ring)] = pc
	q.n++
	start := false
	switch {
	case q.idle > 0:
		q.idle--
		q.cond.Signal()
	case q.workers < q.max:
		q.workers++
		start = true
	}
	q.mu.Unlock()
	if start {
		q.start()
	}
}

// pop takes the connection at the head of the queue, waiting for one. It
// returns nil once the queue is closed and empty.
func (q *readyQueue) pop() *pollConn {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 {
		if q.closed {
			q.workers--
			return nil
		}
		q.idle++
		q.waiting++
		q.cond.Wait()
		q.waiting--
	}
	pc := q.ring[q.head]
	q.ring[q.head] = nil
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	return pc
}

// close makes pop return nil to every worker once the queue is empty.
func (q *readyQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.idle = 0
	q.cond.Broadcast()
	q.mu.Unlock()
}
