package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
)

var (
	magAddr = netip.MustParseAddr("2001:db8:ff::1")
	lmaAddr = netip.MustParseAddr("2001:db8:ff::2")
	hnp     = netip.MustParsePrefix("2001:db8:100::/64")
)

type kernelDriver = Driver

type topo struct {
	mn, mag, lma, cn *netnstest.NS
	magDP, lmaDP     Driver
}

// newTopoWith builds MN - MAG - LMA - CN with a driver made by newDriver
// (called inside each namespace) on MAG and LMA.
func newTopoWith(t *testing.T, newDriver func() (kernelDriver, error)) *topo {
	tp := &topo{
		mn: netnstest.New(t, "mn"), mag: netnstest.New(t, "mag"),
		lma: netnstest.New(t, "lma"), cn: netnstest.New(t, "cn"),
	}
	netnstest.Veth(t, tp.mag, "acc", tp.mn, "eth0")
	netnstest.Veth(t, tp.mag, "m2l", tp.lma, "l2m")
	netnstest.Veth(t, tp.lma, "l2c", tp.cn, "c2l")
	tp.mag.IP("addr", "add", "2001:db8:ff::1/64", "dev", "m2l", "nodad")
	tp.lma.IP("addr", "add", "2001:db8:ff::2/64", "dev", "l2m", "nodad")
	tp.lma.IP("addr", "add", "2001:db8:c::1/64", "dev", "l2c", "nodad")
	tp.cn.IP("addr", "add", "2001:db8:c::2/64", "dev", "c2l", "nodad")
	tp.cn.IP("-6", "route", "add", "default", "via", "2001:db8:c::1")
	tp.mag.IP("addr", "add", "fe80::1/64", "dev", "acc", "nodad")
	tp.mn.IP("addr", "add", "2001:db8:100::5/64", "dev", "eth0", "nodad")
	tp.mn.IP("-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0")
	for _, x := range []struct {
		ns  *netnstest.NS
		dp  *Driver
		cfg Config
	}{{tp.mag, &tp.magDP, Config{Local: magAddr, Dev: "m2l"}}, {tp.lma, &tp.lmaDP, Config{Local: lmaAddr, Dev: "l2m"}}} {
		err := x.ns.Do(func() error {
			d, err := newDriver()
			if err != nil {
				return err
			}
			*x.dp = d
			return d.Setup(x.cfg)
		})
		if err != nil {
			t.Fatalf("setup in %s: %v", x.ns.Name, err)
		}
	}
	return tp
}

func ping(t *testing.T, from *netnstest.NS, to string) {
	t.Helper()
	out, err := from.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", to)
	if err != nil || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping %s from %s: %v\n%s", to, from.Name, err, out)
	}
}

func TestSeg6TunnelEndToEnd(t *testing.T) {
	tp := newTopoWith(t, func() (kernelDriver, error) { return NewSeg6(nil) })
	var src netip.Addr
	if err := tp.lma.Do(func() (err error) { src, err = TunSrc(); return }); err != nil || src != lmaAddr {
		t.Errorf("LMA tunnel source %v (%v), want %v", src, err, lmaAddr)
	}
	runEndToEnd(t, tp)
}

