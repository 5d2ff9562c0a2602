package ndp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv6"
)

// Conn is a raw ICMPv6 socket of the current network namespace that
// receives Router Solicitations on every interface (an ICMPv6 filter
// passes nothing else) and sends Router Advertisements out of a chosen
// interface from RouterLinkLocal with hop limit 255 (RFC 4861 §6.1.2). The
// kernel computes the ICMPv6 checksum. RouterLinkLocal must be configured
// on the interface (see ConfigureAccess). It needs CAP_NET_RAW.
type Conn struct {
	c   net.PacketConn
	pc  *ipv6.PacketConn
	rmu sync.Mutex
	buf []byte
}

var (
	_ Interface = (*Conn)(nil)
	_ NASender  = (*Conn)(nil)
)

// Listen opens the socket in the calling thread's network namespace.
func Listen() (*Conn, error) {
	c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, fmt.Errorf("ndp: ICMPv6 socket: %w", err)
	}
	pc := ipv6.NewPacketConn(c)
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterSolicitation)
	for _, step := range []func() error{
		func() error { return pc.SetICMPFilter(&f) },
		func() error { return pc.SetControlMessage(ipv6.FlagInterface|ipv6.FlagHopLimit|ipv6.FlagDst, true) },
		func() error { return pc.SetHopLimit(255) },
		func() error { return pc.SetMulticastHopLimit(255) },
		func() error { return pc.SetMulticastLoopback(false) },
	} {
		if err := step(); err != nil {
			c.Close()
			return nil, fmt.Errorf("ndp: socket option: %w", err)
		}
	}
	return &Conn{c: c, pc: pc, buf: make([]byte, 1500)}, nil
}

// JoinAllRouters joins ff02::2 on interface ifindex, so that Router
// Solicitations reach the socket even where forwarding (which joins it)
// is off. Joining twice is not an error.
func (c *Conn) JoinAllRouters(ifindex int) error {
	// Only the index is used for IPv6 (IPV6_JOIN_GROUP), so this works
	// from any thread whatever its namespace.
	err := c.pc.JoinGroup(&net.Interface{Index: ifindex}, &net.IPAddr{IP: net.ParseIP("ff02::2")})
	if err != nil && errors.Is(err, errAddrInUse) {
		return nil
	}
	return err
}

// ReadRS returns the next valid Router Solicitation (RFC 4861 §6.1.1: hop
// limit 255, code 0, length at least 8, no link-layer address option from
// the unspecified address). Invalid ones are skipped.
func (c *Conn) ReadRS() (Solicitation, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		n, cm, src, err := c.pc.ReadFrom(c.buf)
		if err != nil {
			return Solicitation{}, err
		}
		if cm == nil || cm.HopLimit != 255 {
			continue
		}
		var rs RS
		if rs.UnmarshalBinary(c.buf[:n]) != nil {
			continue
		}
		s := Solicitation{IfIndex: cm.IfIndex, MAC: rs.SourceLinkLayer}
		if a, ok := src.(*net.IPAddr); ok {
			if ad, ok := netip.AddrFromSlice(a.IP); ok {
				s.Src = ad
			}
		}
		if s.Src.IsUnspecified() && s.MAC != nil {
			continue
		}
		return s, nil
	}
}

// SendRA sends ra out of interface ifindex to dst from RouterLinkLocal.
func (c *Conn) SendRA(ifindex int, dst netip.Addr, ra *RA) error {
	b, err := ra.Marshal()
	if err != nil {
		return err
	}
	cm := &ipv6.ControlMessage{IfIndex: ifindex, Src: RouterLinkLocal.AsSlice(), HopLimit: 255}
	_, err = c.pc.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	if err != nil {
		return fmt.Errorf("ndp: RA to %v on ifindex %d: %w", dst, ifindex, err)
	}
	return nil
}

// SendNA sends na out of interface ifindex to dst from RouterLinkLocal
// (hop limit 255, RFC 4861 §7.1.2).
func (c *Conn) SendNA(ifindex int, dst netip.Addr, na *NA) error {
	b, err := na.Marshal()
	if err != nil {
		return err
	}
	cm := &ipv6.ControlMessage{IfIndex: ifindex, Src: RouterLinkLocal.AsSlice(), HopLimit: 255}
	if _, err = c.pc.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return fmt.Errorf("ndp: NA to %v on ifindex %d: %w", dst, ifindex, err)
	}
	return nil
}

// Close closes the socket; a blocked ReadRS returns an error.
func (c *Conn) Close() error { return c.c.Close() }

func interfaceIndex(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}
