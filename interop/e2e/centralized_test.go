package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/mh"
)

const (
	mnID      = "mn1@example.net"
	mnMAC     = "02:00:00:00:01:01"
	poolSpace = "2001:db8:100::/48"
)

var (
	lmaAddr   = netip.MustParseAddr("2001:db8:ff::2")
	mag1Addr  = netip.MustParseAddr("2001:db8:ff::11")
	mag2Addr  = netip.MustParseAddr("2001:db8:ff::12")
	probeAddr = netip.MustParseAddr("2001:db8:ff::13") // authorized in e2e-lma.yaml
	rogueAddr = netip.MustParseAddr("2001:db8:ff::99") // not authorized
	cnAddr    = netip.MustParseAddr("2001:db8:c::2")
)

type topo struct {
	dir                         string
	pmipd, pmipdemo             string
	mn, mag1, mag2, lma, cn, sw *netnstest.NS
	ap                          *netnstest.NS // the access point, if any
	probe                       *netnstest.NS
	lmaD, mag1D, mag2D          *daemon
	lmaCfg                      string
}

// topoOptions change the daemons' configuration files: per node (lma,
// mag1, mag2), the replacements old1, new1, ... given to writeConfig.
type topoOptions map[string][]string

// newTopo builds the namespaces and links (the MN's link down), and starts
// the three daemons (with the configuration changes of opts[0], if any).
func newTopo(t *testing.T, opts ...topoOptions) *topo {
	return newTopoLinked(t, false, opts...)
}

