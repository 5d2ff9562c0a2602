// Package etcdstore is the etcd v3 backend of dmm/store: several LM and HAA
// front-ends on different machines share one etcd cluster through it.
//
// Mapping of the store.Store model onto etcd (go.etcd.io/etcd/client/v3,
// v3.5 client; tested against Debian 12's etcd 3.4.23 server):
//
//   - Revisions are etcd's: Revision is the cluster revision, KV's
//     CreateRevision / ModRevision / Version are the etcd key's. Every
//     front-end over a cluster sees the same numbers.
//   - Keys live under an optional namespace (WithNamespace), stripped on
//     the way out.
//   - Expiry is an etcd lease. Leases are shared per expiry second: a key
//     that expires at time t is attached to the lease of second ceil(t),
//     whose ID encodes that second (LeaseID), so every front-end picks the
//     same lease for the same second without coordination, and any
//     front-end can tell a key's expiry (KV.Expiry, rounded up to the
//     second) from its lease. etcd expires the lease at its TTL (at least
//     etcd's minimum lease TTL, 1.5 election timeouts, and reset on a
//     leader change); in addition each Store runs a sweeper that revokes
//     the package's leases whose second is past (by SweepGrace), so keys
//     go within about a second of their expiry whatever etcd's lease
//     timers do. An expiry is a delete with a new revision, as in the
//     interface.
//   - Txn is an etcd Txn: conditions are ModRevision compares (0: absent),
//     Then/Else map to etcd ops; a branch has at most MaxTxnOps operations
//     (etcd's --max-txn-ops, 128 by default).
//   - CompareAndSwap / CompareAndDelete are one-compare Txns.
//   - GetMany is one read-only Txn (a linearizable read at one revision);
//     more keys than MaxTxnOps are read in several Txns pinned to the
//     first one's revision.
//   - Watch is an etcd watch with previous values, from a revision (the
//     current one + 1 when 0 is asked, read before the watch starts so no
//     change is missed), with WithRequireLeader: a member that loses its
//     leader ends the watch with an Err event, as does a compaction
//     (store.ErrCompacted); the watcher then resynchronises.
//
// Reads are linearizable (WithSerializableReads trades that for latency).
// Operations are not retried here beyond what
// the etcd client does (it retries reads on another endpoint): a write
// that fails with a leader change or an unreachable member returns the
// error and the caller decides.
package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pmipdmm/pmipdmm/dmm/store"
)

// Lease IDs granted by this package: LeaseTag in the bits above
// leaseShift, the expiry second (Unix time) below.
const (
	LeaseTag   = 0x5EA5E
	leaseShift = 40
	secMask    = 1<<leaseShift - 1
)

// LeaseID returns the lease of the keys expiring at t: the lease of
// second ceil(t).
func LeaseID(t time.Time) clientv3.LeaseID {
	return clientv3.LeaseID(LeaseTag<<leaseShift | ceilSec(t)&secMask)
}

// LeaseExpiry returns the expiry second encoded in a lease granted by this
// package (ok false for another lease).
func LeaseExpiry(id clientv3.LeaseID) (time.Time, bool) {
	if id <= 0 || int64(id)>>leaseShift != LeaseTag {
		return time.Time{}, false
	}
	return time.Unix(int64(id)&secMask, 0), true
}

func ceilSec(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// Defaults.
const (
	DefaultMaxTxnOps     = 128
	DefaultSweepInterval = time.Second
	DefaultSweepGrace    = time.Second
)

// Option configures a Store.
type Option func(*Store)

// WithNamespace puts every key under prefix (e.g. "pmipdmm/"); keys come
// out without it.
func WithNamespace(prefix string) Option { return func(s *Store) { s.ns = prefix } }

// WithMaxTxnOps sets the etcd server's --max-txn-ops (default 128).
func WithMaxTxnOps(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxOps = n
		}
	}
}

// WithSweep sets how often the store revokes past leases, and how long
// after its second a lease is revoked (defaults 1 s and 1 s; the grace
// covers clock differences between front-ends). interval < 0 disables
// the sweeper (etcd's own lease expiry still applies).
func WithSweep(interval, grace time.Duration) Option {
	return func(s *Store) { s.sweepEvery, s.sweepGrace = interval, max(grace, 0) }
}

// WithSerializableReads makes Get, GetMany and List serializable reads:
// answered by the member the client talks to, without the leader round
// trip of a linearizable read, so faster, but possibly a little behind
// the latest writes (a member that is behind, or cut off from the
// others, answers with what it has). Transactions, compare-and-swap and
// Revision are not affected: conditions are always checked on the
// current state.
func WithSerializableReads() Option { return func(s *Store) { s.serializable = true } }

