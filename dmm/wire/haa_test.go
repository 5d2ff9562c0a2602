package wire

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/mh"
)

// TestHAAAllocateHoldingsRelease: MN1 attaches at MR11 and MR12 (§4.1,
// each asks HAA1 for a prefix anchored at itself), then MR2 asks for the
// HNP status (§4.2): the PBA lists each prefix with its anchor.
func TestHAAAllocateHoldingsRelease(t *testing.T) {
	e := newEnv(t)
	h := e.newHAA(haa.Config{})
	e.haaServer(haa1, h, ServerConfig{})
	c11 := NewHAAClient(e.requester(mr11, RequesterConfig{}), haa1)
	c11.Lifetime = 10 * time.Minute

	got, err := c11.Allocate(e.ctx, "mn1")
	if err != nil {
		t.Fatal(err)
	}
	p11 := netip.MustParsePrefix("2001:db8:11:100::/64")
	if want := []Holding{{Prefix: p11, AnchorMR: mr11, Lifetime: 10 * time.Minute}}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("Allocate at MR11: %+v, want %+v", got, want)
	}
	req, ans := exchange(t, e, mr11, haa1)
	bu := req.(*mh.BindingUpdate)
	if bu.Flags != mh.BUFlagA|mh.BUFlagP|mh.BUFlagD || bu.Lifetime != 150 {
		t.Errorf("PBU flags %#x lifetime %d", bu.Flags, bu.Lifetime)
	}
	checkOpts(t, "allocation PBU", bu.Options, `MN-ID NAI "mn1"`, "HNP ::/0", "HI 1", "ATT 1")
	ba := ans.(*mh.BindingAck)
	if ba.Status != 0 || ba.Flags != mh.BAFlagP|mh.BAFlagD || ba.Sequence != bu.Sequence || ba.Lifetime != 150 {
		t.Errorf("PBA status %d flags %#x seq %d (PBU %d) lifetime %d", ba.Status, ba.Flags, ba.Sequence, bu.Sequence, ba.Lifetime)
	}
	checkOpts(t, "allocation PBA", ba.Options, `MN-ID NAI "mn1"`, "HNP 2001:db8:11:100::/64", "HI 1", "ATT 1")
	if err := mh.ValidatePBA(ba); err != nil {
		t.Errorf("the allocation PBA is not a valid RFC 5213 PBA: %v", err)
	}

	// Allocating again at the same MR returns the same prefix, renewed.
	e.clk.Advance(time.Minute)
	got, err = c11.Allocate(e.ctx, "mn1")
	if err != nil || len(got) != 1 || got[0].Prefix != p11 || got[0].Lifetime != 10*time.Minute {
		t.Fatalf("second Allocate: %+v, %v", got, err)
	}
	if a, err := h.Lookup(e.ctx, p11); err != nil || !a.Expiry.Equal(t0.Add(11*time.Minute)) {
		t.Errorf("after the second allocation: %+v %v, want expiry t0+11m", a, err)
	}

	e.clk.Advance(time.Minute)
	c12 := NewHAAClient(e.requester(mr12, RequesterConfig{}), haa1)
	c12.Lifetime = 20 * time.Minute
	got, err = c12.Allocate(e.ctx, "mn1")
	p12 := netip.MustParsePrefix("2001:db8:12:100::/64")
	if err != nil || len(got) != 1 || got[0] != (Holding{Prefix: p12, AnchorMR: mr12, Lifetime: 20 * time.Minute}) {
		t.Fatalf("Allocate at MR12: %+v, %v", got, err)
	}

	// §4.2: MR2, the new MR, asks for the HNP status.
	e.clk.Advance(time.Minute)
	c2 := NewHAAClient(e.requester(mr2, RequesterConfig{}), haa1)
	got, err = c2.Holdings(e.ctx, "mn1")
	if err != nil {
		t.Fatal(err)
	}
	// PBA Lifetime: the shortest left, MR11's: 10 min - 2 min = 480 s.
	want := []Holding{{Prefix: p11, AnchorMR: mr11, Lifetime: 480 * time.Second}, {Prefix: p12, AnchorMR: mr12, Lifetime: 480 * time.Second}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Holdings: %+v, want %+v", got, want)
	}
	req, ans = exchange(t, e, mr2, haa1)
	bu = req.(*mh.BindingUpdate)
	checkOpts(t, "HNP status PBU", bu.Options, `MN-ID NAI "mn1"`, "HNP ::/0", "HI 3", "ATT 1")
	ba = ans.(*mh.BindingAck)
	if ba.Status != 0 || ba.Sequence != bu.Sequence || ba.Lifetime != 120 {
		t.Errorf("PBA status %d seq %d lifetime %d", ba.Status, ba.Sequence, ba.Lifetime)
	}
	checkOpts(t, "HNP status PBA", ba.Options,
		`MN-ID NAI "mn1"`,
		"HNP 2001:db8:11:100::/64",
		"HNP 2001:db8:12:100::/64",
		"Previous MAAR 2001:db8:11::1 HNP 2001:db8:11:100::/64",
		"Previous MAAR 2001:db8:12::1 HNP 2001:db8:12:100::/64",
		"HI 3",
		"ATT 1")
	// Nothing was allocated for MR2.
	if as, _ := h.Holdings(e.ctx, "mn1"); len(as) != 2 {
		t.Errorf("the HNP status request changed the holdings: %+v", as)
	}

	// Release of MR11's prefix.
	if err := c11.Release(e.ctx, "mn1", p11); err != nil {
		t.Fatal(err)
	}
	req, ans = exchange(t, e, mr11, haa1)
	checkOpts(t, "release PBU", req.MHBase().Options, `MN-ID NAI "mn1"`, "HNP 2001:db8:11:100::/64", "HI 1", "ATT 1")
	if bu := req.(*mh.BindingUpdate); bu.Lifetime != 0 {
		t.Errorf("release PBU lifetime %d", bu.Lifetime)
	}
	checkOpts(t, "release PBA", ans.MHBase().Options, `MN-ID NAI "mn1"`, "HNP 2001:db8:11:100::/64", "HI 1", "ATT 1")
	got, err = c2.Holdings(e.ctx, "mn1")
	if err != nil || len(got) != 1 || got[0].Prefix != p12 || got[0].AnchorMR != mr12 {
		t.Errorf("after release: %+v, %v", got, err)
	}

	// A node holding nothing: an empty list.
	got, err = c2.Holdings(e.ctx, "nobody")
	if err != nil || len(got) != 0 {
		t.Errorf("Holdings of an unknown node: %+v, %v", got, err)
	}
}

