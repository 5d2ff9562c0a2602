package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// RequesterConfig configures a Requester.
type RequesterConfig struct {
	// Clock drives the retransmission timers and the Timestamps of the
	// location updates (nil: the system clock).
	Clock clock.Clock
	// Log receives the requester's messages (nil: discarded).
	Log *logrus.Entry
	// InitialTimeout is the wait for an answer after the first
	// transmission (default 1 s, RFC 5213 §6.9.4 INITIAL_BINDACK_TIMEOUT);
	// it doubles after each retransmission.
	InitialTimeout time.Duration
	// MaxTimeout caps the wait (default 32 s, MAX_BINDACK_TIMEOUT).
	MaxTimeout time.Duration
	// Attempts is how many times a request is sent before the call fails
	// with a *TimeoutError (default 4: waits of 1, 2, 4 and 8 s).
	Attempts int
	// ExternalReceive: the Requester does not read the transport; the
	// owner of the transport passes each received packet to Deliver (an
	// MR that receives PBUs, Redirects and answers on one socket).
	// Otherwise the Requester reads the transport and Close closes it.
	ExternalReceive bool
}

// Validate checks the configuration.
func (c RequesterConfig) Validate() error {
	switch {
	case c.InitialTimeout < 0:
		return fmt.Errorf("wire: InitialTimeout %v: must not be negative", c.InitialTimeout)
	case c.MaxTimeout < 0:
		return fmt.Errorf("wire: MaxTimeout %v: must not be negative", c.MaxTimeout)
	case c.InitialTimeout > 0 && c.MaxTimeout > 0 && c.MaxTimeout < c.InitialTimeout:
		return fmt.Errorf("wire: MaxTimeout %v: below InitialTimeout %v", c.MaxTimeout, c.InitialTimeout)
	case c.Attempts < 0:
		return fmt.Errorf("wire: Attempts %d: must not be negative", c.Attempts)
	}
	return nil
}

// replyKind is the kind of answer a request waits for.
type replyKind uint8

const (
	wantPBA replyKind = iota + 1
	wantLocationReply
)

type pendingKey struct {
	peer netip.Addr
	kind replyKind
	seq  uint16
}

// call is one request in flight. Only the loop touches its fields after
// it was submitted, except res.
type call struct {
	op       string
	peer     netip.Addr
	kind     replyKind
	msg      mh.Message // Sequence # set by the loop
	data     []byte
	seq      uint16
	attempts int
	wait     time.Duration
	gen      uint64 // of the armed timer
	timer    clock.Timer
	res      chan callResult // buffered 1
}

type callResult struct {
	msg mh.Message
	err error
}

type timerFired struct {
	c       *call
	gen     uint64
	handled chan struct{} // closed by the loop once it has acted
}

type delivery struct {
	p  transport.Packet
	ok chan bool // nil: nobody waits for the answer
}

// Requester sends requests over a transport and matches the answers by
// source address, message type and Sequence #, retransmitting with
// exponential back-off. One goroutine owns the pending requests (and the
// transport's receive side unless ExternalReceive); callers wait on
// channels. It is safe for concurrent use. LMClient and HAAClient are
// built on one.
type Requester struct {
	tr  transport.Transport
	cfg RequesterConfig
	log *logrus.Entry

	submit chan *call
	cancel chan *call
	pkts   chan delivery
	fired  chan timerFired
	count  chan chan int
	done   chan struct{}

	closeOnce sync.Once
	wg        sync.WaitGroup

	// loop state
	pending map[pendingKey]*call
	seq     uint16
	gen     uint64
}

