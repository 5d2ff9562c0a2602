// Package haa is the Home Address Allocation function of
// draft-luo-dmm-with-mip-and-pmip-00 (§3.1 a, §3.3 a, §4.1, §4.2): it
// hands out home network prefixes from per-MR pools, so that a prefix is
// anchored at the MR that asked for it (regular IPv6 routing delivers the
// pool to that MR), and tells a new MR every prefix a node holds and where
// each is anchored.
//
// The HAA is a front-end over a store.Store: several front-ends over one
// store never hand out a prefix twice, since every allocation is one store
// transaction conditioned on the prefix's key being absent. No network
// I/O here: the MR and the daemon call this API; the PBU/PBA adapter
// (docs/wire-format.md §1) translates.
//
// Store layout (under Config.KeyPrefix, default "haa/"):
//
//	pool/<pool>/cursor          next index to try (8 octets, big endian)
//	pool/<pool>/a/<index>       the Allocation of the pool's index-th prefix (16 hex digits)
//	mn/<MN-ID>/<pool>           the same Allocation, indexed by node (MN-ID path-escaped)
//
// Allocation keys carry the allocation's expiry: the store releases them
// when the lifetime runs out.
package haa

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/internal/clock"
)

// Errors of the HAA; StatusFor maps them to PBA statuses.
var (
	// ErrPoolExhausted: every prefix of the MR's pools is allocated (PBA
	// status 130, insufficient resources).
	ErrPoolExhausted = errors.New("haa: pool exhausted")
	// ErrNoPool: no pool is configured for the MR.
	ErrNoPool = errors.New("haa: no pool for this MR")
	// ErrNotHeld: the node does not hold the prefix.
	ErrNotHeld = errors.New("haa: prefix not held by this mobile node")
	// ErrInvalid: malformed arguments.
	ErrInvalid = errors.New("haa: invalid request")
	// ErrContention: too many lost compare-and-swaps in a row.
	ErrContention = errors.New("haa: too much contention")
)

// Allocation is a prefix held by a mobile node.
type Allocation struct {
	MNID   string       `json:"mnid"`
	Prefix netip.Prefix `json:"prefix"`
	// AnchorMR is the MR of the prefix's pool: where the prefix is anchored.
	AnchorMR    netip.Addr    `json:"anchor_mr"`
	Pool        netip.Prefix  `json:"pool"`
	AllocatedAt time.Time     `json:"allocated_at"`
	Lifetime    time.Duration `json:"lifetime"`
	Expiry      time.Time     `json:"expiry"`
	// Revision is the store revision of the last change (read-only).
	Revision int64 `json:"-"`
}

// HAA is one Home Address Allocation front-end. Safe for concurrent use.
type HAA struct {
	st    store.Store
	clk   clock.Clock
	cfg   Config
	pools []*pool
	mnPfx string
}

// New returns an HAA front-end over st, with clk for lifetimes (nil: the
// real clock; it must be the store's clock).
func New(st store.Store, clk clock.Clock, cfg Config) (*HAA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "haa/"
	}
	if cfg.DefaultLifetime == 0 {
		cfg.DefaultLifetime = time.Hour
		if cfg.MaxLifetime > 0 {
			cfg.DefaultLifetime = min(cfg.DefaultLifetime, cfg.MaxLifetime)
		}
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 100
	}
	if clk == nil {
		clk = clock.New()
	}
	h := &HAA{st: st, clk: clk, cfg: cfg, mnPfx: cfg.KeyPrefix + "mn/"}
	for _, pc := range cfg.Pools {
		n := pc.Length
		if n == 0 {
			n = 64
		}
		h.pools = append(h.pools, &pool{mr: pc.MR, prefix: pc.Prefix, length: n,
			size: 1 << uint(n-pc.Prefix.Bits()), dir: cfg.KeyPrefix + "pool/" + pc.Prefix.String() + "/"})
	}
	return h, nil
}

// Config returns the configuration in force (defaults applied).
func (h *HAA) Config() Config { return h.cfg }

