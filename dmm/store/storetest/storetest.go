// Package storetest is the conformance suite of the dmm/store interface:
// every backend (memory, bbolt, etcd) runs it from its own tests with a
// constructor, so that they behave the same for the LM and the HAA.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/store"
)

// Harness is one fresh, empty store and the means to drive its time.
type Harness struct {
	Store store.Store
	// Now is the store's clock (expiry is computed on it).
	Now func() time.Time
	// Advance moves the store's clock forward by d and returns once the
	// expiries due are applied. nil: the backend's time cannot be driven
	// and the expiry tests are skipped (they must then be covered by the
	// backend's own tests).
	Advance func(d time.Duration)
	// EventWait bounds how long the suite waits for a watch event
	// (default 5 s) and, a tenth of it (at least 20 ms), for the absence of one.
	EventWait time.Duration
}

// Run runs the conformance suite; newHarness returns a fresh empty store
// for each subtest (closing it is the suite's job).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		f    func(t *testing.T, h Harness)
	}{
		{"PutGetRevisions", testPutGet},
		{"GetMany", testGetMany},
		{"Delete", testDelete},
		{"CompareAndSwap", testCAS},
		{"Txn", testTxn},
		{"List", testList},
		{"Watch", testWatch},
		{"WatchFromPast", testWatchPast},
		{"Expiry", testExpiry},
		{"ConcurrentCAS", testConcurrentCAS},
		{"ConcurrentAllocate", testConcurrentAllocate},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if h.EventWait == 0 {
				h.EventWait = 5 * time.Second
			}
			if h.Now == nil {
				h.Now = time.Now
			}
			defer h.Store.Close()
			tc.f(t, h)
		})
	}
}

var ctx = context.Background()

func mustPut(t *testing.T, s store.Store, k, v string, opts ...store.PutOption) int64 {
	t.Helper()
	r, err := s.Put(ctx, k, []byte(v), opts...)
	if err != nil {
		t.Fatalf("Put(%q): %v", k, err)
	}
	return r
}

func rev(t *testing.T, s store.Store) int64 {
	t.Helper()
	r, err := s.Revision(ctx)
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return r
}

func checkKV(t *testing.T, what string, kv store.KV, key, val string, create, mod, version int64) {
	t.Helper()
	if kv.Key != key || string(kv.Value) != val || kv.CreateRevision != create || kv.ModRevision != mod || kv.Version != version {
		t.Fatalf("%s = {%q %q create %d mod %d ver %d}, want {%q %q create %d mod %d ver %d}",
			what, kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version, key, val, create, mod, version)
	}
}

func testPutGet(t *testing.T, h Harness) {
	s := h.Store
	if _, ok, err := s.Get(ctx, "a"); err != nil || ok {
		t.Fatalf("Get of absent key: ok=%v err=%v", ok, err)
	}
	r0 := rev(t, s)
	buf := []byte("v1")
	r1, err := s.Put(ctx, "a", buf)
	if err != nil {
		t.Fatal(err)
	}
	if r1 != r0+1 {
		t.Fatalf("Put revision %d, want %d", r1, r0+1)
	}
	buf[0] = 'X' // the store must have copied it
	kv, ok, err := s.Get(ctx, "a")
	if err != nil || !ok {
		t.Fatalf("Get: ok=%v err=%v", ok, err)
	}
	checkKV(t, "after first Put", kv, "a", "v1", r1, r1, 1)
	if !kv.Expiry.IsZero() {
		t.Fatalf("Expiry %v without TTL", kv.Expiry)
	}
	kv.Value[0] = 'Y' // nor must the caller's copy alias the store
	r2 := mustPut(t, s, "a", "v2")
	if r2 != r1+1 {
		t.Fatalf("second Put revision %d, want %d", r2, r1+1)
	}
	kv, _, _ = s.Get(ctx, "a")
	checkKV(t, "after second Put", kv, "a", "v2", r1, r2, 2)
	if got := rev(t, s); got != r2 {
		t.Fatalf("Revision %d, want %d", got, r2)
	}
	if _, err := s.Put(ctx, "", []byte("x")); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Put of empty key: %v, want ErrInvalid", err)
	}
	if got := rev(t, s); got != r2 {
		t.Fatalf("a refused Put changed the revision to %d", got)
	}
}

