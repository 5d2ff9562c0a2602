package mh

import (
	"fmt"
	"net/netip"
	"time"
)

// Options defined by RFC 5213 §8.3-§8.8 (and RFC 4283 / RFC 8371 for the
// MN Identifier).

func init() {
	registerOption(OptMNIdentifier, func() Option { return &MNIdentifier{} })
	registerOption(OptHomeNetworkPrefix, func() Option { return &HomeNetworkPrefix{} })
	registerOption(OptHandoffIndicator, func() Option { return &HandoffIndicator{} })
	registerOption(OptAccessTechnologyType, func() Option { return &AccessTechnologyType{} })
	registerOption(OptMNLinkLayerID, func() Option { return &MNLinkLayerID{} })
	registerOption(OptLinkLocalAddress, func() Option { return &LinkLocalAddress{} })
	registerOption(OptTimestamp, func() Option { return &Timestamp{} })
}

// ---- MN Identifier (8) ----

// MNIDSubtype is the Subtype of the MN Identifier option (RFC 4283 §3,
// RFC 8371 §4).
type MNIDSubtype uint8

// MN Identifier subtypes.
const (
	MNIDNAI   MNIDSubtype = 1 // Network Access Identifier (RFC 4283)
	MNIDIPv6  MNIDSubtype = 2 // IPv6 address (RFC 8371)
	MNIDIMSI  MNIDSubtype = 3 // IMSI, BCD (RFC 8371)
	MNIDPTMSI MNIDSubtype = 4 // P-TMSI (RFC 8371)
	MNIDEUI48 MNIDSubtype = 5 // EUI-48 (RFC 8371)
	MNIDEUI64 MNIDSubtype = 6 // EUI-64 (RFC 8371)
	MNIDGUTI  MNIDSubtype = 7 // GUTI (RFC 8371)
	MNIDDUID  MNIDSubtype = 8 // DHCPv6 DUID (RFC 8371)
)

var mnidSubtypeNames = [...]string{"", "NAI", "IPv6 Address", "IMSI", "P-TMSI", "EUI-48", "EUI-64", "GUTI", "DUID"}

func (s MNIDSubtype) String() string {
	if s > 0 && int(s) < len(mnidSubtypeNames) {
		return mnidSubtypeNames[s]
	}
	return fmt.Sprintf("subtype %d", uint8(s))
}

// MNIdentifier is the Mobile Node Identifier option (type 8, RFC 4283
// §3; subtypes of RFC 8371). The Identifier is kept as raw octets; for the
// NAI it is the user@realm string.
type MNIdentifier struct {
	Subtype    MNIDSubtype
	Identifier []byte
	// Empty encodes the option with Length 0 (no Subtype octet), the
	// zero-length MN-ID of RFC 5213 §5.3.6; set by decoding such an option.
	Empty bool
}

// NewNAI returns an MN Identifier option holding an NAI.
func NewNAI(nai string) *MNIdentifier {
	return &MNIdentifier{Subtype: MNIDNAI, Identifier: []byte(nai)}
}

func (*MNIdentifier) OptionType() OptionType { return OptMNIdentifier }
func (*MNIdentifier) Alignment() Alignment   { return NoAlignment }
func (o *MNIdentifier) MarshalLen() int {
	if o.Empty {
		return 2
	}
	return 3 + len(o.Identifier)
}
func (o *MNIdentifier) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptMNIdentifier, o.MarshalLen()); err != nil {
		return err
	}
	if !o.Empty {
		b[2] = byte(o.Subtype)
		copy(b[3:], o.Identifier)
	}
	return nil
}
func (o *MNIdentifier) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *MNIdentifier) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptMNIdentifier)
	if err != nil {
		return err
	}
	return o.setBody(body)
}

func (o *MNIdentifier) setBody(body []byte) error {
	if len(body) == 0 {
		o.Empty, o.Subtype, o.Identifier = true, 0, o.Identifier[:0]
		return nil
	}
	o.Empty = false
	o.Subtype = MNIDSubtype(body[0])
	o.Identifier = append(o.Identifier[:0], body[1:]...)
	return nil
}

