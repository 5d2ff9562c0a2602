package lma

import (
	"net/netip"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/mh"
)

// pendingAssign is a PBU creating a new session that waits for
// Config.Prefixes (like a PBU held for HI=4, the newest one is answered).
type pendingAssign struct {
	mnKey    string
	src, dst netip.Addr
	raw      []byte
	now      time.Time
}

// assign asks Config.Prefixes for the prefixes of the new session r
// creates, and holds r until they come back.
func (l *LMA) assign(r *pbuReq) {
	raw := append([]byte(nil), r.raw...)
	if a := l.assigning[r.mnKey]; a != nil {
		l.counters.Superseded++
		a.src, a.dst, a.raw, a.now = r.src, r.dst, raw, r.now
		if lg := r.logAt(logrus.DebugLevel); lg != nil {
			lg.Debug("PBU waiting for its prefixes replaced by a newer one")
		}
		return
	}
	a := &pendingAssign{mnKey: r.mnKey, src: r.src, dst: r.dst, raw: raw, now: r.now}
	l.assigning[r.mnKey] = a
	l.cfg.Prefixes.Assign(r.mnKey, slices.Clone(r.nonZero), func(hnps []netip.Prefix, st mh.Status) {
		hnps = slices.Clone(hnps)
		l.postAsync(func() { l.assigned(a, hnps, st) })
	})
}

// assigned answers the PBU waiting in a with the prefixes (or status)
// Config.Prefixes gave. The Binding Cache may have changed meanwhile, so
// the PBU is looked up again.
func (l *LMA) assigned(a *pendingAssign, hnps []netip.Prefix, st mh.Status) {
	if l.assigning[a.mnKey] != a {
		return
	}
	delete(l.assigning, a.mnKey)
	pbu, err := mh.ParseBindingUpdate(a.raw)
	if err != nil {
		return // it decoded once
	}
	r := l.newReq(a.src, a.dst, pbu, a.raw, a.now)
	defer l.freeReq(r)
	if st2, why := l.checkPolicy(r); st2 != 0 {
		l.reject(r, st2, why)
		return
	}
	if st >= 128 {
		l.reject(r, st, "prefix assignment refused")
		return
	}
	d, b, st2 := l.lookup(r)
	if d == decNew {
		l.initialRegistration(r, b, hnps)
		return
	}
	l.apply(r, d, b, st2)
}
