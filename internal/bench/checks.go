package bench

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Catalogue returns the conformance checks, in the order they run.
func Catalogue() []Check {
	return []Check{
		{"pbu-missing-mnid", "RFC 5213 §5.3.1 step 4, §5.3.6", "PBU without MN-ID: 160, and the PBA carries a zero-length MN-ID", checkMissingMNID},
		{"pbu-missing-hnp", "RFC 5213 §5.3.1 step 9, §5.3.6", "PBU without Home Network Prefix: 158, with one ALL_ZERO HNP in the PBA", checkMissing(mh.OptHomeNetworkPrefix, mh.StatusMissingHNPOption)},
		{"pbu-missing-hi", "RFC 5213 §5.3.1 step 10, §5.3.6", "PBU without Handoff Indicator: 161, with HI 0 in the PBA", checkMissing(mh.OptHandoffIndicator, mh.StatusMissingHandoffIndicatorOption)},
		{"pbu-missing-att", "RFC 5213 §5.3.1 step 11, §5.3.6", "PBU without Access Technology Type: 162, with ATT 0 in the PBA", checkMissing(mh.OptAccessTechnologyType, mh.StatusMissingAccessTechTypeOption)},
		{"ts-stale", "RFC 5213 §5.5", "Timestamp outside TimestampValidityWindow: 156, with the LMA's current time in the PBA", checkStaleTimestamp},
		{"ts-lower", "RFC 5213 §5.5", "Timestamp lower than the last accepted one: 157, with the LMA's current time", checkLowerTimestamp},
		{"ts-ignores-seq", "RFC 5213 §5.5", "With a Timestamp the Sequence # is not used for ordering, and is copied to the PBA", checkTimestampIgnoresSeq},
		{"seq-out-of-window", "RFC 5213 §5.5, RFC 6275 §9.5.1", "Sequence-number scheme: a lower Sequence # gets 135 with the last accepted number", checkSeqOutOfWindow},
		{"pba-echo-accepted", "RFC 5213 §5.3.6", "Accepted PBA: MN-ID, HI, ATT, Timestamp, MN LL-ID echoed; LLA generated for ALL_ZERO; NON_ZERO HNP", checkEchoAccepted},
		{"pba-echo-rejected", "RFC 5213 §5.3.6", "Rejected PBA: the requested HNP, MN-ID, HI, ATT, MN LL-ID and Link-local Address echoed", checkEchoRejected},
		{"pba-p-flag", "RFC 5213 §8.2, §5.3.6", "Every PBA has the P flag, accepted or rejected", checkPFlag},
		{"lifetime-not-above-request", "RFC 5213 §5.3.2, RFC 6275 §10.3.1", "Granted lifetime is not zero and never above the requested one", checkLifetime},
		{"allzero-hnp-allocation", "RFC 5213 §5.3.2 step 1, §5.3.6", "An ALL_ZERO HNP request gets a NON_ZERO prefix; no ALL_ZERO HNP in an accepted PBA", checkAllZeroAllocation},
		{"rereg-hi5", "RFC 5213 §5.3.3, §6.9.1.3", "Re-registration (HI=5, same MAG, the prefix) extends the same session", checkReregistration},
		{"dereg-lifetime-0", "RFC 5213 §5.3.5", "De-registration (lifetime 0) is answered with status 0 and lifetime 0", checkDeregistration},
		{"dereg-other-mag-ignored", "RFC 5213 §5.3.5", "De-registration from a MAG that is not the Proxy-CoA is silently ignored and the binding kept", checkDeregOtherMAG},
		{"hi1-new-session", "RFC 5213 §5.4, §5.4.1.3", "A second PBU with HI=1 (new interface) creates a new session with another prefix", checkHI1NewSession},
		{"hi2-update", "RFC 5213 §5.4.1.3", "HI=2 with the same MN-ID and one session updates it (same prefix)", checkHI2Update},
		{"hi3-handover", "RFC 5213 §5.4.1.3, §5.3.4", "HI=3 from another MAG hands the session over (same prefix); the old MAG's de-registration is then ignored", checkHI3Handover(false)},
		{"hi3-handover-hnp", "RFC 5213 §5.4.1.1, §5.3.4", "HI=3 from another MAG naming the prefix updates the session found by prefix", checkHI3Handover(true)},
		{"hi4-wait-dereg", "RFC 5213 §5.4.1.3 step 3, §9.1", "HI=4 from another MAG: the session is handed over once the old MAG de-registers", checkHI4Wait},
		{"hnp-set-mismatch", "RFC 5213 §5.4.1.1", "A PBU naming the session's prefix plus another one: 159", checkPrefixSetMismatch},
		{"hnp-other-mn", "RFC 5213 §5.4.1.1", "A PBU naming a prefix of another MN's session: 155", checkOtherMNPrefix},
		{"mag-unauthorized", "RFC 5213 §5.3.1 step 5", "PBU from a MAG not authorised: 154", checkPolicyStatus("mag", mh.StatusMAGNotAuthorizedForProxyReg)},
		{"mn-unknown", "RFC 5213 §5.3.1 step 6", "PBU for an MN the LMA does not serve: 153", checkPolicyStatus("unknown", mh.StatusNotLMAForThisMN)},
		{"mn-proxy-disabled", "RFC 5213 §5.3.1 step 7", "PBU for an MN not entitled to network-based mobility: 152", checkPolicyStatus("disabled", mh.StatusProxyRegNotEnabled)},
		{"heartbeat-response", "RFC 5847 §3.1, §3.3, §3.4", "Heartbeat request answered with R, the same Sequence Number and a Restart Counter", checkHeartbeat},
		{"unknown-mh-type", "RFC 6275 §9.2, RFC 5213 §5.3.1 step 2", "Unknown MH Type: Binding Error with status 2", checkUnknownType},
		{"bri-revocation", "RFC 5846 §8.1, §5.1", "Revocation: BRI with P, the MN-ID and the session's HNP; the BRA is accepted", checkRevocation},
	}
}

