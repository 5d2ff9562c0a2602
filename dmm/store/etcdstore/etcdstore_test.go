package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/dmm/store/etcdstore"
	"github.com/pmipdmm/pmipdmm/dmm/store/storetest"
	"github.com/pmipdmm/pmipdmm/internal/etcdtest"
)

var ctx = context.Background()

// client returns a client of the given endpoints, closed at the end of
// the test.
func client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var nsSeq atomic.Int64

// start3 starts a 3-member cluster with an election timeout of 2 s: the
// test machine is small and shared, and a starved member must not set off
// elections in tests that do not expect them.
func start3(t *testing.T) *etcdtest.Cluster {
	return etcdtest.Start(t, 3, etcdtest.Options{Heartbeat: 200 * time.Millisecond, Election: 2 * time.Second})
}

// conformance runs the shared suite on cluster c, each subtest in its own
// namespace (an empty store; the revisions are the cluster's).
func conformance(t *testing.T, c *etcdtest.Cluster) {
	cli := client(t, c.Endpoints()...)
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		ns := fmt.Sprintf("conf%d/", nsSeq.Add(1))
		return storetest.Harness{Store: etcdstore.New(cli, etcdstore.WithNamespace(ns)), EventWait: 5 * time.Second}
	})
}

func TestConformance1(t *testing.T) { conformance(t, etcdtest.Start(t, 1)) }

func TestConformance3(t *testing.T) { conformance(t, start3(t)) }

func nextEvent(t *testing.T, ch <-chan store.Event, wait time.Duration) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want an event")
		}
		return ev
	case <-time.After(wait):
		t.Fatalf("no watch event within %v", wait)
	}
	return store.Event{}
}

// TestExpiry covers expiry in real time (the conformance suite cannot
// drive etcd's clock): shared leases per second, the expiry seen by
// another front-end, deletion within about a second after the expiry
// second, refresh without TTL, and allocation over an expired key.
func TestExpiry(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := client(t, c.Endpoints()...)
	s := etcdstore.New(cli, etcdstore.WithNamespace("exp/"), etcdstore.WithSweep(100*time.Millisecond, 0))
	defer s.Close()
	other := etcdstore.New(client(t, c.Endpoints()...), etcdstore.WithNamespace("exp/"), etcdstore.WithSweep(-1, 0))
	defer other.Close()

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx, "e/", 0)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(1500 * time.Millisecond)
	sec := time.Unix(exp.Unix()+1, 0) // ceil: exp has a fractional part
	if exp.Nanosecond() == 0 {
		sec = exp
	}
	ra, err := s.Put(ctx, "e/a", []byte("A"), store.WithExpiry(exp))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := s.Put(ctx, "e/b", []byte("B"), store.WithTTL(time.Until(exp)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "e/d", []byte("D"), store.WithExpiry(exp)); err != nil {
		t.Fatal(err)
	}
	rd, err := s.Put(ctx, "e/d", []byte("D2")) // a plain Put drops the expiry
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "e/long", []byte("L"), store.WithTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "e/bad", []byte("x"), store.WithTTL(-time.Second)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("negative TTL: %v, want ErrInvalid", err)
	}
	if _, err := s.Put(ctx, "e/bad", []byte("x"), store.WithExpiry(time.Now().Add(-time.Second))); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("expiry in the past: %v, want ErrInvalid", err)
	}
	for _, want := range []struct {
		k   string
		rev int64
	}{{"e/a", ra}, {"e/b", rb}} {
		// Both front-ends read the expiry second from the lease.
		for i, st := range []store.Store{s, other} {
			kv, ok, err := st.Get(ctx, want.k)
			if err != nil || !ok {
				t.Fatalf("front-end %d: Get(%s): %v %v", i, want.k, ok, err)
			}
			if !kv.Expiry.Equal(sec) || kv.ModRevision != want.rev {
				t.Fatalf("front-end %d: %s expiry %v rev %d, want %v rev %d", i, want.k, kv.Expiry, kv.ModRevision, sec, want.rev)
			}
		}
		raw, err := cli.Get(ctx, "exp/"+want.k)
		if err != nil || len(raw.Kvs) != 1 {
			t.Fatalf("raw get %s: %v", want.k, err)
		}
		if got := clientv3.LeaseID(raw.Kvs[0].Lease); got != etcdstore.LeaseID(exp) {
			t.Fatalf("%s on lease %x, want the shared %x", want.k, got, etcdstore.LeaseID(exp))
		}
	}
	if kv, _, _ := s.Get(ctx, "e/d"); !kv.Expiry.IsZero() || kv.ModRevision != rd {
		t.Fatalf("e/d after a plain Put: expiry %v rev %d", kv.Expiry, kv.ModRevision)
	}
	// Events of the puts.
	for range 5 {
		if ev := nextEvent(t, ch, 5*time.Second); ev.Type != store.EventPut {
			t.Fatalf("event %v %q, want put", ev.Type, ev.KV.Key)
		}
	}
	// The two keys of the lease go together, after the expiry second.
	var revs []int64
	for range 2 {
		ev := nextEvent(t, ch, 6*time.Second)
		now := time.Now()
		if ev.Err != nil || ev.Type != store.EventDelete {
			t.Fatalf("event %+v, want a delete", ev)
		}
		if now.Before(sec) {
			t.Fatalf("%s deleted at %v, before its expiry second %v", ev.KV.Key, now, sec)
		}
		if now.After(sec.Add(3 * time.Second)) {
			t.Fatalf("%s deleted at %v, more than 3 s after its expiry second %v", ev.KV.Key, now, sec)
		}
		if want := map[string]string{"e/a": "A", "e/b": "B"}[ev.KV.Key]; want == "" || string(ev.PrevKV.Value) != want {
			t.Fatalf("delete of %q prev %q", ev.KV.Key, ev.PrevKV.Value)
		}
		revs = append(revs, ev.Revision)
	}
	if revs[0] != revs[1] {
		t.Fatalf("keys of one lease deleted at revisions %v, want one revision", revs)
	}
	if s.Swept() == 0 {
		t.Log("the lease went by etcd's own expiry before the sweeper")
	}
	kvs, _, err := other.List(ctx, "e/", 0)
	if err != nil || len(kvs) != 2 || kvs[0].Key != "e/d" || kvs[1].Key != "e/long" {
		t.Fatalf("keys left: %v %v", kvs, err)
	}
	// An expired key is absent for a transaction.
	res, err := other.Txn(ctx, store.Txn{If: []store.Cmp{store.Absent("e/a")}, Then: []store.Op{store.Put("e/a", []byte("again"), store.WithTTL(time.Hour))}})
	if err != nil || !res.Succeeded || res.Revision != revs[0]+1 {
		t.Fatalf("allocation over an expired key: %+v %v", res, err)
	}
}

