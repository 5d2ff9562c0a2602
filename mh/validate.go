package mh

import "fmt"

// RFC validation, separate from parsing: a message that decodes may still
// break the rules of the role that receives it. The functions here check
// what the message alone can tell; the checks that need state or policy
// belong to the role (lma/, mag/).

// ValidationError reports a received message that the receiving role
// must ignore (it has no status to answer with), e.g. a PBA that breaks
// RFC 5213 §8.2 at a MAG (§6.9.1.2).
type ValidationError struct {
	Rule   string // the RFC section broken
	Reason string
}

func (e *ValidationError) Error() string { return "mh: " + e.Rule + ": " + e.Reason }

// ParamProblemError reports a Mobility Header the receiver must drop and
// SHOULD answer with an ICMPv6 Parameter Problem, code 0 (RFC 6275 §9.2).
type ParamProblemError struct {
	Field string // "Payload Proto" or "Header Len"
	// Pointer is the offset of the offending field from the start of the
	// Mobility Header. The ICMPv6 Pointer counts from the start of the
	// invoking IPv6 packet: add the MH's offset in that packet.
	Pointer int
	Reason  string
}

func (e *ParamProblemError) Error() string {
	return fmt.Sprintf("mh: %s (ICMPv6 Parameter Problem code 0, pointer MH+%d): %s", e.Field, e.Pointer, e.Reason)
}

// minHeaderLen returns the least Header Len of MH Type t (RFC 6275 §9.2:
// the Header Len must cover the type's fixed part), -1 when unknown.
func minHeaderLen(m Message) int {
	if fp, ok := m.(fixedPart); ok {
		if _, variable := m.(variableFixed); !variable {
			return (HeaderLen+fp.fixedLen()+7)/8 - 1
		}
	}
	switch m.MHType() {
	case TypeBindingRefreshRequest, TypeFastNeighborAdvert, TypeSubscriptionQuery, TypeSubscriptionResponse:
		return 0 // 6 + 2 octets
	case TypeHomeTestInit, TypeCareOfTestInit, TypeBindingUpdate, TypeBindingAck, TypeFastBindingUpdate,
		TypeFastBindingAck, TypeHeartbeat, TypeHandoverInitiate, TypeHandoverAck, TypeBindingRevocation,
		TypeLocalizedRoutingInit, TypeLocalizedRoutingAck, TypeUpdateNotification, TypeUpdateNotificationAck,
		TypeFlowBinding:
		return 1 // fixed part of 10 to 16 octets
	case TypeHomeTest, TypeCareOfTest, TypeBindingError:
		return 2 // 24, 24 and 24 octets
	case TypeExperimental, TypeHomeAgentSwitch:
		return 0
	}
	return -1
}

// ValidateHeader applies the RFC 6275 §9.2 checks to a received message:
// Payload Proto must be 59 (IPPROTO_NONE) and Header Len at least the
// type's minimum. It returns a *ParamProblemError telling the caller what
// the ICMPv6 Parameter Problem must point at, or nil. (The checksum, the
// first §9.2 check, is the transport's job: see Checksum.)
//
// Header Len is the value as received (Base.HeaderLen), so call it on a
// decoded message, not on one built by hand.
func ValidateHeader(m Message) error {
	b := m.MHBase()
	if b.PayloadProto != IPProtoNone {
		return &ParamProblemError{Field: "Payload Proto", Pointer: 0,
			Reason: fmt.Sprintf("Payload Proto %d, must be 59 (IPPROTO_NONE)", b.PayloadProto)}
	}
	if min := minHeaderLen(m); min >= 0 && int(b.HeaderLen) < min {
		return &ParamProblemError{Field: "Header Len", Pointer: 1,
			Reason: fmt.Sprintf("Header Len %d is below the minimum %d of %s", b.HeaderLen, min, m.MHType())}
	}
	return nil
}

