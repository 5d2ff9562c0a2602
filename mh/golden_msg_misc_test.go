package mh

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// TestParseDispatchAllTypes parses a minimal valid message of every IANA
// MH type 0-23 (and two unassigned ones) and checks the Go type Parse
// returns.
func TestParseDispatchAllTypes(t *testing.T) {
	generic := reflect.TypeOf(&GenericMessage{})
	cases := []struct {
		name string
		wire string
		want reflect.Type
	}{
		{"0 BRR", `3b 00 00 00 0000 0000`, generic},
		{"1 HoTI", `3b 01 01 00 0000 0000 0102030405060708`, generic},
		{"2 CoTI", `3b 01 02 00 0000 0000 0102030405060708`, generic},
		{"3 HoT", `3b 02 03 00 0000 0001 0102030405060708 1112131415161718`, generic},
		{"4 CoT", `3b 02 04 00 0000 0001 0102030405060708 1112131415161718`, generic},
		{"5 BU", `3b 01 05 00 0000 0001 8000 0001 01020000`, reflect.TypeOf(&BindingUpdate{})},
		{"6 BA", `3b 01 06 00 0000 00 00 0001 0001 01020000`, reflect.TypeOf(&BindingAck{})},
		{"7 BE", `3b 02 07 00 0000 01 00 20010db8000000000000000000000001`, reflect.TypeOf(&BindingError{})},
		{"8 FBU", `3b 01 08 00 0000 0001 c000 0001 01020000`, reflect.TypeOf(&FastBindingUpdate{})},
		{"9 FBack", `3b 01 09 00 0000 00 00 0001 0001 01020000`, reflect.TypeOf(&FastBindingAck{})},
		{"10 FNA", `3b 00 0a 00 0000 0000`, generic},
		{"11 Experimental", `3b 00 0b 00 0000 0000`, reflect.TypeOf(&ExperimentalMessage{})},
		{"12 HAS", `3b 00 0c 00 0000 00 00`, reflect.TypeOf(&HomeAgentSwitch{})},
		{"13 Heartbeat", `3b 01 0d 00 0000 0000 00000001 01020000`, reflect.TypeOf(&Heartbeat{})},
		{"14 HI", `3b 01 0e 00 0000 0001 20 00 010400000000`, reflect.TypeOf(&HandoverInitiate{})},
		{"15 HAck", `3b 01 0f 00 0000 0001 40 00 010400000000`, reflect.TypeOf(&HandoverAck{})},
		{"16 BRI", `3b 01 10 00 0000 01 00 0001 8000 01020000`, reflect.TypeOf(&BindingRevocationIndication{})},
		{"16 BRA", `3b 01 10 00 0000 02 00 0001 8000 01020000`, reflect.TypeOf(&BindingRevocationAck{})},
		{"16 B.R. Type 0", `3b 01 10 00 0000 00 00 0001 8000 01020000`, generic},
		{"16 B.R. Type 3", `3b 00 10 00 0000 03 00`, generic},
		{"17 LRI", `3b 01 11 00 0000 0001 0000 0001 01020000`, reflect.TypeOf(&LocalizedRoutingInit{})},
		{"18 LRA", `3b 01 12 00 0000 0001 00 00 0001 01020000`, reflect.TypeOf(&LocalizedRoutingAck{})},
		{"19 UPN", `3b 01 13 00 0000 0001 0001 8000 01020000`, reflect.TypeOf(&UpdateNotification{})},
		{"20 UPA", `3b 01 14 00 0000 0001 00 000000 01020000`, reflect.TypeOf(&UpdateNotificationAck{})},
		{"21 Flow Binding", `3b 01 15 00 0000 0001 0001 0000 01020000`, generic},
		{"22 Subscription Query", `3b 00 16 00 0000 0100`, generic},
		{"23 Subscription Response", `3b 00 17 00 0000 0100`, generic},
		{"24 unassigned", `3b 00 18 00 0000 0000`, generic},
		{"200 unassigned", `3b 00 c8 00 0000 0000`, generic},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wire := hexBytes(t, c.wire)
			m, err := Parse(wire)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if reflect.TypeOf(m) != c.want {
				t.Fatalf("Parse returned %T, want %v", m, c.want)
			}
			if m.MHType() != Type(wire[2]) {
				t.Errorf("MHType %d, want %d", m.MHType(), wire[2])
			}
			again, err := m.Marshal()
			if err != nil || string(again) != string(wire) {
				t.Errorf("re-encoding: %v\n got % x\nwant % x", err, again, wire)
			}
			var d Decoder
			dm, err := d.Decode(wire)
			if err != nil || reflect.TypeOf(dm) != c.want {
				t.Errorf("Decoder.Decode: %T, %v; want %v", dm, err, c.want)
			}
		})
	}
}