// NewRequester starts a requester on tr.
func NewRequester(tr transport.Transport, cfg RequesterConfig) (*Requester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	if cfg.InitialTimeout == 0 {
		cfg.InitialTimeout = time.Second
	}
	if cfg.MaxTimeout == 0 {
		cfg.MaxTimeout = max(32*time.Second, cfg.InitialTimeout)
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 4
	}
	if cfg.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		cfg.Log = logrus.NewEntry(l)
	}
	r := &Requester{tr: tr, cfg: cfg, log: cfg.Log.WithField("component", "dmm-requester"),
		submit: make(chan *call), cancel: make(chan *call), pkts: make(chan delivery, 64),
		fired: make(chan timerFired), count: make(chan chan int), done: make(chan struct{}),
		pending: map[pendingKey]*call{}, seq: uint16(rand.N(1 << 16))}
	r.wg.Add(1)
	go r.loop()
	if !cfg.ExternalReceive {
		r.wg.Add(1)
		go r.read()
	}
	return r, nil
}

// LocalAddr is the transport's address (the MR's own address).
func (r *Requester) LocalAddr() netip.Addr { return r.tr.LocalAddr() }

// Clock returns the requester's clock.
func (r *Requester) Clock() clock.Clock { return r.cfg.Clock }

// Close fails the pending requests with ErrClosed and stops the
// requester; unless ExternalReceive, it closes the transport.
func (r *Requester) Close() error {
	r.closeOnce.Do(func() {
		close(r.done)
		if !r.cfg.ExternalReceive {
			r.tr.Close()
		}
	})
	r.wg.Wait()
	return nil
}

// Deliver hands the requester a packet received by the transport's owner
// (ExternalReceive) and reports whether it answered a pending request.
func (r *Requester) Deliver(p transport.Packet) bool {
	if !isAnswer(p.Data) {
		return false
	}
	d := delivery{p: p, ok: make(chan bool, 1)}
	d.p.Data = append([]byte(nil), p.Data...)
	select {
	case r.pkts <- d:
	case <-r.done:
		return false
	}
	select {
	case ok := <-d.ok:
		return ok
	case <-r.done:
		return false
	}
}

// isAnswer reports whether b may be an answer a requester waits for: a
// Binding Acknowledgement or a Location Reply.
func isAnswer(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	if mh.Type(b[2]) == mh.TypeBindingAck {
		return true
	}
	c := mh.CurrentCodepoints()
	return mh.Type(b[2]) == c.CarrierMHType && b[6] == c.LocationReply
}

func (r *Requester) read() {
	defer r.wg.Done()
	ps := make([]transport.Packet, 16)
	for {
		n, err := r.tr.Receive(ps)
		if err != nil {
			if !errors.Is(err, transport.ErrClosed) {
				r.log.WithError(err).Error("receive failed")
			}
			return
		}
		for _, p := range ps[:n] {
			if !isAnswer(p.Data) {
				continue
			}
			p.Data = append([]byte(nil), p.Data...)
			select {
			case r.pkts <- delivery{p: p}:
			case <-r.done:
				return
			}
		}
	}
}

// do sends msg to peer and waits for its answer of kind k.
func (r *Requester) do(ctx context.Context, op string, peer netip.Addr, k replyKind, msg mh.Message) (mh.Message, error) {
	c := &call{op: op, peer: peer, kind: k, msg: msg, res: make(chan callResult, 1)}
	select {
	case r.submit <- c:
	case <-r.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-c.res:
		return res.msg, res.err
	case <-ctx.Done():
		select {
		case r.cancel <- c:
		case <-r.done:
		}
		select {
		case res := <-c.res: // answered meanwhile
			if res.err == nil {
				return res.msg, nil
			}
		default:
		}
		return nil, ctx.Err()
	case <-r.done:
		return nil, ErrClosed
	}
}

func (r *Requester) loop() {
	defer r.wg.Done()
	for {
		select {
		case c := <-r.submit:
			r.start(c)
		case c := <-r.cancel:
			r.drop(c)
		case d := <-r.pkts:
			ok := r.answer(d.p)
			if d.ok != nil {
				d.ok <- ok
			}
		case f := <-r.fired:
			r.expire(f)
			close(f.handled)
		case q := <-r.count:
			q <- len(r.pending)
		case <-r.done:
			for k, c := range r.pending {
				if c.timer != nil {
					c.timer.Stop()
				}
				delete(r.pending, k)
				c.res <- callResult{err: ErrClosed}
			}
			return
		}
	}
}

