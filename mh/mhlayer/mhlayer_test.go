package mhlayer_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/pmipdmm/pmipdmm/mh/mhlayer"
)

// hexBytes turns an annotated hex dump into octets: everything after "//"
// on a line is a comment, white space is ignored.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

// The frames below are copied octet for octet from the captures in
// ../shared/fixtures/crafted (TestFramesMatchCaptures checks it).

// pbuFrame is frame 1 of crafted/pbu_pba_scapy.pcap.
const pbuFrame = `
	020000000001 020000000002 86dd // Ethernet: dst, src, IPv6
	60000000     // IPv6 version 6, TC 0, flow 0
	0050 87 40   // payload length 80, Next Header 135 (MH), hop limit 64
	20010db8010000000000000000000002 // src 2001:db8:100::2 (MAG)
	20010db8010000000000000000000001 // dst 2001:db8:100::1 (LMA)
	3b 09 05 00  // MH: Payload Proto 59, Header Len 9 (80 octets), Type 5 (BU), Reserved
	c44b         // Checksum
	1234         // Sequence # 0x1234
	8200         // Flags A|P
	0384         // Lifetime 900 x 4 s
	08 10 01 6d6e31406578616d706c652e6e6574 // @12 MN-ID NAI "mn1@example.net"
	01 04 00000000                          // @30 PadN 6
	16 12 00 40 20010db8000100000000000000000000 // @36 HNP 2001:db8:1::/64 (8n+4)
	17 02 00 01                             // @56 HI 1 (attachment over a new interface)
	18 02 00 04                             // @60 ATT 4 (IEEE 802.11)
	01 00                                   // @64 PadN 2
	1b 08 00006553f100 8000                 // @66 Timestamp (8n+2): 1700000000.5 s
	01 02 0000                              // @76 PadN 4: to 80 octets
`

// pbaFrame is frame 2 of crafted/pbu_pba_scapy.pcap.
const pbaFrame = `
	020000000002 020000000001 86dd
	60000000 0050 87 40
	20010db8010000000000000000000001 // src (LMA)
	20010db8010000000000000000000002 // dst (MAG)
	3b 09 06 00  // MH: Payload Proto 59, Header Len 9, Type 6 (BA), Reserved
	452c         // Checksum
	00           // Status 0 (accepted)
	20           // Flags P
	1234         // Sequence # 0x1234
	0384         // Lifetime 900 x 4 s
	08 10 01 6d6e31406578616d706c652e6e6574      // @12 MN-ID NAI
	01 04 00000000                               // @30 PadN 6
	16 12 00 40 20010db8000100000000000000000000 // @36 HNP
	17 02 00 01                                  // @56 HI 1
	18 02 00 04                                  // @60 ATT 4
	01 00                                        // @64 PadN 2
	1b 08 00006553f100 8000                      // @66 Timestamp
	01 02 0000                                   // @76 PadN 4
`

// udpFrame is frame 1 of crafted/mh_udp5436.pcap (RFC 5844 IPv4 transport).
const udpFrame = `
	02fc00000005 02fc00000001 0800 // Ethernet: dst, src, IPv4
	45 00 0044 0001 0000 40 11 f6a4 // IPv4: IHL 5, total 68, id 1, TTL 64, UDP, header checksum
	c0000202 c0000201               // 192.0.2.2 -> 192.0.2.1
	153c 153c 0030 cb69             // UDP 5436 -> 5436, length 48, checksum
	3b 04 05 00 0000                // MH: Payload Proto 59, Header Len 4 (40 octets), BU, checksum 0 (RFC 5844 §4.1.3)
	000c 8200 0064                  // Sequence 12, Flags A|P, Lifetime 100
	08 10 01 6d6e31406578616d706c652e6e6574 // @12 MN-ID NAI "mn1@example.net"
	24 06 0000 00000000             // @30 IPv4 HoA Request (36): prefix length 0, 0.0.0.0 (not 4n-aligned: scapy)
	01 00                           // @38 PadN 2
`

var (
	mag = netip.MustParseAddr("2001:db8:100::2")
	lma = netip.MustParseAddr("2001:db8:100::1")
)