// runEndToEnd installs the MAG's and the LMA's entries, pings both ways
// through the tunnel, reads the entries back, reconciles, and flushes.
func runEndToEnd(t *testing.T, tp *topo) {
	magWant := []Entry{
		{Kind: KindAccessRoute, Prefix: hnp, Dev: "acc"},
		{Kind: KindSourceRoute, Prefix: hnp, Dev: "acc", Remote: lmaAddr},
	}
	lmaWant := []Entry{{Kind: KindPrefixRoute, Prefix: hnp, Remote: magAddr}}
	for _, e := range magWant {
		if err := tp.magDP.Add(e); err != nil {
			t.Fatalf("MAG add %s: %v", e, err)
		}
	}
	for _, e := range lmaWant {
		if err := tp.lmaDP.Add(e); err != nil {
			t.Fatalf("LMA add %s: %v", e, err)
		}
	}
	ping(t, tp.mn, "2001:db8:c::2")
	ping(t, tp.cn, "2001:db8:100::5")

	// The packets really crossed the tunnel: the LMA's decapsulation
	// route is the only way back to the MN, and the MAG has no route to
	// the CN outside its uplink table.
	if out, err := tp.mag.Exec("ip", "-6", "route", "get", "2001:db8:c::2"); err == nil {
		t.Errorf("MAG can reach the CN without the tunnel: %s", out)
	}

	got, err := tp.magDP.List()
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	if tp.magDP.Name() == "seg6" { // seg6 decapsulates through a tagged route; ip6tnl in the device
		want = append(want, Entry{Kind: KindDecap, Prefix: netip.PrefixFrom(magAddr, 128), Dev: "m2l"})
	}
	want = append(want, magWant...)
	SortEntries(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MAG List:\n got %v\nwant %v", got, want)
	}
	got, err = tp.lmaDP.List()
	if err != nil {
		t.Fatal(err)
	}
	want = nil
	if tp.lmaDP.Name() == "seg6" {
		want = append(want, Entry{Kind: KindDecap, Prefix: netip.PrefixFrom(lmaAddr, 128), Dev: "l2m"})
	}
	want = append(want, lmaWant...)
	SortEntries(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LMA List:\n got %v\nwant %v", got, want)
	}
	// Reconcile the LMA to a new wanted state: the old route goes, two come.
	other := netip.MustParsePrefix("2001:db8:200::/64")
	third := netip.MustParsePrefix("2001:db8:300::/64")
	newWant := []Entry{
		{Kind: KindPrefixRoute, Prefix: other, Remote: magAddr},
		{Kind: KindPrefixRoute, Prefix: third, Remote: magAddr},
	}
	added, removed, err := Reconcile(tp.lmaDP, newWant)
	if err != nil || added != 2 || removed != 1 {
		t.Fatalf("Reconcile: added %d removed %d err %v, want 2, 1, nil", added, removed, err)
	}
	added, removed, err = Reconcile(tp.lmaDP, newWant)
	if err != nil || added != 0 || removed != 0 {
		t.Fatalf("second Reconcile: added %d removed %d err %v, want nothing to do", added, removed, err)
	}

	// Flush leaves nothing tagged and puts the local rule back at 0.
	for _, x := range []struct {
		ns *netnstest.NS
		dp Driver
	}{{tp.mag, tp.magDP}, {tp.lma, tp.lmaDP}} {
		if err := x.dp.Flush(); err != nil {
			t.Fatalf("flush %s: %v", x.ns.Name, err)
		}
		if es, err := x.dp.List(); err != nil || len(es) != 0 {
			t.Errorf("%s after Flush: %v %v", x.ns.Name, es, err)
		}
		if out := x.ns.IP("-6", "route", "show", "table", "all", "proto", "180"); strings.TrimSpace(out) != "" {
			t.Errorf("%s: routes left with our protocol tag:\n%s", x.ns.Name, out)
		}
		rules := x.ns.IP("-6", "rule")
		if !strings.HasPrefix(rules, "0:\tfrom all lookup local") || strings.Contains(rules, "lookup 18") {
			t.Errorf("%s: rules after Flush:\n%s", x.ns.Name, rules)
		}
	}
	if out, err := tp.mn.Exec("ping", "-c", "1", "-W", "1", "2001:db8:c::2"); err == nil {
		t.Errorf("ping still works after Flush:\n%s", out)
	}
}

func TestEntryValidate(t *testing.T) {
	bad := []Entry{
		{Kind: KindPrefixRoute, Prefix: hnp},
		{Kind: KindSourceRoute, Prefix: hnp, Remote: lmaAddr},
		{Kind: KindAccessRoute, Prefix: hnp},
		{Kind: KindPrefixRoute, Prefix: netip.MustParsePrefix("10.0.0.0/8"), Remote: lmaAddr},
		{Kind: 99, Prefix: hnp},
	}
	for _, e := range bad {
		if err := e.Validate(); err == nil {
			t.Errorf("%v: validated", e)
		}
	}
}

