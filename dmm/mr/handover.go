package mr

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

// departure is a node that left this MR (the previous MR of Figure 5):
// its packets are held until the new MR is known, then tunnelled there
// for the forwarding lifetime while the correspondents are redirected.
type departure struct {
	key      string
	mnid     mh.MNIdentifier
	prefixes []*prefix
	ll       netip.Addr
	att      mh.ATT
	lastSeq  uint16
	hasSeq   bool
	lastTS   uint64
	expires  time.Time // of the binding it had here
	gen      uint64

	holding   bool
	holdTimer clock.Timer
	nmr       netip.Addr
	fwd       []netip.Prefix // prefixes temporarily forwarded to nmr
	fwdTimer  clock.Timer
	pendingRd int // Redirects not acknowledged yet
	log       *logrus.Entry
	// srcSeen: source prefixes of held packets already looked up in the
	// LM; redirected: the (prefix, correspondent's MR) pairs a Redirect
	// went to.
	srcSeen    map[netip.Prefix]bool
	redirected map[corrKey]bool
	// resolving: an LM query for the node's new MR is outstanding (no
	// HI came while its packets are held: the new MR does no context
	// transfer), or waiting to be asked; tries: how many were asked.
	resolving bool
	tries     int
}

type corrKey struct {
	p  netip.Prefix
	mr netip.Addr
}

// maxSourcesPerDeparture bounds the LM lookups the sources of one
// departed node's held packets cause.
const maxSourcesPerDeparture = 256

func (d *departure) stop() {
	d.gen++
	for _, t := range []clock.Timer{d.holdTimer, d.fwdTimer} {
		if t != nil {
			t.Stop()
		}
	}
}

func (m *MR) newDeparture(b *binding) *departure {
	if old := m.departed[b.key]; old != nil {
		m.endDeparture(old, "replaced")
	}
	dp := &departure{key: b.key, mnid: b.mnid, prefixes: b.prefixes, ll: b.ll, att: b.att,
		lastSeq: b.lastSeq, hasSeq: b.hasSeq, lastTS: b.lastTS, expires: b.expires, log: b.log,
		srcSeen: map[netip.Prefix]bool{}, redirected: map[corrKey]bool{}}
	m.departed[b.key] = dp
	return dp
}

// endDeparture removes the temporary context: held packets are dropped
// (nowhere to send them), forwarding routes removed.
func (m *MR) endDeparture(dp *departure, why string) {
	if m.departed[dp.key] != dp {
		return
	}
	dp.stop()
	delete(m.departed, dp.key)
	for _, x := range dp.prefixes {
		if _, ok := m.held[x.p]; ok {
			m.drop(x.p)
		}
	}
	m.stopForwarding(dp)
	dp.log.WithField("why", why).Info("handover context removed")
}

func (m *MR) stopForwarding(dp *departure) {
	if len(dp.fwd) == 0 {
		return
	}
	for _, p := range dp.fwd {
		e := dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: p, Remote: dp.nmr}
		if cur, ok := m.down[p]; ok && cur == e && m.cache[p] == nil {
			m.clearDown(p)
		}
	}
	dp.fwd = nil
	m.counters.ForwardingEnded++
}

// ---- new MR: HI ----

type hiTx struct {
	b     *binding
	gen   uint64
	dst   netip.Addr
	msg   *mh.HandoverInitiate
	tries int
	timer clock.Timer
}

