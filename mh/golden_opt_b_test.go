package mh

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Golden vectors for the options of RFC 5949 §6.2 (40-42), RFC 6463 §4
// (46-49), RFC 6705 §11.1 (51), RFC 6757 §3 (52), RFC 7148 (55), RFC 7389
// §4 (59) and RFC 8885 §4.3-4.8 (65-70).

var (
	ip6 = netip.MustParseAddr
	pfx = netip.MustParsePrefix
)

func TestGoldenOptionsB(t *testing.T) {
	cases := []struct {
		name string
		opt  Option
		wire string
	}{
		// ---- RFC 5949 §6.2 ----
		{"Context Request (RFC 5949 §6.2.1 example)", &ContextRequest{Requests: []ContextRequestEntry{
			{Type: OptHomeNetworkPrefix},
			{Type: OptMNLinkLayerID},
			{Type: OptVendorSpecific, Option: []byte{0, 0, 0x28, 0xaf, 1}},
		}}, `
			28 0d      // type 40, len 13
			0000       // Reserved
			16 00      // Req-type 22 (HNP), Req-length 0
			19 00      // Req-type 25 (MN LL-ID), Req-length 0
			13 05      // Req-type 19 (Vendor-Specific), Req-length 5
			000028af   //   Vendor-ID 10415 (3GPP)
			01         //   Sub-Type 1`},
		{"Context Request, no entries", &ContextRequest{Reserved: 0xabcd}, `
			28 02 // type 40, len 2
			abcd  // Reserved, kept as received`},
		{"Context Request via NewContextRequest", NewContextRequest(OptHomeNetworkPrefix, OptLinkLocalAddress), `
			28 06 0000 // type 40, len 6, Reserved
			16 00      // HNP
			1a 00      // Link-local Address`},
		{"LMA Address IPv6", &LMAAddress{Address: ip6("2001:db8::1")}, `
			29 12 // type 41, len 18
			01    // Option-Code 1 (IPv6 LMAA)
			00    // Reserved
			20010db8000000000000000000000001 // 2001:db8::1`},
		{"LMA Address IPv4", &LMAAddress{Reserved: 7, Address: ip6("192.0.2.1")}, `
			29 06    // type 41, len 6
			02       // Option-Code 2 (IPv4-LMAA)
			07       // Reserved (kept as received)
			c0000201 // 192.0.2.1`},
		{"MN LLA-IID", NewMNLinkLocalAddressIID(ip6("fe80::200:5eff:fe00:5301")), `
			2a 0a            // type 42, len 10
			0000             // Reserved
			02005efffe005301 // Interface Identifier`},

		// ---- RFC 6463 §4 ----
		{"Redirect-Capability", &RedirectCapability{}, `
			2e 02 // type 46, len 2
			0000  // Reserved`},
		{"Redirect K (IPv6 r2LMA)", &RedirectOption{Address: ip6("2001:db8::2")}, `
			2f 12 // type 47, len 18
			8000  // K=1 N=0 Reserved 0
			20010db8000000000000000000000002 // r2LMA 2001:db8::2`},
		{"Redirect N (IPv4 r2LMA), reserved bits kept", &RedirectOption{Reserved: 0x0005, Address: ip6("192.0.2.2")}, `
			2f 06    // type 47, len 6
			4005     // K=0 N=1 Reserved 5
			c0000202 // r2LMA 192.0.2.2`},
		{"Load Information", &LoadInformation{Priority: 10, SessionsInUse: 1000, MaxSessions: 50000, UsedCapacity: 12345, MaximumCapacity: 1000000}, `
			30 12    // type 48, len 18
			000a     // Priority 10
			000003e8 // Sessions in Use 1000
			0000c350 // Maximum Sessions 50000
			00003039 // Used Capacity 12345 kB/s
			000f4240 // Maximum Capacity 1000000 kB/s`},
		{"Alternate IPv4 CoA", &AlternateIPv4CoA{Address: ip6("198.51.100.7")}, `
			31 04    // type 49, len 4
			c6336407 // 198.51.100.7`},

		// ---- RFC 6705 §11.1 ----
		{"MAG IPv6 Address", &MAGIPv6Address{Address: ip6("2001:db8::51")}, `
			33 12 // type 51, len 18
			00    // Reserved
			80    // Address Length 128
			20010db8000000000000000000000051 // 2001:db8::51`},

		// ---- RFC 6757 §3 ----
		{"ANI: all sub-option kinds", &AccessNetworkIdentifier{SubOptions: []ANISubOption{
			NewANINetworkID("ssid1", "ap-7"),
			NewANIGeoLocation(0x123456, -2),
			NewANIOperatorID(ANIOpIDRealm, []byte("example.net")),
			{Type: ANITypeCivicLocation, Data: []byte("abc")},
		}}, `
			34 29          // type 52, len 41 (no reserved octet)
			01 0c          // ANI-Type 1 (Network-Identifier), ANI-Length 12
			00             //   E=0, Reserved 0
			05 7373696431  //   Net-Name Len 5, "ssid1"
			04 61702d37    //   AP-Name Len 4, "ap-7"
			02 06          // ANI-Type 2 (Geo-Location), ANI-Length 6
			123456         //   latitude 0x123456
			fffffe         //   longitude -2 (24-bit two's complement)
			03 0c          // ANI-Type 3 (Operator-Identifier), ANI-Length 12
			02             //   Op-ID Type 2 (realm)
			6578616d706c652e6e6574 // "example.net"
			04 03 616263   // ANI-Type 4 (Civic-Location, kept raw), ANI-Length 3, "abc"`},
		{"ANI: Network-Identifier E set, empty names; Operator PEN", &AccessNetworkIdentifier{SubOptions: []ANISubOption{
			{Type: ANITypeNetworkID, NetworkID: ANINetworkID{E: true, Reserved: 0x01}},
			NewANIOperatorID(ANIOpIDPEN, []byte{0x00, 0x00, 0x09}),
			{Type: 200, Data: nil},
		}}, `
			34 0d     // type 52, len 13
			01 03     // Network-Identifier, ANI-Length 3
			81        //   E=1, Reserved 1
			00        //   Net-Name Len 0
			00        //   AP-Name Len 0
			03 04     // Operator-Identifier, ANI-Length 4
			01 000009 //   Op-ID Type 1 (PEN), PEN 9
			c8 00     // ANI-Type 200 (unknown, raw), ANI-Length 0`},
		{"ANI: Geo-Location extremes", &AccessNetworkIdentifier{SubOptions: []ANISubOption{
			NewANIGeoLocation(-1<<23, 1<<23-1),
		}}, `
			34 08         // type 52, len 8
			02 06         // Geo-Location, ANI-Length 6
			800000 7fffff // latitude -8388608, longitude 8388607`},

		// ---- RFC 7148 ----
		{"Delegated MNP IPv6", NewDelegatedMNP(pfx("2001:db8:100::/56")), `
			37 12 // type 55, len 18
			00    // V=0, Reserved 0
			38    // Prefix Length 56
			20010db8010000000000000000000000 // 2001:db8:100::`},
		{"Delegated MNP IPv4", NewDelegatedMNP(pfx("203.0.113.0/24")), `
			37 06    // type 55, len 6
			80       // V=1, Reserved 0
			18       // Prefix Length 24
			cb007100 // 203.0.113.0`},

		// ---- RFC 7389 §4 ----
		{"LMA User-Plane Address, zero-length (PBU)", &LMAUserPlaneAddress{}, `
			3b 02 // type 59, len 2
			0000  // Reserved; no address`},
		{"LMA User-Plane Address, IPv4 ALL_ZERO (PBU)", &LMAUserPlaneAddress{Address: netip.IPv4Unspecified()}, `
			3b 06    // type 59, len 6
			0000     // Reserved
			00000000 // 0.0.0.0`},
		{"LMA User-Plane Address, IPv6 (PBA)", &LMAUserPlaneAddress{Address: ip6("2001:db8::59")}, `
			3b 12 // type 59, len 18
			0000  // Reserved
			20010db8000000000000000000000059 // 2001:db8::59`},

		// ---- RFC 8885 §4.3-4.8 ----
		{"Anchored Prefix", NewAnchoredPrefix(pfx("2001:db8:a::/48")), `
			41 12 // type 65, len 18
			00 30 // Reserved, Prefix Length 48
			20010db8000a00000000000000000000 // 2001:db8:a::`},
		{"Local Prefix", NewLocalPrefix(pfx("2001:db8:10::/64")), `
			42 12 // type 66, len 18
			00 40 // Reserved, Prefix Length 64
			20010db8001000000000000000000000 // 2001:db8:10::`},
		{"Previous MAAR", NewPreviousMAAR(ip6("2001:db8::1:1"), pfx("2001:db8:a::/48")), `
			43 22 // type 67, len 34
			00 30 // Reserved, Prefix Length 48
			20010db8000000000000000000010001 // P-MAAR 2001:db8::1:1
			20010db8000a00000000000000000000 // HNP 2001:db8:a::`},
		{"Serving MAAR", &ServingMAAR{Address: ip6("2001:db8::2:1")}, `
			44 10 // type 68, len 16
			20010db8000000000000000000020001 // S-MAAR 2001:db8::2:1`},
		{"DLIF Link-Local Address", &DLIFLinkLocalAddress{Address: ip6("fe80::1")}, `
			45 10 // type 69, len 16
			fe800000000000000000000000000001 // fe80::1`},
		{"DLIF Link-Layer Address", &DLIFLinkLayerAddress{Address: []byte{2, 0, 0, 0, 0x0a, 1}}, `
			46 08        // type 70, len 8
			0000         // Reserved
			020000000a01 // MAC 02:00:00:00:0a:01`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkOptionGolden(t, c.opt, hexBytes(t, c.wire)) })
	}
}

