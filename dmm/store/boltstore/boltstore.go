// Package boltstore is the single-node, persistent backend of dmm/store: a
// bbolt file (go.etcd.io/bbolt). It is the embedded default of a daemon
// that runs alone: its state survives restarts, and a write is on disk
// (fsync'ed by bbolt's commit) when the call returns.
//
// What is persisted, per key: the value, CreateRevision, ModRevision,
// Version and the absolute expiry time; and the store revision. A reopened
// store continues the revisions where they were. Expiry follows the
// injected clock: a sweeper (a timer on the clock at the earliest expiry)
// deletes the keys whose time is reached, one revision per expiry instant
// as in the memory backend; keys that expired while the store was closed
// are deleted when it is opened. Reads never return an expired key, and a
// transaction sweeps before it evaluates its conditions.
//
// Watches are in-process: the events of a transaction are published to the
// watchers after its commit, from a bounded in-memory history (the last
// WithHistory events). The history does not survive a restart: after Open,
// a watch may start at the current revision + 1 at the earliest (an
// earlier start is store.ErrCompacted).
//
// One process opens a file at a time (bbolt locks it); a second Open
// waits up to the open timeout and fails.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/internal/clock"
)

// DefaultHistory is how many events are kept for watches.
const DefaultHistory = 1 << 16

var (
	bucketKV   = []byte("kv")   // key -> entry
	bucketExp  = []byte("exp")  // expiry (8 octets, Unix ns, big endian) || key -> nothing
	bucketMeta = []byte("meta") // "rev" -> revision; "format" -> formatVersion
	metaRev    = []byte("rev")
	metaFormat = []byte("format")
)

const formatVersion = 1

// entry encoding: format(1) createRev(8) modRev(8) version(8) expiry(8, Unix
// ns, 0: never) value.
const entryHdr = 1 + 8*4

// Option configures Open.
type Option func(*Store)

// WithClock sets the clock of expiry (default: the real clock).
func WithClock(c clock.Clock) Option { return func(s *Store) { s.clk = c } }

// WithHistory sets how many events are kept for watches (minimum 16).
func WithHistory(n int) Option { return func(s *Store) { s.maxHist = max(n, 16) } }

// WithOpenTimeout bounds the wait for the file lock held by another
// process (default 2 s).
func WithOpenTimeout(d time.Duration) Option { return func(s *Store) { s.openTimeout = d } }

// WithNoSync skips the fsync of each commit (tests only: a crash may
// lose acknowledged writes).
func WithNoSync() Option { return func(s *Store) { s.noSync = true } }

