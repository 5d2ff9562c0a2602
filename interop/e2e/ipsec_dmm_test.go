package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/internal/testdeps"
	"github.com/pmipdmm/pmipdmm/mh"
)

// ipsecDMMSA is one SA of configs/ipsec-dmm-*.yaml: the sender and the
// receiver (names of dmmAddr), its SPI and its key file's stem
// (configs/keys/dmm-<from>-to-<to>.key).
type ipsecDMMSA struct {
	from, to string
	spi      uint32
}

func (s ipsecDMMSA) key() string { return "dmm-" + s.from + "-to-" + s.to + ".key" }

// ipsecDMMSAs are the ten SAs of the example: both directions of MR11-MR12,
// MR11-LM1, MR11-HAA1, MR12-LM1 and MR12-HAA1.
var ipsecDMMSAs = []ipsecDMMSA{
	{"mr11", "mr12", 0x3112}, {"mr12", "mr11", 0x3211},
	{"mr11", "lm1", 0x311a}, {"lm1", "mr11", 0x3a11},
	{"mr11", "haa1", 0x311b}, {"haa1", "mr11", 0x3b11},
	{"mr12", "lm1", 0x312a}, {"lm1", "mr12", 0x3a12},
	{"mr12", "haa1", 0x312b}, {"haa1", "mr12", 0x3b12},
}

