package mh

import (
	"fmt"
	"net/netip"
)

// IPv4 options of Dual-Stack MIPv6 (RFC 5555 §3.1-§3.2) and of IPv4
// support for Proxy Mobile IPv6 (RFC 5844 §3.3). IPv4 address fields are
// netip.Addr values; decoding gives Is4 addresses, and encoding accepts
// IPv4 or IPv4-mapped IPv6 addresses (the zero Addr is sent as 0.0.0.0).

func init() {
	registerOption(OptIPv4HomeAddress, func() Option { return &IPv4HomeAddress{} })
	registerOption(OptIPv4AddressAck, func() Option { return &IPv4AddressAck{} })
	registerOption(OptNATDetection, func() Option { return &NATDetection{} })
	registerOption(OptIPv4CareOfAddress, func() Option { return &IPv4CareOfAddress{} })
	registerOption(OptIPv4HomeAddressRequest, func() Option { return &IPv4HomeAddressRequest{} })
	registerOption(OptIPv4HomeAddressReply, func() Option { return &IPv4HomeAddressReply{} })
	registerOption(OptIPv4DefaultRouterAddress, func() Option { return &IPv4DefaultRouterAddress{} })
	registerOption(OptIPv4DHCPSupportMode, func() Option { return &IPv4DHCPSupportMode{} })
}

// IPv4AddrStatus is the Status of the IPv4 Address Acknowledgement
// (RFC 5555 §3.2.1) and IPv4 Home Address Reply (RFC 5844 §3.3.2)
// options. Values below 128 mean success.
type IPv4AddrStatus uint8

// IPv4 home address status values (RFC 5844 §3.3.2; 133 only in RFC 5555
// §3.2.1).
const (
	IPv4StatusSuccess             IPv4AddrStatus = 0
	IPv4StatusFailure             IPv4AddrStatus = 128 // reason unspecified
	IPv4StatusAdminProhibited     IPv4AddrStatus = 129
	IPv4StatusIncorrectHoA        IPv4AddrStatus = 130
	IPv4StatusInvalidAddress      IPv4AddrStatus = 131
	IPv4StatusDynamicNotAvailable IPv4AddrStatus = 132
	IPv4StatusPrefixNotAuthorized IPv4AddrStatus = 133 // RFC 5555 only
)

// ipv4StatusNames holds the names of the failure codes from 128 on.
var ipv4StatusNames = [...]string{
	"Failure, reason unspecified", "Administratively prohibited", "Incorrect IPv4 home address",
	"Invalid IPv4 address", "Dynamic IPv4 home address assignment not available",
	"Prefix allocation unauthorized",
}

