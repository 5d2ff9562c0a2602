package mh

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func TestGoldenDMMOptions(t *testing.T) {
	cases := []struct {
		name string
		opt  Option
		wire string
	}{
		{"Location Query by home address", NewQueryByHomeAddress(netip.MustParseAddr("2001:db8:1::1")), `
			f0 12 // type 240 (Location Query), len 18
			01    // Query Type 1 (home address)
			80    // Qualifier: prefix length 128
			20010db8000100000000000000000001 // @4 (8-aligned when the option is at 8n+4) home address`},
		{"Location Query by prefix", NewQueryByPrefix(netip.MustParsePrefix("2001:db8:aa::/48")), `
			f0 12 // type 240, len 18
			02    // Query Type 2 (prefix)
			30    // Qualifier: prefix length 48
			20010db800aa00000000000000000000 // prefix`},
		{"Location Query by MN-ID", NewQueryByMNID(NewNAI("x@y")), `
			f0 05  // type 240, len 5
			03     // Query Type 3 (MN-ID)
			01     // Qualifier: MN-ID subtype 1 (NAI)
			784079 // "x@y"`},
		{"Routing Location", &RoutingLocation{Flags: RLFlagF, PrefixLength: 64,
			Prefix: netip.MustParseAddr("2001:db8:12::"), AnchorMR: netip.MustParseAddr("2001:db8:ffff::12"),
			CurrentMR: netip.MustParseAddr("2001:db8:ffff::11"), Lifetime: 3600}, `
			f1 36 // type 241 (Routing Location), len 54
			80    // Flags: F (forwarding by the sender)
			40    // Prefix Length 64
			20010db8001200000000000000000000 // @4  prefix 2001:db8:12::
			20010db8ffff00000000000000000012 // @20 anchor MR 2001:db8:ffff::12
			20010db8ffff00000000000000000011 // @36 current MR 2001:db8:ffff::11
			00000e10                         // @52 lifetime 3600 s`},
		{"Mobility Context", &MobilityContext{Flags: MCFlagR | MCFlagT, ATT: ATT80211, RemainingLifetime: 290,
			LastSequence: 7, ForwardingLifetime: 10, LastTimestamp: 0x0000_6553_f100_8000}, `
			f2 12    // type 242 (Mobility Context), len 18
			a0       // Flags R|T
			04       // ATT 4 (IEEE 802.11a/b/g)
			00000122 // @4  remaining lifetime 290 s
			0007     // @8  last accepted Sequence # 7
			000a     // @10 forwarding lifetime 10 s
			00006553f1008000 // @12 last accepted Timestamp (RFC 5213 §8.8) 1700000000.5`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkOptionGolden(t, c.opt, hexBytes(t, c.wire)) })
	}
}

func TestDMMOptionErrors(t *testing.T) {
	cases := []struct {
		name string
		wire string
		err  error
	}{
		{"LQ unknown query type", `f0 12 09 80 20010db8000100000000000000000001`, ErrInvalidValue},
		{"LQ address form too short", `f0 11 01 80 20010db80001000000000000000000`, ErrInvalidLength},
		{"LQ prefix length 129", `f0 12 02 81 20010db8000100000000000000000001`, ErrInvalidValue},
		{"LQ MN-ID empty", `f0 02 03 01`, ErrInvalidLength},
		{"RL length 53", `f1 35` + " 00" + " 40" + " 20010db8001200000000000000000000 20010db8ffff00000000000000000012 20010db8ffff00000000000000000011 000e10", ErrInvalidLength},
		{"RL prefix length 200", `f1 36 00 c8 20010db8001200000000000000000000 20010db8ffff00000000000000000012 20010db8ffff00000000000000000011 00000e10`, ErrInvalidValue},
		{"MC length 17", `f2 11 00 04 00000122 0007 000a 00006553f10080`, ErrInvalidLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseOption(hexBytes(t, c.wire))
			if !errors.Is(err, c.err) {
				t.Fatalf("ParseOption error %v, want %v", err, c.err)
			}
		})
	}
	if _, err := (&LocationQueryOption{QueryType: 7}).Marshal(); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("Marshal of query type 7: %v, want ErrInvalidValue", err)
	}
	if _, err := (&LocationQueryOption{QueryType: QueryByMNID}).Marshal(); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("Marshal of an empty MN-ID query: %v, want ErrInvalidValue", err)
	}
}