// singleInstance lists the options a PBU or PBA may carry at most once
// (RFC 5213 §8.1, §8.2: every option at most once except HNP and
// Vendor-Specific; and the single-instance options of later RFCs), with
// the status an LMA answers a PBU repeating one with.
var singleInstance = map[OptionType]Status{
	OptMNIdentifier:         StatusReasonUnspecified,
	OptHandoffIndicator:     StatusReasonUnspecified,
	OptAccessTechnologyType: StatusReasonUnspecified,
	OptMNLinkLayerID:        StatusReasonUnspecified,
	OptLinkLocalAddress:     StatusReasonUnspecified,
	OptTimestamp:            StatusReasonUnspecified,
	OptAlternateCoA:         StatusReasonUnspecified, // RFC 6275 §6.2.5
	OptServiceSelection:     StatusReasonUnspecified, // RFC 5149: one per BU
	OptGREKey:               StatusReasonUnspecified, // RFC 5845 §3
	OptRedirectCapability:   StatusReasonUnspecified, // RFC 6463 §5.2
	OptServingMAAR:          StatusReasonUnspecified, // RFC 8885 §4.6
	// RFC 5844 §3.3.1 / §3.3.5: more than one IPv4 HoA Request.
	OptIPv4HomeAddressRequest: StatusMultipleIPv4HoANotSupported,
}

// duplicateOrder fixes the order in which duplicates are looked for, so
// that the result does not depend on map iteration.
var duplicateOrder = []OptionType{
	OptMNIdentifier, OptHandoffIndicator, OptAccessTechnologyType, OptMNLinkLayerID,
	OptLinkLocalAddress, OptTimestamp, OptAlternateCoA, OptServiceSelection, OptGREKey,
	OptIPv4HomeAddressRequest, OptRedirectCapability, OptServingMAAR,
}

// ValidatePBU checks a Binding Update received by an LMA (or by an MR in
// its LMA role) against what RFC 5213 §5.3.1 lets a message alone decide,
// and returns a *StatusError with the status the PBA must carry, or nil.
// It is ValidatePBUIdentity followed by ValidatePBUOptions.
//
// The checks, in order:
//
//   - P flag clear: not a Proxy Binding Update. The LMA is not a home
//     agent, so it answers with a BA, P clear, status 131 (Home
//     registration not supported: RFC 6275 §10.3.1, the answer of a node
//     not configured as a home agent). A BU with H clear (a correspondent
//     registration) gets the same; an LMA may drop it instead.
//   - 160 MISSING_MN_IDENTIFIER_OPTION (§5.3.1 step 4); a repeated MN-ID
//     gives 128.
//   - [LMA role: 154, 153, 152 policy checks (§5.3.1 steps 5-7), then
//     156, 157 or 135 from the timestamp or sequence rules (§5.5)]
//   - 158 MISSING_HOME_NETWORK_PREFIX_OPTION; an IPv4 Home Address Request
//     (36) without any HNP is enough (RFC 5844 §3.3.1).
//   - 161 MISSING_HANDOFF_INDICATOR_OPTION.
//   - 162 MISSING_ACCESS_TECH_TYPE_OPTION.
//   - a single-instance option repeated (RFC 5213 §8.1): 128 Reason
//     unspecified, or 173 for a repeated IPv4 HoA Request (RFC 5844).
//   - Anchored Prefix (65) or Local Prefix (66) without the D flag
//     (RFC 8885 §4.3, §4.4): 128.
//
// What needs state or policy stays with the LMA role, in the RFC's order:
// 154 MAG_NOT_AUTHORIZED_FOR_PROXY_REG, 153 NOT_LMA_FOR_THIS_MOBILE_NODE,
// 152 PROXY_REG_NOT_ENABLED, 156 / 157 timestamp, 135 sequence, then after
// the option checks 155 NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX, 159
// BCE_PBU_PREFIX_SET_DO_NOT_MATCH and 130 (no prefix to assign). Because
// the policy checks sit between 160 and 158, an LMA that wants the exact
// RFC order calls ValidatePBUIdentity, then its policy and ordering
// checks, then ValidatePBUOptions.
func ValidatePBU(m *BindingUpdate) error {
	if err := ValidatePBUIdentity(m); err != nil {
		return err
	}
	return ValidatePBUOptions(m)
}

// ValidatePBUIdentity runs the checks of ValidatePBU that come before the
// LMA's policy checks: the P flag and the MN-ID (160, or 128 if repeated).
func ValidatePBUIdentity(m *BindingUpdate) error {
	if !m.Proxy() {
		return &StatusError{Status: StatusHomeRegistrationNotSupported,
			Reason: "P flag clear: not a Proxy Binding Update, and an LMA is not a home agent (RFC 6275 §10.3.1)"}
	}
	switch n := m.Options.Count(OptMNIdentifier); {
	case n == 0:
		return &StatusError{Status: StatusMissingMNIdentifierOption, Reason: "no MN Identifier option (RFC 5213 §5.3.1)"}
	case n > 1:
		return &StatusError{Status: StatusReasonUnspecified, Reason: fmt.Sprintf("%d MN Identifier options; at most one (RFC 5213 §8.1)", n)}
	}
	return nil
}

