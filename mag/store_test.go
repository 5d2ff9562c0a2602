package mag

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// memStore is an in-memory Store (writes are durable at once).
type memStore struct {
	mu      sync.Mutex
	entries map[string]StoredBUL
	rc      uint32
	has     bool
}

func (s *memStore) LoadMAG() (StoredMAG, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := StoredMAG{RestartCounter: s.rc, Resumable: s.has}
	for _, e := range s.entries {
		st.Entries = append(st.Entries, e)
	}
	return st, nil
}

func (s *memStore) SaveMAG(put []StoredBUL, del []string, done func(error)) {
	s.mu.Lock()
	for _, k := range del {
		delete(s.entries, k)
	}
	for _, e := range put {
		s.entries[e.Key] = e
	}
	s.mu.Unlock()
	if done != nil {
		done(nil)
	}
}

func (s *memStore) SetRestartCounter(n uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rc, s.has = n, true
	return nil
}

func (s *memStore) get(k string) (StoredBUL, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[k]
	return e, ok
}

// waitPBUs waits for n PBUs in total.
func waitPBUs(h *harness, n int) []sentPBU {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := h.pbus()
		if len(s) >= n {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d PBUs, want %d", len(s), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A MAG restarted on its store asks for the MN's stored prefixes when it
// is seen again, and de-registers the MNs not seen within ResumeGrace;
// the Restart Counter is kept (no state lost).
func TestStoreResume(t *testing.T) {
	ms := &memStore{entries: map[string]StoredBUL{}}
	h1 := newHarness(t, func(c *Config) { c.Store = ms; c.SequenceScheme = true })
	if h1.m.cfg.RestartCounter != 1 {
		t.Fatalf("first start: counter %d, want 1", h1.m.cfg.RestartCounter)
	}
	h1.up("acc0", false)
	waitPBUs(h1, 1)
	h1.accept(100, hnpA)
	h1.up("acc3", false)
	waitPBUs(h1, 2)
	h1.accept(100, hnpB)
	e0, ok0 := ms.get("mn0@example.org")
	e3, ok3 := ms.get("mn3@example.org")
	if !ok0 || !ok3 || !slices.Equal(e0.HNPs, []netip.Prefix{hnpA}) || e0.Interface != "acc0" || e0.LMA != lmaAddr ||
		e0.Lifetime != 400*time.Second || !e0.Expires.Equal(t0.Add(400*time.Second)) || e0.Sequence != 1 {
		t.Fatalf("stored: %+v %+v", e0, e3)
	}
	h1.m.Stop()

	h2 := newHarness(t, func(c *Config) { c.Store = ms; c.SequenceScheme = true })
	if h2.m.cfg.RestartCounter != 1 {
		t.Fatalf("restart with the state: counter %d, want 1 (kept)", h2.m.cfg.RestartCounter)
	}
	h2.up("acc0", false)
	bu := waitPBUs(h2, 1)[0].bu
	if got := hnpsOf(bu); !slices.Equal(got, []netip.Prefix{hnpA}) || bu.Sequence != 2 || bu.Lifetime == 0 {
		t.Fatalf("re-attach after restart: HNPs %v seq %d lifetime %d, want the stored prefix and seq 2", got, bu.Sequence, bu.Lifetime)
	}
	h2.accept(100, hnpA)
	// mn3 is not seen again: de-registered after the grace period.
	h2.advance(DefaultResumeGrace)
	s := waitPBUs(h2, 2)
	d := s[1].bu
	if id, _ := mh.Find[*mh.MNIdentifier](d.Options); d.Lifetime != 0 || id == nil || string(id.Identifier) != "mn3@example.org" ||
		!slices.Equal(hnpsOf(d), []netip.Prefix{hnpB}) {
		t.Fatalf("after the grace period: %+v, want mn3's de-registration", d)
	}
	h2.deliver(pba(d, mh.StatusAccepted, 0))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := ms.get("mn3@example.org"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("mn3 still stored after its de-registration")
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := ms.get("mn0@example.org"); !ok {
		t.Fatal("mn0 no longer stored")
	}
	// RestartCounterAlways: incremented.
	h2.m.Stop()
	h3 := newHarness(t, func(c *Config) { c.Store = ms; c.RestartCounterAlways = true })
	if h3.m.cfg.RestartCounter != 2 {
		t.Fatalf("RestartCounterAlways: counter %d, want 2", h3.m.cfg.RestartCounter)
	}
}
