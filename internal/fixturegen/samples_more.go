package fixturegen

import (
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

var (
	cookie  = []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}
	token   = []byte{0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8}
	mn2NAI  = mh.NewNAI("mn2@example.net")
	hoa4    = a("10.1.0.5")
	r2lma   = a("2001:db8:ff::9")
	nemoNet = netip.MustParsePrefix("2001:db8:10::/48")
)

// mipv6Extra: the rest of mipv6-base.pcap.
func mipv6Extra() []Sample {
	return []Sample{
		{
			Name: "pbu-pad1", Description: "MAG1 -> LMA: PBU whose 12-octet NAI leaves the HNP one octet short of 8n+4, so a Pad1 goes before it",
			Src: mag1, Dst: lma, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 20, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 60, Base: mh.Base{Options: opts(
				mh.NewNAI("mn3@test.net"),
				mh.NewHNP(hnp2),
				&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
				&mh.AccessTechnologyType{Value: mh.ATTVirtual},
			)}},
		},
		{
			Name: "bu-dsmipv6", Description: "MN -> HA: DSMIPv6 BU (RFC 5555) with IPv4 Home Address (P=0, /32) and IPv4 Care-of Address",
			Src: mnCoA, Dst: ha, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 14, Flags: mh.BUFlagA | mh.BUFlagH, Lifetime: 300, Base: mh.Base{Options: opts(
				&mh.IPv4HomeAddress{PrefixLength: 32, Address: a("10.9.0.9")},
				&mh.IPv4CareOfAddress{Address: a("198.51.100.7")},
			)}},
		},
		{
			Name: "ba-dsmipv6", Description: "HA -> MN: DSMIPv6 BA with IPv4 Address Acknowledgement (success) and NAT Detection (F=1, refresh 110 s)",
			Src: ha, Dst: mnCoA, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Sequence: 14, Lifetime: 300, Base: mh.Base{Options: opts(
				&mh.IPv4AddressAck{Status: 0, PrefixLength: 32, Address: a("10.9.0.9")},
				&mh.NATDetection{F: true, RefreshTime: 110},
			)}},
		},
		{
			Name: "brr", Description: "HA -> MN: Binding Refresh Request (no typed form: GenericMessage)",
			Src: ha, Dst: mnHoA, Transport: IPv6,
			Msg: &mh.GenericMessage{Type: mh.TypeBindingRefreshRequest, Data: make([]byte, 2)},
		},
		{
			Name: "hoti", Description: "MN -> CN: Home Test Init, cookie 0102030405060708",
			Src: mnHoA, Dst: cn, Transport: IPv6,
			Msg: &mh.GenericMessage{Type: mh.TypeHomeTestInit, Data: append([]byte{0, 0}, cookie...)},
		},
		{
			Name: "coti", Description: "MN -> CN: Care-of Test Init, cookie 0102030405060708",
			Src: mnCoA, Dst: cn, Transport: IPv6,
			Msg: &mh.GenericMessage{Type: mh.TypeCareOfTestInit, Data: append([]byte{0, 0}, cookie...)},
		},
		{
			Name: "hot", Description: "CN -> MN: Home Test, nonce index 0x1234",
			Src: cn, Dst: mnHoA, Transport: IPv6,
			Msg: &mh.GenericMessage{Type: mh.TypeHomeTest, Data: append(append([]byte{0x12, 0x34}, cookie...), token...)},
		},
		{
			Name: "cot", Description: "CN -> MN: Care-of Test, nonce index 0x5678",
			Src: cn, Dst: mnCoA, Transport: IPv6,
			Msg: &mh.GenericMessage{Type: mh.TypeCareOfTest, Data: append(append([]byte{0x56, 0x78}, cookie...), token...)},
		},
		{
			Name: "be", Description: "CN -> MN: Binding Error status 1 (unknown binding for Home Address destination option)",
			Src: cn, Dst: mnCoA, Transport: IPv6,
			Msg: &mh.BindingError{Status: 1, HomeAddress: mnHoA},
		},
		{
			Name: "has", Description: "HA -> MN: Home Agent Switch (RFC 5142) with two home agent addresses",
			Src: ha, Dst: mnCoA, Transport: IPv6,
			TsharkQuirk: &TsharkQuirk{Expert: "Alternate Care-of Address (length byte past end of options)",
				Why: "tshark 4.0 decodes the addresses right but then looks for options inside the last address (it starts the options before the end of the address list)"},
			Msg: &mh.HomeAgentSwitch{Addresses: []netip.Addr{a("2001:db8:1::2"), a("2001:db8:1::3")}},
		},
		{
			Name: "experimental", Description: "Experimental Mobility Header (RFC 5096): message data ee010203, zero-padded to 8n (it has no options)",
			Src: mnCoA, Dst: ha, Transport: IPv6,
			Msg: &mh.ExperimentalMessage{Data: []byte{0xee, 0x01, 0x02, 0x03}},
		},
	}
}

