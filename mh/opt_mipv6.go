package mh

import (
	"fmt"
	"net/netip"
	"time"
)

// Options of Mobile IPv6 (RFC 6275 §6.2.4-§6.2.7), NEMO (RFC 3963),
// FMIPv6 (RFC 5568 §6.4) and multiple care-of addresses (RFC 5648).

func init() {
	registerOption(OptBindingRefreshAdvice, func() Option { return &BindingRefreshAdvice{} })
	registerOption(OptAlternateCoA, func() Option { return &AlternateCoA{} })
	registerOption(OptNonceIndices, func() Option { return &NonceIndices{} })
	registerOption(OptAuthorizationData, func() Option { return &BindingAuthData{} })
	registerOption(OptMobileNetworkPrefix, func() Option { return &MobileNetworkPrefix{} })
	registerOption(OptLinkLayerAddress, func() Option { return &MHLinkLayerAddress{} })
	registerOption(OptMHIPv6AddressPrefix, func() Option { return &MHIPv6AddressPrefix{} })
	registerOption(OptBindingIdentifier, func() Option { return &BindingIdentifier{} })
}

// ---- Binding Refresh Advice (2) ----

// BindingRefreshAdvice is the Binding Refresh Advice option (type 2,
// RFC 6275 §6.2.4): Length 2, alignment 2n. It is valid only in a Binding
// Acknowledgement from a home agent.
type BindingRefreshAdvice struct {
	// RefreshInterval is in units of 4 seconds.
	RefreshInterval uint16
}

// Interval returns the refresh interval as a duration.
func (o *BindingRefreshAdvice) Interval() time.Duration {
	return time.Duration(o.RefreshInterval) * 4 * time.Second
}

func (*BindingRefreshAdvice) OptionType() OptionType { return OptBindingRefreshAdvice }
func (*BindingRefreshAdvice) Alignment() Alignment   { return Alignment{2, 0} }
func (*BindingRefreshAdvice) MarshalLen() int        { return 4 }
func (o *BindingRefreshAdvice) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptBindingRefreshAdvice, 4); err != nil {
		return err
	}
	be.PutUint16(b[2:], o.RefreshInterval)
	return nil
}
func (o *BindingRefreshAdvice) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *BindingRefreshAdvice) UnmarshalBinary(b []byte) error {
	body, err := fixedOptBody(b, OptBindingRefreshAdvice, 2)
	if err != nil {
		return err
	}
	o.RefreshInterval = be.Uint16(body)
	return nil
}

// ParseBindingRefreshAdvice decodes a Binding Refresh Advice option.
func ParseBindingRefreshAdvice(b []byte) (*BindingRefreshAdvice, error) {
	o := &BindingRefreshAdvice{}
	return o, o.UnmarshalBinary(b)
}

// fixedOptBody checks the option header and that the body is exactly n octets.
func fixedOptBody(b []byte, t OptionType, n int) ([]byte, error) {
	body, err := optHeader(b, t)
	if err != nil {
		return nil, err
	}
	if len(body) != n {
		return nil, lenErr(t.String(), len(body), fmt.Sprint(n))
	}
	return body, nil
}

// ---- Alternate Care-of Address (3) ----

// AlternateCoA is the Alternate Care-of Address option (type 3, RFC 6275
// §6.2.5): Length 16, alignment 8n+6. In a PBU its address is the
// Proxy-CoA (RFC 5213 §6.9.1.5); in a BRI it names the Proxy-CoA whose
// bindings are revoked (RFC 5846 §5.1).
type AlternateCoA struct {
	Address netip.Addr // 16 octets on the wire
}

func (*AlternateCoA) OptionType() OptionType { return OptAlternateCoA }
func (*AlternateCoA) Alignment() Alignment   { return Alignment{8, 6} }
func (*AlternateCoA) MarshalLen() int        { return 18 }
func (o *AlternateCoA) MarshalTo(b []byte) error {
	return putAddrOpt(b, OptAlternateCoA, o.Address)
}
func (o *AlternateCoA) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *AlternateCoA) UnmarshalBinary(b []byte) error {
	var err error
	o.Address, err = getAddrOpt(b, OptAlternateCoA)
	return err
}

// ParseAlternateCoA decodes an Alternate Care-of Address option.
func ParseAlternateCoA(b []byte) (*AlternateCoA, error) {
	o := &AlternateCoA{}
	return o, o.UnmarshalBinary(b)
}

// ---- Nonce Indices (4) ----