// ValidatePBUOptions runs the checks of ValidatePBU that come after the
// LMA's policy and ordering checks: 158, 161, 162, repeated options, and
// the RFC 8885 D-flag-only options.
func ValidatePBUOptions(m *BindingUpdate) error {
	if m.Options.Count(OptHomeNetworkPrefix) == 0 && m.Options.Count(OptIPv4HomeAddressRequest) == 0 {
		return &StatusError{Status: StatusMissingHNPOption,
			Reason: "no Home Network Prefix option, and no IPv4 Home Address Request (RFC 5213 §5.3.1, RFC 5844 §3.3.1)"}
	}
	if m.Options.Count(OptHandoffIndicator) == 0 {
		return &StatusError{Status: StatusMissingHandoffIndicatorOption, Reason: "no Handoff Indicator option (RFC 5213 §5.3.1)"}
	}
	if m.Options.Count(OptAccessTechnologyType) == 0 {
		return &StatusError{Status: StatusMissingAccessTechTypeOption, Reason: "no Access Technology Type option (RFC 5213 §5.3.1)"}
	}
	if t, n := firstDuplicate(m.Options); n > 1 {
		return &StatusError{Status: singleInstance[t], Reason: fmt.Sprintf("%d %s options; at most one (RFC 5213 §8.1)", n, t)}
	}
	if m.Flags&BUFlagD == 0 {
		if t, ok := dOnlyOption(m.Options); ok {
			return &StatusError{Status: StatusReasonUnspecified, Reason: fmt.Sprintf("%s option without the D flag (RFC 8885 §4.3, §4.4)", t)}
		}
	}
	return nil
}

func firstDuplicate(opts Options) (OptionType, int) {
	for _, t := range duplicateOrder {
		if n := opts.Count(t); n > 1 {
			return t, n
		}
	}
	return 0, 0
}

func dOnlyOption(opts Options) (OptionType, bool) {
	for _, o := range opts {
		if t := o.OptionType(); t == OptAnchoredPrefix || t == OptLocalPrefix {
			return t, true
		}
	}
	return 0, false
}

// ValidatePBA checks a Binding Acknowledgement received by a MAG against
// RFC 5213 §8.2 and §5.3.6 (what every PBA carries) and returns a
// *ValidationError, or nil. A MAG ignores a PBA that fails (§6.9.1.2).
// Checks: P set; exactly one MN-ID; at least one HNP (or, RFC 5844, an
// IPv4 Home Address Reply) and, when accepted, no ALL_ZERO HNP; HI and
// ATT present; no single-instance option repeated; options 65/66 only
// with the D flag. Matching the PBA to the PBU (MN-ID, HI, ATT, MN LL-ID
// equal to those sent, §6.9.1.2) needs the BUL and stays with the MAG.
func ValidatePBA(m *BindingAck) error {
	const r82, r536 = "RFC 5213 §8.2", "RFC 5213 §5.3.6"
	if !m.Proxy() {
		return &ValidationError{Rule: r82, Reason: "P flag clear: not a Proxy Binding Acknowledgement"}
	}
	if n := m.Options.Count(OptMNIdentifier); n != 1 {
		return &ValidationError{Rule: r536, Reason: fmt.Sprintf("%d MN Identifier options, want exactly one", n)}
	}
	hnps := 0
	for _, o := range m.Options {
		h, ok := o.(*HomeNetworkPrefix)
		if !ok {
			if o.OptionType() == OptHomeNetworkPrefix {
				hnps++ // kept raw (legacy decode): present, value unknown
			}
			continue
		}
		hnps++
		if m.Status.Accepted() && h.AllZero() {
			return &ValidationError{Rule: r536, Reason: "accepted PBA with an ALL_ZERO Home Network Prefix"}
		}
	}
	if hnps == 0 && m.Options.Count(OptIPv4HomeAddressReply) == 0 {
		return &ValidationError{Rule: r536, Reason: "no Home Network Prefix option (and no IPv4 Home Address Reply, RFC 5844)"}
	}
	if m.Options.Count(OptHandoffIndicator) == 0 {
		return &ValidationError{Rule: r536, Reason: "no Handoff Indicator option"}
	}
	if m.Options.Count(OptAccessTechnologyType) == 0 {
		return &ValidationError{Rule: r536, Reason: "no Access Technology Type option"}
	}
	if t, n := firstDuplicate(m.Options); n > 1 {
		return &ValidationError{Rule: r82, Reason: fmt.Sprintf("%d %s options; at most one", n, t)}
	}
	if m.Flags&BAFlagD == 0 {
		if t, ok := dOnlyOption(m.Options); ok {
			return &ValidationError{Rule: "RFC 8885 §4.3, §4.4", Reason: fmt.Sprintf("%s option without the D flag", t)}
		}
	}
	return nil
}

