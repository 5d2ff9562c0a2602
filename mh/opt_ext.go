package mh

import (
	"fmt"
	"net/netip"
)

// PMIPv6 extension options: MAG IPv6 Address (RFC 6705), Access Network
// Identifier (RFC 6757), Delegated Mobile Network Prefix (RFC 7148) and
// LMA User-Plane Address (RFC 7389).
//
// Transient Binding (43, RFC 6058) and Mobile Node Group Identifier (50,
// RFC 6602) have no typed form: neither RFC text nor a confirmed layout
// is in reference/protocol-facts.md, so they decode as *RawOption and
// re-encode exactly as received.

func init() {
	registerOption(OptMAGIPv6Address, func() Option { return &MAGIPv6Address{} })
	registerOption(OptAccessNetworkIdentifier, func() Option { return &AccessNetworkIdentifier{} })
	registerOption(OptDelegatedMNP, func() Option { return &DelegatedMNP{} })
	registerOption(OptLMAUserPlaneAddress, func() Option { return &LMAUserPlaneAddress{} })
}

// ---- MAG IPv6 Address (51) ----

// MAGIPv6Address is the MAG IPv6 Address option (type 51, RFC 6705
// §11.1): Reserved(1), Address Length(1) = 128, MAG IPv6 Address(16);
// Length 18; alignment 8n+4. Used in localized-routing LRI/LRA messages.
// Encoding always writes Address Length 128; decoding rejects any other
// value (the RFC says it MUST be 128).
type MAGIPv6Address struct {
	Reserved uint8
	Address  netip.Addr
}

func (*MAGIPv6Address) OptionType() OptionType { return OptMAGIPv6Address }
func (*MAGIPv6Address) Alignment() Alignment   { return Alignment{8, 4} }
func (*MAGIPv6Address) MarshalLen() int        { return 20 }
func (o *MAGIPv6Address) MarshalTo(b []byte) error {
	return putPrefixOpt(b, OptMAGIPv6Address, o.Reserved, 128, o.Address)
}
func (o *MAGIPv6Address) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *MAGIPv6Address) UnmarshalBinary(b []byte) error {
	res, alen, a, err := getPrefixOpt(b, OptMAGIPv6Address)
	if err != nil {
		return err
	}
	if alen != 128 {
		return fmt.Errorf("%w: %s Address Length %d, must be 128", ErrInvalidValue, OptMAGIPv6Address, alen)
	}
	o.Reserved, o.Address = res, a
	return nil
}

// ParseMAGIPv6Address decodes a MAG IPv6 Address option.
func ParseMAGIPv6Address(b []byte) (*MAGIPv6Address, error) {
	o := &MAGIPv6Address{}
	return o, o.UnmarshalBinary(b)
}

// ---- Access Network Identifier (52) ----

// ANISubType is the ANI-Type of an Access Network Identifier sub-option
// (RFC 6757 §3.1; 4-6 from RFC 7563).
type ANISubType uint8

// ANI sub-option types.
const (
	ANITypeNetworkID     ANISubType = 1 // RFC 6757
	ANITypeGeoLocation   ANISubType = 2 // RFC 6757
	ANITypeOperatorID    ANISubType = 3 // RFC 6757
	ANITypeCivicLocation ANISubType = 4 // RFC 7563 (kept raw)
	ANITypeMAGGroupID    ANISubType = 5 // RFC 7563 (kept raw)
	ANITypeUpdateTimer   ANISubType = 6 // RFC 7563 (kept raw)
)

var aniSubTypeNames = [...]string{"", "Network-Identifier", "Geo-Location", "Operator-Identifier",
	"Civic-Location", "MAG-Group-Identifier", "ANI Update-Timer"}

func (t ANISubType) String() string {
	if t > 0 && int(t) < len(aniSubTypeNames) {
		return aniSubTypeNames[t]
	}
	return fmt.Sprintf("ANI sub-option %d", uint8(t))
}

// ANIOperatorIDType is the Op-ID Type of the Operator-Identifier
// sub-option (RFC 6757 §3.1).
type ANIOperatorIDType uint8

// Op-ID Type values.
const (
	ANIOpIDPEN   ANIOperatorIDType = 1 // IANA Private Enterprise Number
	ANIOpIDRealm ANIOperatorIDType = 2 // realm of the operator (a domain name)
)

