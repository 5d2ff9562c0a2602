package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
)

// apPorts are the access point's ports to the MRs (in namespace "ap"); the
// MR-side end of each is "mn1", the access interface of MR12's, MR11's and
// MR2's configs (profile of mn1@example.net by interface).
var apPorts = map[string]string{"mr12": "p12", "mr11": "p11", "mr2": "p2"}

// apLink puts MN1 behind an access point: MN1's eth0 <-> "m1" in the AP
// namespace, a Linux bridge (br0) with "m1" and one port per MR; only the
// port to MR12 is up. A handover switches the AP's ports (the MR side of
// the access network); MN1's own link never goes down, and with RFC 6543
// (every MR the same router link-local and MAC) it sees the same router.
// Each MR learns that the node came or went from the carrier of its
// access link, as from an access point's layer-2 trigger.
func apLink(t testing.TB, tp *dmmTopo) {
	ap := netnstest.New(t, "ap")
	tp.ns["ap"] = ap
	ap.Sysctl("net.ipv6.conf.all.disable_ipv6", "1") // a layer-2 box
	ap.Sysctl("net.ipv6.conf.default.disable_ipv6", "1")
	ap.IP("link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
	ap.IP("link", "set", "br0", "up")
	netnstest.Veth(t, ap, "m1", tp.ns["mn1"], "eth0")
	ap.IP("link", "set", "m1", "master", "br0")
	for _, mr := range []string{"mr12", "mr11", "mr2"} {
		port := apPorts[mr]
		netnstest.Veth(t, ap, port, tp.ns[mr], "mn1")
		ap.IP("link", "set", port, "master", "br0")
		if mr != "mr12" {
			ap.IP("link", "set", port, "down")
		}
	}
}

// apSwitch hands MN1 over from one MR to another at the access point: the
// port to from down, the port to to up (one `ip -batch`: the two changes
// follow each other within a millisecond: break before make).
func (tp *dmmTopo) apSwitch(t testing.TB, from, to string) time.Time {
	t.Helper()
	cmd := exec.Command("ip", "-n", tp.ns["ap"].Name, "-batch", "-")
	cmd.Stdin = strings.NewReader("link set " + apPorts[from] + " down\nlink set " + apPorts[to] + " up\n")
	at := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("AP switch %s -> %s: %v\n%s", from, to, err, out)
	}
	return at
}

// newAPTopo is Figure 1 with MN1 behind the access point, MN1 at MR12
// (its HoA anchored there) then at MR11, MN2 at MR31, captures on the
// backbone, MN1, MN2, MR31, the two MRs of MN1's handovers and the AP.
func newAPTopo(t testing.TB, o dmmOptions) (*dmmTopo, map[string]*capture) {
	o.mnLink = map[string]func(testing.TB, *dmmTopo){"mn1": apLink}
	tp := newDMMTopo(t, o)
	caps := map[string]*capture{}
	for _, n := range []string{"bb", "mn1", "mn2", "mr31", "mr11", "mr2", "ap"} {
		caps[n] = startCapture(t, tp.ns[n], n)
	}
	return tp, caps
}

// apHandover is one handover of MN1 at the access point under a 1000
// packet/s UDP stream MN2 -> MN1's home address (dur long, switch after
// switchAfter), measured from the captures.
type apHandover struct {
	from, to string
	at       time.Time // the switch command
	st       streamStats
	// gap is the longest interval between two arrivals of the stream at
	// MN1's eth0 (kernel timestamps) around the switch; gapStart is when
	// it began, after the switch command.
	gap, gapStart time.Duration
	// Lost packets: inFlight were sent by the previous MR onto its access
	// link after the access point had taken the port down (in flight at
	// the moment of departure: seen leaving the MR, never at the AP);
	// notSent were never sent (the sender's write failed: on its
	// connected socket, an ICMPv6 error drawn by an earlier packet);
	// byMRs are every other lost packet.
	inFlight, notSent, byMRs []uint64
	// where: for each lost packet, where the captures saw it.
	where []string
	// steps: the new MR's LM query and reply, HI and HAck, in ms after
	// the gap began.
	steps []string
}

