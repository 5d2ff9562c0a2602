package wire

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/mh"
)

// TestLocationUpdateAndQuery walks the LM exchanges of the draft with
// every field on the wire checked: MR12 registers MN1 at attachment
// (§4.1, anchored at itself), MR2 updates after movement (§4.2), MR31
// queries by address, prefix and MN-ID (Figure 3 steps 2-3).
func TestLocationUpdateAndQuery(t *testing.T) {
	e := newEnv(t)
	e.lmServer(lm1, nil, LMServerConfig{})
	c12 := NewLMClient(e.requester(mr12, RequesterConfig{}), lm1)

	// §4.1: attachment at MR12, anchored there.
	if err := c12.Update(e.ctx, "mn1@example.net", []netip.Prefix{hnp1}, mr12, mr12, 100*time.Second); err != nil {
		t.Fatal(err)
	}
	req, ans := exchange(t, e, mr12, lm1)
	bu := req.(*mh.BindingUpdate)
	if bu.Flags != mh.BUFlagA|mh.BUFlagP|mh.BUFlagD || bu.Lifetime != 25 {
		t.Errorf("PBU flags %#x lifetime %d, want A|P|D (%#x) and 25", bu.Flags, bu.Lifetime, mh.BUFlagA|mh.BUFlagP|mh.BUFlagD)
	}
	checkOpts(t, "PBU", bu.Options,
		`MN-ID NAI "mn1@example.net"`,
		"HNP 2001:db8:12:1::/64",
		"HI 1",
		"ATT 1",
		ts(t0),
		"Serving MAAR 2001:db8:12::1")
	ba := ans.(*mh.BindingAck)
	if ba.Status != 0 || ba.Flags != mh.BAFlagP|mh.BAFlagD || ba.Sequence != bu.Sequence || ba.Lifetime != 25 {
		t.Errorf("PBA status %d flags %#x seq %d lifetime %d; want 0, P|D, %d, 25", ba.Status, ba.Flags, ba.Sequence, ba.Lifetime, bu.Sequence)
	}
	checkOpts(t, "PBA", ba.Options, `MN-ID NAI "mn1@example.net"`, "HNP 2001:db8:12:1::/64", "HI 1", "ATT 1")

	// §4.2: MN1 moved to MR2; the prefix stays anchored at MR12.
	e.clk.Advance(10 * time.Second)
	c2 := NewLMClient(e.requester(mr2, RequesterConfig{}), lm1)
	if err := c2.Update(e.ctx, "mn1@example.net", []netip.Prefix{hnp1}, mr2, mr12, 200*time.Second); err != nil {
		t.Fatal(err)
	}
	req, ans = exchange(t, e, mr2, lm1)
	bu = req.(*mh.BindingUpdate)
	checkOpts(t, "PBU after movement", bu.Options,
		`MN-ID NAI "mn1@example.net"`,
		"HNP 2001:db8:12:1::/64",
		"HI 3",
		"ATT 1",
		ts(t0.Add(10*time.Second)),
		"Serving MAAR 2001:db8:2::1",
		"Previous MAAR 2001:db8:12::1 HNP 2001:db8:12:1::/64")
	if ba := ans.(*mh.BindingAck); ba.Status != 0 || ba.Sequence != bu.Sequence || ba.Lifetime != 50 {
		t.Errorf("PBA status %d seq %d lifetime %d", ba.Status, ba.Sequence, ba.Lifetime)
	}

	// Figure 3 steps 2-3: MR31 queries.
	e.clk.Advance(5 * time.Second)
	c31 := NewLMClient(e.requester(mr31, RequesterConfig{}), lm1)
	want := []Location{{Prefix: hnp1, AnchorMR: mr12, CurrentMR: mr2, Lifetime: 195 * time.Second}}
	for _, tc := range []struct {
		q     Query
		qwire string
	}{
		{QueryAddress(netip.MustParseAddr("2001:db8:12:1::99")), "Location Query home address 2001:db8:12:1::99/128"},
		{QueryPrefix(hnp1), "Location Query prefix 2001:db8:12:1::/64"},
		{QueryMN("mn1@example.net"), `Location Query MN-ID NAI "mn1@example.net"`},
	} {
		got, err := c31.Query(e.ctx, tc.q)
		if err != nil {
			t.Fatalf("%v: %v", tc.q, err)
		}
		if !equalLocations(got, want) {
			t.Errorf("%v: %+v, want %+v", tc.q, got, want)
		}
		req, ans := exchange(t, e, mr31, lm1)
		lq := req.(*mh.LocationQuery)
		if lq.Reserved != 0 || lq.Flags != 0 || lq.MHType() != mh.TypeExperimental {
			t.Errorf("%v: query status %d flags %#x type %d", tc.q, lq.Reserved, lq.Flags, lq.MHType())
		}
		checkOpts(t, tc.q.String(), lq.Options, tc.qwire)
		lr := ans.(*mh.LocationReply)
		if lr.Status != 0 || lr.Sequence != lq.Sequence || lr.Flags != 0 {
			t.Errorf("%v: reply status %d seq %d (query %d) flags %#x", tc.q, lr.Status, lr.Sequence, lq.Sequence, lr.Flags)
		}
		checkOpts(t, tc.q.String()+" reply", lr.Options,
			"Routing Location F=false 2001:db8:12:1::/64 anchor 2001:db8:12::1 current 2001:db8:2::1 life 195")
	}

	// Query by MN-ID returns every prefix of the node (two anchors).
	if err := c2.Update(e.ctx, "mn1@example.net", []netip.Prefix{netip.MustParsePrefix("2001:db8:2:100::/64")}, mr2, mr2, 40*time.Second); err != nil {
		t.Fatal(err)
	}
	got, err := c31.Query(e.ctx, QueryMN("mn1@example.net"))
	if err != nil {
		t.Fatal(err)
	}
	want = []Location{
		{Prefix: netip.MustParsePrefix("2001:db8:2:100::/64"), AnchorMR: mr2, CurrentMR: mr2, Lifetime: 40 * time.Second},
		{Prefix: hnp1, AnchorMR: mr12, CurrentMR: mr2, Lifetime: 195 * time.Second},
	}
	if !equalLocations(got, want) {
		t.Errorf("by MN-ID: %+v, want %+v", got, want)
	}
	_, ans = exchange(t, e, mr31, lm1)
	checkOpts(t, "reply by MN-ID", ans.MHBase().Options,
		"Routing Location F=false 2001:db8:2:100::/64 anchor 2001:db8:2::1 current 2001:db8:2::1 life 40",
		"Routing Location F=false 2001:db8:12:1::/64 anchor 2001:db8:12::1 current 2001:db8:2::1 life 195")

	// Withdrawal (lifetime 0) by the current MR removes the location.
	if err := c2.Update(e.ctx, "mn1@example.net", []netip.Prefix{hnp1}, mr2, mr12, 0); err != nil {
		t.Fatal(err)
	}
	if req, ans := exchange(t, e, mr2, lm1); req.(*mh.BindingUpdate).Lifetime != 0 || ans.(*mh.BindingAck).Status != 0 || ans.(*mh.BindingAck).Lifetime != 0 {
		t.Errorf("withdrawal: PBU lifetime %d, PBA status %d lifetime %d", req.(*mh.BindingUpdate).Lifetime, ans.(*mh.BindingAck).Status, ans.(*mh.BindingAck).Lifetime)
	}
	_, err = c31.Query(e.ctx, QueryPrefix(hnp1))
	var qe *QueryError
	if !errors.Is(err, ErrLocationUnknown) || !errors.As(err, &qe) || qe.Status != 131 {
		t.Fatalf("after withdrawal: %v, want status 131", err)
	}
	_, ans = exchange(t, e, mr31, lm1)
	if lr := ans.(*mh.LocationReply); lr.Status != mh.DMMStatusLocationUnknown || len(opts(lr.Options)) != 0 {
		t.Errorf("reply status %d with %d options, want 131 and none", lr.Status, len(lr.Options))
	}
}