// TestMalformedOptionsB: lengths and values that must not decode. Each
// case names the sentinel the error must wrap.
func TestMalformedOptionsB(t *testing.T) {
	cases := []struct {
		name string
		wire string
		want error
	}{
		{"Context Request: len 1", `28 01 00`, ErrInvalidLength},
		{"Context Request: Req-type without Req-length", `28 03 0000 16`, ErrInvalidLength},
		{"Context Request: Req-length past the option", `28 05 0000 13 05 00`, ErrInvalidLength},
		{"LMA Address: len 10", `29 0a 01 00 0102030405060708`, ErrInvalidLength},
		{"LMA Address: code 1 with len 6", `29 06 01 00 c0000201`, ErrInvalidLength},
		{"LMA Address: code 2 with len 18", `29 12 02 00 20010db8000000000000000000000001`, ErrInvalidLength},
		{"LMA Address: code 0 (reserved)", `29 06 00 00 c0000201`, ErrInvalidValue},
		{"LMA Address: code 3", `29 12 03 00 20010db8000000000000000000000001`, ErrInvalidValue},
		{"MN LLA-IID: len 8 (no Reserved)", `2a 08 02005efffe005301`, ErrInvalidLength},
		{"MN LLA-IID: len 12", `2a 0c 0000 02005efffe005301 0000`, ErrInvalidLength},
		{"Redirect-Capability: len 0", `2e 00`, ErrInvalidLength},
		{"Redirect-Capability: len 4", `2e 04 00000000`, ErrInvalidLength},
		{"Redirect: len 0", `2f 00`, ErrInvalidLength},
		{"Redirect: len 1", `2f 01 80`, ErrInvalidLength},
		{"Redirect: K with len 6", `2f 06 8000 c0000202`, ErrInvalidLength},
		{"Redirect: N with len 18", `2f 12 4000 20010db8000000000000000000000002`, ErrInvalidLength},
		{"Redirect: K and N", `2f 06 c000 c0000202`, ErrInvalidValue},
		{"Redirect: neither K nor N", `2f 06 0000 c0000202`, ErrInvalidValue},
		{"Load Information: len 16", `30 10 000a 000003e8 0000c350 00003039 000f`, ErrInvalidLength},
		{"Alternate IPv4 CoA: len 16", `31 10 20010db8000000000000000000000001`, ErrInvalidLength},
		{"Alternate IPv4 CoA: len 6 (RFC 5555 layout)", `31 06 0000 c6336407`, ErrInvalidLength},
		{"MAG IPv6 Address: Address Length 64", `33 12 00 40 20010db8000000000000000000000051`, ErrInvalidValue},
		{"MAG IPv6 Address: len 16", `33 10 20010db8000000000000000000000051`, ErrInvalidLength},
		{"ANI: ANI-Type without ANI-Length", `34 01 01`, ErrInvalidLength},
		{"ANI: ANI-Length past the option", `34 04 02 06 0000`, ErrInvalidLength},
		{"ANI: second sub-option truncated", `34 09 02 06 123456 fffffe 03`, ErrInvalidLength},
		{"ANI: Network-Identifier ANI-Length 2", `34 04 01 02 00 00`, ErrInvalidLength},
		{"ANI: Net-Name Len past the sub-option", `34 07 01 05 00 03 6161 00`, ErrInvalidLength},
		{"ANI: trailing octet after AP-Name", `34 08 01 06 00 01 61 01 62 63`, ErrInvalidLength},
		{"ANI: Geo-Location ANI-Length 5", `34 07 02 05 1234561234`, ErrInvalidLength},
		{"ANI: Geo-Location ANI-Length 8", `34 0a 02 08 0000123456fffffe`, ErrInvalidLength},
		{"ANI: Operator-Identifier ANI-Length 0", `34 02 03 00`, ErrInvalidLength},
		{"Delegated MNP: len 10", `37 0a 00 40 2001db8000000000`, ErrInvalidLength},
		{"Delegated MNP: V with len 18", `37 12 80 18 20010db8010000000000000000000000`, ErrInvalidLength},
		{"Delegated MNP: no V with len 6", `37 06 00 18 cb007100`, ErrInvalidLength},
		{"Delegated MNP: IPv4 prefix length 33", `37 06 80 21 cb007100`, ErrInvalidValue},
		{"Delegated MNP: prefix length 129", `37 12 00 81 20010db8010000000000000000000000`, ErrInvalidValue},
		{"LMA User-Plane Address: len 0", `3b 00`, ErrInvalidLength},
		{"LMA User-Plane Address: len 4", `3b 04 0000 0000`, ErrInvalidLength},
		{"LMA User-Plane Address: len 10", `3b 0a 0000 0102030405060708`, ErrInvalidLength},
		{"Anchored Prefix: len 16", `41 10 20010db8000a00000000000000000000`, ErrInvalidLength},
		{"Anchored Prefix: prefix length 129", `41 12 00 81 20010db8000a00000000000000000000`, ErrInvalidValue},
		{"Local Prefix: len 19", `42 13 00 40 20010db8001000000000000000000000 00`, ErrInvalidLength},
		{"Previous MAAR: len 18 (HNP layout)", `43 12 00 30 20010db8000a00000000000000000000`, ErrInvalidLength},
		{"Previous MAAR: prefix length 200", `43 22 00 c8 20010db8000000000000000000010001 20010db8000a00000000000000000000`, ErrInvalidValue},
		{"Serving MAAR: len 18", `44 12 0000 20010db8000000000000000000020001`, ErrInvalidLength},
		{"Serving MAAR: len 4 (IPv4)", `44 04 c0000201`, ErrInvalidLength},
		{"DLIF Link-Local Address: len 8", `45 08 0000000000000001`, ErrInvalidLength},
		{"DLIF Link-Layer Address: len 0", `46 00`, ErrInvalidLength},
		{"DLIF Link-Layer Address: len 1", `46 01 00`, ErrInvalidLength},
		{"Length runs past the buffer", `43 22 00 30 20010db8`, ErrTooShort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wire := hexBytes(t, c.wire)
			o, err := ParseOption(wire)
			if err == nil {
				t.Fatalf("ParseOption(% x) = %#v, want an error", wire, o)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %q does not wrap %q", err, c.want)
			}
			// The same octets inside a message: strict decoding fails,
			// legacy decoding keeps them as a *RawOption that re-encodes
			// exactly.
			msg := wrapInBA(wire)
			if _, err := Parse(msg); err == nil {
				t.Fatalf("Parse of a PBA holding the option succeeded")
			}
			if errors.Is(err, ErrTooShort) {
				return // the option is cut short: no message can hold it
			}
			m, err := ParseWith(msg, DecodeOptions{Legacy: true})
			if err != nil {
				t.Fatalf("legacy ParseWith: %v", err)
			}
			raw := m.MHBase().Options.Get(OptionType(wire[0]))
			if _, ok := raw.(*RawOption); !ok {
				t.Fatalf("legacy decoding kept %T, want *RawOption", raw)
			}
			if m.MHBase().Quirks&QuirkMalformedOption == 0 {
				t.Errorf("legacy decoding did not report QuirkMalformedOption")
			}
			again, err := m.Marshal()
			if err != nil || !bytes.Equal(again, msg) {
				t.Errorf("legacy re-encoding: %v\n got % x\nwant % x", err, again, msg)
			}
		})
	}
}

