package lm

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

	// Figure 1 of the draft.
	mr11 = netip.MustParseAddr("2001:db8:11::1")
	mr12 = netip.MustParseAddr("2001:db8:12::1")
	mr2  = netip.MustParseAddr("2001:db8:2::1")
	mr31 = netip.MustParseAddr("2001:db8:31::1")

	hnp1 = netip.MustParsePrefix("2001:db8:12:1::/64") // MN1's, anchored at MR12
	hnp2 = netip.MustParsePrefix("2001:db8:31:7::/64") // MN2's, anchored at MR31
)

func newLM(t testing.TB, cfg Config) (*LM, *clock.Fake, *store.Memory) {
	t.Helper()
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	t.Cleanup(func() { st.Close() })
	l, err := New(st, clk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, clk, st
}

func upd(mn string, p netip.Prefix, anchor, cur netip.Addr, life time.Duration, seq uint64) Update {
	return Update{MNID: mn, Prefix: p, AnchorMR: anchor, CurrentMR: cur, Lifetime: life, Sequence: seq}
}

func mustUpdate(t *testing.T, l *LM, u Update) Record {
	t.Helper()
	r, err := l.Update(ctx, u)
	if err != nil {
		t.Fatalf("Update(%+v): %v", u, err)
	}
	return r
}

func sameRecord(a, b Record) bool {
	return a.MNID == b.MNID && a.Prefix == b.Prefix && a.AnchorMR == b.AnchorMR && a.CurrentMR == b.CurrentMR &&
		a.Lifetime == b.Lifetime && a.Expiry.Equal(b.Expiry) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.Sequence == b.Sequence && a.Revision == b.Revision
}

func checkRecord(t *testing.T, what string, got, want Record) {
	t.Helper()
	if !sameRecord(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // "" = valid
	}{
		{Config{}, ""},
		{Config{KeyPrefix: "dmm/lm/", PrefixLengths: []int{48, 56, 64, 128}, MaxLifetime: time.Hour}, ""},
		{Config{KeyPrefix: "lm"}, `KeyPrefix "lm": must end with "/"`},
		{Config{PrefixLengths: []int{64, 0}}, "PrefixLengths[1] = 0: must be 1-128"},
		{Config{PrefixLengths: []int{129}}, "PrefixLengths[0] = 129: must be 1-128"},
		{Config{PrefixLengths: []int{64, 128, 64}}, "PrefixLengths[2] = 64: listed twice"},
		{Config{MaxLifetime: -1}, "MaxLifetime -1ns: must not be negative"},
		{Config{MaxRetries: -1}, "MaxRetries -1: must not be negative"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.cfg, err)
			}
			continue
		}
		if err == nil || err.Error() != "lm: "+tc.want {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, "lm: "+tc.want)
		}
	}
}

func TestUpdateAndQuery(t *testing.T) {
	l, clk, _ := newLM(t, Config{})
	r := mustUpdate(t, l, upd("mn1@example.com", hnp1, mr12, mr11, 100*time.Second, 1))
	want := Record{MNID: "mn1@example.com", Prefix: hnp1, AnchorMR: mr12, CurrentMR: mr11, Lifetime: 100 * time.Second,
		UpdatedAt: t0, Expiry: t0.Add(100 * time.Second), Sequence: 1, Revision: 1}
	checkRecord(t, "Update result", r, want)
	clk.Advance(30 * time.Second)
	home := netip.MustParseAddr("2001:db8:12:1::abcd")
	for _, tc := range []struct {
		name string
		q    func() (Record, error)
		err  error
	}{
		{"address in the prefix", func() (Record, error) { return l.QueryAddress(ctx, home) }, nil},
		{"the prefix", func() (Record, error) { return l.QueryPrefix(ctx, hnp1) }, nil},
		{"a /128 in it", func() (Record, error) { return l.QueryPrefix(ctx, netip.PrefixFrom(home, 128)) }, nil},
		{"a shorter prefix", func() (Record, error) { return l.QueryPrefix(ctx, netip.MustParsePrefix("2001:db8:12::/48")) }, ErrNotFound},
		{"an address outside", func() (Record, error) { return l.QueryAddress(ctx, netip.MustParseAddr("2001:db8:12:2::1")) }, ErrNotFound},
		{"an IPv4 address", func() (Record, error) { return l.QueryAddress(ctx, netip.MustParseAddr("192.0.2.1")) }, ErrInvalid},
	} {
		got, err := tc.q()
		if !errors.Is(err, tc.err) || (tc.err != nil) != (err != nil) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
			continue
		}
		if err == nil {
			checkRecord(t, tc.name, got, want)
			if s := got.RemainingSeconds(clk.Now()); s != 70 {
				t.Errorf("%s: %d s remaining, want 70", tc.name, s)
			}
		}
	}
}

