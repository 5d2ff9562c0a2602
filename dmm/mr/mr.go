// Package mr is the Mobility Routing function of
// draft-luo-dmm-with-mip-and-pmip-00 (§3.1 b, §4.1-§4.4, §5, §6): an
// access router that anchors the prefixes of its own pool, serves mobile
// nodes attached to it (directly, deployment B of §5, or behind unmodified
// RFC 5213 MAGs for which it is the LMA, deployment A), keeps a location
// cache, routes to the current MR of a node through tunnels (Figure 3 or
// Figure 4, by configuration), redirects correspondents' MRs, and does the
// context transfer and temporary forwarding of a handover (Figure 5).
//
// One goroutine (the loop started by Run) owns all state, gobgp style:
// received signalling, punt misses and held packets' sources, access events, answers of the LM and
// HAA (called off the loop, since they may be network clients), timers and
// management calls are operations on it. Transport, data plane, punt path,
// LM, HAA, access side, clock and logger are injected (Deps).
//
// Wire encoding: docs/wire-format.md. MR <-> MR signalling is RFC 5949
// HI/HAck (context transfer) and the project's Redirect / Redirect Ack;
// MAG <-> MR (deployment A) is RFC 5213 PBU/PBA; MR <-> LM and MR <-> HAA
// go through LocationService and AddressAllocator.
package mr

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// ErrStopped is returned by management calls when the MR is not running.
var ErrStopped = errors.New("mr: not running")

// MR is a Mobility Router. Create it with New, start it with Run.
type MR struct {
	cfg Config
	d   Deps
	log *logrus.Entry

	ops     chan func()
	started chan struct{}
	done    chan struct{}
	runCtx  context.Context
	wg      sync.WaitGroup

	// busy counts work started off the loop whose result is not yet
	// applied; processed counts received packets handled (tests use both
	// to know the MR is idle).
	busy      atomic.Int64
	processed atomic.Uint64
	misses    atomic.Uint64
	sources   atomic.Uint64

	// Owned by the loop.
	own       []netip.Prefix
	mns       map[string]*binding // attached (or attaching) here, by MN key
	byPrefix  map[netip.Prefix]*binding
	departed  map[string]*departure // left this MR: held or forwarded
	cache     map[netip.Prefix]*cached
	querying  map[netip.Prefix]bool
	corr      map[netip.Prefix]map[netip.Addr]bool
	down, up  map[netip.Prefix]dataplane.Entry
	held      map[netip.Prefix]string // prefix -> why
	his       map[uint16]*hiTx
	redirects map[uint16]*redirectTx
	seq       uint16
	dec       mh.Decoder
	txbuf     []byte
	counters  Counters
	servedTmr clock.Timer
	// srcLookups: the MRs of sources (LM lookups coalesced and reused);
	// redirected: the current MR each correspondent's MR was last
	// redirected to for a prefix anchored here (Figure 4).
	srcLookups map[netip.Prefix]*srcLookup
	redirected map[corrKey]netip.Addr

	// Persistence (Config.Store): keys of nodes changed by the current
	// operation, sends waiting for them to be durable, commits in flight;
	// what New restored for Run to resume, and dropped for it to delete.
	dirty          map[string]struct{}
	out            []func()
	storePending   int
	restored       []*binding
	loadDrop       []string
	loadStats      LoadStats
	restartCounter uint32
}

