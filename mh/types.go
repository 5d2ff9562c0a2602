package mh

import "strconv"

// Type is the MH Type field (IANA "Mobility Header Types").
type Type uint8

// IANA Mobility Header types 0-23.
const (
	TypeBindingRefreshRequest Type = 0  // RFC 6275
	TypeHomeTestInit          Type = 1  // RFC 6275
	TypeCareOfTestInit        Type = 2  // RFC 6275
	TypeHomeTest              Type = 3  // RFC 6275
	TypeCareOfTest            Type = 4  // RFC 6275
	TypeBindingUpdate         Type = 5  // RFC 6275; PBU when P=1 (RFC 5213)
	TypeBindingAck            Type = 6  // RFC 6275; PBA when P=1 (RFC 5213)
	TypeBindingError          Type = 7  // RFC 6275
	TypeFastBindingUpdate     Type = 8  // RFC 5568
	TypeFastBindingAck        Type = 9  // RFC 5568
	TypeFastNeighborAdvert    Type = 10 // RFC 5568 (deprecated)
	TypeExperimental          Type = 11 // RFC 5096
	TypeHomeAgentSwitch       Type = 12 // RFC 5142
	TypeHeartbeat             Type = 13 // RFC 5847
	TypeHandoverInitiate      Type = 14 // RFC 5568, RFC 5949
	TypeHandoverAck           Type = 15 // RFC 5568, RFC 5949
	TypeBindingRevocation     Type = 16 // RFC 5846
	TypeLocalizedRoutingInit  Type = 17 // RFC 6705
	TypeLocalizedRoutingAck   Type = 18 // RFC 6705
	TypeUpdateNotification    Type = 19 // RFC 7077
	TypeUpdateNotificationAck Type = 20 // RFC 7077
	TypeFlowBinding           Type = 21 // RFC 7109
	TypeSubscriptionQuery     Type = 22 // RFC 7161
	TypeSubscriptionResponse  Type = 23 // RFC 7161
	maxIANAType               Type = 23
)

var typeNames = [...]string{
	"Binding Refresh Request", "Home Test Init", "Care-of Test Init", "Home Test", "Care-of Test",
	"Binding Update", "Binding Acknowledgement", "Binding Error", "Fast Binding Update",
	"Fast Binding Acknowledgment", "Fast Neighbor Advertisement", "Experimental Mobility Header",
	"Home Agent Switch", "Heartbeat", "Handover Initiate", "Handover Acknowledge",
	"Binding Revocation", "Localized Routing Initiation", "Localized Routing Acknowledgment",
	"Update Notification", "Update Notification Acknowledgement", "Flow Binding",
	"Subscription Query", "Subscription Response",
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "MH Type " + strconv.Itoa(int(t))
}

// OptionType is the Type octet of a mobility option (IANA "Mobility Options").
type OptionType uint8

