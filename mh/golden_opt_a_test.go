package mh

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// Golden vectors for the options of opt_mipv6.go, opt_ipv4.go and
// opt_misc.go (RFC 6275, 3963, 5568, 5648, 5555, 5844, 5096, 5094, 5149,
// 5847, 5845).

type optGolden struct {
	name string
	opt  Option
	wire string
}

var goldenOptsA = []optGolden{
	// ---- RFC 6275 §6.2.4-§6.2.7 ----
	{"BRA", &BindingRefreshAdvice{RefreshInterval: 150}, `
		02 02 // type 2 (Binding Refresh Advice), len 2
		0096  // refresh interval 150 x 4 s = 600 s`},
	{"AltCoA", &AlternateCoA{Address: netip.MustParseAddr("2001:db8::1")}, `
		03 10                            // type 3 (Alternate CoA), len 16
		20010db8000000000000000000000001 // 2001:db8::1`},
	{"NonceIndices", &NonceIndices{HomeNonceIndex: 0x1234, CareOfNonceIndex: 0xabcd}, `
		04 04 // type 4 (Nonce Indices), len 4
		1234  // home nonce index
		abcd  // care-of nonce index`},
	{"BAD", &BindingAuthData{Authenticator: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}}, `
		05 0c                    // type 5 (Binding Authorization Data), len 12
		00112233445566778899aabb // authenticator (96 bits)`},
	{"BAD empty", &BindingAuthData{}, `05 00 // type 5, len 0: no authenticator`},
	// ---- RFC 3963 §6.2 ----
	{"MNP", NewMNP(netip.MustParsePrefix("2001:db8:ffee::/56")), `
		06 12                            // type 6 (Mobile Network Prefix), len 18
		00                               // reserved
		38                               // prefix length 56
		20010db8ffee00000000000000000000 // 2001:db8:ffee::`},
	// ---- RFC 5568 §6.4.2, §6.4.4 ----
	{"MH-LLA", &MHLinkLayerAddress{OptionCode: LLACodeMN, LLA: []byte{2, 0, 0x5e, 0x10, 0, 1}}, `
		07 07        // type 7 (Link-Layer Address), len 7
		02           // option code 2 (LLA of the MN)
		02005e100001 // LLA 02:00:5e:10:00:01`},
	{"MH-LLA wildcard", &MHLinkLayerAddress{OptionCode: LLACodeWildcard}, `
		07 01 // type 7, len 1
		00    // option code 0 (wildcard), no LLA`},
	{"MH IPv6 Addr/Prefix", &MHIPv6AddressPrefix{OptionCode: APCodeNewCoA, PrefixLength: 128, Address: netip.MustParseAddr("2001:db8:2::64")}, `
		22 12                            // type 34 (MH IPv6 Address/Prefix), len 18
		02                               // option code 2 (New CoA)
		80                               // prefix length 128
		20010db8000200000000000000000064 // 2001:db8:2::64`},
	// ---- RFC 5648 §6.1 ----
	{"BID", &BindingIdentifier{BID: 1, H: true, Priority: 5}, `
		23 04 // type 35 (Binding Identifier), len 4: no CoA
		0001  // BID 1
		00    // status 0
		85    // H=1 (0x80), BID-PRI 5`},
	{"BID IPv4 CoA", &BindingIdentifier{BID: 2, Priority: 10, CareOf: netip.MustParseAddr("192.0.2.1")}, `
		23 08    // type 35, len 8: IPv4 CoA
		0002     // BID 2
		00       // status 0
		0a       // H=0, BID-PRI 10
		c0000201 // 192.0.2.1`},
	{"BID IPv6 CoA", &BindingIdentifier{BID: 3, Status: StatusReasonUnspecified, H: true, Priority: 127, CareOf: netip.MustParseAddr("2001:db8::3")}, `
		23 14                            // type 35, len 20: IPv6 CoA
		0003                             // BID 3
		80                               // status 128 (reason unspecified)
		ff                               // H=1, BID-PRI 127
		20010db8000000000000000000000003 // 2001:db8::3`},
	// ---- RFC 5555 §3.1.1, §3.1.2, §3.2.1, §3.2.2 ----
	{"IPv4 HoA", &IPv4HomeAddress{PrefixLength: 24, P: true, Address: netip.MustParseAddr("192.0.2.2")}, `
		1d 06    // type 29 (IPv4 Home Address), len 6
		62       // prefix-len 24 (0x60 = 24<<2) | P (0x02) | reserved bit 0
		00       // reserved (low 8 bits)
		c0000202 // 192.0.2.2`},
	{"IPv4 HoA reserved kept", &IPv4HomeAddress{PrefixLength: 32, Reserved: 0x1ff, Address: netip.MustParseAddr("10.0.0.1")}, `
		1d 06    // type 29, len 6
		81       // prefix-len 32 (0x80), P=0, reserved bit 8 set
		ff       // reserved low 8 bits
		0a000001 // 10.0.0.1`},
	{"IPv4 Addr Ack", &IPv4AddressAck{Status: IPv4StatusSuccess, PrefixLength: 24, Address: netip.MustParseAddr("192.0.2.2")}, `
		1e 06    // type 30 (IPv4 Address Acknowledgement), len 6
		00       // status 0 (success)
		60       // pref-len 24 (24<<2), res 0
		c0000202 // 192.0.2.2`},
	{"IPv4 Addr Ack failure", &IPv4AddressAck{Status: IPv4StatusPrefixNotAuthorized, Reserved: 3, Address: netip.IPv4Unspecified()}, `
		1e 06    // type 30, len 6
		85       // status 133 (prefix allocation unauthorized)
		03       // pref-len 0, res 3 (kept as received)
		00000000 // 0.0.0.0`},
	{"NAT Detection", &NATDetection{F: true, RefreshTime: 110}, `
		1f 06    // type 31 (NAT Detection), len 6
		8000     // F=1, reserved 0
		0000006e // refresh time 110 s`},
	{"NAT Detection no NAT", &NATDetection{Reserved: 0x7fff, RefreshTime: 0}, `
		1f 06    // type 31, len 6
		7fff     // F=0, reserved 0x7fff (kept)
		00000000 // refresh time 0`},
	{"IPv4 CoA", &IPv4CareOfAddress{Address: netip.MustParseAddr("198.51.100.1")}, `
		20 06    // type 32 (IPv4 Care-of Address), len 6
		0000     // reserved
		c6336401 // 198.51.100.1`},
	// ---- RFC 5844 §3.3.1-§3.3.4 ----
	{"IPv4 HoA Request allocate", NewIPv4HomeAddressRequest(netip.PrefixFrom(netip.IPv4Unspecified(), 0)), `
		24 06    // type 36 (IPv4 HoA Request), len 6
		00 00    // prefix-len 0 (6 bits), reserved (10 bits)
		00000000 // 0.0.0.0: the LMA allocates`},
	{"IPv4 HoA Request", &IPv4HomeAddressRequest{PrefixLength: 32, Reserved: 0x3ff, Address: netip.MustParseAddr("10.0.0.5")}, `
		24 06    // type 36, len 6
		83       // prefix-len 32 (0x80 = 32<<2) | reserved bits 9-8 (0x03)
		ff       // reserved bits 7-0
		0a000005 // 10.0.0.5`},
	{"IPv4 HoA Reply", &IPv4HomeAddressReply{Status: IPv4StatusSuccess, PrefixLength: 24, Address: netip.MustParseAddr("10.1.2.3")}, `
		25 06    // type 37 (IPv4 HoA Reply), len 6
		00       // status 0 (success)
		60       // pref-len 24 (24<<2), res 0
		0a010203 // 10.1.2.3`},
	{"IPv4 HoA Reply failure", &IPv4HomeAddressReply{Status: IPv4StatusDynamicNotAvailable, Reserved: 1, Address: netip.IPv4Unspecified()}, `
		25 06    // type 37, len 6
		84       // status 132 (dynamic IPv4 home address assignment not available)
		01       // pref-len 0, res 1 (kept)
		00000000 // 0.0.0.0`},
	{"IPv4 Default-Router", &IPv4DefaultRouterAddress{Address: netip.MustParseAddr("10.1.2.1")}, `
		26 06    // type 38 (IPv4 Default-Router Address), len 6
		0000     // reserved
		0a010201 // 10.1.2.1`},
	{"IPv4 DHCP server", &IPv4DHCPSupportMode{S: true}, `
		27 02 // type 39 (IPv4 DHCP Support Mode), len 2
		0001  // reserved 0 (15 bits), S=1 (last bit): DHCP server`},
	{"IPv4 DHCP relay", &IPv4DHCPSupportMode{}, `27 02 0000 // S=0: DHCP relay`},
	{"IPv4 DHCP reserved kept", &IPv4DHCPSupportMode{Reserved: 0x7fff}, `
		27 02 // type 39, len 2
		fffe  // reserved 0x7fff in the top 15 bits, S=0`},
	// ---- RFC 5096, 5094, 5149, 5847, 5845 ----
	{"Experimental", &ExperimentalOption{Data: []byte{1, 2, 3}}, `
		12 03  // type 18 (Experimental), len 3
		010203 // data`},
	{"Experimental empty", &ExperimentalOption{}, `12 00 // type 18, len 0`},
	{"Vendor-Specific 3GPP", &VendorSpecific{VendorID: VendorID3GPP, SubType: 5, Data: []byte{0xab, 0xcd}}, `
		13 07    // type 19 (Vendor Specific), len 7
		000028af // vendor ID 10415 (3GPP)
		05       // sub-type 5
		abcd     // data`},
	{"Vendor-Specific no data", &VendorSpecific{VendorID: 9, SubType: 1}, `
		13 05    // type 19, len 5
		00000009 // vendor ID 9
		01       // sub-type 1, no data`},
	{"Service Selection", NewServiceSelection("ims"), `
		14 03  // type 20 (Service Selection), len 3
		696d73 // "ims"`},
	{"Service Selection UTF-8", NewServiceSelection("café"), `
		14 05      // type 20, len 5
		636166c3a9 // "café" (é = c3 a9)`},
	{"Restart Counter", &RestartCounter{Counter: 7}, `
		1c 04    // type 28 (Restart Counter), len 4
		00000007 // counter 7`},
	{"GRE Key", NewGREKey(0x1234), `
		21 06    // type 33 (GRE Key), len 6
		0000     // reserved
		00001234 // GRE key identifier 0x1234`},
	{"GRE Key no key", &GREKey{}, `
		21 02 // type 33, len 2: GRE encapsulation, no key
		0000  // reserved`},
}

