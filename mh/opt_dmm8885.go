package mh

import (
	"fmt"
	"net/netip"
)

// Options defined by RFC 8885 §4.3-§4.8 (DMM with PMIPv6: MAARs and the
// CMD).

func init() {
	registerOption(OptAnchoredPrefix, func() Option { return &AnchoredPrefix{} })
	registerOption(OptLocalPrefix, func() Option { return &LocalPrefix{} })
	registerOption(OptPreviousMAAR, func() Option { return &PreviousMAAR{} })
	registerOption(OptServingMAAR, func() Option { return &ServingMAAR{} })
	registerOption(OptDLIFLinkLocalAddress, func() Option { return &DLIFLinkLocalAddress{} })
	registerOption(OptDLIFLinkLayerAddress, func() Option { return &DLIFLinkLayerAddress{} })
}

// ---- Anchored Prefix (65) ----

// AnchoredPrefix is the Anchored Prefix option (type 65, RFC 8885 §4.3):
// Reserved(1), Prefix Length(1), Anchored Prefix(16); Length 18,
// alignment 8n+4. It carries the MN's prefix anchored at the anchoring
// MAAR and is allowed only in a PBU/PBA with the D flag set; it may
// repeat. Bits of Prefix past PrefixLength are kept as received (the
// receiver must ignore them; use AsPrefix().Masked()).
type AnchoredPrefix struct {
	Reserved     uint8
	PrefixLength uint8
	Prefix       netip.Addr // always 16 octets on the wire; invalid encodes as ALL_ZERO
}

// NewAnchoredPrefix returns an Anchored Prefix option for p.
func NewAnchoredPrefix(p netip.Prefix) *AnchoredPrefix {
	return &AnchoredPrefix{PrefixLength: uint8(p.Bits()), Prefix: p.Addr()}
}

// AsPrefix returns the option's prefix, bits past PrefixLength as received.
func (o *AnchoredPrefix) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Prefix, int(o.PrefixLength))
}

func (*AnchoredPrefix) OptionType() OptionType { return OptAnchoredPrefix }
func (*AnchoredPrefix) Alignment() Alignment   { return Alignment{8, 4} }
func (*AnchoredPrefix) MarshalLen() int        { return 20 }
func (o *AnchoredPrefix) MarshalTo(b []byte) error {
	return putPrefixOpt(b, OptAnchoredPrefix, o.Reserved, o.PrefixLength, o.Prefix)
}
func (o *AnchoredPrefix) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *AnchoredPrefix) UnmarshalBinary(b []byte) error {
	var err error
	o.Reserved, o.PrefixLength, o.Prefix, err = getPrefixOpt(b, OptAnchoredPrefix)
	return err
}

// ParseAnchoredPrefix decodes an Anchored Prefix option.
func ParseAnchoredPrefix(b []byte) (*AnchoredPrefix, error) {
	o := &AnchoredPrefix{}
	return o, o.UnmarshalBinary(b)
}

// ---- Local Prefix (66) ----

// LocalPrefix is the Local Prefix option (type 66, RFC 8885 §4.4): the
// same layout as the Anchored Prefix option (Reserved(1), Prefix
// Length(1), Local Prefix(16); Length 18; alignment 8n+4). It carries the
// prefix of a local network reachable only via the anchoring MAAR; D flag
// only; may repeat.
type LocalPrefix struct {
	Reserved     uint8
	PrefixLength uint8
	Prefix       netip.Addr // always 16 octets on the wire; invalid encodes as ALL_ZERO
}

// NewLocalPrefix returns a Local Prefix option for p.
func NewLocalPrefix(p netip.Prefix) *LocalPrefix {
	return &LocalPrefix{PrefixLength: uint8(p.Bits()), Prefix: p.Addr()}
}

// AsPrefix returns the option's prefix, bits past PrefixLength as received.
func (o *LocalPrefix) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Prefix, int(o.PrefixLength))
}

