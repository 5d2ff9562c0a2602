package mag

import (
	"bytes"
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/mh"
)

// TestPBUFields checks every field of the PBU for each way an MN
// attaches and for each Handoff Indicator rule (RFC 5213 §6.9.1.1,
// §6.9.1.3, §6.9.1.4, §6.9.1.5).
func TestPBUFields(t *testing.T) {
	nai := func(s string) *mh.MNIdentifier { return mh.NewNAI(s) }
	cases := []struct {
		name    string
		cfg     func(*Config)
		act     func(h *harness)
		mnid    *mh.MNIdentifier
		hnps    []netip.Prefix
		hi      mh.HandoffIndicatorValue
		life    uint16
		llid    []byte
		types   []mh.OptionType
		noTS    bool
		wantSeq uint16
	}{
		{name: "link up, profile by interface: ALL_ZERO HNP, HI 1, no LL-ID",
			act:  func(h *harness) { h.up("acc0", false) },
			mnid: nai("mn0@example.org"), hnps: []netip.Prefix{allZero}, hi: 1, life: 900, wantSeq: 1,
			types: []mh.OptionType{mh.OptMNIdentifier, mh.OptHomeNetworkPrefix, mh.OptHandoffIndicator, mh.OptAccessTechnologyType, mh.OptTimestamp}},
		{name: "link moved in from another MAG: HI 3",
			act:  func(h *harness) { h.up("acc0", true) },
			mnid: nai("mn0@example.org"), hnps: []netip.Prefix{allZero}, hi: 3, life: 900, wantSeq: 1,
			types: []mh.OptionType{mh.OptMNIdentifier, mh.OptHomeNetworkPrefix, mh.OptHandoffIndicator, mh.OptAccessTechnologyType, mh.OptTimestamp}},
		{name: "moved link where moves are not trusted: HI 4",
			cfg:  func(c *Config) { c.Interfaces[0].MovedHI = 4 },
			act:  func(h *harness) { h.up("acc0", true) },
			mnid: nai("mn0@example.org"), hnps: []netip.Prefix{allZero}, hi: 4, life: 900, wantSeq: 1,
			types: []mh.OptionType{mh.OptMNIdentifier, mh.OptHomeNetworkPrefix, mh.OptHandoffIndicator, mh.OptAccessTechnologyType, mh.OptTimestamp}},
		{name: "RS with a MAC, profile by MAC: fixed HNPs, MN LL-ID, ATT of the link",
			cfg:  func(c *Config) { c.Interfaces[1].ATT = mh.ATT80211; c.Lifetime = 1000 * time.Second },
			act:  func(h *harness) { h.rs("acc1", mac2, mnLL) },
			mnid: nai("mn2@example.org"), hnps: []netip.Prefix{hnpA, hnpB}, hi: 1, life: 250, llid: mac2, wantSeq: 1,
			types: []mh.OptionType{mh.OptMNIdentifier, mh.OptHomeNetworkPrefix, mh.OptHomeNetworkPrefix, mh.OptHandoffIndicator, mh.OptAccessTechnologyType, mh.OptTimestamp, mh.OptMNLinkLayerID}},
		{name: "no profile, MAC identity: EUI-48 MN-ID",
			cfg: func(c *Config) { c.MACIdentity = true },
			act: func(h *harness) {
				h.rs("acc2", ndpMAC(0x42), mnLL)
			},
			mnid: &mh.MNIdentifier{Subtype: 5, Identifier: ndpMAC(0x42)}, hnps: []netip.Prefix{allZero}, hi: 1, life: 900, llid: ndpMAC(0x42), wantSeq: 1,
			types: []mh.OptionType{mh.OptMNIdentifier, mh.OptHomeNetworkPrefix, mh.OptHandoffIndicator, mh.OptAccessTechnologyType, mh.OptTimestamp, mh.OptMNLinkLayerID}},
		{name: "sequence-number scheme: no Timestamp",
			cfg:  func(c *Config) { c.SequenceScheme = true },
			act:  func(h *harness) { h.up("acc0", false) },
			mnid: nai("mn0@example.org"), hnps: []netip.Prefix{allZero}, hi: 1, life: 900, noTS: true, wantSeq: 1,
			types: []mh.OptionType{mh.OptMNIdentifier, mh.OptHomeNetworkPrefix, mh.OptHandoffIndicator, mh.OptAccessTechnologyType}},
		{name: "re-registration: HI 5 with the assigned HNP",
			act: func(h *harness) {
				h.up("acc0", false)
				h.accept(25, hnpA) // 100 s
				h.advance(80 * time.Second)
			},
			mnid: nai("mn0@example.org"), hnps: []netip.Prefix{hnpA}, hi: 5, life: 900, wantSeq: 2,
			types: []mh.OptionType{mh.OptMNIdentifier, mh.OptHomeNetworkPrefix, mh.OptHandoffIndicator, mh.OptAccessTechnologyType, mh.OptTimestamp}},
		{name: "de-registration: lifetime 0, HI 4, the assigned HNP",
			act: func(h *harness) {
				h.up("acc0", false)
				h.accept(900, hnpA)
				h.advance(time.Second)
				h.down("acc0")
			},
			mnid: nai("mn0@example.org"), hnps: []netip.Prefix{hnpA}, hi: 4, life: 0, wantSeq: 2,
			types: []mh.OptionType{mh.OptMNIdentifier, mh.OptHomeNetworkPrefix, mh.OptHandoffIndicator, mh.OptAccessTechnologyType, mh.OptTimestamp}},
		{name: "de-registration keeps the MN LL-ID",
			act: func(h *harness) {
				h.rs("acc1", mac2, mnLL)
				h.accept(900, hnpA, hnpB)
				h.down("acc1")
			},
			mnid: nai("mn2@example.org"), hnps: []netip.Prefix{hnpA, hnpB}, hi: 4, life: 0, llid: mac2, wantSeq: 2,
			types: []mh.OptionType{mh.OptMNIdentifier, mh.OptHomeNetworkPrefix, mh.OptHomeNetworkPrefix, mh.OptHandoffIndicator, mh.OptAccessTechnologyType, mh.OptTimestamp, mh.OptMNLinkLayerID}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.cfg)
			c.act(h)
			s := h.pbus()
			if len(s) == 0 {
				t.Fatal("no PBU")
			}
			p := s[len(s)-1]
			bu := p.bu
			if p.dst != lmaAddr {
				t.Errorf("sent to %v, want the LMA %v", p.dst, lmaAddr)
			}
			if bu.Flags != mh.BUFlagA|mh.BUFlagP {
				t.Errorf("flags %#04x, want A|P", uint16(bu.Flags))
			}
			if bu.Lifetime != c.life {
				t.Errorf("lifetime %d, want %d", bu.Lifetime, c.life)
			}
			if bu.Sequence != c.wantSeq {
				t.Errorf("sequence %d, want %d", bu.Sequence, c.wantSeq)
			}
			if got := optionTypes(bu.Options); !reflect.DeepEqual(got, c.types) {
				t.Errorf("options %v, want %v", got, c.types)
			}
			id, _ := mh.Find[*mh.MNIdentifier](bu.Options)
			if id == nil || id.Subtype != c.mnid.Subtype || !bytes.Equal(id.Identifier, c.mnid.Identifier) {
				t.Errorf("MN-ID %+v, want %+v", id, c.mnid)
			}
			if got := hnpsOf(bu); !reflect.DeepEqual(got, c.hnps) {
				t.Errorf("HNPs %v, want %v", got, c.hnps)
			}
			if hiOf(bu) != c.hi {
				t.Errorf("HI %d, want %d", hiOf(bu), c.hi)
			}
			att, _ := mh.Find[*mh.AccessTechnologyType](bu.Options)
			wantATT := mh.ATT8023
			if c.cfg != nil {
				cfg := baseConfig()
				c.cfg(&cfg)
				if cfg.Interfaces[1].ATT != 0 && c.llid != nil && c.mnid.Subtype == mh.MNIDNAI {
					wantATT = cfg.Interfaces[1].ATT
				}
			}
			if att == nil || att.Value != wantATT {
				t.Errorf("ATT %+v, want %v", att, wantATT)
			}
			ll, _ := mh.Find[*mh.MNLinkLayerID](bu.Options)
			if (ll != nil) != (c.llid != nil) || (ll != nil && !bytes.Equal(ll.LinkLayerID, c.llid)) {
				t.Errorf("MN LL-ID %+v, want %x", ll, c.llid)
			}
			ts, _ := mh.Find[*mh.Timestamp](bu.Options)
			// The MAG's clock, made strictly increasing (+1/65536 s at most here).
			if !c.noTS && (ts == nil || ts.Time().Before(p.at) || ts.Time().Sub(p.at) > time.Millisecond) {
				t.Errorf("timestamp %+v, want the MAG clock %v", ts, p.at)
			}
			if err := mh.ValidatePBU(bu); err != nil {
				t.Errorf("the PBU breaks RFC 5213: %v", err)
			}
			if len(h.m.BUL()) == 0 {
				t.Errorf("no BUL entry after sending the PBU")
			}
		})
	}
}

