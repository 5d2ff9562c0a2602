package mh

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// Golden vectors and rules for the MN Identifier subtypes of RFC 8371.

func mustIMSI(t *testing.T, digits string) *MNIdentifier {
	t.Helper()
	o, err := NewMNIDIMSI(digits)
	if err != nil {
		t.Fatalf("NewMNIDIMSI(%q): %v", digits, err)
	}
	return o
}

func TestGoldenMNIDSubtypes(t *testing.T) {
	cases := []struct {
		name string
		opt  *MNIdentifier
		wire string
		str  string // IdentifierString
	}{
		{"NAI", NewNAI("mn1@example.org"), `
			08 10                          // type 8 (MN Identifier), len 16
			01                             // subtype 1 (NAI)
			6d6e31406578616d706c652e6f7267 // "mn1@example.org"`, "mn1@example.org"},
		{"IPv6", NewMNIDIPv6(netip.MustParseAddr("2001:db8::5")), `
			08 11                            // type 8, len 17
			02                               // subtype 2 (IPv6 address, RFC 8371 §4.1)
			20010db8000000000000000000000005 // 2001:db8::5`, "2001:db8::5"},
		{"IMSI odd (RFC 8371 §4.2 example)", mustIMSI(t, "123456123456789"), `
			08 09            // type 8, len 9
			03               // subtype 3 (IMSI)
			12 34 56 12 34 56 78 9f // BCD, high nibble first, last digit padded with 0xf`, "123456123456789"},
		{"IMSI even", mustIMSI(t, "001010123456"), `
			08 07         // type 8, len 7
			03            // subtype 3 (IMSI)
			00 10 10 12 34 56 // 12 digits, no padding`, "001010123456"},
		{"IMSI one digit", mustIMSI(t, "7"), `
			08 02 // type 8, len 2
			03    // subtype 3 (IMSI)
			7f    // digit 7, pad 0xf`, "7"},
		{"P-TMSI", &MNIdentifier{Subtype: MNIDPTMSI, Identifier: []byte{0xc0, 0xa1, 0xb2, 0xc3}}, `
			08 05    // type 8, len 5
			04       // subtype 4 (P-TMSI)
			c0a1b2c3 // P-TMSI (opaque here)`, "c0a1b2c3"},
		{"EUI-48", NewMNIDEUI48([6]byte{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}), `
			08 07        // type 8, len 7
			05           // subtype 5 (EUI-48, RFC 8371 §4.3)
			02005e100001 // 02:00:5e:10:00:01`, "02:00:5e:10:00:01"},
		{"EUI-64", NewMNIDEUI64([8]byte{0x02, 0x00, 0x5e, 0xff, 0xfe, 0x10, 0x00, 0x01}), `
			08 09            // type 8, len 9
			06               // subtype 6 (EUI-64, RFC 8371 §4.4)
			02005efffe100001 // 02:00:5e:ff:fe:10:00:01`, "02:00:5e:ff:fe:10:00:01"},
		{"GUTI", &MNIdentifier{Subtype: MNIDGUTI, Identifier: []byte{0x00, 0xf1, 0x10, 0x80, 0x01, 0x01, 0xc0, 0xa1, 0xb2, 0xc3}}, `
			08 0b                // type 8, len 11
			07                   // subtype 7 (GUTI)
			00f110 8001 01 c0a1b2c3 // GUTI octets (opaque here)`, "00f110800101c0a1b2c3"},
		{"DUID-LL", NewMNIDDUID([]byte{0x00, 0x03, 0x00, 0x01, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}), `
			08 0b        // type 8, len 11
			08           // subtype 8 (DUID, RFC 8371 §4.5)
			0003         // DUID type 3 (DUID-LL)
			0001         // hardware type 1 (Ethernet)
			02005e100001 // link-layer address`, "00030001" + "02005e100001"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkOptionGolden(t, c.opt, hexBytes(t, c.wire))
			if s := c.opt.IdentifierString(); s != c.str {
				t.Errorf("IdentifierString = %q, want %q", s, c.str)
			}
			if err := c.opt.ValidateIdentifier(); err != nil {
				t.Errorf("ValidateIdentifier: %v", err)
			}
		})
	}
}

