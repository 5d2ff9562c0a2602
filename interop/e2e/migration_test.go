package e2e

import (
	"github.com/pmipdmm/pmipdmm/internal/testdeps"

	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/netnstest"
)

// The migration of docs/migration.md: configs/migrate/<step>/<node>.yaml,
// one directory per step with the complete configuration of every node.
var migSteps = []struct {
	dir   string
	nodes []string
}{
	{"step0-centralized", []string{"lma", "mag1", "mag2"}},
	{"step1-lm-haa", []string{"lma", "lmhaa", "mag1", "mag2"}},
	{"step2-mr-lma", []string{"lmhaa", "mag1", "mag2", "mr1"}},
	{"step3-second-mr", []string{"lmhaa", "mag1", "mag2", "mr1", "mr2"}},
	{"step4-mr-access", []string{"lmhaa", "mag1", "mag2", "mr1", "mr2", "mr3"}},
}

// What the guide says does not change from one step to the next: the
// same file, byte for byte.
var migUnchanged = []struct {
	node  string
	steps []int
}{
	{"mag1", []int{0, 1, 2, 3, 4}}, // MAG1 is never touched
	{"mag2", []int{0, 1, 2}},       // until step 3 moves it behind MR2
	{"mag2", []int{3, 4}},
	{"lma", []int{0, 1}}, // step 1 adds processes beside the LMA
	{"lmhaa", []int{1, 2}},
}

func migPath(step int, node string) string {
	return filepath.Join(moduleRoot, "configs", "migrate", migSteps[step].dir, node+".yaml")
}

// buildPmipd builds only pmipd into dir.
func buildPmipd(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/pmipd")
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "pmipd")
}

// TestMigrationConfigs runs `pmipd --dry-run` on every configuration of
// every step, and checks what docs/migration.md says about them: which
// files stay the same, that the MR of step 2 has the LMA's address, that
// every MAG's LMA is a node of its step that authorizes it, and that the
// MRs, the LM/HAA and the pools agree.
func TestMigrationConfigs(t *testing.T) {
	pmipd := buildPmipd(t, t.TempDir())
	cfgs := make([]map[string]*config.Config, len(migSteps))
	for i, s := range migSteps {
		ents, err := os.ReadDir(filepath.Join(moduleRoot, "configs", "migrate", s.dir))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range ents {
			if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
				got = append(got, n)
			}
		}
		if !slices.Equal(got, s.nodes) {
			t.Errorf("%s: nodes %v, want %v", s.dir, got, s.nodes)
		}
		cfgs[i] = map[string]*config.Config{}
		for _, n := range s.nodes {
			path := migPath(i, n)
			out, err := exec.Command(pmipd, "-c", path, "--dry-run").CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte(": valid (roles")) {
				t.Errorf("pmipd -c %s --dry-run: %v\n%s", path, err, out)
				continue
			}
			c, err := config.Load(path)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			cfgs[i][n] = c
		}
	}
	if t.Failed() {
		return
	}
	for _, u := range migUnchanged {
		first, _ := os.ReadFile(migPath(u.steps[0], u.node))
		for _, s := range u.steps[1:] {
			if b, _ := os.ReadFile(migPath(s, u.node)); !bytes.Equal(b, first) {
				t.Errorf("%s.yaml differs between %s and %s (the guide says it does not change)", u.node, migSteps[u.steps[0]].dir, migSteps[s].dir)
			}
		}
	}
	if a, b := cfgs[0]["lma"].Transport.Address, cfgs[2]["mr1"].Transport.Address; a != b {
		t.Errorf("step 2: MR1 at %v, the LMA was at %v (the MAGs would need a change)", b, a)
	}
	lmaPool := cfgs[0]["lma"].LMA.Pools[0].Prefix
	for i, s := range migSteps {
		c := cfgs[i]
		// Every MAG registers at a node of this step that authorizes it.
		for _, mag := range []string{"mag1", "mag2"} {
			m := c[mag].MAG
			lmas := []netip.Addr{m.LMAAddress}
			for _, p := range m.MobileNodes {
				if p.LMA.IsValid() {
					lmas = append(lmas, p.LMA)
				}
			}
			slices.SortFunc(lmas, netip.Addr.Compare)
			for _, a := range slices.Compact(lmas) {
				ok := false
				for n, x := range c {
					switch {
					case x.Has(config.RoleLMA) && x.LMA.Address == a:
						ok = slices.ContainsFunc(x.LMA.MAGs, func(g config.MAGAuth) bool { return g.Address == m.Address })
					case x.Has(config.RoleMR) && x.MR.Address == a && x.MR.Deployment == config.DeployLMA:
						ok = slices.Contains(x.MR.MAGs, m.Address)
					default:
						continue
					}
					if !ok {
						t.Errorf("%s: %s registers at %s (%v), which does not authorize %v", s.dir, mag, n, a, m.Address)
					}
					break
				}
				if !ok {
					t.Errorf("%s: %s registers at %v: no LMA or deployment-A MR of this step there authorizes it", s.dir, mag, a)
				}
			}
		}
		h := c["lmhaa"]
		if h == nil {
			continue
		}
		haaPools := map[netip.Prefix]netip.Addr{}
		for _, p := range h.HAA.Pools {
			haaPools[p.Prefix] = p.MR
			if p.Prefix.Overlaps(lmaPool) {
				t.Errorf("%s: HAA pool %v overlaps the LMA's %v (the HAA does not know the LMA's allocations)", s.dir, p.Prefix, lmaPool)
			}
		}
		var mrs []string
		for n, x := range c {
			if x.Has(config.RoleMR) {
				mrs = append(mrs, n)
			}
		}
		sort.Strings(mrs)
		for _, n := range mrs {
			m := c[n].MR
			if m.LM != h.LM.Address || m.HAA != h.HAA.Address {
				t.Errorf("%s: %s uses LM %v and HAA %v, lmhaa serves %v and %v", s.dir, n, m.LM, m.HAA, h.LM.Address, h.HAA.Address)
			}
			mine := 0
			got := map[netip.Prefix]netip.Addr{}
			for _, p := range m.Pools {
				got[p.Prefix] = p.Anchor
				if p.Anchor == m.Address {
					mine++
				}
			}
			if mine == 0 {
				t.Errorf("%s: %s anchors no pool", s.dir, n)
			}
			if fmt.Sprint(got) != fmt.Sprint(haaPools) {
				t.Errorf("%s: %s's pools %v differ from the HAA's %v", s.dir, n, got, haaPools)
			}
		}
		if len(mrs) > 0 && len(haaPools) != len(mrs) {
			t.Errorf("%s: %d HAA pools for %d MRs", s.dir, len(haaPools), len(mrs))
		}
	}
}

