package lm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/internal/clock"
)

// describe renders query answers for comparisons.
func describe(rs []Record, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %s %v>%v seq%d rev%d", r.MNID, r.Prefix, r.AnchorMR, r.CurrentMR, r.Sequence, r.Revision))
	}
	return strings.Join(out, "; ")
}

// A replica answers from memory from its first query on: what was in the
// store before it started, and what other front-ends change afterwards,
// MN-ID queries included (the new MR's query of a handover).
func TestReplica(t *testing.T) {
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	defer st.Close()
	front, _ := New(st, clk, Config{})
	other, _ := New(st, clk, Config{})
	mustUpdate(t, other, upd("mn1", hnp1, mr12, mr11, time.Minute, 1))
	mustUpdate(t, other, upd("mn2", hnp2, mr31, mr31, time.Hour, 1))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := NewReplica(cctx, front, 0)
	<-c.Ready()
	if s := c.Stats(); !s.Replica || !s.Live || s.Entries != 2 || s.LoadError != "" {
		t.Fatalf("stats after the load: %+v", s)
	}
	want := describe(front.QueryMN(ctx, "mn1"))
	if got := describe(c.QueryMN(ctx, "mn1")); got != want || !strings.Contains(got, "2001:db8:11::1") {
		t.Fatalf("QueryMN mn1 from the replica: %q, the LM says %q", got, want)
	}
	if _, err := c.QueryMN(ctx, "mn9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown MN: %v", err)
	}
	if _, err := c.QueryAddress(ctx, netip.MustParseAddr("2001:db8:99::1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown address: %v", err)
	}
	if r, err := c.QueryAddress(ctx, hnp2.Addr().Next()); err != nil || r.MNID != "mn2" {
		t.Fatalf("address of mn2: %+v %v", r, err)
	}
	if s := c.Stats(); s.Hits != 4 || s.Misses != 0 {
		t.Fatalf("every answer from memory: %+v", s)
	}

	// A handover and a second prefix through the other front-end.
	hnp3 := netip.MustParsePrefix("2001:db8:2:3::/64")
	mustUpdate(t, other, upd("mn1", hnp1, mr12, mr2, time.Minute, 2))
	mustUpdate(t, other, upd("mn1", hnp3, mr2, mr2, time.Minute, 1))
	eventually(t, "the handover and the new prefix", func() error {
		got, want := describe(c.QueryMN(ctx, "mn1")), describe(front.QueryMN(ctx, "mn1"))
		if got != want || strings.Count(got, ">2001:db8:2::1") != 2 {
			return fmt.Errorf("replica %q, LM %q", got, want)
		}
		return nil
	})
	// Withdrawal of one prefix, expiry of the other (fake clock: filtered
	// at once, before the store's delete reaches the watch).
	if _, err := other.Update(ctx, upd("mn1", hnp3, mr2, mr2, 0, 2)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the withdrawal", func() error {
		if got := describe(c.QueryMN(ctx, "mn1")); strings.Contains(got, hnp3.String()) || !strings.Contains(got, hnp1.String()) {
			return fmt.Errorf("replica %q", got)
		}
		return nil
	})
	clk.Advance(time.Minute)
	if _, err := c.QueryMN(ctx, "mn1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after expiry: %v", err)
	}
	if r, err := c.QueryPrefix(ctx, hnp2); err != nil || r.MNID != "mn2" {
		t.Fatalf("mn2 (an hour) after a minute: %+v %v", r, err)
	}
	if s := c.Stats(); s.Misses != 0 {
		t.Fatalf("a replica query went to the store: %+v", s)
	}
}

