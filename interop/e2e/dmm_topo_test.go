package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/testdeps"
)

// The draft's Figure 1 in namespaces (configs/dmm-*.yaml):
//
//	local network 1 (br1, 2001:db8:1::/64): MR11 ::11, MR12 ::12, LM1/HAA1 ::a/::b
//	local network 2 (br2, 2001:db8:2::/64): MR2 ::20, LM2/HAA2 ::a/::b
//	local network 3 (br3, 2001:db8:3::/64): MR31 ::31, MR32 ::32, LM3 ::a, HAA3 ::b, MAG32 ::33
//	bb: the backbone router holding br1-br3 (::1 on each), the pool routes
//	    (each MR's /48 via that MR), etcd on 2001:db8:d::1 (lo) and the
//	    fixed correspondent CN (2001:db8:c::2, link "cn")
//	MN1 (eth0 <-> "mn1" at MR12 first), MN2 (eth0 <-> "mn2" at MR31),
//	MN3 (eth0 <-> "acc" at MAG32, deployment A)
//
// Every node's link to the backbone is "lnN" in its namespace and
// "p-<node>" (a port of brN) in bb, so that a capture on bb's p-* ports
// sees every message between two nodes exactly once (ingress).
var (
	dmmAddr = map[string]netip.Addr{
		"mr11": netip.MustParseAddr("2001:db8:1::11"), "mr12": netip.MustParseAddr("2001:db8:1::12"),
		"lm1": netip.MustParseAddr("2001:db8:1::a"), "haa1": netip.MustParseAddr("2001:db8:1::b"),
		"mr2": netip.MustParseAddr("2001:db8:2::20"), "lm2": netip.MustParseAddr("2001:db8:2::a"),
		"haa2": netip.MustParseAddr("2001:db8:2::b"), "mr31": netip.MustParseAddr("2001:db8:3::31"),
		"mr32": netip.MustParseAddr("2001:db8:3::32"), "lm3": netip.MustParseAddr("2001:db8:3::a"),
		"haa3": netip.MustParseAddr("2001:db8:3::b"), "mag32": netip.MustParseAddr("2001:db8:3::33"),
		"cn": netip.MustParseAddr("2001:db8:c::2"),
	}
	dmmPool = map[string]netip.Prefix{
		"mr11": netip.MustParsePrefix("2001:db8:11::/48"), "mr12": netip.MustParsePrefix("2001:db8:12::/48"),
		"mr2": netip.MustParsePrefix("2001:db8:20::/48"), "mr31": netip.MustParsePrefix("2001:db8:31::/48"),
		"mr32": netip.MustParsePrefix("2001:db8:32::/48"),
	}
	etcdURL = "http://[2001:db8:d::1]:2379"
)

// nameOf names a domain address ("mr31", "lm1", ...) for logs.
func nameOf(a netip.Addr) string {
	for n, x := range dmmAddr {
		if x == a {
			return strings.ToUpper(n)
		}
	}
	for n, p := range dmmPool {
		if p.Contains(a) {
			return "pool-" + strings.ToUpper(n)
		}
	}
	return a.String()
}

type dmmTopo struct {
	dir             string
	pmipd, pmipdemo string
	ns              map[string]*netnstest.NS
	d               map[string]*daemon
	etcd            *exec.Cmd
}

type dmmOptions struct {
	// repl are config replacements for every MR (old, new, ...).
	repl []string
	// mrRepl are replacements for one MR.
	mrRepl map[string][]string
	// mnLink, for an MN, builds its eth0 instead of the veth to its first
	// MR (before the daemons start; e.g. behind an access point).
	mnLink map[string]func(t testing.TB, tp *dmmTopo)
}