// WithClock sets the time source for expiry computations (default
// time.Now). etcd leases run on the servers' clocks: this is for tests
// that need to see the store's time, not to drive it.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Store is a store.Store over an etcd cluster.
type Store struct {
	cli    *clientv3.Client
	lease  pb.LeaseClient
	own    bool
	ns     string
	maxOps int
	// serializable: reads without the linearizable read index.
	serializable bool
	sweepEvery   time.Duration
	sweepGrace   time.Duration
	now          func() time.Time

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	wg     sync.WaitGroup

	lmu    sync.Mutex
	grants map[clientv3.LeaseID]*grant

	sweeps atomic.Uint64 // leases revoked by the sweeper
}

type grant struct {
	done chan struct{}
	err  error
}

var _ store.Store = (*Store)(nil)

// New returns a store over cli. Close does not close cli.
func New(cli *clientv3.Client, opts ...Option) *Store {
	s := &Store{cli: cli, lease: clientv3.RetryLeaseClient(cli), maxOps: DefaultMaxTxnOps,
		sweepEvery: DefaultSweepInterval, sweepGrace: DefaultSweepGrace, now: time.Now,
		grants: map[clientv3.LeaseID]*grant{}}
	for _, o := range opts {
		o(s)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.sweepEvery > 0 {
		s.wg.Add(1)
		go s.sweeper()
	}
	return s
}

// Open connects to the cluster of cfg and returns a store that owns the
// client (Close closes it).
func Open(cfg clientv3.Config, opts ...Option) (*Store, error) {
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, err
	}
	s := New(cli, opts...)
	s.own = true
	return s, nil
}

// Client returns the etcd client.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Swept returns how many leases the sweeper revoked.
func (s *Store) Swept() uint64 { return s.sweeps.Load() }

func (s *Store) begin(ctx context.Context) (context.Context, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ctx, nil
}

// mapErr turns client errors into the store's where one matches.
func (s *Store) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case s.closed.Load():
		return fmt.Errorf("%w (%v)", store.ErrClosed, err)
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%w: %v", store.ErrCompacted, err)
	case errors.Is(err, rpctypes.ErrTooManyOps), errors.Is(err, rpctypes.ErrDuplicateKey),
		errors.Is(err, rpctypes.ErrEmptyKey):
		return fmt.Errorf("%w: %v", store.ErrInvalid, err)
	}
	return err
}

func (s *Store) key(k string) string { return s.ns + k }

var serializableOpts = []clientv3.OpOption{clientv3.WithSerializable()}

// readOpts returns the options of the plain reads (a fresh slice).
func (s *Store) readOpts() []clientv3.OpOption {
	if s.serializable {
		return slices.Clone(serializableOpts)
	}
	return nil
}

func (s *Store) kv(p *mvccpb.KeyValue) store.KV {
	kv := store.KV{Key: string(p.Key[min(len(s.ns), len(p.Key)):]), Value: p.Value,
		CreateRevision: p.CreateRevision, ModRevision: p.ModRevision, Version: p.Version}
	if kv.Value == nil {
		kv.Value = []byte{}
	}
	if t, ok := LeaseExpiry(clientv3.LeaseID(p.Lease)); ok {
		kv.Expiry = t
	}
	return kv
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.KV, bool, error) {
	ctx, err := s.begin(ctx)
	if err != nil {
		return store.KV{}, false, err
	}
	resp, err := s.cli.Get(ctx, s.key(key), s.readOpts()...)
	if err != nil {
		return store.KV{}, false, s.mapErr(err)
	}
	if len(resp.Kvs) == 0 {
		return store.KV{Key: key}, false, nil
	}
	return s.kv(resp.Kvs[0]), true, nil
}

