package lma

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// TestLookupRules: every branch of the RFC 5213 §5.4.1 BCE lookup. A
// session of mn1 is registered from MAG1 (pool0), then a second PBU
// arrives; the outcome is checked on the PBA, the binding cache and the
// data plane.
func TestLookupRules(t *testing.T) {
	type outcome int
	const (
		update  outcome = iota // same session, now at the second PBU's MAG
		newSess                // a second session (pool1)
		replace                // a new session that took over pool0
		ignore                 // no reply, nothing changed
		held                   // no reply yet, PBU held (HI=4)
	)
	mac1, mac2 := []byte{2, 0, 0, 0, 0, 1}, []byte{2, 0, 0, 0, 0, 2}
	cases := []struct {
		name  string
		first []mh.Option // extra options of the first registration
		from  netip.Addr
		life  uint16
		opts  []mh.Option // options of the second PBU (MN-ID and timestamp added)
		want  outcome
	}{
		// §5.4.1.1: a NON_ZERO HNP.
		{"rule1 LL-ID and ATT equal", []mh.Option{llid(mac1...)}, mag2, 100, []mh.Option{hnp(pool0), llid(mac1...), att(4), hi(4)}, update},
		{"rule1 HI=2", nil, mag2, 100, []mh.Option{hnp(pool0), att(5), hi(2)}, update},
		{"rule1 no LL-ID, BCE LL-ID ALL_ZERO, ATT equal, HI=3", nil, mag2, 100, []mh.Option{hnp(pool0), att(4), hi(3)}, update},
		{"rule1 same Proxy-CoA and ATT (re-registration)", nil, mag1, 100, []mh.Option{hnp(pool0), att(4), hi(5)}, update},
		{"rule1 HI=3 but the BCE has an LL-ID: new session", []mh.Option{llid(mac1...)}, mag2, 100, []mh.Option{hnp(pool0), att(4), hi(3)}, replace},
		{"rule1 LL-ID differs: new session", []mh.Option{llid(mac1...)}, mag2, 100, []mh.Option{hnp(pool0), llid(mac2...), att(4), hi(1)}, replace},
		{"rule1 lifetime 0 matching no session: ignored", nil, mag2, 0, []mh.Option{hnp(pool0), att(4), hi(4)}, ignore},
		// §5.4.1.2: no NON_ZERO HNP, MN LL-ID present.
		{"rule2 MN-ID, ATT, LL-ID match", []mh.Option{llid(mac1...)}, mag2, 100, []mh.Option{zeroHNP(), llid(mac1...), att(4), hi(1)}, update},
		{"rule2 no match, HI=2, one BCE", []mh.Option{llid(mac1...)}, mag2, 100, []mh.Option{zeroHNP(), llid(mac2...), att(4), hi(2)}, update},
		{"rule2 no match, HI=1: new session", []mh.Option{llid(mac1...)}, mag2, 100, []mh.Option{zeroHNP(), llid(mac2...), att(4), hi(1)}, newSess},
		{"rule2 LL-ID matches but ATT differs, HI=3: new session", []mh.Option{llid(mac1...)}, mag2, 100, []mh.Option{zeroHNP(), llid(mac1...), att(5), hi(3)}, newSess},
		{"rule2 no match, HI=4, one BCE: held", []mh.Option{llid(mac1...)}, mag2, 100, []mh.Option{zeroHNP(), llid(mac2...), att(4), hi(4)}, held},
		{"rule2 lifetime 0, no match: ignored", []mh.Option{llid(mac1...)}, mag2, 0, []mh.Option{zeroHNP(), llid(mac2...), att(4), hi(1)}, ignore},
		// §5.4.1.3: neither.
		{"rule3 one BCE, HI=3", nil, mag2, 100, []mh.Option{zeroHNP(), att(4), hi(3)}, update},
		{"rule3 one BCE, HI=2", nil, mag2, 100, []mh.Option{zeroHNP(), att(4), hi(2)}, update},
		{"rule3 one BCE, HI=1: new session", nil, mag2, 100, []mh.Option{zeroHNP(), att(4), hi(1)}, newSess},
		{"rule3 one BCE, HI=5: new session", nil, mag2, 100, []mh.Option{zeroHNP(), att(4), hi(5)}, newSess},
		{"rule3 one BCE, HI=4: held", nil, mag2, 100, []mh.Option{zeroHNP(), att(4), hi(4)}, held},
		{"rule3 lifetime 0, HI=1: ignored", nil, mag2, 0, []mh.Option{zeroHNP(), att(4), hi(1)}, ignore},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.register(mag1, "mn1@example", c.first...)
			h.advance(time.Millisecond)
			opts := append([]mh.Option{nai("mn1@example"), h.ts()}, c.opts...)
			bu := pbu(2, c.life, opts...)
			h.send(c.from, bu)
			h.sync()
			msgs := h.recv(c.from)
			bs := h.bindings()
			switch c.want {
			case ignore, held:
				if len(msgs) != 0 {
					t.Fatalf("got %d replies, want none", len(msgs))
				}
				if len(bs) != 1 || bs[0].ProxyCoA != mag1 || bs[0].Held != (c.want == held) {
					t.Fatalf("bindings %+v", bs)
				}
				h.wantEntries(route(pool0, mag1))
				if c.want == ignore && h.counters().Ignored != 1 {
					t.Fatalf("Ignored counter %d", h.counters().Ignored)
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("got %d replies", len(msgs))
			}
			ba := msgs[0].(*mh.BindingAck)
			if ba.Status != 0 {
				t.Fatalf("status %d", ba.Status)
			}
			gotHNP := describe(ba.Options)[0]
			switch c.want {
			case update:
				if gotHNP != hnpStr(pool0) || len(bs) != 1 || bs[0].ProxyCoA != c.from || bs[0].HI != mh.HandoffIndicatorValue(c.opts[len(c.opts)-1].(*mh.HandoffIndicator).Value) {
					t.Fatalf("update: PBA %s, bindings %+v", gotHNP, bs)
				}
				h.wantEntries(route(pool0, c.from))
			case replace:
				if gotHNP != hnpStr(pool0) || len(bs) != 1 || bs[0].ProxyCoA != c.from || !bs[0].Created.Equal(h.clk.Now()) {
					t.Fatalf("replace: PBA %s, bindings %+v", gotHNP, bs)
				}
				h.wantEntries(route(pool0, c.from))
			case newSess:
				if gotHNP != hnpStr(pool1) || len(bs) != 2 {
					t.Fatalf("new session: PBA %s, bindings %+v", gotHNP, bs)
				}
				h.wantEntries(route(pool0, mag1), route(pool1, c.from))
			}
		})
	}
}

