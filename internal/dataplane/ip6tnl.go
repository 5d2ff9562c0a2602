package dataplane

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Ip6tnl is the Driver for kernels with the ip6_tunnel module: one
// ip6tnl device (mode ip6ip6, RFC 2473) per remote tunnel endpoint, shared
// by every mobile node behind that MAG or LMA (RFC 5213 §5.6.1), named
// "pmip6t" plus a hash of the remote address. Prefix routes and uplink
// tables point at the device; the kernel decapsulates on the device
// itself, so Setup only records the local endpoint. Devices whose last
// route goes away are deleted.
type Ip6tnl struct {
	h   *netlink.Handle
	mu  sync.Mutex
	cfg *Config
}

// NewIp6tnl returns an ip6tnl driver working through h (nil: the current
// network namespace).
func NewIp6tnl(h *netlink.Handle) (*Ip6tnl, error) {
	if h == nil {
		var err error
		if h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return nil, err
		}
	}
	return &Ip6tnl{h: h}, nil
}

func (d *Ip6tnl) Name() string { return "ip6tnl" }

const ip6tnlPrefix = "pmip6t"

func tunnelName(remote netip.Addr) string {
	h := fnv.New32a()
	b := remote.As16()
	h.Write(b[:])
	return fmt.Sprintf("%s%08x", ip6tnlPrefix, h.Sum32())[:15]
}

func (d *Ip6tnl) Setup(cfg Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !cfg.Local.Is6() {
		return fmt.Errorf("dataplane: local tunnel endpoint %v is not IPv6", cfg.Local)
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/all/forwarding", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("dataplane: enable IPv6 forwarding: %w", err)
	}
	d.cfg = &cfg
	return nil
}

// tunnel returns the device to remote, creating it when absent.
func (d *Ip6tnl) tunnel(remote netip.Addr) (netlink.Link, error) {
	if d.cfg == nil {
		return nil, errors.New("dataplane: Setup has not run")
	}
	name := tunnelName(remote)
	if l, err := d.h.LinkByName(name); err == nil {
		return l, nil
	}
	under, err := d.h.LinkByName(d.cfg.Dev)
	if err != nil {
		return nil, fmt.Errorf("dataplane: interface %q: %w", d.cfg.Dev, err)
	}
	t := &netlink.Ip6tnl{LinkAttrs: netlink.LinkAttrs{Name: name}, Link: uint32(under.Attrs().Index),
		Local: net.IP(d.cfg.Local.AsSlice()), Remote: net.IP(remote.AsSlice()), Ttl: 64,
		Proto: unix.IPPROTO_IPV6, EncapLimit: 0, Flags: 0x1 /* IP6_TNL_F_IGN_ENCAP_LIMIT */}
	if err := d.h.LinkAdd(t); err != nil {
		return nil, fmt.Errorf("dataplane: create ip6tnl %s to %v: %w", name, remote, err)
	}
	l, err := d.h.LinkByName(name)
	if err != nil {
		return nil, err
	}
	if err := d.h.LinkSetUp(l); err != nil {
		return nil, err
	}
	return l, nil
}

func (d *Ip6tnl) Add(e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e.Kind {
	case KindPrefixRoute:
		l, err := d.tunnel(e.Remote)
		if err != nil {
			return err
		}
		return d.h.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: prefixNet(e.Prefix), Protocol: Proto, Family: unix.AF_INET6})
	case KindAccessRoute:
		l, err := d.h.LinkByName(e.Dev)
		if err != nil {
			return fmt.Errorf("dataplane: interface %q: %w", e.Dev, err)
		}
		return d.h.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: prefixNet(e.Prefix), Protocol: Proto, Family: unix.AF_INET6})
	case KindSourceRoute:
		l, err := d.tunnel(e.Remote)
		if err != nil {
			return err
		}
		table := UplinkTable + int(l.Attrs().Index)%(TableMax-UplinkTable+1)
		if err := d.h.RouteReplace(&netlink.Route{LinkIndex: l.Attrs().Index, Table: table, Protocol: Proto,
			Family: unix.AF_INET6, Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}); err != nil {
			return err
		}
		r := netlink.NewRule()
		r.Family, r.Priority, r.Table = unix.AF_INET6, rulePrefUplink, table
		r.Src, r.IifName = prefixNet(e.Prefix), e.Dev
		if err := d.h.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return nil
}

func (d *Ip6tnl) Del(e Entry) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch e.Kind {
	case KindPrefixRoute, KindAccessRoute:
		routes, err := d.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Protocol: Proto, Dst: prefixNet(e.Prefix)},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_DST)
		if err != nil {
			return err
		}
		for _, r := range routes {
			r := r
			if r.Table == unix.RT_TABLE_MAIN {
				_ = d.h.RouteDel(&r)
			}
		}
	case KindSourceRoute:
		rules, err := d.h.RuleList(unix.AF_INET6)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.Priority == rulePrefUplink && r.IifName == e.Dev && netPrefix(r.Src) == e.Prefix.Masked() {
				r := r
				_ = d.h.RuleDel(&r)
			}
		}
	}
	d.gcTunnels()
	return nil
}

