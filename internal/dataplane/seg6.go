package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Seg6 is the Driver that builds RFC 2473 IPv6-in-IPv6 tunnels from seg6
// lightweight tunnels, for kernels without ip6_tunnel:
//
//   - encapsulation: a route with "encap seg6 mode encap.red" and one
//     segment, the remote tunnel endpoint. With a single segment the kernel
//     adds no routing header, so the packet on the wire is plain
//     IPv6-in-IPv6 (next header 41), as an ip6tnl peer sends it;
//   - decapsulation: "encap seg6local action End.DX6 nh6 ::" on a route for
//     the local endpoint in DecapTable, chosen by a rule that matches only
//     protocol 41 to that address. The kernel's "lookup local" rule is moved
//     from priority 0 to LocalPref so that the rule comes first; signalling
//     (protocol 135) to the same address still reaches the daemon;
//   - uplink (MAG): "from <prefix> iif <access>" rules into a table per
//     tunnel endpoint whose default route encapsulates towards it.
//
// All routes carry Proto; rules are in [RulePrefMin, RulePrefMax]; tables
// are in [TableMin, TableMax].
type Seg6 struct {
	h   *netlink.Handle
	mu  sync.Mutex
	cfg *Config
	// links caches interface lookups by name (dropped when a use fails).
	links map[string]netlink.Link
	// mainRoutes remembers the kind of each main-table route this driver
	// added, so that Del removes it with one request instead of dumping
	// the routing table; a route it does not know (left by an earlier run)
	// is found by the dump.
	mainRoutes map[netip.Prefix]Kind
	// enomemRetries counts the retries of routes refused with ENOMEM.
	enomemRetries atomic.Uint64
}

// NewSeg6 returns a seg6 driver working through h (nil: the current network
// namespace).
func NewSeg6(h *netlink.Handle) (*Seg6, error) {
	if h == nil {
		var err error
		if h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return nil, err
		}
	}
	return &Seg6{h: h}, nil
}

func (d *Seg6) Name() string { return "seg6" }

const (
	seg6ModeEncapRed = 3 // SEG6_IPTUN_MODE_ENCAP_RED (no named constant in netlink v1.3.1)
	rulePrefDecap    = RulePrefMin
	rulePrefUplink   = RulePrefMin + 10
)

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

func prefixNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func netPrefix(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

func (d *Seg6) link(name string) (netlink.Link, error) {
	if l, ok := d.links[name]; ok {
		return l, nil
	}
	l, err := d.h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("dataplane: interface %q: %w", name, err)
	}
	if d.links == nil {
		d.links = map[string]netlink.Link{}
	}
	d.links[name] = l
	return l, nil
}

// routeReplace installs a main-table route and remembers its kind; on
// failure the interface cache is dropped (the interface may have moved).
// enomemBackoff are the waits before each retry of a route the kernel
// refused with ENOMEM. A seg6 route's encapsulation state takes per-CPU
// memory allocated atomically (its dst cache), which fails for a moment
// when many routes are added in a burst (seen past ~20k routes in one
// namespace, a few in 30k) until the kernel refills its per-CPU pool; a
// retry a millisecond later succeeds.
var enomemBackoff = []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond,
	8 * time.Millisecond, 16 * time.Millisecond, 32 * time.Millisecond}

// retryENOMEM calls f until it does not fail with ENOMEM (at most
// len(enomemBackoff) retries, sleeping between them) and returns its last
// error and how many retries it took.
func retryENOMEM(f func() error, sleep func(time.Duration)) (error, int) {
	err := f()
	n := 0
	for _, w := range enomemBackoff {
		if !errors.Is(err, unix.ENOMEM) {
			break
		}
		sleep(w)
		n++
		err = f()
	}
	return err, n
}

// ENOMEMRetries is how many route additions were retried after ENOMEM.
func (d *Seg6) ENOMEMRetries() uint64 { return d.enomemRetries.Load() }

