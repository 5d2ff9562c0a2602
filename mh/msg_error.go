package mh

import (
	"fmt"
	"net/netip"
)

// Mobile IPv6 messages sent by a correspondent node or a home agent to a
// mobile node: Binding Error (RFC 6275 §6.1.9) and Home Agent Switch
// (RFC 5142 §4).

func init() {
	registerMessage(TypeBindingError, func() Message { return &BindingError{} })
	registerMessage(TypeHomeAgentSwitch, func() Message { return &HomeAgentSwitch{} })
}

// ---- Binding Error (7) ----

// BEStatus is the Status of a Binding Error (RFC 6275 §6.1.9).
type BEStatus uint8

// Binding Error status values.
const (
	BEStatusUnknownBinding     BEStatus = 1 // Unknown binding for Home Address destination option
	BEStatusUnrecognizedMHType BEStatus = 2 // Unrecognized MH Type value
)

func (s BEStatus) String() string {
	switch s {
	case BEStatusUnknownBinding:
		return "Unknown binding for Home Address destination option"
	case BEStatusUnrecognizedMHType:
		return "Unrecognized MH Type value"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// BindingError is a Binding Error (MH Type 7, RFC 6275 §6.1.9). Without
// options it is 24 octets long (Header Len 2).
type BindingError struct {
	Base
	Status BEStatus
	// MsgReserved is the Reserved octet after Status, kept as received
	// (Header.Reserved is the octet after MH Type).
	MsgReserved uint8
	// HomeAddress is the address from the Home Address destination
	// option that caused the error (ALL_ZERO when unset).
	HomeAddress netip.Addr
}

func (m *BindingError) MHType() Type             { return TypeBindingError }
func (m *BindingError) MarshalLen() int          { return msgLen(m) }
func (m *BindingError) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *BindingError) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *BindingError) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseBindingError decodes a Binding Error.
func ParseBindingError(b []byte) (*BindingError, error) {
	m := &BindingError{}
	return m, m.UnmarshalBinary(b)
}

func (m *BindingError) fixedLen() int { return 18 }
func (m *BindingError) putFixed(b []byte) {
	b[0] = byte(m.Status)
	b[1] = m.MsgReserved
	putAddr16(b[2:18], m.HomeAddress)
}
func (m *BindingError) getFixed(b []byte) error {
	m.Status = BEStatus(b[0])
	m.MsgReserved = b[1]
	m.HomeAddress = netip.AddrFrom16([16]byte(b[2:18]))
	return nil
}
func (m *BindingError) legacyFix(q Quirk) Quirk { return q }

// ---- Home Agent Switch (12) ----

// HomeAgentSwitch is a Home Agent Switch message (MH Type 12, RFC 5142
// §4): Number of Addresses(1), Reserved(1), then that many 16-octet home
// agent addresses, then options. An empty address list tells the mobile
// node to discover a new home agent itself.
type HomeAgentSwitch struct {
	Base
	// MsgReserved is the Reserved octet after Number of Addresses.
	MsgReserved uint8
	// Addresses are the home agent addresses, in order of preference.
	// At most 255 fit the Number of Addresses field (and at most 127 the
	// 2048-octet Mobility Header).
	Addresses []netip.Addr
}

func (m *HomeAgentSwitch) MHType() Type    { return TypeHomeAgentSwitch }
func (m *HomeAgentSwitch) MarshalLen() int { return msgLen(m) }
func (m *HomeAgentSwitch) MarshalTo(b []byte) error {
	if len(m.Addresses) > 255 {
		return fmt.Errorf("%w: %d home agent addresses, at most 255", ErrInvalidValue, len(m.Addresses))
	}
	return marshalMsgTo(m, b)
}
func (m *HomeAgentSwitch) Marshal() ([]byte, error) {
	b := make([]byte, m.MarshalLen())
	if err := m.MarshalTo(b); err != nil {
		return nil, err
	}
	return b, nil
}
func (m *HomeAgentSwitch) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseHomeAgentSwitch decodes a Home Agent Switch message.
func ParseHomeAgentSwitch(b []byte) (*HomeAgentSwitch, error) {
	m := &HomeAgentSwitch{}
	return m, m.UnmarshalBinary(b)
}

func (m *HomeAgentSwitch) fixedLen() int { return 2 + 16*len(m.Addresses) }

// fixedLenFrom reads Number of Addresses; with no octet to read it asks
// for the 2-octet minimum, which the caller then finds missing.
func (m *HomeAgentSwitch) fixedLenFrom(rest []byte) int {
	if len(rest) == 0 {
		return 2
	}
	return 2 + 16*int(rest[0])
}
func (m *HomeAgentSwitch) putFixed(b []byte) {
	b[0] = byte(len(m.Addresses))
	b[1] = m.MsgReserved
	for i, a := range m.Addresses {
		putAddr16(b[2+16*i:18+16*i], a)
	}
}
func (m *HomeAgentSwitch) getFixed(b []byte) error {
	n := int(b[0])
	if len(b) != 2+16*n {
		return lenErr("Home Agent Switch addresses", len(b)-2, fmt.Sprint(16*n))
	}
	m.MsgReserved = b[1]
	m.Addresses = m.Addresses[:0]
	for i := 0; i < n; i++ {
		m.Addresses = append(m.Addresses, netip.AddrFrom16([16]byte(b[2+16*i:18+16*i])))
	}
	return nil
}
func (m *HomeAgentSwitch) legacyFix(q Quirk) Quirk { return q }
