package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/store/etcdstore"
	"github.com/pmipdmm/pmipdmm/internal/etcdtest"
)

var (
	anchorMR = netip.MustParseAddr("2001:db8:a::1")
	mrs      = []netip.Addr{netip.MustParseAddr("2001:db8:b::1"), netip.MustParseAddr("2001:db8:c::1"), netip.MustParseAddr("2001:db8:d::1")}
)

func hnp(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xf0, 0, byte(i >> 8), byte(i)}), 64)
}

// memberID returns the etcd member ID of the member at endpoint, and the
// ID of the leader it knows.
func memberID(t *testing.T, cli *clientv3.Client, endpoint string) (id, leader uint64) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := cli.Status(sctx, endpoint)
	if err != nil {
		t.Fatalf("status of %s: %v", endpoint, err)
	}
	return st.Header.MemberId, st.Leader
}

// makeLeader moves the cluster's leadership to member i.
func makeLeader(t *testing.T, c *etcdtest.Cluster, i int) {
	t.Helper()
	admin := client(t, c.Endpoints()...)
	want, leader := memberID(t, admin, c.Members[i].ClientURL)
	if leader == want {
		return
	}
	for _, m := range c.Members {
		if id, _ := memberID(t, admin, m.ClientURL); id == leader {
			lc := client(t, m.ClientURL)
			mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := lc.MoveLeader(mctx, want); err != nil {
				t.Fatalf("moving the leadership to %s: %v", c.Members[i].Name, err)
			}
			break
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, l := memberID(t, admin, c.Members[i].ClientURL); l == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become leader", c.Members[i].Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// retry calls f until it succeeds, at most n times, pausing between
// attempts (what an MR does when its LM does not answer: re-send).
func retry(ctx context.Context, n int, pause time.Duration, f func(attempt int) error) (int, error) {
	var err error
	for i := range n {
		if err = f(i); err == nil {
			return i, nil
		}
		select {
		case <-ctx.Done():
			return i, ctx.Err()
		case <-time.After(pause):
		}
	}
	return n, err
}

// TestLMFailover: a 3-member etcd cluster and two LM front-ends, each with
// its own client on different members (A: m0; B: m1 then m2). Writers
// send location updates through both, readers query B (directly and
// through its watch-invalidated cache). Halfway, the etcd leader (m1,
// B's first endpoint) and front-end A are killed. Every acknowledged
// location must survive, every query must be answered (bounded retries
// while the leader is re-elected), a direct query must never return less
// than what was acknowledged before it (linearizable reads), and a cached
// one may lag (the cache follows the watch) but catches up within 5 s.
func TestLMFailover(t *testing.T) {
	c := start3(t)
	makeLeader(t, c, 1)
	const ns = "fo/"
	stA := etcdstore.New(client(t, c.Members[0].ClientURL), etcdstore.WithNamespace(ns))
	stB := etcdstore.New(client(t, c.Members[1].ClientURL, c.Members[2].ClientURL), etcdstore.WithNamespace(ns))
	defer stB.Close()
	lmA, err := lm.New(stA, nil, lm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	lmB, _ := lm.New(stB, nil, lm.Config{})
	runCtx, stop := context.WithTimeout(ctx, 90*time.Second)
	defer stop()
	cacheB := lm.NewCache(runCtx, lmB, 0)
	replicaB := lm.NewReplica(runCtx, lmB, 0) // every location, MN-ID queries too
	for name, c := range map[string]*lm.Cache{"cache": cacheB, "replica": replicaB} {
		select {
		case <-c.Ready():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s of B not ready", name)
		}
	}

	const nMN, writers, rounds = 64, 4, 6
	const total = nMN * rounds
	var acked [nMN]atomic.Uint64 // last acknowledged sequence per node
	var ackedN atomic.Int64
	var deadA atomic.Bool
	killed := make(chan struct{})
	var updRetries, qRetries, qAfterKill, qCached atomic.Int64
	var worstUpdate, worstQuery atomic.Int64 // ns, including retries
	var qStale, worstLag atomic.Int64        // cached answers behind an acknowledged update

	var wg sync.WaitGroup
	errc := make(chan error, writers+2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 1; r <= rounds; r++ {
				for i := w; i < nMN; i += writers {
					seq := uint64(r)
					u := lm.Update{MNID: fmt.Sprintf("mn%d", i), Prefix: hnp(i), AnchorMR: anchorMR,
						CurrentMR: mrs[(i+r)%len(mrs)], Lifetime: time.Hour, Sequence: seq}
					start := time.Now()
					n, err := retry(runCtx, 100, 100*time.Millisecond, func(attempt int) error {
						fe := lmB
						if (i+r+attempt)%2 == 0 && !deadA.Load() {
							fe = lmA
						}
						uctx, cancel := context.WithTimeout(runCtx, 2*time.Second)
						defer cancel()
						_, err := fe.Update(uctx, u)
						return err
					})
					if err != nil {
						errc <- fmt.Errorf("update mn%d seq %d: %v (after %d attempts)", i, seq, err, n)
						return
					}
					updRetries.Add(int64(n))
					if d := time.Since(start).Nanoseconds(); d > worstUpdate.Load() {
						worstUpdate.Store(d)
					}
					acked[i].Store(seq)
					ackedN.Add(1)
				}
			}
		}()
	}
	readersDone := make(chan struct{})
	var rwg sync.WaitGroup
	for g := range 2 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for n := 0; ; n++ {
				select {
				case <-readersDone:
					return
				default:
				}
				i := rng.IntN(nMN)
				before := acked[i].Load()
				cached := n%2 == 1
				start := time.Now()
				var rec lm.Record
				k, err := retry(runCtx, 100, 100*time.Millisecond, func(int) error {
					qctx, cancel := context.WithTimeout(runCtx, 2*time.Second)
					defer cancel()
					var err error
					if cached {
						rec, err = cacheB.QueryAddress(qctx, hnp(i).Addr().Next())
					} else {
						rec, err = lmB.QueryAddress(qctx, hnp(i).Addr().Next())
					}
					if errors.Is(err, lm.ErrNotFound) && before == 0 {
						return nil
					}
					return err
				})
				if err != nil {
					errc <- fmt.Errorf("query mn%d: %v (after %d attempts)", i, err, k)
					return
				}
				qRetries.Add(int64(k))
				if d := time.Since(start).Nanoseconds(); d > worstQuery.Load() {
					worstQuery.Store(d)
				}
				if before > 0 && rec.Sequence < before && !cached {
					// A direct query is a linearizable read.
					errc <- fmt.Errorf("query mn%d: sequence %d, %d was acknowledged before the query", i, rec.Sequence, before)
					return
				}
				if before > 0 && rec.Sequence < before {
					// The cache follows the watch: it may lag behind an
					// acknowledged update, for a bounded time.
					stale := time.Now()
					for rec.Sequence < before {
						if time.Since(stale) > 5*time.Second {
							errc <- fmt.Errorf("cached query mn%d: sequence %d, %d was acknowledged more than 5 s ago", i, rec.Sequence, before)
							return
						}
						time.Sleep(5 * time.Millisecond)
						if rec, err = cacheB.QueryAddress(runCtx, hnp(i).Addr().Next()); err != nil {
							continue
						}
					}
					qStale.Add(1)
					if d := time.Since(stale).Nanoseconds(); d > worstLag.Load() {
						worstLag.Store(d)
					}
				}
				select {
				case <-killed:
					qAfterKill.Add(1)
					if cached {
						qCached.Add(1)
					}
				default:
				}
			}
		}()
	}

	// Halfway: kill the etcd leader and front-end A.
	for ackedN.Load() < total/2 {
		select {
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	c.Members[1].Kill()
	deadA.Store(true)
	stA.Close()
	close(killed)
	killedAt := ackedN.Load()
	wg.Wait()
	close(readersDone)
	rwg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d updates (%d acknowledged before the kill), %d update retries (worst update %v); %d queries after the kill (%d cached), %d query retries (worst query %v); %d cached answers lagged an acknowledged update (worst lag %v)",
		ackedN.Load(), killedAt, updRetries.Load(), time.Duration(worstUpdate.Load()), qAfterKill.Load(), qCached.Load(), qRetries.Load(), time.Duration(worstQuery.Load()),
		qStale.Load(), time.Duration(worstLag.Load()))
	if ackedN.Load() != total {
		t.Fatalf("%d updates acknowledged, want %d", ackedN.Load(), total)
	}
	if qAfterKill.Load() == 0 {
		t.Fatal("no query answered after the kill")
	}

	// Every acknowledged location is there: through B, its cache (once
	// its watch has caught up), and a new front-end on m0.
	stC := etcdstore.New(client(t, c.Members[0].ClientURL), etcdstore.WithNamespace(ns))
	defer stC.Close()
	lmC, _ := lm.New(stC, nil, lm.Config{})
	for i := range nMN {
		want := acked[i].Load()
		if want != rounds {
			t.Fatalf("mn%d: last acknowledged %d, want %d", i, want, rounds)
		}
		wantMR := mrs[(i+rounds)%len(mrs)]
		for name, q := range map[string]func(context.Context, netip.Addr) (lm.Record, error){"B": lmB.QueryAddress, "C": lmC.QueryAddress} {
			rec, err := q(ctx, hnp(i).Addr().Next())
			if err != nil || rec.Sequence != want || rec.CurrentMR != wantMR || rec.MNID != fmt.Sprintf("mn%d", i) {
				t.Fatalf("front-end %s: mn%d: %+v %v; want sequence %d at %v", name, i, rec, err, want, wantMR)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			rec, err := cacheB.QueryAddress(ctx, hnp(i).Addr().Next())
			if err == nil && rec.Sequence == want && rec.CurrentMR == wantMR {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cache of B: mn%d: %+v %v; want sequence %d at %v", i, rec, err, want, wantMR)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	st := cacheB.Stats()
	t.Logf("cache of B: %d hits, %d misses, %d entries", st.Hits, st.Misses, st.Entries)
	// The replica of B followed the whole run (its watch through the
	// leader's death, or a reload): once caught up it answers every MN-ID
	// query as a direct read, from memory.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < nMN; {
		id := fmt.Sprintf("mn%d", i)
		want, err := lmB.QueryMN(ctx, id)
		if err != nil {
			t.Fatalf("QueryMN %s on B: %v", id, err)
		}
		got, err := replicaB.QueryMN(ctx, id)
		if err == nil && len(got) == 1 && len(want) == 1 && got[0].Sequence == want[0].Sequence && got[0].CurrentMR == want[0].CurrentMR {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica of B: %s: %+v %v; B says %+v", id, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rs := replicaB.Stats()
	t.Logf("replica of B: %d hits, %d misses (while reloading), %d entries, live %v", rs.Hits, rs.Misses, rs.Entries, rs.Live)
	if !rs.Live || rs.Entries != nMN || rs.Hits < nMN {
		t.Errorf("replica of B: %+v, want live with %d entries answering from memory", rs, nMN)
	}
}

// TestHAARace: two HAA front-ends over etcd (own clients, different
// members), two goroutines each, never hand out one prefix twice: 500
// allocations from a pool of 512, then 40 more of which exactly 12 fit.
func TestHAARace(t *testing.T) {
	c := start3(t)
	mr := netip.MustParseAddr("2001:db8:100::1")
	pool := netip.MustParsePrefix("2001:db8:100::/55") // 512 /64s
	cfg := haa.Config{Pools: []haa.PoolConfig{{MR: mr, Prefix: pool}}}
	var hs []*haa.HAA
	for _, eps := range [][]string{{c.Members[0].ClientURL, c.Members[1].ClientURL}, {c.Members[2].ClientURL, c.Members[1].ClientURL}} {
		st := etcdstore.New(client(t, eps...), etcdstore.WithNamespace("race/"))
		defer st.Close()
		h, err := haa.New(st, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	type got struct {
		mn     string
		prefix netip.Prefix
	}
	run := func(phase string, each int) (wins []got, exhausted int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for hi, h := range hs {
			for g := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						mn := fmt.Sprintf("%s-h%d-g%d-%d", phase, hi, g, i)
						a, fresh, err := h.Allocate(ctx, mn, mr, time.Hour)
						mu.Lock()
						switch {
						case errors.Is(err, haa.ErrPoolExhausted):
							exhausted++
						case err != nil:
							t.Errorf("%s: %v", mn, err)
						case !fresh || a.MNID != mn || a.AnchorMR != mr || !pool.Contains(a.Prefix.Addr()) || a.Prefix.Bits() != 64:
							t.Errorf("%s: allocation %+v fresh %v", mn, a, fresh)
						default:
							wins = append(wins, got{mn, a.Prefix})
						}
						mu.Unlock()
						if t.Failed() {
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		return wins, exhausted
	}
	start := time.Now()
	wins, ex := run("a", 125)
	if t.Failed() {
		return
	}
	if len(wins) != 500 || ex != 0 {
		t.Fatalf("%d allocations, %d exhausted; want 500, 0", len(wins), ex)
	}
	more, ex := run("b", 10)
	if len(more) != 12 || ex != 28 {
		t.Fatalf("second phase: %d allocations, %d exhausted; want 12, 28", len(more), ex)
	}
	t.Logf("%d allocations from 2 HAAs x 2 goroutines in %v", len(wins)+len(more), time.Since(start))
	owner := map[netip.Prefix]string{}
	for _, w := range append(wins, more...) {
		if o, dup := owner[w.prefix]; dup {
			t.Fatalf("%v handed out to %s and %s", w.prefix, o, w.mn)
		}
		owner[w.prefix] = w.mn
	}
	// The store agrees, seen from either front-end.
	for i, h := range hs {
		as, err := h.Allocations(ctx, pool)
		if err != nil || len(as) != 512 {
			t.Fatalf("front-end %d: %d allocations stored, %v", i, len(as), err)
		}
		for _, a := range as {
			if owner[a.Prefix] != a.MNID {
				t.Fatalf("front-end %d: %v stored for %s, handed to %s", i, a.Prefix, a.MNID, owner[a.Prefix])
			}
		}
	}
}