func TestGoldenOptionsA(t *testing.T) {
	for _, c := range goldenOptsA {
		t.Run(c.name, func(t *testing.T) { checkOptionGolden(t, c.opt, hexBytes(t, c.wire)) })
	}
}

// TestGoldenTypedParsersA checks each ParseX function against the golden
// octets and that it rejects the octets of another option type.
func TestGoldenTypedParsersA(t *testing.T) {
	parsers := map[OptionType]func([]byte) (Option, error){
		OptBindingRefreshAdvice:     func(b []byte) (Option, error) { return ParseBindingRefreshAdvice(b) },
		OptAlternateCoA:             func(b []byte) (Option, error) { return ParseAlternateCoA(b) },
		OptNonceIndices:             func(b []byte) (Option, error) { return ParseNonceIndices(b) },
		OptAuthorizationData:        func(b []byte) (Option, error) { return ParseBindingAuthData(b) },
		OptMobileNetworkPrefix:      func(b []byte) (Option, error) { return ParseMobileNetworkPrefix(b) },
		OptLinkLayerAddress:         func(b []byte) (Option, error) { return ParseMHLinkLayerAddress(b) },
		OptMHIPv6AddressPrefix:      func(b []byte) (Option, error) { return ParseMHIPv6AddressPrefix(b) },
		OptBindingIdentifier:        func(b []byte) (Option, error) { return ParseBindingIdentifier(b) },
		OptIPv4HomeAddress:          func(b []byte) (Option, error) { return ParseIPv4HomeAddress(b) },
		OptIPv4AddressAck:           func(b []byte) (Option, error) { return ParseIPv4AddressAck(b) },
		OptNATDetection:             func(b []byte) (Option, error) { return ParseNATDetection(b) },
		OptIPv4CareOfAddress:        func(b []byte) (Option, error) { return ParseIPv4CareOfAddress(b) },
		OptIPv4HomeAddressRequest:   func(b []byte) (Option, error) { return ParseIPv4HomeAddressRequest(b) },
		OptIPv4HomeAddressReply:     func(b []byte) (Option, error) { return ParseIPv4HomeAddressReply(b) },
		OptIPv4DefaultRouterAddress: func(b []byte) (Option, error) { return ParseIPv4DefaultRouterAddress(b) },
		OptIPv4DHCPSupportMode:      func(b []byte) (Option, error) { return ParseIPv4DHCPSupportMode(b) },
		OptExperimental:             func(b []byte) (Option, error) { return ParseExperimentalOption(b) },
		OptVendorSpecific:           func(b []byte) (Option, error) { return ParseVendorSpecific(b) },
		OptServiceSelection:         func(b []byte) (Option, error) { return ParseServiceSelection(b) },
		OptRestartCounter:           func(b []byte) (Option, error) { return ParseRestartCounter(b) },
		OptGREKey:                   func(b []byte) (Option, error) { return ParseGREKey(b) },
	}
	seen := map[OptionType]bool{}
	for _, c := range goldenOptsA {
		typ := c.opt.OptionType()
		parse := parsers[typ]
		if parse == nil {
			t.Fatalf("%s: no ParseX for type %d", c.name, typ)
		}
		seen[typ] = true
		wire := hexBytes(t, c.wire)
		got, err := parse(wire)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(normOpt(got), normOpt(c.opt)) {
			t.Errorf("%s:\n got %#v\nwant %#v", c.name, got, c.opt)
		}
		other := append([]byte(nil), wire...)
		other[0] = byte(OptTimestamp) // same length, another type
		if _, err := parse(other); !errors.Is(err, ErrWrongType) {
			t.Errorf("%s: parsing type %d octets: err %v, want ErrWrongType", c.name, other[0], err)
		}
	}
	for typ := range parsers {
		if !seen[typ] {
			t.Errorf("type %d (%s) has no golden vector", typ, typ)
		}
	}
}