// TestHAAStatuses: errors map to PBA statuses (haa.StatusFor).
func TestHAAStatuses(t *testing.T) {
	e := newEnv(t)
	h := e.newHAA(haa.Config{MaxLifetime: time.Hour})
	e.haaServer(haa1, h, ServerConfig{})
	c2 := NewHAAClient(e.requester(mr2, RequesterConfig{}), haa1)
	c31 := NewHAAClient(e.requester(mr31, RequesterConfig{}), haa1)

	// MR2's pool holds two /64s.
	for _, mn := range []string{"a", "b"} {
		if _, err := c2.Allocate(e.ctx, mn); err != nil {
			t.Fatalf("Allocate %s: %v", mn, err)
		}
	}
	var re *RejectError
	_, err := c2.Allocate(e.ctx, "c")
	if !errors.As(err, &re) || re.Status != mh.StatusInsufficientResources {
		t.Errorf("exhausted pool: %v, want status 130", err)
	}
	_, ans := exchange(t, e, mr2, haa1)
	if ba := ans.(*mh.BindingAck); ba.Lifetime != 0 || ba.Flags != mh.BAFlagP|mh.BAFlagD {
		t.Errorf("refusal PBA lifetime %d flags %#x", ba.Lifetime, ba.Flags)
	}
	checkOpts(t, "refusal PBA", ans.MHBase().Options, `MN-ID NAI "c"`, "HI 1", "ATT 1")

	_, err = c31.Allocate(e.ctx, "a")
	if !errors.As(err, &re) || re.Status != mh.StatusAdministrativelyProhibited {
		t.Errorf("MR without a pool: %v, want status 129", err)
	}
	err = c31.Release(e.ctx, "b", netip.MustParsePrefix("2001:db8:2:100::/64"))
	if !errors.As(err, &re) || re.Status != mh.StatusNotAuthorizedForHNP {
		t.Errorf("release of another node's prefix: %v, want 155", err)
	}
	// A lifetime above MaxLifetime is granted as MaxLifetime.
	c2.Lifetime = 3 * time.Hour
	if err := c2.Release(e.ctx, "a", netip.MustParsePrefix("2001:db8:2:100::/64")); err != nil {
		t.Fatal(err)
	}
	got, err := c2.Allocate(e.ctx, "d")
	if err != nil || len(got) != 1 || got[0].Lifetime != time.Hour {
		t.Errorf("capped allocation: %+v, %v", got, err)
	}

	// Hand-built PBUs.
	m := e.attach(mr12)
	pbu := func(seq uint16, flags mh.BUFlags, life uint16, os ...mh.Option) []byte {
		bu := &mh.BindingUpdate{Sequence: seq, Flags: flags, Lifetime: life}
		bu.Options = os
		return marshal(t, bu)
	}
	pd := mh.BUFlagA | mh.BUFlagP | mh.BUFlagD
	for _, tc := range []struct {
		name string
		b    []byte
		want mh.Status
		opts []string
	}{
		{"no MN-ID", pbu(1, pd, 10, allZeroHNP()), 160, nil},
		{"no HNP", pbu(2, pd, 10, mh.NewNAI("x")), 158, []string{`MN-ID NAI "x"`}},
		{"not proxy", pbu(3, mh.BUFlagA|mh.BUFlagH, 10, mh.NewNAI("x"), allZeroHNP()), 131, []string{`MN-ID NAI "x"`}},
		{"renew not held", pbu(4, pd, 10, mh.NewNAI("x"), mh.NewHNP(netip.MustParsePrefix("2001:db8:12:1ff::/64"))), 155, []string{`MN-ID NAI "x"`}},
		{"renew", pbu(5, pd, 10, mh.NewNAI("b"), mh.NewHNP(netip.MustParsePrefix("2001:db8:2:101::/64"))), 0, []string{`MN-ID NAI "b"`, "HNP 2001:db8:2:101::/64"}},
	} {
		ba := sendRaw(t, e, m, haa1, tc.b).(*mh.BindingAck)
		if ba.Status != tc.want || ba.Sequence != uint16(tc.b[6])<<8|uint16(tc.b[7]) {
			t.Errorf("%s: status %d seq %d, want %d", tc.name, ba.Status, ba.Sequence, tc.want)
		}
		checkOpts(t, tc.name, ba.Options, tc.opts...)
	}
	if a, err := h.Lookup(e.ctx, netip.MustParsePrefix("2001:db8:2:101::/64")); err != nil || !a.Expiry.Equal(t0.Add(40*time.Second)) {
		t.Errorf("renewed allocation: %+v %v, want expiry t0+40s", a, err)
	}
}