func (h apHandover) String() string {
	return fmt.Sprintf("%s -> %s: sent %d received %d lost %d (in flight on the access link %d, never sent %d, elsewhere %d); gap at MN1 %.1f ms (from %+.1f ms after the switch)",
		strings.ToUpper(h.from), strings.ToUpper(h.to), h.st.Sent, h.st.Received, h.st.Lost, len(h.inFlight), len(h.notSent), len(h.byMRs),
		float64(h.gap.Microseconds())/1000, float64(h.gapStart.Microseconds())/1000) + "; " + strings.Join(h.steps, ", ")
}

func (tp *dmmTopo) apHandover(t testing.TB, caps map[string]*capture, mn1 netip.Addr, from, to string, port int, dur, switchAfter time.Duration) apHandover {
	t.Helper()
	h := apHandover{from: from, to: to}
	t0 := time.Now()
	h.st = tp.stream(t, "mn2", "mn1", mn1, port, 1000, dur, func() {
		time.Sleep(switchAfter)
		h.at = tp.apSwitch(t, from, to)
	})
	time.Sleep(50 * time.Millisecond) // the captures' readers catch up
	var at time.Time
	h.gap, at = arrivalGap(caps["mn1"].since(t0), uint16(port), h.at.Add(-20*time.Millisecond), h.at.Add(time.Second))
	h.gapStart = at.Sub(h.at)
	// The signalling of the handover, in ms after the gap began.
	sig, _ := signalling(caps["bb"].since(at))
	for _, p := range sig {
		if p.T.After(at.Add(h.gap+5*time.Millisecond)) || p.MH == nil {
			continue
		}
		switch n := mhName(p.MH); {
		case strings.Contains(n, "Location Query") && p.Src == dmmAddr[to],
			strings.Contains(n, "Location Reply") && p.Dst == dmmAddr[to],
			strings.Contains(n, "Handover"):
			h.steps = append(h.steps, fmt.Sprintf("%s %s->%s +%.1f", n, nameOf(p.Src), nameOf(p.Dst), float64(p.T.Sub(at).Microseconds())/1000))
		}
	}
	if h.st.Lost > 0 {
		names := []string{"mn2", "mr31", "bb", from, to, "ap"}
		var other []uint64
		h.inFlight, other, h.where = lostPackets(caps, "mn1", from, names, port, h.st.Sent, t0, h.at)
		for _, seq := range other {
			if e, ok := h.st.NotSent[seq]; ok {
				h.notSent = append(h.notSent, seq)
				h.where = append(h.where, fmt.Sprintf("seq %d was never sent: %s", seq, e))
			} else {
				h.byMRs = append(h.byMRs, seq)
			}
		}
		// ICMPv6 errors around the switch (a connected UDP sender's next
		// write fails after one: that packet is never sent).
		for _, n := range names {
			for _, p := range caps[n].since(h.at.Add(-50 * time.Millisecond)) {
				if p.ICMPType != 0 && p.ICMPType < 128 && p.T.Before(h.at.Add(300*time.Millisecond)) {
					h.where = append(h.where, fmt.Sprintf("ICMPv6 type %d %+.2f ms %s out=%v %s", p.ICMPType, float64(p.T.Sub(h.at).Microseconds())/1000, n, p.Out, p))
				}
			}
		}
	}
	return h
}

// lostPackets finds the data packets of the stream to port (sent of them)
// that never reached the mn capture and classifies them by where the
// captures in names saw them last: inFlight when that was leaving the
// previous MR prev onto its access link "mn1" (in flight on the access
// link when the node left it: the access point had dropped the port, or
// the link was moving to another namespace), byMRs otherwise. where tells
// each one's sightings, in ms from at.
func lostPackets(caps map[string]*capture, mn, prev string, names []string, port int, sent uint64, t0, at time.Time) (inFlight, byMRs []uint64, where []string) {
	got := map[uint64]bool{}
	for _, p := range caps[mn].since(t0) {
		if p.UDPDst == uint16(port) && p.HasSeq && !p.Out {
			got[p.Seq] = true
		}
	}
	for seq := uint64(0); seq < sent; seq++ {
		if got[seq] {
			continue
		}
		var seen []string
		var last pkt
		lastAt := ""
		for _, n := range names {
			for _, p := range caps[n].since(t0) {
				if p.UDPDst != uint16(port) || !p.HasSeq || p.Seq != seq {
					continue
				}
				seen = append(seen, fmt.Sprintf("%+.2f ms %s out=%v %s", float64(p.T.Sub(at).Microseconds())/1000, n, p.Out, p))
				if lastAt == "" || !p.T.Before(last.T) {
					last, lastAt = p, n
				}
			}
		}
		if lastAt == prev && last.Out && last.If == "mn1" {
			inFlight = append(inFlight, seq)
		} else {
			byMRs = append(byMRs, seq)
		}
		where = append(where, fmt.Sprintf("seq %d:\n    %s", seq, strings.Join(seen, "\n    ")))
	}
	return inFlight, byMRs, where
}