// TestHI4Wait: a PBU with HI=4 matching one BCE waits for the previous
// MAG's de-registration (RFC 5213 §5.4.1.3 step 3).
func TestHI4Wait(t *testing.T) {
	moved := func(h *harness) *mh.BindingUpdate {
		return pbu(2, 100, zeroHNP(), nai("mn1@example"), hi(4), att(4), h.ts())
	}
	dereg := func(h *harness) *mh.BindingUpdate {
		return pbu(3, 0, hnp(pool0), nai("mn1@example"), hi(4), att(4), h.ts())
	}
	t.Run("no de-registration: new session after MaxDelayBeforeNewBCEAssign", func(t *testing.T) {
		h := newHarness(t, nil)
		h.register(mag1, "mn1@example")
		h.advance(time.Millisecond)
		h.noReply(mag2, moved(h))
		h.advance(1499 * time.Millisecond)
		if ms := h.recv(mag2); len(ms) != 0 {
			t.Fatalf("answered before MaxDelayBeforeNewBCEAssign: %v", ms)
		}
		h.advance(time.Millisecond)
		wantPBA(t, h.onePBA(mag2), 0, 2, 100, hnpStr(pool1), mnid1, "HI 4", att4, tsStr(t0.Add(time.Millisecond)))
		if bs := h.bindings(); len(bs) != 2 {
			t.Fatalf("%d bindings, want 2", len(bs))
		}
		h.wantEntries(route(pool0, mag1), route(pool1, mag2))
	})
	t.Run("de-registration arrives: the held PBU updates the session", func(t *testing.T) {
		h := newHarness(t, nil)
		h.register(mag1, "mn1@example")
		h.advance(time.Millisecond)
		h.noReply(mag2, moved(h))
		h.advance(500 * time.Millisecond)
		wantPBA(t, h.pba(mag1, dereg(h)), 0, 3, 0, hnpStr(pool0), mnid1, "HI 4", att4, tsStr(t0.Add(501*time.Millisecond)))
		wantPBA(t, h.onePBA(mag2), 0, 2, 100, hnpStr(pool0), mnid1, "HI 4", att4, tsStr(t0.Add(time.Millisecond)))
		bs := h.bindings()
		if len(bs) != 1 || bs[0].ProxyCoA != mag2 || bs[0].State != StateActive {
			t.Fatalf("bindings %+v", bs)
		}
		h.wantEntries(route(pool0, mag2))
		h.advance(2 * time.Second) // the hold timer is gone
		h.advance(10 * time.Second)
		if ms := h.recv(mag2); len(ms) != 0 {
			t.Fatalf("late reply %v", ms)
		}
		if bs := h.bindings(); len(bs) != 1 || bs[0].State != StateActive {
			t.Fatalf("binding not kept after the de-registration delay: %+v", bs)
		}
		h.wantEntries(route(pool0, mag2))
	})
	t.Run("already de-registered: updated at once", func(t *testing.T) {
		h := newHarness(t, nil)
		h.register(mag1, "mn1@example")
		h.advance(time.Millisecond)
		wantPBA(t, h.pba(mag1, dereg(h)), 0, 3, 0, hnpStr(pool0), mnid1, "HI 4", att4, tsStr(t0.Add(time.Millisecond)))
		h.wantEntries()
		h.advance(time.Millisecond)
		wantPBA(t, h.pba(mag2, moved(h)), 0, 2, 100, hnpStr(pool0), mnid1, "HI 4", att4, tsStr(t0.Add(2*time.Millisecond)))
		h.wantEntries(route(pool0, mag2))
	})
	t.Run("NoWaitForDeregistration: new session at once", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.NoWaitForDeregistration = true })
		h.register(mag1, "mn1@example")
		h.advance(time.Millisecond)
		wantPBA(t, h.pba(mag2, moved(h)), 0, 2, 100, hnpStr(pool1), mnid1, "HI 4", att4, tsStr(t0.Add(time.Millisecond)))
		h.wantEntries(route(pool0, mag1), route(pool1, mag2))
	})
	t.Run("a retransmission replaces the held PBU and keeps its deadline", func(t *testing.T) {
		h := newHarness(t, nil)
		h.register(mag1, "mn1@example")
		h.advance(time.Millisecond)
		h.noReply(mag2, moved(h))
		h.advance(time.Second)
		re := moved(h)
		re.Sequence = 5
		h.noReply(mag2, re)
		h.advance(500 * time.Millisecond)
		wantPBA(t, h.onePBA(mag2), 0, 5, 100, hnpStr(pool1), mnid1, "HI 4", att4, tsStr(t0.Add(1001*time.Millisecond)))
		if c := h.counters(); c.Held != 2 || c.Superseded != 1 {
			t.Fatalf("Held %d Superseded %d", c.Held, c.Superseded)
		}
	})
}

