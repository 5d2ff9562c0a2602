package lma

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/mh"
)

// pbuReq is a received PBU with the options the LMA looks at.
type pbuReq struct {
	src, dst netip.Addr
	pbu      *mh.BindingUpdate
	raw      []byte
	now      time.Time
	mnid     *mh.MNIdentifier
	mnKey    string
	hnpOpts  []*mh.HomeNetworkPrefix
	nonZero  []netip.Prefix
	anyZero  bool
	hi       *mh.HandoffIndicator
	att      *mh.AccessTechnologyType
	llid     *mh.MNLinkLayerID
	lla      *mh.LinkLocalAddress
	ts       *mh.Timestamp
	coa      netip.Addr // Proxy-CoA: the source, or the Alternate Care-of Address
	policy   MNPolicy
	l        *LMA
	entry    *logrus.Entry // built by logAt on first use
}

// logAt returns the request's log entry (MN and MAG fields) when the
// logger writes lv, nil otherwise: the fields are built only for
// messages that are written.
func (r *pbuReq) logAt(lv logrus.Level) *logrus.Entry {
	if !r.l.logOn(lv) {
		return nil
	}
	if r.entry == nil {
		r.entry = r.l.cfg.Log.WithFields(logrus.Fields{"mn": r.mnKey, "mag": r.coa})
	}
	return r.entry
}

// freeReq returns r to the loop's free list (nothing keeps a request
// once its PBU is handled: a held PBU is kept as raw octets).
func (l *LMA) freeReq(r *pbuReq) {
	hnpOpts, nonZero := r.hnpOpts[:0], r.nonZero[:0]
	clear(r.hnpOpts[:cap(r.hnpOpts)])
	*r = pbuReq{hnpOpts: hnpOpts, nonZero: nonZero}
	if len(l.reqFree) < 16 {
		l.reqFree = append(l.reqFree, r)
	}
}

// mnKey is MNKey(id), without allocating the key of an NAI the Binding
// Cache already has (the common case: a re-registration).
func (l *LMA) mnKey(id *mh.MNIdentifier) string {
	if id != nil && !id.Empty && id.Subtype == mh.MNIDNAI {
		// A key equal to the identifier's octets is printable (every
		// MNKey is), so MNKey(id) would be that same string.
		if b := l.byMN[string(id.Identifier)]; b != nil {
			return b.mnKey
		}
	}
	return MNKey(id)
}

func (l *LMA) newReq(src, dst netip.Addr, pbu *mh.BindingUpdate, raw []byte, now time.Time) *pbuReq {
	var r *pbuReq
	if n := len(l.reqFree); n > 0 {
		r = l.reqFree[n-1]
		l.reqFree = l.reqFree[:n-1]
	} else {
		r = new(pbuReq)
	}
	r.l, r.src, r.dst, r.pbu, r.raw, r.now, r.coa = l, src, dst, pbu, raw, now, src
	for _, o := range pbu.Options {
		switch x := o.(type) {
		case *mh.MNIdentifier:
			if r.mnid == nil {
				r.mnid = x
			}
		case *mh.HomeNetworkPrefix:
			r.hnpOpts = append(r.hnpOpts, x)
			if x.AllZero() {
				r.anyZero = true
			} else {
				r.nonZero = append(r.nonZero, x.AsPrefix().Masked())
			}
		case *mh.HandoffIndicator:
			if r.hi == nil {
				r.hi = x
			}
		case *mh.AccessTechnologyType:
			if r.att == nil {
				r.att = x
			}
		case *mh.MNLinkLayerID:
			if r.llid == nil {
				r.llid = x
			}
		case *mh.LinkLocalAddress:
			if r.lla == nil {
				r.lla = x
			}
		case *mh.Timestamp:
			if r.ts == nil {
				r.ts = x
			}
		case *mh.AlternateCoA:
			if x.Address.Is6() && !x.Address.IsUnspecified() {
				r.coa = x.Address
			}
		}
	}
	r.mnKey = l.mnKey(r.mnid)
	return r
}

func (r *pbuReq) hiValue() mh.HandoffIndicatorValue {
	if r.hi == nil {
		return 0
	}
	return r.hi.Value
}

func (r *pbuReq) attValue() mh.ATT {
	if r.att == nil {
		return 0
	}
	return r.att.Value
}