func (p *pool) cursorKey() string                { return p.dir + "cursor" }
func (p *pool) allocDir() string                 { return p.dir + "a/" }
func (p *pool) allocKey(i uint64) string         { return fmt.Sprintf("%sa/%016x", p.dir, i) }
func (h *HAA) mnDir(mnid string) string          { return h.mnPfx + url.PathEscape(mnid) + "/" }
func (h *HAA) mnKey(mnid string, p *pool) string { return h.mnDir(mnid) + p.prefix.String() }

func (h *HAA) poolOf(q netip.Prefix) (*pool, uint64, bool) {
	for _, p := range h.pools {
		if i, ok := p.index(q); ok {
			return p, i, true
		}
	}
	return nil, 0, false
}

func (h *HAA) lifetime(d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, fmt.Errorf("%w: negative lifetime", ErrInvalid)
	case d == 0:
		return h.cfg.DefaultLifetime, nil
	case h.cfg.MaxLifetime > 0 && d > h.cfg.MaxLifetime:
		return 0, fmt.Errorf("%w: lifetime %v above %v", ErrInvalid, d, h.cfg.MaxLifetime)
	}
	return d, nil
}

func encodeAlloc(a *Allocation) []byte {
	b, _ := json.Marshal(a) // cannot fail: plain fields
	return b
}

func decodeAlloc(kv store.KV) (Allocation, error) {
	var a Allocation
	if err := json.Unmarshal(kv.Value, &a); err != nil {
		return Allocation{}, fmt.Errorf("haa: malformed allocation at %s: %v", kv.Key, err)
	}
	a.Revision = kv.ModRevision
	return a, nil
}

func decodeCursor(kv store.KV, size uint64) uint64 {
	if len(kv.Value) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(kv.Value) % size
}

