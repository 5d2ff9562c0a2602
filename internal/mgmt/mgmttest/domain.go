// Package mgmttest runs the roles in process for the tests of the
// management API, the metrics and pmipctl: an LMA and a MAG talking over
// an in-memory network (transport.Network) with fake data planes and one
// fake clock, and an LM and an HAA over one in-memory store.
//
// Everything is deterministic: times come from the fake clock (T0 until a
// test advances it) and the prefixes are handed out in attachment order.
package mgmttest

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mag"
)

// Addresses and prefixes of the domain.
var (
	T0      = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	LMAAddr = netip.MustParseAddr("2001:db8:ff::1")
	MAGAddr = netip.MustParseAddr("2001:db8:ff::11")
	MR1     = netip.MustParseAddr("2001:db8:ff::21")
	MR2     = netip.MustParseAddr("2001:db8:ff::22")

	// LMAPool is the LMA's HNP pool: MNs get 2001:db8:100::/64,
	// 2001:db8:100:1::/64, ... in registration order.
	LMAPool = netip.MustParsePrefix("2001:db8:100::/56")
	// HAAPool1 (4 prefixes, anchored at MR1) and HAAPool2 (2 prefixes,
	// anchored at MR2) are the HAA's pools.
	HAAPool1 = netip.MustParsePrefix("2001:db8:a00::/62")
	HAAPool2 = netip.MustParsePrefix("2001:db8:b00::/63")

	// MN2MAC identifies mn2@example (its profile matches by MAC).
	MN2MAC = net.HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 0x02}
	MN2LL  = netip.MustParseAddr("fe80::2")
)

// Domain is the set of in-process roles.
type Domain struct {
	t      testing.TB
	Clock  *clock.Fake
	Net    *transport.Network
	LMA    *lma.LMA
	LMADP  *dataplane.Fake
	MAG    *mag.MAG
	MAGDP  *dataplane.Fake
	Links  *mag.FakeLinks
	NDP    *ndp.Fake
	Store  *store.Memory
	LM     *lm.LM
	HAA    *haa.HAA
	cancel context.CancelFunc
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.Out = io.Discard
	return logrus.NewEntry(l)
}

// New starts the domain; everything stops at the end of the test.
//
// The LMA knows mn1@example and mn2@example; the MAG serves mn1@example
// on access link acc1 and mn2@example (by MAC, on any link), with
// interfaces acc1 and acc2. Heartbeats are off, so nothing happens until
// the test attaches a node or advances the clock.
func New(t testing.TB) *Domain {
	t.Helper()
	d := &Domain{t: t, Clock: clock.NewFake(T0), Net: transport.NewNetwork(), LMADP: dataplane.NewFake(),
		MAGDP: dataplane.NewFake(), Links: &mag.FakeLinks{}, NDP: ndp.NewFake()}

	ltr, err := d.Net.Attach(LMAAddr)
	if err != nil {
		t.Fatal(err)
	}
	d.LMA, err = lma.New(lma.Config{
		Address: LMAAddr, Pools: []netip.Prefix{LMAPool},
		MNs:                         map[string]lma.MNPolicy{"mn1@example": {}, "mn2@example": {}},
		TimestampBasedApproachInUse: true, HeartbeatInterval: -1,
		Transport: ltr, DataPlane: d.LMADP, Clock: d.Clock, Log: quietLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	done := make(chan error, 1)
	go func() { done <- d.LMA.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		ltr.Close()
		if err := <-done; err != nil {
			t.Errorf("LMA Run: %v", err)
		}
	})

	mtr, err := d.Net.Attach(MAGAddr)
	if err != nil {
		t.Fatal(err)
	}
	d.MAG, err = mag.New(mag.Config{
		Address: MAGAddr, UplinkDev: "up0", DefaultLMA: LMAAddr,
		Interfaces: []mag.Interface{{Name: "acc1"}, {Name: "acc2"}},
		Profiles: []mag.Profile{
			{MNID: "mn1@example", Interface: "acc1"},
			{MNID: "mn2@example", MAC: MN2MAC},
		},
		HeartbeatInterval: -1,
	}, mag.Deps{Transport: mtr, DataPlane: d.MAGDP, Clock: d.Clock, Log: quietLog(), NDP: d.NDP, Links: d.Links})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.MAG.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.MAG.Stop) // registered after the LMA's: runs first

	d.Store = store.NewMemory(store.WithClock(d.Clock))
	t.Cleanup(func() { d.Store.Close() })
	if d.LM, err = lm.New(d.Store, d.Clock, lm.Config{}); err != nil {
		t.Fatal(err)
	}
	if d.HAA, err = haa.New(d.Store, d.Clock, haa.Config{Pools: []haa.PoolConfig{
		{MR: MR1, Prefix: HAAPool1}, {MR: MR2, Prefix: HAAPool2},
	}}); err != nil {
		t.Fatal(err)
	}
	return d
}