func TestMalformedOptionsA(t *testing.T) {
	cases := []struct {
		name string
		wire string
		want error
	}{
		{"BRA len 1", `02 01 00`, ErrInvalidLength},
		{"BRA len 3", `02 03 000000`, ErrInvalidLength},
		{"AltCoA len 4", `03 04 20010db8`, ErrInvalidLength},
		{"AltCoA len 17", `03 11 20010db8000000000000000000000001 00`, ErrInvalidLength},
		{"Nonce len 2", `04 02 0001`, ErrInvalidLength},
		{"MNP len 16", `06 10 00 40 000000000000000000000000 0000`, ErrInvalidLength},
		{"MNP prefix length 129", `06 12 00 81 20010db8000000000000000000000000`, ErrInvalidValue},
		{"MH-LLA len 0 (no option code)", `07 00`, ErrInvalidLength},
		{"MH IPv6 A/P len 17", `22 11 02 40 20010db80000000000000000000000`, ErrInvalidLength},
		{"MH IPv6 A/P prefix length 200", `22 12 04 c8 20010db8000000000000000000000000`, ErrInvalidValue},
		{"BID len 0", `23 00`, ErrInvalidLength},
		{"BID len 2", `23 02 0001`, ErrInvalidLength},
		{"BID len 6", `23 06 0001 00 00 c000`, ErrInvalidLength},
		{"BID len 12", `23 0c 0001 00 00 20010db80000000000000000`, ErrInvalidLength},
		{"IPv4 HoA len 4", `1d 04 6000 c000`, ErrInvalidLength},
		{"IPv4 HoA prefix-len 33", `1d 06 84 00 c0000201`, ErrInvalidValue},
		{"IPv4 Addr Ack len 5", `1e 05 00 60 c00002`, ErrInvalidLength},
		{"IPv4 Addr Ack pref-len 63", `1e 06 00 fc 00000000`, ErrInvalidValue},
		{"NAT Detection len 4", `1f 04 8000 0000`, ErrInvalidLength},
		{"NAT Detection len 8", `1f 08 8000 0000006e 0000`, ErrInvalidLength},
		{"IPv4 CoA carrying IPv6 (len 18)", `20 12 0000 20010db8000000000000000000000001`, ErrInvalidLength},
		{"IPv4 HoA Request len 2", `24 02 0000`, ErrInvalidLength},
		{"IPv4 HoA Request prefix-len 40", `24 06 a0 00 0a000005`, ErrInvalidValue},
		{"IPv4 HoA Reply len 7", `25 07 00 60 0a010203 00`, ErrInvalidLength},
		{"IPv4 Default-Router len 4", `26 04 0a010201`, ErrInvalidLength},
		{"IPv4 DHCP len 0", `27 00`, ErrInvalidLength},
		{"IPv4 DHCP len 4", `27 04 00000001`, ErrInvalidLength},
		{"Vendor-Specific len 0", `13 00`, ErrInvalidLength},
		{"Vendor-Specific len 4 (no sub-type)", `13 04 000028af`, ErrInvalidLength},
		{"Service Selection len 0", `14 00`, ErrInvalidLength},
		{"Restart Counter len 2", `1c 02 0007`, ErrInvalidLength},
		{"Restart Counter len 8", `1c 08 00000007 00000000`, ErrInvalidLength},
		{"GRE Key len 0", `21 00`, ErrInvalidLength},
		{"GRE Key len 4", `21 04 0000 0000`, ErrInvalidLength},
		{"GRE Key len 10", `21 0a 0000 00001234 00000000`, ErrInvalidLength},
		{"GRE Key Length past the buffer", `21 06 0000 12`, ErrTooShort},
		{"Experimental Length past the buffer", `12 05 0102`, ErrTooShort},
		{"BAD Length past the buffer", `05 0c 0011`, ErrTooShort},
		{"header only", `1c`, ErrTooShort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wire := hexBytes(t, c.wire)
			if _, err := ParseOption(wire); !errors.Is(err, c.want) {
				t.Errorf("ParseOption: err %v, want %v", err, c.want)
			}
			if err := NewOption(OptionType(wire[0])).UnmarshalBinary(wire); !errors.Is(err, c.want) {
				t.Errorf("UnmarshalBinary: err %v, want %v", err, c.want)
			}
		})
	}
}

