//go:build linux

package punt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/netnstest"
)

// Addresses of the A - R - B topology; R forwards between the two links.
var (
	addrA   = netip.MustParseAddr("2001:db8:a::2")
	addrB   = netip.MustParseAddr("2001:db8:b::2")
	prefixB = netip.MustParsePrefix("2001:db8:b::/64")
)

const udpPort = 9000

type topo struct {
	a, r, b *netnstest.NS
	p       *Punt
}

// newTopo builds A - R - B, primes the neighbour caches (so that released
// bursts do not wait on address resolution) and opens a Punt on R.
func newTopo(t *testing.T, cfg Config, clk clock.Clock) *topo {
	t.Helper()
	tp := &topo{a: netnstest.New(t, "a"), r: netnstest.New(t, "r"), b: netnstest.New(t, "b")}
	netnstest.Veth(t, tp.a, "a2r", tp.r, "r2a")
	netnstest.Veth(t, tp.r, "r2b", tp.b, "b2r")
	tp.a.IP("addr", "add", "2001:db8:a::2/64", "dev", "a2r", "nodad")
	tp.r.IP("addr", "add", "2001:db8:a::1/64", "dev", "r2a", "nodad")
	tp.r.IP("addr", "add", "2001:db8:b::1/64", "dev", "r2b", "nodad")
	tp.b.IP("addr", "add", "2001:db8:b::2/64", "dev", "b2r", "nodad")
	tp.a.IP("-6", "route", "add", "default", "via", "2001:db8:a::1")
	tp.b.IP("-6", "route", "add", "default", "via", "2001:db8:b::1")
	tp.r.Sysctl("net.ipv6.conf.all.forwarding", "1")
	// The first packets after the links come up may be lost while they
	// settle: ping until one answer comes back.
	waitFor(t, 10*time.Second, "A to ping B", func() bool {
		_, err := tp.a.Exec("ping", "-c", "1", "-W", "1", "2001:db8:b::2")
		return err == nil
	})
	if clk == nil {
		clk = clock.New()
	}
	log := logrus.New()
	log.SetLevel(logrus.DebugLevel)
	log.SetOutput(testWriter{t})
	err := tp.r.Do(func() (err error) {
		tp.p, err = Open(cfg, clk, logrus.NewEntry(log).WithField("test", t.Name()))
		return err
	})
	if err != nil {
		t.Fatalf("Open in %s: %v", tp.r.Name, err)
	}
	t.Cleanup(func() {
		if err := tp.p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tp
}

// testWriter sends log lines to t.Log (debug lines only with -v).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}

// receiver counts the sequence-numbered datagrams arriving on a UDP socket
// in a namespace, with the hop limit each arrived with.
type receiver struct {
	c    *ipv6.PacketConn
	mu   sync.Mutex
	seqs []uint32
	hops []int
	last time.Time
	done chan struct{}
}

func listen(t *testing.T, ns *netnstest.NS) *receiver {
	t.Helper()
	var c net.PacketConn
	if err := ns.Do(func() (err error) {
		c, err = net.ListenPacket("udp6", fmt.Sprintf("[::]:%d", udpPort))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Room for a whole released burst (SO_RCVBUFFORCE: root may exceed rmem_max).
	rc, _ := c.(*net.UDPConn).SyscallConn()
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	})
	r := &receiver{c: ipv6.NewPacketConn(c), done: make(chan struct{})}
	if err := r.c.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		buf := make([]byte, 2048)
		for {
			n, cm, _, err := r.c.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 4 {
				continue
			}
			hop := -1
			if cm != nil {
				hop = cm.HopLimit
			}
			r.mu.Lock()
			r.seqs = append(r.seqs, binary.BigEndian.Uint32(buf))
			r.hops = append(r.hops, hop)
			r.last = time.Now()
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-r.done })
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

// take returns what arrived so far and forgets it.
func (r *receiver) take() (seqs []uint32, hops []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seqs, hops = r.seqs, r.hops
	r.seqs, r.hops = nil, nil
	return seqs, hops
}

// waitCount waits until n datagrams arrived, for at most d.
func (r *receiver) waitCount(t *testing.T, n int, d time.Duration) {
	t.Helper()
	waitFor(t, d, fmt.Sprintf("%d datagrams", n), func() bool { return r.count() >= n })
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sender sends sequence-numbered datagrams from a UDP socket opened in a
// namespace.
type sender struct {
	c   *net.UDPConn
	seq uint32
}

func dial(t *testing.T, ns *netnstest.NS, to netip.Addr) *sender {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() (err error) {
		c, err = net.DialUDP("udp6", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, udpPort)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &sender{c: c}
}

// send sends n datagrams numbered from the sender's next sequence number.
func (s *sender) send(t *testing.T, n int) {
	t.Helper()
	b := make([]byte, 64)
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint32(b, s.seq)
		s.seq++
		if _, err := s.c.Write(b); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("send #%d: %v", s.seq-1, err)
		}
	}
}

func checkSeqs(t *testing.T, got []uint32, from, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("received %d datagrams, want %d", len(got), n)
	}
	for i, s := range got {
		if int(s) != from+i {
			t.Fatalf("datagram %d has sequence %d, want %d (order or loss): %v", i, s, from+i, got)
		}
	}
}

func (tp *topo) routes(t *testing.T) string {
	t.Helper()
	return tp.r.IP("-6", "route", "show", "table", "all", "proto", fmt.Sprint(RouteProto))
}

// Hold B's prefix on R: nothing reaches B; Release: everything does, in
// order, once, with the hop limit of a plain forwarding.
func TestHoldRelease(t *testing.T) {
	tp := newTopo(t, Config{}, nil)
	rx := listen(t, tp.b)
	tx := dial(t, tp.a, addrB)

	tx.send(t, 5) // the plain path, for the hop limit
	rx.waitCount(t, 5, 5*time.Second)
	seqs, hops := rx.take()
	checkSeqs(t, seqs, 0, 5)
	plainHop := hops[0]
	if plainHop != 63 { // Linux sends with 64; R decrements once
		t.Fatalf("plain path hop limit %d, want 63", plainHop)
	}

	if err := tp.p.Hold(prefixB); err != nil {
		t.Fatal(err)
	}
	if err := tp.p.Hold(prefixB); err != nil {
		t.Fatalf("second Hold: %v", err)
	}
	if r := tp.routes(t); !strings.Contains(r, "2001:db8:b::/64 dev "+tp.p.Device()) || !strings.Contains(r, "metric 1 ") {
		t.Fatalf("hold route:\n%s", r)
	}
	const n = 200
	tx.send(t, n)
	waitFor(t, 5*time.Second, "200 held", func() bool { return tp.p.Stats().Held == n })
	time.Sleep(100 * time.Millisecond)
	if c := rx.count(); c != 0 {
		t.Fatalf("%d datagrams reached B while held", c)
	}
	st := tp.p.Stats()
	if st.PerPrefix[prefixB] != n || st.Received-st.Ignored != n || st.Invalid != 0 || st.Passed != 0 {
		t.Fatalf("stats while held: %+v", st)
	}

	released, err := tp.p.Release(prefixB)
	if err != nil || released != n {
		t.Fatalf("Release = %d, %v; want %d", released, err, n)
	}
	rx.waitCount(t, n, 5*time.Second)
	time.Sleep(50 * time.Millisecond)
	seqs, hops = rx.take()
	checkSeqs(t, seqs, 5, n)
	for i, h := range hops {
		if h != plainHop {
			t.Fatalf("datagram %d arrived with hop limit %d, a plain forwarded one with %d", i, h, plainHop)
		}
	}
	if r := tp.routes(t); strings.TrimSpace(r) != "" {
		t.Errorf("routes left after Release:\n%s", r)
	}
	st = tp.p.Stats()
	if st.Held != 0 || st.HeldBytes != 0 || st.Released != n || st.DroppedFull+st.DroppedAge+st.DroppedDrop != 0 || len(st.PerPrefix) != 0 {
		t.Errorf("stats after Release: %+v", st)
	}
	// After the release, packets take the kernel's route again.
	tx.send(t, 10)
	rx.waitCount(t, 10, 5*time.Second)
	seqs, _ = rx.take()
	checkSeqs(t, seqs, 5+n, 10)
	if st := tp.p.Stats(); st.Received-st.Ignored != n {
		got := st.Received - st.Ignored
		t.Errorf("device read %d frames, want %d (nothing after the release)", got, n)
	}
	if n, err := tp.p.Release(prefixB); n != 0 || err != nil {
		t.Errorf("Release of a prefix not held = %d, %v", n, err)
	}
}

// Packets to unknown prefixes of a watched space: one Miss per prefix,
// held; once the route is there, Release delivers them.
func TestWatchMiss(t *testing.T) {
	tp := newTopo(t, Config{}, nil)
	space := netip.MustParsePrefix("2001:db8:c::/48")
	known := netip.MustParsePrefix("2001:db8:c:1::/64")
	unknown := netip.MustParsePrefix("2001:db8:c:2::/64")
	dstKnown := netip.MustParseAddr("2001:db8:c:1::2")
	dstUnknown := netip.MustParseAddr("2001:db8:c:2::5")
	tp.b.IP("addr", "add", "2001:db8:c:1::2/64", "dev", "b2r", "nodad")
	rx := listen(t, tp.b)
	txK, txU := dial(t, tp.a, dstKnown), dial(t, tp.a, dstUnknown)

	if err := tp.p.Watch(space); err != nil {
		t.Fatal(err)
	}
	if r := tp.routes(t); !strings.Contains(r, "2001:db8:c::/48 dev "+tp.p.Device()) || !strings.Contains(r, "metric 4294967295") {
		t.Fatalf("watch route:\n%s", r)
	}
	for i := 0; i < 10; i++ {
		txK.send(t, 2)
		txU.send(t, 1)
	}
	waitFor(t, 5*time.Second, "30 held", func() bool { return tp.p.Stats().Held == 30 })
	misses := map[netip.Prefix]Miss{}
	for len(misses) < 2 {
		select {
		case m := <-tp.p.Misses():
			if _, dup := misses[m.Prefix]; dup {
				t.Fatalf("second Miss for %s", m.Prefix)
			}
			misses[m.Prefix] = m
		case <-time.After(2 * time.Second):
			t.Fatalf("misses: %v", misses)
		}
	}
	select {
	case m := <-tp.p.Misses():
		t.Fatalf("a third Miss: %+v", m)
	case <-time.After(100 * time.Millisecond):
	}
	for pfx, dst := range map[netip.Prefix]netip.Addr{known: dstKnown, unknown: dstUnknown} {
		m := misses[pfx]
		if m.Dst != dst || m.Src != addrA || m.At.IsZero() {
			t.Errorf("Miss for %s: %+v, want Dst %s Src %s", pfx, m, dst, addrA)
		}
	}
	st := tp.p.Stats()
	if st.PerPrefix[known] != 20 || st.PerPrefix[unknown] != 10 || st.Misses != 2 || st.MissesLost != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if rx.count() != 0 {
		t.Fatal("datagrams reached B without a route")
	}

	// The location is found: the route to the known prefix goes in, then
	// the release.
	tp.r.IP("-6", "route", "add", known.String(), "via", addrB.String(), "dev", "r2b")
	n, err := tp.p.Release(known)
	if err != nil || n != 20 {
		t.Fatalf("Release = %d, %v; want 20", n, err)
	}
	rx.waitCount(t, 20, 5*time.Second)
	seqs, _ := rx.take()
	checkSeqs(t, seqs, 0, 20)
	if n := tp.p.Drop(unknown); n != 10 {
		t.Errorf("Drop = %d, want 10", n)
	}
	st = tp.p.Stats()
	if st.Held != 0 || st.Released != 20 || st.DroppedDrop != 10 || st.Received-st.Ignored != 30 {
		t.Errorf("stats after release and drop: %+v", st)
	}
	// Now the route exists, the watch no longer sees the known prefix.
	txK.send(t, 5)
	rx.waitCount(t, 5, 5*time.Second)
	seqs, _ = rx.take()
	checkSeqs(t, seqs, 20, 5)
	if st := tp.p.Stats(); st.Received-st.Ignored != 30 {
		t.Errorf("device read %d unicast frames, want 30", st.Received-st.Ignored)
	}
	// The unknown prefix misses again after its drop.
	txU.send(t, 1)
	select {
	case m := <-tp.p.Misses():
		if m.Prefix != unknown {
			t.Errorf("Miss %+v", m)
		}
	case <-time.After(2 * time.Second):
		t.Error("no Miss after Drop")
	}
}

// Overflow drops are counted exactly and the policy picks which go.
func TestOverflow(t *testing.T) {
	for _, tc := range []struct {
		policy Overflow
		first  int // first sequence number delivered
	}{{DropNewest, 0}, {DropOldest, 70}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			tp := newTopo(t, Config{MaxPackets: 1000, MaxPerPrefix: 50, Overflow: tc.policy}, nil)
			rx := listen(t, tp.b)
			tx := dial(t, tp.a, addrB)
			if err := tp.p.Hold(prefixB); err != nil {
				t.Fatal(err)
			}
			tx.send(t, 120)
			waitFor(t, 5*time.Second, "120 read", func() bool { st := tp.p.Stats(); return st.Received-st.Ignored == 120 })
			st := tp.p.Stats()
			if st.Held != 50 || st.DroppedFull != 70 || st.PerPrefix[prefixB] != 50 {
				t.Fatalf("held %d, dropped full %d; want 50, 70: %+v", st.Held, st.DroppedFull, st)
			}
			if n, err := tp.p.Release(prefixB); n != 50 || err != nil {
				t.Fatalf("Release = %d, %v", n, err)
			}
			rx.waitCount(t, 50, 5*time.Second)
			time.Sleep(50 * time.Millisecond)
			seqs, _ := rx.take()
			checkSeqs(t, seqs, tc.first, 50)
		})
	}
}

