package fixturegen

import (
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Addresses used by the samples (RFC 3849 / RFC 5737 documentation ranges).
var (
	mag1  = netip.MustParseAddr("2001:db8:ff::2")  // MAG / MAAR1 Proxy-CoA
	mag2  = netip.MustParseAddr("2001:db8:ff::3")  // MAG2 / MAAR2
	lma   = netip.MustParseAddr("2001:db8:ff::1")  // LMA / CMD
	mnHoA = netip.MustParseAddr("2001:db8:1::100") // MIPv6 mobile node home address
	mnCoA = netip.MustParseAddr("2001:db8:2::100") // its care-of address
	ha    = netip.MustParseAddr("2001:db8:1::1")   // home agent
	cn    = netip.MustParseAddr("2001:db8:3::7")   // correspondent node
	mag4  = netip.MustParseAddr("192.0.2.2")       // MAG IPv4 Proxy-CoA (RFC 5844)
	lma4  = netip.MustParseAddr("192.0.2.1")       // LMA IPv4 address

	hnp1 = netip.MustParsePrefix("2001:db8:1:1::/64")
	hnp2 = netip.MustParsePrefix("2001:db8:2:2::/64")

	mnMAC = []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	// tsBase is the time in the Timestamp options: 2026-01-01 00:00:00.5 UTC.
	tsBase = time.Date(2026, 1, 1, 0, 0, 0, 500_000_000, time.UTC)
)

func a(s string) netip.Addr { return netip.MustParseAddr(s) }

func opts(o ...mh.Option) mh.Options { return mh.Options(o) }

// Corpus returns the files of the corpus and their samples.
func Corpus() []File {
	return []File{
		{Name: "pmipv6-core.pcap", Description: "RFC 5213 Proxy Binding Update / Acknowledgement flows: initial attach, " +
			"re-registration, handover between MAGs, de-registration and rejections; MN-ID subtypes, Vendor-Specific " +
			"and Service Selection options.", Samples: pmipv6Core()},
		{Name: "pmipv6-ext.pcap", Description: "PMIPv6 extensions: Localized Routing (RFC 6705), Update Notification " +
			"(RFC 7077), LMA runtime assignment (RFC 6463 Redirect), Access Network Identifier (RFC 6757), Delegated " +
			"MNP (RFC 7148) and LMA User-Plane Address (RFC 7389).", Samples: pmipv6Ext()},
		{Name: "mipv6-base.pcap", Description: "RFC 6275 Mobile IPv6 messages and options (return routability, " +
			"home registration, Binding Error), NEMO, MCoA, DSMIPv6 IPv4 options (RFC 5555), Home Agent Switch and the " +
			"Experimental message and option.", Samples: mipv6Base()},
		{Name: "revocation-heartbeat.pcap", Description: "RFC 5846 Binding Revocation (BRI/BRA, per-MN and global) " +
			"and RFC 5847 Heartbeat (request, response with Restart Counter, unsolicited response).", Samples: revocationHeartbeat()},
		{Name: "fmip-handover.pcap", Description: "RFC 5568 FMIPv6 messages (FBU, FBack, FNA) and the RFC 5949 PMIPv6 " +
			"fast handover (HI/HAck with P=1 and the Context Request, LMA Address and MN Link-local Address IID " +
			"options).", Samples: fmipHandover()},
		{Name: "dmm-rfc8885.pcap", Description: "RFC 8885 DMM: PBU/PBA with the D flag and the Anchored Prefix, Local " +
			"Prefix, Previous MAAR, Serving MAAR, DLIF Link-Local and DLIF Link-Layer Address options.", Samples: dmmRFC8885()},
		{Name: "dmm-project.pcap", Description: "This project's DMM messages (docs/wire-format.md) in the Experimental " +
			"MH Type 11: Location Query/Reply, Redirect/Redirect Ack, with the Location Query, Routing Location and " +
			"Mobility Context options (default codepoints). tshark knows none of them.", Samples: dmmProject()},
		{Name: "udp5436.pcap", Description: "RFC 5844 IPv4 transport: PBU/PBA in IPv4 UDP port 5436 (checksum 0) " +
			"with the IPv4 Home Address Request/Reply, IPv4 Default-Router Address, IPv4 DHCP Support Mode, GRE Key " +
			"and Alternate IPv4 Care-of Address options, and a Heartbeat.", Samples: udp5436()},
		{Name: "malformed.pcap", Description: "Mobility Headers that a decoder must reject: lengths that run past the " +
			"message, wrong option lengths, truncated headers.", Samples: malformed()},
	}
}

// ---- pmipv6-core ----

func pmipv6Core() []Sample {
	return []Sample{
		{
			Name: "pbu-initial", Description: "MAG1 -> LMA: initial PBU, ALL_ZERO HNP and link-local address (asks the LMA to assign), HI 1, ATT 802.11",
			Src: mag1, Dst: lma, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 1, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				&mh.HomeNetworkPrefix{},
				&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
				&mh.AccessTechnologyType{Value: mh.ATT80211},
				&mh.MNLinkLayerID{LinkLayerID: mnMAC},
				&mh.LinkLocalAddress{},
				mh.NewTimestamp(tsBase),
			)}},
		},
		{
			Name: "pba-initial", Description: "LMA -> MAG1: PBA accepted, HNP 2001:db8:1:1::/64 assigned, link-local address given, lifetime 900 (3600 s)",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: 1, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewHNP(hnp1),
				&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
				&mh.AccessTechnologyType{Value: mh.ATT80211},
				&mh.MNLinkLayerID{LinkLayerID: mnMAC},
				&mh.LinkLocalAddress{Address: a("fe80::1")},
				mh.NewTimestamp(tsBase),
			)}},
		},
		{
			Name: "pbu-reregistration", Description: "MAG1 -> LMA: re-registration, HI 5, the assigned HNP, ATT 802.3",
			Src: mag1, Dst: lma, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 2, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewHNP(hnp1),
				&mh.HandoffIndicator{Value: mh.HIHandoffStateNotChanged},
				&mh.AccessTechnologyType{Value: mh.ATT8023},
				mh.NewTimestamp(tsBase.Add(1800*time.Second)),
			)}},
		},
		{
			Name: "pba-reregistration", Description: "LMA -> MAG1: PBA accepted for the re-registration",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: 2, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewHNP(hnp1),
				&mh.HandoffIndicator{Value: mh.HIHandoffStateNotChanged},
				&mh.AccessTechnologyType{Value: mh.ATT8023},
				mh.NewTimestamp(tsBase.Add(1800*time.Second)),
			)}},
		},
		{
			Name: "pbu-handover-mag2", Description: "MAG2 -> LMA: handover between MAGs (HI 3), two HNPs, NB-IoT ATT, IMSI MN-ID (RFC 8371 subtype 3)",
			Src: mag2, Dst: lma, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 100, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 150, Base: mh.Base{Options: opts(
				&mh.MNIdentifier{Subtype: mh.MNIDIMSI, Identifier: []byte{0x21, 0x43, 0x65, 0x87, 0x09, 0x21, 0x43, 0xf5}},
				mh.NewHNP(hnp1),
				mh.NewHNP(hnp2),
				&mh.HandoffIndicator{Value: mh.HIHandoffBetweenMAGs},
				&mh.AccessTechnologyType{Value: mh.ATTNBIoT},
				&mh.MNLinkLayerID{LinkLayerID: mnMAC},
				mh.NewTimestamp(tsBase.Add(3600*time.Second+250*time.Millisecond)),
			)}},
		},
		{
			Name: "pba-handover-mag2", Description: "LMA -> MAG2: PBA accepted, both HNPs",
			Src: lma, Dst: mag2, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: 100, Lifetime: 150, Base: mh.Base{Options: opts(
				&mh.MNIdentifier{Subtype: mh.MNIDIMSI, Identifier: []byte{0x21, 0x43, 0x65, 0x87, 0x09, 0x21, 0x43, 0xf5}},
				mh.NewHNP(hnp1),
				mh.NewHNP(hnp2),
				&mh.HandoffIndicator{Value: mh.HIHandoffBetweenMAGs},
				&mh.AccessTechnologyType{Value: mh.ATTNBIoT},
				&mh.MNLinkLayerID{LinkLayerID: mnMAC},
				mh.NewTimestamp(tsBase.Add(3600*time.Second+250*time.Millisecond)),
			)}},
		},
		{
			Name: "pbu-deregistration", Description: "MAG1 -> LMA: de-registration (lifetime 0)",
			Src: mag1, Dst: lma, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 3, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 0, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewHNP(hnp1),
				&mh.HandoffIndicator{Value: mh.HIHandoffStateUnknown},
				&mh.AccessTechnologyType{Value: mh.ATT80211},
				mh.NewTimestamp(tsBase.Add(3700*time.Second)),
			)}},
		},
		{
			Name: "pba-deregistration", Description: "LMA -> MAG1: de-registration acknowledged (lifetime 0)",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: 3, Lifetime: 0, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewHNP(hnp1),
				&mh.HandoffIndicator{Value: mh.HIHandoffStateUnknown},
				&mh.AccessTechnologyType{Value: mh.ATT80211},
				mh.NewTimestamp(tsBase.Add(3700*time.Second)),
			)}},
		},
		{
			Name: "pba-reject-missing-hnp", Description: "LMA -> MAG1: PBA rejected, status 158 MISSING_HOME_NETWORK_PREFIX_OPTION",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusMissingHNPOption, Flags: mh.BAFlagP, Sequence: 4, Base: mh.Base{Options: opts(
				mh.NewNAI("mn2@example.net"),
			)}},
		},
		{
			Name: "pba-reject-timestamp", Description: "LMA -> MAG1: PBA rejected, status 156 TIMESTAMP_MISMATCH, with the LMA's current time",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusTimestampMismatch, Flags: mh.BAFlagP, Sequence: 5, Base: mh.Base{Options: opts(
				mh.NewNAI("mn2@example.net"),
				&mh.HomeNetworkPrefix{},
				mh.NewTimestamp(tsBase.Add(7200*time.Second)),
			)}},
		},
		{
			Name: "pbu-vendor-specific", Description: "MAG1 -> LMA: PBU with an IPv6-address MN-ID (RFC 8371 subtype 2), a Vendor-Specific option (vendor 32473, RFC 5612) and Service Selection",
			Src: mag1, Dst: lma, Transport: IPv6,
			TsharkQuirk: &TsharkQuirk{Expert: "Trailing stray characters",
				Why: "tshark 4.0 knows only the NAI MN-ID subtype and reads the 16-octet IPv6 address (RFC 8371 subtype 2) as a string"},
			Msg: &mh.BindingUpdate{Sequence: 7, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewMNIDIPv6(a("2001:db8:77::1")),
				&mh.HomeNetworkPrefix{},
				&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
				&mh.AccessTechnologyType{Value: mh.ATTEUTRAN},
				&mh.VendorSpecific{VendorID: 32473, SubType: 1, Data: []byte{0x01, 0x02, 0x03}},
				mh.NewServiceSelection("ims.example"),
			)}},
		},
		{
			Name: "pba-empty-mnid", Description: "LMA -> MAG1: PBA rejected, status 160 MISSING_MN_IDENTIFIER_OPTION, zero-length MN-ID (RFC 5213 §5.3.6)",
			Src: lma, Dst: mag1, Transport: IPv6,
			TsharkQuirk: &TsharkQuirk{Expert: "Mobile Node Identifier (with option length = 0 bytes; should be >= 2)",
				Why: "tshark 4.0 rejects the zero-length MN-ID that RFC 5213 §5.3.6 puts in a PBA answering a PBU without one, and stops (Malformed Packet)", HeaderOnly: true},
			Msg: &mh.BindingAck{Status: mh.StatusMissingMNIdentifierOption, Flags: mh.BAFlagP, Sequence: 6, Base: mh.Base{Options: opts(
				&mh.MNIdentifier{Empty: true},
			)}},
		},
	}
}