func (d *Seg6) replace(r *netlink.Route) error {
	err, n := retryENOMEM(func() error { return d.h.RouteReplace(r) }, time.Sleep)
	d.enomemRetries.Add(uint64(n))
	return err
}

func (d *Seg6) routeReplace(r *netlink.Route, k Kind) error {
	if err := d.replace(r); err != nil {
		d.links = nil
		return err
	}
	if r.Table == 0 || r.Table == unix.RT_TABLE_MAIN {
		if d.mainRoutes == nil {
			d.mainRoutes = map[netip.Prefix]Kind{}
		}
		d.mainRoutes[netPrefix(r.Dst)] = k
	}
	return nil
}

// Setup moves the local rule, adds the decapsulation rule and route for
// cfg.Local, and makes the kernel source its encapsulated packets from
// cfg.Local (ip sr tunsrc).
func (d *Seg6) Setup(cfg Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !cfg.Local.Is6() {
		return fmt.Errorf("dataplane: local tunnel endpoint %v is not IPv6", cfg.Local)
	}
	l, err := d.link(cfg.Dev)
	if err != nil {
		return err
	}
	if err := d.moveLocalRule(); err != nil {
		return err
	}
	r := netlink.NewRule()
	r.Family, r.Priority, r.Table = unix.AF_INET6, rulePrefDecap, DecapTable
	r.Dst, r.IPProto = hostNet(cfg.Local), unix.IPPROTO_IPV6
	if err := d.h.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("dataplane: decapsulation rule: %w", err)
	}
	enc := &netlink.SEG6LocalEncap{Action: nl.SEG6_LOCAL_ACTION_END_DX6, In6Addr: net.IPv6zero}
	enc.Flags[nl.SEG6_LOCAL_ACTION] = true
	enc.Flags[nl.SEG6_LOCAL_NH6] = true
	rt := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: hostNet(cfg.Local), Table: DecapTable,
		Protocol: Proto, Encap: enc, Family: unix.AF_INET6}
	if err := d.h.RouteReplace(rt); err != nil {
		return fmt.Errorf("dataplane: decapsulation route (seg6local End.DX6): %w", err)
	}
	if err := setTunSrc(cfg.Local); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/all/forwarding", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("dataplane: enable IPv6 forwarding: %w", err)
	}
	d.cfg = &cfg
	return nil
}

// moveLocalRule puts the "lookup local" rule at LocalPref (from 0) so that
// the decapsulation rule is consulted first.
func (d *Seg6) moveLocalRule() error {
	rules, err := d.h.RuleList(unix.AF_INET6)
	if err != nil {
		return fmt.Errorf("dataplane: list rules: %w", err)
	}
	haveAt0, haveAtPref := false, false
	for _, r := range rules {
		if r.Table == unix.RT_TABLE_LOCAL && r.Src == nil && r.Dst == nil && r.IifName == "" {
			haveAt0 = haveAt0 || r.Priority == 0
			haveAtPref = haveAtPref || r.Priority == LocalPref
		}
	}
	if !haveAtPref {
		r := netlink.NewRule()
		r.Family, r.Priority, r.Table = unix.AF_INET6, LocalPref, unix.RT_TABLE_LOCAL
		if err := d.h.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("dataplane: add local rule at %d: %w", LocalPref, err)
		}
	}
	if haveAt0 {
		r := netlink.NewRule()
		r.Family, r.Priority, r.Table = unix.AF_INET6, 0, unix.RT_TABLE_LOCAL
		if err := d.h.RuleDel(r); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("dataplane: remove local rule at 0: %w", err)
		}
	}
	return nil
}

func (d *Seg6) encapTo(remote netip.Addr) *netlink.SEG6Encap {
	return &netlink.SEG6Encap{Mode: seg6ModeEncapRed, Segments: []net.IP{net.IP(remote.AsSlice())}}
}

func (d *Seg6) tunnelDev() (netlink.Link, error) {
	if d.cfg == nil {
		return nil, errors.New("dataplane: Setup has not run")
	}
	return d.link(d.cfg.Dev)
}