// sendHI starts the context transfer with the previous MR (Figure 5
// step 2): RFC 5949 HI with P=1 (F=1 asks for forwarding), MN-ID, a
// Context Request and one Routing Location per prefix naming this MR as
// the current MR (docs/wire-format.md §1).
func (m *MR) sendHI(b *binding) {
	self := m.cfg.Address
	flags := mh.HIFlagP
	if m.cfg.ForwardingLifetime > 0 {
		flags |= mh.HIFlagF
	}
	mc := &mh.MobilityContext{Flags: mh.MCFlagL, ATT: b.att}
	opts := mh.Options{
		&mh.MNIdentifier{Subtype: b.mnid.Subtype, Identifier: append([]byte(nil), b.mnid.Identifier...)},
		mh.NewContextRequest(mh.OptHomeNetworkPrefix, mh.OptMNLinkLocalAddressIID, mc.OptionType()),
	}
	for _, x := range b.prefixes {
		if !x.fresh {
			opts = append(opts, mh.NewRoutingLocation(x.p, x.anchor, self, seconds(b.lifetime)))
		}
	}
	opts = append(opts, mc)
	msg := &mh.HandoverInitiate{Sequence: m.nextSeq(), Flags: flags, Code: mh.HICodeDefault}
	msg.Options = opts
	tx := &hiTx{b: b, gen: b.gen, dst: b.pmr, msg: msg}
	m.his[msg.Sequence] = tx
	m.sendHITx(tx)
}

func (m *MR) sendHITx(tx *hiTx) {
	m.send(tx.dst, tx.msg)
	d := m.cfg.InitialTimeout << tx.tries
	tx.tries++
	seq := tx.msg.Sequence
	tx.timer = m.after(d, func() {
		if m.his[seq] != tx {
			return
		}
		if tx.tries > m.cfg.MaxRetries || !m.current(tx.b, tx.gen) {
			delete(m.his, seq)
			m.counters.HITimeouts++
			tx.b.log.WithField("previous_mr", tx.dst).Warn("no HAck from the previous MR")
			return
		}
		m.counters.HIRetransmits++
		m.sendHITx(tx)
	})
}

// handleHAck completes the context transfer at the new MR.
func (m *MR) handleHAck(src netip.Addr, ack *mh.HandoverAck) {
	tx := m.his[ack.Sequence]
	if tx == nil || tx.dst != src || !ack.Proxy() {
		m.counters.drop("unexpected HAck")
		return
	}
	delete(m.his, ack.Sequence)
	if tx.timer != nil {
		tx.timer.Stop()
	}
	b := tx.b
	if !m.current(b, tx.gen) {
		return
	}
	if !ack.Code.Accepted() {
		b.log.WithField("code", ack.Code.Name(true)).Warn("previous MR refused the context transfer")
		return
	}
	m.counters.HandoversIn++
	for _, o := range ack.Options {
		switch x := o.(type) {
		case *mh.MNLinkLocalAddressIID:
			if !b.ll.IsValid() {
				b.ll = x.LinkLocal()
			}
		case *mh.MobilityContext:
			c := *x
			b.ctx = &c
			if m.cfg.Deployment == DeployLMA && !b.hasSeq && x.Flags&mh.MCFlagT == 0 {
				b.lastSeq, b.hasSeq = x.LastSequence, true
			}
		case *mh.RoutingLocation:
			for _, p := range b.prefixes {
				if p.p == x.AsPrefix() && x.AnchorMR.IsValid() && !x.AnchorMR.IsUnspecified() {
					p.anchor = x.AnchorMR
				}
			}
		}
	}
	b.log.WithFields(logrus.Fields{"previous_mr": src, "forwarding": ack.Flags&mh.HAckFlagF != 0}).Info("context transfer done")
}

// ---- previous MR: HI ----