// pmipOptions are the options of both messages of pbu_pba_scapy.pcap, in
// wire order, padding included.
func pmipOptions() mh.Options {
	return mh.Options{
		&mh.MNIdentifier{Subtype: mh.MNIDNAI, Identifier: []byte("mn1@example.net")},
		&mh.PadN{Data: []byte{0, 0, 0, 0}},
		&mh.HomeNetworkPrefix{PrefixLength: 64, Prefix: netip.MustParseAddr("2001:db8:1::")},
		&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
		&mh.AccessTechnologyType{Value: mh.ATT80211},
		&mh.PadN{},
		&mh.Timestamp{Value: 0x6553f1008000},
		&mh.PadN{Data: []byte{0, 0}},
	}
}

func wantPBU() mh.Message {
	return &mh.BindingUpdate{
		Base: mh.Base{
			Header:     mh.Header{PayloadProto: 59, HeaderLen: 9, Checksum: 0xc44b},
			Options:    pmipOptions(),
			KeepLayout: true,
		},
		Sequence: 0x1234, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 900,
	}
}

func wantPBA() mh.Message {
	return &mh.BindingAck{
		Base: mh.Base{
			Header:     mh.Header{PayloadProto: 59, HeaderLen: 9, Checksum: 0x452c},
			Options:    pmipOptions(),
			KeepLayout: true,
		},
		Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: 0x1234, Lifetime: 900,
	}
}

// checkUDPBU checks the BU of udpFrame field by field. Option 36 is
// checked by type and octets only, so that the test holds whether or not
// the codec has a typed form for it.
func checkUDPBU(t *testing.T, m mh.Message) {
	t.Helper()
	bu, ok := m.(*mh.BindingUpdate)
	if !ok {
		t.Fatalf("message is %T, want *mh.BindingUpdate", m)
	}
	if bu.Header != (mh.Header{PayloadProto: 59, HeaderLen: 4}) || bu.Sequence != 12 ||
		bu.Flags != mh.BUFlagA|mh.BUFlagP || bu.Lifetime != 100 || !bu.KeepLayout || bu.Quirks != 0 {
		t.Errorf("BU fields: %+v", bu)
	}
	if len(bu.Options) != 3 {
		t.Fatalf("%d options, want 3 (MN-ID, IPv4 HoA Request, PadN)", len(bu.Options))
	}
	if !reflect.DeepEqual(bu.Options[0], &mh.MNIdentifier{Subtype: mh.MNIDNAI, Identifier: []byte("mn1@example.net")}) {
		t.Errorf("option 0 = %#v", bu.Options[0])
	}
	o := bu.Options[1]
	b := make([]byte, o.MarshalLen())
	if o.OptionType() != 36 || o.MarshalTo(b) != nil || !bytes.Equal(b, []byte{0x24, 6, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("option 1 = %#v, encodes as % x", o, b)
	}
	if !reflect.DeepEqual(bu.Options[2], &mh.PadN{}) {
		t.Errorf("option 2 = %#v, want PadN 2", bu.Options[2])
	}
}

type frameCase struct {
	name       string
	frame      string
	layers     []gopacket.LayerType
	udp        bool
	mhOffset   int // offset of the MH in the frame
	checkMsg   func(t *testing.T, m mh.Message)
	checksum   uint16
	src, dst   netip.Addr
	msgSummary string
}

func deepCheck(want func() mh.Message) func(t *testing.T, m mh.Message) {
	return func(t *testing.T, m mh.Message) {
		t.Helper()
		if w := want(); !reflect.DeepEqual(m, w) {
			t.Errorf("message:\n got %s\nwant %s", describe(m), describe(w))
		}
	}
}

var frameCases = []frameCase{
	{name: "PBU", frame: pbuFrame, mhOffset: 54, checksum: 0xc44b, src: mag, dst: lma,
		layers:   []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeIPv6, mhlayer.LayerTypeMobilityHeader},
		checkMsg: deepCheck(wantPBU)},
	{name: "PBA", frame: pbaFrame, mhOffset: 54, checksum: 0x452c, src: lma, dst: mag,
		layers:   []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeIPv6, mhlayer.LayerTypeMobilityHeader},
		checkMsg: deepCheck(wantPBA)},
	{name: "PBU over UDP 5436", frame: udpFrame, mhOffset: 42, udp: true,
		layers:   []gopacket.LayerType{layers.LayerTypeEthernet, layers.LayerTypeIPv4, layers.LayerTypeUDP, mhlayer.LayerTypeMobilityHeader},
		checkMsg: checkUDPBU},
}