func TestMNIDIdentifierStringFallbacks(t *testing.T) {
	cases := []struct {
		name string
		opt  *MNIdentifier
		want string
	}{
		// OAI sends 8 binary octets under subtype NAI (peer-quirks.md).
		{"binary NAI", &MNIdentifier{Subtype: MNIDNAI, Identifier: []byte{0, 0, 0xd4, 0xbe, 0xd9, 0x1f, 0x6e, 0x59}}, "0000d4bed91f6e59"},
		{"IPv6 of 6 octets (MAD's MAC under subtype 2)", &MNIdentifier{Subtype: MNIDIPv6, Identifier: []byte{2, 0, 0, 0, 0, 1}}, "020000000001"},
		{"IMSI with a bad nibble", &MNIdentifier{Subtype: MNIDIMSI, Identifier: []byte{0x1a}}, "1a"},
		{"EUI-48 of 5 octets", &MNIdentifier{Subtype: MNIDEUI48, Identifier: []byte{1, 2, 3, 4, 5}}, "0102030405"},
		{"unknown subtype", &MNIdentifier{Subtype: 200, Identifier: []byte{0xab}}, "ab"},
		{"empty option", &MNIdentifier{Empty: true}, ""},
		{"IPv4-mapped IPv6", NewMNIDIPv6(netip.MustParseAddr("192.0.2.1")), "::ffff:192.0.2.1"},
	}
	for _, c := range cases {
		if got := c.opt.IdentifierString(); got != c.want {
			t.Errorf("%s: IdentifierString = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestMNIDValidateIdentifier(t *testing.T) {
	id := func(st MNIDSubtype, b ...byte) *MNIdentifier { return &MNIdentifier{Subtype: st, Identifier: b} }
	ip := func(s string) *MNIdentifier { return NewMNIDIPv6(netip.MustParseAddr(s)) }
	cases := []struct {
		name string
		opt  *MNIdentifier
		ok   bool
	}{
		{"NAI", NewNAI("mn1@example.org"), true},
		{"NAI realm only", NewNAI("@example.org"), true},
		{"NAI UTF-8", NewNAI("jörg@example.org"), true},
		{"NAI empty", NewNAI(""), false},
		{"NAI binary", id(MNIDNAI, 0, 0, 0xd4, 0xbe), false},
		{"NAI with newline", NewNAI("a@b\n"), false},
		{"NAI invalid UTF-8", id(MNIDNAI, 'a', 0xff), false},
		{"IPv6 global", ip("2001:db8::5"), true},
		{"IPv6 ULA", ip("fd00::1"), true},
		{"IPv6 link-local", ip("fe80::1"), false},
		{"IPv6 multicast", ip("ff02::1"), false},
		{"IPv6 unspecified", ip("::"), false},
		{"IPv6 loopback", ip("::1"), false},
		{"IPv6 of 15 octets", id(MNIDIPv6, make([]byte, 15)...), false},
		{"IPv6 of 6 octets", id(MNIDIPv6, 2, 0, 0, 0, 0, 1), false},
		{"IMSI 15 digits", id(MNIDIMSI, 0x12, 0x34, 0x56, 0x12, 0x34, 0x56, 0x78, 0x9f), true},
		{"IMSI 14 digits", id(MNIDIMSI, 0x12, 0x34, 0x56, 0x12, 0x34, 0x56, 0x78), true},
		{"IMSI 16 digits", id(MNIDIMSI, 0x12, 0x34, 0x56, 0x12, 0x34, 0x56, 0x78, 0x90), false},
		{"IMSI 9 octets", id(MNIDIMSI, 0x12, 0x34, 0x56, 0x12, 0x34, 0x56, 0x78, 0x90, 0x1f), false},
		{"IMSI pad in the middle", id(MNIDIMSI, 0x1f, 0x23), false},
		{"IMSI pad in the high nibble", id(MNIDIMSI, 0x12, 0xf3), false},
		{"IMSI only padding", id(MNIDIMSI, 0xff), false},
		{"IMSI non-digit", id(MNIDIMSI, 0x1a), false},
		{"IMSI empty", id(MNIDIMSI), false},
		{"P-TMSI", id(MNIDPTMSI, 1, 2, 3, 4), true},
		{"P-TMSI empty", id(MNIDPTMSI), false},
		{"EUI-48", id(MNIDEUI48, 1, 2, 3, 4, 5, 6), true},
		{"EUI-48 of 5 octets", id(MNIDEUI48, 1, 2, 3, 4, 5), false},
		{"EUI-48 of 8 octets", id(MNIDEUI48, 1, 2, 3, 4, 5, 6, 7, 8), false},
		{"EUI-64", id(MNIDEUI64, 1, 2, 3, 4, 5, 6, 7, 8), true},
		{"EUI-64 of 6 octets", id(MNIDEUI64, 1, 2, 3, 4, 5, 6), false},
		{"GUTI", id(MNIDGUTI, 1), true},
		{"GUTI empty", id(MNIDGUTI), false},
		{"DUID of 3 octets", id(MNIDDUID, 0, 4, 1), true},
		{"DUID of 130 octets", id(MNIDDUID, make([]byte, 130)...), true},
		{"DUID of 2 octets", id(MNIDDUID, 0, 3), false},
		{"DUID of 131 octets", id(MNIDDUID, make([]byte, 131)...), false},
		{"subtype 0", id(0, 1, 2), false},
		{"reserved subtype 9", id(9, 1, 2), false},
		{"reserved subtype 15", id(15, 1, 2), false},
		{"unassigned subtype 16", id(16, 1, 2), false},
		{"empty option", &MNIdentifier{Empty: true}, false},
	}
	for _, c := range cases {
		err := c.opt.ValidateIdentifier()
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: unexpected error %v", c.name, err)
		case !c.ok && !errors.Is(err, ErrInvalidValue):
			t.Errorf("%s: err %v, want ErrInvalidValue", c.name, err)
		}
	}
}

func TestNewMNIDIMSIErrors(t *testing.T) {
	for _, digits := range []string{"", "1234567890123456", "12a4", "12 4", "+12345"} {
		if o, err := NewMNIDIMSI(digits); !errors.Is(err, ErrInvalidValue) || o != nil {
			t.Errorf("NewMNIDIMSI(%q) = %v, %v; want nil, ErrInvalidValue", digits, o, err)
		}
	}
	// Every valid digit string round-trips through the BCD encoding.
	for n := 1; n <= 15; n++ {
		digits := strings.Repeat("9876543210", 2)[:n]
		o := mustIMSI(t, digits)
		if len(o.Identifier) != (n+1)/2 {
			t.Errorf("%q: %d octets, want %d", digits, len(o.Identifier), (n+1)/2)
		}
		if s := o.IdentifierString(); s != digits {
			t.Errorf("%q: IdentifierString = %q", digits, s)
		}
	}
}

// TestMNIDConstructorsCopy: the constructors do not alias the caller's
// memory.
func TestMNIDConstructorsCopy(t *testing.T) {
	duid := []byte{0, 4, 1, 2}
	o := NewMNIDDUID(duid)
	duid[2] = 0xff
	if o.Identifier[2] != 1 {
		t.Error("NewMNIDDUID aliases its argument")
	}
}
