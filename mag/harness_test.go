package mag

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

var (
	magAddr = netip.MustParseAddr("2001:db8:ff::1")
	lmaAddr = netip.MustParseAddr("2001:db8:ff::2")
	t0      = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	mac2    = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	mnLL    = netip.MustParseAddr("fe80::2")
	hnpA    = netip.MustParsePrefix("2001:db8:100::/64")
	hnpB    = netip.MustParsePrefix("2001:db8:200::/64")
)

// sentPBU is a PBU seen on the in-memory network, with the fake time it
// was sent at.
type sentPBU struct {
	at  time.Time
	dst netip.Addr
	bu  *mh.BindingUpdate
}

// harness: a MAG over the in-memory network, fake clock, fake data
// plane, fake NDP and fake link events; the LMA side is the test itself
// (a scripted peer on the same network).
type harness struct {
	t     *testing.T
	clk   *clock.Fake
	net   *transport.Network
	lma   *transport.Mem
	dp    *dataplane.Fake
	nd    *ndp.Fake
	links *FakeLinks
	m     *MAG

	mu   sync.Mutex
	sent []sentPBU // every PBU the MAG sent
	hb   []*mh.Heartbeat
	bra  []*mh.BindingRevocationAck
}

func baseConfig() Config {
	return Config{
		Address: magAddr, UplinkDev: "up0", DefaultLMA: lmaAddr,
		Interfaces: []Interface{{Name: "acc0"}, {Name: "acc1"}, {Name: "acc2"}, {Name: "acc3"}, {Name: "acc4"}},
		Profiles: []Profile{
			{MNID: "mn0@example.org", Interface: "acc0"},
			{MNID: "mn2@example.org", MAC: mac2, HNPs: []netip.Prefix{hnpA, hnpB}},
			{MNID: "mn3@example.org", Interface: "acc3"},
			{MNID: "mn4@example.org", Interface: "acc4"},
		},
		HeartbeatInterval: -1,
	}
}

func newHarness(t *testing.T, mut func(*Config)) *harness {
	t.Helper()
	cfg := baseConfig()
	if mut != nil {
		mut(&cfg)
	}
	h := &harness{t: t, clk: clock.NewFake(t0), net: transport.NewNetwork(), dp: dataplane.NewFake(),
		nd: ndp.NewFake(), links: &FakeLinks{}}
	var err error
	if h.lma, err = h.net.Attach(lmaAddr); err != nil {
		t.Fatal(err)
	}
	tr, err := h.net.Attach(magAddr)
	if err != nil {
		t.Fatal(err)
	}
	h.net.Tap(func(p transport.Packet) {
		if p.Src != magAddr {
			return
		}
		msg, err := mh.Parse(p.Data)
		if err != nil {
			t.Errorf("MAG sent an undecodable MH: %v", err)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		switch x := msg.(type) {
		case *mh.BindingUpdate:
			h.sent = append(h.sent, sentPBU{at: h.clk.Now(), dst: p.Dst, bu: x})
		case *mh.Heartbeat:
			h.hb = append(h.hb, x)
		case *mh.BindingRevocationAck:
			h.bra = append(h.bra, x)
		}
	})
	lg := logrus.New()
	lg.SetOutput(io.Discard)
	if testing.Verbose() {
		lg.SetOutput(testWriter{t})
		lg.SetLevel(logrus.DebugLevel)
	}
	h.m, err = New(cfg, Deps{Transport: tr, DataPlane: h.dp, Clock: h.clk, Log: logrus.NewEntry(lg), NDP: h.nd, Links: h.links})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.m.Stop)
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func (h *harness) up(ifname string, moved bool) {
	h.links.Emit(LinkEvent{Kind: LinkUp, Ifname: ifname, Ifindex: ifindexOf(ifname), Moved: moved})
}

func (h *harness) down(ifname string) {
	h.links.Emit(LinkEvent{Kind: LinkDown, Ifname: ifname, Ifindex: ifindexOf(ifname)})
}

func (h *harness) rs(ifname string, mac net.HardwareAddr, src netip.Addr) {
	h.links.Emit(LinkEvent{Kind: RouterSolicitation, Ifname: ifname, Ifindex: ifindexOf(ifname), MAC: mac, Addr: src})
}

func ifindexOf(name string) int { return 10 + int(name[len(name)-1]-'0') }

// pbus returns the PBUs sent so far.
func (h *harness) pbus() []sentPBU {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sentPBU(nil), h.sent...)
}

