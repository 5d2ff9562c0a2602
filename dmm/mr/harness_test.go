package mr

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

var (
	t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	// The draft's Figure 1: MR addresses (outside every pool) and pools.
	addrs = map[string]netip.Addr{
		"MR11": netip.MustParseAddr("2001:db8:ff::11"),
		"MR12": netip.MustParseAddr("2001:db8:ff::12"),
		"MR2":  netip.MustParseAddr("2001:db8:ff::2"),
		"MR31": netip.MustParseAddr("2001:db8:ff::31"),
		"MR32": netip.MustParseAddr("2001:db8:ff::32"),
		"MRCN": netip.MustParseAddr("2001:db8:ff::c0"),
		"MAG1": netip.MustParseAddr("2001:db8:ff::a1"),
		"MAG2": netip.MustParseAddr("2001:db8:ff::a2"),
	}
	pools = map[string]netip.Prefix{
		"MR11": netip.MustParsePrefix("2001:db8:11::/48"),
		"MR12": netip.MustParsePrefix("2001:db8:12::/48"),
		"MR2":  netip.MustParsePrefix("2001:db8:2::/48"),
		"MR31": netip.MustParsePrefix("2001:db8:31::/48"),
		"MR32": netip.MustParsePrefix("2001:db8:32::/48"),
		"MRCN": netip.MustParsePrefix("2001:db8:c1::/48"),
	}
	cnPrefix = netip.MustParsePrefix("2001:db8:c0::/64") // fixed nodes behind MRCN (§6)
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// domainPools is the pool table every MR and the HAA share.
func domainPools() []Pool {
	var out []Pool
	for n, p := range pools {
		out = append(out, Pool{Prefix: p, AnchorMR: addrs[n]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix.Addr().Less(out[j].Prefix.Addr()) })
	return out
}

func name(a netip.Addr) string {
	for n, x := range addrs {
		if x == a {
			return n
		}
	}
	return a.String()
}

// ---- in-process LM and HAA (dmm/wire adapters), recording the calls ----

type recorder struct {
	mu  *sync.Mutex
	log *[]string
	who string
}

func (r recorder) note(s string) {
	r.mu.Lock()
	*r.log = append(*r.log, r.who+" "+s)
	r.mu.Unlock()
}

type lmRec struct {
	recorder
	wire.LocationService
}

func (a *lmRec) Query(ctx context.Context, q wire.Query) ([]wire.Location, error) {
	a.note("LM.Query " + q.String())
	return a.LocationService.Query(ctx, q)
}

func (a *lmRec) Update(ctx context.Context, mnID string, ps []netip.Prefix, cur, anchor netip.Addr, life time.Duration) error {
	a.note(fmt.Sprintf("LM.Update %s %v current=%s anchor=%s", mnID, ps, name(cur), name(anchor)))
	return a.LocationService.Update(ctx, mnID, ps, cur, anchor, life)
}

type haaRec struct {
	recorder
	wire.AddressAllocator
	gate *gate
}

// gate holds the HAA's answers back while shut (a slow HAA).
type gate struct {
	mu sync.Mutex
	ch chan struct{}
}

func (g *gate) shut() {
	g.mu.Lock()
	g.ch = make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) open() {
	g.mu.Lock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
	g.mu.Unlock()
}

func (g *gate) wait(ctx context.Context) {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
}

func (a *haaRec) Allocate(ctx context.Context, mnID string) ([]wire.Holding, error) {
	a.note("HAA.Allocate " + mnID)
	return a.AddressAllocator.Allocate(ctx, mnID)
}

func (a *haaRec) Holdings(ctx context.Context, mnID string) ([]wire.Holding, error) {
	a.note("HAA.Holdings " + mnID)
	a.gate.wait(ctx)
	return a.AddressAllocator.Holdings(ctx, mnID)
}

// ---- fake punt ----

// fakePunt is the punt path: like internal/punt it reports the first
// packet of a missed prefix as a Miss and, while a prefix is held, each
// new source /64 of its packets (the Miss's own excepted) as a
// HeldSource.
type fakePunt struct {
	mu       sync.Mutex
	ops      []string
	held     map[netip.Prefix]int // packets buffered per held prefix
	srcs     map[netip.Prefix]map[netip.Prefix]bool
	misses   chan Miss
	sources  chan HeldSource
	injected int
	reported int
}

func newFakePunt() *fakePunt {
	return &fakePunt{held: map[netip.Prefix]int{}, srcs: map[netip.Prefix]map[netip.Prefix]bool{},
		misses: make(chan Miss, 16), sources: make(chan HeldSource, 16)}
}

var _ SourceReporter = (*fakePunt)(nil)

func (f *fakePunt) Sources() <-chan HeldSource { return f.sources }

func (f *fakePunt) op(s string) {
	f.mu.Lock()
	f.ops = append(f.ops, s)
	f.mu.Unlock()
}

func (f *fakePunt) Hold(p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "hold "+p.String())
	f.held[p] += 0
	return nil
}

func (f *fakePunt) Release(p netip.Prefix) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.held[p]
	delete(f.held, p)
	delete(f.srcs, p)
	f.ops = append(f.ops, "release "+p.String())
	return n, nil
}

