package mhjson

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// compact removes the layout white space of a JSON literal.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("bad expected JSON: %v\n%s", err, s)
	}
	return b.String()
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return string(b)
}

var testTime = time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC) // .5 s is exact in 1/65536 s

func testPBU() *mh.BindingUpdate {
	m := &mh.BindingUpdate{Sequence: 7, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 60}
	m.Checksum = 0x1234
	m.Options = mh.Options{
		mh.NewNAI("mn1@x"),
		mh.NewHNP(netip.MustParsePrefix("2001:db8:1::/64")),
		&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
		&mh.AccessTechnologyType{Value: mh.ATT80211},
		mh.NewTimestamp(testTime),
	}
	return m
}

// The PBU laid out by the encoder (RFC 6275 §6.2 alignment):
// 0 header(6) | 6 seq, flags, lifetime | 12 MN-ID (3+5) | 20 HNP 8n+4 (20) |
// 40 HI (4) | 44 ATT (4) | 48 PadN(2) | 50 Timestamp 8n+2 (10) | 60 PadN(4) | 64 end.
const pbuJSON = `{
 "payload_proto":59, "header_len":7, "type":5, "type_name":"Binding Update", "reserved":0,
 "checksum":4660, "length":64,
 "fields":{"sequence":7, "flags":33280, "lifetime":60},
 "options":[
  {"offset":12, "type":8, "name":"Mobile Node Identifier", "length":6,
   "fields":{"subtype":1, "subtype_name":"NAI", "identifier":"6d6e314078", "identifier_text":"mn1@x", "empty":false}},
  {"offset":20, "type":22, "name":"Home Network Prefix", "length":18,
   "fields":{"reserved":0, "prefix_length":64, "prefix":"2001:db8:1::"}},
  {"offset":40, "type":23, "name":"Handoff Indicator", "length":2,
   "fields":{"reserved":0, "value":1, "value_name":"Attachment over a new interface"}},
  {"offset":44, "type":24, "name":"Access Technology Type", "length":2,
   "fields":{"reserved":0, "value":4, "value_name":"IEEE 802.11a/b/g"}},
  {"offset":48, "type":1, "name":"PadN", "length":0, "fields":{"data":""}},
  {"offset":50, "type":27, "name":"Timestamp", "length":8,
   "fields":{"value":112392882716672, "time":"2024-05-06T07:08:09.5Z"}},
  {"offset":60, "type":1, "name":"PadN", "length":2, "fields":{"data":"0000"}}
 ],
 "quirks":"none"}`

func testPBA() *mh.BindingAck {
	m := &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: 7, Lifetime: 60}
	m.Options = mh.Options{
		mh.NewNAI("mn1@x"),
		mh.NewHNP(netip.MustParsePrefix("2001:db8:1::/64")),
		&mh.LinkLocalAddress{Address: netip.MustParseAddr("fe80::1")},
		mh.NewTimestamp(testTime),
	}
	return m
}

// 0 header | 6 status, flags, seq, lifetime | 12 MN-ID | 20 HNP | 40 PadN(6) |
// 46 LLA 8n+6 (18) | 64 PadN(2) | 66 Timestamp 8n+2 | 76 PadN(4) | 80 end.
const pbaJSON = `{
 "payload_proto":59, "header_len":9, "type":6, "type_name":"Binding Acknowledgement", "reserved":0,
 "checksum":0, "length":80,
 "fields":{"status":0, "status_name":"Binding Update accepted", "flags":32, "sequence":7, "lifetime":60},
 "options":[
  {"offset":12, "type":8, "name":"Mobile Node Identifier", "length":6,
   "fields":{"subtype":1, "subtype_name":"NAI", "identifier":"6d6e314078", "identifier_text":"mn1@x", "empty":false}},
  {"offset":20, "type":22, "name":"Home Network Prefix", "length":18,
   "fields":{"reserved":0, "prefix_length":64, "prefix":"2001:db8:1::"}},
  {"offset":40, "type":1, "name":"PadN", "length":4, "fields":{"data":"00000000"}},
  {"offset":46, "type":26, "name":"Link-local Address", "length":16, "fields":{"address":"fe80::1"}},
  {"offset":64, "type":1, "name":"PadN", "length":0, "fields":{"data":""}},
  {"offset":66, "type":27, "name":"Timestamp", "length":8,
   "fields":{"value":112392882716672, "time":"2024-05-06T07:08:09.5Z"}},
  {"offset":76, "type":1, "name":"PadN", "length":2, "fields":{"data":"0000"}}
 ],
 "quirks":"none"}`

func TestGoldenMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    mh.Message
		want string
	}{
		{"PBU", testPBU(), pbuJSON},
		{"PBA", testPBA(), pbaJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := compact(t, tc.want)
			wire, err := tc.m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			// From the octets, as a decoder sees them.
			if got := marshal(t, Decode(wire, mh.DecodeOptions{})); got != want {
				t.Errorf("Decode:\n got %s\nwant %s", got, want)
			}
			// From the message built by hand (padding computed): the same.
			o, err := Message(tc.m, nil)
			if err != nil {
				t.Fatalf("Message(built, nil): %v", err)
			}
			if got := marshal(t, o); got != want {
				t.Errorf("Message(built, nil):\n got %s\nwant %s", got, want)
			}
			// From a decoded message and its wire.
			dm, err := mh.Parse(wire)
			if err != nil {
				t.Fatal(err)
			}
			o, err = Message(dm, wire)
			if err != nil {
				t.Fatalf("Message(decoded, wire): %v", err)
			}
			if got := marshal(t, o); got != want {
				t.Errorf("Message(decoded, wire):\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	wire, err := testPBU().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	badOpt := bytes.Clone(wire)
	badOpt[13] = 60 // MN-ID Length 60 runs past the end of the 64-octet message

	for _, tc := range []struct {
		name      string
		wire      []byte
		want      string // the JSON without "error"
		errPrefix string
	}{
		{"truncated", wire[:30],
			`{"payload_proto":59,"header_len":7,"type":5,"type_name":"Binding Update","reserved":0,"checksum":4660,"length":30}`,
			"mh: Binding Update: Header Len: says 64 octets, only 30 present"},
		{"too short for a header", wire[:4], `{"length":4}`, "mh: "},
		{"bad option", badOpt,
			`{"payload_proto":59,"header_len":7,"type":5,"type_name":"Binding Update","reserved":0,"checksum":4660,"length":64,"error_offset":12}`,
			"mh: option Mobile Node Identifier at offset 12: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Decode(tc.wire, mh.DecodeOptions{})
			if !strings.HasPrefix(o.Error, tc.errPrefix) {
				t.Errorf("Error = %q, want prefix %q", o.Error, tc.errPrefix)
			}
			if o.Fields != nil || o.Options != nil || o.Quirks != "" {
				t.Errorf("failed decode has fields/options/quirks: %+v", o)
			}
			errText := o.Error
			o.Error = ""
			if got := marshal(t, o); got != tc.want {
				t.Errorf("JSON:\n got %s\nwant %s", got, tc.want)
			}
			o.Error = errText
			var back map[string]any
			if err := json.Unmarshal([]byte(marshal(t, o)), &back); err != nil || back["error"] != errText {
				t.Errorf("error key = %v (%v), want %q", back["error"], err, errText)
			}
		})
	}
}

// A legacy decode reports its quirks and keeps a malformed option raw.
func TestLegacyQuirks(t *testing.T) {
	wire, err := testPBU().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// HI (offset 40) with Length 3 swallowing the first ATT octet would
	// shift everything; instead make the HNP prefix length 200 (> 128),
	// which the typed form rejects but the TLV walk accepts.
	bad := bytes.Clone(wire)
	bad[23] = 200
	o := Decode(bad, mh.DecodeOptions{Legacy: true})
	if o.Error != "" {
		t.Fatalf("legacy decode failed: %s", o.Error)
	}
	if o.Quirks != "malformed-option" {
		t.Errorf("quirks = %q, want malformed-option", o.Quirks)
	}
	hnp := o.Options[1]
	if hnp.Offset != 20 || hnp.Type != 22 || !hnp.Raw {
		t.Errorf("HNP option = %+v, want raw at offset 20", hnp)
	}
	if got := marshal(t, hnp.Fields); got != `{"data":"00c820010db8000100000000000000000000"}` {
		t.Errorf("raw HNP fields = %s", got)
	}
}

// Types used to check the reflection rules that today's typed messages do
// not exercise.
type testFlags uint8

func (f testFlags) Names() []string {
	var n []string
	if f&0x80 != 0 {
		n = append(n, "A")
	}
	if f&0x20 != 0 {
		n = append(n, "P")
	}
	return n
}

type testCode uint16

func (c testCode) String() string { return "code-" + string(rune('0'+c)) }

type testInner struct {
	Anchor netip.Addr
	Bits   [4]byte
}

type testEmbedded struct{ Promoted uint8 }

type testStamp struct{ V int64 }

func (s testStamp) Time() time.Time { return time.Unix(s.V, 0).UTC() }

type testStruct struct {
	mh.Base
	testEmbedded
	Flags           testFlags
	NoFlags         testFlags
	Code            testCode
	IPv4HomeAddress netip.Addr
	Prefix          netip.Prefix
	Unset           netip.Addr
	Label           []byte
	Binary          []byte
	Inner           testInner
	InnerPtr        *testInner
	List            []testInner
	Ints            []uint16
	On              bool
	Renamed         uint8 `mhjson:"other"`
	Hidden          uint8 `mhjson:"-"`
	When            time.Time
	Stamp           testStamp
	unexported      int
}

func TestReflectionRules(t *testing.T) {
	v := &testStruct{
		testEmbedded:    testEmbedded{Promoted: 3},
		Flags:           0xa0,
		Code:            4,
		IPv4HomeAddress: netip.MustParseAddr("192.0.2.1"),
		Prefix:          netip.MustParsePrefix("2001:db8::/48"),
		Label:           []byte("apn.example"),
		Binary:          []byte{0x00, 0xff},
		Inner:           testInner{Anchor: netip.MustParseAddr("2001:db8::9"), Bits: [4]byte{1, 2, 3, 0xab}},
		List:            []testInner{{}},
		Ints:            []uint16{1, 2},
		On:              true,
		Renamed:         5,
		Hidden:          6,
		When:            time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC),
		Stamp:           testStamp{V: 10},
		unexported:      7,
	}
	want := compact(t, `{
	 "promoted":3,
	 "flags":160, "flags_set":["A","P"],
	 "no_flags":0, "no_flags_set":[],
	 "code":4, "code_name":"code-4",
	 "ipv4_home_address":"192.0.2.1",
	 "prefix":"2001:db8::/48",
	 "unset":"",
	 "label":"61706e2e6578616d706c65", "label_text":"apn.example",
	 "binary":"00ff",
	 "inner":{"anchor":"2001:db8::9", "bits":"010203ab"},
	 "inner_ptr":null,
	 "list":[{"anchor":"", "bits":"00000000"}],
	 "ints":[1,2],
	 "on":true,
	 "other":5,
	 "when":"2020-01-02T03:04:05.000000006Z",
	 "stamp":{"v":10, "time":"1970-01-01T00:00:10Z"}
	}`)
	if got := marshal(t, structFields(reflectValue(v), "")); got != want {
		t.Errorf("fields:\n got %s\nwant %s", got, want)
	}
}

func TestSnakeCase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"PrefixLength", "prefix_length"},
		{"Sequence", "sequence"},
		{"MNLinkLayerID", "mn_link_layer_id"},
		{"LinkLayerID", "link_layer_id"},
		{"IPv4HomeAddress", "ipv4_home_address"},
		{"IPv6Prefix", "ipv6_prefix"},
		{"AlternateCoA", "alternate_coa"},
		{"GREKey", "gre_key"},
		{"HNP", "hnp"},
		{"LMAAddress", "lma_address"},
		{"Value2Field", "value2_field"},
	} {
		if got := SnakeCase(tc.in); got != tc.want {
			t.Errorf("SnakeCase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every registered typed option and message converts without error and
// with the offsets of the wire (a smoke test over the registry, so that
// new typed values are at least visited).
func TestRegistryZeroValues(t *testing.T) {
	for _, ot := range mh.TypedOptions() {
		o := mh.NewOption(ot)
		if ot == mh.OptPad1 {
			continue
		}
		f := structFields(reflectValue(o), "")
		if _, err := json.Marshal(f); err != nil {
			t.Errorf("option %s: %v", ot, err)
		}
	}
	for _, mt := range mh.TypedMessages() {
		m := mh.NewMessage(mt)
		f := structFields(reflectValue(m), "")
		if _, err := json.Marshal(f); err != nil {
			t.Errorf("message %s: %v", mt, err)
		}
	}
}

func reflectValue(v any) reflect.Value { return reflect.ValueOf(v) }
