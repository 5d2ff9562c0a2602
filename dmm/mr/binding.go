package mr

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/mh"
)

// prefix is a home network prefix of a node attached here.
type prefix struct {
	p      netip.Prefix
	anchor netip.Addr
	// deprecated: advertised with preferred lifetime 0 (an old prefix
	// beside a new one anchored here, draft §4.2).
	deprecated bool
	// fresh: allocated for this attachment (the previous MR never had it).
	fresh bool
}

type bstate uint8

const (
	bAttaching bstate = iota + 1
	bAttached
)

// binding is a mobile node attached to this MR.
type binding struct {
	key   string
	mnid  mh.MNIdentifier
	state bstate
	gen   uint64
	log   *logrus.Entry

	// Deployment A: the legacy MAG (Proxy-CoA) and the PBU being answered.
	mag     netip.Addr
	pending *pbuCtx
	lastSeq uint16
	hasSeq  bool
	lastTS  uint64
	// Deployment B: the access link.
	link    string
	ifindex int
	mac     net.HardwareAddr

	ll  netip.Addr // the MN's link-local address, when known
	att mh.ATT
	hi  mh.HandoffIndicatorValue

	prefixes []*prefix
	moved    bool       // came from another MR (draft §4.2)
	pmr      netip.Addr // previous MR, when known
	lifetime time.Duration
	expires  time.Time
	timer    clock.Timer
	ctx      *mh.MobilityContext // from the previous MR's HAck

	// The HAA and the LM are asked at once, and the HI goes to the
	// previous MR as soon as the LM names it (the routes of the prefixes
	// it names are installed first), before the HAA's answer, a new
	// prefix and the LM update. hiSent: the HI went.
	hiSent   bool
	join     int // answers still awaited of the parallel HAA/LM calls
	joinHS   []Holding
	joinHErr error
	joinLocs []Location
	joinLErr error
	// started: when the attachment began (step timings in the log).
	started time.Time
}

func (b *binding) stop() {
	b.gen++
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}

func (b *binding) prefixList() []netip.Prefix {
	out := make([]netip.Prefix, len(b.prefixes))
	for i, x := range b.prefixes {
		out[i] = x.p
	}
	return out
}

func (b *binding) has(p netip.Prefix) bool {
	for _, x := range b.prefixes {
		if x.p == p {
			return true
		}
	}
	return false
}

// accessEntry is the downlink route of p to the node: into the tunnel to
// its MAG (deployment A) or onto its access link (deployment B).
func (m *MR) accessEntry(b *binding, p netip.Prefix) dataplane.Entry {
	if m.cfg.Deployment == DeployLMA {
		return dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: p, Remote: b.mag}
	}
	return dataplane.Entry{Kind: dataplane.KindAccessRoute, Prefix: p, Dev: b.link}
}

// uplinkDev is where the node's uplink enters the MR: its access link, or
// the core interface where the MAG's tunnel is decapsulated.
func (m *MR) uplinkDev(b *binding) string {
	if m.cfg.Deployment == DeployLMA {
		return m.cfg.CoreDev
	}
	return b.link
}

// startAttach begins the attachment of b (draft §4.1, §4.2): the HAA is
// asked for every prefix the node holds and, at the same time, the LM for
// where it was. When the LM names another MR, its answer alone starts the
// context transfer (earlyHandover): a node that moves is served before
// the HAA answers. This costs one LM query per attachment of a new node
// (the LM answers "unknown"), and saves the HAA's round trip on every
// handover, whether the MR knows the node moves (handoff indicator 3: a
// link moved here, a legacy MAG's PBU) or only sees it appear (carrier
// on an access link it shares with an access point, a first frame).
func (m *MR) startAttach(b *binding) {
	b.state = bAttaching
	b.gen++
	gen := b.gen
	m.mns[b.key] = b
	key := b.key
	b.started = m.d.Clock.Now()
	b.join = 2
	m.async(func(ctx context.Context) func() {
		hs, err := m.d.HAA.Holdings(ctx, key)
		return func() {
			if !m.current(b, gen) {
				return
			}
			b.joinHS, b.joinHErr = hs, err
			m.joined(b, gen)
		}
	})
	m.async(func(ctx context.Context) func() {
		locs, err := m.d.LM.Query(ctx, wire.QueryMN(key))
		if errors.Is(err, wire.ErrLocationUnknown) {
			err = nil
		}
		return func() {
			if !m.current(b, gen) {
				return
			}
			b.joinLocs, b.joinLErr = locs, err
			if err == nil {
				m.earlyHandover(b, locs)
			}
			m.joined(b, gen)
		}
	})
}