// TestMalformedOptionInMessageA: a malformed option inside a message is an
// *OptionError at its offset (and is kept raw in legacy mode).
func TestMalformedOptionInMessageA(t *testing.T) {
	wire := hexBytes(t, `
		3b 01 06 00 0000 // Payload Proto 59, Header Len 1 (16 octets), MH Type 6 (BA), Reserved, Checksum
		00 20 0001 0064  // status 0, flags P, sequence 1, lifetime 100
		21 02 0000       // @12 GRE Key, len 2 (well formed)
	`)
	if _, err := Parse(wire); err != nil {
		t.Fatalf("well-formed BA: %v", err)
	}
	wire[13] = 0x01 // @12 GRE Key len 1: then @15 "00" is Pad1
	_, err := Parse(wire)
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Offset != 12 || oe.Type != OptGREKey || !errors.Is(err, ErrInvalidLength) {
		t.Fatalf("GRE Key len 1: err %v, want an OptionError at offset 12 wrapping ErrInvalidLength", err)
	}
}

func TestEncodeErrorsA(t *testing.T) {
	cases := []struct {
		name string
		opt  Option
	}{
		{"IPv4 HoA Request with IPv6 address", &IPv4HomeAddressRequest{Address: netip.MustParseAddr("2001:db8::1")}},
		{"IPv4 CoA with IPv6 address", &IPv4CareOfAddress{Address: netip.MustParseAddr("2001:db8::1")}},
		{"IPv4 Default-Router with IPv6 address", &IPv4DefaultRouterAddress{Address: netip.MustParseAddr("fe80::1")}},
		{"IPv4 HoA prefix-len 33", &IPv4HomeAddress{PrefixLength: 33}},
		{"IPv4 HoA reserved > 9 bits", &IPv4HomeAddress{Reserved: 0x200}},
		{"IPv4 HoA Request prefix-len 64", &IPv4HomeAddressRequest{PrefixLength: 64}},
		{"IPv4 HoA Request reserved > 10 bits", &IPv4HomeAddressRequest{Reserved: 0x400}},
		{"IPv4 HoA Reply prefix-len 40", &IPv4HomeAddressReply{PrefixLength: 40}},
		{"IPv4 HoA Reply reserved > 2 bits", &IPv4HomeAddressReply{Reserved: 4}},
		{"IPv4 Addr Ack reserved > 2 bits", &IPv4AddressAck{Reserved: 4}},
		{"NAT Detection reserved > 15 bits", &NATDetection{Reserved: 0x8000}},
		{"DHCP Support Mode reserved > 15 bits", &IPv4DHCPSupportMode{Reserved: 0x8000}},
		{"BID-PRI 128", &BindingIdentifier{Priority: 128}},
		{"GRE key without HasKey", &GREKey{Key: 5}},
		{"Service Selection empty", &ServiceSelection{}},
		{"MNP prefix length 129", &MobileNetworkPrefix{PrefixLength: 129}},
		{"MH IPv6 A/P prefix length 129", &MHIPv6AddressPrefix{PrefixLength: 129}},
		{"Vendor-Specific body of 256 octets", &VendorSpecific{Data: make([]byte, 251)}},
		{"BAD body of 256 octets", &BindingAuthData{Authenticator: make([]byte, 256)}},
		{"Experimental body of 256 octets", &ExperimentalOption{Data: make([]byte, 256)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.opt.MarshalTo(make([]byte, c.opt.MarshalLen()))
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("MarshalTo: err %v, want ErrInvalidValue", err)
			}
		})
	}
}

