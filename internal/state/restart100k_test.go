package state

import (
	"context"
	"fmt"
	"math/big"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

// nthPrefix returns the i-th /64 of 2001:db8:100::/40.
func nthPrefix(i int) netip.Prefix {
	a := pfx("2001:db8:100::/40").Addr().As16()
	x := new(big.Int).SetBytes(a[:])
	x.Add(x, new(big.Int).Lsh(big.NewInt(int64(i)), 64))
	var b [16]byte
	x.FillBytes(b[:])
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// fill writes n active bindings (100 MAGs) to db, with the pool cursor
// after them.
func fill(t testing.TB, db *DB, n int, now time.Time) {
	const batch = 10000
	for lo := 0; lo < n; lo += batch {
		c := lma.StoreChanges{Allocate: map[netip.Prefix]string{}}
		for i := lo; i < min(lo+batch, n); i++ {
			mn := fmt.Sprintf("mn%07d@example", i)
			p := nthPrefix(i)
			mag := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0xfe, 15: byte(i%100) + 1})
			c.Put = append(c.Put, lma.StoredBinding{ID: uint64(i + 1), MN: mn, MNIDSubtype: mh.MNIDNAI, MNID: []byte(mn),
				LinkLayerID: []byte{0, 0}, LinkLocal: lma.FixedMAGLinkLocal, HNPs: []netip.Prefix{p}, Allocated: []netip.Prefix{p},
				ProxyCoA: mag, ATT: 4, HI: 1, Sequence: 1, HasSequence: true, Lifetime: time.Hour,
				Expires: now.Add(time.Hour), Deadline: now.Add(time.Hour), Created: now, State: lma.StateActive})
			c.Allocate[p] = mn
		}
		c.Cursors = []lma.PoolCursor{{Pool: pfx("2001:db8:100::/40"), PrefixLen: 64, Next: big.NewInt(int64(min(lo+batch, n))).Bytes()}}
		saveSync(t, db.LMA(), c)
	}
}

// TestRestart100k measures a restart with 100,000 bindings: open the
// file, load (New), the wanted entries, Run up to serving (timers re-armed,
// unsolicited heartbeats to the 100 MAGs). Target: <= 2 s (checked
// without -race). Run it alone with
//
//	go test -run TestRestart100k -v ./internal/state/
func TestRestart100k(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const n = 100000
	path := t.TempDir() + "/100k.db"
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, db, n, time.Now())
	if err := db.LMA().SetRestartCounter(7); err != nil {
		t.Fatal(err)
	}
	db.Close()

	start := time.Now()
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tOpen := time.Since(start)
	net := transport.NewNetwork()
	tr, err := net.Attach(lmaAddr)
	if err != nil {
		t.Fatal(err)
	}
	dp := dataplane.NewFake()
	l, err := lma.New(lma.Config{Address: lmaAddr, Pools: []netip.Prefix{pfx("2001:db8:100::/40")}, DefaultMN: &lma.MNPolicy{},
		HeartbeatInterval: -1, Transport: tr, DataPlane: dp, Store: db.LMA()})
	if err != nil {
		t.Fatal(err)
	}
	tNew := time.Since(start)
	want, err := l.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tEntries := time.Since(start)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); tr.Close(); <-done }()
	if _, err := l.Counters(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	t.Logf("restart with %d bindings: open %v, load (New) %v, Entries %v, serving after %v (race detector: %v)",
		n, tOpen.Round(time.Millisecond), (tNew - tOpen).Round(time.Millisecond), (tEntries - tNew).Round(time.Millisecond),
		total.Round(time.Millisecond), raceEnabled)
	if ls := l.Loaded(); ls.Restored != n || ls.Lost != 0 || ls.CounterBumped || l.RestartCounter() != 7 {
		t.Fatalf("loaded %+v, counter %d", ls, l.RestartCounter())
	}
	if len(want) != n || want[0].Prefix != nthPrefix(0) || want[n-1].Prefix != nthPrefix(n-1) {
		t.Fatalf("%d wanted entries, first %v last %v", len(want), want[0], want[len(want)-1])
	}
	bs, err := l.Bindings(context.Background())
	if err != nil || len(bs) != n {
		t.Fatalf("%d bindings: %v", len(bs), err)
	}
	if !raceEnabled && total > 2*time.Second {
		t.Errorf("restart took %v, target 2 s", total)
	}
	// The next allocation continues after the restored ones.
	got := 0
	err = registrar(context.Background(), net, 1, 1, func(mn string, p netip.Prefix) {
		got++
		if p != nthPrefix(n) {
			t.Errorf("new MN got %v, want %v", p, nthPrefix(n))
		}
	})
	if err != nil || got != 1 {
		t.Fatalf("registration after restart: %v (%d)", err, got)
	}
}
