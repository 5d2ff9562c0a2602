package lm

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Cache answers address and prefix queries from memory, in front of an LM
// (for LM front-ends and MRs' location caches, draft Fig. 3 step 4). It
// learns records on misses and is kept exact by the LM's watch: every
// change of a cached prefix is applied as it is seen, so a cached answer
// is never older than the watch stream. It caches absences too (per
// prefix length), so "location unknown" is answered without the store.
// While the watch is down, queries go to the LM. MN-ID queries are
// answered by a replica (NewReplica) and go to the LM otherwise.
type Cache struct {
	lm  *LM
	max int
	// replica: every location of the store is held (loaded at the
	// watch's start revision, then kept by the watch), so every query,
	// MN-ID ones too, is answered from memory, the first one as well.
	replica bool

	mu      sync.Mutex
	live    bool  // watch running and caught up to rev
	rev     int64 // last revision the watch applied
	entries map[netip.Prefix]centry
	// mns (replica): the location prefixes of each MN-ID.
	mns map[string]map[netip.Prefix]struct{}
	// loadErr (replica): why the last load failed (nil: loaded).
	loadErr error

	hits, misses atomic.Uint64
	ready        chan struct{}
	readyOnce    sync.Once
}

type centry struct {
	present bool
	rec     Record
	rev     int64 // store revision the entry reflects
}

// CacheStats counts the cache's answers.
type CacheStats struct {
	Hits, Misses uint64
	Entries      int
	// Replica: the cache holds every location; Live: it answers (the
	// watch runs); LoadError: why a replica is not live ("" when it is).
	Replica, Live bool
	LoadError     string
	// Revision is the store revision the cache reflects (the last change
	// its watch applied): compared with the store's, the cache's lag.
	Revision int64
}

// NewCache starts a cache over l holding at most maxEntries prefixes
// (0: 1<<20). It runs until ctx is done.
func NewCache(ctx context.Context, l *LM, maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = 1 << 20
	}
	c := &Cache{lm: l, max: maxEntries, entries: map[netip.Prefix]centry{}, ready: make(chan struct{})}
	go c.run(ctx)
	return c
}

// NewReplica starts a cache that holds every location of l's store: it
// starts a watch, lists them all (ReplicaPage at a time), then applies the
// watch, like the watch cache of a Kubernetes API server. Every query is
// answered from memory, a front-end's first query for a node included
// (the new MR's MN-ID query of a handover, draft Figure 5 step 2), and is
// never older than the watch stream. Memory: one record per location
// (about 300 bytes). When the store holds more than maxEntries locations
// (0: 1<<20) the replica is not live and queries go to the LM; the load is
// tried again every ReplicaRetry.
func NewReplica(ctx context.Context, l *LM, maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = 1 << 20
	}
	c := &Cache{lm: l, max: maxEntries, replica: true, entries: map[netip.Prefix]centry{},
		mns: map[string]map[netip.Prefix]struct{}{}, ready: make(chan struct{})}
	go c.run(ctx)
	return c
}

// ReplicaRetry is how soon a replica that could not load (or outgrew its
// bound) tries again; a watch cut by compaction reloads after 100 ms.
var ReplicaRetry = time.Second

// errTooLarge: the store holds more locations than the replica may.
type errTooLarge struct{ n, max int }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("lm: replica: more than %d locations in the store (%d seen): queries go to the store", e.max, e.n)
}

// ReplicaPage is how many locations a replica reads per request while it
// loads (one range request of this many keys from etcd).
var ReplicaPage = 1000

// load lists every location for a replica, a page at a time (each page
// at its own revision: the watch started before the first page repairs
// what changed meanwhile, each entry keeping its record's ModRevision so
// that older changes are not applied over it).
func (c *Cache) load(ctx context.Context) (map[netip.Prefix]centry, map[string]map[netip.Prefix]struct{}, error) {
	ents := map[netip.Prefix]centry{}
	mns := map[string]map[netip.Prefix]struct{}{}
	after := ""
	for {
		kvs, _, err := c.lm.st.ListAfter(ctx, c.lm.locPfx, after, ReplicaPage)
		if err != nil {
			return nil, nil, err
		}
		for _, kv := range kvs {
			p, ok := c.lm.prefixOfKey(kv.Key)
			if !ok {
				continue
			}
			var r Record
			if decodeRecord(kv.Value, &r) != nil {
				continue // not a record this LM wrote; QueryAddress skips it too
			}
			if len(ents) >= c.max {
				return nil, nil, errTooLarge{len(ents) + 1, c.max}
			}
			r.Revision = kv.ModRevision
			ents[p] = centry{present: true, rec: r, rev: kv.ModRevision}
			indexMN(mns, r.MNID, p)
		}
		if len(kvs) < ReplicaPage {
			return ents, mns, nil
		}
		after = kvs[len(kvs)-1].Key
	}
}

