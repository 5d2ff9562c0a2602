// Package ndp is the MAG's side of IPv6 Neighbor Discovery (RFC 4861) on
// its access links: it receives Router Solicitations and sends unicast
// Router Advertisements carrying a mobile node's home network prefixes
// (RFC 5213 §6.7, §6.9.2), from the fixed link-local and link-layer
// addresses that every MAG of a domain shares (RFC 5213 §6.9.3, RFC 6543).
//
// The message codec (RA, RS) is pure; Conn is the raw ICMPv6 socket
// (golang.org/x/net/ipv6) of one network namespace, serving all its access
// interfaces; Fake stands in for it in tests.
package ndp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// The RFC 6543 addresses reserved for PMIPv6 MAGs: the link-layer address
// 00-00-5E-00-52-13 and the link-local address whose interface identifier
// is its modified EUI-64, 0200:5EFF:FE00:5213.
var (
	RouterLinkLocal = netip.MustParseAddr("fe80::200:5eff:fe00:5213")
	RouterMAC       = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x52, 0x13}
)

// AllNodes is the link-local all-nodes multicast address (ff02::1).
var AllNodes = netip.MustParseAddr("ff02::1")

// ICMPv6 types (RFC 4861 §4.1, §4.2) and option types (§4.6).
const (
	TypeRouterSolicitation  = 133
	TypeRouterAdvertisement = 134

	OptSourceLinkLayer = 1
	OptPrefixInfo      = 3
	OptMTU             = 5
)

// Infinity is the all-ones lifetime (RFC 4861 §4.6.2): the prefix never
// expires.
const Infinity = time.Duration(0xffffffff) * time.Second

// Prefix is a Prefix Information option (RFC 4861 §4.6.2).
type Prefix struct {
	Prefix     netip.Prefix
	OnLink     bool // L
	Autonomous bool // A: usable for SLAAC
	// ValidLifetime and PreferredLifetime are sent in whole seconds
	// (Infinity or more: all ones). A PreferredLifetime of 0 deprecates
	// the prefix: the host keeps its addresses but uses them for no new
	// flows (RFC 8885 §3.7). A ValidLifetime of 0 withdraws it (RFC 5213
	// §6.12), within the RFC 4862 §5.5.3 two-hour rule of the host.
	ValidLifetime     time.Duration
	PreferredLifetime time.Duration
}

// RA is a Router Advertisement (RFC 4861 §4.2).
type RA struct {
	CurHopLimit uint8
	Managed     bool // M
	Other       bool // O
	// RouterLifetime is sent in whole seconds (at most 9000 s, RFC 4861
	// §6.2.1); 0 means "not a default router".
	RouterLifetime time.Duration
	ReachableTime  time.Duration // milliseconds on the wire; 0 unspecified
	RetransTimer   time.Duration // milliseconds on the wire; 0 unspecified
	// SourceLinkLayer is the Source Link-Layer Address option; nil: none.
	SourceLinkLayer net.HardwareAddr
	// MTU is the MTU option; 0: none.
	MTU      uint32
	Prefixes []Prefix
}

// RS is a Router Solicitation (RFC 4861 §4.1).
type RS struct {
	// SourceLinkLayer is the Source Link-Layer Address option; nil: none.
	SourceLinkLayer net.HardwareAddr
}

// Errors of the codec.
var (
	ErrTooShort = errors.New("ndp: message too short")
	ErrBadType  = errors.New("ndp: wrong ICMPv6 type or code")
	ErrBadOpt   = errors.New("ndp: malformed option")

	errBadTarget = errors.New("ndp: the target of a Neighbor Advertisement must be an IPv6 address")
)

func secs(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	if d >= Infinity {
		return 0xffffffff
	}
	return uint32(d / time.Second)
}

func secsDur(v uint32) time.Duration { return time.Duration(v) * time.Second }

// lladdrOptLen is the length in octets of a link-layer address option
// for addr (padded to 8).
func lladdrOptLen(addr net.HardwareAddr) int { return (2 + len(addr) + 7) / 8 * 8 }