func TestLongestPrefixMatch(t *testing.T) {
	l, _, _ := newLM(t, Config{PrefixLengths: []int{128, 48, 64}})
	hoa := netip.MustParseAddr("2001:db8:12:1::99")
	mustUpdate(t, l, upd("mn-agg", netip.MustParsePrefix("2001:db8:12::/48"), mr12, mr12, time.Hour, 1))
	mustUpdate(t, l, upd("mn1", hnp1, mr12, mr11, time.Hour, 1))
	mustUpdate(t, l, upd("mn-hoa", netip.PrefixFrom(hoa, 128), mr12, mr2, time.Hour, 1))
	for _, tc := range []struct {
		q      string
		wantMN string
		wantP  string
	}{
		{"2001:db8:12:1::99", "mn-hoa", "2001:db8:12:1::99/128"},
		{"2001:db8:12:1::98", "mn1", "2001:db8:12:1::/64"},
		{"2001:db8:12:ffff::1", "mn-agg", "2001:db8:12::/48"},
		{"2001:db8:13::1", "", ""},
	} {
		r, err := l.QueryAddress(ctx, netip.MustParseAddr(tc.q))
		if tc.wantMN == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v %v, want ErrNotFound", tc.q, r, err)
			}
			continue
		}
		if err != nil || r.MNID != tc.wantMN || r.Prefix.String() != tc.wantP {
			t.Errorf("%s: %s %v (%v), want %s %s", tc.q, r.MNID, r.Prefix, err, tc.wantMN, tc.wantP)
		}
	}
	// By prefix: the covering record of at most that length.
	r, err := l.QueryPrefix(ctx, netip.MustParsePrefix("2001:db8:12:1::/64"))
	if err != nil || r.MNID != "mn1" {
		t.Fatalf("QueryPrefix /64: %v %v", r.MNID, err)
	}
	r, err = l.QueryPrefix(ctx, netip.MustParsePrefix("2001:db8:12:1::/60"))
	if err != nil || r.MNID != "mn-agg" {
		t.Fatalf("QueryPrefix /60: %v %v", r.MNID, err)
	}
}

func TestUpdateRules(t *testing.T) {
	l, clk, _ := newLM(t, Config{MaxLifetime: time.Hour})
	base := mustUpdate(t, l, upd("mn1", hnp1, mr12, mr11, 100*time.Second, 10))
	clk.Advance(time.Second)
	v4 := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		name string
		u    Update
		err  error
		// for accepted updates: the current MR and sequence then stored
		cur netip.Addr
		seq uint64
	}{
		{"older sequence from the new MR", upd("mn1", hnp1, mr12, mr2, time.Minute, 9), ErrStale, mr11, 10},
		{"same sequence, other MR", upd("mn1", hnp1, mr12, mr2, time.Minute, 10), ErrStale, mr11, 10},
		{"same sequence, same MR: refresh", upd("mn1", hnp1, mr12, mr11, time.Minute, 10), nil, mr11, 10},
		{"newer sequence from the new MR", upd("mn1", hnp1, mr12, mr2, time.Minute, 11), nil, mr2, 11},
		{"late update from the previous MR", upd("mn1", hnp1, mr12, mr11, time.Minute, 10), ErrStale, mr2, 11},
		{"another MN", upd("mn2", hnp1, mr12, mr31, time.Minute, 99), ErrConflict, mr2, 11},
		{"another anchor", upd("mn1", hnp1, mr31, mr31, time.Minute, 99), ErrConflict, mr2, 11},
		{"empty MN-ID", upd("", hnp1, mr12, mr11, time.Minute, 99), ErrInvalid, mr2, 11},
		{"IPv4 anchor", upd("mn1", hnp1, v4, mr11, time.Minute, 99), ErrInvalid, mr2, 11},
		{"unspecified current MR", upd("mn1", hnp1, mr12, netip.IPv6Unspecified(), time.Minute, 99), ErrInvalid, mr2, 11},
		{"unmasked prefix", upd("mn1", netip.MustParsePrefix("2001:db8:12:1::1/64"), mr12, mr11, time.Minute, 99), ErrInvalid, mr2, 11},
		{"length not configured", upd("mn1", netip.MustParsePrefix("2001:db8:12::/56"), mr12, mr11, time.Minute, 99), ErrInvalid, mr2, 11},
		{"negative lifetime", upd("mn1", hnp1, mr12, mr11, -time.Second, 99), ErrInvalid, mr2, 11},
		{"lifetime over the cap", upd("mn1", hnp1, mr12, mr11, 2*time.Hour, 99), ErrInvalid, mr2, 11},
	} {
		r, err := l.Update(ctx, tc.u)
		if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Fatalf("%s: error %v, want %v", tc.name, err, tc.err)
		}
		if errors.Is(err, ErrStale) && (r.CurrentMR != tc.cur || r.Sequence != tc.seq) {
			t.Fatalf("%s: ErrStale returned %+v, want the stored record", tc.name, r)
		}
		got, err := l.QueryPrefix(ctx, hnp1)
		if err != nil {
			t.Fatal(err)
		}
		if got.CurrentMR != tc.cur || got.Sequence != tc.seq {
			t.Fatalf("%s: stored current MR %v seq %d, want %v %d", tc.name, got.CurrentMR, got.Sequence, tc.cur, tc.seq)
		}
		if tc.err == nil && (got.Revision <= base.Revision || !got.Expiry.Equal(clk.Now().Add(time.Minute))) {
			t.Fatalf("%s: accepted update stored revision %d expiry %v", tc.name, got.Revision, got.Expiry)
		}
	}
}

