package mr

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

const (
	p11 = "2001:db8:11::/64" // first prefix of MR11's pool
	p12 = "2001:db8:12::/64" // first prefix of MR12's pool
	p2  = "2001:db8:2::/64"
	p31 = "2001:db8:31::/64"
	ra  = "RA acc1 to fe80::1:2ff:fe00:1: "
)

// Draft §4.1: the HAA of the local network allocates a prefix anchored
// at this MR; the LM is updated per local policy; access route; RA. The
// LM is asked where the node was beside the HAA (a moving node's HI goes
// on the LM's answer): it knows nothing of a new node.
func TestAttachment41(t *testing.T) {
	for _, tc := range []struct {
		name     string
		update   bool
		wantLM   []string
		wantCall []string
	}{
		{"LM updated", true, []string{p11 + " anchor=MR11 current=MR11"},
			[]string{"MR11 HAA.Allocate mn1", "MR11 HAA.Holdings mn1", `MR11 LM.Query MN-ID "mn1"`, "MR11 LM.Update mn1 [" + p11 + "] current=MR11 anchor=MR11"}},
		{"LM not updated", false, nil,
			[]string{"MR11 HAA.Allocate mn1", "MR11 HAA.Holdings mn1", `MR11 LM.Query MN-ID "mn1"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			mr11 := w.add("MR11", Config{UpdateLMOnAttach: tc.update})
			expectList(t, "data plane before", mr11.entries(t))
			w.attachB(mr11, "mn1", "acc1", false)

			expectList(t, "LM/HAA calls", w.takeCalls(), tc.wantCall...)
			expectList(t, "HAA", w.haaState("mn1"), p11+" anchor=MR11")
			expectList(t, "LM", w.lmState("mn1"), tc.wantLM...)
			expectList(t, "data plane after", mr11.entries(t), "access-route "+p11+" dev acc1")
			expectList(t, "RA", mr11.acc.takeAds(), ra+p11+" pref=1h0m0s valid=1h0m0s")
			expectList(t, "punt", mr11.punt.takeOps())
			expectSeq(t, "wire", w.takeWire())
			mns, _ := mr11.mr.MNs(w.ctx)
			if len(mns) != 1 || !mns[0].Attached || mns[0].Moved || mns[0].Prefixes[0].Prefix != pfx(p11) {
				t.Errorf("MNs: %+v", mns)
			}
			c, _ := mr11.mr.Counters(w.ctx)
			if c.Attaches != 1 || c.Moves != 0 || c.RAs != 1 {
				t.Errorf("counters: %+v", c)
			}
		})
	}
}

// Draft §4.2: the new MR retrieves every prefix the node holds, updates
// the LM, optionally assigns a prefix anchored at itself (the old ones
// deprecated), reverse-tunnels the old prefixes to their anchor; the
// anchor tunnels downlink to the current MR.
func TestMovement42(t *testing.T) {
	for _, tc := range []struct {
		name      string
		newPrefix bool
		wantRA    string
		wantDP    []string
		wantLM    []string
		wantHAA   []string
	}{
		{"keep the old prefix", false, ra + p11 + " pref=1h0m0s valid=1h0m0s",
			[]string{"source-route " + p11 + " -> MR11 dev acc1", "access-route " + p11 + " dev acc1"},
			[]string{p11 + " anchor=MR11 current=MR2"},
			[]string{p11 + " anchor=MR11"}},
		{"new prefix beside the old one", true, ra + p11 + " pref=0s valid=1h0m0s, " + p2 + " pref=1h0m0s valid=1h0m0s",
			[]string{"source-route " + p11 + " -> MR11 dev acc1", "access-route " + p2 + " dev acc1", "access-route " + p11 + " dev acc1"},
			[]string{p2 + " anchor=MR2 current=MR2", p11 + " anchor=MR11 current=MR2"},
			[]string{p11 + " anchor=MR11", p2 + " anchor=MR2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			mr11 := w.add("MR11", Config{UpdateLMOnAttach: true})
			mr2 := w.add("MR2", Config{UpdateLMOnAttach: true, NewPrefixOnMove: tc.newPrefix})
			w.attachB(mr11, "mn1", "acc1", false)
			w.takeCalls()
			mr11.acc.takeAds()
			w.advance(time.Second)

			w.detachB(mr11, "mn1", "acc1")
			expectList(t, "MR11 punt at detach", mr11.punt.takeOps(), "hold "+p11)
			expectList(t, "MR11 data plane after detach", mr11.entries(t))

			w.attachB(mr2, "mn1", "acc1", true)
			expectList(t, "MR2 RA", mr2.acc.takeAds(), tc.wantRA)
			expectList(t, "MR2 data plane", mr2.entries(t), tc.wantDP...)
			expectList(t, "LM", w.lmState("mn1"), tc.wantLM...)
			expectList(t, "HAA", w.haaState("mn1"), tc.wantHAA...)
			// The LM named MR11 before the HAA answered: the routes were in
			// before the HI, nothing was held at MR2.
			expectList(t, "MR2 punt", mr2.punt.takeOps())
			expectList(t, "MR11 punt", mr11.punt.takeOps(), "release "+p11)
			// The anchor tunnels the old prefix to the current MR.
			expectList(t, "MR11 data plane", mr11.entries(t), "prefix-route "+p11+" -> MR2")
			expectSeq(t, "wire", w.takeWire(),
				one("MR2>MR11 HI P=true F=true code=0 mnid=mn1 ctxreq=22,42,242 rl="+p11+"@MR11>MR2/3600 mc=0x40/att4/rem0/seq0/fwd0"),
				one("MR11>MR2 HAck P=true F=true code=5 mnid=mn1 hnp="+p11+" lla=fe80::200:5eff:fe00:5213 lliid=fe80::1:2ff:fe00:1 rl="+p11+"@MR11>MR2/3599 mc=0x80/att4/rem3599/seq0/fwd3599"))
			mns, _ := mr2.mr.MNs(w.ctx)
			if len(mns) != 1 || !mns[0].Moved || mns[0].PreviousMR != addrs["MR11"] {
				t.Errorf("MR2 MNs: %+v", mns)
			}
		})
	}
}

// mn1At12Then11 is the draft's §4.3 assumption: MN1's home address is
// anchored at MR12 while MN1 is attached to MR11; MN2 is at MR31.
func mn1At12Then11(t *testing.T, w *world, mr12, mr11, mr31 *node) {
	t.Helper()
	w.attachB(mr12, "mn1", "acc1", false)
	w.advance(time.Second)
	w.detachB(mr12, "mn1", "acc1")
	w.attachB(mr11, "mn1", "acc1", true)
	w.attachB(mr31, "mn2", "acc1", false)
	expectList(t, "LM mn1", w.lmState("mn1"), p12+" anchor=MR12 current=MR11")
	expectList(t, "LM mn2", w.lmState("mn2"), p31+" anchor=MR31 current=MR31")
	for _, nd := range w.nodes {
		nd.punt.takeOps()
		if nd.acc != nil {
			nd.acc.takeAds()
		}
	}
	w.takeCalls()
}

var (
	mn1HoA = addr("2001:db8:12::1")
	mn2HoA = addr("2001:db8:31::1")
)

// Figure 3: the correspondent's MR queries the LM on the first packets,
// records the location and tunnels straight to the current MR.
func TestFigure3(t *testing.T) {
	w := newWorld(t)
	cfg := Config{UpdateLMOnAttach: true}
	mr11, mr12, mr31 := w.add("MR11", cfg), w.add("MR12", cfg), w.add("MR31", cfg)
	mn1At12Then11(t, w, mr12, mr11, mr31)
	w.takeWire()
	expectList(t, "MR31 data plane before", mr31.entries(t), "access-route "+p31+" dev acc1")

	// 1. IP traffic MN2 -> MN1's HoA: no route at MR31, a Miss.
	mr31.punt.packet(mn1HoA, mn2HoA, 3, true)
	w.settle()

	expectList(t, "LM calls", w.takeCalls(), "MR31 LM.Query address "+mn1HoA.String())
	expectList(t, "MR31 data plane after", mr31.entries(t), "prefix-route "+p12+" -> MR11", "access-route "+p31+" dev acc1")
	expectList(t, "MR31 punt", mr31.punt.takeOps(), "release "+p12)
	expectSeq(t, "wire (the LM is in-process; no MR signalling)", w.takeWire())
	locs, _ := mr31.mr.Locations(w.ctx)
	if len(locs) != 1 || locs[0].CurrentMR != addrs["MR11"] || locs[0].AnchorMR != addrs["MR12"] || locs[0].Source != "query" {
		t.Errorf("MR31 location cache: %+v", locs)
	}
	c, _ := mr31.mr.Counters(w.ctx)
	if c.Misses != 1 || c.Queries != 1 || c.Released != 3 {
		t.Errorf("MR31 counters: misses %d queries %d released %d", c.Misses, c.Queries, c.Released)
	}
	// A second miss on the same prefix while cached is just released.
	mr31.punt.packet(mn1HoA, mn2HoA, 1, true)
	w.settle()
	expectList(t, "no second query", w.takeCalls())
	// The cache expires with the location's lifetime: the route goes.
	w.advance(time.Hour)
	expectList(t, "MR31 data plane after expiry", mr31.entries(t), "access-route "+p31+" dev acc1")
}

// Figure 4: regular routing to the anchor (MR12), which queries the LM,
// forwards to the current MR, and redirects the correspondent's MR (found
// through the LM by the packet's source), which tunnels directly after.
func TestFigure4(t *testing.T) {
	w := newWorld(t)
	cfg := Config{UpdateLMOnAttach: true, Routing: RoutingRedirect, RedirectAck: true, NoContextTransfer: true}
	mr11, mr12, mr31 := w.add("MR11", cfg), w.add("MR12", cfg), w.add("MR31", cfg)
	// In Figure 4 mode an MR watches only its own pool: the rest goes by
	// regular routing.
	mr31.punt.mu.Lock()
	watched := mr31.punt.ops
	mr31.punt.mu.Unlock()
	expectList(t, "MR31 watches", watched, "watch "+pools["MR31"].String())
	mn1At12Then11(t, w, mr12, mr11, mr31)
	w.advance(3 * time.Second) // MR12's hold of MN1's prefix times out (no context transfer)
	expectList(t, "MR12 punt", mr12.punt.takeOps(), "drop "+p12)
	expectList(t, "MR12 data plane before", mr12.entries(t))
	expectList(t, "MR31 data plane before", mr31.entries(t), "access-route "+p31+" dev acc1")
	w.takeWire()

	// 3. Regular routing delivers MN2's packets to MR12: a Miss there.
	mr12.punt.packet(mn1HoA, mn2HoA, 2, true)
	w.settle()

	expectList(t, "LM calls", w.takeCalls(), "MR12 LM.Query address "+mn1HoA.String(), "MR12 LM.Query address "+mn2HoA.String())
	expectList(t, "MR12 data plane after", mr12.entries(t), "prefix-route "+p12+" -> MR11")
	expectList(t, "MR12 punt", mr12.punt.takeOps(), "release "+p12)
	expectSeq(t, "wire", w.takeWire(),
		one("MR12>MR31 Redirect A=true rl="+p12+"@MR12>MR11/3597"),
		one("MR31>MR12 RedirectAck status=0"))
	expectList(t, "MR31 data plane after", mr31.entries(t), "prefix-route "+p12+" -> MR11", "access-route "+p31+" dev acc1")
	corr, _ := mr12.mr.Correspondents(w.ctx)
	if got := corr[pfx(p12)]; len(got) != 1 || got[0] != addrs["MR31"] {
		t.Errorf("MR12 correspondents: %v", corr)
	}
	c, _ := mr31.mr.Counters(w.ctx)
	if c.RedirectsApplied != 1 || c.StatusTx["Redirect Ack 0"] != 1 {
		t.Errorf("MR31 counters: %+v", c)
	}
	// A Redirect from an MR that is neither anchor nor cached location: 129.
	rd := &mhRedirect{seq: 9, rl: p12, anchor: "MR2", current: "MR2"}
	w.inject(t, "MR2", "MR31", rd.build())
	expectSeq(t, "refused redirect", w.takeWire(),
		one("MR2>MR31 Redirect A=true rl="+p12+"@MR2>MR2/60"),
		one("MR31>MR2 RedirectAck status=129"))
}

// Figure 5: handover of MN1 from MR11 to MR2 with MN2's traffic (through
// MR31) going on: context transfer, temporary forwarding MR11 -> MR2,
// Redirects to the MRs that route to MR11, LM update, forwarding removed
// when the handover is done; packets in flux are held, not dropped.
//
// The previous MR learns MR31 from the held packets' source (the punt
// path's report, looked up in the LM), with or without the data plane's
// ingress report (Observe).
func TestFigure5(t *testing.T) {
	for _, observe := range []bool{false, true} {
		t.Run(fmt.Sprintf("observe=%v", observe), func(t *testing.T) { testFigure5(t, observe) })
	}
}

func testFigure5(t *testing.T, observe bool) {
	w := newWorld(t)
	cfg := Config{UpdateLMOnAttach: true, RedirectAck: true}
	mr11, mr12, mr31 := w.add("MR11", cfg), w.add("MR12", cfg), w.add("MR31", cfg)
	mr2 := w.add("MR2", cfg)
	mn1At12Then11(t, w, mr12, mr11, mr31)
	// MN2 -> MN1 traffic: MR31 learns MN1's location (Figure 3) and MR11
	// sees its tunnelled packets (data-plane ingress report).
	mr31.punt.packet(mn1HoA, mn2HoA, 1, true)
	w.settle()
	if observe {
		if err := mr11.mr.Observe(w.ctx, addrs["MR31"], mn1HoA); err != nil {
			t.Fatal(err)
		}
	}
	w.advance(time.Second)
	w.takeWire()
	w.takeCalls()
	for _, nd := range w.nodes {
		nd.punt.takeOps()
	}
	expectList(t, "MR11 before", mr11.entries(t), "source-route "+p12+" -> MR12 dev acc1", "access-route "+p12+" dev acc1")
	expectList(t, "MR12 before", mr12.entries(t), "prefix-route "+p12+" -> MR11")
	expectList(t, "MR31 before", mr31.entries(t), "prefix-route "+p12+" -> MR11", "access-route "+p31+" dev acc1")
	expectList(t, "MR2 before", mr2.entries(t))

	// MN1 leaves MR11: its packets are held there until MR2 is known.
	w.detachB(mr11, "mn1", "acc1")
	mr11.punt.packet(mn1HoA, mn2HoA, 5, false)
	w.settle()
	expectList(t, "MR11 punt at detach", mr11.punt.takeOps(), "hold "+p12)
	// The held packets' source: MN2, whose MR the LM knows.
	expectList(t, "MR11 LM calls", w.takeCalls(), "MR11 LM.Query address "+mn2HoA.String())
	if corr, _ := mr11.mr.Correspondents(w.ctx); fmt.Sprint(corr[pfx(p12)]) != fmt.Sprint([]netip.Addr{addrs["MR31"]}) {
		t.Errorf("MR11 correspondents before the HI: %v", corr)
	}
	deps, _ := mr11.mr.Departures(w.ctx)
	if len(deps) != 1 || !deps[0].Holding {
		t.Errorf("MR11 departures: %+v", deps)
	}

	// MN1 attaches at MR2.
	w.attachB(mr2, "mn1", "acc1", true)

	expectSeq(t, "wire", w.takeWire(),
		one("MR2>MR11 HI P=true F=true code=0 mnid=mn1 ctxreq=22,42,242 rl="+p12+"@MR12>MR2/3600 mc=0x40/att4/rem0/seq0/fwd0"),
		one("MR11>MR2 HAck P=true F=true code=5 mnid=mn1 hnp="+p12+" lla=fe80::200:5eff:fe00:5213 lliid=fe80::1:2ff:fe00:1 rl=F"+p12+"@MR12>MR2/3599 mc=0x80/att4/rem3599/seq0/fwd10"),
		one("MR11>MR12 Redirect A=true rl=F"+p12+"@MR12>MR2/3599"),
		one("MR11>MR31 Redirect A=true rl=F"+p12+"@MR12>MR2/3599",
			"MR12>MR11 RedirectAck status=0", "MR31>MR11 RedirectAck status=0"))
	expectList(t, "LM", w.lmState("mn1"), p12+" anchor=MR12 current=MR2")
	// HAA and LM asked at once (a moving node), the LM updated last.
	expectSeq(t, "MR2 LM/HAA calls", w.takeCalls(), one("MR2 HAA.Holdings mn1", "MR2 LM.Query MN-ID \"mn1\""),
		one("MR2 LM.Update mn1 ["+p12+"] current=MR2 anchor=MR12"))
	expectList(t, "MR11 punt", mr11.punt.takeOps(), "release "+p12)
	expectList(t, "MR2 punt (routes in before the HI)", mr2.punt.takeOps())
	expectList(t, "MR11 temporary forwarding", mr11.entries(t), "prefix-route "+p12+" -> MR2")
	expectList(t, "MR12 after", mr12.entries(t), "prefix-route "+p12+" -> MR2")
	expectList(t, "MR31 after", mr31.entries(t), "prefix-route "+p12+" -> MR2", "access-route "+p31+" dev acc1")
	expectList(t, "MR2 after", mr2.entries(t), "source-route "+p12+" -> MR12 dev acc1", "access-route "+p12+" dev acc1")
	c, _ := mr11.mr.Counters(w.ctx)
	if c.Released != 5 || c.DroppedPackets != 0 || c.HandoversOut != 1 || c.ForwardingStarted != 1 {
		t.Errorf("MR11 counters: released %d dropped %d handovers %d forwarding %d", c.Released, c.DroppedPackets, c.HandoversOut, c.ForwardingStarted)
	}

	// The handover is done when the forwarding lifetime runs out: the
	// temporary context goes.
	w.advance(10 * time.Second)
	expectList(t, "MR11 after the handover", mr11.entries(t))
	if deps, _ := mr11.mr.Departures(w.ctx); len(deps) != 0 {
		t.Errorf("MR11 departures left: %+v", deps)
	}
	c2, _ := mr2.mr.Counters(w.ctx)
	if c2.HandoversIn != 1 || c2.Moves != 1 {
		t.Errorf("MR2 counters: %+v", c2)
	}
	// Deps.OnHandover: one handover completed at MR11 (MN1 from MR12)
	// and one at MR2 (from MR11), none at MR12 (attach) nor MR31; the
	// fake clock did not move during the attachments.
	w.mu.Lock()
	got := fmt.Sprint(mr11.handovers, mr12.handovers, mr2.handovers, mr31.handovers)
	w.mu.Unlock()
	if got != "[0s] [] [0s] []" {
		t.Errorf("OnHandover at MR11, MR12, MR2, MR31: %s, want [0s] [] [0s] []", got)
	}
}

// Figure 5 when the new MR only sees the node appear (carrier on an
// access link behind an access point, no moved link, handoff indicator
// 1): the LM's answer alone starts the context transfer; the previous MR
// forwards what it held while the new MR's HAA has not answered yet.
func TestFigure5HIBeforeHAA(t *testing.T) {
	w := newWorld(t)
	cfg := Config{UpdateLMOnAttach: true, RedirectAck: true}
	mr11, mr12, mr31 := w.add("MR11", cfg), w.add("MR12", cfg), w.add("MR31", cfg)
	mr2 := w.add("MR2", cfg)
	mn1At12Then11(t, w, mr12, mr11, mr31)
	w.advance(time.Second) // the LM orders updates by time
	w.takeWire()
	w.detachB(mr11, "mn1", "acc1")
	mr11.punt.packet(mn1HoA, mn2HoA, 4, false)
	w.settle()
	mr11.punt.takeOps()
	w.takeCalls()

	mr2.haa.shut()
	mr2.acc.emit(AccessEvent{Kind: Attached, MNID: "mn1", Link: "acc1", IfIndex: 7, ATT: mh.ATT(4),
		LinkLocal: addr("fe80::1:2ff:fe00:1")})
	var seen []string
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(seen, "MR11>MR2 HAck") && time.Now().Before(deadline) {
		for _, m := range w.takeWire() {
			seen = append(seen, strings.Join(strings.Fields(m)[:2], " "))
		}
		time.Sleep(time.Millisecond)
	}
	if !slices.Contains(seen, "MR2>MR11 HI") || !slices.Contains(seen, "MR11>MR2 HAck") {
		t.Fatalf("no HI/HAck while MR2's HAA is slow: %v", seen)
	}
	// MR11 released what it held; MR2's routes are in; the HAA has not
	// answered (its Holdings call is in, blocked).
	if err := mr11.mr.call(w.ctx, func() {}); err != nil {
		t.Fatal(err)
	}
	expectList(t, "MR11 punt", mr11.punt.takeOps(), "release "+p12)
	expectList(t, "MR2 data plane before the HAA answers", mr2.entries(t), "source-route "+p12+" -> MR12 dev acc1", "access-route "+p12+" dev acc1")
	if c, _ := mr2.mr.Counters(w.ctx); c.Moves != 0 {
		t.Errorf("MR2 finished the attachment before its HAA answered: %+v", c)
	}
	mr2.haa.open()
	w.settle()
	expectList(t, "LM", w.lmState("mn1"), p12+" anchor=MR12 current=MR2")
	expectSeq(t, "MR2 LM/HAA calls", w.takeCalls(), one("MR2 HAA.Holdings mn1", "MR2 LM.Query MN-ID \"mn1\""),
		one("MR2 LM.Update mn1 ["+p12+"] current=MR2 anchor=MR12"))
	if c, _ := mr2.mr.Counters(w.ctx); c.Moves != 1 || c.HandoversIn != 1 {
		t.Errorf("MR2 counters: moves %d handovers in %d", c.Moves, c.HandoversIn)
	}
	if c, _ := mr11.mr.Counters(w.ctx); c.Released != 4 || c.DroppedPackets != 0 {
		t.Errorf("MR11: released %d dropped %d", c.Released, c.DroppedPackets)
	}
}

// Figure 5, the previous MR's side with several kinds of senders: the
// held packets' sources are looked up in the LM (one query per source
// /64); MR31 and MR32 (Figure 3 correspondents: they queried the LM and
// tunnel straight to MR11) are redirected with the anchor when the HI
// comes; a node attached at MR11 itself and a fixed node outside every
// pool are not; a correspondent found after the HI is redirected at
// once, and one whose MR was redirected already is not again.
func TestFigure5HeldSources(t *testing.T) {
	w := newWorld(t)
	cfg := Config{UpdateLMOnAttach: true, RedirectAck: true}
	mr11, mr12, mr31 := w.add("MR11", cfg), w.add("MR12", cfg), w.add("MR31", cfg)
	mr32, mrcn, mr2 := w.add("MR32", cfg), w.add("MRCN", cfg), w.add("MR2", cfg)
	mn1At12Then11(t, w, mr12, mr11, mr31)
	w.attachB(mr32, "mn3", "acc1", false)
	w.attachB(mr11, "mn4", "acc2", false)
	w.attachB(mrcn, "mn6", "acc1", false)
	mn3, mn4, mn6 := addr("2001:db8:32::1"), addr("2001:db8:11::1"), addr("2001:db8:c1::1")
	plain := addr("2001:db8:c9::5")
	mr31.punt.packet(mn1HoA, mn2HoA, 1, true)
	mr32.punt.packet(mn1HoA, mn3, 1, true)
	mrcn.punt.packet(mn1HoA, mn6, 1, true)
	w.advance(time.Second)
	expectList(t, "MR32 data plane", mr32.entries(t), "prefix-route "+p12+" -> MR11", "access-route 2001:db8:32::/64 dev acc1")
	w.takeWire()
	w.takeCalls()

	w.detachB(mr11, "mn1", "acc1")
	for _, src := range []netip.Addr{mn2HoA, addr("2001:db8:31::77"), mn3, plain, mn4, mn2HoA} {
		mr11.punt.packet(mn1HoA, src, 2, false)
	}
	w.settle()
	expectList(t, "MR11 LM calls", w.takeCalls(),
		"MR11 LM.Query address "+mn4.String(), "MR11 LM.Query address "+mn2HoA.String(),
		"MR11 LM.Query address "+mn3.String(), "MR11 LM.Query address "+plain.String())
	corr, _ := mr11.mr.Correspondents(w.ctx)
	if fmt.Sprint(corr[pfx(p12)]) != fmt.Sprint([]netip.Addr{addrs["MR31"], addrs["MR32"]}) {
		t.Errorf("MR11 correspondents: %v", corr)
	}
	expectSeq(t, "wire before the HI", w.takeWire())

	w.attachB(mr2, "mn1", "acc1", true)
	rl := " rl=F" + p12 + "@MR12>MR2/3599"
	expectSeq(t, "wire", w.takeWire(),
		one("MR2>MR11 HI P=true F=true code=0 mnid=mn1 ctxreq=22,42,242 rl="+p12+"@MR12>MR2/3600 mc=0x40/att4/rem0/seq0/fwd0"),
		one("MR11>MR2 HAck P=true F=true code=5 mnid=mn1 hnp="+p12+" lla=fe80::200:5eff:fe00:5213 lliid=fe80::1:2ff:fe00:1"+rl+" mc=0x80/att4/rem3599/seq0/fwd10"),
		one("MR11>MR12 Redirect A=true"+rl, "MR11>MR31 Redirect A=true"+rl, "MR11>MR32 Redirect A=true"+rl,
			"MR12>MR11 RedirectAck status=0", "MR31>MR11 RedirectAck status=0", "MR32>MR11 RedirectAck status=0"))
	for n, nd := range map[string]*node{"MR31": mr31, "MR32": mr32} {
		es := nd.entries(t)
		if len(es) != 2 || es[0] != "prefix-route "+p12+" -> MR2" {
			t.Errorf("%s after the Redirect: %v", n, es)
		}
	}
	w.takeCalls()

	// Found after the HI (its LM answer came late): redirected at once;
	// a source whose MR was redirected already, or a source /64 seen
	// already, gives no second Redirect.
	for _, src := range []netip.Addr{mn6, addr("2001:db8:31:5::1"), mn3} {
		if err := mr11.mr.call(w.ctx, func() { mr11.mr.handleSource(HeldSource{Prefix: pfx(p12), Src: src}) }); err != nil {
			t.Fatal(err)
		}
	}
	w.settle()
	expectList(t, "MR11 LM calls after the HI", w.takeCalls(),
		"MR11 LM.Query address 2001:db8:31:5::1", "MR11 LM.Query address "+mn6.String())
	expectSeq(t, "late correspondent", w.takeWire(),
		one("MR11>MRCN Redirect A=true"+rl), one("MRCN>MR11 RedirectAck status=0"))
	expectList(t, "MRCN data plane", mrcn.entries(t), "prefix-route "+p12+" -> MR2", "access-route 2001:db8:c1::/64 dev acc1")
	c, _ := mr11.mr.Counters(w.ctx)
	if c.HeldSources != 7 || c.SourceQueries != 6 || c.RedirectsSent != 4 || c.Released != 12 {
		t.Errorf("MR11 counters: held sources %d source queries %d redirects %d released %d",
			c.HeldSources, c.SourceQueries, c.RedirectsSent, c.Released)
	}
	// Once the handover is over, sources are not looked up any more.
	w.advance(10 * time.Second)
	if err := mr11.mr.call(w.ctx, func() { mr11.mr.handleSource(HeldSource{Prefix: pfx(p12), Src: addr("2001:db8:2:9::1")}) }); err != nil {
		t.Fatal(err)
	}
	w.settle()
	expectList(t, "no lookup after the handover", w.takeCalls())
}

// pbu is what an unmodified RFC 5213 MAG sends (sequence-number scheme).
func pbu(seq, life uint16, mn string, hi mh.HandoffIndicatorValue, hnp netip.Prefix) *mh.BindingUpdate {
	m := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: life}
	h := &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}
	if hnp.IsValid() {
		h = mh.NewHNP(hnp)
	}
	m.Options = mh.Options{h, mh.NewNAI(mn), &mh.HandoffIndicator{Value: hi}, &mh.AccessTechnologyType{Value: 4},
		&mh.LinkLocalAddress{Address: netip.IPv6Unspecified()}}
	return m
}

// Draft §5, deployment A: unmodified RFC 5213 MAGs in front of the MRs,
// which implement the LMA part (PBU/PBA) with prefixes from the HAA, the
// location in the LM, and the MR's routes; the node then moves to a MAG
// of another MR (§4.2 and Figure 5 through a legacy MAG).
func TestDeploymentA(t *testing.T) {
	w := newWorld(t)
	cfg := Config{Deployment: DeployLMA, UpdateLMOnAttach: true, MAGs: []netip.Addr{addrs["MAG1"], addrs["MAG2"]}}
	mr11, mr2 := w.add("MR11", cfg), w.add("MR2", cfg)
	lla := " lla=fe80::200:5eff:fe00:5213"
	type step struct {
		from, to string
		msg      mh.Message
		want     [][]string
		advance  time.Duration
	}
	for i, s := range []step{
		{"MAG1", "MR11", pbu(1, 900, "mn1", 1, netip.Prefix{}), [][]string{
			one("MAG1>MR11 PBU seq=1 life=900 hnp=::/0 mnid=mn1 hi=1 lla=::"),
			one("MR11>MAG1 PBA status=0 seq=1 life=900 hnp=" + p11 + " mnid=mn1 hi=1" + lla)}, time.Second},
		// Re-registration with the assigned prefix.
		{"MAG1", "MR11", pbu(2, 900, "mn1", 5, pfx(p11)), [][]string{
			one("MAG1>MR11 PBU seq=2 life=900 hnp=" + p11 + " mnid=mn1 hi=5 lla=::"),
			one("MR11>MAG1 PBA status=0 seq=2 life=900 hnp=" + p11 + " mnid=mn1 hi=5" + lla)}, 0},
		// An old sequence number: 135 with the last accepted one (RFC 6275 §9.5.1).
		{"MAG1", "MR11", pbu(1, 900, "mn1", 5, pfx(p11)), [][]string{
			one("MAG1>MR11 PBU seq=1 life=900 hnp=" + p11 + " mnid=mn1 hi=5 lla=::"),
			one("MR11>MAG1 PBA status=135 seq=2 life=0 hnp=" + p11 + " mnid=mn1 hi=5 lla=::")}, 0},
		// Another node's prefix: 155.
		{"MAG1", "MR11", pbu(3, 900, "mn1", 5, pfx("2001:db8:11:9::/64")), [][]string{
			one("MAG1>MR11 PBU seq=3 life=900 hnp=2001:db8:11:9::/64 mnid=mn1 hi=5 lla=::"),
			one("MR11>MAG1 PBA status=155 seq=3 life=0 hnp=2001:db8:11:9::/64 mnid=mn1 hi=5 lla=::")}, 0},
		// A MAG that is not authorised: 154.
		{"MAG3", "MR11", pbu(1, 900, "mn9", 1, netip.Prefix{}), [][]string{
			one("MAG3>MR11 PBU seq=1 life=900 hnp=::/0 mnid=mn9 hi=1 lla=::"),
			one("MR11>MAG3 PBA status=154 seq=1 life=0 hnp=::/0 mnid=mn9 hi=1 lla=::")}, 0},
		// The node leaves MAG1: de-registration; its packets are held.
		{"MAG1", "MR11", pbu(4, 0, "mn1", 5, pfx(p11)), [][]string{
			one("MAG1>MR11 PBU seq=4 life=0 hnp=" + p11 + " mnid=mn1 hi=5 lla=::"),
			one("MR11>MAG1 PBA status=0 seq=4 life=0 hnp=" + p11 + " mnid=mn1 hi=5" + lla)}, 0},
		// It attaches at MAG2, a legacy MAG in front of MR2.
		{"MAG2", "MR2", pbu(1, 900, "mn1", 3, netip.Prefix{}), [][]string{
			one("MAG2>MR2 PBU seq=1 life=900 hnp=::/0 mnid=mn1 hi=3 lla=::"),
			one("MR2>MR11 HI P=true F=true code=0 mnid=mn1 ctxreq=22,42,242 rl=" + p11 + "@MR11>MR2/3600 mc=0x40/att4/rem0/seq0/fwd0"),
			one("MR2>MAG2 PBA status=0 seq=1 life=900 hnp="+p11+" mnid=mn1 hi=3"+lla,
				"MR11>MR2 HAck P=true F=true code=5 mnid=mn1 hnp="+p11+lla+" rl="+p11+"@MR11>MR2/3600 mc=0x80/att4/rem3600/seq4/fwd3600")}, 0},
	} {
		if i == 0 {
			expectList(t, "MR11 data plane before", mr11.entries(t))
		}
		if i == 5 {
			expectList(t, "MR11 data plane attached", mr11.entries(t), "prefix-route "+p11+" -> MAG1")
		}
		if addrs[s.from] == (netip.Addr{}) {
			addrs[s.from] = addr("2001:db8:ff::a3")
			defer delete(addrs, s.from)
		}
		w.inject(t, s.from, s.to, s.msg)
		expectSeq(t, fmt.Sprintf("step %d", i), w.takeWire(), s.want...)
		if s.advance > 0 {
			w.advance(s.advance)
		}
		if i == 5 {
			expectList(t, "MR11 punt at de-registration", mr11.punt.takeOps(), "hold "+p11)
			expectList(t, "MR11 data plane after de-registration", mr11.entries(t))
		}
	}
	expectList(t, "MR2 data plane", mr2.entries(t), "prefix-route "+p11+" -> MAG2", "source-route "+p11+" -> MR11 dev core0")
	expectList(t, "MR11 data plane (anchor)", mr11.entries(t), "prefix-route "+p11+" -> MR2")
	expectList(t, "MR11 punt", mr11.punt.takeOps(), "release "+p11)
	expectList(t, "MR2 punt (routes in before the HI)", mr2.punt.takeOps())
	expectList(t, "LM", w.lmState("mn1"), p11+" anchor=MR11 current=MR2")
	expectList(t, "HAA", w.haaState("mn1"), p11+" anchor=MR11")
	c, _ := mr11.mr.Counters(w.ctx)
	for k, v := range map[string]uint64{"PBA 0": 3, "PBA 135": 1, "PBA 155": 1, "PBA 154": 1, "HAck 5": 1} {
		if c.StatusTx[k] != v {
			t.Errorf("MR11 StatusTx[%q] = %d, want %d (%v)", k, c.StatusTx[k], v, c.StatusTx)
		}
	}
	// The legacy MAG's heartbeat is answered (RFC 5847).
	w.inject(t, "MAG2", "MR2", &mh.Heartbeat{Sequence: 7})
	expectSeq(t, "heartbeat", w.takeWire(), one("MAG2>MR2 Heartbeat R=false"), one("MR2>MAG2 Heartbeat R=true"))
}

// Draft §6: a correspondent that is a fixed node, reached by plain
// routing (no MR at its access: its packets reach the anchor, which
// forwards; no Redirect since the LM does not know the source) or through
// an MR at its access router (that MR registers the fixed nodes' prefix
// and does Figure 3, or is redirected by the anchor in Figure 4).
func TestFixedCorrespondent6(t *testing.T) {
	cn, plain := addr("2001:db8:c0::5"), addr("2001:db8:c9::5")
	for _, tc := range []struct {
		name    string
		src     netip.Addr
		routing RoutingMode
		missAt  string
		calls   []string
		wire    [][]string
		routes  map[string][]string
	}{
		{"plain routing to the anchor", plain, RoutingQuery, "MR12",
			[]string{"MR12 LM.Query address " + mn1HoA.String(), "MR12 LM.Query address " + plain.String()}, nil,
			map[string][]string{"MR12": {"prefix-route " + p12 + " -> MR11"}, "MRCN": nil}},
		{"MR at the access router, Figure 3", cn, RoutingQuery, "MRCN",
			[]string{"MRCN LM.Query address " + mn1HoA.String()}, nil,
			map[string][]string{"MR12": nil, "MRCN": {"prefix-route " + p12 + " -> MR11"}}},
		{"MR at the access router, Figure 4", cn, RoutingRedirect, "MR12",
			[]string{"MR12 LM.Query address " + mn1HoA.String(), "MR12 LM.Query address " + cn.String()},
			[][]string{one("MR12>MRCN Redirect A=true rl=" + p12 + "@MR12>MR11/3597"), one("MRCN>MR12 RedirectAck status=0")},
			map[string][]string{"MR12": {"prefix-route " + p12 + " -> MR11"}, "MRCN": {"prefix-route " + p12 + " -> MR11"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			cfg := Config{UpdateLMOnAttach: true, Routing: tc.routing, RedirectAck: true, NoContextTransfer: true}
			mr11, mr12, mr31 := w.add("MR11", cfg), w.add("MR12", cfg), w.add("MR31", cfg)
			cnCfg := cfg
			cnCfg.Served = []netip.Prefix{cnPrefix}
			mrcn := w.add("MRCN", cnCfg)
			mn1At12Then11(t, w, mr12, mr11, mr31)
			expectList(t, "served prefix in the LM", w.lmState("fixed:"+cnPrefix.String()), cnPrefix.String()+" anchor=MRCN current=MRCN")
			w.advance(3 * time.Second)
			w.takeWire()
			mr12.punt.takeOps()
			nodes := map[string]*node{"MR12": mr12, "MRCN": mrcn}
			for _, n := range []string{"MR12", "MRCN"} {
				expectList(t, n+" data plane before", nodes[n].entries(t))
			}
			nodes[tc.missAt].punt.packet(mn1HoA, tc.src, 4, true)
			w.settle()
			expectList(t, "LM calls", w.takeCalls(), tc.calls...)
			expectSeq(t, "wire", w.takeWire(), tc.wire...)
			expectList(t, "punt", nodes[tc.missAt].punt.takeOps(), "release "+p12)
			for _, n := range []string{"MR12", "MRCN"} {
				expectList(t, n+" data plane after", nodes[n].entries(t), tc.routes[n]...)
			}
		})
	}
}

// Deployment B details: an RS is answered, a move between two links of
// the same MR moves the routes, and a node that leaves for nowhere has
// its held packets dropped after HoldTimeout.
func TestDeploymentBAccess(t *testing.T) {
	w := newWorld(t)
	mr11 := w.add("MR11", Config{})
	w.attachB(mr11, "mn1", "acc1", false)
	mr11.acc.takeAds()
	mr11.acc.emit(AccessEvent{Kind: Solicited, MNID: "mn1", Link: "acc1", LinkLocal: addr("fe80::1:2ff:fe00:1")})
	w.settle()
	expectList(t, "RA on RS", mr11.acc.takeAds(), ra+p11+" pref=1h0m0s valid=1h0m0s")
	mr11.acc.emit(AccessEvent{Kind: Attached, MNID: "mn1", Link: "acc2", IfIndex: 8})
	w.settle()
	expectList(t, "moved link", mr11.entries(t), "access-route "+p11+" dev acc2")
	expectList(t, "RA on the new link", mr11.acc.takeAds(), "RA acc2 to fe80::1:2ff:fe00:1: "+p11+" pref=1h0m0s valid=1h0m0s")
	w.detachB(mr11, "mn1", "acc2")
	mr11.punt.packet(addr("2001:db8:11::9"), mn2HoA, 2, false)
	w.advance(DefaultHoldTimeout)
	expectList(t, "punt", mr11.punt.takeOps(), "hold "+p11, "drop "+p11)
	expectList(t, "data plane", mr11.entries(t))
	c, _ := mr11.mr.Counters(w.ctx)
	if c.DroppedPackets != 2 || c.Detaches != 1 || c.RAs != 3 {
		t.Errorf("counters: dropped %d detaches %d RAs %d", c.DroppedPackets, c.Detaches, c.RAs)
	}
	// Back on the same MR: the HAA gives the same prefix (anchored here),
	// an attachment, not a move.
	w.attachB(mr11, "mn1", "acc1", false)
	mns, _ := mr11.mr.MNs(w.ctx)
	if len(mns) != 1 || mns[0].Moved || len(mns[0].Prefixes) != 1 || mns[0].Prefixes[0].Prefix != pfx(p11) {
		t.Errorf("re-attached: %+v", mns)
	}
}

func TestConfigValidate(t *testing.T) {
	w := newWorld(t)
	tr, _ := w.net.Attach(addr("2001:db8:ff::99"))
	defer tr.Close()
	deps := Deps{Transport: tr, DataPlane: nil}
	_, err := New(Config{Address: addr("2001:db8:ff::99"), Pools: []Pool{{Prefix: pfx("2001:db8:11::/48"), AnchorMR: addrs["MR11"]},
		{Prefix: pfx("2001:db8:11:8000::/49"), AnchorMR: addrs["MR12"]}}}, deps)
	want := []string{
		"mr: Pools[1] 2001:db8:11:8000::/49 overlaps Pools[0] 2001:db8:11::/48",
		"mr: Pools: none is anchored at this MR (2001:db8:ff::99)",
		"mr: Transport, DataPlane, Punt, LM and HAA are required",
		"mr: deployment B (access) needs Deps.Access",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got %v\nwant %s", err, strings.Join(want, "\n"))
	}
}

// A miss for a node attached here: the kernel lost its route because its
// access link left (moved to another MR) before the link event came. The
// packets stay held (not re-injected to miss again) and the detach holds
// them for good, for the handover; a spurious miss is re-routed after
// missRecheck.
func TestMissWhileAttached(t *testing.T) {
	for _, leaves := range []bool{true, false} {
		t.Run(fmt.Sprintf("leaves=%v", leaves), func(t *testing.T) {
			w := newWorld(t)
			mr11 := w.add("MR11", Config{UpdateLMOnAttach: true})
			w.attachB(mr11, "mn1", "acc1", false)
			mr11.punt.takeOps()
			w.takeCalls()
			mr11.punt.packet(addr("2001:db8:11::1"), mn2HoA, 4, true)
			w.settle()
			expectList(t, "punt at the miss", mr11.punt.takeOps())
			if h, _ := mr11.mr.Held(w.ctx); len(h) != 1 || h[0] != pfx(p11) {
				t.Errorf("held: %v", h)
			}
			if leaves {
				w.detachB(mr11, "mn1", "acc1")
				expectList(t, "punt at the detach", mr11.punt.takeOps(), "hold "+p11)
				w.advance(missRecheck)
				expectList(t, "punt after the recheck", mr11.punt.takeOps())
				expectList(t, "data plane", mr11.entries(t))
				return
			}
			w.advance(missRecheck)
			expectList(t, "punt after the recheck", mr11.punt.takeOps(), "release "+p11)
			expectList(t, "data plane", mr11.entries(t), "access-route "+p11+" dev acc1")
			if c, _ := mr11.mr.Counters(w.ctx); c.Released != 4 || c.Queries != 0 {
				t.Errorf("released %d queries %d", c.Released, c.Queries)
			}
		})
	}
}

// Figure 4 while the anchor still holds the packets of the node that
// left it (no context transfer from the new MR): it asks the LM where the
// node went (after one retry delay, in case an HI comes), sends what it
// held there, and redirects the correspondent's MR found from the held
// packets' source; nothing is dropped.
func TestFigure4HeldAtAnchor(t *testing.T) {
	w := newWorld(t)
	cfg := Config{UpdateLMOnAttach: true, Routing: RoutingRedirect, RedirectAck: true, NoContextTransfer: true}
	mr11, mr12, mr31 := w.add("MR11", cfg), w.add("MR12", cfg), w.add("MR31", cfg)
	mn1At12Then11(t, w, mr12, mr11, mr31)
	w.takeWire()
	mr12.punt.packet(mn1HoA, mn2HoA, 5, false)
	w.settle()
	expectList(t, "LM calls before the retry delay", w.takeCalls(), "MR12 LM.Query address "+mn2HoA.String())
	expectList(t, "MR12 punt (held)", mr12.punt.takeOps())
	w.advance(resolveDepartureRetry)
	expectList(t, "LM calls", w.takeCalls(), "MR12 LM.Query MN-ID \"mn1\"")
	expectList(t, "MR12 punt", mr12.punt.takeOps(), "release "+p12)
	expectList(t, "MR12 data plane", mr12.entries(t), "prefix-route "+p12+" -> MR11")
	expectSeq(t, "wire", w.takeWire(),
		one("MR12>MR31 Redirect A=true rl="+p12+"@MR12>MR11/3598"),
		one("MR31>MR12 RedirectAck status=0"))
	expectList(t, "MR31 data plane", mr31.entries(t), "prefix-route "+p12+" -> MR11", "access-route "+p31+" dev acc1")
	c, _ := mr12.mr.Counters(w.ctx)
	if c.Released != 5 || c.DroppedPackets != 0 || c.Queries != 1 {
		t.Errorf("MR12 counters: released %d dropped %d queries %d", c.Released, c.DroppedPackets, c.Queries)
	}
}

// Figure 4 after a handover with context transfer: the anchor knows the
// node's MR from the HI and forwards the plain-routed packets in the
// kernel; the data plane's report of such a packet (Ingress with its
// source) makes it redirect the source's MR, once.
func TestFigure4AfterHandover(t *testing.T) {
	w := newWorld(t)
	cfg := Config{UpdateLMOnAttach: true, Routing: RoutingRedirect, RedirectAck: true}
	mr11, mr12, mr31 := w.add("MR11", cfg), w.add("MR12", cfg), w.add("MR31", cfg)
	mn1At12Then11(t, w, mr12, mr11, mr31)
	w.takeWire()
	expectList(t, "MR12 data plane", mr12.entries(t), "prefix-route "+p12+" -> MR11")
	plain := func() {
		t.Helper()
		if err := mr12.mr.call(w.ctx, func() { mr12.mr.handleIngress(Ingress{Dst: mn1HoA, Src: mn2HoA}) }); err != nil {
			t.Fatal(err)
		}
		w.settle()
	}
	plain()
	expectList(t, "LM calls", w.takeCalls(), "MR12 LM.Query address "+mn2HoA.String())
	expectSeq(t, "wire", w.takeWire(),
		one("MR12>MR31 Redirect A=true rl="+p12+"@MR12>MR11/3599"),
		one("MR31>MR12 RedirectAck status=0"))
	expectList(t, "MR31 data plane", mr31.entries(t), "prefix-route "+p12+" -> MR11", "access-route "+p31+" dev acc1")
	plain()
	expectList(t, "no second query", w.takeCalls())
	expectSeq(t, "no second Redirect", w.takeWire())
	// A plain packet for a node attached at the anchor: nothing.
	if err := mr31.mr.call(w.ctx, func() { mr31.mr.handleIngress(Ingress{Dst: mn2HoA, Src: mn1HoA}) }); err != nil {
		t.Fatal(err)
	}
	w.settle()
	expectList(t, "MR31: no query", w.takeCalls())
}
