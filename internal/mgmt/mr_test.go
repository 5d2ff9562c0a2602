package mgmt_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/transport"
)

var _ mgmt.MRProvider = (*mr.MR)(nil)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

// fakeMR returns fixed values, not sorted (the server sorts), or err.
type fakeMR struct{ err error }

func (f fakeMR) MNs(context.Context) ([]mr.MN, error) {
	return []mr.MN{
		{MN: "mn1@example", Attached: true, MAG: ip("2001:db8:ff::11"), LinkLocal: ip("fe80::1"),
			Prefixes: []mr.MNPrefix{{Prefix: pfx("2001:db8:b00::/64"), AnchorMR: ip("2001:db8:ff::22"), Deprecated: true},
				{Prefix: pfx("2001:db8:a00::/64"), AnchorMR: ip("2001:db8:ff::21")}},
			Moved: true, PreviousMR: ip("2001:db8:ff::22"), Expires: t0.Add(30 * time.Minute)},
		{MN: "mn0@example", Link: "acc1"},
	}, f.err
}

func (f fakeMR) Locations(context.Context) ([]mr.CachedLocation, error) {
	return []mr.CachedLocation{
		{Location: mr.Location{Prefix: pfx("2001:db8:c00::/64"), AnchorMR: ip("2001:db8:ff::23"), CurrentMR: ip("2001:db8:ff::23"),
			Lifetime: 5 * time.Second}, Source: "fallback", Expires: t0.Add(5 * time.Second)},
		{Location: mr.Location{Prefix: pfx("2001:db8:b00:7::/64"), AnchorMR: ip("2001:db8:ff::22"), CurrentMR: ip("2001:db8:ff::23"),
			Lifetime: time.Hour}, Source: "query", Expires: t0.Add(time.Hour)},
	}, nil
}

func (f fakeMR) Correspondents(context.Context) (map[netip.Prefix][]netip.Addr, error) {
	return map[netip.Prefix][]netip.Addr{
		pfx("2001:db8:a00:1::/64"): {ip("2001:db8:ff::31")},
		pfx("2001:db8:a00::/64"):   {ip("2001:db8:ff::31"), ip("2001:db8:ff::23")},
		pfx("2001:db8:a00:5::/64"): {},
	}, nil
}

func (f fakeMR) Departures(context.Context) ([]mr.Departed, error) {
	return []mr.Departed{
		{MN: "mn3@example", Prefixes: []netip.Prefix{pfx("2001:db8:a00:3::/64")}, Holding: true},
		{MN: "mn2@example", Prefixes: []netip.Prefix{pfx("2001:db8:a00:2::/64")}, NewMR: ip("2001:db8:ff::22"),
			Forwarding: []netip.Prefix{pfx("2001:db8:a00:2::/64")}},
	}, nil
}

func (f fakeMR) Held(context.Context) ([]netip.Prefix, error) {
	return []netip.Prefix{pfx("2001:db8:a00:9::/64"), pfx("2001:db8:a00:3::/64")}, nil
}