// handleHI is the previous MR's side of Figure 5: it answers the context
// transfer, tunnels the node's prefixes to the new MR, and redirects the
// MRs that send it the node's traffic.
func (m *MR) handleHI(src netip.Addr, hi *mh.HandoverInitiate) {
	start := time.Now() // wall time: step timings in the log
	reply := &mh.HandoverAck{Sequence: hi.Sequence, Flags: mh.HAckFlagP}
	mnid, _ := mh.Find[*mh.MNIdentifier](hi.Options)
	if !hi.Proxy() || mnid == nil {
		reply.Code = mh.HAckCodeNotAccepted
		m.send(src, reply)
		return
	}
	key := lma.MNKey(mnid)
	reply.Options = mh.Options{&mh.MNIdentifier{Subtype: mnid.Subtype, Identifier: append([]byte(nil), mnid.Identifier...)}}
	if b := m.mns[key]; b != nil && b.state == bAttached {
		// The new MR was faster than our detach.
		m.detach(b, "the new MR announced it")
	} else if b != nil {
		m.attachFailed(b, mh.StatusReasonUnspecified)
	}
	dp := m.departed[key]
	if dp == nil || (dp.nmr.IsValid() && dp.nmr != src) {
		if dp == nil {
			reply.Code = mh.HAckCodeContextNotAvailable
			m.send(src, reply)
			return
		}
		m.stopForwarding(dp) // it moved on again
	}
	self := m.cfg.Address
	dp.nmr = src
	dp.holding = false
	forward := hi.Flags&mh.HIFlagF != 0 && m.cfg.ForwardingLifetime > 0
	remaining := max(dp.expires.Sub(m.d.Clock.Now()), 0)
	anchored := false
	for _, x := range dp.prefixes {
		if x.anchor == self {
			anchored = true
			// The anchor tunnels its prefix to the current MR (§4.2) for
			// as long as the location lives.
			m.setCache(Location{Prefix: x.p, AnchorMR: self, CurrentMR: src, Lifetime: remaining}, "handover", src, 0)
		} else if forward {
			m.setDown(x.p, dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: x.p, Remote: src})
			dp.fwd = append(dp.fwd, x.p)
		}
	}
	routed := time.Since(start)
	if dp.holdTimer != nil {
		dp.holdTimer.Stop()
	}
	if forward && len(dp.fwd) > 0 {
		m.counters.ForwardingStarted++
		gen := dp.gen
		dp.fwdTimer = m.after(m.cfg.ForwardingLifetime, func() {
			if m.departed[dp.key] == dp && dp.gen == gen {
				m.endDeparture(dp, "forwarding lifetime over")
			}
		})
	}
	// HAck: every context asked for (HNP, MN LLA-IID, Mobility Context)
	// and the anchors.
	reply.Code = mh.HAckCodeContextTransferAccepted
	for _, x := range dp.prefixes {
		reply.Options = append(reply.Options, mh.NewHNP(x.p))
	}
	reply.Options = append(reply.Options, &mh.LinkLocalAddress{Address: m.cfg.MAGLinkLocal})
	if dp.ll.IsValid() {
		reply.Options = append(reply.Options, mh.NewMNLinkLocalAddressIID(dp.ll))
	}
	for _, x := range dp.prefixes {
		rl := mh.NewRoutingLocation(x.p, x.anchor, src, seconds(remaining))
		if forward && x.anchor != self {
			rl.Flags |= mh.RLFlagF
		}
		reply.Options = append(reply.Options, rl)
	}
	// Forwarding Lifetime: how long this MR tunnels the node's traffic
	// to the new MR: the temporary forwarding, or, as the anchor of a
	// prefix, the location's lifetime.
	mc := &mh.MobilityContext{Flags: mh.MCFlagR, ATT: dp.att, RemainingLifetime: seconds(remaining), LastSequence: dp.lastSeq}
	var fwd time.Duration
	if len(dp.fwd) > 0 {
		fwd = m.cfg.ForwardingLifetime
	}
	if anchored {
		fwd = max(fwd, remaining)
	}
	if fwd > 0 {
		reply.Flags |= mh.HAckFlagF
		mc.ForwardingLifetime = uint16(min(seconds(fwd), 0xffff))
	}
	if dp.lastTS != 0 {
		mc.Flags |= mh.MCFlagT
		mc.LastTimestamp = dp.lastTS
	}
	reply.Options = append(reply.Options, mc)
	m.send(src, reply)
	m.counters.HandoversOut++
	hackIn := time.Since(start)
	// What was held goes once the routes are in; the HAck first: the new
	// MR's routes were in before its HI, and re-injecting the held
	// packets (tens at 1000 packets/s) takes milliseconds.
	released := 0
	for _, x := range dp.prefixes {
		if _, ok := m.held[x.p]; ok {
			if x.anchor == self || forward {
				n := m.counters.Released
				m.release(x.p)
				released += int(m.counters.Released - n)
			} else {
				m.drop(x.p)
			}
		}
	}
	dp.log.WithFields(logrus.Fields{"new_mr": src, "forwarding": forward, "routes_in": routed, "hack_in": hackIn,
		"released": released, "released_in": time.Since(start)}).Info("context transferred to the new MR")
	m.redirectAll(dp, forward)
}