func (f *fakePunt) Drop(p netip.Prefix) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.held[p]
	delete(f.held, p)
	delete(f.srcs, p)
	f.ops = append(f.ops, "drop "+p.String())
	return n, nil
}

func (f *fakePunt) Watch(p netip.Prefix) error { f.op("watch " + p.String()); return nil }
func (f *fakePunt) Misses() <-chan Miss        { return f.misses }

// packet simulates packets reaching a held (or watched and missing) prefix.
func (f *fakePunt) packet(dst, src netip.Addr, n int, miss bool) {
	p := netip.PrefixFrom(dst, 64).Masked()
	sp := netip.PrefixFrom(src, 64).Masked()
	f.mu.Lock()
	_, held := f.held[p]
	f.held[p] += n
	if f.srcs[p] == nil {
		f.srcs[p] = map[netip.Prefix]bool{}
	}
	seen := f.srcs[p][sp]
	f.srcs[p][sp] = true
	if !held && miss {
		f.injected++
		f.mu.Unlock()
		f.misses <- Miss{Dst: dst, Src: src, Prefix: p, At: t0}
		return
	}
	if !held || seen {
		f.mu.Unlock()
		return
	}
	f.reported++
	f.mu.Unlock()
	f.sources <- HeldSource{Prefix: p, Src: src, SrcPrefix: sp, Dst: dst, At: t0}
}

// takeOps returns the operations since the last call, watches excluded.
func (f *fakePunt) takeOps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, o := range f.ops {
		if !strings.HasPrefix(o, "watch ") {
			out = append(out, o)
		}
	}
	f.ops = nil
	return out
}

// ---- fake access side ----

type fakeAccess struct {
	mu     sync.Mutex
	handle func(AccessEvent)
	ads    []Advert
}

func (f *fakeAccess) Start(h func(AccessEvent)) error {
	f.mu.Lock()
	f.handle = h
	f.mu.Unlock()
	return nil
}
func (f *fakeAccess) Close() error { return nil }
func (f *fakeAccess) Advertise(a Advert) error {
	f.mu.Lock()
	f.ads = append(f.ads, a)
	f.mu.Unlock()
	return nil
}
func (f *fakeAccess) emit(ev AccessEvent) {
	f.mu.Lock()
	h := f.handle
	f.mu.Unlock()
	h(ev)
}
func (f *fakeAccess) takeAds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.ads {
		var ps []string
		for _, p := range a.Prefixes {
			ps = append(ps, fmt.Sprintf("%s pref=%v valid=%v", p.Prefix, p.Preferred, p.Valid))
		}
		out = append(out, fmt.Sprintf("RA %s to %s: %s", a.Link, a.Dst, strings.Join(ps, ", ")))
	}
	f.ads = nil
	return out
}

// ---- the world ----