// ParseMNIdentifier decodes an MN Identifier option.
func ParseMNIdentifier(b []byte) (*MNIdentifier, error) {
	o := &MNIdentifier{}
	return o, o.UnmarshalBinary(b)
}

// ---- Home Network Prefix (22) ----

// HomeNetworkPrefix is the Home Network Prefix option (type 22, RFC 5213
// §8.3). An unspecified (ALL_ZERO) prefix asks the LMA to assign one.
type HomeNetworkPrefix struct {
	Reserved     uint8
	PrefixLength uint8
	Prefix       netip.Addr // always 16 octets on the wire
}

// NewHNP returns a Home Network Prefix option for p.
func NewHNP(p netip.Prefix) *HomeNetworkPrefix {
	return &HomeNetworkPrefix{PrefixLength: uint8(p.Bits()), Prefix: p.Addr()}
}

// AsPrefix returns the option's prefix (with its bits past PrefixLength
// kept as received; use Masked to clear them).
func (o *HomeNetworkPrefix) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Prefix, int(o.PrefixLength))
}

// AllZero reports whether the prefix field is ALL_ZERO (RFC 5213 §2.2).
func (o *HomeNetworkPrefix) AllZero() bool {
	return !o.Prefix.IsValid() || o.Prefix == netip.IPv6Unspecified()
}

func (*HomeNetworkPrefix) OptionType() OptionType { return OptHomeNetworkPrefix }
func (*HomeNetworkPrefix) Alignment() Alignment   { return Alignment{8, 4} }
func (*HomeNetworkPrefix) MarshalLen() int        { return 20 }
func (o *HomeNetworkPrefix) MarshalTo(b []byte) error {
	return putPrefixOpt(b, OptHomeNetworkPrefix, o.Reserved, o.PrefixLength, o.Prefix)
}
func (o *HomeNetworkPrefix) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *HomeNetworkPrefix) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptHomeNetworkPrefix)
	if err != nil {
		return err
	}
	return o.setBody(body)
}

func (o *HomeNetworkPrefix) setBody(body []byte) error {
	if len(body) != 18 {
		return lenErr(OptHomeNetworkPrefix.String(), len(body), "18")
	}
	if body[1] > 128 {
		return fmt.Errorf("%w: prefix length %d > 128", ErrInvalidValue, body[1])
	}
	o.Reserved, o.PrefixLength, o.Prefix = body[0], body[1], netip.AddrFrom16([16]byte(body[2:18]))
	return nil
}

// ParseHomeNetworkPrefix decodes a Home Network Prefix option.
func ParseHomeNetworkPrefix(b []byte) (*HomeNetworkPrefix, error) {
	o := &HomeNetworkPrefix{}
	return o, o.UnmarshalBinary(b)
}

// putPrefixOpt encodes the Reserved(1) Prefix Length(1) Prefix(16) layout
// shared by HNP, Anchored Prefix, Local Prefix and others.
func putPrefixOpt(b []byte, t OptionType, res, plen uint8, p netip.Addr) error {
	if err := putOptHeader(b, t, 20); err != nil {
		return err
	}
	if plen > 128 {
		return fmt.Errorf("%w: %s prefix length %d", ErrInvalidValue, t, plen)
	}
	b[2], b[3] = res, plen
	putAddr16(b[4:20], p)
	return nil
}

func getPrefixOpt(b []byte, t OptionType) (res, plen uint8, p netip.Addr, err error) {
	body, err := optHeader(b, t)
	if err != nil {
		return 0, 0, netip.Addr{}, err
	}
	if len(body) != 18 {
		return 0, 0, netip.Addr{}, lenErr(t.String(), len(body), "18")
	}
	if body[1] > 128 {
		return 0, 0, netip.Addr{}, fmt.Errorf("%w: prefix length %d > 128", ErrInvalidValue, body[1])
	}
	return body[0], body[1], netip.AddrFrom16([16]byte(body[2:18])), nil
}

