package mh

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// pbuWith returns a conformant PBU (A|P plus extra flags) whose option
// list is the standard one with the types in drop removed and add appended.
func pbuWith(flags BUFlags, drop []OptionType, add ...Option) *BindingUpdate {
	std := Options{
		NewNAI("mn1@example.org"),
		NewHNP(netip.MustParsePrefix("2001:db8:1::/64")),
		&HandoffIndicator{Value: HIAttachNewInterface},
		&AccessTechnologyType{Value: ATT8023},
		NewTimestamp(time.Unix(1700000000, 0)),
	}
	var opts Options
next:
	for _, o := range std {
		for _, d := range drop {
			if o.OptionType() == d {
				continue next
			}
		}
		opts = append(opts, o)
	}
	return &BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagP | flags, Lifetime: 10, Base: Base{Options: append(opts, add...)}}
}

func TestValidatePBU(t *testing.T) {
	const (
		mnid = OptMNIdentifier
		hnp  = OptHomeNetworkPrefix
		hi   = OptHandoffIndicator
		att  = OptAccessTechnologyType
	)
	ipv4req := &RawOption{Type: OptIPv4HomeAddressRequest, Data: []byte{0, 0, 0, 0, 0, 0}}
	vendor := &RawOption{Type: OptVendorSpecific, Data: []byte{0, 0, 0x28, 0xaf, 1, 0}}
	anchored := &RawOption{Type: OptAnchoredPrefix, Data: make([]byte, 18)}
	cases := []struct {
		name string
		bu   *BindingUpdate
		want Status // 0: valid
	}{
		{"conformant", pbuWith(0, nil), 0},
		{"P clear, H set (MIPv6 home registration)", func() *BindingUpdate { m := pbuWith(BUFlagH, nil); m.Flags &^= BUFlagP; return m }(), StatusHomeRegistrationNotSupported},
		{"P clear, H clear (correspondent registration)", func() *BindingUpdate { m := pbuWith(0, nil); m.Flags &^= BUFlagP; return m }(), StatusHomeRegistrationNotSupported},
		{"P clear and no MN-ID: P first", func() *BindingUpdate { m := pbuWith(0, []OptionType{mnid}); m.Flags &^= BUFlagP; return m }(), StatusHomeRegistrationNotSupported},
		{"no MN-ID", pbuWith(0, []OptionType{mnid}), StatusMissingMNIdentifierOption},
		{"no MN-ID, no HNP: 160 first", pbuWith(0, []OptionType{mnid, hnp}), StatusMissingMNIdentifierOption},
		{"no MN-ID, HI, ATT: 160 first", pbuWith(0, []OptionType{mnid, hi, att}), StatusMissingMNIdentifierOption},
		{"two MN-IDs", pbuWith(0, nil, NewNAI("other@example.org")), StatusReasonUnspecified},
		{"no HNP", pbuWith(0, []OptionType{hnp}), StatusMissingHNPOption},
		{"no HNP, no HI: 158 first", pbuWith(0, []OptionType{hnp, hi}), StatusMissingHNPOption},
		{"no HNP, no ATT, two HIs: 158 first", pbuWith(0, []OptionType{hnp, att}, &HandoffIndicator{Value: 1}), StatusMissingHNPOption},
		{"no HNP but IPv4 HoA Request (RFC 5844)", pbuWith(0, []OptionType{hnp}, ipv4req), 0},
		{"no HI", pbuWith(0, []OptionType{hi}), StatusMissingHandoffIndicatorOption},
		{"no HI, no ATT: 161 first", pbuWith(0, []OptionType{hi, att}), StatusMissingHandoffIndicatorOption},
		{"no ATT", pbuWith(0, []OptionType{att}), StatusMissingAccessTechTypeOption},
		{"no ATT, two Timestamps: 162 first", pbuWith(0, []OptionType{att}, NewTimestamp(time.Unix(1, 0))), StatusMissingAccessTechTypeOption},
		{"two HNPs (allowed)", pbuWith(0, nil, NewHNP(netip.MustParsePrefix("2001:db8:2::/64"))), 0},
		{"two Vendor-Specific (allowed)", pbuWith(0, nil, vendor, vendor), 0},
		{"two HIs", pbuWith(0, nil, &HandoffIndicator{Value: 1}), StatusReasonUnspecified},
		{"two ATTs", pbuWith(0, nil, &AccessTechnologyType{Value: 4}), StatusReasonUnspecified},
		{"two Timestamps", pbuWith(0, nil, NewTimestamp(time.Unix(1, 0))), StatusReasonUnspecified},
		{"two MN LL-IDs", pbuWith(0, nil, &MNLinkLayerID{LinkLayerID: []byte{1}}, &MNLinkLayerID{LinkLayerID: []byte{2}}), StatusReasonUnspecified},
		{"two IPv4 HoA Requests (RFC 5844)", pbuWith(0, nil, ipv4req, ipv4req), StatusMultipleIPv4HoANotSupported},
		{"Anchored Prefix without D (RFC 8885)", pbuWith(0, nil, anchored), StatusReasonUnspecified},
		{"Anchored Prefix with D", pbuWith(BUFlagD, nil, anchored), 0},
		{"Local Prefix without D", pbuWith(0, nil, &RawOption{Type: OptLocalPrefix, Data: make([]byte, 18)}), StatusReasonUnspecified},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidatePBU(c.bu)
			if c.want == 0 {
				if err != nil {
					t.Fatalf("ValidatePBU = %v, want nil", err)
				}
				return
			}
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("ValidatePBU = %v, want a *StatusError", err)
			}
			if se.Status != c.want {
				t.Fatalf("status %d (%s), want %d (%s): %s", se.Status, se.Status, c.want, c.want, se.Reason)
			}
		})
	}
}