// NonceIndices is the Nonce Indices option (type 4, RFC 6275 §6.2.6):
// Length 4, alignment 2n.
type NonceIndices struct {
	HomeNonceIndex   uint16
	CareOfNonceIndex uint16
}

func (*NonceIndices) OptionType() OptionType { return OptNonceIndices }
func (*NonceIndices) Alignment() Alignment   { return Alignment{2, 0} }
func (*NonceIndices) MarshalLen() int        { return 6 }
func (o *NonceIndices) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptNonceIndices, 6); err != nil {
		return err
	}
	be.PutUint16(b[2:], o.HomeNonceIndex)
	be.PutUint16(b[4:], o.CareOfNonceIndex)
	return nil
}
func (o *NonceIndices) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *NonceIndices) UnmarshalBinary(b []byte) error {
	body, err := fixedOptBody(b, OptNonceIndices, 4)
	if err != nil {
		return err
	}
	o.HomeNonceIndex, o.CareOfNonceIndex = be.Uint16(body), be.Uint16(body[2:])
	return nil
}

// ParseNonceIndices decodes a Nonce Indices option.
func ParseNonceIndices(b []byte) (*NonceIndices, error) {
	o := &NonceIndices{}
	return o, o.UnmarshalBinary(b)
}

// ---- Binding Authorization Data (5) ----

// BindingAuthData is the Binding Authorization Data option (type 5,
// RFC 6275 §6.2.7). The Length octet is the length of the Authenticator
// (96 bits for the return routability procedure).
//
// The option MUST be the last mobility option of the message. It has no
// alignment requirement as such; Alignment returns the implicit 8n+2 that
// follows from that rule, so that a 12-octet Authenticator ends exactly on
// the 8-octet boundary of the Mobility Header with no trailing padding.
// Decoding does not check the position; that is RFC validation's job.
type BindingAuthData struct {
	Authenticator []byte
}

func (*BindingAuthData) OptionType() OptionType { return OptAuthorizationData }
func (*BindingAuthData) Alignment() Alignment   { return Alignment{8, 2} }
func (o *BindingAuthData) MarshalLen() int      { return 2 + len(o.Authenticator) }
func (o *BindingAuthData) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptAuthorizationData, o.MarshalLen()); err != nil {
		return err
	}
	copy(b[2:], o.Authenticator)
	return nil
}
func (o *BindingAuthData) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *BindingAuthData) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptAuthorizationData)
	if err != nil {
		return err
	}
	o.Authenticator = append(o.Authenticator[:0], body...)
	return nil
}

// ParseBindingAuthData decodes a Binding Authorization Data option.
func ParseBindingAuthData(b []byte) (*BindingAuthData, error) {
	o := &BindingAuthData{}
	return o, o.UnmarshalBinary(b)
}

// ---- Mobile Network Prefix (6) ----

// MobileNetworkPrefix is the Mobile Network Prefix option (type 6,
// RFC 3963 §6.2): the layout of the Home Network Prefix option, Reserved(1)
// Prefix Length(1) Prefix(16), Length 18, alignment 8n+4.
type MobileNetworkPrefix struct {
	Reserved     uint8
	PrefixLength uint8
	Prefix       netip.Addr // always 16 octets on the wire
}

// NewMNP returns a Mobile Network Prefix option for p.
func NewMNP(p netip.Prefix) *MobileNetworkPrefix {
	return &MobileNetworkPrefix{PrefixLength: uint8(p.Bits()), Prefix: p.Addr()}
}

// AsPrefix returns the option's prefix (bits past PrefixLength as received).
func (o *MobileNetworkPrefix) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Prefix, int(o.PrefixLength))
}

func (*MobileNetworkPrefix) OptionType() OptionType { return OptMobileNetworkPrefix }
func (*MobileNetworkPrefix) Alignment() Alignment   { return Alignment{8, 4} }
func (*MobileNetworkPrefix) MarshalLen() int        { return 20 }
func (o *MobileNetworkPrefix) MarshalTo(b []byte) error {
	return putPrefixOpt(b, OptMobileNetworkPrefix, o.Reserved, o.PrefixLength, o.Prefix)
}
func (o *MobileNetworkPrefix) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *MobileNetworkPrefix) UnmarshalBinary(b []byte) error {
	var err error
	o.Reserved, o.PrefixLength, o.Prefix, err = getPrefixOpt(b, OptMobileNetworkPrefix)
	return err
}