func ndpMAC(last byte) []byte { return []byte{0x02, 0xaa, 0, 0, 0, last} }

// TestRetransmission: 1 s doubling to 32 s, a fresh timestamp and a new
// sequence number each time (RFC 5213 §6.9.4).
func TestRetransmission(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(*Config)
		want []time.Duration // send times from t0
	}{
		{"INITIAL_BINDACK_TIMEOUT 1 s doubling to 32 s", nil,
			[]time.Duration{0, 1, 3, 7, 15, 31, 63, 95, 127}},
		{"InitialBindackTimeoutFirstReg 1.5 s", func(c *Config) { c.FirstRegTimeout = 1500 * time.Millisecond },
			[]time.Duration{0, 1500, 4500, 10500, 22500, 46500, 78500, 110500}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.cfg)
			h.up("acc0", false)
			h.advance(130 * time.Second)
			unit := time.Second
			if c.cfg != nil {
				unit = time.Millisecond
			}
			s := h.pbus()
			var got []time.Duration
			for _, p := range s {
				got = append(got, p.at.Sub(t0)/unit)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("send times %v, want %v (units of %v)", got, c.want, unit)
			}
			var lastTS uint64
			for i, p := range s {
				ts, _ := mh.Find[*mh.Timestamp](p.bu.Options)
				if ts.Value <= lastTS || !ts.Time().Equal(p.at) {
					t.Errorf("try %d: timestamp %v not fresh (sent at %v)", i, ts.Time(), p.at)
				}
				lastTS = ts.Value
				if p.bu.Sequence != uint16(i+1) || hiOf(p.bu) != 1 {
					t.Errorf("try %d: seq %d HI %d", i, p.bu.Sequence, hiOf(p.bu))
				}
			}
			// A PBA to an earlier try still matches.
			h.deliver(pba(s[2].bu, mh.StatusAccepted, 900, hnpA))
			if b := h.m.BUL(); len(b) != 1 || b[0].State != "registered" {
				t.Fatalf("BUL after a PBA to try 3: %+v", b)
			}
			n := len(h.pbus())
			h.advance(100 * time.Second)
			if len(h.pbus()) != n {
				t.Errorf("retransmissions continued after the PBA")
			}
		})
	}
}