// Held packets expire by age on the injected clock.
func TestAgeExpiry(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	tp := newTopo(t, Config{MaxAge: time.Second}, clk)
	rx := listen(t, tp.b)
	tx := dial(t, tp.a, addrB)
	if err := tp.p.Hold(prefixB); err != nil {
		t.Fatal(err)
	}
	tx.send(t, 10)
	waitFor(t, 5*time.Second, "10 held", func() bool { return tp.p.Stats().Held == 10 })
	clk.Advance(500 * time.Millisecond)
	tx.send(t, 5)
	waitFor(t, 5*time.Second, "15 held", func() bool { return tp.p.Stats().Held == 15 })
	clk.Advance(499 * time.Millisecond)
	if st := tp.p.Stats(); st.Held != 15 || st.DroppedAge != 0 {
		t.Fatalf("before MaxAge: %+v", st)
	}
	clk.Advance(time.Millisecond) // the first 10 are 1 s old: the timer drops them
	if st := tp.p.Stats(); st.Held != 5 || st.DroppedAge != 10 {
		t.Fatalf("at MaxAge: %+v", st)
	}
	if n, err := tp.p.Release(prefixB); n != 5 || err != nil {
		t.Fatalf("Release = %d, %v", n, err)
	}
	rx.waitCount(t, 5, 5*time.Second)
	seqs, _ := rx.take()
	checkSeqs(t, seqs, 10, 5)
}