func TestGoldenDMMMessages(t *testing.T) {
	rl := func() *RoutingLocation {
		return NewRoutingLocation(netip.MustParsePrefix("2001:db8:12::/64"),
			netip.MustParseAddr("2001:db8:ffff::12"), netip.MustParseAddr("2001:db8:ffff::11"), 3600)
	}
	const rlWire = `
		f1 36 00 40                      // @12 Routing Location (8n+4): len 54, flags 0, plen 64
		20010db8001200000000000000000000 // @16 prefix
		20010db8ffff00000000000000000012 // @32 anchor MR
		20010db8ffff00000000000000000011 // @48 current MR
		00000e10                         // @64 lifetime 3600 s
		01 02 0000                       // @68 PadN 4: to 72 octets`
	cases := []struct {
		name string
		msg  Message
		wire string
	}{
		{"Location Query", &LocationQuery{Sequence: 5, Base: Base{Options: Options{
			NewQueryByHomeAddress(netip.MustParseAddr("2001:db8:12::99"))}}}, `
			3b 03 0b 00 0000 // Payload Proto 59, Header Len 3 (32 octets), MH Type 11 (Experimental), Reserved, Checksum
			01               // DMM Type 1 (Location Query)
			00               // Status: 0 in a request
			0005             // Sequence # 5
			0000             // Flags/Reserved
			f0 12 01 80 20010db8001200000000000000000099 // @12 Location Query option (8n+4): home address 2001:db8:12::99`},
		{"Location Reply", &LocationReply{Status: DMMStatusAccepted, Sequence: 5, Base: Base{Options: Options{rl()}}}, `
			3b 08 0b 00 0000 // Header Len 8 (72 octets), MH Type 11
			02               // DMM Type 2 (Location Reply)
			00               // Status 0 (accepted)
			0005             // Sequence # 5, copied from the query
			0000             // Flags/Reserved` + rlWire},
		{"Location Reply, location unknown", &LocationReply{Status: DMMStatusLocationUnknown, Sequence: 6}, `
			3b 01 0b 00 0000 // Header Len 1 (16 octets)
			02 83 0006 0000  // DMM Type 2, Status 131 (location unknown), Sequence # 6, Flags 0
			01 02 0000       // @12 PadN 4`},
		{"Redirect", &Redirect{Sequence: 9, Flags: DMMFlagA, Base: Base{Options: Options{rl()}}}, `
			3b 08 0b 00 0000 // Header Len 8 (72 octets), MH Type 11
			03               // DMM Type 3 (Redirect)
			00               // Status: 0 in a request
			0009             // Sequence # 9
			8000             // Flags: A (ack requested)` + rlWire},
		{"Redirect Ack", &RedirectAck{Status: DMMStatusAccepted, Sequence: 9}, `
			3b 01 0b 00 0000 // Header Len 1 (16 octets)
			04 00 0009 0000  // DMM Type 4 (Redirect Ack), Status 0, Sequence # 9, Flags 0
			01 02 0000       // @12 PadN 4`},
		{"HAck carrying a Mobility Context (Figure 5 step 2)", &HandoverAck{Sequence: 3, Flags: HAckFlagP | HAckFlagF,
			Code: HAckCodeContextTransferAccepted, Base: Base{Options: Options{
				&MobilityContext{Flags: MCFlagR | MCFlagT, ATT: ATT8023, RemainingLifetime: 100, ForwardingLifetime: 10, LastTimestamp: 0x6553f1000000},
				NewHNP(netip.MustParsePrefix("2001:db8:11::/64")),
				NewNAI("a@b"),
			}}}, `
			3b 07 0f 00 0000 // Header Len 7 (64 octets), MH Type 15 (HAck)
			0003             // Sequence # 3
			60               // Flags P|F
			05               // Code 5 (context transfer accepted)
			01 00            // @10 PadN 2
			f2 12 a0 03 00000064 0000 000a 00006553f1000000 // @12 Mobility Context (8n+4): R|T, ATT 3, 100 s, seq 0, fwd 10 s, timestamp
			01 02 0000       // @32 PadN 4
			16 12 00 40 20010db8001100000000000000000000 // @36 HNP (8n+4) 2001:db8:11::/64
			08 04 01 614062  // @56 MN-ID NAI "a@b"
			01 00            // @62 PadN 2: to 64 octets`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkMessageGolden(t, c.msg, hexBytes(t, c.wire)) })
	}
}

