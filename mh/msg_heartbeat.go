package mh

func init() { registerMessage(TypeHeartbeat, func() Message { return &Heartbeat{} }) }

// HeartbeatFlags is the 16-bit field before the Sequence Number of a
// Heartbeat: 14 Reserved bits (kept as received), then U and R.
type HeartbeatFlags uint16

// Heartbeat flags (RFC 5847 §3.3).
const (
	HeartbeatFlagU HeartbeatFlags = 0x0002 // Unsolicited Heartbeat Response
	HeartbeatFlagR HeartbeatFlags = 0x0001 // Response (0 = request)
)

// Heartbeat is a Heartbeat message (MH Type 13, RFC 5847 §3.3) between a
// MAG and an LMA. A response carries the sender's Restart Counter option
// (type 28, RFC 5847 §3.4); it is the only option defined for it.
type Heartbeat struct {
	Base
	Flags HeartbeatFlags
	// Sequence matches a response to its request.
	Sequence uint32
}

// Response reports whether the R flag is set (a response, not a request).
func (m *Heartbeat) Response() bool { return m.Flags&HeartbeatFlagR != 0 }

// Unsolicited reports whether the U flag is set (an unsolicited response
// sent after a restart).
func (m *Heartbeat) Unsolicited() bool { return m.Flags&HeartbeatFlagU != 0 }

func (m *Heartbeat) MHType() Type             { return TypeHeartbeat }
func (m *Heartbeat) MarshalLen() int          { return msgLen(m) }
func (m *Heartbeat) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *Heartbeat) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *Heartbeat) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseHeartbeat decodes a Heartbeat message.
func ParseHeartbeat(b []byte) (*Heartbeat, error) {
	m := &Heartbeat{}
	return m, m.UnmarshalBinary(b)
}

func (m *Heartbeat) fixedLen() int { return 6 }
func (m *Heartbeat) putFixed(b []byte) {
	be.PutUint16(b[0:], uint16(m.Flags))
	be.PutUint32(b[2:], m.Sequence)
}
func (m *Heartbeat) getFixed(b []byte) error {
	m.Flags = HeartbeatFlags(be.Uint16(b[0:]))
	m.Sequence = be.Uint32(b[2:])
	return nil
}
func (m *Heartbeat) legacyFix(q Quirk) Quirk { return q }