// uplinkTable returns the table of the tunnel to remote: UplinkTable plus
// the low bits of the address, probing for a collision with another remote.
func (d *Seg6) uplinkTable(remote netip.Addr) (int, error) {
	used := map[int]netip.Addr{}
	routes, err := d.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Protocol: Proto, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return 0, err
	}
	for _, r := range routes {
		if r.Table > UplinkTable-1 && r.Table <= TableMax && r.Dst == nil {
			if e, ok := r.Encap.(*netlink.SEG6Encap); ok && len(e.Segments) == 1 {
				a, _ := netip.AddrFromSlice(e.Segments[0])
				used[r.Table] = a
			}
		}
	}
	b := remote.As16()
	n := TableMax - UplinkTable + 1
	start := int(uint16(b[14])<<8|uint16(b[15])) % n
	for i := 0; i < n; i++ {
		t := UplinkTable + (start+i)%n
		if a, ok := used[t]; !ok || a == remote {
			return t, nil
		}
	}
	return 0, errors.New("dataplane: no free uplink table")
}

func (d *Seg6) Add(e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e.Kind {
	case KindPrefixRoute:
		l, err := d.tunnelDev()
		if err != nil {
			return err
		}
		return d.routeReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: prefixNet(e.Prefix),
			Protocol: Proto, Encap: d.encapTo(e.Remote), Family: unix.AF_INET6}, KindPrefixRoute)
	case KindAccessRoute:
		l, err := d.link(e.Dev)
		if err != nil {
			return err
		}
		return d.routeReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: prefixNet(e.Prefix),
			Protocol: Proto, Family: unix.AF_INET6}, KindAccessRoute)
	case KindSourceRoute:
		l, err := d.tunnelDev()
		if err != nil {
			return err
		}
		if _, err := d.link(e.Dev); err != nil {
			return err
		}
		table, err := d.uplinkTable(e.Remote)
		if err != nil {
			return err
		}
		if err := d.replace(&netlink.Route{LinkIndex: l.Attrs().Index, Table: table,
			Protocol: Proto, Encap: d.encapTo(e.Remote), Family: unix.AF_INET6,
			Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}); err != nil {
			return fmt.Errorf("dataplane: uplink table %d: %w", table, err)
		}
		d.delSourceRules(e) // replace semantics
		r := netlink.NewRule()
		r.Family, r.Priority, r.Table = unix.AF_INET6, rulePrefUplink, table
		r.Src, r.IifName = prefixNet(e.Prefix), e.Dev
		if err := d.h.RuleAdd(r); err != nil {
			return fmt.Errorf("dataplane: uplink rule: %w", err)
		}
		return nil
	}
	return nil
}

func (d *Seg6) delSourceRules(e Entry) {
	rules, err := d.h.RuleList(unix.AF_INET6)
	if err != nil {
		return
	}
	for _, r := range rules {
		if r.Priority == rulePrefUplink && r.IifName == e.Dev && netPrefix(r.Src) == e.Prefix.Masked() {
			r := r
			_ = d.h.RuleDel(&r)
		}
	}
}

func (d *Seg6) Del(e Entry) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e.Kind {
	case KindPrefixRoute, KindAccessRoute:
		if k, ok := d.mainRoutes[e.Prefix.Masked()]; ok {
			if k != e.Kind {
				return nil // the prefix's route is of the other kind now: not this entry's
			}
			delete(d.mainRoutes, e.Prefix.Masked())
			err := d.h.RouteDel(&netlink.Route{Dst: prefixNet(e.Prefix), Protocol: Proto, Table: unix.RT_TABLE_MAIN, Family: unix.AF_INET6})
			if err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
			return nil
		}
		routes, err := d.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Protocol: Proto, Dst: prefixNet(e.Prefix)},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_DST)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.Table != unix.RT_TABLE_MAIN || d.kindOf(r) != e.Kind {
				continue
			}
			r := r
			if err := d.h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
	case KindSourceRoute:
		d.delSourceRules(e)
		d.gcUplinkTables()
	}
	return nil
}

