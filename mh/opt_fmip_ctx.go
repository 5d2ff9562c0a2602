package mh

import (
	"fmt"
	"net/netip"
)

// Options defined by RFC 5949 §6.2.1-§6.2.3 (fast handovers for PMIPv6:
// context transfer between the previous and the new MAG in HI/HAck).
//
// RFC 5949 states no alignment requirement for these options (see
// reference/protocol-facts.md §1.4, unconfirmed item 3). This package
// picks, per RFC 6275 §6.2.1's rule that n-octet fields should sit on
// n-octet boundaries: none for Context Request (one-octet fields only),
// 8n+4 for an IPv6 LMA Address and for MN LLA-IID (the 16-octet address
// and the 8-octet IID then start on an 8-octet boundary), 4n for an IPv4
// LMA Address.

func init() {
	registerOption(OptContextRequest, func() Option { return &ContextRequest{} })
	registerOption(OptLMAAddress, func() Option { return &LMAAddress{} })
	registerOption(OptMNLinkLocalAddressIID, func() Option { return &MNLinkLocalAddressIID{} })
}

// ---- Context Request (40) ----

// ContextRequestEntry is one requested context in a Context Request
// option: Req-type-n(1), Req-length-n(1), Req-option-n(Req-length-n).
type ContextRequestEntry struct {
	// Type is the option type of the requested context (Req-type-n),
	// e.g. OptHomeNetworkPrefix.
	Type OptionType
	// Option is the data that identifies the requested context
	// (Req-option-n); empty (Req-length-n = 0) when the type alone is
	// enough. For a Vendor-Specific request it is Vendor-ID(4) and
	// Sub-Type(1) (RFC 5949 §6.2.1).
	Option []byte
}

// ContextRequest is the Context Request option (type 40, RFC 5949
// §6.2.1): Reserved(2), then one entry per requested context. Sent in an
// HI; the HAck should carry every requested context. When absent, the
// default request is HNP, plus MN Link-layer ID where the link has one.
//
// Alignment: none (RFC 5949 states none; every field is one octet and
// Req-option is opaque).
type ContextRequest struct {
	Reserved uint16
	Requests []ContextRequestEntry
}

// NewContextRequest returns a Context Request option asking for the
// given option types, each with Req-length 0.
func NewContextRequest(types ...OptionType) *ContextRequest {
	o := &ContextRequest{Requests: make([]ContextRequestEntry, len(types))}
	for i, t := range types {
		o.Requests[i].Type = t
	}
	return o
}

// Requested reports whether the option requests the context of type t.
func (o *ContextRequest) Requested(t OptionType) bool {
	for i := range o.Requests {
		if o.Requests[i].Type == t {
			return true
		}
	}
	return false
}

func (*ContextRequest) OptionType() OptionType { return OptContextRequest }
func (*ContextRequest) Alignment() Alignment   { return NoAlignment }
func (o *ContextRequest) MarshalLen() int {
	n := 4
	for i := range o.Requests {
		n += 2 + len(o.Requests[i].Option)
	}
	return n
}
func (o *ContextRequest) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptContextRequest, o.MarshalLen()); err != nil {
		return err
	}
	be.PutUint16(b[2:], o.Reserved)
	off := 4
	for i := range o.Requests {
		r := &o.Requests[i]
		if len(r.Option) > 255 {
			return fmt.Errorf("%w: Context Request entry %d: Req-option of %d octets exceeds 255", ErrInvalidValue, i, len(r.Option))
		}
		b[off], b[off+1] = byte(r.Type), byte(len(r.Option))
		off += 2 + copy(b[off+2:], r.Option)
	}
	return nil
}
func (o *ContextRequest) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *ContextRequest) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptContextRequest)
	if err != nil {
		return err
	}
	if len(body) < 2 {
		return lenErr(OptContextRequest.String(), len(body), "at least 2")
	}
	o.Reserved = be.Uint16(body)
	full := o.Requests[:cap(o.Requests)]
	n := 0
	for off := 2; off < len(body); {
		if off+2 > len(body) {
			o.Requests = full[:n]
			return fmt.Errorf("%w: Context Request entry %d at body offset %d: Req-type without Req-length", ErrInvalidLength, n, off)
		}
		end := off + 2 + int(body[off+1])
		if end > len(body) {
			o.Requests = full[:n]
			return fmt.Errorf("%w: Context Request entry %d: Req-length %d runs %d octets past the option", ErrInvalidLength, n, body[off+1], end-len(body))
		}
		if n == len(full) {
			full = append(full, ContextRequestEntry{})
			full = full[:cap(full)]
		}
		e := &full[n]
		e.Type = OptionType(body[off])
		e.Option = append(e.Option[:0], body[off+2:end]...)
		n++
		off = end
	}
	o.Requests = full[:n]
	return nil
}

// ParseContextRequest decodes a Context Request option.
func ParseContextRequest(b []byte) (*ContextRequest, error) {
	o := &ContextRequest{}
	return o, o.UnmarshalBinary(b)
}

// ---- LMA Address (41) ----

// LMAAddressCode is the Option-Code of the LMA Address option (RFC 5949
// §6.2.2).
type LMAAddressCode uint8

// LMA Address Option-Code values.
const (
	LMAAddressReserved LMAAddressCode = 0
	LMAAddressIPv6     LMAAddressCode = 1 // LMAA, 16 octets
	LMAAddressIPv4     LMAAddressCode = 2 // IPv4-LMAA, 4 octets
)