// ParseMobileNetworkPrefix decodes a Mobile Network Prefix option.
func ParseMobileNetworkPrefix(b []byte) (*MobileNetworkPrefix, error) {
	o := &MobileNetworkPrefix{}
	return o, o.UnmarshalBinary(b)
}

// ---- Mobility Header Link-Layer Address (7) ----

// LLACode is the Option-Code of the FMIPv6 Link-Layer Address options
// (RFC 5568 §6.4.3).
type LLACode uint8

// LLA option codes (RFC 5568 §6.4.3). The MH-LLA option carries 2.
const (
	LLACodeWildcard       LLACode = 0 // wildcard: all nearby access points
	LLACodeNewAP          LLACode = 1 // LLA of the new access point
	LLACodeMN             LLACode = 2 // LLA of the MN
	LLACodeNAR            LLACode = 3 // LLA of the NAR (proxied originator)
	LLACodeSource         LLACode = 4 // LLA of the source of RtSolPr or PrRtAdv
	LLACodeCurrentIface   LLACode = 5 // AP belongs to the router's current interface
	LLACodeNoPrefix       LLACode = 6 // no prefix information for the AP
	LLACodeNoFastHandover LLACode = 7 // no fast handover support for the AP
)

var llaCodeNames = [...]string{"Wildcard", "New Access Point", "Mobile Node", "NAR",
	"Source of RtSolPr or PrRtAdv", "AP on current interface", "No prefix information",
	"No fast handover support"}

func (c LLACode) String() string {
	if int(c) < len(llaCodeNames) {
		return llaCodeNames[c]
	}
	return fmt.Sprintf("LLA code %d", uint8(c))
}

// MHLinkLayerAddress is the Mobility Header Link-Layer Address option
// (type 7, RFC 5568 §6.4.4): Option-Code(1) then the link-layer address,
// whose length is the option's (the Length octet counts Option-Code and
// LLA). No alignment requirement.
type MHLinkLayerAddress struct {
	OptionCode LLACode
	LLA        []byte
}

func (*MHLinkLayerAddress) OptionType() OptionType { return OptLinkLayerAddress }
func (*MHLinkLayerAddress) Alignment() Alignment   { return NoAlignment }
func (o *MHLinkLayerAddress) MarshalLen() int      { return 3 + len(o.LLA) }
func (o *MHLinkLayerAddress) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptLinkLayerAddress, o.MarshalLen()); err != nil {
		return err
	}
	b[2] = byte(o.OptionCode)
	copy(b[3:], o.LLA)
	return nil
}
func (o *MHLinkLayerAddress) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *MHLinkLayerAddress) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptLinkLayerAddress)
	if err != nil {
		return err
	}
	if len(body) < 1 {
		return lenErr(OptLinkLayerAddress.String(), len(body), "at least 1 (Option-Code)")
	}
	o.OptionCode = LLACode(body[0])
	o.LLA = append(o.LLA[:0], body[1:]...)
	return nil
}

// ParseMHLinkLayerAddress decodes a Mobility Header Link-Layer Address option.
func ParseMHLinkLayerAddress(b []byte) (*MHLinkLayerAddress, error) {
	o := &MHLinkLayerAddress{}
	return o, o.UnmarshalBinary(b)
}

// ---- Mobility Header IPv6 Address/Prefix (34) ----

// AddrPrefixCode is the Option-Code of the Mobility Header IPv6
// Address/Prefix option (RFC 5568 §6.4.2).
type AddrPrefixCode uint8

// Mobility Header IPv6 Address/Prefix option codes (RFC 5568 §6.4.2).
const (
	APCodeOldCoA     AddrPrefixCode = 1 // Old Care-of Address
	APCodeNewCoA     AddrPrefixCode = 2 // New Care-of Address
	APCodeNARAddress AddrPrefixCode = 3 // NAR's IP address
	APCodeNARPrefix  AddrPrefixCode = 4 // NAR's prefix
)

var apCodeNames = [...]string{"", "Old Care-of Address", "New Care-of Address", "NAR's IP address", "NAR's Prefix"}

func (c AddrPrefixCode) String() string {
	if c > 0 && int(c) < len(apCodeNames) {
		return apCodeNames[c]
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// MHIPv6AddressPrefix is the Mobility Header IPv6 Address/Prefix option
// (type 34, RFC 5568 §6.4.2): Option-Code(1), Prefix Length(1),
// IPv6 Address/Prefix(16); Length 18, alignment 8n+4.
type MHIPv6AddressPrefix struct {
	OptionCode   AddrPrefixCode
	PrefixLength uint8      // 0-128
	Address      netip.Addr // always 16 octets on the wire
}

// AsPrefix returns Address/PrefixLength.
func (o *MHIPv6AddressPrefix) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Address, int(o.PrefixLength))
}

