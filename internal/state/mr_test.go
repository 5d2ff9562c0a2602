package state

import (
	"context"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// nopPunt is a punt path that holds nothing (the test sends no data).
type nopPunt struct{ misses chan mr.Miss }

func (nopPunt) Hold(netip.Prefix) error           { return nil }
func (nopPunt) Release(netip.Prefix) (int, error) { return 0, nil }
func (nopPunt) Drop(netip.Prefix) (int, error)    { return 0, nil }
func (nopPunt) Watch(netip.Prefix) error          { return nil }
func (p nopPunt) Misses() <-chan mr.Miss          { return p.misses }

// mrWorld is an MR in deployment A behind a scripted legacy MAG, with an
// in-process LM and HAA that outlive the MR's restarts.
type mrWorld struct {
	t      *testing.T
	clk    *clock.Fake
	net    *transport.Network
	lm     *lm.LM
	haa    *haa.HAA
	mag    *transport.Mem
	rx     chan mh.Message
	mrAddr netip.Addr
	pools  []mr.Pool
}

func newMRWorld(t *testing.T) *mrWorld {
	w := &mrWorld{t: t, clk: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), net: transport.NewNetwork(),
		rx: make(chan mh.Message, 64), mrAddr: netip.MustParseAddr("2001:db8:ff::11"),
		pools: []mr.Pool{{Prefix: netip.MustParsePrefix("2001:db8:11::/48"), AnchorMR: netip.MustParseAddr("2001:db8:ff::11")},
			{Prefix: netip.MustParsePrefix("2001:db8:12::/48"), AnchorMR: netip.MustParseAddr("2001:db8:ff::12")}}}
	st := store.NewMemory(store.WithClock(w.clk))
	t.Cleanup(func() { st.Close() })
	var err error
	if w.lm, err = lm.New(st, w.clk, lm.Config{}); err != nil {
		t.Fatal(err)
	}
	var hp []haa.PoolConfig
	for _, p := range w.pools {
		hp = append(hp, haa.PoolConfig{MR: p.AnchorMR, Prefix: p.Prefix})
	}
	if w.haa, err = haa.New(st, w.clk, haa.Config{Pools: hp}); err != nil {
		t.Fatal(err)
	}
	if w.mag, err = w.net.Attach(netip.MustParseAddr("2001:db8:ff::a1")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.mag.Close() })
	go func() {
		ps := make([]transport.Packet, 8)
		for {
			n, err := w.mag.Receive(ps)
			if err != nil {
				return
			}
			for _, p := range ps[:n] {
				if m, err := mh.Parse(p.Data); err == nil {
					w.rx <- m
				}
			}
		}
	}()
	return w
}

// start creates an MR on db (New only); run starts it.
func (w *mrWorld) start(db *DB) (*mr.MR, *dataplane.Fake, func(), func()) {
	w.t.Helper()
	tr, err := w.net.Attach(w.mrAddr)
	if err != nil {
		w.t.Fatal(err)
	}
	dp := dataplane.NewFake()
	m, err := mr.New(mr.Config{Address: w.mrAddr, CoreDev: "core0", Deployment: mr.DeployLMA, Pools: w.pools,
		Store: db.MR()}, mr.Deps{Transport: tr, DataPlane: dp, Punt: nopPunt{make(chan mr.Miss)}, Clock: w.clk,
		LM:  &wire.LocalLM{LM: w.lm, Clock: w.clk},
		HAA: &wire.LocalHAA{HAA: w.haa, MR: w.mrAddr, Clock: w.clk}})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	run := func() {
		go func() { done <- m.Run(ctx) }()
		if _, err := m.Counters(context.Background()); err != nil {
			w.t.Fatal(err)
		}
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		tr.Close()
		if err := <-done; err != nil {
			w.t.Errorf("Run: %v", err)
		}
	}
	w.t.Cleanup(stop)
	return m, dp, run, stop
}

func (w *mrWorld) pbu(seq uint16, mn string, hnps []netip.Prefix) {
	w.t.Helper()
	m := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 100}
	var opts mh.Options
	for _, p := range hnps {
		opts = append(opts, mh.NewHNP(p))
	}
	if len(hnps) == 0 {
		opts = append(opts, &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()})
	}
	m.Options = append(opts, mh.NewNAI(mn), &mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
		&mh.AccessTechnologyType{Value: 4}, &mh.LinkLocalAddress{Address: netip.IPv6Unspecified()})
	w.send(m)
}