// newTopoLinked is newTopo; with ap the MN is behind an access point
// (namespace ap: a bridge with the MN's link and a port to each MAG's
// "acc", the one to MAG1 up).
func newTopoLinked(t *testing.T, ap bool, opts ...topoOptions) *topo {
	netnstest.RequireRoot(t)
	repl := func(node string) []string {
		if len(opts) == 0 {
			return nil
		}
		return opts[0][node]
	}
	tp := &topo{dir: t.TempDir()}
	tp.pmipd, tp.pmipdemo = buildBinaries(t, tp.dir)
	tp.sw = netnstest.New(t, "sw")
	tp.lma, tp.mag1, tp.mag2 = netnstest.New(t, "lma"), netnstest.New(t, "mag1"), netnstest.New(t, "mag2")
	tp.mn, tp.cn, tp.probe = netnstest.New(t, "mn"), netnstest.New(t, "cn"), netnstest.New(t, "prb")

	tp.sw.IP("link", "add", "br0", "type", "bridge")
	tp.sw.IP("link", "set", "br0", "up")
	for _, x := range []struct {
		ns    *netnstest.NS
		port  string
		addrs []netip.Addr
	}{{tp.lma, "p-lma", []netip.Addr{lmaAddr}}, {tp.mag1, "p-mag1", []netip.Addr{mag1Addr}},
		{tp.mag2, "p-mag2", []netip.Addr{mag2Addr}}, {tp.probe, "p-prb", []netip.Addr{probeAddr, rogueAddr}}} {
		netnstest.Veth(t, x.ns, "core", tp.sw, x.port)
		tp.sw.IP("link", "set", x.port, "master", "br0")
		for _, a := range x.addrs {
			x.ns.IP("addr", "add", a.String()+"/64", "dev", "core", "nodad")
		}
	}
	netnstest.Veth(t, tp.lma, "cn", tp.cn, "eth0")
	tp.lma.IP("addr", "add", "2001:db8:c::1/64", "dev", "cn", "nodad")
	tp.cn.IP("addr", "add", cnAddr.String()+"/64", "dev", "eth0", "nodad")
	tp.cn.IP("-6", "route", "add", "default", "via", "2001:db8:c::1")
	// The MN's link: its end stays down until the MAG runs.
	if ap {
		tp.ap = netnstest.New(t, "ap")
		tp.ap.Sysctl("net.ipv6.conf.all.disable_ipv6", "1") // a layer-2 box
		tp.ap.Sysctl("net.ipv6.conf.default.disable_ipv6", "1")
		tp.ap.IP("link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
		tp.ap.IP("link", "set", "br0", "up")
		netnstest.Veth(t, tp.ap, "tomn", tp.mn, "eth0")
		tp.ap.IP("link", "set", "tomn", "master", "br0")
		for i, mag := range []*netnstest.NS{tp.mag1, tp.mag2} {
			port := fmt.Sprintf("tomag%d", i+1)
			netnstest.Veth(t, tp.ap, port, mag, "acc")
			tp.ap.IP("link", "set", port, "master", "br0")
			if i > 0 {
				tp.ap.IP("link", "set", port, "down")
			}
		}
	} else {
		netnstest.Veth(t, tp.mag1, "acc", tp.mn, "eth0")
	}
	tp.mn.IP("link", "set", "eth0", "down")
	tp.mn.IP("link", "set", "eth0", "address", mnMAC)

	// State a previous run could have left, tagged as ours: pmipd
	// reconciles it away at start.
	tp.lma.IP("-6", "route", "add", "2001:db8:999::/64", "dev", "core", "proto", "180")
	tp.mag1.IP("-6", "rule", "add", "pref", "20", "from", "2001:db8:999::/64", "iif", "acc", "lookup", "1805")

	tp.lmaCfg = writeConfig(t, tp.dir, "e2e-lma", repl("lma")...)
	tp.lmaD = startDaemon(t, tp.lma, tp.pmipd, "lma", tp.lmaCfg, tp.dir)
	tp.mag1D = startDaemon(t, tp.mag1, tp.pmipd, "mag1", writeConfig(t, tp.dir, "e2e-mag1", repl("mag1")...), tp.dir)
	tp.mag2D = startDaemon(t, tp.mag2, tp.pmipd, "mag2", writeConfig(t, tp.dir, "e2e-mag2", repl("mag2")...), tp.dir)
	if out := tp.lma.IP("-6", "route", "show", "table", "all", "proto", "180"); strings.Contains(out, "2001:db8:999::") {
		t.Errorf("LMA: stale tagged route not reconciled away at start:\n%s", out)
	}
	if out := tp.mag1.IP("-6", "rule"); strings.Contains(out, "2001:db8:999::") {
		t.Errorf("MAG1: stale uplink rule not reconciled away at start:\n%s", out)
	}
	for _, d := range []*daemon{tp.lmaD, tp.mag1D} {
		if !regexp.MustCompile(`reconciled.* removed=1`).MatchString(d.logText()) {
			t.Errorf("%s: no reconcile removing 1 entry logged:\n%s", d.name, tail(d.log, 20))
		}
	}
	return tp
}

// TestCentralized is the whole story, one step after the other on one
// topology (each step needs the previous one): attach and SLAAC, pings
// both ways, handover with UDP streams, crafted PBUs (154, 156, 157, a
// malformed message), SIGHUP reload, de-registration, stop with no kernel
// state left.
func TestCentralized(t *testing.T) {
	start := time.Now()
	tp := newTopo(t)
	var mnAddr netip.Addr
	var hnp netip.Prefix
	steps := []struct {
		name string
		f    func(t *testing.T)
	}{
		{"attach", func(t *testing.T) { mnAddr, hnp = tp.attach(t) }},
		{"ping", func(t *testing.T) { tp.pingBoth(t, mnAddr) }},
		{"handover", func(t *testing.T) { tp.handover(t, mnAddr, hnp) }},
		{"crafted PBUs", tp.craftedPBUs},
		{"reload", tp.reload},
		{"deregistration", func(t *testing.T) { tp.deregister(t, mnAddr, hnp) }},
		{"stop", tp.stopAll},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.f) {
			t.Fatalf("step %q failed: later steps need it", s.name)
		}
	}
	t.Logf("story done in %v", time.Since(start).Round(time.Millisecond))
}

// attach brings the MN's link up: MAG1 hears its RS, registers it, and the
// MN configures an address from its HNP by SLAAC.
func (tp *topo) attach(t *testing.T) (netip.Addr, netip.Prefix) {
	t0 := time.Now()
	tp.mn.IP("link", "set", "eth0", "up")
	var addr netip.Prefix
	waitFor(t, 15*time.Second, "a SLAAC address from the HNP on the MN", func() (bool, string) {
		for _, p := range globalAddrs(tp.mn, "eth0") {
			if netip.MustParsePrefix(poolSpace).Contains(p.Addr()) {
				addr = p
				return true, ""
			}
		}
		return false, tp.mn.IP("-6", "addr", "show", "dev", "eth0")
	})
	t.Logf("MN address %v after %v", addr, time.Since(t0).Round(time.Millisecond))
	b := tp.lmaD.binding(t, mnID)
	if b == nil || len(b.HNPs) != 1 || b.ProxyCoA != mag1Addr || b.State != "active" {
		t.Fatalf("LMA binding of %s: %+v, want one HNP via MAG1, active", mnID, b)
	}
	hnp := b.HNPs[0]
	if !hnp.Contains(addr.Addr()) || addr.Bits() != 64 || hnp.Bits() != 64 {
		t.Fatalf("MN address %v is not in its HNP %v", addr, hnp)
	}
	bul := tp.mag1D.bul(t)
	if len(bul) != 1 || bul[0].MNID != mnID || bul[0].State != "registered" || len(bul[0].HNPs) != 1 || bul[0].HNPs[0] != hnp {
		t.Fatalf("MAG1 BUL: %+v", bul)
	}
	t.Logf("LMA binding: %s HNP %v via %v; MAG1 BUL state %s", b.MN, hnp, b.ProxyCoA, bul[0].State)
	return addr.Addr(), hnp
}

