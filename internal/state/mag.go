package state

import (
	"fmt"
	"net"
	"net/netip"

	bolt "go.etcd.io/bbolt"

	"github.com/pmipdmm/pmipdmm/mag"
	"github.com/pmipdmm/pmipdmm/mh"
)

const (
	keyMAGRestartCounter = "mag.restart_counter"
	bulVersion           = 1
)

// MAG returns the MAG's view of the file (mag.Store).
func (d *DB) MAG() mag.Store { return magStore{d} }

type magStore struct{ d *DB }

var _ mag.Store = magStore{}

// LoadMAG reads the Binding Update List and the Restart Counter.
func (s magStore) LoadMAG() (mag.StoredMAG, error) {
	var st mag.StoredMAG
	rc, found, err := s.d.getCounter(keyMAGRestartCounter)
	if err != nil {
		return st, err
	}
	st.RestartCounter, st.Resumable = rc, found
	err = s.d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMAGBUL).ForEach(func(k, v []byte) error {
			var r mag.StoredBUL
			if decodeBUL(v, &r) != nil || r.Key != string(k) {
				st.Lost++
				return nil
			}
			st.Entries = append(st.Entries, r)
			return nil
		})
	})
	return st, err
}

// SaveMAG queues the changes (deletions first); see mag.Store.
func (s magStore) SaveMAG(put []mag.StoredBUL, del []string, done func(error)) {
	puts := make([][2][]byte, len(put))
	for i := range put {
		puts[i] = [2][]byte{[]byte(put[i].Key), encodeBUL(&put[i])}
	}
	s.d.saveKeyed(bucketMAGBUL, puts, del, done)
}

// SetRestartCounter durably records the MAG's Restart Counter.
func (s magStore) SetRestartCounter(n uint32) error {
	return s.d.setCounter(keyMAGRestartCounter, n)
}

func encodeBUL(r *mag.StoredBUL) []byte {
	e := enc{b: make([]byte, 0, 96+len(r.Key)+len(r.MNID)+17*len(r.HNPs))}
	e.u8(bulVersion)
	e.str(r.Key)
	e.u8(uint8(r.MNIDSubtype))
	e.bytes(r.MNID)
	e.str(r.Interface)
	e.bytes(r.MAC)
	e.addr(r.LMA)
	e.u8(uint8(r.ATT))
	e.b = appendUvarint(e.b, len(r.HNPs))
	for _, p := range r.HNPs {
		e.prefix(p)
	}
	e.dur(r.Lifetime)
	e.time(r.Expires)
	e.u16(r.Sequence)
	return e.b
}

func decodeBUL(b []byte, r *mag.StoredBUL) error {
	d := dec{b: b}
	if v := d.u8(); v != bulVersion {
		return fmt.Errorf("state: BUL record version %d", v)
	}
	r.Key = d.str()
	r.MNIDSubtype = mh.MNIDSubtype(d.u8())
	r.MNID = d.bytes()
	r.Interface = d.str()
	if mac := d.bytes(); len(mac) > 0 {
		r.MAC = net.HardwareAddr(mac)
	}
	r.LMA = d.addr()
	r.ATT = mh.ATT(d.u8())
	n := d.uvarint()
	if n > len(d.b)/17 {
		return errRecord
	}
	r.HNPs = make([]netip.Prefix, 0, n)
	for range n {
		r.HNPs = append(r.HNPs, d.prefix())
	}
	r.Lifetime = d.dur()
	r.Expires = d.time()
	r.Sequence = d.u16()
	return d.end()
}