// ---- pmipv6-ext ----

func pmipv6Ext() []Sample {
	return []Sample{
		{
			Name: "lri", Description: "LMA -> MAG1: Localized Routing Initiation for MN1 and MN2 (RFC 6705), with the MAG IPv6 Address",
			Src: lma, Dst: mag1, Transport: IPv6,
			TsharkQuirk: &TsharkQuirk{Expert: "Context Request (with option length = 0 bytes; should be >= 4)",
				Why: "tshark 4.0 reads the LRI/LRA fixed fields from the first octet of the Mobility Header instead of offset 6, then parses the options 6 octets early", HeaderOnly: true},
			Msg: &mh.LocalizedRoutingInit{Sequence: 40, Lifetime: 600, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"), mh.NewHNP(hnp1),
				mn2NAI, mh.NewHNP(hnp2),
				&mh.MAGIPv6Address{Address: mag1},
			)}},
		},
		{
			Name: "lra", Description: "MAG1 -> LMA: Localized Routing Acknowledgment, status 0",
			Src: mag1, Dst: lma, Transport: IPv6,
			TsharkQuirk: &TsharkQuirk{Expert: "Context Request (with option length = 0 bytes; should be >= 4)",
				Why: "tshark 4.0 reads the LRI/LRA fixed fields from the first octet of the Mobility Header instead of offset 6, then parses the options 6 octets early", HeaderOnly: true},
			Msg: &mh.LocalizedRoutingAck{Sequence: 40, Status: 0, Lifetime: 600, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"), mh.NewHNP(hnp1),
				mn2NAI, mh.NewHNP(hnp2),
			)}},
		},
		{
			Name: "upn", Description: "LMA -> MAG1: Update Notification (RFC 7077), reason 1 FORCE-REREGISTRATION, A flag",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.UpdateNotification{Sequence: 50, Reason: mh.ReasonForceReregistration, Flags: mh.UPNFlagA, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"), mh.NewHNP(hnp1),
			)}},
		},
		{
			Name: "upa", Description: "MAG1 -> LMA: Update Notification Acknowledgement, status 0",
			Src: mag1, Dst: lma, Transport: IPv6,
			Msg: &mh.UpdateNotificationAck{Sequence: 50, Status: 0, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"), mh.NewHNP(hnp1),
			)}},
		},
		{
			Name: "pbu-redirect-capability", Description: "MAG1 -> LMA: initial PBU with Redirect-Capability (RFC 6463), Access Network Identifier (RFC 6757) and Delegated MNP (RFC 7148)",
			Src: mag1, Dst: lma, Transport: IPv6,
			Msg: &mh.BindingUpdate{Sequence: 60, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				&mh.HomeNetworkPrefix{},
				&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
				&mh.AccessTechnologyType{Value: mh.ATT80211},
				&mh.RedirectCapability{},
				&mh.AccessNetworkIdentifier{SubOptions: []mh.ANISubOption{
					mh.NewANINetworkID("ssid-one", "ap-7"),
					mh.NewANIGeoLocation(0x1a2b3c, -0x0a0b0c),
					mh.NewANIOperatorID(mh.ANIOpIDRealm, []byte("example.net")),
				}},
				mh.NewDelegatedMNP(nemoNet),
				mh.NewTimestamp(tsBase),
			)}},
		},
		{
			Name: "pba-redirect", Description: "LMA -> MAG1: PBA redirecting to another LMA (Redirect, IPv6 r2LMA), with Load Information",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: 60, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewHNP(hnp1),
				&mh.RedirectOption{Address: r2lma},
				&mh.LoadInformation{Priority: 1, SessionsInUse: 1000, MaxSessions: 50000, UsedCapacity: 2048, MaximumCapacity: 1048576},
				mh.NewTimestamp(tsBase),
			)}},
		},
		{
			Name: "pba-user-plane", Description: "LMA -> MAG1: PBA with the LMA User-Plane Address (RFC 7389) and the delegated MNP",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: 61, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewHNP(hnp1),
				&mh.LMAUserPlaneAddress{Address: a("2001:db8:fe::1")},
				mh.NewDelegatedMNP(nemoNet),
			)}},
		},
	}
}