func putLLAddr(b []byte, addr net.HardwareAddr) int {
	n := lladdrOptLen(addr)
	b[0], b[1] = OptSourceLinkLayer, byte(n/8)
	copy(b[2:n], addr)
	return n
}

// Marshal encodes the RA as an ICMPv6 message with a zero checksum (the
// kernel computes it on an ICMPv6 raw socket; see Checksum otherwise).
func (ra *RA) Marshal() ([]byte, error) {
	if ra.RouterLifetime > 0xffff*time.Second {
		return nil, fmt.Errorf("ndp: router lifetime %v above 65535 s", ra.RouterLifetime)
	}
	n := 16
	if ra.SourceLinkLayer != nil {
		n += lladdrOptLen(ra.SourceLinkLayer)
	}
	if ra.MTU != 0 {
		n += 8
	}
	n += 32 * len(ra.Prefixes)
	b := make([]byte, n)
	b[0] = TypeRouterAdvertisement
	b[4] = ra.CurHopLimit
	if ra.Managed {
		b[5] |= 0x80
	}
	if ra.Other {
		b[5] |= 0x40
	}
	binary.BigEndian.PutUint16(b[6:], uint16(ra.RouterLifetime/time.Second))
	binary.BigEndian.PutUint32(b[8:], uint32(ra.ReachableTime/time.Millisecond))
	binary.BigEndian.PutUint32(b[12:], uint32(ra.RetransTimer/time.Millisecond))
	off := 16
	if ra.SourceLinkLayer != nil {
		off += putLLAddr(b[off:], ra.SourceLinkLayer)
	}
	if ra.MTU != 0 {
		b[off], b[off+1] = OptMTU, 1
		binary.BigEndian.PutUint32(b[off+4:], ra.MTU)
		off += 8
	}
	for _, p := range ra.Prefixes {
		if !p.Prefix.IsValid() || !p.Prefix.Addr().Is6() {
			return nil, fmt.Errorf("ndp: prefix %v is not an IPv6 prefix", p.Prefix)
		}
		o := b[off : off+32]
		o[0], o[1], o[2] = OptPrefixInfo, 4, byte(p.Prefix.Bits())
		if p.OnLink {
			o[3] |= 0x80
		}
		if p.Autonomous {
			o[3] |= 0x40
		}
		binary.BigEndian.PutUint32(o[4:], secs(p.ValidLifetime))
		binary.BigEndian.PutUint32(o[8:], secs(p.PreferredLifetime))
		a := p.Prefix.Masked().Addr().As16()
		copy(o[16:], a[:])
		off += 32
	}
	return b, nil
}

