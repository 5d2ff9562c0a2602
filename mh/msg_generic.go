package mh

// GenericMessage is a message of a type this package has no typed form
// for. For the IANA types whose fixed part is known (genericFixedLen) the
// options after it are decoded; for any other type the whole message
// data is kept in Data and re-encoded as is.
type GenericMessage struct {
	Base
	Type Type
	// Data is the message data between the common header and the
	// options (the whole message data when the type's layout is unknown).
	Data []byte
}

// genericFixedLen gives the length of the fixed message data (after the
// 6-octet common header) of IANA types without a typed form; -1 where the
// layout is unknown and the whole message data stays in Data.
func genericFixedLen(t Type) int {
	switch t {
	case TypeBindingRefreshRequest, TypeFastNeighborAdvert:
		return 2 // Reserved
	case TypeHomeTestInit, TypeCareOfTestInit:
		return 10 // Reserved, Init Cookie
	case TypeHomeTest, TypeCareOfTest:
		return 18 // Nonce Index, Init Cookie, Keygen Token
	case TypeFlowBinding:
		return 6
	case TypeSubscriptionQuery, TypeSubscriptionResponse:
		return 2
	}
	return -1
}

func (m *GenericMessage) MHType() Type             { return m.Type }
func (m *GenericMessage) MarshalLen() int          { return msgLen(m) }
func (m *GenericMessage) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *GenericMessage) Marshal() ([]byte, error) { return marshalMsg(m) }

// UnmarshalBinary decodes a message of any type into m, setting m.Type.
func (m *GenericMessage) UnmarshalBinary(b []byte) error {
	if len(b) >= 3 {
		m.Type = Type(b[2])
	}
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseGenericMessage decodes any message as a GenericMessage.
func ParseGenericMessage(b []byte) (*GenericMessage, error) {
	m := &GenericMessage{}
	return m, m.UnmarshalBinary(b)
}

func (m *GenericMessage) fixedLen() int {
	if n := genericFixedLen(m.Type); n >= 0 {
		return n
	}
	return len(m.Data)
}
func (m *GenericMessage) fixedLenFrom(rest []byte) int {
	if n := genericFixedLen(m.Type); n >= 0 {
		return n
	}
	return len(rest)
}
func (m *GenericMessage) putFixed(b []byte) { copy(b, m.Data) }
func (m *GenericMessage) getFixed(b []byte) error {
	m.Data = append(m.Data[:0], b...)
	return nil
}
func (m *GenericMessage) legacyFix(q Quirk) Quirk { return q }