// IANA mobility options 0-70.
const (
	OptPad1                       OptionType = 0  // RFC 6275
	OptPadN                       OptionType = 1  // RFC 6275
	OptBindingRefreshAdvice       OptionType = 2  // RFC 6275
	OptAlternateCoA               OptionType = 3  // RFC 6275
	OptNonceIndices               OptionType = 4  // RFC 6275
	OptAuthorizationData          OptionType = 5  // RFC 6275
	OptMobileNetworkPrefix        OptionType = 6  // RFC 3963
	OptLinkLayerAddress           OptionType = 7  // RFC 5568
	OptMNIdentifier               OptionType = 8  // RFC 4283
	OptAuth                       OptionType = 9  // RFC 4285
	OptMesgID                     OptionType = 10 // RFC 4285
	OptCGAParametersRequest       OptionType = 11 // RFC 4866
	OptCGAParameters              OptionType = 12 // RFC 4866
	OptSignature                  OptionType = 13 // RFC 4866
	OptPermanentHomeKeygenToken   OptionType = 14 // RFC 4866
	OptCareOfTestInit             OptionType = 15 // RFC 4866
	OptCareOfTest                 OptionType = 16 // RFC 4866
	OptDNSUpdateType              OptionType = 17 // RFC 5026
	OptExperimental               OptionType = 18 // RFC 5096
	OptVendorSpecific             OptionType = 19 // RFC 5094
	OptServiceSelection           OptionType = 20 // RFC 5149
	OptBADF                       OptionType = 21 // RFC 5568
	OptHomeNetworkPrefix          OptionType = 22 // RFC 5213
	OptHandoffIndicator           OptionType = 23 // RFC 5213
	OptAccessTechnologyType       OptionType = 24 // RFC 5213
	OptMNLinkLayerID              OptionType = 25 // RFC 5213
	OptLinkLocalAddress           OptionType = 26 // RFC 5213
	OptTimestamp                  OptionType = 27 // RFC 5213
	OptRestartCounter             OptionType = 28 // RFC 5847
	OptIPv4HomeAddress            OptionType = 29 // RFC 5555
	OptIPv4AddressAck             OptionType = 30 // RFC 5555
	OptNATDetection               OptionType = 31 // RFC 5555
	OptIPv4CareOfAddress          OptionType = 32 // RFC 5555
	OptGREKey                     OptionType = 33 // RFC 5845
	OptMHIPv6AddressPrefix        OptionType = 34 // RFC 5568
	OptBindingIdentifier          OptionType = 35 // RFC 5648
	OptIPv4HomeAddressRequest     OptionType = 36 // RFC 5844
	OptIPv4HomeAddressReply       OptionType = 37 // RFC 5844
	OptIPv4DefaultRouterAddress   OptionType = 38 // RFC 5844
	OptIPv4DHCPSupportMode        OptionType = 39 // RFC 5844
	OptContextRequest             OptionType = 40 // RFC 5949
	OptLMAAddress                 OptionType = 41 // RFC 5949
	OptMNLinkLocalAddressIID      OptionType = 42 // RFC 5949
	OptTransientBinding           OptionType = 43 // RFC 6058
	OptFlowSummary                OptionType = 44 // RFC 6089
	OptFlowIdentification         OptionType = 45 // RFC 6089
	OptRedirectCapability         OptionType = 46 // RFC 6463
	OptRedirect                   OptionType = 47 // RFC 6463
	OptLoadInformation            OptionType = 48 // RFC 6463
	OptAlternateIPv4CoA           OptionType = 49 // RFC 6463
	OptMNGroupIdentifier          OptionType = 50 // RFC 6602
	OptMAGIPv6Address             OptionType = 51 // RFC 6705
	OptAccessNetworkIdentifier    OptionType = 52 // RFC 6757
	OptIPv4TrafficOffloadSelector OptionType = 53 // RFC 6909
	OptDynamicIPMulticastSelector OptionType = 54 // RFC 7028
	OptDelegatedMNP               OptionType = 55 // RFC 7148
	OptActiveMulticastSubIPv4     OptionType = 56 // RFC 7161
	OptActiveMulticastSubIPv6     OptionType = 57 // RFC 7161
	OptQualityOfService           OptionType = 58 // RFC 7222
	OptLMAUserPlaneAddress        OptionType = 59 // RFC 7389
	OptMulticastMobility          OptionType = 60 // RFC 7411
	OptMulticastAck               OptionType = 61 // RFC 7411
	OptLMAControlledMAGParams     OptionType = 62 // RFC 8127
	OptMAGMultipathBinding        OptionType = 63 // RFC 8278
	OptMAGIdentifier              OptionType = 64 // RFC 8278
	OptAnchoredPrefix             OptionType = 65 // RFC 8885
	OptLocalPrefix                OptionType = 66 // RFC 8885
	OptPreviousMAAR               OptionType = 67 // RFC 8885
	OptServingMAAR                OptionType = 68 // RFC 8885
	OptDLIFLinkLocalAddress       OptionType = 69 // RFC 8885
	OptDLIFLinkLayerAddress       OptionType = 70 // RFC 8885
	maxIANAOption                 OptionType = 70
)