// wrapInBA builds a PBA (12 octets of header) whose options are opt plus
// padding to a multiple of 8, laid out by hand.
func wrapInBA(opt []byte) []byte {
	b := []byte{59, 0, byte(TypeBindingAck), 0, 0, 0, 0, byte(BAFlagP), 0, 1, 0, 10}
	b = append(b, opt...)
	if p := (8 - len(b)%8) % 8; p == 1 {
		b = append(b, 0)
	} else if p > 1 {
		b = append(b, byte(OptPadN), byte(p-2))
		b = append(b, make([]byte, p-2)...)
	}
	b[1] = byte(len(b)/8 - 1)
	return b
}

// TestEncodeErrorsOptB: values that cannot be encoded.
func TestEncodeErrorsOptB(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 256)
	cases := []struct {
		name string
		opt  Option
	}{
		{"LMA Address without an address", &LMAAddress{}},
		{"Redirect without an address", &RedirectOption{}},
		{"Alternate IPv4 CoA with an IPv6 address", &AlternateIPv4CoA{Address: ip6("2001:db8::1")}},
		{"Delegated MNP IPv4 /33", &DelegatedMNP{PrefixLength: 33, Prefix: ip6("203.0.113.0")}},
		{"Delegated MNP IPv6 /129", &DelegatedMNP{PrefixLength: 129, Prefix: ip6("2001:db8::")}},
		{"Anchored Prefix /129", &AnchoredPrefix{PrefixLength: 129}},
		{"Previous MAAR /129", &PreviousMAAR{PrefixLength: 129}},
		{"ANI latitude 1<<23", &AccessNetworkIdentifier{SubOptions: []ANISubOption{NewANIGeoLocation(1<<23, 0)}}},
		{"ANI longitude -1<<23-1", &AccessNetworkIdentifier{SubOptions: []ANISubOption{NewANIGeoLocation(0, -1<<23-1)}}},
		{"ANI Net-Name of 256 octets", &AccessNetworkIdentifier{SubOptions: []ANISubOption{NewANINetworkID(string(long), "")}}},
		{"ANI option body over 255", &AccessNetworkIdentifier{SubOptions: []ANISubOption{
			{Type: 9, Data: long[:200]}, {Type: 9, Data: long[:60]}}}},
		{"Context Request Req-option of 256 octets", &ContextRequest{Requests: []ContextRequestEntry{{Type: 19, Option: long}}}},
		{"DLIF Link-Layer Address of 254 octets", &DLIFLinkLayerAddress{Address: long[:254]}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := make([]byte, c.opt.MarshalLen())
			err := c.opt.MarshalTo(b)
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("MarshalTo error %v, want ErrInvalidValue", err)
			}
		})
	}
}

