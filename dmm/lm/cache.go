package lm

import (
	"context"
	"net/netip"
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
// While the watch is down, queries go to the LM. MN-ID queries are not
// cached.
type Cache struct {
	lm  *LM
	max int

	mu      sync.Mutex
	live    bool  // watch running and caught up to rev
	rev     int64 // last revision the watch applied
	entries map[netip.Prefix]centry

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

// Ready is closed once the watch is first established (queries before
// that go to the LM).
func (c *Cache) Ready() <-chan struct{} { return c.ready }

// Stats returns the counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n}
}

func (c *Cache) run(ctx context.Context) {
	for ctx.Err() == nil {
		rev, err := c.lm.st.Revision(ctx)
		var ch <-chan Change
		if err == nil {
			ch, err = c.lm.Watch(ctx, rev+1)
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		c.mu.Lock()
		c.entries = map[netip.Prefix]centry{}
		c.rev, c.live = rev, true
		c.mu.Unlock()
		c.readyOnce.Do(func() { close(c.ready) })
		for ch := range ch {
			if ch.Err != nil {
				break
			}
			c.apply(ch)
		}
		c.mu.Lock()
		c.live = false
		c.entries = map[netip.Prefix]centry{}
		c.mu.Unlock()
	}
}

func (c *Cache) apply(ch Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.Revision > c.rev {
		c.rev = ch.Revision
	}
	e, ok := c.entries[ch.Prefix]
	if !ok || ch.Revision <= e.rev {
		return
	}
	if ch.Kind == Updated {
		c.entries[ch.Prefix] = centry{present: true, rec: ch.Record, rev: ch.Revision}
	} else {
		c.entries[ch.Prefix] = centry{rev: ch.Revision}
	}
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
	// change of one of these prefixes may have gone by unapplied.
	if c.live && rev >= c.rev {
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