// ANINetworkID is the body of the Network-Identifier sub-option (ANI-Type
// 1): E(1b), Reserved(7b), Net-Name Len(1), Net-Name, AP-Name Len(1),
// AP-Name.
type ANINetworkID struct {
	E        bool  // the E bit (Net-Name encoding, RFC 6757 §3.1)
	Reserved uint8 // the 7 reserved bits after E (low 7 bits)
	NetName  []byte
	APName   []byte
}

// ANIGeoLocation is the body of the Geo-Location sub-option (ANI-Type 2,
// ANI-Length 6): a 24-bit latitude and a 24-bit longitude, each a two's
// complement fixed-point number. The values are the raw 24-bit fields,
// sign-extended; the scaling to degrees (RFC 6757 §3.1, whose text is
// not among this project's references) is left to the caller. (Wireshark
// divides by 2^15, i.e. 9 integer bits: 0x123456 shows as 36.408875
// degrees; unconfirmed against the RFC.) Each must lie in
// [-1<<23, 1<<23-1] to encode.
type ANIGeoLocation struct {
	Latitude  int32
	Longitude int32
}

// ANIOperatorID is the body of the Operator-Identifier sub-option
// (ANI-Type 3): Op-ID Type(1), Op-ID.
type ANIOperatorID struct {
	Type ANIOperatorIDType
	ID   []byte
}

// ANISubOption is one sub-option of the Access Network Identifier
// option: ANI-Type(1), ANI-Length(1), data. Exactly one body field is
// used, chosen by Type: NetworkID for 1, Geo for 2, Operator for 3, and
// Data (the octets after ANI-Length, as received) for every other type,
// so that unknown sub-options re-encode exactly.
type ANISubOption struct {
	Type      ANISubType
	NetworkID ANINetworkID
	Geo       ANIGeoLocation
	Operator  ANIOperatorID
	Data      []byte
}

// NewANINetworkID returns a Network-Identifier sub-option (E clear). An
// empty name is left nil.
func NewANINetworkID(netName, apName string) ANISubOption {
	s := ANISubOption{Type: ANITypeNetworkID}
	if netName != "" {
		s.NetworkID.NetName = []byte(netName)
	}
	if apName != "" {
		s.NetworkID.APName = []byte(apName)
	}
	return s
}

// NewANIGeoLocation returns a Geo-Location sub-option from the raw 24-bit
// latitude and longitude fields.
func NewANIGeoLocation(lat, lon int32) ANISubOption {
	return ANISubOption{Type: ANITypeGeoLocation, Geo: ANIGeoLocation{Latitude: lat, Longitude: lon}}
}

// NewANIOperatorID returns an Operator-Identifier sub-option.
func NewANIOperatorID(t ANIOperatorIDType, id []byte) ANISubOption {
	return ANISubOption{Type: ANITypeOperatorID, Operator: ANIOperatorID{Type: t, ID: id}}
}

// bodyLen returns ANI-Length for s.
func (s *ANISubOption) bodyLen() int {
	switch s.Type {
	case ANITypeNetworkID:
		return 3 + len(s.NetworkID.NetName) + len(s.NetworkID.APName)
	case ANITypeGeoLocation:
		return 6
	case ANITypeOperatorID:
		return 1 + len(s.Operator.ID)
	}
	return len(s.Data)
}

// put writes the sub-option into b, which holds exactly 2+bodyLen octets.
func (s *ANISubOption) put(b []byte) error {
	n := s.bodyLen()
	if n > 255 {
		return fmt.Errorf("%w: ANI %s body of %d octets exceeds 255", ErrInvalidValue, s.Type, n)
	}
	b[0], b[1] = byte(s.Type), byte(n)
	d := b[2:]
	switch s.Type {
	case ANITypeNetworkID:
		ni := &s.NetworkID
		if len(ni.NetName) > 255 || len(ni.APName) > 255 {
			return fmt.Errorf("%w: ANI Network-Identifier name longer than 255 octets", ErrInvalidValue)
		}
		d[0] = ni.Reserved & 0x7f
		if ni.E {
			d[0] |= 0x80
		}
		d[1] = byte(len(ni.NetName))
		off := 2 + copy(d[2:], ni.NetName)
		d[off] = byte(len(ni.APName))
		copy(d[off+1:], ni.APName)
	case ANITypeGeoLocation:
		for i, v := range [2]int32{s.Geo.Latitude, s.Geo.Longitude} {
			if v < -1<<23 || v > 1<<23-1 {
				return fmt.Errorf("%w: ANI Geo-Location value %d does not fit 24 bits", ErrInvalidValue, v)
			}
			d[3*i], d[3*i+1], d[3*i+2] = byte(v>>16), byte(v>>8), byte(v)
		}
	case ANITypeOperatorID:
		d[0] = byte(s.Operator.Type)
		copy(d[1:], s.Operator.ID)
	default:
		copy(d, s.Data)
	}
	return nil
}