// TestAlignmentOptB pins each option's alignment to the RFC (or to this
// package's documented choice where the RFC names none).
func TestAlignmentOptB(t *testing.T) {
	cases := []struct {
		opt  Option
		want string
		src  string
	}{
		{&ContextRequest{}, "none", "RFC 5949 §6.2.1 states none; package choice"},
		{&LMAAddress{Address: ip6("2001:db8::1")}, "8n+4", "RFC 5949 §6.2.2 states none; package choice"},
		{&LMAAddress{Address: ip6("192.0.2.1")}, "4n+0", "RFC 5949 §6.2.2 states none; package choice"},
		{&MNLinkLocalAddressIID{}, "8n+4", "RFC 5949 §6.2.3 states none; package choice"},
		{&RedirectCapability{}, "4n+0", "RFC 6463 §4.1"},
		{&RedirectOption{}, "4n+0", "RFC 6463 §4.2"},
		{&LoadInformation{}, "4n+0", "RFC 6463 §4.3"},
		{&AlternateIPv4CoA{}, "4n+2", "RFC 6463 §4.4"},
		{&MAGIPv6Address{}, "8n+4", "RFC 6705 §11.1"},
		{&AccessNetworkIdentifier{}, "4n+0", "RFC 6757 §3"},
		{&DelegatedMNP{}, "8n+4", "package choice (RFC 7148 text not available)"},
		{&LMAUserPlaneAddress{}, "8n+2", "RFC 7389 §4"},
		{&AnchoredPrefix{}, "8n+4", "RFC 8885 §4.3"},
		{&LocalPrefix{}, "8n+4", "RFC 8885 §4.4"},
		{&PreviousMAAR{}, "8n+4", "RFC 8885 §4.5"},
		{&ServingMAAR{}, "8n+6", "RFC 8885 §4.6"},
		{&DLIFLinkLocalAddress{}, "8n+6", "RFC 8885 §4.7"},
		{&DLIFLinkLayerAddress{Address: make([]byte, 6)}, "4n+0", "RFC 8885 §4.8: by address size"},
		{&DLIFLinkLayerAddress{Address: make([]byte, 8)}, "8n+4", "RFC 8885 §4.8: by address size"},
		{&DLIFLinkLayerAddress{Address: make([]byte, 2)}, "2n+0", "RFC 8885 §4.8: by address size"},
		{&DLIFLinkLayerAddress{Address: make([]byte, 1)}, "none", "RFC 8885 §4.8: by address size"},
	}
	for _, c := range cases {
		if got := c.opt.Alignment().String(); got != c.want {
			t.Errorf("%T (%s): alignment %s, want %s", c.opt, c.src, got, c.want)
		}
	}
}