func indexMN(mns map[string]map[netip.Prefix]struct{}, mnid string, p netip.Prefix) {
	set := mns[mnid]
	if set == nil {
		set = map[netip.Prefix]struct{}{}
		mns[mnid] = set
	}
	set[p] = struct{}{}
}

func unindexMN(mns map[string]map[netip.Prefix]struct{}, mnid string, p netip.Prefix) {
	if set := mns[mnid]; set != nil {
		delete(set, p)
		if len(set) == 0 {
			delete(mns, mnid)
		}
	}
}

// Ready is closed once the watch is first established (queries before
// that go to the LM).
func (c *Cache) Ready() <-chan struct{} { return c.ready }

// Stats returns the counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	n := len(c.entries)
	st := CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n, Replica: c.replica, Live: c.live, Revision: c.rev}
	if c.loadErr != nil {
		st.LoadError = c.loadErr.Error()
	}
	c.mu.Unlock()
	return st
}

func (c *Cache) run(ctx context.Context) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx)
		c.watch(wctx)
		cancel()
		c.mu.Lock()
		c.live = false
		c.entries = map[netip.Prefix]centry{}
		if c.replica {
			c.mns = map[string]map[netip.Prefix]struct{}{}
		}
		c.mu.Unlock()
		retry := 100 * time.Millisecond
		c.mu.Lock()
		if c.loadErr != nil {
			retry = ReplicaRetry
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

// watch runs one watch (a replica loads first) until it ends or the
// replica outgrows its bound.
func (c *Cache) watch(ctx context.Context) {
	var rev int64
	var err error
	ents, mns := map[netip.Prefix]centry{}, map[string]map[netip.Prefix]struct{}{}
	rev, err = c.lm.st.Revision(ctx)
	var ch <-chan Change
	if err == nil {
		ch, err = c.lm.Watch(ctx, rev+1)
	}
	if err == nil && c.replica {
		// Watch first, then read: every change after rev reaches the
		// entries, whichever page they were read in.
		ents, mns, err = c.load(ctx)
		c.mu.Lock()
		c.loadErr = err
		c.mu.Unlock()
	}
	if err != nil {
		return
	}
	c.mu.Lock()
	c.entries, c.rev, c.live = ents, rev, true
	if c.replica {
		c.mns = mns
	}
	c.mu.Unlock()
	c.readyOnce.Do(func() { close(c.ready) })
	for ch := range ch {
		if ch.Err != nil || !c.apply(ch) {
			return
		}
	}
}

// apply applies a change; false: a replica outgrew its bound.
func (c *Cache) apply(ch Change) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.Revision > c.rev {
		c.rev = ch.Revision
	}
	e, ok := c.entries[ch.Prefix]
	if c.replica {
		if ok && ch.Revision <= e.rev {
			return true
		}
		if ok && e.present {
			unindexMN(c.mns, e.rec.MNID, ch.Prefix)
		}
		if ch.Kind != Updated {
			delete(c.entries, ch.Prefix) // a replica's absence is no entry
			return true
		}
		if !ok && len(c.entries) >= c.max {
			c.loadErr = errTooLarge{len(c.entries) + 1, c.max}
			return false
		}
		c.entries[ch.Prefix] = centry{present: true, rec: ch.Record, rev: ch.Revision}
		indexMN(c.mns, ch.Record.MNID, ch.Prefix)
		return true
	}
	if !ok || ch.Revision <= e.rev {
		return true
	}
	if ch.Kind == Updated {
		c.entries[ch.Prefix] = centry{present: true, rec: ch.Record, rev: ch.Revision}
	} else {
		c.entries[ch.Prefix] = centry{rev: ch.Revision}
	}
	return true
}

