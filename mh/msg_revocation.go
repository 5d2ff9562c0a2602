package mh

import "fmt"

// Binding Revocation (MH Type 16, RFC 5846 §5). The octet after the
// common header, B.R. Type, selects the message: 1 is a Binding
// Revocation Indication, 2 a Binding Revocation Acknowledgement. Parse
// and Decoder look at it (newBindingRevocation); any other B.R. Type
// decodes as a *GenericMessage holding the whole message data.

func init() {
	registerMessage(TypeBindingRevocation, func() Message { return &BindingRevocationIndication{} })
}

// BRType is the Binding Revocation Type octet (RFC 5846 §5).
type BRType uint8

// Binding Revocation Types.
const (
	BRTypeIndication BRType = 1 // Binding Revocation Indication
	BRTypeAck        BRType = 2 // Binding Revocation Acknowledgement
)

func (t BRType) String() string {
	switch t {
	case BRTypeIndication:
		return "Binding Revocation Indication"
	case BRTypeAck:
		return "Binding Revocation Acknowledgement"
	}
	return fmt.Sprintf("B.R. Type %d", uint8(t))
}

// brKindOf returns the B.R. Type of the Binding Revocation message in b
// (at least 3 octets, MH Type 16): 1, 2, or 0 for any other value. A
// buffer too short to hold the octet counts as an indication, whose
// decoder then reports it too short.
func brKindOf(b []byte) uint8 {
	if len(b) <= HeaderLen {
		return uint8(BRTypeIndication)
	}
	switch BRType(b[HeaderLen]) {
	case BRTypeIndication, BRTypeAck:
		return b[HeaderLen]
	}
	return 0
}

// newBindingRevocation returns an empty message for the Binding
// Revocation message in b (at least 3 octets, MH Type 16).
func newBindingRevocation(b []byte) Message {
	switch BRType(brKindOf(b)) {
	case BRTypeIndication:
		return &BindingRevocationIndication{}
	case BRTypeAck:
		return &BindingRevocationAck{}
	}
	return &GenericMessage{Type: TypeBindingRevocation}
}

// BRFlags are the P, V and G flags of a Binding Revocation message; the
// other 13 bits are Reserved and kept as received.
type BRFlags uint16

// Binding Revocation flags (RFC 5846 §5.1). A BRA copies them from its BRI.
const (
	BRFlagP BRFlags = 0x8000 // Proxy Binding: the binding is a PMIPv6 one
	BRFlagV BRFlags = 0x4000 // IPv4 HoA Binding Only
	BRFlagG BRFlags = 0x2000 // Global: all bindings of the peer that match
)

// RevocationTrigger is the Revocation Trigger of a BRI (RFC 5846 §5.1).
// Per-MN triggers are below 128, global ones (with G) from 128 to 249;
// 250-255 are reserved for testing.
type RevocationTrigger uint8

// Revocation Trigger values.
const (
	TriggerUnspecified                 RevocationTrigger = 0
	TriggerAdministrativeReason        RevocationTrigger = 1
	TriggerInterMAGSameAccessType      RevocationTrigger = 2
	TriggerInterMAGDifferentAccess     RevocationTrigger = 3
	TriggerInterMAGUnknown             RevocationTrigger = 4
	TriggerUserInitiatedTermination    RevocationTrigger = 5
	TriggerAccessNetworkTermination    RevocationTrigger = 6
	TriggerPossibleOutOfSyncBCE        RevocationTrigger = 7
	TriggerPerPeerPolicy               RevocationTrigger = 128
	TriggerRevokingMobilityLocalPolicy RevocationTrigger = 129
)

var triggerNames = map[RevocationTrigger]string{
	0:   "Unspecified",
	1:   "Administrative Reason",
	2:   "Inter-MAG Handover - same Access Type",
	3:   "Inter-MAG Handover - different Access Type",
	4:   "Inter-MAG Handover - Unknown",
	5:   "User-Initiated Session(s) Termination",
	6:   "Access Network Session(s) Termination",
	7:   "Possible Out-of-Sync BCE State",
	128: "Per-Peer Policy",
	129: "Revoking Mobility Node Local Policy",
}

func (t RevocationTrigger) String() string {
	if n, ok := triggerNames[t]; ok {
		return n
	}
	if t >= 250 {
		return fmt.Sprintf("trigger %d (reserved for testing)", uint8(t))
	}
	return fmt.Sprintf("trigger %d", uint8(t))
}

// Global reports whether t is a global revocation trigger (128-249), used
// with the G flag.
func (t RevocationTrigger) Global() bool { return t >= 128 && t < 250 }

// BRStatus is the Status of a BRA (RFC 5846 §5.2). Values below 128 mean
// the BRI was processed successfully.
type BRStatus uint8

// Binding Revocation Acknowledgement status values.
const (
	BRStatusSuccess                     BRStatus = 0
	BRStatusPartialSuccess              BRStatus = 1
	BRStatusBindingDoesNotExist         BRStatus = 128
	BRStatusIPv4HoAOptionRequired       BRStatus = 129
	BRStatusGlobalRevocationNotAuth     BRStatus = 130
	BRStatusMNIdentityRequired          BRStatus = 131
	BRStatusMNIsAttached                BRStatus = 132
	BRStatusTriggerNotSupported         BRStatus = 133
	BRStatusRevocationNotSupported      BRStatus = 134
	BRStatusProxyRevocationNotSupported BRStatus = 135
)