// The exact JSON of the MR endpoints over fixed values, sorted by the
// server, with remaining_s from the server's clock.
func TestMREndpointsJSON(t *testing.T) {
	clk := clock.NewFake(t0.Add(10 * time.Minute))
	srv := httptest.NewServer(mgmt.New(mgmt.Config{MR: fakeMR{}, Clock: clk}))
	defer srv.Close()
	for _, tc := range []struct{ path, want string }{
		{"/v1/mr/nodes", `{"nodes":[` +
			`{"mn":"mn0@example","attached":false,"link":"acc1","prefixes":[],"moved":false,"remaining_s":0},` +
			`{"mn":"mn1@example","attached":true,"mag":"2001:db8:ff::11","link_local":"fe80::1","prefixes":[` +
			`{"prefix":"2001:db8:b00::/64","anchor_mr":"2001:db8:ff::22","deprecated":true},` +
			`{"prefix":"2001:db8:a00::/64","anchor_mr":"2001:db8:ff::21","deprecated":false}],` +
			`"moved":true,"previous_mr":"2001:db8:ff::22","remaining_s":1200,"expires":"2024-05-01T12:30:00Z"}]}`},
		{"/v1/mr/locations", `{"locations":[` +
			`{"prefix":"2001:db8:b00:7::/64","anchor_mr":"2001:db8:ff::22","current_mr":"2001:db8:ff::23","source":"query",` +
			`"remaining_s":3000,"expires":"2024-05-01T13:00:00Z"},` +
			`{"prefix":"2001:db8:c00::/64","anchor_mr":"2001:db8:ff::23","current_mr":"2001:db8:ff::23","source":"fallback",` +
			`"remaining_s":0,"expires":"2024-05-01T12:00:05Z"}],` +
			`"correspondents":[{"prefix":"2001:db8:a00::/64","mrs":["2001:db8:ff::23","2001:db8:ff::31"]},` +
			`{"prefix":"2001:db8:a00:1::/64","mrs":["2001:db8:ff::31"]}]}`},
		{"/v1/mr/departures", `{"departures":[` +
			`{"mn":"mn2@example","prefixes":["2001:db8:a00:2::/64"],"new_mr":"2001:db8:ff::22","holding":false,` +
			`"forwarding":["2001:db8:a00:2::/64"]},` +
			`{"mn":"mn3@example","prefixes":["2001:db8:a00:3::/64"],"holding":true,"forwarding":[]}],` +
			`"held":["2001:db8:a00:3::/64","2001:db8:a00:9::/64"]}`},
	} {
		status, got := do(t, srv, "GET", tc.path, "")
		if status != 200 || got != tc.want {
			t.Errorf("GET %s:\n got %d %s\nwant 200 %s", tc.path, status, got, tc.want)
		}
	}
	status, got := do(t, srv, "POST", "/v1/mr/nodes", "")
	if want := `{"error":"method_not_allowed","detail":"POST /v1/mr/nodes: method not allowed (allowed: GET)"}`; status != 405 || got != want {
		t.Errorf("POST /v1/mr/nodes: %d %s", status, got)
	}

	// The client decodes the same answers.
	c := mgmt.NewHTTPClient(srv.URL, srv.Client(), "")
	ctx := context.Background()
	ns, err := c.MRNodes(ctx)
	if err != nil || len(ns) != 2 || ns[1].MN != "mn1@example" || ns[1].PreviousMR != ip("2001:db8:ff::22") ||
		len(ns[1].Prefixes) != 2 || !ns[1].Prefixes[0].Deprecated || ns[1].Remaining != 1200 || ns[0].Expires != nil {
		t.Errorf("MRNodes: %+v %v", ns, err)
	}
	ls, err := c.MRLocations(ctx)
	if err != nil || len(ls.Locations) != 2 || ls.Locations[0].Source != "query" || ls.Locations[0].Remaining != 3000 ||
		len(ls.Correspondents) != 2 || ls.Correspondents[0].MRs[1] != ip("2001:db8:ff::31") {
		t.Errorf("MRLocations: %+v %v", ls, err)
	}
	ds, err := c.MRDepartures(ctx)
	if err != nil || len(ds.Departures) != 2 || ds.Departures[0].NewMR != ip("2001:db8:ff::22") || ds.Departures[1].NewMR.IsValid() ||
		!ds.Departures[1].Holding || len(ds.Held) != 2 || ds.Held[0] != pfx("2001:db8:a00:3::/64") {
		t.Errorf("MRDepartures: %+v %v", ds, err)
	}
}

// An MR that stopped answers 500; one that does not answer in time 504.
func TestMRErrors(t *testing.T) {
	srv := httptest.NewServer(mgmt.New(mgmt.Config{MR: fakeMR{err: mr.ErrStopped}}))
	defer srv.Close()
	if status, got := do(t, srv, "GET", "/v1/mr/nodes", ""); status != 500 || got != `{"error":"internal","detail":"mr: not running"}` {
		t.Errorf("stopped MR: %d %s", status, got)
	}
	srv2 := httptest.NewServer(mgmt.New(mgmt.Config{MR: fakeMR{err: context.DeadlineExceeded}}))
	defer srv2.Close()
	if status, got := do(t, srv2, "GET", "/v1/mr/nodes", ""); status != 504 || got != `{"error":"timeout","detail":"context deadline exceeded"}` {
		t.Errorf("slow MR: %d %s", status, got)
	}
}

// ---- a real MR ----

// memStore is an mr.Store holding the nodes of a previous run.
type memStore struct{ mns []mr.StoredMN }

func (s *memStore) LoadMR() (mr.StoredMR, error) {
	return mr.StoredMR{MNs: s.mns, RestartCounter: 1, Resumable: true}, nil
}
func (s *memStore) SaveMR(_ []mr.StoredMN, _ []string, done func(error)) { done(nil) }
func (s *memStore) SetRestartCounter(uint32) error                       { return nil }

// punt is an mr.Punt whose misses the test sends.
type punt struct {
	mu     sync.Mutex
	held   map[netip.Prefix]bool
	misses chan mr.Miss
}

func (p *punt) Hold(x netip.Prefix) error { p.mu.Lock(); p.held[x] = true; p.mu.Unlock(); return nil }
func (p *punt) Release(x netip.Prefix) (int, error) {
	p.mu.Lock()
	delete(p.held, x)
	p.mu.Unlock()
	return 0, nil
}
func (p *punt) Drop(x netip.Prefix) (int, error) { return p.Release(x) }
func (p *punt) Watch(netip.Prefix) error         { return nil }
func (p *punt) Misses() <-chan mr.Miss           { return p.misses }