// llidNonZero reports whether the PBU has an MN LL-ID with a NON_ZERO value.
func (r *pbuReq) llidNonZero() bool {
	if r.llid == nil {
		return false
	}
	for _, c := range r.llid.LinkLayerID {
		if c != 0 {
			return true
		}
	}
	return false
}

// handlePBU processes a Proxy Binding Update in the order of RFC 5213
// §5.3.1. raw is the received message (copied if the PBU is held).
func (l *LMA) handlePBU(src, dst netip.Addr, pbu *mh.BindingUpdate, raw []byte, now time.Time) {
	r := l.newReq(src, dst, pbu, raw, now)
	defer l.freeReq(r)

	// Steps 1-3: IPsec is outside this package; the §9.2 checks were
	// applied by handlePacket; the Home Address option check is ignored.
	// Step 4: the P flag and the MN-ID (160; a repeated MN-ID is 128).
	if err := mh.ValidatePBUIdentity(pbu); err != nil {
		var se *mh.StatusError
		errors.As(err, &se)
		if se.Status == mh.StatusHomeRegistrationNotSupported {
			// Not a proxy registration: a plain BA, P clear (RFC 6275 §10.3.1).
			if lg := r.logAt(logrus.InfoLevel); lg != nil {
				lg.WithField("reason", se.Reason).Info("Binding Update without P rejected")
			}
			l.send(src, &mh.BindingAck{Status: se.Status, Sequence: pbu.Sequence})
			return
		}
		l.reject(r, se.Status, se.Reason)
		return
	}
	// Steps 5-8: policy (154, 153, 152).
	if st, why := l.checkPolicy(r); st != 0 {
		l.reject(r, st, why)
		return
	}
	// Step 9: ordering (§5.5): 156, 157 or 135.
	if st, seq, why := l.checkOrder(r); st != 0 {
		l.rejectSeq(r, st, seq, why)
		return
	}
	// Steps 10-12: 158, 161, 162 (and repeated options, 128).
	if err := mh.ValidatePBUOptions(pbu); err != nil {
		var se *mh.StatusError
		errors.As(err, &se)
		l.reject(r, se.Status, se.Reason)
		return
	}
	// Step 13: BCE existence test (§5.4.1).
	l.lookupAndApply(r)
}

// checkPolicy applies RFC 5213 §5.3.1 steps 5-8.
func (l *LMA) checkPolicy(r *pbuReq) (mh.Status, string) {
	c := &l.cfg
	if c.MAGs != nil {
		mp, ok := c.MAGs[r.coa]
		if !ok {
			return mh.StatusMAGNotAuthorizedForProxyReg, "MAG not authorised to send PBUs"
		}
		if len(mp.MNs) > 0 && !slices.Contains(mp.MNs, r.mnKey) {
			return mh.StatusMAGNotAuthorizedForProxyReg, "MAG not authorised for this MN"
		}
	}
	pol, known := c.MNs[r.mnKey]
	if known && len(pol.MAGs) > 0 && !slices.Contains(pol.MAGs, r.coa) {
		return mh.StatusMAGNotAuthorizedForProxyReg, "MN may not be registered by this MAG"
	}
	if !known {
		if c.DefaultMN == nil {
			return mh.StatusNotLMAForThisMN, "unknown MN"
		}
		pol = *c.DefaultMN
	}
	if pol.ProxyDisabled {
		return mh.StatusProxyRegNotEnabled, "MN not entitled to network-based mobility"
	}
	r.policy = pol
	return 0, ""
}

// seqStale reports whether s is "less than or equal to" last modulo 2^16:
// within last and the 32768 values before it (RFC 6275 §9.5.1).
func seqStale(s, last uint16) bool { return uint16(last-s) <= 32768 }

