package mr

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/mh"
)

// cached is a routing location this MR tunnels to (draft §4.3 "Record
// Location of MN1 Locally"), with its lifetime.
type cached struct {
	loc     Location
	expires time.Time
	source  string // "query", "redirect", "handover", "fallback"
	setBy   netip.Addr
	seq     uint16
	hasSeq  bool
	timer   clock.Timer
}

// seqDiff is how far seq is behind the Sequence # of the Redirect that
// set the entry, when src set it (0 otherwise, or when equal).
func (c *cached) seqDiff(src netip.Addr, seq uint16) uint16 {
	if c == nil || !c.hasSeq || c.setBy != src {
		return 0
	}
	return c.seq - seq
}

func (c *cached) entry() dataplane.Entry {
	return dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: c.loc.Prefix, Remote: c.loc.CurrentMR}
}

// setCache records loc and routes its prefix into the tunnel to the
// current MR until the lifetime runs out.
func (m *MR) setCache(loc Location, source string, setBy netip.Addr, seq uint16) {
	p := loc.Prefix
	if old := m.cache[p]; old != nil && old.timer != nil {
		old.timer.Stop()
	}
	c := &cached{loc: loc, expires: m.d.Clock.Now().Add(loc.Lifetime), source: source, setBy: setBy, seq: seq, hasSeq: source == "redirect"}
	m.cache[p] = c
	m.setDown(p, c.entry())
	c.timer = m.after(loc.Lifetime, func() {
		if m.cache[p] == c {
			m.log.WithField("prefix", p).WithField("current_mr", loc.CurrentMR).Debug("cached location expired")
			m.dropCache(p)
		}
	})
}