// TestDeregistration: RFC 5213 §5.3.5.
func TestDeregistration(t *testing.T) {
	dereg := func(h *harness, hiv mh.HandoffIndicatorValue) *mh.BindingUpdate {
		return pbu(3, 0, hnp(pool0), nai("mn1@example"), hi(hiv), att(4), h.ts())
	}
	t.Run("accepted, kept MinDelayBeforeBCEDelete, then deleted", func(t *testing.T) {
		h := newHarness(t, nil)
		h.register(mag1, "mn1@example")
		h.advance(time.Millisecond)
		wantPBA(t, h.pba(mag1, dereg(h, 4)), 0, 3, 0, hnpStr(pool0), mnid1, "HI 4", att4, tsStr(t0.Add(time.Millisecond)))
		h.wantEntries() // the MN's traffic is dropped during the wait
		bs := h.bindings()
		if len(bs) != 1 || bs[0].State != StateDeregistered {
			t.Fatalf("bindings %+v", bs)
		}
		h.advance(10*time.Second - time.Nanosecond)
		if len(h.bindings()) != 1 {
			t.Fatal("deleted before MinDelayBeforeBCEDelete")
		}
		h.advance(time.Nanosecond)
		if bs := h.bindings(); len(bs) != 0 {
			t.Fatalf("not deleted: %+v", bs)
		}
		// pool0 is free again; the cursor hands out pool1 first.
		h.register(mag1, "mn2@example")
		h.wantEntries(route(pool1, mag1))
	})
	t.Run("an accepted PBU during the wait restores the binding", func(t *testing.T) {
		h := newHarness(t, nil)
		h.register(mag1, "mn1@example")
		h.advance(time.Millisecond)
		h.pba(mag1, dereg(h, 4))
		h.advance(5 * time.Second)
		wantPBA(t, h.pba(mag1, pbu(4, 100, hnp(pool0), nai("mn1@example"), hi(5), att(4), h.ts())),
			0, 4, 100, hnpStr(pool0), mnid1, "HI 5", att4, tsStr(t0.Add(5001*time.Millisecond)))
		h.wantEntries(route(pool0, mag1))
		h.advance(10 * time.Second)
		if bs := h.bindings(); len(bs) != 1 || bs[0].State != StateActive {
			t.Fatalf("restored binding deleted: %+v", bs)
		}
		h.wantEntries(route(pool0, mag1))
	})
	t.Run("from another MAG: ignored silently", func(t *testing.T) {
		h := newHarness(t, nil)
		h.register(mag1, "mn1@example")
		h.advance(time.Millisecond)
		h.noReply(mag2, dereg(h, 2)) // HI=2 associates it with the session: §5.3.5 step 1
		h.advance(time.Millisecond)
		h.noReply(mag2, dereg(h, 4)) // HI=4: matches no session (§5.4.1.1 step 6)
		if c := h.counters(); c.Ignored != 2 {
			t.Fatalf("Ignored %d, want 2", c.Ignored)
		}
		if bs := h.bindings(); len(bs) != 1 || bs[0].State != StateActive || bs[0].ProxyCoA != mag1 {
			t.Fatalf("bindings %+v", bs)
		}
		h.wantEntries(route(pool0, mag1))
	})
	t.Run("lifetime expiry deletes the binding", func(t *testing.T) {
		h := newHarness(t, nil)
		ba := h.pba(mag1, pbu(1, 2, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts()))
		wantPBA(t, ba, 0, 1, 2, hnpStr(pool0), mnid1, hi1, att4, tsStr(t0))
		h.advance(8*time.Second - time.Nanosecond)
		h.wantEntries(route(pool0, mag1))
		h.advance(time.Nanosecond)
		h.wantEntries()
		if len(h.bindings()) != 0 {
			t.Fatal("binding not expired")
		}
	})
}
