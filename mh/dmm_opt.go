package mh

import (
	"fmt"
	"net/netip"
)

// The DMM options (docs/wire-format.md §4). Their type octets come from
// Codepoints (defaults 240, 241, 242); they are registered by dmm.go.

// ---- Location Query option ----

// LocationQueryType says what a Location Query option looks up.
type LocationQueryType uint8

// Location Query types.
const (
	QueryByHomeAddress LocationQueryType = 1 // Value: a home address (16 octets), Qualifier 128
	QueryByPrefix      LocationQueryType = 2 // Value: a prefix (16 octets), Qualifier = prefix length
	QueryByMNID        LocationQueryType = 3 // Value: an MN Identifier, Qualifier = its RFC 4283/8371 subtype
)

func (t LocationQueryType) String() string {
	switch t {
	case QueryByHomeAddress:
		return "home address"
	case QueryByPrefix:
		return "prefix"
	case QueryByMNID:
		return "MN-ID"
	}
	return fmt.Sprintf("query type %d", uint8(t))
}

// LocationQueryOption is the Location Query option: the key of a
// Location Query (a home address, a prefix or an MN-ID).
//
//	Type | Length | Query Type | Qualifier | Value...
//
// Alignment 8n+4, so that a 16-octet Value is 8-aligned.
type LocationQueryOption struct {
	QueryType LocationQueryType
	// PrefixLength is the Qualifier of types 1 (always 128) and 2.
	PrefixLength uint8
	// Address is the Value of types 1 and 2.
	Address netip.Addr
	// Subtype is the Qualifier of type 3.
	Subtype MNIDSubtype
	// Identifier is the Value of type 3 (1 to 253 octets).
	Identifier []byte
}

// NewQueryByHomeAddress returns a Location Query option for a home address.
func NewQueryByHomeAddress(a netip.Addr) *LocationQueryOption {
	return &LocationQueryOption{QueryType: QueryByHomeAddress, PrefixLength: 128, Address: a}
}

// NewQueryByPrefix returns a Location Query option for a prefix.
func NewQueryByPrefix(p netip.Prefix) *LocationQueryOption {
	return &LocationQueryOption{QueryType: QueryByPrefix, PrefixLength: uint8(p.Bits()), Address: p.Addr()}
}

// NewQueryByMNID returns a Location Query option for an MN Identifier.
func NewQueryByMNID(id *MNIdentifier) *LocationQueryOption {
	return &LocationQueryOption{QueryType: QueryByMNID, Subtype: id.Subtype, Identifier: append([]byte(nil), id.Identifier...)}
}

func (*LocationQueryOption) OptionType() OptionType { return cp.Load().OptLocationQuery }
func (*LocationQueryOption) Alignment() Alignment   { return Alignment{8, 4} }
func (o *LocationQueryOption) MarshalLen() int {
	if o.QueryType == QueryByMNID {
		return 4 + len(o.Identifier)
	}
	return 20
}
func (o *LocationQueryOption) MarshalTo(b []byte) error {
	t := o.OptionType()
	if err := putOptHeader(b, t, o.MarshalLen()); err != nil {
		return err
	}
	b[2] = byte(o.QueryType)
	switch o.QueryType {
	case QueryByHomeAddress, QueryByPrefix:
		if o.PrefixLength > 128 {
			return fmt.Errorf("%w: %s prefix length %d", ErrInvalidValue, t, o.PrefixLength)
		}
		b[3] = o.PrefixLength
		putAddr16(b[4:20], o.Address)
	case QueryByMNID:
		if len(o.Identifier) == 0 {
			return fmt.Errorf("%w: %s: empty MN Identifier", ErrInvalidValue, t)
		}
		b[3] = byte(o.Subtype)
		copy(b[4:], o.Identifier)
	default:
		return fmt.Errorf("%w: %s: query type %d", ErrInvalidValue, t, o.QueryType)
	}
	return nil
}
func (o *LocationQueryOption) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *LocationQueryOption) UnmarshalBinary(b []byte) error {
	t := o.OptionType()
	body, err := optHeader(b, t)
	if err != nil {
		return err
	}
	if len(body) < 2 {
		return lenErr(t.String(), len(body), "at least 2")
	}
	o.QueryType = LocationQueryType(body[0])
	switch o.QueryType {
	case QueryByHomeAddress, QueryByPrefix:
		if len(body) != 18 {
			return lenErr(t.String(), len(body), "18")
		}
		if body[1] > 128 {
			return fmt.Errorf("%w: prefix length %d > 128", ErrInvalidValue, body[1])
		}
		o.PrefixLength, o.Address = body[1], netip.AddrFrom16([16]byte(body[2:18]))
		o.Subtype, o.Identifier = 0, o.Identifier[:0]
	case QueryByMNID:
		if len(body) < 3 {
			return lenErr(t.String(), len(body), "at least 3")
		}
		o.Subtype = MNIDSubtype(body[1])
		o.Identifier = append(o.Identifier[:0], body[2:]...)
		o.PrefixLength, o.Address = 0, netip.Addr{}
	default:
		return fmt.Errorf("%w: %s: unknown query type %d", ErrInvalidValue, t, body[0])
	}
	return nil
}