func (s *Session) wantStatus(ack *mh.BindingAck, want mh.Status) {
	if ack.Status != want {
		s.Failf("status %d (%v), want %d (%v)", ack.Status, ack.Status, want, want)
	}
}

// echoProblems lists how a PBA departs from RFC 5213 §5.3.6 for PBU u.
// lmaTime: the Timestamp must hold the LMA's time (156, 157), not u's.
func echoProblems(u *mh.BindingUpdate, ack *mh.BindingAck, lmaTime bool, tol time.Duration) []string {
	var p []string
	bad := func(f string, a ...any) { p = append(p, fmt.Sprintf(f, a...)) }
	if !ack.Proxy() {
		bad("P flag clear")
	}
	if ack.Status != mh.StatusSequenceOutOfWindow && ack.Sequence != u.Sequence {
		bad("Sequence # %d, the PBU had %d", ack.Sequence, u.Sequence)
	}
	// MN-ID: exactly one, copied (zero length when the PBU had none).
	if n := ack.Options.Count(mh.OptMNIdentifier); n != 1 {
		bad("%d MN Identifier options, want 1", n)
	} else {
		got, _ := mh.Find[*mh.MNIdentifier](ack.Options)
		if want, ok := mh.Find[*mh.MNIdentifier](u.Options); ok {
			if got.Subtype != want.Subtype || !bytes.Equal(got.Identifier, want.Identifier) {
				bad("MN-ID %q, the PBU had %q", got.Identifier, want.Identifier)
			}
		} else if !got.Empty {
			bad("MN-ID of length %d, want a zero-length MN-ID", got.MarshalLen()-2)
		}
	}
	// HNPs.
	var sent []*mh.HomeNetworkPrefix
	for _, o := range u.Options {
		if h, ok := o.(*mh.HomeNetworkPrefix); ok {
			sent = append(sent, h)
		}
	}
	var got []*mh.HomeNetworkPrefix
	for _, o := range ack.Options {
		if h, ok := o.(*mh.HomeNetworkPrefix); ok {
			got = append(got, h)
		}
	}
	switch {
	case len(got) == 0:
		bad("no Home Network Prefix option")
	case ack.Status.Accepted():
		for _, h := range got {
			if h.AllZero() {
				bad("ALL_ZERO HNP in an accepted PBA")
			}
		}
	case len(sent) == 0:
		if len(got) != 1 || !got[0].AllZero() {
			bad("the PBU had no HNP: want one ALL_ZERO HNP, got %d HNP(s) %v", len(got), hnpStrings(got))
		}
	default:
		if !slices.Equal(hnpStrings(got), hnpStrings(sent)) {
			bad("HNPs %v, want the requested %v echoed", hnpStrings(got), hnpStrings(sent))
		}
	}
	// HI and ATT: always, copied (0 when absent).
	if hi, ok := mh.Find[*mh.HandoffIndicator](ack.Options); !ok {
		bad("no Handoff Indicator option")
	} else {
		var want mh.HandoffIndicatorValue
		if x, ok := mh.Find[*mh.HandoffIndicator](u.Options); ok {
			want = x.Value
		}
		if hi.Value != want {
			bad("HI %d, want %d", hi.Value, want)
		}
	}
	if att, ok := mh.Find[*mh.AccessTechnologyType](ack.Options); !ok {
		bad("no Access Technology Type option")
	} else {
		var want mh.ATT
		if x, ok := mh.Find[*mh.AccessTechnologyType](u.Options); ok {
			want = x.Value
		}
		if att.Value != want {
			bad("ATT %d, want %d", att.Value, want)
		}
	}
	// Timestamp: only when the PBU had one.
	uts, hadTS := mh.Find[*mh.Timestamp](u.Options)
	ats, hasTS := mh.Find[*mh.Timestamp](ack.Options)
	switch {
	case hadTS && !hasTS:
		bad("no Timestamp option, the PBU had one")
	case !hadTS && hasTS:
		bad("Timestamp option in answer to a PBU without one")
	case hadTS && lmaTime:
		if ats.Value == uts.Value {
			bad("the PBU's Timestamp echoed, want the LMA's current time")
		}
		if d := time.Since(ats.Time()); d > tol || d < -tol {
			bad("Timestamp %v is %v away from the local clock (tolerance %v)", ats.Time().Format(time.RFC3339Nano), d.Round(time.Millisecond), tol)
		}
	case hadTS && ats.Value != uts.Value:
		bad("Timestamp %#x, the PBU had %#x", ats.Value, uts.Value)
	}
	// MN LL-ID: only when the PBU had one, echoed.
	ull, hadLL := mh.Find[*mh.MNLinkLayerID](u.Options)
	all, hasLL := mh.Find[*mh.MNLinkLayerID](ack.Options)
	switch {
	case hadLL && !hasLL:
		bad("no MN Link-layer Identifier option, the PBU had one")
	case !hadLL && hasLL:
		bad("MN Link-layer Identifier option in answer to a PBU without one")
	case hadLL && !bytes.Equal(all.LinkLayerID, ull.LinkLayerID):
		bad("MN LL-ID %x, the PBU had %x", all.LinkLayerID, ull.LinkLayerID)
	}
	// Link-local Address: only when the PBU had one.
	ula, hadLA := mh.Find[*mh.LinkLocalAddress](u.Options)
	ala, hasLA := mh.Find[*mh.LinkLocalAddress](ack.Options)
	switch {
	case hadLA && !hasLA:
		bad("no Link-local Address option, the PBU had one")
	case !hadLA && hasLA:
		bad("Link-local Address option in answer to a PBU without one")
	case !hadLA:
	case !ack.Status.Accepted() && ala.Address != ula.Address:
		bad("rejected: Link-local Address %v, the PBU had %v (echo)", ala.Address, ula.Address)
	case ack.Status.Accepted() && ula.Address.IsUnspecified() && (ala.Address.IsUnspecified() || !ala.Address.IsLinkLocalUnicast()):
		bad("ALL_ZERO Link-local Address request answered with %v, want a generated link-local address", ala.Address)
	case ack.Status.Accepted() && !ula.Address.IsUnspecified() && ala.Address != ula.Address:
		bad("Link-local Address %v, the PBU had %v", ala.Address, ula.Address)
	}
	return p
}