// pingBoth pings CN from the MN and the MN from the CN, and checks that
// the only way between them is the tunnel (the LMA's tagged route).
func (tp *topo) pingBoth(t *testing.T, mnAddr netip.Addr) {
	if n, out := ping(t, tp.mn, cnAddr, 3); n < 3 {
		t.Errorf("MN -> CN: %d/3 replies\n%s", n, out)
	}
	if n, out := ping(t, tp.cn, mnAddr, 3); n < 3 {
		t.Errorf("CN -> MN: %d/3 replies\n%s", n, out)
	}
	routes := tp.lma.IP("-6", "route", "show", "proto", "180")
	if !strings.Contains(routes, "encap seg6") && !strings.Contains(routes, "dev pmip6t") {
		t.Errorf("LMA has no tunnel route for the HNP:\n%s", routes)
	}
	if out, err := tp.mag1.Exec("ip", "-6", "route", "get", cnAddr.String()); err == nil {
		t.Errorf("MAG1 reaches the CN without the tunnel: %s", out)
	}
}

// handover moves the MAG-side end of the MN's link from MAG1 to MAG2 while
// two UDP streams (MN -> CN and CN -> MN, 500 packets/s each for 5 s) run,
// and measures what they lost.
func (tp *topo) handover(t *testing.T, mnAddr netip.Addr, hnp netip.Prefix) {
	tp.handoverBy(t, mnAddr, hnp, mh.HIHandoffBetweenMAGs, func() { tp.mag1.IP("link", "set", "acc", "netns", tp.mag2.Name) })
}

