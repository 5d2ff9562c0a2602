package mh

import "fmt"

// Handover Initiate and Handover Acknowledge (MH Types 14 and 15) in the
// form of RFC 5949 §6.1 (PMIPv6 fast handovers), which is also the RFC
// 5568 §6.2.1 form when P is 0: Sequence #(2), a flags octet, Code(1);
// options start at offset 10.

func init() {
	registerMessage(TypeHandoverInitiate, func() Message { return &HandoverInitiate{} })
	registerMessage(TypeHandoverAck, func() Message { return &HandoverAck{} })
}

// ---- Handover Initiate (14) ----

// HIFlags is the flags octet of a Handover Initiate; the low 4 bits are
// Reserved and kept as received.
type HIFlags uint8

// Handover Initiate flags.
const (
	HIFlagS HIFlags = 0x80 // assigned address configuration (RFC 5568); MUST be 0 with P
	HIFlagU HIFlags = 0x40 // buffer packets for the MN
	HIFlagP HIFlags = 0x20 // proxy: the RFC 5949 form
	HIFlagF HIFlags = 0x10 // forwarding requested (RFC 5949)
)

// HICode is the Code of a Handover Initiate. Its meaning depends on the
// P flag: see Name.
type HICode uint8

// Handover Initiate codes with P=0 (RFC 5568 §6.2.1.1).
const (
	HICodeFBUFromPCoA    HICode = 0 // the PAR processed an FBU whose source was the PCoA
	HICodeFBUNotFromPCoA HICode = 1 // the PAR processed an FBU whose source was not the PCoA
)

// Handover Initiate codes with P=1 (RFC 5949 §6.1.1).
const (
	HICodeDefault               HICode = 0
	HICodeForwardingCompleted   HICode = 2 // indicates the completion of forwarding
	HICodeAllContextTransferred HICode = 3 // all available context transferred
)

var hiCodeNames5568 = map[HICode]string{
	0: "FBU with PCoA as source",
	1: "FBU whose source is not PCoA",
}

var hiCodeNames5949 = map[HICode]string{
	0: "Default",
	2: "Forwarding completed",
	3: "All available context transferred",
}

// Name returns the meaning of c in a message whose P flag is proxy:
// the RFC 5949 table when proxy is set, the RFC 5568 one otherwise.
func (c HICode) Name(proxy bool) string {
	names := hiCodeNames5568
	if proxy {
		names = hiCodeNames5949
	}
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// String names c as in an RFC 5949 (P=1) message, falling back on the
// RFC 5568 name for code 1.
func (c HICode) String() string {
	if _, ok := hiCodeNames5949[c]; !ok {
		return c.Name(false)
	}
	return c.Name(true)
}

// HandoverInitiate is a Handover Initiate (MH Type 14; RFC 5568
// §6.2.1.1, PMIPv6 form with P=1 in RFC 5949 §6.1.1). With P=1 it MUST
// carry an MN Identifier option.
type HandoverInitiate struct {
	Base
	Sequence uint16
	Flags    HIFlags
	Code     HICode
}

// Proxy reports whether the P flag is set (the RFC 5949 form).
func (m *HandoverInitiate) Proxy() bool { return m.Flags&HIFlagP != 0 }

// CodeName returns the meaning of Code given the message's P flag.
func (m *HandoverInitiate) CodeName() string { return m.Code.Name(m.Proxy()) }

func (m *HandoverInitiate) MHType() Type             { return TypeHandoverInitiate }
func (m *HandoverInitiate) MarshalLen() int          { return msgLen(m) }
func (m *HandoverInitiate) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *HandoverInitiate) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *HandoverInitiate) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseHandoverInitiate decodes a Handover Initiate.
func ParseHandoverInitiate(b []byte) (*HandoverInitiate, error) {
	m := &HandoverInitiate{}
	return m, m.UnmarshalBinary(b)
}

func (m *HandoverInitiate) fixedLen() int { return 4 }
func (m *HandoverInitiate) putFixed(b []byte) {
	be.PutUint16(b[0:], m.Sequence)
	b[2] = byte(m.Flags)
	b[3] = byte(m.Code)
}
func (m *HandoverInitiate) getFixed(b []byte) error {
	m.Sequence = be.Uint16(b[0:])
	m.Flags = HIFlags(b[2])
	m.Code = HICode(b[3])
	return nil
}
func (m *HandoverInitiate) legacyFix(q Quirk) Quirk { return q }

// ---- Handover Acknowledge (15) ----

// HAckFlags is the flags octet of a Handover Acknowledge; with P=0 (RFC
// 5568) the whole octet is Reserved. The low 5 bits are Reserved and kept
// as received.
type HAckFlags uint8

// Handover Acknowledge flags (RFC 5949 §6.1.2).
const (
	HAckFlagU HAckFlags = 0x80 // buffer packets for the MN
	HAckFlagP HAckFlags = 0x40 // proxy: the RFC 5949 form
	HAckFlagF HAckFlags = 0x20 // forwarding
)

