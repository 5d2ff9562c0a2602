// Package state is the embedded persistent store of the roles' state: a
// bbolt file (go.etcd.io/bbolt) holding the LMA's Binding Cache, its pool
// allocations and cursors, the MAG's Binding Update List, and each role's
// RFC 5847 Restart Counter, so that a restarted daemon resumes its
// sessions.
//
// Durability: every write is a bbolt transaction committed with fsync
// before the caller is told it is done; the roles send the acknowledgement
// of a change (the PBA) only then, so an acknowledged binding survives a
// crash (kill -9 included). Writes are queued and one writer goroutine
// commits everything queued while the previous commit was syncing in one
// transaction (group commit): one fsync serves many changes, and the
// throughput follows the load rather than the disk's sync latency.
//
// Role adapters: DB.LMA implements lma.Store and DB.MAG implements
// mag.Store. Allocations under a namespace (Allocate, Release,
// Allocations) serve other allocators (an HAA).
package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Schema version written in the meta bucket.
const schemaVersion = 1

var (
	bucketMeta        = []byte("meta")
	bucketLMABindings = []byte("lma.bindings")
	bucketLMACursors  = []byte("lma.cursors")
	bucketMAGBUL      = []byte("mag.bul")
	keyVersion        = []byte("version")
	allocPrefix       = "alloc."
)

// ErrClosed is returned by writes queued after Close.
var ErrClosed = errors.New("state: closed")

// Options configures Open.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another
	// process (default 1 s).
	Timeout time.Duration
	// NoSync skips fsync (tests that do not test durability only).
	NoSync bool
}

// Stats counts the writer's work.
type Stats struct {
	// Writes is how many writes were queued, Commits how many
	// transactions committed them (Writes/Commits is the group commit
	// factor); Errors the writes that failed.
	Writes, Commits, Errors uint64
}

// DB is an open state file.
type DB struct {
	db   *bolt.DB
	path string

	mu     sync.Mutex
	queue  []job
	wake   chan struct{}
	closed bool
	done   chan struct{}
	stats  Stats
}

type job struct {
	apply func(tx *bolt.Tx) error // nil: a barrier
	done  func(error)
}

// Open opens (creating it if needed) the state file at path.
func Open(path string, o Options) (*DB, error) {
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout, NoSync: o.NoSync})
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketLMABindings, bucketLMACursors, bucketMAGBUL} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bucketMeta)
		if v := m.Get(keyVersion); v != nil {
			if len(v) != 4 || binary.BigEndian.Uint32(v) != schemaVersion {
				return fmt.Errorf("schema version %x, want %d", v, schemaVersion)
			}
			return nil
		}
		return m.Put(keyVersion, binary.BigEndian.AppendUint32(nil, schemaVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state: %s: %w", path, err)
	}
	d := &DB{db: db, path: path, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go d.writer()
	return d, nil
}

// Path returns the file's path.
func (d *DB) Path() string { return d.path }

// Stats returns the writer's counters.
func (d *DB) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Close commits what is queued, then closes the file.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	<-d.done
	return d.db.Close()
}