// Store is a store.Store in a bbolt file.
type Store struct {
	clk         clock.Clock
	maxHist     int
	openTimeout time.Duration
	noSync      bool
	path        string
	db          *bolt.DB

	// life: read and write operations hold it shared, Close exclusive.
	life   sync.RWMutex
	closed bool

	wmu sync.Mutex // one writer at a time: revision order = commit order

	mu         sync.RWMutex // the history and the notifier
	hist       []store.Event
	histStart  int64 // absolute position of hist[0]
	compactRev int64 // revisions <= compactRev are not in hist
	notify     chan struct{}

	tmu     sync.Mutex // the expiry timer
	timer   clock.Timer
	timerAt time.Time
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in the file at path. Keys
// whose expiry is reached are deleted before it returns.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{clk: clock.New(), maxHist: DefaultHistory, openTimeout: 2 * time.Second, path: path, notify: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: s.openTimeout, NoSync: s.noSync})
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s.db = db
	var rev int64
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKV, bucketExp, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bucketMeta)
		if f := m.Get(metaFormat); f == nil {
			if err := m.Put(metaFormat, []byte{formatVersion}); err != nil {
				return err
			}
		} else if len(f) != 1 || f[0] != formatVersion {
			return fmt.Errorf("unknown format %x", f)
		}
		rev = readRev(tx)
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: %s: %w", path, err)
	}
	s.compactRev = rev
	if err := s.sweep(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

func readRev(tx *bolt.Tx) int64 {
	if v := tx.Bucket(bucketMeta).Get(metaRev); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

func encodeEntry(kv *store.KV) []byte {
	b := make([]byte, entryHdr+len(kv.Value))
	b[0] = formatVersion
	binary.BigEndian.PutUint64(b[1:], uint64(kv.CreateRevision))
	binary.BigEndian.PutUint64(b[9:], uint64(kv.ModRevision))
	binary.BigEndian.PutUint64(b[17:], uint64(kv.Version))
	var exp int64
	if !kv.Expiry.IsZero() {
		exp = kv.Expiry.UnixNano()
	}
	binary.BigEndian.PutUint64(b[25:], uint64(exp))
	copy(b[entryHdr:], kv.Value)
	return b
}

var errCorrupt = errors.New("boltstore: malformed entry")

// decodeEntry decodes b (which belongs to bbolt: the value is copied).
func decodeEntry(key string, b []byte) (store.KV, error) {
	if len(b) < entryHdr || b[0] != formatVersion {
		return store.KV{}, fmt.Errorf("%w at key %q", errCorrupt, key)
	}
	kv := store.KV{Key: key,
		CreateRevision: int64(binary.BigEndian.Uint64(b[1:])),
		ModRevision:    int64(binary.BigEndian.Uint64(b[9:])),
		Version:        int64(binary.BigEndian.Uint64(b[17:])),
		Value:          append([]byte{}, b[entryHdr:]...),
	}
	if exp := int64(binary.BigEndian.Uint64(b[25:])); exp != 0 {
		kv.Expiry = time.Unix(0, exp)
	}
	return kv, nil
}

func expKey(t time.Time, key string) []byte {
	b := make([]byte, 8+len(key))
	binary.BigEndian.PutUint64(b, uint64(t.UnixNano()))
	copy(b[8:], key)
	return b
}

func live(kv *store.KV, now time.Time) bool { return kv.Expiry.IsZero() || kv.Expiry.After(now) }

func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}

// enter starts an operation: the store stays open until leave.
func (s *Store) enter(ctx context.Context) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return store.ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.life.RUnlock() }