// TestIPv4MappedAccepted: an IPv4-mapped IPv6 address is sent as IPv4.
func TestIPv4MappedAccepted(t *testing.T) {
	o := &IPv4CareOfAddress{Address: netip.MustParseAddr("::ffff:192.0.2.9")}
	got, err := o.Marshal()
	want := hexBytes(t, `20 06 0000 c0000209 // IPv4 CoA 192.0.2.9`)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Marshal = % x, %v; want % x", got, err, want)
	}
	p, err := ParseIPv4CareOfAddress(got)
	if err != nil || !p.Address.Is4() || p.Address != netip.MustParseAddr("192.0.2.9") {
		t.Fatalf("decoded %v, %v; want Is4 192.0.2.9", p.Address, err)
	}
}

// TestAlignmentsA pins each option's alignment to its RFC section.
func TestAlignmentsA(t *testing.T) {
	want := map[OptionType]Alignment{
		OptBindingRefreshAdvice:     {2, 0}, // RFC 6275 §6.2.4
		OptAlternateCoA:             {8, 6}, // RFC 6275 §6.2.5
		OptNonceIndices:             {2, 0}, // RFC 6275 §6.2.6
		OptAuthorizationData:        {8, 2}, // RFC 6275 §6.2.7 (implicit)
		OptMobileNetworkPrefix:      {8, 4}, // RFC 3963 §6.2
		OptLinkLayerAddress:         NoAlignment,
		OptMHIPv6AddressPrefix:      {8, 4}, // RFC 5568 §6.4.2
		OptBindingIdentifier:        {2, 0}, // RFC 5648 §6.1
		OptIPv4HomeAddress:          {4, 0}, // RFC 5555 §3.1.1
		OptIPv4AddressAck:           {4, 0}, // RFC 5555 §3.2.1
		OptNATDetection:             {4, 0}, // RFC 5555 §3.2.2
		OptIPv4CareOfAddress:        {4, 0}, // RFC 5555 §3.1.2
		OptIPv4HomeAddressRequest:   {4, 0}, // RFC 5844 §3.3.1
		OptIPv4HomeAddressReply:     {4, 0}, // RFC 5844 §3.3.2
		OptIPv4DefaultRouterAddress: {4, 0}, // RFC 5844 §3.3.3
		OptIPv4DHCPSupportMode:      NoAlignment,
		OptExperimental:             NoAlignment,
		OptVendorSpecific:           {4, 2}, // RFC 5094 §3
		OptServiceSelection:         NoAlignment,
		OptRestartCounter:           {4, 2}, // RFC 5847 §3.4
		OptGREKey:                   {4, 0}, // RFC 5845 §6.1
	}
	for typ, a := range want {
		o := NewOption(typ)
		if _, raw := o.(*RawOption); raw {
			t.Errorf("type %d (%s) is not registered", typ, typ)
			continue
		}
		if o.OptionType() != typ {
			t.Errorf("NewOption(%d).OptionType() = %d", typ, o.OptionType())
		}
		if got := o.Alignment(); got != a {
			t.Errorf("%s: alignment %s, want %s", typ, got, a)
		}
	}
}

