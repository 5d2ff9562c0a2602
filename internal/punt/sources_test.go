//go:build linux

package punt

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/netnstest"
)

// pkt is an IPv6 packet from src to dst.
func pkt(src, dst netip.Addr) []byte { return ipv6Packet(src.String(), dst.String(), 4, 63) }

// bufferPunt is a Punt without a device: enough to classify frames with
// inputLocked (nothing is written back as long as a hold or watch covers
// the destination).
func bufferPunt(t *testing.T, cfg Config) *Punt {
	t.Helper()
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l := logrus.New()
	l.SetOutput(io.Discard)
	return &Punt{cfg: cfg, clk: clock.NewFake(t0), log: logrus.NewEntry(l), fd: -1,
		misses: make(chan Miss, MissQueue), sources: make(chan Source, SourceQueue),
		buf: newBuffer(cfg.limits()), watches: map[netip.Prefix]bool{}}
}

func takeSources(ch <-chan Source) []string {
	var out []string
	for {
		select {
		case s := <-ch:
			out = append(out, fmt.Sprintf("%s from %s (%s)", s.Prefix, s.SrcPrefix, s.Src))
		default:
			return out
		}
	}
}

// Sources of held packets: once per (held prefix, source /64) while held,
// not for link-local or unspecified sources, not the Miss's own source,
// bounded per held prefix, and again after a release and a new hold.
func TestSourcesReported(t *testing.T) {
	a := netip.MustParseAddr
	held := netip.MustParsePrefix("2001:db8:12::/64")
	held2 := netip.MustParsePrefix("2001:db8:13::/64")
	dst, dst2 := a("2001:db8:12::1"), a("2001:db8:13::1")
	cn1, cn1b, cn2, cn3 := a("2001:db8:31::1"), a("2001:db8:31::99"), a("2001:db8:32::1"), a("2001:db8:33::1")
	p := bufferPunt(t, Config{MaxSources: 2, MaxPackets: 3})
	p.buf.add(held, false).hold = true
	p.buf.add(held2, false).hold = true
	type step struct {
		src, dst netip.Addr
		want     []string
	}
	for i, s := range []step{
		{cn1, dst, []string{"2001:db8:12::/64 from 2001:db8:31::/64 (2001:db8:31::1)"}},
		{cn1b, dst, nil}, // same /64
		{cn1, dst, nil},
		// The buffer is full (MaxPackets 3) from here on: the packets
		// are dropped, their sources still reported.
		{a("fe80::1"), dst, nil},
		{netip.IPv6Unspecified(), dst, nil},
		{cn2, dst, []string{"2001:db8:12::/64 from 2001:db8:32::/64 (2001:db8:32::1)"}},
		{cn3, dst, nil}, // MaxSources 2 reached for held
		{cn3, dst2, []string{"2001:db8:13::/64 from 2001:db8:33::/64 (2001:db8:33::1)"}},
	} {
		p.inputLocked(pkt(s.src, s.dst))
		if got := takeSources(p.sources); fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("step %d (%s > %s): sources %q, want %q", i, s.src, s.dst, got, s.want)
		}
	}
	st := p.Stats()
	if st.Sources != 3 || st.SourcesOverLimit != 1 || st.SourcesLost != 0 || st.Held != 3 || st.DroppedFull != 5 {
		t.Errorf("stats: %+v", st)
	}
	// A new hold after the queue went reports the same sources again.
	p.buf.remove(held)
	p.buf.add(held, false).hold = true
	p.inputLocked(pkt(cn1, dst))
	if got := takeSources(p.sources); len(got) != 1 {
		t.Errorf("after a new hold: %q", got)
	}

	// A miss: its source is in the Miss, other sources are reported.
	p2 := bufferPunt(t, Config{})
	p2.watches[netip.MustParsePrefix("2001:db8:12::/48")] = true
	p2.inputLocked(pkt(cn1, dst))
	p2.inputLocked(pkt(cn1, dst))
	p2.inputLocked(pkt(cn2, dst))
	if m := <-p2.misses; m.Src != cn1 || m.Prefix != held {
		t.Errorf("miss: %+v", m)
	}
	if got := takeSources(p2.sources); fmt.Sprint(got) != fmt.Sprint([]string{"2001:db8:12::/64 from 2001:db8:32::/64 (2001:db8:32::1)"}) {
		t.Errorf("sources of a missed prefix: %q", got)
	}

	// A full channel: counted as lost, and the prefix counted as reported
	// (a bounded report, not a retry per packet).
	p3 := bufferPunt(t, Config{MaxSources: 2000})
	p3.buf.add(held, false).hold = true
	for i := range SourceQueue + 5 {
		src := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i), 15: 1})
		p3.inputLocked(pkt(src, dst))
	}
	if st := p3.Stats(); st.Sources != SourceQueue || st.SourcesLost != 5 {
		t.Errorf("full channel: sources %d lost %d", st.Sources, st.SourcesLost)
	}
}

