package mr

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/mag"
	"github.com/pmipdmm/pmipdmm/mh"
)

// AccessProfile recognises a mobile node on an access link of an MR at
// the access (deployment B), as the MAG role's policy profiles do (RFC
// 5213 §6.2): by its link-layer address, else by the interface it is on.
type AccessProfile struct {
	// MNID is the node's MN-ID (an NAI): the key of its binding, HAA
	// holdings and LM records.
	MNID string
	// MAC matches the node by its link-layer address (nil: not by MAC).
	MAC net.HardwareAddr
	// Interface matches the node by access interface ("": not by
	// interface); a profile with a MAC never matches by interface.
	Interface string
}

// LinkAccessConfig configures a LinkAccess.
type LinkAccessConfig struct {
	Profiles []AccessProfile
	// MACIdentity gives a node without a profile the MN-ID
	// "eui48:<mac>" (the MAG role's key of an RFC 8371 EUI-48 MN-ID).
	MACIdentity bool
	// ATT is reported for the nodes (default IEEE 802.3).
	ATT mh.ATT
	// CurHopLimit of the RAs (default 64).
	CurHopLimit uint8
	// RouterLifetime and MTU of the RAs when the Advert does not say
	// (defaults 1800 s and none).
	RouterLifetime time.Duration
	MTU            uint32
	// NeighborRetrans is the Neighbor Solicitation retransmission time of
	// the access links (net.ipv6.neigh.<link>.retrans_time_ms, with
	// mcast_solicit raised to cover a second): a node that just moved
	// here may miss the first NS for its address (its addresses are
	// briefly tentative when its link comes back), and at the RFC 4861
	// default of 1 s the traffic forwarded to it meanwhile is lost.
	// 0: DefaultNeighborRetrans; negative: the kernel's setting is kept.
	NeighborRetrans time.Duration
}

// DefaultNeighborRetrans is the access links' NS retransmission time.
const DefaultNeighborRetrans = 100 * time.Millisecond

// tuneLink prepares an access link (best effort: /proc/sys of the calling
// process's namespace, which is the links' in pmipd):
//   - net.ipv6.conf.<link>.ignore_routes_with_linkdown = 1: when the
//     carrier goes (the node left through an access point, the MR's link
//     stays), the kernel stops using the node's access route at once and
//     its packets fall through to the punt's watched space, where they
//     are held (a Miss while attached, then the departure's hold) instead
//     of being sent into a link without carrier until the MR has
//     processed the event (1-5 ms, packets lost);
//   - the NS retransmission (NeighborRetrans).
func (a *LinkAccess) tuneLink(ifname string) {
	if strings.ContainsAny(ifname, "/.") || ifname == "" {
		return
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+ifname+"/ignore_routes_with_linkdown", []byte("1"), 0o644); err != nil {
		a.log.WithError(err).WithField("interface", ifname).Debug("access link routes kept in use without carrier")
	}
	if a.cfg.NeighborRetrans < 0 {
		return
	}
	dir := "/proc/sys/net/ipv6/neigh/" + ifname + "/"
	ms := a.cfg.NeighborRetrans.Milliseconds()
	solicit := max(3, int(time.Second/a.cfg.NeighborRetrans))
	for f, v := range map[string]string{"retrans_time_ms": fmt.Sprint(ms), "mcast_solicit": fmt.Sprint(solicit)} {
		if err := os.WriteFile(dir+f, []byte(v), 0o644); err != nil {
			a.log.WithError(err).WithField("interface", ifname).Debug("access link neighbor setting not changed")
			return
		}
	}
}

// LinkAccess is the MAG part of an MR at the access (draft §5,
// deployment B) over real access links: link and neighbor events from a
// mag.LinkSource (mag.NetlinkLinks in the MR's namespace, which also makes
// each access interface an RFC 6543 access link with ndp.ConfigureAccess:
// the fixed link-local and link-layer addresses every MR shares, so a node
// that moves sees the same router), nodes recognised by AccessProfile,
// and Router Advertisements sent with internal/ndp (old prefixes with
// preferred lifetime 0 as the MR says, draft §4.2).
//
// Events: an access link up with a recognised node (by interface at
// once, by MAC when its Neighbor or Router Solicitation shows it) is
// Attached (Moved when the link arrived while running: moved here from
// another MR); down or removed (moved to another MR's namespace) is
// Detached; another MAC on the link is a Detached of the old node; an RS
// is Solicited; a new link-local address of an attached node is reported
// as Attached again (the MR re-advertises to it).
type LinkAccess struct {
	src mag.LinkSource
	nd  ndp.Interface
	cfg LinkAccessConfig
	log *logrus.Entry

	mu     sync.Mutex
	handle func(AccessEvent)
	links  map[string]*accLink
	closed bool
}

