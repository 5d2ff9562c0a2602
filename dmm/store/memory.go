package store

import (
	"container/heap"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/clock"
)

// DefaultHistory is how many events the memory backend keeps for watches
// that start in the past or fall behind.
const DefaultHistory = 1 << 16

// Memory is the in-memory backend: the whole Store interface, with
// revisions, expiry driven by its clock (a key whose expiry is reached is
// deleted, with a new revision and a Delete event, when the clock reaches
// it), and a bounded event history for watches.
type Memory struct {
	clk     clock.Clock
	maxHist int

	mu         sync.RWMutex
	closed     bool
	rev        int64
	data       map[string]*entry
	keys       treap
	exp        expHeap
	timer      clock.Timer
	timerAt    time.Time
	hist       []Event
	histStart  int64 // absolute position of hist[0]
	compactRev int64 // revisions <= compactRev are no longer in hist
	notify     chan struct{}
}

type entry struct {
	kv   KV
	hidx int // index in exp, -1 if it does not expire
}

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithClock sets the clock that drives expiry (default: the real clock).
func WithClock(c clock.Clock) MemoryOption { return func(m *Memory) { m.clk = c } }

// WithHistory sets how many events are kept for watches (minimum 16).
func WithHistory(n int) MemoryOption {
	return func(m *Memory) { m.maxHist = max(n, 16) }
}

// NewMemory returns an empty in-memory store.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{clk: clock.New(), maxHist: DefaultHistory, data: map[string]*entry{}, notify: make(chan struct{})}
	for _, o := range opts {
		o(m)
	}
	return m
}

var _ Store = (*Memory)(nil)

func live(e *entry, now time.Time) bool {
	return e.kv.Expiry.IsZero() || e.kv.Expiry.After(now)
}

func copyKV(kv KV) KV {
	if kv.Value != nil {
		kv.Value = append([]byte(nil), kv.Value...)
	}
	return kv
}

func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}

// readLocked returns the visible state of key.
func (m *Memory) readLocked(key string, now time.Time) (KV, bool) {
	e := m.data[key]
	if e == nil || !live(e, now) {
		return KV{Key: key}, false
	}
	return copyKV(e.kv), true
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, key string) (KV, bool, error) {
	if err := ctxErr(ctx); err != nil {
		return KV{}, false, err
	}
	now := m.clk.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return KV{}, false, ErrClosed
	}
	kv, ok := m.readLocked(key, now)
	return kv, ok, nil
}

// GetMany implements Store.
func (m *Memory) GetMany(ctx context.Context, keys []string) ([]KV, int64, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, 0, err
	}
	now := m.clk.Now()
	out := make([]KV, len(keys))
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, 0, ErrClosed
	}
	for i, k := range keys {
		out[i], _ = m.readLocked(k, now)
	}
	return out, m.rev, nil
}

// List implements Store.
func (m *Memory) List(ctx context.Context, prefix string, limit int) ([]KV, int64, error) {
	return m.ListAfter(ctx, prefix, "", limit)
}

// ListAfter implements Store.
func (m *Memory) ListAfter(ctx context.Context, prefix, after string, limit int) ([]KV, int64, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, 0, err
	}
	now := m.clk.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, 0, ErrClosed
	}
	from := prefix
	if after != "" {
		from = after + "\x00"
	}
	var out []KV
	m.keys.ascendFrom(prefix, from, func(k string) bool {
		if e := m.data[k]; live(e, now) {
			out = append(out, copyKV(e.kv))
		}
		return limit <= 0 || len(out) < limit
	})
	return out, m.rev, nil
}