// Close leaves no device and no route; the Punt refuses work afterwards and
// a new one can take the same name.
func TestClose(t *testing.T) {
	tp := newTopo(t, Config{Device: "pmptest0"}, nil)
	tx := dial(t, tp.a, addrB)
	if err := tp.p.Hold(prefixB); err != nil {
		t.Fatal(err)
	}
	if err := tp.p.Watch(netip.MustParsePrefix("2001:db8:c::/48")); err != nil {
		t.Fatal(err)
	}
	tx.send(t, 7)
	waitFor(t, 5*time.Second, "7 held", func() bool { return tp.p.Stats().Held == 7 })
	if out := tp.r.IP("link", "show"); !strings.Contains(out, "pmptest0") {
		t.Fatalf("no device:\n%s", out)
	}
	want := fmt.Sprintf("%d:\tnot from all iif pmptest0 lookup %d", HoldRulePref, HoldTable)
	if r := tp.r.IP("-6", "rule"); !strings.Contains(r, want) {
		t.Fatalf("no hold rule %q:\n%s", want, r)
	}
	if err := tp.p.Close(); err != nil {
		t.Fatal(err)
	}
	if out := tp.r.IP("link", "show"); strings.Contains(out, "pmptest0") {
		t.Errorf("device left:\n%s", out)
	}
	if r := tp.routes(t); strings.TrimSpace(r) != "" {
		t.Errorf("routes left:\n%s", r)
	}
	if r := tp.r.IP("-6", "route", "show", "table", "all"); strings.Contains(r, "pmptest0") {
		t.Errorf("routes through the device left:\n%s", r)
	}
	if r := tp.r.IP("-6", "rule"); strings.Contains(r, fmt.Sprint(HoldTable)) {
		t.Errorf("hold rule left:\n%s", r)
	}
	if st := tp.p.Stats(); st.Held != 0 || st.DroppedDrop != 7 {
		t.Errorf("stats after Close: %+v", st)
	}
	if _, ok := <-tp.p.Misses(); ok {
		t.Error("Misses not closed")
	}
	if err := tp.p.Hold(prefixB); !errors.Is(err, ErrClosed) {
		t.Errorf("Hold after Close: %v", err)
	}
	if _, err := tp.p.Release(prefixB); !errors.Is(err, ErrClosed) {
		t.Errorf("Release after Close: %v", err)
	}
	if err := tp.p.Watch(prefixB); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close: %v", err)
	}
	if err := tp.p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The plain path works again.
	rx := listen(t, tp.b)
	tx.send(t, 3)
	rx.waitCount(t, 3, 5*time.Second)
	// A rule a dead process left is replaced by the new Punt's.
	tp.r.IP("-6", "rule", "add", "pref", fmt.Sprint(HoldRulePref), "not", "iif", "deadpunt", "lookup", fmt.Sprint(HoldTable))
	var p2 *Punt
	if err := tp.r.Do(func() (err error) { p2, err = Open(Config{Device: "pmptest0"}, nil, tp.p.log); return }); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if r := tp.r.IP("-6", "rule"); strings.Contains(r, "deadpunt") || strings.Count(r, fmt.Sprint(HoldTable)) != 1 {
		t.Errorf("rules after reopen:\n%s", r)
	}
	if err := p2.Close(); err != nil {
		t.Fatal(err)
	}
	if r := tp.r.IP("-6", "rule"); strings.Contains(r, fmt.Sprint(HoldTable)) {
		t.Errorf("rules after the second Close:\n%s", r)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Device: "a-name-too-long-for-linux"},
		{MaxPackets: -1},
		{MissBits: 129},
		{Overflow: 7},
	} {
		if p, err := Open(cfg, nil, nil); err == nil {
			p.Close()
			t.Errorf("Open(%+v) accepted", cfg)
		}
	}
	// Only IPv6 prefixes are accepted (checked before any kernel call).
	p := &Punt{}
	for _, pfx := range []netip.Prefix{{}, netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("::ffff:192.0.2.0/120")} {
		if err := p.Hold(pfx); err == nil {
			t.Errorf("Hold(%v) accepted", pfx)
		}
		if err := p.Watch(pfx); err == nil {
			t.Errorf("Watch(%v) accepted", pfx)
		}
		if _, err := p.Release(pfx); err == nil {
			t.Errorf("Release(%v) accepted", pfx)
		}
	}
}

