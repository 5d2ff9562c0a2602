package mh

import "fmt"

// Update Notification and Update Notification Acknowledgement (MH Types
// 19 and 20, RFC 7077 §4): the LMA tells a MAG that session parameters
// changed.

func init() {
	registerMessage(TypeUpdateNotification, func() Message { return &UpdateNotification{} })
	registerMessage(TypeUpdateNotificationAck, func() Message { return &UpdateNotificationAck{} })
}

// NotificationReason is the 16-bit Notification Reason of a UPN (RFC 7077
// §4.1; IANA "Update Notification Reasons Registry").
type NotificationReason uint16

// Notification Reason values.
const (
	ReasonForceReregistration       NotificationReason = 1 // RFC 7077
	ReasonUpdateSessionParameters   NotificationReason = 2 // RFC 7077
	ReasonVendorSpecific            NotificationReason = 3 // RFC 7077
	ReasonANIParamsRequested        NotificationReason = 4 // RFC 7077
	ReasonQoSServiceRequest         NotificationReason = 5 // RFC 7222
	ReasonPGWTriggeredPCSCFRestPCO  NotificationReason = 6 // 3GPP TS 29.275
	ReasonPGWTriggeredPCSCFRestDHCP NotificationReason = 7 // 3GPP TS 29.275
	ReasonFlowMobility              NotificationReason = 8 // RFC 7864
)

var reasonNames = map[NotificationReason]string{
	0:   "Reserved",
	1:   "FORCE-REREGISTRATION",
	2:   "UPDATE-SESSION-PARAMETERS",
	3:   "VENDOR-SPECIFIC-REASON",
	4:   "ANI-PARAMS-REQUESTED",
	5:   "QOS_SERVICE_REQUEST",
	6:   "PGW-TRIGGERED-PCSCF-RESTORATION-PCO",
	7:   "PGW-TRIGGERED-PCSCF-RESTORATION-DHCP",
	8:   "FLOW-MOBILITY",
	255: "Reserved",
}

func (r NotificationReason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason %d", uint16(r))
}

// UPNFlags is the 16-bit field after the Notification Reason: A, D, then
// 14 Reserved bits kept as received.
type UPNFlags uint16

// Update Notification flags (RFC 7077 §4.1).
const (
	UPNFlagA UPNFlags = 0x8000 // Acknowledgement requested
	UPNFlagD UPNFlags = 0x4000 // Retransmission of the same Sequence #
)

// UpdateNotification is an Update Notification (MH Type 19, RFC 7077
// §4.1), sent by an LMA to a MAG. Its options identify the binding.
type UpdateNotification struct {
	Base
	Sequence uint16
	Reason   NotificationReason
	Flags    UPNFlags
}

// AckRequested reports whether the A flag is set.
func (m *UpdateNotification) AckRequested() bool { return m.Flags&UPNFlagA != 0 }

func (m *UpdateNotification) MHType() Type             { return TypeUpdateNotification }
func (m *UpdateNotification) MarshalLen() int          { return msgLen(m) }
func (m *UpdateNotification) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *UpdateNotification) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *UpdateNotification) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseUpdateNotification decodes an Update Notification.
func ParseUpdateNotification(b []byte) (*UpdateNotification, error) {
	m := &UpdateNotification{}
	return m, m.UnmarshalBinary(b)
}

func (m *UpdateNotification) fixedLen() int { return 6 }
func (m *UpdateNotification) putFixed(b []byte) {
	be.PutUint16(b[0:], m.Sequence)
	be.PutUint16(b[2:], uint16(m.Reason))
	be.PutUint16(b[4:], uint16(m.Flags))
}
func (m *UpdateNotification) getFixed(b []byte) error {
	m.Sequence = be.Uint16(b[0:])
	m.Reason = NotificationReason(be.Uint16(b[2:]))
	m.Flags = UPNFlags(be.Uint16(b[4:]))
	return nil
}
func (m *UpdateNotification) legacyFix(q Quirk) Quirk { return q }

// UPAStatus is the Status Code of an Update Notification Acknowledgement
// (RFC 7077 §4.2; IANA "Update Notification Acknowledgement Status
// Registry"). Values below 128 mean success.
type UPAStatus uint8

// Update Notification Acknowledgement status values.
const (
	UPAStatusSuccess                     UPAStatus = 0   // RFC 7077
	UPAStatusFailedToUpdateSessionParams UPAStatus = 128 // RFC 7077
	UPAStatusMissingVendorSpecificOption UPAStatus = 129 // RFC 7077
	UPAStatusCannotMeetQoSServiceRequest UPAStatus = 130 // RFC 7222
	UPAStatusReasonUnspecified           UPAStatus = 131 // RFC 7864
	UPAStatusMNNotAttached               UPAStatus = 132 // RFC 7864
)

var upaStatusNames = map[UPAStatus]string{
	0:   "SUCCESS",
	128: "FAILED-TO-UPDATE-SESSION-PARAMETERS",
	129: "MISSING-VENDOR-SPECIFIC-OPTION",
	130: "CANNOT_MEET_QOS_SERVICE_REQUEST",
	131: "Reason unspecified",
	132: "MN not attached",
}

func (s UPAStatus) String() string {
	if n, ok := upaStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Success reports whether the status means success (< 128).
func (s UPAStatus) Success() bool { return s < 128 }

// UpdateNotificationAck is an Update Notification Acknowledgement (MH
// Type 20, RFC 7077 §4.2), sent by a MAG in answer to a UPN with A set.
type UpdateNotificationAck struct {
	Base
	// Sequence is copied from the UPN.
	Sequence uint16
	Status   UPAStatus
	// MsgReserved is the 24-bit Reserved field, kept as received.
	MsgReserved [3]byte
}

func (m *UpdateNotificationAck) MHType() Type             { return TypeUpdateNotificationAck }
func (m *UpdateNotificationAck) MarshalLen() int          { return msgLen(m) }
func (m *UpdateNotificationAck) MarshalTo(b []byte) error { return marshalMsgTo(m, b) }
func (m *UpdateNotificationAck) Marshal() ([]byte, error) { return marshalMsg(m) }
func (m *UpdateNotificationAck) UnmarshalBinary(b []byte) error {
	return unmarshalMsg(m, b, DecodeOptions{})
}

// ParseUpdateNotificationAck decodes an Update Notification Acknowledgement.
func ParseUpdateNotificationAck(b []byte) (*UpdateNotificationAck, error) {
	m := &UpdateNotificationAck{}
	return m, m.UnmarshalBinary(b)
}

func (m *UpdateNotificationAck) fixedLen() int { return 6 }
func (m *UpdateNotificationAck) putFixed(b []byte) {
	be.PutUint16(b[0:], m.Sequence)
	b[2] = byte(m.Status)
	copy(b[3:6], m.MsgReserved[:])
}
func (m *UpdateNotificationAck) getFixed(b []byte) error {
	m.Sequence = be.Uint16(b[0:])
	m.Status = UPAStatus(b[2])
	copy(m.MsgReserved[:], b[3:6])
	return nil
}
func (m *UpdateNotificationAck) legacyFix(q Quirk) Quirk { return q }
