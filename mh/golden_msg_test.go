package mh

import (
	"net/netip"
	"testing"
	"time"
)

// Golden vectors for the typed messages other than BU/BA. Options are the
// typed RFC 5213 ones where the message allows them; where the RFC
// defines no option for a message, a typed option stands in to check that
// the options after the fixed part are decoded at the right offset.

var (
	hnp1   = func() Option { return NewHNP(netip.MustParsePrefix("2001:db8:1::/64")) }
	hnp2   = func() Option { return NewHNP(netip.MustParsePrefix("2001:db8:2::/64")) }
	mnid1  = func() Option { return NewNAI("mn1@example.org") }
	ts1700 = func() Option { return NewTimestamp(time.Unix(1700000000, 0)) }
)

type msgGolden struct {
	name string
	msg  Message
	wire string
}

func runMsgGoldens(t *testing.T, cases []msgGolden) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkMessageGolden(t, c.msg, hexBytes(t, c.wire)) })
	}
}

func TestGoldenBindingError(t *testing.T) {
	runMsgGoldens(t, []msgGolden{
		{"status 1, no options", &BindingError{Status: BEStatusUnknownBinding,
			HomeAddress: netip.MustParseAddr("2001:db8:1::100")}, `
			3b 02 07 00 0000 // Payload Proto 59, Header Len 2 (24 octets, RFC 6275 §6.1.9), MH Type 7, Reserved, Checksum
			01               // Status 1: unknown binding for Home Address destination option
			00               // Reserved
			20010db8000100000000000000000100 // Home Address 2001:db8:1::100
		`},
		{"status 2, with an option", &BindingError{Status: BEStatusUnrecognizedMHType,
			HomeAddress: netip.MustParseAddr("2001:db8:1::100"),
			Base:        Base{Options: Options{NewNAI("mn@x")}}}, `
			3b 03 07 00 0000 // Header Len 3: 32 octets
			02               // Status 2: unrecognized MH Type value
			00               // Reserved
			20010db8000100000000000000000100 // Home Address
			08 05 01 6d6e4078 // @24 MN-ID: len 5, NAI "mn@x"
			00                // @31 Pad1: to 32 octets
		`},
	})
}

func TestGoldenHomeAgentSwitch(t *testing.T) {
	runMsgGoldens(t, []msgGolden{
		{"no addresses", &HomeAgentSwitch{}, `
			3b 00 0c 00 0000 // Header Len 0 (8 octets), MH Type 12
			00               // Number of Addresses 0: discover a home agent
			00               // Reserved
		`},
		{"two addresses", &HomeAgentSwitch{Addresses: []netip.Addr{
			netip.MustParseAddr("2001:db8::a"), netip.MustParseAddr("2001:db8::b")}}, `
			3b 04 0c 00 0000 // Header Len 4: 40 octets
			02               // Number of Addresses 2
			00               // Reserved
			20010db800000000000000000000000a // @8 Home Agent Address 1
			20010db800000000000000000000000b // @24 Home Agent Address 2
		`},
		{"one address and an option", &HomeAgentSwitch{MsgReserved: 0x5a,
			Addresses: []netip.Addr{netip.MustParseAddr("2001:db8::a")},
			Base:      Base{Options: Options{ts1700()}}}, `
			3b 04 0c 00 0000 // Header Len 4: 40 octets
			01               // Number of Addresses 1
			5a               // Reserved, kept as given
			20010db800000000000000000000000a // @8 Home Agent Address
			01 00            // @24 PadN 2: Timestamp is 8n+2
			1b 08 00006553f1000000 // @26 Timestamp 1700000000 s
			01 02 0000       // @36 PadN 4: to 40 octets
		`},
	})
}

func TestGoldenExperimental(t *testing.T) {
	runMsgGoldens(t, []msgGolden{
		{"empty: two octets of padding (RFC 5096 §3)", &ExperimentalMessage{Data: []byte{0, 0}}, `
			3b 00 0b 00 0000 // Header Len 0 (8 octets), MH Type 11
			0000             // Message Data (padding)
		`},
		{"ten octets of data", &ExperimentalMessage{Data: []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6}}, `
			3b 01 0b 00 0000 // Header Len 1: 16 octets
			deadbeef 010203040506 // Message Data, opaque
		`},
	})
}