func testGetMany(t *testing.T, h Harness) {
	s := h.Store
	ra := mustPut(t, s, "k/a", "A")
	rc := mustPut(t, s, "k/c", "C")
	kvs, r, err := s.GetMany(ctx, []string{"k/c", "k/b", "k/a", "k/c"})
	if err != nil {
		t.Fatal(err)
	}
	if r != rc {
		t.Fatalf("GetMany revision %d, want %d", r, rc)
	}
	if len(kvs) != 4 {
		t.Fatalf("GetMany returned %d results, want 4", len(kvs))
	}
	checkKV(t, "kvs[0]", kvs[0], "k/c", "C", rc, rc, 1)
	checkKV(t, "kvs[1]", kvs[1], "k/b", "", 0, 0, 0)
	if kvs[1].Exists() {
		t.Fatal("absent key Exists")
	}
	checkKV(t, "kvs[2]", kvs[2], "k/a", "A", ra, ra, 1)
	checkKV(t, "kvs[3]", kvs[3], "k/c", "C", rc, rc, 1)
	if kvs, _, err := s.GetMany(ctx, nil); err != nil || len(kvs) != 0 {
		t.Fatalf("GetMany(nil) = %v, %v", kvs, err)
	}
}

func testDelete(t *testing.T, h Harness) {
	s := h.Store
	r1 := mustPut(t, s, "d", "1")
	ok, r, err := s.Delete(ctx, "nope")
	if err != nil || ok || r != r1 {
		t.Fatalf("Delete of absent key = %v, %d, %v; want false, %d, nil", ok, r, err, r1)
	}
	ok, r, err = s.Delete(ctx, "d")
	if err != nil || !ok || r != r1+1 {
		t.Fatalf("Delete = %v, %d, %v; want true, %d, nil", ok, r, err, r1+1)
	}
	if _, ok, _ := s.Get(ctx, "d"); ok {
		t.Fatal("deleted key still present")
	}
	r3 := mustPut(t, s, "d", "2")
	kv, _, _ := s.Get(ctx, "d")
	checkKV(t, "re-created key", kv, "d", "2", r3, r3, 1)
}

func testCAS(t *testing.T, h Harness) {
	s := h.Store
	r1, ok, err := s.CompareAndSwap(ctx, "c", 0, []byte("1"))
	if err != nil || !ok {
		t.Fatalf("CAS create: ok=%v err=%v", ok, err)
	}
	if _, ok, err := s.CompareAndSwap(ctx, "c", 0, []byte("x")); err != nil || ok {
		t.Fatalf("CAS create of existing key: ok=%v err=%v", ok, err)
	}
	if _, ok, err := s.CompareAndSwap(ctx, "c", r1+100, []byte("x")); err != nil || ok {
		t.Fatalf("CAS with wrong revision: ok=%v err=%v", ok, err)
	}
	r2, ok, err := s.CompareAndSwap(ctx, "c", r1, []byte("2"))
	if err != nil || !ok || r2 != r1+1 {
		t.Fatalf("CAS = %d, %v, %v; want %d, true", r2, ok, err, r1+1)
	}
	kv, _, _ := s.Get(ctx, "c")
	checkKV(t, "after CAS", kv, "c", "2", r1, r2, 2)
	if _, ok, err := s.CompareAndDelete(ctx, "c", r1); err != nil || ok {
		t.Fatalf("CompareAndDelete with old revision: ok=%v err=%v", ok, err)
	}
	if r3, ok, err := s.CompareAndDelete(ctx, "c", r2); err != nil || !ok || r3 != r2+1 {
		t.Fatalf("CompareAndDelete = %d, %v, %v; want %d, true", r3, ok, err, r2+1)
	}
	if _, ok, _ := s.Get(ctx, "c"); ok {
		t.Fatal("key present after CompareAndDelete")
	}
}