// redirectAll sends a Redirect (Figure 5 step 7) to every MR that routes
// the node's prefixes to this MR: the correspondents it knows and the
// prefixes' anchors.
func (m *MR) redirectAll(dp *departure, forward bool) {
	self := m.cfg.Address
	targets := map[netip.Addr][]*mh.RoutingLocation{}
	var order []netip.Addr
	remaining := seconds(max(dp.expires.Sub(m.d.Clock.Now()), 0))
	for _, x := range dp.prefixes {
		set := map[netip.Addr]bool{}
		for a := range m.corr[x.p] {
			set[a] = true
		}
		if x.anchor != self {
			set[x.anchor] = true
		}
		delete(set, dp.nmr)
		delete(set, self)
		for _, a := range sortedAddrs(set) {
			rl := mh.NewRoutingLocation(x.p, x.anchor, dp.nmr, remaining)
			if forward && x.anchor != self {
				rl.Flags |= mh.RLFlagF
			}
			if _, ok := targets[a]; !ok {
				order = append(order, a)
			}
			targets[a] = append(targets[a], rl)
			dp.redirected[corrKey{x.p, a}] = true
		}
	}
	for _, a := range order {
		tx := m.sendRedirect(a, targets[a], dp)
		if tx != nil {
			dp.pendingRd++
		}
	}
}

// ---- correspondents found through the held packets ----

// departureOf returns the departed node holding prefix p, and its prefix.
func (m *MR) departureOf(p netip.Prefix) (*departure, *prefix) {
	for _, dp := range m.departed {
		for _, x := range dp.prefixes {
			if x.p == p {
				return dp, x
			}
		}
	}
	return nil, nil
}

// handleSource: packets of a node that left are held here and one came
// from a source prefix not seen yet. Its sender's MR routes the node's
// traffic to this MR (Figure 3: it queried the LM and tunnels here;
// Figure 4 or §6: it is the anchor's traffic): the previous MR finds that
// MR through the LM, by the source address (as the anchor of Figure 4
// does), and redirects it to the new MR (Figure 5 step 7): at once when
// the new MR is known, else with the other Redirects when the HI comes.
func (m *MR) handleSource(s HeldSource) {
	m.counters.HeldSources++
	if !s.Src.IsValid() {
		return
	}
	dp, _ := m.departureOf(s.Prefix.Masked())
	if dp == nil {
		return // not a departed node's prefix (a miss, or a node arriving)
	}
	sp := s.SrcPrefix
	if !sp.IsValid() {
		sp = netip.PrefixFrom(s.Src, 64).Masked()
	}
	if !dp.nmr.IsValid() {
		m.resolveDeparture(dp)
	}
	if dp.srcSeen[sp] || len(dp.srcSeen) >= maxSourcesPerDeparture {
		return
	}
	dp.srcSeen[sp] = true
	p, src, gen := s.Prefix.Masked(), s.Src, dp.gen
	m.counters.SourceQueries++
	m.async(func(ctx context.Context) func() {
		locs, err := m.d.LM.Query(ctx, wire.QueryAddress(src))
		if errors.Is(err, wire.ErrLocationUnknown) {
			err = nil
		}
		return func() { m.onSourceLocation(dp, gen, p, src, locs, err) }
	})
}