// GetMany implements store.Store.
func (s *Store) GetMany(ctx context.Context, keys []string) ([]store.KV, int64, error) {
	ctx, err := s.begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	if len(keys) == 0 {
		r, err := s.Revision(ctx)
		return []store.KV{}, r, err
	}
	// Distinct keys, in first-seen order.
	slot := make([]int, len(keys))
	var uniq []string
	if len(keys) <= 16 {
	outer:
		for i, k := range keys {
			for j, u := range uniq {
				if u == k {
					slot[i] = j
					continue outer
				}
			}
			slot[i] = len(uniq)
			uniq = append(uniq, k)
		}
	} else {
		seen := make(map[string]int, len(keys))
		for i, k := range keys {
			j, ok := seen[k]
			if !ok {
				j = len(uniq)
				seen[k] = j
				uniq = append(uniq, k)
			}
			slot[i] = j
		}
	}
	got := make([]store.KV, len(uniq))
	var rev int64
	for start := 0; start < len(uniq); start += s.maxOps {
		end := min(start+s.maxOps, len(uniq))
		ops := make([]clientv3.Op, 0, end-start)
		for _, k := range uniq[start:end] {
			if rev == 0 {
				ops = append(ops, clientv3.OpGet(s.key(k), s.readOpts()...))
			} else {
				ops = append(ops, clientv3.OpGet(s.key(k), append(s.readOpts(), clientv3.WithRev(rev))...))
			}
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, 0, s.mapErr(err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for i, r := range resp.Responses {
			rr := r.GetResponseRange()
			if rr != nil && len(rr.Kvs) > 0 {
				got[start+i] = s.kv(rr.Kvs[0])
			} else {
				got[start+i] = store.KV{Key: uniq[start+i]}
			}
		}
	}
	out := make([]store.KV, len(keys))
	used := make([]bool, len(uniq))
	for i, j := range slot {
		out[i] = got[j]
		if used[j] && out[i].Value != nil { // a repeated key gets its own copy
			out[i].Value = append([]byte{}, out[i].Value...)
		}
		used[j] = true
	}
	return out, rev, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, prefix string, limit int) ([]store.KV, int64, error) {
	return s.ListAfter(ctx, prefix, "", limit)
}

// ListAfter implements store.Store: one range request from the key after
// after to the end of the prefix.
func (s *Store) ListAfter(ctx context.Context, prefix, after string, limit int) ([]store.KV, int64, error) {
	ctx, err := s.begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	from := s.key(prefix)
	if after != "" && after+"\x00" > prefix {
		from = s.key(after + "\x00")
	}
	if from == "" {
		from = "\x00" // the whole keyspace (etcd refuses an empty key)
	}
	opts := append(s.readOpts(), clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.key(prefix))), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	resp, err := s.cli.Get(ctx, from, opts...)
	if err != nil {
		return nil, 0, s.mapErr(err)
	}
	out := make([]store.KV, 0, len(resp.Kvs))
	for _, p := range resp.Kvs {
		out = append(out, s.kv(p))
	}
	return out, resp.Header.Revision, nil
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	ctx, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	k := s.ns
	if k == "" {
		k = "\x00"
	}
	resp, err := s.cli.Get(ctx, k, clientv3.WithCountOnly())
	if err != nil {
		return 0, s.mapErr(err)
	}
	return resp.Header.Revision, nil
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, opts ...store.PutOption) (int64, error) {
	r, err := s.Txn(ctx, store.Txn{Then: []store.Op{store.Put(key, value, opts...)}})
	return r.Revision, err
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) (bool, int64, error) {
	ctx, err := s.begin(ctx)
	if err != nil {
		return false, 0, err
	}
	if key == "" {
		return false, 0, fmt.Errorf("%w: empty key", store.ErrInvalid)
	}
	resp, err := s.cli.Delete(ctx, s.key(key))
	if err != nil {
		return false, 0, s.mapErr(err)
	}
	return resp.Deleted > 0, resp.Header.Revision, nil
}

// CompareAndSwap implements store.Store.
func (s *Store) CompareAndSwap(ctx context.Context, key string, modRev int64, value []byte, opts ...store.PutOption) (int64, bool, error) {
	r, err := s.Txn(ctx, store.Txn{If: []store.Cmp{store.ModRevisionIs(key, modRev)}, Then: []store.Op{store.Put(key, value, opts...)}})
	return r.Revision, r.Succeeded, err
}

// CompareAndDelete implements store.Store.
func (s *Store) CompareAndDelete(ctx context.Context, key string, modRev int64) (int64, bool, error) {
	if modRev == 0 {
		return 0, false, fmt.Errorf("%w: CompareAndDelete needs a revision", store.ErrInvalid)
	}
	r, err := s.Txn(ctx, store.Txn{If: []store.Cmp{store.ModRevisionIs(key, modRev)}, Then: []store.Op{store.Delete(key)}})
	return r.Revision, r.Succeeded, err
}

// prepare validates a branch and turns it into etcd ops, granting the
// leases its expiries need.
func (s *Store) prepare(ctx context.Context, ops []store.Op, now time.Time) ([]clientv3.Op, []clientv3.LeaseID, error) {
	if len(ops) > s.maxOps {
		return nil, nil, fmt.Errorf("%w: %d operations in a branch, etcd allows %d", store.ErrInvalid, len(ops), s.maxOps)
	}
	out := make([]clientv3.Op, 0, len(ops))
	var leases []clientv3.LeaseID
	written := make(map[string]bool, len(ops))
	for _, op := range ops {
		if op.Key == "" {
			return nil, nil, fmt.Errorf("%w: empty key", store.ErrInvalid)
		}
		k := s.key(op.Key)
		switch op.Type {
		case store.OpGet:
			out = append(out, clientv3.OpGet(k))
			continue
		case store.OpPut:
			exp, err := op.Put.ExpiryAt(now)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: key %q: bad TTL or expiry", err, op.Key)
			}
			if exp.IsZero() {
				out = append(out, clientv3.OpPut(k, string(op.Value)))
			} else {
				id, err := s.ensureLease(ctx, exp, now)
				if err != nil {
					return nil, nil, err
				}
				leases = append(leases, id)
				out = append(out, clientv3.OpPut(k, string(op.Value), clientv3.WithLease(id)))
			}
		case store.OpDelete:
			out = append(out, clientv3.OpDelete(k))
		default:
			return nil, nil, fmt.Errorf("%w: op type %d", store.ErrInvalid, op.Type)
		}
		if written[op.Key] {
			return nil, nil, fmt.Errorf("%w: key %q written twice in one transaction", store.ErrInvalid, op.Key)
		}
		written[op.Key] = true
	}
	return out, leases, nil
}