func TestExpiryAndWithdrawal(t *testing.T) {
	l, clk, _ := newLM(t, Config{})
	mustUpdate(t, l, upd("mn1", hnp1, mr12, mr11, 10*time.Second, 1))
	mustUpdate(t, l, upd("mn2", hnp2, mr31, mr31, 10*time.Second, 1))
	clk.Advance(9 * time.Second)
	// Refreshing mn2 moves its expiry to 9+10 = 19 s.
	mustUpdate(t, l, upd("mn2", hnp2, mr31, mr31, 10*time.Second, 2))
	if _, err := l.QueryPrefix(ctx, hnp1); err != nil {
		t.Fatalf("mn1 before its expiry: %v", err)
	}
	clk.Advance(time.Second) // 10 s: mn1 expires
	if _, err := l.QueryPrefix(ctx, hnp1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("mn1 after its expiry: %v, want ErrNotFound", err)
	}
	if _, err := l.QueryMN(ctx, "mn1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("QueryMN mn1 after expiry: %v, want ErrNotFound", err)
	}
	// After expiry an old sequence is accepted again: there is nothing to order against.
	mustUpdate(t, l, upd("mn1", hnp1, mr12, mr11, 10*time.Second, 0))
	clk.Advance(8 * time.Second) // 18 s
	if r, err := l.QueryPrefix(ctx, hnp2); err != nil || r.Sequence != 2 {
		t.Fatalf("refreshed mn2 at 18 s: %+v %v", r, err)
	}
	// Withdrawal: a stale one is refused, a current one removes.
	if _, err := l.Update(ctx, upd("mn2", hnp2, mr31, mr31, 0, 1)); !errors.Is(err, ErrStale) {
		t.Fatalf("stale withdrawal: %v", err)
	}
	r, err := l.Update(ctx, upd("mn2", hnp2, mr31, mr31, 0, 3))
	if err != nil || r.MNID != "mn2" || r.Sequence != 2 {
		t.Fatalf("withdrawal: %+v %v, want the removed record", r, err)
	}
	if _, err := l.QueryPrefix(ctx, hnp2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after withdrawal: %v", err)
	}
	if _, err := l.Update(ctx, upd("mn2", hnp2, mr31, mr31, 0, 4)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second withdrawal: %v, want ErrNotFound", err)
	}
	if _, err := l.QueryMN(ctx, "mn2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("QueryMN after withdrawal: %v", err)
	}
}

