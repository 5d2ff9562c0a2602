package mag

import (
	"bytes"
	"net/netip"
	"sort"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/mh"
)

var allZero = netip.PrefixFrom(netip.IPv6Unspecified(), 0)

type state uint8

const (
	statePending       state = iota + 1 // initial PBU sent, no PBA yet
	stateRegistered                     // accepted
	stateRefreshing                     // re-registration (HI=5) sent
	stateDeregistering                  // lifetime-0 PBU sent
	stateLeaving                        // detached before the first PBA
	stateHalted                         // PBA did not match the request: no more PBUs (§6.9.1.2 step 4)
)

func (s state) String() string {
	return [...]string{"?", "pending", "registered", "refreshing", "deregistering", "leaving", "halted"}[s]
}

// entry is a Binding Update List entry (RFC 5213 §6.1) with its timers.
type entry struct {
	key  string
	mnid *mh.MNIdentifier
	link *link
	lma  netip.Addr
	att  mh.ATT
	log  *logrus.Entry

	state     state
	hi        mh.HandoffIndicatorValue // of the current request
	lifetime  time.Duration            // requested in the current request
	requested []netip.Prefix           // HNPs of the current request
	sentLLID  net6MAC                  // MN LL-ID in the current request (nil: none)
	seqs      []uint16                 // sequence numbers sent for the current request
	timeout   time.Duration            // current retransmission timeout
	retries   int
	queued    bool // waiting for the rate limiter
	tsRetries int  // consecutive re-sends after status 157

	hnps         []netip.Prefix // assigned
	granted      time.Duration
	expires      time.Time
	lastAccepted time.Time
	installed    []dataplane.Entry
	raCount      int

	gen          uint64 // bumped to invalidate every timer
	rtxGen       uint64 // bumped to invalidate the retransmission timer
	rtx, refresh clock.Timer
	expiry, ra   clock.Timer
}

type net6MAC = []byte

func (e *entry) registered() bool { return e.state == stateRegistered || e.state == stateRefreshing }

func (e *entry) cancelTimers() {
	e.gen++
	e.rtxGen++
	for _, t := range []clock.Timer{e.rtx, e.refresh, e.expiry, e.ra} {
		if t != nil {
			t.Stop()
		}
	}
	e.rtx, e.refresh, e.expiry, e.ra = nil, nil, nil, nil
}

func (e *entry) cancelRtx() {
	e.rtxGen++
	if e.rtx != nil {
		e.rtx.Stop()
		e.rtx = nil
	}
}

func (e *entry) export() BULEntry {
	b := BULEntry{MNID: e.key, Interface: e.link.name, MAC: append([]byte(nil), e.link.mac...), MNLinkLocal: e.link.ll,
		LMA: e.lma, ATT: e.att, HNPs: append([]netip.Prefix(nil), e.hnps...),
		Requested: append([]netip.Prefix(nil), e.requested...), State: e.state.String(), HI: e.hi,
		Lifetime: e.granted, Expires: e.expires, LastAccepted: e.lastAccepted, Retries: e.retries}
	if len(b.MAC) == 0 {
		b.MAC = nil
	}
	return b
}