// TestSweeperBeatsEtcd: etcd keeps a lease for at least its minimum TTL
// (1.5 election timeouts: 3 s here); the sweeper deletes the keys at
// their expiry second anyway.
func TestSweeperBeatsEtcd(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.Options{Election: 2 * time.Second, Heartbeat: 200 * time.Millisecond})
	s := etcdstore.New(client(t, c.Endpoints()...), etcdstore.WithSweep(100*time.Millisecond, 0))
	defer s.Close()
	exp := time.Now().Add(time.Second)
	if _, err := s.Put(ctx, "k", []byte("v"), store.WithExpiry(exp)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, ok, err := s.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key still present 5 s after its expiry")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if late := time.Since(exp); late > 2500*time.Millisecond {
		t.Fatalf("key deleted %v after its expiry", late)
	}
	if s.Swept() == 0 {
		t.Fatal("the sweeper revoked no lease")
	}
}

func TestWatchCompacted(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := client(t, c.Endpoints()...)
	s := etcdstore.New(cli)
	defer s.Close()
	r1, _ := s.Put(ctx, "w/a", []byte("1"))
	s.Put(ctx, "w/a", []byte("2"))
	r3, _ := s.Put(ctx, "w/a", []byte("3"))
	if _, err := cli.Compact(ctx, r3); err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, "w/", r1)
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, ch, 5*time.Second)
	if !errors.Is(ev.Err, store.ErrCompacted) {
		t.Fatalf("first event %+v, want ErrCompacted", ev)
	}
	if _, ok := <-ch; ok {
		t.Fatal("watch channel open after the error event")
	}
	// From the compaction revision on, it works (the previous value of
	// the first event is compacted away: etcd no longer has it).
	ch, err = s.Watch(ctx, "w/", r3)
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch, 5*time.Second); ev.Err != nil || string(ev.KV.Value) != "3" || ev.Revision != r3 {
		t.Fatalf("event %+v, want w/a=3 at %d", ev, r3)
	}
	r4, _ := s.Put(ctx, "w/a", []byte("4"))
	if ev := nextEvent(t, ch, 5*time.Second); ev.Err != nil || string(ev.KV.Value) != "4" || ev.Revision != r4 || string(ev.PrevKV.Value) != "3" {
		t.Fatalf("event %+v, want w/a=4 at %d after 3", ev, r4)
	}
}

// TestWatchLeaderLost: a member that loses its quorum ends the watches
// of its clients with an error event (the watcher resynchronises)
// instead of leaving them silent.
func TestWatchLeaderLost(t *testing.T) {
	c := etcdtest.Start(t, 3) // etcd's 1 s election timeout: the loss is seen sooner
	s := etcdstore.New(client(t, c.Members[0].ClientURL))
	defer s.Close()
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch, 5*time.Second); ev.Err != nil || ev.KV.Key != "x" {
		t.Fatalf("event %+v", ev)
	}
	c.Members[1].Kill()
	c.Members[2].Kill()
	ev := nextEvent(t, ch, 15*time.Second)
	if ev.Err == nil {
		t.Fatalf("event %+v, want an error", ev)
	}
	t.Logf("watch ended with: %v", ev.Err)
}