// TestRetransmissionStopsWhenDetached: no retransmission for an MN that
// is gone (§6.9.4 step 2).
func TestRetransmissionStopsWhenDetached(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Profiles[0].HNPs = []netip.Prefix{hnpA} })
	h.up("acc0", false)
	h.down("acc0")
	s := h.pbus()
	if len(s) != 2 || s[1].bu.Lifetime != 0 || hiOf(s[1].bu) != 4 {
		t.Fatalf("want the PBU and a de-registration, got %d PBUs", len(s))
	}
	h.advance(60 * time.Second)
	if n := len(h.pbus()); n != 2 {
		t.Fatalf("%d PBUs after detach, want no retransmission (de-registration is not retransmitted)", n)
	}
	if b := h.m.BUL(); len(b) != 0 {
		t.Fatalf("BUL entry left after INITIAL_BINDACK_TIMEOUT: %+v", b)
	}
}

// TestRateLimit: at most MAX_UPDATE_RATE (3) PBUs per second to one LMA.
func TestRateLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Profiles = nil
		for _, it := range c.Interfaces {
			c.Profiles = append(c.Profiles, Profile{MNID: it.Name + "@example.org", Interface: it.Name})
		}
	})
	for _, n := range []string{"acc0", "acc1", "acc2", "acc3", "acc4"} {
		h.up(n, false)
	}
	if n := len(h.pbus()); n != 3 {
		t.Fatalf("%d PBUs at t0, want 3", n)
	}
	h.advance(40 * time.Second)
	s := h.pbus()
	first := map[string]time.Duration{}
	for i, p := range s {
		id, _ := mh.Find[*mh.MNIdentifier](p.bu.Options)
		if _, ok := first[string(id.Identifier)]; !ok {
			first[string(id.Identifier)] = p.at.Sub(t0)
		}
		k := 0
		for _, q := range s[:i+1] {
			if p.at.Sub(q.at) < time.Second {
				k++
			}
		}
		if k > 3 {
			t.Fatalf("%d PBUs within one second ending %v", k, p.at.Sub(t0))
		}
	}
	if len(first) != 5 {
		t.Fatalf("only %d MNs got a PBU out", len(first))
	}
	if first["acc3@example.org"] < time.Second || first["acc4@example.org"] < time.Second {
		t.Errorf("queued PBUs went out early: %v", first)
	}
	if c := h.m.Counters(); c.PBURateLimited == 0 {
		t.Errorf("PBURateLimited not counted")
	}
}