func testTxn(t *testing.T, h Harness) {
	s := h.Store
	alloc := func(owner string) (store.TxnResult, error) {
		return s.Txn(ctx, store.Txn{
			If:   []store.Cmp{store.Absent("pool/p1")},
			Then: []store.Op{store.Put("pool/p1", []byte(owner)), store.Put("owner/"+owner, []byte("p1")), store.Get("pool/p1")},
			Else: []store.Op{store.Get("pool/p1"), store.Get("owner/" + owner)},
		})
	}
	r0 := rev(t, s)
	res, err := alloc("mn1")
	if err != nil || !res.Succeeded {
		t.Fatalf("first allocation: %+v %v", res, err)
	}
	if res.Revision != r0+1 {
		t.Fatalf("txn revision %d, want %d (one revision for the whole txn)", res.Revision, r0+1)
	}
	if len(res.Gets) != 1 {
		t.Fatalf("Then gets: %d results, want 1", len(res.Gets))
	}
	checkKV(t, "get after put in txn", res.Gets[0], "pool/p1", "mn1", r0+1, r0+1, 1)
	kvs, _, _ := s.GetMany(ctx, []string{"pool/p1", "owner/mn1"})
	checkKV(t, "pool/p1", kvs[0], "pool/p1", "mn1", r0+1, r0+1, 1)
	checkKV(t, "owner/mn1", kvs[1], "owner/mn1", "p1", r0+1, r0+1, 1)

	res, err = alloc("mn2")
	if err != nil || res.Succeeded {
		t.Fatalf("second allocation of the same key: %+v %v", res, err)
	}
	if res.Revision != r0+1 {
		t.Fatalf("read-only txn moved the revision to %d", res.Revision)
	}
	if len(res.Gets) != 2 {
		t.Fatalf("Else gets: %d results, want 2", len(res.Gets))
	}
	checkKV(t, "else get 0", res.Gets[0], "pool/p1", "mn1", r0+1, r0+1, 1)
	if res.Gets[1].Exists() || res.Gets[1].Key != "owner/mn2" {
		t.Fatalf("else get 1 = %+v, want absent owner/mn2", res.Gets[1])
	}

	// Several conditions: all must hold.
	res, err = s.Txn(ctx, store.Txn{
		If:   []store.Cmp{store.ModRevisionIs("pool/p1", r0+1), store.Absent("owner/mn1")},
		Then: []store.Op{store.Delete("pool/p1")},
	})
	if err != nil || res.Succeeded {
		t.Fatalf("txn with one false condition succeeded: %+v %v", res, err)
	}
	res, err = s.Txn(ctx, store.Txn{
		If:   []store.Cmp{store.ModRevisionIs("pool/p1", r0+1), store.ModRevisionIs("owner/mn1", r0+1)},
		Then: []store.Op{store.Delete("pool/p1"), store.Delete("owner/mn1"), store.Delete("absent")},
	})
	if err != nil || !res.Succeeded || res.Revision != r0+2 {
		t.Fatalf("release txn: %+v %v, want success at %d", res, err, r0+2)
	}
	if kvs, _, _ := s.GetMany(ctx, []string{"pool/p1", "owner/mn1"}); kvs[0].Exists() || kvs[1].Exists() {
		t.Fatal("keys present after the release txn")
	}
	// A txn whose branch only deletes absent keys does not write.
	res, err = s.Txn(ctx, store.Txn{Then: []store.Op{store.Delete("absent")}})
	if err != nil || !res.Succeeded || res.Revision != r0+2 {
		t.Fatalf("no-op txn: %+v %v, want revision %d", res, err, r0+2)
	}
	// Writing a key twice in a branch is refused, and nothing is written.
	_, err = s.Txn(ctx, store.Txn{Then: []store.Op{store.Put("x", []byte("1")), store.Put("x", []byte("2"))}})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("double write: %v, want ErrInvalid", err)
	}
	if _, ok, _ := s.Get(ctx, "x"); ok || rev(t, s) != r0+2 {
		t.Fatal("a refused txn wrote")
	}
}