func (s IPv4AddrStatus) String() string {
	if s == IPv4StatusSuccess {
		return "Success"
	}
	if i := int(s) - 128; i >= 0 && i < len(ipv4StatusNames) {
		return ipv4StatusNames[i]
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Success reports whether s means success (< 128).
func (s IPv4AddrStatus) Success() bool { return s < 128 }

// putIPv4Field writes an IPv4 address into b[:4].
func putIPv4Field(b []byte, t OptionType, a netip.Addr) error {
	switch {
	case !a.IsValid():
		clear(b[:4])
		return nil
	case a.Is4() || a.Is4In6():
		a4 := a.Unmap().As4()
		copy(b, a4[:])
		return nil
	}
	return fmt.Errorf("%w: %s: %s is not an IPv4 address", ErrInvalidValue, t, a)
}

// putIPv4Opt6 encodes the layout shared by the RFC 5555 / RFC 5844 address
// options: Type, Length 6, two octets x y, IPv4 address(4); 8 octets.
func putIPv4Opt6(b []byte, t OptionType, x, y uint8, a netip.Addr) error {
	if err := putOptHeader(b, t, 8); err != nil {
		return err
	}
	b[2], b[3] = x, y
	return putIPv4Field(b[4:8], t, a)
}

// getIPv4Opt6 decodes the layout of putIPv4Opt6.
func getIPv4Opt6(b []byte, t OptionType) (x, y uint8, a netip.Addr, err error) {
	body, err := fixedOptBody(b, t, 6)
	if err != nil {
		return 0, 0, netip.Addr{}, err
	}
	return body[0], body[1], netip.AddrFrom4([4]byte(body[2:6])), nil
}

func checkIPv4Plen(t OptionType, plen uint8) error {
	if plen > 32 {
		return fmt.Errorf("%w: %s prefix length %d > 32", ErrInvalidValue, t, plen)
	}
	return nil
}

// ---- IPv4 Home Address (29) ----

// IPv4HomeAddress is the IPv4 Home Address option of DSMIPv6 (type 29,
// RFC 5555 §3.1.1): Prefix-len(6 bits), P(1 bit), Reserved(9 bits),
// IPv4 home address(4); Length 6, alignment 4n.
type IPv4HomeAddress struct {
	PrefixLength uint8  // 6 bits, 0-32
	P            bool   // the MN requests a mobile network prefix
	Reserved     uint16 // 9 bits, kept as received
	Address      netip.Addr
}

func (*IPv4HomeAddress) OptionType() OptionType { return OptIPv4HomeAddress }
func (*IPv4HomeAddress) Alignment() Alignment   { return Alignment{4, 0} }
func (*IPv4HomeAddress) MarshalLen() int        { return 8 }
func (o *IPv4HomeAddress) MarshalTo(b []byte) error {
	if err := checkIPv4Plen(OptIPv4HomeAddress, o.PrefixLength); err != nil {
		return err
	}
	if o.Reserved > 0x1ff {
		return fmt.Errorf("%w: %s reserved %#x exceeds 9 bits", ErrInvalidValue, OptIPv4HomeAddress, o.Reserved)
	}
	x := o.PrefixLength<<2 | uint8(o.Reserved>>8)
	if o.P {
		x |= 0x02
	}
	return putIPv4Opt6(b, OptIPv4HomeAddress, x, uint8(o.Reserved), o.Address)
}
func (o *IPv4HomeAddress) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *IPv4HomeAddress) UnmarshalBinary(b []byte) error {
	x, y, a, err := getIPv4Opt6(b, OptIPv4HomeAddress)
	if err != nil {
		return err
	}
	if err := checkIPv4Plen(OptIPv4HomeAddress, x>>2); err != nil {
		return err
	}
	o.PrefixLength, o.P, o.Reserved, o.Address = x>>2, x&0x02 != 0, uint16(x&0x01)<<8|uint16(y), a
	return nil
}

// ParseIPv4HomeAddress decodes an IPv4 Home Address option.
func ParseIPv4HomeAddress(b []byte) (*IPv4HomeAddress, error) {
	o := &IPv4HomeAddress{}
	return o, o.UnmarshalBinary(b)
}

// ---- IPv4 Address Acknowledgement (30) ----

// IPv4AddressAck is the IPv4 Address Acknowledgement option of DSMIPv6
// (type 30, RFC 5555 §3.2.1): Status(1), Pref-len(6 bits), Reserved(2
// bits), IPv4 home address(4); Length 6, alignment 4n.
type IPv4AddressAck struct {
	Status       IPv4AddrStatus
	PrefixLength uint8 // 6 bits, 0-32
	Reserved     uint8 // 2 bits, kept as received
	Address      netip.Addr
}

func (*IPv4AddressAck) OptionType() OptionType { return OptIPv4AddressAck }
func (*IPv4AddressAck) Alignment() Alignment   { return Alignment{4, 0} }
func (*IPv4AddressAck) MarshalLen() int        { return 8 }
func (o *IPv4AddressAck) MarshalTo(b []byte) error {
	y, err := plenRes2(OptIPv4AddressAck, o.PrefixLength, o.Reserved)
	if err != nil {
		return err
	}
	return putIPv4Opt6(b, OptIPv4AddressAck, uint8(o.Status), y, o.Address)
}
func (o *IPv4AddressAck) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *IPv4AddressAck) UnmarshalBinary(b []byte) error {
	x, y, a, err := getIPv4Opt6(b, OptIPv4AddressAck)
	if err != nil {
		return err
	}
	if err := checkIPv4Plen(OptIPv4AddressAck, y>>2); err != nil {
		return err
	}
	o.Status, o.PrefixLength, o.Reserved, o.Address = IPv4AddrStatus(x), y>>2, y&0x03, a
	return nil
}