// walkOpts calls f with the type and the whole octets of each option in
// b, checking the RFC 4861 §4.6 length rules (no zero length, no overrun).
func walkOpts(b []byte, f func(t byte, o []byte) error) error {
	for len(b) > 0 {
		if len(b) < 2 || b[1] == 0 || int(b[1])*8 > len(b) {
			return ErrBadOpt
		}
		n := int(b[1]) * 8
		if err := f(b[0], b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// UnmarshalBinary decodes an ICMPv6 Router Advertisement; unknown options
// are skipped.
func (ra *RA) UnmarshalBinary(b []byte) error {
	if len(b) < 16 {
		return ErrTooShort
	}
	if b[0] != TypeRouterAdvertisement || b[1] != 0 {
		return ErrBadType
	}
	*ra = RA{
		CurHopLimit:    b[4],
		Managed:        b[5]&0x80 != 0,
		Other:          b[5]&0x40 != 0,
		RouterLifetime: secsDur(uint32(binary.BigEndian.Uint16(b[6:]))),
		ReachableTime:  time.Duration(binary.BigEndian.Uint32(b[8:])) * time.Millisecond,
		RetransTimer:   time.Duration(binary.BigEndian.Uint32(b[12:])) * time.Millisecond,
	}
	return walkOpts(b[16:], func(t byte, o []byte) error {
		switch t {
		case OptSourceLinkLayer:
			ra.SourceLinkLayer = llFromOpt(o)
		case OptMTU:
			if len(o) != 8 {
				return ErrBadOpt
			}
			ra.MTU = binary.BigEndian.Uint32(o[4:])
		case OptPrefixInfo:
			if len(o) != 32 || o[2] > 128 {
				return ErrBadOpt
			}
			ra.Prefixes = append(ra.Prefixes, Prefix{
				Prefix:            netip.PrefixFrom(netip.AddrFrom16([16]byte(o[16:32])), int(o[2])),
				OnLink:            o[3]&0x80 != 0,
				Autonomous:        o[3]&0x40 != 0,
				ValidLifetime:     secsDur(binary.BigEndian.Uint32(o[4:])),
				PreferredLifetime: secsDur(binary.BigEndian.Uint32(o[8:])),
			})
		}
		return nil
	})
}

// ParseRA decodes a Router Advertisement.
func ParseRA(b []byte) (*RA, error) {
	ra := &RA{}
	return ra, ra.UnmarshalBinary(b)
}

// llFromOpt returns the link-layer address of an option: for Ethernet
// (length 1) the 6 octets, otherwise everything after the header.
func llFromOpt(o []byte) net.HardwareAddr {
	if len(o) == 8 {
		return append(net.HardwareAddr(nil), o[2:8]...)
	}
	return append(net.HardwareAddr(nil), o[2:]...)
}

// Marshal encodes the RS with a zero checksum.
func (rs *RS) Marshal() ([]byte, error) {
	n := 8
	if rs.SourceLinkLayer != nil {
		n += lladdrOptLen(rs.SourceLinkLayer)
	}
	b := make([]byte, n)
	b[0] = TypeRouterSolicitation
	if rs.SourceLinkLayer != nil {
		putLLAddr(b[8:], rs.SourceLinkLayer)
	}
	return b, nil
}

// UnmarshalBinary decodes an ICMPv6 Router Solicitation; unknown options
// are skipped.
func (rs *RS) UnmarshalBinary(b []byte) error {
	if len(b) < 8 {
		return ErrTooShort
	}
	if b[0] != TypeRouterSolicitation || b[1] != 0 {
		return ErrBadType
	}
	*rs = RS{}
	return walkOpts(b[8:], func(t byte, o []byte) error {
		if t == OptSourceLinkLayer {
			rs.SourceLinkLayer = llFromOpt(o)
		}
		return nil
	})
}

// ParseRS decodes a Router Solicitation.
func ParseRS(b []byte) (*RS, error) {
	rs := &RS{}
	return rs, rs.UnmarshalBinary(b)
}

// Checksum returns the ICMPv6 checksum of msg (its checksum field taken as
// zero) from src to dst (RFC 4443 §2.3), for callers that build packets
// themselves.
func Checksum(src, dst netip.Addr, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[:4], uint32(len(msg)))
	l[7] = 58
	add(l[:])
	c := append([]byte(nil), msg...)
	if len(c) >= 4 {
		c[2], c[3] = 0, 0
	}
	add(c)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Solicitation is a Router Solicitation received on an access interface.
type Solicitation struct {
	IfIndex int
	// Src is the solicitor's address: its link-local address, or the
	// unspecified address before it has one (then it carries no
	// link-layer address, RFC 4861 §4.1).
	Src netip.Addr
	// MAC is its Source Link-Layer Address option, nil when absent.
	MAC net.HardwareAddr
}

// Interface is what a MAG needs from NDP on its access links; Conn
// implements it, Fake replaces it in tests.
type Interface interface {
	// ReadRS blocks until a valid Router Solicitation arrives.
	ReadRS() (Solicitation, error)
	// SendRA sends ra out of interface ifindex to dst (the mobile node's
	// link-local address, or AllNodes), from RouterLinkLocal, hop limit 255.
	SendRA(ifindex int, dst netip.Addr, ra *RA) error
	Close() error
}
