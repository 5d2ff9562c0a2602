package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// attachStory is the common start: MN1 attaches at MR12 (prefix of
// MR12's pool: its HoA is anchored at MR12, draft §4.3 assumptions), MN2
// at MR31, then MN1 moves to MR11 (same local network, no new prefix).
func attachStory(t testing.TB, tp *dmmTopo) (mn1, mn2 netip.Addr) {
	return attachStoryMoving(t, tp, func() { tp.moveMN(t, "mn1", "mr12", "mr11") })
}

// attachStoryMoving is attachStory with MN1's move MR12 -> MR11 made by
// move (a link moved between namespaces, an access point's switch).
func attachStoryMoving(t testing.TB, tp *dmmTopo, move func()) (mn1, mn2 netip.Addr) {
	mn1 = tp.mnAddr(t, "mn1", dmmPool["mr12"], 20*time.Second)
	mn2 = tp.mnAddr(t, "mn2", dmmPool["mr31"], 20*time.Second)
	t.Logf("MN1 %v (anchored at MR12), MN2 %v (anchored at MR31)", mn1, mn2)
	time.Sleep(1100 * time.Millisecond) // the LM orders updates by time
	move()
	waitFor(t, 10*time.Second, "MR11 to serve MN1 after the move", func() (bool, string) {
		c := tp.d["mr11"].counters(t)
		return c["mr/Moves"] >= 1 && c["mr/LMUpdates"] >= 1, fmt.Sprint(c["mr/Moves"], c["mr/LMUpdates"])
	})
	return mn1, mn2
}

// notSentRE is pmipdemo send's line for a packet whose write failed.
var notSentRE = regexp.MustCompile(`(?m)^send error: seq (\d+) not sent: (.*)$`)

// stream sends a UDP stream from ns to dst:port and returns the
// receiver's result.
func (tp *dmmTopo) stream(t testing.TB, from, to string, dst netip.Addr, port, rate int, dur time.Duration, during func()) streamStats {
	t.Helper()
	rx := startBG(t, dur+40*time.Second, tp.ns[to], tp.pmipdemo, "recv", "-listen", fmt.Sprintf("[::]:%d", port), "-timeout", (dur + 15*time.Second).String(), "-json")
	// The receiver's socket is bound before the first packet is sent (a
	// fixed wait was not always enough on a loaded machine: the first
	// packets were refused).
	waitFor(t, 10*time.Second, "the stream receiver in "+to, func() (bool, string) {
		return strings.Contains(rx.errb.String(), "listening"), rx.errb.String()
	})
	tx := startBG(t, dur+20*time.Second, tp.ns[from], tp.pmipdemo, "send", "-to", fmt.Sprintf("[%s]:%d", dst, port),
		"-rate", fmt.Sprint(rate), "-duration", dur.String())
	if during != nil {
		during()
	}
	sout := tx.wait(t, dur+20*time.Second)
	if !strings.Contains(sout, "(0 send errors)") {
		t.Logf("sender in %s: %s", from, strings.TrimSpace(sout))
	}
	out := rx.wait(t, dur+30*time.Second)
	var st streamStats
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &st); err != nil {
		t.Fatalf("pmipdemo recv: %v\n%s\n%s", err, out, rx.errb.String())
	}
	for _, m := range notSentRE.FindAllStringSubmatch(sout, -1) {
		if seq, err := strconv.ParseUint(m[1], 10, 64); err == nil {
			if st.NotSent == nil {
				st.NotSent = map[uint64]string{}
			}
			st.NotSent[seq] = m[2]
		}
	}
	return st
}