// ---- revocation-heartbeat ----

func revocationHeartbeat() []Sample {
	return []Sample{
		{
			Name: "bri-per-mn", Description: "LMA -> MAG1: Binding Revocation Indication, P flag, trigger 2 (inter-MAG handover, same access type), MN-ID and HNP",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.BindingRevocationIndication{Trigger: 2, Sequence: 70, Flags: mh.BRFlagP, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"), mh.NewHNP(hnp1),
			)}},
		},
		{
			Name: "bra-per-mn", Description: "MAG1 -> LMA: Binding Revocation Acknowledgement, success",
			Src: mag1, Dst: lma, Transport: IPv6,
			Msg: &mh.BindingRevocationAck{Status: 0, Sequence: 70, Flags: mh.BRFlagP},
		},
		{
			Name: "bri-global", Description: "LMA -> MAG1: global BRI (P, G), trigger 128 per-peer policy, naming the Proxy-CoA in an Alternate CoA",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.BindingRevocationIndication{Trigger: 128, Sequence: 71, Flags: mh.BRFlagP | mh.BRFlagG, Base: mh.Base{Options: opts(
				mh.NewNAI("mag1@example.net"), &mh.AlternateCoA{Address: mag1},
			)}},
		},
		{
			Name: "bra-partial", Description: "MAG1 -> LMA: BRA status 1 (partial success) with the MN-ID whose binding failed",
			Src: mag1, Dst: lma, Transport: IPv6,
			Msg: &mh.BindingRevocationAck{Status: 1, Sequence: 71, Flags: mh.BRFlagP | mh.BRFlagG, Base: mh.Base{Options: opts(
				mn2NAI,
			)}},
		},
		{
			Name: "heartbeat-request", Description: "MAG1 -> LMA: Heartbeat request (RFC 5847), sequence 1",
			Src: mag1, Dst: lma, Transport: IPv6,
			Msg: &mh.Heartbeat{Sequence: 1},
		},
		{
			Name: "heartbeat-response", Description: "LMA -> MAG1: Heartbeat response (R) with Restart Counter 3",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: 1, Base: mh.Base{Options: opts(&mh.RestartCounter{Counter: 3})}},
		},
		{
			Name: "heartbeat-unsolicited", Description: "LMA -> MAG1: unsolicited Heartbeat response (U, R) after a restart, Restart Counter 4",
			Src: lma, Dst: mag1, Transport: IPv6,
			Msg: &mh.Heartbeat{Flags: mh.HeartbeatFlagU | mh.HeartbeatFlagR, Sequence: 0x10000, Base: mh.Base{Options: opts(&mh.RestartCounter{Counter: 4})}},
		},
	}
}

// ---- fmip-handover ----

