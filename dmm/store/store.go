// Package store is the key-value interface under the DMM Location
// Management (LM) and Home Address Allocation (HAA) functions, and its
// in-memory backend.
//
// The interface follows the data model of etcd v3 (go.etcd.io/etcd/client/v3)
// so that an etcd backend, and a bbolt-file backend, implement it without
// changing its callers:
//
//   - one key space of string keys with byte values, ordered by key;
//   - a store-wide Revision, incremented by every write transaction; every
//     key carries the revision that created it and the one that last
//     changed it (ModRevision), which is what compare-and-swap compares;
//   - keys may expire (a TTL or an absolute expiry time: etcd maps it to a
//     lease), which deletes them with a new revision, like a Delete;
//   - multi-key transactions with compare (by ModRevision, 0 = absent) /
//     then / else, as etcd's Txn;
//   - watches by key prefix from a revision, delivering ordered events.
//
// Values are copied in and out: a caller may reuse its buffers.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by backends. Backends wrap them (errors.Is works).
var (
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrCompacted: a watch asked for a revision the store no longer keeps
	// the history of (or a watcher fell behind past it).
	ErrCompacted = errors.New("store: revision compacted")
	// ErrInvalid: an invalid argument (empty key, non-positive TTL, expiry
	// time not in the future, ...).
	ErrInvalid = errors.New("store: invalid argument")
)

// KV is one key's state.
type KV struct {
	Key   string
	Value []byte
	// CreateRevision is the revision that created the key (0: absent).
	CreateRevision int64
	// ModRevision is the revision of the key's last change (0: absent).
	ModRevision int64
	// Version counts the changes since the key was created (1 after the
	// creating Put).
	Version int64
	// Expiry is when the key expires; zero: never.
	Expiry time.Time
}

// Exists reports whether the KV describes a present key.
func (kv KV) Exists() bool { return kv.ModRevision != 0 }

// PutOptions are the options of a Put (also of a Put inside a Txn).
// At most one of TTL and ExpireAt is set; neither means no expiry.
type PutOptions struct {
	// TTL: the key expires TTL after the write (on the store's clock).
	TTL time.Duration
	// ExpireAt: the key expires at this time (on the store's clock).
	ExpireAt time.Time
}

// PutOption sets a PutOptions field.
type PutOption func(*PutOptions)

// WithTTL makes the key expire d after the write. d must be > 0.
func WithTTL(d time.Duration) PutOption {
	return func(o *PutOptions) { o.TTL = d; o.ExpireAt = time.Time{} }
}

// WithExpiry makes the key expire at t, which must be after the write's time.
func WithExpiry(t time.Time) PutOption { return func(o *PutOptions) { o.ExpireAt = t; o.TTL = 0 } }

// BuildPutOptions applies opts.
func BuildPutOptions(opts ...PutOption) PutOptions {
	var o PutOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// ExpiryAt resolves the options to an absolute expiry given the write's
// time (zero time: no expiry). It returns ErrInvalid for a TTL <= 0 that was
// set explicitly or an ExpireAt not after now.
func (o PutOptions) ExpiryAt(now time.Time) (time.Time, error) {
	switch {
	case !o.ExpireAt.IsZero():
		if !o.ExpireAt.After(now) {
			return time.Time{}, ErrInvalid
		}
		return o.ExpireAt, nil
	case o.TTL < 0:
		return time.Time{}, ErrInvalid
	case o.TTL > 0:
		return now.Add(o.TTL), nil
	}
	return time.Time{}, nil
}

// Cmp is a transaction condition: the key's ModRevision equals
// ModRevision (0 means the key is absent).
type Cmp struct {
	Key         string
	ModRevision int64
}

// Absent is the condition "key does not exist".
func Absent(key string) Cmp { return Cmp{Key: key} }

// ModRevisionIs is the condition "key was last changed at rev" (rev 0:
// absent).
func ModRevisionIs(key string, rev int64) Cmp { return Cmp{Key: key, ModRevision: rev} }

// OpType is the kind of a transaction operation.
type OpType uint8

const (
	OpGet OpType = iota + 1
	OpPut
	OpDelete
)

// Op is one operation of a transaction.
type Op struct {
	Type  OpType
	Key   string
	Value []byte
	Put   PutOptions
}

// Get is a read inside a transaction.
func Get(key string) Op { return Op{Type: OpGet, Key: key} }

// Put is a write inside a transaction.
func Put(key string, value []byte, opts ...PutOption) Op {
	return Op{Type: OpPut, Key: key, Value: value, Put: BuildPutOptions(opts...)}
}

// Delete is a deletion inside a transaction (a no-op if the key is absent).
func Delete(key string) Op { return Op{Type: OpDelete, Key: key} }

// Txn is a transaction: if every condition in If holds, Then runs,
// otherwise Else; atomically, as one revision when it writes.
// A key may be written at most once in a branch.
type Txn struct {
	If   []Cmp
	Then []Op
	Else []Op
}

// TxnResult is the outcome of a transaction.
type TxnResult struct {
	// Succeeded: the conditions held and Then ran.
	Succeeded bool
	// Revision: the store revision after the transaction (the new one if
	// it wrote, else the current one).
	Revision int64
	// Gets: the results of the branch's OpGet operations, in order
	// (absent keys: a KV with only Key set).
	Gets []KV
}

// EventType is the kind of a watch event.
type EventType uint8

const (
	// EventPut: the key was created or changed.
	EventPut EventType = iota + 1
	// EventDelete: the key was deleted or expired.
	EventDelete
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	}
	return "invalid"
}

