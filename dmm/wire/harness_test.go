package wire

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// callTimeout bounds how long a test's calls may wait in real time. With
// the fake clock a request whose answer is lost is never retransmitted
// and never times out, so without it such a test would hang until the
// binary's -timeout. A call takes microseconds; the bound leaves a wide
// margin for a loaded machine.
const callTimeout = 30 * time.Second

// errStuck is the cause of an env's context once callTimeout has passed.
var errStuck = errors.New("a call of the test waited too long for its answer")

var (
	t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	// Figure 1 of the draft.
	mr11 = netip.MustParseAddr("2001:db8:11::1")
	mr12 = netip.MustParseAddr("2001:db8:12::1")
	mr2  = netip.MustParseAddr("2001:db8:2::1")
	mr31 = netip.MustParseAddr("2001:db8:31::1")
	lm1  = netip.MustParseAddr("2001:db8:1::a")
	lm2  = netip.MustParseAddr("2001:db8:2::a")
	haa1 = netip.MustParseAddr("2001:db8:1::b")

	pool11 = netip.MustParsePrefix("2001:db8:11:100::/56")
	pool12 = netip.MustParsePrefix("2001:db8:12:100::/56")
	pool2  = netip.MustParsePrefix("2001:db8:2:100::/63") // two /64s

	hnp1 = netip.MustParsePrefix("2001:db8:12:1::/64") // MN1's, anchored at MR12
	hnp2 = netip.MustParsePrefix("2001:db8:31:7::/64") // MN2's, anchored at MR31
)

// packet is one Mobility Header seen on the in-memory network, with the
// fake time it was sent at.
type packet struct {
	transport.Packet
	at time.Time
}

type env struct {
	t   *testing.T
	clk *clock.Fake
	// ctx is the context of the test's calls: it ends with the test,
	// or after callTimeout (cause errStuck), when the test fails with
	// the packets seen and the timers pending.
	ctx context.Context
	st  *store.Memory
	net *transport.Network

	mu  sync.Mutex
	cap []packet
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithTimeoutCause(t.Context(), callTimeout, errStuck)
	e := &env{t: t, clk: clk, ctx: ctx, st: st, net: transport.NewNetwork()}
	// At the deadline, note the state the stuck call saw (the cleanups
	// of the servers and requesters change it); the failure reports it.
	snap := make(chan string, 1)
	context.AfterFunc(ctx, func() {
		if context.Cause(ctx) == errStuck {
			snap <- fmt.Sprintf("fake clock at t0+%v with %d timers pending, %d packets to nobody; packets seen: %s",
				clk.Now().Sub(t0), clk.Pending(), e.net.Dropped(), describeAll(e.packets()))
		}
	})
	t.Cleanup(func() {
		if context.Cause(ctx) == errStuck {
			t.Errorf("%v (%v): %s", errStuck, callTimeout, <-snap)
		}
		cancel()
	})
	e.net.Tap(func(p transport.Packet) {
		e.mu.Lock()
		e.cap = append(e.cap, packet{p, clk.Now()})
		e.mu.Unlock()
	})
	return e
}

func (e *env) attach(a netip.Addr) *transport.Mem {
	e.t.Helper()
	m, err := e.net.Attach(a)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { m.Close() })
	return m
}

// packets returns the packets captured so far.
func (e *env) packets() []packet {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]packet(nil), e.cap...)
}