// putAddr16 writes a 16-octet address; an invalid (zero) Addr is written as
// ALL_ZERO, and an IPv4 address in its IPv4-mapped form.
func putAddr16(b []byte, a netip.Addr) {
	if !a.IsValid() {
		clear(b[:16])
		return
	}
	a16 := a.As16()
	copy(b, a16[:])
}

// ---- Handoff Indicator (23) ----

// HandoffIndicatorValue is the Handoff Indicator value (RFC 5213 §8.4).
type HandoffIndicatorValue uint8

// Handoff Indicator values.
const (
	HIReserved               HandoffIndicatorValue = 0
	HIAttachNewInterface     HandoffIndicatorValue = 1 // attachment over a new interface
	HIHandoffBetweenIfaces   HandoffIndicatorValue = 2 // handoff between two different interfaces of the MN
	HIHandoffBetweenMAGs     HandoffIndicatorValue = 3 // handoff between MAGs for the same interface
	HIHandoffStateUnknown    HandoffIndicatorValue = 4
	HIHandoffStateNotChanged HandoffIndicatorValue = 5 // re-registration
	HIAttachSharingPrefixes  HandoffIndicatorValue = 6 // RFC 7864
)

var hiNames = [...]string{"Reserved", "Attachment over a new interface",
	"Handoff between two different interfaces of the mobile node",
	"Handoff between mobile access gateways for the same interface", "Handoff state unknown",
	"Handoff state not changed (Re-registration)", "Attachment over a new interface sharing prefixes"}

func (v HandoffIndicatorValue) String() string {
	if int(v) < len(hiNames) {
		return hiNames[v]
	}
	return fmt.Sprintf("HI %d", uint8(v))
}

// HandoffIndicator is the Handoff Indicator option (type 23, RFC 5213 §8.4).
type HandoffIndicator struct {
	Reserved uint8
	Value    HandoffIndicatorValue
}

func (*HandoffIndicator) OptionType() OptionType { return OptHandoffIndicator }
func (*HandoffIndicator) Alignment() Alignment   { return NoAlignment }
func (*HandoffIndicator) MarshalLen() int        { return 4 }
func (o *HandoffIndicator) MarshalTo(b []byte) error {
	return putTwoOctets(b, OptHandoffIndicator, o.Reserved, uint8(o.Value))
}
func (o *HandoffIndicator) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *HandoffIndicator) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptHandoffIndicator)
	if err != nil {
		return err
	}
	return o.setBody(body)
}

func (o *HandoffIndicator) setBody(body []byte) error {
	if len(body) != 2 {
		return lenErr(OptHandoffIndicator.String(), len(body), "2")
	}
	o.Reserved, o.Value = body[0], HandoffIndicatorValue(body[1])
	return nil
}

// ParseHandoffIndicator decodes a Handoff Indicator option.
func ParseHandoffIndicator(b []byte) (*HandoffIndicator, error) {
	o := &HandoffIndicator{}
	return o, o.UnmarshalBinary(b)
}

func putTwoOctets(b []byte, t OptionType, x, y uint8) error {
	if err := putOptHeader(b, t, 4); err != nil {
		return err
	}
	b[2], b[3] = x, y
	return nil
}

func getTwoOctets(b []byte, t OptionType) (uint8, uint8, error) {
	body, err := optHeader(b, t)
	if err != nil {
		return 0, 0, err
	}
	if len(body) != 2 {
		return 0, 0, lenErr(t.String(), len(body), "2")
	}
	return body[0], body[1], nil
}

// ---- Access Technology Type (24) ----

// ATT is the Access Technology Type value (RFC 5213 §8.5).
type ATT uint8

// Access Technology Type values.
const (
	ATTReserved ATT = 0
	ATTVirtual  ATT = 1
	ATTPPP      ATT = 2
	ATT8023     ATT = 3 // IEEE 802.3
	ATT80211    ATT = 4 // IEEE 802.11a/b/g
	ATT80216e   ATT = 5
	ATTGERAN    ATT = 6
	ATTUTRAN    ATT = 7
	ATTEUTRAN   ATT = 8
	ATTeHRPD    ATT = 9
	ATTHRPD     ATT = 10
	ATT1xRTT    ATT = 11
	ATTUMB      ATT = 12
	ATTNBIoT    ATT = 13
)