func (m *MR) onSourceLocation(dp *departure, gen uint64, p netip.Prefix, src netip.Addr, locs []Location, err error) {
	if m.departed[dp.key] != dp || dp.gen != gen {
		return // the handover is over
	}
	log := dp.log.WithFields(logrus.Fields{"prefix": p, "src": src})
	if err != nil {
		m.counters.LMErrors++
		log.WithError(err).Warn("LM query for a correspondent failed")
		return
	}
	var cmr netip.Addr
	for _, l := range locs {
		if l.Prefix.Contains(src) && l.CurrentMR.IsValid() {
			cmr = l.CurrentMR
		}
	}
	if !cmr.IsValid() {
		// Not in the LM: a node at the anchor of its pool (no LM update
		// at its attachment, §4.1), or a fixed node reached by plain
		// routing (§6), outside every pool: nobody to redirect.
		a, ok := m.anchorOf(src)
		if !ok {
			log.Debug("correspondent not in the LM nor in a pool (a fixed node): no Redirect")
			return
		}
		cmr = a
	}
	if cmr == m.cfg.Address || cmr == dp.nmr {
		return
	}
	var x *prefix
	for _, y := range dp.prefixes {
		if y.p == p {
			x = y
		}
	}
	if x == nil {
		return
	}
	m.addCorrespondent(p, cmr)
	log = log.WithField("correspondent_mr", cmr)
	if !dp.nmr.IsValid() {
		log.Info("correspondent's MR found: redirected when the new MR is known")
		return
	}
	if dp.redirected[corrKey{p, cmr}] {
		return
	}
	dp.redirected[corrKey{p, cmr}] = true
	rl := mh.NewRoutingLocation(p, x.anchor, dp.nmr, seconds(max(dp.expires.Sub(m.d.Clock.Now()), 0)))
	if slices.Contains(dp.fwd, p) {
		rl.Flags |= mh.RLFlagF
	}
	log.WithField("new_mr", dp.nmr).Info("correspondent's MR found: redirecting it")
	if tx := m.sendRedirect(cmr, []*mh.RoutingLocation{rl}, dp); tx != nil {
		dp.pendingRd++
	}
}

// resolveDepartureRetry is how soon the LM is asked again for a departed
// node's new MR while it still names this MR (the new MR's update not in
// yet), within the hold timeout.
const resolveDepartureRetry = 50 * time.Millisecond

// resolveDeparture: packets of a node that left are held here and no HI
// named its new MR (the new MR does no context transfer, or it is slow):
// the LM is asked where the node is (one query at a time); once it names
// another MR the held packets go there as after an HI (the anchor's
// prefixes by the location, the others by temporary forwarding) and the
// correspondents' MRs are redirected.
func (m *MR) resolveDeparture(dp *departure) {
	if dp.resolving || dp.nmr.IsValid() || len(dp.prefixes) == 0 {
		return
	}
	// The HI of a new MR that does the context transfer normally comes
	// first: the LM is asked only if it has not within the first retry
	// delay, then with the delay doubling.
	dp.resolving = true
	gen := dp.gen
	m.after(dp.retry(), func() {
		if m.departed[dp.key] == dp && dp.gen == gen && !dp.nmr.IsValid() {
			m.askDeparture(dp)
		}
	})
}

func (d *departure) retry() time.Duration {
	r := resolveDepartureRetry << min(d.tries, 5)
	d.tries++
	return r
}