func equalLocations(a, b []Location) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLMServerStatuses sends hand-built requests and checks the status
// of each answer (wire-format §5; lm.UpdateStatus for the PBA).
func TestLMServerStatuses(t *testing.T) {
	e := newEnv(t)
	l := e.newLM()
	e.lmServer(lm1, l, LMServerConfig{})
	m := e.attach(mr31)
	if _, err := l.Update(e.ctx, lm.Update{MNID: "mn1", Prefix: hnp1, AnchorMR: mr12, CurrentMR: mr2, Lifetime: time.Minute, Sequence: 1 << 40}); err != nil {
		t.Fatal(err)
	}

	lq := func(seq uint16, os ...mh.Option) []byte {
		q := &mh.LocationQuery{Sequence: seq}
		q.Options = os
		return marshal(t, q)
	}
	// An unknown Query Type: the option does not decode (crafted bytes).
	unknownType := lq(7, mh.NewQueryByHomeAddress(hnp1.Addr()))
	unknownType[14] = 9
	for _, tc := range []struct {
		name string
		b    []byte
		want mh.DMMStatus
		seq  uint16
		rls  int
	}{
		{"found", lq(1, mh.NewQueryByPrefix(hnp1)), 0, 1, 1},
		{"unknown", lq(2, mh.NewQueryByPrefix(hnp2)), 131, 2, 0},
		{"no option", lq(3), 132, 3, 0},
		{"two options", lq(4, mh.NewQueryByPrefix(hnp1), mh.NewQueryByPrefix(hnp1)), 132, 4, 0},
		{"unknown MN", lq(5, mh.NewQueryByMNID(mh.NewNAI("nobody"))), 131, 5, 0},
		{"IPv4-mapped address", lq(6, mh.NewQueryByHomeAddress(netip.MustParseAddr("::ffff:192.0.2.1"))), 132, 6, 0},
		{"unknown query type", unknownType, 132, 7, 0},
	} {
		ans := sendRaw(t, e, m, lm1, tc.b)
		lr, ok := ans.(*mh.LocationReply)
		if !ok {
			t.Fatalf("%s: answer %T", tc.name, ans)
		}
		if lr.Status != tc.want || lr.Sequence != tc.seq || len(lr.Locations()) != tc.rls {
			t.Errorf("%s: status %d seq %d, %d locations; want %d, %d, %d", tc.name, lr.Status, lr.Sequence, len(lr.Locations()), tc.want, tc.seq, tc.rls)
		}
	}

	pbu := func(seq uint16, flags mh.BUFlags, life uint16, os ...mh.Option) []byte {
		bu := &mh.BindingUpdate{Sequence: seq, Flags: flags, Lifetime: life}
		bu.Options = os
		return marshal(t, bu)
	}
	pd := mh.BUFlagA | mh.BUFlagP | mh.BUFlagD
	id, hnp := mh.NewNAI("mn1"), mh.NewHNP(hnp1)
	old := &mh.Timestamp{Value: 1}
	for _, tc := range []struct {
		name  string
		b     []byte
		want  mh.Status
		flags mh.BAFlags
	}{
		{"not proxy", pbu(10, mh.BUFlagA|mh.BUFlagH, 10, id, hnp), 131, 0},
		{"no MN-ID", pbu(11, pd, 10, hnp, &mh.ServingMAAR{Address: mr31}), 160, mh.BAFlagP | mh.BAFlagD},
		{"two MN-IDs", pbu(12, pd, 10, id, id, hnp, &mh.ServingMAAR{Address: mr31}), 128, mh.BAFlagP | mh.BAFlagD},
		{"no HNP", pbu(13, pd, 10, id, &mh.ServingMAAR{Address: mr31}), 158, mh.BAFlagP | mh.BAFlagD},
		{"no Serving MAAR", pbu(14, pd, 10, id, hnp), 128, mh.BAFlagP | mh.BAFlagD},
		{"stale", pbu(15, pd, 10, id, hnp, old, &mh.ServingMAAR{Address: mr31}, mh.NewPreviousMAAR(mr12, hnp1)), 135, mh.BAFlagP | mh.BAFlagD},
		{"other node's prefix", pbu(16, pd, 10, mh.NewNAI("mn2"), hnp, &mh.ServingMAAR{Address: mr31}, mh.NewPreviousMAAR(mr12, hnp1)), 155, mh.BAFlagP | mh.BAFlagD},
		{"other anchor", pbu(17, pd, 10, id, hnp, &mh.ServingMAAR{Address: mr31}), 155, mh.BAFlagP | mh.BAFlagD},
		{"bad prefix length", pbu(18, pd, 10, id, mh.NewHNP(netip.MustParsePrefix("2001:db8:12::/48")), &mh.ServingMAAR{Address: mr31}), 128, mh.BAFlagP | mh.BAFlagD},
		{"withdraw unknown", pbu(19, pd, 0, id, mh.NewHNP(hnp2), &mh.ServingMAAR{Address: mr31}), 0, mh.BAFlagP | mh.BAFlagD},
		{"accepted", pbu(20, pd, 10, id, hnp, &mh.ServingMAAR{Address: mr31}, mh.NewPreviousMAAR(mr12, hnp1)), 0, mh.BAFlagP | mh.BAFlagD},
	} {
		ans := sendRaw(t, e, m, lm1, tc.b)
		ba, ok := ans.(*mh.BindingAck)
		if !ok {
			t.Fatalf("%s: answer %T", tc.name, ans)
		}
		seq := uint16(tc.b[6])<<8 | uint16(tc.b[7])
		if ba.Status != tc.want || ba.Flags != tc.flags || ba.Sequence != seq {
			t.Errorf("%s: status %d flags %#x seq %d; want %d, %#x, %d", tc.name, ba.Status, ba.Flags, ba.Sequence, tc.want, tc.flags, seq)
		}
		if (ba.Lifetime != 0) != (tc.want == 0 && tc.name == "accepted") {
			t.Errorf("%s: PBA lifetime %d", tc.name, ba.Lifetime)
		}
	}
	// The accepted update (server's time of receipt as Sequence, newer
	// than 1<<40) moved MN1 to MR31.
	r, err := l.QueryPrefix(e.ctx, hnp1)
	if err != nil || r.CurrentMR != mr31 || r.AnchorMR != mr12 || r.Lifetime != 40*time.Second || r.Sequence != mh.TimestampValue(t0) {
		t.Errorf("record after the accepted update: %+v, %v", r, err)
	}
	// Messages that are not requests are not answered.
	if err := m.Send(lm1, marshal(t, &mh.LocationReply{Sequence: 3})); err != nil {
		t.Fatal(err)
	}
	lq8 := sendRaw(t, e, m, lm1, lq(8, mh.NewQueryByPrefix(hnp1)))
	if lq8.(*mh.LocationReply).Sequence != 8 {
		t.Errorf("the Location Reply sent to the server was answered")
	}
}