func TestGoldenPBUWithOptionsA(t *testing.T) {
	wire := hexBytes(t, `
		3b          // Payload Proto 59 (IPPROTO_NONE)
		09          // Header Len 9: (9+1)*8 = 80 octets
		05          // MH Type 5 (Binding Update)
		00          // Reserved
		0000        // Checksum
		0001        // Sequence # 1
		8200        // Flags A|P
		0064        // Lifetime 100 x 4 s
		01 00                                     // @12 PadN 2: Alternate CoA needs 8n+6
		03 10 20010db8000000000000000000000001    // @14 Alternate CoA 2001:db8::1
		21 06 0000 00001234                       // @32 GRE Key (4n), key 0x1234
		24 06 00 00 00000000                      // @40 IPv4 HoA Request (4n), 0.0.0.0/0
		01 00                                     // @48 PadN 2: Vendor-Specific needs 4n+2
		13 07 000028af 05 abcd                    // @50 Vendor-Specific: 3GPP, sub-type 5, data abcd
		14 03 696d73                              // @59 Service Selection "ims" (no alignment)
		01 00                                     // @64 PadN 2: Binding Authorization Data 8n+2
		05 0c 00112233445566778899aabb            // @66 BAD, last, ends at 80: no trailing padding
	`)
	m := &BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagP, Lifetime: 100, Base: Base{Options: Options{
		&AlternateCoA{Address: netip.MustParseAddr("2001:db8::1")},
		NewGREKey(0x1234),
		NewIPv4HomeAddressRequest(netip.PrefixFrom(netip.IPv4Unspecified(), 0)),
		&VendorSpecific{VendorID: VendorID3GPP, SubType: 5, Data: []byte{0xab, 0xcd}},
		NewServiceSelection("ims"),
		&BindingAuthData{Authenticator: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}},
	}}}
	checkMessageGolden(t, m, wire)
}