// Txn implements store.Store.
func (s *Store) Txn(ctx context.Context, t store.Txn) (store.TxnResult, error) {
	ctx, err := s.begin(ctx)
	if err != nil {
		return store.TxnResult{}, err
	}
	if len(t.If) > s.maxOps {
		return store.TxnResult{}, fmt.Errorf("%w: %d conditions, etcd allows %d", store.ErrInvalid, len(t.If), s.maxOps)
	}
	cmps := make([]clientv3.Cmp, len(t.If))
	for i, c := range t.If {
		if c.Key == "" {
			return store.TxnResult{}, fmt.Errorf("%w: empty key in condition", store.ErrInvalid)
		}
		cmps[i] = clientv3.Compare(clientv3.ModRevision(s.key(c.Key)), "=", c.ModRevision)
	}
	for attempt := 0; ; attempt++ {
		now := s.now()
		then, l1, err := s.prepare(ctx, t.Then, now)
		if err != nil {
			return store.TxnResult{}, err
		}
		els, l2, err := s.prepare(ctx, t.Else, now)
		if err != nil {
			return store.TxnResult{}, err
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && attempt == 0 {
			// A lease we had granted is gone (expired or revoked by a
			// sweeper): grant again, once.
			s.forget(append(l1, l2...))
			continue
		}
		if err != nil {
			return store.TxnResult{}, s.mapErr(err)
		}
		res := store.TxnResult{Succeeded: resp.Succeeded, Revision: resp.Header.Revision}
		branch := t.Then
		if !resp.Succeeded {
			branch = t.Else
		}
		for i, op := range branch {
			if op.Type != store.OpGet {
				continue
			}
			var rr *pb.RangeResponse
			if i < len(resp.Responses) {
				rr = resp.Responses[i].GetResponseRange()
			}
			if rr != nil && len(rr.Kvs) > 0 {
				res.Gets = append(res.Gets, s.kv(rr.Kvs[0]))
			} else {
				res.Gets = append(res.Gets, store.KV{Key: op.Key})
			}
		}
		return res, nil
	}
}

// ensureLease returns the shared lease of exp's second, granting it if
// this store has not yet (another front-end may have: that is fine).
func (s *Store) ensureLease(ctx context.Context, exp, now time.Time) (clientv3.LeaseID, error) {
	id := LeaseID(exp)
	for {
		s.lmu.Lock()
		g, ok := s.grants[id]
		if !ok {
			g = &grant{done: make(chan struct{})}
			s.grants[id] = g
			s.lmu.Unlock()
			g.err = s.grant(ctx, id, exp, now)
			if g.err != nil {
				s.lmu.Lock()
				delete(s.grants, id)
				s.lmu.Unlock()
			}
			close(g.done)
			return id, g.err
		}
		s.lmu.Unlock()
		select {
		case <-g.done:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if g.err == nil {
			return id, nil
		}
		// That attempt failed; try ourselves.
	}
}

func (s *Store) grant(ctx context.Context, id clientv3.LeaseID, exp, now time.Time) error {
	ttl := ceilSec(exp) - now.Unix()
	if ttl < 1 {
		ttl = 1
	}
	resp, err := s.lease.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: int64(id), TTL: ttl})
	if err == nil && resp.Error != "" {
		err = errors.New(resp.Error)
	}
	if err != nil {
		if errors.Is(rpctypes.Error(err), rpctypes.ErrLeaseExist) {
			return nil // granted by another front-end
		}
		return fmt.Errorf("etcdstore: lease for %v: %w", time.Unix(int64(id)&secMask, 0).UTC(), s.mapErr(rpctypes.Error(err)))
	}
	return nil
}