// joined counts an answer of the parallel HAA/LM calls; with both in, the
// attachment goes on as after the sequential ones.
func (m *MR) joined(b *binding, gen uint64) {
	b.join--
	if b.join > 0 {
		return
	}
	hs, err, locs, lerr := b.joinHS, b.joinHErr, b.joinLocs, b.joinLErr
	b.joinHS, b.joinHErr, b.joinLocs, b.joinLErr = nil, nil, nil, nil
	if err == nil && len(hs) == 0 {
		locs, lerr = nil, nil // a new node: the LM's answer means nothing
	}
	m.onHoldings(b, gen, hs, err, locs, lerr)
}

// earlyHandover: the LM names the MR a moving node is at (its previous
// MR) and its prefixes: their routes to the node are installed here and
// the HI goes to the previous MR at once (Figure 5 step 2), which starts
// forwarding on it; the HAA's answer, a new prefix (§4.2) and the LM
// update follow.
func (m *MR) earlyHandover(b *binding, locs []Location) {
	self := m.cfg.Address
	if b.state != bAttaching || b.hiSent || m.cfg.NoContextTransfer {
		return
	}
	var pmr netip.Addr
	for _, l := range locs {
		if l.CurrentMR.IsValid() && l.CurrentMR != self && l.Prefix.IsValid() {
			pmr = l.CurrentMR
		}
	}
	if !pmr.IsValid() {
		return
	}
	for _, l := range locs {
		if l.CurrentMR == pmr && !b.has(l.Prefix) {
			b.prefixes = append(b.prefixes, &prefix{p: l.Prefix, anchor: l.AnchorMR})
		}
	}
	b.pmr = pmr
	m.routeHere(b)
	b.lifetime = m.cfg.Lifetime
	m.sendHI(b)
	b.hiSent = true
	b.log.WithFields(logrus.Fields{"previous_mr": pmr, "prefixes": b.prefixList(),
		"after": m.d.Clock.Now().Sub(b.started)}).Info("moving node: routes in, HI sent to the previous MR")
}

// routeHere makes this MR the node's: its prefixes route to it (access
// route, reverse tunnel to each prefix's anchor), no departure, cached
// location or forwarding of them is left.
func (m *MR) routeHere(b *binding) {
	self := m.cfg.Address
	if dp := m.departed[b.key]; dp != nil {
		m.endDeparture(dp, "node came back")
	}
	for _, x := range b.prefixes {
		if o := m.byPrefix[x.p]; o != nil && o != b {
			m.detach(o, "prefix taken over")
		}
		m.byPrefix[x.p] = b
		m.dropCache(x.p)
		m.setDown(x.p, m.accessEntry(b, x.p))
		if x.anchor != self {
			// Reverse tunnel to the anchor (§4.2).
			m.setUp(x.p, dataplane.Entry{Kind: dataplane.KindSourceRoute, Prefix: x.p, Remote: x.anchor, Dev: m.uplinkDev(b)})
		} else {
			m.clearUp(x.p)
		}
	}
}

func (m *MR) current(b *binding, gen uint64) bool {
	return m.mns[b.key] == b && b.gen == gen
}