// newDMMTopo builds Figure 1 and starts etcd and every daemon; MN1 is on
// MR12's link, MN2 on MR31's, MN3 on MAG32's (links up at once).
func newDMMTopo(t testing.TB, o dmmOptions) *dmmTopo {
	netnstest.RequireRoot(t)
	testdeps.Ensure(t, "etcd", "etcd-server") // installs Debian's etcd-server when missing
	tp := &dmmTopo{dir: t.TempDir(), ns: map[string]*netnstest.NS{}, d: map[string]*daemon{}}
	tp.pmipd, tp.pmipdemo = buildBinaries(t, tp.dir)
	for _, n := range []string{"bb", "mr11", "mr12", "lmhaa1", "mr2", "lmhaa2", "mr31", "mr32", "lm3", "haa3", "mag32", "mn1", "mn2", "mn3", "cn"} {
		tp.ns[n] = netnstest.New(t, n)
		// No duplicate address detection on the links made below: a
		// router whose link-local address is still tentative cannot send
		// a Neighbor Solicitation, and traffic forwarded in the first
		// second (a node just attached) would wait in the neighbor queue
		// (the oldest packets dropped when it is full) until DAD is over.
		tp.ns[n].Sysctl("net.ipv6.conf.all.accept_dad", "0")
		tp.ns[n].Sysctl("net.ipv6.conf.default.accept_dad", "0")
	}
	bb := tp.ns["bb"]
	bb.Sysctl("net.ipv6.conf.all.forwarding", "1")
	for i := 1; i <= 3; i++ {
		br := fmt.Sprintf("br%d", i)
		bb.IP("link", "add", br, "type", "bridge")
		bb.IP("addr", "add", fmt.Sprintf("2001:db8:%d::1/64", i), "dev", br, "nodad")
		bb.IP("link", "set", br, "up")
	}
	type node struct {
		ns    string
		ln    int
		addrs []string
	}
	for _, n := range []node{{"mr11", 1, []string{"mr11"}}, {"mr12", 1, []string{"mr12"}}, {"lmhaa1", 1, []string{"lm1", "haa1"}},
		{"mr2", 2, []string{"mr2"}}, {"lmhaa2", 2, []string{"lm2", "haa2"}},
		{"mr31", 3, []string{"mr31"}}, {"mr32", 3, []string{"mr32"}}, {"lm3", 3, []string{"lm3"}}, {"haa3", 3, []string{"haa3"}},
		{"mag32", 3, []string{"mag32"}}} {
		ns := tp.ns[n.ns]
		ln := fmt.Sprintf("ln%d", n.ln)
		netnstest.Veth(t, ns, ln, bb, "p-"+n.ns)
		bb.IP("link", "set", "p-"+n.ns, "master", fmt.Sprintf("br%d", n.ln))
		for _, a := range n.addrs {
			ns.IP("addr", "add", dmmAddr[a].String()+"/64", "dev", ln, "nodad")
		}
		ns.IP("-6", "route", "add", "default", "via", fmt.Sprintf("2001:db8:%d::1", n.ln))
		if strings.HasPrefix(n.ns, "mr") {
			ns.Sysctl("net.ipv6.conf.all.forwarding", "1")
			bb.IP("-6", "route", "add", dmmPool[n.ns].String(), "via", dmmAddr[n.ns].String())
		}
	}
	// The fixed correspondent behind the backbone (draft §6).
	netnstest.Veth(t, bb, "cn", tp.ns["cn"], "eth0")
	bb.IP("addr", "add", "2001:db8:c::1/64", "dev", "cn", "nodad")
	tp.ns["cn"].IP("addr", "add", dmmAddr["cn"].String()+"/64", "dev", "eth0", "nodad")
	tp.ns["cn"].IP("-6", "route", "add", "default", "via", "2001:db8:c::1")
	// etcd, the LMs' and HAAs' shared store, on the backbone.
	bb.IP("addr", "add", "2001:db8:d::1/128", "dev", "lo")
	tp.startEtcd(t)

	// The MNs: plain hosts doing SLAAC.
	for _, m := range []struct{ mn, at, dev, mac string }{{"mn1", "mr12", "mn1", "02:00:00:00:01:01"},
		{"mn2", "mr31", "mn2", "02:00:00:00:02:02"}, {"mn3", "mag32", "acc", "02:00:00:00:03:03"}} {
		mn := tp.ns[m.mn]
		if f := o.mnLink[m.mn]; f != nil {
			f(t, tp)
		} else {
			netnstest.Veth(t, tp.ns[m.at], m.dev, mn, "eth0")
		}
		mn.IP("link", "set", "eth0", "down")
		mn.IP("link", "set", "eth0", "address", m.mac)
		for k, v := range map[string]string{"accept_ra": "1", "autoconf": "1", "accept_dad": "0",
			"router_solicitation_delay": "0", "router_solicitation_interval": "1", "router_solicitations": "-1"} {
			mn.Sysctl("net.ipv6.conf.eth0."+k, v)
		}
	}

	cfg := func(name string, extra ...string) string {
		return writeConfig(t, tp.dir, "dmm-"+name, extra...)
	}
	for _, n := range []string{"lmhaa1", "lmhaa2", "lm3", "haa3"} {
		tp.d[n] = startDaemon(t, tp.ns[n], tp.pmipd, n, cfg(n), tp.dir)
	}
	for _, n := range []string{"mr11", "mr12", "mr2", "mr31", "mr32"} {
		repl := append(append([]string{}, o.repl...), o.mrRepl[n]...)
		tp.d[n] = startDaemon(t, tp.ns[n], tp.pmipd, n, cfg(n, repl...), tp.dir)
	}
	tp.d["mag32"] = startDaemon(t, tp.ns["mag32"], tp.pmipd, "mag32", cfg("mag32"), tp.dir)
	for _, mn := range []string{"mn1", "mn2", "mn3"} {
		tp.ns[mn].IP("link", "set", "eth0", "up")
	}
	return tp
}