// checkOrder applies RFC 5213 §5.5. With a Timestamp option the sequence
// number is ignored; the timestamp must be greater than every timestamp
// accepted for this MN (157 if lower, 156 if equal) and, unless
// MobileNodeGeneratedTimestampInUse, within TimestampValidityWindow of
// the LMA clock (156). Without one, the RFC 6275 §9.5.1 sequence rule
// applies against the session's BCE (135 with the last accepted number).
func (l *LMA) checkOrder(r *pbuReq) (mh.Status, uint16, string) {
	if r.ts != nil {
		if head := l.byMN[r.mnKey]; head != nil && head.mnTS != 0 {
			last := head.mnTS
			if r.ts.Value < last {
				return mh.StatusTimestampLowerThanPrevAccepted, 0, "timestamp lower than the last accepted one"
			}
			if r.ts.Value == last {
				return mh.StatusTimestampMismatch, 0, "timestamp equal to the last accepted one"
			}
		}
		if !l.cfg.MobileNodeGeneratedTimestampInUse {
			d := r.ts.Time().Sub(r.now)
			if d < 0 {
				d = -d
			}
			if d > l.cfg.TimestampValidityWindow {
				return mh.StatusTimestampMismatch, 0, "timestamp outside TimestampValidityWindow (off by " + d.String() + ")"
			}
		}
		return 0, 0, ""
	}
	if l.cfg.TimestampBasedApproachInUse {
		l.counters.PBUWithoutTimestamp++
	}
	if b := l.orderingBCE(r); b != nil && b.hasSeq && seqStale(r.pbu.Sequence, b.seq) {
		return mh.StatusSequenceOutOfWindow, b.seq, "sequence number not greater than the last accepted one"
	}
	return 0, 0, ""
}

// orderingBCE finds the session whose last sequence number a PBU is
// checked against (before the full §5.4.1 lookup, which comes later in
// the §5.3.1 order): the BCE of this MN holding one of the PBU's NON_ZERO
// prefixes, else the one with its ATT and MN LL-ID, else the MN's only BCE.
// With none, any sequence number is accepted (RFC 6275 §9.5.1).
func (l *LMA) orderingBCE(r *pbuReq) *bce {
	for _, p := range r.nonZero {
		if b := l.byPrefix[p]; b != nil && b.mnKey == r.mnKey {
			return b
		}
	}
	if r.llidNonZero() && r.att != nil {
		for b := l.byMN[r.mnKey]; b != nil; b = b.nextMN {
			if b.att == r.att.Value && b.llid == string(r.llid.LinkLayerID) {
				return b
			}
		}
	}
	return l.onlySession(r.mnKey)
}

type decision uint8

const (
	decNew decision = iota
	decUpdate
	decIgnore
	decWait
	decReject
)

// lookup applies the BCE lookup rules of RFC 5213 §5.4.1. For decNew,
// b is a session of the same MN whose prefixes the new one takes over
// (rule 1, step 6), or nil.
func (l *LMA) lookup(r *pbuReq) (d decision, b *bce, st mh.Status) {
	hi := r.hiValue()
	att := r.attValue()
	newOrIgnore := func(replace *bce) (decision, *bce, mh.Status) {
		if r.pbu.Lifetime == 0 {
			return decIgnore, nil, 0
		}
		return decNew, replace, 0
	}
	// §5.4.1.1: at least one NON_ZERO HNP.
	if len(r.nonZero) > 0 {
		var found *bce
		for _, p := range r.nonZero {
			if found = l.byPrefix[p]; found != nil {
				break
			}
		}
		if found == nil {
			return newOrIgnore(nil)
		}
		if found.mnKey != r.mnKey {
			return decReject, nil, mh.StatusNotAuthorizedForHNP
		}
		if r.anyZero || !samePrefixSet(r.nonZero, found.hnps) {
			return decReject, nil, mh.StatusBCEPBUPrefixSetDoNotMatch
		}
		switch {
		case r.llid != nil && string(r.llid.LinkLayerID) == found.llid && att == found.att,
			hi == mh.HIHandoffBetweenIfaces,
			r.llid == nil && allZero(found.llid) && att == found.att && hi == mh.HIHandoffBetweenMAGs,
			found.proxyCoA() == r.coa && att == found.att:
			return decUpdate, found, 0
		}
		return newOrIgnore(found)
	}
	only := l.onlySession(r.mnKey)
	// §5.4.1.2: MN LL-ID present (NON_ZERO).
	if r.llidNonZero() {
		for b := l.byMN[r.mnKey]; b != nil; b = b.nextMN {
			if b.att == att && b.llid == string(r.llid.LinkLayerID) {
				return decUpdate, b, 0
			}
		}
		if hi == mh.HIHandoffBetweenIfaces && only != nil {
			return decUpdate, only, 0
		}
		if hi == mh.HIHandoffStateUnknown && only != nil {
			return l.waitOrUpdate(r, only)
		}
		return newOrIgnore(nil)
	}
	// §5.4.1.3: no MN LL-ID: the MN-ID is the key.
	if only != nil {
		switch hi {
		case mh.HIHandoffBetweenIfaces, mh.HIHandoffBetweenMAGs:
			return decUpdate, only, 0
		case mh.HIHandoffStateUnknown:
			return l.waitOrUpdate(r, only)
		}
	}
	return newOrIgnore(nil)
}