var brStatusNames = map[BRStatus]string{
	0:   "success",
	1:   "partial success",
	128: "Binding Does NOT Exist",
	129: "IPv4 Home Address Option Required",
	130: "Global Revocation NOT Authorized",
	131: "Revoked Mobile Nodes Identity Required",
	132: "Revocation Failed - MN is Attached",
	133: "Revocation Trigger NOT Supported",
	134: "Revocation Function NOT Supported",
	135: "Proxy Binding Revocation NOT Supported",
}

func (s BRStatus) String() string {
	if n, ok := brStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Success reports whether the status means success (< 128).
func (s BRStatus) Success() bool { return s < 128 }

// getBRFixed checks the B.R. Type of the 6-octet fixed part and returns
// its fields.
func getBRFixed(b []byte, want BRType) (x uint8, seq uint16, f BRFlags, err error) {
	if BRType(b[0]) != want {
		return 0, 0, 0, &HeaderError{Type: TypeBindingRevocation, Field: "B.R. Type",
			Reason: fmt.Sprintf("got %d, want %d", b[0], want), Err: ErrWrongType}
	}
	return b[1], be.Uint16(b[2:]), BRFlags(be.Uint16(b[4:])), nil
}

func putBRFixed(b []byte, t BRType, x uint8, seq uint16, f BRFlags) {
	b[0] = byte(t)
	b[1] = x
	be.PutUint16(b[2:], seq)
	be.PutUint16(b[4:], uint16(f))
}

// ---- Binding Revocation Indication ----

// BindingRevocationIndication is a BRI (MH Type 16, B.R. Type 1, RFC
// 5846 §5.1). With P it MUST carry an MN Identifier option (and an HNP
// to revoke a single PMIPv6 binding).
type BindingRevocationIndication struct {
	Base
	Trigger RevocationTrigger
	// Sequence matches the BRA to this BRI.
	Sequence uint16
	Flags    BRFlags
}

// Proxy reports whether the P flag is set.
func (m *BindingRevocationIndication) Proxy() bool { return m.Flags&BRFlagP != 0 }

func (m *BindingRevocationIndication) MHType() Type             { return TypeBindingRevocation }
func (m *BindingRevocationIndication) MarshalLen() int          { return msgLen(m) }
func (m *BindingRevocationIndication) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *BindingRevocationIndication) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *BindingRevocationIndication) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseBindingRevocationIndication decodes a BRI; another B.R. Type is an
// error wrapping ErrWrongType.
func ParseBindingRevocationIndication(b []byte) (*BindingRevocationIndication, error) {
	m := &BindingRevocationIndication{}
	return m, m.UnmarshalBinary(b)
}

func (m *BindingRevocationIndication) fixedLen() int { return 6 }
func (m *BindingRevocationIndication) putFixed(b []byte) {
	putBRFixed(b, BRTypeIndication, uint8(m.Trigger), m.Sequence, m.Flags)
}
func (m *BindingRevocationIndication) getFixed(b []byte) error {
	x, seq, f, err := getBRFixed(b, BRTypeIndication)
	if err != nil {
		return err
	}
	m.Trigger, m.Sequence, m.Flags = RevocationTrigger(x), seq, f
	return nil
}
func (m *BindingRevocationIndication) legacyFix(q Quirk) Quirk { return q }

// ---- Binding Revocation Acknowledgement ----

// BindingRevocationAck is a BRA (MH Type 16, B.R. Type 2, RFC 5846
// §5.2). Its options, if any, describe the bindings that failed.
type BindingRevocationAck struct {
	Base
	Status BRStatus
	// Sequence is copied from the BRI.
	Sequence uint16
	// Flags are copied from the BRI.
	Flags BRFlags
}

// Proxy reports whether the P flag is set.
func (m *BindingRevocationAck) Proxy() bool { return m.Flags&BRFlagP != 0 }

func (m *BindingRevocationAck) MHType() Type             { return TypeBindingRevocation }
func (m *BindingRevocationAck) MarshalLen() int          { return msgLen(m) }
func (m *BindingRevocationAck) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *BindingRevocationAck) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *BindingRevocationAck) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseBindingRevocationAck decodes a BRA; another B.R. Type is an error
// wrapping ErrWrongType.
func ParseBindingRevocationAck(b []byte) (*BindingRevocationAck, error) {
	m := &BindingRevocationAck{}
	return m, m.UnmarshalBinary(b)
}

func (m *BindingRevocationAck) fixedLen() int { return 6 }
func (m *BindingRevocationAck) putFixed(b []byte) {
	putBRFixed(b, BRTypeAck, uint8(m.Status), m.Sequence, m.Flags)
}
func (m *BindingRevocationAck) getFixed(b []byte) error {
	x, seq, f, err := getBRFixed(b, BRTypeAck)
	if err != nil {
		return err
	}
	m.Status, m.Sequence, m.Flags = BRStatus(x), seq, f
	return nil
}
func (m *BindingRevocationAck) legacyFix(q Quirk) Quirk { return q }
