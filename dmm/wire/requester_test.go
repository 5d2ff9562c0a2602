package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// TestRetransmissionTimeout: nobody answers; the request is sent again
// after 1, 2 (then 4) seconds, byte for byte, and the call fails with a
// *TimeoutError after Attempts transmissions.
func TestRetransmissionTimeout(t *testing.T) {
	e := newEnv(t)
	r := e.requester(mr31, RequesterConfig{Attempts: 3})
	c := NewLMClient(r, lm1) // nobody holds lm1: packets are dropped
	done := make(chan error, 1)
	go func() {
		_, err := c.Query(e.ctx, QueryPrefix(hnp1))
		done <- err
	}()
	ps := e.waitPackets(1)
	e.clk.Advance(999 * time.Millisecond)
	if n := len(e.packets()); n != 1 {
		t.Fatalf("%d transmissions before the first timeout", n)
	}
	e.clk.Advance(time.Millisecond)
	ps = e.waitPackets(2)
	e.clk.Advance(1999 * time.Millisecond)
	if n := len(e.packets()); n != 2 {
		t.Fatalf("%d transmissions before the second timeout (2 s)", n)
	}
	e.clk.Advance(time.Millisecond)
	ps = e.waitPackets(3)
	select {
	case err := <-done:
		t.Fatalf("returned before the last timeout: %v", err)
	default:
	}
	e.clk.Advance(4 * time.Second)
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no timeout")
	}
	var te *TimeoutError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &te) || te.Attempts != 3 || te.Peer != lm1 || te.Op != "location query" {
		t.Fatalf("error %v, want a TimeoutError after 3 transmissions to %v", err, lm1)
	}
	wantAt := []time.Duration{0, time.Second, 3 * time.Second}
	for i, p := range ps {
		if !bytes.Equal(p.Data, ps[0].Data) || p.Dst != lm1 || p.Src != mr31 {
			t.Errorf("transmission %d differs from the first: %x vs %x", i, p.Data, ps[0].Data)
		}
		if got := p.at.Sub(t0); got != wantAt[i] {
			t.Errorf("transmission %d at t0+%v, want t0+%v", i, got, wantAt[i])
		}
	}
	if len(e.packets()) != 3 || r.Pending() != 0 {
		t.Errorf("%d transmissions, %d pending after the timeout", len(e.packets()), r.Pending())
	}
	if e.clk.Pending() != 0 {
		t.Errorf("%d timers left", e.clk.Pending())
	}
}

// TestRetransmissionCapped: the wait doubles up to MaxTimeout.
func TestRetransmissionCapped(t *testing.T) {
	e := newEnv(t)
	r := e.requester(mr31, RequesterConfig{Attempts: 5, InitialTimeout: 100 * time.Millisecond, MaxTimeout: 250 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- NewLMClient(r, lm1).Update(e.ctx, "mn", []netip.Prefix{hnp1}, mr31, mr31, time.Minute) }()
	for i := 1; i <= 5; i++ {
		e.waitPackets(i)
		e.clk.Advance(250 * time.Millisecond)
	}
	if err := <-done; !errors.Is(err, ErrTimeout) {
		t.Fatalf("%v, want a timeout", err)
	}
	want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 550 * time.Millisecond, 800 * time.Millisecond}
	for i, p := range e.packets() {
		if p.at.Sub(t0) != want[i] {
			t.Errorf("transmission %d at t0+%v, want t0+%v", i, p.at.Sub(t0), want[i])
		}
	}
}

// TestRetransmissionAnswered: the first transmission is lost (the LM is
// not up yet); the retransmission is answered.
func TestRetransmissionAnswered(t *testing.T) {
	e := newEnv(t)
	r := e.requester(mr2, RequesterConfig{})
	done := make(chan error, 1)
	go func() { done <- NewLMClient(r, lm1).Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr2, mr12, time.Minute) }()
	e.waitPackets(1)
	e.lmServer(lm1, nil, LMServerConfig{})
	e.clk.Advance(time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
	ps := e.packets()
	if len(ps) != 3 || ps[2].Src != lm1 || decode(t, ps[2]).(*mh.BindingAck).Sequence != decode(t, ps[0]).(*mh.BindingUpdate).Sequence {
		t.Fatalf("exchange: %s", describeAll(ps))
	}
	if e.net.Dropped() != 1 {
		t.Errorf("%d packets dropped, want the first transmission", e.net.Dropped())
	}
}