// ParseIPv4AddressAck decodes an IPv4 Address Acknowledgement option.
func ParseIPv4AddressAck(b []byte) (*IPv4AddressAck, error) {
	o := &IPv4AddressAck{}
	return o, o.UnmarshalBinary(b)
}

// plenRes2 packs a 6-bit prefix length and 2 reserved bits into an octet.
func plenRes2(t OptionType, plen, res uint8) (uint8, error) {
	if err := checkIPv4Plen(t, plen); err != nil {
		return 0, err
	}
	if res > 3 {
		return 0, fmt.Errorf("%w: %s reserved %#x exceeds 2 bits", ErrInvalidValue, t, res)
	}
	return plen<<2 | res, nil
}

// ---- NAT Detection (31) ----

// NATDetection is the NAT Detection option of DSMIPv6 (type 31, RFC 5555
// §3.2.2): F flag(1 bit), Reserved(15 bits), Refresh time(4, seconds);
// Length 6, alignment 4n.
type NATDetection struct {
	F           bool   // UDP encapsulation is forced / a NAT was detected
	Reserved    uint16 // 15 bits, kept as received
	RefreshTime uint32 // seconds
}

func (*NATDetection) OptionType() OptionType { return OptNATDetection }
func (*NATDetection) Alignment() Alignment   { return Alignment{4, 0} }
func (*NATDetection) MarshalLen() int        { return 8 }
func (o *NATDetection) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptNATDetection, 8); err != nil {
		return err
	}
	if o.Reserved > 0x7fff {
		return fmt.Errorf("%w: %s reserved %#x exceeds 15 bits", ErrInvalidValue, OptNATDetection, o.Reserved)
	}
	v := o.Reserved
	if o.F {
		v |= 0x8000
	}
	be.PutUint16(b[2:], v)
	be.PutUint32(b[4:], o.RefreshTime)
	return nil
}
func (o *NATDetection) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *NATDetection) UnmarshalBinary(b []byte) error {
	body, err := fixedOptBody(b, OptNATDetection, 6)
	if err != nil {
		return err
	}
	v := be.Uint16(body)
	o.F, o.Reserved, o.RefreshTime = v&0x8000 != 0, v&0x7fff, be.Uint32(body[2:])
	return nil
}

// ParseNATDetection decodes a NAT Detection option.
func ParseNATDetection(b []byte) (*NATDetection, error) {
	o := &NATDetection{}
	return o, o.UnmarshalBinary(b)
}

// ---- IPv4 Care-of Address (32) ----

// IPv4CareOfAddress is the IPv4 Care-of Address option (type 32, RFC 5555
// §3.1.2): Reserved(2), IPv4 care-of address(4); Length 6, alignment 4n.
// PMIPv6 over IPv4 transport uses it for the IPv4-Proxy-CoA (RFC 5844).
type IPv4CareOfAddress struct {
	Reserved uint16
	Address  netip.Addr
}

func (*IPv4CareOfAddress) OptionType() OptionType { return OptIPv4CareOfAddress }
func (*IPv4CareOfAddress) Alignment() Alignment   { return Alignment{4, 0} }
func (*IPv4CareOfAddress) MarshalLen() int        { return 8 }
func (o *IPv4CareOfAddress) MarshalTo(b []byte) error {
	return putIPv4Opt6(b, OptIPv4CareOfAddress, uint8(o.Reserved>>8), uint8(o.Reserved), o.Address)
}
func (o *IPv4CareOfAddress) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *IPv4CareOfAddress) UnmarshalBinary(b []byte) error {
	x, y, a, err := getIPv4Opt6(b, OptIPv4CareOfAddress)
	if err != nil {
		return err
	}
	o.Reserved, o.Address = uint16(x)<<8|uint16(y), a
	return nil
}

// ParseIPv4CareOfAddress decodes an IPv4 Care-of Address option.
func ParseIPv4CareOfAddress(b []byte) (*IPv4CareOfAddress, error) {
	o := &IPv4CareOfAddress{}
	return o, o.UnmarshalBinary(b)
}

// ---- IPv4 Home Address Request (36) ----