func (m *MR) askDeparture(dp *departure) {
	gen, key := dp.gen, dp.key
	m.counters.Queries++
	m.async(func(ctx context.Context) func() {
		locs, err := m.d.LM.Query(ctx, wire.QueryMN(key))
		if errors.Is(err, wire.ErrLocationUnknown) {
			err = nil
		}
		return func() {
			if m.departed[dp.key] != dp || dp.gen != gen {
				return
			}
			dp.resolving = false
			if dp.nmr.IsValid() {
				return // the HI came meanwhile
			}
			var nmr netip.Addr
			for _, l := range locs {
				if l.CurrentMR.IsValid() && l.CurrentMR != m.cfg.Address && l.Lifetime > 0 && dp.has(l.Prefix) {
					nmr = l.CurrentMR
				}
			}
			if err != nil {
				m.counters.LMErrors++
			}
			if !nmr.IsValid() {
				m.counters.QueryErrors++
				m.resolveDeparture(dp)
				return
			}
			dp.log.WithField("new_mr", nmr).Info("new MR of a departed node learnt from the LM: forwarding what is held")
			m.departTo(dp, nmr, m.cfg.ForwardingLifetime > 0)
			m.redirectAll(dp, m.cfg.ForwardingLifetime > 0)
		}
	})
}

func (d *departure) has(p netip.Prefix) bool {
	for _, x := range d.prefixes {
		if x.p == p {
			return true
		}
	}
	return false
}

// departTo sends what is held for a departed node to its new MR: the
// prefixes anchored here by their location (for as long as the binding it
// had here would have lived), the others by temporary forwarding when
// forward, else dropped.
func (m *MR) departTo(dp *departure, nmr netip.Addr, forward bool) {
	self := m.cfg.Address
	dp.nmr = nmr
	dp.holding = false
	remaining := max(dp.expires.Sub(m.d.Clock.Now()), 0)
	for _, x := range dp.prefixes {
		if x.anchor == self {
			m.setCache(Location{Prefix: x.p, AnchorMR: self, CurrentMR: nmr, Lifetime: remaining}, "departure", nmr, 0)
		} else if forward {
			m.setDown(x.p, dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: x.p, Remote: nmr})
			dp.fwd = append(dp.fwd, x.p)
		}
	}
	for _, x := range dp.prefixes {
		if _, ok := m.held[x.p]; ok {
			if x.anchor == self || forward {
				m.release(x.p)
			} else {
				m.drop(x.p)
			}
		}
	}
	if dp.holdTimer != nil {
		dp.holdTimer.Stop()
	}
	if forward && len(dp.fwd) > 0 {
		m.counters.ForwardingStarted++
		gen := dp.gen
		dp.fwdTimer = m.after(m.cfg.ForwardingLifetime, func() {
			if m.departed[dp.key] == dp && dp.gen == gen {
				m.endDeparture(dp, "forwarding lifetime over")
			}
		})
	}
}

// ---- Redirect / Redirect Ack ----

type redirectTx struct {
	dst   netip.Addr
	msg   *mh.Redirect
	tries int
	timer clock.Timer
	dp    *departure
}

// sendRedirect sends a Redirect with the given locations; with
// RedirectAck it asks for an ack and returns the retransmission state.
func (m *MR) sendRedirect(dst netip.Addr, locs []*mh.RoutingLocation, dp *departure) *redirectTx {
	msg := &mh.Redirect{Sequence: m.nextSeq()}
	for _, l := range locs {
		msg.Options = append(msg.Options, l)
		m.addCorrespondent(l.AsPrefix(), dst)
	}
	m.counters.RedirectsSent++
	if !m.cfg.RedirectAck {
		m.send(dst, msg)
		return nil
	}
	msg.Flags |= mh.DMMFlagA
	tx := &redirectTx{dst: dst, msg: msg, dp: dp}
	m.redirects[msg.Sequence] = tx
	m.sendRedirectTx(tx)
	return tx
}