// The added latency of the punt path: 1000 packets held, then released.
func TestHoldReleaseLatency(t *testing.T) {
	tp := newTopo(t, Config{}, nil)
	rx := listen(t, tp.b)
	tx := dial(t, tp.a, addrB)
	const n = 1000

	start := time.Now()
	tx.send(t, n)
	rx.waitCount(t, n, 10*time.Second)
	rx.mu.Lock()
	direct := rx.last.Sub(start)
	rx.mu.Unlock()
	seqs, _ := rx.take()
	checkSeqs(t, seqs, 0, n)

	if err := tp.p.Hold(prefixB); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	tx.send(t, n)
	sent := time.Since(start)
	waitFor(t, 10*time.Second, "1000 held", func() bool { return tp.p.Stats().Held == n })
	held := time.Since(start)
	rel := time.Now()
	got, err := tp.p.Release(prefixB)
	relCall := time.Since(rel)
	if err != nil || got != n {
		t.Fatalf("Release = %d, %v", got, err)
	}
	rx.waitCount(t, n, 10*time.Second)
	rx.mu.Lock()
	delivered := rx.last.Sub(rel)
	rx.mu.Unlock()
	seqs, _ = rx.take()
	checkSeqs(t, seqs, n, n)
	t.Logf("1000 datagrams A->B: direct, first send to last arrival %v; punted: sent in %v, all held after %v, "+
		"Release call %v (%.2f µs/packet), last arrival %v after Release began",
		direct, sent, held, relCall, float64(relCall.Microseconds())/n, delivered)
}