func TestGoldenFastBinding(t *testing.T) {
	runMsgGoldens(t, []msgGolden{
		{"FBU", &FastBindingUpdate{Sequence: 0x0102, Flags: FBUFlagA | FBUFlagH, Lifetime: 30,
			Base: Base{Options: Options{&LinkLocalAddress{Address: netip.MustParseAddr("fe80::1")}}}}, `
			3b 03 08 00 0000 // Header Len 3 (32 octets), MH Type 8 (FBU)
			0102             // Sequence # 258
			c000             // Flags A|H
			001e             // Lifetime 30 s (seconds in an FBU)
			01 00            // @12 PadN 2: LLA is 8n+6
			1a 10 fe800000000000000000000000000001 // @14 Link-local Address fe80::1
		`},
		{"FBack", &FastBindingAck{Status: FBAckAcceptedNCoAInvalid, Flags: FBAckFlagK, Sequence: 0x0102, Lifetime: 30,
			Base: Base{Options: Options{ts1700()}}}, `
			3b 03 09 00 0000 // Header Len 3 (32 octets), MH Type 9 (FBack)
			01               // Status 1: accepted but NCoA is invalid
			80               // Flags K
			0102             // Sequence # 258
			001e             // Lifetime 30 s
			01 04 00000000   // @12 PadN 6: Timestamp is 8n+2
			1b 08 00006553f1000000 // @18 Timestamp
			01 02 0000       // @28 PadN 4: to 32 octets
		`},
		{"FBack rejected, no options", &FastBindingAck{Status: FBAckIncorrectIIDLength, Sequence: 9}, `
			3b 01 09 00 0000 // Header Len 1: 16 octets
			83               // Status 131: incorrect interface identifier length
			00               // Flags
			0009             // Sequence # 9
			0000             // Lifetime 0
			01 02 0000       // @12 PadN 4
		`},
	})
}

func TestGoldenHeartbeat(t *testing.T) {
	// The Restart Counter option (28, RFC 5847 §3.4, 4n+2) is built from
	// its octets with ParseOption, so the vector holds whether or not it
	// has a typed form; the layout (padding) is given explicitly.
	rc, err := ParseOption(hexBytes(t, `1c 04 00000007`))
	if err != nil {
		t.Fatalf("Restart Counter option: %v", err)
	}
	runMsgGoldens(t, []msgGolden{
		{"request", &Heartbeat{Sequence: 1}, `
			3b 01 0d 00 0000 // Header Len 1 (16 octets), MH Type 13
			0000             // Reserved, U=0, R=0: request
			00000001         // Sequence Number 1
			01 02 0000       // @12 PadN 4
		`},
		{"response with Restart Counter", &Heartbeat{Flags: HeartbeatFlagR, Sequence: 1,
			Base: Base{Header: Header{PayloadProto: IPProtoNone}, KeepLayout: true, Options: Options{NewPadN(2), rc, NewPadN(4)}}}, `
			3b 02 0d 00 0000 // Header Len 2: 24 octets
			0001             // R: response
			00000001         // Sequence Number 1
			01 00            // @12 PadN 2: Restart Counter is 4n+2
			1c 04 00000007   // @14 Restart Counter 7
			01 02 0000       // @20 PadN 4
		`},
		{"unsolicited response", &Heartbeat{Flags: HeartbeatFlagU | HeartbeatFlagR, Sequence: 0xfffffffe,
			Base: Base{Header: Header{PayloadProto: IPProtoNone}, KeepLayout: true, Options: Options{NewPadN(2), rc, NewPadN(4)}}}, `
			3b 02 0d 00 0000 // Header Len 2
			0003             // U|R: unsolicited response after a restart
			fffffffe         // Sequence Number
			01 00            // @12 PadN 2
			1c 04 00000007   // @14 Restart Counter 7
			01 02 0000       // @20 PadN 4
		`},
	})
}