// describe prints a message with its options dereferenced.
func describe(m mh.Message) string {
	if m == nil {
		return "<nil>"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%T%+v options:", m, m)
	for _, o := range m.MHBase().Options {
		fmt.Fprintf(&sb, " %T%+v", o, o)
	}
	return sb.String()
}

func layerTypes(p gopacket.Packet) []gopacket.LayerType {
	var out []gopacket.LayerType
	for _, l := range p.Layers() {
		out = append(out, l.LayerType())
	}
	return out
}

func TestRegistration(t *testing.T) {
	if got := layers.IPProtocol(135).LayerType(); got != mhlayer.LayerTypeMobilityHeader {
		t.Errorf("IPProtocol(135).LayerType() = %v", got)
	}
	if got := layers.IPProtocol(135).String(); got != "MobilityHeader" {
		t.Errorf("IPProtocol(135).String() = %q", got)
	}
	if got := layers.UDPPort(5436).LayerType(); got != mhlayer.LayerTypeMobilityHeader {
		t.Errorf("UDPPort(5436).LayerType() = %v", got)
	}
	if n := int(mhlayer.LayerTypeMobilityHeader); n < 1000 || n > 1999 {
		t.Errorf("layer type number %d outside the user range 1000-1999", n)
	}
	if got := mhlayer.LayerTypeMobilityHeader.String(); got != "MobilityHeader" {
		t.Errorf("layer type name %q", got)
	}
}

func TestNewPacketFixtures(t *testing.T) {
	for _, c := range frameCases {
		t.Run(c.name, func(t *testing.T) {
			frame := hexBytes(t, c.frame)
			p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.DecodeOptions{SkipDecodeRecovery: true})
			if el := p.ErrorLayer(); el != nil {
				t.Fatalf("error layer: %v", el.Error())
			}
			if got := layerTypes(p); !reflect.DeepEqual(got, c.layers) {
				t.Fatalf("layers %v, want %v", got, c.layers)
			}
			l, ok := p.Layer(mhlayer.LayerTypeMobilityHeader).(*mhlayer.MobilityHeader)
			if !ok {
				t.Fatalf("no *MobilityHeader layer")
			}
			c.checkMsg(t, l.Message)
			if l.UDP != c.udp {
				t.Errorf("UDP = %v, want %v", l.UDP, c.udp)
			}
			if !bytes.Equal(l.LayerContents(), frame[c.mhOffset:]) || len(l.LayerPayload()) != 0 {
				t.Errorf("contents % x, payload % x", l.LayerContents(), l.LayerPayload())
			}
			if l.NextLayerType() != gopacket.LayerTypeZero {
				t.Errorf("NextLayerType %v, want none", l.NextLayerType())
			}
			if !c.udp && !mh.VerifyChecksum(c.src, c.dst, l.LayerContents()) {
				t.Errorf("captured checksum does not verify")
			}
			if s := p.String(); !strings.Contains(s, "MobilityHeader") {
				t.Errorf("packet String() lacks the layer:\n%s", s)
			}
		})
	}
}

// serializeAll re-serializes every layer of p.
func serializeAll(t *testing.T, p gopacket.Packet, opts gopacket.SerializeOptions) []byte {
	t.Helper()
	var sl []gopacket.SerializableLayer
	for _, l := range p.Layers() {
		s, ok := l.(gopacket.SerializableLayer)
		if !ok {
			t.Fatalf("layer %v is not serializable", l.LayerType())
		}
		sl = append(sl, s)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, opts, sl...); err != nil {
		t.Fatalf("SerializeLayers: %v", err)
	}
	return buf.Bytes()
}