// ParseLocationQueryOption decodes a Location Query option.
func ParseLocationQueryOption(b []byte) (*LocationQueryOption, error) {
	o := &LocationQueryOption{}
	return o, o.UnmarshalBinary(b)
}

// ---- Routing Location option ----

// RLFlags are the flags of a Routing Location option.
type RLFlags uint8

// Routing Location flags.
const (
	// RLFlagF: the sender (the anchor or the previous MR) forwards the
	// prefix's traffic to CurrentMR for the option's lifetime (draft
	// Figure 5 steps 4-6, temporary forwarding during handover).
	RLFlagF RLFlags = 0x80
)

// routingLocationLen is the whole option: Type, Length 54, then 54 octets.
const routingLocationLen = 56

// RoutingLocation is the Routing Location option: where a prefix (or a
// home address, PrefixLength 128) of a mobile node is anchored and which
// MR the node is attached to now.
//
//	Type | Length=54 | Flags | Prefix Length | Prefix(16) | Anchor MR(16) |
//	Current MR(16) | Lifetime(4)
//
// Alignment 8n+4: the three 16-octet fields then start on 8-octet
// boundaries, and since the option is 56 octets long, consecutive Routing
// Location options need no padding between them.
type RoutingLocation struct {
	Flags        RLFlags
	PrefixLength uint8
	Prefix       netip.Addr
	// AnchorMR is the MR that assigned the prefix and advertises it to the
	// routing system (the draft's HAA/anchor for that prefix).
	AnchorMR netip.Addr
	// CurrentMR is the MR the mobile node is attached to now (its routing
	// location).
	CurrentMR netip.Addr
	// Lifetime is the remaining lifetime of the location, in seconds: how
	// long a receiver may cache it. 0 withdraws it.
	Lifetime uint32
}

// NewRoutingLocation returns a Routing Location option.
func NewRoutingLocation(p netip.Prefix, anchor, current netip.Addr, lifetime uint32) *RoutingLocation {
	return &RoutingLocation{PrefixLength: uint8(p.Bits()), Prefix: p.Addr(), AnchorMR: anchor, CurrentMR: current, Lifetime: lifetime}
}

// AsPrefix returns the option's prefix.
func (o *RoutingLocation) AsPrefix() netip.Prefix {
	return netip.PrefixFrom(o.Prefix, int(o.PrefixLength))
}

func (*RoutingLocation) OptionType() OptionType { return cp.Load().OptRoutingLocation }
func (*RoutingLocation) Alignment() Alignment   { return Alignment{8, 4} }
func (*RoutingLocation) MarshalLen() int        { return routingLocationLen }
func (o *RoutingLocation) MarshalTo(b []byte) error {
	t := o.OptionType()
	if err := putOptHeader(b, t, routingLocationLen); err != nil {
		return err
	}
	if o.PrefixLength > 128 {
		return fmt.Errorf("%w: %s prefix length %d", ErrInvalidValue, t, o.PrefixLength)
	}
	b[2], b[3] = byte(o.Flags), o.PrefixLength
	putAddr16(b[4:20], o.Prefix)
	putAddr16(b[20:36], o.AnchorMR)
	putAddr16(b[36:52], o.CurrentMR)
	be.PutUint32(b[52:56], o.Lifetime)
	return nil
}
func (o *RoutingLocation) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *RoutingLocation) UnmarshalBinary(b []byte) error {
	t := o.OptionType()
	body, err := optHeader(b, t)
	if err != nil {
		return err
	}
	if len(body) != routingLocationLen-2 {
		return lenErr(t.String(), len(body), "54")
	}
	if body[1] > 128 {
		return fmt.Errorf("%w: prefix length %d > 128", ErrInvalidValue, body[1])
	}
	o.Flags, o.PrefixLength = RLFlags(body[0]), body[1]
	o.Prefix = netip.AddrFrom16([16]byte(body[2:18]))
	o.AnchorMR = netip.AddrFrom16([16]byte(body[18:34]))
	o.CurrentMR = netip.AddrFrom16([16]byte(body[34:50]))
	o.Lifetime = be.Uint32(body[50:54])
	return nil
}

