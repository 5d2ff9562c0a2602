package mh

import "fmt"

// Localized Routing Initiation and Acknowledgment (MH Types 17 and 18,
// RFC 6705 §10) between an LMA and MAGs.

func init() {
	registerMessage(TypeLocalizedRoutingInit, func() Message { return &LocalizedRoutingInit{} })
	registerMessage(TypeLocalizedRoutingAck, func() Message { return &LocalizedRoutingAck{} })
}

// LRLifetimeInfinite is the Lifetime value that means no expiry; 0 stops
// localized routing (RFC 6705 §10.1).
const LRLifetimeInfinite uint16 = 0xffff

// LocalizedRoutingInit is a Localized Routing Initiation (MH Type 17, RFC
// 6705 §10.1). Its options are the tuples [MN1-ID, MN1-HNP...] then
// [MN2-ID, MN2-HNP...], optionally with a MAG IPv6 Address option.
type LocalizedRoutingInit struct {
	Base
	Sequence uint16
	// MsgReserved is the 16-bit Reserved field, kept as received.
	MsgReserved uint16
	// Lifetime requested, in seconds (not units of 4 s).
	Lifetime uint16
}

func (m *LocalizedRoutingInit) MHType() Type             { return TypeLocalizedRoutingInit }
func (m *LocalizedRoutingInit) MarshalLen() int          { return msgLen(m) }
func (m *LocalizedRoutingInit) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *LocalizedRoutingInit) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *LocalizedRoutingInit) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseLocalizedRoutingInit decodes a Localized Routing Initiation.
func ParseLocalizedRoutingInit(b []byte) (*LocalizedRoutingInit, error) {
	m := &LocalizedRoutingInit{}
	return m, m.UnmarshalBinary(b)
}

func (m *LocalizedRoutingInit) fixedLen() int { return 6 }
func (m *LocalizedRoutingInit) putFixed(b []byte) {
	be.PutUint16(b[0:], m.Sequence)
	be.PutUint16(b[2:], m.MsgReserved)
	be.PutUint16(b[4:], m.Lifetime)
}
func (m *LocalizedRoutingInit) getFixed(b []byte) error {
	m.Sequence = be.Uint16(b[0:])
	m.MsgReserved = be.Uint16(b[2:])
	m.Lifetime = be.Uint16(b[4:])
	return nil
}
func (m *LocalizedRoutingInit) legacyFix(q Quirk) Quirk { return q }

// LRAFlags is the octet before the Status of an LRA: U, then 7 Reserved
// bits kept as received.
type LRAFlags uint8

// LRAFlagU marks an unsolicited LRA, whose Lifetime is a new requested
// value (RFC 6705 §10.2).
const LRAFlagU LRAFlags = 0x80

// LRAStatus is the Status of a Localized Routing Acknowledgment (RFC 6705
// §10.2; IANA keeps no registry for it). Values below 128 mean success.
type LRAStatus uint8

// Localized Routing Acknowledgment status values.
const (
	LRAStatusSuccess       LRAStatus = 0
	LRAStatusNotAllowed    LRAStatus = 128 // Localized Routing Not Allowed
	LRAStatusMNNotAttached LRAStatus = 129
)

func (s LRAStatus) String() string {
	switch s {
	case LRAStatusSuccess:
		return "Success"
	case LRAStatusNotAllowed:
		return "Localized Routing Not Allowed"
	case LRAStatusMNNotAttached:
		return "MN Not Attached"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Success reports whether the status means success (< 128).
func (s LRAStatus) Success() bool { return s < 128 }

// LocalizedRoutingAck is a Localized Routing Acknowledgment (MH Type 18,
// RFC 6705 §10.2).
type LocalizedRoutingAck struct {
	Base
	// Sequence is copied from the LRI.
	Sequence uint16
	Flags    LRAFlags
	Status   LRAStatus
	// Lifetime, in seconds, for which local forwarding is supported.
	Lifetime uint16
}

// Unsolicited reports whether the U flag is set.
func (m *LocalizedRoutingAck) Unsolicited() bool { return m.Flags&LRAFlagU != 0 }

func (m *LocalizedRoutingAck) MHType() Type             { return TypeLocalizedRoutingAck }
func (m *LocalizedRoutingAck) MarshalLen() int          { return msgLen(m) }
func (m *LocalizedRoutingAck) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *LocalizedRoutingAck) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *LocalizedRoutingAck) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseLocalizedRoutingAck decodes a Localized Routing Acknowledgment.
func ParseLocalizedRoutingAck(b []byte) (*LocalizedRoutingAck, error) {
	m := &LocalizedRoutingAck{}
	return m, m.UnmarshalBinary(b)
}

func (m *LocalizedRoutingAck) fixedLen() int { return 6 }
func (m *LocalizedRoutingAck) putFixed(b []byte) {
	be.PutUint16(b[0:], m.Sequence)
	b[2] = byte(m.Flags)
	b[3] = byte(m.Status)
	be.PutUint16(b[4:], m.Lifetime)
}
func (m *LocalizedRoutingAck) getFixed(b []byte) error {
	m.Sequence = be.Uint16(b[0:])
	m.Flags = LRAFlags(b[2])
	m.Status = LRAStatus(b[3])
	m.Lifetime = be.Uint16(b[4:])
	return nil
}
func (m *LocalizedRoutingAck) legacyFix(q Quirk) Quirk { return q }
