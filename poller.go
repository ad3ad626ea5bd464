package websocket

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Handler receives the messages of the connections a Poller serves.
type Handler interface {
	// HandleMessage is called with each data message of c, whole, in the
	// order they arrive, never for two messages of c at once. p is valid
	// only until HandleMessage returns. It may write to c, close it or
	// block, but while it runs it holds one of the Poller's workers.
	HandleMessage(c *Conn, op Opcode, p []byte)

	// HandleClose is called once, last, when reading c has ended, with the
	// error a blocking read would have returned: a *CloseError when the
	// peer closed the connection, an error wrapping ErrClosed when it was
	// closed on this side, and so on. The connection is closed by then.
	HandleClose(c *Conn, err error)
}

// PollerOptions configures a Poller. A nil *PollerOptions is the same as a
// zero PollerOptions, whose every field has a default.
type PollerOptions struct {
	// Workers bounds the goroutines that read messages and run the
	// handlers; they are started as needed and kept until Close. Zero
	// means 16 per CPU (runtime.GOMAXPROCS), and at least 64.
	Workers int

	// MessageTimeout bounds how long a worker waits for the rest of a
	// frame header, control frame or data message once its first byte has
	// arrived. A peer that is slower fails the connection with
	// StatusPolicyViolation, and HandleClose gets an error whose Timeout
	// method reports true. Zero means 10 seconds.
	MessageTimeout time.Duration

	// PingInterval, if positive, keeps the connections alive: one that has
	// sent nothing for about PingInterval (between 1 and 1.5 times it) is
	// pinged, and one that still sends nothing for an interval after the
	// ping is closed, with no closing handshake, and HandleClose gets an
	// error wrapping ErrClosed that says so. Any input counts, a pong or
	// a message, so a peer busy sending is never pinged. One goroutine of
	// the Poller sweeps the connections every half interval; a connection
	// costs no goroutine or timer for it, and a ping that the peer's full
	// receive window would hold up is not waited for. Zero means no pings.
	//
	// A connection the Poller serves with a goroutine of its own (see
	// Poller) is pinged by a second goroutine, as the PingInterval of
	// AcceptOptions does: there it is a pong that must come back within
	// the interval.
	PingInterval time.Duration
}

// A Poller serves WebSocket connections in event-driven mode: it waits for
// input on all of them at once, and a connection that has no message
// arriving holds no goroutine and no read or write buffer. On Linux it waits
// through epoll; a worker from a bounded pool then reads what arrived, with
// the same frame handling and limits as the blocking API (read limit,
// UTF-8 checks, pings answered, the closing handshake, compression), and
// calls the Handler with each message. Once nothing is buffered it gives the
// buffer back and the connection waits again. Connections whose readiness the
// kernel cannot report, a *tls.Conn among them (it may hold decrypted input
// the socket no longer shows), and every connection on other systems, are
// served by a goroutine of their own, with the same Handler.
//
// Backpressure: when every worker is busy, the Poller stops taking readiness
// reports from the kernel until one is free, so input waits in the sockets'
// buffers and then in the peers' (TCP flow control); nothing is queued in the
// process. A worker is held while a handler runs and while a message arrives,
// which MessageTimeout bounds.
//
// A Conn given to a Poller must not be read by the application; it may be
// written to, pinged and closed from any goroutine, as always. A pong
// answering Ping is seen when the worker reads.
//
// Keep-alive: set PollerOptions.PingInterval, which costs no goroutine per
// connection. The PingInterval of AcceptOptions and DialOptions still works
// on a Conn given to a Poller, but at the cost of a goroutine for each, which
// is what the Poller is there to save: leave it zero for such connections.
type Poller struct {
	ep      *epoll // nil where there is none
	max     int
	timeout time.Duration
	ping    time.Duration  // PollerOptions.PingInterval; 0: none
	work    chan *pollConn // to an idle worker; unbuffered
	quit    chan struct{}  // closed by Close
	polled  chan struct{}  // closed when the poll goroutine returns
	wg      sync.WaitGroup // workers, goroutines per connection, ends

	mu      sync.Mutex
	closed  bool
	workers int
	seq     uint32
	slots   []*pollConn            // by descriptor: the connections in ep
	others  map[*pollConn]struct{} // served by a goroutine each
}