// get decodes the sub-option of type t whose body is d into s, reusing
// s's byte slices.
func (s *ANISubOption) get(t ANISubType, d []byte) error {
	s.Type = t
	s.NetworkID.E, s.NetworkID.Reserved = false, 0
	s.NetworkID.NetName, s.NetworkID.APName = s.NetworkID.NetName[:0], s.NetworkID.APName[:0]
	s.Geo = ANIGeoLocation{}
	s.Operator.Type, s.Operator.ID = 0, s.Operator.ID[:0]
	s.Data = s.Data[:0]
	switch t {
	case ANITypeNetworkID:
		if len(d) < 3 {
			return lenErr("ANI Network-Identifier", len(d), "at least 3")
		}
		nl := int(d[1])
		if 2+nl+1 > len(d) {
			return fmt.Errorf("%w: ANI Network-Identifier Net-Name Len %d runs past ANI-Length %d", ErrInvalidLength, nl, len(d))
		}
		al := int(d[2+nl])
		if 3+nl+al != len(d) {
			return fmt.Errorf("%w: ANI Network-Identifier Net-Name Len %d and AP-Name Len %d do not add up to ANI-Length %d", ErrInvalidLength, nl, al, len(d))
		}
		s.NetworkID.E, s.NetworkID.Reserved = d[0]&0x80 != 0, d[0]&0x7f
		s.NetworkID.NetName = append(s.NetworkID.NetName, d[2:2+nl]...)
		s.NetworkID.APName = append(s.NetworkID.APName, d[3+nl:]...)
	case ANITypeGeoLocation:
		if len(d) != 6 {
			return lenErr("ANI Geo-Location", len(d), "6")
		}
		s.Geo.Latitude = int32(uint32(d[0])<<24|uint32(d[1])<<16|uint32(d[2])<<8) >> 8
		s.Geo.Longitude = int32(uint32(d[3])<<24|uint32(d[4])<<16|uint32(d[5])<<8) >> 8
	case ANITypeOperatorID:
		if len(d) < 1 {
			return lenErr("ANI Operator-Identifier", len(d), "at least 1")
		}
		s.Operator.Type = ANIOperatorIDType(d[0])
		s.Operator.ID = append(s.Operator.ID, d[1:]...)
	default:
		s.Data = append(s.Data, d...)
	}
	return nil
}

// AccessNetworkIdentifier is the Access Network Identifier option (type
// 52, RFC 6757 §3): a sequence of sub-options, each ANI-Type(1),
// ANI-Length(1), data, with no reserved octet before the first; alignment
// 4n. Known sub-options (1-3) are decoded into their fields and
// malformed ones are an error; others are kept raw in Data.
type AccessNetworkIdentifier struct {
	SubOptions []ANISubOption
}

// Find returns the first sub-option of type t.
func (o *AccessNetworkIdentifier) Find(t ANISubType) (*ANISubOption, bool) {
	for i := range o.SubOptions {
		if o.SubOptions[i].Type == t {
			return &o.SubOptions[i], true
		}
	}
	return nil, false
}

