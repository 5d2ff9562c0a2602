package mh

// Benchmarks of the hot paths: a PBU carrying MN-ID, HNP, Handoff
// Indicator, ATT, Timestamp and MN LL-ID (the issue #2 target: <= 100
// ns/op and 0 allocs/op each). Figures and commands: docs/benchmarks.md.

import (
	"net/netip"
	"testing"
	"time"
)

func benchPBU() *BindingUpdate {
	return &BindingUpdate{Sequence: 7, Flags: BUFlagA | BUFlagP, Lifetime: 100, Base: Base{Options: Options{
		NewHNP(netip.MustParsePrefix("2001:db8:1::/64")),
		NewNAI("mn1@example.org"),
		&HandoffIndicator{Value: HIAttachNewInterface},
		&AccessTechnologyType{Value: ATT8023},
		NewTimestamp(time.Unix(1700000000, 0)),
		&MNLinkLayerID{LinkLayerID: []byte{2, 0, 0, 0, 0, 1}},
	}}}
}

func BenchmarkDecodePBU(b *testing.B) {
	buf, _ := benchPBU().Marshal()
	var d Decoder
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePBU(b *testing.B) {
	m := benchPBU()
	buf := make([]byte, 256)
	b.ReportAllocs()
	for b.Loop() {
		if err := m.MarshalTo(buf); err != nil {
			b.Fatal(err)
		}
	}
}