func (tp *dmmTopo) startEtcd(t testing.TB) {
	t.Helper()
	data := filepath.Join(tp.dir, "etcd")
	logf, err := os.Create(filepath.Join(tp.dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", tp.ns["bb"].Name, "etcd", "--name", "dmm", "--data-dir", data,
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "dmm=http://127.0.0.1:2380", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	tp.etcd = cmd
	waitFor(t, 20*time.Second, "etcd healthy", func() (bool, string) {
		out, err := tp.ns["bb"].Exec("curl", "-s", "-m", "1", etcdURL+"/health")
		return err == nil && strings.Contains(out, "true"), out + tail(filepath.Join(tp.dir, "etcd.log"), 5)
	})
}

// mnAddr waits for the MN's non-deprecated SLAAC address in pool.
func (tp *dmmTopo) mnAddr(t testing.TB, mn string, pool netip.Prefix, timeout time.Duration) netip.Addr {
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

// addrFlags returns the global addresses of eth0 with their deprecated flag.
func addrFlags(ns *netnstest.NS) (map[netip.Addr]bool, string) {
	out, _ := ns.Exec("ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global")
	got := map[netip.Addr]bool{}
	for _, line := range strings.Split(out, "\n") {
		m := globalAddrRE.FindStringSubmatch(strings.ReplaceAll(line, "\\", ""))
		if m == nil || strings.Contains(line, "tentative") {
			continue
		}
		if a, err := netip.ParseAddr(m[1]); err == nil {
			got[a] = strings.Contains(line, "deprecated")
		}
	}
	return got, out
}

// counters returns a daemon's counters as "role/name/key" -> value.
func (d *daemon) counters(t testing.TB) map[string]uint64 {
	t.Helper()
	var r struct {
		Counters []struct {
			Role, Name, Key string
			Value           uint64
		}
	}
	d.get(t, "/v1/counters", &r)
	out := map[string]uint64{}
	for _, c := range r.Counters {
		k := c.Role + "/" + c.Name
		if c.Key != "" {
			k += "/" + c.Key
		}
		out[k] = c.Value
	}
	return out
}

// moveMN moves the MR-side end of an MN's link into another namespace.
func (tp *dmmTopo) moveMN(t testing.TB, dev, from, to string) time.Time {
	t.Helper()
	at := time.Now()
	tp.ns[from].IP("link", "set", dev, "netns", tp.ns[to].Name)
	return at
}