func fmipHandover() []Sample {
	return []Sample{
		{
			Name: "fbu", Description: "MN -> PAR: Fast Binding Update (A, H) with the MH Link-Layer Address of the new AP (code 1)",
			Src: mnCoA, Dst: a("2001:db8:2::1"), Transport: IPv6,
			Msg: &mh.FastBindingUpdate{Sequence: 30, Flags: mh.FBUFlagA | mh.FBUFlagH, Lifetime: 60, Base: mh.Base{Options: opts(
				&mh.MHLinkLayerAddress{OptionCode: mh.LLACodeNewAP, LLA: []byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}},
			)}},
		},
		{
			Name: "fback", Description: "PAR -> MN: Fast Binding Acknowledgment, status 0, K",
			Src: a("2001:db8:2::1"), Dst: mnCoA, Transport: IPv6,
			Msg: &mh.FastBindingAck{Status: 0, Flags: mh.FBAckFlagK, Sequence: 30, Lifetime: 60},
		},
		{
			Name: "fna", Description: "MN -> NAR: Fast Neighbor Advertisement (deprecated; no typed form) with the MN's MH Link-Layer Address",
			Src: mnCoA, Dst: a("2001:db8:4::1"), Transport: IPv6,
			Msg: &mh.GenericMessage{Type: mh.TypeFastNeighborAdvert, Data: make([]byte, 2), Base: mh.Base{Options: opts(
				&mh.MHLinkLayerAddress{OptionCode: mh.LLACodeMN, LLA: mnMAC},
			)}},
		},
		{
			Name: "pmip-hi-context-request", Description: "nMAG -> pMAG: RFC 5949 HI (P=1, U=1) with MN-ID and a Context Request for HNP and MN LL-ID",
			Src: mag2, Dst: mag1, Transport: IPv6,
			Msg: &mh.HandoverInitiate{Sequence: 7, Flags: mh.HIFlagU | mh.HIFlagP, Code: 0, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewContextRequest(mh.OptHomeNetworkPrefix, mh.OptMNLinkLayerID),
			)}},
		},
		{
			Name: "pmip-hack-context", Description: "pMAG -> nMAG: RFC 5949 HAck (P=1) code 5 with the context: HNP, LMA Address (IPv6), MN Link-local Address IID, MN LL-ID",
			Src: mag1, Dst: mag2, Transport: IPv6,
			Msg: &mh.HandoverAck{Sequence: 7, Flags: mh.HAckFlagP, Code: 5, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				mh.NewHNP(hnp1),
				&mh.LMAAddress{Address: lma},
				mh.NewMNLinkLocalAddressIID(a("fe80::11:22ff:fe33:4455")),
				&mh.MNLinkLayerID{LinkLayerID: mnMAC},
			)}},
		},
		{
			Name: "pmip-hack-lmaa-ipv4", Description: "pMAG -> nMAG: HAck (P=1, F=1) with an IPv4 LMA Address (option code 2)",
			Src: mag1, Dst: mag2, Transport: IPv6,
			Msg: &mh.HandoverAck{Sequence: 8, Flags: mh.HAckFlagP | mh.HAckFlagF, Code: 0, Base: mh.Base{Options: opts(
				mh.NewNAI("mn1@example.net"),
				&mh.LMAAddress{Address: lma4},
			)}},
		},
	}
}

// ---- dmm-project ----

func dmmProject() []Sample {
	lm := a("2001:db8:ff::20")
	return []Sample{
		{
			Name: "location-query-hoa", Description: "MR2 -> LM: Location Query by home address",
			Src: mag2, Dst: lm, Transport: IPv6,
			Msg: &mh.LocationQuery{Sequence: 1, Base: mh.Base{Options: opts(mh.NewQueryByHomeAddress(a("2001:db8:1:1::100")))}},
		},
		{
			Name: "location-reply", Description: "LM -> MR2: Location Reply, accepted, one Routing Location (prefix anchored at MR1, now at MR2, 600 s)",
			Src: lm, Dst: mag2, Transport: IPv6,
			Msg: &mh.LocationReply{Status: mh.DMMStatusAccepted, Sequence: 1, Base: mh.Base{Options: opts(
				mh.NewRoutingLocation(hnp1, mag1, mag2, 600),
			)}},
		},
		{
			Name: "location-query-prefix", Description: "MR2 -> LM: Location Query by prefix",
			Src: mag2, Dst: lm, Transport: IPv6,
			Msg: &mh.LocationQuery{Sequence: 2, Base: mh.Base{Options: opts(mh.NewQueryByPrefix(hnp2))}},
		},
		{
			Name: "location-query-mnid", Description: "MR2 -> LM: Location Query by MN-ID (NAI)",
			Src: mag2, Dst: lm, Transport: IPv6,
			Msg: &mh.LocationQuery{Sequence: 3, Base: mh.Base{Options: opts(mh.NewQueryByMNID(mh.NewNAI("mn1@example.net")))}},
		},
		{
			Name: "location-reply-unknown", Description: "LM -> MR2: Location Reply, status 131 location unknown",
			Src: lm, Dst: mag2, Transport: IPv6,
			Msg: &mh.LocationReply{Status: mh.DMMStatusLocationUnknown, Sequence: 3},
		},
		{
			Name: "redirect", Description: "MR1 -> correspondent's MR: Redirect (A) with a Routing Location (F) and the Mobility Context",
			Src: mag1, Dst: a("2001:db8:ff::30"), Transport: IPv6,
			Msg: &mh.Redirect{Sequence: 4, Flags: mh.DMMFlagA, Base: mh.Base{Options: opts(
				&mh.RoutingLocation{Flags: mh.RLFlagF, PrefixLength: 64, Prefix: hnp1.Addr(), AnchorMR: mag1, CurrentMR: mag2, Lifetime: 300},
				&mh.MobilityContext{Flags: mh.MCFlagR, ATT: mh.ATT80211, RemainingLifetime: 1200, LastSequence: 9, ForwardingLifetime: 30,
					LastTimestamp: mh.TimestampValue(tsBase.Add(10 * time.Second))},
			)}},
		},
		{
			Name: "redirect-ack", Description: "correspondent's MR -> MR1: Redirect Ack, accepted",
			Src: a("2001:db8:ff::30"), Dst: mag1, Transport: IPv6,
			Msg: &mh.RedirectAck{Status: mh.DMMStatusAccepted, Sequence: 4},
		},
	}
}