// TestRAOnlyAfterPBA: no RA before the PBA; after it, the data plane
// entries and a unicast RA with the HNPs, the MTU option and the RFC 6543
// link-layer address (RFC 5213 §6.9.1.2 step 10, §6.9.2).
func TestRAOnlyAfterPBA(t *testing.T) {
	h := newHarness(t, nil)
	h.rs("acc1", mac2, mnLL)
	h.advance(500 * time.Millisecond)
	h.rs("acc1", mac2, mnLL)
	if r := h.ras(); len(r) != 0 {
		t.Fatalf("RA before the PBA: %+v", r)
	}
	if e := h.entries(); len(e) != 0 {
		t.Fatalf("forwarding state before the PBA: %v", e)
	}
	h.accept(225, hnpA, hnpB) // 900 s
	want := []dataplane.Entry{
		{Kind: dataplane.KindSourceRoute, Prefix: hnpA, Dev: "acc1", Remote: lmaAddr},
		{Kind: dataplane.KindSourceRoute, Prefix: hnpB, Dev: "acc1", Remote: lmaAddr},
		{Kind: dataplane.KindAccessRoute, Prefix: hnpA, Dev: "acc1"},
		{Kind: dataplane.KindAccessRoute, Prefix: hnpB, Dev: "acc1"},
	}
	dataplane.SortEntries(want)
	if got := h.entries(); !reflect.DeepEqual(got, want) {
		t.Fatalf("data plane\n got %v\nwant %v", got, want)
	}
	// What the MAG says it wants is what it installed.
	if got, err := h.m.Entries(context.Background()); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("MAG.Entries\n got %v (%v)\nwant %v", got, err, want)
	}
	r := h.ras()
	if len(r) != 1 {
		t.Fatalf("%d RAs after the PBA, want 1", len(r))
	}
	ra := r[0]
	if ra.IfIndex != ifindexOf("acc1") || ra.Dst != mnLL {
		t.Errorf("RA to %v on %d, want unicast to %v on %d", ra.Dst, ra.IfIndex, mnLL, ifindexOf("acc1"))
	}
	if ra.RA.MTU != 1460 || !bytes.Equal(ra.RA.SourceLinkLayer, ndp.RouterMAC) || ra.RA.RouterLifetime != 1800*time.Second {
		t.Errorf("RA header/options: %+v", ra.RA)
	}
	wantP := []ndp.Prefix{
		{Prefix: hnpA, OnLink: true, Autonomous: true, ValidLifetime: 900 * time.Second, PreferredLifetime: 900 * time.Second},
		{Prefix: hnpB, OnLink: true, Autonomous: true, ValidLifetime: 900 * time.Second, PreferredLifetime: 900 * time.Second},
	}
	if !reflect.DeepEqual(ra.RA.Prefixes, wantP) {
		t.Errorf("RA prefixes\n got %+v\nwant %+v", ra.RA.Prefixes, wantP)
	}
	// An RS now gets an immediate answer.
	h.advance(10 * time.Second)
	n := len(h.ras())
	h.rs("acc1", mac2, mnLL)
	if len(h.ras()) != n+1 {
		t.Errorf("no RA in answer to an RS after the registration")
	}
	// Initial RAs: 3 in all, InitialRAInterval apart, then RAInterval.
	h2 := newHarness(t, nil)
	h2.up("acc0", false)
	h2.accept(900, hnpA)
	h2.advance(4*time.Second + 4*time.Second + time.Second)
	if got := h2.ras(); len(got) != 3 || got[0].Dst != ndp.AllNodes {
		t.Errorf("want 3 RAs to all-nodes (MN link-local unknown) in the first 9 s, got %d %+v", len(got), got)
	}
	h2.advance(590 * time.Second)
	if got := len(h2.ras()); got != 3 {
		t.Errorf("%d RAs before RAInterval", got)
	}
	h2.advance(20 * time.Second)
	if got := len(h2.ras()); got != 4 {
		t.Errorf("%d RAs after RAInterval, want 4", got)
	}
}

