package state

import (
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mag"
	"github.com/pmipdmm/pmipdmm/mh"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
	tA   = time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
)

func openTemp(t *testing.T, o Options) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	d, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func sampleBindings() []lma.StoredBinding {
	return []lma.StoredBinding{
		{
			ID: 1, MN: "mn1@example", MNIDSubtype: mh.MNIDNAI, MNID: []byte("mn1@example"),
			LinkLayerID: []byte{2, 0, 0x5e, 0x10, 0, 1}, LinkLocal: addr("fe80::200:5eff:fe00:5213"),
			HNPs: []netip.Prefix{pfx("2001:db8:100::/64"), pfx("2001:db8:200::/64")}, Allocated: []netip.Prefix{pfx("2001:db8:100::/64")},
			ProxyCoA: addr("2001:db8:ff::11"), ATT: 4, HI: mh.HIAttachNewInterface,
			Timestamp: 0xdead_beef_0000_0001, PBUTimestamp: 0xdead_beef_0000_0000, Sequence: 65535, HasSequence: false,
			Lifetime: 400 * time.Second, Expires: tA.Add(400 * time.Second), Deadline: tA.Add(400 * time.Second),
			Created: tA, State: lma.StateActive,
		},
		{
			// Sequence scheme, no link-layer ID option (2 ALL_ZERO octets),
			// de-registered: Deadline after Expires.
			ID: 1 << 40, MN: "imsi:123456123456789", MNIDSubtype: mh.MNIDSubtype(3), MNID: []byte{0x21, 0x43, 0x65},
			LinkLayerID: []byte{0, 0}, LinkLocal: addr("fe80::1"),
			HNPs: []netip.Prefix{pfx("2001:db8:100:1::/64")}, Allocated: []netip.Prefix{pfx("2001:db8:100:1::/64")},
			ProxyCoA: addr("2001:db8:ff::12"), Sequence: 7, HasSequence: true,
			Expires: tA, Deadline: tA.Add(10 * time.Second), Created: tA.Add(-time.Hour), State: lma.StateDeregistered,
		},
		{
			// Revoking, no link-local, zero times except the deadline.
			ID: 3, MN: "", MNIDSubtype: 0, LinkLayerID: []byte{},
			HNPs:     []netip.Prefix{pfx("2001:db8:300::/48")},
			ProxyCoA: addr("2001:db8:ff::13"), Deadline: tA, State: lma.StateRevoking, Trigger: mh.TriggerAdministrativeReason,
		},
	}
}

// normalize makes nil and empty slices equal for comparison.
func normalize(bs []lma.StoredBinding) []lma.StoredBinding {
	out := make([]lma.StoredBinding, len(bs))
	for i, b := range bs {
		if len(b.MNID) == 0 {
			b.MNID = nil
		}
		if len(b.LinkLayerID) == 0 {
			b.LinkLayerID = nil
		}
		if len(b.Allocated) == 0 {
			b.Allocated = nil
		}
		b.Expires, b.Deadline, b.Created = b.Expires.UTC(), b.Deadline.UTC(), b.Created.UTC()
		if b.Expires.IsZero() {
			b.Expires = time.Time{}
		}
		if b.Created.IsZero() {
			b.Created = time.Time{}
		}
		out[i] = b
	}
	return out
}

func TestBindingRecordRoundTrip(t *testing.T) {
	for _, b := range sampleBindings() {
		t.Run(b.MN, func(t *testing.T) {
			raw := encodeBinding(&b)
			var got lma.StoredBinding
			if err := decodeBinding(raw, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize([]lma.StoredBinding{got}), normalize([]lma.StoredBinding{b})) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, b)
			}
			// Every truncation is an error, never a panic.
			for n := 0; n < len(raw); n++ {
				var x lma.StoredBinding
				if err := decodeBinding(raw[:n], &x); err == nil {
					t.Fatalf("truncated to %d of %d octets: no error", n, len(raw))
				}
			}
			// Trailing garbage and an unknown version are errors.
			var x lma.StoredBinding
			if err := decodeBinding(append(raw[:len(raw):len(raw)], 0), &x); err == nil {
				t.Fatal("trailing octet accepted")
			}
			bad := append([]byte{99}, raw[1:]...)
			if err := decodeBinding(bad, &x); err == nil {
				t.Fatal("version 99 accepted")
			}
		})
	}
}

