package state

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/mh"
)

// The MR's nodes, by MN key, in their own bucket (created on first use:
// files of earlier versions open unchanged).
var bucketMRNodes = []byte("mr.nodes")

const (
	keyMRRestartCounter = "mr.restart_counter"
	mrNodeVersion       = 1
)

// MR returns the Mobility Router's view of the file (mr.Store).
func (d *DB) MR() mr.Store { return mrStore{d} }

type mrStore struct{ d *DB }

var _ mr.Store = mrStore{}

// LoadMR reads the attached nodes and the Restart Counter. Resumable is
// set once the counter was ever written (the MR writes it at its first
// start).
func (s mrStore) LoadMR() (mr.StoredMR, error) {
	var st mr.StoredMR
	rc, found, err := s.d.getCounter(keyMRRestartCounter)
	if err != nil {
		return st, err
	}
	st.RestartCounter, st.Resumable = rc, found
	err = s.d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMRNodes)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r mr.StoredMN
			if decodeMRNode(v, &r) != nil || r.MN != string(k) {
				st.Lost++
				return nil
			}
			st.MNs = append(st.MNs, r)
			return nil
		})
	})
	return st, err
}

// SaveMR queues the changes (deletions first); see mr.Store.
func (s mrStore) SaveMR(put []mr.StoredMN, del []string, done func(error)) {
	puts := make([][2][]byte, len(put))
	for i := range put {
		puts[i] = [2][]byte{[]byte(put[i].MN), encodeMRNode(&put[i])}
	}
	s.d.saveKeyed(bucketMRNodes, puts, del, done)
}

// SetRestartCounter durably records the MR's Restart Counter.
func (s mrStore) SetRestartCounter(n uint32) error {
	return s.d.setCounter(keyMRRestartCounter, n)
}

func encodeMRNode(r *mr.StoredMN) []byte {
	e := enc{b: make([]byte, 0, 128+len(r.MN)+len(r.MNID)+34*len(r.Prefixes))}
	e.u8(mrNodeVersion)
	e.str(r.MN)
	e.u8(uint8(r.MNIDSubtype))
	e.bytes(r.MNID)
	e.addr(r.MAG)
	e.str(r.Link)
	e.u32(uint32(r.IfIndex))
	e.bytes(r.MAC)
	e.addr(r.LinkLocal)
	e.u8(uint8(r.ATT))
	e.u8(uint8(r.HI))
	e.b = appendUvarint(e.b, len(r.Prefixes))
	for _, p := range r.Prefixes {
		e.prefix(p.Prefix)
		e.addr(p.AnchorMR)
		e.bool(p.Deprecated)
	}
	e.bool(r.Moved)
	e.addr(r.PreviousMR)
	e.dur(r.Lifetime)
	e.time(r.Expires)
	e.u16(r.Sequence)
	e.bool(r.HasSequence)
	e.u64(r.Timestamp)
	return e.b
}

func decodeMRNode(b []byte, r *mr.StoredMN) error {
	d := dec{b: b}
	if v := d.u8(); v != mrNodeVersion {
		return fmt.Errorf("state: MR node record version %d", v)
	}
	r.MN = d.str()
	r.MNIDSubtype = mh.MNIDSubtype(d.u8())
	r.MNID = d.bytes()
	r.MAG = d.addr()
	r.Link = d.str()
	r.IfIndex = int(int32(d.u32()))
	r.MAC = d.bytes()
	r.LinkLocal = d.addr()
	r.ATT = mh.ATT(d.u8())
	r.HI = mh.HandoffIndicatorValue(d.u8())
	n := d.uvarint()
	if n > len(d.b)/19 { // a prefix is at least 17+1+1 octets
		return errRecord
	}
	r.Prefixes = make([]mr.StoredPrefix, 0, n)
	for range n {
		p := mr.StoredPrefix{Prefix: d.prefix()}
		p.AnchorMR = d.addr()
		p.Deprecated = d.bool()
		r.Prefixes = append(r.Prefixes, p)
	}
	r.Moved = d.bool()
	r.PreviousMR = d.addr()
	r.Lifetime = d.dur()
	r.Expires = d.time()
	r.Sequence = d.u16()
	r.HasSequence = d.bool()
	r.Timestamp = d.u64()
	return d.end()
}