// The punt routes live beside the data plane's: a hold beats the seg6
// driver's route for the same prefix, and the driver's List, Reconcile and
// Flush neither see nor remove it (it has its own protocol tag).
func TestDataplaneCoexistence(t *testing.T) {
	tp := newTopo(t, Config{}, nil)
	pfx := netip.MustParsePrefix("2001:db8:c:1::/64")
	tp.b.IP("addr", "add", "2001:db8:c:1::2/64", "dev", "b2r", "nodad")
	rx := listen(t, tp.b)
	tx := dial(t, tp.a, netip.MustParseAddr("2001:db8:c:1::2"))
	var dp dataplane.Driver
	if err := tp.r.Do(func() (err error) { dp, err = dataplane.NewSeg6(nil); return }); err != nil {
		t.Fatal(err)
	}
	access := dataplane.Entry{Kind: dataplane.KindAccessRoute, Prefix: pfx, Dev: "r2b"}

	if err := tp.p.Hold(pfx); err != nil {
		t.Fatal(err)
	}
	tx.send(t, 10)
	waitFor(t, 5*time.Second, "10 held", func() bool { return tp.p.Stats().Held == 10 })
	// The location is known: the data plane installs its route; the hold
	// still wins until the release.
	if err := dp.Add(access); err != nil {
		t.Fatal(err)
	}
	tx.send(t, 5)
	waitFor(t, 5*time.Second, "15 held", func() bool { return tp.p.Stats().Held == 15 })
	if rx.count() != 0 {
		t.Fatal("datagrams passed the hold once the data plane route was in")
	}
	if es, err := dp.List(); err != nil || len(es) != 1 || es[0] != access {
		t.Fatalf("data plane List = %v, %v; want only %v", es, err, access)
	}
	if added, removed, err := dataplane.Reconcile(dp, []dataplane.Entry{access}); added != 0 || removed != 0 || err != nil {
		t.Fatalf("Reconcile = %d, %d, %v; want nothing to do", added, removed, err)
	}
	if n, err := tp.p.Release(pfx); n != 15 || err != nil {
		t.Fatalf("Release = %d, %v", n, err)
	}
	rx.waitCount(t, 15, 5*time.Second)
	time.Sleep(50 * time.Millisecond)
	seqs, _ := rx.take()
	checkSeqs(t, seqs, 0, 15)

	if err := tp.p.Hold(pfx); err != nil {
		t.Fatal(err)
	}
	if err := dp.Flush(); err != nil {
		t.Fatal(err)
	}
	if r := tp.routes(t); !strings.Contains(r, pfx.String()+" dev "+tp.p.Device()) {
		t.Errorf("the data plane's Flush removed the hold route:\n%s", r)
	}
}

