package state

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

var (
	lmaAddr = addr("2001:db8:ff::1")
	mag1    = addr("2001:db8:ff::11")
	mag2    = addr("2001:db8:ff::12")
	t0      = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
)

// domain is an in-memory network with MAG nodes and a fake clock, on
// which LMAs are started and stopped over one state file.
type domain struct {
	t     *testing.T
	clk   *clock.Fake
	net   *transport.Network
	path  string
	nodes map[netip.Addr]*transport.Mem
	seq   map[string]uint16
}

func newDomain(t *testing.T) *domain {
	return &domain{t: t, clk: clock.NewFake(t0), net: transport.NewNetwork(),
		path: filepath.Join(t.TempDir(), "lma.db"), nodes: map[netip.Addr]*transport.Mem{}, seq: map[string]uint16{}}
}

type running struct {
	l    *lma.LMA
	db   *DB
	dp   *dataplane.Fake
	tr   *transport.Mem
	stop func()
	ran  bool
}

func lmaConfig() lma.Config {
	return lma.Config{
		Address:                 lmaAddr,
		Pools:                   []netip.Prefix{pfx("2001:db8:100::/56")},
		DefaultMN:               &lma.MNPolicy{},
		HeartbeatInterval:       -1,
		MinDelayBeforeBCEDelete: 60 * time.Second,
	}
}

// start opens the file and creates an LMA on it; run starts it.
func (d *domain) start(dp *dataplane.Fake, mut func(*lma.Config)) *running {
	d.t.Helper()
	db, err := Open(d.path, Options{})
	if err != nil {
		d.t.Fatal(err)
	}
	tr, err := d.net.Attach(lmaAddr)
	if err != nil {
		d.t.Fatal(err)
	}
	cfg := lmaConfig()
	if mut != nil {
		mut(&cfg)
	}
	cfg.Transport, cfg.DataPlane, cfg.Clock, cfg.Store = tr, dp, d.clk, db.LMA()
	l, err := lma.New(cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	r := &running{l: l, db: db, dp: dp, tr: tr}
	r.stop = func() { tr.Close(); db.Close() }
	d.t.Cleanup(func() { r.stop() })
	return r
}

func (d *domain) run(r *running) {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.l.Run(ctx) }()
	r.stop = func() {
		if r.ran {
			return
		}
		r.ran = true
		cancel()
		r.tr.Close()
		if err := <-done; err != nil {
			d.t.Errorf("Run: %v", err)
		}
		if err := r.db.Close(); err != nil {
			d.t.Errorf("Close: %v", err)
		}
	}
	if _, err := r.l.Counters(context.Background()); err != nil {
		d.t.Fatal(err)
	}
}

func (d *domain) node(a netip.Addr) *transport.Mem {
	if m := d.nodes[a]; m != nil {
		return m
	}
	m, err := d.net.Attach(a)
	if err != nil {
		d.t.Fatal(err)
	}
	d.nodes[a] = m
	d.t.Cleanup(func() { m.Close() })
	return m
}