// TestRejectedPBA: statuses >= 128 mean no RA, no forwarding state, no
// entry; some have their own follow-up (RFC 5213 §6.9.1.2).
func TestRejectedPBA(t *testing.T) {
	cases := []struct {
		name     string
		st       mh.Status
		fixed    bool           // the profile requests hnpA
		followHN []netip.Prefix // HNPs of an immediate new PBU; nil: none
		denied   bool
	}{
		{"128 reason unspecified", 128, false, nil, false},
		{"154 MAG not authorized", 154, false, nil, false},
		{"156 timestamp mismatch: never adopt the LMA clock", 156, false, nil, false},
		{"152 proxy registration not enabled: deny", 152, false, nil, true},
		{"155 with a fixed HNP: ask with ALL_ZERO", 155, true, []netip.Prefix{allZero}, false},
		{"155 with ALL_ZERO: give up", 155, false, nil, false},
		{"157 timestamp lower: register again", 157, false, []netip.Prefix{allZero}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *Config) {
				if c.fixed {
					cfg.Profiles[0].HNPs = []netip.Prefix{hnpA}
				}
			})
			h.up("acc0", false)
			h.rs("acc0", ndpMAC(9), mnLL)
			bu := h.last()
			ba := pba(bu, c.st, 0)
			h.deliver(ba)
			s := h.pbus()
			if c.followHN != nil {
				if len(s) != 2 || !reflect.DeepEqual(hnpsOf(s[1].bu), c.followHN) || s[1].at != s[0].at {
					t.Fatalf("want an immediate new PBU with %v, got %d PBUs", c.followHN, len(s))
				}
				return
			}
			if len(s) != 1 {
				t.Errorf("%d PBUs, want no new one", len(s))
			}
			if r := h.ras(); len(r) != 0 {
				t.Errorf("RA after rejection: %+v", r)
			}
			if e := h.entries(); len(e) != 0 {
				t.Errorf("forwarding state after rejection: %v", e)
			}
			if b := h.m.BUL(); len(b) != 0 {
				t.Errorf("BUL after rejection: %+v", b)
			}
			h.advance(60 * time.Second)
			if len(h.pbus()) != 1 {
				t.Errorf("retransmission after a rejection")
			}
			h.down("acc0")
			h.up("acc0", false)
			if got := len(h.pbus()); (got == 1) != c.denied {
				t.Errorf("re-attach after %d: %d PBUs (denied=%v)", c.st, got, c.denied)
			}
		})
	}
}

// TestIgnoredPBA: PBAs that must be ignored (§6.9.1.2 steps 1, 3, 4).
func TestIgnoredPBA(t *testing.T) {
	cases := []struct {
		name   string
		mut    func(ba *mh.BindingAck)
		halted bool
	}{
		{"no P flag (invalid per RFC 5213 §8.2)", func(ba *mh.BindingAck) { ba.Flags = 0 }, false},
		{"unknown sequence number", func(ba *mh.BindingAck) { ba.Sequence += 100 }, false},
		{"other MN-ID", func(ba *mh.BindingAck) { ba.Options[0] = mh.NewNAI("other@example.org") }, false},
		{"HI differs: ignore and stop", func(ba *mh.BindingAck) {
			for _, o := range ba.Options {
				if x, ok := o.(*mh.HandoffIndicator); ok {
					ba.Options = replaceOpt(ba.Options, x, &mh.HandoffIndicator{Value: 2})
				}
			}
		}, true},
		{"ATT differs: ignore and stop", func(ba *mh.BindingAck) {
			for _, o := range ba.Options {
				if x, ok := o.(*mh.AccessTechnologyType); ok {
					ba.Options = replaceOpt(ba.Options, x, &mh.AccessTechnologyType{Value: mh.ATT80211})
				}
			}
		}, true},
		{"MN LL-ID missing: ignore and stop", func(ba *mh.BindingAck) {
			for _, o := range ba.Options {
				if x, ok := o.(*mh.MNLinkLayerID); ok {
					ba.Options = replaceOpt(ba.Options, x, nil)
				}
			}
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.rs("acc1", mac2, mnLL)
			ba := pba(h.last(), mh.StatusAccepted, 900)
			c.mut(ba)
			h.deliver(ba)
			if r := h.ras(); len(r) != 0 {
				t.Fatalf("RA after an ignored PBA")
			}
			if cnt := h.m.Counters(); cnt.PBAIgnored != 1 {
				t.Errorf("PBAIgnored %d", cnt.PBAIgnored)
			}
			h.advance(2 * time.Second)
			n := len(h.pbus())
			if c.halted && n != 1 {
				t.Errorf("%d PBUs: retransmission after a mismatching PBA", n)
			}
			if !c.halted && n < 2 {
				t.Errorf("no retransmission after an ignored PBA")
			}
		})
	}
}