func (m *MR) onHoldings(b *binding, gen uint64, hs []Holding, err error, locs []Location, lerr error) {
	if !m.current(b, gen) {
		return
	}
	if err != nil {
		m.counters.HAAErrors++
		b.log.WithError(err).Error("HAA holdings query failed")
		m.attachFailed(b, mh.StatusReasonUnspecified)
		return
	}
	if lerr != nil {
		m.counters.LMErrors++
		b.log.WithError(lerr).Warn("LM query for the previous MR failed")
	}
	self := m.cfg.Address
	if b.hiSent {
		// The HAA is authoritative: a prefix the LM named that the node
		// does not hold goes.
		kept := b.prefixes[:0]
		for _, x := range b.prefixes {
			if slices.ContainsFunc(hs, func(h Holding) bool { return h.Prefix == x.p }) {
				kept = append(kept, x)
				continue
			}
			m.unrouteHere(b, x.p)
		}
		b.prefixes = kept
	}
	ownHeld := false
	for _, h := range hs {
		if h.AnchorMR == self {
			ownHeld = true
		}
		if !b.has(h.Prefix) {
			b.prefixes = append(b.prefixes, &prefix{p: h.Prefix, anchor: h.AnchorMR})
		}
	}
	// Where was it? The LM's current MR; without an LM record (no update
	// at the initial attachment, §4.1) the anchor of its newest prefix.
	var pmr netip.Addr
	for _, l := range locs {
		if l.CurrentMR.IsValid() && l.CurrentMR != self {
			pmr = l.CurrentMR
		}
	}
	if !pmr.IsValid() && len(locs) == 0 && !ownHeld && len(hs) > 0 {
		pmr = hs[len(hs)-1].AnchorMR
	}
	if !b.hiSent {
		b.pmr = pmr
	}
	b.moved = len(hs) > 0 && (b.pmr.IsValid() || !ownHeld)
	if b.moved {
		// The location is in flux until the routes are in (Figure 5).
		for _, x := range b.prefixes {
			if m.byPrefix[x.p] != b {
				m.hold(x.p, "arriving")
			}
		}
	}
	needAlloc := len(hs) == 0 || (b.moved && m.cfg.NewPrefixOnMove && !ownHeld)
	if !needAlloc {
		m.finishAttach(b)
		return
	}
	key := b.key
	m.async(func(ctx context.Context) func() {
		got, err := m.d.HAA.Allocate(ctx, key)
		return func() {
			if !m.current(b, gen) {
				return
			}
			if err != nil || len(got) == 0 {
				m.counters.HAAErrors++
				b.log.WithError(err).Error("HAA allocation failed")
				if b.moved {
					m.finishAttach(b) // it keeps its old prefixes
					return
				}
				m.attachFailed(b, mh.StatusInsufficientResources)
				return
			}
			fresh := false
			for _, h := range got {
				if !b.has(h.Prefix) {
					b.prefixes = append(b.prefixes, &prefix{p: h.Prefix, anchor: h.AnchorMR, fresh: true})
					fresh = true
				}
			}
			if b.moved && fresh {
				// §4.2: new sessions use the new prefix, old ones keep theirs.
				for _, x := range b.prefixes {
					x.deprecated = x.anchor != m.cfg.Address
				}
			}
			m.finishAttach(b)
		}
	})
}

func (m *MR) attachFailed(b *binding, st mh.Status) {
	for _, x := range b.prefixes {
		if _, ok := m.held[x.p]; ok {
			m.drop(x.p)
		}
		m.unrouteHere(b, x.p)
	}
	if b.pending != nil {
		m.sendPBA(b.pending, st, nil)
		b.pending = nil
	}
	b.stop()
	delete(m.mns, b.key)
}

