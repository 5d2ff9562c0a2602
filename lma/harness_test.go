package lma

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

var (
	lmaAddr = netip.MustParseAddr("2001:db8:ff::1")
	mag1    = netip.MustParseAddr("2001:db8:ff::11")
	mag2    = netip.MustParseAddr("2001:db8:ff::12")
	mag3    = netip.MustParseAddr("2001:db8:ff::13")
	t0      = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

	pfx       = netip.MustParsePrefix
	pool0     = pfx("2001:db8:100::/64") // first prefix of the default pool
	pool1     = pfx("2001:db8:100:1::/64")
	staticPfx = pfx("2001:db8:200::/64")
)

type harness struct {
	t      *testing.T
	clk    *clock.Fake
	net    *transport.Network
	dp     *dataplane.Fake
	l      *LMA
	mu     sync.Mutex
	toLMA  int
	nodes  map[netip.Addr]*transport.Mem
	cancel context.CancelFunc
}

func defaultConfig() Config {
	return Config{
		Address: lmaAddr,
		Pools:   []netip.Prefix{pfx("2001:db8:100::/56")},
		MNs: map[string]MNPolicy{
			"mn1@example":      {},
			"mn2@example":      {},
			"static@example":   {Prefixes: []netip.Prefix{staticPfx}},
			"noproxy@example":  {ProxyDisabled: true},
			"onlymag1@example": {MAGs: []netip.Addr{mag1}},
		},
		TimestampBasedApproachInUse: true,
		HeartbeatInterval:           -1,
	}
}

func newHarness(t *testing.T, mut func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(t0), net: transport.NewNetwork(), dp: dataplane.NewFake(), nodes: map[netip.Addr]*transport.Mem{}}
	tr, err := h.net.Attach(lmaAddr)
	if err != nil {
		t.Fatal(err)
	}
	h.net.Tap(func(p transport.Packet) {
		if p.Dst == lmaAddr {
			h.mu.Lock()
			h.toLMA++
			h.mu.Unlock()
		}
	})
	cfg := defaultConfig()
	if mut != nil {
		mut(&cfg)
	}
	cfg.Transport, cfg.DataPlane, cfg.Clock = tr, h.dp, h.clk
	h.l, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	done := make(chan error, 1)
	go func() { done <- h.l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		tr.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	h.loop(func() {})
	return h
}

// loop runs f on the LMA's loop (so after everything queued before).
func (h *harness) loop(f func()) {
	h.t.Helper()
	if err := h.l.call(context.Background(), f); err != nil {
		h.t.Fatal(err)
	}
}