func (m *MR) sendRedirectTx(tx *redirectTx) {
	m.send(tx.dst, tx.msg)
	d := m.cfg.InitialTimeout << tx.tries
	tx.tries++
	seq := tx.msg.Sequence
	tx.timer = m.after(d, func() {
		if m.redirects[seq] != tx {
			return
		}
		if tx.tries > m.cfg.MaxRetries {
			delete(m.redirects, seq)
			m.log.WithField("peer", tx.dst).Warn("no Redirect Ack")
			m.redirectDone(tx)
			return
		}
		m.counters.RedirectRetransmits++
		m.sendRedirectTx(tx)
	})
}

func (m *MR) handleRedirectAck(src netip.Addr, ack *mh.RedirectAck) {
	tx := m.redirects[ack.Sequence]
	if tx == nil || tx.dst != src {
		m.counters.drop("unexpected Redirect Ack")
		return
	}
	delete(m.redirects, ack.Sequence)
	if tx.timer != nil {
		tx.timer.Stop()
	}
	if !ack.Status.Accepted() {
		m.log.WithField("peer", src).WithField("status", ack.Status).Warn("Redirect refused")
	}
	m.redirectDone(tx)
}

// redirectDone: when every Redirect of a handover is answered, the
// temporary forwarding may end after ForwardingDrain ("when the handover
// is finished, the correspondent mobility context need to be deleted").
func (m *MR) redirectDone(tx *redirectTx) {
	dp := tx.dp
	if dp == nil || m.departed[dp.key] != dp {
		return
	}
	dp.pendingRd--
	if dp.pendingRd > 0 || m.cfg.ForwardingDrain <= 0 || len(dp.fwd) == 0 {
		return
	}
	gen := dp.gen
	m.after(m.cfg.ForwardingDrain, func() {
		// A Redirect sent meanwhile (a correspondent found late) is
		// waited for too.
		if m.departed[dp.key] == dp && dp.gen == gen && dp.pendingRd <= 0 {
			m.endDeparture(dp, "every correspondent redirected")
		}
	})
}

// handleRedirect applies a Redirect at a correspondent's MR (Figure 4
// step 8 -> 9, Figure 5 step 7 -> 8).
func (m *MR) handleRedirect(src netip.Addr, rd *mh.Redirect) {
	st := mh.DMMStatusAccepted
	locs := rd.Locations()
	if len(locs) == 0 {
		st = mh.DMMStatusInvalidRequest
	}
	for _, rl := range locs {
		p := rl.AsPrefix().Masked()
		c := m.cache[p]
		// The prefix's anchor (from the domain's pool table when the
		// prefix is in it, not from the Redirect's own claim) or the MR
		// of the cached location may redirect (wire-format §3.3).
		anchor := rl.AnchorMR
		if a, ok := m.anchorOf(p.Addr()); ok {
			anchor = a
		}
		trusted := src == anchor || (c != nil && c.loc.CurrentMR == src)
		if !trusted {
			st = max(st, mh.DMMStatusNotAuthorized)
			m.counters.RedirectsRefused++
			continue
		}
		if d := c.seqDiff(src, rd.Sequence); d != 0 && d < 32768 {
			st = max(st, mh.DMMStatusStaleLocation)
			m.counters.RedirectsRefused++
			continue
		}
		m.counters.RedirectsApplied++
		loc := Location{Prefix: p, AnchorMR: rl.AnchorMR, CurrentMR: rl.CurrentMR, Lifetime: time.Duration(rl.Lifetime) * time.Second}
		if rl.Lifetime == 0 || rl.CurrentMR == m.cfg.Address {
			m.dropCache(p)
			continue
		}
		if m.byPrefix[p] != nil {
			continue // attached here: our access route wins
		}
		m.setCache(loc, "redirect", src, rd.Sequence)
		if _, ok := m.held[p]; ok {
			m.release(p)
		}
	}
	if rd.AckRequested() {
		m.send(src, &mh.RedirectAck{Status: st, Sequence: rd.Sequence})
	}
}