// New checks the configuration and returns an MR ready to Run.
func New(cfg Config, d Deps) (*MR, error) {
	cfg.setDefaults()
	if err := cfg.validate(&d); err != nil {
		return nil, err
	}
	if d.Clock == nil {
		d.Clock = clock.New()
	}
	if d.Log == nil {
		l := logrus.New()
		l.Out = discard{}
		d.Log = logrus.NewEntry(l)
	}
	m := &MR{
		cfg: cfg, d: d,
		log:     d.Log.WithField("component", "mr").WithField("mr", cfg.Address),
		ops:     make(chan func(), 1024),
		started: make(chan struct{}),
		done:    make(chan struct{}),
		mns:     map[string]*binding{}, byPrefix: map[netip.Prefix]*binding{},
		departed: map[string]*departure{}, cache: map[netip.Prefix]*cached{},
		querying: map[netip.Prefix]bool{}, corr: map[netip.Prefix]map[netip.Addr]bool{},
		down: map[netip.Prefix]dataplane.Entry{}, up: map[netip.Prefix]dataplane.Entry{},
		held: map[netip.Prefix]string{}, his: map[uint16]*hiTx{}, redirects: map[uint16]*redirectTx{},
		txbuf:      make([]byte, 0, 1280),
		srcLookups: map[netip.Prefix]*srcLookup{}, redirected: map[corrKey]netip.Addr{},
		dirty: map[string]struct{}{},
	}
	for _, p := range cfg.Pools {
		if p.AnchorMR == cfg.Address {
			m.own = append(m.own, p.Prefix)
		}
	}
	m.counters.init()
	if cfg.Store != nil {
		if err := m.loadStore(); err != nil {
			return nil, fmt.Errorf("mr: state store: %w", err)
		}
	}
	return m, nil
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// Address is the MR's address.
func (m *MR) Address() netip.Addr { return m.cfg.Address }

// Run sets up the data plane and the punt watches, then runs the loop
// until ctx is done or the transport is closed. The caller closes the
// transport and the access side after Run returns.
func (m *MR) Run(ctx context.Context) error {
	defer close(m.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.runCtx = ctx
	if err := m.d.DataPlane.Setup(dataplane.Config{Local: m.cfg.Address, Dev: m.cfg.CoreDev}); err != nil {
		return fmt.Errorf("mr: data plane setup: %w", err)
	}
	if m.cfg.Store != nil {
		m.resumeStore()
	}
	for _, p := range m.cfg.Pools {
		if m.cfg.Routing == RoutingQuery || p.AnchorMR == m.cfg.Address {
			if err := m.d.Punt.Watch(p.Prefix); err != nil {
				return fmt.Errorf("mr: punt watch %v: %w", p.Prefix, err)
			}
		}
	}
	rxErr := make(chan error, 1)
	m.wg.Add(2)
	go m.reader(ctx, rxErr)
	go m.missReader(ctx)
	if m.d.Ingress != nil {
		m.wg.Add(1)
		go m.ingressReader(ctx)
	}
	if sr, ok := m.d.Punt.(SourceReporter); ok {
		m.wg.Add(1)
		go m.sourceReader(ctx, sr.Sources())
	}
	if m.d.Access != nil {
		if err := m.d.Access.Start(func(ev AccessEvent) {
			m.busy.Add(1)
			m.post(func() { defer m.busy.Add(-1); m.handleAccess(ev) })
		}); err != nil {
			return fmt.Errorf("mr: access: %w", err)
		}
	}
	close(m.started)
	m.registerServed()
	m.log.WithFields(logrus.Fields{"routing": m.cfg.Routing, "deployment": m.cfg.Deployment, "own": m.own}).Info("MR running")
	defer m.wg.Wait()
	defer cancel()
	for {
		select {
		case op := <-m.ops:
			op()
			m.flushStore()
		case <-ctx.Done():
			m.stopTimers()
			return nil
		case err := <-rxErr:
			m.stopTimers()
			if errors.Is(err, transport.ErrClosed) {
				return nil
			}
			return fmt.Errorf("mr: receive: %w", err)
		}
	}
}

func (m *MR) reader(ctx context.Context, errc chan<- error) {
	defer m.wg.Done()
	ps := make([]transport.Packet, 32)
	for {
		n, err := m.d.Transport.Receive(ps)
		if err != nil {
			errc <- err
			return
		}
		got := make([]transport.Packet, n)
		copy(got, ps[:n])
		for i := range ps[:n] {
			ps[i].Data = nil // got owns the buffers now
		}
		m.busy.Add(1)
		op := func() {
			defer m.busy.Add(-1)
			for i := range got {
				m.handlePacket(got[i])
				m.processed.Add(1)
			}
		}
		select {
		case m.ops <- op:
		case <-ctx.Done():
			m.busy.Add(-1)
			return
		}
	}
}

func (m *MR) missReader(ctx context.Context) {
	defer m.wg.Done()
	ch := m.d.Punt.Misses()
	for {
		select {
		case ms, ok := <-ch:
			if !ok {
				return
			}
			m.busy.Add(1)
			m.post(func() { defer m.busy.Add(-1); m.handleMiss(ms); m.misses.Add(1) })
		case <-ctx.Done():
			return
		}
	}
}

func (m *MR) sourceReader(ctx context.Context, ch <-chan HeldSource) {
	defer m.wg.Done()
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				return
			}
			m.busy.Add(1)
			m.post(func() { defer m.busy.Add(-1); m.handleSource(s); m.sources.Add(1) })
		case <-ctx.Done():
			return
		}
	}
}