// finishAttach installs the routes, updates the LM, starts the context
// transfer with the previous MR and answers the node (PBA or RA).
func (m *MR) finishAttach(b *binding) {
	self := m.cfg.Address
	// The node is here: no departure, cached location or forwarding of
	// its prefixes any more.
	m.routeHere(b)
	for _, x := range b.prefixes {
		if _, ok := m.held[x.p]; ok {
			m.release(x.p)
		}
	}
	b.state = bAttached
	b.lifetime = m.cfg.Lifetime
	if b.pending != nil {
		b.lifetime = min(b.lifetime, time.Duration(b.pending.pbu.Lifetime)*4*time.Second)
	}
	b.expires = m.d.Clock.Now().Add(b.lifetime)
	m.armBinding(b)
	m.markDirty(b)
	if b.moved {
		m.counters.Moves++
		if m.d.OnHandover != nil {
			m.d.OnHandover(m.d.Clock.Now().Sub(b.started))
		}
	} else {
		m.counters.Attaches++
	}
	b.log.WithFields(logrus.Fields{"prefixes": b.prefixList(), "moved": b.moved, "previous_mr": b.pmr,
		"after": m.d.Clock.Now().Sub(b.started)}).Info("mobile node attached")
	if b.moved || m.cfg.UpdateLMOnAttach {
		m.updateLM(b, b.lifetime)
	}
	if b.moved && b.pmr.IsValid() && b.pmr != self && !m.cfg.NoContextTransfer && !b.hiSent {
		m.sendHI(b)
		b.hiSent = true
	}
	if b.pending != nil {
		m.sendPBA(b.pending, mh.StatusAccepted, b)
		b.pending = nil
	}
	m.advertise(b, false)
}

// unrouteHere removes what routeHere installed for p on b's behalf.
func (m *MR) unrouteHere(b *binding, p netip.Prefix) {
	if m.byPrefix[p] != b {
		return
	}
	delete(m.byPrefix, p)
	m.clearUp(p)
	if e, ok := m.down[p]; ok && e == m.accessEntry(b, p) {
		m.clearDown(p)
	}
}

// armBinding (re)starts the binding's lifetime: a legacy MAG must
// re-register (deployment A); at the access the MR refreshes the LM.
func (m *MR) armBinding(b *binding) {
	m.armBindingIn(b, b.lifetime, b.lifetime*4/5)
}

// armBindingIn arms the binding's timer: its expiry after expiry
// (deployment A) or its refresh after refresh (deployment B).
func (m *MR) armBindingIn(b *binding, expiry, refresh time.Duration) {
	if b.timer != nil {
		b.timer.Stop()
	}
	gen := b.gen
	if m.cfg.Deployment == DeployLMA {
		b.timer = m.after(expiry, func() {
			if m.current(b, gen) {
				m.detach(b, "binding lifetime expired")
			}
		})
		return
	}
	b.timer = m.after(refresh, func() {
		if m.current(b, gen) && b.state == bAttached {
			b.expires = m.d.Clock.Now().Add(b.lifetime)
			m.markDirty(b)
			if b.moved || m.cfg.UpdateLMOnAttach {
				m.updateLM(b, b.lifetime)
			}
			m.armBinding(b)
		}
	})
}

// updateLM records the node's prefixes at this MR, one update per anchor.
func (m *MR) updateLM(b *binding, life time.Duration) {
	groups := map[netip.Addr][]netip.Prefix{}
	var anchors []netip.Addr
	for _, x := range b.prefixes {
		if _, ok := groups[x.anchor]; !ok {
			anchors = append(anchors, x.anchor)
		}
		groups[x.anchor] = append(groups[x.anchor], x.p)
	}
	key, self := b.key, m.cfg.Address
	for _, a := range anchors {
		ps := groups[a]
		m.async(func(ctx context.Context) func() {
			err := m.d.LM.Update(ctx, key, ps, self, a, life)
			return func() {
				if err != nil {
					m.counters.LMErrors++
					m.log.WithError(err).WithField("mn", key).Warn("LM update failed")
					return
				}
				m.counters.LMUpdates++
			}
		})
	}
}