// gcTunnels deletes tunnel devices that no route uses any more.
func (d *Ip6tnl) gcTunnels() {
	links, err := d.h.LinkList()
	if err != nil {
		return
	}
	for _, l := range links {
		if !strings.HasPrefix(l.Attrs().Name, ip6tnlPrefix) {
			continue
		}
		rs, err := d.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{LinkIndex: l.Attrs().Index, Protocol: Proto, Table: unix.RT_TABLE_UNSPEC},
			netlink.RT_FILTER_OIF|netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err == nil && len(rs) == 0 {
			_ = d.h.LinkDel(l)
		}
	}
}

func (d *Ip6tnl) List() ([]Entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	links, err := d.h.LinkList()
	if err != nil {
		return nil, err
	}
	remoteOf, nameOf := map[int]netip.Addr{}, map[int]string{}
	for _, l := range links {
		nameOf[l.Attrs().Index] = l.Attrs().Name
		if t, ok := l.(*netlink.Ip6tnl); ok && strings.HasPrefix(t.Name, ip6tnlPrefix) {
			a, _ := netip.AddrFromSlice(t.Remote)
			remoteOf[t.Index] = a.Unmap()
		}
	}
	routes, err := d.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Protocol: Proto, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, err
	}
	var out []Entry
	tableRemote := map[int]netip.Addr{}
	for _, r := range routes {
		switch {
		case r.Table >= UplinkTable && r.Table <= TableMax:
			tableRemote[r.Table] = remoteOf[r.LinkIndex]
		case r.Table == unix.RT_TABLE_MAIN:
			if rem, ok := remoteOf[r.LinkIndex]; ok {
				out = append(out, Entry{Kind: KindPrefixRoute, Prefix: netPrefix(r.Dst), Remote: rem})
			} else {
				out = append(out, Entry{Kind: KindAccessRoute, Prefix: netPrefix(r.Dst), Dev: nameOf[r.LinkIndex]})
			}
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

func (d *Ip6tnl) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	rules, err := d.h.RuleList(unix.AF_INET6)
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range rules {
		if r.Priority >= RulePrefMin && r.Priority <= RulePrefMax && r.Table >= TableMin && r.Table <= TableMax {
			r := r
			if err := d.h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, err)
			}
		}
	}
	routes, _ := d.h.RouteListFiltered(unix.AF_INET6, &netlink.Route{Protocol: Proto, Table: unix.RT_TABLE_UNSPEC},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	for _, r := range routes {
		r := r
		_ = d.h.RouteDel(&r)
	}
	links, _ := d.h.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, ip6tnlPrefix) {
			if err := d.h.LinkDel(l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	d.cfg = nil
	return errors.Join(errs...)
}

// Probe tells which kernel driver works in the current network namespace:
// "ip6tnl" when an ip6tnl device can be created (the ip6_tunnel module is
// there), else "seg6" when seg6 lightweight tunnels are (the SEG6 netlink
// family exists), with the reason for the choice.
func Probe() (name, reason string) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err == nil {
		defer h.Close()
		probe := &netlink.Ip6tnl{LinkAttrs: netlink.LinkAttrs{Name: "pmip6probe0"}, Local: net.ParseIP("::1"), Remote: net.ParseIP("::1"), Proto: unix.IPPROTO_IPV6}
		if err = h.LinkAdd(probe); err == nil {
			_ = h.LinkDel(probe)
			return "ip6tnl", "ip6tnl devices can be created"
		}
	}
	ip6tnlErr := err
	if _, err := netlink.GenlFamilyGet("SEG6"); err == nil {
		return "seg6", fmt.Sprintf("no ip6tnl (%v); seg6 lightweight tunnels are available", ip6tnlErr)
	}
	return "", fmt.Sprintf("neither ip6tnl (%v) nor seg6 is available", ip6tnlErr)
}

// New returns the driver called name ("auto" probes; "fake" needs no
// kernel support).
func New(name string) (Driver, string, error) {
	reason := "configured"
	if name == "auto" || name == "" {
		name, reason = Probe()
		if name == "" {
			return nil, reason, errors.New("dataplane: " + reason)
		}
	}
	switch name {
	case "seg6":
		d, err := NewSeg6(nil)
		return d, reason, err
	case "ip6tnl":
		d, err := NewIp6tnl(nil)
		return d, reason, err
	case "fake":
		return NewFake(), reason, nil
	}
	return nil, "", fmt.Errorf("dataplane: unknown driver %q (seg6, ip6tnl, fake or auto)", name)
}