// gcUplinkTables removes the default route of uplink tables no rule uses.
func (d *Seg6) gcUplinkTables() {
	rules, err := d.h.RuleList(unix.AF_INET6)
	if err != nil {
		return
	}
	inUse := map[int]bool{}
	for _, r := range rules {
		inUse[r.Table] = true
	}
	routes, err := d.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Protocol: Proto, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return
	}
	for _, r := range routes {
		if r.Table >= UplinkTable && r.Table <= TableMax && !inUse[r.Table] {
			r := r
			_ = d.h.RouteDel(&r)
		}
	}
}

func (d *Seg6) kindOf(r netlink.Route) Kind {
	switch r.Encap.(type) {
	case *netlink.SEG6Encap:
		return KindPrefixRoute
	case *netlink.SEG6LocalEncap:
		return KindDecap
	}
	return KindAccessRoute
}

// List reads back, from the kernel, every entry this project installed.
func (d *Seg6) List() ([]Entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	routes, err := d.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Protocol: Proto, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, err
	}
	names := map[int]string{}
	name := func(idx int) string {
		if n, ok := names[idx]; ok {
			return n
		}
		if l, err := d.h.LinkByIndex(idx); err == nil {
			names[idx] = l.Attrs().Name
		}
		return names[idx]
	}
	var out []Entry
	tableRemote := map[int]netip.Addr{}
	for _, r := range routes {
		switch {
		case r.Table == DecapTable:
			out = append(out, Entry{Kind: KindDecap, Prefix: netPrefix(r.Dst), Dev: name(r.LinkIndex)})
		case r.Table >= UplinkTable && r.Table <= TableMax:
			if e, ok := r.Encap.(*netlink.SEG6Encap); ok && len(e.Segments) == 1 {
				a, _ := netip.AddrFromSlice(e.Segments[0])
				tableRemote[r.Table] = a.Unmap()
			}
		case r.Table == unix.RT_TABLE_MAIN:
			e := Entry{Kind: d.kindOf(r), Prefix: netPrefix(r.Dst)}
			if enc, ok := r.Encap.(*netlink.SEG6Encap); ok && len(enc.Segments) == 1 {
				a, _ := netip.AddrFromSlice(enc.Segments[0])
				e.Remote = a.Unmap()
			} else {
				e.Dev = name(r.LinkIndex)
			}
			out = append(out, e)
		}
	}
	rules, err := d.h.RuleList(unix.AF_INET6)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		if r.Priority == rulePrefUplink && r.Src != nil {
			out = append(out, Entry{Kind: KindSourceRoute, Prefix: netPrefix(r.Src), Dev: r.IifName, Remote: tableRemote[r.Table]})
		}
	}
	SortEntries(out)
	return out, nil
}

// Flush removes every route, rule and table this project installed and puts
// the local rule back at priority 0.
func (d *Seg6) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	routes, err := d.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Protocol: Proto, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range routes {
		r := r
		if err := d.h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, err)
		}
	}
	rules, err := d.h.RuleList(unix.AF_INET6)
	if err != nil {
		errs = append(errs, err)
	}
	localAt0 := false
	for _, r := range rules {
		if r.Priority == 0 && r.Table == unix.RT_TABLE_LOCAL {
			localAt0 = true
		}
	}
	if !localAt0 {
		r := netlink.NewRule()
		r.Family, r.Priority, r.Table = unix.AF_INET6, 0, unix.RT_TABLE_LOCAL
		if err := d.h.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, err)
		}
	}
	for _, r := range rules {
		ours := r.Priority >= RulePrefMin && r.Priority <= RulePrefMax && r.Table >= TableMin && r.Table <= TableMax
		movedLocal := r.Priority == LocalPref && r.Table == unix.RT_TABLE_LOCAL
		if ours || movedLocal {
			r := r
			if err := d.h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, err)
			}
		}
	}
	d.cfg, d.links, d.mainRoutes = nil, nil, nil
	return errors.Join(errs...)
}