func (h *harness) last() *mh.BindingUpdate {
	h.t.Helper()
	s := h.pbus()
	if len(s) == 0 {
		h.t.Fatal("no PBU sent")
	}
	return s[len(s)-1].bu
}

// advance moves the fake clock; timers run on the MAG loop in order.
func (h *harness) advance(d time.Duration) { h.clk.Advance(d) }

// waitProcessed waits until the MAG has processed n more received
// Mobility Headers than before.
func (h *harness) deliver(msg mh.Message) {
	h.t.Helper()
	before := h.m.Counters().MHReceived
	b, err := msg.Marshal()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.lma.Send(magAddr, b); err != nil {
		h.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.m.Counters().MHReceived == before {
		if time.Now().After(deadline) {
			h.t.Fatal("the MAG did not process the message within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// pba builds the LMA's answer to bu (RFC 5213 §5.3.6): MN-ID, the
// assigned HNPs, HI, ATT, MN LL-ID and Timestamp echoed.
func pba(bu *mh.BindingUpdate, st mh.Status, lifetime uint16, hnps ...netip.Prefix) *mh.BindingAck {
	ba := &mh.BindingAck{Status: st, Flags: mh.BAFlagP, Sequence: bu.Sequence, Lifetime: lifetime}
	for _, o := range bu.Options {
		switch x := o.(type) {
		case *mh.MNIdentifier:
			ba.Options = append(ba.Options, x)
		case *mh.HomeNetworkPrefix:
			if len(hnps) == 0 {
				ba.Options = append(ba.Options, x)
			}
		}
	}
	for _, p := range hnps {
		ba.Options = append(ba.Options, mh.NewHNP(p))
	}
	for _, o := range bu.Options {
		switch o.(type) {
		case *mh.HandoffIndicator, *mh.AccessTechnologyType, *mh.MNLinkLayerID, *mh.Timestamp:
			ba.Options = append(ba.Options, o)
		}
	}
	return ba
}

// accept answers the last PBU with status 0, lifetime and HNPs.
func (h *harness) accept(lifetime uint16, hnps ...netip.Prefix) {
	h.t.Helper()
	h.deliver(pba(h.last(), mh.StatusAccepted, lifetime, hnps...))
}

func (h *harness) entries() []dataplane.Entry {
	es, _ := h.dp.List()
	return es
}

// ras returns the RAs sent for registered MNs: those with prefixes
// (the link-up announcements, to all-nodes without prefixes, are left
// out; see announcements).
func (h *harness) ras() []ndp.SentRA {
	var out []ndp.SentRA
	for _, r := range h.nd.Sent() {
		if !isAnnouncement(r) {
			out = append(out, r)
		}
	}
	return out
}

// announcements returns the link-up RAs (to all-nodes, no prefixes).
func (h *harness) announcements() []ndp.SentRA {
	var out []ndp.SentRA
	for _, r := range h.nd.Sent() {
		if isAnnouncement(r) {
			out = append(out, r)
		}
	}
	return out
}

func isAnnouncement(r ndp.SentRA) bool { return r.Dst == ndp.AllNodes && len(r.RA.Prefixes) == 0 }

func optionTypes(opts mh.Options) []mh.OptionType {
	var out []mh.OptionType
	for _, o := range opts {
		if t := o.OptionType(); t != mh.OptPad1 && t != mh.OptPadN {
			out = append(out, t)
		}
	}
	return out
}

func hnpsOf(bu *mh.BindingUpdate) []netip.Prefix {
	var out []netip.Prefix
	for _, o := range bu.Options {
		if x, ok := o.(*mh.HomeNetworkPrefix); ok {
			out = append(out, x.AsPrefix())
		}
	}
	return out
}

func hiOf(bu *mh.BindingUpdate) mh.HandoffIndicatorValue {
	x, _ := mh.Find[*mh.HandoffIndicator](bu.Options)
	if x == nil {
		return 0
	}
	return x.Value
}