// TestDMMFigure1 is the draft's Figure 1 with the MRs in Figure 3 mode
// (routing: query): Figure 3, Figure 5 with the §4.2 new prefix, §5
// deployment A and §6 fixed correspondent, one after the other.
func TestDMMFigure1(t *testing.T) {
	start := time.Now()
	// Metrics on for the MRs (each on the loopback of its namespace).
	tp := newDMMTopo(t, dmmOptions{repl: []string{`listen: ""                # disabled`, `listen: "` + metricsAddr + `"`}})
	caps := map[string]*capture{}
	for _, n := range []string{"bb", "mr11", "mr12", "mr2", "mr31", "mn1"} {
		caps[n] = startCapture(t, tp.ns[n], n)
	}
	var mn1, mn2 netip.Addr
	if !t.Run("attach", func(t *testing.T) { mn1, mn2 = attachStory(t, tp) }) {
		t.FailNow()
	}

	// Figure 3: MR31 queries the LM on the first packets, caches, tunnels
	// straight to MR11; nothing crosses MR12 (the anchor).
	if !t.Run("figure3", func(t *testing.T) {
		t0 := time.Now()
		st := tp.stream(t, "mn2", "mn1", mn1, 6001, 200, time.Second, nil)
		t.Logf("Figure 3 stream MN2 -> MN1: %+v", st)
		if st.Received < st.Sent*95/100 {
			t.Errorf("received %d of %d", st.Received, st.Sent)
		}
		time.Sleep(200 * time.Millisecond)
		n12, _ := streamIn(caps["mr12"].since(t0), 6001)
		n31, _ := streamIn(caps["mr31"].since(t0), 6001)
		n11, tun11 := streamIn(caps["mr11"].since(t0), 6001)
		t.Logf("path: MR31 saw %d, MR11 %d (%d tunnelled), MR12 %d", n31, n11, tun11, n12)
		if n12 != 0 {
			t.Errorf("%d packets crossed MR12", n12)
		}
		if n31 < int(st.Received) || tun11 < int(st.Received) {
			t.Errorf("MR31 saw %d, MR11 %d tunnelled; %d received", n31, tun11, st.Received)
		}
		_, lines := signalling(caps["bb"].since(t0))
		t.Logf("signalling:\n  %s", strings.Join(lines, "\n  "))
		inOrder(t, "Figure 3", lines, "MR31->LM3 Location Query", "LM3->MR31 Location Reply")
		if indexOf(lines, 0, "Redirect") >= 0 {
			t.Errorf("a Redirect in Figure 3")
		}
	}) {
		t.FailNow()
	}

	// Figure 5 and §4.2: MN1 moves MR11 -> MR2 under a 1000 packet/s
	// stream from MN2; MR2 assigns a new prefix.
	var moved time.Time
	t.Run("figure5", func(t *testing.T) {
		t0 := time.Now()
		st := tp.stream(t, "mn2", "mn1", mn1, 6002, 1000, 4*time.Second, func() {
			time.Sleep(1500 * time.Millisecond)
			moved = tp.moveMN(t, "mn1", "mr11", "mr2")
		})
		t.Logf("Figure 5 stream MN2 -> MN1 at 1000/s, move at +1.5 s: sent %d received %d lost %d, longest gap %.1f ms (after seq %d), loss gap %.1f ms",
			st.Sent, st.Received, st.Lost, st.LongestGap*1000, st.GapAfterSeq, st.LossGap*1000)
		ps := caps["bb"].since(t0)
		sig, lines := signalling(ps)
		t.Logf("signalling:\n  %s", strings.Join(lines, "\n  "))
		for _, p := range sig {
			t.Logf("  +%6.1f ms %s", float64(p.T.Sub(moved).Microseconds())/1000, p)
		}
		t.Logf("daemon steps after the move:\n  %s", strings.Join(logSteps(moved, 200*time.Millisecond, map[string]string{
			"mr2": tp.d["mr2"].log, "mr11": tp.d["mr11"].log}, "mobile node", "access link", "HI sent", "context trans", "first frame", "hold", "release"), "\n  "))
		inOrder(t, "Figure 5", lines, "MR2->MR11 Handover Initiate", "MR11->MR2 Handover Acknowledge", "MR11->MR31 Redirect")
		if indexOf(lines, 0, "MR2->LM2") < 0 {
			t.Errorf("no location update MR2 -> LM2")
		}
		fwd := streamOut(caps["mr11"].since(t0), 6002, dmmAddr["mr2"])
		direct := streamOut(caps["mr31"].since(t0), 6002, dmmAddr["mr2"])
		t.Logf("temporary forwarding MR11 -> MR2: %d packets; MR31 -> MR2 after the redirect: %d", fwd, direct)
		if direct == 0 {
			t.Errorf("MR31 never tunnelled to MR2")
		}
		// The handover's own gap: arrivals at MN1's interface (kernel
		// timestamps) around the move; the receiver's longest gap also
		// counts its own scheduling delays anywhere in the 4 s.
		hg, hgAt := arrivalGap(caps["mn1"].since(t0), 6002, moved.Add(-20*time.Millisecond), moved.Add(time.Second))
		t.Logf("handover gap at MN1's interface: %.1f ms (from +%.1f ms after the move command); receiver's longest gap %.1f ms",
			float64(hg.Microseconds())/1000, float64(hgAt.Sub(moved).Microseconds())/1000, st.LongestGap*1000)
		var nd []string
		for _, p := range caps["mr2"].since(moved) {
			if p.If == "mn1" && (p.ICMPType == 135 || p.ICMPType == 136 || p.ICMPType == 134 || p.ICMPType == 133) && p.T.Before(moved.Add(1500*time.Millisecond)) {
				nd = append(nd, fmt.Sprintf("%+7.1f ms out=%v icmp %d %s -> %s", float64(p.T.Sub(moved).Microseconds())/1000, p.Out, p.ICMPType, p.Src, p.Dst))
			}
		}
		t.Logf("neighbor discovery on MR2's access link after the move:\n  %s", strings.Join(nd, "\n  "))
		if hg > 10*time.Millisecond {
			t.Logf("GAP: handover gap %.1f ms with the link moving between namespaces (the 10 ms target is measured at the access point: TestDMMFigure5AccessPoint)", float64(hg.Microseconds())/1000)
		}
		// Bounds we can justify on a shared 2-core machine: nothing is
		// lost by the MRs (held, forwarded, redirected) and the handover
		// gap stays below 250 ms (~25 ms when the machine is quiet, 20-25
		// ms of it the kernel moving the link between namespaces). A
		// packet MR11 had put on MN1's link as the link left its namespace
		// is lost with the link (the captures saw it last leaving MR11 on
		// mn1): at most one (1 in a CI run, 0 in the others). The MRs' own
		// gap, without the link move, is TestDMMFigure5AccessPoint's and
		// BenchmarkDMMFigure5Handover's.
		var inFlight, byMRs []uint64
		if st.Lost > 0 {
			var where []string
			inFlight, byMRs, where = lostPackets(caps, "mn1", "mr11", []string{"bb", "mr31", "mr11", "mr2"}, 6002, st.Sent, t0, moved)
			for _, w := range where {
				t.Logf("lost %s", w)
			}
		}
		if len(byMRs) != 0 || len(inFlight) > 1 || st.Received+st.Lost != st.Sent || hg > 250*time.Millisecond || hg == 0 {
			t.Errorf("handover: received %d of %d (lost %d: by the MRs %v, in flight on MN1's link %v), handover gap %v",
				st.Received, st.Sent, st.Lost, byMRs, inFlight, hg)
		}
		// The temporary context at MR11 is removed.
		waitFor(t, 15*time.Second, "MR11's temporary forwarding to end", func() (bool, string) {
			c := tp.d["mr11"].counters(t)
			return c["mr/ForwardingEnded"] >= c["mr/ForwardingStarted"] && c["mr/ForwardingStarted"] >= 1,
				fmt.Sprint(c["mr/ForwardingStarted"], c["mr/ForwardingEnded"])
		})
		// The histograms: MR2 completed MN1's handover and asked the LM
		// where MN1 was; MR11 completed MN1's move from MR12 (attach
		// story); MR31 queried the LM for MN1 (Figure 3).
		for _, x := range []struct{ mr, hist string }{{"mr2", "pmip_handover_duration_seconds"},
			{"mr2", "pmip_lm_query_duration_seconds"}, {"mr11", "pmip_handover_duration_seconds"},
			{"mr31", "pmip_lm_query_duration_seconds"}} {
			m := scrape(t, tp.ns[x.mr], metricsAddr)
			n, _ := m.get(x.hist + "_count")
			sum, _ := m.get(x.hist + "_sum")
			if n < 1 {
				t.Errorf("%s: %s_count %v, want > 0", x.mr, x.hist, n)
			} else {
				t.Logf("%s: %s count %v, mean %.2f ms", x.mr, x.hist, n, 1000*sum/n)
			}
		}
	})

	// §4.2: the old address is kept, deprecated; a new session uses the
	// new prefix (anchored at MR2).
	t.Run("new-prefix", func(t *testing.T) {
		newA := tp.mnAddr(t, "mn1", dmmPool["mr2"], 10*time.Second)
		got, out := addrFlags(tp.ns["mn1"])
		dep, ok := got[mn1]
		if !ok || !dep {
			t.Errorf("old address %v not kept deprecated:\n%s", mn1, out)
		}
		r, _ := tp.ns["mn1"].Exec("ip", "-6", "route", "get", mn2.String())
		if !strings.Contains(r, "src "+newA.String()) {
			t.Errorf("a new session to MN2 would not use the new address %v:\n%s", newA, r)
		}
		if n, out := ping(t, tp.ns["mn1"], mn2, 3); n < 2 {
			t.Errorf("new session MN1 -> MN2 (from %v): %d replies\n%s", newA, n, out)
		}
		// The old session keeps working to the old address.
		st := tp.stream(t, "mn2", "mn1", mn1, 6003, 200, time.Second, nil)
		if st.Received < st.Sent*95/100 {
			t.Errorf("old address after the move: received %d of %d", st.Received, st.Sent)
		}
		t.Logf("MN1 addresses: new %v (preferred), old %v (deprecated); old session: %d/%d", newA, mn1, st.Received, st.Sent)
	})

	// §5 deployment A: MN3 behind the legacy MAG32, MR32 its LMA part.
	t.Run("deployment-A", func(t *testing.T) {
		mn3 := tp.mnAddr(t, "mn3", dmmPool["mr32"], 20*time.Second)
		c := tp.d["mr32"].counters(t)
		if c["mr/status_tx/PBA 0"] < 1 {
			t.Errorf("MR32 sent no PBA 0: %v", c)
		}
		if n, out := ping(t, tp.ns["mn3"], mn2, 3); n < 2 {
			t.Errorf("MN3 -> MN2: %d replies\n%s", n, out)
		}
		t.Logf("MN3 %v registered by MAG32 at MR32 (PBA 0 x%d) and reaches MN2", mn3, c["mr/status_tx/PBA 0"])
	})

	// §6: a fixed correspondent reaches MN1's old address through plain
	// routing (backbone -> anchor MR12 -> LM query -> MR2).
	t.Run("fixed-CN", func(t *testing.T) {
		t0 := time.Now()
		if n, out := ping(t, tp.ns["cn"], mn1, 3); n < 2 {
			t.Errorf("CN -> MN1 %v: %d replies\n%s", mn1, n, out)
		}
		_, lines := signalling(caps["bb"].since(t0))
		t.Logf("signalling:\n  %s", strings.Join(lines, "\n  "))
		// Plain routing delivers to the anchor MR12, which knows (from the
		// LM, or the Redirect MR11 sent it at the move) that MN1 is at MR2.
		in, out := 0, 0
		for _, p := range caps["mr12"].since(t0) {
			if p.ICMPType == 128 && p.ISrc == dmmAddr["cn"] {
				switch {
				case !p.Out && !p.Tunnel && strings.HasPrefix(p.If, "ln"):
					in++
				case p.Out && p.Tunnel && p.Dst == dmmAddr["mr2"]:
					out++
				}
			}
		}
		t.Logf("CN echo requests: %d entered MR12 by plain routing, %d tunnelled MR12 -> MR2", in, out)
		if in == 0 || out == 0 {
			t.Errorf("CN -> MN1 did not go CN -> MR12 (anchor) -> MR2: in %d, tunnelled %d", in, out)
		}
	})
	t.Logf("Figure 1 story done in %v", time.Since(start).Round(time.Millisecond))
}