// dropCache forgets the cached location of p and its route.
func (m *MR) dropCache(p netip.Prefix) {
	c := m.cache[p]
	if c == nil {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	delete(m.cache, p)
	if cur, ok := m.down[p]; ok && cur == c.entry() {
		m.clearDown(p)
	}
}

// missRecheck is how long the packets of a node attached here that the
// kernel could not route are held waiting for its detach.
const missRecheck = 100 * time.Millisecond

// heldMiss is the reason of a prefix held by such a miss.
const heldMiss = "miss while attached"

// handleMiss: the data plane had no route for a packet of a watched
// space (draft §4.3). As the correspondent's MR (Figure 3) the MR asks the
// LM and tunnels straight to the current MR; as the anchor (Figure 4) it
// asks the LM, forwards, and redirects the correspondent's MR.
func (m *MR) handleMiss(ms Miss) {
	m.counters.Misses++
	p := ms.Prefix
	if !p.IsValid() {
		p = netip.PrefixFrom(ms.Dst, 64).Masked()
	}
	log := m.log.WithFields(logrus.Fields{"dst": ms.Dst, "src": ms.Src, "prefix": p})
	if _, ok := m.held[p]; ok {
		// In flux (handover): released when the new location is known.
		if dp, _ := m.departureOf(p); dp != nil {
			m.resolveDeparture(dp)
		}
		return
	}
	if b := m.byPrefix[p]; b != nil && b.state == bAttached {
		// The node's route is gone from the kernel: its access link
		// left (moved to another MR's namespace, or down) and the link
		// event is still on its way. Keep what the punt holds until the
		// detach (then the handover releases it), or put it back on the
		// route after missRecheck if the node stays.
		m.held[p] = heldMiss
		gen := b.gen
		m.after(missRecheck, func() {
			if m.byPrefix[p] == b && b.gen == gen && b.state == bAttached && m.held[p] == heldMiss {
				m.setDown(p, m.accessEntry(b, p))
				m.release(p)
			}
		})
		return
	}
	if c := m.cache[p]; c != nil {
		m.release(p)
		m.redirectSource(p, ms.Src)
		return
	}
	if m.querying[p] {
		return
	}
	m.querying[p] = true
	own := m.isOwn(p)
	dst, src := ms.Dst, ms.Src
	m.counters.Queries++
	m.async(func(ctx context.Context) func() {
		locs, err := m.d.LM.Query(ctx, wire.QueryAddress(dst))
		if errors.Is(err, wire.ErrLocationUnknown) {
			err = nil
		}
		return func() {
			delete(m.querying, p)
			m.onLocation(p, dst, src, own, locs, err, log)
		}
	})
}

func (m *MR) onLocation(p netip.Prefix, dst, src netip.Addr, own bool, locs []Location, err error, log *logrus.Entry) {
	self := m.cfg.Address
	if b := m.byPrefix[p]; b != nil && b.state == bAttached {
		m.release(p) // attached meanwhile
		return
	}
	var loc *Location
	for i := range locs {
		if locs[i].Prefix.Contains(dst) {
			loc = &locs[i]
			break
		}
	}
	if err != nil || loc == nil {
		m.counters.QueryErrors++
	}
	switch {
	case loc != nil && loc.CurrentMR != self && loc.CurrentMR.IsValid() && loc.Lifetime > 0:
		m.setCache(*loc, "query", netip.Addr{}, 0)
		p = loc.Prefix
		log.WithField("current_mr", loc.CurrentMR).Info("location learnt from the LM: tunnelling to the current MR")
		m.release(p)
		if own && !m.cfg.NoRedirect && src.IsValid() {
			m.redirectCorrespondent(*loc, src)
		}
	case own || loc != nil:
		// Our own prefix with nowhere to go, or a stale location naming us.
		log.WithError(err).Info("no location for the destination: dropping what was held")
		m.drop(p)
	default:
		// The LM knows nothing: regular routing to the anchor, for a while.
		a, ok := m.anchorOf(dst)
		if !ok || a == self {
			m.drop(p)
			return
		}
		m.setCache(Location{Prefix: p, AnchorMR: a, CurrentMR: a, Lifetime: m.cfg.NegativeLifetime}, "fallback", netip.Addr{}, 0)
		log.WithField("anchor", a).Info("location unknown: tunnelling to the anchor")
		m.release(p)
	}
}

// redirectCorrespondent redirects the MR of a packet's source to the
// current MR of loc (Figure 4 step 8).
func (m *MR) redirectCorrespondent(loc Location, src netip.Addr) {
	m.redirectFrom(loc.Prefix, src)
}

// redirectSource: as the anchor of p in Figure 4 mode, this MR forwards a
// packet from src for a node that is away (whatever told it where the
// node is: the LM, a handover, a Redirect): the MR of src, found through
// the LM by the source address, is redirected to the node's current MR,
// once per (prefix, correspondent's MR, current MR). A source the LM does
// not know is a fixed node reached by plain routing (§6): no Redirect.
func (m *MR) redirectSource(p netip.Prefix, src netip.Addr) {
	if m.cfg.Routing != RoutingRedirect {
		return
	}
	m.redirectFrom(p, src)
}

// redirectFrom is redirectSource in either routing mode (the anchor that
// resolved a miss of its own prefix redirects in both).
func (m *MR) redirectFrom(p netip.Prefix, src netip.Addr) {
	if m.cfg.NoRedirect || !src.IsValid() || !m.isOwn(p) {
		return
	}
	if c := m.cache[p]; c == nil || c.loc.CurrentMR == m.cfg.Address || !c.loc.CurrentMR.IsValid() {
		return
	}
	m.sourceMR(src, func(cmr netip.Addr) {
		c := m.cache[p]
		if c == nil || !cmr.IsValid() || cmr == m.cfg.Address || cmr == c.loc.CurrentMR {
			return
		}
		k := corrKey{p, cmr}
		if m.redirected[k] == c.loc.CurrentMR {
			return
		}
		m.redirected[k] = c.loc.CurrentMR
		loc := c.loc
		loc.Lifetime = max(c.expires.Sub(m.d.Clock.Now()), 0)
		rl := mh.NewRoutingLocation(p, loc.AnchorMR, loc.CurrentMR, seconds(loc.Lifetime))
		m.log.WithFields(logrus.Fields{"prefix": p, "src": src, "correspondent_mr": cmr, "current_mr": loc.CurrentMR}).
			Info("redirecting the correspondent's MR (Figure 4)")
		m.sendRedirect(cmr, []*mh.RoutingLocation{rl}, nil)
	})
}

// srcLookup is an LM lookup of a source /64 in progress (its waiters) or
// done (its answer, kept sourceMRLifetime).
type srcLookup struct {
	waiters []func(netip.Addr)
	done    bool
	mr      netip.Addr
	expires time.Time
}

// sourceMRLifetime is how long the MR of a source /64 found in the LM is
// reused without asking again.
const sourceMRLifetime = 5 * time.Second

// sourceMR finds the MR a source address is at (the LM's current MR; a
// node at the anchor of its pool that the LM does not know: that anchor;
// else invalid) and calls f on the loop with it. Lookups of one source /64
// are coalesced while one is outstanding and their answer reused for
// sourceMRLifetime.
func (m *MR) sourceMR(src netip.Addr, f func(netip.Addr)) {
	sp := netip.PrefixFrom(src, 64).Masked()
	now := m.d.Clock.Now()
	if l := m.srcLookups[sp]; l != nil {
		if !l.done {
			l.waiters = append(l.waiters, f)
			return
		}
		if now.Before(l.expires) {
			f(l.mr)
			return
		}
	}
	if len(m.srcLookups) > 4096 {
		for k, l := range m.srcLookups {
			if l.done && !now.Before(l.expires) {
				delete(m.srcLookups, k)
			}
		}
	}
	l := &srcLookup{waiters: []func(netip.Addr){f}}
	m.srcLookups[sp] = l
	m.counters.SourceQueries++
	m.async(func(ctx context.Context) func() {
		locs, err := m.d.LM.Query(ctx, wire.QueryAddress(src))
		if errors.Is(err, wire.ErrLocationUnknown) {
			err = nil
		}
		return func() {
			var cmr netip.Addr
			for _, x := range locs {
				if x.Prefix.Contains(src) && x.CurrentMR.IsValid() {
					cmr = x.CurrentMR
				}
			}
			if err != nil {
				m.counters.LMErrors++
				m.log.WithError(err).WithField("src", src).Warn("LM query for a correspondent failed")
			} else if !cmr.IsValid() {
				if a, ok := m.anchorOf(src); ok {
					cmr = a
				}
			}
			l.done, l.mr, l.expires = true, cmr, m.d.Clock.Now().Add(sourceMRLifetime)
			if err != nil {
				l.expires = m.d.Clock.Now() // not reused
			}
			ws := l.waiters
			l.waiters = nil
			for _, w := range ws {
				w(cmr)
			}
		}
	})
}

// handleIngress records the MR of tunnelled traffic for a node attached
// here: it will be redirected when the node moves. A plain packet for a
// node of this MR's pool that is away makes the anchor redirect its
// source's MR (Figure 4).
func (m *MR) handleIngress(in Ingress) {
	m.counters.Ingress++
	if !in.Remote.IsValid() {
		if in.Src.IsValid() {
			m.redirectSource(netip.PrefixFrom(in.Dst, 64).Masked(), in.Src)
		}
		return
	}
	for p, b := range m.byPrefix {
		if p.Contains(in.Dst) && b != nil {
			m.addCorrespondent(p, in.Remote)
			return
		}
	}
}

// registerServed records the fixed nodes' prefixes behind this MR in the
// LM (draft §6), refreshed at half their lifetime.
func (m *MR) registerServed() {
	if len(m.cfg.Served) == 0 {
		return
	}
	self, life := m.cfg.Address, m.cfg.Lifetime
	for _, p := range m.cfg.Served {
		p := p.Masked()
		m.async(func(ctx context.Context) func() {
			err := m.d.LM.Update(ctx, "fixed:"+p.String(), []netip.Prefix{p}, self, self, life)
			return func() {
				if err != nil {
					m.counters.LMErrors++
					m.log.WithError(err).WithField("prefix", p).Warn("LM registration of a served prefix failed")
					return
				}
				m.counters.LMUpdates++
			}
		})
	}
	m.servedTmr = m.after(life/2, m.registerServed)
}