type node struct {
	name   string
	mr     *MR
	tr     *transport.Mem
	dp     *dataplane.Fake
	punt   *fakePunt
	acc    *fakeAccess
	done   chan error
	cancel context.CancelFunc
	// haa holds this MR's HAA answers back while shut.
	haa *gate
	// handovers: what Deps.OnHandover reported (guarded by world.mu).
	handovers []time.Duration
}

type wireMsg struct {
	src, dst netip.Addr
	data     []byte
}

type world struct {
	t     *testing.T
	ctx   context.Context
	clk   *clock.Fake
	net   *transport.Network
	st    *store.Memory
	lm    *lm.LM
	haa   *haa.HAA
	mu    sync.Mutex
	calls []string
	wire  []wireMsg
	deliv map[netip.Addr]int
	nodes map[string]*node
	peers map[string]*transport.Mem
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, ctx: context.Background(), clk: clock.NewFake(t0), net: transport.NewNetwork(),
		deliv: map[netip.Addr]int{}, nodes: map[string]*node{}}
	w.st = store.NewMemory(store.WithClock(w.clk))
	t.Cleanup(func() { w.st.Close() })
	var err error
	if w.lm, err = lm.New(w.st, w.clk, lm.Config{}); err != nil {
		t.Fatal(err)
	}
	var hp []haa.PoolConfig
	for _, p := range domainPools() {
		hp = append(hp, haa.PoolConfig{MR: p.AnchorMR, Prefix: p.Prefix})
	}
	if w.haa, err = haa.New(w.st, w.clk, haa.Config{Pools: hp}); err != nil {
		t.Fatal(err)
	}
	w.net.Tap(func(p transport.Packet) {
		w.mu.Lock()
		w.wire = append(w.wire, wireMsg{src: p.Src, dst: p.Dst, data: p.Data})
		w.deliv[p.Dst]++
		w.mu.Unlock()
	})
	return w
}

// add starts an MR named n with cfg adjusted by the defaults of the tests.
func (w *world) add(n string, cfg Config) *node {
	w.t.Helper()
	return w.addWith(n, cfg, nil, nil)
}

// addWith is add with the given access side (nil: a fakeAccess in
// deployment B) and punt path (nil: a fakePunt).
func (w *world) addWith(n string, cfg Config, acc Access, pt Punt) *node {
	w.t.Helper()
	cfg.Address = addrs[n]
	cfg.Pools = domainPools()
	if cfg.CoreDev == "" {
		cfg.CoreDev = "core0"
	}
	tr, err := w.net.Attach(cfg.Address)
	if err != nil {
		w.t.Fatal(err)
	}
	nd := &node{name: n, tr: tr, dp: dataplane.NewFake(), punt: newFakePunt(), done: make(chan error, 1), haa: &gate{}}
	rec := recorder{mu: &w.mu, log: &w.calls, who: n}
	deps := Deps{Transport: tr, DataPlane: nd.dp, Punt: nd.punt, Clock: w.clk, Access: acc,
		LM:  &lmRec{rec, &wire.LocalLM{LM: w.lm, Clock: w.clk}},
		HAA: &haaRec{rec, &wire.LocalHAA{HAA: w.haa, MR: cfg.Address, Clock: w.clk}, nd.haa}}
	deps.OnHandover = func(d time.Duration) {
		w.mu.Lock()
		nd.handovers = append(nd.handovers, d)
		w.mu.Unlock()
	}
	if pt != nil {
		deps.Punt = pt
	}
	if cfg.Deployment != DeployLMA && acc == nil {
		nd.acc = &fakeAccess{}
		deps.Access = nd.acc
	}
	if nd.mr, err = New(cfg, deps); err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	nd.cancel = cancel
	go func() { nd.done <- nd.mr.Run(ctx) }()
	w.t.Cleanup(func() {
		nd.haa.open()
		cancel()
		tr.Close()
		if err := <-nd.done; err != nil {
			w.t.Errorf("%s: Run: %v", n, err)
		}
	})
	w.nodes[n] = nd
	// Wait until running.
	if _, err := nd.mr.Counters(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	return nd
}

// settle waits until every MR has processed everything sent to it, its
// LM/HAA calls are answered and the punt misses consumed.
func (w *world) settle() {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	stable := 0
	for stable < 3 {
		if time.Now().After(deadline) {
			w.t.Fatal("the MRs do not settle")
		}
		idle := true
		for _, nd := range w.nodes {
			if err := nd.mr.call(w.ctx, func() {}); err != nil {
				w.t.Fatal(err)
			}
			w.mu.Lock()
			dl := w.deliv[nd.mr.cfg.Address]
			w.mu.Unlock()
			nd.punt.mu.Lock()
			inj, rep := nd.punt.injected, nd.punt.reported
			nd.punt.mu.Unlock()
			if nd.mr.busy.Load() != 0 || uint64(dl) != nd.mr.processed.Load() || uint64(inj) != nd.mr.misses.Load() ||
				uint64(rep) != nd.mr.sources.Load() {
				idle = false
			}
		}
		if idle {
			stable++
		} else {
			stable = 0
		}
		time.Sleep(time.Millisecond)
	}
}

// advance moves the fake clock and settles.
func (w *world) advance(d time.Duration) {
	w.t.Helper()
	w.clk.Advance(d)
	w.settle()
}

// takeWire decodes what crossed the network since the last call.
func (w *world) takeWire() []string {
	w.mu.Lock()
	ms := w.wire
	w.wire = nil
	w.mu.Unlock()
	var out []string
	for _, x := range ms {
		out = append(out, name(x.src)+">"+name(x.dst)+" "+summary(w.t, x.data))
	}
	return out
}

func (w *world) takeCalls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.calls
	w.calls = nil
	sort.Strings(out)
	return out
}