func TestGoldenBAWithOptionsA(t *testing.T) {
	wire := hexBytes(t, `
		3b 0a 06 00 0000 // Payload Proto 59, Header Len 10 (88 octets), MH Type 6 (BA), Reserved, Checksum
		00               // Status 0
		20               // Flags P
		0001             // Sequence # 1
		0064             // Lifetime 100 x 4 s
		27 02 0001                                          // @12 IPv4 DHCP Support Mode S=1 (no alignment)
		02 02 0096                                          // @16 Binding Refresh Advice (2n) 150
		25 06 00 60 0a010203                                // @20 IPv4 HoA Reply (4n): success, 10.1.2.3/24
		06 12 00 38 20010db8ffee00000000000000000000        // @28 MNP (8n+4) 2001:db8:ffee::/56
		23 14 0003 80 ff 20010db8000000000000000000000003   // @48 BID (2n): 3, status 128, H, PRI 127, CoA
		01 00                                               // @70 PadN 2: IPv4 Default-Router needs 4n
		26 06 0000 0a010201                                 // @72 IPv4 Default-Router 10.1.2.1
		01 00                                               // @80 PadN 2: Restart Counter needs 4n+2
		1c 04 00000007                                      // @82 Restart Counter 7, ends at 88
	`)
	m := &BindingAck{Status: StatusAccepted, Flags: BAFlagP, Sequence: 1, Lifetime: 100, Base: Base{Options: Options{
		&IPv4DHCPSupportMode{S: true},
		&BindingRefreshAdvice{RefreshInterval: 150},
		&IPv4HomeAddressReply{PrefixLength: 24, Address: netip.MustParseAddr("10.1.2.3")},
		NewMNP(netip.MustParsePrefix("2001:db8:ffee::/56")),
		&BindingIdentifier{BID: 3, Status: StatusReasonUnspecified, H: true, Priority: 127, CareOf: netip.MustParseAddr("2001:db8::3")},
		&IPv4DefaultRouterAddress{Address: netip.MustParseAddr("10.1.2.1")},
		&RestartCounter{Counter: 7},
	}}}
	checkMessageGolden(t, m, wire)

	// Decoding into a warmed-up message does not allocate.
	var ba BindingAck
	if err := ba.UnmarshalBinary(wire); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = ba.UnmarshalBinary(wire) }); n != 0 {
		t.Errorf("warmed-up BA decode: %v allocations, want 0", n)
	}
}