// Revision implements Store.
func (m *Memory) Revision(ctx context.Context) (int64, error) {
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, ErrClosed
	}
	return m.rev, nil
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, key string, value []byte, opts ...PutOption) (int64, error) {
	r, err := m.Txn(ctx, Txn{Then: []Op{Put(key, value, opts...)}})
	return r.Revision, err
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, key string) (bool, int64, error) {
	// Condition "exists" is not expressible as a Cmp; do it under the lock.
	if err := ctxErr(ctx); err != nil {
		return false, 0, err
	}
	if key == "" {
		return false, 0, fmt.Errorf("%w: empty key", ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, 0, ErrClosed
	}
	m.sweepLocked(m.clk.Now())
	if m.data[key] == nil {
		return false, m.rev, nil
	}
	m.rev++
	m.deleteLocked(key)
	m.afterWriteLocked()
	return true, m.rev, nil
}

// CompareAndSwap implements Store.
func (m *Memory) CompareAndSwap(ctx context.Context, key string, modRev int64, value []byte, opts ...PutOption) (int64, bool, error) {
	r, err := m.Txn(ctx, Txn{If: []Cmp{ModRevisionIs(key, modRev)}, Then: []Op{Put(key, value, opts...)}})
	return r.Revision, r.Succeeded, err
}

// CompareAndDelete implements Store.
func (m *Memory) CompareAndDelete(ctx context.Context, key string, modRev int64) (int64, bool, error) {
	if modRev == 0 {
		return 0, false, fmt.Errorf("%w: CompareAndDelete needs a revision", ErrInvalid)
	}
	r, err := m.Txn(ctx, Txn{If: []Cmp{ModRevisionIs(key, modRev)}, Then: []Op{Delete(key)}})
	return r.Revision, r.Succeeded, err
}

func validateOps(ops []Op, now time.Time) ([]time.Time, error) {
	exp := make([]time.Time, len(ops))
	written := map[string]bool{}
	for i, op := range ops {
		if op.Key == "" {
			return nil, fmt.Errorf("%w: empty key", ErrInvalid)
		}
		switch op.Type {
		case OpGet:
			continue
		case OpPut:
			t, err := op.Put.ExpiryAt(now)
			if err != nil {
				return nil, fmt.Errorf("%w: key %q: bad TTL or expiry", err, op.Key)
			}
			exp[i] = t
		case OpDelete:
		default:
			return nil, fmt.Errorf("%w: op type %d", ErrInvalid, op.Type)
		}
		if written[op.Key] {
			return nil, fmt.Errorf("%w: key %q written twice in one transaction", ErrInvalid, op.Key)
		}
		written[op.Key] = true
	}
	return exp, nil
}

// Txn implements Store.
func (m *Memory) Txn(ctx context.Context, t Txn) (TxnResult, error) {
	if err := ctxErr(ctx); err != nil {
		return TxnResult{}, err
	}
	for _, c := range t.If {
		if c.Key == "" {
			return TxnResult{}, fmt.Errorf("%w: empty key in condition", ErrInvalid)
		}
	}
	now := m.clk.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return TxnResult{}, ErrClosed
	}
	m.sweepLocked(now)
	ok := true
	for _, c := range t.If {
		var cur int64
		if e := m.data[c.Key]; e != nil {
			cur = e.kv.ModRevision
		}
		if cur != c.ModRevision {
			ok = false
			break
		}
	}
	ops := t.Then
	if !ok {
		ops = t.Else
	}
	exp, err := validateOps(ops, now)
	if err != nil {
		return TxnResult{}, err
	}
	res := TxnResult{Succeeded: ok}
	wrote := false
	for i, op := range ops {
		switch op.Type {
		case OpGet:
			kv, _ := m.readLocked(op.Key, now)
			res.Gets = append(res.Gets, kv)
		case OpPut:
			if !wrote {
				m.rev++
				wrote = true
			}
			m.putLocked(op.Key, op.Value, exp[i])
		case OpDelete:
			if m.data[op.Key] == nil {
				continue
			}
			if !wrote {
				m.rev++
				wrote = true
			}
			m.deleteLocked(op.Key)
		}
	}
	if wrote {
		m.afterWriteLocked()
	}
	res.Revision = m.rev
	return res, nil
}

// putLocked writes key at revision m.rev.
func (m *Memory) putLocked(key string, value []byte, expiry time.Time) {
	e := m.data[key]
	var prev KV
	if e == nil {
		e = &entry{hidx: -1}
		e.kv.Key = key
		e.kv.CreateRevision = m.rev
		m.data[key] = e
		m.keys.insert(key)
	} else {
		prev = e.kv
	}
	e.kv.Value = append([]byte{}, value...)
	e.kv.ModRevision = m.rev
	e.kv.Version++
	e.kv.Expiry = expiry
	switch {
	case expiry.IsZero() && e.hidx >= 0:
		heap.Remove(&m.exp, e.hidx)
	case !expiry.IsZero() && e.hidx >= 0:
		heap.Fix(&m.exp, e.hidx)
	case !expiry.IsZero():
		heap.Push(&m.exp, e)
	}
	m.hist = append(m.hist, Event{Type: EventPut, Revision: m.rev, KV: e.kv, PrevKV: prev})
}

