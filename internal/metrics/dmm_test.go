package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/punt"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// fakePunt is the MR's punt path without a device: it records the held
// prefixes and reports the Stats the test sets.
type fakePunt struct {
	mu     sync.Mutex
	held   map[netip.Prefix]bool
	stats  punt.Stats
	misses chan mr.Miss
}

func newFakePunt() *fakePunt {
	return &fakePunt{held: map[netip.Prefix]bool{}, misses: make(chan mr.Miss)}
}

func (f *fakePunt) Hold(p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held[p] = true
	return nil
}

func (f *fakePunt) Release(p netip.Prefix) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held, p)
	return 0, nil
}

func (f *fakePunt) Drop(p netip.Prefix) (int, error) { return f.Release(p) }
func (f *fakePunt) Watch(netip.Prefix) error         { return nil }
func (f *fakePunt) Misses() <-chan mr.Miss           { return f.misses }
func (f *fakePunt) Stats() punt.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

var (
	mrAddr   = netip.MustParseAddr("2001:db8:ff::21")
	lmAddr   = netip.MustParseAddr("2001:db8:ff::a")
	rogueMAG = netip.MustParseAddr("2001:db8:ff::99")
	mrPool   = netip.MustParsePrefix("2001:db8:21::/48")
)

func mrPBU(seq, life uint16, mn string, hi mh.HandoffIndicatorValue, hnp netip.Prefix) []byte {
	h := &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}
	if hnp.IsValid() {
		h = mh.NewHNP(hnp)
	}
	m := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: life}
	m.Options = mh.Options{h, mh.NewNAI(mn), &mh.HandoffIndicator{Value: hi}, &mh.AccessTechnologyType{Value: mh.ATT8023},
		&mh.LinkLocalAddress{Address: netip.IPv6Unspecified()}}
	b, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// An MR in deployment A (legacy MAGs in front) on the in-memory network,