// TestAnswerMatching: answers are matched by source address, type and
// Sequence #; anything else is ignored and the request retransmitted.
func TestAnswerMatching(t *testing.T) {
	e := newEnv(t)
	r := e.requester(mr31, RequesterConfig{})
	fake := e.attach(lm1) // plays the LM by hand
	other := e.attach(lm2)
	done := make(chan []Location, 1)
	go func() {
		l, err := NewLMClient(r, lm1).Query(e.ctx, QueryPrefix(hnp1))
		if err != nil {
			t.Error(err)
		}
		done <- l
	}()
	q, err := mh.ParseLocationQuery(receive(t, fake, "the query").Data)
	if err != nil {
		t.Fatal(err)
	}
	reply := func(seq uint16) []byte {
		lr := &mh.LocationReply{Sequence: seq}
		lr.Options = mh.Options{mh.NewRoutingLocation(hnp1, mr12, mr2, 30)}
		return marshal(t, lr)
	}
	// Wrong sequence, wrong source, wrong type: all ignored.
	fake.Send(mr31, reply(q.Sequence+1))
	other.Send(mr31, reply(q.Sequence))
	fake.Send(mr31, marshal(t, &mh.BindingAck{Sequence: q.Sequence, Flags: mh.BAFlagP}))
	fake.Send(mr31, []byte{59, 0, 11}) // garbage
	time.Sleep(20 * time.Millisecond)
	select {
	case l := <-done:
		t.Fatalf("answered by a non-matching reply: %+v", l)
	default:
	}
	if r.Pending() != 1 {
		t.Fatalf("%d pending", r.Pending())
	}
	fake.Send(mr31, reply(q.Sequence))
	select {
	case l := <-done:
		if want := []Location{{Prefix: hnp1, AnchorMR: mr12, CurrentMR: mr2, Lifetime: 30 * time.Second}}; !equalLocations(l, want) {
			t.Errorf("%+v, want %+v", l, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the matching reply was not taken")
	}
}

// TestDuplicateFromCache: a retransmitted PBU (same source, Sequence #
// and octets) is answered from the reply cache, so a stale retransmission
// of an update already superseded still gets its original answer and does
// not touch the LM; after the cache TTL it is processed again.
func TestDuplicateFromCache(t *testing.T) {
	e := newEnv(t)
	l := e.newLM()
	s := e.lmServer(lm1, l, LMServerConfig{ServerConfig: ServerConfig{ReplyCacheTTL: 10 * time.Second}})
	m := e.attach(mr11)
	bu := &mh.BindingUpdate{Sequence: 7, Flags: mh.BUFlagA | mh.BUFlagP | mh.BUFlagD, Lifetime: 30}
	bu.Options = mh.Options{mh.NewNAI("mn1"), mh.NewHNP(hnp1), mh.NewTimestamp(t0), &mh.ServingMAAR{Address: mr11}, mh.NewPreviousMAAR(mr12, hnp1)}
	first := marshal(t, bu)
	a1 := sendRaw(t, e, m, lm1, first).(*mh.BindingAck)
	if a1.Status != 0 {
		t.Fatalf("first: status %d", a1.Status)
	}
	// MN1 moves on: MR2's newer update.
	e.clk.Advance(time.Second)
	if err := NewLMClient(e.requester(mr2, RequesterConfig{}), lm1).Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr2, mr12, time.Minute); err != nil {
		t.Fatal(err)
	}
	rev := mustRecord(t, e, l).Revision
	// The retransmission of the first PBU.
	a2 := sendRaw(t, e, m, lm1, first)
	if !bytes.Equal(marshal(t, a2), marshal(t, a1)) {
		t.Errorf("retransmission answered differently: %+v vs %+v", a2, a1)
	}
	if st := s.Stats(); st.FromCache != 1 {
		t.Errorf("stats %+v, want one answer from the cache", st)
	}
	if r := mustRecord(t, e, l); r.Revision != rev || r.CurrentMR != mr2 {
		t.Errorf("the retransmission reached the LM: %+v", r)
	}
	// Past the TTL the first PBU is processed again: stale now.
	e.clk.Advance(9 * time.Second)
	if a := sendRaw(t, e, m, lm1, first).(*mh.BindingAck); a.Status != mh.StatusSequenceOutOfWindow {
		t.Errorf("after the TTL: status %d, want 135", a.Status)
	}
	// Same Sequence # but other octets: a new request, processed (stale).
	bu.Options[2] = mh.NewTimestamp(t0.Add(time.Millisecond))
	if a := sendRaw(t, e, m, lm1, marshal(t, bu)).(*mh.BindingAck); a.Status != mh.StatusSequenceOutOfWindow {
		t.Errorf("same seq, other content: status %d, want 135", a.Status)
	}
	if st := s.Stats(); st.FromCache != 1 || st.Received != 5 || st.Answered != 5 {
		t.Errorf("stats %+v", st)
	}
	// Location Queries are cached too (same source and Sequence #).
	q := &mh.LocationQuery{Sequence: 7}
	q.Options = mh.Options{mh.NewQueryByPrefix(hnp1)}
	qb := marshal(t, q)
	r1 := marshal(t, sendRaw(t, e, m, lm1, qb))
	e.clk.Advance(time.Second) // the lifetime left changes...
	r2 := marshal(t, sendRaw(t, e, m, lm1, qb))
	if !bytes.Equal(r1, r2) || s.Stats().FromCache != 2 {
		t.Errorf("repeated query not answered from the cache: %x vs %x", r1, r2)
	}
}

func mustRecord(t *testing.T, e *env, l *lm.LM) lm.Record {
	t.Helper()
	r, err := l.QueryPrefix(e.ctx, hnp1)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReplyCacheBound: the cache keeps at most its size, oldest out
// first, and a replaced key does not grow it.
func TestReplyCacheBound(t *testing.T) {
	c := newReplyCache(3, time.Minute)
	key := func(i int) replyKey { return replyKey{src: mr11, typ: 5, seq: uint16(i)} }
	for i := range 5 {
		c.put(key(i), []byte{byte(i)}, []byte{byte(i), 1}, t0)
	}
	if c.len() != 3 {
		t.Fatalf("%d entries, want 3", c.len())
	}
	for i := range 5 {
		_, ok := c.get(key(i), []byte{byte(i)}, t0)
		if ok != (i >= 2) {
			t.Errorf("key %d cached %v", i, ok)
		}
	}
	for range 1000 {
		c.put(key(4), []byte{4}, []byte{4, 2}, t0)
	}
	if c.len() != 3 || len(c.order) > 4*3+16 {
		t.Errorf("%d entries, %d slots after replacing one key", c.len(), len(c.order))
	}
	if r, ok := c.get(key(4), []byte{4}, t0); !ok || r[1] != 2 {
		t.Errorf("replaced entry: %v %v", r, ok)
	}
	if _, ok := c.get(key(4), []byte{4}, t0.Add(time.Minute)); ok {
		t.Errorf("entry served past its TTL")
	}
	// Off: nothing kept.
	off := newReplyCache(0, time.Minute)
	off.put(key(1), nil, nil, t0)
	if _, ok := off.get(key(1), nil, t0); ok || off.len() != 0 {
		t.Errorf("disabled cache kept an entry")
	}
}

// TestConcurrentClients: many goroutines share one requester; every call
// gets its own answer.
func TestConcurrentClients(t *testing.T) {
	e := newEnv(t)
	e.lmServer(lm1, nil, LMServerConfig{})
	e.haaServer(haa1, nil, ServerConfig{})
	r := e.requester(mr12, RequesterConfig{})
	lc, hc := NewLMClient(r, lm1), NewHAAClient(r, haa1)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			mn := fmt.Sprintf("mn%d", i)
			hs, err := hc.Allocate(e.ctx, mn)
			if err != nil {
				errs <- err
				return
			}
			if err := lc.Update(e.ctx, mn, []netip.Prefix{hs[0].Prefix}, mr12, hs[0].AnchorMR, time.Minute); err != nil {
				errs <- err
				return
			}
			ls, err := lc.Query(e.ctx, QueryMN(mn))
			if err != nil || len(ls) != 1 || ls[0].Prefix != hs[0].Prefix {
				errs <- fmt.Errorf("%s: %+v %v, want %v", mn, ls, err, hs[0].Prefix)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// QueryMany: the 40 nodes and one unknown.
	qs := []Query{QueryMN("mn0"), QueryMN("nobody"), QueryAddress(netip.MustParseAddr("2001:db8:12:100::1"))}
	rs, err := lc.QueryMany(e.ctx, qs)
	if err != nil || len(rs) != 3 {
		t.Fatalf("QueryMany: %v %v", rs, err)
	}
	if rs[0].Err != nil || len(rs[0].Locations) != 1 || !errors.Is(rs[1].Err, ErrLocationUnknown) || rs[2].Err != nil || rs[2].Locations[0].Prefix != netip.MustParsePrefix("2001:db8:12:100::/64") {
		t.Errorf("QueryMany: %+v", rs)
	}
	if r.Pending() != 0 {
		t.Errorf("%d pending", r.Pending())
	}
}

// TestCancelAndClose: a cancelled call returns ctx's error and stops
// retransmitting; Close fails the pending calls with ErrClosed.
func TestCancelAndClose(t *testing.T) {
	e := newEnv(t)
	r := e.requester(mr31, RequesterConfig{})
	c := NewLMClient(r, lm1)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() {
		_, err := c.Query(ctx, QueryPrefix(hnp1))
		done <- err
	}()
	e.waitPackets(1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("%v, want context.Canceled", err)
	}
	e.clk.Advance(time.Minute)
	time.Sleep(10 * time.Millisecond)
	if n := len(e.packets()); n != 1 || r.Pending() != 0 {
		t.Errorf("%d transmissions, %d pending after cancel", n, r.Pending())
	}

	go func() {
		_, err := c.Query(e.ctx, QueryPrefix(hnp1))
		done <- err
	}()
	e.waitPackets(2)
	r.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("%v, want ErrClosed", err)
	}
	if _, err := c.Query(e.ctx, QueryPrefix(hnp1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	// An invalid query is refused without sending.
	r2 := e.requester(mr11, RequesterConfig{})
	var qe *QueryError
	if _, err := NewLMClient(r2, lm1).Query(e.ctx, QueryAddress(netip.MustParseAddr("192.0.2.1"))); !errors.As(err, &qe) || qe.Status != mh.DMMStatusInvalidRequest {
		t.Errorf("IPv4 query: %v", err)
	}
	if n := len(e.packets()); n != 2 {
		t.Errorf("%d packets, the invalid query was sent", n)
	}
}

// TestExternalReceive: an owner that reads the transport itself hands the
// answers to Deliver.
func TestExternalReceive(t *testing.T) {
	e := newEnv(t)
	e.lmServer(lm1, nil, LMServerConfig{})
	tr := e.attach(mr2)
	r, err := NewRequester(tr, RequesterConfig{Clock: e.clk, ExternalReceive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	taken := make(chan bool, 4)
	go func() {
		ps := make([]transport.Packet, 4)
		for {
			n, err := tr.Receive(ps)
			if err != nil {
				return
			}
			for _, p := range ps[:n] {
				taken <- r.Deliver(p)
			}
		}
	}()
	if err := NewLMClient(r, lm1).Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr2, mr12, time.Minute); err != nil {
		t.Fatal(err)
	}
	if !<-taken {
		t.Error("Deliver did not take the PBA")
	}
	// A PBU (not an answer) and a stray PBA are not taken.
	if r.Deliver(transport.Packet{Src: lm1, Data: marshal(t, &mh.BindingUpdate{Sequence: 1})}) {
		t.Error("Deliver took a PBU")
	}
	if r.Deliver(transport.Packet{Src: lm1, Data: marshal(t, &mh.BindingAck{Sequence: 1})}) {
		t.Error("Deliver took a PBA nobody waits for")
	}
}