func (s *Store) forget(ids []clientv3.LeaseID) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	for _, id := range ids {
		if g, ok := s.grants[id]; ok {
			select {
			case <-g.done:
				delete(s.grants, id)
			default:
			}
		}
	}
}

// sweeper revokes the package's leases whose second is past, and forgets
// the grants it knows of that are.
func (s *Store) sweeper() {
	defer s.wg.Done()
	tk := time.NewTicker(s.sweepEvery)
	defer tk.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.cli.Ctx().Done(): // the client was closed under us
			return
		case <-tk.C:
		}
		s.sweep()
	}
}

func (s *Store) sweep() {
	ctx, cancel := context.WithTimeout(s.ctx, max(s.sweepEvery, time.Second))
	defer cancel()
	cut := s.now().Add(-s.sweepGrace)
	s.lmu.Lock()
	for id, g := range s.grants {
		if t, _ := LeaseExpiry(id); t.Before(cut) {
			select {
			case <-g.done:
				delete(s.grants, id)
			default:
			}
		}
	}
	s.lmu.Unlock()
	resp, err := s.lease.LeaseLeases(ctx, &pb.LeaseLeasesRequest{})
	if err != nil {
		return
	}
	for _, l := range resp.Leases {
		t, ok := LeaseExpiry(clientv3.LeaseID(l.ID))
		if !ok || !t.Before(cut) {
			continue
		}
		if _, err := s.lease.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: l.ID}); err == nil {
			s.sweeps.Add(1)
		}
	}
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan store.Event, error) {
	ctx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	if fromRev <= 0 {
		// The revision to start from is read first: a watch created
		// without one starts whenever the server registers it, and a
		// change made right after Watch returns could be missed.
		r, err := s.Revision(ctx)
		if err != nil {
			return nil, err
		}
		fromRev = r + 1
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	stop := context.AfterFunc(s.ctx, cancel)
	wch := s.cli.Watch(wctx, s.key(prefix), clientv3.WithPrefix(), clientv3.WithRev(fromRev), clientv3.WithPrevKV())
	out := make(chan store.Event, 64)
	go func() {
		defer close(out)
		defer cancel()
		defer stop()
		send := func(ev store.Event) bool {
			select {
			case out <- ev:
				return true
			case <-wctx.Done():
				return false
			}
		}
		for resp := range wch {
			if resp.CompactRevision != 0 {
				send(store.Event{Err: fmt.Errorf("%w: watch from %d, etcd compacted up to %d", store.ErrCompacted, fromRev, resp.CompactRevision)})
				return
			}
			if err := resp.Err(); err != nil || resp.Canceled {
				if wctx.Err() != nil || s.closed.Load() {
					return
				}
				if err == nil {
					err = errors.New("canceled by the server")
				}
				send(store.Event{Err: fmt.Errorf("etcdstore: watch ended: %w", err)})
				return
			}
			for _, e := range resp.Events {
				ev := store.Event{Revision: e.Kv.ModRevision}
				switch e.Type {
				case mvccpb.PUT:
					ev.Type = store.EventPut
					ev.KV = s.kv(e.Kv)
				case mvccpb.DELETE:
					ev.Type = store.EventDelete
					ev.KV = store.KV{Key: s.kv(e.Kv).Key, ModRevision: e.Kv.ModRevision}
				default:
					continue
				}
				if e.PrevKv != nil {
					ev.PrevKV = s.kv(e.PrevKv)
				}
				if !send(ev) {
					return
				}
			}
		}
		// The client closed the channel without our asking (e.g. the
		// client was closed under the store): tell the watcher.
		if wctx.Err() == nil && !s.closed.Load() {
			send(store.Event{Err: errors.New("etcdstore: watch ended: the etcd client closed it")})
		}
	}()
	return out, nil
}

// Close implements store.Store: watches end, later calls return
// store.ErrClosed; the client is closed if the store opened it.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	if s.own {
		return s.cli.Close()
	}
	return nil
}