// AlignmentIssue is an option whose Type octet is not on its alignment
// (RFC 6275 §6.2.1).
type AlignmentIssue struct {
	Offset int        // of the option's Type octet, from the start of the MH
	Type   OptionType // option type
	Want   Alignment
}

func (a AlignmentIssue) String() string {
	return fmt.Sprintf("%s at offset %d (offset mod %d = %d), want %s", a.Type, a.Offset, a.Want.X, a.Offset%int(a.Want.X), a.Want)
}

// rfcAlignment gives the alignment of options that have no typed form in
// this package (RFC 6275 §6.2.1 and the RFCs of protocol-facts §1.4).
var rfcAlignment = map[OptionType]Alignment{
	OptBindingRefreshAdvice: {2, 0}, OptAlternateCoA: {8, 6}, OptNonceIndices: {2, 0},
	OptAuthorizationData: {8, 2}, OptVendorSpecific: {4, 2}, OptHomeNetworkPrefix: {8, 4},
	OptLinkLocalAddress: {8, 6}, OptTimestamp: {8, 2}, OptRestartCounter: {4, 2},
	OptIPv4HomeAddress: {4, 0}, OptIPv4AddressAck: {4, 0}, OptNATDetection: {4, 0},
	OptIPv4CareOfAddress: {4, 0}, OptGREKey: {4, 0}, OptIPv4HomeAddressRequest: {4, 0},
	OptIPv4HomeAddressReply: {4, 0}, OptIPv4DefaultRouterAddress: {4, 0},
	OptRedirectCapability: {4, 0}, OptRedirect: {4, 0}, OptLoadInformation: {4, 0},
	OptAlternateIPv4CoA: {4, 2}, OptMAGIPv6Address: {8, 4}, OptAccessNetworkIdentifier: {4, 0},
	OptLMAUserPlaneAddress: {8, 2}, OptAnchoredPrefix: {8, 4}, OptLocalPrefix: {8, 4},
	OptPreviousMAAR: {8, 4}, OptServingMAAR: {8, 6}, OptDLIFLinkLocalAddress: {8, 6},
}

// alignmentOf returns the alignment requirement of option type t.
func alignmentOf(t OptionType) Alignment {
	if f := optionFactories[t]; f != nil {
		if o := f(); o != nil {
			if _, raw := o.(*RawOption); !raw {
				return o.Alignment()
			}
		}
	}
	if a, ok := rfcAlignment[t]; ok {
		return a
	}
	return NoAlignment
}

// CheckAlignment walks the options of the Mobility Header in mh and
// reports every option whose Type octet is not on its alignment (tshark
// does not check this). The walk covers the whole buffer whatever Header
// Len says (legacy peers get it wrong), and stops at the first
// option whose length runs past the end. A message whose fixed part
// cannot be found yields nil.
func CheckAlignment(mh []byte) []AlignmentIssue {
	if len(mh) < HeaderLen+1 {
		return nil
	}
	m, ok := newMessageFor(mh).(fixedPart)
	if !ok {
		return nil
	}
	end := len(mh) // whatever Header Len says
	fl := m.fixedLen()
	if v, ok := m.(variableFixed); ok {
		fl = v.fixedLenFrom(mh[HeaderLen:end])
	}
	off := HeaderLen + fl
	var out []AlignmentIssue
	for off < end {
		t := OptionType(mh[off])
		if t == OptPad1 {
			off++
			continue
		}
		if off+2 > end {
			break
		}
		if a := alignmentOf(t); a.Pad(off) != 0 {
			out = append(out, AlignmentIssue{Offset: off, Type: t, Want: a})
		}
		off += 2 + int(mh[off+1])
	}
	return out
}
