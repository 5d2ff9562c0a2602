package state

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

// LMANamespace is the allocation namespace of the LMA's pool prefixes.
const LMANamespace = "lma"

const (
	keyLMARestartCounter = "lma.restart_counter"
	bindingVersion       = 1
)

// LMA returns the LMA's view of the file (lma.Store).
func (d *DB) LMA() lma.Store { return lmaStore{d} }

type lmaStore struct{ d *DB }

var _ lma.Store = lmaStore{}

// LoadLMA reads the binding cache, allocations, cursors and the Restart
// Counter. Records that cannot be decoded are counted in Lost (and left
// in the file: the LMA deletes what it did not restore).
func (s lmaStore) LoadLMA() (lma.StoredState, error) {
	var st lma.StoredState
	st.Allocations = map[netip.Prefix]string{}
	rc, found, err := s.d.getCounter(keyLMARestartCounter)
	if err != nil {
		return st, err
	}
	st.RestartCounter, st.Resumable = rc, found
	err = s.d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLMABindings)
		st.Bindings = st.Bindings[:0]
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var r lma.StoredBinding
			if len(k) != 8 || decodeBinding(v, &r) != nil || r.ID != binary.BigEndian.Uint64(k) {
				st.Lost++
				continue
			}
			st.Bindings = append(st.Bindings, r)
		}
		if a := tx.Bucket([]byte(allocPrefix + LMANamespace)); a != nil {
			if err := a.ForEach(func(k, v []byte) error {
				p, ok := parsePrefixKey(k)
				if !ok {
					st.Lost++
					return nil
				}
				st.Allocations[p] = string(v)
				return nil
			}); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketLMACursors).ForEach(func(k, v []byte) error {
			if len(k) != 18 {
				return nil
			}
			p, ok := parsePrefixKey(k[:17])
			if !ok {
				return nil
			}
			st.Cursors = append(st.Cursors, lma.PoolCursor{Pool: p, PrefixLen: int(k[17]), Next: slices.Clone(v)})
			return nil
		})
	})
	return st, err
}

// SaveLMA queues c; see lma.Store.
func (s lmaStore) SaveLMA(c lma.StoreChanges, done func(error)) {
	if c.Empty() {
		s.d.submit(nil, done)
		return
	}
	// Encode now: c's slices belong to the caller once SaveLMA returns.
	puts := make([][2][]byte, len(c.Put))
	for i := range c.Put {
		puts[i] = [2][]byte{idKey(c.Put[i].ID), encodeBinding(&c.Put[i])}
	}
	dels := make([][]byte, len(c.Delete))
	for i, id := range c.Delete {
		dels[i] = idKey(id)
	}
	rels := make([][]byte, len(c.Release))
	for i, p := range c.Release {
		rels[i] = prefixKey(p)
	}
	allocs := make([][2][]byte, 0, len(c.Allocate))
	for p, o := range c.Allocate {
		allocs = append(allocs, [2][]byte{prefixKey(p), []byte(o)})
	}
	curs := make([][2][]byte, len(c.Cursors))
	for i, x := range c.Cursors {
		curs[i] = [2][]byte{append(prefixKey(x.Pool), byte(x.PrefixLen)), slices.Clone(x.Next)}
	}
	s.d.submit(func(tx *bolt.Tx) error {
		bb := tx.Bucket(bucketLMABindings)
		ab, err := allocBucket(tx, LMANamespace)
		if err != nil {
			return err
		}
		if err := applyBatch(bb, dels, puts); err != nil {
			return err
		}
		if err := applyBatch(ab, rels, allocs); err != nil {
			return err
		}
		return applyBatch(tx.Bucket(bucketLMACursors), nil, curs)
	}, done)
}

// SetRestartCounter durably records the LMA's Restart Counter.
func (s lmaStore) SetRestartCounter(n uint32) error {
	return s.d.setCounter(keyLMARestartCounter, n)
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

func encodeBinding(r *lma.StoredBinding) []byte {
	e := enc{b: make([]byte, 0, 160+len(r.MN)+len(r.MNID)+18*len(r.HNPs))}
	e.u8(bindingVersion)
	e.u64(r.ID)
	e.str(r.MN)
	e.u8(uint8(r.MNIDSubtype))
	e.bytes(r.MNID)
	e.bytes(r.LinkLayerID)
	e.addr(r.LinkLocal)
	e.b = binary.AppendUvarint(e.b, uint64(len(r.HNPs)))
	for _, p := range r.HNPs {
		e.prefix(p)
		e.bool(slices.Contains(r.Allocated, p))
	}
	e.addr(r.ProxyCoA)
	e.u8(uint8(r.ATT))
	e.u8(uint8(r.HI))
	e.u64(r.Timestamp)
	e.u64(r.PBUTimestamp)
	e.u16(r.Sequence)
	e.bool(r.HasSequence)
	e.dur(r.Lifetime)
	e.time(r.Expires)
	e.time(r.Deadline)
	e.time(r.Created)
	e.u8(uint8(r.State))
	e.u8(uint8(r.Trigger))
	return e.b
}

func decodeBinding(b []byte, r *lma.StoredBinding) error {
	d := dec{b: b}
	if v := d.u8(); v != bindingVersion {
		return fmt.Errorf("state: binding record version %d", v)
	}
	r.ID = d.u64()
	r.MN = d.str()
	r.MNIDSubtype = mh.MNIDSubtype(d.u8())
	r.MNID = d.bytes()
	r.LinkLayerID = d.bytes()
	r.LinkLocal = d.addr()
	n := d.uvarint()
	if n > len(d.b)/18 {
		return errRecord
	}
	r.HNPs = make([]netip.Prefix, 0, n)
	for range n {
		p := d.prefix()
		r.HNPs = append(r.HNPs, p)
		if d.bool() {
			r.Allocated = append(r.Allocated, p)
		}
	}
	r.ProxyCoA = d.addr()
	r.ATT = mh.ATT(d.u8())
	r.HI = mh.HandoffIndicatorValue(d.u8())
	r.Timestamp = d.u64()
	r.PBUTimestamp = d.u64()
	r.Sequence = d.u16()
	r.HasSequence = d.bool()
	r.Lifetime = d.dur()
	r.Expires = d.time()
	r.Deadline = d.time()
	r.Created = d.time()
	r.State = lma.BCEState(d.u8())
	r.Trigger = mh.RevocationTrigger(d.u8())
	return d.end()
}