// TestAlignedInMessageOptB encodes every option of this file in one PBA,
// in an order that needs padding, and checks on the wire that each option
// starts where its alignment says, that the message decodes back to the
// same options, and that it re-encodes byte for byte.
func TestAlignedInMessageOptB(t *testing.T) {
	opts := Options{
		&ContextRequest{Requests: []ContextRequestEntry{{Type: OptHomeNetworkPrefix}}},
		&LMAAddress{Address: ip6("2001:db8::1")},
		&MNLinkLocalAddressIID{IID: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		&RedirectCapability{},
		&AlternateIPv4CoA{Address: ip6("198.51.100.7")},
		&RedirectOption{Address: ip6("2001:db8::2")},
		&LMAAddress{Address: ip6("192.0.2.1")},
		&LoadInformation{Priority: 1},
		&MAGIPv6Address{Address: ip6("2001:db8::51")},
		&AccessNetworkIdentifier{SubOptions: []ANISubOption{NewANINetworkID("n", "")}},
		NewDelegatedMNP(pfx("2001:db8:100::/56")),
		&LMAUserPlaneAddress{Address: ip6("192.0.2.9")},
		NewAnchoredPrefix(pfx("2001:db8:a::/48")),
		&ServingMAAR{Address: ip6("2001:db8::2:1")},
		NewLocalPrefix(pfx("2001:db8:10::/64")),
		&DLIFLinkLocalAddress{Address: ip6("fe80::1")},
		NewPreviousMAAR(ip6("2001:db8::1:1"), pfx("2001:db8:a::/48")),
		&DLIFLinkLayerAddress{Address: []byte{2, 0, 0, 0, 0x0a, 1}},
		&DLIFLinkLayerAddress{Address: []byte{2, 0, 0, 0xff, 0xfe, 0, 0x0a, 1}},
	}
	m := &BindingAck{Flags: BAFlagP | BAFlagD, Sequence: 3, Lifetime: 10, Base: Base{Options: opts}}
	wire, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(wire)%8 != 0 {
		t.Fatalf("message length %d is not a multiple of 8", len(wire))
	}
	// Walk the options on the wire.
	var seen []OptionType
	for off := 12; off < len(wire); {
		typ := OptionType(wire[off])
		if typ == OptPad1 {
			off++
			continue
		}
		if typ != OptPadN {
			want := opts[len(seen)]
			if typ != want.OptionType() {
				t.Fatalf("option %d on the wire is %s, want %s", len(seen), typ, want.OptionType())
			}
			if a := want.Alignment(); a.Pad(off) != 0 {
				t.Errorf("%s at offset %d breaks its alignment %s", typ, off, a)
			}
			seen = append(seen, typ)
		}
		off += 2 + int(wire[off+1])
	}
	if len(seen) != len(opts) {
		t.Fatalf("found %d options on the wire, want %d", len(seen), len(opts))
	}
	got, err := Parse(wire)
	if err != nil {
		t.Fatal(err)
	}
	gotOpts := comparable(got).MHBase().Options
	if len(gotOpts) != len(opts) {
		t.Fatalf("decoded %d options, want %d", len(gotOpts), len(opts))
	}
	for i, o := range gotOpts {
		if want := normOpt(opts[i]); !reflect.DeepEqual(o, want) {
			t.Errorf("option %d decoded as\n %#v\nwant %#v", i, o, want)
		}
	}
	again, err := got.Marshal()
	if err != nil || !bytes.Equal(again, wire) {
		t.Errorf("re-encoding: %v\n got % x\nwant % x", err, again, wire)
	}
}

// TestGoldenPBAWithDMMOptions: a CMD -> S-MAAR PBA (RFC 8885 §3.2 step 3)
// with the padding the 8n+4 / 8n+6 / 4n alignments require.
func TestGoldenPBAWithDMMOptions(t *testing.T) {
	wire := hexBytes(t, `
		3b 0a 06 00 0000 // Payload Proto 59, Header Len 10 (88 octets), MH Type 6 (BA), Reserved, Checksum
		00               // Status 0 (accepted)
		22               // Flags P|D
		0009             // Sequence # 9
		0032             // Lifetime 50 x 4 s
		43 22 00 30                      // @12 Previous MAAR (8n+4): len 34, Reserved, Prefix Length 48
		20010db8000000000000000000010001 //     P-MAAR 2001:db8::1:1
		20010db8000a00000000000000000000 //     HNP 2001:db8:a::
		01 04 00000000                   // @48 PadN 6: DLIF LLA needs 8n+6
		45 10 fe80000000000000020000fffe000a01 // @54 DLIF Link-Local Address fe80::200:ff:fe00:a01
		46 08 0000 020000000a01          // @72 DLIF Link-Layer Address (4n for 6 octets): Reserved, MAC
		01 04 00000000                   // @82 PadN 6: to 88 octets
	`)
	m := &BindingAck{Status: StatusAccepted, Flags: BAFlagP | BAFlagD, Sequence: 9, Lifetime: 50, Base: Base{Options: Options{
		NewPreviousMAAR(ip6("2001:db8::1:1"), pfx("2001:db8:a::/48")),
		&DLIFLinkLocalAddress{Address: ip6("fe80::200:ff:fe00:a01")},
		&DLIFLinkLayerAddress{Address: []byte{2, 0, 0, 0, 0x0a, 1}},
	}}}
	checkMessageGolden(t, m, wire)
}

// TestGoldenPBUWithRedirectCapability: a PBU carrying an IPv4 LMA
// User-Plane Address request (8n+2) and Redirect-Capability (4n).
func TestGoldenPBUWithRedirectCapability(t *testing.T) {
	wire := hexBytes(t, `
		3b 04 05 00 0000 // Payload Proto 59, Header Len 4 (40 octets), MH Type 5 (BU), Reserved, Checksum
		0001             // Sequence # 1
		8200             // Flags A|P
		0064             // Lifetime 100 x 4 s
		08 05 01 61406233 // @12 MN-ID NAI "a@b3"
		00               // @19 Pad1: Redirect-Capability needs 4n
		2e 02 0000       // @20 Redirect-Capability
		01 00            // @24 PadN 2: LMA UP Address needs 8n+2
		3b 06 0000 00000000 // @26 LMA User-Plane Address: Reserved, 0.0.0.0 (IPv4 wanted)
		31 04 c6336407   // @34 Alternate IPv4 CoA (4n+2, no padding) 198.51.100.7; ends at 40
	`)
	m := &BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagP, Lifetime: 100, Base: Base{Options: Options{
		NewNAI("a@b3"),
		&RedirectCapability{},
		&LMAUserPlaneAddress{Address: netip.IPv4Unspecified()},
		&AlternateIPv4CoA{Address: ip6("198.51.100.7")},
	}}}
	checkMessageGolden(t, m, wire)
}