func TestQueryMNAndBatch(t *testing.T) {
	l, _, st := newLM(t, Config{})
	p2 := netip.MustParsePrefix("2001:db8:2:9::/64")
	odd := "user/with%odd@chars" // path-escaped in the index key
	mustUpdate(t, l, upd(odd, p2, mr2, mr2, time.Minute, 5))
	mustUpdate(t, l, upd(odd, hnp1, mr12, mr2, time.Minute, 5))
	mustUpdate(t, l, upd("mn2", hnp2, mr31, mr31, time.Minute, 1))
	mustUpdate(t, l, upd("user", netip.MustParsePrefix("2001:db8:2:a::/64"), mr2, mr2, time.Minute, 1))
	rs, err := l.QueryMN(ctx, odd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Prefix != p2 || rs[1].Prefix != hnp1 || rs[0].AnchorMR != mr2 || rs[1].AnchorMR != mr12 {
		t.Fatalf("QueryMN = %+v", rs)
	}
	kvs, _, _ := st.List(ctx, "lm/mn/", 0)
	var keys []string
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
	}
	wantKeys := "lm/mn/mn2/2001:db8:31:7::/64 lm/mn/user%2Fwith%25odd@chars/2001:db8:12:1::/64 lm/mn/user%2Fwith%25odd@chars/2001:db8:2:9::/64 lm/mn/user/2001:db8:2:a::/64"
	if got := strings.Join(keys, " "); got != wantKeys {
		t.Fatalf("index keys:\n %s\nwant\n %s", got, wantKeys)
	}
	// "user" is a prefix of the other MN-ID's key, but not of its directory.
	if rs, err := l.QueryMN(ctx, "user"); err != nil || len(rs) != 1 || rs[0].Prefix.String() != "2001:db8:2:a::/64" {
		t.Fatalf("QueryMN(user) = %+v %v", rs, err)
	}

	res, err := l.QueryBatch(ctx, []Query{
		{Kind: ByAddress, Addr: netip.MustParseAddr("2001:db8:31:7::1")},
		{Kind: ByMNID, MNID: odd},
		{Kind: ByPrefix, Prefix: netip.MustParsePrefix("2001:db8:99::/64")},
		{Kind: ByAddress, Addr: netip.MustParseAddr("10.0.0.1")},
		{Kind: ByMNID, MNID: "nobody"},
		{Kind: ByPrefix, Prefix: p2},
		{Kind: 9},
	})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		prefixes string
		err      error
	}
	wants := []want{
		{"2001:db8:31:7::/64", nil},
		{"2001:db8:2:9::/64 2001:db8:12:1::/64", nil}, // address order
		{"", ErrNotFound},
		{"", ErrInvalid},
		{"", ErrNotFound},
		{"2001:db8:2:9::/64", nil},
		{"", ErrInvalid},
	}
	if len(res) != len(wants) {
		t.Fatalf("%d results", len(res))
	}
	for i, w := range wants {
		var ps []string
		for _, r := range res[i].Records {
			ps = append(ps, r.Prefix.String())
		}
		if got := strings.Join(ps, " "); got != w.prefixes || !errors.Is(res[i].Err, w.err) || (w.err == nil) != (res[i].Err == nil) {
			t.Errorf("result %d: %q %v, want %q %v", i, got, res[i].Err, w.prefixes, w.err)
		}
	}
}

func nextChange(t *testing.T, ch <-chan Change) Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("watch closed")
		}
		return c
	case <-time.After(2 * time.Second):
		t.Fatal("no change")
	}
	return Change{}
}