// The record layout is fixed: a change must bump bindingVersion.
func TestBindingRecordLayout(t *testing.T) {
	b := lma.StoredBinding{ID: 2, MN: "a", MNIDSubtype: 1, MNID: []byte("a"), LinkLayerID: []byte{0, 0},
		HNPs: []netip.Prefix{pfx("2001:db8::/64")}, Allocated: []netip.Prefix{pfx("2001:db8::/64")},
		ProxyCoA: addr("2001:db8::11"), ATT: 4, HI: 1, Sequence: 0x0102, HasSequence: true,
		Lifetime: 4 * time.Second, Expires: time.Unix(0, 5), Deadline: time.Unix(0, 6), Created: time.Unix(0, 7), State: lma.StateDeregistered, Trigger: 1}
	want := "01" + // version
		"0000000000000002" + // ID
		"01" + "61" + // MN key "a"
		"01" + // MN-ID subtype (NAI)
		"01" + "61" + // MN-ID
		"02" + "0000" + // link-layer ID
		"00" + // no link-local address
		"01" + // one HNP
		"20010db8000000000000000000000000" + "40" + "01" + // 2001:db8::/64, allocated
		"01" + "20010db8000000000000000000000011" + // Proxy-CoA
		"04" + "01" + // ATT, HI
		"0000000000000000" + "0000000000000000" + // timestamps
		"0102" + "01" + // sequence, has sequence
		"00000000ee6b2800" + // lifetime 4 s in ns
		"0000000000000005" + "0000000000000006" + "0000000000000007" + // expires, deadline, created
		"01" + "01" // state, trigger
	if got := hexOf(encodeBinding(&b)); got != want {
		t.Fatalf("layout:\n got %s\nwant %s", got, want)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func saveSync(t testing.TB, s lma.Store, c lma.StoreChanges) {
	t.Helper()
	e := make(chan error, 1)
	s.SaveLMA(c, func(err error) { e <- err })
	if err := <-e; err != nil {
		t.Fatal(err)
	}
}

func TestLMAStoreRoundTrip(t *testing.T) {
	d, path := openTemp(t, Options{})
	s := d.LMA()
	st, err := s.LoadLMA()
	if err != nil {
		t.Fatal(err)
	}
	if st.Resumable || st.RestartCounter != 0 || len(st.Bindings) != 0 || st.Lost != 0 {
		t.Fatalf("new file: %+v", st)
	}
	bs := sampleBindings()
	saveSync(t, s, lma.StoreChanges{
		Put:      bs,
		Allocate: map[netip.Prefix]string{pfx("2001:db8:100::/64"): "mn1@example", pfx("2001:db8:100:1::/64"): "imsi:123456123456789", pfx("2001:db8:100:9::/64"): "gone"},
		Cursors:  []lma.PoolCursor{{Pool: pfx("2001:db8:100::/56"), PrefixLen: 64, Next: []byte{2}}},
	})
	// Delete and Release come before Put and Allocate in one batch.
	saveSync(t, s, lma.StoreChanges{
		Delete:   []uint64{3, 3, 99},
		Release:  []netip.Prefix{pfx("2001:db8:100:9::/64"), pfx("2001:db8:100:1::/64")},
		Allocate: map[netip.Prefix]string{pfx("2001:db8:100:1::/64"): "imsi:123456123456789"},
		Cursors:  []lma.PoolCursor{{Pool: pfx("2001:db8:100::/56"), PrefixLen: 64, Next: []byte{3}}},
	})
	if err := s.SetRestartCounter(41); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	st, err = d2.LMA().LoadLMA()
	if err != nil {
		t.Fatal(err)
	}
	want := lma.StoredState{
		Bindings: bs[:2], // by ID: 1, 1<<40
		Allocations: map[netip.Prefix]string{pfx("2001:db8:100::/64"): "mn1@example",
			pfx("2001:db8:100:1::/64"): "imsi:123456123456789"},
		Cursors:        []lma.PoolCursor{{Pool: pfx("2001:db8:100::/56"), PrefixLen: 64, Next: []byte{3}}},
		RestartCounter: 41, Resumable: true,
	}
	st.Bindings, want.Bindings = normalize(st.Bindings), normalize(want.Bindings)
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("reloaded:\n got %+v\nwant %+v", st, want)
	}
}

func TestLMAStoreLostRecords(t *testing.T) {
	d, _ := openTemp(t, Options{NoSync: true})
	saveSync(t, d.LMA(), lma.StoreChanges{Put: sampleBindings()[:1]})
	// A record cut short and one under a key that is not its ID.
	if err := d.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLMABindings)
		if err := b.Put(idKey(7), []byte{1, 0, 0}); err != nil {
			return err
		}
		return b.Put(idKey(8), encodeBinding(&sampleBindings()[0]))
	}); err != nil {
		t.Fatal(err)
	}
	st, err := d.LMA().LoadLMA()
	if err != nil {
		t.Fatal(err)
	}
	if st.Lost != 2 || len(st.Bindings) != 1 || st.Bindings[0].ID != 1 {
		t.Fatalf("lost %d, bindings %+v", st.Lost, st.Bindings)
	}
}