type accLink struct {
	name  string
	index int
	up    bool
	moved bool
	mac   net.HardwareAddr
	ll    netip.Addr
	mn    string // the node recognised on the link, "" none
}

var _ Access = (*LinkAccess)(nil)

// NewLinkAccess returns the access side over src and nd. nd is not closed
// by Close (its owner closes it, after Close).
func NewLinkAccess(src mag.LinkSource, nd ndp.Interface, cfg LinkAccessConfig, log *logrus.Entry) (*LinkAccess, error) {
	if src == nil || nd == nil {
		return nil, errors.New("mr: LinkAccess needs a link source and an NDP interface")
	}
	for i, p := range cfg.Profiles {
		if p.MNID == "" {
			return nil, fmt.Errorf("mr: access profile %d: MNID is required", i)
		}
		if p.MAC == nil && p.Interface == "" {
			return nil, fmt.Errorf("mr: access profile %d (%s): a MAC or an interface is required", i, p.MNID)
		}
	}
	if cfg.ATT == 0 {
		cfg.ATT = mh.ATT8023
	}
	if cfg.CurHopLimit == 0 {
		cfg.CurHopLimit = 64
	}
	if cfg.RouterLifetime == 0 {
		cfg.RouterLifetime = 1800 * time.Second
	}
	if cfg.NeighborRetrans == 0 {
		cfg.NeighborRetrans = DefaultNeighborRetrans
	}
	if log == nil {
		l := logrus.New()
		l.Out = discard{}
		log = logrus.NewEntry(l)
	}
	return &LinkAccess{src: src, nd: nd, cfg: cfg, log: log.WithField("component", "mr-access"), links: map[string]*accLink{}}, nil
}

// Start delivers the access events to handle (from the link source's
// goroutine) until Close.
func (a *LinkAccess) Start(handle func(AccessEvent)) error {
	a.mu.Lock()
	a.handle = handle
	a.mu.Unlock()
	return a.src.Start(a.onLink)
}

// Close stops the link source; no event is delivered afterwards.
func (a *LinkAccess) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	return a.src.Close()
}

// onLink turns a link event into access events, emitted outside the lock.
func (a *LinkAccess) onLink(ev mag.LinkEvent) {
	a.mu.Lock()
	if a.closed || a.handle == nil {
		a.mu.Unlock()
		return
	}
	out := a.linkEvent(ev)
	h := a.handle
	a.mu.Unlock()
	for _, e := range out {
		h(e)
	}
}

func (a *LinkAccess) linkEvent(ev mag.LinkEvent) []AccessEvent {
	l := a.links[ev.Ifname]
	if l == nil {
		l = &accLink{name: ev.Ifname}
		a.links[ev.Ifname] = l
	}
	if ev.Ifindex != 0 {
		l.index = ev.Ifindex
	}
	log := a.log.WithField("interface", ev.Ifname).WithField("event", ev.Kind)
	var out []AccessEvent
	switch ev.Kind {
	case mag.LinkUp:
		l.moved = l.moved || ev.Moved
		l.up = true
		a.tuneLink(ev.Ifname)
		out = a.tryAttach(l, out)
	case mag.LinkDown, mag.LinkRemoved:
		l.up = false
		if l.mn != "" {
			log.WithField("mn", l.mn).Info("access link down: mobile node detached")
			out = append(out, a.detached(l))
		}
		l.mac, l.ll, l.moved = nil, netip.Addr{}, false
		if ev.Kind == mag.LinkRemoved {
			delete(a.links, ev.Ifname)
		}
	case mag.Neighbor, mag.RouterSolicitation:
		if len(ev.MAC) > 0 && !bytes.Equal(ev.MAC, ndp.RouterMAC) {
			if l.mac != nil && !bytes.Equal(l.mac, ev.MAC) && l.mn != "" {
				// Another node on the point-to-point link: the old one left.
				log.WithField("old", l.mac).WithField("new", ev.MAC).Info("new link-layer address on the access link")
				out = append(out, a.detached(l))
				l.ll = netip.Addr{}
			}
			l.mac = append(l.mac[:0:0], ev.MAC...)
		}
		newLL := false
		if ev.Addr.IsLinkLocalUnicast() && ev.Addr != ndp.RouterLinkLocal && ev.Addr != l.ll {
			l.ll, newLL = ev.Addr, true
		}
		// Hearing from the node proves it is there, carrier event or not.
		l.up = true
		switch {
		case l.mn == "":
			out = a.tryAttach(l, out)
		case newLL:
			out = append(out, a.event(l, Attached))
		}
		if ev.Kind == mag.RouterSolicitation && l.mn != "" {
			out = append(out, a.event(l, Solicited))
		}
	}
	return out
}

