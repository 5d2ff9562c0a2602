package boltstore_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/dmm/store/boltstore"
	"github.com/pmipdmm/pmipdmm/internal/clock"
)

func list(t *testing.T, s store.Store) ([]store.KV, int64) {
	t.Helper()
	kvs, rev, err := s.List(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return kvs, rev
}

func sameKVs(t *testing.T, what string, got, want []store.KV) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Key != w.Key || string(g.Value) != string(w.Value) || g.CreateRevision != w.CreateRevision ||
			g.ModRevision != w.ModRevision || g.Version != w.Version || !g.Expiry.Equal(w.Expiry) {
			t.Fatalf("%s: %+v, want %+v", what, g, w)
		}
	}
}

// TestRestart: close and reopen; every key is there with its revisions,
// version and expiry; revisions continue; expiries keep running on the
// clock, including those reached while the store was closed.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	clk := clock.NewFake(t0)
	s := open(t, path, boltstore.WithClock(clk))
	mustPut := func(s store.Store, k, v string, opts ...store.PutOption) int64 {
		t.Helper()
		r, err := s.Put(ctx, k, []byte(v), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	mustPut(s, "keep", "1")
	mustPut(s, "keep", "2")
	mustPut(s, "soon", "s", store.WithTTL(10*time.Second))
	mustPut(s, "later", "l", store.WithExpiry(t0.Add(100*time.Second)))
	mustPut(s, "gone", "g")
	if _, _, err := s.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	res, err := s.Txn(ctx, store.Txn{If: []store.Cmp{store.Absent("alloc/1")},
		Then: []store.Op{store.Put("alloc/1", []byte("mn1")), store.Put("owner/mn1", []byte("1"), store.WithTTL(time.Hour))}})
	if err != nil || !res.Succeeded {
		t.Fatal(res, err)
	}
	before, rev := list(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened at the same time: everything as it was.
	s = open(t, path, boltstore.WithClock(clk))
	after, rev2 := list(t, s)
	if rev2 != rev {
		t.Fatalf("revision %d after reopening, was %d", rev2, rev)
	}
	sameKVs(t, "after reopening", after, before)
	if r := mustPut(s, "keep", "3"); r != rev+1 {
		t.Fatalf("first write after reopening at %d, want %d", r, rev+1)
	}
	kv, _, _ := s.Get(ctx, "keep")
	if kv.Version != 3 || kv.CreateRevision != 1 || kv.ModRevision != rev+1 {
		t.Fatalf("keep after reopening: %+v", kv)
	}
	// A watch cannot start before the reopening (no history), can after.
	if _, err := s.Watch(ctx, "", rev); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("watch from before the reopening: %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "", rev+1)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.KV.Key != "keep" || ev.Revision != rev+1 || string(ev.PrevKV.Value) != "2" {
		t.Fatalf("event %+v", ev)
	}
	s.Close()

	// Closed while "soon" expires: it is deleted at Open, with a revision.
	clk.Advance(20 * time.Second)
	s = open(t, path, boltstore.WithClock(clk))
	defer s.Close()
	if _, ok, _ := s.Get(ctx, "soon"); ok {
		t.Fatal("key expired while closed is still there")
	}
	if r, _ := s.Revision(ctx); r != rev+2 {
		t.Fatalf("revision %d after the expiry at Open, want %d", r, rev+2)
	}
	ch, err = s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The sweeper is armed for "later" (t0+100 s) after the reopening.
	clk.Advance(81 * time.Second)
	select {
	case ev := <-ch:
		if ev.Type != store.EventDelete || ev.KV.Key != "later" || ev.Revision != rev+3 || string(ev.PrevKV.Value) != "l" {
			t.Fatalf("event %+v, want the expiry of later at %d", ev, rev+3)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no expiry of later")
	}
	kvs, _ := list(t, s)
	var keys []string
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
	}
	if strings.Join(keys, " ") != "alloc/1 keep owner/mn1" {
		t.Fatalf("keys left: %v", keys)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path)
	defer s.Close()
	start := time.Now()
	if _, err := boltstore.Open(path, boltstore.WithOpenTimeout(200*time.Millisecond)); err == nil {
		t.Fatal("second Open of an open file succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("second Open took %v", d)
	}
}

func TestHistoryBounded(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "store.db"), boltstore.WithHistory(16), boltstore.WithNoSync())
	defer s.Close()
	for i := 1; i <= 40; i++ {
		if _, err := s.Put(ctx, fmt.Sprintf("k/%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Watch(ctx, "k/", 1); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("watch from revision 1: %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "k/", 38)
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(38); want <= 40; want++ {
		if ev := <-ch; ev.Revision != want || ev.KV.Key != fmt.Sprintf("k/%d", want) {
			t.Fatalf("event %q at %d, want k/%d at %d", ev.KV.Key, ev.Revision, want, want)
		}
	}
}

// crashEnv names the file the helper process writes to.
const crashEnv = "BOLTSTORE_CRASH_WRITER"

// TestCrashWriter is the helper process of TestKill9: it writes keys and
// prints each acknowledged one, until killed.
func TestCrashWriter(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process of TestKill9")
	}
	s, err := boltstore.Open(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		rev, err := s.Put(ctx, fmt.Sprintf("k/%06d", i), []byte(strconv.Itoa(i)), store.WithTTL(time.Hour))
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("acked %d %d\n", i, rev)
	}
}

// TestKill9: a process writing to the store is killed with SIGKILL; every
// write it had acknowledged is in the file, and the revision continues.
func TestKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	last, lastRev := -1, int64(0)
	for sc.Scan() {
		var i int
		var rev int64
		if _, err := fmt.Sscanf(sc.Text(), "acked %d %d", &i, &rev); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper: %q", sc.Text())
		}
		last, lastRev = i, rev
		if i == 200 {
			cmd.Process.Kill() // mid-run: more writes are in flight
			break
		}
	}
	for sc.Scan() { // acknowledgements printed before the kill landed
		fmt.Sscanf(sc.Text(), "acked %d %d", &last, &lastRev)
	}
	cmd.Wait()
	if last < 200 {
		t.Fatalf("helper acknowledged only %d writes", last+1)
	}
	s := open(t, path)
	defer s.Close()
	for i := 0; i <= last; i++ {
		kv, ok, err := s.Get(ctx, fmt.Sprintf("k/%06d", i))
		if err != nil || !ok || string(kv.Value) != strconv.Itoa(i) || kv.Expiry.IsZero() {
			t.Fatalf("acknowledged write %d: %+v %v %v", i, kv, ok, err)
		}
	}
	rev, _ := s.Revision(ctx)
	if rev < lastRev {
		t.Fatalf("revision %d after the crash, %d was acknowledged", rev, lastRev)
	}
	if r, err := s.Put(ctx, "after", nil); err != nil || r != rev+1 {
		t.Fatalf("write after the crash at %d (%v), want %d", r, err, rev+1)
	}
	t.Logf("%d writes acknowledged before SIGKILL, revision %d in the file", last+1, rev)
}
