package lma

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// assigner is a PrefixAssigner whose answers the test releases.
type assigner struct {
	mu    sync.Mutex
	calls []assignCall
}

type assignCall struct {
	mn        string
	requested []netip.Prefix
	done      func([]netip.Prefix, mh.Status)
}

func (a *assigner) Assign(mn string, requested []netip.Prefix, done func([]netip.Prefix, mh.Status)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, assignCall{mn, requested, done})
}

func (a *assigner) take(t *testing.T, n int) []assignCall {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.calls) != n {
		t.Fatalf("%d Assign calls, want %d", len(a.calls), n)
	}
	out := a.calls
	a.calls = nil
	return out
}

type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) on(b Binding, ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := ev.String() + " " + b.MN
	for _, p := range b.HNPs {
		s += " " + p.String()
	}
	e.got = append(e.got, s+" "+b.ProxyCoA.String())
}

func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.got
	e.got = nil
	return out
}

func TestPrefixAssigner(t *testing.T) {
	a := &assigner{}
	ev := &events{}
	h := newHarness(t, func(c *Config) { c.Prefixes = a; c.OnBinding = ev.on })
	assigned := pfx("2001:db8:aaaa::/64")

	// A new session waits for the assigner; a retransmission meanwhile
	// replaces the held PBU without a second Assign.
	h.noReply(mag1, pbu(1, 100, zeroHNP(), nai("mn1@example"), hi(mh.HIAttachNewInterface), att(4), h.ts()))
	h.noReply(mag1, pbu(2, 100, zeroHNP(), nai("mn1@example"), hi(mh.HIAttachNewInterface), att(4), h.ts()))
	calls := a.take(t, 1)
	if calls[0].mn != "mn1@example" || len(calls[0].requested) != 0 {
		t.Fatalf("Assign(%q, %v), want mn1 and no requested prefix", calls[0].mn, calls[0].requested)
	}
	if c := h.counters(); c.Superseded != 1 {
		t.Fatalf("superseded %d", c.Superseded)
	}
	// The prefix comes back from another goroutine: the newest PBU is
	// answered with it, nothing from the pools.
	go calls[0].done([]netip.Prefix{assigned}, 0)
	ms := waitMsgs(h, mag1, 1)
	ba := ms[0].(*mh.BindingAck)
	if ba.Status != mh.StatusAccepted || ba.Sequence != 2 {
		t.Fatalf("PBA status %v seq %d", ba.Status, ba.Sequence)
	}
	if x, _ := mh.Find[*mh.HomeNetworkPrefix](ba.Options); x == nil || x.AsPrefix() != assigned {
		t.Fatalf("PBA HNP %v, want %v", ba.Options, assigned)
	}
	h.wantEntries(route(assigned, mag1))
	h.loop(func() {
		if h.l.allocCount != 0 {
			t.Errorf("%d pool prefixes used", h.l.allocCount)
		}
	})
	// A refresh does not ask again.
	h.clk.Advance(10 * time.Millisecond)
	if ba := h.pba(mag1, pbu(3, 100, hnp(assigned), nai("mn1@example"), hi(mh.HIAttachNewInterface), att(4), h.ts())); ba.Status != mh.StatusAccepted {
		t.Fatalf("refresh: %v", ba.Status)
	}
	a.take(t, 0)

	// A NON_ZERO request is passed on; a refusal is the PBA's status.
	req := pfx("2001:db8:bbbb::/64")
	h.noReply(mag2, pbu(1, 100, hnp(req), nai("mn2@example"), hi(mh.HIAttachNewInterface), att(4), h.ts()))
	calls = a.take(t, 1)
	if !slices.Equal(calls[0].requested, []netip.Prefix{req}) {
		t.Fatalf("requested %v", calls[0].requested)
	}
	calls[0].done(nil, mh.StatusNotAuthorizedForHNP) // synchronously, as on the loop
	ba = waitMsgs(h, mag2, 1)[0].(*mh.BindingAck)
	if ba.Status != mh.StatusNotAuthorizedForHNP {
		t.Fatalf("refused assignment: status %v", ba.Status)
	}
	// An assigned prefix held by another MN's session is refused (129).
	h.noReply(mag2, pbu(2, 100, zeroHNP(), nai("mn2@example"), hi(mh.HIAttachNewInterface), att(4), h.ts()))
	a.take(t, 1)[0].done([]netip.Prefix{assigned}, 0)
	if ba := waitMsgs(h, mag2, 1)[0].(*mh.BindingAck); ba.Status != mh.StatusNotAuthorizedForHNP {
		t.Fatalf("prefix of another session: status %v", ba.Status)
	}
	// De-registration and removal are reported.
	h.clk.Advance(10 * time.Millisecond)
	h.pba(mag1, pbu(4, 0, hnp(assigned), nai("mn1@example"), hi(mh.HIAttachNewInterface), att(4), h.ts()))
	h.advance(DefaultMinDelayBeforeBCEDelete)
	want := []string{
		"created mn1@example 2001:db8:aaaa::/64 2001:db8:ff::11",
		"refreshed mn1@example 2001:db8:aaaa::/64 2001:db8:ff::11",
		"deregistered mn1@example 2001:db8:aaaa::/64 2001:db8:ff::11",
		"removed mn1@example 2001:db8:aaaa::/64 2001:db8:ff::11",
	}
	if got := ev.take(); !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

func TestOnBindingMoveAndRevoke(t *testing.T) {
	ev := &events{}
	h := newHarness(t, func(c *Config) { c.OnBinding = ev.on })
	h.register(mag1, "mn1@example")
	h.clk.Advance(10 * time.Millisecond)
	// Handoff between MAGs (HI=3): the session moves.
	if ba := h.pba(mag2, pbu(2, 100, hnp(pool0), nai("mn1@example"), hi(mh.HIHandoffBetweenMAGs), att(4), h.ts())); ba.Status != mh.StatusAccepted {
		t.Fatalf("handoff: %v", ba.Status)
	}
	h.clk.Advance(10 * time.Millisecond)
	// A new interface (HI=1) from mag1 with the same prefix: a new session
	// replacing the old one (§5.4.1.1 step 6).
	if ba := h.pba(mag1, pbu(3, 100, hnp(pool0), nai("mn1@example"), hi(mh.HIAttachNewInterface), att(5), h.ts())); ba.Status != mh.StatusAccepted {
		t.Fatalf("replacement: %v", ba.Status)
	}
	if _, err := h.l.Revoke(context.Background(), "mn1@example", netip.Prefix{}, mh.TriggerAdministrativeReason); err != nil {
		t.Fatal(err)
	}
	got := ev.take()
	want := []string{
		"created mn1@example 2001:db8:100::/64 2001:db8:ff::11",
		"moved mn1@example 2001:db8:100::/64 2001:db8:ff::12",
		"removed mn1@example 2001:db8:100::/64 2001:db8:ff::12",
		"created mn1@example 2001:db8:100::/64 2001:db8:ff::11",
		"revoking mn1@example 2001:db8:100::/64 2001:db8:ff::11",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

func TestHandlePacketExternalReceive(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ExternalReceive = true })
	// The LMA's transport is not read: a PBU sent to it waits there.
	bu := pbu(1, 100, zeroHNP(), nai("mn1@example"), hi(mh.HIAttachNewInterface), att(4), h.ts())
	h.send(mag1, bu)
	time.Sleep(20 * time.Millisecond)
	if ms := h.recv(mag1); len(ms) != 0 {
		t.Fatalf("LMA read its transport: %v", ms)
	}
	// The owner feeds it; the buffer is reused at once (HandlePacket copies).
	raw, _ := bu.Marshal()
	buf := slices.Clone(raw)
	h.l.HandlePacket(transport.Packet{Src: mag1, Dst: lmaAddr, Data: buf})
	clear(buf)
	ba := waitMsgs(h, mag1, 1)[0].(*mh.BindingAck)
	if ba.Status != mh.StatusAccepted {
		t.Fatalf("status %v", ba.Status)
	}
	h.wantEntries(route(pool0, mag1))
}

// waitMsgs waits up to 5 s for n messages at node a.
func waitMsgs(h *harness, a netip.Addr, n int) []mh.Message {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var out []mh.Message
	for len(out) < n {
		h.loop(func() {})
		out = append(out, h.recv(a)...)
		if len(out) >= n {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%v: %d of %d messages", a, len(out), n)
		}
		time.Sleep(time.Millisecond)
	}
	if len(out) != n {
		h.t.Fatalf("%v: %d messages, want %d: %v", a, len(out), n, out)
	}
	return out
}
