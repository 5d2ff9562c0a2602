package mag

import (
	"net/netip"
	"sync"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/ndp"
)

// FakeLinks is a LinkSource driven by the test: Emit delivers an event
// and returns once the MAG has processed it.
type FakeLinks struct {
	mu      sync.Mutex
	handle  func(LinkEvent)
	Initial []LinkEvent // delivered by Start
}

// Start records handle and delivers Initial.
func (f *FakeLinks) Start(handle func(LinkEvent)) error {
	f.mu.Lock()
	f.handle = handle
	f.mu.Unlock()
	for _, ev := range f.Initial {
		handle(ev)
	}
	return nil
}

// Emit delivers ev.
func (f *FakeLinks) Emit(ev LinkEvent) {
	f.mu.Lock()
	h := f.handle
	f.mu.Unlock()
	if h != nil {
		h(ev)
	}
}

func (f *FakeLinks) Close() error { return nil }

// NetlinkLinks is the LinkSource of a network namespace: link and
// neighbor notifications (vishvananda/netlink LinkSubscribe and
// NeighSubscribe) on the access interfaces, the Router Solicitations
// read from an ndp.Interface, and the first frame the mobile node sends
// on a link that came up. An access interface that appears configures
// itself as an RFC 6543 access link (ndp.ConfigureAccess); one that
// appears after Start is reported as moved in.
//
// The first frame: when an access interface appears or gets its carrier,
// an AF_PACKET socket bound to it reads frames until one comes from
// another node than the MAG, and its source MAC (and IPv6 source
// address) is reported as a Neighbor event; then the socket closes. A
// moved-in MN sends no RS, and its first Neighbor Solicitation for the
// router is often lost while the link moves (it retries 1 s later), so
// the neighbor path alone identifies it ~1 s late; the MN's MLD reports or
// the packets the MAG's announcement releases (see ndp.Announce) come
// within milliseconds.
type NetlinkLinks struct {
	ns     netns.NsHandle
	ifaces map[string]bool
	nd     ndp.Interface
	log    *logrus.Entry
	h      *netlink.Handle
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	// NoSniff turns the first-frame packet socket off (set before Start):
	// MNs are then identified by neighbor events and RSs only.
	NoSniff bool
}

// NewNetlinkLinks watches the access interfaces ifnames in namespace ns
// (netns.None(): the calling thread's). nd, if not nil, is read for
// Router Solicitations (and is not closed by Close).
func NewNetlinkLinks(ns netns.NsHandle, ifnames []string, nd ndp.Interface, log *logrus.Entry) (*NetlinkLinks, error) {
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	var h *netlink.Handle
	var err error
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		if ns, err = netns.Get(); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	s := &NetlinkLinks{ns: ns, ifaces: map[string]bool{}, nd: nd, h: h, done: make(chan struct{}),
		log: log.WithField("component", "mag-links")}
	for _, n := range ifnames {
		s.ifaces[n] = true
	}
	return s, nil
}

type nlLink struct {
	index int
	up    bool
	moved bool
	sn    *sniffer // reading for the first frame from the MN; nil: none
}

// Start subscribes and delivers events to handle from one goroutine.
func (s *NetlinkLinks) Start(handle func(LinkEvent)) error {
	existing := map[string]bool{}
	links, err := s.h.LinkList()
	if err != nil {
		return err
	}
	for _, l := range links {
		existing[l.Attrs().Name] = true
	}
	lch := make(chan netlink.LinkUpdate, 64)
	nch := make(chan netlink.NeighUpdate, 64)
	errCB := func(err error) {
		select {
		case <-s.done: // closing
		default:
			s.log.WithError(err).Warn("netlink subscription")
		}
	}
	if err := netlink.LinkSubscribeWithOptions(lch, s.done, netlink.LinkSubscribeOptions{
		Namespace: &s.ns, ListExisting: true, ErrorCallback: errCB}); err != nil {
		return err
	}
	if err := netlink.NeighSubscribeWithOptions(nch, s.done, netlink.NeighSubscribeOptions{
		Namespace: &s.ns, ListExisting: true, ErrorCallback: errCB}); err != nil {
		return err
	}
	sch := make(chan firstFrame, 16)
	rch := make(chan ndp.Solicitation, 16)
	if s.nd != nil {
		// Ends when nd is closed by its owner (not waited for by Close).
		go func() {
			for {
				sol, err := s.nd.ReadRS()
				if err != nil {
					return
				}
				select {
				case rch <- sol:
				case <-s.done:
					return
				}
			}
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		byName := map[string]*nlLink{}
		byIndex := map[int]string{}
		defer func() {
			for _, st := range byName {
				if st.sn != nil {
					st.sn.close()
				}
			}
		}()
		for {
			select {
			case <-s.done:
				return
			case u, ok := <-lch:
				if !ok {
					return
				}
				s.linkUpdate(u, byName, byIndex, existing, handle, sch)
			case ff := <-sch:
				name := byIndex[ff.ifindex]
				if name == "" {
					continue
				}
				st := byName[name]
				if st.sn == ff.sn {
					st.sn = nil
				}
				s.log.WithFields(logrus.Fields{"interface": name, "mac": ff.mac, "src": ff.addr}).
					Debug("first frame from the node on the access link")
				upFirst(st, name, ff.ifindex, handle)
				handle(LinkEvent{Kind: Neighbor, Ifname: name, Ifindex: ff.ifindex, MAC: ff.mac, Addr: ff.addr})
			case u, ok := <-nch:
				if !ok {
					return
				}
				name := byIndex[u.LinkIndex]
				if name == "" || u.Type != unix.RTM_NEWNEIGH || len(u.HardwareAddr) == 0 || u.IP.To4() != nil {
					continue
				}
				if u.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY|netlink.NUD_PROBE) == 0 {
					continue
				}
				a, _ := netip.AddrFromSlice(u.IP)
				upFirst(byName[name], name, u.LinkIndex, handle)
				handle(LinkEvent{Kind: Neighbor, Ifname: name, Ifindex: u.LinkIndex, MAC: u.HardwareAddr, Addr: a})
			case sol := <-rch:
				name := byIndex[sol.IfIndex]
				if name == "" {
					continue
				}
				upFirst(byName[name], name, sol.IfIndex, handle)
				handle(LinkEvent{Kind: RouterSolicitation, Ifname: name, Ifindex: sol.IfIndex, MAC: sol.MAC, Addr: sol.Src})
			}
		}
	}()
	return nil
}