// ---- mipv6-base ----

func mipv6Base() []Sample {
	return append([]Sample{
		{
			Name: "bu-mipv6-home", Description: "MN -> HA: MIPv6 home registration BU (A, H, K) with Alternate CoA, Nonce Indices and Binding Authorization Data",
			Src: mnCoA, Dst: ha, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 10, Flags: mh.BUFlagA | mh.BUFlagH | mh.BUFlagK, Lifetime: 300, Base: mh.Base{Options: opts(
				&mh.AlternateCoA{Address: mnCoA},
				&mh.NonceIndices{HomeNonceIndex: 0x1234, CareOfNonceIndex: 0x5678},
				&mh.BindingAuthData{Authenticator: []byte{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac}},
			)}},
		},
		{
			Name: "ba-mipv6-home", Description: "HA -> MN: BA accepted with Binding Refresh Advice",
			Src: ha, Dst: mnCoA, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagK, Sequence: 10, Lifetime: 300, Base: mh.Base{Options: opts(
				&mh.BindingRefreshAdvice{RefreshInterval: 150},
			)}},
		},
		{
			Name: "bu-nemo", Description: "MR -> HA: NEMO BU (A, H, R) with a Mobile Network Prefix (RFC 3963)",
			Src: mnCoA, Dst: ha, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 11, Flags: mh.BUFlagA | mh.BUFlagH | mh.BUFlagR, Lifetime: 300, Base: mh.Base{Options: opts(
				mh.NewMNP(netip.MustParsePrefix("2001:db8:10::/48")),
			)}},
		},
		{
			Name: "bu-mcoa", Description: "MN -> HA: Multiple CoA BU with two Binding Identifier options (RFC 5648), IPv6 and IPv4 care-of addresses",
			Src: mnCoA, Dst: ha, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 12, Flags: mh.BUFlagA | mh.BUFlagH, Lifetime: 300, Base: mh.Base{Options: opts(
				&mh.BindingIdentifier{BID: 1, Priority: 10, CareOf: mnCoA},
				&mh.BindingIdentifier{BID: 2, H: true, Priority: 20, CareOf: a("198.51.100.7")},
				&mh.BindingIdentifier{BID: 3},
			)}},
		},
		{
			Name: "bu-fmip-options", Description: "MN -> HA: BU carrying the FMIPv6 MH Link-Layer Address (code 2, the MN's LLA), MH IPv6 Address/Prefix and an Experimental Mobility Option (RFC 5096)",
			Src: mnCoA, Dst: ha, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 13, Flags: mh.BUFlagA | mh.BUFlagH, Lifetime: 60, Base: mh.Base{Options: opts(
				&mh.MHLinkLayerAddress{OptionCode: mh.LLACodeMN, LLA: mnMAC},
				&mh.MHIPv6AddressPrefix{OptionCode: mh.APCodeNewCoA, PrefixLength: 128, Address: mnCoA},
				&mh.ExperimentalOption{Data: []byte{0xde, 0xad, 0xbe, 0xef}},
			)}},
		},
	}, mipv6Extra()...)
}