func (*MHIPv6AddressPrefix) OptionType() OptionType { return OptMHIPv6AddressPrefix }
func (*MHIPv6AddressPrefix) Alignment() Alignment   { return Alignment{8, 4} }
func (*MHIPv6AddressPrefix) MarshalLen() int        { return 20 }
func (o *MHIPv6AddressPrefix) MarshalTo(b []byte) error {
	return putPrefixOpt(b, OptMHIPv6AddressPrefix, uint8(o.OptionCode), o.PrefixLength, o.Address)
}
func (o *MHIPv6AddressPrefix) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *MHIPv6AddressPrefix) UnmarshalBinary(b []byte) error {
	code, plen, a, err := getPrefixOpt(b, OptMHIPv6AddressPrefix)
	o.OptionCode, o.PrefixLength, o.Address = AddrPrefixCode(code), plen, a
	return err
}

// ParseMHIPv6AddressPrefix decodes a Mobility Header IPv6 Address/Prefix option.
func ParseMHIPv6AddressPrefix(b []byte) (*MHIPv6AddressPrefix, error) {
	o := &MHIPv6AddressPrefix{}
	return o, o.UnmarshalBinary(b)
}

// ---- Binding Identifier (35) ----

// BindingIdentifier is the Binding Identifier option (type 35, RFC 5648
// §6.1, with the BID-PRI field of RFC 6089 §4.1): BID(2), Status(1),
// H flag(1 bit) + BID-PRI(7 bits), then an optional IPv4 (4 octets) or
// IPv6 (16 octets) care-of address. Length is 4, 8 or 20; alignment 2n.
type BindingIdentifier struct {
	BID    uint16
	Status Status // in a BA, overrides the BA Status for this BID
	H      bool   // simultaneous home and foreign binding
	// Priority is the 7-bit BID-PRI (RFC 6089); 0-127.
	Priority uint8
	// CareOf is the care-of address; the zero Addr means none (Length 4).
	// An IPv4 address (Is4) is sent in 4 octets, any other in 16.
	CareOf netip.Addr
}

func (*BindingIdentifier) OptionType() OptionType { return OptBindingIdentifier }
func (*BindingIdentifier) Alignment() Alignment   { return Alignment{2, 0} }
func (o *BindingIdentifier) MarshalLen() int {
	switch {
	case !o.CareOf.IsValid():
		return 6
	case o.CareOf.Is4():
		return 10
	}
	return 22
}
func (o *BindingIdentifier) MarshalTo(b []byte) error {
	n := o.MarshalLen()
	if err := putOptHeader(b, OptBindingIdentifier, n); err != nil {
		return err
	}
	if o.Priority > 0x7f {
		return fmt.Errorf("%w: %s BID-PRI %d > 127", ErrInvalidValue, OptBindingIdentifier, o.Priority)
	}
	be.PutUint16(b[2:], o.BID)
	b[4] = byte(o.Status)
	b[5] = o.Priority
	if o.H {
		b[5] |= 0x80
	}
	switch n {
	case 10:
		a4 := o.CareOf.As4()
		copy(b[6:10], a4[:])
	case 22:
		putAddr16(b[6:22], o.CareOf)
	}
	return nil
}
func (o *BindingIdentifier) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *BindingIdentifier) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptBindingIdentifier)
	if err != nil {
		return err
	}
	switch len(body) {
	case 4:
		o.CareOf = netip.Addr{}
	case 8:
		o.CareOf = netip.AddrFrom4([4]byte(body[4:8]))
	case 20:
		o.CareOf = netip.AddrFrom16([16]byte(body[4:20]))
	default:
		return lenErr(OptBindingIdentifier.String(), len(body), "4, 8 or 20")
	}
	o.BID = be.Uint16(body)
	o.Status = Status(body[2])
	o.H = body[3]&0x80 != 0
	o.Priority = body[3] & 0x7f
	return nil
}

// ParseBindingIdentifier decodes a Binding Identifier option.
func ParseBindingIdentifier(b []byte) (*BindingIdentifier, error) {
	o := &BindingIdentifier{}
	return o, o.UnmarshalBinary(b)
}
