package mag

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/mh"
)

// EventKind is the kind of an access-link event.
type EventKind uint8

const (
	// LinkUp: the access interface is up with carrier (an MN is on it).
	LinkUp EventKind = iota + 1
	// LinkDown: it lost carrier or was set down (the MN left).
	LinkDown
	// LinkRemoved: the interface left the MAG's namespace (moved to
	// another MAG, or deleted).
	LinkRemoved
	// Neighbor: a neighbor (the MN) was seen on the interface, with its
	// MAC and, when known, its address.
	Neighbor
	// RouterSolicitation: an RS arrived on the interface.
	RouterSolicitation
)

func (k EventKind) String() string {
	switch k {
	case LinkUp:
		return "link-up"
	case LinkDown:
		return "link-down"
	case LinkRemoved:
		return "link-removed"
	case Neighbor:
		return "neighbor"
	case RouterSolicitation:
		return "router-solicitation"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// LinkEvent is something that happened on an access link.
type LinkEvent struct {
	Kind    EventKind
	Ifname  string
	Ifindex int
	// Moved (LinkUp): the interface arrived in the namespace while the
	// MAG ran: the MN's interface was moved here from another MAG.
	Moved bool
	// MAC and Addr (Neighbor, RouterSolicitation): the MN's link-layer
	// address and its IPv6 source/neighbor address (link-local or global).
	MAC  net.HardwareAddr
	Addr netip.Addr
}

// LinkSource delivers access-link events.
type LinkSource interface {
	// Start begins delivering events to handle, which returns once the
	// MAG has processed the event. It first reports the interfaces that
	// are already up.
	Start(handle func(LinkEvent)) error
	Close() error
}

// LinkEvent processes an access-link event on the loop (what a LinkSource
// calls; tests may call it directly).
func (m *MAG) LinkEvent(ev LinkEvent) { m.do(func() { m.handleLink(ev) }) }

// link is the MAG's view of an access interface.
type link struct {
	name  string
	index int
	up    bool
	moved bool // arrived while running; cleared when the MN detaches
	mac   net.HardwareAddr
	ll    netip.Addr // MN's link-local address, when known
	mn    *entry
	// announced: when the last link-up RA went to all-nodes.
	announced time.Time
}

func (m *MAG) handleLink(ev LinkEvent) {
	it := m.ifaces[ev.Ifname]
	if it == nil {
		return // not an access interface
	}
	l := m.linkst[ev.Ifname]
	if l == nil {
		l = &link{name: ev.Ifname}
		m.linkst[ev.Ifname] = l
	}
	if ev.Ifindex != 0 {
		l.index = ev.Ifindex
	}
	log := m.log.WithField("interface", ev.Ifname).WithField("event", ev.Kind)
	switch ev.Kind {
	case LinkUp:
		if ev.Moved {
			l.moved = true
		}
		if l.up {
			return
		}
		l.up = true
		log.WithField("moved", ev.Moved).Info("access link up")
		m.announce(l)
		m.tryAttach(l)
	case LinkDown, LinkRemoved:
		wasUp := l.up
		l.up = false
		if wasUp || l.mn != nil {
			log.Info("access link down: mobile node detached")
		}
		m.detach(l, ev.Kind.String())
		l.mac, l.ll, l.moved = nil, netip.Addr{}, false
		if ev.Kind == LinkRemoved {
			delete(m.linkst, ev.Ifname)
		}
	case Neighbor, RouterSolicitation:
		if ev.Kind == RouterSolicitation {
			m.cnt.RSReceived++
		}
		if len(ev.MAC) > 0 && !bytes.Equal(ev.MAC, ndp.RouterMAC) {
			if l.mac != nil && !bytes.Equal(l.mac, ev.MAC) && l.mn != nil {
				// Another node on a point-to-point link: the old MN left.
				log.WithField("old", l.mac).WithField("new", ev.MAC).Info("new link-layer address on the access link: re-attach")
				m.detach(l, "new neighbor")
			}
			l.mac = append(l.mac[:0:0], ev.MAC...)
		}
		if ev.Addr.IsLinkLocalUnicast() && ev.Addr != ndp.RouterLinkLocal {
			l.ll = ev.Addr
		}
		// Hearing from the MN proves it is attached, carrier event or not.
		l.up = true
		if l.mn == nil {
			m.tryAttach(l)
			return
		}
		if ev.Kind == RouterSolicitation && l.mn.registered() {
			m.sendRA(l.mn, false) // RFC 5213 §6.9.2: answer with the HNPs
		}
	}
}

// lookupProfile finds the MN on l: by MAC, then by interface, then (with
// MACIdentity) an EUI-48 MN-ID.
func (m *MAG) lookupProfile(l *link) (mnid *mh.MNIdentifier, key string, lma netip.Addr, hnps []netip.Prefix, ok bool) {
	pick := func(p *Profile) {
		mnid, key, lma, hnps, ok = mh.NewNAI(p.MNID), p.MNID, p.LMA, p.HNPs, true
		if !lma.IsValid() {
			lma = m.cfg.DefaultLMA
		}
	}
	if l.mac != nil {
		for i := range m.cfg.Profiles {
			if p := &m.cfg.Profiles[i]; p.MAC != nil && bytes.Equal(p.MAC, l.mac) {
				pick(p)
				return
			}
		}
	}
	for i := range m.cfg.Profiles {
		if p := &m.cfg.Profiles[i]; p.Interface == l.name && p.MAC == nil {
			pick(p)
			return
		}
	}
	if m.cfg.MACIdentity && len(l.mac) == 6 {
		mnid = &mh.MNIdentifier{Subtype: mh.MNIDSubtype(5), Identifier: append([]byte(nil), l.mac...)} // EUI-48, RFC 8371
		return mnid, "eui48:" + l.mac.String(), m.cfg.DefaultLMA, nil, true
	}
	return nil, "", netip.Addr{}, nil, false
}

// tryAttach starts the initial registration of the MN on l if it can be
// identified (RFC 5213 §6.9.1.1 step 1).
func (m *MAG) tryAttach(l *link) {
	if l.mn != nil || !l.up {
		return
	}
	mnid, key, lma, hnps, ok := m.lookupProfile(l)
	log := m.log.WithField("interface", l.name)
	if !ok {
		log.WithField("mac", l.mac).Debug("no policy profile (yet) for the node on this link")
		return
	}
	log = log.WithField("mn", key)
	if st, bad := m.denied[key]; bad {
		log.WithField("status", st).Warn("mobile node denied service by its LMA: not registering")
		return
	}
	if old := m.bul[key]; old != nil {
		// The same MN on another of our links (or still de-registering):
		// its old state goes; this attachment replaces it.
		log.WithField("old_interface", old.link.name).Info("mobile node re-attached: dropping the previous entry")
		m.dropEntry(old)
	}
	it := m.ifaces[l.name]
	hi := it.AttachHI
	if l.moved {
		hi = it.MovedHI
	}
	e := &entry{
		key: key, mnid: mnid, link: l, lma: lma, att: it.ATT, hi: hi,
		log: log,
	}
	if r := m.resumeFor(key, l.name); r != nil {
		e.requested = append([]netip.Prefix(nil), r...) // keep the prefixes it had before the restart
	} else if len(hnps) > 0 {
		e.requested = append([]netip.Prefix(nil), hnps...)
	} else {
		e.requested = []netip.Prefix{allZero}
	}
	l.mn = e
	m.bul[key] = e
	m.cnt.Attaches++
	log.WithField("hi", uint8(hi)).WithField("lma", lma).Info("mobile node attached: registering")
	m.startRequest(e, statePending, hi, m.cfg.Lifetime)
}

// detach de-registers the MN on l (RFC 5213 §6.9.1.4).
func (m *MAG) detach(l *link, why string) {
	e := l.mn
	if e == nil {
		return
	}
	m.cnt.Detaches++
	l.mn = nil
	switch {
	case e.state == stateDeregistering:
		return
	case len(e.hnps) == 0 && e.state == statePending && e.requested[0] == allZero:
		// Nothing assigned yet, so no binding can be named. A PBA still
		// in flight may assign one: wait for it for one more timeout
		// and de-register what it names.
		e.log.WithField("why", why).Info("mobile node left before its registration completed")
		e.cancelTimers()
		e.state = stateLeaving
		gen := e.rtxGen
		e.rtx = m.after(e.timeout, func() {
			if e.rtxGen == gen && m.bul[e.key] == e {
				m.dropEntry(e)
			}
		})
		return
	}
	m.sendDereg(e, why)
}