func TestWatch(t *testing.T) {
	l, clk, _ := newLM(t, Config{})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := l.Watch(wctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustUpdate(t, l, upd("mn1", hnp1, mr12, mr11, 10*time.Second, 1))
	r2 := mustUpdate(t, l, upd("mn1", hnp1, mr12, mr2, 10*time.Second, 2))
	mustUpdate(t, l, upd("mn2", hnp2, mr31, mr31, 5*time.Second, 1))
	if _, err := l.Update(ctx, upd("mn2", hnp2, mr31, mr31, 0, 2)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(11 * time.Second)
	for i, w := range []struct {
		kind ChangeKind
		p    netip.Prefix
		cur  netip.Addr
		rev  int64
	}{
		{Updated, hnp1, mr11, r1.Revision},
		{Updated, hnp1, mr2, r2.Revision},
		{Updated, hnp2, mr31, r2.Revision + 1},
		{Removed, hnp2, mr31, r2.Revision + 2},
		{Removed, hnp1, mr2, r2.Revision + 3}, // expiry
	} {
		c := nextChange(t, ch)
		if c.Kind != w.kind || c.Prefix != w.p || c.Record.CurrentMR != w.cur || c.Revision != w.rev || c.Err != nil {
			t.Fatalf("change %d: %v %v cur %v rev %d err %v, want %v %v cur %v rev %d", i, c.Kind, c.Prefix, c.Record.CurrentMR, c.Revision, c.Err, w.kind, w.p, w.cur, w.rev)
		}
	}
}

// Two LM front-ends over one store see one set of records, and concurrent
// updates with increasing sequences from both leave the highest.
func TestTwoFrontEnds(t *testing.T) {
	clk := clock.NewFake(t0)
	st := store.NewMemory(store.WithClock(clk))
	defer st.Close()
	a, _ := New(st, clk, Config{})
	b, _ := New(st, clk, Config{})
	mustUpdate(t, a, upd("mn1", hnp1, mr12, mr11, time.Minute, 1))
	if r, err := b.QueryAddress(ctx, hnp1.Addr().Next()); err != nil || r.CurrentMR != mr11 {
		t.Fatalf("B sees %+v %v", r, err)
	}
	var wg sync.WaitGroup
	mrs := []netip.Addr{mr11, mr2, mr31, mr12}
	var mu sync.Mutex
	accepted := map[uint64]int{}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fe := []*LM{a, b}[g%2]
			for i := 0; i < 100; i++ {
				seq := uint64(2 + i*4 + g) // distinct across goroutines
				_, err := fe.Update(ctx, upd("mn1", hnp1, mr12, mrs[g], time.Minute, seq))
				if err != nil && !errors.Is(err, ErrStale) {
					t.Error(err)
					return
				}
				if err == nil {
					mu.Lock()
					accepted[seq]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	r, err := b.QueryPrefix(ctx, hnp1)
	if err != nil {
		t.Fatal(err)
	}
	const top = 2 + 99*4 + 3
	if r.Sequence != top || r.CurrentMR != mrs[3] {
		t.Fatalf("final record seq %d cur %v, want %d %v", r.Sequence, r.CurrentMR, top, mrs[3])
	}
	if accepted[top] != 1 {
		t.Fatalf("highest sequence accepted %d times", accepted[top])
	}
	// The accepted sequence numbers, in revision order, increased: check
	// it through the store's history.
	evs, err := st.Watch(ctx, "lm/loc/", 1)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for n := 0; n < len(accepted)+1; n++ {
		ev := <-evs
		var rec Record
		if err := decodeRecord(ev.KV.Value, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Sequence < last {
			t.Fatalf("sequence went back from %d to %d at revision %d", last, rec.Sequence, ev.Revision)
		}
		last = rec.Sequence
	}
	if last != top {
		t.Fatalf("last stored sequence %d, want %d", last, top)
	}
}

func TestStatusMapping(t *testing.T) {
	wrap := func(e error) error { return fmt.Errorf("x: %w", e) }
	for _, tc := range []struct {
		err error
		q   mh.DMMStatus
		u   mh.Status
	}{
		{nil, 0, 0},
		{wrap(ErrNotFound), 131, 0},
		{wrap(ErrInvalid), 132, 128},
		{wrap(ErrStale), 128, 135},
		{wrap(ErrConflict), 128, 155},
		{store.ErrClosed, 128, 128},
	} {
		if got := QueryStatus(tc.err); got != tc.q {
			t.Errorf("QueryStatus(%v) = %d, want %d", tc.err, got, tc.q)
		}
		if got := UpdateStatus(tc.err); got != tc.u {
			t.Errorf("UpdateStatus(%v) = %d, want %d", tc.err, got, tc.u)
		}
	}
}

func TestRecordEncoding(t *testing.T) {
	r := Record{MNID: "mn1@example.com", Prefix: hnp1, AnchorMR: mr12, CurrentMR: mr11, Lifetime: 90 * time.Second,
		UpdatedAt: t0, Expiry: t0.Add(90 * time.Second), Sequence: 1<<40 + 7}
	b := encodeRecord(&r)
	if len(b) != recFixed+len(r.MNID) || b[0] != 1 || b[1] != 64 {
		t.Fatalf("encoding %x", b)
	}
	var got Record
	if err := decodeRecord(b, &got); err != nil {
		t.Fatal(err)
	}
	checkRecord(t, "round trip", got, r)
	for _, bad := range [][]byte{nil, b[:recFixed-1], b[:len(b)-1], append(append([]byte{}, b...), 0), append([]byte{2}, b[1:]...), append([]byte{1, 129}, b[2:]...)} {
		if err := decodeRecord(bad, &got); err == nil {
			t.Errorf("decoded malformed %x", bad)
		}
	}
	// Decoding into a reused record allocates nothing when the MN-ID is unchanged.
	if n := testing.AllocsPerRun(100, func() { _ = decodeRecord(b, &got) }); n != 0 {
		t.Fatalf("decode allocates %v times", n)
	}
}