// waitOrUpdate decides for a PBU with HI=4 matching exactly one BCE
// (§5.4.1.2 step 4, §5.4.1.3 step 3). The RFC's wait is for "the existing
// BCE to be de-registered by the previously serving MAG", so:
//   - a lifetime-0 PBU is associated with that BCE at once (§5.3.5 then
//     ignores it unless it comes from the BCE's Proxy-CoA);
//   - a BCE already de-registered (in MinDelayBeforeBCEDelete) is updated
//     at once;
//   - with NoWaitForDeregistration a new session is created at once;
//   - otherwise the PBU is held.
func (l *LMA) waitOrUpdate(r *pbuReq, b *bce) (decision, *bce, mh.Status) {
	switch {
	case r.pbu.Lifetime == 0, b.state == StateDeregistered:
		return decUpdate, b, 0
	case l.cfg.NoWaitForDeregistration:
		return decNew, nil, 0
	}
	return decWait, b, 0
}

func samePrefixSet(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for _, p := range a {
		if !slices.Contains(b, p) {
			return false
		}
	}
	for _, p := range b {
		if !slices.Contains(a, p) {
			return false
		}
	}
	return true
}

func allZero(b string) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (l *LMA) lookupAndApply(r *pbuReq) {
	d, b, st := l.lookup(r)
	l.apply(r, d, b, st)
}

func (l *LMA) apply(r *pbuReq, d decision, b *bce, st mh.Status) {
	switch d {
	case decIgnore:
		l.counters.Ignored++
		if lg := r.logAt(logrus.DebugLevel); lg != nil {
			lg.Debug("lifetime-0 PBU matching no mobility session ignored (RFC 5213 §5.4.1)")
		}
	case decReject:
		l.reject(r, st, "BCE lookup (RFC 5213 §5.4.1)")
	case decWait:
		l.hold(r, b)
	case decNew:
		if l.cfg.Prefixes != nil {
			l.assign(r)
			return
		}
		l.initialRegistration(r, b, nil)
	case decUpdate:
		switch {
		case r.pbu.Lifetime == 0:
			l.deregister(r, b)
		default:
			l.extend(r, b)
		}
	}
}

// grantedLifetime is the lifetime granted to a PBU: never above the
// request (RFC 6275 §10.3.1), at most MaxLifetime, in 4 s units.
func (l *LMA) grantedLifetime(req uint16) uint16 {
	max := l.cfg.MaxLifetime / (4 * time.Second)
	if max < 1 {
		max = 1
	}
	if time.Duration(req) > max {
		return uint16(max)
	}
	return req
}