// The split lets the LMA put its policy checks (154, 153, 152, ordering)
// between 160 and 158, as RFC 5213 §5.3.1 orders them.
func TestValidatePBUSplit(t *testing.T) {
	noHNP := pbuWith(0, []OptionType{OptHomeNetworkPrefix})
	if err := ValidatePBUIdentity(noHNP); err != nil {
		t.Errorf("ValidatePBUIdentity of a PBU without HNP = %v, want nil", err)
	}
	var se *StatusError
	if err := ValidatePBUOptions(noHNP); !errors.As(err, &se) || se.Status != StatusMissingHNPOption {
		t.Errorf("ValidatePBUOptions = %v, want 158", err)
	}
	noMNID := pbuWith(0, []OptionType{OptMNIdentifier})
	if err := ValidatePBUOptions(noMNID); err != nil {
		t.Errorf("ValidatePBUOptions of a PBU without MN-ID = %v, want nil (160 is the identity stage's)", err)
	}
}

func pbaWith(status Status, flags BAFlags, drop []OptionType, add ...Option) *BindingAck {
	m := &BindingAck{Status: status, Flags: BAFlagP | flags, Sequence: 1, Lifetime: 10}
	std := Options{NewNAI("mn1@example.org"), NewHNP(netip.MustParsePrefix("2001:db8:1::/64")),
		&HandoffIndicator{Value: HIAttachNewInterface}, &AccessTechnologyType{Value: ATT8023}}
next:
	for _, o := range std {
		for _, d := range drop {
			if o.OptionType() == d {
				continue next
			}
		}
		m.Options = append(m.Options, o)
	}
	m.Options = append(m.Options, add...)
	return m
}

func TestValidatePBA(t *testing.T) {
	zeroHNP := &HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}
	cases := []struct {
		name string
		ba   *BindingAck
		ok   bool
	}{
		{"conformant", pbaWith(0, 0, nil), true},
		{"P clear", func() *BindingAck { m := pbaWith(0, 0, nil); m.Flags = 0; return m }(), false},
		{"no MN-ID", pbaWith(0, 0, []OptionType{OptMNIdentifier}), false},
		{"two MN-IDs", pbaWith(0, 0, nil, NewNAI("x@y")), false},
		{"no HNP", pbaWith(0, 0, []OptionType{OptHomeNetworkPrefix}), false},
		{"no HNP, IPv4 HoA Reply (RFC 5844)", pbaWith(0, 0, []OptionType{OptHomeNetworkPrefix}, &RawOption{Type: OptIPv4HomeAddressReply, Data: make([]byte, 6)}), true},
		{"accepted with ALL_ZERO HNP", pbaWith(0, 0, []OptionType{OptHomeNetworkPrefix}, zeroHNP), false},
		{"rejected with ALL_ZERO HNP (echo, §5.3.6)", pbaWith(StatusMissingHNPOption, 0, []OptionType{OptHomeNetworkPrefix}, zeroHNP), true},
		{"no HI", pbaWith(0, 0, []OptionType{OptHandoffIndicator}), false},
		{"no ATT", pbaWith(0, 0, []OptionType{OptAccessTechnologyType}), false},
		{"two ATTs", pbaWith(0, 0, nil, &AccessTechnologyType{Value: 4}), false},
		{"Local Prefix without D", pbaWith(0, 0, nil, &RawOption{Type: OptLocalPrefix, Data: make([]byte, 18)}), false},
		{"Local Prefix with D", pbaWith(0, BAFlagD, nil, &RawOption{Type: OptLocalPrefix, Data: make([]byte, 18)}), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidatePBA(c.ba)
			if c.ok != (err == nil) {
				t.Fatalf("ValidatePBA = %v, want ok=%v", err, c.ok)
			}
			var ve *ValidationError
			if err != nil && !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError", err)
			}
		})
	}
}