// pollConn is a Poller's record of one connection. For a connection it
// waits on through epoll it is also the Conn's net.Conn, over a descriptor
// taken from the one the Conn came with (fdconn_linux.go): one small
// record per connection, and no netFD or runtime poller record besides.
type pollConn struct {
	p   *Poller
	c   *Conn
	h   Handler
	fd  int32  // -1: served by a goroutine of its own
	seq uint32 // tells this connection from a later one on the same fd

	mu    sync.Mutex
	state uint8 // pollIdle, pollBusy or pollClosed; mu
	ended bool  // end has run or is running; mu
	quiet uint8 // keep-alive sweeps without input (poller_ping.go); mu

	// The net.Conn over fd.
	unix     bool                   // a Unix socket, else TCP
	ref      atomic.Int32           // fdClosed, and the calls inside a syscall on fd
	rdl, wdl atomic.Int64           // deadlines in Unix nanoseconds; 0: none
	more     atomic.Pointer[fdMore] // while a read or write waits; else nil
}

const (
	pollIdle   = iota // in the epoll set, armed; no worker has it
	pollBusy          // a worker has it, or is about to
	pollClosed        // out of the epoll set
)

// NewPoller returns a Poller, which serves connections until Close. opts
// may be nil.
func NewPoller(opts *PollerOptions) (*Poller, error) {
	if opts == nil {
		opts = &PollerOptions{}
	}
	p := &Poller{
		max:     opts.Workers,
		timeout: opts.MessageTimeout,
		ping:    opts.PingInterval,
		work:    make(chan *pollConn),
		quit:    make(chan struct{}),
		polled:  make(chan struct{}),
		others:  make(map[*pollConn]struct{}),
	}
	if p.max <= 0 {
		p.max = max(64, 16*runtime.GOMAXPROCS(0))
	}
	if p.timeout <= 0 {
		p.timeout = 10 * time.Second
	}
	ep, err := newEpoll()
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, fmt.Errorf("websocket: poller: %w", err)
	}
	if ep == nil {
		close(p.polled)
		return p, nil
	}
	p.ep = ep
	go p.poll()
	if p.ping > 0 {
		p.wg.Add(1)
		go p.sweep()
	}
	return p, nil
}

// Add serves c: from now on the Poller reads c and hands its messages to
// h. Call it once, right after Accept, AcceptConn or Dial, before c is
// read; other goroutines may write to c, set its deadlines or close it
// meanwhile. It returns an error, and leaves c to the caller, if the Poller
// is closed or c is closed or served by a Poller already. The Poller sets
// c's read deadline as it reads (see PollerOptions.MessageTimeout).
//
// Where the Poller waits through epoll, it takes the socket over: it keeps
// a descriptor of its own for it and closes the net.Conn c was made with,
// which the caller must not use any more. c goes on as before over the
// Poller's descriptor, without the deadlines set before Add; its LocalAddr
// and RemoteAddr ask the kernel on each call, and return a nil
// *net.TCPAddr or *net.UnixAddr once c is closed.
func (p *Poller) Add(c *Conn, h Handler) error {
	pc := &pollConn{p: p, c: c, h: h, fd: -1, state: pollBusy}
	if p.ep == nil || rawConnOf(c.nc) == nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return errPollerClosed
		}
		p.others[pc] = struct{}{}
		p.wg.Add(1)
		go p.serveBlocking(pc)
		if p.ping > 0 {
			p.wg.Add(1)
			go p.keepAlive(pc)
		}
		return nil
	}
	// The net.Conn is replaced under the locks of everything that uses it:
	// readers, writers (a keep-alive may be pinging) and closers. From here
	// on the Conn tells pc when it closes, under closed.mu.
	c.readMu.Lock()
	c.frameMu.Lock()
	c.closed.mu.Lock()
	err := fmt.Errorf("websocket: poller: %w, or served by a Poller already", ErrClosed)
	if c.poll == nil && !c.closed.done.Load() {
		if err = pc.takeOver(); err != nil {
			err = fmt.Errorf("websocket: poller: %w", err)
		} else {
			c.poll = pc
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

	pc.mu.Lock()
	if pc.state == pollClosed {
		// Closed since: nothing to register, but HandleClose is owed.
		pc.mu.Unlock()
		p.end(pc)
		return nil
	}
	fd := int(pc.fd)
	p.mu.Lock()
	err = errPollerClosed
	if !p.closed {
		for fd >= len(p.slots) {
			p.slots = append(p.slots, nil)
		}
		p.seq++
		pc.seq = p.seq
		p.slots[fd] = pc
		if err = p.ep.add(fd, pc.seq); err != nil {
			p.slots[fd] = nil
			err = fmt.Errorf("websocket: poller: %w", err)
		}
	}
	p.mu.Unlock()
	if err != nil {
		// The caller keeps the Conn; pc stays inert.
		pc.state, pc.ended = pollClosed, true
		pc.mu.Unlock()
		return err
	}
	if !pending {
		pc.state = pollIdle
	}
	pc.mu.Unlock()
	if pending {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(pc, nil)
		}()
	}
	return nil
}