func TestDMMKindAndExperimentalFallback(t *testing.T) {
	cases := []struct {
		name string
		wire string
		want reflect.Type
	}{
		{"DMM type 1", `3b 01 0b 00 0000 01 00 0001 0000 01 02 0000`, reflect.TypeOf(&LocationQuery{})},
		{"DMM type 4", `3b 01 0b 00 0000 04 00 0001 0000 01 02 0000`, reflect.TypeOf(&RedirectAck{})},
		{"DMM type 0 is plain Experimental", `3b 01 0b 00 0000 00 00 0001 0000 01 02 0000`, reflect.TypeOf(&ExperimentalMessage{})},
		{"DMM type 99 is plain Experimental", `3b 00 0b 00 0000 63 00`, reflect.TypeOf(&ExperimentalMessage{})},
		{"type 13 with octet 6 = 1 is not DMM", `3b 01 0d 00 0000 01 00 00000001 01 02 0000`, reflect.TypeOf(NewMessage(TypeHeartbeat))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := hexBytes(t, c.wire)
			m, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if reflect.TypeOf(m) != c.want {
				t.Fatalf("Parse returned %T, want %v", m, c.want)
			}
			var d Decoder
			m2, err := d.Decode(b)
			if err != nil || reflect.TypeOf(m2) != c.want {
				t.Fatalf("Decoder.Decode: %T, %v", m2, err)
			}
			again, err := m.Marshal()
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("re-encode: %v\n got % x\nwant % x", err, again, b)
			}
		})
	}
	// A typed DMM message refuses octets of another DMM type.
	if _, err := ParseRedirect(hexBytes(t, `3b 01 0b 00 0000 01 00 0001 0000 01 02 0000`)); !errors.Is(err, ErrWrongType) {
		t.Errorf("ParseRedirect of a Location Query: %v, want ErrWrongType", err)
	}
}