// A replica agrees with the LM after any sequence of updates, handovers,
// withdrawals and expiries by other front-ends (seeded, 600 steps), and
// after its watch is cut by compaction (a store with a short history).
func TestReplicaMatchesLM(t *testing.T) {
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk), store.WithHistory(64))
	defer st.Close()
	front, _ := New(st, clk, Config{})
	other, _ := New(st, clk, Config{})
	rng := rand.New(rand.NewPCG(7, 11))
	mrs := []netip.Addr{mr11, mr12, mr2, mr31}
	seq := map[netip.Prefix]uint64{}
	// 12 MNs, 3 prefixes each.
	prefixOf := func(mn, k int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x40, byte(mn), 0, byte(k)}), 64)
	}
	step := func() {
		mn, k := rng.IntN(12), rng.IntN(3)
		p := prefixOf(mn, k)
		seq[p]++
		life := time.Duration(1+rng.IntN(30)) * time.Second
		if rng.IntN(5) == 0 {
			life = 0
		}
		_, _ = other.Update(ctx, upd(fmt.Sprint("mn", mn), p, mrs[mn%4], mrs[rng.IntN(4)], life, seq[p]))
		if rng.IntN(10) == 0 {
			clk.Advance(time.Duration(rng.IntN(5)) * time.Second)
		}
	}
	for range 50 {
		step()
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := NewReplica(cctx, front, 0)
	<-c.Ready()
	check := func(when string) {
		t.Helper()
		eventually(t, "replica = LM "+when, func() error {
			for mn := range 12 {
				id := fmt.Sprint("mn", mn)
				if got, want := describe(c.QueryMN(ctx, id)), describe(front.QueryMN(ctx, id)); got != want {
					return fmt.Errorf("QueryMN %s: replica %q, LM %q", id, got, want)
				}
				for k := range 3 {
					a := prefixOf(mn, k).Addr().Next()
					r1, e1 := c.QueryAddress(ctx, a)
					r2, e2 := front.QueryAddress(ctx, a)
					if g, w := describe([]Record{r1}, e1), describe([]Record{r2}, e2); g != w {
						return fmt.Errorf("QueryAddress %v: replica %q, LM %q", a, g, w)
					}
				}
			}
			return nil
		})
	}
	check("after the load")
	for i := range 600 {
		step()
		if i%100 == 99 {
			check(fmt.Sprintf("after %d steps", i+1))
		}
	}
	// Bursts past the history end the watch: the replica reloads.
	for range 500 {
		step()
	}
	// Live and caught up with the store (the burst may have cut its watch:
	// it reloads, and a live replica behind the store may still be cut).
	eventually(t, "the replica to be live and caught up", func() error {
		r, err := st.Revision(ctx)
		if s := c.Stats(); err != nil || !s.Live || s.Revision < r {
			return fmt.Errorf("%+v, store at %d (%v)", s, r, err)
		}
		return nil
	})
	misses := c.Stats().Misses
	check("after a burst past the store's history")
	if s := c.Stats(); s.Misses != misses {
		t.Errorf("queries of a live replica went to the store: %+v (misses were %d)", s, misses)
	}
}