var optionNames = [...]string{
	"Pad1", "PadN", "Binding Refresh Advice", "Alternate Care-of Address", "Nonce Indices",
	"Authorization Data", "Mobile Network Prefix", "Link-Layer Address", "Mobile Node Identifier",
	"Mobility Message Authentication", "Replay Protection (MESG-ID)", "CGA Parameters Request",
	"CGA Parameters", "Signature", "Permanent Home Keygen Token", "Care-of Test Init", "Care-of Test",
	"DNS-UPDATE-TYPE", "Experimental Mobility Option", "Vendor Specific", "Service Selection",
	"Binding Authorization Data for FMIPv6", "Home Network Prefix", "Handoff Indicator",
	"Access Technology Type", "Mobile Node Link-layer Identifier", "Link-local Address", "Timestamp",
	"Restart Counter", "IPv4 Home Address", "IPv4 Address Acknowledgement", "NAT Detection",
	"IPv4 Care-of Address", "GRE Key", "Mobility Header IPv6 Address/Prefix", "Binding Identifier",
	"IPv4 Home Address Request", "IPv4 Home Address Reply", "IPv4 Default-Router Address",
	"IPv4 DHCP Support Mode", "Context Request", "Local Mobility Anchor Address",
	"Mobile Node Link-local Address Interface Identifier", "Transient Binding", "Flow Summary",
	"Flow Identification", "Redirect-Capability", "Redirect", "Load Information",
	"Alternate IPv4 Care-of Address", "Mobile Node Group Identifier", "MAG IPv6 Address",
	"Access Network Identifier", "IPv4 Traffic Offload Selector", "Dynamic IP Multicast Selector",
	"Delegated Mobile Network Prefix", "Active Multicast Subscription IPv4",
	"Active Multicast Subscription IPv6", "Quality-of-Service", "LMA User-Plane Address",
	"Multicast Mobility", "Multicast Acknowledgement", "LMA-Controlled MAG Parameters",
	"MAG Multipath-Binding", "MAG Identifier", "Anchored Prefix", "Local Prefix", "Previous MAAR",
	"Serving MAAR", "DLIF Link-Local Address", "DLIF Link-Layer Address",
}

func (t OptionType) String() string {
	if int(t) < len(optionNames) {
		return optionNames[t]
	}
	if n := dmmOptionName(t); n != "" {
		return n
	}
	return "option " + strconv.Itoa(int(t))
}

// Status is the Status field of a Binding Acknowledgement / PBA
// (IANA "Status Codes"; RFC 6275 §6.1.8, RFC 5213 §8.9).
type Status uint8

// Status codes. Values below 128 mean the binding was accepted.
const (
	StatusAccepted                         Status = 0
	StatusAcceptedPrefixDiscovery          Status = 1
	StatusGREKeyOptionNotRequired          Status = 2
	StatusGRETunnelingNoTLV                Status = 3
	StatusMCoANotComplete                  Status = 4
	StatusMCoAReturnHomeWoNDP              Status = 5
	StatusPBUAcceptedTBIgnored             Status = 6
	StatusReasonUnspecified                Status = 128
	StatusAdministrativelyProhibited       Status = 129
	StatusInsufficientResources            Status = 130
	StatusHomeRegistrationNotSupported     Status = 131
	StatusNotHomeSubnet                    Status = 132
	StatusNotHomeAgentForMN                Status = 133
	StatusDuplicateAddressDetectionFailed  Status = 134
	StatusSequenceOutOfWindow              Status = 135
	StatusExpiredHomeNonceIndex            Status = 136
	StatusExpiredCareOfNonceIndex          Status = 137
	StatusExpiredNonces                    Status = 138
	StatusRegistrationTypeChangeDisallowed Status = 139
	StatusMobileRouterOpNotPermitted       Status = 140
	StatusInvalidPrefix                    Status = 141
	StatusNotAuthorizedForPrefix           Status = 142
	StatusForwardingSetupFailed            Status = 143
	StatusServiceAuthorizationFailed       Status = 151
	StatusProxyRegNotEnabled               Status = 152
	StatusNotLMAForThisMN                  Status = 153
	StatusMAGNotAuthorizedForProxyReg      Status = 154
	StatusNotAuthorizedForHNP              Status = 155
	StatusTimestampMismatch                Status = 156
	StatusTimestampLowerThanPrevAccepted   Status = 157
	StatusMissingHNPOption                 Status = 158
	StatusBCEPBUPrefixSetDoNotMatch        Status = 159
	StatusMissingMNIdentifierOption        Status = 160
	StatusMissingHandoffIndicatorOption    Status = 161
	StatusMissingAccessTechTypeOption      Status = 162
	StatusGREKeyOptionRequired             Status = 163
	StatusNotAuthorizedForIPv4Mobility     Status = 170
	StatusNotAuthorizedForIPv4HoA          Status = 171
	StatusNotAuthorizedForIPv6Mobility     Status = 172
	StatusMultipleIPv4HoANotSupported      Status = 173
	StatusInvalidCareOfAddress             Status = 174
)