// LMAAddress is the Local Mobility Anchor Address option (type 41, RFC
// 5949 §6.2.2): Option-Code(1), Reserved(1), then the LMA's IPv6 address
// (Option-Code 1, Length 18) or IPv4 address (Option-Code 2, Length 6).
// The Option-Code follows from Address: an IPv4 address (Is4) encodes
// with code 2, anything else with code 1. Decoding rejects code 0 and
// codes whose address length does not match the option's Length.
//
// Alignment: not stated by RFC 5949; this package uses 8n+4 for the IPv6
// form (the address on an 8-octet boundary) and 4n for the IPv4 form.
type LMAAddress struct {
	Reserved uint8
	Address  netip.Addr
}

// Code returns the Option-Code the option encodes with.
func (o *LMAAddress) Code() LMAAddressCode {
	if o.Address.Is4() {
		return LMAAddressIPv4
	}
	return LMAAddressIPv6
}

func (*LMAAddress) OptionType() OptionType { return OptLMAAddress }
func (o *LMAAddress) Alignment() Alignment {
	if o.Address.Is4() {
		return Alignment{4, 0}
	}
	return Alignment{8, 4}
}
func (o *LMAAddress) MarshalLen() int {
	if o.Address.Is4() {
		return 8
	}
	return 20
}
func (o *LMAAddress) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptLMAAddress, o.MarshalLen()); err != nil {
		return err
	}
	if !o.Address.IsValid() {
		return fmt.Errorf("%w: %s without an address", ErrInvalidValue, OptLMAAddress)
	}
	b[2], b[3] = byte(o.Code()), o.Reserved
	if o.Address.Is4() {
		a4 := o.Address.As4()
		copy(b[4:8], a4[:])
	} else {
		putAddr16(b[4:20], o.Address)
	}
	return nil
}
func (o *LMAAddress) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *LMAAddress) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptLMAAddress)
	if err != nil {
		return err
	}
	if len(body) != 18 && len(body) != 6 {
		return lenErr(OptLMAAddress.String(), len(body), "18 or 6")
	}
	switch code := LMAAddressCode(body[0]); {
	case code == LMAAddressIPv6 && len(body) == 18:
		o.Address = netip.AddrFrom16([16]byte(body[2:18]))
	case code == LMAAddressIPv4 && len(body) == 6:
		o.Address = netip.AddrFrom4([4]byte(body[2:6]))
	case code == LMAAddressIPv6:
		return lenErr(OptLMAAddress.String()+" with Option-Code 1 (IPv6)", len(body), "18")
	case code == LMAAddressIPv4:
		return lenErr(OptLMAAddress.String()+" with Option-Code 2 (IPv4)", len(body), "6")
	default:
		return fmt.Errorf("%w: %s Option-Code %d", ErrInvalidValue, OptLMAAddress, code)
	}
	o.Reserved = body[1]
	return nil
}

// ParseLMAAddress decodes an LMA Address option.
func ParseLMAAddress(b []byte) (*LMAAddress, error) {
	o := &LMAAddress{}
	return o, o.UnmarshalBinary(b)
}

// ---- MN Link-local Address Interface Identifier (42) ----

// MNLinkLocalAddressIID is the Mobile Node Link-local Address Interface
// Identifier option (type 42, RFC 5949 §6.2.3): Reserved(2), Interface
// Identifier(8); Length 10. It carries the IID of the MN's link-local
// address on the previous access network.
//
// Alignment: not stated by RFC 5949; this package uses 8n+4 (the IID
// then starts on an 8-octet boundary).
type MNLinkLocalAddressIID struct {
	Reserved uint16
	IID      [8]byte
}

// NewMNLinkLocalAddressIID returns the option holding the low 64 bits of
// the IPv6 address a (normally the MN's link-local address).
func NewMNLinkLocalAddressIID(a netip.Addr) *MNLinkLocalAddressIID {
	a16 := a.As16()
	return &MNLinkLocalAddressIID{IID: [8]byte(a16[8:])}
}

// LinkLocal returns fe80::/64 combined with the IID.
func (o *MNLinkLocalAddressIID) LinkLocal() netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	copy(a[8:], o.IID[:])
	return netip.AddrFrom16(a)
}

func (*MNLinkLocalAddressIID) OptionType() OptionType { return OptMNLinkLocalAddressIID }
func (*MNLinkLocalAddressIID) Alignment() Alignment   { return Alignment{8, 4} }
func (*MNLinkLocalAddressIID) MarshalLen() int        { return 12 }
func (o *MNLinkLocalAddressIID) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptMNLinkLocalAddressIID, 12); err != nil {
		return err
	}
	be.PutUint16(b[2:], o.Reserved)
	copy(b[4:12], o.IID[:])
	return nil
}
func (o *MNLinkLocalAddressIID) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *MNLinkLocalAddressIID) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptMNLinkLocalAddressIID)
	if err != nil {
		return err
	}
	if len(body) != 10 {
		return lenErr(OptMNLinkLocalAddressIID.String(), len(body), "10")
	}
	o.Reserved = be.Uint16(body)
	o.IID = [8]byte(body[2:10])
	return nil
}

// ParseMNLinkLocalAddressIID decodes an MN Link-local Address Interface
// Identifier option.
func ParseMNLinkLocalAddressIID(b []byte) (*MNLinkLocalAddressIID, error) {
	o := &MNLinkLocalAddressIID{}
	return o, o.UnmarshalBinary(b)
}