// initialRegistration is RFC 5213 §5.3.2. replace is a session of the
// same MN holding exactly the requested prefixes (a new session by rule
// §5.4.1.1 step 6): it is removed and the new session takes its prefixes.
// assigned, when not nil, are the prefixes Config.Prefixes gave: they
// are the session's, authorised, and nothing comes from the pools.
func (l *LMA) initialRegistration(r *pbuReq, replace *bce, assigned []netip.Prefix) {
	var hnps []netip.Prefix
	var pooled []bool // parallel to hnps: from the pools
	add := func(p netip.Prefix, fromPool bool) {
		hnps = append(hnps, p)
		pooled = append(pooled, fromPool)
	}
	for _, p := range assigned {
		p = p.Masked()
		if owner := l.byPrefix[p]; owner != nil && owner != replace {
			l.reject(r, mh.StatusNotAuthorizedForHNP, "assigned prefix "+p.String()+" is another session's")
			return
		}
		if !slices.Contains(hnps, p) {
			add(p, false)
		}
	}
	if assigned != nil && len(hnps) == 0 {
		l.reject(r, mh.StatusInsufficientResources, "no prefix assigned")
		return
	}
	for _, p := range r.nonZero {
		if assigned != nil {
			break
		}
		if !l.prefixAuthorized(r, p, replace) {
			l.reject(r, mh.StatusNotAuthorizedForHNP, "prefix "+p.String()+" not authorised for this MN")
			return
		}
		if !slices.Contains(hnps, p) {
			add(p, replace != nil && replace.prefixPooled(p))
		}
	}
	if r.anyZero && assigned == nil {
		n := 0
		for _, p := range r.policy.Prefixes {
			p = p.Masked()
			if owner := l.byPrefix[p]; owner == nil && !slices.Contains(hnps, p) {
				add(p, false)
				n++
			}
		}
		// A pool prefix is free when no session holds it (nor this one).
		used := func(q netip.Prefix) bool { return l.byPrefix[q] != nil || slices.Contains(hnps, q) }
		for n == 0 && len(hnps) < len(r.nonZero)+l.cfg.PrefixesPerSession {
			p, ok := l.pool.alloc(used)
			if !ok {
				l.reject(r, mh.StatusInsufficientResources, "prefix pools exhausted")
				return
			}
			l.poolDirty = true
			add(p, true)
		}
	}
	if replace != nil {
		for i, p := range replace.hnps {
			if replace.isPooled(i) && slices.Contains(hnps, p) {
				replace.setPooled(i, false) // taken over, not released
				l.allocCount--
			}
		}
		if lg := r.logAt(logrus.InfoLevel); lg != nil {
			lg.WithField("old_mag", replace.proxyCoA()).Info("new mobility session replaces the session holding the same prefixes (RFC 5213 §5.4.1.1 step 6)")
		}
		l.removeBCE(replace, "replaced by a new mobility session")
	}
	l.nextID++
	b := &bce{
		id:        l.nextID,
		mnKey:     r.mnKey,
		mnidSub:   r.mnid.Subtype,
		mnidID:    r.mnKey,
		hnps:      slices.Clip(hnps),
		created:   r.now.UnixNano(),
		linkLocal: l.cfg.MAGLinkLocal,
		heapIdx:   -1,
		llid:      llidNone,
	}
	if string(r.mnid.Identifier) != r.mnKey {
		b.mnidID = string(r.mnid.Identifier)
	}
	if r.llid != nil {
		b.llid = string(r.llid.LinkLayerID)
	}
	if r.lla != nil && !r.lla.Address.IsUnspecified() && r.lla.Address.IsValid() {
		b.linkLocal = r.lla.Address
	}
	for i, p := range hnps {
		l.byPrefix[p] = b
		if pooled[i] {
			b.setPooled(i, true)
			l.allocCount++
		}
	}
	l.addSession(b)
	l.setCoA(b, r.coa)
	l.accept(r, b)
	if err := l.installRoutes(b); err != nil {
		if lg := r.logAt(logrus.ErrorLevel); lg != nil {
			lg.WithError(err).Error("cannot install the prefix routes; registration refused")
		}
		l.removeBCE(b, "data plane error")
		l.reject(r, mh.StatusReasonUnspecified, "data plane error")
		return
	}
	if lg := r.logAt(logrus.InfoLevel); lg != nil {
		lg.WithFields(logrus.Fields{"hnp": hnps, "lifetime": b.lifetimeDur()}).Info("mobility session created")
	}
	l.emit(b, EventCreated)
	l.sendPBA(r, mh.StatusAccepted, b)
}

// prefixAuthorized is the RFC 5213 §5.3.2 step 3 check for a NON_ZERO
// prefix of a new session: it must be the MN's statically assigned
// prefix (or one of the session it replaces), and within the requesting
// MAG's prefixes when its policy lists some.
func (l *LMA) prefixAuthorized(r *pbuReq, p netip.Prefix, replace *bce) bool {
	if l.cfg.MAGs != nil {
		if mp := l.cfg.MAGs[r.coa]; len(mp.Prefixes) > 0 {
			in := false
			for _, x := range mp.Prefixes {
				if x.Bits() <= p.Bits() && x.Contains(p.Addr()) {
					in = true
				}
			}
			if !in {
				return false
			}
		}
	}
	if replace != nil && slices.Contains(replace.hnps, p) {
		return true
	}
	if l.static[p] == r.mnKey && r.mnKey != "" {
		return true
	}
	return slices.Contains(r.policy.Prefixes, p) // DefaultMN's own prefixes
}

