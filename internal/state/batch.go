package state

import bolt "go.etcd.io/bbolt"

// applyBatch deletes dels, then writes puts, in b (a record deleted and
// written again in one batch ends up written).
func applyBatch(b *bolt.Bucket, dels [][]byte, puts [][2][]byte) error {
	for _, k := range dels {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for _, kv := range puts {
		if err := b.Put(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// saveKeyed queues one durable transaction that removes the records keyed
// by del and writes puts in bucket (created when missing); done runs once
// it is on disk.
func (d *DB) saveKeyed(bucket []byte, puts [][2][]byte, del []string, done func(error)) {
	dels := make([][]byte, len(del))
	for i, k := range del {
		dels[i] = []byte(k)
	}
	d.submit(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return applyBatch(b, dels, puts)
	}, done)
}