// summary renders a Mobility Header for the assertions.
func summary(t *testing.T, b []byte) string {
	t.Helper()
	m, err := mh.Parse(b)
	if err != nil {
		t.Fatalf("cannot decode what crossed the network: %v", err)
	}
	var s string
	switch x := m.(type) {
	case *mh.BindingUpdate:
		s = fmt.Sprintf("PBU seq=%d life=%d", x.Sequence, x.Lifetime)
	case *mh.BindingAck:
		s = fmt.Sprintf("PBA status=%d seq=%d life=%d", x.Status, x.Sequence, x.Lifetime)
	case *mh.HandoverInitiate:
		s = fmt.Sprintf("HI P=%v F=%v code=%d", x.Flags&mh.HIFlagP != 0, x.Flags&mh.HIFlagF != 0, x.Code)
	case *mh.HandoverAck:
		s = fmt.Sprintf("HAck P=%v F=%v code=%d", x.Flags&mh.HAckFlagP != 0, x.Flags&mh.HAckFlagF != 0, x.Code)
	case *mh.Redirect:
		s = fmt.Sprintf("Redirect A=%v", x.AckRequested())
	case *mh.RedirectAck:
		s = fmt.Sprintf("RedirectAck status=%d", x.Status)
	case *mh.Heartbeat:
		s = fmt.Sprintf("Heartbeat R=%v", x.Response())
	default:
		s = msgName(m)
	}
	for _, o := range m.MHBase().Options {
		switch x := o.(type) {
		case *mh.MNIdentifier:
			s += " mnid=" + string(x.Identifier)
		case *mh.HomeNetworkPrefix:
			s += " hnp=" + x.AsPrefix().String()
		case *mh.HandoffIndicator:
			s += fmt.Sprintf(" hi=%d", x.Value)
		case *mh.ContextRequest:
			var ts []string
			for _, r := range x.Requests {
				ts = append(ts, fmt.Sprint(uint8(r.Type)))
			}
			s += " ctxreq=" + strings.Join(ts, ",")
		case *mh.RoutingLocation:
			f := ""
			if x.Flags&mh.RLFlagF != 0 {
				f = "F"
			}
			s += fmt.Sprintf(" rl=%s%s@%s>%s/%d", f, x.AsPrefix(), name(x.AnchorMR), name(x.CurrentMR), x.Lifetime)
		case *mh.MobilityContext:
			s += fmt.Sprintf(" mc=%#x/att%d/rem%d/seq%d/fwd%d", uint8(x.Flags), x.ATT, x.RemainingLifetime, x.LastSequence, x.ForwardingLifetime)
		case *mh.MNLinkLocalAddressIID:
			s += " lliid=" + x.LinkLocal().String()
		case *mh.LinkLocalAddress:
			s += " lla=" + x.Address.String()
		}
	}
	return s
}