// A replica holds at most maxEntries locations: beyond, it is not live,
// says why, and queries go to the LM (answers stay right); once the store
// is back under the bound the replica loads again.
func TestReplicaBound(t *testing.T) {
	old := ReplicaRetry
	ReplicaRetry = 20 * time.Millisecond
	defer func() { ReplicaRetry = old }()
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	defer st.Close()
	l, _ := New(st, clk, Config{})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := NewReplica(cctx, l, 2)
	<-c.Ready()
	mustUpdate(t, l, upd("mn1", hnp1, mr12, mr11, time.Hour, 1))
	mustUpdate(t, l, upd("mn2", hnp2, mr31, mr31, time.Hour, 1))
	hnp3 := netip.MustParsePrefix("2001:db8:2:3::/64")
	mustUpdate(t, l, upd("mn1", hnp3, mr2, mr2, time.Hour, 1))
	eventually(t, "the replica to give up", func() error {
		if s := c.Stats(); s.Live || !strings.Contains(s.LoadError, "more than 2 locations") {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})
	before := c.Stats().Misses
	if got, want := describe(c.QueryMN(ctx, "mn1")), describe(l.QueryMN(ctx, "mn1")); got != want || !strings.Contains(got, hnp3.String()) {
		t.Fatalf("over the bound: replica %q, LM %q", got, want)
	}
	if c.Stats().Misses != before+1 {
		t.Fatalf("the query did not go to the LM: %+v", c.Stats())
	}
	if _, err := l.Update(ctx, upd("mn1", hnp3, mr2, mr2, 0, 2)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the replica to load again", func() error {
		if s := c.Stats(); !s.Live || s.Entries != 2 || s.LoadError != "" {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})
	if rs, err := c.QueryMN(ctx, "mn1"); err != nil || len(rs) != 1 || rs[0].Prefix != hnp1 || !slices.ContainsFunc(rs, func(r Record) bool { return r.CurrentMR == mr11 }) {
		t.Fatalf("after the reload: %s", describe(rs, err))
	}
}

// BenchmarkReplicaQueryMN: MN-ID queries answered by a replica (10k
// nodes; compare BenchmarkQueryMN, the store's two reads).
func BenchmarkReplicaQueryMN(b *testing.B) {
	l, _ := benchLM(b)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := NewReplica(cctx, l, 0)
	<-c.Ready()
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("mn%d@example.com", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.QueryMN(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if s := c.Stats(); s.Misses != 0 {
		b.Fatalf("replica queries went to the store: %+v", s)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkReplicaLoad: a replica loading 10k locations (a front-end's
// start, or a reload after its watch was cut).
func BenchmarkReplicaLoad(b *testing.B) {
	l, _ := benchLM(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cctx, cancel := context.WithCancel(ctx)
		c := NewReplica(cctx, l, 0)
		<-c.Ready()
		if n := c.Stats().Entries; n != 10000 {
			b.Fatalf("%d entries", n)
		}
		cancel()
	}
}

// A replica loads in pages while other front-ends keep writing (updates,
// handovers, withdrawals, new nodes): once the writers stop it agrees with
// the LM, every change made during the load included.
func TestReplicaPagedLoadUnderWrites(t *testing.T) {
	old := ReplicaPage
	ReplicaPage = 7
	defer func() { ReplicaPage = old }()
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	defer st.Close()
	front, _ := New(st, clk, Config{})
	other, _ := New(st, clk, Config{})
	prefixOf := func(mn int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x41, byte(mn >> 8), byte(mn)}), 64)
	}
	const nodes = 300
	seq := make([]uint64, nodes+100)
	for mn := range nodes {
		seq[mn]++
		mustUpdate(t, other, upd(fmt.Sprint("mn", mn), prefixOf(mn), mr12, mr11, time.Hour, seq[mn]))
	}
	// The writer runs before, during and after the load: it stops 200
	// writes after the replica is ready (at most 50,000 in all).
	ready := make(chan struct{})
	done := make(chan int)
	go func() {
		rng := rand.New(rand.NewPCG(3, 5))
		after, i := 0, 0
		for ; i < 50000 && after < 200; i++ {
			select {
			case <-ready:
				after++
			default:
			}
			mn := rng.IntN(nodes + 100) // some new nodes
			seq[mn]++
			life := time.Hour
			if i%9 == 0 {
				life = 0
			}
			_, _ = other.Update(ctx, upd(fmt.Sprint("mn", mn), prefixOf(mn), mr12, []netip.Addr{mr11, mr2, mr31}[i%3], life, seq[mn]))
		}
		done <- i
	}()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := NewReplica(cctx, front, 0)
	<-c.Ready()
	close(ready)
	t.Logf("%d writes, the last 200 after the replica was ready", <-done)
	eventually(t, "replica = LM after writes during the load", func() error {
		for mn := range nodes + 100 {
			id := fmt.Sprint("mn", mn)
			if got, want := describe(c.QueryMN(ctx, id)), describe(front.QueryMN(ctx, id)); got != want {
				return fmt.Errorf("QueryMN %s: replica %q, LM %q", id, got, want)
			}
		}
		return nil
	})
	if s := c.Stats(); !s.Live || s.Misses != 0 {
		t.Errorf("stats: %+v", s)
	}
}
