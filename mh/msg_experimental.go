package mh

import "fmt"

func init() {
	registerMessage(TypeExperimental, func() Message { return &ExperimentalMessage{} })
}

// ExperimentalMessage is the Experimental Mobility Header message (MH
// Type 11, RFC 5096 §3): the whole message data after the common header
// is opaque to this package and kept in Data. It has no options.
//
// The project's DMM messages also use MH Type 11; Parse and Decoder
// recognise those first by the octet after the common header (see
// dmmKindOf) and return their typed form, so an ExperimentalMessage is
// what any other Type 11 message decodes to: Data whose first octet is a
// DMM message type comes back as that DMM message.
type ExperimentalMessage struct {
	Base
	// Data is the message data. Encoding pads it with zero octets up to
	// the next 8-octet boundary of the Mobility Header (two octets when
	// Data is empty, RFC 5096 §3); decoding keeps every octet after the
	// common header, that padding included.
	Data []byte
}

func (m *ExperimentalMessage) MHType() Type    { return TypeExperimental }
func (m *ExperimentalMessage) MarshalLen() int { return msgLen(m) }

// MarshalTo encodes m. Options are an error: the receiver could not tell
// them from Data.
func (m *ExperimentalMessage) MarshalTo(b []byte) error {
	for _, o := range m.Options {
		if !isPad(o) || m.KeepLayout {
			return fmt.Errorf("%w: the Experimental Mobility Header message has no options (put them in Data)", ErrInvalidValue)
		}
	}
	return marshalMsgTo(m, b)
}
func (m *ExperimentalMessage) Marshal() ([]byte, error) {
	b := make([]byte, m.MarshalLen())
	if err := m.MarshalTo(b); err != nil {
		return nil, err
	}
	return b, nil
}
func (m *ExperimentalMessage) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseExperimentalMessage decodes an Experimental Mobility Header message.
func ParseExperimentalMessage(b []byte) (*ExperimentalMessage, error) {
	m := &ExperimentalMessage{}
	return m, m.UnmarshalBinary(b)
}

// fixedLen is len(Data) rounded up so that the message ends on an
// 8-octet boundary.
func (m *ExperimentalMessage) fixedLen() int {
	n := len(m.Data)
	return n + (8-(HeaderLen+n)%8)%8
}
func (m *ExperimentalMessage) fixedLenFrom(rest []byte) int {
	if len(rest) < 2 {
		return 2 // the smallest message is 8 octets
	}
	return len(rest)
}
func (m *ExperimentalMessage) putFixed(b []byte) {
	n := copy(b, m.Data)
	clear(b[n:])
}
func (m *ExperimentalMessage) getFixed(b []byte) error {
	m.Data = append(m.Data[:0], b...)
	return nil
}
func (m *ExperimentalMessage) legacyFix(q Quirk) Quirk { return q }
