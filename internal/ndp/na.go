package ndp

import (
	"net"
	"net/netip"
)

// ICMPv6 type of the Neighbor Advertisement (RFC 4861 §4.4) and the
// Target Link-Layer Address option type (§4.6.1).
const (
	TypeNeighborAdvertisement = 136

	OptTargetLinkLayer = 2
)

// NA is a Neighbor Advertisement (RFC 4861 §4.4).
type NA struct {
	Router    bool // R
	Solicited bool // S: never set in an unsolicited advertisement
	Override  bool // O: replace the cached link-layer address
	Target    netip.Addr
	// TargetLinkLayer is the Target Link-Layer Address option; nil: none.
	TargetLinkLayer net.HardwareAddr
}

// RouterNA is the unsolicited advertisement of the RFC 6543 router
// address that a MAG sends when an access link comes up: Router and
// Override set, Solicited clear (RFC 4861 §7.2.6), target RouterLinkLocal
// with the target link-layer address RouterMAC. A host holding an
// INCOMPLETE entry for its router (its solicitation was lost while the
// link moved) takes the address and sends its queued packets at once.
func RouterNA() *NA {
	return &NA{Router: true, Override: true, Target: RouterLinkLocal, TargetLinkLayer: RouterMAC}
}

// Marshal encodes the NA as an ICMPv6 message with a zero checksum.
func (na *NA) Marshal() ([]byte, error) {
	if !na.Target.Is6() || na.Target.Is4In6() {
		return nil, errBadTarget
	}
	n := 24
	if na.TargetLinkLayer != nil {
		n += lladdrOptLen(na.TargetLinkLayer)
	}
	b := make([]byte, n)
	b[0] = TypeNeighborAdvertisement
	if na.Router {
		b[4] |= 0x80
	}
	if na.Solicited {
		b[4] |= 0x40
	}
	if na.Override {
		b[4] |= 0x20
	}
	t := na.Target.As16()
	copy(b[8:24], t[:])
	if na.TargetLinkLayer != nil {
		putLLAddr(b[24:], na.TargetLinkLayer)
		b[24] = OptTargetLinkLayer
	}
	return b, nil
}

// UnmarshalBinary decodes an ICMPv6 Neighbor Advertisement; unknown
// options are skipped.
func (na *NA) UnmarshalBinary(b []byte) error {
	if len(b) < 24 {
		return ErrTooShort
	}
	if b[0] != TypeNeighborAdvertisement || b[1] != 0 {
		return ErrBadType
	}
	*na = NA{
		Router:    b[4]&0x80 != 0,
		Solicited: b[4]&0x40 != 0,
		Override:  b[4]&0x20 != 0,
		Target:    netip.AddrFrom16([16]byte(b[8:24])),
	}
	return walkOpts(b[24:], func(t byte, o []byte) error {
		if t == OptTargetLinkLayer {
			na.TargetLinkLayer = llFromOpt(o)
		}
		return nil
	})
}

// ParseNA decodes a Neighbor Advertisement.
func ParseNA(b []byte) (*NA, error) {
	na := &NA{}
	return na, na.UnmarshalBinary(b)
}

// NASender is implemented by the Interfaces that can send Neighbor
// Advertisements (Conn and Fake). It is separate from Interface so that
// other implementations of Interface stay valid.
type NASender interface {
	// SendNA sends na out of interface ifindex to dst (AllNodes for an
	// unsolicited one), from RouterLinkLocal, hop limit 255.
	SendNA(ifindex int, dst netip.Addr, na *NA) error
}

// Announce makes the RFC 6543 router known on a link that just came up:
// it sends RouterNA (when nd is an NASender) and then ra (when not nil) to
// AllNodes out of ifindex. The RA's Source Link-Layer Address option
// makes a Linux host create or update its neighbor entry for the router
// even when it holds none (RFC 4861 §6.3.4), which the NA alone does not
// do. It returns the first error; both are tried.
func Announce(nd Interface, ifindex int, ra *RA) error {
	var first error
	if s, ok := nd.(NASender); ok {
		first = s.SendNA(ifindex, AllNodes, RouterNA())
	}
	if ra != nil {
		if err := nd.SendRA(ifindex, AllNodes, ra); err != nil && first == nil {
			first = err
		}
	}
	return first
}