// with an in-process LM and HAA, and an LM server: a node attaches, a
// MAG that is not authorised is refused, the node leaves (its packets are
// held); an LM client queries the server once and sends it garbage once.
// Each scrape shows exactly that.
func TestMRMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	netw := transport.NewNetwork()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	l, err := lm.New(st, nil, lm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := haa.New(st, nil, haa.Config{Pools: []haa.PoolConfig{{MR: mrAddr, Prefix: mrPool}}})
	if err != nil {
		t.Fatal(err)
	}
	attach := func(a netip.Addr) *transport.Mem {
		t.Helper()
		tr, err := netw.Attach(a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}

	lmTr := attach(lmAddr)
	lmSrv, err := wire.NewLMServer(lmTr, l, wire.LMServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- lmSrv.Serve(ctx) }()

	mrTr := attach(mrAddr)
	pt := newFakePunt()
	m, err := mr.New(mr.Config{Address: mrAddr, Deployment: mr.DeployLMA, MAGs: []netip.Addr{magAddr}, CoreDev: "core0",
		Pools: []mr.Pool{{Prefix: mrPool, AnchorMR: mrAddr}}, UpdateLMOnAttach: true},
		mr.Deps{Transport: mrTr, DataPlane: dataplane.NewFake(), Punt: pt,
			LM: &wire.LocalLM{LM: l}, HAA: &wire.LocalHAA{HAA: h, MR: mrAddr}})
	if err != nil {
		t.Fatal(err)
	}
	mrDone := make(chan error, 1)
	go func() { mrDone <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		mrTr.Close()
		lmTr.Close()
		if err := <-mrDone; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("MR Run: %v", err)
		}
		<-srvDone
	})

	cache := lm.NewReplica(ctx, l, 0)
	<-cache.Ready()
	metrics := New(Sources{MR: m, Punt: pt, LMServer: lmSrv, LMCache: cache})
	srv := httptest.NewServer(metrics.Mux())
	defer srv.Close()

	// Before anything: the series exist at zero.
	lines := scrape(t, srv.URL)
	wantFamily(t, lines, "pmip_bindings", `pmip_bindings{role="mr",state="attached"} 0`, `pmip_bindings{role="mr",state="attaching"} 0`)
	wantFamily(t, lines, "pmip_messages_total")
	wantFamily(t, lines, "pmip_mr_held_prefixes", `pmip_mr_held_prefixes 0`)
	wantFamily(t, lines, "pmip_lm_cache_queries_total", `pmip_lm_cache_queries_total{result="hit"} 0`, `pmip_lm_cache_queries_total{result="miss"} 0`)
	wantFamily(t, lines, "pmip_lm_cache_entries", `pmip_lm_cache_entries 0`)
	wantFamily(t, lines, "pmip_lm_cache_live", `pmip_lm_cache_live 1`)

	mag, rogue := attach(magAddr), attach(rogueMAG)
	if err := mag.Send(mrAddr, mrPBU(1, 900, "mn1", mh.HIAttachNewInterface, netip.Prefix{})); err != nil {
		t.Fatal(err)
	}
	if got := waitPBAs(t, mag, 1); got[0] != mh.StatusAccepted {
		t.Fatalf("PBA %v", got)
	}
	if err := rogue.Send(mrAddr, mrPBU(1, 900, "mn9", mh.HIAttachNewInterface, netip.Prefix{})); err != nil {
		t.Fatal(err)
	}
	if got := waitPBAs(t, rogue, 1); got[0] != mh.StatusMAGNotAuthorizedForProxyReg {
		t.Fatalf("PBA to the rogue MAG %v", got)
	}
	mns, err := m.MNs(ctx)
	if err != nil || len(mns) != 1 || len(mns[0].Prefixes) != 1 {
		t.Fatalf("MNs %+v %v", mns, err)
	}
	hnp := mns[0].Prefixes[0].Prefix

	// The LM server: one query (the location the MR registered), one
	// undecodable packet.
	req, err := wire.NewRequester(attach(netip.MustParseAddr("2001:db8:ff::c")), wire.RequesterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	locs, err := wire.NewLMClient(req, lmAddr).Query(ctx, wire.QueryPrefix(hnp))
	if err != nil || len(locs) != 1 || locs[0].CurrentMR != mrAddr {
		t.Fatalf("LM query: %+v %v", locs, err)
	}
	if err := rogue.Send(lmAddr, []byte{59, 0}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for lmSrv.Stats().Received < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("LM server stats %+v", lmSrv.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	pt.mu.Lock()
	pt.stats = punt.Stats{Held: 0, Received: 7, Passed: 7, Misses: 1}
	pt.mu.Unlock()
	// The LM's replica holds MN1's location (the MR's update, through
	// the watch) and answers a query for it from memory.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if rs, err := cache.QueryMN(ctx, "mn1"); err == nil && len(rs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica never had mn1: %+v", cache.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	cst := cache.Stats()

	lines = scrape(t, srv.URL)
	wantFamily(t, lines, "pmip_lm_cache_queries_total", fmt.Sprintf(`pmip_lm_cache_queries_total{result="hit"} %d`, cst.Hits), `pmip_lm_cache_queries_total{result="miss"} 0`)
	wantFamily(t, lines, "pmip_lm_cache_entries", `pmip_lm_cache_entries 1`)
	wantFamily(t, lines, "pmip_bindings", `pmip_bindings{role="mr",state="attached"} 1`, `pmip_bindings{role="mr",state="attaching"} 0`)
	wantFamily(t, lines, "pmip_messages_total",
		`pmip_messages_total{direction="received",role="mr",status="",type="Binding Update"} 2`,
		`pmip_messages_total{direction="sent",role="mr",status="0",type="Binding Acknowledgement"} 1`,
		`pmip_messages_total{direction="sent",role="mr",status="154",type="Binding Acknowledgement"} 1`)
	wantFamily(t, lines, "pmip_dmm_server_packets_total",
		`pmip_dmm_server_packets_total{result="answered",server="lm"} 1`,
		`pmip_dmm_server_packets_total{result="dropped",server="lm"} 1`,
		`pmip_dmm_server_packets_total{result="from_cache",server="lm"} 0`,
		`pmip_dmm_server_packets_total{result="received",server="lm"} 2`,
		`pmip_dmm_server_packets_total{result="send_failed",server="lm"} 0`)
	wantFamily(t, lines, "pmip_punt_packets_total",
		`pmip_punt_packets_total{result="dropped_age"} 0`,
		`pmip_punt_packets_total{result="dropped_drop"} 0`,
		`pmip_punt_packets_total{result="dropped_full"} 0`,
		`pmip_punt_packets_total{result="ignored"} 0`,
		`pmip_punt_packets_total{result="invalid"} 0`,
		`pmip_punt_packets_total{result="passed"} 7`,
		`pmip_punt_packets_total{result="received"} 7`,
		`pmip_punt_packets_total{result="released"} 0`,
		`pmip_punt_packets_total{result="write_error"} 0`)
	for _, l := range []string{
		`pmip_events_total{event="attach",role="mr"} 1`,
		`pmip_events_total{event="lm_update",role="mr"} 1`,
		`pmip_events_total{event="detach",role="mr"} 0`,
		`pmip_errors_total{kind="haa",role="mr"} 0`,
		`pmip_punt_reports_total{kind="miss"} 1`,
		`pmip_mr_departed_nodes 0`,
	} {
		if !slices.Contains(lines, l) {
			t.Errorf("missing %s", l)
		}
	}

	// The node leaves its MAG: its packets are held, the context stays.
	if err := mag.Send(mrAddr, mrPBU(2, 0, "mn1", mh.HIAttachNewInterface, hnp)); err != nil {
		t.Fatal(err)
	}
	if got := waitPBAs(t, mag, 1); got[0] != mh.StatusAccepted {
		t.Fatalf("de-registration PBA %v", got)
	}
	lines = scrape(t, srv.URL)
	wantFamily(t, lines, "pmip_bindings", `pmip_bindings{role="mr",state="attached"} 0`, `pmip_bindings{role="mr",state="attaching"} 0`)
	wantFamily(t, lines, "pmip_mr_held_prefixes", `pmip_mr_held_prefixes 1`)
	wantFamily(t, lines, "pmip_mr_departed_nodes", `pmip_mr_departed_nodes 1`)
	wantFamily(t, lines, "pmip_messages_total",
		`pmip_messages_total{direction="received",role="mr",status="",type="Binding Update"} 3`,
		`pmip_messages_total{direction="sent",role="mr",status="0",type="Binding Acknowledgement"} 2`,
		`pmip_messages_total{direction="sent",role="mr",status="154",type="Binding Acknowledgement"} 1`)
	for _, l := range []string{`pmip_events_total{event="detach",role="mr"} 1`, `pmip_events_total{event="hold",role="mr"} 1`} {
		if !slices.Contains(lines, l) {
			t.Errorf("missing %s", l)
		}
	}
}

// fakeMR answers fixed values.
type fakeMR struct {
	c    mr.Counters
	mns  []mr.MN
	locs []mr.CachedLocation
	deps []mr.Departed
	held []netip.Prefix
	err  error
}

func (f *fakeMR) Counters(context.Context) (mr.Counters, error)          { return f.c, f.err }
func (f *fakeMR) MNs(context.Context) ([]mr.MN, error)                   { return f.mns, f.err }
func (f *fakeMR) Locations(context.Context) ([]mr.CachedLocation, error) { return f.locs, f.err }
func (f *fakeMR) Departures(context.Context) ([]mr.Departed, error)      { return f.deps, f.err }
func (f *fakeMR) Held(context.Context) ([]netip.Prefix, error)           { return f.held, f.err }

type fakeServer wire.ServerStats

func (f fakeServer) Stats() wire.ServerStats { return wire.ServerStats(f) }

// Every scalar counter of mr.Counters is exported once, as an event or an
// error (a counter added to dmm/mr without a metric fails here); the
// messages by status, the drops, the cache and the HAA server exactly.
func TestMRMetricsEveryCounter(t *testing.T) {
	f := &fakeMR{
		c: mr.Counters{
			Rx:       map[string]uint64{"Binding Update": 5, "Handover Acknowledge": 2, "Redirect": 1},
			Tx:       map[string]uint64{"Binding Acknowledgement": 5, "Handover Initiate": 2, "Redirect Ack": 1},
			StatusRx: map[string]uint64{"HAck 0": 1, "HAck 5": 1},
			StatusTx: map[string]uint64{"PBA 0": 4, "PBA 154": 1, "Redirect Ack 0": 1},
			Dropped:  map[string]uint64{"malformed": 2, "unexpected Handover Acknowledge": 1},
		},
		locs: []mr.CachedLocation{{Source: "query"}, {Source: "query"}, {Source: "redirect"}, {Source: "other"}},
		held: []netip.Prefix{mrPool},
	}
	rv := reflect.ValueOf(&f.c).Elem()
	var fields []string
	for i := range rv.NumField() {
		if rv.Field(i).Kind() == reflect.Uint64 {
			rv.Field(i).SetUint(uint64(1000 + i))
			fields = append(fields, rv.Type().Field(i).Name)
		}
	}
	m := New(Sources{MR: f, HAAServer: fakeServer{Received: 3, Answered: 2, FromCache: 1, Dropped: 1}})
	srv := httptest.NewServer(m.Mux())
	defer srv.Close()
	lines := scrape(t, srv.URL)
	for i := range rv.NumField() {
		if rv.Field(i).Kind() != reflect.Uint64 {
			continue
		}
		suffix := fmt.Sprintf(`,role="mr"} %d`, 1000+i)
		var found []string
		for _, l := range lines {
			if strings.HasSuffix(l, suffix) && (strings.HasPrefix(l, "pmip_events_total{") || strings.HasPrefix(l, "pmip_errors_total{")) {
				found = append(found, l)
			}
		}
		if len(found) != 1 {
			t.Errorf("mr.Counters.%s: exported as %q, want one event or error", rv.Type().Field(i).Name, found)
		}
	}
	if len(fields) < 30 {
		t.Errorf("only %d scalar counters: %q", len(fields), fields)
	}
	wantFamily(t, lines, "pmip_messages_total",
		`pmip_messages_total{direction="received",role="mr",status="",type="Binding Update"} 5`,
		`pmip_messages_total{direction="received",role="mr",status="",type="Redirect"} 1`,
		`pmip_messages_total{direction="received",role="mr",status="0",type="Handover Acknowledge"} 1`,
		`pmip_messages_total{direction="received",role="mr",status="5",type="Handover Acknowledge"} 1`,
		`pmip_messages_total{direction="sent",role="mr",status="",type="Handover Initiate"} 2`,
		`pmip_messages_total{direction="sent",role="mr",status="0",type="Binding Acknowledgement"} 4`,
		`pmip_messages_total{direction="sent",role="mr",status="0",type="Redirect Ack"} 1`,
		`pmip_messages_total{direction="sent",role="mr",status="154",type="Binding Acknowledgement"} 1`)
	for _, l := range []string{
		`pmip_errors_total{kind="malformed",role="mr"} 2`,
		`pmip_errors_total{kind="unexpected_handover_acknowledge",role="mr"} 1`,
	} {
		if !slices.Contains(lines, l) {
			t.Errorf("missing %s", l)
		}
	}
	wantFamily(t, lines, "pmip_mr_location_cache_entries",
		`pmip_mr_location_cache_entries{source="fallback"} 0`,
		`pmip_mr_location_cache_entries{source="handover"} 0`,
		`pmip_mr_location_cache_entries{source="other"} 1`,
		`pmip_mr_location_cache_entries{source="query"} 2`,
		`pmip_mr_location_cache_entries{source="redirect"} 1`)
	wantFamily(t, lines, "pmip_mr_held_prefixes", `pmip_mr_held_prefixes 1`)
	wantFamily(t, lines, "pmip_dmm_server_packets_total",
		`pmip_dmm_server_packets_total{result="answered",server="haa"} 2`,
		`pmip_dmm_server_packets_total{result="dropped",server="haa"} 1`,
		`pmip_dmm_server_packets_total{result="from_cache",server="haa"} 1`,
		`pmip_dmm_server_packets_total{result="received",server="haa"} 3`,
		`pmip_dmm_server_packets_total{result="send_failed",server="haa"} 0`)
	wantFamily(t, lines, "pmip_punt_held_packets")

	// A stopped MR: no MR series, one collect error per call.
	f.err = errDown
	lines = scrape(t, srv.URL)
	for _, fam := range []string{"pmip_bindings", "pmip_messages_total", "pmip_mr_held_prefixes", "pmip_mr_departed_nodes", "pmip_mr_location_cache_entries"} {
		wantFamily(t, lines, fam)
	}
	for _, src := range []string{"mr_counters", "mr_mns", "mr_locations", "mr_departures", "mr_held"} {
		var pb dto.Metric
		if err := m.collectErrors.WithLabelValues(src).Write(&pb); err != nil {
			t.Fatal(err)
		}
		if v := pb.GetCounter().GetValue(); v != 1 {
			t.Errorf("collect errors of %s: %v, want 1", src, v)
		}
	}
}