// IPv4HomeAddressRequest is the IPv4 Home Address Request option (type
// 36, RFC 5844 §3.3.1): Prefix-len(6 bits), Reserved(10 bits), IPv4 home
// address(4); Length 6, alignment 4n. The address 0.0.0.0 asks the LMA to
// allocate one.
type IPv4HomeAddressRequest struct {
	PrefixLength uint8  // 6 bits, 0-32
	Reserved     uint16 // 10 bits, kept as received
	Address      netip.Addr
}

// NewIPv4HomeAddressRequest returns a request for p; use
// netip.PrefixFrom(netip.IPv4Unspecified(), 0) to ask for allocation.
func NewIPv4HomeAddressRequest(p netip.Prefix) *IPv4HomeAddressRequest {
	return &IPv4HomeAddressRequest{PrefixLength: uint8(p.Bits()), Address: p.Addr()}
}

// AsPrefix returns Address/PrefixLength.
func (o *IPv4HomeAddressRequest) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Address, int(o.PrefixLength))
}

func (*IPv4HomeAddressRequest) OptionType() OptionType { return OptIPv4HomeAddressRequest }
func (*IPv4HomeAddressRequest) Alignment() Alignment   { return Alignment{4, 0} }
func (*IPv4HomeAddressRequest) MarshalLen() int        { return 8 }
func (o *IPv4HomeAddressRequest) MarshalTo(b []byte) error {
	if err := checkIPv4Plen(OptIPv4HomeAddressRequest, o.PrefixLength); err != nil {
		return err
	}
	if o.Reserved > 0x3ff {
		return fmt.Errorf("%w: %s reserved %#x exceeds 10 bits", ErrInvalidValue, OptIPv4HomeAddressRequest, o.Reserved)
	}
	return putIPv4Opt6(b, OptIPv4HomeAddressRequest, o.PrefixLength<<2|uint8(o.Reserved>>8), uint8(o.Reserved), o.Address)
}
func (o *IPv4HomeAddressRequest) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *IPv4HomeAddressRequest) UnmarshalBinary(b []byte) error {
	x, y, a, err := getIPv4Opt6(b, OptIPv4HomeAddressRequest)
	if err != nil {
		return err
	}
	if err := checkIPv4Plen(OptIPv4HomeAddressRequest, x>>2); err != nil {
		return err
	}
	o.PrefixLength, o.Reserved, o.Address = x>>2, uint16(x&0x03)<<8|uint16(y), a
	return nil
}

// ParseIPv4HomeAddressRequest decodes an IPv4 Home Address Request option.
func ParseIPv4HomeAddressRequest(b []byte) (*IPv4HomeAddressRequest, error) {
	o := &IPv4HomeAddressRequest{}
	return o, o.UnmarshalBinary(b)
}

// ---- IPv4 Home Address Reply (37) ----

// IPv4HomeAddressReply is the IPv4 Home Address Reply option (type 37,
// RFC 5844 §3.3.2): Status(1), Pref-len(6 bits), Reserved(2 bits), IPv4
// home address(4); Length 6, alignment 4n. Status names are those of
// RFC 5844 §3.3.2 (not Wireshark's).
type IPv4HomeAddressReply struct {
	Status       IPv4AddrStatus
	PrefixLength uint8 // 6 bits, 0-32
	Reserved     uint8 // 2 bits, kept as received
	Address      netip.Addr
}

// AsPrefix returns Address/PrefixLength.
func (o *IPv4HomeAddressReply) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Address, int(o.PrefixLength))
}

func (*IPv4HomeAddressReply) OptionType() OptionType { return OptIPv4HomeAddressReply }
func (*IPv4HomeAddressReply) Alignment() Alignment   { return Alignment{4, 0} }
func (*IPv4HomeAddressReply) MarshalLen() int        { return 8 }
func (o *IPv4HomeAddressReply) MarshalTo(b []byte) error {
	y, err := plenRes2(OptIPv4HomeAddressReply, o.PrefixLength, o.Reserved)
	if err != nil {
		return err
	}
	return putIPv4Opt6(b, OptIPv4HomeAddressReply, uint8(o.Status), y, o.Address)
}
func (o *IPv4HomeAddressReply) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *IPv4HomeAddressReply) UnmarshalBinary(b []byte) error {
	x, y, a, err := getIPv4Opt6(b, OptIPv4HomeAddressReply)
	if err != nil {
		return err
	}
	if err := checkIPv4Plen(OptIPv4HomeAddressReply, y>>2); err != nil {
		return err
	}
	o.Status, o.PrefixLength, o.Reserved, o.Address = IPv4AddrStatus(x), y>>2, y&0x03, a
	return nil
}