var errPollerClosed = fmt.Errorf("%w: poller closed", ErrClosed)

// Close stops the Poller: it closes every connection it serves (with no
// closing handshake), waits for their handlers to return and for
// HandleClose to be called for each, and releases the epoll instance.
// Close a connection with Conn.Close first for a closing handshake. Close
// must not be called from a Handler of p, since it waits for them.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPollerClosed
	}
	p.closed = true
	p.mu.Unlock()
	close(p.quit)
	if p.ep != nil {
		p.ep.wake()
	}
	<-p.polled
	p.mu.Lock()
	var all []*Conn
	for _, pc := range p.slots {
		if pc != nil {
			all = append(all, pc.c)
		}
	}
	for pc := range p.others {
		all = append(all, pc.c)
	}
	p.mu.Unlock()
	for _, c := range all {
		c.CloseNow()
	}
	p.wg.Wait()
	if p.ep != nil {
		p.ep.close()
	}
	return nil
}

// poll waits for readiness and hands ready connections to workers, until
// Close.
func (p *Poller) poll() {
	defer close(p.polled)
	events := make([]epollEvent, 256)
	for p.ep.wait(events, p.ready) {
	}
}

// ready is called by poll for a descriptor reported ready.
func (p *Poller) ready(fd int, seq uint32) {
	var pc *pollConn
	p.mu.Lock()
	if fd >= 0 && fd < len(p.slots) {
		pc = p.slots[fd]
	}
	p.mu.Unlock()
	if pc == nil || pc.seq != seq {
		return // closed since, and maybe the descriptor reused
	}
	pc.mu.Lock()
	idle := pc.state == pollIdle
	if idle {
		pc.state = pollBusy
		pc.quiet = 0 // the peer is alive
	}
	pc.mu.Unlock()
	if idle {
		p.dispatch(pc)
	}
}

// dispatch hands pc to an idle worker, or to a new one if there are fewer
// than the bound, or else waits for a worker to be free: this is the
// backpressure, since poll takes no more reports meanwhile.
func (p *Poller) dispatch(pc *pollConn) {
	select {
	case p.work <- pc:
		return
	default:
	}
	p.mu.Lock()
	if p.workers < p.max {
		p.workers++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.worker(pc)
		return
	}
	p.mu.Unlock()
	select {
	case p.work <- pc:
	case <-p.quit:
		// Close has begun and the workers may be gone; Close closes pc,
		// and someone must see it through.
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(pc, nil)
		}()
	}
}

// worker serves connections handed to it until Close. Its message buffer
// is kept from one to the next, up to maxKeptMessage.
func (p *Poller) worker(pc *pollConn) {
	defer p.wg.Done()
	var buf []byte
	for {
		buf = p.serve(pc, buf)
		select {
		case pc = <-p.work:
		case <-p.quit:
			return
		}
	}
}

// maxKeptMessage is the largest message buffer a worker keeps between
// messages.
const maxKeptMessage = 64 << 10