func TestDMMDecoderReuseNoAlloc(t *testing.T) {
	m := &LocationReply{Sequence: 1, Base: Base{Options: Options{
		NewRoutingLocation(netip.MustParsePrefix("2001:db8:1::/64"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 10),
		NewRoutingLocation(netip.MustParsePrefix("2001:db8:2::/64"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::3"), 20),
	}}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	if _, err := d.Decode(b); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(50, func() { _, _ = d.Decode(b) }); n != 0 {
		t.Errorf("Decode of a warmed-up Location Reply allocates %.1f times", n)
	}
	got, _ := d.Decode(b)
	if l := got.(*LocationReply).Locations(); len(l) != 2 || l[1].Lifetime != 20 || l[1].CurrentMR != netip.MustParseAddr("2001:db8::3") {
		t.Errorf("Locations() = %+v", l)
	}
}

func TestSetCodepointsRefuses(t *testing.T) {
	def := DefaultCodepoints()
	mod := func(f func(*Codepoints)) Codepoints { c := def; f(&c); return c }
	cases := []struct {
		name string
		c    Codepoints
		ok   bool
	}{
		{"defaults", def, true},
		{"carrier 0 (BRR)", mod(func(c *Codepoints) { c.CarrierMHType = 0 }), false},
		{"carrier 5 (BU)", mod(func(c *Codepoints) { c.CarrierMHType = TypeBindingUpdate }), false},
		{"carrier 23 (last IANA)", mod(func(c *Codepoints) { c.CarrierMHType = 23 }), false},
		{"carrier 24 (unassigned)", mod(func(c *Codepoints) { c.CarrierMHType = 24 }), true},
		{"DMM type 0", mod(func(c *Codepoints) { c.Redirect = 0 }), false},
		{"DMM types equal", mod(func(c *Codepoints) { c.RedirectAck = c.LocationQuery }), false},
		{"option 22 (HNP)", mod(func(c *Codepoints) { c.OptRoutingLocation = OptHomeNetworkPrefix }), false},
		{"option 70 (last IANA)", mod(func(c *Codepoints) { c.OptMobilityContext = 70 }), false},
		{"option 0 (Pad1)", mod(func(c *Codepoints) { c.OptLocationQuery = 0 }), false},
		{"option 18 (Experimental) on purpose", mod(func(c *Codepoints) { c.OptLocationQuery = OptExperimental }), true},
		{"option 71 (unassigned)", mod(func(c *Codepoints) { c.OptLocationQuery = 71 }), true},
		{"options equal", mod(func(c *Codepoints) { c.OptMobilityContext = c.OptRoutingLocation }), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.c.Validate()
			if (err == nil) != c.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrCodepoint) {
				t.Errorf("error %v does not wrap ErrCodepoint", err)
			}
			before := CurrentCodepoints()
			serr := SetCodepoints(c.c)
			if (serr == nil) != c.ok {
				t.Fatalf("SetCodepoints = %v, want ok=%v", serr, c.ok)
			}
			if serr != nil && CurrentCodepoints() != before {
				t.Errorf("a refused SetCodepoints changed the table")
			}
			if err := SetCodepoints(def); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSetCodepointsChangesTheWire(t *testing.T) {
	before18 := reflect.TypeOf(NewOption(OptExperimental))
	c := DefaultCodepoints()
	c.CarrierMHType = 200
	c.LocationQuery, c.LocationReply = 0x41, 0x42
	c.OptLocationQuery = OptExperimental
	c.OptRoutingLocation = 250
	if err := SetCodepoints(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := SetCodepoints(DefaultCodepoints()); err != nil {
			t.Fatal(err)
		}
		if got := reflect.TypeOf(NewOption(OptExperimental)); got != before18 {
			t.Errorf("after restoring the defaults option 18 decodes as %v, was %v", got, before18)
		}
		if NewOption(250).(*RawOption) == nil || OptionType(250).String() != "option 250" {
			t.Errorf("option 250 still registered after restoring the defaults")
		}
	})
	q := &LocationQuery{Sequence: 1, Base: Base{Options: Options{NewQueryByHomeAddress(netip.MustParseAddr("2001:db8::9"))}}}
	b, err := q.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := hexBytes(t, `3b 03 c8 00 0000 // MH Type 200
		41 00 0001 0000 // DMM Type 0x41
		12 12 01 80 20010db8000000000000000000000009 // option type 18`)
	if !bytes.Equal(b, want) {
		t.Fatalf("Marshal:\n got % x\nwant % x", b, want)
	}
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := m.(*LocationQuery); !ok || got.Query() == nil || got.Query().Address != netip.MustParseAddr("2001:db8::9") {
		t.Fatalf("Parse = %#v", m)
	}
	if n := OptionType(250).String(); n != "Routing Location (DMM)" {
		t.Errorf("OptionType(250).String() = %q", n)
	}
	// The old numbers are plain again: type 11 with DMM type 1 is Experimental.
	old, err := Parse(hexBytes(t, `3b 01 0b 00 0000 01 00 0001 0000 01 02 0000`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := old.(*ExperimentalMessage); !ok {
		t.Errorf("type 11 / DMM type 1 under the new table decodes as %T", old)
	}
}