func hnpStrings(hs []*mh.HomeNetworkPrefix) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.AsPrefix().String())
	}
	slices.Sort(out)
	return out
}

func (s *Session) wantEcho(u *mh.BindingUpdate, ack *mh.BindingAck, lmaTime bool) {
	if p := echoProblems(u, ack, lmaTime, s.t.ClockTolerance); len(p) > 0 {
		s.Failf("PBA departs from §5.3.6: %s", strings.Join(p, "; "))
	}
}

func samePrefixes(a, b []netip.Prefix) bool {
	x := make([]string, 0, len(a))
	for _, p := range a {
		x = append(x, p.Masked().String())
	}
	y := make([]string, 0, len(b))
	for _, p := range b {
		y = append(y, p.Masked().String())
	}
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func checkMissingMNID(s *Session) {
	u, ack := s.Exchange(s.MAG(0), PBU{NoMNID: true})
	s.wantStatus(ack, mh.StatusMissingMNIdentifierOption)
	s.wantEcho(u, ack, false)
}

func checkMissing(opt mh.OptionType, want mh.Status) func(*Session) {
	return func(s *Session) {
		x := PBU{MN: s.NewMN()}
		switch opt {
		case mh.OptHomeNetworkPrefix:
			x.NoHNP = true
		case mh.OptHandoffIndicator:
			x.NoHI = true
		case mh.OptAccessTechnologyType:
			x.NoATT = true
		}
		u, ack := s.Exchange(s.MAG(0), x)
		if ack.Status.Accepted() {
			// Registered after all: undo it.
			s.Deregister(&Binding{MN: x.MN, MAG: s.MAG(0), HNPs: HNPsOf(ack)}, false)
		}
		s.wantStatus(ack, want)
		s.wantEcho(u, ack, false)
	}
}

func checkStaleTimestamp(s *Session) {
	mn := s.NewMN()
	u, ack := s.Exchange(s.MAG(0), PBU{MN: mn, Timestamp: u64(mh.TimestampValue(time.Now().Add(-10 * time.Second)))})
	if ack.Status.Accepted() {
		s.Deregister(&Binding{MN: mn, MAG: s.MAG(0), HNPs: HNPsOf(ack)}, false)
	}
	s.wantStatus(ack, mh.StatusTimestampMismatch)
	s.wantEcho(u, ack, true)
}

func checkLowerTimestamp(s *Session) {
	mn := s.NewMN()
	t1 := mh.TimestampValue(time.Now())
	b, _, _ := s.Register(s.MAG(0), PBU{MN: mn, Timestamp: u64(t1)})
	// 10 ms lower: still within a 300 ms validity window.
	u, ack := s.Exchange(s.MAG(0), PBU{MN: mn, HNPs: b.HNPs, HI: mh.HIHandoffStateNotChanged, Timestamp: u64(t1 - 655)})
	s.wantStatus(ack, mh.StatusTimestampLowerThanPrevAccepted)
	s.wantEcho(u, ack, true)
}

func checkTimestampIgnoresSeq(s *Session) {
	mn := s.NewMN()
	b, u1, _ := s.Register(s.MAG(0), PBU{MN: mn, Timestamp: u64(mh.TimestampValue(time.Now()))})
	u, ack := s.Exchange(s.MAG(0), PBU{MN: mn, HNPs: b.HNPs, HI: mh.HIHandoffStateNotChanged,
		Seq: u16(u1.Sequence - 1000), Timestamp: u64(mh.TimestampValue(time.Now()))})
	s.wantStatus(ack, mh.StatusAccepted)
	s.wantEcho(u, ack, false)
}

func checkSeqOutOfWindow(s *Session) {
	mn := s.NewMN()
	u1, ack := s.Exchange(s.MAG(0), PBU{MN: mn, Timestamp: u64(0)})
	if !ack.Status.Accepted() {
		s.NotApplicable("a PBU without Timestamp was rejected with %d (%v): the target does not use the sequence-number scheme", ack.Status, ack.Status)
	}
	b := &Binding{MN: mn, MAG: s.MAG(0), HNPs: HNPsOf(ack)}
	s.Cleanup(func() { s.Deregister(b, false) })
	u, ack := s.Exchange(s.MAG(0), PBU{MN: mn, HNPs: b.HNPs, HI: mh.HIHandoffStateNotChanged, Timestamp: u64(0), Seq: u16(u1.Sequence - 10)})
	s.wantStatus(ack, mh.StatusSequenceOutOfWindow)
	if ack.Sequence != u1.Sequence {
		s.Failf("135 with Sequence # %d, want the last accepted %d (RFC 6275 §9.5.1)", ack.Sequence, u1.Sequence)
	}
	s.wantEcho(u, ack, false)
}

var testLLID = []byte{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}

func checkEchoAccepted(s *Session) {
	lla := netip.IPv6Unspecified()
	_, u, ack := s.Register(s.MAG(0), PBU{MN: s.NewMN(), LLID: testLLID, LLA: &lla,
		Timestamp: u64(mh.TimestampValue(time.Now()))})
	s.wantEcho(u, ack, false)
}

func checkEchoRejected(s *Session) {
	lla := netip.MustParseAddr("fe80::1234")
	mn := s.NewMN()
	u, ack := s.Exchange(s.MAG(0), PBU{MN: mn, HNPs: []netip.Prefix{netip.MustParsePrefix("2001:db8:dead:beef::/64")},
		LLID: testLLID, LLA: &lla, Timestamp: u64(mh.TimestampValue(time.Now().Add(-10 * time.Second)))})
	if ack.Status.Accepted() {
		s.Deregister(&Binding{MN: mn, MAG: s.MAG(0), HNPs: HNPsOf(ack)}, false)
		s.Failf("a PBU with a Timestamp 10 s old was accepted")
	}
	s.wantEcho(u, ack, true)
}

func checkPFlag(s *Session) {
	_, _, ack := s.Register(s.MAG(0), PBU{MN: s.NewMN()})
	if !ack.Proxy() {
		s.Failf("accepted PBA without the P flag")
	}
	_, ack = s.Exchange(s.MAG(0), PBU{MN: s.NewMN(), NoHNP: true})
	if ack.Status.Accepted() {
		s.Failf("PBU without HNP accepted")
	}
	if !ack.Proxy() {
		s.Failf("rejected PBA (status %d) without the P flag", ack.Status)
	}
}

func checkLifetime(s *Session) {
	mn := s.NewMN()
	b, _, ack := s.Register(s.MAG(0), PBU{MN: mn, Lifetime: u16(3)})
	if ack.Lifetime == 0 || ack.Lifetime > 3 {
		s.Failf("registration asking for 3 units (12 s) granted %d units", ack.Lifetime)
	}
	_, ack = s.Exchange(s.MAG(0), PBU{MN: mn, HNPs: b.HNPs, HI: mh.HIHandoffStateNotChanged, Lifetime: u16(2)})
	s.wantStatus(ack, mh.StatusAccepted)
	if ack.Lifetime == 0 || ack.Lifetime > 2 {
		s.Failf("re-registration asking for 2 units granted %d units", ack.Lifetime)
	}
}

func checkAllZeroAllocation(s *Session) {
	b, u, ack := s.Register(s.MAG(0), PBU{MN: s.NewMN()})
	for _, p := range b.HNPs {
		if p.Bits() < 1 || p.Bits() > 128 {
			s.Failf("allocated prefix %v has a prefix length out of 1..128", p)
		}
	}
	s.wantEcho(u, ack, false)
}

func checkReregistration(s *Session) {
	mn := s.NewMN()
	b, _, _ := s.Register(s.MAG(0), PBU{MN: mn})
	u, ack := s.Exchange(s.MAG(0), PBU{MN: mn, HNPs: b.HNPs, HI: mh.HIHandoffStateNotChanged})
	s.wantStatus(ack, mh.StatusAccepted)
	s.wantEcho(u, ack, false)
	if !samePrefixes(HNPsOf(ack), b.HNPs) {
		s.Failf("re-registration got prefixes %v, the session has %v", HNPsOf(ack), b.HNPs)
	}
}

func checkDeregistration(s *Session) {
	b, _, _ := s.Register(s.MAG(0), PBU{MN: s.NewMN()})
	s.Deregister(b, true)
}

func checkDeregOtherMAG(s *Session) {
	m0, m1 := s.MAG(0), s.MAG(1)
	mn := s.NewMN()
	b, _, _ := s.Register(m0, PBU{MN: mn})
	s.ExpectSilence(m1, PBU{MN: mn, HNPs: b.HNPs, HI: mh.HIHandoffStateUnknown, Lifetime: u16(0)},
		"de-registration from a MAG that is not the binding's Proxy-CoA must be ignored")
	u, ack := s.Exchange(m0, PBU{MN: mn, HNPs: b.HNPs, HI: mh.HIHandoffStateNotChanged})
	if ack.Status != mh.StatusAccepted || !samePrefixes(HNPsOf(ack), b.HNPs) {
		s.Failf("after the ignored de-registration, re-registration from the serving MAG got status %d prefixes %v: the binding %v was not kept", ack.Status, HNPsOf(ack), b.HNPs)
	}
	s.wantEcho(u, ack, false)
}

func checkHI1NewSession(s *Session) {
	mn := s.NewMN()
	b1, _, _ := s.Register(s.MAG(0), PBU{MN: mn})
	b2, u, ack := s.Register(s.MAG(0), PBU{MN: mn, HI: mh.HIAttachNewInterface})
	for _, p := range b2.HNPs {
		if slices.Contains(b1.HNPs, p) {
			s.Failf("second attachment (HI=1) got %v, a prefix of the first session %v: not a new session", b2.HNPs, b1.HNPs)
		}
	}
	s.wantEcho(u, ack, false)
}

func checkHI2Update(s *Session) {
	mn := s.NewMN()
	b, _, _ := s.Register(s.MAG(0), PBU{MN: mn})
	u, ack := s.Exchange(s.MAG(0), PBU{MN: mn, HI: mh.HIHandoffBetweenIfaces})
	if ack.Status.Accepted() && !samePrefixes(HNPsOf(ack), b.HNPs) {
		nb := &Binding{MN: mn, MAG: s.MAG(0), HNPs: HNPsOf(ack)}
		s.Cleanup(func() { s.Deregister(nb, false) })
		s.Failf("HI=2 got prefixes %v, the MN's only session has %v: a new session instead of an update", HNPsOf(ack), b.HNPs)
	}
	s.wantStatus(ack, mh.StatusAccepted)
	s.wantEcho(u, ack, false)
}

func checkHI3Handover(withHNP bool) func(*Session) {
	return func(s *Session) {
		m0, m1 := s.MAG(0), s.MAG(1)
		mn := s.NewMN()
		b, _, _ := s.Register(m0, PBU{MN: mn})
		x := PBU{MN: mn, HI: mh.HIHandoffBetweenMAGs}
		if withHNP {
			x.HNPs = b.HNPs
		}
		u, ack := s.Exchange(m1, x)
		if ack.Status.Accepted() {
			if samePrefixes(HNPsOf(ack), b.HNPs) {
				b.MAG = m1
			} else {
				nb := &Binding{MN: mn, MAG: m1, HNPs: HNPsOf(ack)}
				s.Cleanup(func() { s.Deregister(nb, false) })
				s.Failf("handover (HI=3) got prefixes %v, the session has %v: a new session instead of a handover", HNPsOf(ack), b.HNPs)
			}
		}
		s.wantStatus(ack, mh.StatusAccepted)
		s.wantEcho(u, ack, false)
		s.ExpectSilence(m0, PBU{MN: mn, HNPs: b.HNPs, HI: mh.HIHandoffStateUnknown, Lifetime: u16(0)},
			"after the handover the old MAG is no longer the Proxy-CoA, so its de-registration must be ignored")
	}
}

func checkHI4Wait(s *Session) {
	m0, m1 := s.MAG(0), s.MAG(1)
	mn := s.NewMN()
	b, _, _ := s.Register(m0, PBU{MN: mn})
	u := s.SendPBU(m1, PBU{MN: mn, HI: mh.HIHandoffStateUnknown})
	var early *mh.BindingAck
	if m := s.Await(m1, 300*time.Millisecond, func(m mh.Message) bool { _, ok := isReplyTo(m, u); return ok }); m != nil {
		early = m.(*mh.BindingAck)
	}
	s.Deregister(b, true)
	ack := early
	if ack == nil {
		ack = s.AwaitPBA(m1, u, s.t.HoldWait)
	}
	if !ack.Status.Accepted() {
		s.Failf("PBU with HI=4 rejected with %d (%v)", ack.Status, ack.Status)
	}
	nb := &Binding{MN: mn, MAG: m1, HNPs: HNPsOf(ack)}
	s.Cleanup(func() { s.Deregister(nb, false) })
	s.wantEcho(u, ack, false)
	switch {
	case early != nil:
		s.Note("the target answered the HI=4 PBU without waiting for the old MAG's de-registration (the configurable MAY of §5.4.1.3), prefixes %v", nb.HNPs)
	case !samePrefixes(nb.HNPs, b.HNPs):
		s.Failf("after the de-registration the HI=4 PBU got prefixes %v, the session had %v: not handed over", nb.HNPs, b.HNPs)
	}
}

func checkPrefixSetMismatch(s *Session) {
	mn := s.NewMN()
	b, _, _ := s.Register(s.MAG(0), PBU{MN: mn})
	other := netip.MustParsePrefix("2001:db8:dead:beef::/64")
	if slices.Contains(b.HNPs, other) {
		other = netip.MustParsePrefix("2001:db8:dead:bee0::/64")
	}
	u, ack := s.Exchange(s.MAG(0), PBU{MN: mn, HNPs: append(slices.Clone(b.HNPs), other), HI: mh.HIHandoffStateNotChanged})
	if ack.Status.Accepted() {
		b.HNPs = HNPsOf(ack)
	}
	s.wantStatus(ack, mh.StatusBCEPBUPrefixSetDoNotMatch)
	s.wantEcho(u, ack, false)
}

func checkOtherMNPrefix(s *Session) {
	a := s.NewMN()
	b, _, _ := s.Register(s.MAG(0), PBU{MN: a})
	other := s.NewMN()
	u, ack := s.Exchange(s.MAG(0), PBU{MN: other, HNPs: b.HNPs})
	if ack.Status.Accepted() {
		nb := &Binding{MN: other, MAG: s.MAG(0), HNPs: HNPsOf(ack)}
		s.Cleanup(func() { s.Deregister(nb, false) })
	}
	s.wantStatus(ack, mh.StatusNotAuthorizedForHNP)
	s.wantEcho(u, ack, false)
}

func checkPolicyStatus(kind string, want mh.Status) func(*Session) {
	return func(s *Session) {
		p := s.MAG(0)
		var mn string
		switch kind {
		case "mag":
			if s.c.unauth == nil {
				s.NotApplicable("no unauthorised MAG address given (--unauthorized-mag)")
			}
			p, mn = s.c.unauth, s.NewMN()
		case "unknown":
			if mn = s.t.UnknownMN; mn == "" {
				s.NotApplicable("no unknown MN-ID given (--unknown-mn)")
			}
		case "disabled":
			if mn = s.t.ProxyDisabledMN; mn == "" {
				s.NotApplicable("no MN-ID without network-based mobility given (--proxy-disabled-mn)")
			}
		}
		u, ack := s.Exchange(p, PBU{MN: mn})
		if ack.Status.Accepted() {
			s.Deregister(&Binding{MN: mn, MAG: p, HNPs: HNPsOf(ack)}, false)
		}
		s.wantStatus(ack, want)
		s.wantEcho(u, ack, false)
	}
}

func checkHeartbeat(s *Session) {
	p := s.MAG(0)
	seq := uint32(s.nextSeq())<<16 | 0x5213
	s.Send(p, &mh.Heartbeat{Sequence: seq})
	m := s.Await(p, s.t.ReplyTimeout, func(m mh.Message) bool {
		hb, ok := m.(*mh.Heartbeat)
		return ok && hb.Response()
	})
	if m == nil {
		s.Failf("no Heartbeat response within %v", s.t.ReplyTimeout)
	}
	hb := m.(*mh.Heartbeat)
	if hb.Sequence != seq {
		s.Failf("Heartbeat response with Sequence Number %d, the request had %d", hb.Sequence, seq)
	}
	if hb.Unsolicited() {
		s.Failf("response to a request has the U flag")
	}
	if _, ok := mh.Find[*mh.RestartCounter](hb.Options); !ok {
		s.Failf("Heartbeat response without a Restart Counter option (RFC 5847 §3.4: MUST)")
	}
}

func checkUnknownType(s *Session) {
	p := s.MAG(0)
	// MH Type 200 (unassigned), Payload Proto 59, Header Len 0, 2 octets
	// of message data: the smallest well-formed Mobility Header.
	s.SendRaw(p, []byte{59, 0, 200, 0, 0, 0, 0, 0})
	m := s.Await(p, s.t.ReplyTimeout, func(m mh.Message) bool { _, ok := m.(*mh.BindingError); return ok })
	if m == nil {
		s.Failf("no Binding Error within %v", s.t.ReplyTimeout)
	}
	if be := m.(*mh.BindingError); be.Status != mh.BEStatusUnrecognizedMHType {
		s.Failf("Binding Error status %d, want 2 (unrecognized MH Type)", be.Status)
	}
}

func checkRevocation(s *Session) {
	if s.t.RevokeHook == nil {
		s.NotApplicable("no way to make the target revoke a binding (--revoke-cmd)")
	}
	p := s.MAG(0)
	mn := s.NewMN()
	b, _, _ := s.Register(p, PBU{MN: mn})
	errc := make(chan error, 1)
	go func() { errc <- s.t.RevokeHook(s.ctx, mn, b.HNPs[0]) }()
	m := s.Await(p, s.t.ReplyTimeout+2*time.Second, func(m mh.Message) bool {
		_, ok := m.(*mh.BindingRevocationIndication)
		return ok
	})
	if m == nil {
		select {
		case err := <-errc:
			if err != nil {
				s.NotApplicable("the revocation hook failed: %v", err)
			}
		default:
		}
		s.Failf("no Binding Revocation Indication after the revocation was triggered")
	}
	bri := m.(*mh.BindingRevocationIndication)
	if !bri.Proxy() {
		s.Failf("BRI without the P flag for a proxy binding")
	}
	id, ok := mh.Find[*mh.MNIdentifier](bri.Options)
	if !ok || string(id.Identifier) != mn {
		s.Failf("BRI without the MN-ID %q", mn)
	}
	if !samePrefixes(HNPsOf(bri), b.HNPs) {
		s.Failf("BRI with prefixes %v, the session has %v", HNPsOf(bri), b.HNPs)
	}
	bra := &mh.BindingRevocationAck{Sequence: bri.Sequence, Flags: bri.Flags & (mh.BRFlagP | mh.BRFlagV | mh.BRFlagG), Status: 0}
	s.Send(p, bra)
	b.Gone = true
	// The target must not send the BRI again once acknowledged.
	if m := s.Await(p, s.t.SilenceWait, func(m mh.Message) bool {
		x, ok := m.(*mh.BindingRevocationIndication)
		return ok && x.Sequence == bri.Sequence
	}); m != nil {
		s.Failf("BRI sent again after its BRA")
	}
}