// submit queues a write; done is called once it is durable (or failed),
// in queueing order, from the writer goroutine.
func (d *DB) submit(apply func(tx *bolt.Tx) error, done func(error)) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		if done != nil {
			done(ErrClosed)
		}
		return
	}
	d.queue = append(d.queue, job{apply, done})
	if apply != nil {
		d.stats.Writes++
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// write queues a write and waits for it.
func (d *DB) write(apply func(tx *bolt.Tx) error) error {
	c := make(chan error, 1)
	d.submit(apply, func(err error) { c <- err })
	return <-c
}

// writer commits the queue: everything queued while a commit syncs goes
// into the next transaction. When that transaction fails, its writes are
// retried one per transaction, so that one bad write fails alone.
func (d *DB) writer() {
	defer close(d.done)
	var jobs []job
	for {
		d.mu.Lock()
		jobs = append(jobs[:0], d.queue...)
		clear(d.queue)
		d.queue = d.queue[:0]
		closed := d.closed
		d.mu.Unlock()
		if len(jobs) == 0 {
			if closed {
				return
			}
			<-d.wake
			continue
		}
		writes := 0
		for _, j := range jobs {
			if j.apply != nil {
				writes++
			}
		}
		var err error
		if writes > 0 {
			err = d.db.Update(func(tx *bolt.Tx) error {
				for _, j := range jobs {
					if j.apply != nil {
						if err := j.apply(tx); err != nil {
							return err
						}
					}
				}
				return nil
			})
			d.mu.Lock()
			d.stats.Commits++
			d.mu.Unlock()
		}
		if err != nil && writes > 1 {
			for _, j := range jobs {
				var e error
				if j.apply != nil {
					e = d.db.Update(j.apply)
					d.count(e)
				}
				if j.done != nil {
					j.done(e)
				}
			}
			continue
		}
		if err != nil {
			d.count(err)
		}
		for _, j := range jobs {
			if j.done != nil {
				if j.apply != nil {
					j.done(err)
				} else {
					j.done(nil)
				}
			}
		}
		clear(jobs)
	}
}

func (d *DB) count(err error) {
	if err != nil {
		d.mu.Lock()
		d.stats.Errors++
		d.mu.Unlock()
	}
}

// Barrier waits until everything queued before it is durable.
func (d *DB) Barrier() error { return d.write(nil) }

func (d *DB) getCounter(key string) (n uint32, found bool, err error) {
	err = d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get([]byte(key))
		if v == nil {
			return nil
		}
		if len(v) != 4 {
			return fmt.Errorf("state: %s: %d octets", key, len(v))
		}
		n, found = binary.BigEndian.Uint32(v), true
		return nil
	})
	return
}

func (d *DB) setCounter(key string, n uint32) error {
	return d.write(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(key), binary.BigEndian.AppendUint32(nil, n))
	})
}

// Allocation namespaces ------------------------------------------------

// ErrTaken: Allocate of a prefix another owner holds.
var ErrTaken = errors.New("state: prefix allocated to another owner")

func allocBucket(tx *bolt.Tx, ns string) (*bolt.Bucket, error) {
	return tx.CreateBucketIfNotExists([]byte(allocPrefix + ns))
}

// Allocate durably records prefix p as owner's in namespace ns; it fails
// with ErrTaken when another owner holds it (the check and the write are
// one transaction).
func (d *DB) Allocate(ns string, p netip.Prefix, owner string) error {
	return d.write(func(tx *bolt.Tx) error {
		b, err := allocBucket(tx, ns)
		if err != nil {
			return err
		}
		k := prefixKey(p)
		if v := b.Get(k); v != nil && string(v) != owner {
			return fmt.Errorf("%w: %v is %q's", ErrTaken, p, v)
		}
		return b.Put(k, []byte(owner))
	})
}

// Release durably frees p in namespace ns (freeing a free prefix is not
// an error).
func (d *DB) Release(ns string, p netip.Prefix) error {
	return d.write(func(tx *bolt.Tx) error {
		b, err := allocBucket(tx, ns)
		if err != nil {
			return err
		}
		return b.Delete(prefixKey(p))
	})
}

// Allocations returns the prefixes allocated in namespace ns with their
// owners.
func (d *DB) Allocations(ns string) (map[netip.Prefix]string, error) {
	out := map[netip.Prefix]string{}
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(allocPrefix + ns))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			p, ok := parsePrefixKey(k)
			if !ok {
				return fmt.Errorf("state: allocation key %x", k)
			}
			out[p] = string(v)
			return nil
		})
	})
	return out, err
}

// prefixKey is 16 address octets then the length: keys sort by address.
func prefixKey(p netip.Prefix) []byte {
	a := p.Masked().Addr().As16()
	return append(a[:], byte(p.Bits()))
}

func parsePrefixKey(k []byte) (netip.Prefix, bool) {
	if len(k) != 17 || k[16] > 128 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(netip.AddrFrom16([16]byte(k[:16])), int(k[16])), true
}