func (m *MR) ingressReader(ctx context.Context) {
	defer m.wg.Done()
	for {
		select {
		case in, ok := <-m.d.Ingress:
			if !ok {
				return
			}
			m.busy.Add(1)
			m.post(func() { defer m.busy.Add(-1); m.handleIngress(in) })
		case <-ctx.Done():
			return
		}
	}
}

// post runs f on the loop; dropped once Run has returned.
func (m *MR) post(f func()) {
	select {
	case m.ops <- f:
	case <-m.done:
	}
}

// call runs f on the loop and waits for it.
func (m *MR) call(ctx context.Context, f func()) error {
	select {
	case <-m.started:
	case <-m.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	fin := make(chan struct{})
	select {
	case m.ops <- func() { f(); close(fin) }:
	case <-m.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-fin:
		return nil
	case <-m.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// after schedules f on the loop after d.
func (m *MR) after(d time.Duration, f func()) clock.Timer {
	return m.d.Clock.AfterFunc(d, func() { m.post(f) })
}

// async runs f off the loop (an LM or HAA call, which may block on the
// network) and then the function it returns on the loop.
func (m *MR) async(f func(ctx context.Context) func()) {
	m.busy.Add(1)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(m.runCtx, m.cfg.CallTimeout)
		next := f(ctx)
		cancel()
		select {
		case m.ops <- func() { defer m.busy.Add(-1); next() }:
		case <-m.done:
			m.busy.Add(-1)
		}
	}()
}

func (m *MR) stopTimers() {
	for _, b := range m.mns {
		b.stop()
	}
	for _, dp := range m.departed {
		dp.stop()
	}
	for _, c := range m.cache {
		if c.timer != nil {
			c.timer.Stop()
		}
	}
	for _, h := range m.his {
		if h.timer != nil {
			h.timer.Stop()
		}
	}
	for _, r := range m.redirects {
		if r.timer != nil {
			r.timer.Stop()
		}
	}
	if m.servedTmr != nil {
		m.servedTmr.Stop()
	}
}

func (m *MR) nextSeq() uint16 {
	m.seq++
	return m.seq
}

// send marshals msg and sends it to dst.
func (m *MR) send(dst netip.Addr, msg mh.Message) {
	n := msg.MarshalLen()
	if cap(m.txbuf) < n {
		m.txbuf = make([]byte, n)
	}
	b := m.txbuf[:n]
	if err := msg.MarshalTo(b); err != nil {
		m.log.WithError(err).WithField("type", msgName(msg)).Error("cannot encode message")
		m.counters.drop("encode error")
		return
	}
	if err := m.d.Transport.Send(dst, b); err != nil {
		m.log.WithError(err).WithField("peer", dst).Warn("send failed")
		m.counters.drop("send error")
		return
	}
	m.counters.tx(msg)
}

// handlePacket dispatches one received Mobility Header.
func (m *MR) handlePacket(p transport.Packet) {
	if m.d.Deliver != nil && len(p.Data) >= 8 && isAnswer(p.Data) && m.d.Deliver(p) {
		return // an answer of the LM or HAA to its client
	}
	msg, err := m.dec.Decode(p.Data)
	if err != nil {
		m.counters.drop("malformed")
		m.log.WithError(err).WithField("peer", p.Src).Debug("malformed Mobility Header dropped")
		return
	}
	if err := mh.ValidateHeader(msg); err != nil {
		m.counters.drop("header check")
		return
	}
	m.counters.rx(msg)
	switch x := msg.(type) {
	case *mh.BindingUpdate:
		m.handlePBU(p.Src, x)
	case *mh.HandoverInitiate:
		m.handleHI(p.Src, x)
	case *mh.HandoverAck:
		m.handleHAck(p.Src, x)
	case *mh.Redirect:
		m.handleRedirect(p.Src, x)
	case *mh.RedirectAck:
		m.handleRedirectAck(p.Src, x)
	case *mh.Heartbeat:
		if !x.Response() {
			resp := &mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: x.Sequence}
			if m.cfg.Store != nil {
				// RFC 5847 §3.4: the Restart Counter kept in the store.
				resp.Options = mh.Options{&mh.RestartCounter{Counter: m.restartCounter}}
			}
			m.send(p.Src, resp)
		}
	default:
		m.counters.drop("unexpected " + msgName(msg))
	}
}

// ---- data plane ----

// setDown installs the downlink route of p (replacing the previous one).
func (m *MR) setDown(p netip.Prefix, e dataplane.Entry) {
	if old, ok := m.down[p]; ok {
		if old == e {
			return
		}
		if old.Key() != e.Key() {
			m.dpDel(old)
		}
	}
	if m.dpAdd(e) {
		m.down[p] = e
	} else {
		delete(m.down, p)
	}
}

func (m *MR) clearDown(p netip.Prefix) {
	if old, ok := m.down[p]; ok {
		m.dpDel(old)
		delete(m.down, p)
	}
}

func (m *MR) setUp(p netip.Prefix, e dataplane.Entry) {
	if old, ok := m.up[p]; ok {
		if old == e {
			return
		}
		if old.Key() != e.Key() {
			m.dpDel(old)
		}
	}
	if m.dpAdd(e) {
		m.up[p] = e
	}
}

func (m *MR) clearUp(p netip.Prefix) {
	if old, ok := m.up[p]; ok {
		m.dpDel(old)
		delete(m.up, p)
	}
}

func (m *MR) dpAdd(e dataplane.Entry) bool {
	if err := m.d.DataPlane.Add(e); err != nil {
		m.counters.DataPlaneErrors++
		m.log.WithError(err).WithField("entry", e.String()).Error("data plane add failed")
		return false
	}
	return true
}

func (m *MR) dpDel(e dataplane.Entry) {
	if err := m.d.DataPlane.Del(e); err != nil {
		m.counters.DataPlaneErrors++
		m.log.WithError(err).WithField("entry", e.String()).Error("data plane delete failed")
	}
}

// ---- punt ----

func (m *MR) hold(p netip.Prefix, why string) {
	if was, ok := m.held[p]; ok && was != heldMiss {
		m.held[p] = why
		return
	}
	// Not held, or held by the punt's own miss queue (which a more
	// specific route would bypass): hold it for good.
	if err := m.d.Punt.Hold(p); err != nil {
		m.counters.PuntErrors++
		m.log.WithError(err).WithField("prefix", p).Error("punt hold failed")
		return
	}
	m.counters.Holds++
	m.held[p] = why
}

// release re-injects what was held for p, if p is held (and for a
// watched prefix reported by a Miss, whose hold is the punt's own).
func (m *MR) release(p netip.Prefix) {
	n, err := m.d.Punt.Release(p)
	delete(m.held, p)
	if err != nil {
		m.counters.PuntErrors++
		m.log.WithError(err).WithField("prefix", p).Warn("punt release failed")
		return
	}
	m.counters.Releases++
	m.counters.Released += uint64(n)
}

func (m *MR) drop(p netip.Prefix) {
	n, err := m.d.Punt.Drop(p)
	delete(m.held, p)
	if err != nil {
		m.counters.PuntErrors++
		return
	}
	m.counters.Drops++
	m.counters.DroppedPackets += uint64(n)
}

// ---- helpers ----

func (m *MR) isOwn(p netip.Prefix) bool {
	for _, o := range m.own {
		if o.Overlaps(p) && o.Bits() <= p.Bits() {
			return true
		}
	}
	return false
}

// anchorOf returns the anchor of p from the domain's pool table.
func (m *MR) anchorOf(a netip.Addr) (netip.Addr, bool) {
	for _, p := range m.cfg.Pools {
		if p.Prefix.Contains(a) {
			return p.AnchorMR, true
		}
	}
	return netip.Addr{}, false
}

func (m *MR) addCorrespondent(p netip.Prefix, mr netip.Addr) {
	if mr == m.cfg.Address || !mr.IsValid() {
		return
	}
	s := m.corr[p]
	if s == nil {
		s = map[netip.Addr]bool{}
		m.corr[p] = s
	}
	s[mr] = true
}

func seconds(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	s := d / time.Second
	if s > 0xffffffff {
		return 0xffffffff
	}
	return uint32(s)
}

// isAnswer: a Binding Acknowledgement or a Location Reply (what the
// LM/HAA clients wait for).
func isAnswer(b []byte) bool {
	if mh.Type(b[2]) == mh.TypeBindingAck {
		return true
	}
	c := mh.CurrentCodepoints()
	return mh.Type(b[2]) == c.CarrierMHType && b[6] == c.LocationReply
}