// TestOptBAccessors checks the helpers beside the codec.
func TestOptBAccessors(t *testing.T) {
	cr := NewContextRequest(OptHomeNetworkPrefix, OptMNLinkLayerID)
	if !cr.Requested(OptMNLinkLayerID) || cr.Requested(OptLinkLocalAddress) {
		t.Errorf("Requested: %+v", cr.Requests)
	}
	if c := (&LMAAddress{Address: ip6("192.0.2.1")}).Code(); c != LMAAddressIPv4 {
		t.Errorf("IPv4 LMAA code %d", c)
	}
	if c := (&LMAAddress{Address: ip6("2001:db8::1")}).Code(); c != LMAAddressIPv6 {
		t.Errorf("IPv6 LMAA code %d", c)
	}
	iid := NewMNLinkLocalAddressIID(ip6("fe80::200:5eff:fe00:5301"))
	if got := iid.LinkLocal(); got != ip6("fe80::200:5eff:fe00:5301") {
		t.Errorf("LinkLocal() = %s", got)
	}
	r := &RedirectOption{Address: ip6("192.0.2.2")}
	if !r.N() || r.K() {
		t.Errorf("IPv4 redirect: K=%v N=%v", r.K(), r.N())
	}
	d := NewDelegatedMNP(pfx("203.0.113.0/24"))
	if !d.V() || d.AsPrefix() != pfx("203.0.113.0/24") {
		t.Errorf("DMNP: V=%v prefix %s", d.V(), d.AsPrefix())
	}
	pm := NewPreviousMAAR(ip6("2001:db8::1:1"), pfx("2001:db8:a::/48"))
	if pm.AsPrefix() != pfx("2001:db8:a::/48") || pm.Address != ip6("2001:db8::1:1") {
		t.Errorf("Previous MAAR: %+v", pm)
	}
	if NewAnchoredPrefix(pfx("2001:db8:a::/48")).AsPrefix() != pfx("2001:db8:a::/48") ||
		NewLocalPrefix(pfx("2001:db8:10::/64")).AsPrefix() != pfx("2001:db8:10::/64") {
		t.Errorf("AsPrefix round trip")
	}
	ani := &AccessNetworkIdentifier{SubOptions: []ANISubOption{NewANIGeoLocation(-5, 6), NewANINetworkID("n", "a")}}
	if s, ok := ani.Find(ANITypeNetworkID); !ok || string(s.NetworkID.APName) != "a" {
		t.Errorf("Find(Network-Identifier) = %+v, %v", s, ok)
	}
	if _, ok := ani.Find(ANITypeOperatorID); ok {
		t.Errorf("Find(Operator-Identifier) found one")
	}
	if ANITypeGeoLocation.String() != "Geo-Location" || !strings.Contains(ANISubType(99).String(), "99") {
		t.Errorf("ANISubType names: %q %q", ANITypeGeoLocation, ANISubType(99))
	}
	// IPv4-mapped IPv6 addresses encode in their IPv4 form where the field is IPv4.
	b, err := (&AlternateIPv4CoA{Address: ip6("::ffff:198.51.100.7")}).Marshal()
	if err != nil || !bytes.Equal(b, []byte{49, 4, 198, 51, 100, 7}) {
		t.Errorf("mapped Alternate IPv4 CoA: %v % x", err, b)
	}
}