// TestNoAllocA: decoding into a warmed-up option and MarshalTo do not
// allocate.
func TestNoAllocA(t *testing.T) {
	for _, c := range goldenOptsA {
		wire := hexBytes(t, c.wire)
		o := NewOption(c.opt.OptionType())
		if err := o.UnmarshalBinary(wire); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := testing.AllocsPerRun(50, func() { _ = o.UnmarshalBinary(wire) }); n != 0 {
			t.Errorf("%s: UnmarshalBinary: %v allocations, want 0", c.name, n)
		}
		buf := make([]byte, len(wire))
		if n := testing.AllocsPerRun(50, func() { _ = o.MarshalTo(buf) }); n != 0 {
			t.Errorf("%s: MarshalTo: %v allocations, want 0", c.name, n)
		}
		if !bytes.Equal(buf, wire) {
			t.Errorf("%s: re-encoding the decoded option:\n got % x\nwant % x", c.name, buf, wire)
		}
	}
}

// TestReuseA: decoding a shorter form into a value that held a longer one
// leaves no stale state (GRE key, BID CoA, byte slices).
func TestReuseA(t *testing.T) {
	g := NewGREKey(0xdeadbeef)
	if err := g.UnmarshalBinary(hexBytes(t, `21 02 0000`)); err != nil || g.HasKey || g.Key != 0 {
		t.Errorf("GRE Key after len-2 decode: %+v, %v", g, err)
	}
	b := &BindingIdentifier{CareOf: netip.MustParseAddr("2001:db8::3")}
	if err := b.UnmarshalBinary(hexBytes(t, `23 04 0001 00 05`)); err != nil || b.CareOf.IsValid() {
		t.Errorf("BID after len-4 decode: %+v, %v", b, err)
	}
	v := &VendorSpecific{Data: []byte{1, 2, 3, 4}}
	if err := v.UnmarshalBinary(hexBytes(t, `13 05 00000009 01`)); err != nil || len(v.Data) != 0 {
		t.Errorf("Vendor-Specific after no-data decode: %+v, %v", v, err)
	}
}

func TestNamesA(t *testing.T) {
	cases := []struct{ got, want string }{
		{IPv4StatusSuccess.String(), "Success"},
		{IPv4StatusFailure.String(), "Failure, reason unspecified"},
		{IPv4StatusAdminProhibited.String(), "Administratively prohibited"},
		{IPv4StatusIncorrectHoA.String(), "Incorrect IPv4 home address"},
		{IPv4StatusInvalidAddress.String(), "Invalid IPv4 address"},
		{IPv4StatusDynamicNotAvailable.String(), "Dynamic IPv4 home address assignment not available"},
		{IPv4StatusPrefixNotAuthorized.String(), "Prefix allocation unauthorized"},
		{IPv4AddrStatus(134).String(), "status 134"},
		{IPv4AddrStatus(5).String(), "status 5"},
		{LLACodeMN.String(), "Mobile Node"},
		{LLACode(9).String(), "LLA code 9"},
		{APCodeNARPrefix.String(), "NAR's Prefix"},
		{AddrPrefixCode(0).String(), "code 0"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !IPv4AddrStatus(127).Success() || IPv4StatusFailure.Success() {
		t.Error("Success(): below 128 is success, 128 and above failure")
	}
	if d := (&BindingRefreshAdvice{RefreshInterval: 150}).Interval(); d != 600*time.Second {
		t.Errorf("BRA Interval = %v, want 10m0s", d)
	}
	if p := (&IPv4HomeAddressReply{PrefixLength: 24, Address: netip.MustParseAddr("10.1.2.3")}).AsPrefix(); p.String() != "10.1.2.3/24" {
		t.Errorf("AsPrefix = %v", p)
	}
}

func TestServiceSelectionValidate(t *testing.T) {
	if err := NewServiceSelection("internet.apn").Validate(); err != nil {
		t.Errorf("valid identifier: %v", err)
	}
	for _, s := range []*ServiceSelection{{}, {Identifier: []byte{0xff, 0xfe}}, {Identifier: make([]byte, 256)}} {
		if err := s.Validate(); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("Validate(% x): err %v, want ErrInvalidValue", s.Identifier, err)
		}
	}
}