func TestGoldenHandover(t *testing.T) {
	runMsgGoldens(t, []msgGolden{
		{"HI, RFC 5949 predictive", &HandoverInitiate{Sequence: 5, Flags: HIFlagU | HIFlagP | HIFlagF, Code: HICodeDefault,
			Base: Base{Options: Options{mnid1(), hnp1()}}}, `
			3b 05 0e 00 0000 // Header Len 5 (48 octets), MH Type 14
			0005             // Sequence # 5
			70               // Flags U|P|F, S=0 (MUST with P), Reserved 0
			00               // Code 0 (default)
			08 10 01 6d6e31406578616d706c652e6f7267     // @10 MN-ID "mn1@example.org"
			16 12 00 40 20010db8000100000000000000000000 // @28 HNP (8n+4) 2001:db8:1::/64
		`},
		{"HI, RFC 5568 form", &HandoverInitiate{Sequence: 9, Flags: HIFlagS | HIFlagU, Code: HICodeFBUFromPCoA}, `
			3b 01 0e 00 0000 // Header Len 1: 16 octets
			0009             // Sequence # 9
			c0               // Flags S|U, P=0
			00               // Code 0: FBU with PCoA as source
			01 04 00000000   // @10 PadN 6
		`},
		{"HAck, context transferred", &HandoverAck{Sequence: 5, Flags: HAckFlagP, Code: HAckCodeContextTransferAccepted,
			Base: Base{Options: Options{mnid1()}}}, `
			3b 03 0f 00 0000 // Header Len 3 (32 octets), MH Type 15
			0005             // Sequence # 5, copied from the HI
			40               // Flags P
			05               // Code 5: Context Transfer Accepted or Successful
			08 10 01 6d6e31406578616d706c652e6f7267 // @10 MN-ID copied from the HI
			01 02 0000       // @28 PadN 4
		`},
		{"HAck, RFC 5568 refusal", &HandoverAck{Sequence: 9, Code: HAckCodeInsufficientResources}, `
			3b 01 0f 00 0000 // Header Len 1
			0009             // Sequence # 9
			00               // Reserved (P=0)
			82               // Code 130: insufficient resources
			01 04 00000000   // @10 PadN 6
		`},
	})
}

func TestGoldenBindingRevocation(t *testing.T) {
	runMsgGoldens(t, []msgGolden{
		{"BRI per-MN", &BindingRevocationIndication{Trigger: TriggerInterMAGSameAccessType, Sequence: 0x1234, Flags: BRFlagP,
			Base: Base{Options: Options{hnp1(), mnid1()}}}, `
			3b 06 10 00 0000 // Header Len 6 (56 octets), MH Type 16
			01               // B.R. Type 1: BRI
			02               // Revocation Trigger 2: inter-MAG handover, same access type
			1234             // Sequence #
			8000             // P (proxy binding), V=0, G=0
			16 12 00 40 20010db8000100000000000000000000 // @12 HNP (8n+4) 2001:db8:1::/64
			08 10 01 6d6e31406578616d706c652e6f7267     // @32 MN-ID "mn1@example.org"
			01 04 00000000                              // @50 PadN 6: to 56 octets
		`},
		{"BRI global", &BindingRevocationIndication{Trigger: TriggerPerPeerPolicy, Sequence: 1, Flags: BRFlagP | BRFlagG}, `
			3b 01 10 00 0000 // Header Len 1: 16 octets (RFC 5846 §5.1: 4 octets of padding)
			01               // B.R. Type 1
			80               // Revocation Trigger 128: per-peer policy
			0001             // Sequence #
			a000             // P|G
			01 02 0000       // @12 PadN 4
		`},
		{"BRA success", &BindingRevocationAck{Status: BRStatusSuccess, Sequence: 0x1234, Flags: BRFlagP}, `
			3b 01 10 00 0000 // Header Len 1
			02               // B.R. Type 2: BRA
			00               // Status 0: success
			1234             // Sequence #, copied from the BRI
			8000             // P, copied from the BRI
			01 02 0000       // @12 PadN 4
		`},
		{"BRA failure with the failed binding", &BindingRevocationAck{Status: BRStatusBindingDoesNotExist, Sequence: 0x1234,
			Flags: BRFlagP, Base: Base{Options: Options{NewNAI("a@b"), hnp1()}}}, `
			3b 04 10 00 0000 // Header Len 4: 40 octets
			02               // B.R. Type 2
			80               // Status 128: Binding Does NOT Exist
			1234             // Sequence #
			8000             // P
			08 04 01 614062  // @12 MN-ID "a@b"
			01 00            // @18 PadN 2: HNP is 8n+4
			16 12 00 40 20010db8000100000000000000000000 // @20 HNP
		`},
		{"unassigned B.R. Type decodes generic", &GenericMessage{Type: TypeBindingRevocation, Data: []byte{3, 0}}, `
			3b 00 10 00 0000 // Header Len 0, MH Type 16
			03 00            // B.R. Type 3 (unassigned), kept as message data
		`},
	})
}