// handoverBy is handover with the move made by move, MAG2's PBU carrying
// the handoff indicator hi.
func (tp *topo) handoverBy(t *testing.T, mnAddr netip.Addr, hnp netip.Prefix, hi mh.HandoffIndicatorValue, move func()) {
	const rate, dur = 500, 7 * time.Second
	up := startBG(t, 25*time.Second, tp.cn, tp.pmipdemo, "recv", "-listen", "[::]:5000", "-timeout", "20s", "-json")
	down := startBG(t, 25*time.Second, tp.mn, tp.pmipdemo, "recv", "-listen", "[::]:5001", "-timeout", "20s", "-json")
	waitFor(t, 3*time.Second, "the stream receivers", func() (bool, string) {
		return strings.Contains(up.errb.String(), "listening") && strings.Contains(down.errb.String(), "listening"),
			up.errb.String() + down.errb.String()
	})
	args := []string{"-rate", fmt.Sprint(rate), "-duration", dur.String()}
	s1 := startBG(t, 25*time.Second, tp.mn, tp.pmipdemo, append([]string{"send", "-to", "[" + cnAddr.String() + "]:5000"}, args...)...)
	s2 := startBG(t, 25*time.Second, tp.cn, tp.pmipdemo, append([]string{"send", "-to", "[" + mnAddr.String() + "]:5001"}, args...)...)
	time.Sleep(1500 * time.Millisecond)
	mag2Log := len(tp.mag2D.logText())
	moved := time.Now()
	move()
	waitFor(t, 5*time.Second, "the binding to move to MAG2", func() (bool, string) {
		b := tp.lmaD.binding(t, mnID)
		return b != nil && b.ProxyCoA == mag2Addr && b.State == "active", fmt.Sprintf("%+v", b)
	})
	t.Logf("binding at MAG2 %v after the move", time.Since(moved).Round(time.Millisecond))
	for _, line := range strings.Split(tp.mag2D.logText()[mag2Log:], "\n") {
		if strings.Contains(line, "component=mag ") && !strings.Contains(line, "RA sent") {
			t.Logf("  mag2: %s", line)
		}
	}
	s1.wait(t, 15*time.Second)
	s2.wait(t, 15*time.Second)
	for _, x := range []struct {
		name string
		b    *bg
	}{{"MN -> CN (uplink)", up}, {"CN -> MN (downlink)", down}} {
		var st streamStats
		if err := json.Unmarshal([]byte(x.b.wait(t, 10*time.Second)), &st); err != nil {
			t.Fatalf("%s: receiver output: %v\n%s\n%s", x.name, err, x.b.out.String(), x.b.errb.String())
		}
		t.Logf("%s: sent %d received %d lost %d (%.1f%%), longest gap %.1f ms after #%d (%.2f s in), longest gap with losses %.1f ms (%d missing, %.2f s in), duplicates %d, reordered %d",
			x.name, st.Sent, st.Received, st.Lost, 100*float64(st.Lost)/float64(max(st.Sent, 1)), st.LongestGap*1000,
			st.GapAfterSeq, st.GapStart, st.LossGap*1000, st.LossGapMissing, st.LossGapStart, st.Duplicates, st.Reordered)
		// Bounds. The MAG cannot register the MN before it learns the
		// MN's MAC, and a plain host sends nothing on purpose after the
		// move: MAG2 learns it from the neighbor entry its kernel creates
		// when it answers the MN's Neighbor Solicitation for the router
		// address. The MN evicts that neighbor entry on carrier loss; its
		// first NS usually goes out while the moved link is still down in
		// MAG2 and is lost, and it retries after RetransTimer (1 s), at
		// most 3 times (MAX_MULTICAST_SOLICIT). Measured (captures on the
		// MN): the MN's NS comes ~1 s after the move in most runs, at once
		// in some; MAG2 answers it within 0.1 ms and the PBU/PBA and routes
		// take under 5 ms, so the outage is ~30 ms or ~1.05 s. The bound,
		// 3.5 s, is the three NS tries plus 0.5 s: beyond it the MAG
		// missed all of them.
		if !st.FinSeen || st.Sent != rate*uint64(dur/time.Second) {
			t.Errorf("%s: sender's FIN not seen or wrong count: %+v", x.name, st)
		}
		if st.Lost > 3500*rate/1000 {
			t.Errorf("%s: %d packets lost across the handover, want at most %d (3.5 s)", x.name, st.Lost, 3500*rate/1000)
		}
		if st.LongestGap > 3.5 {
			t.Errorf("%s: longest gap %.0f ms, want at most 3.5 s", x.name, st.LongestGap*1000)
		}
		if st.LossGapMissing > 0 && (st.LossGapStart < 0.5 || st.LossGapStart > 4) {
			t.Errorf("%s: packets went missing at %.2f s, not at the move (~1.5 s)", x.name, st.LossGapStart)
		}
		if st.Duration < 6.5 {
			t.Errorf("%s: stream lasted %.2f s: it did not resume", x.name, st.Duration)
		}
	}
	// The MN kept its interface, prefix and address.
	found := false
	for _, p := range globalAddrs(tp.mn, "eth0") {
		found = found || p.Addr() == mnAddr
	}
	if !found {
		t.Errorf("MN lost its address %v: %s", mnAddr, tp.mn.IP("-6", "addr"))
	}
	b := tp.lmaD.binding(t, mnID)
	if b == nil || len(b.HNPs) != 1 || b.HNPs[0] != hnp || b.HI != int(hi) {
		t.Errorf("LMA binding after handover: %+v, want HNP %v, HI %d", b, hnp, hi)
	}
	bul := tp.mag1D.bul(t)
	if len(bul) != 0 {
		t.Errorf("MAG1 still has %+v", bul)
	}
	if n, out := ping(t, tp.cn, mnAddr, 2); n < 2 {
		t.Errorf("CN -> MN after handover: %d/2\n%s", n, out)
	}
}