func TestGetManyChunks(t *testing.T) {
	c := etcdtest.Start(t, 1)
	s := etcdstore.New(client(t, c.Endpoints()...), etcdstore.WithMaxTxnOps(3), etcdstore.WithNamespace("g/"))
	defer s.Close()
	for i := range 6 {
		if _, err := s.Put(ctx, fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	last, _ := s.Revision(ctx)
	keys := []string{"k5", "k0", "nope", "k3", "k1", "k0", "k4", "k2", "k9"}
	kvs, rev, err := s.GetMany(ctx, keys)
	if err != nil || rev != last || len(kvs) != len(keys) {
		t.Fatalf("GetMany: %d results rev %d err %v; want %d at %d", len(kvs), rev, err, len(keys), last)
	}
	for i, k := range keys {
		want := ""
		if k != "nope" && k != "k9" {
			want = k[1:]
		}
		if kvs[i].Key != k || string(kvs[i].Value) != want || kvs[i].Exists() != (want != "") {
			t.Fatalf("kvs[%d] = %q=%q, want %q=%q", i, kvs[i].Key, kvs[i].Value, k, want)
		}
	}
	// Serializable reads (one member: nothing to lag behind) see the same.
	ser := etcdstore.New(client(t, c.Endpoints()...), etcdstore.WithMaxTxnOps(3), etcdstore.WithNamespace("g/"), etcdstore.WithSerializableReads())
	defer ser.Close()
	skvs, srev, err := ser.GetMany(ctx, keys)
	if err != nil || srev != last || len(skvs) != len(keys) {
		t.Fatalf("serializable GetMany: %d results rev %d err %v", len(skvs), srev, err)
	}
	for i := range keys {
		if skvs[i].Key != kvs[i].Key || string(skvs[i].Value) != string(kvs[i].Value) || skvs[i].ModRevision != kvs[i].ModRevision {
			t.Fatalf("serializable kvs[%d] = %+v, linearizable %+v", i, skvs[i], kvs[i])
		}
	}
	if l, _, err := ser.List(ctx, "k", 2); err != nil || len(l) != 2 || l[0].Key != "k0" || l[1].Key != "k1" {
		t.Fatalf("serializable List: %v %v", l, err)
	}
	kvs[1].Value[0] = 'X' // the repeated key's values are distinct copies
	if string(kvs[5].Value) != "0" {
		t.Fatal("repeated keys share a value buffer")
	}
	// A branch longer than --max-txn-ops is refused before etcd.
	ops := []store.Op{store.Get("a"), store.Get("b"), store.Get("c"), store.Get("d")}
	if _, err := s.Txn(ctx, store.Txn{Then: ops}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("4-op branch with max 3: %v, want ErrInvalid", err)
	}
}

func TestLeaseID(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(1700000000, 0), 1700000000},
		{time.Unix(1700000000, 1), 1700000001},
		{time.Unix(1700000000, 999999999), 1700000001},
	} {
		id := etcdstore.LeaseID(tc.t)
		if int64(id) != etcdstore.LeaseTag<<40|tc.want {
			t.Errorf("LeaseID(%v) = %x", tc.t, id)
		}
		if got, ok := etcdstore.LeaseExpiry(id); !ok || got.Unix() != tc.want {
			t.Errorf("LeaseExpiry(%x) = %v %v", id, got, ok)
		}
	}
	if _, ok := etcdstore.LeaseExpiry(0x694d1234abcd); ok {
		t.Error("a foreign lease decoded")
	}
}

// TestLeaseRegranted: a shared lease this store granted is revoked behind
// its back (another front-end's sweeper, an operator): the next write
// with that expiry second grants it again instead of failing.
func TestLeaseRegranted(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := client(t, c.Endpoints()...)
	s := etcdstore.New(cli, etcdstore.WithSweep(-1, 0))
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	if _, err := s.Put(ctx, "a", []byte("1"), store.WithExpiry(exp)); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Revoke(ctx, etcdstore.LeaseID(exp)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(ctx, "a"); ok {
		t.Fatal("key of a revoked lease still there")
	}
	if _, err := s.Put(ctx, "b", []byte("2"), store.WithExpiry(exp)); err != nil {
		t.Fatalf("write on a revoked shared lease: %v", err)
	}
	raw, err := cli.Get(ctx, "b")
	if err != nil || len(raw.Kvs) != 1 || clientv3.LeaseID(raw.Kvs[0].Lease) != etcdstore.LeaseID(exp) {
		t.Fatalf("b: %v %v", raw, err)
	}
	ttl, err := cli.TimeToLive(ctx, etcdstore.LeaseID(exp))
	if err != nil || ttl.TTL < 3500 || ttl.TTL > 3601 {
		t.Fatalf("re-granted lease TTL %+v %v, want about an hour", ttl, err)
	}
}