func (*AccessNetworkIdentifier) OptionType() OptionType { return OptAccessNetworkIdentifier }
func (*AccessNetworkIdentifier) Alignment() Alignment   { return Alignment{4, 0} }
func (o *AccessNetworkIdentifier) MarshalLen() int {
	n := 2
	for i := range o.SubOptions {
		n += 2 + o.SubOptions[i].bodyLen()
	}
	return n
}
func (o *AccessNetworkIdentifier) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptAccessNetworkIdentifier, o.MarshalLen()); err != nil {
		return err
	}
	off := 2
	for i := range o.SubOptions {
		s := &o.SubOptions[i]
		end := off + 2 + s.bodyLen()
		if err := s.put(b[off:end]); err != nil {
			return err
		}
		off = end
	}
	return nil
}
func (o *AccessNetworkIdentifier) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *AccessNetworkIdentifier) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptAccessNetworkIdentifier)
	if err != nil {
		return err
	}
	full := o.SubOptions[:cap(o.SubOptions)]
	n := 0
	for off := 0; off < len(body); {
		if off+2 > len(body) {
			o.SubOptions = full[:n]
			return fmt.Errorf("%w: ANI sub-option %d at body offset %d: ANI-Type without ANI-Length", ErrInvalidLength, n, off)
		}
		end := off + 2 + int(body[off+1])
		if end > len(body) {
			o.SubOptions = full[:n]
			return fmt.Errorf("%w: ANI sub-option %d: ANI-Length %d runs %d octets past the option", ErrInvalidLength, n, body[off+1], end-len(body))
		}
		if n == len(full) {
			full = append(full, ANISubOption{})
			full = full[:cap(full)]
		}
		if err := full[n].get(ANISubType(body[off]), body[off+2:end]); err != nil {
			o.SubOptions = full[:n]
			return err
		}
		n++
		off = end
	}
	o.SubOptions = full[:n]
	return nil
}

// ParseAccessNetworkIdentifier decodes an Access Network Identifier
// option.
func ParseAccessNetworkIdentifier(b []byte) (*AccessNetworkIdentifier, error) {
	o := &AccessNetworkIdentifier{}
	return o, o.UnmarshalBinary(b)
}

// ---- Delegated Mobile Network Prefix (55) ----

// DelegatedMNPFlagV is the V bit of the Delegated MNP option: set when
// the prefix is IPv4.
const DelegatedMNPFlagV uint8 = 0x80

// DelegatedMNP is the Delegated Mobile Network Prefix option (type 55,
// RFC 7148): V(1b), Reserved(7b), Prefix Length(1), then an IPv4 (V set,
// Length 6) or IPv6 (V clear, Length 18) prefix. V follows from Prefix:
// an IPv4 address (Is4) encodes with V set. RFC 7148 is not among this
// project's reference texts: the layout is from Wireshark's dissector as
// recorded in reference/protocol-facts.md §3.2, and the alignment used
// here, 8n+4 (the IPv6 prefix on an 8-octet boundary, as for the HNP),
// is this package's choice (unconfirmed).
type DelegatedMNP struct {
	Reserved     uint8 // the 7 reserved bits after V (low 7 bits)
	PrefixLength uint8
	Prefix       netip.Addr
}

// NewDelegatedMNP returns a Delegated MNP option for p (IPv4 or IPv6).
func NewDelegatedMNP(p netip.Prefix) *DelegatedMNP {
	return &DelegatedMNP{PrefixLength: uint8(p.Bits()), Prefix: p.Addr()}
}

// V reports whether the option carries an IPv4 prefix.
func (o *DelegatedMNP) V() bool { return o.Prefix.Is4() }

// AsPrefix returns the option's prefix, bits past PrefixLength as received.
func (o *DelegatedMNP) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Prefix, int(o.PrefixLength))
}