// accept records an accepted PBU in b (RFC 5213 §5.1 fields, §5.5 state)
// and (re)starts its lifetime timer.
func (l *LMA) accept(r *pbuReq, b *bce) {
	if r.ts != nil {
		b.timestamp = mh.TimestampValue(r.now)
		b.pbuTS = r.ts.Value
		if head := l.byMN[r.mnKey]; head != nil && r.ts.Value > head.mnTS {
			head.mnTS = r.ts.Value
		}
	} else {
		b.timestamp, b.pbuTS = 0, 0
	}
	l.markDirty(b)
	b.seq, b.hasSeq = r.pbu.Sequence, r.ts == nil
	b.hi = r.hiValue()
	b.att = r.attValue()
	if r.llid != nil && b.llid != string(r.llid.LinkLayerID) {
		b.llid = string(r.llid.LinkLayerID)
	}
	if r.lla != nil && r.lla.Address.IsValid() && !r.lla.Address.IsUnspecified() {
		b.linkLocal = r.lla.Address
	}
	units := l.grantedLifetime(r.pbu.Lifetime)
	if r.pbu.Lifetime == 0 {
		units = 0
	}
	b.lifetime = uint32(units) * 4
	b.expires = r.now.Add(b.lifetimeDur()).UnixNano()
	if units == 0 {
		return // de-registration: its own timer (deregister)
	}
	b.state = StateActive
	l.restartTimer(b, b.lifetimeDur())
}

// extend is RFC 5213 §5.3.3 (same MAG) and §5.3.4 (after handoff); it
// also restores a BCE in the MinDelayBeforeBCEDelete wait (§5.3.5).
func (l *LMA) extend(r *pbuReq, b *bce) {
	handoff := b.proxyCoA() != r.coa
	restored := b.state != StateActive
	oldCoA := b.proxyCoA()
	if rv := b.revoke(); rv != nil {
		l.finishRevocation(rv, false) // registered again: the revocation is moot
	}
	l.setCoA(b, r.coa)
	l.accept(r, b)
	if handoff || restored || !b.routed {
		if err := l.installRoutes(b); err != nil {
			if lg := r.logAt(logrus.ErrorLevel); lg != nil {
				lg.WithError(err).Error("cannot move the prefix routes")
			}
			l.counters.DataPlaneErrors++
		}
	}
	switch {
	case handoff:
		if lg := r.logAt(logrus.InfoLevel); lg != nil {
			lg.WithFields(logrus.Fields{"old_mag": oldCoA, "hnp": b.hnps, "restored": restored}).Info("binding moved to a new MAG (RFC 5213 §5.3.4)")
		}
		l.emit(b, EventMoved)
	case restored:
		if lg := r.logAt(logrus.InfoLevel); lg != nil {
			lg.WithField("hnp", b.hnps).Info("binding restored during the de-registration delay")
		}
		l.emit(b, EventRefreshed)
	default:
		if lg := r.logAt(logrus.DebugLevel); lg != nil {
			lg.Debug("binding lifetime extended")
		}
		l.emit(b, EventRefreshed)
	}
	l.sendPBA(r, mh.StatusAccepted, b)
}

// deregister is RFC 5213 §5.3.5.
func (l *LMA) deregister(r *pbuReq, b *bce) {
	if b.proxyCoA() != r.coa {
		l.counters.Ignored++
		if lg := r.logAt(logrus.DebugLevel); lg != nil {
			lg.WithField("bce_mag", b.proxyCoA()).Debug("de-registration from a MAG that is not the BCE's Proxy-CoA ignored (RFC 5213 §5.3.5)")
		}
		return
	}
	l.accept(r, b)
	if b.state != StateDeregistered {
		b.state = StateDeregistered
		l.removeRoutes(b)
		l.restartTimer(b, l.cfg.MinDelayBeforeBCEDelete)
		if lg := r.logAt(logrus.InfoLevel); lg != nil {
			lg.WithField("hnp", b.hnps).Info("binding de-registered; deleted after MinDelayBeforeBCEDelete")
		}
		l.emit(b, EventDeregistered)
	}
	l.sendPBA(r, mh.StatusAccepted, b)
	if h := b.held(); h != nil {
		l.resumeHeld(b, h, true)
	}
}