// A Release in the middle of a stream (the handover case: the route
// changes while the sender keeps sending): none lost, and the held packets
// and the ones still coming leave in one order. Only packets racing the
// removal of the hold route itself (a window of microseconds) can be
// overtaken, so order is asserted at 2,000 datagrams/s (issue 4's stream
// is 1,000/s) and only logged at 50,000/s.
func TestReleaseDuringStream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		every  time.Duration
		strict bool
	}{{"2k/s", 500 * time.Microsecond, true}, {"50k/s", 20 * time.Microsecond, false}} {
		t.Run(tc.name, func(t *testing.T) {
			tp := newTopo(t, Config{}, nil)
			rx := listen(t, tp.b)
			tx := dial(t, tp.a, addrB)
			if err := tp.p.Hold(prefixB); err != nil {
				t.Fatal(err)
			}
			const n = 3000
			errc := make(chan error, 1)
			go func() {
				b := make([]byte, 64)
				next := time.Now()
				for i := uint32(0); i < n; i++ {
					binary.BigEndian.PutUint32(b, i)
					if _, err := tx.c.Write(b); err != nil {
						errc <- err
						return
					}
					// Never catch up in a burst after a stall.
					next = next.Add(tc.every)
					if now := time.Now(); next.Before(now) {
						next = now
					}
					for time.Now().Before(next) {
					}
				}
				errc <- nil
			}()
			waitFor(t, 10*time.Second, "1000 held", func() bool { return tp.p.Stats().Held >= 1000 })
			released, err := tp.p.Release(prefixB)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			rx.waitCount(t, n, 10*time.Second)
			time.Sleep(50 * time.Millisecond)
			seqs, _ := rx.take()
			seen := make([]bool, n)
			out := 0
			for i, s := range seqs {
				if int(s) >= n || seen[s] {
					t.Fatalf("datagram %d: sequence %d unexpected or repeated", i, s)
				}
				seen[s] = true
				if i > 0 && s < seqs[i-1] {
					out++
				}
			}
			if len(seqs) != n {
				t.Fatalf("received %d datagrams, want %d", len(seqs), n)
			}
			t.Logf("%s: released %d by the call (%d in all), %d datagrams overtaken", tc.name, released, tp.p.Stats().Released, out)
			if tc.strict && out > 0 {
				t.Errorf("%d datagrams out of order", out)
			}
		})
	}
}
