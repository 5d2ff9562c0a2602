// Package lma is the Local Mobility Anchor of Proxy Mobile IPv6 (RFC 5213
// §5): the Binding Cache, Proxy Binding Update processing in the order of
// §5.3.1, the BCE lookup rules of §5.4.1, the timestamp and sequence-number
// ordering schemes of §5.5, home network prefix assignment, the PBA of
// §5.3.6, de-registration with MinDelayBeforeBCEDelete, heartbeat (RFC
// 5847) and binding revocation (RFC 5846).
//
// One goroutine (the loop started by Run) owns all state: received
// packets, timer expiries and management requests are operations run on
// it, so the state has no locks. Transport, data plane, clock and logger
// are injected (Config).
package lma

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// BCEState is the state of a Binding Cache entry.
type BCEState uint8

// Binding Cache entry states.
const (
	StateActive BCEState = iota
	// StateDeregistered: de-registered, waiting MinDelayBeforeBCEDelete
	// (RFC 5213 §5.3.5); routes are removed, prefixes kept.
	StateDeregistered
	// StateRevoking: a BRI was sent (RFC 5846 §8.1); routes are removed.
	StateRevoking
)

func (s BCEState) String() string {
	switch s {
	case StateActive:
		return "active"
	case StateDeregistered:
		return "deregistered"
	case StateRevoking:
		return "revoking"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// bce is a Binding Cache entry (RFC 5213 §5.1 and the RFC 6275 §9.1
// fields). It is kept small (one is held per mobility session, a million
// of them must fit in a GiB): times are Unix nanoseconds, octet strings
// are strings (the MN-ID shares the key's bytes, an absent MN LL-ID is a
// constant), the Proxy-CoA is the peer's, the pool flags are bits, the
// expiry is a place in one timer heap, and what few entries need (a held
// PBU, a revocation) hangs off ext.
type bce struct {
	id        uint64
	mnKey     string
	mnidID    string // MN-ID identifier octets
	llid      string // MN LL-ID octets; llidNone when the PBU had none
	linkLocal netip.Addr
	hnps      []netip.Prefix
	pooled    uint64 // bit i: hnps[i] (i < 64) came from the pools; the rest in ext
	peer      *peer  // the Proxy-CoA's heartbeat state (nil before setCoA)
	nextMN    *bce   // the MN's next session (byMN is the first)
	// mnTS, on an MN's first session: the greatest PBU timestamp
	// accepted for the MN while it has sessions (0: none).
	mnTS      uint64
	timestamp uint64 // LMA time of day at receipt of the last accepted PBU; 0 in the sequence scheme
	pbuTS     uint64 // Timestamp option value of the last accepted PBU (0: none)
	expires   int64  // Unix ns
	deadline  int64  // Unix ns: when the entry's timer fires
	created   int64  // Unix ns
	ext       *bceExt
	heapIdx   int32  // place in the timer heap, -1 when not in it
	lifetime  uint32 // seconds
	seq       uint16 // Sequence # of the last accepted PBU
	mnidSub   mh.MNIDSubtype
	att       mh.ATT
	hi        mh.HandoffIndicatorValue
	state     BCEState
	hasSeq    bool
	mnidEmpty bool
	removed   bool
	routed    bool // prefix routes installed
}

// bceExt holds what few entries need.
type bceExt struct {
	held   *heldPBU
	revoke *revocation
	// resumeTrigger: revocation trigger of an entry restored in
	// StateRevoking (until Run resumes the revocation).
	resumeTrigger mh.RevocationTrigger
	pooledMore    []bool // pool flags of hnps[64:]
}

// llidNone is the MN LL-ID of an entry whose PBU had none: 2 ALL_ZERO octets.
const llidNone = "\x00\x00"

func (b *bce) x() *bceExt {
	if b.ext == nil {
		b.ext = &bceExt{}
	}
	return b.ext
}

// tidy drops ext once it holds nothing.
func (b *bce) tidy() {
	if e := b.ext; e != nil && e.held == nil && e.revoke == nil && e.resumeTrigger == 0 && len(e.pooledMore) == 0 {
		b.ext = nil
	}
}

func (b *bce) held() *heldPBU {
	if b.ext == nil {
		return nil
	}
	return b.ext.held
}

func (b *bce) setHeld(h *heldPBU) {
	if h == nil && b.ext == nil {
		return
	}
	b.x().held = h
	b.tidy()
}

func (b *bce) revoke() *revocation {
	if b.ext == nil {
		return nil
	}
	return b.ext.revoke
}

func (b *bce) setRevoke(rv *revocation) {
	if rv == nil && b.ext == nil {
		return
	}
	b.x().revoke = rv
	b.tidy()
}

func (b *bce) proxyCoA() netip.Addr {
	if b.peer == nil {
		return netip.Addr{}
	}
	return b.peer.addr
}

func (b *bce) lifetimeDur() time.Duration { return time.Duration(b.lifetime) * time.Second }

// isPooled reports whether hnps[i] came from the pools.
func (b *bce) isPooled(i int) bool {
	if i < 64 {
		return b.pooled&(1<<i) != 0
	}
	if b.ext == nil || i-64 >= len(b.ext.pooledMore) {
		return false
	}
	return b.ext.pooledMore[i-64]
}

func (b *bce) setPooled(i int, v bool) {
	if i < 64 {
		if v {
			b.pooled |= 1 << i
		} else {
			b.pooled &^= 1 << i
		}
		return
	}
	if !v && (b.ext == nil || i-64 >= len(b.ext.pooledMore)) {
		return
	}
	e := b.x()
	for len(e.pooledMore) <= i-64 {
		e.pooledMore = append(e.pooledMore, false)
	}
	e.pooledMore[i-64] = v
	if !v && !slices.Contains(e.pooledMore, true) {
		e.pooledMore = nil
		b.tidy()
	}
}

// prefixPooled reports whether p is one of b's prefixes from the pools.
func (b *bce) prefixPooled(p netip.Prefix) bool {
	i := slices.Index(b.hnps, p)
	return i >= 0 && b.isPooled(i)
}

// nsTime converts Unix nanoseconds (0: the zero time) to a UTC time.
func nsTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// unixNs converts t to Unix nanoseconds (the zero time: 0).
func unixNs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// heldPBU is a PBU with HI=4 waiting for the previous MAG's
// de-registration (RFC 5213 §5.4.1.2 step 4, §5.4.1.3 step 3).
type heldPBU struct {
	src, dst netip.Addr
	raw      []byte
	now      time.Time // receipt time (LMA clock)
	timer    clock.Timer
	done     bool
}

// peer is a MAG the LMA has bindings with (RFC 5847 heartbeat state).
type peer struct {
	addr           netip.Addr
	bindings       int
	seq            uint32
	outstanding    bool
	missing        int
	down           bool
	restartCounter uint32
	haveCounter    bool
	restarts       int
	noHeartbeat    bool // answered our Heartbeat with BE status 2 (RFC 5847 §3)
}

// LMA is a local mobility anchor. Create it with New and start it with Run.
type LMA struct {
	cfg Config
	ops chan func()
	// done is closed when Run returns.
	done    chan struct{}
	started chan struct{}

	// State below is owned by the loop.
	nextID   uint64
	nBCE     int // entries in the cache
	byPrefix map[netip.Prefix]*bce
	byMN     map[string]*bce // the MN's first session; the others follow nextMN
	pool     *prefixPool
	// allocCount counts the pool prefixes held by entries.
	allocCount int
	timers     timerHeap
	peers      map[netip.Addr]*peer
	static     map[netip.Prefix]string // statically assigned prefix -> MN key
	dec        mh.Decoder
	rxq        rxQueue
	rxWork     []transport.Packet // taken from rxq, processed up to rxPos
	rxPos      int
	tx         txQueue
	pba        pbaScratch
	reqFree    []*pbuReq
	hbTimer    clock.Timer
	briSeq     uint16
	revokes    map[uint16]*revocation
	counters   Counters
	// processed counts the packets handlePacket was given (tests use it
	// to know the loop has caught up).
	processed uint64

	// Persistence (Config.Store): entries changed by the current
	// operation, messages waiting for them to be durable, pool cursor
	// changed, commits in flight; what New restored for Run to resume.
	dirty        map[*bce]struct{}
	pendingTx    []outMsg
	poolDirty    bool
	storePending int
	restored     []*bce
	loadDrop     StoreChanges
	loadStats    LoadStats
	// assigning: new sessions waiting for Config.Prefixes, by MN key.
	assigning map[string]*pendingAssign

	// startMu guards running, set by Run before it serves: until then
	// Entries reads the state directly.
	startMu sync.Mutex
	running bool
}

// New checks cfg and returns an LMA ready to Run.
func New(cfg Config) (*LMA, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	l := &LMA{
		cfg:       cfg,
		ops:       make(chan func(), 1024),
		done:      make(chan struct{}),
		started:   make(chan struct{}),
		byPrefix:  map[netip.Prefix]*bce{},
		byMN:      map[string]*bce{},
		peers:     map[netip.Addr]*peer{},
		static:    map[netip.Prefix]string{},
		revokes:   map[uint16]*revocation{},
		dirty:     map[*bce]struct{}{},
		assigning: map[string]*pendingAssign{},
	}
	var reserved []netip.Prefix
	for k, p := range cfg.MNs {
		for _, x := range p.Prefixes {
			x = x.Masked()
			if o, dup := l.static[x]; dup {
				return nil, fmt.Errorf("lma: prefix %v assigned to both %q and %q", x, o, k)
			}
			l.static[x] = k
			reserved = append(reserved, x)
		}
	}
	l.pool = newPrefixPool(cfg.Pools, cfg.PrefixLen, reserved)
	l.rxq.init(cfg.ReceiveQueue, l.drainRx)
	l.counters.init()
	if cfg.Store != nil {
		if err := l.loadStore(); err != nil {
			return nil, fmt.Errorf("lma: state store: %w", err)
		}
	}
	return l, nil
}

// ErrStopped is returned by management calls when the LMA is not running.
var ErrStopped = errors.New("lma: not running")

// Run sets up the data plane, then receives and processes signalling until
// ctx is done. It closes nothing it was given; the caller closes the
// transport after Run returns (Run unblocks its reader by itself only
// when the transport is closed, so close it to stop promptly).
func (l *LMA) Run(ctx context.Context) error {
	defer close(l.done)
	if err := l.cfg.DataPlane.Setup(dataplane.Config{Local: l.cfg.Address, Dev: l.cfg.DataPlaneDev}); err != nil {
		return fmt.Errorf("lma: data plane setup: %w", err)
	}
	l.startMu.Lock()
	l.running = true
	l.startMu.Unlock()
	rxErr := make(chan error, 1)
	if !l.cfg.ExternalReceive {
		go l.reader(ctx, rxErr)
	}
	if l.cfg.Store != nil {
		l.resumeStore()
		l.flushStore()
	}
	l.flushTx()
	l.scheduleHeartbeat()
	close(l.started)
	l.cfg.Log.WithField("address", l.cfg.Address).Info("LMA running")
	for {
		select {
		case op := <-l.ops:
			op()
			l.flushStore()
			l.flushTx()
		case <-ctx.Done():
			l.stopTimers()
			return nil
		case err := <-rxErr:
			l.stopTimers()
			if errors.Is(err, transport.ErrClosed) {
				return nil
			}
			return fmt.Errorf("lma: receive: %w", err)
		}
	}
}

func (l *LMA) stopTimers() {
	if l.hbTimer != nil {
		l.hbTimer.Stop()
	}
	l.timers.stop()
	for b := range l.all {
		if h := b.held(); h != nil && h.timer != nil {
			h.timer.Stop()
		}
	}
	for _, r := range l.revokes {
		if r.timer != nil {
			r.timer.Stop()
		}
	}
}

// all iterates over the Binding Cache.
func (l *LMA) all(yield func(*bce) bool) {
	for _, b := range l.byMN {
		for ; b != nil; b = b.nextMN {
			if !yield(b) {
				return
			}
		}
	}
}

// sessions returns the MN's sessions, oldest first.
func (l *LMA) sessions(mn string) []*bce {
	var out []*bce
	for b := l.byMN[mn]; b != nil; b = b.nextMN {
		out = append(out, b)
	}
	return out
}

// onlySession returns the MN's session when it has exactly one.
func (l *LMA) onlySession(mn string) *bce {
	if b := l.byMN[mn]; b != nil && b.nextMN == nil {
		return b
	}
	return nil
}

// addSession appends b to its MN's sessions.
func (l *LMA) addSession(b *bce) {
	l.nBCE++
	head := l.byMN[b.mnKey]
	if head == nil {
		l.byMN[b.mnKey] = b
		return
	}
	for head.nextMN != nil {
		head = head.nextMN
	}
	head.nextMN = b
}

// dropSession unlinks b from its MN's sessions (the MN's timestamp stays
// with the first remaining one, and goes with the last).
func (l *LMA) dropSession(b *bce) {
	head := l.byMN[b.mnKey]
	if head == nil {
		return
	}
	l.nBCE--
	if head == b {
		if b.nextMN == nil {
			delete(l.byMN, b.mnKey)
		} else {
			b.nextMN.mnTS = b.mnTS
			l.byMN[b.mnKey] = b.nextMN
		}
		b.nextMN = nil
		return
	}
	for p := head; p.nextMN != nil; p = p.nextMN {
		if p.nextMN == b {
			p.nextMN = b.nextMN
			b.nextMN = nil
			return
		}
	}
}

// post runs f on the loop (used by timers); it is dropped once Run has
// returned.
func (l *LMA) post(f func()) {
	select {
	case l.ops <- f:
	case <-l.done:
	}
}

// call runs f on the loop and waits for it.
func (l *LMA) call(ctx context.Context, f func()) error {
	select {
	case <-l.started:
	case <-l.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	fin := make(chan struct{})
	select {
	case l.ops <- func() { f(); l.flushTx(); close(fin) }: // what f sent is out when call returns
	case <-l.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-fin:
		return nil
	case <-l.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// after schedules f on the loop after d.
func (l *LMA) after(d time.Duration, f func()) clock.Timer {
	return l.cfg.Clock.AfterFunc(d, func() { l.post(f) })
}

// HandlePacket processes p as a received Mobility Header, on the LMA's
// loop: for an owner that reads the transport itself (Config.
// ExternalReceive). It is safe from any goroutine and does not wait for
// the processing; p.Data is copied. Packets given before Run are
// processed once it runs; after Run has returned they are dropped.
//
// Like the packets Run reads, they wait in the receive queue
// (Config.ReceiveQueue): when it is full they are dropped and counted.
func (l *LMA) HandlePacket(p transport.Packet) {
	if l.rxq.put([]transport.Packet{p}) {
		l.post(l.rxq.drain)
	}
}

// handlePacket dispatches one received Mobility Header (RFC 6275 §9.2
// checks first).
func (l *LMA) handlePacket(p transport.Packet) {
	l.processed++
	if len(p.Data) < 3 {
		l.counters.drop("short")
		return
	}
	m, err := l.dec.Decode(p.Data)
	if err != nil {
		l.counters.drop("malformed")
		if l.logOn(logrus.DebugLevel) {
			l.cfg.Log.WithError(err).WithField("peer", p.Src).Debug("malformed Mobility Header dropped")
		}
		return
	}
	if err := mh.ValidateHeader(m); err != nil {
		// RFC 6275 §9.2: drop; an ICMPv6 Parameter Problem SHOULD be
		// sent (not done: the raw MH socket cannot send ICMPv6).
		l.counters.drop("header check")
		if l.logOn(logrus.DebugLevel) {
			l.cfg.Log.WithError(err).WithField("peer", p.Src).Debug("Mobility Header dropped")
		}
		return
	}
	l.counters.rx(m)
	switch x := m.(type) {
	case *mh.BindingUpdate:
		l.handlePBU(p.Src, p.Dst, x, p.Data, l.cfg.Clock.Now())
	case *mh.Heartbeat:
		l.handleHeartbeat(p.Src, x)
	case *mh.BindingRevocationAck:
		l.handleBRA(p.Src, x)
	case *mh.BindingError:
		l.handleBE(p.Src, x)
	case *mh.BindingAck, *mh.BindingRevocationIndication:
		l.counters.drop("unexpected " + m.MHType().String())
	default:
		// RFC 6275 §9.2: an MH Type the LMA does not process gets a
		// Binding Error with status 2.
		be := &mh.BindingError{Status: mh.BEStatusUnrecognizedMHType, HomeAddress: netip.IPv6Unspecified()}
		l.send(p.Src, be)
	}
}
