// Package lm is the Location Management function of
// draft-luo-dmm-with-mip-and-pmip-00 (§3.1 c, §3.3 b, §4.1-§4.4): it keeps
// the routing location of each mobile node's prefixes (anchor MR, current
// MR, lifetime), updated by MRs and queried by MRs by home address, prefix
// or MN-ID.
//
// The LM is a front-end over a store.Store: several LM front-ends over one
// shared store (the draft's "LMs deployed in a form of distributed
// database", §3.3) see the same records, and the store's transactions keep
// concurrent updates ordered. There is no network I/O here: the MR and the
// daemon call this API, and the wire adapters (Location Query/Reply, PBU
// with Serving MAAR, docs/wire-format.md) translate.
//
// Store layout (under Config.KeyPrefix, default "lm/"):
//
//	loc/<prefix>          the Record of a prefix (e.g. loc/2001:db8:1:2::/64)
//	mn/<MN-ID>/<prefix>   index of a node's prefixes (MN-ID path-escaped)
//
// Both keys carry the record's expiry, so the store removes them when the
// lifetime runs out.
package lm

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/internal/clock"
)

// Errors of the LM; StatusFor maps them to wire statuses.
var (
	// ErrNotFound: no live record for the key (Location Reply status 131).
	ErrNotFound = errors.New("lm: location unknown")
	// ErrStale: the update is older than the record (its Sequence is lower,
	// or equal with another current MR).
	ErrStale = errors.New("lm: update older than the stored location")
	// ErrConflict: the prefix is recorded for another mobile node, or with
	// another anchor MR.
	ErrConflict = errors.New("lm: prefix recorded for another mobile node or anchor")
	// ErrInvalid: a malformed update or query.
	ErrInvalid = errors.New("lm: invalid request")
	// ErrContention: the update lost the compare-and-swap too many times
	// in a row to concurrent updates of the same prefix.
	ErrContention = errors.New("lm: too much contention on the record")
)

// DefaultPrefixLengths are the record prefix lengths accepted by default:
// /64 home network prefixes (RFC 5213 §2.2) and /128 home addresses.
var DefaultPrefixLengths = []int{64, 128}

// Config configures an LM front-end. Every front-end over one store must
// use the same KeyPrefix and PrefixLengths.
type Config struct {
	// KeyPrefix is the store key prefix (default "lm/").
	KeyPrefix string
	// PrefixLengths are the prefix lengths a record may have (default
	// DefaultPrefixLengths). A query by home address tries each (longest
	// first) in one batched read, so this list is what makes the longest
	// prefix match one round trip to the store.
	PrefixLengths []int
	// MaxLifetime caps the lifetime an update may ask for (0: no cap).
	MaxLifetime time.Duration
	// MaxRetries bounds compare-and-swap retries of an update (default 16).
	MaxRetries int
}

// Validate checks the configuration; errors name the field.
func (c Config) Validate() error {
	if c.KeyPrefix != "" && !strings.HasSuffix(c.KeyPrefix, "/") {
		return fmt.Errorf("lm: KeyPrefix %q: must end with \"/\"", c.KeyPrefix)
	}
	seen := map[int]bool{}
	for i, n := range c.PrefixLengths {
		if n < 1 || n > 128 {
			return fmt.Errorf("lm: PrefixLengths[%d] = %d: must be 1-128", i, n)
		}
		if seen[n] {
			return fmt.Errorf("lm: PrefixLengths[%d] = %d: listed twice", i, n)
		}
		seen[n] = true
	}
	if c.MaxLifetime < 0 {
		return fmt.Errorf("lm: MaxLifetime %v: must not be negative", c.MaxLifetime)
	}
	if c.MaxRetries < 0 {
		return fmt.Errorf("lm: MaxRetries %d: must not be negative", c.MaxRetries)
	}
	return nil
}