// recv waits up to 5 s for n messages at node a.
func (d *domain) recv(a netip.Addr, n int) []mh.Message {
	d.t.Helper()
	m := d.node(a)
	var out []mh.Message
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < n {
		if m.Pending() == 0 {
			if time.Now().After(deadline) {
				d.t.Fatalf("%v: %d of %d messages after 5 s: %v", a, len(out), n, out)
			}
			time.Sleep(time.Millisecond)
			continue
		}
		ps := make([]transport.Packet, 1)
		if _, err := m.Receive(ps); err != nil {
			d.t.Fatal(err)
		}
		x, err := mh.Parse(ps[0].Data)
		if err != nil {
			d.t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// quiet checks that nothing more arrives at a within 20 ms.
func (d *domain) quiet(a netip.Addr) {
	d.t.Helper()
	time.Sleep(20 * time.Millisecond)
	if n := d.node(a).Pending(); n != 0 {
		d.t.Fatalf("%v: %d unexpected messages: %v", a, n, d.recv(a, n))
	}
}

// pbu sends a PBU for mn (sequence scheme, ALL_ZERO or the given HNPs)
// and returns the PBA.
func (d *domain) pbu(mag netip.Addr, mn string, seq, lifetime uint16, hi mh.HandoffIndicatorValue, hnps ...netip.Prefix) *mh.BindingAck {
	d.t.Helper()
	bu := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: lifetime}
	if len(hnps) == 0 {
		bu.Options = append(bu.Options, &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()})
	}
	for _, p := range hnps {
		bu.Options = append(bu.Options, mh.NewHNP(p))
	}
	bu.Options = append(bu.Options, mh.NewNAI(mn), &mh.HandoffIndicator{Value: hi}, &mh.AccessTechnologyType{Value: 4})
	b, err := bu.Marshal()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := d.node(mag).Send(lmaAddr, b); err != nil {
		d.t.Fatal(err)
	}
	ba, ok := d.recv(mag, 1)[0].(*mh.BindingAck)
	if !ok {
		d.t.Fatal("not a PBA")
	}
	return ba
}

func (d *domain) register(mag netip.Addr, mn string, lifetime uint16) netip.Prefix {
	d.t.Helper()
	d.seq[mn]++
	ba := d.pbu(mag, mn, d.seq[mn], lifetime, mh.HIAttachNewInterface)
	if ba.Status != mh.StatusAccepted {
		d.t.Fatalf("%s: status %v", mn, ba.Status)
	}
	h, ok := mh.Find[*mh.HomeNetworkPrefix](ba.Options)
	if !ok {
		d.t.Fatalf("%s: no HNP in the PBA", mn)
	}
	return h.AsPrefix()
}

func bindings(t *testing.T, l *lma.LMA) []lma.Binding {
	t.Helper()
	bs, err := l.Bindings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func route(p netip.Prefix, mag netip.Addr) dataplane.Entry {
	return dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: p, Remote: mag}
}

// TestLMARestart registers MNs, stops the LMA, starts a new one on the
// same file and checks that it resumes exactly: bindings, timers (expired
// dropped, de-registration delay resumed with its remaining time),
// sequence numbers, pool allocations and cursor (no prefix handed out
// twice), Restart Counter (kept: no state lost), the unsolicited Heartbeat
// Response to each MAG, and the data plane made to match by Reconcile.
func TestLMARestart(t *testing.T) {
	d := newDomain(t)
	r1 := d.start(dataplane.NewFake(), nil)
	if st := r1.l.Loaded(); st.Restored != 0 || !st.CounterBumped || r1.l.RestartCounter() != 1 {
		t.Fatalf("first start on a new file: %+v, counter %d (want bumped to 1)", st, r1.l.RestartCounter())
	}
	d.run(r1)
	const n = 20
	prefix := map[string]netip.Prefix{}
	issued := map[netip.Prefix]bool{}
	mnName := func(i int) string { return fmt.Sprintf("mn%02d@example", i) }
	for i := range n {
		mag, lifetime := mag1, uint16(100) // 400 s
		if i >= n/2 {
			mag = mag2
		}
		if i >= n-2 {
			lifetime = 5 // 20 s: expires while the LMA is down
		}
		p := d.register(mag, mnName(i), lifetime)
		if issued[p] {
			t.Fatalf("%v issued twice", p)
		}
		prefix[mnName(i)], issued[p] = p, true
	}
	// mn17 de-registers: deleted 60 s later.
	d.seq[mnName(17)]++
	if ba := d.pbu(mag2, mnName(17), d.seq[mnName(17)], 0, mh.HIAttachNewInterface, prefix[mnName(17)]); ba.Status != mh.StatusAccepted {
		t.Fatalf("de-registration: %v", ba.Status)
	}
	before := bindings(t, r1.l)
	if len(before) != n {
		t.Fatalf("%d bindings, want %d", len(before), n)
	}
	d.clk.Advance(5 * time.Second)
	r1.stop()

	// Down for 20 s more: mn18 and mn19 expire; mn17 has 35 s left.
	d.clk.Advance(20 * time.Second)

	// The kernel as the crash left it, and then some: a stale route, mn00
	// towards the wrong MAG, mn01 right, mn18 (expired) still there.
	dp := dataplane.NewFake()
	for _, e := range []dataplane.Entry{
		route(pfx("2001:db8:999::/64"), mag1), route(prefix[mnName(0)], mag2),
		route(prefix[mnName(1)], mag1), route(prefix[mnName(18)], mag2),
	} {
		if err := dp.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	r2 := d.start(dp, nil)
	if st := r2.l.Loaded(); st != (lma.LoadStats{Restored: n - 2, Expired: 2}) {
		t.Fatalf("load: %+v", st)
	}
	if rc := r2.l.RestartCounter(); rc != 1 {
		t.Fatalf("Restart Counter %d after a restart without loss, want 1 (RFC 5847 §3.2: MUST NOT be incremented)", rc)
	}
	var want []dataplane.Entry
	for i := range 17 {
		mag := mag1
		if i >= n/2 {
			mag = mag2
		}
		want = append(want, route(prefix[mnName(i)], mag))
	}
	dataplane.SortEntries(want)
	got, err := r2.l.Entries(context.Background()) // before Run
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("wanted entries before Run:\n got %v\nwant %v", got, want)
	}
	added, removed, err := dataplane.Reconcile(dp, got)
	if err != nil {
		t.Fatal(err)
	}
	if added != 16 || removed != 3 {
		t.Fatalf("Reconcile added %d removed %d, want 16 and 3 (stale, wrong MAG, expired)", added, removed)
	}
	if have, _ := dp.List(); !reflect.DeepEqual(have, want) {
		t.Fatalf("data plane after Reconcile:\n got %v\nwant %v", have, want)
	}
	ops := len(dp.Ops())
	d.run(r2)

	// Each MAG gets one unsolicited Heartbeat Response with the counter.
	for _, mag := range []netip.Addr{mag1, mag2} {
		hb, ok := d.recv(mag, 1)[0].(*mh.Heartbeat)
		if !ok || hb.Flags != mh.HeartbeatFlagR|mh.HeartbeatFlagU {
			t.Fatalf("%v: %#v, want an unsolicited Heartbeat Response", mag, hb)
		}
		if rc, ok := mh.Find[*mh.RestartCounter](hb.Options); !ok || rc.Counter != 1 {
			t.Fatalf("%v: Restart Counter option %+v", mag, hb.Options)
		}
		d.quiet(mag)
	}
	// Same bindings, less the expired ones; Run touched no route.
	after := bindings(t, r2.l)
	wantB := slices.DeleteFunc(slices.Clone(before), func(b lma.Binding) bool {
		return b.MN == mnName(18) || b.MN == mnName(19)
	})
	if !reflect.DeepEqual(after, wantB) {
		t.Fatalf("bindings after restart:\n got %+v\nwant %+v", after, wantB)
	}
	if extra := dp.Ops()[ops:]; !slices.Equal(extra, []string{"setup " + lmaAddr.String()}) {
		t.Fatalf("Run did more than Setup on the reconciled data plane: %v", extra)
	}

	// Sequence numbers were kept: a replayed PBU gets 135, the next one
	// refreshes the same session.
	mn := mnName(0)
	if ba := d.pbu(mag1, mn, d.seq[mn], 100, mh.HIAttachNewInterface, prefix[mn]); ba.Status != mh.StatusSequenceOutOfWindow || ba.Sequence != d.seq[mn] {
		t.Fatalf("replayed PBU: status %v seq %d", ba.Status, ba.Sequence)
	}
	d.seq[mn]++
	if ba := d.pbu(mag1, mn, d.seq[mn], 100, mh.HIAttachNewInterface, prefix[mn]); ba.Status != mh.StatusAccepted || len(bindings(t, r2.l)) != n-2 {
		t.Fatalf("refresh of %s: %v, %d bindings", mn, ba.Status, len(bindings(t, r2.l)))
	}
	// New MNs never get a prefix handed out before, not even those of
	// the expired bindings (the pool cursor was restored).
	for i := n; i < n+30; i++ {
		p := d.register(mag1, mnName(i), 100)
		if issued[p] {
			t.Fatalf("%s got %v, handed out before the restart", mnName(i), p)
		}
		issued[p] = true
	}
	// mn17's de-registration delay resumes with its remaining 35 s.
	state17 := func() []lma.Binding {
		bs, err := r2.l.Binding(context.Background(), mnName(17))
		if err != nil {
			t.Fatal(err)
		}
		return bs
	}
	d.clk.Advance(34 * time.Second)
	if bs := state17(); len(bs) != 1 || bs[0].State != lma.StateDeregistered {
		t.Fatalf("mn17 34 s after the restart: %+v", bs)
	}
	d.clk.Advance(2 * time.Second)
	if bs := state17(); len(bs) != 0 {
		t.Fatalf("mn17 36 s after the restart: %+v, want deleted", bs)
	}
	r2.stop()

	// The third start sees the deletions made by the second.
	r3 := d.start(dataplane.NewFake(), nil)
	if st := r3.l.Loaded(); st.Restored != n-3+30 || st.Expired != 0 || st.Lost != 0 || r3.l.RestartCounter() != 1 {
		t.Fatalf("third start: %+v, counter %d", st, r3.l.RestartCounter())
	}
}

// TestRestartCounterPolicy: bumped at the first start and when records
// were lost, kept after a full restore, bumped at every start with
// RestartCounterAlways (and then announced with the new value).
func TestRestartCounterPolicy(t *testing.T) {
	d := newDomain(t)
	r := d.start(dataplane.NewFake(), nil)
	d.run(r)
	d.register(mag1, "a@example", 100)
	r.stop()
	steps := []struct {
		name   string
		always bool
		spoil  bool
		want   uint32
	}{
		{"full restore", false, false, 1},
		{"always", true, false, 2},
		{"full restore again", false, false, 2},
		{"a record lost", false, true, 3},
	}
	for _, s := range steps {
		if s.spoil {
			db, err := Open(d.path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			saveSync(t, db.LMA(), lma.StoreChanges{})
			if err := db.write(func(tx *bolt.Tx) error { return tx.Bucket(bucketLMABindings).Put(idKey(1000), []byte{1}) }); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
		r := d.start(dataplane.NewFake(), func(c *lma.Config) { c.RestartCounterAlways = s.always })
		if rc := r.l.RestartCounter(); rc != s.want {
			t.Fatalf("%s: counter %d, want %d", s.name, rc, s.want)
		}
		d.run(r)
		hb := d.recv(mag1, 1)[0].(*mh.Heartbeat)
		if rc, _ := mh.Find[*mh.RestartCounter](hb.Options); rc == nil || rc.Counter != s.want || !hb.Unsolicited() {
			t.Fatalf("%s: heartbeat %+v", s.name, hb)
		}
		// Answers to requests carry it too.
		req, _ := (&mh.Heartbeat{Sequence: 9}).Marshal()
		d.node(mag1).Send(lmaAddr, req)
		resp := d.recv(mag1, 1)[0].(*mh.Heartbeat)
		if rc, _ := mh.Find[*mh.RestartCounter](resp.Options); rc == nil || rc.Counter != s.want || resp.Sequence != 9 {
			t.Fatalf("%s: response %+v", s.name, resp)
		}
		r.stop()
	}
}

// A binding being revoked when the LMA stopped is revoked again at start
// (BRI re-sent), with no route wanted meanwhile.
func TestRestartResumesRevocation(t *testing.T) {
	d := newDomain(t)
	r := d.start(dataplane.NewFake(), nil)
	d.run(r)
	p := d.register(mag1, "r@example", 100)
	if _, err := r.l.Revoke(context.Background(), "r@example", netip.Prefix{}, mh.TriggerAdministrativeReason); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.recv(mag1, 1)[0].(*mh.BindingRevocationIndication); !ok {
		t.Fatal("no BRI")
	}
	if err := r.db.Barrier(); err != nil {
		t.Fatal(err)
	}
	r.stop()
	r2 := d.start(dataplane.NewFake(), nil)
	if es, _ := r2.l.Entries(context.Background()); len(es) != 0 {
		t.Fatalf("entries wanted for a binding being revoked: %v", es)
	}
	d.run(r2)
	ms := d.recv(mag1, 2) // unsolicited heartbeat and the BRI, in any order
	var bri *mh.BindingRevocationIndication
	for _, m := range ms {
		if x, ok := m.(*mh.BindingRevocationIndication); ok {
			bri = x
		}
	}
	if bri == nil || bri.Trigger != mh.TriggerAdministrativeReason {
		t.Fatalf("after restart: %v, want a BRI with the stored trigger", ms)
	}
	if h, _ := mh.Find[*mh.HomeNetworkPrefix](bri.Options); h == nil || h.AsPrefix() != p {
		t.Fatalf("BRI options %v", bri.Options)
	}
	bs := bindings(t, r2.l)
	if len(bs) != 1 || bs[0].State != lma.StateRevoking {
		t.Fatalf("bindings %+v", bs)
	}
}
