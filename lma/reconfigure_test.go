package lma

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// TestReconfigure: a live change of MAG authorizations, MN policies, pools
// and timers applies to the next PBU; bindings and allocated prefixes are
// kept; invalid changes are refused and change nothing.
func TestReconfigure(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MAGs = map[netip.Addr]MAGPolicy{mag1: {}, mag2: {}}
	})
	h.register(mag1, "mn1@example")
	if got := h.pba(mag3, pbu(1, 100, zeroHNP(), nai("mn2@example"), hi(1), att(4), h.ts())).Status; got != mh.StatusMAGNotAuthorizedForProxyReg {
		t.Fatalf("MAG3 before reload: status %d, want 154", got)
	}

	next := defaultConfig()
	next.Pools = []netip.Prefix{pfx("2001:db8:300::/56")} // the old pool goes
	next.MAGs = map[netip.Addr]MAGPolicy{mag1: {MNs: []string{"mn1@example"}}, mag3: {}}
	next.MNs["mn3@example"] = MNPolicy{}
	delete(next.MNs, "mn2@example")
	next.MinDelayBeforeBCEDelete = 2 * time.Second
	if err := h.l.Reconfigure(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		from netip.Addr
		mn   string
		want mh.Status
		hnp  netip.Prefix
	}{
		{"MAG3 now authorized, new pool", mag3, "mn3@example", mh.StatusAccepted, pfx("2001:db8:300::/64")},
		{"MAG2 no longer authorized", mag2, "mn3@example", mh.StatusMAGNotAuthorizedForProxyReg, netip.Prefix{}},
		{"MAG1 only for mn1 now", mag1, "mn3@example", mh.StatusMAGNotAuthorizedForProxyReg, netip.Prefix{}},
		{"mn2's policy removed", mag3, "mn2@example", mh.StatusNotLMAForThisMN, netip.Prefix{}},
	}
	for _, c := range cases {
		ba := h.pba(c.from, pbu(1, 100, zeroHNP(), nai(c.mn), hi(1), att(4), h.ts()))
		if ba.Status != c.want {
			t.Errorf("%s: status %d, want %d", c.name, ba.Status, c.want)
			continue
		}
		if c.hnp.IsValid() {
			got, _ := mh.Find[*mh.HomeNetworkPrefix](ba.Options)
			if got == nil || netip.PrefixFrom(got.Prefix, int(got.PrefixLength)) != c.hnp {
				t.Errorf("%s: HNP %v, want %v", c.name, got, c.hnp)
			}
		}
	}
	// mn1 keeps its binding and prefix from the removed pool.
	bs := h.bindings()
	if len(bs) != 2 || bs[0].MN != "mn1@example" || bs[0].HNPs[0] != pool0 {
		t.Fatalf("bindings after reload: %+v", bs)
	}
	// The new de-registration delay applies.
	h.clk.Advance(time.Millisecond)
	if ba := h.pba(mag1, pbu(2, 0, hnp(pool0), nai("mn1@example"), hi(1), att(4), h.ts())); ba.Status != 0 {
		t.Fatalf("de-registration: %d", ba.Status)
	}
	h.advance(2*time.Second + time.Millisecond)
	if bs := h.bindings(); len(bs) != 1 || bs[0].MN != "mn3@example" {
		t.Errorf("after the new 2s delay: %+v", bs)
	}

	bad := []struct {
		name string
		mut  func(*Config)
		err  string
	}{
		{"static prefix twice", func(c *Config) {
			c.MNs["a"] = MNPolicy{Prefixes: []netip.Prefix{staticPfx}}
		}, "assigned to both"},
		{"prefix length while allocated", func(c *Config) { c.PrefixLen = 60 }, "not while"},
		{"bad pool", func(c *Config) { c.Pools = []netip.Prefix{pfx("10.0.0.0/8")} }, "IPv6 prefix"},
	}
	for _, b := range bad {
		c := next
		c.MNs = map[string]MNPolicy{}
		for k, v := range next.MNs {
			c.MNs[k] = v
		}
		b.mut(&c)
		err := h.l.Reconfigure(context.Background(), c)
		if err == nil || !strings.Contains(err.Error(), b.err) {
			t.Errorf("%s: err %v, want %q", b.name, err, b.err)
		}
	}
	// Nothing changed: MAG3 still authorized, MAG2 still not.
	if got := h.pba(mag2, pbu(1, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts())).Status; got != mh.StatusMAGNotAuthorizedForProxyReg {
		t.Errorf("after refused reloads MAG2 gets %d", got)
	}
}