func encodeCursor(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// Allocate gives mnid a prefix from a pool of mr (draft §4.1: the MR asks
// the HAA of its local network; PBU with an ALL_ZERO HNP). If the node
// already holds a prefix of one of mr's pools, that one is returned
// unchanged with fresh false (an allocation is idempotent per node and
// MR: use Renew to extend it). lifetime 0 means Config.DefaultLifetime.
func (h *HAA) Allocate(ctx context.Context, mnid string, mr netip.Addr, lifetime time.Duration) (a Allocation, fresh bool, err error) {
	if mnid == "" {
		return Allocation{}, false, fmt.Errorf("%w: empty MN-ID", ErrInvalid)
	}
	life, err := h.lifetime(lifetime)
	if err != nil {
		return Allocation{}, false, err
	}
	var mine []*pool
	for _, p := range h.pools {
		if p.mr == mr {
			mine = append(mine, p)
		}
	}
	if len(mine) == 0 {
		return Allocation{}, false, fmt.Errorf("%w: %v", ErrNoPool, mr)
	}
	// Already holding one at this MR?
	keys := make([]string, len(mine))
	for i, p := range mine {
		keys[i] = h.mnKey(mnid, p)
	}
	kvs, _, err := h.st.GetMany(ctx, keys)
	if err != nil {
		return Allocation{}, false, err
	}
	for _, kv := range kvs {
		if kv.Exists() {
			a, err := decodeAlloc(kv)
			return a, false, err
		}
	}
	for _, p := range mine {
		a, fresh, err := h.allocateIn(ctx, p, mnid, life)
		if errors.Is(err, ErrPoolExhausted) {
			continue
		}
		return a, fresh, err
	}
	return Allocation{}, false, fmt.Errorf("%w: every pool of %v", ErrPoolExhausted, mr)
}

func (h *HAA) allocateIn(ctx context.Context, p *pool, mnid string, life time.Duration) (Allocation, bool, error) {
	mk, ck := h.mnKey(mnid, p), p.cursorKey()
	pick := int64(-1) // an index found free by a scan, tried before the cursor
	for range h.cfg.MaxRetries {
		kvs, _, err := h.st.GetMany(ctx, []string{mk, ck})
		if err != nil {
			return Allocation{}, false, err
		}
		if kvs[0].Exists() {
			a, err := decodeAlloc(kvs[0])
			return a, false, err
		}
		idx := decodeCursor(kvs[1], p.size)
		if pick >= 0 {
			idx = uint64(pick)
		}
		now := h.clk.Now().UTC()
		a := Allocation{MNID: mnid, Prefix: p.nth(idx), AnchorMR: p.mr, Pool: p.prefix,
			AllocatedAt: now, Lifetime: life, Expiry: now.Add(life)}
		val := encodeAlloc(&a)
		ak := p.allocKey(idx)
		res, err := h.st.Txn(ctx, store.Txn{
			If: []store.Cmp{store.Absent(mk), store.Absent(ak), store.ModRevisionIs(ck, kvs[1].ModRevision)},
			Then: []store.Op{
				store.Put(ak, val, store.WithExpiry(a.Expiry)),
				store.Put(mk, val, store.WithExpiry(a.Expiry)),
				store.Put(ck, encodeCursor((idx+1)%p.size)),
			},
			Else: []store.Op{store.Get(mk), store.Get(ak), store.Get(ck)},
		})
		if err != nil {
			return Allocation{}, false, err
		}
		if res.Succeeded {
			a.Revision = res.Revision
			return a, true, nil
		}
		pick = -1
		g := res.Gets
		switch {
		case g[0].Exists(), g[2].ModRevision != kvs[1].ModRevision:
			// Another front-end allocated for this node, or moved the
			// cursor: read again.
			continue
		case g[1].Exists():
			// The cursor's prefix is taken (the cursor wrapped): find a
			// free one after it.
			free, err := h.findFree(ctx, p, idx)
			if err != nil {
				return Allocation{}, false, err
			}
			pick = int64(free)
		}
	}
	return Allocation{}, false, ErrContention
}

// findFree returns the first unallocated index at or after from
// (wrapping), or ErrPoolExhausted.
func (h *HAA) findFree(ctx context.Context, p *pool, from uint64) (uint64, error) {
	kvs, _, err := h.st.List(ctx, p.allocDir(), 0)
	if err != nil {
		return 0, err
	}
	if uint64(len(kvs)) >= p.size {
		return 0, fmt.Errorf("%w: %v (%d prefixes)", ErrPoolExhausted, p.prefix, p.size)
	}
	taken := make([]uint64, 0, len(kvs))
	for _, kv := range kvs {
		var i uint64
		if _, err := fmt.Sscanf(kv.Key[len(p.allocDir()):], "%x", &i); err == nil {
			taken = append(taken, i)
		}
	}
	// taken is sorted (fixed-width hex keys). First gap at or after from,
	// else the first gap from 0.
	gap := func(lo, hi uint64) (uint64, bool) { // first free in [lo, hi)
		j, _ := slices.BinarySearch(taken, lo)
		for c := lo; c < hi; c++ {
			if j >= len(taken) || taken[j] != c {
				return c, true
			}
			j++
		}
		return 0, false
	}
	if c, ok := gap(from, p.size); ok {
		return c, nil
	}
	if c, ok := gap(0, from); ok {
		return c, nil
	}
	return 0, fmt.Errorf("%w: %v", ErrPoolExhausted, p.prefix)
}

// Holdings returns every prefix mnid holds, with its anchor MR, oldest
// allocation first (draft §4.2: what the new MR retrieves from the HAA).
func (h *HAA) Holdings(ctx context.Context, mnid string) ([]Allocation, error) {
	if mnid == "" {
		return nil, fmt.Errorf("%w: empty MN-ID", ErrInvalid)
	}
	kvs, _, err := h.st.List(ctx, h.mnDir(mnid), 0)
	if err != nil {
		return nil, err
	}
	out := make([]Allocation, 0, len(kvs))
	for _, kv := range kvs {
		a, err := decodeAlloc(kv)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y Allocation) int {
		if c := x.AllocatedAt.Compare(y.AllocatedAt); c != 0 {
			return c
		}
		return x.Prefix.Addr().Compare(y.Prefix.Addr())
	})
	return out, nil
}