func replaceOpt(opts mh.Options, old, nw mh.Option) mh.Options {
	var out mh.Options
	for _, o := range opts {
		if o == old {
			if nw != nil {
				out = append(out, nw)
			}
			continue
		}
		out = append(out, o)
	}
	return out
}

// TestReregistration: the PBU with HI 5 goes at RefreshFraction of the
// granted lifetime; accepted, the binding lives on; unanswered, the
// binding expires with its routes and its prefixes are withdrawn.
func TestReregistration(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.RefreshFraction = 0.5 })
		h.up("acc0", false)
		h.accept(50, hnpA) // 200 s
		h.advance(99 * time.Second)
		if n := len(h.pbus()); n != 1 {
			t.Fatalf("re-registration before half the lifetime (%d PBUs)", n)
		}
		h.advance(time.Second)
		s := h.pbus()
		if len(s) != 2 || s[1].at.Sub(t0) != 100*time.Second || hiOf(s[1].bu) != 5 || !reflect.DeepEqual(hnpsOf(s[1].bu), []netip.Prefix{hnpA}) {
			t.Fatalf("re-registration: %d PBUs, last at %v HI %d", len(s), s[len(s)-1].at.Sub(t0), hiOf(s[len(s)-1].bu))
		}
		h.accept(50, hnpA)
		b := h.m.BUL()
		if len(b) != 1 || b[0].State != "registered" || !b[0].Expires.Equal(t0.Add(300*time.Second)) {
			t.Fatalf("BUL after the re-registration: %+v", b)
		}
		h.advance(150 * time.Second) // past the first expiry
		if len(h.entries()) != 2 {
			t.Fatalf("routes lost after a successful re-registration")
		}
	})
	t.Run("unanswered: expiry", func(t *testing.T) {
		h := newHarness(t, nil)
		h.up("acc0", false)
		h.rs("acc0", ndpMAC(7), mnLL)
		h.accept(25, hnpA) // 100 s, refresh at 80 s
		h.advance(99 * time.Second)
		if len(h.entries()) != 2 || len(h.m.BUL()) != 1 {
			t.Fatalf("binding gone before expiry")
		}
		nRA := len(h.ras())
		h.advance(time.Second)
		if len(h.entries()) != 0 || len(h.m.BUL()) != 0 {
			t.Fatalf("binding not removed at expiry: %v %+v", h.entries(), h.m.BUL())
		}
		r := h.ras()
		if len(r) != nRA+1 || r[len(r)-1].RA.Prefixes[0].ValidLifetime != 0 || r[len(r)-1].RA.RouterLifetime != 0 {
			t.Fatalf("no withdrawing RA at expiry: %+v", r[len(r)-1])
		}
		if c := h.m.Counters(); c.Expired != 1 {
			t.Errorf("Expired %d", c.Expired)
		}
	})
}

// TestDeregistration: detach sends lifetime 0 / HI 4, removes the routes
// and the entry on the PBA (RFC 5213 §6.9.1.4).
func TestDeregistration(t *testing.T) {
	for _, removed := range []bool{false, true} {
		h := newHarness(t, nil)
		h.up("acc0", false)
		h.accept(900, hnpA)
		if len(h.entries()) != 2 {
			t.Fatal("no routes")
		}
		if removed {
			h.links.Emit(LinkEvent{Kind: LinkRemoved, Ifname: "acc0", Ifindex: ifindexOf("acc0")})
		} else {
			h.down("acc0")
		}
		bu := h.last()
		if bu.Lifetime != 0 || hiOf(bu) != 4 || !reflect.DeepEqual(hnpsOf(bu), []netip.Prefix{hnpA}) {
			t.Fatalf("de-registration PBU: lifetime %d HI %d HNPs %v", bu.Lifetime, hiOf(bu), hnpsOf(bu))
		}
		if len(h.entries()) != 0 {
			t.Fatalf("routes left after detach: %v", h.entries())
		}
		if want, err := h.m.Entries(context.Background()); err != nil || len(want) != 0 {
			t.Fatalf("entries wanted after detach: %v %v", want, err)
		}
		if b := h.m.BUL(); len(b) != 1 || b[0].State != "deregistering" {
			t.Fatalf("BUL during de-registration: %+v", b)
		}
		h.deliver(pba(bu, mh.StatusAccepted, 0))
		if b := h.m.BUL(); len(b) != 0 {
			t.Fatalf("BUL after the de-registration PBA: %+v", b)
		}
	}
}