func (*LocalPrefix) OptionType() OptionType { return OptLocalPrefix }
func (*LocalPrefix) Alignment() Alignment   { return Alignment{8, 4} }
func (*LocalPrefix) MarshalLen() int        { return 20 }
func (o *LocalPrefix) MarshalTo(b []byte) error {
	return putPrefixOpt(b, OptLocalPrefix, o.Reserved, o.PrefixLength, o.Prefix)
}
func (o *LocalPrefix) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *LocalPrefix) UnmarshalBinary(b []byte) error {
	var err error
	o.Reserved, o.PrefixLength, o.Prefix, err = getPrefixOpt(b, OptLocalPrefix)
	return err
}

// ParseLocalPrefix decodes a Local Prefix option.
func ParseLocalPrefix(b []byte) (*LocalPrefix, error) {
	o := &LocalPrefix{}
	return o, o.UnmarshalBinary(b)
}

// ---- Previous MAAR (67) ----

// PreviousMAAR is the Previous MAAR option (type 67, RFC 8885 §4.5):
// Reserved(1), Prefix Length(1), Previous MAAR(16), Home Network
// Prefix(16); Length 34; alignment 8n+4 (both addresses then start on
// 8-octet boundaries). The CMD sends it in the PBA to the S-MAAR, one per
// P-MAAR and anchored prefix; it may repeat. PrefixLength applies to
// Prefix (the MN's HNP at that P-MAAR).
type PreviousMAAR struct {
	Reserved     uint8
	PrefixLength uint8
	Address      netip.Addr // the P-MAAR's global IPv6 address
	Prefix       netip.Addr // the MN's HNP anchored at the P-MAAR
}

// NewPreviousMAAR returns a Previous MAAR option for the P-MAAR at maar
// anchoring hnp.
func NewPreviousMAAR(maar netip.Addr, hnp netip.Prefix) *PreviousMAAR {
	return &PreviousMAAR{PrefixLength: uint8(hnp.Bits()), Address: maar, Prefix: hnp.Addr()}
}

// AsPrefix returns the HNP, bits past PrefixLength as received.
func (o *PreviousMAAR) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Prefix, int(o.PrefixLength))
}

func (*PreviousMAAR) OptionType() OptionType { return OptPreviousMAAR }
func (*PreviousMAAR) Alignment() Alignment   { return Alignment{8, 4} }
func (*PreviousMAAR) MarshalLen() int        { return 36 }
func (o *PreviousMAAR) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptPreviousMAAR, 36); err != nil {
		return err
	}
	if o.PrefixLength > 128 {
		return fmt.Errorf("%w: %s prefix length %d", ErrInvalidValue, OptPreviousMAAR, o.PrefixLength)
	}
	b[2], b[3] = o.Reserved, o.PrefixLength
	putAddr16(b[4:20], o.Address)
	putAddr16(b[20:36], o.Prefix)
	return nil
}
func (o *PreviousMAAR) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *PreviousMAAR) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptPreviousMAAR)
	if err != nil {
		return err
	}
	if len(body) != 34 {
		return lenErr(OptPreviousMAAR.String(), len(body), "34")
	}
	if body[1] > 128 {
		return fmt.Errorf("%w: prefix length %d > 128", ErrInvalidValue, body[1])
	}
	o.Reserved, o.PrefixLength = body[0], body[1]
	o.Address = netip.AddrFrom16([16]byte(body[2:18]))
	o.Prefix = netip.AddrFrom16([16]byte(body[18:34]))
	return nil
}

// ParsePreviousMAAR decodes a Previous MAAR option.
func ParsePreviousMAAR(b []byte) (*PreviousMAAR, error) {
	o := &PreviousMAAR{}
	return o, o.UnmarshalBinary(b)
}

// ---- Serving MAAR (68) ----

// ServingMAAR is the Serving MAAR option (type 68, RFC 8885 §4.6): the
// S-MAAR's global IPv6 address(16); Length 16; alignment 8n+6 (the
// address then starts on an 8-octet boundary). The CMD sends it in the
// PBU to a P-MAAR.
type ServingMAAR struct {
	Address netip.Addr
}

func (*ServingMAAR) OptionType() OptionType { return OptServingMAAR }
func (*ServingMAAR) Alignment() Alignment   { return Alignment{8, 6} }
func (*ServingMAAR) MarshalLen() int        { return 18 }
func (o *ServingMAAR) MarshalTo(b []byte) error {
	return putAddrOpt(b, OptServingMAAR, o.Address)
}
func (o *ServingMAAR) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *ServingMAAR) UnmarshalBinary(b []byte) error {
	var err error
	o.Address, err = getAddrOpt(b, OptServingMAAR)
	return err
}