// TestDecoderBindingRevocationKinds: one Decoder alternating BRI, BRA and
// an unassigned B.R. Type returns the right message each time and does
// not allocate once warmed up.
func TestDecoderBindingRevocationKinds(t *testing.T) {
	bri := hexBytes(t, `3b 03 10 00 0000 01 02 1234 8000 16 12 00 40 20010db8000100000000000000000000`)
	bra := hexBytes(t, `3b 01 10 00 0000 02 80 1234 8000 01020000`)
	other := hexBytes(t, `3b 00 10 00 0000 07 00`)
	var d Decoder
	check := func() {
		m, err := d.Decode(bri)
		if i, ok := m.(*BindingRevocationIndication); err != nil || !ok || i.Trigger != TriggerInterMAGSameAccessType || i.Sequence != 0x1234 {
			t.Fatalf("BRI: %#v, %v", m, err)
		}
		m, err = d.Decode(bra)
		if a, ok := m.(*BindingRevocationAck); err != nil || !ok || a.Status != BRStatusBindingDoesNotExist || !a.Proxy() {
			t.Fatalf("BRA: %#v, %v", m, err)
		}
		m, err = d.Decode(other)
		if g, ok := m.(*GenericMessage); err != nil || !ok || g.Type != TypeBindingRevocation || string(g.Data) != "\x07\x00" {
			t.Fatalf("B.R. Type 7: %#v, %v", m, err)
		}
	}
	check()
	if n := testing.AllocsPerRun(50, check); n != 0 {
		t.Errorf("decoding BRI, BRA and B.R. Type 7 in turn allocates %.1f times", n)
	}
}