// TestOptBSubOptionReuse decodes lists of sub-entries into a value that
// held different ones, checking that nothing of the old content leaks.
func TestOptBSubOptionReuse(t *testing.T) {
	first := hexBytes(t, `34 13 01 0c 00 05 7373696431 04 61702d37 03 03 02 6162`)
	second := hexBytes(t, `34 0c 03 02 01 09 02 06 000001 ffffff`)
	o := &AccessNetworkIdentifier{}
	if err := o.UnmarshalBinary(first); err != nil {
		t.Fatal(err)
	}
	if err := o.UnmarshalBinary(second); err != nil {
		t.Fatal(err)
	}
	if len(o.SubOptions) != 2 {
		t.Fatalf("%d sub-options, want 2", len(o.SubOptions))
	}
	s0, s1 := o.SubOptions[0], o.SubOptions[1]
	if s0.Type != ANITypeOperatorID || s0.Operator.Type != ANIOpIDPEN || !bytes.Equal(s0.Operator.ID, []byte{9}) ||
		len(s0.NetworkID.NetName) != 0 || len(s0.NetworkID.APName) != 0 {
		t.Errorf("sub-option 0 after reuse: %+v", s0)
	}
	if s1.Type != ANITypeGeoLocation || s1.Geo != (ANIGeoLocation{1, -1}) || len(s1.Operator.ID) != 0 || s1.Operator.Type != 0 {
		t.Errorf("sub-option 1 after reuse: %+v", s1)
	}
	if b, err := o.Marshal(); err != nil || !bytes.Equal(b, second) {
		t.Errorf("re-encoding after reuse: %v % x", err, b)
	}

	cr := &ContextRequest{}
	if err := cr.UnmarshalBinary(hexBytes(t, `28 0b 0000 13 05 000028af01 16 00`)); err != nil {
		t.Fatal(err)
	}
	short := hexBytes(t, `28 04 0000 1a 00`)
	if err := cr.UnmarshalBinary(short); err != nil {
		t.Fatal(err)
	}
	if len(cr.Requests) != 1 || cr.Requests[0].Type != OptLinkLocalAddress || len(cr.Requests[0].Option) != 0 {
		t.Errorf("Context Request after reuse: %+v", cr.Requests)
	}
	if b, err := cr.Marshal(); err != nil || !bytes.Equal(b, short) {
		t.Errorf("re-encoding after reuse: %v % x", err, b)
	}
}

// TestOptBDecodeNoAlloc: decoding into a warmed-up value allocates
// nothing, for every option of this file, alone and inside a message.
func TestOptBDecodeNoAlloc(t *testing.T) {
	wires := []string{
		`28 0d 0000 16 00 19 00 13 05 000028af 01`,
		`29 12 01 00 20010db8000000000000000000000001`,
		`29 06 02 00 c0000201`,
		`2a 0a 0000 02005efffe005301`,
		`2e 02 0000`,
		`2f 12 8000 20010db8000000000000000000000002`,
		`30 12 000a 000003e8 0000c350 00003039 000f4240`,
		`31 04 c6336407`,
		`33 12 00 80 20010db8000000000000000000000051`,
		`34 29 01 0c 00 05 7373696431 04 61702d37 02 06 123456 fffffe 03 0c 02 6578616d706c652e6e6574 04 03 616263`,
		`37 12 00 38 20010db8010000000000000000000000`,
		`3b 12 0000 20010db8000000000000000000000059`,
		`41 12 00 30 20010db8000a00000000000000000000`,
		`42 12 00 40 20010db8001000000000000000000000`,
		`43 22 00 30 20010db8000000000000000000010001 20010db8000a00000000000000000000`,
		`44 10 20010db8000000000000000000020001`,
		`45 10 fe800000000000000000000000000001`,
		`46 08 0000 020000000a01`,
	}
	for _, w := range wires {
		wire := hexBytes(t, w)
		o := NewOption(OptionType(wire[0]))
		if _, raw := o.(*RawOption); raw {
			t.Fatalf("option %d has no typed form", wire[0])
		}
		if err := o.UnmarshalBinary(wire); err != nil {
			t.Fatalf("%s: %v", OptionType(wire[0]), err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = o.UnmarshalBinary(wire) }); n != 0 {
			t.Errorf("%s: %.1f allocations per decode, want 0", OptionType(wire[0]), n)
		}
	}

	// Inside a message, through the reused option list.
	m := &BindingAck{Flags: BAFlagP | BAFlagD, Base: Base{Options: Options{
		&ContextRequest{Requests: []ContextRequestEntry{{Type: 19, Option: []byte{1, 2, 3}}, {Type: 22}}},
		&AccessNetworkIdentifier{SubOptions: []ANISubOption{NewANINetworkID("net", "ap"), NewANIGeoLocation(1, 2)}},
		NewPreviousMAAR(ip6("2001:db8::1:1"), pfx("2001:db8:a::/48")),
		&DLIFLinkLayerAddress{Address: []byte{2, 0, 0, 0, 0x0a, 1}},
		&LMAUserPlaneAddress{Address: ip6("2001:db8::59")},
	}}}
	wire, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got BindingAck
	if err := got.UnmarshalBinary(wire); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = got.UnmarshalBinary(wire) }); n != 0 {
		t.Errorf("%.1f allocations per message decode, want 0", n)
	}
	if again, err := got.Marshal(); err != nil || !bytes.Equal(again, wire) {
		t.Errorf("re-encoding: %v", err)
	}
}