// A running MR (deployment A) restored with one node that moved in from
// MR2: the node, a correspondent's MR that tunnelled to it, a location
// learnt from the LM for a packet to another MR's node, and the node's
// prefix held after a miss show through the API.
func TestMRReal(t *testing.T) {
	var (
		mr1, mr2, mr3 = ip("2001:db8:ff::21"), ip("2001:db8:ff::22"), ip("2001:db8:ff::23")
		mag           = ip("2001:db8:ff::11")
		own, away     = pfx("2001:db8:a00::/64"), pfx("2001:db8:b00::/64")
		other         = pfx("2001:db8:b00:7::/64")
	)
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	defer st.Close()
	lmx, err := lm.New(st, clk, lm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	haax, err := haa.New(st, clk, haa.Config{Pools: []haa.PoolConfig{{MR: mr1, Prefix: pfx("2001:db8:a00::/48")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := lmx.Update(ctx, lm.Update{MNID: "mn7@example", Prefix: other, AnchorMR: mr2, CurrentMR: mr3, Lifetime: time.Hour, Sequence: 1}); err != nil {
		t.Fatal(err)
	}
	netw := transport.NewNetwork()
	tr, err := netw.Attach(mr1)
	if err != nil {
		t.Fatal(err)
	}
	pt := &punt{held: map[netip.Prefix]bool{}, misses: make(chan mr.Miss, 4)}
	ms := &memStore{mns: []mr.StoredMN{{MN: "mn1@example", MAG: mag, LinkLocal: ip("fe80::1"),
		Prefixes: []mr.StoredPrefix{{Prefix: away, AnchorMR: mr2, Deprecated: true}, {Prefix: own, AnchorMR: mr1}},
		Moved:    true, PreviousMR: mr2, Lifetime: time.Hour, Expires: t0.Add(40 * time.Minute)}}}
	m, err := mr.New(mr.Config{Address: mr1, Deployment: mr.DeployLMA, Store: ms,
		Pools: []mr.Pool{{Prefix: pfx("2001:db8:a00::/48"), AnchorMR: mr1}, {Prefix: pfx("2001:db8:b00::/48"), AnchorMR: mr2}}},
		mr.Deps{Transport: tr, DataPlane: dataplane.NewFake(), Punt: pt, Clock: clk,
			LM: &wire.LocalLM{LM: lmx, Clock: clk}, HAA: &wire.LocalHAA{HAA: haax, MR: mr1, Clock: clk}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		tr.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	defer stop()

	if err := m.Observe(ctx, mr3, ip("2001:db8:a00::5")); err != nil {
		t.Fatal(err)
	}
	pt.misses <- mr.Miss{Dst: ip("2001:db8:b00:7::1"), Src: ip("2001:db8:a00::5"), Prefix: other, At: t0}
	pt.misses <- mr.Miss{Dst: ip("2001:db8:a00::5"), Src: ip("2001:db8:c00::1"), Prefix: own, At: t0}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ls, err1 := m.Locations(ctx)
		hs, err2 := m.Held(ctx)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if len(ls) == 1 && len(hs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the MR did not learn the location and hold the prefix: %v %v", ls, hs)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// The server's clock is 10 min ahead of the MR's (whose own would
	// fire the MR's timers): 30 min left of the node's 40, 50 of the
	// location's hour.
	srv := httptest.NewServer(mgmt.New(mgmt.Config{MR: m, Clock: clock.NewFake(t0.Add(10 * time.Minute))}))
	defer srv.Close()
	for _, tc := range []struct{ path, want string }{
		{"/v1/mr/nodes", `{"nodes":[{"mn":"mn1@example","attached":true,"mag":"2001:db8:ff::11","link_local":"fe80::1","prefixes":[` +
			`{"prefix":"2001:db8:b00::/64","anchor_mr":"2001:db8:ff::22","deprecated":true},` +
			`{"prefix":"2001:db8:a00::/64","anchor_mr":"2001:db8:ff::21","deprecated":false}],` +
			`"moved":true,"previous_mr":"2001:db8:ff::22","remaining_s":1800,"expires":"2024-05-01T12:40:00Z"}]}`},
		{"/v1/mr/locations", `{"locations":[{"prefix":"2001:db8:b00:7::/64","anchor_mr":"2001:db8:ff::22","current_mr":"2001:db8:ff::23",` +
			`"source":"query","remaining_s":3000,"expires":"2024-05-01T13:00:00Z"}],` +
			`"correspondents":[{"prefix":"2001:db8:a00::/64","mrs":["2001:db8:ff::23"]}]}`},
		{"/v1/mr/departures", `{"departures":[],"held":["2001:db8:a00::/64"]}`},
	} {
		status, got := do(t, srv, "GET", tc.path, "")
		if status != 200 || got != tc.want {
			t.Errorf("GET %s:\n got %d %s\nwant 200 %s", tc.path, status, got, tc.want)
		}
	}

	// Once the MR stops, its endpoints fail rather than show nothing.
	stop()
	var ae *mgmt.Error
	if _, err := mgmt.NewHTTPClient(srv.URL, srv.Client(), "").MRNodes(ctx); !errors.As(err, &ae) || ae.Status != 500 || ae.Detail != "mr: not running" {
		t.Errorf("stopped MR: %v", err)
	}
}
