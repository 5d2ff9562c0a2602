package ndp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
)

// TestNetnsRSandRA: a plain Linux host (the MN namespace) solicits; Conn
// receives the RS on the configured access interface and answers with a
// unicast RA from the RFC 6543 addresses; the host configures an address
// from the prefix by SLAAC and takes the MAG as its default router.
func TestNetnsRSandRA(t *testing.T) {
	mag, mn := netnstest.New(t, "mag"), netnstest.New(t, "mn")
	mag.Sysctl("net.ipv6.conf.all.forwarding", "1")
	netnstest.Veth(t, mag, "acc", mn, "eth0")
	var c *Conn
	var ifindex int
	err := mag.Do(func() error {
		if err := ConfigureAccess(nil, "acc"); err != nil {
			return err
		}
		if err := ConfigureAccess(nil, "acc"); err != nil { // idempotent
			return err
		}
		var err error
		if c, err = Listen(); err != nil {
			return err
		}
		ifi, err := interfaceIndex("acc")
		ifindex = ifi
		if err != nil {
			return err
		}
		return c.JoinAllRouters(ifindex)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if out := mag.IP("link", "show", "acc"); !strings.Contains(out, "00:00:5e:00:52:13") {
		t.Fatalf("acc has not the RFC 6543 MAC:\n%s", out)
	}
	if out := mag.IP("-6", "addr", "show", "dev", "acc"); !strings.Contains(out, "fe80::200:5eff:fe00:5213/64") {
		t.Fatalf("acc has not the RFC 6543 link-local address:\n%s", out)
	}
	// Restart the MN's solicitations now that the MAG listens.
	mn.IP("link", "set", "eth0", "down")
	mn.IP("link", "set", "eth0", "up")

	got := make(chan Solicitation, 1)
	go func() {
		s, err := c.ReadRS()
		if err == nil {
			got <- s
		}
	}()
	var s Solicitation
	select {
	case s = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no Router Solicitation from the MN within 20 s")
	}
	if s.IfIndex != ifindex || !s.Src.IsLinkLocalUnicast() || len(s.MAC) != 6 {
		t.Fatalf("solicitation %+v (want ifindex %d, a link-local source and a MAC)", s, ifindex)
	}
	if out := mn.IP("link", "show", "eth0"); !strings.Contains(out, s.MAC.String()) {
		t.Errorf("RS link-layer address %v is not the MN's:\n%s", s.MAC, out)
	}
	ra := &RA{CurHopLimit: 64, RouterLifetime: 1800 * time.Second, SourceLinkLayer: RouterMAC, MTU: 1400,
		Prefixes: []Prefix{{Prefix: netip.MustParsePrefix("2001:db8:100::/64"), OnLink: true, Autonomous: true,
			ValidLifetime: time.Hour, PreferredLifetime: 30 * time.Minute}}}
	if err := c.SendRA(ifindex, s.Src, ra); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		addrs := mn.IP("-6", "addr", "show", "dev", "eth0", "scope", "global")
		routes := mn.IP("-6", "route", "show", "default")
		if strings.Contains(addrs, "inet6 2001:db8:100:") && strings.Contains(routes, "via fe80::200:5eff:fe00:5213 dev eth0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MN did not configure from the RA:\n%s\n%s", addrs, routes)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The MTU option sets the interface's IPv6 MTU (not the link MTU).
	if out := mn.MustExec("sysctl", "-n", "net.ipv6.conf.eth0.mtu"); strings.TrimSpace(out) != "1400" {
		t.Errorf("MN IPv6 MTU %q after the MTU option 1400", strings.TrimSpace(out))
	}
}
