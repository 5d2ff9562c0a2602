package haa

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/mh"
)

var (
	ctx = context.Background()
	t0  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

	mr11 = netip.MustParseAddr("2001:db8:11::1")
	mr12 = netip.MustParseAddr("2001:db8:12::1")
	mr2  = netip.MustParseAddr("2001:db8:2::1")
	mr31 = netip.MustParseAddr("2001:db8:31::1")
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestConfigValidate(t *testing.T) {
	ok := PoolConfig{MR: mr11, Prefix: pfx("2001:db8:11::/48")}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"valid", Config{Pools: []PoolConfig{ok, {MR: mr12, Prefix: pfx("2001:db8:12::/56"), Length: 60}, {MR: mr12, Prefix: pfx("2001:db8:12:100::/120"), Length: 128}}}, ""},
		{"no pools", Config{}, "haa: Pools: none configured"},
		{"key prefix", Config{KeyPrefix: "x", Pools: []PoolConfig{ok}}, `haa: KeyPrefix "x": must end with "/"`},
		{"negative lifetime", Config{DefaultLifetime: -1, Pools: []PoolConfig{ok}}, "haa: DefaultLifetime -1ns: must not be negative"},
		{"default above max", Config{DefaultLifetime: 2 * time.Hour, MaxLifetime: time.Hour, Pools: []PoolConfig{ok}}, "haa: DefaultLifetime 2h0m0s: above MaxLifetime 1h0m0s"},
		{"IPv4 MR", Config{Pools: []PoolConfig{{MR: netip.MustParseAddr("192.0.2.1"), Prefix: pfx("2001:db8::/48")}}}, "haa: Pools[0].MR 192.0.2.1: not an IPv6 unicast address"},
		{"no MR", Config{Pools: []PoolConfig{{Prefix: pfx("2001:db8::/48")}}}, "haa: Pools[0].MR invalid IP: not an IPv6 unicast address"},
		{"IPv4 pool", Config{Pools: []PoolConfig{{MR: mr11, Prefix: pfx("10.0.0.0/8")}}}, "haa: Pools[0].Prefix 10.0.0.0/8: not an IPv6 prefix"},
		{"host bits", Config{Pools: []PoolConfig{{MR: mr11, Prefix: pfx("2001:db8::1/48")}}}, "haa: Pools[0].Prefix 2001:db8::1/48: host bits set (want 2001:db8::/48)"},
		{"length short", Config{Pools: []PoolConfig{{MR: mr11, Prefix: pfx("2001:db8::/48"), Length: 40}}}, "haa: Pools[0].Length 40: must be between the pool's length 48 and 128"},
		{"default length short", Config{Pools: []PoolConfig{{MR: mr11, Prefix: pfx("2001:db8::/72")}}}, "haa: Pools[0].Length 64: must be between the pool's length 72 and 128"},
		{"too large", Config{Pools: []PoolConfig{{MR: mr11, Prefix: pfx("2000::/3"), Length: 128}}}, "haa: Pools[0].Length 128: a /3 pool of /128 prefixes is too large (at most 2^62)"},
		{"overlap other MR", Config{Pools: []PoolConfig{ok, {MR: mr12, Prefix: pfx("2001:db8:11:8000::/49")}}}, "haa: Pools[1].Prefix 2001:db8:11:8000::/49: overlaps Pools[0].Prefix 2001:db8:11::/48 (MR 2001:db8:11::1)"},
		{"overlap same MR", Config{Pools: []PoolConfig{{MR: mr12, Prefix: pfx("2001:db8::/32")}, {MR: mr12, Prefix: pfx("2001:db8:12::/48")}}}, "haa: Pools[1].Prefix 2001:db8:12::/48: overlaps Pools[0].Prefix 2001:db8::/32 (MR 2001:db8:12::1)"},
	} {
		err := tc.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPoolIndexing(t *testing.T) {
	for _, tc := range []struct {
		pool   string
		length int
		i      uint64
		want   string
	}{
		{"2001:db8:12::/48", 64, 0, "2001:db8:12::/64"},
		{"2001:db8:12::/48", 64, 1, "2001:db8:12:1::/64"},
		{"2001:db8:12::/48", 64, 0xffff, "2001:db8:12:ffff::/64"},
		{"2001:db8:12:ab00::/56", 64, 0x42, "2001:db8:12:ab42::/64"},
		{"2001:db8:12::/48", 56, 3, "2001:db8:12:300::/56"},
		{"2001:db8::/32", 80, 0xabcd_0001_0002, "2001:db8:abcd:1:2::/80"},
		{"2001:db8:1:2::/120", 128, 0xfe, "2001:db8:1:2::fe/128"},
		{"2001:db8:1:2::/64", 127, 5, "2001:db8:1:2::a/127"},
		{"2001:db8:1::/48", 48, 0, "2001:db8:1::/48"},
	} {
		p := pfx(tc.pool)
		pl := &pool{prefix: p, length: tc.length, size: 1 << uint(tc.length-p.Bits())}
		got := pl.nth(tc.i)
		if got.String() != tc.want {
			t.Errorf("%s /%d #%d = %v, want %s", tc.pool, tc.length, tc.i, got, tc.want)
			continue
		}
		if i, ok := pl.index(got); !ok || i != tc.i {
			t.Errorf("index(%v) = %d %v, want %d", got, i, ok, tc.i)
		}
	}
	pl := &pool{prefix: pfx("2001:db8:12::/48"), length: 64, size: 1 << 16}
	for _, q := range []string{"2001:db8:13::/64", "2001:db8:12::/56", "2001:db8:12::1/64"} {
		if _, ok := pl.index(netip.MustParsePrefix(q)); ok {
			t.Errorf("index(%s) accepted", q)
		}
	}
}

// Figure 1: MR11 and MR12 in local network 1, MR2 in 2, MR31 and MR32 in 3.
func fig1Config() Config {
	return Config{Pools: []PoolConfig{
		{MR: mr11, Prefix: pfx("2001:db8:11::/48")},
		{MR: mr12, Prefix: pfx("2001:db8:12::/48")},
		{MR: mr2, Prefix: pfx("2001:db8:2::/62")},     // 4 prefixes
		{MR: mr2, Prefix: pfx("2001:db8:2:100::/63")}, // then 2 more
	}}
}

func newHAA(t *testing.T, cfg Config) (*HAA, *clock.Fake, *store.Memory) {
	t.Helper()
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	t.Cleanup(func() { st.Close() })
	h, err := New(st, clk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, clk, st
}

func mustAlloc(t *testing.T, h *HAA, mn string, mr netip.Addr, life time.Duration) (Allocation, bool) {
	t.Helper()
	a, fresh, err := h.Allocate(ctx, mn, mr, life)
	if err != nil {
		t.Fatalf("Allocate(%s, %v): %v", mn, mr, err)
	}
	return a, fresh
}

func TestAllocateAndHoldings(t *testing.T) {
	h, clk, _ := newHAA(t, fig1Config())
	for i, tc := range []struct {
		mn      string
		mr      netip.Addr
		want    string
		fresh   bool
		advance time.Duration
	}{
		{"mn1", mr12, "2001:db8:12::/64", true, 0},
		{"mn2", mr12, "2001:db8:12:1::/64", true, 0},
		{"mn1", mr12, "2001:db8:12::/64", false, 0}, // idempotent
		{"mn1", mr11, "2001:db8:11::/64", true, time.Second},
		{"mn1", mr2, "2001:db8:2::/64", true, time.Second}, // draft 4.2: new prefix at the nMR
		{"mn2", mr2, "2001:db8:2:1::/64", true, 0},
		{"mn3", mr2, "2001:db8:2:2::/64", true, 0},
		{"mn4", mr2, "2001:db8:2:3::/64", true, 0},
		{"mn5", mr2, "2001:db8:2:100::/64", true, 0}, // first pool full: the second
		{"mn6", mr2, "2001:db8:2:101::/64", true, 0},
	} {
		clk.Advance(tc.advance)
		a, fresh := mustAlloc(t, h, tc.mn, tc.mr, 0)
		if a.Prefix.String() != tc.want || fresh != tc.fresh || a.AnchorMR != tc.mr || a.MNID != tc.mn {
			t.Fatalf("step %d: %s at %v: %v fresh %v anchor %v, want %s fresh %v", i, tc.mn, tc.mr, a.Prefix, fresh, a.AnchorMR, tc.want, tc.fresh)
		}
		if tc.fresh && (a.Lifetime != time.Hour || !a.Expiry.Equal(clk.Now().Add(time.Hour)) || !a.AllocatedAt.Equal(clk.Now())) {
			t.Fatalf("step %d: lifetime %v expiry %v allocated %v", i, a.Lifetime, a.Expiry, a.AllocatedAt)
		}
	}
	_, _, err := h.Allocate(ctx, "mn7", mr2, 0)
	if !errors.Is(err, ErrPoolExhausted) || StatusFor(err) != mh.StatusInsufficientResources || StatusFor(err) != 130 {
		t.Fatalf("7th allocation at MR2: %v (status %d), want ErrPoolExhausted / 130", err, StatusFor(err))
	}
	if _, _, err := h.Allocate(ctx, "mn1", mr31, 0); !errors.Is(err, ErrNoPool) || StatusFor(err) != 129 {
		t.Fatalf("MR without pool: %v", err)
	}
	if _, _, err := h.Allocate(ctx, "", mr12, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty MN-ID: %v", err)
	}
	hs, err := h.Holdings(ctx, "mn1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range hs {
		got = append(got, a.Prefix.String()+"@"+a.AnchorMR.String())
	}
	want := "2001:db8:12::/64@2001:db8:12::1 2001:db8:11::/64@2001:db8:11::1 2001:db8:2::/64@2001:db8:2::1"
	if strings.Join(got, " ") != want {
		t.Fatalf("Holdings(mn1) = %v, want %s", got, want)
	}
	if hs, err := h.Holdings(ctx, "nobody"); err != nil || len(hs) != 0 {
		t.Fatalf("Holdings(nobody) = %v %v", hs, err)
	}
	if a, err := h.Lookup(ctx, pfx("2001:db8:2:1::/64")); err != nil || a.MNID != "mn2" {
		t.Fatalf("Lookup = %+v %v", a, err)
	}
	if as, err := h.Allocations(ctx, pfx("2001:db8:2::/62")); err != nil || len(as) != 4 || as[3].MNID != "mn4" {
		t.Fatalf("Allocations = %+v %v", as, err)
	}
}

func TestExpiryReleaseRenew(t *testing.T) {
	cfg := Config{MaxLifetime: time.Hour, Pools: []PoolConfig{{MR: mr2, Prefix: pfx("2001:db8:2::/62")}}}
	h, clk, _ := newHAA(t, cfg)
	a1, _ := mustAlloc(t, h, "a", mr2, 10*time.Second) // ::/64
	mustAlloc(t, h, "b", mr2, 20*time.Second)          // :1::/64
	mustAlloc(t, h, "c", mr2, 20*time.Second)          // :2::/64
	if _, _, err := h.Allocate(ctx, "x", mr2, 2*time.Hour); !errors.Is(err, ErrInvalid) {
		t.Fatalf("lifetime over the cap: %v", err)
	}
	// Renew of a by someone else is refused; by a, moves its expiry.
	if _, err := h.Renew(ctx, "b", a1.Prefix, time.Minute); !errors.Is(err, ErrNotHeld) || StatusFor(err) != 155 {
		t.Fatalf("renew by another node: %v", err)
	}
	clk.Advance(5 * time.Second)
	r, err := h.Renew(ctx, "a", a1.Prefix, 30*time.Second)
	if err != nil || !r.Expiry.Equal(t0.Add(35*time.Second)) || r.Lifetime != 30*time.Second || !r.AllocatedAt.Equal(t0) {
		t.Fatalf("Renew = %+v %v", r, err)
	}
	clk.Advance(16 * time.Second) // 21 s: b and c expired, a lives until 35 s
	if hs, _ := h.Holdings(ctx, "b"); len(hs) != 0 {
		t.Fatalf("b still holds %v after its lifetime", hs)
	}
	if hs, _ := h.Holdings(ctx, "a"); len(hs) != 1 {
		t.Fatalf("a lost its renewed prefix")
	}
	// The cursor is at index 3; then it wraps and takes the freed 1 and 2.
	for _, w := range []struct{ mn, want string }{{"d", "2001:db8:2:3::/64"}, {"e", "2001:db8:2:1::/64"}, {"f", "2001:db8:2:2::/64"}} {
		a, fresh := mustAlloc(t, h, w.mn, mr2, 0)
		if a.Prefix.String() != w.want || !fresh {
			t.Fatalf("%s got %v, want %s", w.mn, a.Prefix, w.want)
		}
	}
	if _, _, err := h.Allocate(ctx, "g", mr2, 0); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("full pool: %v", err)
	}
	// Explicit release frees at once; a wrong holder cannot release.
	if _, err := h.Release(ctx, "d", a1.Prefix); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("release by another node: %v", err)
	}
	if _, err := h.Release(ctx, "a", pfx("2001:db8:9::/64")); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("release of a prefix in no pool: %v", err)
	}
	rel, err := h.Release(ctx, "a", a1.Prefix)
	if err != nil || rel.MNID != "a" || rel.Prefix != a1.Prefix {
		t.Fatalf("Release = %+v %v", rel, err)
	}
	if _, err := h.Release(ctx, "a", a1.Prefix); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second release: %v", err)
	}
	if hs, _ := h.Holdings(ctx, "a"); len(hs) != 0 {
		t.Fatalf("a holds %v after release", hs)
	}
	a, _ := mustAlloc(t, h, "g", mr2, 0)
	if a.Prefix != a1.Prefix {
		t.Fatalf("g got %v, want the released %v", a.Prefix, a1.Prefix)
	}
}