var attNames = [...]string{"Reserved", "Virtual", "PPP", "IEEE 802.3", "IEEE 802.11a/b/g",
	"IEEE 802.16e", "3GPP GERAN", "3GPP UTRAN", "3GPP E-UTRAN", "3GPP2 eHRPD", "3GPP2 HRPD",
	"3GPP2 1xRTT", "3GPP2 UMB", "3GPP NB-IoT"}

func (a ATT) String() string {
	if int(a) < len(attNames) {
		return attNames[a]
	}
	return fmt.Sprintf("ATT %d", uint8(a))
}

// AccessTechnologyType is the Access Technology Type option (type 24,
// RFC 5213 §8.5).
type AccessTechnologyType struct {
	Reserved uint8
	Value    ATT
}

func (*AccessTechnologyType) OptionType() OptionType { return OptAccessTechnologyType }
func (*AccessTechnologyType) Alignment() Alignment   { return NoAlignment }
func (*AccessTechnologyType) MarshalLen() int        { return 4 }
func (o *AccessTechnologyType) MarshalTo(b []byte) error {
	return putTwoOctets(b, OptAccessTechnologyType, o.Reserved, uint8(o.Value))
}
func (o *AccessTechnologyType) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *AccessTechnologyType) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptAccessTechnologyType)
	if err != nil {
		return err
	}
	return o.setBody(body)
}

func (o *AccessTechnologyType) setBody(body []byte) error {
	if len(body) != 2 {
		return lenErr(OptAccessTechnologyType.String(), len(body), "2")
	}
	o.Reserved, o.Value = body[0], ATT(body[1])
	return nil
}

// ParseAccessTechnologyType decodes an Access Technology Type option.
func ParseAccessTechnologyType(b []byte) (*AccessTechnologyType, error) {
	o := &AccessTechnologyType{}
	return o, o.UnmarshalBinary(b)
}

// ---- MN Link-layer Identifier (25) ----

// MNLinkLayerID is the Mobile Node Link-layer Identifier option (type 25,
// RFC 5213 §8.6).
type MNLinkLayerID struct {
	Reserved uint16
	// LinkLayerID is the identifier, formatted as in RFC 4861 §4.6 (for
	// Ethernet the 6-octet MAC address).
	LinkLayerID []byte
}

func (*MNLinkLayerID) OptionType() OptionType { return OptMNLinkLayerID }

// Alignment: RFC 5213 §8.6 asks for an alignment appropriate for the
// identifier's size and names none; the option is sent unaligned.
func (*MNLinkLayerID) Alignment() Alignment { return NoAlignment }
func (o *MNLinkLayerID) MarshalLen() int    { return 4 + len(o.LinkLayerID) }
func (o *MNLinkLayerID) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptMNLinkLayerID, o.MarshalLen()); err != nil {
		return err
	}
	be.PutUint16(b[2:], o.Reserved)
	copy(b[4:], o.LinkLayerID)
	return nil
}
func (o *MNLinkLayerID) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *MNLinkLayerID) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptMNLinkLayerID)
	if err != nil {
		return err
	}
	return o.setBody(body)
}

func (o *MNLinkLayerID) setBody(body []byte) error {
	if len(body) < 2 {
		return lenErr(OptMNLinkLayerID.String(), len(body), "at least 2")
	}
	o.Reserved = be.Uint16(body)
	o.LinkLayerID = append(o.LinkLayerID[:0], body[2:]...)
	return nil
}

// ParseMNLinkLayerID decodes an MN Link-layer Identifier option.
func ParseMNLinkLayerID(b []byte) (*MNLinkLayerID, error) {
	o := &MNLinkLayerID{}
	return o, o.UnmarshalBinary(b)
}

// ---- Link-local Address (26) ----