func TestReserialize(t *testing.T) {
	for _, c := range frameCases {
		t.Run(c.name, func(t *testing.T) {
			frame := hexBytes(t, c.frame)
			p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
			l := p.Layer(mhlayer.LayerTypeMobilityHeader).(*mhlayer.MobilityHeader)
			if ip6, ok := p.NetworkLayer().(*layers.IPv6); ok {
				if err := l.SetNetworkLayerForChecksum(ip6); err != nil {
					t.Fatal(err)
				}
			}
			if udp, ok := p.TransportLayer().(*layers.UDP); ok {
				if err := udp.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
					t.Fatal(err)
				}
			}
			// As decoded, with nothing recomputed.
			if got := serializeAll(t, p, gopacket.SerializeOptions{}); !bytes.Equal(got, frame) {
				t.Errorf("plain re-serialization:\n got % x\nwant % x", got, frame)
			}
			// Lengths and checksums recomputed from a zeroed Header Len
			// and Checksum: the captured values come back.
			base := l.Message.MHBase()
			base.Checksum, base.HeaderLen = 0xdead, 0
			got := serializeAll(t, p, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true})
			if !bytes.Equal(got, frame) {
				t.Errorf("re-serialization with FixLengths and ComputeChecksums:\n got % x\nwant % x", got, frame)
			}
			if base.Checksum != c.checksum || base.HeaderLen != frame[c.mhOffset+1] {
				t.Errorf("after serializing, Header %+v: want Checksum %#04x, Header Len %d", base.Header, c.checksum, frame[c.mhOffset+1])
			}
			// Without the options, the fields are written as they stand.
			base.Checksum, base.HeaderLen = 0xbeef, 0x21
			got = serializeAll(t, p, gopacket.SerializeOptions{})
			mhb := got[c.mhOffset:]
			if mhb[1] != 0x21 || mhb[4] != 0xbe || mhb[5] != 0xef {
				t.Errorf("without FixLengths/ComputeChecksums got Header Len %#x, Checksum %#x", mhb[1], mhb[4:6])
			}
		})
	}
}

func TestSerializeNew(t *testing.T) {
	// A PBU built by hand, serialized in an IPv6 packet: the checksum
	// verifies and the packet decodes back to the same message.
	msg := &mh.BindingUpdate{Sequence: 7, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 100, Base: mh.Base{Options: mh.Options{
		mh.NewHNP(netip.MustParsePrefix("2001:db8:1::/64")),
		mh.NewNAI("mn1@example.org"),
	}}}
	ip6 := &layers.IPv6{Version: 6, NextHeader: 135, HopLimit: 64, SrcIP: mag.AsSlice(), DstIP: lma.AsSlice()}
	l := &mhlayer.MobilityHeader{Message: msg}
	if err := l.SetNetworkLayerForChecksum(ip6); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip6, l); err != nil {
		t.Fatal(err)
	}
	pkt := buf.Bytes()
	mhb := pkt[40:]
	// HNP at 12 (8n+4), MN-ID at 32 (18 octets), PadN 6 to 56.
	if len(mhb) != 56 || mhb[1] != 6 || mhb[0] != 59 || mhb[12] != 22 || mhb[32] != 8 || mhb[50] != 1 {
		t.Fatalf("MH % x: want 56 octets, Header Len 6, Payload Proto 59, HNP @12, MN-ID @32, PadN @50", mhb)
	}
	if !mh.VerifyChecksum(mag, lma, mhb) || msg.Checksum == 0 {
		t.Errorf("checksum %#04x does not verify", msg.Checksum)
	}
	p := gopacket.NewPacket(pkt, layers.LayerTypeIPv6, gopacket.Default)
	if p.ErrorLayer() != nil {
		t.Fatalf("decoding back: %v", p.ErrorLayer().Error())
	}
	back := p.Layer(mhlayer.LayerTypeMobilityHeader).(*mhlayer.MobilityHeader).Message.(*mh.BindingUpdate)
	if back.Sequence != 7 || back.Checksum != msg.Checksum || len(back.Options) != 3 { // HNP, MN-ID, Pad1/PadN
		t.Errorf("decoded back %+v", back)
	}
	hnp, ok := mh.Find[*mh.HomeNetworkPrefix](back.Options)
	if !ok || hnp.Prefix != netip.MustParseAddr("2001:db8:1::") || hnp.PrefixLength != 64 {
		t.Errorf("HNP %+v", hnp)
	}
}

func TestSerializeErrors(t *testing.T) {
	msg := &mh.BindingUpdate{Sequence: 1}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	l := &mhlayer.MobilityHeader{Message: msg}
	if err := l.SerializeTo(gopacket.NewSerializeBuffer(), opts); err == nil {
		t.Errorf("ComputeChecksums without a network layer succeeded")
	}
	if err := l.SetNetworkLayerForChecksum(&layers.IPv4{}); err == nil {
		t.Errorf("SetNetworkLayerForChecksum(IPv4) succeeded")
	}
	if err := (&mhlayer.MobilityHeader{}).SerializeTo(gopacket.NewSerializeBuffer(), opts); err == nil {
		t.Errorf("serializing a layer without a message succeeded")
	}
	// Over UDP the checksum is 0 whatever the message holds (RFC 5844 §4.1.3).
	msg.Checksum = 0x1234
	l.UDP = true
	buf := gopacket.NewSerializeBuffer()
	if err := l.SerializeTo(buf, opts); err != nil {
		t.Fatal(err)
	}
	if b := buf.Bytes(); len(b) != 16 || b[4] != 0 || b[5] != 0 || msg.Checksum != 0 {
		t.Errorf("UDP serialization % x, Checksum %#x: want 16 octets with checksum 0", b, msg.Checksum)
	}
}

