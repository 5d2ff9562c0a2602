package mh

import (
	"fmt"
	"net/netip"
)

// Options defined by RFC 6463 §4.1-§4.4 (runtime LMA assignment).

func init() {
	registerOption(OptRedirectCapability, func() Option { return &RedirectCapability{} })
	registerOption(OptRedirect, func() Option { return &RedirectOption{} })
	registerOption(OptLoadInformation, func() Option { return &LoadInformation{} })
	registerOption(OptAlternateIPv4CoA, func() Option { return &AlternateIPv4CoA{} })
}

// putAddr4Checked writes the IPv4 address a into b[:4]: an invalid
// (zero) Addr as 0.0.0.0, an IPv4-mapped IPv6 address unmapped. Any other
// IPv6 address is an error.
func putAddr4Checked(b []byte, t OptionType, a netip.Addr) error {
	switch {
	case !a.IsValid():
		clear(b[:4])
	case a.Is4() || a.Is4In6():
		a4 := a.Unmap().As4()
		copy(b[:4], a4[:])
	default:
		return fmt.Errorf("%w: %s needs an IPv4 address, have %s", ErrInvalidValue, t, a)
	}
	return nil
}

// ---- Redirect-Capability (46) ----

// RedirectCapability is the Redirect-Capability option (type 46, RFC 6463
// §4.1): Reserved(2); Length 2; alignment 4n. A MAG that implements
// runtime LMA assignment puts it in the initial PBU (at most one).
type RedirectCapability struct {
	Reserved uint16
}

func (*RedirectCapability) OptionType() OptionType { return OptRedirectCapability }
func (*RedirectCapability) Alignment() Alignment   { return Alignment{4, 0} }
func (*RedirectCapability) MarshalLen() int        { return 4 }
func (o *RedirectCapability) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptRedirectCapability, 4); err != nil {
		return err
	}
	be.PutUint16(b[2:], o.Reserved)
	return nil
}
func (o *RedirectCapability) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *RedirectCapability) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptRedirectCapability)
	if err != nil {
		return err
	}
	if len(body) != 2 {
		return lenErr(OptRedirectCapability.String(), len(body), "2")
	}
	o.Reserved = be.Uint16(body)
	return nil
}

// ParseRedirectCapability decodes a Redirect-Capability option.
func ParseRedirectCapability(b []byte) (*RedirectCapability, error) {
	o := &RedirectCapability{}
	return o, o.UnmarshalBinary(b)
}

// ---- Redirect (47) ----

// Flag bits of the Redirect option's first two octets (RFC 6463 §4.2).
const (
	RedirectFlagK uint16 = 0x8000 // IPv6 r2LMA address present
	RedirectFlagN uint16 = 0x4000 // IPv4 r2LMA address present
)

// RedirectOption is the Redirect mobility option (type 47, RFC 6463
// §4.2): K(1b), N(1b), Reserved(14b), then the r2LMA's IPv6 address (K
// set, Length 18) or IPv4 address (N set, Length 6); alignment 4n. The
// LMA puts it in the PBA to send the MAG to another LMA (the r2LMA). (The
// name avoids a clash with this project's DMM Redirect message.)
//
// K and N follow from Address: an IPv4 address (Is4) encodes with N, any
// other with K, so the two can never disagree with the option length.
// Decoding rejects K and N both set or both clear, and a Length that does
// not match the flag.
type RedirectOption struct {
	// Reserved holds the 14 reserved bits (the low 14 bits of the field;
	// the K and N bits are ignored here).
	Reserved uint16
	Address  netip.Addr
}

// K reports whether the option carries an IPv6 r2LMA address.
func (o *RedirectOption) K() bool { return !o.Address.Is4() }

// N reports whether the option carries an IPv4 r2LMA address.
func (o *RedirectOption) N() bool { return o.Address.Is4() }

func (*RedirectOption) OptionType() OptionType { return OptRedirect }
func (*RedirectOption) Alignment() Alignment   { return Alignment{4, 0} }
func (o *RedirectOption) MarshalLen() int {
	if o.Address.Is4() {
		return 8
	}
	return 20
}
func (o *RedirectOption) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptRedirect, o.MarshalLen()); err != nil {
		return err
	}
	if !o.Address.IsValid() {
		return fmt.Errorf("%w: %s without an r2LMA address", ErrInvalidValue, OptRedirect)
	}
	flags := o.Reserved & 0x3fff
	if o.Address.Is4() {
		be.PutUint16(b[2:], flags|RedirectFlagN)
		a4 := o.Address.As4()
		copy(b[4:8], a4[:])
	} else {
		be.PutUint16(b[2:], flags|RedirectFlagK)
		putAddr16(b[4:20], o.Address)
	}
	return nil
}
func (o *RedirectOption) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *RedirectOption) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptRedirect)
	if err != nil {
		return err
	}
	if len(body) < 2 {
		return lenErr(OptRedirect.String(), len(body), "18 (K) or 6 (N)")
	}
	f := be.Uint16(body)
	switch k, n := f&RedirectFlagK != 0, f&RedirectFlagN != 0; {
	case k && n, !k && !n:
		return fmt.Errorf("%w: %s needs exactly one of K and N, flags %#04x", ErrInvalidValue, OptRedirect, f&0xc000)
	case k && len(body) != 18:
		return lenErr(OptRedirect.String()+" with K", len(body), "18")
	case n && len(body) != 6:
		return lenErr(OptRedirect.String()+" with N", len(body), "6")
	case k:
		o.Address = netip.AddrFrom16([16]byte(body[2:18]))
	default:
		o.Address = netip.AddrFrom4([4]byte(body[2:6]))
	}
	o.Reserved = f & 0x3fff
	return nil
}