// TestTwoLMServersOneStore: two LM front-ends over one store (the draft's
// distributed LM database, §3.3) answer alike, and order updates from
// both by their Timestamps.
func TestTwoLMServersOneStore(t *testing.T) {
	e := newEnv(t)
	e.lmServer(lm1, nil, LMServerConfig{})
	e.lmServer(lm2, nil, LMServerConfig{})
	r2 := e.requester(mr2, RequesterConfig{})
	r12 := e.requester(mr12, RequesterConfig{})
	via1, via2 := NewLMClient(r2, lm1), NewLMClient(r2, lm2)

	// MR12 registers through LM1 at t0 + 1 s...
	e.clk.Advance(time.Second)
	if err := NewLMClient(r12, lm1).Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr12, mr12, time.Minute); err != nil {
		t.Fatal(err)
	}
	// ...MR2 after the movement through LM2 at t0 + 2 s.
	e.clk.Advance(time.Second)
	if err := NewLMClient(r2, lm2).Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr2, mr12, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, q := range []Query{QueryPrefix(hnp1), QueryAddress(hnp1.Addr().Next()), QueryMN("mn1")} {
		a, err1 := via1.Query(e.ctx, q)
		b, err2 := via2.Query(e.ctx, q)
		want := []Location{{Prefix: hnp1, AnchorMR: mr12, CurrentMR: mr2, Lifetime: time.Minute}}
		if err1 != nil || err2 != nil || !equalLocations(a, want) || !equalLocations(b, want) {
			t.Errorf("%v: LM1 %+v %v; LM2 %+v %v; want %+v", q, a, err1, b, err2, want)
		}
	}
	// A late update from MR12 carrying its old Timestamp, through LM1,
	// is stale (135) whichever front-end the newer one went through.
	bu := &mh.BindingUpdate{Sequence: 99, Flags: mh.BUFlagA | mh.BUFlagP | mh.BUFlagD, Lifetime: 15}
	bu.Options = mh.Options{mh.NewNAI("mn1"), mh.NewHNP(hnp1), mh.NewTimestamp(t0.Add(time.Second)), &mh.ServingMAAR{Address: mr12}}
	m := e.attach(mr11)
	if ba := sendRaw(t, e, m, lm1, marshal(t, bu)).(*mh.BindingAck); ba.Status != mh.StatusSequenceOutOfWindow {
		t.Errorf("late update through LM1: status %d, want 135", ba.Status)
	}
	// A withdrawal through LM1 is seen through LM2.
	if err := via1.Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr2, mr12, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := via2.Query(e.ctx, QueryPrefix(hnp1)); !errors.Is(err, ErrLocationUnknown) {
		t.Errorf("after withdrawal through LM1, LM2 answers %v", err)
	}
}