// QueryMN is LM.QueryMN, answered from memory by a live replica (and by
// the LM otherwise).
func (c *Cache) QueryMN(ctx context.Context, mnid string) ([]Record, error) {
	if !c.replica || mnid == "" {
		return c.lm.QueryMN(ctx, mnid)
	}
	now := c.lm.clk.Now()
	c.mu.Lock()
	if !c.live {
		c.mu.Unlock()
		c.misses.Add(1)
		return c.lm.QueryMN(ctx, mnid)
	}
	var out []Record
	for p := range c.mns[mnid] {
		if e := c.entries[p]; e.present && e.rec.MNID == mnid && e.rec.Expiry.After(now) {
			out = append(out, e.rec)
		}
	}
	c.mu.Unlock()
	c.hits.Add(1)
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	slices.SortFunc(out, func(a, b Record) int { return comparePrefix(a.Prefix, b.Prefix) })
	return out, nil
}

// QueryAddress is LM.QueryAddress through the cache.
func (c *Cache) QueryAddress(ctx context.Context, a netip.Addr) (Record, error) {
	return c.query(ctx, a, 128)
}

// QueryPrefix is LM.QueryPrefix through the cache.
func (c *Cache) QueryPrefix(ctx context.Context, p netip.Prefix) (Record, error) {
	if !p.IsValid() {
		return c.lm.QueryPrefix(ctx, p)
	}
	return c.query(ctx, p.Addr(), p.Bits())
}

// lookup answers from the entries; known is false if a candidate length
// is not cached.
func (c *Cache) lookup(a netip.Addr, maxBits int, now time.Time) (rec Record, found, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return Record{}, false, false
	}
	for _, n := range c.lm.lengths {
		if n > maxBits {
			continue
		}
		p, _ := a.Prefix(n)
		e, ok := c.entries[p]
		if !ok {
			if c.replica {
				continue // every location is held: none here
			}
			return Record{}, false, false
		}
		if e.present && e.rec.Expiry.After(now) {
			return e.rec, true, true
		}
	}
	return Record{}, false, true
}

func (c *Cache) query(ctx context.Context, a netip.Addr, maxBits int) (Record, error) {
	if err := checkAddr(a); err != nil {
		return Record{}, err
	}
	now := c.lm.clk.Now()
	if r, found, known := c.lookup(a, maxBits, now); known {
		c.hits.Add(1)
		if !found {
			return Record{}, ErrNotFound
		}
		return r, nil
	}
	c.misses.Add(1)
	pfx, kvs, rev, err := c.lm.lookupAll(ctx, a, maxBits)
	if err != nil {
		return Record{}, err
	}
	if len(pfx) == 0 {
		return Record{}, ErrNotFound
	}
	ent := make([]centry, len(pfx))
	for i, kv := range kvs {
		ent[i].rev = rev
		if kv.Exists() {
			if err := decodeRecord(kv.Value, &ent[i].rec); err != nil {
				return Record{}, err
			}
			ent[i].rec.Revision = kv.ModRevision
			ent[i].present = true
		}
	}
	c.mu.Lock()
	// Store only what is at least as new as the watch: changes after rev
	// will then reach the entries; if the watch is already past rev, a
	// change of one of these prefixes may have gone by unapplied. (A live
	// replica never gets here; a replica learns from its watch only.)
	if c.live && rev >= c.rev && !c.replica {
		if len(c.entries)+len(pfx) > c.max {
			c.evictLocked(len(pfx))
		}
		for i, p := range pfx {
			if old, ok := c.entries[p]; !ok || old.rev < rev {
				c.entries[p] = ent[i]
			}
		}
	}
	c.mu.Unlock()
	for _, e := range ent {
		if e.present && e.rec.Expiry.After(now) {
			return e.rec, nil
		}
	}
	return Record{}, ErrNotFound
}

// evictLocked drops about a tenth of the entries (at least n), arbitrary
// ones (map order).
func (c *Cache) evictLocked(n int) {
	n = max(n, c.max/10)
	for p := range c.entries {
		if n <= 0 {
			return
		}
		delete(c.entries, p)
		n--
	}
}