// unitCaps returns the capabilities of CapabilityBoundingSet= in the unit.
func unitCaps(t *testing.T, unit string) []string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapabilityBoundingSet="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("%s: no CapabilityBoundingSet=", unit)
	return nil
}

const unitFile = moduleRoot + "/interop/systemd/pmipd@.service"

// TestMigrationSystemdUnit checks pmipd@.service with systemd-analyze
// verify (an instance of the template, with ExecStart pointing at a built
// pmipd): no error and no warning (an unknown key is only a warning).
func TestMigrationSystemdUnit(t *testing.T) {
	sa := testdeps.Ensure(t, "systemd-analyze", "systemd") // installs Debian's systemd when missing
	dir := t.TempDir()
	pmipd := buildPmipd(t, dir)
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("/usr/local/sbin/pmipd -c /etc/pmipd/%i.yaml")) {
		t.Fatalf("the unit does not run /usr/local/sbin/pmipd -c /etc/pmipd/%%i.yaml")
	}
	for _, want := range []string{"ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW",
		"StateDirectory=pmipd/%i", "RuntimeDirectory=pmipd"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the unit has no %q", want)
		}
	}
	unit := bytes.ReplaceAll(b, []byte("/usr/local/sbin/pmipd"), []byte(pmipd))
	if err := os.WriteFile(filepath.Join(dir, "pmipd@.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pmipd@.service", "pmipd@lma.service"} {
		out, err := exec.Command(sa, "verify", filepath.Join(dir, name)).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
	}
	caps := unitCaps(t, unitFile)
	for _, c := range []string{"CAP_NET_ADMIN", "CAP_NET_RAW"} {
		if !slices.Contains(caps, c) {
			t.Errorf("CapabilityBoundingSet lacks %s", c)
		}
	}
}