func TestValidateHeader(t *testing.T) {
	good, err := Parse(hexBytes(t, `3b 01 05 00 0000 0001 8200 000a 01 02 0000`))
	if err != nil {
		t.Fatal(err)
	}
	proto6 := hexBytes(t, `06 01 05 00 0000 0001 8200 000a 01 02 0000 // Payload Proto 6`)
	bad, err := Parse(proto6)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := Parse(hexBytes(t, `3b 00 0b 00 0000 6363 // Experimental, Header Len 0`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		m       Message
		field   string
		pointer int
	}{
		{"conformant BU", good, "", 0},
		{"Experimental with Header Len 0", exp, "", 0},
		{"Payload Proto 6", bad, "Payload Proto", 0},
		{"BU with Header Len 0", &BindingUpdate{Base: Base{Header: Header{PayloadProto: 59, HeaderLen: 0}}}, "Header Len", 1},
		{"HoT with Header Len 1", &GenericMessage{Type: TypeHomeTest, Base: Base{Header: Header{PayloadProto: 59, HeaderLen: 1}}}, "Header Len", 1},
		{"Location Query with Header Len 0", &LocationQuery{Base: Base{Header: Header{PayloadProto: 59, HeaderLen: 0}}}, "Header Len", 1},
		{"Location Query with Header Len 1", &LocationQuery{Base: Base{Header: Header{PayloadProto: 59, HeaderLen: 1}}}, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateHeader(c.m)
			if c.field == "" {
				if err != nil {
					t.Fatalf("ValidateHeader = %v, want nil", err)
				}
				return
			}
			var pp *ParamProblemError
			if !errors.As(err, &pp) {
				t.Fatalf("ValidateHeader = %v, want *ParamProblemError", err)
			}
			if pp.Field != c.field || pp.Pointer != c.pointer {
				t.Fatalf("got field %q pointer %d, want %q %d", pp.Field, pp.Pointer, c.field, c.pointer)
			}
		})
	}
}

func TestCheckAlignment(t *testing.T) {
	cases := []struct {
		name string
		wire string
		want []AlignmentIssue
	}{
		{"conformant PBU", `
			3b 05 05 00 0000 0007 8200 0064
			16 12 00 40 20010db8000100000000000000000000 // @12 HNP 8n+4
			08 05 01 61406233                           // @32 MN-ID (none)
			17 02 00 01                                 // @39 HI (none)
			18 02 00 03                                 // @43 ATT (none)
			00                                          // @47 Pad1`, nil},
		{"HNP at 8n+6, Timestamp on 8n+2, unknown option", `
			3b 06 05 00 0000 0001 8200 0001
			01 00                                       // @12 PadN 2
			16 12 00 40 20010db8000100000000000000000000 // @14 HNP: wants 8n+4
			1b 08 00006553f1000000                      // @34 Timestamp 8n+2: aligned
			c8 02 0000                                  // @44 option 200 (no requirement)
			01 02 0000                                  // @48 PadN 4: to 56`,
			[]AlignmentIssue{{Offset: 14, Type: OptHomeNetworkPrefix, Want: Alignment{8, 4}}}},
		{"DMM Routing Location at 8n+6", `
			3b 08 0b 00 0000 03 00 0001 0000
			01 00                                       // @12 PadN 2
			f1 36 00 40 20010db8001200000000000000000000 20010db8ffff00000000000000000012 20010db8ffff00000000000000000011 00000e10 // @14
			01 00                                       // @70 PadN 2`,
			[]AlignmentIssue{{Offset: 14, Type: 241, Want: Alignment{8, 4}}}},
		{"Timestamp and LLA misplaced, option overrunning the end", `
			3b 03 05 00 0000 0001 8200 0001
			1b 08 00006553f1000000                      // @12 Timestamp: wants 8n+2
			1a 10 fe800000000000000000000000000001      // @22 LLA: 8n+6 aligned
			c8 30                                       // @40 option 200 runs past the end: walk stops`,
			[]AlignmentIssue{{Offset: 12, Type: OptTimestamp, Want: Alignment{8, 2}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := CheckAlignment(hexBytes(t, c.wire))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("CheckAlignment = %v, want %v", got, c.want)
			}
		})
	}
}