// ---- dmm-rfc8885 ----

func dmmRFC8885() []Sample {
	pmaar := mag1
	smaar := mag2
	cmd := lma
	return []Sample{
		{
			Name: "dmm-pbu-maar-to-cmd", Description: "MAAR1 -> CMD: initial PBU with D flag and an Anchored Prefix (RFC 8885 §3.1)",
			Src: pmaar, Dst: cmd, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 1, Flags: mh.BUFlagA | mh.BUFlagP | mh.BUFlagD, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewAnchoredPrefix(hnp1),
				mh.NewLocalPrefix(netip.MustParsePrefix("2001:db8:aaaa::/64")),
				&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
				&mh.AccessTechnologyType{Value: mh.ATT80211},
				mh.NewTimestamp(tsBase),
			)}},
		},
		{
			Name: "dmm-pba-cmd-to-maar", Description: "CMD -> MAAR2: PBA with D flag and a Previous MAAR option (P-MAAR and the prefix it anchors)",
			Src: cmd, Dst: smaar, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP | mh.BAFlagD, Sequence: 2, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewPreviousMAAR(pmaar, hnp1),
				mh.NewTimestamp(tsBase.Add(60*time.Second)),
			)}},
		},
		{
			Name: "dmm-pbu-cmd-to-pmaar", Description: "CMD -> P-MAAR: PBU with D flag and the Serving MAAR option (RFC 8885 §3.2)",
			Src: cmd, Dst: pmaar, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 3, Flags: mh.BUFlagA | mh.BUFlagP | mh.BUFlagD, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewAnchoredPrefix(hnp1),
				&mh.ServingMAAR{Address: smaar},
			)}},
		},
		{
			Name: "dmm-pba-pmaar-dlif", Description: "P-MAAR -> CMD: PBA with D flag, the DLIF Link-Local Address and DLIF Link-Layer Address options",
			Src: pmaar, Dst: cmd, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP | mh.BAFlagD, Sequence: 3, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewAnchoredPrefix(hnp1),
				&mh.DLIFLinkLocalAddress{Address: a("fe80::aa")},
				&mh.DLIFLinkLayerAddress{Address: []byte{0x02, 0x00, 0x00, 0x00, 0xaa, 0x01}},
			)}},
		},
	}
}