// AttachMN1 attaches mn1@example on acc1 (link up) and waits until the
// MAG holds its binding as registered.
func (d *Domain) AttachMN1() {
	d.t.Helper()
	d.Links.Emit(mag.LinkEvent{Kind: mag.LinkUp, Ifname: "acc1", Ifindex: 11})
	d.WaitBUL("mn1@example", "registered")
}

// AttachMN2 attaches mn2@example on acc2 (a Router Solicitation from its
// MAC and link-local address) and waits for its registration.
func (d *Domain) AttachMN2() {
	d.t.Helper()
	d.Links.Emit(mag.LinkEvent{Kind: mag.RouterSolicitation, Ifname: "acc2", Ifindex: 12, MAC: MN2MAC, Addr: MN2LL})
	d.WaitBUL("mn2@example", "registered")
}

// WaitBUL waits (up to 5 s) until the MAG's entry for mn is in state
// ("" : until there is no entry).
func (d *Domain) WaitBUL(mn, state string) {
	d.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := ""
		for _, e := range d.MAG.BUL() {
			if e.MNID == mn {
				got = e.State
			}
		}
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("MAG entry of %s: state %q, want %q", mn, got, state)
		}
		time.Sleep(time.Millisecond)
	}
}

// PopulateDMM allocates HAA prefixes and records their locations:
//
//	mn1@example 2001:db8:a00::/64   anchor MR1, now at MR2 (handed over)
//	mn2@example 2001:db8:a00:1::/64 anchor MR1, at MR1
//	mn1@example 2001:db8:b00::/64   anchor MR2, at MR2
//
// all with a lifetime of one hour from T0 (allocations and locations).
func (d *Domain) PopulateDMM() {
	d.t.Helper()
	ctx := context.Background()
	type alloc struct {
		mn      string
		mr, cur netip.Addr
	}
	for i, a := range []alloc{{"mn1@example", MR1, MR2}, {"mn2@example", MR1, MR1}, {"mn1@example", MR2, MR2}} {
		al, _, err := d.HAA.Allocate(ctx, a.mn, a.mr, time.Hour)
		if err != nil {
			d.t.Fatal(err)
		}
		if _, err := d.LM.Update(ctx, lm.Update{MNID: a.mn, Prefix: al.Prefix, AnchorMR: a.mr, CurrentMR: a.cur,
			Lifetime: time.Hour, Sequence: uint64(i + 1)}); err != nil {
			d.t.Fatal(err)
		}
	}
}

// MgmtConfig wires every role of the domain into a management server
// configuration (the LMA's data plane is the one listed).
func (d *Domain) MgmtConfig() mgmt.Config {
	return mgmt.Config{
		LMA: d.LMA, MAG: d.MAG, LM: d.LM, HAA: d.HAA, Dataplane: d.LMADP,
		Wanted: []mgmt.WantFunc{d.LMA.Entries}, Clock: d.Clock,
	}
}