var statusNames = map[Status]string{
	0: "Binding Update accepted", 1: "Accepted but prefix discovery necessary",
	2: "GRE_KEY_OPTION_NOT_REQUIRED", 3: "GRE_TUNNELING_BUT_TLV_HEADER_NOT_SUPPORTED",
	4: "MCOA NOTCOMPLETE", 5: "MCOA RETURNHOME WO/NDP", 6: "PBU_ACCEPTED_TB_IGNORED_SETTINGSMISMATCH",
	128: "Reason unspecified", 129: "Administratively prohibited", 130: "Insufficient resources",
	131: "Home registration not supported", 132: "Not home subnet",
	133: "Not home agent for this mobile node", 134: "Duplicate Address Detection failed",
	135: "Sequence number out of window", 136: "Expired home nonce index",
	137: "Expired care-of nonce index", 138: "Expired nonces",
	139: "Registration type change disallowed", 140: "Mobile Router Operation not permitted",
	141: "Invalid Prefix", 142: "Not Authorized for Prefix", 143: "Forwarding Setup failed",
	144: "MIPV6-ID-MISMATCH", 145: "MIPV6-MESG-ID-REQD", 146: "MIPV6-AUTH-FAIL",
	147: "Permanent home keygen token unavailable", 148: "CGA and signature verification failed",
	149: "Permanent home keygen token exists", 150: "Non-null home nonce index expected",
	151: "SERVICE_AUTHORIZATION_FAILED", 152: "PROXY_REG_NOT_ENABLED",
	153: "NOT_LMA_FOR_THIS_MOBILE_NODE", 154: "MAG_NOT_AUTHORIZED_FOR_PROXY_REG",
	155: "NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX", 156: "TIMESTAMP_MISMATCH",
	157: "TIMESTAMP_LOWER_THAN_PREV_ACCEPTED", 158: "MISSING_HOME_NETWORK_PREFIX_OPTION",
	159: "BCE_PBU_PREFIX_SET_DO_NOT_MATCH", 160: "MISSING_MN_IDENTIFIER_OPTION",
	161: "MISSING_HANDOFF_INDICATOR_OPTION", 162: "MISSING_ACCESS_TECH_TYPE_OPTION",
	163: "GRE_KEY_OPTION_REQUIRED", 164: "MCOA MALFORMED", 165: "MCOA NON-MCOA BINDING EXISTS",
	166: "MCOA PROHIBITED", 167: "MCOA UNKNOWN COA", 168: "MCOA BULK REGISTRATION PROHIBITED",
	169: "MCOA SIMULTANEOUS HOME AND FOREIGN PROHIBITED",
	170: "NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE", 171: "NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS",
	172: "NOT_AUTHORIZED_FOR_IPV6_MOBILITY_SERVICE",
	173: "MULTIPLE_IPV4_HOME_ADDRESS_ASSIGNMENT_NOT_SUPPORTED", 174: "Invalid Care-of Address",
	175: "INVALID_MOBILE_NODE_GROUP_IDENTIFIER", 176: "REINIT_SA_WITH_HAC",
	177: "NOT_AUTHORIZED_FOR_DELEGATED_MNP", 178: "REQUESTED_DMNP_IN_USE",
	179: "CANNOT_MEET_QOS_SERVICE_REQUEST", 180: "CANNOT_SUPPORT_MULTIPATH_BINDING",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "status " + strconv.Itoa(int(s))
}

// Accepted reports whether the status means the binding was accepted (< 128).
func (s Status) Accepted() bool { return s < 128 }