// ParseRoutingLocation decodes a Routing Location option.
func ParseRoutingLocation(b []byte) (*RoutingLocation, error) {
	o := &RoutingLocation{}
	return o, o.UnmarshalBinary(b)
}

// ---- Mobility Context option ----

// MCFlags are the flags of a Mobility Context option.
type MCFlags uint8

// Mobility Context flags.
const (
	// MCFlagR: the previous MR sends the Redirects to the MRs that cache
	// the node's location (draft Figure 5 step 7); when clear the new MR
	// must have them updated itself (through the LM).
	MCFlagR MCFlags = 0x80
	// MCFlagL: the sender has already updated the LM with the new routing
	// location (Figure 5, "the nMR need to update MN1's new routing
	// location to the LM").
	MCFlagL MCFlags = 0x40
	// MCFlagT: the binding is ordered by timestamps (RFC 5213 §5.5):
	// LastTimestamp is valid. When clear, LastSequence is.
	MCFlagT MCFlags = 0x20
)

const mobilityContextLen = 20

// MobilityContext is the Mobility Context option: the per-node state the
// new MR needs from the previous MR at handover (draft Figure 5 step 2)
// that the RFC 5949 context options (HNP, Link-local Address, GRE Key,
// IPv4 HoA, MN LL-ID, LMA Address, MN LLA-IID) do not carry.
//
//	Type | Length=18 | Flags | ATT | Remaining Lifetime(4) |
//	Last Sequence #(2) | Forwarding Lifetime(2) | Last Timestamp(8)
//
// Alignment 8n+4, which puts Remaining Lifetime on a 4-octet and Last
// Timestamp on an 8-octet boundary.
type MobilityContext struct {
	Flags MCFlags
	// ATT is the access technology of the attachment at the previous MR,
	// so the new MR can tell a handoff on the same interface (HI 3) from
	// an attachment over a new one (RFC 5213 §5.4.1) and fill its own ATT.
	ATT ATT
	// RemainingLifetime (seconds) of the binding at the previous MR; the
	// new MR keeps the prefixes at least that long without a new
	// assignment from the HAA.
	RemainingLifetime uint32
	// LastSequence is the Sequence # of the last PBU accepted for the node
	// (sequence-number scheme, RFC 6275 §9.5.1), so that the new MR, in
	// its LMA role towards MAGs (draft §5), rejects replays.
	LastSequence uint16
	// ForwardingLifetime (seconds) is how long the previous MR will keep
	// forwarding to the new MR (Figure 5 steps 4-6); 0 means none.
	ForwardingLifetime uint16
	// LastTimestamp is the RFC 5213 §8.8 Timestamp of the last PBU
	// accepted (timestamp scheme, RFC 5213 §5.5), valid when MCFlagT.
	LastTimestamp uint64
}

func (*MobilityContext) OptionType() OptionType { return cp.Load().OptMobilityContext }
func (*MobilityContext) Alignment() Alignment   { return Alignment{8, 4} }
func (*MobilityContext) MarshalLen() int        { return mobilityContextLen }
func (o *MobilityContext) MarshalTo(b []byte) error {
	if err := putOptHeader(b, o.OptionType(), mobilityContextLen); err != nil {
		return err
	}
	b[2], b[3] = byte(o.Flags), byte(o.ATT)
	be.PutUint32(b[4:], o.RemainingLifetime)
	be.PutUint16(b[8:], o.LastSequence)
	be.PutUint16(b[10:], o.ForwardingLifetime)
	be.PutUint64(b[12:], o.LastTimestamp)
	return nil
}
func (o *MobilityContext) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *MobilityContext) UnmarshalBinary(b []byte) error {
	t := o.OptionType()
	body, err := optHeader(b, t)
	if err != nil {
		return err
	}
	if len(body) != mobilityContextLen-2 {
		return lenErr(t.String(), len(body), "18")
	}
	o.Flags, o.ATT = MCFlags(body[0]), ATT(body[1])
	o.RemainingLifetime = be.Uint32(body[2:])
	o.LastSequence = be.Uint16(body[6:])
	o.ForwardingLifetime = be.Uint16(body[8:])
	o.LastTimestamp = be.Uint64(body[10:])
	return nil
}

// ParseMobilityContext decodes a Mobility Context option.
func ParseMobilityContext(b []byte) (*MobilityContext, error) {
	o := &MobilityContext{}
	return o, o.UnmarshalBinary(b)
}