// HAckCode is the Code of a Handover Acknowledge. Values of 128 and above
// refuse the handover. The meaning of 0-6 depends on the P flag: see Name.
type HAckCode uint8

// Handover Acknowledge codes with P=0 (RFC 5568 §6.2.1.2).
const (
	HAckCodeNCoAValid    HAckCode = 0 // Handover Accepted, NCoA valid
	HAckCodeNCoANotValid HAckCode = 1 // Handover Accepted, NCoA not valid or in use
	HAckCodeNCoAAssigned HAckCode = 2 // Handover Accepted, NCoA assigned
	HAckCodeUsePCoA      HAckCode = 3 // Handover Accepted, use PCoA
	HAckCodeUnsolicited  HAckCode = 4 // Message sent unsolicited, usually to trigger an HI
)

// Handover Acknowledge codes with P=1 (RFC 5949 §6.1.2); 128-130 are
// those of RFC 5568 as well.
const (
	HAckCodeAccepted                   HAckCode = 0 // Handover Accepted or Successful
	HAckCodeContextTransferAccepted    HAckCode = 5 // Context Transfer Accepted or Successful
	HAckCodeAllContextTransferred      HAckCode = 6 // All available Context Transferred
	HAckCodeNotAccepted                HAckCode = 128
	HAckCodeAdministrativelyProhibited HAckCode = 129
	HAckCodeInsufficientResources      HAckCode = 130
	HAckCodeContextNotAvailable        HAckCode = 131 // Requested Context Not Available
	HAckCodeForwardingNotAvailable     HAckCode = 132
)

var hackCodeNames5568 = map[HAckCode]string{
	0:   "Handover Accepted, NCoA valid",
	1:   "Handover Accepted, NCoA not valid or in use",
	2:   "Handover Accepted, NCoA assigned",
	3:   "Handover Accepted, use PCoA",
	4:   "Message sent unsolicited",
	128: "Handover Not Accepted, reason unspecified",
	129: "Administratively prohibited",
	130: "Insufficient resources",
}

var hackCodeNames5949 = map[HAckCode]string{
	0:   "Handover Accepted or Successful",
	5:   "Context Transfer Accepted or Successful",
	6:   "All available Context Transferred",
	128: "Handover Not Accepted, reason unspecified",
	129: "Administratively prohibited",
	130: "Insufficient resources",
	131: "Requested Context Not Available",
	132: "Forwarding Not Available",
}

// Name returns the meaning of c in a message whose P flag is proxy:
// the RFC 5949 table when proxy is set, the RFC 5568 one otherwise.
func (c HAckCode) Name(proxy bool) string {
	names := hackCodeNames5568
	if proxy {
		names = hackCodeNames5949
	}
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// String names c as in an RFC 5949 (P=1) message, falling back on the
// RFC 5568 name for codes 1-4.
func (c HAckCode) String() string {
	if _, ok := hackCodeNames5949[c]; !ok {
		return c.Name(false)
	}
	return c.Name(true)
}

// Accepted reports whether the code accepts the handover (< 128).
func (c HAckCode) Accepted() bool { return c < 128 }

// HandoverAck is a Handover Acknowledge (MH Type 15; RFC 5568
// §6.2.1.2, PMIPv6 form with P=1 in RFC 5949 §6.1.2).
type HandoverAck struct {
	Base
	Sequence uint16
	Flags    HAckFlags
	Code     HAckCode
}

// Proxy reports whether the P flag is set (the RFC 5949 form).
func (m *HandoverAck) Proxy() bool { return m.Flags&HAckFlagP != 0 }

// CodeName returns the meaning of Code given the message's P flag.
func (m *HandoverAck) CodeName() string { return m.Code.Name(m.Proxy()) }

func (m *HandoverAck) MHType() Type             { return TypeHandoverAck }
func (m *HandoverAck) MarshalLen() int          { return msgLen(m) }
func (m *HandoverAck) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *HandoverAck) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *HandoverAck) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseHandoverAck decodes a Handover Acknowledge.
func ParseHandoverAck(b []byte) (*HandoverAck, error) {
	m := &HandoverAck{}
	return m, m.UnmarshalBinary(b)
}

func (m *HandoverAck) fixedLen() int { return 4 }
func (m *HandoverAck) putFixed(b []byte) {
	be.PutUint16(b[0:], m.Sequence)
	b[2] = byte(m.Flags)
	b[3] = byte(m.Code)
}
func (m *HandoverAck) getFixed(b []byte) error {
	m.Sequence = be.Uint16(b[0:])
	m.Flags = HAckFlags(b[2])
	m.Code = HAckCode(b[3])
	return nil
}
func (m *HandoverAck) legacyFix(q Quirk) Quirk { return q }
