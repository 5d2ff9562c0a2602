package mh

// The DMM messages (docs/wire-format.md §3). They travel in the carrier MH
// Type (Codepoints.CarrierMHType, by default 11, RFC 5096 Experimental)
// with this message data:
//
//	DMM Type(1) | Status(1) | Sequence #(2) | Flags/Reserved(2) | options...
//
// so the options start at offset 12, as in a Binding Update.

// LocationQuery asks an LM for the routing location of a mobile node
// (draft Figure 3 steps 2, Figure 4 step 4). It carries one Location
// Query option.
type LocationQuery struct {
	Base
	// Reserved is the Status octet of a request: 0 when sent, kept as
	// received.
	Reserved uint8
	Sequence uint16
	Flags    DMMFlags
}

// LocationReply answers a Location Query (Figure 3 step 3, Figure 4 step
// 5). On success it carries one Routing Location option per prefix of the
// mobile node that matches the query.
type LocationReply struct {
	Base
	Status   DMMStatus
	Sequence uint16 // copied from the Location Query
	Flags    DMMFlags
}

// Redirect tells the MR of a correspondent where a mobile node is now
// (Figure 4 step 8, Figure 5 step 7). It carries one or more Routing
// Location options; DMMFlagA asks for a Redirect Ack.
type Redirect struct {
	Base
	Reserved uint8 // Status octet of a request: 0 when sent
	Sequence uint16
	Flags    DMMFlags
}

// RedirectAck acknowledges a Redirect that had DMMFlagA.
type RedirectAck struct {
	Base
	Status   DMMStatus
	Sequence uint16 // copied from the Redirect
	Flags    DMMFlags
}

// Query returns the message's Location Query option, or nil.
func (m *LocationQuery) Query() *LocationQueryOption {
	o, _ := Find[*LocationQueryOption](m.Options)
	return o
}

// Locations returns the Routing Location options of the reply.
func (m *LocationReply) Locations() []*RoutingLocation { return routingLocations(m.Options) }

// Locations returns the Routing Location options of the redirect.
func (m *Redirect) Locations() []*RoutingLocation { return routingLocations(m.Options) }

// AckRequested reports whether the Redirect asks for a Redirect Ack.
func (m *Redirect) AckRequested() bool { return m.Flags&DMMFlagA != 0 }

func routingLocations(opts Options) []*RoutingLocation {
	var out []*RoutingLocation
	for _, o := range opts {
		if r, ok := o.(*RoutingLocation); ok {
			out = append(out, r)
		}
	}
	return out
}

// ---- LocationQuery ----

func (m *LocationQuery) MHType() Type             { return dmmCarrier() }
func (m *LocationQuery) MarshalLen() int          { return msgLen(m) }
func (m *LocationQuery) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *LocationQuery) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *LocationQuery) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseLocationQuery decodes a Location Query message.
func ParseLocationQuery(b []byte) (*LocationQuery, error) {
	m := &LocationQuery{}
	return m, m.UnmarshalBinary(b)
}

func (m *LocationQuery) fixedLen() int           { return dmmFixedLen }
func (m *LocationQuery) legacyFix(q Quirk) Quirk { return q }
func (m *LocationQuery) putFixed(b []byte) {
	putDMMFixed(b, kindLocationQuery, uint8(m.Reserved), m.Sequence, m.Flags)
}
func (m *LocationQuery) getFixed(b []byte) error {
	s, seq, f, err := getDMMFixed(b, kindLocationQuery)
	if err != nil {
		return err
	}
	m.Reserved, m.Sequence, m.Flags = uint8(s), seq, f
	return nil
}

// ---- LocationReply ----

func (m *LocationReply) MHType() Type             { return dmmCarrier() }
func (m *LocationReply) MarshalLen() int          { return msgLen(m) }
func (m *LocationReply) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *LocationReply) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *LocationReply) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseLocationReply decodes a Location Reply message.
func ParseLocationReply(b []byte) (*LocationReply, error) {
	m := &LocationReply{}
	return m, m.UnmarshalBinary(b)
}

func (m *LocationReply) fixedLen() int           { return dmmFixedLen }
func (m *LocationReply) legacyFix(q Quirk) Quirk { return q }
func (m *LocationReply) putFixed(b []byte) {
	putDMMFixed(b, kindLocationReply, uint8(m.Status), m.Sequence, m.Flags)
}
func (m *LocationReply) getFixed(b []byte) error {
	s, seq, f, err := getDMMFixed(b, kindLocationReply)
	if err != nil {
		return err
	}
	m.Status, m.Sequence, m.Flags = DMMStatus(s), seq, f
	return nil
}

// ---- Redirect ----

func (m *Redirect) MHType() Type             { return dmmCarrier() }
func (m *Redirect) MarshalLen() int          { return msgLen(m) }
func (m *Redirect) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *Redirect) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *Redirect) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseRedirect decodes a Redirect message.
func ParseRedirect(b []byte) (*Redirect, error) {
	m := &Redirect{}
	return m, m.UnmarshalBinary(b)
}

func (m *Redirect) fixedLen() int           { return dmmFixedLen }
func (m *Redirect) legacyFix(q Quirk) Quirk { return q }
func (m *Redirect) putFixed(b []byte) {
	putDMMFixed(b, kindRedirect, uint8(m.Reserved), m.Sequence, m.Flags)
}
func (m *Redirect) getFixed(b []byte) error {
	s, seq, f, err := getDMMFixed(b, kindRedirect)
	if err != nil {
		return err
	}
	m.Reserved, m.Sequence, m.Flags = uint8(s), seq, f
	return nil
}

// ---- RedirectAck ----

func (m *RedirectAck) MHType() Type             { return dmmCarrier() }
func (m *RedirectAck) MarshalLen() int          { return msgLen(m) }
func (m *RedirectAck) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *RedirectAck) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *RedirectAck) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseRedirectAck decodes a Redirect Ack message.
func ParseRedirectAck(b []byte) (*RedirectAck, error) {
	m := &RedirectAck{}
	return m, m.UnmarshalBinary(b)
}

func (m *RedirectAck) fixedLen() int           { return dmmFixedLen }
func (m *RedirectAck) legacyFix(q Quirk) Quirk { return q }
func (m *RedirectAck) putFixed(b []byte) {
	putDMMFixed(b, kindRedirectAck, uint8(m.Status), m.Sequence, m.Flags)
}
func (m *RedirectAck) getFixed(b []byte) error {
	s, seq, f, err := getDMMFixed(b, kindRedirectAck)
	if err != nil {
		return err
	}
	m.Status, m.Sequence, m.Flags = DMMStatus(s), seq, f
	return nil
}

// Name returns the message's name (the carrier MH Type's name is
// "Experimental Mobility Header"; these say which DMM message it is).
func (m *LocationQuery) Name() string { return "Location Query" }

// Name returns the message's name.
func (m *LocationReply) Name() string { return "Location Reply" }

// Name returns the message's name.
func (m *Redirect) Name() string { return "Redirect" }

// Name returns the message's name.
func (m *RedirectAck) Name() string { return "Redirect Ack" }