func (w *mrWorld) send(m mh.Message) {
	w.t.Helper()
	b, err := m.Marshal()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.mag.Send(w.mrAddr, b); err != nil {
		w.t.Fatal(err)
	}
}

// expect returns the next message the MAG receives, of type T.
func expect[T mh.Message](w *mrWorld) T {
	w.t.Helper()
	select {
	case m := <-w.rx:
		x, ok := m.(T)
		if !ok {
			w.t.Fatalf("MAG received %T, want %T", m, x)
		}
		return x
	case <-time.After(10 * time.Second):
		var x T
		w.t.Fatalf("MAG received nothing, want %T", x)
		return x
	}
}

func pbaPrefixes(t *testing.T, pba *mh.BindingAck) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, o := range pba.Options {
		if h, ok := o.(*mh.HomeNetworkPrefix); ok {
			out = append(out, h.AsPrefix())
		}
	}
	return out
}

// TestMRRestart: deployment A, a legacy MAG registers three nodes; a new
// MR on the same state file resumes the same nodes, prefixes and data
// plane entries, keeps its Restart Counter, and accepts their
// re-registrations with the same prefixes. Once their lifetime has run
// out while the MR is down, a third MR restores nothing.
func TestMRRestart(t *testing.T) {
	w := newMRWorld(t)
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m1, dp1, run1, stop1 := w.start(db)
	if got := m1.Loaded(); got.Restored != 0 || !got.CounterBumped || got.RestartCounter != 1 {
		t.Fatalf("first start: Loaded %+v, want nothing restored, counter bumped to 1", got)
	}
	run1()
	mns := []string{"mn1@example.net", "mn2@example.net", "mn3@example.net"}
	prefixes := map[string][]netip.Prefix{}
	for i, mn := range mns {
		w.pbu(uint16(10+i), mn, nil)
		pba := expect[*mh.BindingAck](w)
		ps := pbaPrefixes(t, pba)
		if pba.Status != mh.StatusAccepted || pba.Sequence != uint16(10+i) || len(ps) != 1 || !w.pools[0].Prefix.Contains(ps[0].Addr()) {
			t.Fatalf("%s: PBA status %d seq %d prefixes %v", mn, pba.Status, pba.Sequence, ps)
		}
		prefixes[mn] = ps
	}
	ctx := context.Background()
	before, err := m1.MNs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantEntries, err := m1.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 3 || len(wantEntries) != 3 {
		t.Fatalf("before the restart: %d nodes, entries %v", len(before), wantEntries)
	}
	if have, _ := dp1.List(); !reflect.DeepEqual(sorted(have), wantEntries) {
		t.Fatalf("data plane %v, want %v", have, wantEntries)
	}
	stop1()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart: a new process on the same file, a flushed kernel.
	w.clk.Advance(time.Minute)
	if db, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	m2, dp2, run2, stop2 := w.start(db)
	if got := m2.Loaded(); got.Restored != 3 || got.Expired != 0 || got.Lost != 0 || got.CounterBumped || got.RestartCounter != 1 {
		t.Fatalf("restart: Loaded %+v, want 3 restored, counter kept at 1", got)
	}
	e2, err := m2.Entries(ctx) // before Run: what pmipd reconciles the kernel with
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e2, wantEntries) {
		t.Fatalf("Entries before Run after the restart:\n%v\nwant\n%v", e2, wantEntries)
	}
	run2()
	// RFC 5847 §3.2: the MAG learns of the restart, state kept.
	hb := expect[*mh.Heartbeat](w)
	if rc, ok := mh.Find[*mh.RestartCounter](hb.Options); !hb.Unsolicited() || !ok || rc.Counter != 1 {
		t.Fatalf("unsolicited heartbeat %+v", hb)
	}
	after, err := m2.MNs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("nodes after the restart:\n%+v\nwant\n%+v", after, before)
	}
	if have, _ := dp2.List(); !reflect.DeepEqual(sorted(have), wantEntries) {
		t.Fatalf("data plane after the restart %v, want %v", have, wantEntries)
	}
	// Re-registration of each node, in sequence after the restored one.
	for i, mn := range mns {
		w.pbu(uint16(20+i), mn, prefixes[mn])
		pba := expect[*mh.BindingAck](w)
		if ps := pbaPrefixes(t, pba); pba.Status != mh.StatusAccepted || !reflect.DeepEqual(ps, prefixes[mn]) {
			t.Fatalf("%s re-registration: status %d prefixes %v, want 0 %v", mn, pba.Status, ps, prefixes[mn])
		}
	}
	// An old sequence number is out of window: the restored ordering state.
	w.pbu(5, mns[0], prefixes[mns[0]])
	if pba := expect[*mh.BindingAck](w); pba.Status != mh.StatusSequenceOutOfWindow || pba.Sequence != 20 {
		t.Fatalf("stale PBU: status %d seq %d, want %d 20", pba.Status, pba.Sequence, mh.StatusSequenceOutOfWindow)
	}
	w.send(&mh.Heartbeat{Sequence: 7})
	hb = expect[*mh.Heartbeat](w)
	if rc, ok := mh.Find[*mh.RestartCounter](hb.Options); !hb.Response() || hb.Sequence != 7 || !ok || rc.Counter != 1 {
		t.Fatalf("heartbeat response %+v", hb)
	}
	if e, err := m2.Entries(ctx); err != nil || !reflect.DeepEqual(e, wantEntries) {
		t.Fatalf("Entries after re-registration %v (%v), want %v", e, err, wantEntries)
	}
	stop2()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Down longer than the lifetime (400 s): nothing comes back, and
	// the records go.
	w.clk.Advance(time.Hour)
	if db, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m3, _, run3, stop3 := w.start(db)
	if got := m3.Loaded(); got.Restored != 0 || got.Expired != 3 || got.CounterBumped {
		t.Fatalf("after expiry: Loaded %+v, want 3 expired", got)
	}
	if e, _ := m3.Entries(ctx); len(e) != 0 {
		t.Fatalf("entries of expired nodes: %v", e)
	}
	run3()
	stop3()
	if err := db.Barrier(); err != nil { // the deletions queued at the start
		t.Fatal(err)
	}
	st, err := db.MR().LoadMR()
	if err != nil || len(st.MNs) != 0 || st.RestartCounter != 1 {
		t.Fatalf("store after expiry: %d nodes, counter %d (%v)", len(st.MNs), st.RestartCounter, err)
	}
}