func (a *LinkAccess) event(l *accLink, k AccessKind) AccessEvent {
	return AccessEvent{Kind: k, MNID: l.mn, Link: l.name, IfIndex: l.index, MAC: append(net.HardwareAddr(nil), l.mac...),
		LinkLocal: l.ll, ATT: a.cfg.ATT, Moved: l.moved}
}

func (a *LinkAccess) detached(l *accLink) AccessEvent {
	ev := AccessEvent{Kind: Detached, MNID: l.mn, Link: l.name, IfIndex: l.index}
	l.mn = ""
	l.moved = false
	return ev
}

// tryAttach reports the node on l as attached if a profile recognises it.
func (a *LinkAccess) tryAttach(l *accLink, out []AccessEvent) []AccessEvent {
	if l.mn != "" || !l.up {
		return out
	}
	mn := a.lookup(l)
	if mn == "" {
		a.log.WithField("interface", l.name).WithField("mac", l.mac).Debug("no profile (yet) for the node on this link")
		return out
	}
	l.mn = mn
	a.log.WithFields(logrus.Fields{"interface": l.name, "mn": mn, "moved": l.moved}).Info("mobile node attached")
	return append(out, a.event(l, Attached))
}

func (a *LinkAccess) lookup(l *accLink) string {
	if l.mac != nil {
		for _, p := range a.cfg.Profiles {
			if p.MAC != nil && bytes.Equal(p.MAC, l.mac) {
				return p.MNID
			}
		}
	}
	for _, p := range a.cfg.Profiles {
		if p.MAC == nil && p.Interface == l.name {
			return p.MNID
		}
	}
	if a.cfg.MACIdentity && len(l.mac) == 6 {
		return "eui48:" + l.mac.String()
	}
	return ""
}

// Advertise sends the RA: from the RFC 6543 link-local address, with its
// link-layer address, to the node's link-local address (or all-nodes),
// every prefix on-link and autonomous (SLAAC) with the Advert's lifetimes;
// a withdrawal has router lifetime 0 as well.
func (a *LinkAccess) Advertise(ad Advert) error {
	idx := ad.IfIndex
	a.mu.Lock()
	if l := a.links[ad.Link]; l != nil && l.index != 0 {
		idx = l.index // the link may have come back with another index
	}
	a.mu.Unlock()
	if idx == 0 {
		return fmt.Errorf("mr: RA on %q: interface index unknown", ad.Link)
	}
	ra := a.buildRA(ad)
	dst := ad.Dst
	if !dst.IsValid() || dst.IsUnspecified() {
		dst = ndp.AllNodes
	}
	return a.nd.SendRA(idx, dst, ra)
}

func (a *LinkAccess) buildRA(ad Advert) *ndp.RA {
	ra := &ndp.RA{CurHopLimit: a.cfg.CurHopLimit, RouterLifetime: a.cfg.RouterLifetime, SourceLinkLayer: ndp.RouterMAC, MTU: a.cfg.MTU}
	if ad.RouterLifetime > 0 {
		ra.RouterLifetime = min(ad.RouterLifetime, 9000*time.Second)
	}
	if ad.MTU != 0 {
		ra.MTU = ad.MTU
	}
	if ad.Withdrawn {
		ra.RouterLifetime = 0
	}
	for _, p := range ad.Prefixes {
		pref, valid := min(p.Preferred, p.Valid), p.Valid
		if ad.Withdrawn {
			pref, valid = 0, 0
		}
		ra.Prefixes = append(ra.Prefixes, ndp.Prefix{Prefix: p.Prefix.Masked(), OnLink: true, Autonomous: true,
			ValidLifetime: valid, PreferredLifetime: pref})
	}
	return ra
}