func TestSourcesConfig(t *testing.T) {
	for _, c := range []Config{{SourceBits: 129}, {SourceBits: -1}, {MaxSources: -1}} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	c, err := Config{}.withDefaults()
	if err != nil || c.SourceBits != 64 || c.MaxSources != DefaultMaxSources {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

// dialFrom is dial with a chosen source address.
func dialFrom(t *testing.T, ns *netnstest.NS, from, to netip.Addr) *sender {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() (err error) {
		c, err = net.DialUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, udpPort)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &sender{c: c}
}

// The kernel path: packets from three sources in two /64s to a held
// prefix give exactly one Source per source /64; after the release and a
// new hold they are reported again.
func TestNetnsHoldSources(t *testing.T) {
	tp := newTopo(t, Config{}, nil)
	tp.a.IP("addr", "add", "2001:db8:a:1::2/64", "dev", "a2r", "nodad")
	tp.a.IP("addr", "add", "2001:db8:a:1::3/64", "dev", "a2r", "nodad")
	srcs := []netip.Addr{addrA, netip.MustParseAddr("2001:db8:a:1::2"), netip.MustParseAddr("2001:db8:a:1::3")}
	var txs []*sender
	for _, s := range srcs {
		txs = append(txs, dialFrom(t, tp.a, s, addrB))
	}
	rx := listen(t, tp.b)
	if err := tp.p.Hold(prefixB); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		for _, tx := range txs {
			tx.send(t, 2)
		}
	}
	waitFor(t, 5*time.Second, "30 held", func() bool { return tp.p.Stats().Held == 30 })
	got := map[netip.Prefix]Source{}
	for len(got) < 2 {
		select {
		case s := <-tp.p.Sources():
			if _, dup := got[s.SrcPrefix]; dup {
				t.Fatalf("second Source for %s: %+v", s.SrcPrefix, s)
			}
			if s.Prefix != prefixB || s.Dst != addrB {
				t.Errorf("source: %+v", s)
			}
			got[s.SrcPrefix] = s
		case <-time.After(5 * time.Second):
			t.Fatalf("sources: %v", got)
		}
	}
	if s := got[netip.MustParsePrefix("2001:db8:a::/64")]; s.Src != addrA {
		t.Errorf("first source of 2001:db8:a::/64: %+v", s)
	}
	if s := got[netip.MustParsePrefix("2001:db8:a:1::/64")]; s.Src != srcs[1] {
		t.Errorf("first source of 2001:db8:a:1::/64: %+v", s)
	}
	select {
	case s := <-tp.p.Sources():
		t.Errorf("a third Source: %+v", s)
	case <-time.After(50 * time.Millisecond):
	}
	if st := tp.p.Stats(); st.Sources != 2 || st.SourcesLost != 0 || st.SourcesOverLimit != 0 {
		t.Errorf("stats: %+v", st)
	}
	if n, err := tp.p.Release(prefixB); n != 30 || err != nil {
		t.Fatalf("Release = %d, %v", n, err)
	}
	rx.waitCount(t, 30, 5*time.Second)
	// Not held: nothing reported.
	txs[0].send(t, 1)
	rx.waitCount(t, 31, 5*time.Second)
	// Held again: reported again.
	if err := tp.p.Hold(prefixB); err != nil {
		t.Fatal(err)
	}
	txs[2].send(t, 1)
	select {
	case s := <-tp.p.Sources():
		if s.Src != srcs[2] || s.SrcPrefix != netip.MustParsePrefix("2001:db8:a:1::/64") {
			t.Errorf("after a new hold: %+v", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Source after a new hold")
	}
}