func TestAllocations(t *testing.T) {
	d, path := openTemp(t, Options{})
	p1, p2 := pfx("2001:db8:1::/64"), pfx("2001:db8:2::/64")
	if err := d.Allocate("haa", p1, "mn1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Allocate("haa", p1, "mn1"); err != nil {
		t.Fatalf("same owner again: %v", err)
	}
	if err := d.Allocate("haa", p1, "mn2"); !errors.Is(err, ErrTaken) {
		t.Fatalf("another owner: %v, want ErrTaken", err)
	}
	if err := d.Allocate("other", p1, "mn2"); err != nil {
		t.Fatalf("another namespace: %v", err)
	}
	if err := d.Allocate("haa", p2, "mn2"); err != nil {
		t.Fatal(err)
	}
	if err := d.Release("haa", p1); err != nil {
		t.Fatal(err)
	}
	if err := d.Release("haa", p1); err != nil {
		t.Fatalf("releasing a free prefix: %v", err)
	}
	d.Close()
	d2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	got, err := d2.Allocations("haa")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[netip.Prefix]string{p2: "mn2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("allocations %v, want %v", got, want)
	}
	if got, _ := d2.Allocations("none"); len(got) != 0 {
		t.Fatalf("unknown namespace: %v", got)
	}
}

// Writes queued while a commit syncs share the next transaction; their
// callbacks run in queueing order; a failing write fails alone.
func TestGroupCommit(t *testing.T) {
	d, _ := openTemp(t, Options{})
	const n = 400
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		id := uint64(i + 1)
		d.submit(func(tx *bolt.Tx) error {
			if id == 200 {
				return errors.New("bad write")
			}
			return tx.Bucket(bucketLMABindings).Put(idKey(id), []byte{1})
		}, func(err error) {
			mu.Lock()
			order = append(order, int(id))
			mu.Unlock()
			if (id == 200) != (err != nil) {
				t.Errorf("write %d: %v", id, err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	for i, v := range order {
		if v != i+1 {
			t.Fatalf("callback %d for write %d: not in order", i, v)
		}
	}
	st := d.Stats()
	t.Logf("%d writes in %d commits", st.Writes, st.Commits)
	if st.Writes != n || st.Errors != 1 || st.Commits >= n/2 {
		t.Fatalf("stats %+v: want %d writes, 1 error, far fewer commits than writes", st, n)
	}
	keys := 0
	d.db.View(func(tx *bolt.Tx) error { keys = tx.Bucket(bucketLMABindings).Stats().KeyN; return nil })
	if keys != n-1 {
		t.Fatalf("%d keys written, want %d", keys, n-1)
	}
	if err := d.Barrier(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	e := make(chan error, 1)
	d.submit(func(*bolt.Tx) error { return nil }, func(err error) { e <- err })
	if err := <-e; !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	_, path := openTemp(t, Options{})
	start := time.Now()
	_, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		t.Fatal("second Open of a locked file succeeded")
	}
	// bbolt retries the lock every 50 ms until the timeout (less one
	// retry period) has passed.
	if !strings.Contains(err.Error(), "timeout") || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("did not wait for the lock: %v after %v", err, time.Since(start))
	}
}

func TestMAGStoreRoundTrip(t *testing.T) {
	d, path := openTemp(t, Options{})
	s := d.MAG()
	if st, err := s.LoadMAG(); err != nil || st.Resumable || len(st.Entries) != 0 {
		t.Fatalf("new file: %+v %v", st, err)
	}
	e := mag.StoredBUL{Key: "mn0@example.org", MNIDSubtype: mh.MNIDNAI, MNID: []byte("mn0@example.org"), Interface: "acc0",
		MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, LMA: addr("2001:db8:ff::2"), ATT: 4,
		HNPs: []netip.Prefix{pfx("2001:db8:100::/64"), pfx("2001:db8:200::/64")}, Lifetime: 400 * time.Second, Expires: tA, Sequence: 9}
	gone := mag.StoredBUL{Key: "gone", Interface: "acc1", HNPs: []netip.Prefix{pfx("2001:db8:300::/64")}, Expires: tA}
	done := make(chan error, 2)
	s.SaveMAG([]mag.StoredBUL{e, gone}, nil, func(err error) { done <- err })
	s.SaveMAG(nil, []string{"gone"}, func(err error) { done <- err })
	if err := errors.Join(<-done, <-done); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRestartCounter(3); err != nil {
		t.Fatal(err)
	}
	raw := encodeBUL(&e)
	for n := 0; n < len(raw); n++ {
		var x mag.StoredBUL
		if decodeBUL(raw[:n], &x) == nil {
			t.Fatalf("truncated to %d octets: no error", n)
		}
	}
	d.Close()
	d2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	st, err := d2.MAG().LoadMAG()
	if err != nil {
		t.Fatal(err)
	}
	want := mag.StoredMAG{Entries: []mag.StoredBUL{e}, RestartCounter: 3, Resumable: true}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("reloaded:\n got %+v\nwant %+v", st, want)
	}
	// The LMA's counter is its own.
	if lst, _ := d2.LMA().LoadLMA(); lst.Resumable || lst.RestartCounter != 0 {
		t.Fatalf("LMA state: %+v", lst)
	}
}
