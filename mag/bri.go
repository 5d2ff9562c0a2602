package mag

import (
	"net/netip"

	"github.com/pmipdmm/pmipdmm/mh"
)

// handleBRI answers a Binding Revocation Indication from an LMA (RFC 5846
// §9.1).
func (m *MAG) handleBRI(src netip.Addr, bri *mh.BindingRevocationIndication) {
	m.cnt.BRIReceived++
	log := m.log.WithField("peer", src).WithField("trigger", bri.Trigger).WithField("seq", bri.Sequence)
	bra := &mh.BindingRevocationAck{Sequence: bri.Sequence, Flags: bri.Flags}
	reply := func(st mh.BRStatus) {
		bra.Status = st
		if m.send(src, bra) {
			m.cnt.BRASent++
		}
		log.WithField("status", st).Info("BRA sent")
	}
	if !bri.Proxy() {
		reply(mh.BRStatusProxyRevocationNotSupported)
		return
	}
	if bri.Flags&mh.BRFlagG != 0 {
		// Global: every binding with this LMA.
		n := 0
		for _, e := range m.sortedEntries() {
			if e.lma == src {
				m.revoke(e)
				n++
			}
		}
		log.WithField("bindings", n).Info("global revocation")
		reply(mh.BRStatusSuccess)
		return
	}
	id, ok := mh.Find[*mh.MNIdentifier](bri.Options)
	if !ok {
		reply(mh.BRStatusMNIdentityRequired)
		return
	}
	e := m.findByMNID(id)
	if e != nil && e.lma != src {
		e = nil
	}
	if e != nil {
		// An HNP in the BRI names the binding; it must be ours.
		for _, o := range bri.Options {
			if h, ok := o.(*mh.HomeNetworkPrefix); ok && !containsPrefix(e.hnps, h.AsPrefix().Masked()) {
				e = nil
				break
			}
		}
	}
	if e == nil || !(e.registered() || e.state == statePending || e.state == stateDeregistering) {
		bra.Options = mh.Options{id}
		reply(mh.BRStatusBindingDoesNotExist)
		return
	}
	log = log.WithField("mn", e.key)
	switch bri.Trigger {
	case mh.TriggerInterMAGSameAccessType, mh.TriggerInterMAGDifferentAccess, mh.TriggerInterMAGUnknown:
		// Handover triggers: the MN must really have left (§9.1).
		if e.link.up && e.link.mn == e {
			bra.Options = mh.Options{id}
			reply(mh.BRStatusMNIsAttached)
			return
		}
	}
	m.revoke(e)
	reply(mh.BRStatusSuccess)
}

// revoke removes an MN's binding at the LMA's request: routes, BUL
// entry, and the prefixes advertised to an MN still on the link.
func (m *MAG) revoke(e *entry) {
	e.log.Info("binding revoked by the LMA")
	if e.registered() && e.link.up && e.link.mn == e {
		m.sendRA(e, true)
	}
	m.dropEntry(e)
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}