// waitPackets waits until n packets were captured (real time, bounded).
func (e *env) waitPackets(n int) []packet {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps := e.packets()
		if len(ps) >= n {
			return ps
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("waited for %d packets, saw %d: %s", n, len(ps), describeAll(ps))
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *env) newLM() *lm.LM {
	e.t.Helper()
	l, err := lm.New(e.st, e.clk, lm.Config{})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (e *env) newHAA(cfg haa.Config) *haa.HAA {
	e.t.Helper()
	if len(cfg.Pools) == 0 {
		cfg.Pools = []haa.PoolConfig{{MR: mr11, Prefix: pool11}, {MR: mr12, Prefix: pool12}, {MR: mr2, Prefix: pool2}}
	}
	h, err := haa.New(e.st, e.clk, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// serve runs fn (a Serve method) until the end of the test.
func (e *env) serve(fn func(context.Context) error) {
	// Not e.ctx: a stuck call must not stop the servers, so that the
	// failure shows what the call itself waited for.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			e.t.Errorf("Serve: %v", err)
		}
	})
}

func (e *env) lmServer(addr netip.Addr, l *lm.LM, cfg LMServerConfig) *LMServer {
	e.t.Helper()
	if l == nil {
		l = e.newLM()
	}
	cfg.Clock = e.clk
	s, err := NewLMServer(e.attach(addr), l, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.serve(s.Serve)
	return s
}

func (e *env) haaServer(addr netip.Addr, h *haa.HAA, cfg ServerConfig) *HAAServer {
	e.t.Helper()
	if h == nil {
		h = e.newHAA(haa.Config{})
	}
	cfg.Clock = e.clk
	s, err := NewHAAServer(e.attach(addr), h, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.serve(s.Serve)
	return s
}

func (e *env) requester(addr netip.Addr, cfg RequesterConfig) *Requester {
	e.t.Helper()
	cfg.Clock = e.clk
	r, err := NewRequester(e.attach(addr), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Close() })
	return r
}

// decode parses a captured Mobility Header.
func decode(t *testing.T, p packet) mh.Message {
	t.Helper()
	m, err := mh.Parse(p.Data)
	if err != nil {
		t.Fatalf("%v -> %v: undecodable %x: %v", p.Src, p.Dst, p.Data, err)
	}
	if err := mh.ValidateHeader(m); err != nil {
		t.Fatalf("%v -> %v: %v", p.Src, p.Dst, err)
	}
	if n := len(p.Data); n%8 != 0 {
		t.Fatalf("%v -> %v: %d octets, not a multiple of 8", p.Src, p.Dst, n)
	}
	if issues := mh.CheckAlignment(p.Data); len(issues) > 0 {
		t.Fatalf("%v -> %v: misaligned options: %v", p.Src, p.Dst, issues)
	}
	return m
}

// opts renders options one per line, padding left out, so that tests can
// state every field of what went on the wire.
func opts(os mh.Options) []string {
	var out []string
	for _, o := range os {
		switch o := o.(type) {
		case mh.Pad1, *mh.Pad1, *mh.PadN:
		case *mh.MNIdentifier:
			out = append(out, fmt.Sprintf("MN-ID %s %q", o.Subtype, o.Identifier))
		case *mh.HomeNetworkPrefix:
			out = append(out, fmt.Sprintf("HNP %v/%d", o.Prefix, o.PrefixLength))
		case *mh.HandoffIndicator:
			out = append(out, fmt.Sprintf("HI %d", o.Value))
		case *mh.AccessTechnologyType:
			out = append(out, fmt.Sprintf("ATT %d", o.Value))
		case *mh.Timestamp:
			out = append(out, fmt.Sprintf("Timestamp %v", o.Time().Format(time.RFC3339Nano)))
		case *mh.ServingMAAR:
			out = append(out, fmt.Sprintf("Serving MAAR %v", o.Address))
		case *mh.PreviousMAAR:
			out = append(out, fmt.Sprintf("Previous MAAR %v HNP %v/%d", o.Address, o.Prefix, o.PrefixLength))
		case *mh.LocationQueryOption:
			switch o.QueryType {
			case mh.QueryByMNID:
				out = append(out, fmt.Sprintf("Location Query %s %s %q", o.QueryType, o.Subtype, o.Identifier))
			default:
				out = append(out, fmt.Sprintf("Location Query %s %v/%d", o.QueryType, o.Address, o.PrefixLength))
			}
		case *mh.RoutingLocation:
			out = append(out, fmt.Sprintf("Routing Location F=%v %v/%d anchor %v current %v life %d",
				o.Flags&mh.RLFlagF != 0, o.Prefix, o.PrefixLength, o.AnchorMR, o.CurrentMR, o.Lifetime))
		default:
			out = append(out, fmt.Sprintf("option %d", o.OptionType()))
		}
	}
	return out
}

func checkOpts(t *testing.T, what string, got mh.Options, want ...string) {
	t.Helper()
	g := opts(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s options:\n got  %s\n want %s", what, strings.Join(g, "\n      "), strings.Join(want, "\n      "))
	}
}

func describe(p packet) string {
	m, err := mh.Parse(p.Data)
	if err != nil {
		return fmt.Sprintf("%v->%v undecodable", p.Src, p.Dst)
	}
	return fmt.Sprintf("%v->%v %T %v", p.Src, p.Dst, m, opts(m.MHBase().Options))
}

func describeAll(ps []packet) string {
	var s []string
	for _, p := range ps {
		s = append(s, describe(p))
	}
	return strings.Join(s, "; ")
}

// exchange returns the last request/answer pair captured (the last two
// packets), checking their addresses.
func exchange(t *testing.T, e *env, from, to netip.Addr) (req, ans mh.Message) {
	t.Helper()
	ps := e.packets()
	if len(ps) < 2 {
		t.Fatalf("%d packets captured", len(ps))
	}
	q, a := ps[len(ps)-2], ps[len(ps)-1]
	if q.Src != from || q.Dst != to || a.Src != to || a.Dst != from {
		t.Fatalf("exchange %v -> %v, then %v -> %v; want %v <-> %v", q.Src, q.Dst, a.Src, a.Dst, from, to)
	}
	return decode(t, q), decode(t, a)
}

// sendRaw sends b from src to dst and waits for one answer to src.
func sendRaw(t *testing.T, e *env, m *transport.Mem, dst netip.Addr, b []byte) mh.Message {
	t.Helper()
	if err := m.Send(dst, b); err != nil {
		t.Fatal(err)
	}
	return decode(t, packet{Packet: receive(t, m, "an answer from "+dst.String())})
}

// receive waits (real time, bounded) for one packet to m.
func receive(t *testing.T, m *transport.Mem, what string) transport.Packet {
	t.Helper()
	ps := make([]transport.Packet, 1)
	done := make(chan error, 1)
	go func() {
		_, err := m.Receive(ps)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		m.Close() // ends the receiving goroutine
		t.Fatalf("%v waited for %s, none came", m.LocalAddr(), what)
	}
	return ps[0]
}

func marshal(t *testing.T, m mh.Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ts(t time.Time) string { return "Timestamp " + t.UTC().Format(time.RFC3339Nano) }