// craftedPBUs sends PBUs built with the mh codec from the probe namespace
// over raw MH sockets, and checks the PBA statuses.
func (tp *topo) craftedPBUs(t *testing.T) {
	probe := openProbe(t, tp.probe, probeAddr)
	rogue := openProbe(t, tp.probe, rogueAddr)
	before := tp.lmaD.lmaCounters(t)

	now := time.Now()
	ts := mh.TimestampValue(now)
	ba := probe.pbu(t, "probe@example.net", 1, 100, ts, netip.Prefix{})
	if ba.Status != mh.StatusAccepted {
		t.Fatalf("initial PBU from the probe: status %d (%v)", ba.Status, ba.Status)
	}
	got, _ := mh.Find[*mh.HomeNetworkPrefix](ba.Options)
	if got == nil {
		t.Fatal("accepted PBA without an HNP")
	}
	probeHNP := netip.PrefixFrom(got.Prefix, int(got.PrefixLength))
	cases := []struct {
		name   string
		p      *probeSock
		mn     string
		ts     uint64
		life   uint16
		hnp    netip.Prefix
		status mh.Status
	}{
		{"same timestamp again", probe, "probe@example.net", ts, 100, probeHNP, mh.StatusTimestampMismatch},
		{"lower timestamp", probe, "probe@example.net", ts - 1<<16, 100, probeHNP, mh.StatusTimestampLowerThanPrevAccepted},
		{"timestamp 10 s old (outside the 300 ms window)", probe, "old@example.net", mh.TimestampValue(now.Add(-10 * time.Second)), 100, netip.Prefix{}, mh.StatusTimestampMismatch},
		{"unauthorized MAG", rogue, "rogue@example.net", mh.TimestampValue(time.Now()), 100, netip.Prefix{}, mh.StatusMAGNotAuthorizedForProxyReg},
		{"de-registration with a fresh timestamp", probe, "probe@example.net", mh.TimestampValue(time.Now()), 0, probeHNP, mh.StatusAccepted},
	}
	for i, c := range cases {
		ba := c.p.pbu(t, c.mn, uint16(10+i), c.life, c.ts, c.hnp)
		if ba.Status != c.status {
			t.Errorf("%s: status %d (%v), want %d (%v)", c.name, ba.Status, ba.Status, c.status, c.status)
		} else {
			t.Logf("%s: PBA status %d (%v)", c.name, ba.Status, ba.Status)
		}
	}

	// A malformed Mobility Header (Header Len past the end) is counted and
	// dropped; the LMA keeps serving.
	probe.send(t, []byte{59, 8, 5, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	ba = probe.pbu(t, "after-garbage@example.net", 30, 100, mh.TimestampValue(time.Now()), netip.Prefix{})
	if ba.Status != mh.StatusAccepted {
		t.Errorf("PBU after a malformed message: status %d", ba.Status)
	}
	after := tp.lmaD.lmaCounters(t)
	var dropped uint64
	for _, n := range after.Dropped {
		dropped += n
	}
	for _, n := range before.Dropped {
		dropped -= n
	}
	if dropped != 1 {
		t.Errorf("LMA drop counters went from %v to %v, want one more", before.Dropped, after.Dropped)
	}
	for code, want := range map[string]uint64{"154": 1, "156": 2, "157": 1} {
		if d := after.PBA[code] - before.PBA[code]; d != want {
			t.Errorf("LMA counted %d PBAs with status %s, want %d", d, code, want)
		}
	}
	if !strings.Contains(tp.lmaD.logText(), "Binding Update") && !strings.Contains(tp.lmaD.logText(), "PBU") {
		t.Errorf("LMA log mentions no PBU")
	}
}

// reload: SIGHUP with MAG ::99 added authorizes it; an invalid file is
// refused with its key and reason and the running configuration kept;
// the original file takes the authorization back.
func (tp *topo) reload(t *testing.T) {
	rogue := openProbe(t, tp.probe, rogueAddr)
	orig, err := os.ReadFile(tp.lmaCfg)
	if err != nil {
		t.Fatal(err)
	}
	withRogue := strings.Replace(string(orig), "  mobile_nodes:\n",
		"    - address: 2001:db8:ff::99    # added by the reload test\n      mn_ids: \"*\"                 # any MN\n  mobile_nodes:\n", 1)
	write := func(s string) {
		if err := os.WriteFile(tp.lmaCfg, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hupAndWait := func(what string) {
		n := strings.Count(tp.lmaD.logText(), "configuration reload")
		tp.lmaD.signal(t, syscall.SIGHUP)
		waitFor(t, 5*time.Second, what, func() (bool, string) {
			return strings.Count(tp.lmaD.logText(), "configuration reload") > n, ""
		})
	}
	status := func(mn string) mh.Status {
		return rogue.pbu(t, mn, 1, 100, mh.TimestampValue(time.Now()), netip.Prefix{}).Status
	}

	write(withRogue)
	hupAndWait("the reload with MAG ::99")
	if st := status("rogue1@example.net"); st != mh.StatusAccepted {
		t.Errorf("MAG ::99 after it was authorized by SIGHUP: status %d", st)
	}
	write(strings.Replace(withRogue, "ordering: timestamp", "ordering: random", 1))
	hupAndWait("the refused reload")
	if !regexp.MustCompile(`configuration reload refused.*lma\.ordering: unknown ordering`).MatchString(tp.lmaD.logText()) {
		t.Errorf("refused reload not logged with the key and reason:\n%s", tail(tp.lmaD.log, 5))
	}
	if st := status("rogue2@example.net"); st != mh.StatusAccepted {
		t.Errorf("MAG ::99 after a refused reload: status %d (the running config was not kept)", st)
	}
	write(string(orig))
	hupAndWait("the reload back to the original")
	if st := status("rogue3@example.net"); st != mh.StatusMAGNotAuthorizedForProxyReg {
		t.Errorf("MAG ::99 after its authorization was removed: status %d, want 154", st)
	}
}

// deregister detaches the MN at MAG2 (its access link goes down): the
// routes go at both ends at once, the binding after MinDelayBeforeBCEDelete
// (5 s in e2e-lma.yaml).
func (tp *topo) deregister(t *testing.T, mnAddr netip.Addr, hnp netip.Prefix) {
	tp.mag2.IP("link", "set", "acc", "down")
	var seen time.Time
	waitFor(t, 3*time.Second, "the binding to be de-registered", func() (bool, string) {
		b := tp.lmaD.binding(t, mnID)
		seen = time.Now()
		return b != nil && b.State == "deregistered", fmt.Sprintf("%+v", b)
	})
	if out := tp.lma.IP("-6", "route", "show", "proto", "180"); strings.Contains(out, hnp.Addr().String()) {
		t.Errorf("LMA still routes %v:\n%s", hnp, out)
	}
	for _, cmd := range [][]string{{"-6", "route", "show", "table", "all", "proto", "180"}, {"-6", "rule"}} {
		if out := tp.mag2.IP(cmd...); strings.Contains(out, hnp.Addr().String()) {
			t.Errorf("MAG2 still has state for %v:\n%s", hnp, out)
		}
	}
	if n, _ := ping(t, tp.cn, mnAddr, 1); n != 0 {
		t.Errorf("CN still reaches the MN after de-registration")
	}
	time.Sleep(time.Until(seen.Add(3 * time.Second)))
	if b := tp.lmaD.binding(t, mnID); b == nil {
		t.Errorf("binding deleted less than 3 s after de-registration (MinDelayBeforeBCEDelete is 5 s)")
	}
	waitFor(t, 4*time.Second, "the binding to be deleted after MinDelayBeforeBCEDelete", func() (bool, string) {
		b := tp.lmaD.binding(t, mnID)
		return b == nil, fmt.Sprintf("%+v", b)
	})
	t.Logf("binding deleted %v after it was seen de-registered", time.Since(seen).Round(time.Millisecond))
}

// stopAll stops the daemons with SIGTERM and checks that no kernel state
// is left in their namespaces.
func (tp *topo) stopAll(t *testing.T) {
	for _, d := range []*daemon{tp.mag1D, tp.mag2D, tp.lmaD} {
		if err := d.stop(t); err != nil {
			t.Errorf("%s: exit %v", d.name, err)
		}
		if !strings.Contains(d.logText(), "data plane flushed") {
			t.Errorf("%s: no data plane flush logged", d.name)
		}
	}
	for _, ns := range []*netnstest.NS{tp.lma, tp.mag1, tp.mag2} {
		if out := ns.IP("-6", "route", "show", "table", "all", "proto", "180"); strings.TrimSpace(out) != "" {
			t.Errorf("%s: routes with protocol 180 left:\n%s", ns.Name, out)
		}
		rules := ns.IP("-6", "rule")
		if !strings.HasPrefix(rules, "0:\tfrom all lookup local") {
			t.Errorf("%s: local rule not back at 0:\n%s", ns.Name, rules)
		}
		for _, line := range strings.Split(rules, "\n") {
			var pref int
			if _, err := fmt.Sscanf(line, "%d:", &pref); err == nil && pref >= 10 && pref <= 100 {
				t.Errorf("%s: rule left in the project's range: %s", ns.Name, line)
			}
		}
		if out := ns.IP("link", "show"); strings.Contains(out, "pmip6t") {
			t.Errorf("%s: tunnel devices left:\n%s", ns.Name, out)
		}
	}
}