// hold keeps a PBU with HI=4 until the BCE's de-registration or
// MaxDelayBeforeNewBCEAssign. A newer PBU for the same BCE replaces the
// held one (unanswered) and keeps its deadline.
func (l *LMA) hold(r *pbuReq, b *bce) {
	l.counters.Held++
	raw := append([]byte(nil), r.raw...)
	if h := b.held(); h != nil {
		l.counters.Superseded++
		h.src, h.dst, h.raw, h.now = r.src, r.dst, raw, r.now
		if lg := r.logAt(logrus.DebugLevel); lg != nil {
			lg.Debug("held PBU replaced by a newer one")
		}
		return
	}
	h := &heldPBU{src: r.src, dst: r.dst, raw: raw, now: r.now}
	b.setHeld(h)
	h.timer = l.after(l.cfg.MaxDelayBeforeNewBCEAssign, func() { l.resumeHeld(b, h, false) })
	if lg := r.logAt(logrus.InfoLevel); lg != nil {
		lg.WithField("bce_mag", b.proxyCoA()).Info("PBU with HI=4 held for the previous MAG's de-registration (RFC 5213 §5.4.1)")
	}
}

// resumeHeld answers a held PBU: as an update of b after its
// de-registration, otherwise (timeout, or b removed) as a new session.
func (l *LMA) resumeHeld(b *bce, h *heldPBU, deregistered bool) {
	if h.done || b.held() != h {
		return
	}
	h.done = true
	b.setHeld(nil)
	if h.timer != nil {
		h.timer.Stop()
	}
	pbu, err := mh.ParseBindingUpdate(h.raw)
	if err != nil {
		return // it decoded once
	}
	r := l.newReq(h.src, h.dst, pbu, h.raw, h.now)
	defer l.freeReq(r)
	if st, _ := l.checkPolicy(r); st != 0 {
		l.reject(r, st, "policy changed")
		return
	}
	if deregistered && !b.removed {
		l.apply(r, decUpdate, b, 0)
		return
	}
	if lg := r.logAt(logrus.InfoLevel); lg != nil {
		lg.Info("no de-registration within MaxDelayBeforeNewBCEAssign: new mobility session")
	}
	l.apply(r, decNew, nil, 0)
}

// setCoA moves b to a Proxy-CoA, keeping the per-peer binding counts.
func (l *LMA) setCoA(b *bce, coa netip.Addr) {
	if b.peer != nil && b.peer.addr == coa {
		return
	}
	if b.peer != nil {
		l.peerUnref(b.peer.addr)
	}
	b.peer = l.peerRef(coa)
}

func (l *LMA) installRoutes(b *bce) error {
	for _, p := range b.hnps {
		if err := l.cfg.DataPlane.Add(dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: p, Remote: b.proxyCoA()}); err != nil {
			l.counters.DataPlaneErrors++
			return err
		}
	}
	b.routed = true
	return nil
}

func (l *LMA) removeRoutes(b *bce) {
	if !b.routed {
		return
	}
	for _, p := range b.hnps {
		if err := l.cfg.DataPlane.Del(dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: p, Remote: b.proxyCoA()}); err != nil {
			l.counters.DataPlaneErrors++
			l.cfg.Log.WithError(err).WithField("mn", b.mnKey).Error("cannot remove a prefix route")
		}
	}
	b.routed = false
}

// removeBCE deletes b with its routes and releases its pool prefixes.
func (l *LMA) removeBCE(b *bce, reason string) {
	if b.removed {
		return
	}
	b.removed = true
	l.markDirty(b)
	l.cancelTimer(b)
	l.removeRoutes(b)
	for i, p := range b.hnps {
		if l.byPrefix[p] == b {
			delete(l.byPrefix, p)
		}
		if b.isPooled(i) {
			l.allocCount--
		}
	}
	l.dropSession(b)
	if b.peer != nil {
		l.peerUnref(b.peer.addr)
	}
	if rv := b.revoke(); rv != nil {
		l.finishRevocation(rv, true)
	}
	if h := b.held(); h != nil {
		l.resumeHeld(b, h, false)
	}
	l.emit(b, EventRemoved)
}