// TestLMServerCache: with an lm.Cache the server answers the same.
func TestLMServerCache(t *testing.T) {
	e := newEnv(t)
	l := e.newLM()
	cache := lm.NewCache(t.Context(), l, 0)
	<-cache.Ready()
	e.lmServer(lm1, l, LMServerConfig{Cache: cache})
	c := NewLMClient(e.requester(mr31, RequesterConfig{}), lm1)
	if _, err := c.Query(e.ctx, QueryAddress(hnp1.Addr())); !errors.Is(err, ErrLocationUnknown) {
		t.Fatalf("before the update: %v", err)
	}
	if err := c.Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr12, mr12, time.Minute); err != nil {
		t.Fatal(err)
	}
	// The cache learns through its watch; wait for it (bounded).
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := c.Query(e.ctx, QueryAddress(hnp1.Addr()))
		if err == nil {
			if want := []Location{{Prefix: hnp1, AnchorMR: mr12, CurrentMR: mr12, Lifetime: time.Minute}}; !equalLocations(got, want) {
				t.Fatalf("%+v, want %+v", got, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache never saw the update: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	if cache.Stats().Hits+cache.Stats().Misses == 0 {
		t.Errorf("the cache was not used: %+v", cache.Stats())
	}
}

// TestLMServerReplica: with a replica the server answers MN-ID queries
// from memory, the first one included (a new MR's handover query).
func TestLMServerReplica(t *testing.T) {
	e := newEnv(t)
	l := e.newLM()
	c := NewLMClient(e.requester(mr31, RequesterConfig{}), lm1)
	direct := &LocalLM{LM: l}
	if err := direct.Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr12, mr12, time.Minute); err != nil {
		t.Fatal(err)
	}
	replica := lm.NewReplica(t.Context(), l, 0)
	<-replica.Ready()
	e.lmServer(lm1, l, LMServerConfig{Cache: replica})
	got, err := c.Query(e.ctx, QueryMN("mn1"))
	if want := []Location{{Prefix: hnp1, AnchorMR: mr12, CurrentMR: mr12, Lifetime: time.Minute}}; err != nil || !equalLocations(got, want) {
		t.Fatalf("MN-ID query: %+v %v, want %+v", got, err, want)
	}
	if _, err := c.Query(e.ctx, QueryMN("mn7")); !errors.Is(err, ErrLocationUnknown) {
		t.Fatalf("unknown MN: %v", err)
	}
	if st := replica.Stats(); st.Hits != 2 || st.Misses != 0 {
		t.Fatalf("not answered from memory: %+v", st)
	}
	// The in-process client (an MR with the LM role) uses it too.
	local := &LocalLM{LM: l, Cache: replica}
	if got, err := local.Query(e.ctx, QueryMN("mn1")); err != nil || len(got) != 1 || got[0].Prefix != hnp1 {
		t.Fatalf("LocalLM MN-ID query: %+v %v", got, err)
	}
	if st := replica.Stats(); st.Hits != 3 {
		t.Fatalf("LocalLM did not use the replica: %+v", st)
	}
}