// ParseRedirectOption decodes a Redirect option.
func ParseRedirectOption(b []byte) (*RedirectOption, error) {
	o := &RedirectOption{}
	return o, o.UnmarshalBinary(b)
}

// ---- Load Information (48) ----

// LoadInformation is the Load Information option (type 48, RFC 6463
// §4.3): Priority(2), Sessions in Use(4), Maximum Sessions(4), Used
// Capacity(4), Maximum Capacity(4); Length 18; alignment 4n. An LMA may
// put it in any PBA.
type LoadInformation struct {
	Priority        uint16 // lower value = higher priority
	SessionsInUse   uint32
	MaxSessions     uint32
	UsedCapacity    uint32 // kilobytes per second
	MaximumCapacity uint32 // kilobytes per second
}

func (*LoadInformation) OptionType() OptionType { return OptLoadInformation }
func (*LoadInformation) Alignment() Alignment   { return Alignment{4, 0} }
func (*LoadInformation) MarshalLen() int        { return 20 }
func (o *LoadInformation) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptLoadInformation, 20); err != nil {
		return err
	}
	be.PutUint16(b[2:], o.Priority)
	be.PutUint32(b[4:], o.SessionsInUse)
	be.PutUint32(b[8:], o.MaxSessions)
	be.PutUint32(b[12:], o.UsedCapacity)
	be.PutUint32(b[16:], o.MaximumCapacity)
	return nil
}
func (o *LoadInformation) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *LoadInformation) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptLoadInformation)
	if err != nil {
		return err
	}
	if len(body) != 18 {
		return lenErr(OptLoadInformation.String(), len(body), "18")
	}
	o.Priority = be.Uint16(body)
	o.SessionsInUse = be.Uint32(body[2:])
	o.MaxSessions = be.Uint32(body[6:])
	o.UsedCapacity = be.Uint32(body[10:])
	o.MaximumCapacity = be.Uint32(body[14:])
	return nil
}

// ParseLoadInformation decodes a Load Information option.
func ParseLoadInformation(b []byte) (*LoadInformation, error) {
	o := &LoadInformation{}
	return o, o.UnmarshalBinary(b)
}

// ---- Alternate IPv4 Care-of Address (49) ----

// AlternateIPv4CoA is the Alternate IPv4 Care-of Address option (type 49,
// RFC 6463 §4.4): the IPv4 address(4); Length 4; alignment 4n+2 (the
// address then starts on a 4-octet boundary). The IPv4 counterpart of
// the RFC 6275 Alternate CoA; an LMA that implements it echoes it in the
// PBA. An invalid (zero) Address encodes as 0.0.0.0.
type AlternateIPv4CoA struct {
	Address netip.Addr
}

func (*AlternateIPv4CoA) OptionType() OptionType { return OptAlternateIPv4CoA }
func (*AlternateIPv4CoA) Alignment() Alignment   { return Alignment{4, 2} }
func (*AlternateIPv4CoA) MarshalLen() int        { return 6 }
func (o *AlternateIPv4CoA) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptAlternateIPv4CoA, 6); err != nil {
		return err
	}
	return putAddr4Checked(b[2:6], OptAlternateIPv4CoA, o.Address)
}
func (o *AlternateIPv4CoA) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *AlternateIPv4CoA) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptAlternateIPv4CoA)
	if err != nil {
		return err
	}
	if len(body) != 4 {
		return lenErr(OptAlternateIPv4CoA.String(), len(body), "4")
	}
	o.Address = netip.AddrFrom4([4]byte(body))
	return nil
}

// ParseAlternateIPv4CoA decodes an Alternate IPv4 Care-of Address option.
func ParseAlternateIPv4CoA(b []byte) (*AlternateIPv4CoA, error) {
	o := &AlternateIPv4CoA{}
	return o, o.UnmarshalBinary(b)
}