func (s *NetlinkLinks) linkUpdate(u netlink.LinkUpdate, byName map[string]*nlLink, byIndex map[int]string,
	existing map[string]bool, handle func(LinkEvent), sch chan<- firstFrame) {
	name := u.Attrs().Name
	if !s.ifaces[name] {
		return
	}
	idx := int(u.Index)
	st := byName[name]
	if u.Header.Type == unix.RTM_DELLINK {
		if st != nil {
			if st.sn != nil {
				st.sn.close()
				st.sn = nil
			}
			delete(byName, name)
			delete(byIndex, st.index)
			handle(LinkEvent{Kind: LinkRemoved, Ifname: name, Ifindex: st.index})
		}
		return
	}
	if st == nil || st.index != idx {
		if st != nil && st.sn != nil {
			st.sn.close()
		}
		st = &nlLink{index: idx, moved: !existing[name]}
		existing[name] = false // from now on, a re-appearance is a move
		byName[name] = st
		byIndex[idx] = name
		// Listen before the link is set up, so that the MN's first frame
		// after the carrier comes is not missed.
		s.sniff(st, name, sch)
		if err := ndp.ConfigureAccess(s.h, name); err != nil {
			s.log.WithError(err).WithField("interface", name).Error("configuring the access link")
		}
		if c, ok := s.nd.(*ndp.Conn); ok {
			if err := c.JoinAllRouters(idx); err != nil {
				s.log.WithError(err).WithField("interface", name).Warn("joining ff02::2")
			}
		}
	}
	carrier := u.Flags&unix.IFF_UP != 0 && u.Flags&unix.IFF_LOWER_UP != 0
	switch {
	case carrier && !st.up:
		s.sniff(st, name, sch)
		st.up = true
		moved := st.moved
		st.moved = false
		handle(LinkEvent{Kind: LinkUp, Ifname: name, Ifindex: idx, Moved: moved})
	case !carrier && st.up:
		st.up = false
		handle(LinkEvent{Kind: LinkDown, Ifname: name, Ifindex: idx})
	}
}

// sniff starts reading for the first frame from the MN on st, unless a
// sniffer runs already.
func (s *NetlinkLinks) sniff(st *nlLink, name string, sch chan<- firstFrame) {
	if s.NoSniff || st.sn != nil {
		return
	}
	sn, err := openSniffer(s.ns, st.index)
	if err != nil {
		s.log.WithError(err).WithField("interface", name).Warn("no first-frame detection on the access link")
		return
	}
	st.sn = sn
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sn.run(sch, s.done)
	}()
}

// upFirst delivers the LinkUp (with its Moved flag) of a link the MN is
// heard on before its carrier event was read: link and neighbor updates
// come on two netlink sockets in no fixed order, and the MAG must not take
// a moved-in MN for a new attachment (HI 1 instead of 3).
func upFirst(st *nlLink, name string, idx int, handle func(LinkEvent)) {
	if st == nil || st.up {
		return
	}
	st.up = true
	moved := st.moved
	st.moved = false
	handle(LinkEvent{Kind: LinkUp, Ifname: name, Ifindex: idx, Moved: moved})
}

// Close stops the subscriptions.
func (s *NetlinkLinks) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.h.Close()
	})
	s.wg.Wait()
	return nil
}