// ---- malformed ----

func malformed() []Sample {
	return []Sample{
		{
			Name: "bad-option-overrun", Description: "PBU whose HNP option Length (30) runs past the end of the message",
			Src: mag1, Dst: lma, Transport: IPv6,
			Raw: []byte{
				59, 3, 5, 0, 0, 0, // Header Len 3 (32 octets), MH Type 5, checksum (computed)
				0x00, 0x01, 0x82, 0x00, 0x03, 0x84, // Sequence 1, flags A|P, Lifetime 900
				22, 30, 0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, // HNP, Length 30: 12 octets too many
			},
			Err:    &ErrorSpec{Kind: "OptionError", Is: mh.ErrInvalidLength, Substring: "runs 12 octets past the end"},
			Tshark: "Home Network Prefix (option length = 30 bytes says option goes past end of options)",
		},
		{
			Name: "bad-hnp-length", Description: "PBU whose HNP option has Length 10 instead of 18 (the option fits in the message)",
			Src: mag1, Dst: lma, Transport: IPv6,
			Raw: []byte{
				59, 3, 5, 0, 0, 0, // Header Len 3 (32 octets), MH Type 5
				0x00, 0x02, 0x82, 0x00, 0x03, 0x84, // Sequence 2, A|P, Lifetime 900
				22, 10, 0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 1, // HNP, Length 10 (want 18)
				1, 6, 0, 0, 0, 0, 0, 0, // PadN 8
			},
			Err:    &ErrorSpec{Kind: "OptionError", Is: mh.ErrInvalidLength, Substring: "Home Network Prefix length 10, want 18"},
			Tshark: "Home Network Prefix (with option length = 10 bytes; should be 18)",
		},
		{
			Name: "bad-timestamp-length", Description: "PBA whose Timestamp option has Length 6 instead of 8",
			Src: lma, Dst: mag1, Transport: IPv6,
			Raw: []byte{
				59, 2, 6, 0, 0, 0, // Header Len 2 (24 octets), MH Type 6
				0x00, 0x20, 0x00, 0x03, 0x03, 0x84, // Status 0, P, Sequence 3, Lifetime 900
				0, 0, // Pad1 Pad1
				27, 6, 0, 0, 0x69, 0x55, 0xb3, 0x80, // Timestamp, Length 6 (want 8)
				0, 0, // Pad1 Pad1
			},
			Err:    &ErrorSpec{Kind: "OptionError", Is: mh.ErrInvalidLength, Substring: "Timestamp length 6, want 8"},
			Tshark: "Timestamp (with option length = 6 bytes; should be 8)",
		},
		{
			Name: "bad-header-len-long", Description: "PBU whose Header Len (5: 48 octets) is longer than the 24 octets sent",
			Src: mag1, Dst: lma, Transport: IPv6,
			Raw: []byte{
				59, 5, 5, 0, 0, 0, // Header Len 5 (48 octets) but 24 follow
				0x00, 0x04, 0x82, 0x00, 0x03, 0x84, // Sequence 4, A|P, Lifetime 900
				23, 2, 0, 1, // HI 1
				24, 2, 0, 4, // ATT 4
				1, 2, 0, 0, // PadN 4
			},
			Err:    &ErrorSpec{Kind: "HeaderError", Is: mh.ErrTooShort, Substring: "says 48 octets, only 24 present"},
			Tshark: "Malformed Packet",
		},
		{
			Name: "bad-header-len-short", Description: "PBU of 8 octets (Header Len 0): shorter than the 12 of the Binding Update's fixed part",
			Src: mag1, Dst: lma, Transport: IPv6,
			Raw: []byte{
				59, 0, 5, 0, 0, 0, // Header Len 0 (8 octets), MH Type 5
				0x00, 0x05, // Sequence 5, then nothing
			},
			Err:    &ErrorSpec{Kind: "HeaderError", Is: mh.ErrTooShort, Substring: "shorter than the 12 of the message's fixed part"},
			Tshark: "Malformed Packet",
		},
		{
			Name: "bad-truncated-option-header", Description: "PBA whose last octet is the Type of an option with no Length octet",
			Src: lma, Dst: mag1, Transport: IPv6,
			Raw: []byte{
				59, 1, 6, 0, 0, 0, // Header Len 1 (16 octets), MH Type 6
				0x00, 0x20, 0x00, 0x06, 0x03, 0x84, // Status 0, P, Sequence 6, Lifetime 900
				0, 0, 0, // Pad1 x3
				23, // HI Type octet, no Length
			},
			Err:    &ErrorSpec{Kind: "OptionError", Is: mh.ErrTooShort, Substring: "option header needs 2 octets, have 1"},
			Tshark: "Handoff Indicator (length byte past end of options)",
		},
		{
			Name: "bad-udp-option-overrun", Description: "PBU over IPv4 UDP 5436 whose MN-ID Length (40) runs past the end of the message",
			Src: mag4, Dst: lma4, Transport: UDP4,
			Raw: []byte{
				59, 2, 5, 0, 0, 0, // Header Len 2 (24 octets), MH Type 5, checksum 0 over UDP
				0x00, 0x07, 0x82, 0x00, 0x03, 0x84, // Sequence 7, A|P, Lifetime 900
				8, 40, 1, 'm', 'n', '1', '@', 'e', 'x', 'a', 'm', 'p', // MN-ID, Length 40: 30 too many
			},
			Err:    &ErrorSpec{Kind: "OptionError", Is: mh.ErrInvalidLength, Substring: "runs 30 octets past the end"},
			Tshark: "Mobile Node Identifier (option length = 40 bytes says option goes past end of options)",
		},
	}
}