// TestBRI: answers to Binding Revocation Indications (RFC 5846 §9.1).
func TestBRI(t *testing.T) {
	nai := mh.NewNAI("mn0@example.org")
	cases := []struct {
		name    string
		detach  bool
		bri     *mh.BindingRevocationIndication
		want    mh.BRStatus
		removed bool
	}{
		{"administrative: success, state removed",
			false, &mh.BindingRevocationIndication{Trigger: 1, Sequence: 7, Flags: mh.BRFlagP, Base: mh.Base{Options: mh.Options{nai}}}, 0, true},
		{"handover trigger while the MN is attached: 132",
			false, &mh.BindingRevocationIndication{Trigger: 2, Sequence: 7, Flags: mh.BRFlagP, Base: mh.Base{Options: mh.Options{nai}}}, 132, false},
		{"handover trigger after the MN left: success",
			true, &mh.BindingRevocationIndication{Trigger: 4, Sequence: 7, Flags: mh.BRFlagP, Base: mh.Base{Options: mh.Options{nai}}}, 0, true},
		{"HNP named: success",
			false, &mh.BindingRevocationIndication{Trigger: 1, Sequence: 7, Flags: mh.BRFlagP, Base: mh.Base{Options: mh.Options{mh.NewHNP(hnpA), nai}}}, 0, true},
		{"other HNP: 128",
			false, &mh.BindingRevocationIndication{Trigger: 1, Sequence: 7, Flags: mh.BRFlagP, Base: mh.Base{Options: mh.Options{mh.NewHNP(hnpB), nai}}}, 128, false},
		{"unknown MN: 128",
			false, &mh.BindingRevocationIndication{Trigger: 1, Sequence: 7, Flags: mh.BRFlagP, Base: mh.Base{Options: mh.Options{mh.NewNAI("x@y")}}}, 128, false},
		{"no MN-ID: 131",
			false, &mh.BindingRevocationIndication{Trigger: 1, Sequence: 7, Flags: mh.BRFlagP}, 131, false},
		{"global: success, all removed",
			false, &mh.BindingRevocationIndication{Trigger: 128, Sequence: 7, Flags: mh.BRFlagP | mh.BRFlagG}, 0, true},
		{"not proxy: 135",
			false, &mh.BindingRevocationIndication{Trigger: 1, Sequence: 7, Base: mh.Base{Options: mh.Options{nai}}}, 135, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.up("acc0", false)
			h.accept(900, hnpA)
			if c.detach {
				h.down("acc0")
			}
			nRA := len(h.ras())
			h.deliver(c.bri)
			h.mu.Lock()
			bra := h.bra
			h.mu.Unlock()
			if len(bra) != 1 {
				t.Fatalf("%d BRAs", len(bra))
			}
			if bra[0].Status != c.want || bra[0].Sequence != 7 || bra[0].Flags != c.bri.Flags {
				t.Errorf("BRA status %d seq %d flags %#x, want %d 7 %#x", bra[0].Status, bra[0].Sequence, bra[0].Flags, c.want, c.bri.Flags)
			}
			gone := len(h.m.BUL()) == 0
			if gone != c.removed {
				t.Errorf("entry removed=%v, want %v", gone, c.removed)
			}
			if c.removed && !c.detach {
				r := h.ras()
				if len(r) != nRA+1 || r[len(r)-1].RA.Prefixes[0].ValidLifetime != 0 {
					t.Errorf("no withdrawing RA to the still attached MN")
				}
				if len(h.entries()) != 0 {
					t.Errorf("routes left after revocation")
				}
			}
		})
	}
}