func testList(t *testing.T, h Harness) {
	s := h.Store
	for _, k := range []string{"a/3", "a", "a/1", "ab/1", "a/2/x", "b/1", "a/2"} {
		mustPut(t, s, k, "v"+k)
	}
	last := rev(t, s)
	keys := func(kvs []store.KV) string {
		var b bytes.Buffer
		for i, kv := range kvs {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(kv.Key)
			if string(kv.Value) != "v"+kv.Key {
				fmt.Fprintf(&b, "(bad value %q)", kv.Value)
			}
		}
		return b.String()
	}
	for _, tc := range []struct {
		prefix string
		limit  int
		want   string
	}{
		{"a/", 0, "a/1 a/2 a/2/x a/3"},
		{"a/", 2, "a/1 a/2"},
		{"a", 0, "a a/1 a/2 a/2/x a/3 ab/1"},
		{"a/2", 0, "a/2 a/2/x"},
		{"c", 0, ""},
		{"", 3, "a a/1 a/2"},
		{"", 0, "a a/1 a/2 a/2/x a/3 ab/1 b/1"},
	} {
		kvs, r, err := s.List(ctx, tc.prefix, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(kvs); got != tc.want {
			t.Errorf("List(%q, %d) = %q, want %q", tc.prefix, tc.limit, got, tc.want)
		}
		if r != last {
			t.Errorf("List revision %d, want %d", r, last)
		}
	}
	for _, tc := range []struct {
		prefix, after string
		limit         int
		want          string
	}{
		{"a/", "", 0, "a/1 a/2 a/2/x a/3"},
		{"a/", "a/1", 0, "a/2 a/2/x a/3"},
		{"a/", "a/2", 2, "a/2/x a/3"},
		{"a/", "a/2/x", 1, "a/3"},
		{"a/", "a/3", 0, ""},
		{"a/", "a/20", 0, "a/3"},            // a key that is not there ("a/2/x" < "a/20")
		{"a/", "0", 0, "a/1 a/2 a/2/x a/3"}, // before the prefix
		{"a/", "b", 0, ""},                  // after it
		{"", "a/3", 0, "ab/1 b/1"},
		{"", "", 2, "a a/1"},
	} {
		kvs, r, err := s.ListAfter(ctx, tc.prefix, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(kvs); got != tc.want {
			t.Errorf("ListAfter(%q, %q, %d) = %q, want %q", tc.prefix, tc.after, tc.limit, got, tc.want)
		}
		if r != last {
			t.Errorf("ListAfter revision %d, want %d", r, last)
		}
	}
	// Paging through a prefix finds every key once.
	var all []string
	after := ""
	for range 10 {
		kvs, _, err := s.ListAfter(ctx, "", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			all = append(all, kv.Key)
		}
		if len(kvs) < 2 {
			break
		}
		after = kvs[len(kvs)-1].Key
	}
	if got := strings.Join(all, " "); got != "a a/1 a/2 a/2/x a/3 ab/1 b/1" {
		t.Errorf("pages of 2: %q", got)
	}
}

func (h Harness) next(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want an event")
		}
		return ev
	case <-time.After(h.EventWait):
		t.Fatal("no watch event")
	}
	return store.Event{}
}

func (h Harness) quiet(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("unexpected event %v %q at %d", ev.Type, ev.KV.Key, ev.Revision)
		}
		t.Fatal("watch channel closed unexpectedly")
	case <-time.After(max(h.EventWait/10, 20*time.Millisecond)):
	}
}

func checkEvent(t *testing.T, ev store.Event, typ store.EventType, key, val string, rev int64, prevVal string, prevExists bool) {
	t.Helper()
	if ev.Err != nil {
		t.Fatalf("event error %v", ev.Err)
	}
	if ev.Type != typ || ev.KV.Key != key || string(ev.KV.Value) != val || ev.Revision != rev || ev.KV.ModRevision != rev {
		t.Fatalf("event %v %q=%q rev %d (mod %d), want %v %q=%q rev %d", ev.Type, ev.KV.Key, ev.KV.Value, ev.Revision, ev.KV.ModRevision, typ, key, val, rev)
	}
	if ev.PrevKV.Exists() != prevExists || string(ev.PrevKV.Value) != prevVal {
		t.Fatalf("event %v %q: prev %q (exists %v), want %q (exists %v)", typ, key, ev.PrevKV.Value, ev.PrevKV.Exists(), prevVal, prevExists)
	}
}