// deleteLocked deletes the present key at revision m.rev.
func (m *Memory) deleteLocked(key string) {
	e := m.data[key]
	delete(m.data, key)
	m.keys.remove(key)
	if e.hidx >= 0 {
		heap.Remove(&m.exp, e.hidx)
	}
	m.hist = append(m.hist, Event{Type: EventDelete, Revision: m.rev, KV: KV{Key: key, ModRevision: m.rev}, PrevKV: e.kv})
}

// sweepLocked deletes the keys whose expiry is reached, one revision per
// expiry instant (keys expiring at the same instant share it), in order.
func (m *Memory) sweepLocked(now time.Time) {
	var last time.Time
	wrote := false
	for len(m.exp) > 0 && !m.exp[0].kv.Expiry.After(now) {
		e := m.exp[0]
		if !wrote || !e.kv.Expiry.Equal(last) {
			m.rev++
			last = e.kv.Expiry
			wrote = true
		}
		m.deleteLocked(e.kv.Key)
	}
	if wrote {
		m.afterWriteLocked()
	}
}

// afterWriteLocked trims the history, re-arms the expiry timer and wakes
// the watchers.
func (m *Memory) afterWriteLocked() {
	if len(m.hist) > m.maxHist {
		cut := len(m.hist) - m.maxHist/2
		// Never split a revision.
		for cut < len(m.hist) && m.hist[cut].Revision == m.hist[cut-1].Revision {
			cut++
		}
		m.compactRev = m.hist[cut-1].Revision
		m.hist = append(m.hist[:0:0], m.hist[cut:]...)
		m.histStart += int64(cut)
	}
	m.rearmLocked()
	close(m.notify)
	m.notify = make(chan struct{})
}

func (m *Memory) rearmLocked() {
	if len(m.exp) == 0 {
		if m.timer != nil {
			m.timer.Stop()
			m.timer = nil
		}
		return
	}
	at := m.exp[0].kv.Expiry
	if m.timer != nil && m.timerAt.Equal(at) {
		return
	}
	if m.timer != nil {
		m.timer.Stop()
	}
	m.timerAt = at
	m.timer = m.clk.AfterFunc(at.Sub(m.clk.Now()), m.onTimer)
}

func (m *Memory) onTimer() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.timer = nil
	m.sweepLocked(m.clk.Now())
	m.rearmLocked()
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	close(m.notify)
	m.notify = make(chan struct{})
	return nil
}

// Watch implements Store.
func (m *Memory) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan Event, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if fromRev <= 0 {
		fromRev = m.rev + 1
	}
	if fromRev <= m.compactRev {
		return nil, fmt.Errorf("%w: watch from %d, history starts after %d", ErrCompacted, fromRev, m.compactRev)
	}
	i := sort.Search(len(m.hist), func(i int) bool { return m.hist[i].Revision >= fromRev })
	pos := m.histStart + int64(i)
	ch := make(chan Event, 64)
	go m.watchLoop(ctx, prefix, fromRev, pos, ch)
	return ch, nil
}

func (m *Memory) watchLoop(ctx context.Context, prefix string, fromRev, pos int64, ch chan<- Event) {
	defer close(ch)
	var batch []Event
	for {
		m.mu.RLock()
		if pos < m.histStart {
			m.mu.RUnlock()
			select {
			case ch <- Event{Err: fmt.Errorf("%w: watcher fell behind the history", ErrCompacted)}:
			case <-ctx.Done():
			}
			return
		}
		batch = batch[:0]
		for _, ev := range m.hist[pos-m.histStart:] {
			if ev.Revision >= fromRev && strings.HasPrefix(ev.KV.Key, prefix) {
				batch = append(batch, ev)
			}
		}
		pos = m.histStart + int64(len(m.hist))
		wake, closed := m.notify, m.closed
		m.mu.RUnlock()
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
		if closed {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// expHeap orders expiring entries by expiry, then key.
type expHeap []*entry

func (h expHeap) Len() int { return len(h) }
func (h expHeap) Less(i, j int) bool {
	a, b := h[i].kv.Expiry, h[j].kv.Expiry
	if !a.Equal(b) {
		return a.Before(b)
	}
	return h[i].kv.Key < h[j].kv.Key
}
func (h expHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = i
	h[j].hidx = j
}
func (h *expHeap) Push(x any) {
	e := x.(*entry)
	e.hidx = len(*h)
	*h = append(*h, e)
}
func (h *expHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.hidx = -1
	*h = old[:len(old)-1]
	return e
}
