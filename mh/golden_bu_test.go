package mh

import (
	"net/netip"
	"testing"
	"time"
)

func TestGoldenPBU(t *testing.T) {
	wire := hexBytes(t, `
		3b          // Payload Proto 59 (IPPROTO_NONE)
		09          // Header Len 9: (9+1)*8 = 80 octets
		05          // MH Type 5 (Binding Update)
		00          // Reserved
		0000        // Checksum (left to the kernel)
		0007        // Sequence # 7
		8200        // Flags A|P
		0064        // Lifetime 100 x 4 s
		16 12 00 40 20010db8000100000000000000000000 // @12 HNP (8n+4): len 18, res 0, plen 64, 2001:db8:1::
		08 10 01 6d6e31406578616d706c652e6f7267     // @32 MN-ID: len 16, subtype 1 (NAI) "mn1@example.org"
		17 02 00 01                                 // @50 HI: res 0, HI 1 (attachment over a new interface)
		18 02 00 03                                 // @54 ATT: res 0, ATT 3 (IEEE 802.3)
		1b 08 0000655 3f100 0000                    // @58 Timestamp (8n+2): 0x6553f100 s = 2023-11-14T22:13:20Z, frac 0
		19 08 0000 020000000001                     // @68 MN LL-ID: res 0, MAC 02:00:00:00:00:01
		01 00                                       // @78 PadN 2: to 80 octets
	`)
	m := &BindingUpdate{Sequence: 7, Flags: BUFlagA | BUFlagP, Lifetime: 100, Base: Base{Options: Options{
		NewHNP(netip.MustParsePrefix("2001:db8:1::/64")),
		NewNAI("mn1@example.org"),
		&HandoffIndicator{Value: HIAttachNewInterface},
		&AccessTechnologyType{Value: ATT8023},
		NewTimestamp(time.Unix(1700000000, 0)),
		&MNLinkLayerID{LinkLayerID: []byte{2, 0, 0, 0, 0, 1}},
	}}}
	checkMessageGolden(t, m, wire)
}

func TestGoldenPBA(t *testing.T) {
	wire := hexBytes(t, `
		3b 05 06 00 0000 // Payload Proto 59, Header Len 5 (48 octets), MH Type 6 (BA), Reserved, Checksum
		00               // Status 0 (accepted)
		20               // Flags P
		0007             // Sequence # 7
		0064             // Lifetime 100 x 4 s
		16 12 00 40 20010db8000100000000000000000000 // @12 HNP 2001:db8:1::/64
		08 05 01 61406233                           // @32 MN-ID: len 5, NAI "a@b3"
		17 02 00 01                                 // @39 HI 1
		18 02 00 03                                 // @43 ATT 3
		00                                          // @47 Pad1: to 48 octets
	`)
	m := &BindingAck{Status: StatusAccepted, Flags: BAFlagP, Sequence: 7, Lifetime: 100, Base: Base{Options: Options{
		NewHNP(netip.MustParsePrefix("2001:db8:1::/64")),
		NewNAI("a@b3"),
		&HandoffIndicator{Value: HIAttachNewInterface},
		&AccessTechnologyType{Value: ATT8023},
	}}}
	checkMessageGolden(t, m, wire)
}

func TestGoldenPMIPOptions(t *testing.T) {
	cases := []struct {
		name string
		opt  Option
		wire string
	}{
		{"HNP", NewHNP(netip.MustParsePrefix("2001:db8:aa::/48")), `16 12 // type 22, len 18
			00 30 // reserved, prefix length 48
			20010db800aa00000000000000000000 // prefix`},
		{"HNP ALL_ZERO", &HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}, `16 12 00 00 00000000000000000000000000000000`},
		{"MN-ID NAI", NewNAI("x@y"), `08 04 // type 8, len 4
			01 // subtype NAI
			784079 // "x@y"`},
		{"MN-ID empty (RFC 5213 §5.3.6)", &MNIdentifier{Empty: true}, `08 00`},
		{"HI", &HandoffIndicator{Value: HIHandoffStateNotChanged}, `17 02 00 05`},
		{"ATT", &AccessTechnologyType{Value: ATT80211}, `18 02 00 04`},
		{"MN LL-ID", &MNLinkLayerID{LinkLayerID: []byte{0xde, 0xad, 0xbe, 0xef, 0, 1}}, `19 08 0000 deadbeef0001`},
		{"LLA", &LinkLocalAddress{Address: netip.MustParseAddr("fe80::200:5eff:fe00:5213")}, `1a 10 fe80000000000000 0200 5eff fe00 5213`},
		{"Timestamp", &Timestamp{Value: 0x0000_6553_f100_8000}, `1b 08 // type 27, len 8
			00006553f100 // seconds 1700000000
			8000 // fraction 0.5 s`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkOptionGolden(t, c.opt, hexBytes(t, c.wire)) })
	}
}

func TestTimestampFormat(t *testing.T) {
	tm := time.Date(2023, 11, 14, 22, 13, 20, 500_000_000, time.UTC)
	o := NewTimestamp(tm)
	if o.Value != 0x6553f1008000 {
		t.Fatalf("value %#x, want 0x6553f1008000 (48.16 seconds since 1970, not NTP)", o.Value)
	}
	if !o.Time().Equal(tm) {
		t.Fatalf("Time() = %v, want %v", o.Time(), tm)
	}
}