func testWatch(t *testing.T, h Harness) {
	s := h.Store
	mustPut(t, s, "w/old", "0")
	r0 := rev(t, s)
	wctx, cancel := context.WithCancel(ctx)
	ch, err := s.Watch(wctx, "w/", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "w/a", "1")     // r0+1
	mustPut(t, s, "x/a", "other") // r0+2, not watched
	if _, err := s.Txn(ctx, store.Txn{Then: []store.Op{store.Put("w/b", []byte("2")), store.Put("w/a", []byte("3"))}}); err != nil {
		t.Fatal(err) // r0+3
	}
	if _, _, err := s.Delete(ctx, "w/b"); err != nil { // r0+4
		t.Fatal(err)
	}
	checkEvent(t, h.next(t, ch), store.EventPut, "w/a", "1", r0+1, "", false)
	checkEvent(t, h.next(t, ch), store.EventPut, "w/b", "2", r0+3, "", false)
	checkEvent(t, h.next(t, ch), store.EventPut, "w/a", "3", r0+3, "1", true)
	checkEvent(t, h.next(t, ch), store.EventDelete, "w/b", "", r0+4, "2", true)
	h.quiet(t, ch)
	cancel()
	deadline := time.After(h.EventWait)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed after cancel")
		}
	}
}

func testWatchPast(t *testing.T, h Harness) {
	s := h.Store
	r1 := mustPut(t, s, "p/a", "1")
	mustPut(t, s, "p/b", "2")
	r3 := mustPut(t, s, "p/a", "3")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx, "p/a", r1)
	if err != nil {
		t.Fatal(err)
	}
	checkEvent(t, h.next(t, ch), store.EventPut, "p/a", "1", r1, "", false)
	checkEvent(t, h.next(t, ch), store.EventPut, "p/a", "3", r3, "1", true)
	h.quiet(t, ch)
	r4 := mustPut(t, s, "p/a", "4")
	checkEvent(t, h.next(t, ch), store.EventPut, "p/a", "4", r4, "3", true)
}

func testExpiry(t *testing.T, h Harness) {
	if h.Advance == nil {
		t.Skip("backend time cannot be driven")
	}
	s := h.Store
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx, "e/", 0)
	if err != nil {
		t.Fatal(err)
	}
	start := h.Now()
	r1 := mustPut(t, s, "e/ttl", "1", store.WithTTL(10*time.Second))
	r2 := mustPut(t, s, "e/at", "2", store.WithExpiry(start.Add(20*time.Second)))
	r3 := mustPut(t, s, "e/keep", "3")
	for _, want := range []struct {
		k, v string
		r    int64
	}{{"e/ttl", "1", r1}, {"e/at", "2", r2}, {"e/keep", "3", r3}} {
		checkEvent(t, h.next(t, ch), store.EventPut, want.k, want.v, want.r, "", false)
	}
	kv, _, _ := s.Get(ctx, "e/ttl")
	if d := kv.Expiry.Sub(start); d < 10*time.Second || d > 11*time.Second {
		t.Fatalf("Expiry of a 10 s TTL is start+%v", d)
	}
	if _, err := s.Put(ctx, "e/bad", []byte("x"), store.WithTTL(-time.Second)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("negative TTL: %v, want ErrInvalid", err)
	}
	if _, err := s.Put(ctx, "e/bad", []byte("x"), store.WithExpiry(start.Add(-time.Second))); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("expiry in the past: %v, want ErrInvalid", err)
	}
	h.Advance(9 * time.Second)
	if kvs, _, _ := s.List(ctx, "e/", 0); len(kvs) != 3 {
		t.Fatalf("%d keys before any expiry, want 3", len(kvs))
	}
	h.quiet(t, ch)
	h.Advance(2 * time.Second) // 11 s: e/ttl expired
	checkEvent(t, h.next(t, ch), store.EventDelete, "e/ttl", "", r3+1, "1", true)
	if _, ok, _ := s.Get(ctx, "e/ttl"); ok {
		t.Fatal("expired key still readable")
	}
	if got := rev(t, s); got != r3+1 {
		t.Fatalf("revision after expiry %d, want %d", got, r3+1)
	}
	// Refreshing e/at before its expiry moves it.
	r5 := mustPut(t, s, "e/at", "2b", store.WithTTL(30*time.Second)) // expires at 41 s
	checkEvent(t, h.next(t, ch), store.EventPut, "e/at", "2b", r5, "2", true)
	h.Advance(10 * time.Second) // 21 s
	h.quiet(t, ch)
	// An expired key counts as absent for a transaction.
	r6 := mustPut(t, s, "e/lease", "x", store.WithTTL(5*time.Second)) // expires at 26 s
	checkEvent(t, h.next(t, ch), store.EventPut, "e/lease", "x", r6, "", false)
	h.Advance(6 * time.Second) // 27 s
	checkEvent(t, h.next(t, ch), store.EventDelete, "e/lease", "", r6+1, "x", true)
	res, err := s.Txn(ctx, store.Txn{If: []store.Cmp{store.Absent("e/lease")}, Then: []store.Op{store.Put("e/lease", []byte("y"))}})
	if err != nil || !res.Succeeded {
		t.Fatalf("allocation over an expired key: %+v %v", res, err)
	}
	checkEvent(t, h.next(t, ch), store.EventPut, "e/lease", "y", r6+2, "", false)
	// Removing the TTL by a plain Put keeps the key forever.
	mustPut(t, s, "e/at", "2c")
	checkEvent(t, h.next(t, ch), store.EventPut, "e/at", "2c", r6+3, "2b", true)
	h.Advance(100 * time.Second)
	h.quiet(t, ch)
	kvs, _, _ := s.List(ctx, "e/", 0)
	if len(kvs) != 3 || kvs[0].Key != "e/at" || kvs[1].Key != "e/keep" || kvs[2].Key != "e/lease" {
		t.Fatalf("keys left: %v", kvs)
	}
}

