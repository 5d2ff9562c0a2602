package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/dmm/store/storetest"
	"github.com/pmipdmm/pmipdmm/internal/clock"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		clk := clock.NewFake(t0)
		return storetest.Harness{
			Store:     store.NewMemory(store.WithClock(clk)),
			Now:       clk.Now,
			Advance:   clk.Advance,
			EventWait: 2 * time.Second,
		}
	})
}

func TestMemoryCompaction(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	s := store.NewMemory(store.WithClock(clk), store.WithHistory(16))
	defer s.Close()
	for i := 1; i <= 40; i++ {
		if _, err := s.Put(ctx, fmt.Sprintf("k/%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	// 40 events; the history is trimmed to at most 16 (to 8 at each trim).
	if _, err := s.Watch(ctx, "k/", 1); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("watch from revision 1: %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "k/", 38)
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(38); want <= 40; want++ {
		ev := <-ch
		if ev.Revision != want || ev.KV.Key != fmt.Sprintf("k/%d", want) {
			t.Fatalf("event %q at %d, want k/%d at %d", ev.KV.Key, ev.Revision, want, want)
		}
	}
}

func TestMemoryWatcherFallsBehind(t *testing.T) {
	ctx := context.Background()
	s := store.NewMemory(store.WithHistory(16))
	defer s.Close()
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The channel buffers 64 events; the history keeps at most 16: a
	// watcher that reads nothing loses its place and gets ErrCompacted.
	for i := 0; i < 200; i++ {
		if _, err := s.Put(ctx, fmt.Sprintf("k/%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	var evs []store.Event
	for ev := range ch {
		evs = append(evs, ev)
	}
	last := evs[len(evs)-1]
	if !errors.Is(last.Err, store.ErrCompacted) {
		t.Fatalf("last of %d events: %+v, want ErrCompacted", len(evs), last)
	}
	// Whatever it got before is the start of the history, in order.
	for i, ev := range evs[:len(evs)-1] {
		if ev.Err != nil || ev.Revision != int64(i+1) {
			t.Fatalf("event %d: revision %d err %v", i, ev.Revision, ev.Err)
		}
	}
}

func TestMemoryExpiryOrderSameInstant(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	s := store.NewMemory(store.WithClock(clk))
	defer s.Close()
	for _, k := range []string{"b", "a", "c"} {
		if _, err := s.Put(ctx, k, nil, store.WithTTL(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, "d", nil, store.WithTTL(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	ch, _ := s.Watch(ctx, "", 0)
	clk.Advance(3 * time.Second)
	// Keys expiring at one instant share one revision, in key order; the
	// next instant gets the next revision.
	want := []struct {
		k   string
		rev int64
	}{{"a", 5}, {"b", 5}, {"c", 5}, {"d", 6}}
	for _, w := range want {
		ev := <-ch
		if ev.Type != store.EventDelete || ev.KV.Key != w.k || ev.Revision != w.rev {
			t.Fatalf("event %v %q at %d, want delete %q at %d", ev.Type, ev.KV.Key, ev.Revision, w.k, w.rev)
		}
	}
}
