package lma

import (
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// revocation is a BRI in flight (RFC 5846 §8.1).
type revocation struct {
	seq      uint16
	b        *bce
	bri      *mh.BindingRevocationIndication
	dst      netip.Addr
	tries    int
	timeout  time.Duration
	timer    interface{ Stop() bool }
	result   chan RevokeResult
	status   mh.BRStatus
	acked    bool
	timedOut bool
	done     bool
}

// RevokeResult is the outcome of revoking one binding.
type RevokeResult struct {
	MN   string
	HNPs []netip.Prefix
	MAG  netip.Addr
	// Acked: a BRA came back, with Status.
	Acked  bool
	Status mh.BRStatus
	// TimedOut: no BRA after BRIMaxRetries retransmissions.
	TimedOut bool
	// Removed: the binding was deleted (on a BRA other than 132, on a
	// time-out, or because it expired or was replaced meanwhile).
	Removed bool
	// Superseded: the MAG registered the binding again before answering.
	Superseded bool
}

// startRevocation sends a BRI for b (RFC 5846 §8.1: P set, MN-ID and the
// session's HNPs) and removes its routes at once.
func (l *LMA) startRevocation(b *bce, trigger mh.RevocationTrigger) *revocation {
	for {
		l.briSeq++
		if _, used := l.revokes[l.briSeq]; !used {
			break
		}
	}
	bri := &mh.BindingRevocationIndication{Trigger: trigger, Sequence: l.briSeq, Flags: mh.BRFlagP}
	bri.Options = append(bri.Options, &mh.MNIdentifier{Subtype: b.mnidSub, Identifier: []byte(b.mnidID)})
	for _, p := range b.hnps {
		bri.Options = append(bri.Options, mh.NewHNP(p))
	}
	rv := &revocation{seq: l.briSeq, b: b, bri: bri, dst: b.proxyCoA(), timeout: l.cfg.InitMinDelayBRIs, result: make(chan RevokeResult, 1)}
	l.revokes[rv.seq] = rv
	b.setRevoke(rv)
	b.state = StateRevoking
	l.markDirty(b)
	l.removeRoutes(b)
	l.cfg.Log.WithField("mn", b.mnKey).WithField("mag", b.proxyCoA()).WithField("trigger", trigger).Info("revoking binding (RFC 5846)")
	l.send(rv.dst, bri)
	l.armRevocation(rv)
	l.emit(b, EventRevoking)
	return rv
}

func (l *LMA) armRevocation(rv *revocation) {
	rv.timer = l.after(rv.timeout, func() {
		if rv.done {
			return
		}
		if rv.tries < l.cfg.BRIMaxRetries {
			rv.tries++
			rv.timeout = min(2*rv.timeout, l.cfg.MaxBRAckTimeout)
			l.send(rv.dst, rv.bri)
			l.armRevocation(rv)
			return
		}
		l.counters.BRITimeouts++
		rv.timedOut = true
		l.cfg.Log.WithField("mn", rv.b.mnKey).Warn("no BRA after the retries: binding removed (RFC 5846 §6.3)")
		l.removeBCE(rv.b, "revocation timed out") // finishes rv
	})
}

func (l *LMA) handleBRA(src netip.Addr, m *mh.BindingRevocationAck) {
	l.counters.BRA[m.Status]++
	rv := l.revokes[m.Sequence]
	if rv == nil || rv.dst != src {
		l.counters.drop("BRA matching no BRI")
		return
	}
	rv.acked, rv.status = true, m.Status
	if m.Status == mh.BRStatusMNIsAttached {
		// RFC 5846 §9.1: the MAG still serves the MN: keep the binding.
		b := rv.b
		b.state = StateActive
		l.markDirty(b)
		if err := l.installRoutes(b); err != nil {
			l.cfg.Log.WithError(err).Error("cannot restore the prefix routes")
		}
		l.finishRevocation(rv, false)
		return
	}
	l.removeBCE(rv.b, "revoked") // finishes rv
}

func (l *LMA) finishRevocation(rv *revocation, removed bool) {
	if rv.done {
		return
	}
	rv.done = true
	if rv.timer != nil {
		rv.timer.Stop()
	}
	delete(l.revokes, rv.seq)
	if rv.b.revoke() == rv {
		rv.b.setRevoke(nil)
	}
	res := RevokeResult{MN: rv.b.mnKey, HNPs: append([]netip.Prefix(nil), rv.b.hnps...), MAG: rv.dst,
		Acked: rv.acked, Status: rv.status, TimedOut: rv.timedOut, Removed: removed}
	if !removed && !rv.acked {
		res.Superseded = true
	}
	rv.result <- res
	close(rv.result)
}
