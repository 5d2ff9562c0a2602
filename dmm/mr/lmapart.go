package mr

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

// pbuCtx is a PBU being answered (deployment A).
type pbuCtx struct {
	src  netip.Addr
	pbu  *mh.BindingUpdate
	mnid *mh.MNIdentifier
	hnps []*mh.HomeNetworkPrefix
	hi   mh.HandoffIndicatorValue
	att  mh.ATT
	llid *mh.MNLinkLayerID
	lla  *mh.LinkLocalAddress
	ts   *mh.Timestamp
}

func newPBUCtx(src netip.Addr, pbu *mh.BindingUpdate) *pbuCtx {
	c := &pbuCtx{src: src, pbu: pbu}
	for _, o := range pbu.Options {
		switch x := o.(type) {
		case *mh.MNIdentifier:
			if c.mnid == nil {
				c.mnid = x
			}
		case *mh.HomeNetworkPrefix:
			c.hnps = append(c.hnps, x)
		case *mh.HandoffIndicator:
			c.hi = x.Value
		case *mh.AccessTechnologyType:
			c.att = x.Value
		case *mh.MNLinkLayerID:
			c.llid = x
		case *mh.LinkLocalAddress:
			c.lla = x
		case *mh.Timestamp:
			c.ts = x
		}
	}
	return c
}

// handlePBU is the LMA part of the MR for an unmodified RFC 5213 MAG in
// front of it (draft §5, deployment A). The prefixes come from the HAA
// (anchored here, or held elsewhere after a move), the location goes to
// the LM, and the routes through the MR's logic; the MAG sees an RFC 5213
// LMA: PBA per §5.3.6, sequence or timestamp ordering (§5.5),
// re-registration, de-registration.
func (m *MR) handlePBU(src netip.Addr, pbu *mh.BindingUpdate) {
	c := newPBUCtx(src, pbu)
	if err := mh.ValidatePBUIdentity(pbu); err != nil {
		var se *mh.StatusError
		errors.As(err, &se)
		if se != nil && se.Status == mh.StatusHomeRegistrationNotSupported {
			m.send(src, &mh.BindingAck{Status: se.Status, Sequence: pbu.Sequence})
			return
		}
		st := mh.StatusReasonUnspecified
		if se != nil {
			st = se.Status
		}
		m.sendPBA(c, st, nil)
		return
	}
	if m.cfg.Deployment != DeployLMA {
		m.sendPBA(c, mh.StatusNotLMAForThisMN, nil)
		return
	}
	if m.cfg.MAGs != nil && !slices.Contains(m.cfg.MAGs, src) {
		m.sendPBA(c, mh.StatusMAGNotAuthorizedForProxyReg, nil)
		return
	}
	if err := mh.ValidatePBUOptions(pbu); err != nil {
		var se *mh.StatusError
		st := mh.StatusReasonUnspecified
		if errors.As(err, &se) {
			st = se.Status
		}
		m.sendPBA(c, st, nil)
		return
	}
	key := lma.MNKey(c.mnid)
	b := m.mns[key]
	// Ordering (RFC 5213 §5.5) against the session with this MAG.
	if b != nil && b.mag == src && b.state == bAttached {
		if c.ts != nil {
			if b.lastTS != 0 && c.ts.Value <= b.lastTS {
				st := mh.StatusTimestampLowerThanPrevAccepted
				if c.ts.Value == b.lastTS {
					st = mh.StatusTimestampMismatch
				}
				m.sendPBA(c, st, nil)
				return
			}
		} else if b.hasSeq && uint16(b.lastSeq-pbu.Sequence) <= 32768 {
			pba := m.buildPBA(c, mh.StatusSequenceOutOfWindow, nil)
			pba.Sequence = b.lastSeq
			m.deferOut(func() { m.send(src, pba) })
			return
		}
	}
	if pbu.Lifetime == 0 {
		if b == nil || b.mag != src {
			m.counters.drop("de-registration without a binding from this MAG")
			return
		}
		m.accept(b, c)
		m.sendPBA(c, mh.StatusAccepted, b)
		m.detach(b, "de-registered by the MAG")
		return
	}
	switch {
	case b == nil:
		b = &binding{key: key, mnid: mh.MNIdentifier{Subtype: c.mnid.Subtype, Identifier: slices.Clone(c.mnid.Identifier)},
			mag: src, att: c.att, hi: c.hi, log: m.log.WithField("mn", key).WithField("mag", src)}
		if c.lla != nil && c.lla.Address.IsLinkLocalUnicast() && c.lla.Address != m.cfg.MAGLinkLocal {
			b.ll = c.lla.Address
		}
		// Requested NON_ZERO prefixes must be the node's own: the HAA's
		// answer decides (checked in onHoldings via has()).
		m.accept(b, c)
		b.pending = c
		m.startAttach(b)
	case b.state == bAttaching:
		m.accept(b, c)
		b.pending = c // answered when the attachment completes
	default:
		for _, h := range c.hnps {
			if !h.AllZero() && !b.has(h.AsPrefix().Masked()) {
				m.sendPBA(c, mh.StatusNotAuthorizedForHNP, nil)
				return
			}
		}
		m.accept(b, c)
		m.markDirty(b)
		if b.mag != src {
			// Handoff between two MAGs of this MR (RFC 5213 §5.3.4).
			b.mag = src
			for _, x := range b.prefixes {
				m.setDown(x.p, m.accessEntry(b, x.p))
			}
		}
		b.lifetime = min(m.cfg.Lifetime, time.Duration(pbu.Lifetime)*4*time.Second)
		b.expires = m.d.Clock.Now().Add(b.lifetime)
		m.armBinding(b)
		m.sendPBA(c, mh.StatusAccepted, b)
	}
}