// TestDecoderReuseNoAlloc: decoding the golden messages again into the
// Decoder's values does not allocate (variable parts included: HAS
// addresses, Experimental data).
func TestDecoderReuseNoAlloc(t *testing.T) {
	wires := [][]byte{
		hexBytes(t, `3b 04 0c 00 0000 02 00 20010db800000000000000000000000a 20010db800000000000000000000000b`),
		hexBytes(t, `3b 01 0b 00 0000 deadbeef010203040506`),
		hexBytes(t, `3b 02 0d 00 0000 0001 00000001 0100 1c0400000007 01020000`),
		hexBytes(t, `3b 05 0e 00 0000 0005 70 00 08 10 01 6d6e31406578616d706c652e6f7267 16 12 00 40 20010db8000100000000000000000000`),
		hexBytes(t, `3b 02 07 00 0000 01 00 20010db8000100000000000000000100`),
		hexBytes(t, `3b 04 14 00 0000 0042 00 000000 08 04 01 614062 0100 16 12 00 40 20010db8000100000000000000000000`),
	}
	var d Decoder
	run := func() {
		for _, w := range wires {
			if _, err := d.Decode(w); err != nil {
				t.Fatalf("Decode % x: %v", w, err)
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Errorf("re-decoding allocates %.1f times", n)
	}
}

func TestMessageDecodeErrors(t *testing.T) {
	cases := []struct {
		name  string
		parse func([]byte) error
		wire  string
		want  error
	}{
		{"BRA parser given a BRI", func(b []byte) error { _, err := ParseBindingRevocationAck(b); return err },
			`3b 01 10 00 0000 01 00 0001 8000 01020000`, ErrWrongType},
		{"BRI parser given a BRA", func(b []byte) error { _, err := ParseBindingRevocationIndication(b); return err },
			`3b 01 10 00 0000 02 00 0001 8000 01020000`, ErrWrongType},
		{"HAS counting more addresses than present", func(b []byte) error { _, err := Parse(b); return err },
			`3b 02 0c 00 0000 02 00 20010db800000000000000000000000a`, ErrTooShort},
		{"HAS option running past the end", func(b []byte) error { _, err := Parse(b); return err },
			`3b 01 0c 00 0000 00 00 1b 08 00006553f100`, ErrInvalidLength},
		{"Heartbeat parser given a BE", func(b []byte) error { _, err := ParseHeartbeat(b); return err },
			`3b 02 07 00 0000 01 00 20010db8000000000000000000000001`, ErrWrongType},
		{"HI shorter than its fixed part", func(b []byte) error { _, err := Parse(b); return err },
			`3b 00 0e 00 0000 0001`, ErrTooShort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.parse(hexBytes(t, c.wire))
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
}

func TestExperimentalEncoding(t *testing.T) {
	m := &ExperimentalMessage{Data: []byte{1, 2, 3}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := hexBytes(t, `3b 01 0b 00 0000 010203 00000000000000`); string(b) != string(want) {
		t.Errorf("3 octets of data:\n got % x\nwant % x (zero-padded to 16 octets)", b, want)
	}
	m.Options = Options{NewNAI("a@b")}
	if _, err := m.Marshal(); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("Marshal with an option: %v, want ErrInvalidValue", err)
	}
	if err := m.MarshalTo(make([]byte, 64)); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("MarshalTo with an option: %v, want ErrInvalidValue", err)
	}
}

func TestHomeAgentSwitchTooManyAddresses(t *testing.T) {
	addrs := make([]netip.Addr, 256)
	for i := range addrs {
		addrs[i] = netip.MustParseAddr("2001:db8::1")
	}
	if _, err := (&HomeAgentSwitch{Addresses: addrs}).Marshal(); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("256 addresses: %v, want ErrInvalidValue", err)
	}
	// 128 addresses fit the count but not the 2048-octet Mobility Header.
	if _, err := (&HomeAgentSwitch{Addresses: addrs[:128]}).Marshal(); !errors.Is(err, ErrInvalidLength) {
		t.Errorf("128 addresses: %v, want ErrInvalidLength", err)
	}
	b, err := (&HomeAgentSwitch{Addresses: addrs[:127]}).Marshal()
	if err != nil || len(b) != 2040 {
		t.Fatalf("127 addresses: %d octets, %v; want 2040", len(b), err)
	}
	m, err := ParseHomeAgentSwitch(b)
	if err != nil || len(m.Addresses) != 127 {
		t.Fatalf("parsing 127 addresses: %v, %d", err, len(m.Addresses))
	}
}

func TestMessageValueNames(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{BEStatusUnknownBinding.String(), "Unknown binding for Home Address destination option"},
		{BEStatus(3).String(), "status 3"},
		{FBAckIncorrectIIDLength.String(), "Incorrect interface identifier length"},
		{HICodeFBUNotFromPCoA.Name(false), "FBU whose source is not PCoA"},
		{HICode(1).Name(true), "code 1"},
		{HICodeAllContextTransferred.Name(true), "All available context transferred"},
		{HICode(1).String(), "FBU whose source is not PCoA"},
		{HAckCode(0).Name(false), "Handover Accepted, NCoA valid"},
		{HAckCode(0).Name(true), "Handover Accepted or Successful"},
		{HAckCode(5).Name(false), "code 5"},
		{HAckCodeForwardingNotAvailable.String(), "Forwarding Not Available"},
		{HAckCodeUsePCoA.String(), "Handover Accepted, use PCoA"},
		{(&HandoverAck{Flags: HAckFlagP, Code: 6}).CodeName(), "All available Context Transferred"},
		{(&HandoverInitiate{Code: 0}).CodeName(), "FBU with PCoA as source"},
		{BRTypeAck.String(), "Binding Revocation Acknowledgement"},
		{TriggerPossibleOutOfSyncBCE.String(), "Possible Out-of-Sync BCE State"},
		{TriggerRevokingMobilityLocalPolicy.String(), "Revoking Mobility Node Local Policy"},
		{RevocationTrigger(251).String(), "trigger 251 (reserved for testing)"},
		{BRStatusMNIsAttached.String(), "Revocation Failed - MN is Attached"},
		{BRStatusProxyRevocationNotSupported.String(), "Proxy Binding Revocation NOT Supported"},
		{LRAStatusNotAllowed.String(), "Localized Routing Not Allowed"},
		{LRAStatus(1).String(), "status 1"},
		{ReasonANIParamsRequested.String(), "ANI-PARAMS-REQUESTED"},
		{NotificationReason(0x0104).String(), "reason 260"},
		{UPAStatusMissingVendorSpecificOption.String(), "MISSING-VENDOR-SPECIFIC-OPTION"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !TriggerPerPeerPolicy.Global() || TriggerAdministrativeReason.Global() || RevocationTrigger(250).Global() {
		t.Error("RevocationTrigger.Global: 128 is global, 1 and 250 are not")
	}
	if !BRStatusPartialSuccess.Success() || BRStatusBindingDoesNotExist.Success() {
		t.Error("BRStatus.Success")
	}
	if !strings.HasPrefix(HAckCodeNotAccepted.String(), "Handover Not Accepted") || HAckCodeNotAccepted.Accepted() {
		t.Error("HAckCode 128")
	}
}

func TestMessageFlagAccessors(t *testing.T) {
	hb := &Heartbeat{Flags: HeartbeatFlagU | HeartbeatFlagR}
	if !hb.Response() || !hb.Unsolicited() || (&Heartbeat{}).Response() {
		t.Error("Heartbeat flags")
	}
	if !(&HandoverInitiate{Flags: HIFlagP}).Proxy() || (&HandoverInitiate{Flags: HIFlagS | HIFlagU | HIFlagF}).Proxy() {
		t.Error("HI P flag")
	}
	if !(&BindingRevocationAck{Flags: BRFlagP}).Proxy() || (&BindingRevocationIndication{Flags: BRFlagV | BRFlagG}).Proxy() {
		t.Error("BR P flag")
	}
	if !(&LocalizedRoutingAck{Flags: LRAFlagU}).Unsolicited() || !(&UpdateNotification{Flags: UPNFlagA}).AckRequested() ||
		(&UpdateNotification{Flags: UPNFlagD}).AckRequested() {
		t.Error("LRA U / UPN A flags")
	}
}
