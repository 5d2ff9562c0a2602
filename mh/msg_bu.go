package mh

// BUFlags are the flags of a Binding Update (RFC 6275 §6.1.7 and the
// RFCs that added bits; IANA "Binding Update Flags").
type BUFlags uint16

// Binding Update flags.
const (
	BUFlagA BUFlags = 0x8000 // Acknowledge (RFC 6275)
	BUFlagH BUFlags = 0x4000 // Home Registration (RFC 6275)
	BUFlagL BUFlags = 0x2000 // Link-Local Address Compatibility (RFC 6275)
	BUFlagK BUFlags = 0x1000 // Key Management Mobility Capability (RFC 6275)
	BUFlagM BUFlags = 0x0800 // MAP Registration (RFC 4140)
	BUFlagR BUFlags = 0x0400 // Mobile Router (RFC 3963)
	BUFlagP BUFlags = 0x0200 // Proxy Registration (RFC 5213)
	BUFlagF BUFlags = 0x0100 // Forcing UDP encapsulation (RFC 5555)
	BUFlagT BUFlags = 0x0080 // TLV-header format (RFC 5845)
	BUFlagB BUFlags = 0x0040 // Bulk Binding Update (RFC 6602)
	BUFlagS BUFlags = 0x0020 // Subscription (RFC 7161)
	BUFlagD BUFlags = 0x0010 // DMM (RFC 8885)
)

// BindingUpdate is a Binding Update (MH Type 5, RFC 6275 §6.1.7); with
// the P flag it is a Proxy Binding Update (RFC 5213 §8.1).
type BindingUpdate struct {
	Base
	Sequence uint16
	Flags    BUFlags
	// Lifetime in units of 4 seconds; 0 de-registers.
	Lifetime uint16
}

func init() { registerMessage(TypeBindingUpdate, func() Message { return &BindingUpdate{} }) }

// Proxy reports whether the P flag is set.
func (m *BindingUpdate) Proxy() bool { return m.Flags&BUFlagP != 0 }

func (m *BindingUpdate) MHType() Type    { return TypeBindingUpdate }
func (m *BindingUpdate) MarshalLen() int { return msgLen(m) }
func (m *BindingUpdate) MarshalTo(b []byte) error {
	if len(b) < HeaderLen+6 {
		return ErrBufferTooSmall
	}
	m.putFixed(b[HeaderLen : HeaderLen+6]) // concrete calls: the hot path of every MAG
	return finishMsg(&m.Base, TypeBindingUpdate, b, HeaderLen+6)
}
func (m *BindingUpdate) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *BindingUpdate) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseBindingUpdate decodes a Binding Update.
func ParseBindingUpdate(b []byte) (*BindingUpdate, error) {
	m := &BindingUpdate{}
	return m, m.UnmarshalBinary(b)
}

func (m *BindingUpdate) fixedLen() int { return 6 }
func (m *BindingUpdate) putFixed(b []byte) {
	be.PutUint16(b[0:], m.Sequence)
	be.PutUint16(b[2:], uint16(m.Flags))
	be.PutUint16(b[4:], m.Lifetime)
}
func (m *BindingUpdate) getFixed(b []byte) error {
	m.Sequence = be.Uint16(b[0:])
	m.Flags = BUFlags(be.Uint16(b[2:]))
	m.Lifetime = be.Uint16(b[4:])
	return nil
}

// legacyFix undoes OAI pmip6d 0.4's host-byte-order flags (0x00a0 on the
// wire): when the high octet is empty and the low octet holds the bit where
// A lands after a byte swap (0x0080), the octets are swapped back. A BU
// from a MAG always sets A (RFC 5213 §6.9.1.5), and T is never sent
// without it, so a conformant message is never touched.
func (m *BindingUpdate) legacyFix(q Quirk) Quirk {
	if m.Flags&0xff00 == 0 && m.Flags&0x0080 != 0 {
		m.Flags = m.Flags<<8 | m.Flags>>8
		q |= QuirkSwappedFlags
	}
	return q
}

// BAFlags are the flags of a Binding Acknowledgement (IANA "Binding
// Acknowledgment Flags").
type BAFlags uint8

// Binding Acknowledgement flags.
const (
	BAFlagK BAFlags = 0x80 // Key Management Mobility Capability (RFC 6275)
	BAFlagR BAFlags = 0x40 // Mobile Router (RFC 3963)
	BAFlagP BAFlags = 0x20 // Proxy Registration (RFC 5213)
	BAFlagT BAFlags = 0x10 // TLV-header format (RFC 5845)
	BAFlagB BAFlags = 0x08 // Bulk Binding Update (RFC 6602)
	BAFlagS BAFlags = 0x04 // Subscription (RFC 7161)
	BAFlagD BAFlags = 0x02 // DMM (RFC 8885)
)

// BindingAck is a Binding Acknowledgement (MH Type 6, RFC 6275 §6.1.8);
// with the P flag it is a Proxy Binding Acknowledgement (RFC 5213 §8.2).
type BindingAck struct {
	Base
	Status   Status
	Flags    BAFlags
	Sequence uint16
	// Lifetime granted, in units of 4 seconds.
	Lifetime uint16
}

func init() { registerMessage(TypeBindingAck, func() Message { return &BindingAck{} }) }

// Proxy reports whether the P flag is set.
func (m *BindingAck) Proxy() bool { return m.Flags&BAFlagP != 0 }

func (m *BindingAck) MHType() Type    { return TypeBindingAck }
func (m *BindingAck) MarshalLen() int { return msgLen(m) }
func (m *BindingAck) MarshalTo(b []byte) error {
	if len(b) < HeaderLen+6 {
		return ErrBufferTooSmall
	}
	m.putFixed(b[HeaderLen : HeaderLen+6]) // concrete calls: the hot path of every LMA
	return finishMsg(&m.Base, TypeBindingAck, b, HeaderLen+6)
}
func (m *BindingAck) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *BindingAck) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseBindingAck decodes a Binding Acknowledgement.
func ParseBindingAck(b []byte) (*BindingAck, error) {
	m := &BindingAck{}
	return m, m.UnmarshalBinary(b)
}

func (m *BindingAck) fixedLen() int { return 6 }
func (m *BindingAck) putFixed(b []byte) {
	b[0] = byte(m.Status)
	b[1] = byte(m.Flags)
	be.PutUint16(b[2:], m.Sequence)
	be.PutUint16(b[4:], m.Lifetime)
}
func (m *BindingAck) getFixed(b []byte) error {
	m.Status = Status(b[0])
	m.Flags = BAFlags(b[1])
	m.Sequence = be.Uint16(b[2:])
	m.Lifetime = be.Uint16(b[4:])
	return nil
}

// legacyFix: a BA that carries PMIPv6 options (an HNP or an MN-ID) answers
// a PBU, so it is a PBA and must have P. MAD-PMIPv6 sets R (0x40) instead
// of P; OAI PMIPv6 leaves P clear. Both are normalised to P.
func (m *BindingAck) legacyFix(q Quirk) Quirk {
	if m.Flags&BAFlagP != 0 || (m.Options.Get(OptHomeNetworkPrefix) == nil && m.Options.Get(OptMNIdentifier) == nil) {
		return q
	}
	if m.Flags&BAFlagR != 0 {
		m.Flags &^= BAFlagR
		q |= QuirkPBARFlagForP
	} else {
		q |= QuirkPBAMissingP
	}
	m.Flags |= BAFlagP
	return q
}