func testConcurrentCAS(t *testing.T, h Harness) {
	s := h.Store
	const workers, each = 4, 50
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for {
					kv, _, err := s.Get(ctx, "counter")
					if err != nil {
						errc <- err
						return
					}
					n := 0
					if kv.Exists() {
						fmt.Sscan(string(kv.Value), &n)
					}
					_, ok, err := s.CompareAndSwap(ctx, "counter", kv.ModRevision, []byte(fmt.Sprint(n+1)))
					if err != nil {
						errc <- err
						return
					}
					if ok {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	kv, _, _ := s.Get(ctx, "counter")
	if string(kv.Value) != fmt.Sprint(workers*each) || kv.Version != workers*each {
		t.Fatalf("counter = %q version %d, want %d", kv.Value, kv.Version, workers*each)
	}
}

func testConcurrentAllocate(t *testing.T, h Harness) {
	s := h.Store
	const workers, keys = 4, 25
	won := make([][]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < keys; k++ {
				key := fmt.Sprintf("slot/%02d", k)
				res, err := s.Txn(ctx, store.Txn{If: []store.Cmp{store.Absent(key)}, Then: []store.Op{store.Put(key, []byte{byte(w)})}})
				if err != nil {
					t.Error(err)
					return
				}
				if res.Succeeded {
					won[w] = append(won[w], k)
				}
			}
		}()
	}
	wg.Wait()
	owner := map[int]int{}
	for w, ks := range won {
		for _, k := range ks {
			if o, dup := owner[k]; dup {
				t.Fatalf("slot %d allocated to workers %d and %d", k, o, w)
			}
			owner[k] = w
		}
	}
	if len(owner) != keys {
		t.Fatalf("%d slots allocated, want %d", len(owner), keys)
	}
	kvs, _, _ := s.List(ctx, "slot/", 0)
	for _, kv := range kvs {
		var k int
		fmt.Sscanf(kv.Key, "slot/%d", &k)
		if int(kv.Value[0]) != owner[k] || kv.Version != 1 {
			t.Fatalf("%s owned by %d (version %d), winner was %d", kv.Key, kv.Value[0], kv.Version, owner[k])
		}
	}
}

func testClose(t *testing.T, h Harness) {
	s := h.Store
	mustPut(t, s, "z", "1")
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "z"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Put(ctx, "z", []byte("2")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Put after Close: %v, want ErrClosed", err)
	}
	deadline := time.After(h.EventWait)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if ev.Err == nil {
				t.Fatalf("event %v %q after Close", ev.Type, ev.KV.Key)
			}
		case <-deadline:
			t.Fatal("watch not ended by Close")
		}
	}
}
