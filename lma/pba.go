package lma

import (
	"net/netip"

	"github.com/pmipdmm/pmipdmm/mh"
)

// reject answers r with a status >= 128.
func (l *LMA) reject(r *pbuReq, st mh.Status, why string) {
	l.rejectSeq(r, st, r.pbu.Sequence, why)
}

// rejectSeq answers r with a status >= 128 and the given Sequence # (for
// 135: the last accepted one, RFC 6275 §9.5.1).
func (l *LMA) rejectSeq(r *pbuReq, st mh.Status, seq uint16, why string) {
	r.log.WithField("status", uint8(st)).WithField("reason", why).Info("PBU rejected: " + st.String())
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

// buildPBA builds the PBA of RFC 5213 §5.3.6 (and §8.2) for r. b is the
// session for an accepted status, nil for a rejection. It goes to the
// PBU's source (the transport sends from the LMA address, the PBU's
// destination).
func (l *LMA) buildPBA(r *pbuReq, st mh.Status, b *bce) *mh.BindingAck {
	pba := &mh.BindingAck{Status: st, Sequence: r.pbu.Sequence}
	if r.pbu.Proxy() {
		pba.Flags |= mh.BAFlagP
	}
	opts := make(mh.Options, 0, 8)
	// Home Network Prefix options (first: they need no padding after the
	// 12-octet fixed part).
	switch {
	case st.Accepted() && b != nil:
		for _, p := range b.hnps {
			opts = append(opts, mh.NewHNP(p))
		}
	case len(r.hnpOpts) > 0:
		for _, h := range r.hnpOpts {
			c := *h
			opts = append(opts, &c)
		}
	default:
		opts = append(opts, &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()})
	}
	// MN-ID: copied, or zero length when the PBU had none.
	if r.mnid != nil {
		opts = append(opts, &mh.MNIdentifier{Subtype: r.mnid.Subtype, Identifier: append([]byte(nil), r.mnid.Identifier...), Empty: r.mnid.Empty})
	} else {
		opts = append(opts, &mh.MNIdentifier{Empty: true})
	}
	opts = append(opts, &mh.HandoffIndicator{Value: r.hiValue()}, &mh.AccessTechnologyType{Value: r.attValue()})
	if r.ts != nil {
		v := r.ts.Value
		if st == mh.StatusTimestampMismatch || st == mh.StatusTimestampLowerThanPrevAccepted {
			v = mh.TimestampValue(l.cfg.Clock.Now())
		}
		opts = append(opts, &mh.Timestamp{Value: v})
	}
	if r.llid != nil {
		opts = append(opts, &mh.MNLinkLayerID{LinkLayerID: append([]byte(nil), r.llid.LinkLayerID...)})
	}
	if r.lla != nil {
		a := r.lla.Address
		if st.Accepted() && b != nil && (!a.IsValid() || a.IsUnspecified()) {
			a = b.linkLocal
		}
		opts = append(opts, &mh.LinkLocalAddress{Address: a})
	}
	pba.Options = opts
	if st.Accepted() && b != nil {
		pba.Lifetime = uint16(b.lifetime / (4e9))
	}
	return pba
}