// LinkLocalAddress is the Link-local Address option (type 26, RFC 5213
// §8.7). ALL_ZERO in a PBU asks the LMA for the address to use.
type LinkLocalAddress struct {
	Address netip.Addr
}

func (*LinkLocalAddress) OptionType() OptionType { return OptLinkLocalAddress }
func (*LinkLocalAddress) Alignment() Alignment   { return Alignment{8, 6} }
func (*LinkLocalAddress) MarshalLen() int        { return 18 }
func (o *LinkLocalAddress) MarshalTo(b []byte) error {
	return putAddrOpt(b, OptLinkLocalAddress, o.Address)
}
func (o *LinkLocalAddress) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *LinkLocalAddress) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptLinkLocalAddress)
	if err != nil {
		return err
	}
	return o.setBody(body)
}

func (o *LinkLocalAddress) setBody(body []byte) error {
	if len(body) != 16 {
		return lenErr(OptLinkLocalAddress.String(), len(body), "16")
	}
	o.Address = netip.AddrFrom16([16]byte(body))
	return nil
}

// ParseLinkLocalAddress decodes a Link-local Address option.
func ParseLinkLocalAddress(b []byte) (*LinkLocalAddress, error) {
	o := &LinkLocalAddress{}
	return o, o.UnmarshalBinary(b)
}

// putAddrOpt / getAddrOpt encode the layout "16-octet address, nothing
// else" (Link-local Address, Alternate CoA, Serving MAAR, ...).
func putAddrOpt(b []byte, t OptionType, a netip.Addr) error {
	if err := putOptHeader(b, t, 18); err != nil {
		return err
	}
	putAddr16(b[2:18], a)
	return nil
}

func getAddrOpt(b []byte, t OptionType) (netip.Addr, error) {
	body, err := optHeader(b, t)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(body) != 16 {
		return netip.Addr{}, lenErr(t.String(), len(body), "16")
	}
	return netip.AddrFrom16([16]byte(body)), nil
}

// ---- Timestamp (27) ----

// Timestamp is the Timestamp option (type 27, RFC 5213 §8.8): a 64-bit
// fixed-point value whose top 48 bits are seconds since 1970-01-01 00:00
// UTC and whose low 16 bits are 1/65536 s. This is not the NTP format.
type Timestamp struct {
	Value uint64
}

// NewTimestamp returns a Timestamp option holding t.
func NewTimestamp(t time.Time) *Timestamp { return &Timestamp{Value: TimestampValue(t)} }

// TimestampValue converts t to the RFC 5213 §8.8 format (rounding the
// fraction down to 1/65536 s).
func TimestampValue(t time.Time) uint64 {
	sec := uint64(t.Unix())
	frac := uint64(t.Nanosecond()) << 16 / 1e9
	return sec<<16 | frac
}

// Time returns the timestamp as a time.Time (UTC).
func (o *Timestamp) Time() time.Time {
	sec := int64(o.Value >> 16)
	ns := int64((o.Value & 0xffff) * 1e9 >> 16)
	return time.Unix(sec, ns).UTC()
}

func (*Timestamp) OptionType() OptionType { return OptTimestamp }
func (*Timestamp) Alignment() Alignment   { return Alignment{8, 2} }
func (*Timestamp) MarshalLen() int        { return 10 }
func (o *Timestamp) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptTimestamp, 10); err != nil {
		return err
	}
	be.PutUint64(b[2:], o.Value)
	return nil
}
func (o *Timestamp) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *Timestamp) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptTimestamp)
	if err != nil {
		return err
	}
	return o.setBody(body)
}

func (o *Timestamp) setBody(body []byte) error {
	if len(body) != 8 {
		return lenErr(OptTimestamp.String(), len(body), "8")
	}
	o.Value = be.Uint64(body)
	return nil
}

// ParseTimestamp decodes a Timestamp option.
func ParseTimestamp(b []byte) (*Timestamp, error) {
	o := &Timestamp{}
	return o, o.UnmarshalBinary(b)
}