// installDMMKeys copies the dmm-*.key examples into dir (mode 0600) and
// returns their hex text by file name.
func installDMMKeys(t *testing.T, dir string) map[string]string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, sa := range ipsecDMMSAs {
		n := sa.key()
		b, err := os.ReadFile(filepath.Join(moduleRoot, "configs", "keys", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
		keys[n] = strings.TrimSpace(string(b))
	}
	return keys
}

// newIPsecDMMTopo builds the two-MR domain of configs/ipsec-dmm-*.yaml:
//
//	bb: br1 (2001:db8:1::/64, ::1), ports p-mr11, p-mr12, p-lmhaa1; the
//	    pools 2001:db8:11::/48 via MR11 and 2001:db8:12::/48 via MR12
//	MR11 ::11 (MN1's link "mn1"), MR12 ::12 (MN2's link "mn2"),
//	LM1/HAA1 ::a/::b (one pmipd, memory stores)
//
// and starts the three daemons with the example configurations as they
// are (runtime paths, key_dir and the metrics listener replaced). The
// callback runs after the namespaces are up and before the daemons start
// (captures of the attach signalling).
func newIPsecDMMTopo(t *testing.T, keyDir string, beforeStart func(tp *dmmTopo)) *dmmTopo {
	t.Helper()
	tp := &dmmTopo{dir: t.TempDir(), ns: map[string]*netnstest.NS{}, d: map[string]*daemon{}}
	tp.pmipd, tp.pmipdemo = buildBinaries(t, tp.dir)
	for _, n := range []string{"bb", "mr11", "mr12", "lmhaa1", "mn1", "mn2"} {
		tp.ns[n] = netnstest.New(t, n)
	}
	bb := tp.ns["bb"]
	bb.Sysctl("net.ipv6.conf.all.forwarding", "1")
	bb.IP("link", "add", "br1", "type", "bridge")
	bb.IP("addr", "add", "2001:db8:1::1/64", "dev", "br1", "nodad")
	bb.IP("link", "set", "br1", "up")
	for _, n := range []struct {
		ns    string
		addrs []string
	}{{"mr11", []string{"mr11"}}, {"mr12", []string{"mr12"}}, {"lmhaa1", []string{"lm1", "haa1"}}} {
		ns := tp.ns[n.ns]
		netnstest.Veth(t, ns, "ln1", bb, "p-"+n.ns)
		bb.IP("link", "set", "p-"+n.ns, "master", "br1")
		for _, a := range n.addrs {
			ns.IP("addr", "add", dmmAddr[a].String()+"/64", "dev", "ln1", "nodad")
		}
		ns.IP("-6", "route", "add", "default", "via", "2001:db8:1::1")
		if strings.HasPrefix(n.ns, "mr") {
			ns.Sysctl("net.ipv6.conf.all.forwarding", "1")
			bb.IP("-6", "route", "add", dmmPool[n.ns].String(), "via", dmmAddr[n.ns].String())
		}
	}
	for _, m := range []struct{ mn, at, dev, mac string }{{"mn1", "mr11", "mn1", "02:00:00:00:01:01"}, {"mn2", "mr12", "mn2", "02:00:00:00:02:02"}} {
		mn := tp.ns[m.mn]
		netnstest.Veth(t, tp.ns[m.at], m.dev, mn, "eth0")
		mn.IP("link", "set", "eth0", "down")
		mn.IP("link", "set", "eth0", "address", m.mac)
		for k, v := range map[string]string{"accept_ra": "1", "autoconf": "1", "accept_dad": "0",
			"router_solicitation_delay": "0", "router_solicitation_interval": "1", "router_solicitations": "-1"} {
			mn.Sysctl("net.ipv6.conf.eth0."+k, v)
		}
	}
	if beforeStart != nil {
		beforeStart(tp)
	}
	for _, n := range []string{"lmhaa1", "mr11", "mr12"} {
		cfg := writeConfig(t, tp.dir, "ipsec-dmm-"+n, "key_dir: /etc/pmipd/keys", "key_dir: "+keyDir,
			`listen: ""                # disabled`, `listen: "`+metricsAddr+`"`)
		tp.d[n] = startDaemon(t, tp.ns[n], tp.pmipd, n, cfg, tp.dir)
	}
	for _, mn := range []string{"mn1", "mn2"} {
		tp.ns[mn].IP("link", "set", "eth0", "up")
	}
	return tp
}

// TestIPsecDMM runs two MRs at the access (deployment B) and one LM/HAA
// with ESP required on every signalling path (configs/ipsec-dmm-*.yaml,
// default discard, the example keys in a 0600 copy; backend auto, which on
// a kernel without esp6 is the daemon's own ESP): MN1 attaches at MR11,
// MN2 (the correspondent) at MR12; MR12 finds MN1 through a Location Query
// to LM1 and tunnels MN2's stream to MR11; MN1 moves to MR12 during the
// stream (HI/HAck MR12 <-> MR11, MR11 returns the packets it held). It
// checks that the stream crossed the tunnel and kept flowing (loss and gap
// reported and bounded), that the backbone saw no clear Mobility Header
// and ESP on each of the five paths both ways, that tshark decrypts every
// captured ESP packet with the configured keys (ICV good, consecutive
// sequence numbers per SPI) and decodes the inner messages (PBU/PBA, the
// DMM carrier type 11, HI/HAck with MN1's identifier), and that a clear HI
// injected from MR11's address to MR12 is dropped and counted there and
// never reaches the MR.
//
// With two MRs no Redirect crosses the wire: the previous MR redirects the
// correspondents' MRs other than the new MR (dmm/mr redirectAll), and here
// the correspondent's MR is the new MR. The MR-MR SAs and policies cover
// Redirect/Redirect Ack all the same (MH type 11); exercising them needs a
// third MR.
func TestIPsecDMM(t *testing.T) {
	netnstest.RequireRoot(t)
	tshark := testdeps.Ensure(t, "tshark", "tshark")
	begin := time.Now()
	keyDir := filepath.Join(t.TempDir(), "keys")
	keys := installDMMKeys(t, keyDir)

	var core map[string]*linkCapture // bb's ports, by node
	caps := map[string]*capture{}
	tp := newIPsecDMMTopo(t, keyDir, func(tp *dmmTopo) {
		core = map[string]*linkCapture{}
		for _, n := range []string{"mr11", "mr12", "lmhaa1"} {
			core[n] = startLinkCapture(t, tp.ns["bb"], "p-"+n)
		}
		for _, n := range []string{"bb", "mr11", "mr12", "mn1"} {
			caps[n] = startCapture(t, tp.ns[n], n)
		}
	})
	backend := "userspace"
	for _, n := range []string{"lmhaa1", "mr11", "mr12"} {
		log := tp.d[n].logText()
		i := strings.Index(log, "ipsec: signalling protection backend:")
		if i < 0 {
			t.Fatalf("%s: the IPsec backend choice is not logged:\n%s", n, tail(tp.d[n].log, 30))
		}
		line, _, _ := strings.Cut(log[i:], "\n")
		t.Logf("%s: %s", n, line)
		if strings.Contains(line, "backend=kernel") {
			backend = "kernel"
		}
	}

	mn1 := tp.mnAddr(t, "mn1", dmmPool["mr11"], 20*time.Second)
	mn2 := tp.mnAddr(t, "mn2", dmmPool["mr12"], 20*time.Second)
	t.Logf("MN1 %v (anchored at MR11), MN2 %v (anchored at MR12)", mn1, mn2)
	time.Sleep(1100 * time.Millisecond) // the LM orders updates by time

	// Figure 5 with two MRs: the correspondent's MR is the new MR.
	const port = 6011
	t0 := time.Now()
	var moved time.Time
	st := tp.stream(t, "mn2", "mn1", mn1, port, 1000, 3*time.Second, func() {
		time.Sleep(1200 * time.Millisecond)
		moved = tp.moveMN(t, "mn1", "mr11", "mr12")
	})
	waitFor(t, 10*time.Second, "MR12 to serve MN1 after the move", func() (bool, string) {
		c := tp.d["mr12"].counters(t)
		return c["mr/Moves"] >= 1 && c["mr/HandoversIn"] >= 1, fmt.Sprint(c["mr/Moves"], c["mr/HandoversIn"])
	})
	time.Sleep(300 * time.Millisecond)
	hg, hgAt := arrivalGap(caps["mn1"].since(t0), port, moved.Add(-20*time.Millisecond), moved.Add(time.Second))
	_, tun11 := streamIn(caps["mr11"].since(t0), port)
	back := streamOut(caps["mr11"].since(moved), port, dmmAddr["mr12"])
	toMR11 := streamOut(caps["mr12"].since(t0), port, dmmAddr["mr11"])
	var after int
	for _, p := range caps["mn1"].since(moved) {
		if p.UDPDst == port && !p.Out {
			after++
		}
	}
	t.Logf("stream MN2 -> MN1 at 1000/s, move at +1.2 s: sent %d received %d lost %d, receiver's longest gap %.1f ms, loss gap %.1f ms",
		st.Sent, st.Received, st.Lost, st.LongestGap*1000, st.LossGap*1000)
	t.Logf("handover gap at MN1's interface: %.1f ms (from +%.1f ms after the move command); %d packets reached MN1 after the move",
		float64(hg.Microseconds())/1000, float64(hgAt.Sub(moved).Microseconds())/1000, after)
	t.Logf("tunnels: MR12 -> MR11 %d packets, tunnelled into MR11 %d, MR11 -> MR12 after the move (held and returned) %d", toMR11, tun11, back)
	t.Logf("daemon steps after the move:\n  %s", strings.Join(logSteps(moved, 300*time.Millisecond, map[string]string{
		"mr12": tp.d["mr12"].log, "mr11": tp.d["mr11"].log}, "mobile node", "access link", "HI sent", "context trans", "hold", "release", "ipsec"), "\n  "))
	if tun11 < 500 || toMR11 < 500 {
		t.Errorf("the stream did not cross the MR12 -> MR11 tunnel before the move: %d sent into it, %d arrived", toMR11, tun11)
	}
	// Issue 5 asks that the tunnelled data keeps flowing while ESP is
	// required: a handover gap below 250 ms and the stream still arriving
	// after the move. No packet is lost by the MRs (held by MR11, returned
	// to MR12 on the HI); one that MR11 had put on MN1's link as the link
	// left its namespace is lost with the link (seen last leaving MR11 on
	// mn1), at most one.
	var inFlight, byMRs []uint64
	if st.Lost > 0 {
		var where []string
		inFlight, byMRs, where = lostPackets(caps, "mn1", "mr11", []string{"bb", "mr12", "mr11"}, port, st.Sent, t0, moved)
		for _, w := range where {
			t.Logf("lost %s", w)
		}
	}
	if len(byMRs) != 0 || len(inFlight) > 1 || st.Received+st.Lost != st.Sent || hg == 0 || hg > 250*time.Millisecond || after < 1000 {
		t.Errorf("handover under ESP: received %d of %d (lost %d: by the MRs %v, in flight on MN1's link %v), handover gap %v, %d packets after the move",
			st.Received, st.Sent, st.Lost, byMRs, inFlight, hg, after)
	}

	// The backbone saw no clear Mobility Header.
	if sig, lines := signalling(caps["bb"].since(begin)); len(sig) != 0 {
		t.Errorf("%d clear Mobility Headers crossed the backbone:\n  %s", len(sig), strings.Join(lines, "\n  "))
	}

	// Each frame once: on the bb port of the node that sent it.
	var frames []linkFrame
	esp := map[string]int{} // "from->to"
	clearMH := 0
	for _, n := range []string{"mr11", "mr12", "lmhaa1"} {
		for _, f := range core[n].Stop() {
			nh, src, dst, _, ok := ethIPv6(f.data)
			if !ok || !slices.Contains(nodeAddrs(n), src) {
				continue
			}
			switch nh {
			case 50:
				esp[strings.ToLower(nameOf(src))+"->"+strings.ToLower(nameOf(dst))]++
				frames = append(frames, f)
			case 135:
				clearMH++
				frames = append(frames, f)
			}
		}
	}
	sort.Slice(frames, func(i, j int) bool { return frames[i].ts.Before(frames[j].ts) })
	t.Logf("ESP on the core links by path: %v; clear MH: %d", esp, clearMH)
	if clearMH != 0 {
		t.Errorf("%d clear Mobility Headers on the core links", clearMH)
	}
	for _, sa := range ipsecDMMSAs {
		if esp[sa.from+"->"+sa.to] == 0 {
			t.Errorf("no ESP %s -> %s (SA %#x)", sa.from, sa.to, sa.spi)
		}
	}

	// tshark decrypts every ESP packet with the configured keys.
	lines := tsharkDMM(t, tshark, tp.dir, frames, keys)
	type rec struct {
		src, dst, spi, seq, icv, mhtype, hiSeq, hackSeq, hackCode, mnid string
	}
	var recs []rec
	for _, l := range lines {
		v := strings.Split(l, "|")
		for len(v) < 12 {
			v = append(v, "")
		}
		recs = append(recs, rec{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[8], v[9], v[10]})
	}
	total := 0
	for _, n := range esp {
		total += n
	}
	if len(recs) != total {
		t.Errorf("tshark shows %d ESP packets, the capture %d", len(recs), total)
	}
	seqs := map[string][]string{}
	seen := map[string]bool{} // "from->to type"
	var hiSeq string
	var hack *rec
	for i, r := range recs {
		from, to := strings.ToLower(nameOf(netip.MustParseAddr(r.src))), strings.ToLower(nameOf(netip.MustParseAddr(r.dst)))
		if r.icv != "1" || r.mhtype == "" {
			t.Errorf("tshark packet %d %s -> %s SPI %s: icv_good %q, MH type %q (not decrypted or not verified)", i+1, from, to, r.spi, r.icv, r.mhtype)
		}
		seqs[r.spi] = append(seqs[r.spi], r.seq)
		seen[from+"->"+to+" "+r.mhtype] = true
		switch {
		case r.mhtype == "14" && from == "mr12" && to == "mr11" && r.mnid == "mn1@example.net" && hiSeq == "":
			hiSeq = r.hiSeq
		case r.mhtype == "15" && from == "mr11" && to == "mr12" && hack == nil:
			hack = &recs[i]
		}
	}
	for spi, s := range seqs {
		for i, x := range s {
			if x != fmt.Sprint(i+1) {
				t.Errorf("SPI %s: sequence numbers %v, want 1..%d in order", spi, s, len(s))
				break
			}
		}
	}
	for _, w := range []string{"mr11->haa1 5", "haa1->mr11 6", "mr11->lm1 5", "lm1->mr11 6",
		"mr12->haa1 5", "haa1->mr12 6", "mr12->lm1 11", "lm1->mr12 11", "mr12->mr11 14", "mr11->mr12 15"} {
		if !seen[w] {
			t.Errorf("tshark decoded no %q (path, MH type); decoded: %v", w, slices.Sorted(maps.Keys(seen)))
		}
	}
	if hiSeq == "" || hack == nil || hack.hackSeq != hiSeq || hack.hackCode != fmt.Sprint(uint8(mh.HAckCodeContextTransferAccepted)) || hack.mnid != "mn1@example.net" {
		t.Errorf("tshark's HI/HAck: HI seq %q; HAck %+v; want the HAck of the same sequence, code %d, MN-ID mn1@example.net",
			hiSeq, hack, mh.HAckCodeContextTransferAccepted)
	} else {
		t.Logf("tshark: HI MR12 -> MR11 seq %s for mn1@example.net, HAck MR11 -> MR12 code %s", hiSeq, hack.hackCode)
	}

	// A clear HI from MR11's address to MR12 is dropped before the MR.
	if backend != "userspace" {
		t.Logf("backend %s: the clear HI injection needs the userspace backend (MR11's kernel would protect it); skipped", backend)
		return
	}
	for _, n := range []string{"mr11", "mr12", "lmhaa1"} {
		cs := tp.d[n].apiCounters(t)
		t.Logf("%s: ipsec in_protected %d, out_protected %d, in_dropped %v", n, counterValue(cs, "ipsec", "in_protected", ""),
			counterValue(cs, "ipsec", "out_protected", ""), droppedByKind(cs))
		if d := droppedByKind(cs); len(d) != 0 {
			t.Errorf("%s dropped inbound signalling before the injection: %v", n, d)
		}
	}
	mr12 := tp.d["mr12"]
	before := mr12.counters(t)
	probe := openProbe(t, tp.ns["mr11"], dmmAddr["mr11"])
	hi := &mh.HandoverInitiate{Sequence: 4242, Flags: mh.HIFlagP | mh.HIFlagF, Code: mh.HICodeDefault}
	hi.Options = mh.Options{mh.NewNAI("mn2@example.net")}
	b, err := hi.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.tr.Send(dmmAddr["mr12"], b); err != nil {
		t.Fatalf("clear HI from MR11's address: %v", err)
	}
	waitFor(t, 3*time.Second, "MR12 to count the clear HI", func() (bool, string) {
		cs := mr12.apiCounters(t)
		return counterValue(cs, "ipsec", "in_dropped", "unprotected") == 1, fmt.Sprint(droppedByKind(cs))
	})
	checkMetrics(t, "MR12", scrape(t, tp.ns["mr12"], metricsAddr), []want{
		{"pmip_errors_total", []string{"role", "ipsec", "kind", "ipsec_in_unprotected"}, 1},
	})
	if !strings.Contains(mr12.logText(), "ipsec: inbound signalling dropped") {
		t.Errorf("MR12's log does not mention the dropped clear HI")
	}
	select {
	case raw := <-probe.rx:
		if m, err := mh.Parse(raw); err == nil {
			if ack, ok := m.(*mh.HandoverAck); ok && ack.Sequence == 4242 {
				t.Errorf("MR12 answered the clear HI: code %v", ack.Code)
			}
		}
	case <-time.After(time.Second):
	}
	after12 := mr12.counters(t)
	for k, v := range after12 {
		if strings.HasPrefix(k, "mr/rx/") && before[k] != v {
			t.Errorf("the clear HI reached MR12's MR: %s %d -> %d", k, before[k], v)
		}
	}
	t.Logf("clear HI from MR11's address: dropped and counted at MR12 (ipsec in_dropped unprotected 1), MR rx unchanged; test took %v",
		time.Since(begin).Round(time.Millisecond))
}

// nodeAddrs are the addresses of a namespace of the ipsec-dmm topology.
func nodeAddrs(ns string) []netip.Addr {
	if ns == "lmhaa1" {
		return []netip.Addr{dmmAddr["lm1"], dmmAddr["haa1"]}
	}
	return []netip.Addr{dmmAddr[ns]}
}

// droppedByKind returns the non-zero "ipsec in_dropped" counters by kind.
func droppedByKind(cs []counter) map[string]uint64 {
	out := map[string]uint64{}
	for _, c := range cs {
		if c.Role == "ipsec" && c.Name == "in_dropped" && c.Value != 0 {
			out[c.Key] = c.Value
		}
	}
	return out
}

// tsharkDMM writes frames to a pcap in dir and has tshark decrypt them
// with every SA of the example; it returns one line per ESP packet:
// ipv6.src|ipv6.dst|esp.spi|esp.sequence|esp.icv_good|mip6.mhtype|
// mip6.hi.seqnr|mip6.hi.code|mip6.hack.seqnr|mip6.hack.code|
// mip6.mnid.identifier|mip6.bu.seqnr.
func tsharkDMM(t *testing.T, tshark, dir string, frames []linkFrame, keys map[string]string) []string {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapio.NewWriter(&buf, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WritePacket(f.ts, f.data); err != nil {
			t.Fatal(err)
		}
	}
	pcap := filepath.Join(dir, "core.pcap")
	if err := os.WriteFile(pcap, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", "-r", pcap, "-Y", "esp",
		"-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"}
	for _, sa := range ipsecDMMSAs {
		args = append(args, "-o", "uat:esp_sa:"+espUAT(dmmAddr[sa.from], dmmAddr[sa.to], sa.spi, keys[sa.key()]))
	}
	fields := []string{"ipv6.src", "ipv6.dst", "esp.spi", "esp.sequence", "esp.icv_good", "mip6.mhtype",
		"mip6.hi.seqnr", "mip6.hi.code", "mip6.hack.seqnr", "mip6.hack.code", "mip6.mnid.identifier", "mip6.bu.seqnr"}
	args = append(args, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f")
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	t.Logf("tshark (%s):\n%s", strings.Join(fields, "|"), out)
	s := strings.TrimRight(string(out), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