// TestOptBMarshalToNoAlloc: encoding into a caller's buffer allocates
// nothing.
func TestOptBMarshalToNoAlloc(t *testing.T) {
	opts := []Option{
		&ContextRequest{Requests: []ContextRequestEntry{{Type: 19, Option: []byte{1, 2, 3}}}},
		&LMAAddress{Address: ip6("192.0.2.1")},
		&RedirectOption{Address: ip6("2001:db8::2")},
		&AccessNetworkIdentifier{SubOptions: []ANISubOption{NewANINetworkID("net", "ap"), NewANIGeoLocation(1, 2)}},
		NewDelegatedMNP(pfx("203.0.113.0/24")),
		NewPreviousMAAR(ip6("2001:db8::1:1"), pfx("2001:db8:a::/48")),
	}
	buf := make([]byte, 64)
	for _, o := range opts {
		b := buf[:o.MarshalLen()]
		if n := testing.AllocsPerRun(100, func() { _ = o.MarshalTo(b) }); n != 0 {
			t.Errorf("%s: %.1f allocations per MarshalTo, want 0", o.OptionType(), n)
		}
	}
}

// TestOptBTypedRegistry: every option of this file decodes to its typed
// form, and the two without a confirmed layout stay raw.
func TestOptBTypedRegistry(t *testing.T) {
	typed := map[OptionType]Option{
		OptContextRequest: &ContextRequest{}, OptLMAAddress: &LMAAddress{}, OptMNLinkLocalAddressIID: &MNLinkLocalAddressIID{},
		OptRedirectCapability: &RedirectCapability{}, OptRedirect: &RedirectOption{}, OptLoadInformation: &LoadInformation{},
		OptAlternateIPv4CoA: &AlternateIPv4CoA{}, OptMAGIPv6Address: &MAGIPv6Address{},
		OptAccessNetworkIdentifier: &AccessNetworkIdentifier{}, OptDelegatedMNP: &DelegatedMNP{},
		OptLMAUserPlaneAddress: &LMAUserPlaneAddress{}, OptAnchoredPrefix: &AnchoredPrefix{}, OptLocalPrefix: &LocalPrefix{},
		OptPreviousMAAR: &PreviousMAAR{}, OptServingMAAR: &ServingMAAR{}, OptDLIFLinkLocalAddress: &DLIFLinkLocalAddress{},
		OptDLIFLinkLayerAddress: &DLIFLinkLayerAddress{},
	}
	for typ, want := range typed {
		if got := NewOption(typ); reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("NewOption(%d) = %T, want %T", typ, got, want)
		}
		if want.OptionType() != typ {
			t.Errorf("%T.OptionType() = %d, want %d", want, want.OptionType(), typ)
		}
	}
	for _, typ := range []OptionType{OptTransientBinding, OptMNGroupIdentifier} {
		if _, raw := NewOption(typ).(*RawOption); !raw {
			t.Errorf("NewOption(%d) is typed; its layout is not confirmed", typ)
		}
	}
}

// FuzzOptionsB: decoding never panics, and every option of this file that
// decodes re-encodes to exactly the octets it came from.
func FuzzOptionsB(f *testing.F) {
	for _, w := range []string{
		`28 0d 0000 16 00 19 00 13 05 000028af 01`,
		`29 06 02 00 c0000201`,
		`2a 0a 0000 02005efffe005301`,
		`2f 12 8000 20010db8000000000000000000000002`,
		`30 12 000a 000003e8 0000c350 00003039 000f4240`,
		`33 12 00 80 20010db8000000000000000000000051`,
		`34 29 01 0c 00 05 7373696431 04 61702d37 02 06 123456 fffffe 03 0c 02 6578616d706c652e6e6574 04 03 616263`,
		`37 06 80 18 cb007100`,
		`3b 02 0000`,
		`43 22 00 30 20010db8000000000000000000010001 20010db8000a00000000000000000000`,
		`46 08 0000 020000000a01`,
	} {
		f.Add(hexBytes(f, w))
	}
	mine := map[OptionType]bool{}
	for t := OptContextRequest; t <= OptDLIFLinkLayerAddress; t++ {
		mine[t] = true
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOption(b)
		if err != nil || len(b) == 0 || !mine[OptionType(b[0])] {
			return
		}
		if _, raw := o.(*RawOption); raw {
			return
		}
		if n := o.MarshalLen(); n != len(b) {
			t.Fatalf("%s: MarshalLen %d, decoded from %d octets", o.OptionType(), n, len(b))
		}
		got := make([]byte, len(b))
		if err := o.MarshalTo(got); err != nil {
			t.Fatalf("%s: re-encoding: %v", o.OptionType(), err)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("%s: re-encoding\n got % x\nwant % x", o.OptionType(), got, b)
		}
	})
}