// Two HAA front-ends over one store, 4 goroutines: 1000 allocations, all
// distinct; then a small pool: exactly its size succeed.
func TestConcurrentAllocation(t *testing.T) {
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	defer st.Close()
	cfg := Config{Pools: []PoolConfig{
		{MR: mr12, Prefix: pfx("2001:db8:12::/54")}, // 1024 /64s
		{MR: mr31, Prefix: pfx("2001:db8:31::/60")}, // 16 /64s
	}}
	h1, err := New(st, clk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := New(st, clk, cfg)
	haas := []*HAA{h1, h2}

	run := func(mr netip.Addr, n int) (map[netip.Prefix]string, int) {
		var mu sync.Mutex
		got := map[netip.Prefix]string{}
		exhausted := 0
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := haas[g%2]
				for i := g; i < n; i += 4 {
					mn := fmt.Sprintf("mn%d", i)
					a, fresh, err := h.Allocate(ctx, mn, mr, 0)
					mu.Lock()
					switch {
					case errors.Is(err, ErrPoolExhausted):
						exhausted++
					case err != nil:
						t.Error(err)
					case !fresh:
						t.Errorf("%s: not fresh", mn)
					default:
						if prev, dup := got[a.Prefix]; dup {
							t.Errorf("%v allocated to %s and %s", a.Prefix, prev, mn)
						}
						got[a.Prefix] = mn
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return got, exhausted
	}
	got, ex := run(mr12, 1000)
	if len(got) != 1000 || ex != 0 {
		t.Fatalf("%d distinct prefixes, %d exhausted; want 1000, 0", len(got), ex)
	}
	for p, mn := range got {
		if !pfx("2001:db8:12::/54").Contains(p.Addr()) || p.Bits() != 64 {
			t.Fatalf("%v outside the pool", p)
		}
		if a, err := h2.Lookup(ctx, p); err != nil || a.MNID != mn {
			t.Fatalf("Lookup(%v) = %+v %v, want %s", p, a, err, mn)
		}
	}
	got, ex = run(mr31, 40)
	if len(got) != 16 || ex != 24 {
		t.Fatalf("small pool: %d allocated, %d exhausted; want 16, 24", len(got), ex)
	}
	// The same node asking through both front-ends at once gets one prefix.
	var wg sync.WaitGroup
	res := make([]Allocation, 8)
	freshN := make([]bool, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, fresh, err := haas[g%2].Allocate(ctx, "roamer", mr12, 0)
			if err != nil {
				t.Error(err)
			}
			res[g], freshN[g] = a, fresh
		}()
	}
	wg.Wait()
	nFresh := 0
	for g := range 8 {
		if res[g].Prefix != res[0].Prefix {
			t.Fatalf("roamer got %v and %v", res[0].Prefix, res[g].Prefix)
		}
		if freshN[g] {
			nFresh++
		}
	}
	if nFresh != 1 {
		t.Fatalf("%d fresh allocations for one node, want 1", nFresh)
	}
	if hs, _ := h1.Holdings(ctx, "roamer"); len(hs) != 1 {
		t.Fatalf("roamer holds %d prefixes", len(hs))
	}
}

func TestStatusFor(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want mh.Status
	}{
		{nil, 0},
		{fmt.Errorf("x: %w", ErrPoolExhausted), 130},
		{ErrNoPool, 129},
		{ErrNotHeld, 155},
		{ErrInvalid, 128},
		{store.ErrClosed, 128},
	} {
		if got := StatusFor(tc.err); got != tc.want {
			t.Errorf("StatusFor(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func BenchmarkAllocate(b *testing.B) {
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	defer st.Close()
	h, err := New(st, clk, Config{Pools: []PoolConfig{{MR: mr12, Prefix: pfx("2001:db8::/32")}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := h.Allocate(ctx, fmt.Sprintf("mn%d", i), mr12, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocations/s")
}