// LM is one Location Management front-end. Safe for concurrent use.
type LM struct {
	st      store.Store
	clk     clock.Clock
	cfg     Config
	lengths []int // descending
	locPfx  string
	mnPfx   string
}

// New returns an LM front-end over st, with clk for lifetimes (nil: the
// real clock; it must be the store's clock).
func New(st store.Store, clk clock.Clock, cfg Config) (*LM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "lm/"
	}
	if len(cfg.PrefixLengths) == 0 {
		cfg.PrefixLengths = DefaultPrefixLengths
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 16
	}
	if clk == nil {
		clk = clock.New()
	}
	l := &LM{st: st, clk: clk, cfg: cfg, lengths: slices.Clone(cfg.PrefixLengths),
		locPfx: cfg.KeyPrefix + "loc/", mnPfx: cfg.KeyPrefix + "mn/"}
	slices.Sort(l.lengths)
	slices.Reverse(l.lengths)
	return l, nil
}

// Config returns the configuration in force (defaults applied).
func (l *LM) Config() Config { return l.cfg }

func (l *LM) locKey(p netip.Prefix) string { return l.locPfx + p.String() }

func (l *LM) mnDir(mnid string) string { return l.mnPfx + url.PathEscape(mnid) + "/" }

func (l *LM) prefixOfKey(key string) (netip.Prefix, bool) {
	s, ok := strings.CutPrefix(key, l.locPfx)
	if !ok {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(s)
	return p, err == nil
}

func validMR(a netip.Addr) bool { return a.Is6() && !a.Is4In6() && !a.IsUnspecified() }

// Update is a location update from an MR (draft §4.1, §4.2, Fig. 5 step 8).
type Update struct {
	MNID      string
	Prefix    netip.Prefix
	AnchorMR  netip.Addr
	CurrentMR netip.Addr
	// Lifetime of the location; 0 withdraws it (de-registration).
	Lifetime time.Duration
	// Sequence orders the updates of one prefix, whichever MR sends them:
	// an update with a lower Sequence than the record's is refused
	// (ErrStale), so a late update from the previous MR never overwrites
	// the new MR's. Equal Sequence is a refresh, accepted only from the
	// same current MR. Callers use a value that increases per mobile node
	// across MRs: e.g. the RFC 5213 §5.5 timestamp of the registration, or
	// the sequence handed over in the Mobility Context (wire-format §4.3).
	Sequence uint64
}

func (l *LM) checkPrefix(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p != p.Masked() {
		return fmt.Errorf("%w: prefix %v: not a masked IPv6 prefix", ErrInvalid, p)
	}
	if !slices.Contains(l.lengths, p.Bits()) {
		return fmt.Errorf("%w: prefix %v: length %d not in PrefixLengths %v", ErrInvalid, p, p.Bits(), l.cfg.PrefixLengths)
	}
	return nil
}

func (l *LM) checkUpdate(u *Update) error {
	switch {
	case u.MNID == "":
		return fmt.Errorf("%w: empty MN-ID", ErrInvalid)
	case len(u.MNID) > 0xffff:
		return fmt.Errorf("%w: MN-ID too long", ErrInvalid)
	case !validMR(u.AnchorMR):
		return fmt.Errorf("%w: anchor MR %v: not an IPv6 unicast address", ErrInvalid, u.AnchorMR)
	case !validMR(u.CurrentMR):
		return fmt.Errorf("%w: current MR %v: not an IPv6 unicast address", ErrInvalid, u.CurrentMR)
	case u.Lifetime < 0:
		return fmt.Errorf("%w: negative lifetime", ErrInvalid)
	case l.cfg.MaxLifetime > 0 && u.Lifetime > l.cfg.MaxLifetime:
		return fmt.Errorf("%w: lifetime %v above %v", ErrInvalid, u.Lifetime, l.cfg.MaxLifetime)
	}
	return l.checkPrefix(u.Prefix)
}

// Update applies a location update. It returns the stored record (for a
// withdrawal, the removed one, or ErrNotFound if there was none). On
// ErrStale it also returns the newer record in the store.
func (l *LM) Update(ctx context.Context, u Update) (Record, error) {
	if err := l.checkUpdate(&u); err != nil {
		return Record{}, err
	}
	key := l.locKey(u.Prefix)
	idx := l.mnDir(u.MNID) + u.Prefix.String()
	for range l.cfg.MaxRetries {
		kv, ok, err := l.st.Get(ctx, key)
		if err != nil {
			return Record{}, err
		}
		now := l.clk.Now()
		var cur Record
		if ok {
			if err := decodeRecord(kv.Value, &cur); err != nil {
				return Record{}, fmt.Errorf("%w: key %s", err, key)
			}
			cur.Revision = kv.ModRevision
			if !cur.Expiry.After(now) {
				ok = false // expired, its deletion not yet applied
			}
		}
		if ok {
			switch {
			case cur.MNID != u.MNID:
				return cur, fmt.Errorf("%w: %v is recorded for %q", ErrConflict, u.Prefix, cur.MNID)
			case cur.AnchorMR != u.AnchorMR:
				return cur, fmt.Errorf("%w: %v is anchored at %v, update says %v", ErrConflict, u.Prefix, cur.AnchorMR, u.AnchorMR)
			case u.Sequence < cur.Sequence, u.Sequence == cur.Sequence && u.CurrentMR != cur.CurrentMR:
				return cur, fmt.Errorf("%w: sequence %d, stored %d (current MR %v)", ErrStale, u.Sequence, cur.Sequence, cur.CurrentMR)
			}
		}
		var t store.Txn
		var rec Record
		if u.Lifetime == 0 {
			if !ok {
				return Record{}, ErrNotFound
			}
			rec = cur
			t = store.Txn{If: []store.Cmp{store.ModRevisionIs(key, kv.ModRevision)},
				Then: []store.Op{store.Delete(key), store.Delete(idx)}}
		} else {
			rec = Record{MNID: u.MNID, Prefix: u.Prefix, AnchorMR: u.AnchorMR, CurrentMR: u.CurrentMR,
				Lifetime: u.Lifetime, UpdatedAt: now.UTC(), Expiry: now.Add(u.Lifetime).UTC(), Sequence: u.Sequence}
			t = store.Txn{If: []store.Cmp{store.ModRevisionIs(key, kv.ModRevision)},
				Then: []store.Op{
					store.Put(key, encodeRecord(&rec), store.WithExpiry(rec.Expiry)),
					store.Put(idx, nil, store.WithExpiry(rec.Expiry)),
				}}
		}
		res, err := l.st.Txn(ctx, t)
		if err != nil {
			return Record{}, err
		}
		if res.Succeeded {
			if u.Lifetime > 0 {
				rec.Revision = res.Revision
			}
			return rec, nil
		}
	}
	return Record{}, ErrContention
}

// candidates appends the record keys that may cover a (lengths <= maxBits,
// longest first) and returns them with the prefixes.
func (l *LM) candidates(a netip.Addr, maxBits int, keys []string, pfx []netip.Prefix) ([]string, []netip.Prefix) {
	for _, n := range l.lengths {
		if n > maxBits {
			continue
		}
		p, _ := a.Prefix(n)
		keys = append(keys, l.locKey(p))
		pfx = append(pfx, p)
	}
	return keys, pfx
}

// pick returns the first (longest) live record among kvs.
func (l *LM) pick(kvs []store.KV, now time.Time) (Record, error) {
	for _, kv := range kvs {
		if !kv.Exists() {
			continue
		}
		var r Record
		if err := decodeRecord(kv.Value, &r); err != nil {
			return Record{}, fmt.Errorf("%w: key %s", err, kv.Key)
		}
		if r.Expiry.After(now) {
			r.Revision = kv.ModRevision
			return r, nil
		}
	}
	return Record{}, ErrNotFound
}

func checkAddr(a netip.Addr) error {
	if !a.Is6() || a.Is4In6() {
		return fmt.Errorf("%w: %v is not an IPv6 address", ErrInvalid, a)
	}
	return nil
}

// QueryAddress returns the record of the longest prefix covering the home
// address a (Location Query by home address).
func (l *LM) QueryAddress(ctx context.Context, a netip.Addr) (Record, error) {
	return l.query(ctx, a, 128)
}

// QueryPrefix returns the record of the longest prefix covering p (p
// itself if it is recorded): Location Query by prefix.
func (l *LM) QueryPrefix(ctx context.Context, p netip.Prefix) (Record, error) {
	if !p.IsValid() {
		return Record{}, fmt.Errorf("%w: invalid prefix", ErrInvalid)
	}
	return l.query(ctx, p.Addr(), p.Bits())
}

func (l *LM) query(ctx context.Context, a netip.Addr, maxBits int) (Record, error) {
	if err := checkAddr(a); err != nil {
		return Record{}, err
	}
	var kb [8]string
	var pb [8]netip.Prefix
	keys, _ := l.candidates(a, maxBits, kb[:0], pb[:0])
	if len(keys) == 0 {
		return Record{}, ErrNotFound
	}
	kvs, _, err := l.st.GetMany(ctx, keys)
	if err != nil {
		return Record{}, err
	}
	return l.pick(kvs, l.clk.Now())
}

// lookupAll reads every candidate of a and returns, per candidate prefix
// (longest first), its record or none, at one store revision (for the
// cache).
func (l *LM) lookupAll(ctx context.Context, a netip.Addr, maxBits int) ([]netip.Prefix, []store.KV, int64, error) {
	keys, pfx := l.candidates(a, maxBits, nil, nil)
	kvs, rev, err := l.st.GetMany(ctx, keys)
	return pfx, kvs, rev, err
}

// QueryMN returns every live record of a mobile node, by prefix order
// (Location Query by MN-ID; also what an nMR learns of the node).
func (l *LM) QueryMN(ctx context.Context, mnid string) ([]Record, error) {
	if mnid == "" {
		return nil, fmt.Errorf("%w: empty MN-ID", ErrInvalid)
	}
	dir := l.mnDir(mnid)
	idx, _, err := l.st.List(ctx, dir, 0)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(idx))
	for _, kv := range idx {
		keys = append(keys, l.locPfx+kv.Key[len(dir):])
	}
	kvs, _, err := l.st.GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	now := l.clk.Now()
	var out []Record
	for _, kv := range kvs {
		if !kv.Exists() {
			continue
		}
		var r Record
		if err := decodeRecord(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("%w: key %s", err, kv.Key)
		}
		if r.MNID == mnid && r.Expiry.After(now) {
			r.Revision = kv.ModRevision
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	slices.SortFunc(out, func(a, b Record) int { return comparePrefix(a.Prefix, b.Prefix) })
	return out, nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// QueryKind is the key of a query.
type QueryKind uint8

const (
	ByAddress QueryKind = iota + 1
	ByPrefix
	ByMNID
)

// Query is one query of a batch.
type Query struct {
	Kind   QueryKind
	Addr   netip.Addr   // ByAddress
	Prefix netip.Prefix // ByPrefix
	MNID   string       // ByMNID
}

// Result answers one Query: one record for an address or prefix, every
// record of the node for an MN-ID; Err is ErrNotFound when there is none.
type Result struct {
	Records []Record
	Err     error
}

// QueryBatch answers several queries: the address and prefix queries in
// one store read. The results are aligned with qs. The error is a store
// error that failed the whole batch.
func (l *LM) QueryBatch(ctx context.Context, qs []Query) ([]Result, error) {
	out := make([]Result, len(qs))
	var keys []string
	span := make([][2]int, len(qs))
	for i, q := range qs {
		start := len(keys)
		switch q.Kind {
		case ByAddress:
			if err := checkAddr(q.Addr); err != nil {
				out[i].Err = err
				continue
			}
			keys, _ = l.candidates(q.Addr, 128, keys, nil)
		case ByPrefix:
			if !q.Prefix.IsValid() || checkAddr(q.Prefix.Addr()) != nil {
				out[i].Err = fmt.Errorf("%w: invalid prefix %v", ErrInvalid, q.Prefix)
				continue
			}
			keys, _ = l.candidates(q.Prefix.Addr(), q.Prefix.Bits(), keys, nil)
		case ByMNID:
			rs, err := l.QueryMN(ctx, q.MNID)
			if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) {
				return nil, err
			}
			out[i] = Result{Records: rs, Err: err}
			continue
		default:
			out[i].Err = fmt.Errorf("%w: query kind %d", ErrInvalid, q.Kind)
			continue
		}
		span[i] = [2]int{start, len(keys)}
	}
	if len(keys) > 0 {
		kvs, _, err := l.st.GetMany(ctx, keys)
		if err != nil {
			return nil, err
		}
		now := l.clk.Now()
		for i, q := range qs {
			if (q.Kind != ByAddress && q.Kind != ByPrefix) || out[i].Err != nil {
				continue
			}
			r, err := l.pick(kvs[span[i][0]:span[i][1]], now)
			if err != nil {
				out[i].Err = err
				continue
			}
			out[i].Records = []Record{r}
		}
	}
	return out, nil
}

// ChangeKind tells what happened to a location.
type ChangeKind uint8

const (
	// Updated: the location was created or changed.
	Updated ChangeKind = iota + 1
	// Removed: the location was withdrawn (lifetime 0) or its lifetime
	// ran out. (The two are not told apart: an etcd lease expiry is a
	// plain delete, and the time a watcher sees the change says nothing.)
	Removed
)

func (k ChangeKind) String() string {
	switch k {
	case Updated:
		return "updated"
	case Removed:
		return "removed"
	}
	return "invalid"
}

// Change is a location change seen by Watch.
type Change struct {
	Kind     ChangeKind
	Revision int64
	Prefix   netip.Prefix
	// Record is the new record (Updated) or the last one (Removed; zero
	// if the store did not give it).
	Record Record
	// Err, when set, is the last Change: the watch ended (e.g. the store
	// compacted past it); the watcher must drop what it cached.
	Err error
}

// Watch delivers the location changes from store revision fromRev on (0:
// from now), in order, until ctx is done. MR caches use it to invalidate
// their entries.
func (l *LM) Watch(ctx context.Context, fromRev int64) (<-chan Change, error) {
	evs, err := l.st.Watch(ctx, l.locPfx, fromRev)
	if err != nil {
		return nil, err
	}
	out := make(chan Change, 64)
	go func() {
		defer close(out)
		for ev := range evs {
			c, ok := l.change(ev)
			if !ok {
				continue
			}
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (l *LM) change(ev store.Event) (Change, bool) {
	if ev.Err != nil {
		return Change{Err: ev.Err}, true
	}
	p, ok := l.prefixOfKey(ev.KV.Key)
	if !ok {
		return Change{}, false
	}
	c := Change{Revision: ev.Revision, Prefix: p}
	switch ev.Type {
	case store.EventPut:
		if decodeRecord(ev.KV.Value, &c.Record) != nil {
			return Change{}, false
		}
		c.Record.Revision = ev.Revision
		c.Kind = Updated
	case store.EventDelete:
		c.Kind = Removed
		if ev.PrevKV.Exists() && decodeRecord(ev.PrevKV.Value, &c.Record) == nil {
			c.Record.Revision = ev.PrevKV.ModRevision
		}
	default:
		return Change{}, false
	}
	return c, true
}