func (*DelegatedMNP) OptionType() OptionType { return OptDelegatedMNP }
func (*DelegatedMNP) Alignment() Alignment   { return Alignment{8, 4} }
func (o *DelegatedMNP) MarshalLen() int {
	if o.Prefix.Is4() {
		return 8
	}
	return 20
}
func (o *DelegatedMNP) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptDelegatedMNP, o.MarshalLen()); err != nil {
		return err
	}
	b[2] = o.Reserved & 0x7f
	if o.Prefix.Is4() {
		if o.PrefixLength > 32 {
			return fmt.Errorf("%w: %s IPv4 prefix length %d", ErrInvalidValue, OptDelegatedMNP, o.PrefixLength)
		}
		b[2] |= DelegatedMNPFlagV
		a4 := o.Prefix.As4()
		copy(b[4:8], a4[:])
	} else {
		if o.PrefixLength > 128 {
			return fmt.Errorf("%w: %s prefix length %d", ErrInvalidValue, OptDelegatedMNP, o.PrefixLength)
		}
		putAddr16(b[4:20], o.Prefix)
	}
	b[3] = o.PrefixLength
	return nil
}
func (o *DelegatedMNP) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *DelegatedMNP) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptDelegatedMNP)
	if err != nil {
		return err
	}
	if len(body) != 6 && len(body) != 18 {
		return lenErr(OptDelegatedMNP.String(), len(body), "6 (V set) or 18")
	}
	v, plen := body[0]&DelegatedMNPFlagV != 0, body[1]
	switch {
	case v && len(body) != 6:
		return lenErr(OptDelegatedMNP.String()+" with V", len(body), "6")
	case !v && len(body) != 18:
		return lenErr(OptDelegatedMNP.String()+" without V", len(body), "18")
	case v && plen > 32:
		return fmt.Errorf("%w: %s IPv4 prefix length %d > 32", ErrInvalidValue, OptDelegatedMNP, plen)
	case plen > 128:
		return fmt.Errorf("%w: %s prefix length %d > 128", ErrInvalidValue, OptDelegatedMNP, plen)
	case v:
		o.Prefix = netip.AddrFrom4([4]byte(body[2:6]))
	default:
		o.Prefix = netip.AddrFrom16([16]byte(body[2:18]))
	}
	o.Reserved, o.PrefixLength = body[0]&0x7f, plen
	return nil
}

// ParseDelegatedMNP decodes a Delegated Mobile Network Prefix option.
func ParseDelegatedMNP(b []byte) (*DelegatedMNP, error) {
	o := &DelegatedMNP{}
	return o, o.UnmarshalBinary(b)
}

// ---- LMA User-Plane Address (59) ----

// LMAUserPlaneAddress is the LMA User-Plane Address option (type 59, RFC
// 7389 §4): Reserved(2), then an address of 0, 4 or 16 octets (Length 2,
// 6 or 18); alignment 8n+2. In a PBU the address is empty or ALL_ZERO and
// only names the family the MAG wants; in a PBA it is the LMA's
// user-plane address. At most two per message (one per family).
//
// Address encodes as zero octets when invalid (the zero Addr), 4 when
// Is4, 16 otherwise; decoding sets it the same way, so a zero-length
// field decodes to the zero Addr and ALL_ZERO to 0.0.0.0 or ::.
type LMAUserPlaneAddress struct {
	Reserved uint16
	Address  netip.Addr
}

func (*LMAUserPlaneAddress) OptionType() OptionType { return OptLMAUserPlaneAddress }
func (*LMAUserPlaneAddress) Alignment() Alignment   { return Alignment{8, 2} }
func (o *LMAUserPlaneAddress) MarshalLen() int {
	switch {
	case !o.Address.IsValid():
		return 4
	case o.Address.Is4():
		return 8
	}
	return 20
}
func (o *LMAUserPlaneAddress) MarshalTo(b []byte) error {
	n := o.MarshalLen()
	if err := putOptHeader(b, OptLMAUserPlaneAddress, n); err != nil {
		return err
	}
	be.PutUint16(b[2:], o.Reserved)
	switch n {
	case 8:
		a4 := o.Address.As4()
		copy(b[4:8], a4[:])
	case 20:
		putAddr16(b[4:20], o.Address)
	}
	return nil
}
func (o *LMAUserPlaneAddress) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *LMAUserPlaneAddress) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptLMAUserPlaneAddress)
	if err != nil {
		return err
	}
	switch len(body) {
	case 2:
		o.Address = netip.Addr{}
	case 6:
		o.Address = netip.AddrFrom4([4]byte(body[2:6]))
	case 18:
		o.Address = netip.AddrFrom16([16]byte(body[2:18]))
	default:
		return lenErr(OptLMAUserPlaneAddress.String(), len(body), "2, 6 or 18")
	}
	o.Reserved = be.Uint16(body)
	return nil
}

// ParseLMAUserPlaneAddress decodes an LMA User-Plane Address option.
func ParseLMAUserPlaneAddress(b []byte) (*LMAUserPlaneAddress, error) {
	o := &LMAUserPlaneAddress{}
	return o, o.UnmarshalBinary(b)
}