// serve handles what has arrived on pc, then waits for more by arming the
// descriptor again, or ends pc.
func (p *Poller) serve(pc *pollConn, buf []byte) []byte {
	live, buf := p.drain(pc, buf)
	if !live {
		p.end(pc)
		return buf
	}
	pc.mu.Lock()
	if pc.state == pollClosed {
		pc.mu.Unlock()
		p.end(pc)
		return buf
	}
	err := p.ep.rearm(int(pc.fd), pc.seq)
	if err == nil {
		pc.state = pollIdle
	}
	pc.mu.Unlock()
	if err != nil {
		pc.c.closeTCP()
		p.end(pc)
	}
	return buf
}

// drain reads and handles the frames that have arrived on pc, through the
// Conn's own frame handling: control frames as they come, data messages
// whole, each passed to the handler. It returns once nothing is buffered
// between messages, with the read buffer given back, reporting whether the
// connection is still open for reading. A frame or message that has begun
// is waited for, up to the message timeout.
func (p *Poller) drain(pc *pollConn, buf []byte) (bool, []byte) {
	c := pc.c
	c.readMu.Lock()
	c.attachReader()
	for first := true; c.rerr == nil && (first || c.br.Buffered() > 0); first = false {
		c.nc.SetReadDeadline(time.Now().Add(p.timeout))
		b, err := c.br.Peek(1)
		if err != nil {
			c.readFailed(err)
			break
		}
		if Opcode(b[0] & 0x0f).IsControl() {
			// Between messages: AppendMessage would wait on past it for
			// a data frame.
			if h, err := c.readHeader(); err == nil {
				c.handleControl(h)
			}
			continue
		}
		c.readMu.Unlock()
		op, msg, err := c.AppendMessage(buf[:0])
		if err == nil {
			pc.h.HandleMessage(c, op, msg)
		}
		if cap(msg) <= maxKeptMessage {
			buf = msg[:0]
		}
		c.readMu.Lock()
	}
	live := c.rerr == nil
	if live {
		c.releaseReader()
	}
	c.readMu.Unlock()
	return live, buf
}

// end finishes pc once reading it has ended, or it was closed: it closes
// the connection, failing it with StatusPolicyViolation if the peer was too
// slow, and calls HandleClose. It runs once.
func (p *Poller) end(pc *pollConn) {
	pc.mu.Lock()
	if pc.ended {
		pc.mu.Unlock()
		return
	}
	pc.ended = true
	if pc.state != pollClosed {
		pc.state = pollClosed
		p.forget(pc)
	}
	lost := pc.quiet == quietLost
	pc.mu.Unlock()
	c := pc.c
	c.readMu.Lock()
	err := c.rerr
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	c.readMu.Unlock()
	if err == nil || lost {
		err = ErrClosed
	}
	if lost {
		err = fmt.Errorf("websocket: no answer to a ping within %v: %w", p.ping, err)
	}
	if !c.isClosed() {
		if isTimeout(err) {
			err = fmt.Errorf("websocket: message not complete within %v: %w", p.timeout, err)
			c.writeClose(StatusPolicyViolation, "message timeout")
		}
		c.closeTCP()
	}
	pc.h.HandleClose(c, err)
}

// closing is called by the Conn when it closes its net.Conn, just before:
// the descriptor leaves the epoll set while it is still this connection's.
// If no worker has the connection, one is started to end it.
func (pc *pollConn) closing() {
	pc.mu.Lock()
	idle := pc.state == pollIdle
	if pc.state != pollClosed {
		pc.state = pollClosed
		pc.p.forget(pc)
	}
	pc.mu.Unlock()
	if idle {
		pc.p.wg.Add(1)
		go func() {
			defer pc.p.wg.Done()
			pc.p.end(pc)
		}()
	}
}

// forget takes pc out of the Poller's records and out of the epoll set.
// The caller holds pc.mu.
func (p *Poller) forget(pc *pollConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc.fd < 0 {
		delete(p.others, pc)
		return
	}
	if fd := int(pc.fd); fd < len(p.slots) && p.slots[fd] == pc {
		p.slots[fd] = nil
		p.ep.del(fd)
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
