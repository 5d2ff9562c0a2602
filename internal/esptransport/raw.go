package esptransport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv6"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/ipsec"
)

// ESPSocket is a raw IPv6 socket for next header 50 bound to one local
// address: Data is the ESP packet from the SPI on (an IPv6 raw socket
// neither gives nor takes the IPv6 header). On a kernel without esp6 the
// kernel hands arriving ESP only to raw sockets; with one that has esp6
// but no state for the SPI, raw sockets still get a copy first. It is a
// transport.Transport whose Data is ESP rather than a Mobility Header.
type ESPSocket struct {
	conn  *net.IPConn
	pc    *ipv6.PacketConn
	local netip.Addr

	rmu sync.Mutex
	buf []byte
	oob []byte
}

var _ transport.Transport = (*ESPSocket)(nil)

// ListenESP opens a raw IPPROTO_ESP socket bound to local (with its zone
// for a link-local address). It needs CAP_NET_RAW.
func ListenESP(local netip.Addr) (*ESPSocket, error) {
	if !local.Is6() || local.Is4In6() {
		return nil, fmt.Errorf("esptransport: %v is not an IPv6 address", local)
	}
	c, err := net.ListenIP("ip6:50", &net.IPAddr{IP: local.AsSlice(), Zone: local.Zone()})
	if err != nil {
		return nil, fmt.Errorf("esptransport: raw ESP socket on %v: %w", local, err)
	}
	pc := ipv6.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("esptransport: IPV6_RECVPKTINFO on %v: %w", local, err)
	}
	return &ESPSocket{conn: c, pc: pc, local: local, buf: make([]byte, 4096), oob: ipv6.NewControlMessage(ipv6.FlagDst | ipv6.FlagInterface)}, nil
}

// LocalAddr returns the bound address.
func (s *ESPSocket) LocalAddr() netip.Addr { return s.local }

// Send sends one ESP packet to dst.
func (s *ESPSocket) Send(dst netip.Addr, esp []byte) error {
	_, err := s.pc.WriteTo(esp, nil, &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()})
	if errors.Is(err, net.ErrClosed) {
		return transport.ErrClosed
	}
	return err
}

// Receive reads one ESP packet (signalling rates need no batching).
func (s *ESPSocket) Receive(ps []transport.Packet) (int, error) {
	if len(ps) == 0 {
		return 0, nil
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for {
		n, cm, src, err := s.pc.ReadFrom(s.buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return 0, transport.ErrClosed
			}
			return 0, err
		}
		if n >= len(s.buf) {
			continue // truncated: drop
		}
		p := transport.Packet{Dst: s.local}
		if a, ok := src.(*net.IPAddr); ok {
			if ad, ok := netip.AddrFromSlice(a.IP); ok {
				p.Src = ad.WithZone(a.Zone)
			}
		}
		if cm != nil {
			if d, ok := netip.AddrFromSlice(cm.Dst); ok && cm.Dst != nil {
				p.Dst = d
			}
			p.IfIndex = cm.IfIndex
		}
		p.Data = append(ps[0].Data[:0], s.buf[:n]...)
		ps[0] = p
		return 1, nil
	}
}

// Close closes the socket; a blocked Receive returns transport.ErrClosed.
func (s *ESPSocket) Close() error { return s.conn.Close() }

// Listen opens the ip6:135 and ip6:50 sockets on local and returns the
// Transport that applies eng to them. It needs CAP_NET_RAW.
func Listen(local netip.Addr, eng *ipsec.Engine, o Options) (*Transport, error) {
	mhs, err := transport.ListenRaw(local, o.Raw)
	if err != nil {
		return nil, err
	}
	esp, err := ListenESP(local)
	if err != nil {
		mhs.Close()
		return nil, err
	}
	return New(mhs, esp, eng, o), nil
}

// New applies eng to an MH transport and an ESP transport of the same
// local address (Listen's sockets, or any other pair).
func New(mhs, esp transport.Transport, eng *ipsec.Engine, o Options) *Transport {
	return newTransport(eng, mhs.LocalAddr(), o, mhs.Send, esp.Send, []source{
		{tr: mhs, classify: func(*transport.Packet) (uint8, bool) { return ipsec.ProtoMH, true }},
		{tr: esp, classify: func(*transport.Packet) (uint8, bool) { return ipsec.ProtoESP, true }},
	})
}