// ---- udp5436 ----

func udp5436() []Sample {
	return []Sample{
		{
			Name: "udp-pbu-ipv4", Description: "MAG -> LMA over IPv4 UDP 5436: PBU asking for an IPv4 home address (0.0.0.0), GRE key, DHCP relay mode, Alternate IPv4 CoA",
			Src: mag4, Dst: lma4, Transport: UDP4,
			Msg: &mh.BindingUpdate{Sequence: 80, Flags: mh.BUFlagA | mh.BUFlagP | mh.BUFlagT, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn4@example.net"),
				&mh.HomeNetworkPrefix{},
				&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
				&mh.AccessTechnologyType{Value: mh.ATTEUTRAN},
				mh.NewTimestamp(tsBase),
				&mh.IPv4HomeAddressRequest{Address: netip.IPv4Unspecified()},
				mh.NewGREKey(0x00010001),
				&mh.IPv4DHCPSupportMode{},
				&mh.AlternateIPv4CoA{Address: mag4},
				mh.NewServiceSelection("internet"),
			)}},
		},
		{
			Name: "udp-pba-ipv4", Description: "LMA -> MAG over IPv4 UDP 5436: PBA with IPv4 Home Address Reply (10.1.0.5/24), default router, GRE key, DHCP server mode",
			Src: lma4, Dst: mag4, Transport: UDP4,
			Msg: &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP | mh.BAFlagT, Sequence: 80, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn4@example.net"),
				mh.NewHNP(hnp1),
				&mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
				&mh.AccessTechnologyType{Value: mh.ATTEUTRAN},
				mh.NewTimestamp(tsBase),
				&mh.IPv4HomeAddressReply{Status: 0, PrefixLength: 24, Address: hoa4},
				&mh.IPv4DefaultRouterAddress{Address: a("10.1.0.1")},
				mh.NewGREKey(0x00020002),
				&mh.IPv4DHCPSupportMode{S: true},
				&mh.AlternateIPv4CoA{Address: mag4},
			)}},
		},
		{
			Name: "udp-pbu-gre-nokey", Description: "MAG -> LMA over IPv4 UDP 5436: re-registration PBU with a GRE Key option without key (Length 2: GRE, no keys)",
			Src: mag4, Dst: lma4, Transport: UDP4,
			Msg: &mh.BindingUpdate{Sequence: 81, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 900, Base: mh.Base{Options: opts(
				mh.NewNAI("mn4@example.net"),
				mh.NewHNP(hnp1),
				&mh.HandoffIndicator{Value: mh.HIHandoffStateNotChanged},
				&mh.AccessTechnologyType{Value: mh.ATTEUTRAN},
				&mh.GREKey{},
			)}},
		},
		{
			Name: "udp-heartbeat", Description: "LMA -> MAG over IPv4 UDP 5436: Heartbeat request (RFC 5847 §4)",
			Src: lma4, Dst: mag4, Transport: UDP4,
			Msg: &mh.Heartbeat{Sequence: 7},
		},
	}
}