func (m *MR) accept(b *binding, c *pbuCtx) {
	if c.ts != nil {
		b.lastTS = c.ts.Value
	} else {
		b.lastSeq, b.hasSeq = c.pbu.Sequence, true
	}
	b.att, b.hi = c.att, c.hi
}

// sendPBA sends the PBA once the state it acknowledges is durable (with a
// Store; in order with the other answers).
func (m *MR) sendPBA(c *pbuCtx, st mh.Status, b *binding) {
	pba := m.buildPBA(c, st, b)
	m.deferOut(func() { m.send(c.src, pba) })
}

// buildPBA builds the PBA of RFC 5213 §5.3.6.
func (m *MR) buildPBA(c *pbuCtx, st mh.Status, b *binding) *mh.BindingAck {
	pba := &mh.BindingAck{Status: st, Sequence: c.pbu.Sequence}
	if c.pbu.Proxy() {
		pba.Flags |= mh.BAFlagP
	}
	var opts mh.Options
	switch {
	case st.Accepted() && b != nil:
		for _, x := range b.prefixes {
			opts = append(opts, mh.NewHNP(x.p))
		}
		if c.pbu.Lifetime > 0 {
			pba.Lifetime = uint16(b.lifetime / (4 * time.Second))
		}
	case len(c.hnps) > 0:
		for _, h := range c.hnps {
			x := *h
			opts = append(opts, &x)
		}
	default:
		opts = append(opts, &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()})
	}
	if c.mnid != nil {
		opts = append(opts, &mh.MNIdentifier{Subtype: c.mnid.Subtype, Identifier: slices.Clone(c.mnid.Identifier), Empty: c.mnid.Empty})
	} else {
		opts = append(opts, &mh.MNIdentifier{Empty: true})
	}
	opts = append(opts, &mh.HandoffIndicator{Value: c.hi}, &mh.AccessTechnologyType{Value: c.att})
	if c.ts != nil {
		v := c.ts.Value
		if st == mh.StatusTimestampMismatch || st == mh.StatusTimestampLowerThanPrevAccepted {
			v = mh.TimestampValue(m.d.Clock.Now())
		}
		opts = append(opts, &mh.Timestamp{Value: v})
	}
	if c.llid != nil {
		opts = append(opts, &mh.MNLinkLayerID{LinkLayerID: slices.Clone(c.llid.LinkLayerID)})
	}
	if c.lla != nil {
		a := c.lla.Address
		if st.Accepted() && (!a.IsValid() || a.IsUnspecified()) {
			a = m.cfg.MAGLinkLocal
		}
		opts = append(opts, &mh.LinkLocalAddress{Address: a})
	}
	pba.Options = opts
	return pba
}