// expectSeq compares got with want, a sequence of groups whose members
// may come in any order (messages sent concurrently by different MRs).
func expectSeq(t *testing.T, what string, got []string, want ...[]string) {
	t.Helper()
	i := 0
	ok := true
	for _, g := range want {
		if i+len(g) > len(got) {
			ok = false
			break
		}
		a := slices.Clone(got[i : i+len(g)])
		b := slices.Clone(g)
		sort.Strings(a)
		sort.Strings(b)
		if !slices.Equal(a, b) {
			ok = false
			break
		}
		i += len(g)
	}
	if !ok || i != len(got) {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(slices.Concat(want...), "\n  "))
	}
}

func one(s ...string) []string { return s }

// entries lists a node's data plane as strings.
func (nd *node) entries(t *testing.T) []string {
	t.Helper()
	es, err := nd.dp.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		s := e.Kind.String() + " " + e.Prefix.String()
		if e.Remote.IsValid() {
			s += " -> " + name(e.Remote)
		}
		if e.Dev != "" {
			s += " dev " + e.Dev
		}
		out = append(out, s)
	}
	// The MR's own view must match what is installed.
	mine, err := nd.mr.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != len(es) {
		t.Errorf("%s: MR wants %v, data plane has %v", nd.name, mine, es)
	}
	return out
}

func expectList(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// lmState renders the LM's records of mn.
func (w *world) lmState(mn string) []string {
	w.t.Helper()
	recs, err := w.lm.QueryMN(w.ctx, mn)
	if err != nil && !errors.Is(err, lm.ErrNotFound) {
		w.t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%s anchor=%s current=%s", r.Prefix, name(r.AnchorMR), name(r.CurrentMR)))
	}
	return out
}

func (w *world) haaState(mn string) []string {
	w.t.Helper()
	hs, err := w.haa.Holdings(w.ctx, mn)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%s anchor=%s", h.Prefix, name(h.AnchorMR)))
	}
	return out
}

// attachB attaches mn to the access link of nd (deployment B) and settles.
func (w *world) attachB(nd *node, mn, link string, moved bool) {
	w.t.Helper()
	nd.acc.emit(AccessEvent{Kind: Attached, MNID: mn, Link: link, IfIndex: 7, ATT: mh.ATT(4),
		LinkLocal: addr("fe80::1:2ff:fe00:1"), Moved: moved})
	w.settle()
}

func (w *world) detachB(nd *node, mn, link string) {
	w.t.Helper()
	nd.acc.emit(AccessEvent{Kind: Detached, MNID: mn, Link: link})
	w.settle()
}

// mhRedirect builds a Redirect by hand (a misbehaving or third MR).
type mhRedirect struct {
	seq                 uint16
	rl, anchor, current string
}

func (r *mhRedirect) build() mh.Message {
	m := &mh.Redirect{Sequence: r.seq, Flags: mh.DMMFlagA}
	m.Options = mh.Options{mh.NewRoutingLocation(pfx(r.rl), addrs[r.anchor], addrs[r.current], 60)}
	return m
}

// inject sends msg from a scripted node (attached on first use) and settles.
func (w *world) inject(t *testing.T, from, to string, msg mh.Message) *transport.Mem {
	t.Helper()
	tr := w.scripted(from)
	b, err := msg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Send(addrs[to], b); err != nil {
		t.Fatal(err)
	}
	w.settle()
	return tr
}

func (w *world) scripted(n string) *transport.Mem {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.peers == nil {
		w.peers = map[string]*transport.Mem{}
	}
	if tr := w.peers[n]; tr != nil {
		return tr
	}
	tr, err := w.net.Attach(addrs[n])
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { tr.Close() })
	w.peers[n] = tr
	return tr
}