func TestDecodingLayerParser(t *testing.T) {
	var (
		eth  layers.Ethernet
		ip4  layers.IPv4
		ip6  layers.IPv6
		udp  layers.UDP
		mhl  mhlayer.MobilityHeader
		pay  gopacket.Payload
		got  []gopacket.LayerType
		once bool
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &udp, &mhl, &pay)
	for round := 0; round < 2; round++ { // the second round decodes into warm values
		for _, c := range frameCases {
			frame := hexBytes(t, c.frame)
			if err := parser.DecodeLayers(frame, &got); err != nil {
				t.Fatalf("%s: DecodeLayers: %v", c.name, err)
			}
			if !reflect.DeepEqual(got, c.layers) {
				t.Fatalf("%s: decoded %v, want %v", c.name, got, c.layers)
			}
			c.checkMsg(t, mhl.Message)
			if !bytes.Equal(mhl.LayerContents(), frame[c.mhOffset:]) {
				t.Errorf("%s: contents % x", c.name, mhl.LayerContents())
			}
		}
		once = true
	}
	if !once {
		t.Fatal("not run")
	}
	frame := hexBytes(t, pbuFrame)
	allocs := testing.AllocsPerRun(100, func() {
		if err := parser.DecodeLayers(frame, &got); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("DecodeLayers of a PBU frame allocates %.1f times per run once warm, want 0", allocs)
	}
}

// mhPacket is an IPv6 packet (no link layer) carrying MH octets.
func mhPacket(b []byte) []byte {
	return pcapio.EthernetIPv6(mag, lma, 135, b)[14:]
}

func TestPayloadAfterMH(t *testing.T) {
	msg := hexBytes(t, `
		3a 01 05 00 0000 // Payload Proto 58 (ICMPv6), Header Len 1 (16 octets), BU
		0001 8200 0010   // Sequence 1, A|P, Lifetime 16
		01 02 0000       // @12 PadN 4
	`)
	tail := []byte{0x80, 0, 0xde, 0xad}
	p := gopacket.NewPacket(mhPacket(append(msg, tail...)), layers.LayerTypeIPv6, gopacket.DecodeOptions{SkipDecodeRecovery: true})
	if p.ErrorLayer() != nil {
		t.Fatalf("error layer: %v", p.ErrorLayer().Error())
	}
	want := []gopacket.LayerType{layers.LayerTypeIPv6, mhlayer.LayerTypeMobilityHeader, gopacket.LayerTypePayload}
	if got := layerTypes(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("layers %v, want %v", got, want)
	}
	l := p.Layer(mhlayer.LayerTypeMobilityHeader).(*mhlayer.MobilityHeader)
	if !bytes.Equal(l.LayerContents(), msg) || !bytes.Equal(l.LayerPayload(), tail) {
		t.Errorf("contents % x, payload % x", l.LayerContents(), l.LayerPayload())
	}
	if pl := p.ApplicationLayer(); pl == nil || !bytes.Equal(pl.Payload(), tail) {
		t.Errorf("application layer %v", pl)
	}
}

func TestLegacyDecoding(t *testing.T) {
	// Header Len 1 (16 octets) but 24 octets follow with Payload Proto 59:
	// the OAI/MAD quirk. Strict decoding fails, legacy accepts it.
	b := hexBytes(t, `
		3b 01 05 00 0000 0001 8200 0010 // BU, Header Len 1
		01 02 0000                      // PadN 4
		01 06 000000000000              // PadN 8 beyond Header Len
	`)
	pkt := mhPacket(b)
	t.Cleanup(func() { mhlayer.SetLegacy(false) })
	for _, legacy := range []bool{false, true} {
		mhlayer.SetLegacy(legacy)
		p := gopacket.NewPacket(pkt, layers.LayerTypeIPv6, gopacket.DecodeOptions{SkipDecodeRecovery: true})
		el := p.ErrorLayer()
		if !legacy {
			var he *mh.HeaderError
			if el == nil || !errors.As(el.Error(), &he) || !errors.Is(el.Error(), mh.ErrInvalidLength) {
				t.Errorf("strict: error layer %v, want a HeaderError (ErrInvalidLength)", el)
			}
			continue
		}
		if el != nil {
			t.Fatalf("legacy: %v", el.Error())
		}
		l := p.Layer(mhlayer.LayerTypeMobilityHeader).(*mhlayer.MobilityHeader)
		if q := l.Message.MHBase().Quirks; q != mh.QuirkHeaderLenTooShort {
			t.Errorf("quirks %v", q)
		}
		if !bytes.Equal(l.LayerContents(), b) || len(l.LayerPayload()) != 0 {
			t.Errorf("contents % x payload % x", l.LayerContents(), l.LayerPayload())
		}
	}
	// The DecodingLayer's own Legacy field.
	var l mhlayer.MobilityHeader
	if err := l.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err == nil {
		t.Errorf("strict DecodeFromBytes succeeded")
	}
	l.Legacy = true
	if err := l.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil || l.Message.MHBase().Quirks != mh.QuirkHeaderLenTooShort {
		t.Errorf("legacy DecodeFromBytes: %v", err)
	}
}

func TestBadMH(t *testing.T) {
	cases := []struct {
		name   string
		mh     string
		legacy bool
		opt    bool // want an *mh.OptionError (else *mh.HeaderError)
		is     error
	}{
		{"4 octets", `3b 00 05 00`, false, false, mh.ErrTooShort},
		{"Header Len past the end", `3b 02 05 00 0000 0001 8200 0010 0000 0000`, false, false, mh.ErrTooShort},
		{"BU shorter than its fixed part", `3b 00 05 00 0000 0001`, false, false, mh.ErrTooShort},
		{"option Length past the end", `3b 01 05 00 0000 0001 8200 0010 16 12 0000`, false, true, mh.ErrInvalidLength},
		{"HNP with a bad length", `3b 01 05 00 0000 0001 8200 0010 16 02 0000`, false, true, nil},
		// tcpdump tests/mobility_opt_asan.pcap frame 2 (truncated; Header Len says 128)
		{"tcpdump asan strict", `02 0f 05 00 90 00 00 74 80 57 0f 00 02 02 02 02 02 02 02 02 02 02 02 02
			01 ee 0b 02 02 02 02 02 02 02 02 02 02 02 02 02 02 02 02 00 00 10`, false, false, mh.ErrTooShort},
		{"tcpdump asan legacy", `02 0f 05 00 90 00 00 74 80 57 0f 00 02 02 02 02 02 02 02 02 02 02 02 02
			01 ee 0b 02 02 02 02 02 02 02 02 02 02 02 02 02 02 02 02 00 00 10`, true, true, mh.ErrInvalidLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := hexBytes(t, c.mh)
			dec := mhlayer.DecodeStrict
			if c.legacy {
				dec = mhlayer.DecodeLegacy
			}
			// gopacket's recovery is on: a codec panic would show as an
			// error layer holding a non-mh error, which fails below.
			p := gopacket.NewPacket(b, dec, gopacket.Default)
			el := p.ErrorLayer()
			if el == nil {
				t.Fatalf("no error layer; layers %v", layerTypes(p))
			}
			err := el.Error()
			var he *mh.HeaderError
			var oe *mh.OptionError
			if c.opt && !errors.As(err, &oe) || !c.opt && !errors.As(err, &he) {
				t.Errorf("error %T %v, want *mh.%s", err, err, map[bool]string{true: "OptionError", false: "HeaderError"}[c.opt])
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if p.Layer(mhlayer.LayerTypeMobilityHeader) != nil {
				t.Errorf("a MobilityHeader layer was added for bad data")
			}
			if !c.legacy { // the same inside an IPv6 packet through Next Header 135
				p := gopacket.NewPacket(mhPacket(b), layers.LayerTypeIPv6, gopacket.Default)
				if p.ErrorLayer() == nil || p.Layer(layers.LayerTypeIPv6) == nil {
					t.Errorf("in IPv6: layers %v, error layer %v", layerTypes(p), p.ErrorLayer())
				}
			}
		})
	}
}
