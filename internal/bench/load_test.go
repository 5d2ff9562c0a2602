package bench

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

func sumOps(rep *LoadReport) (s OpCounts) {
	for _, c := range rep.Ops {
		s.Sent += c.Sent
		s.Answered += c.Answered
		s.Timeouts += c.Timeouts
	}
	return s
}

func TestLoadAgainstLMA(t *testing.T) {
	cases := []struct {
		name string
		cfg  LoadConfig
	}{
		{"timestamp HI=3 window", LoadConfig{MNs: 300, Count: 6000, Window: 64}},
		{"timestamp HI=4 storm", LoadConfig{MNs: 200, Count: 4000, Window: 64, HandoverHI: mh.HIHandoffStateUnknown,
			Mix: Mix{Reregister: 10, Handover: 80, Deregister: 10}}},
		{"sequence HI=4", LoadConfig{MNs: 200, Count: 4000, Window: 32, Sequence: true, HandoverHI: mh.HIHandoffStateUnknown,
			Mix: Mix{Reregister: 30, Handover: 60, Deregister: 10}}},
		{"paced", LoadConfig{MNs: 100, Duration: 300 * time.Millisecond, Rate: 3000, Window: 16}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, l := inProcLMA(t, nil)
			cfg := c.cfg
			cfg.LMA = testLMA
			cfg.MAGs = magTransports(t, n, 4)
			cfg.Seed = 7
			rep, err := Load(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			ops := sumOps(rep)
			if rep.Sent != rep.Answered+rep.Timeouts || ops.Sent != rep.Sent || ops.Answered != rep.Answered {
				t.Fatalf("inconsistent counts: %+v ops %+v", rep, ops)
			}
			if rep.Timeouts != 0 || rep.Unmatched != 0 || rep.SendErrors != 0 || rep.Rejected != 0 {
				t.Fatalf("timeouts %d unmatched %d send errors %d rejected %d; status %+v", rep.Timeouts, rep.Unmatched, rep.SendErrors, rep.Rejected, rep.Status)
			}
			if cfg.Count > 0 && (rep.Sent < cfg.Count || rep.Sent > cfg.Count+uint64(cfg.MNs)) {
				t.Fatalf("sent %d for a count of %d", rep.Sent, cfg.Count)
			}
			if cfg.Rate > 0 {
				// 3000/s for 0.3 s: about 900 (the bucket allows a 5 ms burst).
				if rep.Sent < 600 || rep.Sent > 1000 {
					t.Fatalf("paced at 3000/s for 300 ms sent %d", rep.Sent)
				}
			}
			if rep.Latency.Count != rep.Answered || rep.Latency.P50 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.Max || rep.Latency.Min > rep.Latency.P50 {
				t.Fatalf("latency %+v for %d answers", rep.Latency, rep.Answered)
			}
			for _, op := range []Op{OpRegister, OpReregister, OpDeregister} {
				if rep.Ops[op.String()].Sent == 0 && cfg.Rate == 0 {
					t.Errorf("no %s sent: %+v", op, rep.Ops)
				}
			}
			if cfg.HandoverHI == mh.HIHandoffStateUnknown && rep.Ops[OpHandoverDereg.String()].Answered == 0 {
				t.Errorf("HI=4 storm without de-registrations by the old MAG: %+v", rep.Ops)
			}
			// The LMA answered every PBU it got, and everything is
			// de-registered after the cleanup.
			ctr, err := l.Counters(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ctr.PBA[mh.StatusAccepted], rep.Answered+rep.Cleanup.Answered; got != want {
				t.Errorf("LMA sent %d accepted PBAs, the generator counted %d", got, want)
			}
			if rep.Cleanup.Sent != rep.Cleanup.Answered {
				t.Errorf("cleanup %+v", rep.Cleanup)
			}
			bs, _ := l.Bindings(context.Background())
			for _, b := range bs {
				if b.State == lma.StateActive {
					t.Fatalf("binding of %s still active after the cleanup", b.MN)
				}
			}
		})
	}
}

// lossy drops every n-th packet it sends (the send still succeeds).
type lossy struct {
	transport.Transport
	n, k atomic.Int64
}

func (l *lossy) Send(dst netip.Addr, b []byte) error {
	if l.k.Add(1)%l.n.Load() == 0 {
		return nil
	}
	return l.Transport.Send(dst, b)
}

func TestLoadCountsTimeouts(t *testing.T) {
	n, _ := inProcLMA(t, nil)
	var mags []transport.Transport
	for _, m := range magTransports(t, n, 2) {
		l := &lossy{Transport: m}
		l.n.Store(10)
		mags = append(mags, l)
	}
	rep, err := Load(context.Background(), LoadConfig{LMA: testLMA, MAGs: mags, MNs: 50, Count: 1000, Window: 20,
		Timeout: 50 * time.Millisecond, NoCleanup: true, Mix: Mix{Reregister: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != rep.Answered+rep.Timeouts {
		t.Fatalf("sent %d != answered %d + timeouts %d", rep.Sent, rep.Answered, rep.Timeouts)
	}
	// Every 10th PBU is lost: about 100 of 1000.
	if rep.Timeouts < 80 || rep.Timeouts > 120 {
		t.Fatalf("%d timeouts for 1000 PBUs with 10 %% loss", rep.Timeouts)
	}
	if rep.Latency.Count != rep.Answered {
		t.Fatalf("latency samples %d, answers %d", rep.Latency.Count, rep.Answered)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for _, c := range []LoadConfig{
		{},
		{LMA: testLMA},
		{LMA: testLMA, MAGs: []transport.Transport{nil}},
		{LMA: testLMA, MAGs: []transport.Transport{nil}, Count: 1, HandoverHI: 2},
		{LMA: testLMA, MAGs: []transport.Transport{nil}, Count: 1, Window: 1 << 16},
	} {
		if _, err := Load(context.Background(), c); err == nil {
			t.Errorf("Load(%+v) accepted", c)
		}
	}
}

func TestPBUBuilderNoAlloc(t *testing.T) {
	b := newPBUBuilder()
	buf := make([]byte, slotSize)
	f := pbuFields{seq: 1, lifetime: 10, nai: []byte("mn1@x"), hi: 1, att: 4, ts: 12345}
	allocs := testing.AllocsPerRun(100, func() {
		f.seq++
		if _, err := b.build(buf, &f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("build allocates %v times", allocs)
	}
	out, _ := b.build(buf, &f)
	m, err := mh.ParseBindingUpdate(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := mh.ValidatePBU(m); err != nil {
		t.Fatalf("built PBU invalid: %v", err)
	}
	if ts, ok := mh.Find[*mh.Timestamp](m.Options); !ok || ts.Value != 12345 || m.Sequence != f.seq {
		t.Fatalf("built PBU %+v", m)
	}
}