// TestDMMFigure4 runs the MRs in Figure 4 mode (routing: redirect):
// regular routing to the anchor MR12, which forwards to MR11 and
// redirects MR31, which then tunnels straight to MR11; no packet is lost.
// Two ways MR12 learns where MN1 is: without context transfer at MR11 it
// holds MN1's packets and asks LM1 (the draft's Figure 4); with it, MR11's
// HI told it at the move, and the source of the first plain-routed packet
// it forwards (its tunnel ingress observer) names MR31.
func TestDMMFigure4(t *testing.T) {
	for _, ct := range []bool{false, true} {
		t.Run(fmt.Sprintf("context_transfer=%v", ct), func(t *testing.T) { testDMMFigure4(t, ct) })
	}
}

func testDMMFigure4(t testing.TB, contextTransfer bool) {
	fwd := []string{"forwarding_lifetime: 10s", "forwarding_lifetime: 1s"}
	mr11 := fwd
	if !contextTransfer {
		mr11 = append(fwd, "context_transfer: true", "context_transfer: false")
	}
	tp := newDMMTopo(t, dmmOptions{repl: []string{"  routing: query ", "  routing: redirect "},
		mrRepl: map[string][]string{"mr11": mr11, "mr12": fwd, "mr2": fwd, "mr31": fwd}})
	caps := map[string]*capture{}
	for _, n := range []string{"bb", "mr11", "mr12", "mr31"} {
		caps[n] = startCapture(t, tp.ns[n], n)
	}
	mn1, _ := attachStory(t, tp)
	time.Sleep(1500 * time.Millisecond)
	t0 := time.Now()
	st := tp.stream(t, "mn2", "mn1", mn1, 6004, 200, 2*time.Second, nil)
	t.Logf("Figure 4 stream MN2 -> MN1: sent %d received %d lost %d, longest gap %.1f ms", st.Sent, st.Received, st.Lost, st.LongestGap*1000)
	if st.Lost != 0 || st.Received != st.Sent {
		t.Errorf("received %d of %d (lost %d)", st.Received, st.Sent, st.Lost)
	}
	n12, _ := streamIn(caps["mr12"].since(t0), 6004)
	_, tun11 := streamIn(caps["mr11"].since(t0), 6004)
	direct := streamOut(caps["mr31"].since(t0), 6004, dmmAddr["mr11"])
	t.Logf("path: crossed MR12 %d, tunnelled into MR11 %d, of which straight from MR31 %d", n12, tun11, direct)
	if n12 == 0 || direct == 0 || n12 >= int(st.Sent)/2 {
		t.Errorf("want the first packets via MR12 and the rest straight MR31 -> MR11: MR12 %d, direct %d", n12, direct)
	}
	sig, lines := signalling(caps["bb"].since(t0))
	t.Logf("signalling:\n  %s", strings.Join(lines, "\n  "))
	for _, p := range sig {
		t.Logf("  +%6.1f ms %s", float64(p.T.Sub(t0).Microseconds())/1000, p)
	}
	inOrder(t, "Figure 4", lines, "MR12->LM1 Location Query", "LM1->MR12 Location Reply", "MR12->MR31 Redirect", "MR31->MR12 Redirect Ack")
	// One Redirect (acknowledged), however many packets MR12 forwarded.
	if n := countOf(lines, "MR12->MR31 Redirect"); n != 1 {
		t.Errorf("MR12 sent %d Redirects to MR31, want 1", n)
	}
}

// arrivalGap is the longest interval between two consecutive arrivals of
// the UDP stream's data packets to port (received, not sent, by the capture's namespace)
// that ends after from and starts before to, and when it started.
func arrivalGap(ps []pkt, port uint16, from, to time.Time) (time.Duration, time.Time) {
	var last time.Time
	var gap time.Duration
	var at time.Time
	for _, p := range ps {
		if p.UDPDst != port || p.Out || p.Fin {
			continue
		}
		if !last.IsZero() && p.T.After(from) && last.Before(to) && p.T.Sub(last) > gap {
			gap, at = p.T.Sub(last), last
		}
		last = p.T
	}
	return gap, at
}

func countOf(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if l == s {
			n++
		}
	}
	return n
}
