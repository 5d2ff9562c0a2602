package lma

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// TestReceiveQueueBound: while the loop is busy, received packets beyond
// Config.ReceiveQueue are dropped and counted, the queued ones are all
// answered afterwards, and the LMA keeps serving.
func TestReceiveQueueBound(t *testing.T) {
	const queue, sent = 8, 20
	h := newHarness(t, func(c *Config) {
		c.ReceiveQueue = queue
		c.DefaultMN = &MNPolicy{}
	})
	release := make(chan struct{})
	busy := make(chan struct{})
	go h.l.call(context.Background(), func() { close(busy); <-release })
	<-busy
	for i := range sent {
		h.send(mag1, pbu(uint16(i+1), 100, zeroHNP(), nai(fmt.Sprintf("q%d@example", i)), hi(mh.HIAttachNewInterface), att(4), h.ts()))
	}
	// Wait until the reader has taken all of them off the transport.
	for deadline := time.Now().Add(5 * time.Second); ; {
		h.l.rxq.mu.Lock()
		seen := uint64(len(h.l.rxq.fill)) + h.l.rxq.dropped
		h.l.rxq.mu.Unlock()
		if seen == sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader saw %d of %d packets", seen, sent)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	c := h.counters()
	if got := c.Dropped[dropQueueFull]; got != sent-queue {
		t.Fatalf("dropped %d (%v), want %d", got, c.Dropped, sent-queue)
	}
	if got := c.Rx["Binding Update"]; got != queue {
		t.Fatalf("processed %d PBUs, want %d", got, queue)
	}
	ms := h.recv(mag1)
	if len(ms) != queue {
		t.Fatalf("%d PBAs, want %d", len(ms), queue)
	}
	for i, m := range ms {
		ba, ok := m.(*mh.BindingAck)
		if !ok || ba.Status != mh.StatusAccepted || ba.Sequence != uint16(i+1) {
			t.Fatalf("reply %d: %+v", i, m)
		}
	}
	// Still serving, and the counter is not counted twice.
	h.mu.Lock()
	h.toLMA -= sent - queue // for h.sync: those were never processed
	h.mu.Unlock()
	h.register(mag2, "mn1@example")
	if c := h.counters(); c.Dropped[dropQueueFull] != sent-queue {
		t.Fatalf("dropped %d after recovery", c.Dropped[dropQueueFull])
	}
}

// TestTimerHeap: expiries of many entries share one clock timer; a
// refresh moves an entry's deadline later, a de-registration earlier,
// and each entry goes at its own deadline.
func TestTimerHeap(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DefaultMN = &MNPolicy{}; c.MinDelayBeforeBCEDelete = 2 * time.Second })
	lifetimes := []uint16{3, 1, 2, 5} // x 4 s
	for i, lt := range lifetimes {
		ba := h.pba(mag1, pbu(1, lt, zeroHNP(), nai(fmt.Sprintf("t%d@example", i)), hi(mh.HIAttachNewInterface), att(4), h.ts()))
		if ba.Status != mh.StatusAccepted {
			t.Fatalf("t%d: %v", i, ba.Status)
		}
	}
	if n := h.clk.Pending(); n != 1 {
		t.Fatalf("%d clock timers for %d bindings, want 1", n, len(lifetimes))
	}
	names := func() []string {
		var out []string
		for _, b := range h.bindings() {
			out = append(out, b.MN)
		}
		return out
	}
	// t3 (20 s) de-registers: gone 2 s later; t0 (12 s) is refreshed
	// to 20 s at 1 s.
	h.advance(time.Second)
	var p0, p3 = prefixOf(h, "t0@example"), prefixOf(h, "t3@example")
	ba := h.pba(mag1, pbu(2, 0, hnp(p3), nai("t3@example"), hi(mh.HIAttachNewInterface), att(4), h.ts()))
	if ba.Status != mh.StatusAccepted {
		t.Fatalf("de-registration: %v", ba.Status)
	}
	if ba := h.pba(mag1, pbu(2, 5, hnp(p0), nai("t0@example"), hi(mh.HIHandoffStateNotChanged), att(4), h.ts())); ba.Status != mh.StatusAccepted {
		t.Fatalf("refresh: %v", ba.Status)
	}
	steps := []struct {
		to   time.Duration // since t0
		want string
	}{
		{2900 * time.Millisecond, "[t0@example t1@example t2@example t3@example]"},
		{3 * time.Second, "[t0@example t1@example t2@example]"}, // t3: 1 s + 2 s
		{4 * time.Second, "[t0@example t2@example]"},            // t1: 4 s
		{8 * time.Second, "[t0@example]"},                       // t2: 8 s
		{20 * time.Second, "[t0@example]"},                      // t0 was 12 s, now 1 s + 20 s
		{21 * time.Second, "[]"},
	}
	for _, s := range steps {
		h.clk.Set(t0.Add(s.to))
		h.loop(func() {})
		h.loop(func() {})
		if got := fmt.Sprint(names()); got != s.want {
			t.Fatalf("at %v: %s, want %s", s.to, got, s.want)
		}
	}
	h.loop(func() {
		if len(h.l.timers.h) != 0 || h.l.nBCE != 0 || len(h.l.byPrefix) != 0 || len(h.l.byMN) != 0 {
			t.Errorf("left: heap %d, entries %d, prefixes %d, MNs %d", len(h.l.timers.h), h.l.nBCE, len(h.l.byPrefix), len(h.l.byMN))
		}
	})
}