func TestFakeReconcile(t *testing.T) {
	f := NewFake()
	if err := f.Setup(Config{Local: lmaAddr, Dev: "x"}); err != nil {
		t.Fatal(err)
	}
	a := Entry{Kind: KindPrefixRoute, Prefix: hnp, Remote: magAddr}
	b := Entry{Kind: KindPrefixRoute, Prefix: hnp, Remote: lmaAddr} // same key, other tunnel
	if err := f.Add(a); err != nil {
		t.Fatal(err)
	}
	added, removed, err := Reconcile(f, []Entry{b})
	if err != nil || added != 1 || removed != 1 {
		t.Fatalf("Reconcile %d %d %v", added, removed, err)
	}
	got, _ := f.List()
	if !reflect.DeepEqual(got, []Entry{b}) {
		t.Fatalf("List %v", got)
	}
	f.FailNext = errTest
	if err := f.Add(a); err != errTest {
		t.Fatalf("FailNext: %v", err)
	}
	if err := f.Add(a); err != nil {
		t.Fatalf("after FailNext: %v", err)
	}
}

var errTest = testErr("injected")

type testErr string

func (e testErr) Error() string { return string(e) }

// retryENOMEM retries ENOMEM only, with the backoff, and gives up after it.
func TestRetryENOMEM(t *testing.T) {
	var slept []time.Duration
	sleep := func(d time.Duration) { slept = append(slept, d) }
	calls := 0
	failTwice := func() error {
		calls++
		if calls <= 2 {
			return fmt.Errorf("route: %w", unix.ENOMEM)
		}
		return nil
	}
	if err, n := retryENOMEM(failTwice, sleep); err != nil || n != 2 || calls != 3 || !reflect.DeepEqual(slept, enomemBackoff[:2]) {
		t.Fatalf("ENOMEM twice: err %v, %d retries, %d calls, slept %v", err, n, calls, slept)
	}
	slept, calls = nil, 0
	always := func() error { calls++; return unix.ENOMEM }
	if err, n := retryENOMEM(always, sleep); !errors.Is(err, unix.ENOMEM) || n != len(enomemBackoff) || calls != len(enomemBackoff)+1 {
		t.Fatalf("always ENOMEM: err %v, %d retries, %d calls", err, n, calls)
	}
	slept, calls = nil, 0
	other := func() error { calls++; return unix.EEXIST }
	if err, n := retryENOMEM(other, sleep); !errors.Is(err, unix.EEXIST) || n != 0 || calls != 1 || len(slept) != 0 {
		t.Fatalf("EEXIST: err %v, %d retries, %d calls, slept %v", err, n, calls, slept)
	}
}

// TestSeg6ManyRoutes adds 30,000 encapsulation routes in one namespace as
// fast as the driver goes (the burst in which the kernel refused some with
// ENOMEM before the driver retried them): every one is there.
func TestSeg6ManyRoutes(t *testing.T) {
	ns := netnstest.New(t, "many")
	netnstest.Veth(t, ns, "v0", netnstest.New(t, "peer"), "v1")
	ns.IP("addr", "add", "2001:db8:ff::1/64", "dev", "v0", "nodad")
	const n = 30000
	var retries uint64
	err := ns.Do(func() error {
		d, err := NewSeg6(nil)
		if err != nil {
			return err
		}
		if err := d.Setup(Config{Local: magAddr, Dev: "v0"}); err != nil {
			return err
		}
		for i := range n {
			p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x70, byte(i >> 16), byte(i >> 8), byte(i)}), 64)
			if err := d.Add(Entry{Kind: KindPrefixRoute, Prefix: p, Remote: lmaAddr}); err != nil {
				return fmt.Errorf("route %d (%v): %w", i, p, err)
			}
		}
		retries = d.ENOMEMRetries()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := ns.IP("-6", "route", "show", "proto", fmt.Sprint(Proto))
	if got := strings.Count(out, "encap seg6"); got != n {
		t.Fatalf("%d seg6 routes in the kernel, want %d", got, n)
	}
	t.Logf("%d seg6 routes added, %d ENOMEM retries", n, retries)
}