// TestHeartbeat: requests answered with the Restart Counter; requests
// sent to LMAs with bindings; peer-down after MISSING_HEARTBEATS_ALLOWED;
// a changed restart counter re-registers (RFC 5847).
func TestHeartbeat(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HeartbeatInterval = 30 * time.Second; c.RestartCounter = 42 })
	h.deliver(&mh.Heartbeat{Sequence: 99})
	h.mu.Lock()
	got := append([]*mh.Heartbeat(nil), h.hb...)
	h.mu.Unlock()
	if len(got) != 1 || !got[0].Response() || got[0].Sequence != 99 {
		t.Fatalf("heartbeat response: %+v", got)
	}
	if rc, ok := mh.Find[*mh.RestartCounter](got[0].Options); !ok || rc.Counter != 42 {
		t.Fatalf("restart counter in the response: %+v", got[0].Options)
	}
	h.up("acc0", false)
	h.advance(29 * time.Second) // peer created at t0: first tick at 30 s, no binding yet
	h.accept(900, hnpA)
	h.advance(time.Second)
	hbReqs := func() []*mh.Heartbeat {
		h.mu.Lock()
		defer h.mu.Unlock()
		var out []*mh.Heartbeat
		for _, x := range h.hb {
			if !x.Response() {
				out = append(out, x)
			}
		}
		return out
	}
	if r := hbReqs(); len(r) != 1 {
		t.Fatalf("%d heartbeat requests at 30 s, want 1", len(r))
	}
	// Answer with counter 5: reachable, counter learnt.
	h.deliver(&mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: hbReqs()[0].Sequence, Base: mh.Base{Options: mh.Options{&mh.RestartCounter{Counter: 5}}}})
	p := h.m.Peers()
	if len(p) != 1 || !p[0].Reachable || !p[0].RestartKnown || p[0].RestartCounter != 5 || p[0].Bindings != 1 {
		t.Fatalf("peer: %+v", p)
	}
	// Four unanswered intervals: down after the 4th missing (> 3).
	h.advance(4 * 30 * time.Second)
	if p := h.m.Peers(); !p[0].Reachable || p[0].MissingHeartbeats != 3 {
		t.Fatalf("after 3 missing heartbeats (allowed): %+v", p)
	}
	h.advance(30 * time.Second)
	if p := h.m.Peers(); p[0].Reachable || h.m.Counters().PeersDown != 1 {
		t.Fatalf("peer after 4 missing: %+v %d", p, h.m.Counters().PeersDown)
	}
	// A response with another counter: reachable, and the LMA restarted.
	n := len(h.pbus())
	r := hbReqs()
	h.deliver(&mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: r[len(r)-1].Sequence, Base: mh.Base{Options: mh.Options{&mh.RestartCounter{Counter: 6}}}})
	if p := h.m.Peers(); !p[0].Reachable || p[0].RestartCounter != 6 {
		t.Fatalf("peer after the restart: %+v", p)
	}
	s := h.pbus()
	if len(s) != n+1 || hiOf(s[len(s)-1].bu) != 5 {
		t.Fatalf("no re-registration after the LMA restarted (%d -> %d PBUs)", n, len(s))
	}
}

// TestDataplaneFailure: a data plane error after the PBA means no RA and
// a de-registration.
func TestDataplaneFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.up("acc0", false)
	h.dp.FailNext = errInjected
	h.accept(900, hnpA)
	if len(h.ras()) != 0 {
		t.Fatal("RA despite the data plane error")
	}
	if bu := h.last(); bu.Lifetime != 0 || hiOf(bu) != 4 {
		t.Fatalf("no de-registration after the data plane error")
	}
}

type injected string

func (e injected) Error() string { return string(e) }

const errInjected = injected("injected")

// TestStop de-registers and removes what was installed.
func TestStop(t *testing.T) {
	h := newHarness(t, nil)
	h.up("acc0", false)
	h.accept(900, hnpA)
	h.m.Stop()
	if bu := h.last(); bu.Lifetime != 0 || hiOf(bu) != 4 {
		t.Fatalf("no de-registration at stop")
	}
	if e := h.entries(); len(e) != 0 {
		t.Fatalf("data plane after stop: %v", e)
	}
	ops := h.dp.Ops()
	if ops[len(ops)-1] != "flush" {
		t.Fatalf("no flush at stop: %v", ops)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"no address", func(c *Config) { c.Address = netip.Addr{} }, "Proxy-CoA"},
		{"no interfaces", func(c *Config) { c.Interfaces = nil }, "interfaces"},
		{"profile without LMA", func(c *Config) { c.DefaultLMA = netip.Addr{} }, "LMA"},
		{"profile on unknown interface", func(c *Config) { c.Profiles[0].Interface = "eth9" }, "eth9"},
		{"bad HI", func(c *Config) { c.Interfaces[0].AttachHI = 5 }, "handoff"},
		{"bad fraction", func(c *Config) { c.RefreshFraction = 1.5 }, "fraction"},
	}
	for _, c := range cases {
		cfg := baseConfig()
		c.mut(&cfg)
		cfg.setDefaults()
		err := cfg.validate()
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%s: err %v, want one naming %q", c.name, err, c.want)
		}
	}
}