func prefixOf(h *harness, mn string) netip.Prefix {
	h.t.Helper()
	bs, err := h.l.Binding(context.Background(), mn)
	if err != nil || len(bs) != 1 {
		h.t.Fatalf("%s: %v %v", mn, bs, err)
	}
	return bs[0].HNPs[0]
}

// dropsMem is a transport that reports kernel drops.
type dropsMem struct {
	transport.Transport
	n uint64
}

func (d dropsMem) Drops() uint64 { return d.n }

// TestTransportDropsCounted: the drops a transport reports are in
// Counters.Dropped.
func TestTransportDropsCounted(t *testing.T) {
	tr, err := transport.NewNetwork().Attach(lmaAddr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.Transport, cfg.DataPlane = dropsMem{tr, 7}, dataplane.NewFake()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); tr.Close(); <-done }()
	c, err := l.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Dropped[dropSocketFull]; got != 7 {
		t.Fatalf("Dropped[%q] = %d, want 7", dropSocketFull, got)
	}
}

// TestMassExpiry: more entries than one operation removes expire at
// once; the continuation removes the rest.
func TestMassExpiry(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DefaultMN = &MNPolicy{}; c.Pools = []netip.Prefix{pfx("2001:db8:100::/48")} })
	const n = expireBatch + 44
	for i := range n {
		h.send(mag1, pbu(1, 1, zeroHNP(), nai(fmt.Sprintf("e%d@example", i)), hi(mh.HIAttachNewInterface), att(4), h.ts()))
	}
	h.sync()
	if got := len(h.recv(mag1)); got != n {
		t.Fatalf("%d PBAs, want %d", got, n)
	}
	if got := len(h.bindings()); got != n {
		t.Fatalf("%d bindings, want %d", got, n)
	}
	h.clk.Advance(4 * time.Second)
	var left, heap int
	h.loop(func() { left, heap = h.l.nBCE, len(h.l.timers.h) }) // after the first operation: expireBatch removed
	if left < n-expireBatch || left == n {                      // fewer when an operation ran over opBudget
		t.Fatalf("%d entries left after the first expiry operation, want %d..%d", left, n-expireBatch, n-1)
	}
	h.loop(func() {})
	if got := len(h.bindings()); got != 0 || heap != left {
		t.Fatalf("%d bindings left, heap %d entries for %d", got, heap, left)
	}
}