// sync waits until the LMA has processed every packet sent to it.
func (h *harness) sync() {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		want := h.toLMA
		h.mu.Unlock()
		var got uint64
		h.loop(func() { got = h.l.processed })
		if int(got) >= want {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("LMA processed %d of %d packets", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// advance moves the fake clock and waits for the timer operations.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clk.Advance(d)
	h.loop(func() {})
}

func (h *harness) node(a netip.Addr) *transport.Mem {
	h.t.Helper()
	if m := h.nodes[a]; m != nil {
		return m
	}
	m, err := h.net.Attach(a)
	if err != nil {
		h.t.Fatal(err)
	}
	h.nodes[a] = m
	h.t.Cleanup(func() { m.Close() })
	return m
}

func (h *harness) send(from netip.Addr, m mh.Message) {
	h.t.Helper()
	b, err := m.Marshal()
	if err != nil {
		h.t.Fatal(err)
	}
	h.sendRaw(from, b)
}

func (h *harness) sendRaw(from netip.Addr, b []byte) {
	h.t.Helper()
	if err := h.node(from).Send(lmaAddr, b); err != nil {
		h.t.Fatal(err)
	}
}

// recv returns the messages waiting at node a.
func (h *harness) recv(a netip.Addr) []mh.Message {
	h.t.Helper()
	n := h.node(a)
	var out []mh.Message
	for n.Pending() > 0 {
		ps := make([]transport.Packet, 16)
		k, err := n.Receive(ps)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, p := range ps[:k] {
			if p.Src != lmaAddr {
				h.t.Fatalf("message from %v, want the LMA address", p.Src)
			}
			m, err := mh.Parse(p.Data)
			if err != nil {
				h.t.Fatalf("LMA sent an undecodable message: %v", err)
			}
			out = append(out, m)
		}
	}
	return out
}

// pba sends bu from mag and returns the single PBA that comes back.
func (h *harness) pba(mag netip.Addr, bu *mh.BindingUpdate) *mh.BindingAck {
	h.t.Helper()
	h.send(mag, bu)
	h.sync()
	return h.onePBA(mag)
}

func (h *harness) onePBA(mag netip.Addr) *mh.BindingAck {
	h.t.Helper()
	ms := h.recv(mag)
	if len(ms) != 1 {
		h.t.Fatalf("%v got %d messages, want one PBA: %v", mag, len(ms), ms)
	}
	ba, ok := ms[0].(*mh.BindingAck)
	if !ok {
		h.t.Fatalf("%v got %T, want a PBA", mag, ms[0])
	}
	if ba.Proxy() {
		if err := mh.ValidatePBA(ba); err != nil {
			h.t.Fatalf("PBA breaks RFC 5213 §8.2/§5.3.6: %v", err)
		}
	}
	return ba
}

// noReply sends bu from mag and checks nothing comes back.
func (h *harness) noReply(mag netip.Addr, bu *mh.BindingUpdate) {
	h.t.Helper()
	h.send(mag, bu)
	h.sync()
	if ms := h.recv(mag); len(ms) != 0 {
		h.t.Fatalf("got %v, want no reply", ms)
	}
}

func (h *harness) bindings() []Binding {
	h.t.Helper()
	bs, err := h.l.Bindings(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return bs
}

func (h *harness) entries() []string {
	h.t.Helper()
	es, _ := h.dp.List()
	var out []string
	for _, e := range es {
		out = append(out, e.String())
	}
	return out
}

func (h *harness) wantEntries(want ...string) {
	h.t.Helper()
	got := h.entries()
	if !slices.Equal(got, want) {
		h.t.Fatalf("data plane:\n got %q\nwant %q", got, want)
	}
}

func (h *harness) counters() Counters {
	h.t.Helper()
	c, err := h.l.Counters(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func route(p netip.Prefix, mag netip.Addr) string {
	return dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: p, Remote: mag}.String()
}

// ---- building PBUs ----

func tsAt(t time.Time) *mh.Timestamp { return &mh.Timestamp{Value: mh.TimestampValue(t)} }

func (h *harness) ts() *mh.Timestamp { return tsAt(h.clk.Now()) }

func nai(s string) *mh.MNIdentifier            { return mh.NewNAI(s) }
func zeroHNP() *mh.HomeNetworkPrefix           { return &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()} }
func hnp(p netip.Prefix) *mh.HomeNetworkPrefix { return mh.NewHNP(p) }
func hi(v mh.HandoffIndicatorValue) *mh.HandoffIndicator {
	return &mh.HandoffIndicator{Value: v}
}
func att(v mh.ATT) *mh.AccessTechnologyType { return &mh.AccessTechnologyType{Value: v} }
func llid(b ...byte) *mh.MNLinkLayerID      { return &mh.MNLinkLayerID{LinkLayerID: b} }
func lla(a string) *mh.LinkLocalAddress     { return &mh.LinkLocalAddress{Address: netip.MustParseAddr(a)} }

// pbu returns a PBU (A and P set) with the given options.
func pbu(seq, lifetime uint16, opts ...mh.Option) *mh.BindingUpdate {
	bu := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: lifetime}
	bu.Options = opts
	return bu
}

// register makes an initial registration for mn from mag with an
// ALL_ZERO HNP (timestamp scheme) and returns the PBA.
func (h *harness) register(mag netip.Addr, mn string, extra ...mh.Option) *mh.BindingAck {
	h.t.Helper()
	opts := append([]mh.Option{zeroHNP(), nai(mn), hi(mh.HIAttachNewInterface), att(4), h.ts()}, extra...)
	ba := h.pba(mag, pbu(1, 100, opts...))
	if ba.Status != mh.StatusAccepted {
		h.t.Fatalf("registration of %s from %v: status %d (%s)", mn, mag, ba.Status, ba.Status)
	}
	return ba
}

// describe renders a PBA's options one per string, for exact comparison.
func describe(opts mh.Options) []string {
	var out []string
	for _, o := range opts {
		switch x := o.(type) {
		case *mh.Pad1, *mh.PadN:
			continue
		case mh.Pad1:
			continue
		case *mh.HomeNetworkPrefix:
			out = append(out, fmt.Sprintf("HNP %v/%d", x.Prefix, x.PrefixLength))
		case *mh.MNIdentifier:
			if x.Empty {
				out = append(out, "MNID empty")
			} else {
				out = append(out, fmt.Sprintf("MNID %d %s", x.Subtype, x.Identifier))
			}
		case *mh.HandoffIndicator:
			out = append(out, fmt.Sprintf("HI %d", x.Value))
		case *mh.AccessTechnologyType:
			out = append(out, fmt.Sprintf("ATT %d", x.Value))
		case *mh.Timestamp:
			out = append(out, fmt.Sprintf("TS %#x", x.Value))
		case *mh.MNLinkLayerID:
			out = append(out, "LLID "+hex.EncodeToString(x.LinkLayerID))
		case *mh.LinkLocalAddress:
			out = append(out, "LLA "+x.Address.String())
		default:
			out = append(out, fmt.Sprintf("%T", o))
		}
	}
	return out
}

func tsStr(t time.Time) string { return fmt.Sprintf("TS %#x", mh.TimestampValue(t)) }

func wantPBA(t *testing.T, ba *mh.BindingAck, status mh.Status, seq, lifetime uint16, opts ...string) {
	t.Helper()
	if ba.Status != status {
		t.Errorf("status %d (%s), want %d (%s)", ba.Status, ba.Status, status, status)
	}
	if !ba.Proxy() {
		t.Errorf("P flag clear")
	}
	if ba.Flags != mh.BAFlagP {
		t.Errorf("flags %#x, want P only", ba.Flags)
	}
	if ba.Sequence != seq {
		t.Errorf("sequence %d, want %d", ba.Sequence, seq)
	}
	if ba.Lifetime != lifetime {
		t.Errorf("lifetime %d, want %d", ba.Lifetime, lifetime)
	}
	if got := describe(ba.Options); !slices.Equal(got, opts) {
		t.Errorf("options:\n got %s\nwant %s", strings.Join(got, ", "), strings.Join(opts, ", "))
	}
}