// Lookup returns the allocation of prefix q (ErrNotHeld if it is free or
// not in any pool).
func (h *HAA) Lookup(ctx context.Context, q netip.Prefix) (Allocation, error) {
	p, i, ok := h.poolOf(q)
	if !ok {
		return Allocation{}, fmt.Errorf("%w: %v is in no pool", ErrNotHeld, q)
	}
	kv, ok, err := h.st.Get(ctx, p.allocKey(i))
	if err != nil {
		return Allocation{}, err
	}
	if !ok {
		return Allocation{}, fmt.Errorf("%w: %v is free", ErrNotHeld, q)
	}
	return decodeAlloc(kv)
}

// Allocations lists the live allocations of the pool whose prefix is
// poolPrefix, by index.
func (h *HAA) Allocations(ctx context.Context, poolPrefix netip.Prefix) ([]Allocation, error) {
	for _, p := range h.pools {
		if p.prefix != poolPrefix {
			continue
		}
		kvs, _, err := h.st.List(ctx, p.allocDir(), 0)
		if err != nil {
			return nil, err
		}
		out := make([]Allocation, 0, len(kvs))
		for _, kv := range kvs {
			a, err := decodeAlloc(kv)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: no pool %v", ErrInvalid, poolPrefix)
}

// modify applies f to mnid's allocation of q under compare-and-swap.
func (h *HAA) modify(ctx context.Context, mnid string, q netip.Prefix, f func(a *Allocation) store.Txn) (Allocation, error) {
	p, i, ok := h.poolOf(q)
	if !ok {
		return Allocation{}, fmt.Errorf("%w: %v is in no pool", ErrNotHeld, q)
	}
	ak := p.allocKey(i)
	for range h.cfg.MaxRetries {
		kv, ok, err := h.st.Get(ctx, ak)
		if err != nil {
			return Allocation{}, err
		}
		if !ok {
			return Allocation{}, fmt.Errorf("%w: %v is free", ErrNotHeld, q)
		}
		a, err := decodeAlloc(kv)
		if err != nil {
			return Allocation{}, err
		}
		if a.MNID != mnid {
			return Allocation{}, fmt.Errorf("%w: %v is held by another node", ErrNotHeld, q)
		}
		t := f(&a)
		t.If = append(t.If, store.ModRevisionIs(ak, kv.ModRevision))
		res, err := h.st.Txn(ctx, t)
		if err != nil {
			return Allocation{}, err
		}
		if res.Succeeded {
			a.Revision = res.Revision
			return a, nil
		}
	}
	return Allocation{}, ErrContention
}

// Renew extends mnid's allocation of q to lifetime from now (0:
// DefaultLifetime), e.g. on a re-registration.
func (h *HAA) Renew(ctx context.Context, mnid string, q netip.Prefix, lifetime time.Duration) (Allocation, error) {
	life, err := h.lifetime(lifetime)
	if err != nil {
		return Allocation{}, err
	}
	return h.modify(ctx, mnid, q, func(a *Allocation) store.Txn {
		p, i, _ := h.poolOf(q)
		a.Lifetime = life
		a.Expiry = h.clk.Now().UTC().Add(life)
		v := encodeAlloc(a)
		return store.Txn{Then: []store.Op{
			store.Put(p.allocKey(i), v, store.WithExpiry(a.Expiry)),
			store.Put(h.mnKey(mnid, p), v, store.WithExpiry(a.Expiry)),
		}}
	})
}

// Release frees mnid's allocation of q now (de-registration, after the
// binding's deletion delay). It returns the released allocation.
func (h *HAA) Release(ctx context.Context, mnid string, q netip.Prefix) (Allocation, error) {
	return h.modify(ctx, mnid, q, func(a *Allocation) store.Txn {
		p, i, _ := h.poolOf(q)
		return store.Txn{Then: []store.Op{store.Delete(p.allocKey(i)), store.Delete(h.mnKey(mnid, p))}}
	})
}
