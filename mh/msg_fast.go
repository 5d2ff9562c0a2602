package mh

import "fmt"

// Fast Mobile IPv6 (FMIPv6) binding messages: Fast Binding Update and
// Fast Binding Acknowledgment (RFC 5568 §6.2.2, §6.2.3). Their layouts
// are those of the Binding Update and Binding Acknowledgement; only the
// RFC 6275 flags apply (the flag bits added by later RFCs MUST be zero).

func init() {
	registerMessage(TypeFastBindingUpdate, func() Message { return &FastBindingUpdate{} })
	registerMessage(TypeFastBindingAck, func() Message { return &FastBindingAck{} })
}

// FBUFlags are the flags of a Fast Binding Update. The other 12 bits are
// Reserved and kept as received.
type FBUFlags uint16

// Fast Binding Update flags (RFC 5568 §6.2.2, meanings from RFC 6275).
const (
	FBUFlagA FBUFlags = 0x8000 // Acknowledge: MUST be 1
	FBUFlagH FBUFlags = 0x4000 // Home Registration: MUST be 1
	FBUFlagL FBUFlags = 0x2000 // Link-Local Address Compatibility
	FBUFlagK FBUFlags = 0x1000 // Key Management Mobility Capability
)

// FastBindingUpdate is a Fast Binding Update (MH Type 8, RFC 5568
// §6.2.2), sent by a mobile node to its previous access router.
type FastBindingUpdate struct {
	Base
	Sequence uint16
	Flags    FBUFlags
	// Lifetime requested, in seconds (RFC 5568 §6.2.2; the BU counts
	// units of 4 seconds).
	Lifetime uint16
}

func (m *FastBindingUpdate) MHType() Type             { return TypeFastBindingUpdate }
func (m *FastBindingUpdate) MarshalLen() int          { return msgLen(m) }
func (m *FastBindingUpdate) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *FastBindingUpdate) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *FastBindingUpdate) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseFastBindingUpdate decodes a Fast Binding Update.
func ParseFastBindingUpdate(b []byte) (*FastBindingUpdate, error) {
	m := &FastBindingUpdate{}
	return m, m.UnmarshalBinary(b)
}

func (m *FastBindingUpdate) fixedLen() int { return 6 }
func (m *FastBindingUpdate) putFixed(b []byte) {
	be.PutUint16(b[0:], m.Sequence)
	be.PutUint16(b[2:], uint16(m.Flags))
	be.PutUint16(b[4:], m.Lifetime)
}
func (m *FastBindingUpdate) getFixed(b []byte) error {
	m.Sequence = be.Uint16(b[0:])
	m.Flags = FBUFlags(be.Uint16(b[2:]))
	m.Lifetime = be.Uint16(b[4:])
	return nil
}
func (m *FastBindingUpdate) legacyFix(q Quirk) Quirk { return q }

// FBAckFlags are the flags of a Fast Binding Acknowledgment. The other 7
// bits are Reserved and kept as received.
type FBAckFlags uint8

// FBAckFlagK is the Key Management Mobility Capability flag (RFC 5568
// §6.2.3, meaning from RFC 6275).
const FBAckFlagK FBAckFlags = 0x80

// FBAckStatus is the Status of a Fast Binding Acknowledgment (RFC 5568
// §6.2.3). Values below 128 mean the FBU was accepted.
type FBAckStatus uint8

// Fast Binding Acknowledgment status values.
const (
	FBAckAccepted                   FBAckStatus = 0
	FBAckAcceptedNCoAInvalid        FBAckStatus = 1 // use the NCoA in the Alternate CoA option
	FBAckReasonUnspecified          FBAckStatus = 128
	FBAckAdministrativelyProhibited FBAckStatus = 129
	FBAckInsufficientResources      FBAckStatus = 130
	FBAckIncorrectIIDLength         FBAckStatus = 131
)

var fbackStatusNames = map[FBAckStatus]string{
	0:   "Fast Binding Update accepted",
	1:   "Fast Binding Update accepted but NCoA is invalid",
	128: "Reason unspecified",
	129: "Administratively prohibited",
	130: "Insufficient resources",
	131: "Incorrect interface identifier length",
}

func (s FBAckStatus) String() string {
	if n, ok := fbackStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Accepted reports whether the status means the FBU was accepted (< 128).
func (s FBAckStatus) Accepted() bool { return s < 128 }

// FastBindingAck is a Fast Binding Acknowledgment (MH Type 9, RFC 5568
// §6.2.3), sent by the previous access router.
type FastBindingAck struct {
	Base
	Status   FBAckStatus
	Flags    FBAckFlags
	Sequence uint16
	// Lifetime granted, in seconds.
	Lifetime uint16
}

func (m *FastBindingAck) MHType() Type             { return TypeFastBindingAck }
func (m *FastBindingAck) MarshalLen() int          { return msgLen(m) }
func (m *FastBindingAck) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *FastBindingAck) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *FastBindingAck) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseFastBindingAck decodes a Fast Binding Acknowledgment.
func ParseFastBindingAck(b []byte) (*FastBindingAck, error) {
	m := &FastBindingAck{}
	return m, m.UnmarshalBinary(b)
}

func (m *FastBindingAck) fixedLen() int { return 6 }
func (m *FastBindingAck) putFixed(b []byte) {
	b[0] = byte(m.Status)
	b[1] = byte(m.Flags)
	be.PutUint16(b[2:], m.Sequence)
	be.PutUint16(b[4:], m.Lifetime)
}
func (m *FastBindingAck) getFixed(b []byte) error {
	m.Status = FBAckStatus(b[0])
	m.Flags = FBAckFlags(b[1])
	m.Sequence = be.Uint16(b[2:])
	m.Lifetime = be.Uint16(b[4:])
	return nil
}
func (m *FastBindingAck) legacyFix(q Quirk) Quirk { return q }