// Event is one change delivered by a watch.
type Event struct {
	Type EventType
	// Revision is the revision of the change (events of one transaction
	// share it); it is KV.ModRevision.
	Revision int64
	// KV is the key's new state; for a delete, Key and ModRevision (the
	// deletion's revision) only.
	KV KV
	// PrevKV is the key's state before the change (Exists() false if it
	// was created).
	PrevKV KV
	// Err, when set, ends the watch for another reason than the context:
	// this is the last event and the channel is then closed. Type, KV and
	// PrevKV are unset. The watcher should resynchronise (e.g. drop its
	// cache, List and Watch again from the List's revision + 1).
	Err error
}

// Store is the interface of every backend. All methods are safe for
// concurrent use.
type Store interface {
	// Get returns the key's state; ok is false if it is absent.
	Get(ctx context.Context, key string) (kv KV, ok bool, err error)
	// GetMany reads several keys at one revision (returned). The result
	// is aligned with keys: an absent key gives a KV with only Key set.
	GetMany(ctx context.Context, keys []string) ([]KV, int64, error)
	// Put writes a key; it returns the new revision.
	Put(ctx context.Context, key string, value []byte, opts ...PutOption) (int64, error)
	// Delete deletes a key; deleted is false if it was absent (the
	// revision is then unchanged).
	Delete(ctx context.Context, key string) (deleted bool, rev int64, err error)
	// CompareAndSwap writes the key if its ModRevision is modRev (0: only
	// if absent). It returns the store revision (the new one if ok).
	CompareAndSwap(ctx context.Context, key string, modRev int64, value []byte, opts ...PutOption) (rev int64, ok bool, err error)
	// CompareAndDelete deletes the key if its ModRevision is modRev.
	CompareAndDelete(ctx context.Context, key string, modRev int64) (rev int64, ok bool, err error)
	// Txn runs a transaction atomically.
	Txn(ctx context.Context, t Txn) (TxnResult, error)
	// List returns the keys starting with prefix, in key order, at one
	// revision (returned); limit > 0 bounds the count.
	List(ctx context.Context, prefix string, limit int) ([]KV, int64, error)
	// ListAfter is List of the keys after the key after ("": from the
	// first): pages of a large prefix, each at its own revision
	// (returned), e.g. a replica that watches from before the first page
	// and applies the changes by each key's ModRevision.
	ListAfter(ctx context.Context, prefix, after string, limit int) ([]KV, int64, error)
	// Watch delivers, in revision order, the changes of the keys starting
	// with prefix from revision fromRev on (0: from the next revision).
	// The channel is closed when ctx is done or the store closes; an
	// Event with Err set precedes any other end.
	Watch(ctx context.Context, prefix string, fromRev int64) (<-chan Event, error)
	// Revision returns the current store revision.
	Revision(ctx context.Context) (int64, error)
	// Close releases the store; watches end.
	Close() error
}