// ParseServingMAAR decodes a Serving MAAR option.
func ParseServingMAAR(b []byte) (*ServingMAAR, error) {
	o := &ServingMAAR{}
	return o, o.UnmarshalBinary(b)
}

// ---- DLIF Link-Local Address (69) ----

// DLIFLinkLocalAddress is the DLIF Link-Local Address option (type 69,
// RFC 8885 §4.7): the link-local address(16) the S-MAAR should give the
// MN's DLIF so that it resembles the P-MAAR's; Length 16; alignment 8n+6.
// Sent in PBAs.
type DLIFLinkLocalAddress struct {
	Address netip.Addr
}

func (*DLIFLinkLocalAddress) OptionType() OptionType { return OptDLIFLinkLocalAddress }
func (*DLIFLinkLocalAddress) Alignment() Alignment   { return Alignment{8, 6} }
func (*DLIFLinkLocalAddress) MarshalLen() int        { return 18 }
func (o *DLIFLinkLocalAddress) MarshalTo(b []byte) error {
	return putAddrOpt(b, OptDLIFLinkLocalAddress, o.Address)
}
func (o *DLIFLinkLocalAddress) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *DLIFLinkLocalAddress) UnmarshalBinary(b []byte) error {
	var err error
	o.Address, err = getAddrOpt(b, OptDLIFLinkLocalAddress)
	return err
}

// ParseDLIFLinkLocalAddress decodes a DLIF Link-Local Address option.
func ParseDLIFLinkLocalAddress(b []byte) (*DLIFLinkLocalAddress, error) {
	o := &DLIFLinkLocalAddress{}
	return o, o.UnmarshalBinary(b)
}

// ---- DLIF Link-Layer Address (70) ----

// DLIFLinkLayerAddress is the DLIF Link-Layer Address option (type 70,
// RFC 8885 §4.8): Reserved(2), then the link-layer address of the DLIF
// formatted as in RFC 4861 §4.6 (for Ethernet the 6-octet MAC); Length
// 2+n. Sent in PBAs.
//
// Alignment: RFC 8885 §4.8 asks for the alignment appropriate for the
// address size and names no value. The address starts 4 octets into the
// option, so this package uses 8n+4 for addresses of 8 octets or more
// (address on an 8-octet boundary), 4n for 4 to 7 octets (a MAC lands on
// a 4-octet boundary), 2n for 2 or 3, and none otherwise.
type DLIFLinkLayerAddress struct {
	Reserved uint16
	Address  []byte
}

func (*DLIFLinkLayerAddress) OptionType() OptionType { return OptDLIFLinkLayerAddress }
func (o *DLIFLinkLayerAddress) Alignment() Alignment {
	switch n := len(o.Address); {
	case n >= 8:
		return Alignment{8, 4}
	case n >= 4:
		return Alignment{4, 0}
	case n >= 2:
		return Alignment{2, 0}
	}
	return NoAlignment
}
func (o *DLIFLinkLayerAddress) MarshalLen() int { return 4 + len(o.Address) }
func (o *DLIFLinkLayerAddress) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptDLIFLinkLayerAddress, o.MarshalLen()); err != nil {
		return err
	}
	be.PutUint16(b[2:], o.Reserved)
	copy(b[4:], o.Address)
	return nil
}
func (o *DLIFLinkLayerAddress) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *DLIFLinkLayerAddress) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptDLIFLinkLayerAddress)
	if err != nil {
		return err
	}
	if len(body) < 2 {
		return lenErr(OptDLIFLinkLayerAddress.String(), len(body), "at least 2")
	}
	o.Reserved = be.Uint16(body)
	o.Address = append(o.Address[:0], body[2:]...)
	return nil
}

// ParseDLIFLinkLayerAddress decodes a DLIF Link-Layer Address option.
func ParseDLIFLinkLayerAddress(b []byte) (*DLIFLinkLayerAddress, error) {
	o := &DLIFLinkLayerAddress{}
	return o, o.UnmarshalBinary(b)
}