// ParseIPv4HomeAddressReply decodes an IPv4 Home Address Reply option.
func ParseIPv4HomeAddressReply(b []byte) (*IPv4HomeAddressReply, error) {
	o := &IPv4HomeAddressReply{}
	return o, o.UnmarshalBinary(b)
}

// ---- IPv4 Default-Router Address (38) ----

// IPv4DefaultRouterAddress is the IPv4 Default-Router Address option
// (type 38, RFC 5844 §3.3.3): Reserved(2), IPv4 default-router
// address(4); Length 6, alignment 4n.
type IPv4DefaultRouterAddress struct {
	Reserved uint16
	Address  netip.Addr
}

func (*IPv4DefaultRouterAddress) OptionType() OptionType { return OptIPv4DefaultRouterAddress }
func (*IPv4DefaultRouterAddress) Alignment() Alignment   { return Alignment{4, 0} }
func (*IPv4DefaultRouterAddress) MarshalLen() int        { return 8 }
func (o *IPv4DefaultRouterAddress) MarshalTo(b []byte) error {
	return putIPv4Opt6(b, OptIPv4DefaultRouterAddress, uint8(o.Reserved>>8), uint8(o.Reserved), o.Address)
}
func (o *IPv4DefaultRouterAddress) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *IPv4DefaultRouterAddress) UnmarshalBinary(b []byte) error {
	x, y, a, err := getIPv4Opt6(b, OptIPv4DefaultRouterAddress)
	if err != nil {
		return err
	}
	o.Reserved, o.Address = uint16(x)<<8|uint16(y), a
	return nil
}

// ParseIPv4DefaultRouterAddress decodes an IPv4 Default-Router Address option.
func ParseIPv4DefaultRouterAddress(b []byte) (*IPv4DefaultRouterAddress, error) {
	o := &IPv4DefaultRouterAddress{}
	return o, o.UnmarshalBinary(b)
}

// ---- IPv4 DHCP Support Mode (39) ----

// IPv4DHCPSupportMode is the IPv4 DHCP Support Mode option (type 39,
// RFC 5844 §3.3.4): Reserved(15 bits) then S as the last bit; Length 2,
// no alignment requirement.
type IPv4DHCPSupportMode struct {
	Reserved uint16 // 15 bits, kept as received
	// S set: the MAG acts as a DHCP server; clear: as a DHCP relay.
	S bool
}

func (*IPv4DHCPSupportMode) OptionType() OptionType { return OptIPv4DHCPSupportMode }
func (*IPv4DHCPSupportMode) Alignment() Alignment   { return NoAlignment }
func (*IPv4DHCPSupportMode) MarshalLen() int        { return 4 }
func (o *IPv4DHCPSupportMode) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptIPv4DHCPSupportMode, 4); err != nil {
		return err
	}
	if o.Reserved > 0x7fff {
		return fmt.Errorf("%w: %s reserved %#x exceeds 15 bits", ErrInvalidValue, OptIPv4DHCPSupportMode, o.Reserved)
	}
	v := o.Reserved << 1
	if o.S {
		v |= 1
	}
	be.PutUint16(b[2:], v)
	return nil
}
func (o *IPv4DHCPSupportMode) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *IPv4DHCPSupportMode) UnmarshalBinary(b []byte) error {
	body, err := fixedOptBody(b, OptIPv4DHCPSupportMode, 2)
	if err != nil {
		return err
	}
	v := be.Uint16(body)
	o.Reserved, o.S = v>>1, v&1 != 0
	return nil
}

// ParseIPv4DHCPSupportMode decodes an IPv4 DHCP Support Mode option.
func ParseIPv4DHCPSupportMode(b []byte) (*IPv4DHCPSupportMode, error) {
	o := &IPv4DHCPSupportMode{}
	return o, o.UnmarshalBinary(b)
}