func setSequence(m mh.Message, seq uint16) {
	switch m := m.(type) {
	case *mh.BindingUpdate:
		m.Sequence = seq
	case *mh.LocationQuery:
		m.Sequence = seq
	}
}

func (r *Requester) start(c *call) {
	// Next Sequence # not in use towards this peer for this kind.
	for range 1 << 16 {
		r.seq++
		if _, busy := r.pending[pendingKey{c.peer, c.kind, r.seq}]; !busy {
			break
		}
	}
	c.seq = r.seq
	setSequence(c.msg, c.seq)
	data, err := c.msg.Marshal()
	if err != nil {
		c.res <- callResult{err: fmt.Errorf("wire: %s: encoding: %w", c.op, err)}
		return
	}
	c.data = data
	c.wait = r.cfg.InitialTimeout
	r.pending[pendingKey{c.peer, c.kind, c.seq}] = c
	r.transmit(c)
}

func (r *Requester) transmit(c *call) {
	c.attempts++
	// Arm the timer before sending, so that whoever sees the packet can
	// rely on the retransmission being scheduled.
	r.gen++
	c.gen = r.gen
	f := timerFired{c: c, gen: c.gen, handled: make(chan struct{})}
	c.timer = r.cfg.Clock.AfterFunc(c.wait, func() {
		// Wait until the loop has handled the expiry: with a fake clock
		// the retransmission is then sent, and the next timer armed, at
		// the expiry's time.
		select {
		case r.fired <- f:
		case <-r.done:
			return
		}
		select {
		case <-f.handled:
		case <-r.done:
		}
	})
	if err := r.tr.Send(c.peer, c.data); err != nil {
		if errors.Is(err, transport.ErrClosed) {
			r.finish(c, callResult{err: ErrClosed})
			return
		}
		// Transient (no route yet, ...): the timer retransmits.
		r.log.WithError(err).WithField("peer", c.peer).WithField("op", c.op).Warn("send failed")
	}
}

func (r *Requester) finish(c *call, res callResult) {
	k := pendingKey{c.peer, c.kind, c.seq}
	if r.pending[k] != c {
		return
	}
	delete(r.pending, k)
	if c.timer != nil {
		c.timer.Stop()
	}
	c.res <- res
}

func (r *Requester) drop(c *call) {
	k := pendingKey{c.peer, c.kind, c.seq}
	if r.pending[k] != c {
		return
	}
	delete(r.pending, k)
	if c.timer != nil {
		c.timer.Stop()
	}
}

func (r *Requester) expire(f timerFired) {
	c := f.c
	if r.pending[pendingKey{c.peer, c.kind, c.seq}] != c || c.gen != f.gen {
		return // answered, cancelled, or an older timer
	}
	if c.attempts >= r.cfg.Attempts {
		r.finish(c, callResult{err: &TimeoutError{Op: c.op, Peer: c.peer, Attempts: c.attempts}})
		return
	}
	c.wait = min(2*c.wait, r.cfg.MaxTimeout)
	r.transmit(c)
}

// answer matches a received packet with a pending request.
func (r *Requester) answer(p transport.Packet) bool {
	m, err := mh.Parse(p.Data)
	if err != nil {
		r.log.WithError(err).WithField("peer", p.Src).Debug("undecodable answer")
		return false
	}
	var k pendingKey
	switch m := m.(type) {
	case *mh.BindingAck:
		k = pendingKey{p.Src, wantPBA, m.Sequence}
	case *mh.LocationReply:
		k = pendingKey{p.Src, wantLocationReply, m.Sequence}
	default:
		return false
	}
	c := r.pending[k]
	if c == nil {
		return false
	}
	r.finish(c, callResult{msg: m})
	return true
}

// Pending returns how many requests wait for an answer (for tests and
// metrics).
func (r *Requester) Pending() int {
	q := make(chan int, 1)
	select {
	case r.count <- q:
	case <-r.done:
		return 0
	}
	select {
	case n := <-q:
		return n
	case <-r.done:
		return 0
	}
}