func sorted(es []dataplane.Entry) []dataplane.Entry {
	dataplane.SortEntries(es)
	return es
}

// TestMRNodeRecord: the record codec round-trips every field and refuses
// truncated records.
func TestMRNodeRecord(t *testing.T) {
	r := mr.StoredMN{MN: "mn@x", MNIDSubtype: mh.MNIDSubtype(1), MNID: []byte("mn@x"),
		MAG: netip.MustParseAddr("2001:db8::a1"), Link: "eth1", IfIndex: 7, MAC: []byte{2, 0, 0, 0, 0, 1},
		LinkLocal: netip.MustParseAddr("fe80::1"), ATT: 4, HI: mh.HIAttachNewInterface,
		Prefixes: []mr.StoredPrefix{{Prefix: netip.MustParsePrefix("2001:db8:11:1::/64"), AnchorMR: netip.MustParseAddr("2001:db8:ff::11")},
			{Prefix: netip.MustParsePrefix("2001:db8:12:1::/64"), AnchorMR: netip.MustParseAddr("2001:db8:ff::12"), Deprecated: true}},
		Moved: true, PreviousMR: netip.MustParseAddr("2001:db8:ff::12"), Lifetime: 400 * time.Second,
		Expires: time.Date(2026, 1, 1, 0, 6, 40, 0, time.UTC), Sequence: 65535, HasSequence: true, Timestamp: 1 << 40}
	b := encodeMRNode(&r)
	var got mr.StoredMN
	if err := decodeMRNode(b, &got); err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip: %v\n%+v\nwant\n%+v", err, got, r)
	}
	for n := range len(b) {
		if err := decodeMRNode(b[:n], &got); err == nil {
			t.Fatalf("truncated to %d octets: no error", n)
		}
	}
}