// apStory is attachStory with MN1's move to MR11 at the access point.
func apStory(t testing.TB, tp *dmmTopo) (mn1, mn2 netip.Addr) {
	return attachStoryMoving(t, tp, func() { tp.apSwitch(t, "mr12", "mr11") })
}

// TestDMMFigure5AccessPoint is the draft's Figure 5 on its Figure 1
// topology with the configs of TestDMMFigure1 (MR2 assigns a new prefix):
// MN1 moves MR11 -> MR2 under a 1000 packet/s UDP stream from MN2, behind
// an access point whose ports switch, so that the gap measured at MN1 is
// the MRs' own, not the kernel's moving of a link between namespaces
// (20-25 ms in TestDMMFigure1). It asserts the messages (HI, HAck,
// Redirect), the new path (MR31 tunnels to MR2), and that no packet is
// lost by the MRs: the previous MR holds from the carrier loss, forwards
// on the HI. A packet the previous MR had put on its access link at the
// very moment the AP dropped the port (8 handovers in 80 in
// BenchmarkDMMFigure5Handover, at 1000 packets/s) is lost below the MRs;
// it is told apart by the captures (seen leaving the MR, never at the
// AP) and allowed (bounded: see below).
// The gap is logged against the 10 ms target and bounded at 250 ms here;
// its distribution is measured by BenchmarkDMMFigure5Handover.
func TestDMMFigure5AccessPoint(t *testing.T) {
	start := time.Now()
	tp, caps := newAPTopo(t, dmmOptions{})
	mn1, _ := apStory(t, tp)
	// An MR stops using a node's access route at carrier loss (its
	// packets fall through to the punt and are held): set when the access
	// link first has carrier.
	linkdown := func(mr string) {
		t.Helper()
		if v, err := tp.ns[mr].Exec("sysctl", "-n", "net.ipv6.conf.mn1.ignore_routes_with_linkdown"); err != nil || strings.TrimSpace(v) != "1" {
			t.Errorf("%s: ignore_routes_with_linkdown on its access link: %q %v", mr, v, err)
		}
	}
	linkdown("mr11")
	h := tp.apHandover(t, caps, mn1, "mr11", "mr2", 6005, 3*time.Second, 1500*time.Millisecond)
	linkdown("mr2")
	load, _ := tp.ns["bb"].Exec("cat", "/proc/loadavg")
	t.Logf("Figure 5 at the AP, 1000 packets/s: %v; receiver's longest gap %.1f ms; loadavg %s", h, h.st.LongestGap*1000, strings.TrimSpace(load))
	for _, w := range h.where {
		t.Logf("lost %s", w)
	}
	sig, lines := signalling(caps["bb"].since(h.at.Add(-100 * time.Millisecond)))
	for _, p := range sig {
		if d := p.T.Sub(h.at); d < 300*time.Millisecond {
			t.Logf("  %+7.1f ms %s", float64(d.Microseconds())/1000, p)
		}
	}
	inOrder(t, "Figure 5", lines, "MR2->MR11 Handover Initiate", "MR11->MR2 Handover Acknowledge", "MR11->MR31 Redirect")
	if i, j := indexOf(lines, 0, "MR2->LM2 Location Query"), indexOf(lines, 0, "MR2->MR11 Handover Initiate"); i < 0 || i > j {
		t.Errorf("MR2 did not ask LM2 where MN1 was before its HI")
	}
	direct := streamOut(caps["bb"].since(h.at), 6005, dmmAddr["mr2"])
	if direct == 0 {
		t.Errorf("nothing of the stream went to MR2 after the switch")
	}
	// A write the sender's socket failed (an ICMPv6 error came back for
	// an earlier packet) is not a packet the network lost: logged, at
	// most one. (In about 70 runs, twice a packet was lost that no
	// capture saw, MN2's own included, before pmipdemo reported failed
	// writes; a failed write is the only cause found that fits. If it
	// comes back as something else it counts as lost by the MRs, with
	// the ICMPv6 errors around the switch listed.)
	// In flight: packets the old MR's kernel put on its access link after
	// the access point dropped the port, before it processed the carrier
	// loss (linkwatch, under the RTNL lock): one at most on a quiet
	// machine, but 26 (36 ms) were seen while another test was creating
	// and deleting namespaces. Bounded at 50 (50 ms): beyond, the kernel
	// did not stop using the route at carrier loss.
	if len(h.byMRs) != 0 || len(h.inFlight) > 50 || len(h.notSent) > 1 || h.st.Received+h.st.Lost != h.st.Sent {
		t.Errorf("lost by the MRs %v, in flight on the access link %v (at most 50), never sent %v (at most 1); received %d + lost %d of %d",
			h.byMRs, h.inFlight, h.notSent, h.st.Received, h.st.Lost, h.st.Sent)
	}
	if h.gap == 0 || h.gap > 250*time.Millisecond {
		t.Errorf("handover gap %v, want (0, 250 ms] (target 10 ms)", h.gap)
	}
	if h.gap > 10*time.Millisecond {
		t.Logf("GAP: handover gap %.1f ms (target <= 10 ms; loadavg %s)", float64(h.gap.Microseconds())/1000, strings.TrimSpace(load))
	}
	// §4.2 at the new MR: the new prefix anchored at MR2, the old kept.
	newA := tp.mnAddr(t, "mn1", dmmPool["mr2"], 10*time.Second)
	if got, _ := addrFlags(tp.ns["mn1"]); !got[mn1] {
		t.Errorf("old address %v not kept deprecated beside %v", mn1, newA)
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// BenchmarkDMMFigure5Handover measures the Figure 5 handover at the access
// point b.N times, MN1 going back and forth between MR11 and MR2 (no new
// prefix) under a 1000 packet/s UDP stream from MN2, one topology for
// every handover. It reports the gap at MN1 (p50, p90, max, in ms; target
// <= 10 ms) and the packets lost by the MRs and in flight on the access
// link (targets 0). Run as root:
//
//	go test -run '^$' -bench DMMFigure5Handover -benchtime 20x ./interop/e2e/
func BenchmarkDMMFigure5Handover(b *testing.B) {
	tp, caps := newAPTopo(b, dmmOptions{mrRepl: map[string][]string{"mr2": {"new_prefix_on_move: true", "new_prefix_on_move: false"}}})
	mn1, _ := apStory(b, tp)
	var gaps []time.Duration
	var inFlight, notSent, byMRs, sent int
	at := "mr11"
	b.ResetTimer()
	for i := range b.N {
		to := map[string]string{"mr11": "mr2", "mr2": "mr11"}[at]
		h := tp.apHandover(b, caps, mn1, at, to, 6100+i, 1300*time.Millisecond, 600*time.Millisecond)
		load, _ := tp.ns["bb"].Exec("cat", "/proc/loadavg")
		b.Logf("%2d %v; loadavg %s", i+1, h, strings.TrimSpace(load))
		for _, w := range h.where {
			b.Logf("   lost %s", w)
		}
		gaps = append(gaps, h.gap)
		inFlight += len(h.inFlight)
		byMRs += len(h.byMRs)
		notSent += len(h.notSent)
		sent += int(h.st.Sent)
		at = to
	}
	b.StopTimer()
	slices.Sort(gaps)
	q := func(f float64) float64 {
		return float64(gaps[min(len(gaps)-1, int(f*float64(len(gaps))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "gap-p50-ms")
	b.ReportMetric(q(0.9), "gap-p90-ms")
	b.ReportMetric(q(1), "gap-max-ms")
	b.ReportMetric(float64(byMRs), "lost-by-MRs")
	b.ReportMetric(float64(inFlight), "lost-in-flight")
	b.ReportMetric(float64(notSent), "not-sent")
	b.ReportMetric(float64(sent), "packets")
	b.ReportMetric(0, "ns/op")
}
