package lm

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/internal/clock"
)

// eventually polls f until it returns nil (the watch is asynchronous).
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestCache(t *testing.T) {
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	defer st.Close()
	mr, _ := New(st, clk, Config{})    // the front-end the cache sits on
	other, _ := New(st, clk, Config{}) // another LM front-end, same store
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := NewCache(cctx, mr, 0)
	<-c.Ready()
	home := hnp1.Addr().Next()

	stats := func(h, m uint64, n int) {
		t.Helper()
		s := c.Stats()
		if s.Hits != h || s.Misses != m || s.Entries != n {
			t.Fatalf("stats %+v, want hits %d misses %d entries %d", s, h, m, n)
		}
	}
	// Unknown: a miss, then a cached absence (both lengths, /64 and /128).
	if _, err := c.QueryAddress(ctx, home); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	stats(0, 1, 2)
	if _, err := c.QueryAddress(ctx, home); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown again: %v", err)
	}
	stats(1, 1, 2)
	// Another front-end records it: the watch turns the absence into the record.
	mustUpdate(t, other, upd("mn1", hnp1, mr12, mr11, time.Minute, 1))
	eventually(t, "record after update", func() error {
		r, err := c.QueryAddress(ctx, home)
		if err != nil || r.CurrentMR != mr11 {
			return fmt.Errorf("%v %v", r.CurrentMR, err)
		}
		return nil
	})
	if s := c.Stats(); s.Misses != 1 {
		t.Fatalf("the update was learnt by a miss: %+v", s)
	}
	// Handover: the change reaches the cache without a miss.
	mustUpdate(t, other, upd("mn1", hnp1, mr12, mr2, time.Minute, 2))
	eventually(t, "record after handover", func() error {
		r, err := c.QueryAddress(ctx, home)
		if err != nil || r.CurrentMR != mr2 || r.Sequence != 2 {
			return fmt.Errorf("%v seq %d %v", r.CurrentMR, r.Sequence, err)
		}
		return nil
	})
	// Another address of the prefix: the /128 is not cached yet: one miss.
	h2 := home.Next()
	if r, err := c.QueryAddress(ctx, h2); err != nil || r.CurrentMR != mr2 {
		t.Fatalf("second address: %v %v", r, err)
	}
	if s := c.Stats(); s.Misses != 2 || s.Entries != 3 {
		t.Fatalf("stats %+v, want 2 misses, 3 entries (/64, two /128)", s)
	}
	// Query by prefix uses the /64 entry only.
	before := c.Stats()
	if r, err := c.QueryPrefix(ctx, hnp1); err != nil || r.CurrentMR != mr2 {
		t.Fatalf("by prefix: %v %v", r, err)
	}
	if s := c.Stats(); s.Hits != before.Hits+1 || s.Misses != before.Misses {
		t.Fatalf("by prefix was not a hit: %+v -> %+v", before, s)
	}
	// Expiry: answered as unknown at once (fake clock), and the delete
	// event keeps it so.
	clk.Advance(time.Minute)
	if _, err := c.QueryAddress(ctx, home); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after expiry: %v", err)
	}
	// Withdrawal through the other front-end.
	mustUpdate(t, other, upd("mn1", hnp1, mr12, mr11, time.Minute, 3))
	eventually(t, "re-registered", func() error {
		_, err := c.QueryAddress(ctx, home)
		return err
	})
	if _, err := other.Update(ctx, upd("mn1", hnp1, mr12, mr11, 0, 4)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "withdrawn", func() error {
		if _, err := c.QueryAddress(ctx, home); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("still %v", err)
		}
		return nil
	})
}

// A cache whose watch ends (compaction) drops its entries and recovers.
func TestCacheResync(t *testing.T) {
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk), store.WithHistory(16))
	defer st.Close()
	l, _ := New(st, clk, Config{})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := NewCache(cctx, l, 0)
	<-c.Ready()
	mustUpdate(t, l, upd("mn1", hnp1, mr12, mr11, time.Hour, 1))
	if _, err := c.QueryPrefix(ctx, hnp1); err != nil {
		t.Fatal(err)
	}
	// Many changes at once may push the watcher past the history; whatever
	// happens, the cache must end up answering the last state.
	for i := 2; i < 500; i++ {
		mustUpdate(t, l, upd("mn1", hnp1, mr12, []netip.Addr{mr11, mr2}[i%2], time.Hour, uint64(i)))
		p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x77, byte(i >> 8), byte(i)}), 64)
		mustUpdate(t, l, upd(fmt.Sprint("x", i), p.Masked(), mr31, mr31, time.Hour, 1))
	}
	eventually(t, "last state", func() error {
		r, err := c.QueryPrefix(ctx, hnp1)
		if err != nil || r.Sequence != 499 || r.CurrentMR != mr2 {
			return fmt.Errorf("seq %d cur %v %v", r.Sequence, r.CurrentMR, err)
		}
		return nil
	})
}

// Benchmarks of location queries on the memory store (design §7 target:
// >= 100k queries per second). 10k nodes, /64 and /128 lengths.
func benchLM(b *testing.B) (*LM, []netip.Addr) {
	l, _, _ := newLM(b, Config{})
	const n = 10000
	addrs := make([]netip.Addr, n)
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i), 1}), 64)
		if _, err := l.Update(ctx, upd(fmt.Sprintf("mn%d@example.com", i), p, mr12, mr11, time.Hour, 1)); err != nil {
			b.Fatal(err)
		}
		a := p.Addr().As16()
		a[15] = 1
		addrs[i] = netip.AddrFrom16(a)
	}
	return l, addrs
}

func BenchmarkQueryAddress(b *testing.B) {
	l, addrs := benchLM(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.QueryAddress(ctx, addrs[i%len(addrs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

func BenchmarkQueryAddressParallel(b *testing.B) {
	l, addrs := benchLM(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := l.QueryAddress(ctx, addrs[i%len(addrs)]); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

func BenchmarkQueryMN(b *testing.B) {
	l, _ := benchLM(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.QueryMN(ctx, fmt.Sprintf("mn%d@example.com", i%10000)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

func BenchmarkCacheQueryAddress(b *testing.B) {
	l, addrs := benchLM(b)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := NewCache(cctx, l, 0)
	<-c.Ready()
	for _, a := range addrs {
		if _, err := c.QueryAddress(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.QueryAddress(ctx, addrs[i%len(addrs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

func BenchmarkUpdate(b *testing.B) {
	l, _, _ := newLM(b, Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Update(ctx, upd("mn1", hnp1, mr12, mr11, time.Hour, uint64(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