// detach: the node left this MR (link down, de-registration, expiry, or
// the new MR's HI came first). Its packets are held until the new MR is
// known (Figure 5), then forwarded there.
func (m *MR) detach(b *binding, why string) {
	if m.mns[b.key] != b {
		return
	}
	b.stop()
	delete(m.mns, b.key)
	m.markDirty(b)
	m.counters.Detaches++
	for _, x := range b.prefixes {
		if m.byPrefix[x.p] == b {
			delete(m.byPrefix, x.p)
		}
		m.clearUp(x.p)
		if e, ok := m.down[x.p]; ok && e == m.accessEntry(b, x.p) {
			m.clearDown(x.p)
		}
	}
	if b.state != bAttached {
		for _, x := range b.prefixes {
			if _, ok := m.held[x.p]; ok {
				m.drop(x.p)
			}
		}
		return
	}
	b.log.WithField("why", why).Info("mobile node left")
	dp := m.newDeparture(b)
	for _, x := range b.prefixes {
		m.hold(x.p, "departed")
	}
	dp.holding = true
	gen := dp.gen
	dp.holdTimer = m.after(m.cfg.HoldTimeout, func() {
		if m.departed[dp.key] == dp && dp.gen == gen && !dp.nmr.IsValid() {
			m.endDeparture(dp, "no new MR within the hold timeout")
		}
	})
}

// advertise sends the node an RA with its prefixes (deployment B).
func (m *MR) advertise(b *binding, withdraw bool) {
	if m.d.Access == nil || m.cfg.Deployment != DeployAccess || b.link == "" {
		return
	}
	a := Advert{Link: b.link, IfIndex: b.ifindex, Dst: b.ll, Withdrawn: withdraw,
		RouterLifetime: m.cfg.RouterLifetime, MTU: m.cfg.MTU}
	if !a.Dst.IsValid() {
		a.Dst = netip.IPv6Unspecified()
	}
	valid := b.lifetime
	for _, x := range b.prefixes {
		ap := AdvPrefix{Prefix: x.p, Valid: valid, Preferred: valid}
		if x.deprecated {
			ap.Preferred = 0
		}
		if withdraw {
			ap.Valid, ap.Preferred = 0, 0
		}
		a.Prefixes = append(a.Prefixes, ap)
	}
	m.deferOut(func() {
		if err := m.d.Access.Advertise(a); err != nil {
			m.counters.RAErrors++
			b.log.WithError(err).Warn("RA failed")
			return
		}
		m.counters.RAs++
	})
}

// handleAccess processes an event of the MAG part (deployment B).
func (m *MR) handleAccess(ev AccessEvent) {
	if ev.MNID == "" {
		return
	}
	b := m.mns[ev.MNID]
	switch ev.Kind {
	case Attached:
		if b != nil {
			if b.link != ev.Link || b.ifindex != ev.IfIndex {
				// Same node on another link of this MR: move its routes.
				b.link, b.ifindex = ev.Link, ev.IfIndex
				m.markDirty(b)
				if b.state == bAttached {
					for _, x := range b.prefixes {
						m.setDown(x.p, m.accessEntry(b, x.p))
						if x.anchor != m.cfg.Address {
							m.setUp(x.p, dataplane.Entry{Kind: dataplane.KindSourceRoute, Prefix: x.p, Remote: x.anchor, Dev: b.link})
						}
					}
				}
			}
			if ev.LinkLocal.IsValid() {
				b.ll = ev.LinkLocal
			}
			if b.state == bAttached {
				m.advertise(b, false)
			}
			return
		}
		b = &binding{key: ev.MNID, mnid: *mh.NewNAI(ev.MNID), link: ev.Link, ifindex: ev.IfIndex,
			mac: slices.Clone(ev.MAC), ll: ev.LinkLocal, att: ev.ATT, hi: mh.HIAttachNewInterface,
			log: m.log.WithField("mn", ev.MNID)}
		if ev.Moved {
			b.hi = mh.HIHandoffBetweenMAGs
		}
		m.startAttach(b)
	case Detached:
		if b != nil && (ev.Link == "" || b.link == ev.Link) {
			m.detach(b, "access link down")
		}
	case Solicited:
		if b != nil && b.state == bAttached {
			if ev.LinkLocal.IsValid() {
				b.ll = ev.LinkLocal
			}
			m.advertise(b, false)
		}
	}
}