func (m *MAG) sortedEntries() []*entry {
	out := make([]*entry, 0, len(m.bul))
	for _, e := range m.bul {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func (m *MAG) bindingsWith(lma netip.Addr) int {
	n := 0
	for _, e := range m.bul {
		if e.lma == lma && e.registered() {
			n++
		}
	}
	return n
}

func lifetimeUnits(d time.Duration) uint16 {
	u := (d + 4*time.Second - 1) / (4 * time.Second)
	if u > 0xffff {
		u = 0xffff
	}
	return uint16(u)
}

// startRequest begins a new PBU exchange (registration, re-registration
// or de-registration) for e.
func (m *MAG) startRequest(e *entry, st state, hi mh.HandoffIndicatorValue, lifetime time.Duration) {
	e.cancelRtx()
	e.state, e.hi, e.lifetime = st, hi, lifetime
	e.seqs = e.seqs[:0]
	e.retries = 0
	e.timeout = m.cfg.InitialBindackTimeout
	if st == statePending && m.cfg.FirstRegTimeout > 0 {
		e.timeout = m.cfg.FirstRegTimeout
	}
	m.transmit(e)
}

// transmit sends e's PBU now, or queues it when the LMA's rate limit
// (MAX_UPDATE_RATE per second) is reached.
func (m *MAG) transmit(e *entry) {
	p := m.peer(e.lma)
	if !p.allow(m.clk.Now(), m.cfg.MaxUpdateRate) {
		if !e.queued {
			e.queued = true
			p.queue = append(p.queue, e)
			m.cnt.PBURateLimited++
		}
		m.scheduleFlush(p)
		return
	}
	m.sendPBU(e)
}

// sendPBU builds and sends e's PBU (RFC 5213 §6.9.1.1, §6.9.1.5) with a
// fresh timestamp or sequence number, and arms the retransmission timer.
func (m *MAG) sendPBU(e *entry) {
	e.queued = false
	var seq uint16
	if m.cfg.SequenceScheme {
		seq = m.mnSeq[e.key] + 1
		m.mnSeq[e.key] = seq
	} else {
		m.seq++
		seq = m.seq
	}
	bu := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: lifetimeUnits(e.lifetime)}
	opts := append(m.tmpOpts[:0], e.mnid)
	for _, h := range e.requested {
		opts = append(opts, mh.NewHNP(h))
	}
	opts = append(opts, &mh.HandoffIndicator{Value: e.hi}, &mh.AccessTechnologyType{Value: e.att})
	if !m.cfg.SequenceScheme {
		ts := mh.TimestampValue(m.clk.Now())
		if ts <= m.lastTS {
			ts = m.lastTS + 1 // strictly increasing, whatever the clock does
		}
		m.lastTS = ts
		opts = append(opts, &mh.Timestamp{Value: ts})
	}
	e.sentLLID = nil
	if mac := e.link.mac; len(mac) > 0 && !allZeroBytes(mac) {
		e.sentLLID = append([]byte(nil), mac...)
		opts = append(opts, &mh.MNLinkLayerID{LinkLayerID: e.sentLLID})
	}
	bu.Options = opts
	if len(e.seqs) == 8 {
		e.seqs = append(e.seqs[:0], e.seqs[1:]...)
	}
	e.seqs = append(e.seqs, seq)
	if m.send(e.lma, bu) {
		m.cnt.PBUSent++
		if e.retries > 0 {
			m.cnt.PBURetransmitted++
		}
		e.log.WithFields(logrus.Fields{"seq": seq, "hi": uint8(e.hi), "lifetime": e.lifetime, "try": e.retries + 1,
			"hnps": e.requested}).Debug("PBU sent")
	}
	m.tmpOpts = opts[:0]
	e.cancelRtx()
	gen := e.rtxGen
	e.rtx = m.after(e.timeout, func() {
		if e.rtxGen == gen && m.bul[e.key] == e {
			m.bindackTimeout(e)
		}
	})
}

func allZeroBytes(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// bindackTimeout: no matching PBA within the timeout (RFC 5213 §6.9.4).
func (m *MAG) bindackTimeout(e *entry) {
	e.rtx = nil
	switch e.state {
	case stateDeregistering:
		// §6.9.1.4: after INITIAL_BINDACK_TIMEOUT without a reply, clean up.
		e.log.Info("no PBA to the de-registration: removing the entry")
		m.dropEntry(e)
		return
	case statePending, stateRefreshing:
	default:
		return
	}
	if !e.link.up || e.link.mn != e {
		return // §6.9.4 step 2: only while the MN is attached
	}
	e.retries++
	e.timeout *= 2
	if e.timeout > m.cfg.MaxBindackTimeout {
		e.timeout = m.cfg.MaxBindackTimeout
	}
	e.log.WithField("try", e.retries+1).WithField("next_timeout", e.timeout).Info("no PBA: retransmitting the PBU")
	m.transmit(e)
}

// sendDereg sends the lifetime-0 PBU (HI=4, every assigned HNP) and
// waits for its PBA or one INITIAL_BINDACK_TIMEOUT (RFC 5213 §6.9.1.4).
func (m *MAG) sendDereg(e *entry, why string) {
	e.cancelTimers()
	if len(e.hnps) > 0 {
		e.requested = append(e.requested[:0], e.hnps...)
	}
	m.cnt.Deregistrations++
	e.log.WithField("why", why).Info("de-registering")
	m.removeRoutes(e)
	e.state = stateDeregistering
	m.startRequest(e, stateDeregistering, mh.HIHandoffStateUnknown, 0)
	e.timeout = m.cfg.InitialBindackTimeout
}

// dropEntry forgets e and its forwarding state.
func (m *MAG) dropEntry(e *entry) {
	e.cancelTimers()
	m.removeRoutes(e)
	if m.bul[e.key] == e {
		delete(m.bul, e.key)
		m.unpersist(e.key)
	}
	if e.link.mn == e {
		e.link.mn = nil
	}
	if p := m.peers[e.lma]; p != nil {
		p.unqueue(e)
	}
}

// ---- PBA (RFC 5213 §6.9.1.2) ----

func (m *MAG) findByMNID(id *mh.MNIdentifier) *entry {
	for _, e := range m.bul {
		if e.mnid.Subtype == id.Subtype && bytes.Equal(e.mnid.Identifier, id.Identifier) {
			return e
		}
	}
	return nil
}

func (m *MAG) handlePBA(src netip.Addr, ba *mh.BindingAck) {
	m.cnt.PBAReceived++
	log := m.log.WithField("peer", src).WithField("seq", ba.Sequence)
	if err := mh.ValidatePBA(ba); err != nil {
		m.cnt.PBAIgnored++
		log.WithError(err).Warn("invalid PBA ignored")
		return
	}
	id, _ := mh.Find[*mh.MNIdentifier](ba.Options)
	e := m.findByMNID(id)
	if e == nil || e.lma != src || !containsSeq(e.seqs, ba.Sequence) {
		m.cnt.PBAIgnored++
		log.Debug("PBA matches no outstanding PBU: ignored")
		return
	}
	switch e.state {
	case statePending, stateRefreshing, stateDeregistering, stateLeaving:
	default:
		m.cnt.PBAIgnored++
		return
	}
	log = e.log.WithField("seq", ba.Sequence).WithField("status", ba.Status)
	// Step 4: the PBA must echo what was asked.
	hi, _ := mh.Find[*mh.HandoffIndicator](ba.Options)
	att, _ := mh.Find[*mh.AccessTechnologyType](ba.Options)
	ll, hasLL := mh.Find[*mh.MNLinkLayerID](ba.Options)
	if e.state != stateLeaving && (hi.Value != e.hi || att.Value != e.att || hasLL != (e.sentLLID != nil) ||
		(hasLL && !bytes.Equal(ll.LinkLayerID, e.sentLLID))) {
		m.cnt.PBAIgnored++
		log.WithFields(logrus.Fields{"pba_hi": hi.Value, "pba_att": att.Value}).
			Error("PBA does not match the PBU (HI, ATT or MN LL-ID): ignored; no more PBUs for this MN until an operator acts")
		e.cancelRtx()
		e.state = stateHalted
		return
	}
	e.cancelRtx()
	if e.state == stateDeregistering {
		log.Info("de-registration acknowledged")
		m.dropEntry(e)
		return
	}
	var hnps []netip.Prefix
	for _, o := range ba.Options {
		if h, ok := o.(*mh.HomeNetworkPrefix); ok {
			hnps = append(hnps, h.AsPrefix().Masked())
		}
	}
	if e.state == stateLeaving {
		if ba.Status.Accepted() && len(hnps) > 0 {
			e.hnps = hnps
			e.link = &link{name: e.link.name, mac: e.link.mac} // detached: no routes, no RA
			m.sendDereg(e, "left before the PBA")
		} else {
			m.dropEntry(e)
		}
		return
	}
	if !ba.Status.Accepted() {
		m.cnt.PBARejected++
		m.rejected(e, ba.Status, log)
		return
	}
	granted := time.Duration(ba.Lifetime) * 4 * time.Second
	if granted == 0 {
		m.cnt.PBARejected++
		log.Warn("PBA accepted a registration with lifetime 0: treating it as a rejection")
		m.rejected(e, ba.Status, log)
		return
	}
	m.cnt.PBAAccepted++
	e.tsRetries = 0
	now := m.clk.Now()
	first := e.state == statePending
	e.granted, e.expires, e.lastAccepted = granted, now.Add(granted), now
	if err := m.installRoutes(e, hnps); err != nil {
		m.cnt.DataplaneErrors++
		log.WithError(err).Error("installing the forwarding state failed: de-registering, no RA")
		e.hnps = hnps
		m.sendDereg(e, "data plane error")
		return
	}
	e.hnps = hnps
	e.state = stateRegistered
	m.persist(e)
	log.WithFields(logrus.Fields{"hnps": hnps, "lifetime": granted, "first": first}).Info("PBA accepted")
	if first {
		e.raCount = 0
	}
	m.sendRA(e, false)
	m.armRA(e)
	// Re-register before expiry (RFC 5213 §6.9.1.3), and expire if that fails.
	if e.refresh != nil {
		e.refresh.Stop()
	}
	if e.expiry != nil {
		e.expiry.Stop()
	}
	gen := e.gen
	e.refresh = m.after(time.Duration(float64(granted)*m.cfg.RefreshFraction), func() {
		if e.gen == gen && m.bul[e.key] == e && e.state == stateRegistered {
			m.reregister(e)
		}
	})
	e.expiry = m.after(granted, func() {
		if e.gen == gen && m.bul[e.key] == e && e.registered() && !m.clk.Now().Before(e.expires) {
			m.expire(e)
		}
	})
}

func containsSeq(s []uint16, x uint16) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func (m *MAG) reregister(e *entry) {
	if !e.link.up || e.link.mn != e {
		// §6.9.1.3: extend only a binding of an MN known to be attached.
		m.sendDereg(e, "not attached at re-registration")
		return
	}
	e.requested = append(e.requested[:0], e.hnps...)
	e.log.Info("re-registering (HI=5)")
	m.startRequest(e, stateRefreshing, mh.HIHandoffStateNotChanged, m.cfg.Lifetime)
}

func (m *MAG) expire(e *entry) {
	m.cnt.Expired++
	e.log.Warn("binding expired without a successful re-registration: removing it")
	if e.link.up && e.link.mn == e {
		m.sendRA(e, true)
	}
	m.dropEntry(e)
}

// rejected handles a PBA with status >= 128 (§6.9.1.2 steps 5-9).
func (m *MAG) rejected(e *entry, st mh.Status, log *logrus.Entry) {
	switch st {
	case mh.StatusTimestampLowerThanPrevAccepted: // 157: register again
		if e.tsRetries < 3 {
			e.tsRetries++
			log.Warn("PBA rejected 157 (timestamp lower than accepted): registering again")
			e.retries = 0
			m.transmit(e)
			return
		}
	case mh.StatusNotAuthorizedForHNP: // 155: may ask with one ALL_ZERO HNP
		if len(e.requested) > 0 && e.requested[0] != allZero && e.state == statePending {
			log.Warn("PBA rejected 155 (not authorized for the HNP): asking the LMA to assign one")
			e.requested = []netip.Prefix{allZero}
			e.retries = 0
			m.transmit(e)
			return
		}
	case mh.StatusProxyRegNotEnabled: // 152: deny service
		m.denied[e.key] = st
	case mh.StatusTimestampMismatch: // 156: resynchronise the clock first; never adopt the LMA's
		log.Error("PBA rejected 156 (timestamp mismatch): the MAG's clock is not synchronised with the LMA's")
	}
	log.Error("PBA rejected: no RA, state removed")
	if e.registered() && e.link.up && e.link.mn == e && len(e.hnps) > 0 {
		m.sendRA(e, true) // the prefixes were advertised: withdraw them
	}
	m.dropEntry(e)
}

// ---- forwarding state ----

func (m *MAG) routeEntries(e *entry, hnps []netip.Prefix) []dataplane.Entry {
	var out []dataplane.Entry
	for _, h := range hnps {
		out = append(out,
			dataplane.Entry{Kind: dataplane.KindAccessRoute, Prefix: h, Dev: e.link.name},
			dataplane.Entry{Kind: dataplane.KindSourceRoute, Prefix: h, Dev: e.link.name, Remote: e.lma})
	}
	return out
}

func (m *MAG) installRoutes(e *entry, hnps []netip.Prefix) error {
	want := m.routeEntries(e, hnps)
	keep := map[string]bool{}
	for _, w := range want {
		keep[w.Key()] = true
	}
	for _, old := range e.installed {
		if !keep[old.Key()] {
			if err := m.dp.Del(old); err != nil {
				m.cnt.DataplaneErrors++
				e.log.WithError(err).WithField("entry", old).Warn("removing a stale forwarding entry")
			}
		}
	}
	e.installed = e.installed[:0]
	for _, w := range want {
		if err := m.dp.Add(w); err != nil {
			return err
		}
		e.installed = append(e.installed, w)
	}
	return nil
}

func (m *MAG) removeRoutes(e *entry) {
	for _, x := range e.installed {
		if err := m.dp.Del(x); err != nil {
			// The access interface may be gone already (moved away).
			e.log.WithError(err).WithField("entry", x).Debug("removing a forwarding entry")
		}
	}
	e.installed = nil
}

// ---- Router Advertisements (RFC 5213 §6.7, §6.9.2, §6.9.3) ----

func (m *MAG) buildRA(e *entry, withdraw bool) *ndp.RA {
	ra := &ndp.RA{CurHopLimit: 64, RouterLifetime: m.cfg.RouterLifetime, SourceLinkLayer: ndp.RouterMAC, MTU: m.cfg.MTU}
	rem := e.expires.Sub(m.clk.Now())
	if rem < 0 {
		rem = 0
	}
	valid, pref := m.cfg.PrefixValidLifetime, m.cfg.PrefixPreferredLifetime
	if valid == 0 {
		valid = rem
	}
	if pref == 0 {
		pref = rem
	}
	if pref > valid {
		pref = valid
	}
	if withdraw {
		ra.RouterLifetime, valid, pref = 0, 0, 0
	}
	for _, h := range e.hnps {
		ra.Prefixes = append(ra.Prefixes, ndp.Prefix{Prefix: h, OnLink: true, Autonomous: true,
			ValidLifetime: valid, PreferredLifetime: pref})
	}
	return ra
}

// sendRA sends the MN its RA: unicast to its link-local address when
// known, else to all-nodes, which on the point-to-point link is the MN.
func (m *MAG) sendRA(e *entry, withdraw bool) {
	l := e.link
	if l.index == 0 {
		e.log.Warn("no interface index for the access link: RA not sent")
		return
	}
	dst := ndp.AllNodes
	if l.ll.IsValid() {
		dst = l.ll
	}
	if err := m.nd.SendRA(l.index, dst, m.buildRA(e, withdraw)); err != nil {
		m.cnt.RAErrors++
		e.log.WithError(err).Warn("RA not sent")
		return
	}
	m.cnt.RASent++
	e.raCount++
	e.log.WithField("dst", dst).WithField("withdraw", withdraw).Debug("RA sent")
}

// armRA schedules the next unsolicited RA: InitialRAs at
// InitialRAInterval, then every RAInterval.
func (m *MAG) armRA(e *entry) {
	if e.ra != nil {
		e.ra.Stop()
	}
	d := m.cfg.RAInterval
	if e.raCount < m.cfg.InitialRAs {
		d = m.cfg.InitialRAInterval
	}
	gen := e.gen
	e.ra = m.after(d, func() {
		if e.gen == gen && m.bul[e.key] == e && e.registered() && e.link.mn == e {
			m.sendRA(e, false)
			m.armRA(e)
		}
	})
}