func TestGoldenLocalizedRouting(t *testing.T) {
	tuples := func() Options {
		return Options{NewNAI("a@b"), hnp1(), NewNAI("c@d"), hnp2()}
	}
	runMsgGoldens(t, []msgGolden{
		{"LRI", &LocalizedRoutingInit{Sequence: 7, Lifetime: 300, Base: Base{Options: tuples()}}, `
			3b 08 11 00 0000 // Header Len 8 (72 octets), MH Type 17
			0007             // Sequence # 7
			0000             // Reserved
			012c             // Lifetime 300 s
			08 04 01 614062  // @12 MN1-ID "a@b"
			01 00            // @18 PadN 2
			16 12 00 40 20010db8000100000000000000000000 // @20 MN1-HNP 2001:db8:1::/64
			08 04 01 634064  // @40 MN2-ID "c@d"
			01 04 00000000   // @46 PadN 6
			16 12 00 40 20010db8000200000000000000000000 // @52 MN2-HNP 2001:db8:2::/64
		`},
		{"LRI stop, Reserved kept", &LocalizedRoutingInit{Sequence: 8, MsgReserved: 0xabcd, Lifetime: 0}, `
			3b 01 11 00 0000 // Header Len 1
			0008             // Sequence # 8
			abcd             // Reserved, kept as given
			0000             // Lifetime 0: stop localized routing
			01 02 0000       // @12 PadN 4
		`},
		{"LRA", &LocalizedRoutingAck{Sequence: 7, Status: LRAStatusSuccess, Lifetime: 300, Base: Base{Options: tuples()}}, `
			3b 08 12 00 0000 // Header Len 8 (72 octets), MH Type 18
			0007             // Sequence # 7, copied from the LRI
			00               // U=0, Reserved
			00               // Status 0: success
			012c             // Lifetime 300 s
			08 04 01 614062  // @12 MN1-ID
			01 00            // @18 PadN 2
			16 12 00 40 20010db8000100000000000000000000 // @20 MN1-HNP
			08 04 01 634064  // @40 MN2-ID
			01 04 00000000   // @46 PadN 6
			16 12 00 40 20010db8000200000000000000000000 // @52 MN2-HNP
		`},
		{"LRA unsolicited, refused", &LocalizedRoutingAck{Sequence: 3, Flags: LRAFlagU, Status: LRAStatusMNNotAttached,
			Lifetime: LRLifetimeInfinite}, `
			3b 01 12 00 0000 // Header Len 1
			0003             // Sequence # 3
			80               // U
			81               // Status 129: MN Not Attached
			ffff             // Lifetime: infinite
			01 02 0000       // @12 PadN 4
		`},
	})
}

func TestGoldenUpdateNotification(t *testing.T) {
	runMsgGoldens(t, []msgGolden{
		{"UPN", &UpdateNotification{Sequence: 0x42, Reason: ReasonUpdateSessionParameters, Flags: UPNFlagA,
			Base: Base{Options: Options{hnp1(), mnid1()}}}, `
			3b 06 13 00 0000 // Header Len 6 (56 octets), MH Type 19
			0042             // Sequence #
			0002             // Notification Reason 2 (16 bits): UPDATE-SESSION-PARAMETERS
			8000             // A (ack requested), D=0, Reserved
			16 12 00 40 20010db8000100000000000000000000 // @12 HNP
			08 10 01 6d6e31406578616d706c652e6f7267     // @32 MN-ID
			01 04 00000000                              // @50 PadN 6
		`},
		{"UPN retransmission, 16-bit reason", &UpdateNotification{Sequence: 0x43, Reason: 0x0104, Flags: UPNFlagA | UPNFlagD}, `
			3b 01 13 00 0000 // Header Len 1
			0043             // Sequence #
			0104             // Notification Reason 260: both octets are the reason
			c000             // A|D
			01 02 0000       // @12 PadN 4
		`},
		{"UPA", &UpdateNotificationAck{Sequence: 0x42, Status: UPAStatusSuccess,
			Base: Base{Options: Options{NewNAI("a@b"), hnp1()}}}, `
			3b 04 14 00 0000 // Header Len 4 (40 octets), MH Type 20
			0042             // Sequence #, copied from the UPN
			00               // Status 0: SUCCESS
			000000           // Reserved (24 bits)
			08 04 01 614062  // @12 MN-ID "a@b"
			01 00            // @18 PadN 2
			16 12 00 40 20010db8000100000000000000000000 // @20 HNP
		`},
		{"UPA failure, Reserved kept", &UpdateNotificationAck{Sequence: 0x42,
			Status: UPAStatusFailedToUpdateSessionParams, MsgReserved: [3]byte{1, 2, 3}}, `
			3b 01 14 00 0000 // Header Len 1
			0042             // Sequence #
			80               // Status 128: FAILED-TO-UPDATE-SESSION-PARAMETERS
			010203           // Reserved, kept as given
			01 02 0000       // @12 PadN 4
		`},
	})
}