// migTopo is the migration's network: the centralized topology of
// configs/migrate (the LMA's host r1 becomes MR1 in step 2).
//
//	MN --acc-- MAG1 ::11 --\
//	                        sw (bridge, core 2001:db8:ff::/64) -- r1 ::2 --cn-- CN 2001:db8:c::2
//	MN2 -acc-- MAG2 ::12 --/    lmhaa ::a ::b, r2 ::3 (MR2, step 3)
type migTopo struct {
	dir, pmipd, pmipctl string
	wrapper             string // pmipd run with the unit's capabilities only
	ns                  map[string]*netnstest.NS
	d                   map[string]*daemon
}

var (
	migPool1 = netip.MustParsePrefix("2001:db8:110::/48") // MR1's, at the HAA
	migPool2 = netip.MustParsePrefix("2001:db8:120::/48") // MR2's, step 3
	migLMA   = netip.MustParsePrefix("2001:db8:100::/48") // the LMA's
)

func newMigTopo(t *testing.T) *migTopo {
	netnstest.RequireRoot(t)
	tp := &migTopo{dir: t.TempDir(), ns: map[string]*netnstest.NS{}, d: map[string]*daemon{}}
	tp.pmipd, _ = buildBinaries(t, tp.dir)
	tp.pmipctl = filepath.Join(tp.dir, "pmipctl")
	// Run pmipd as pmipd@.service does: root with only the unit's
	// capabilities (CapabilityBoundingSet=).
	var keep []string
	for _, c := range unitCaps(t, unitFile) {
		keep = append(keep, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	tp.wrapper = filepath.Join(tp.dir, "pmipd-unit-caps")
	script := fmt.Sprintf("#!/bin/sh\nexec setpriv --bounding-set=-all,%s --inh-caps=-all -- %s \"$@\"\n", strings.Join(keep, ","), tp.pmipd)
	if err := os.WriteFile(tp.wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tp.dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"sw", "r1", "r2", "mag1", "mag2", "lmhaa", "mn", "mn2", "cn"} {
		tp.ns[n] = netnstest.New(t, n)
	}
	sw := tp.ns["sw"]
	sw.IP("link", "add", "br0", "type", "bridge")
	sw.IP("link", "set", "br0", "up")
	for _, x := range []struct {
		node  string
		addrs []string
	}{{"r1", []string{"2001:db8:ff::2"}}, {"r2", []string{"2001:db8:ff::3"}}, {"mag1", []string{"2001:db8:ff::11"}},
		{"mag2", []string{"2001:db8:ff::12"}}, {"lmhaa", []string{"2001:db8:ff::a", "2001:db8:ff::b"}}} {
		ns := tp.ns[x.node]
		netnstest.Veth(t, ns, "core", sw, "p-"+x.node)
		sw.IP("link", "set", "p-"+x.node, "master", "br0")
		for _, a := range x.addrs {
			ns.IP("addr", "add", a+"/64", "dev", "core", "nodad")
		}
	}
	// r1 routes to the CN; r2 (MR2, step 3) reaches it through r1.
	netnstest.Veth(t, tp.ns["r1"], "cn", tp.ns["cn"], "eth0")
	tp.ns["r1"].IP("addr", "add", "2001:db8:c::1/64", "dev", "cn", "nodad")
	tp.ns["r1"].Sysctl("net.ipv6.conf.all.forwarding", "1")
	tp.ns["r2"].Sysctl("net.ipv6.conf.all.forwarding", "1")
	tp.ns["r2"].IP("-6", "route", "add", "default", "via", "2001:db8:ff::2")
	tp.ns["cn"].IP("addr", "add", cnAddr.String()+"/64", "dev", "eth0", "nodad")
	tp.ns["cn"].IP("-6", "route", "add", "default", "via", "2001:db8:c::1")
	for _, m := range []struct{ mn, at, mac string }{{"mn", "mag1", "02:00:00:00:01:01"}, {"mn2", "mag2", "02:00:00:00:01:02"}} {
		mn := tp.ns[m.mn]
		netnstest.Veth(t, tp.ns[m.at], "acc", mn, "eth0")
		mn.IP("link", "set", "eth0", "down")
		mn.IP("link", "set", "eth0", "address", m.mac)
		for k, v := range map[string]string{"accept_ra": "1", "autoconf": "1", "accept_dad": "0",
			"router_solicitation_delay": "0", "router_solicitation_interval": "1", "router_solicitations": "-1"} {
			mn.Sysctl("net.ipv6.conf.eth0."+k, v)
		}
	}
	return tp
}

// config writes configs/migrate/<step>/<node>.yaml into the test's
// directory with /var/lib/pmipd and /run/pmipd moved into it.
func (tp *migTopo) config(t *testing.T, step int, node string) string {
	t.Helper()
	b, err := os.ReadFile(migPath(step, node))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "/var/lib/pmipd", filepath.Join(tp.dir, "state"))
	s = strings.ReplaceAll(s, "/run/pmipd", tp.dir)
	path := filepath.Join(tp.dir, fmt.Sprintf("s%d-%s.yaml", step, node))
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// start runs node (its step's configuration) in namespace ns.
func (tp *migTopo) start(t *testing.T, step int, node, ns string) {
	t.Helper()
	if old := tp.d[node]; old != nil {
		// Keep the previous run's log.
		_ = os.Rename(old.log, fmt.Sprintf("%s.%d", old.log, time.Now().UnixNano()))
	}
	tp.d[node] = startDaemon(t, tp.ns[ns], tp.wrapper, node, tp.config(t, step, node), tp.dir)
}

func (tp *migTopo) stop(t *testing.T, node string) {
	t.Helper()
	if err := tp.d[node].stop(t); err != nil {
		t.Errorf("%s: stopped with %v\n%s", node, err, tail(tp.d[node].log, 20))
	}
}

func (tp *migTopo) ctl(t *testing.T, node string, args ...string) string {
	t.Helper()
	args = append(args, "--socket", tp.d[node].sock)
	out, err := exec.Command(tp.pmipctl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pmipctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// addrIn waits for the MN's usable SLAAC address in pool.
func (tp *migTopo) addrIn(t *testing.T, mn string, pool netip.Prefix, timeout time.Duration) netip.Addr {
	t.Helper()
	var a netip.Addr
	waitFor(t, timeout, mn+" address in "+pool.String(), func() (bool, string) {
		got, out := addrFlags(tp.ns[mn])
		for x, dep := range got {
			if pool.Contains(x) && !dep {
				a = x
				return true, ""
			}
		}
		return false, out
	})
	return a
}

func (tp *migTopo) pingCN(t *testing.T, mn string, from netip.Addr) {
	t.Helper()
	r, _ := tp.ns[mn].Exec("ip", "-6", "route", "get", cnAddr.String())
	if !strings.Contains(r, "src "+from.String()) {
		t.Errorf("%s would not use %v towards the CN:\n%s", mn, from, r)
	}
	if n, out := ping(t, tp.ns[mn], cnAddr, 3); n < 3 {
		t.Errorf("%s -> CN: %d/3 replies\n%s", mn, n, out)
	}
	if n, out := ping(t, tp.ns["cn"], from, 3); n < 3 {
		t.Errorf("CN -> %s %v: %d/3 replies\n%s", mn, from, n, out)
	}
}

// TestMigration runs the migration of docs/migration.md with real pmipd
// processes (each with only the systemd unit's capabilities): step 0
// (LMA, MAG1, MAG2), step 1 (LM/HAA beside the LMA; nothing else
// changes), the cut-over to step 2 (the LMA stopped, MR1 started at its
// address, the MAGs' files untouched; the MN registers again and gets a
// prefix of MR1's pool), and step 3 (MR2 with its own pool, MAG2 moved
// behind it; MR1 finds MN2 through the LM).
func TestMigration(t *testing.T) {
	start := time.Now()
	tp := newMigTopo(t)

	// One t for every step: the daemons live from one step to the next
	// (a subtest would stop them at its end).
	tp.start(t, 0, "lma", "r1")
	tp.start(t, 0, "mag1", "mag1")
	tp.start(t, 0, "mag2", "mag2")
	tp.ns["mn"].IP("link", "set", "eth0", "up")
	old := tp.addrIn(t, "mn", migLMA, 20*time.Second)
	b := tp.d["lma"].binding(t, "mn1@example.net")
	if b == nil || b.ProxyCoA != mag1Addr || len(b.HNPs) != 1 || !b.HNPs[0].Contains(old) {
		t.Fatalf("step 0: LMA binding %+v (MN address %v)", b, old)
	}
	tp.pingCN(t, "mn", old)
	t.Logf("step 0: MN %v via MAG1, LMA binding %v (%v)", old, b.HNPs, time.Since(start).Round(time.Millisecond))

	// Step 1: the LM/HAA beside the LMA; nothing changes for the others.
	tp.start(t, 1, "lmhaa", "lmhaa")
	var pools struct{ Pools []mgmt.Pool }
	tp.d["lmhaa"].get(t, "/v1/pools", &pools)
	if len(pools.Pools) != 1 || pools.Pools[0].Prefix != migPool1 || pools.Pools[0].MR != lmaAddr || pools.Pools[0].Allocated != 0 {
		t.Errorf("step 1: HAA pools %+v", pools.Pools)
	}
	if b := tp.d["lma"].binding(t, "mn1@example.net"); b == nil || b.State != "active" {
		t.Errorf("step 1: LMA binding %+v", b)
	}
	tp.pingCN(t, "mn", old)
	t.Logf("step 1: pmipctl pools:\n%s", tp.ctl(t, "lmhaa", "pools"))
	if t.Failed() {
		t.FailNow()
	}

	// Step 2.
	tp.cutover(t, old)
	if t.Failed() {
		t.FailNow()
	}
	mn1 := tp.addrIn(t, "mn", migPool1, time.Second)

	// Step 3.
	tp.step3(t, mn1)
	// Every daemon ran with the unit's capabilities only: nothing refused.
	logs, _ := filepath.Glob(filepath.Join(tp.dir, "*.log*"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, bad := range []string{"operation not permitted", "permission denied", "no first-frame detection"} {
			if i := bytes.Index(bytes.ToLower(b), []byte(bad)); i >= 0 {
				t.Errorf("%s: %q with the unit's capabilities: %s", filepath.Base(l), bad, b[max(0, i-200):min(len(b), i+100)])
			}
		}
	}
	t.Logf("migration done in %v", time.Since(start).Round(time.Millisecond))
}

// metric returns the value of the sample line that starts with name (a
// metric name with its labels) on the node's /metrics, scraped from
// inside its namespace.
func (tp *migTopo) metric(t *testing.T, ns, port, name string) string {
	t.Helper()
	out, err := tp.ns[ns].Exec("curl", "-s", "-m", "2", "http://[::1]:"+port+"/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v\n%s", ns, err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return "absent"
}

// cutover is the step 1 -> 2 procedure of docs/migration.md.
func (tp *migTopo) cutover(t *testing.T, old netip.Addr) {
	t0 := time.Now()
	// 1. Revoke the LMA's bindings: the MAGs withdraw the old prefixes
	// (the MN deprecates its old address).
	t.Logf("pmipctl bindings revoke: %s", tp.ctl(t, "lma", "bindings", "revoke", "mn1@example.net"))
	// 2. Stop the LMA: it removes what it installed.
	tp.stop(t, "lma")
	if out := tp.ns["r1"].IP("-6", "route", "show", "table", "all", "proto", "180"); strings.TrimSpace(out) != "" {
		t.Errorf("the stopped LMA left routes:\n%s", out)
	}
	// 3. Start MR1 at the LMA's address.
	tp.start(t, 2, "mr1", "r1")
	// 4. Restart the MAGs (same files): they register their MNs again.
	for _, m := range []string{"mag1", "mag2"} {
		tp.stop(t, m)
		tp.start(t, 2, m, m)
	}
	addr := tp.addrIn(t, "mn", migPool1, 20*time.Second)
	t.Logf("step 2: MN %v, %v after the revocation", addr, time.Since(t0).Round(time.Millisecond))
	tp.pingCN(t, "mn", addr)
	got, out := addrFlags(tp.ns["mn"])
	if dep, ok := got[old]; ok && !dep {
		t.Errorf("the old address %v is still preferred:\n%s", old, out)
	}
	// What the guide tells to check.
	c := tp.d["mr1"].counters(t)
	if c["mr/status_tx/PBA 0"] < 1 || c["mr/Attaches"] < 1 {
		t.Errorf("MR1 counters: PBA 0 x%d, Attaches %d", c["mr/status_tx/PBA 0"], c["mr/Attaches"])
	}
	bul := tp.d["mag1"].bul(t)
	if len(bul) != 1 || bul[0].LMA != lmaAddr || bul[0].State != "registered" || len(bul[0].HNPs) != 1 || !bul[0].HNPs[0].Contains(addr) {
		t.Errorf("MAG1 BUL: %+v", bul)
	}
	var al struct{ Allocations []mgmt.Allocation }
	tp.d["lmhaa"].get(t, "/v1/allocations?mn=mn1@example.net", &al)
	if len(al.Allocations) != 1 || al.Allocations[0].AnchorMR != lmaAddr || !al.Allocations[0].Prefix.Contains(addr) {
		t.Errorf("HAA allocations of mn1: %+v", al.Allocations)
	}
	var loc struct{ Locations []mgmt.Location }
	tp.d["lmhaa"].get(t, "/v1/locations?address="+addr.String(), &loc)
	if len(loc.Locations) != 1 || loc.Locations[0].CurrentMR != lmaAddr || loc.Locations[0].AnchorMR != lmaAddr {
		t.Errorf("LM location of %v: %+v", addr, loc.Locations)
	}
	t.Logf("pmipctl locations --mn mn1@example.net:\n%s", tp.ctl(t, "lmhaa", "locations", "--mn", "mn1@example.net"))
	if v := tp.metric(t, "lmhaa", "9473", `pmip_haa_pool_allocated{mr="2001:db8:ff::2",pool="2001:db8:110::/48"}`); v != "1" {
		t.Errorf("lmhaa pmip_haa_pool_allocated of MR1's pool: %s", v)
	}
	if v := tp.metric(t, "mag1", "9471", `pmip_bindings{role="mag",state="registered"}`); v != "1" {
		t.Errorf("mag1 pmip_bindings registered: %s", v)
	}
}

// step3 is the step 2 -> 3 procedure: MR2 with its own pool, MAG2 moved
// behind it; a node attached at MAG2 gets a prefix of MR2's pool, and MN1
// (behind MAG1 and MR1) keeps its address across the restarts.
func (tp *migTopo) step3(t *testing.T, mn1 netip.Addr) {
	t0 := time.Now()
	// 1. The network routes MR2's pool to MR2.
	tp.ns["r1"].IP("-6", "route", "add", migPool2.String(), "via", "2001:db8:ff::3")
	// 2. The HAA learns MR2's pool (restart; bbolt keeps the allocations).
	tp.stop(t, "lmhaa")
	tp.start(t, 3, "lmhaa", "lmhaa")
	var al struct{ Allocations []mgmt.Allocation }
	tp.d["lmhaa"].get(t, "/v1/allocations?mn=mn1@example.net", &al)
	if len(al.Allocations) != 1 || !al.Allocations[0].Prefix.Contains(mn1) {
		t.Errorf("after the LM/HAA restart, mn1's allocations: %+v", al.Allocations)
	}
	// 3. MR2 starts; MR1 learns MR2's pool (restart), and MAG1 registers
	// its MNs again (MR1 does not keep bindings across a restart).
	tp.start(t, 3, "mr2", "r2")
	tp.stop(t, "mr1")
	tp.start(t, 3, "mr1", "r1")
	tp.stop(t, "mag1")
	tp.start(t, 3, "mag1", "mag1")
	waitFor(t, 20*time.Second, "MAG1 to register MN1 at MR1 again", func() (bool, string) {
		bul := tp.d["mag1"].bul(t)
		return len(bul) == 1 && bul[0].State == "registered", fmt.Sprint(bul)
	})
	if bul := tp.d["mag1"].bul(t); len(bul[0].HNPs) != 1 || !bul[0].HNPs[0].Contains(mn1) {
		t.Errorf("MN1 got another prefix after MR1's restart: %+v (address %v)", bul, mn1)
	}
	tp.pingCN(t, "mn", mn1)
	// 4. MAG2 moves behind MR2 (its new file, a restart); MN2 attaches.
	tp.stop(t, "mag2")
	tp.start(t, 3, "mag2", "mag2")
	tp.ns["mn2"].IP("link", "set", "eth0", "up")
	mn2 := tp.addrIn(t, "mn2", migPool2, 20*time.Second)
	t.Logf("step 3: MN2 %v at MAG2 behind MR2, %v after the step began", mn2, time.Since(t0).Round(time.Millisecond))
	tp.pingCN(t, "mn2", mn2)
	if n, out := ping(t, tp.ns["mn"], mn2, 3); n < 3 {
		t.Errorf("MN1 -> MN2 (MR1 -> MR2): %d/3\n%s", n, out)
	}
	var loc struct{ Locations []mgmt.Location }
	tp.d["lmhaa"].get(t, "/v1/locations?address="+mn2.String(), &loc)
	if len(loc.Locations) != 1 || loc.Locations[0].CurrentMR != netip.MustParseAddr("2001:db8:ff::3") {
		t.Errorf("LM location of MN2: %+v", loc.Locations)
	}
	c := tp.d["mr2"].counters(t)
	if c["mr/status_tx/PBA 0"] < 1 {
		t.Errorf("MR2 sent no PBA 0: %v", c)
	}
}
