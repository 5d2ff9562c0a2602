package lma

import (
	"net/netip"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/mh"
)

// reject answers r with a status >= 128.
func (l *LMA) reject(r *pbuReq, st mh.Status, why string) {
	l.rejectSeq(r, st, r.pbu.Sequence, why)
}

// rejectSeq answers r with a status >= 128 and the given Sequence # (for
// 135: the last accepted one, RFC 6275 §9.5.1).
func (l *LMA) rejectSeq(r *pbuReq, st mh.Status, seq uint16, why string) {
	if lg := r.logAt(logrus.InfoLevel); lg != nil {
		lg.WithField("status", uint8(st)).WithField("reason", why).Info("PBU rejected: " + st.String())
	}
	pba := l.buildPBA(r, st, nil)
	if st == mh.StatusSequenceOutOfWindow {
		pba.Sequence = seq
	}
	l.deferTx(r.src, pba)
}

// sendPBA answers r with status st for BCE b (with a Store: once the
// change is durable).
func (l *LMA) sendPBA(r *pbuReq, st mh.Status, b *bce) {
	l.deferTx(r.src, l.buildPBA(r, st, b))
}

// pbaScratch holds the PBA and its option values, reused for every PBA
// (each is encoded as soon as it is built).
type pbaScratch struct {
	ba   mh.BindingAck
	opts mh.Options
	hnps []mh.HomeNetworkPrefix
	mnid mh.MNIdentifier
	hi   mh.HandoffIndicator
	att  mh.AccessTechnologyType
	ts   mh.Timestamp
	llid mh.MNLinkLayerID
	lla  mh.LinkLocalAddress
}

// buildPBA builds the PBA of RFC 5213 §5.3.6 (and §8.2) for r. b is the
// session for an accepted status, nil for a rejection. It goes to the
// PBU's source (the transport sends from the LMA address, the PBU's
// destination). The PBA is the loop's scratch one: valid until the next
// buildPBA, and it refers to r's options.
func (l *LMA) buildPBA(r *pbuReq, st mh.Status, b *bce) *mh.BindingAck {
	s := &l.pba
	s.ba = mh.BindingAck{Status: st, Sequence: r.pbu.Sequence}
	pba := &s.ba
	if r.pbu.Proxy() {
		pba.Flags |= mh.BAFlagP
	}
	// Home Network Prefix options (first: they need no padding after the
	// 12-octet fixed part).
	s.hnps = s.hnps[:0]
	switch {
	case st.Accepted() && b != nil:
		for _, p := range b.hnps {
			s.hnps = append(s.hnps, mh.HomeNetworkPrefix{PrefixLength: uint8(p.Bits()), Prefix: p.Addr()})
		}
	case len(r.hnpOpts) > 0:
		for _, h := range r.hnpOpts {
			s.hnps = append(s.hnps, *h)
		}
	default:
		s.hnps = append(s.hnps, mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()})
	}
	opts := s.opts[:0]
	for i := range s.hnps {
		opts = append(opts, &s.hnps[i])
	}
	// MN-ID: copied, or zero length when the PBU had none.
	if r.mnid != nil {
		s.mnid = mh.MNIdentifier{Subtype: r.mnid.Subtype, Identifier: r.mnid.Identifier, Empty: r.mnid.Empty}
	} else {
		s.mnid = mh.MNIdentifier{Empty: true}
	}
	s.hi = mh.HandoffIndicator{Value: r.hiValue()}
	s.att = mh.AccessTechnologyType{Value: r.attValue()}
	opts = append(opts, &s.mnid, &s.hi, &s.att)
	if r.ts != nil {
		v := r.ts.Value
		if st == mh.StatusTimestampMismatch || st == mh.StatusTimestampLowerThanPrevAccepted {
			v = mh.TimestampValue(l.cfg.Clock.Now())
		}
		s.ts = mh.Timestamp{Value: v}
		opts = append(opts, &s.ts)
	}
	if r.llid != nil {
		s.llid = mh.MNLinkLayerID{LinkLayerID: r.llid.LinkLayerID}
		opts = append(opts, &s.llid)
	}
	if r.lla != nil {
		a := r.lla.Address
		if st.Accepted() && b != nil && (!a.IsValid() || a.IsUnspecified()) {
			a = b.linkLocal
		}
		s.lla = mh.LinkLocalAddress{Address: a}
		opts = append(opts, &s.lla)
	}
	clear(opts[len(opts):cap(opts)])
	s.opts = opts
	pba.Options = opts
	if st.Accepted() && b != nil {
		pba.Lifetime = uint16(b.lifetime / 4)
	}
	return pba
}