// read returns the live state of key in tx.
func read(tx *bolt.Tx, key string, now time.Time) (store.KV, bool, error) {
	v := tx.Bucket(bucketKV).Get([]byte(key))
	if v == nil {
		return store.KV{Key: key}, false, nil
	}
	kv, err := decodeEntry(key, v)
	if err != nil {
		return store.KV{}, false, err
	}
	if !live(&kv, now) {
		return store.KV{Key: key}, false, nil
	}
	return kv, true, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (kv store.KV, ok bool, err error) {
	if err := s.enter(ctx); err != nil {
		return store.KV{}, false, err
	}
	defer s.leave()
	now := s.clk.Now()
	err = s.db.View(func(tx *bolt.Tx) error {
		kv, ok, err = read(tx, key, now)
		return err
	})
	return kv, ok, err
}

// GetMany implements store.Store.
func (s *Store) GetMany(ctx context.Context, keys []string) (out []store.KV, rev int64, err error) {
	if err := s.enter(ctx); err != nil {
		return nil, 0, err
	}
	defer s.leave()
	now := s.clk.Now()
	out = make([]store.KV, len(keys))
	err = s.db.View(func(tx *bolt.Tx) error {
		rev = readRev(tx)
		for i, k := range keys {
			kv, _, err := read(tx, k, now)
			if err != nil {
				return err
			}
			out[i] = kv
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, rev, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, prefix string, limit int) (out []store.KV, rev int64, err error) {
	return s.ListAfter(ctx, prefix, "", limit)
}

// ListAfter implements store.Store.
func (s *Store) ListAfter(ctx context.Context, prefix, after string, limit int) (out []store.KV, rev int64, err error) {
	if err := s.enter(ctx); err != nil {
		return nil, 0, err
	}
	defer s.leave()
	now := s.clk.Now()
	p := []byte(prefix)
	from := p
	if after != "" && after+"\x00" > prefix {
		from = []byte(after + "\x00")
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		rev = readRev(tx)
		c := tx.Bucket(bucketKV).Cursor()
		for k, v := c.Seek(from); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			kv, err := decodeEntry(string(k), v)
			if err != nil {
				return err
			}
			if !live(&kv, now) {
				continue
			}
			out = append(out, kv)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, rev, nil
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (rev int64, err error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	defer s.leave()
	err = s.db.View(func(tx *bolt.Tx) error {
		rev = readRev(tx)
		return nil
	})
	return rev, err
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, opts ...store.PutOption) (int64, error) {
	r, err := s.Txn(ctx, store.Txn{Then: []store.Op{store.Put(key, value, opts...)}})
	return r.Revision, err
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) (bool, int64, error) {
	if key == "" {
		if err := ctxErr(ctx); err != nil {
			return false, 0, err
		}
		return false, 0, fmt.Errorf("%w: empty key", store.ErrInvalid)
	}
	var deleted bool
	rev, err := s.write(ctx, func(w *writer) error {
		var err error
		deleted, err = w.del(key)
		return err
	})
	return deleted, rev, err
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

func validateOps(ops []store.Op, now time.Time) ([]time.Time, error) {
	exp := make([]time.Time, len(ops))
	written := map[string]bool{}
	for i, op := range ops {
		if op.Key == "" {
			return nil, fmt.Errorf("%w: empty key", store.ErrInvalid)
		}
		if len(op.Key) > bolt.MaxKeySize-8 {
			return nil, fmt.Errorf("%w: key of %d octets", store.ErrInvalid, len(op.Key))
		}
		switch op.Type {
		case store.OpGet:
			continue
		case store.OpPut:
			t, err := op.Put.ExpiryAt(now)
			if err != nil {
				return nil, fmt.Errorf("%w: key %q: bad TTL or expiry", err, op.Key)
			}
			exp[i] = t
		case store.OpDelete:
		default:
			return nil, fmt.Errorf("%w: op type %d", store.ErrInvalid, op.Type)
		}
		if written[op.Key] {
			return nil, fmt.Errorf("%w: key %q written twice in one transaction", store.ErrInvalid, op.Key)
		}
		written[op.Key] = true
	}
	return exp, nil
}

// Txn implements store.Store.
func (s *Store) Txn(ctx context.Context, t store.Txn) (store.TxnResult, error) {
	if err := ctxErr(ctx); err != nil {
		return store.TxnResult{}, err
	}
	for _, c := range t.If {
		if c.Key == "" {
			return store.TxnResult{}, fmt.Errorf("%w: empty key in condition", store.ErrInvalid)
		}
	}
	var res store.TxnResult
	rev, err := s.write(ctx, func(w *writer) error {
		res = store.TxnResult{Succeeded: true}
		for _, c := range t.If {
			kv, _, err := read(w.tx, c.Key, w.now)
			if err != nil {
				return err
			}
			if kv.ModRevision != c.ModRevision {
				res.Succeeded = false
				break
			}
		}
		ops := t.Then
		if !res.Succeeded {
			ops = t.Else
		}
		exp, err := validateOps(ops, w.now)
		if err != nil {
			return err
		}
		for i, op := range ops {
			switch op.Type {
			case store.OpGet:
				kv, _, err := read(w.tx, op.Key, w.now)
				if err != nil {
					return err
				}
				res.Gets = append(res.Gets, kv)
			case store.OpPut:
				if err := w.put(op.Key, op.Value, exp[i]); err != nil {
					return err
				}
			case store.OpDelete:
				if _, err := w.del(op.Key); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return store.TxnResult{}, err
	}
	res.Revision = rev
	return res, nil
}

// writer is one write transaction: the bbolt transaction, the revision
// being written and the events it makes.
type writer struct {
	tx     *bolt.Tx
	now    time.Time
	rev    int64 // the revision before the transaction
	wrote  bool  // rev+1 is in use
	events []store.Event
}

// next returns the revision of the transaction's writes.
func (w *writer) next() int64 {
	if !w.wrote {
		w.rev++
		w.wrote = true
	}
	return w.rev
}

func (w *writer) put(key string, value []byte, expiry time.Time) error {
	kvb, expb := w.tx.Bucket(bucketKV), w.tx.Bucket(bucketExp)
	var prev store.KV
	if v := kvb.Get([]byte(key)); v != nil {
		var err error
		if prev, err = decodeEntry(key, v); err != nil {
			return err
		}
		if !prev.Expiry.IsZero() {
			if err := expb.Delete(expKey(prev.Expiry, key)); err != nil {
				return err
			}
		}
	}
	rev := w.next()
	kv := store.KV{Key: key, Value: append([]byte{}, value...), CreateRevision: rev, ModRevision: rev, Version: 1, Expiry: expiry}
	if prev.Exists() {
		kv.CreateRevision = prev.CreateRevision
		kv.Version = prev.Version + 1
	}
	if err := kvb.Put([]byte(key), encodeEntry(&kv)); err != nil {
		return err
	}
	if !expiry.IsZero() {
		if err := expb.Put(expKey(expiry, key), nil); err != nil {
			return err
		}
	}
	w.events = append(w.events, store.Event{Type: store.EventPut, Revision: rev, KV: kv, PrevKV: prev})
	return nil
}

// del deletes key if it is present (expired or not: the sweep runs
// first, so an expired key is already gone).
func (w *writer) del(key string) (bool, error) {
	kvb := w.tx.Bucket(bucketKV)
	v := kvb.Get([]byte(key))
	if v == nil {
		return false, nil
	}
	prev, err := decodeEntry(key, v)
	if err != nil {
		return false, err
	}
	if err := kvb.Delete([]byte(key)); err != nil {
		return false, err
	}
	if !prev.Expiry.IsZero() {
		if err := w.tx.Bucket(bucketExp).Delete(expKey(prev.Expiry, key)); err != nil {
			return false, err
		}
	}
	rev := w.next()
	w.events = append(w.events, store.Event{Type: store.EventDelete, Revision: rev, KV: store.KV{Key: key, ModRevision: rev}, PrevKV: prev})
	return true, nil
}

// sweep deletes the keys whose expiry is reached, one revision per expiry
// instant, before the transaction's own revision.
func (w *writer) sweep() error {
	c := w.tx.Bucket(bucketExp).Cursor()
	var due [][]byte
	for k, _ := c.First(); k != nil && len(k) >= 8; k, _ = c.Next() {
		if time.Unix(0, int64(binary.BigEndian.Uint64(k))).After(w.now) {
			break
		}
		due = append(due, append([]byte{}, k...))
	}
	var last uint64
	for i, k := range due {
		if at := binary.BigEndian.Uint64(k); i == 0 || at != last {
			w.wrote = false // a new revision for a new instant
			last = at
		}
		if _, err := w.del(string(k[8:])); err != nil {
			return err
		}
	}
	w.wrote = false
	return nil
}

// nextExpiry returns the earliest expiry in the file (zero: none).
func nextExpiry(tx *bolt.Tx) time.Time {
	k, _ := tx.Bucket(bucketExp).Cursor().First()
	if len(k) < 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k)))
}

var errNoChange = errors.New("no change")

// write runs f in a write transaction, after the sweep; it commits when
// anything was written, then publishes the events and re-arms the
// expiry timer. It returns the store revision after the transaction.
func (s *Store) write(ctx context.Context, f func(w *writer) error) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	defer s.leave()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var w writer
	var next time.Time
	err := s.db.Update(func(tx *bolt.Tx) error {
		w = writer{tx: tx, now: s.clk.Now(), rev: readRev(tx)}
		if err := w.sweep(); err != nil {
			return err
		}
		if err := f(&w); err != nil {
			return err
		}
		if len(w.events) == 0 {
			return errNoChange // roll back: nothing to commit or fsync
		}
		next = nextExpiry(tx)
		return tx.Bucket(bucketMeta).Put(metaRev, binary.BigEndian.AppendUint64(nil, uint64(w.rev)))
	})
	if errors.Is(err, errNoChange) {
		return w.rev, nil
	}
	if err != nil {
		return 0, err
	}
	s.publish(w.events)
	s.arm(next)
	return w.rev, nil
}

// sweep applies the expiries due now (the timer's job, and Open's).
func (s *Store) sweep() error {
	_, err := s.write(context.Background(), func(*writer) error { return nil })
	if err != nil {
		return err
	}
	// Arm the timer even when nothing was due.
	var next time.Time
	if err := s.db.View(func(tx *bolt.Tx) error { next = nextExpiry(tx); return nil }); err != nil {
		return err
	}
	s.arm(next)
	return nil
}

func (s *Store) arm(at time.Time) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if at.IsZero() {
		if s.timer != nil {
			s.timer.Stop()
			s.timer = nil
		}
		return
	}
	if s.timer != nil && s.timerAt.Equal(at) {
		return
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timerAt = at
	var self clock.Timer
	self = s.clk.AfterFunc(at.Sub(s.clk.Now()), func() {
		s.tmu.Lock() // held by arm until self is set
		if s.timer == self {
			s.timer = nil
		}
		s.tmu.Unlock()
		_ = s.sweep() // ErrClosed after Close: nothing to do
	})
	s.timer = self
}

// publish appends committed events to the history and wakes the watchers.
func (s *Store) publish(evs []store.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hist = append(s.hist, evs...)
	if len(s.hist) > s.maxHist {
		cut := len(s.hist) - s.maxHist/2
		for cut < len(s.hist) && s.hist[cut].Revision == s.hist[cut-1].Revision {
			cut++ // never split a revision
		}
		s.compactRev = s.hist[cut-1].Revision
		s.hist = append(s.hist[:0:0], s.hist[cut:]...)
		s.histStart += int64(cut)
	}
	close(s.notify)
	s.notify = make(chan struct{})
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return nil
	}
	s.closed = true
	s.life.Unlock()
	s.tmu.Lock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.tmu.Unlock()
	s.mu.Lock()
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	return s.db.Close()
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan store.Event, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.leave()
	if ctx == nil {
		ctx = context.Background()
	}
	// The writer lock orders this against commits: rev is the revision
	// of the last published event.
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var rev int64
	if err := s.db.View(func(tx *bolt.Tx) error { rev = readRev(tx); return nil }); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fromRev <= 0 {
		fromRev = rev + 1
	}
	if fromRev <= s.compactRev {
		return nil, fmt.Errorf("%w: watch from %d, history starts after %d", store.ErrCompacted, fromRev, s.compactRev)
	}
	i := sort.Search(len(s.hist), func(i int) bool { return s.hist[i].Revision >= fromRev })
	ch := make(chan store.Event, 64)
	go s.watchLoop(ctx, prefix, fromRev, s.histStart+int64(i), ch)
	return ch, nil
}

func (s *Store) isClosed() bool {
	s.life.RLock()
	defer s.life.RUnlock()
	return s.closed
}

func copyKV(kv store.KV) store.KV {
	if kv.Value != nil {
		kv.Value = append([]byte(nil), kv.Value...)
	}
	return kv
}

func (s *Store) watchLoop(ctx context.Context, prefix string, fromRev, pos int64, ch chan<- store.Event) {
	defer close(ch)
	var batch []store.Event
	for {
		s.mu.RLock()
		if pos < s.histStart {
			s.mu.RUnlock()
			select {
			case ch <- store.Event{Err: fmt.Errorf("%w: watcher fell behind the history", store.ErrCompacted)}:
			case <-ctx.Done():
			}
			return
		}
		batch = batch[:0]
		for _, ev := range s.hist[pos-s.histStart:] {
			if ev.Revision >= fromRev && strings.HasPrefix(ev.KV.Key, prefix) {
				batch = append(batch, ev)
			}
		}
		pos = s.histStart + int64(len(s.hist))
		wake := s.notify
		s.mu.RUnlock()
		for _, ev := range batch {
			ev.KV = copyKV(ev.KV)
			ev.PrevKV = copyKV(ev.PrevKV)
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		if s.isClosed() {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}
