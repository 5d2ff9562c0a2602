package bench

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

var testDMMServer = netip.MustParseAddr("2001:db8:d::1")

// inProcDMM serves an LM or an HAA (memory store) on an in-memory
// network; the HAA has one /48 pool per MR, 2001:db8:e<i>::/48.
func inProcDMM(t *testing.T, target string, mrs int) *transport.Network {
	t.Helper()
	n := transport.NewNetwork()
	tr, err := n.Attach(testDMMServer)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.New()
	st := store.NewMemory(store.WithClock(clk))
	t.Cleanup(func() { st.Close() })
	var serve func(context.Context) error
	if target == TargetLM {
		l, err := lm.New(st, clk, lm.Config{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := wire.NewLMServer(tr, l, wire.LMServerConfig{ServerConfig: wire.ServerConfig{Clock: clk}})
		if err != nil {
			t.Fatal(err)
		}
		serve = s.Serve
	} else {
		var pools []haa.PoolConfig
		for i := range mrs {
			pools = append(pools, haa.PoolConfig{MR: testMAG(i), Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xe0, byte(i)}), 48)})
		}
		h, err := haa.New(st, clk, haa.Config{Pools: pools})
		if err != nil {
			t.Fatal(err)
		}
		s, err := wire.NewHAAServer(tr, h, wire.ServerConfig{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		serve = s.Serve
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		tr.Close()
		if err := <-done; err != nil && err != context.Canceled {
			t.Errorf("Serve: %v", err)
		}
	})
	return n
}

func TestDMMLoad(t *testing.T) {
	cases := []struct {
		name string
		cfg  DMMLoadConfig
		// operations that must have been answered at least once
		want []DMMOp
	}{
		{"LM default mix", DMMLoadConfig{Target: TargetLM, MNs: 300, Count: 5000, Window: 64},
			[]DMMOp{OpLMUpdate, OpLMMove, OpQueryAddress, OpQueryPrefix, OpQueryMNID}},
		{"LM move storm", DMMLoadConfig{Target: TargetLM, MNs: 100, Count: 3000, Window: 32,
			Mix: DMMMix{Move: 60, QueryMNID: 20, QueryAddr: 20}}, []DMMOp{OpLMMove, OpQueryMNID, OpQueryAddress}},
		{"LM paced", DMMLoadConfig{Target: TargetLM, MNs: 100, Duration: 300 * time.Millisecond, Rate: 2000, Window: 16},
			[]DMMOp{OpLMUpdate}},
		{"HAA default mix", DMMLoadConfig{Target: TargetHAA, MNs: 300, Count: 5000, Window: 64},
			[]DMMOp{OpHAAAllocate, OpHAAHoldings}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const mrs = 4
			n := inProcDMM(t, c.cfg.Target, mrs)
			cfg := c.cfg
			cfg.Server = testDMMServer
			cfg.MRs = magTransports(t, n, mrs)
			cfg.Seed = 3
			rep, err := DMMLoad(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var ops OpCounts
			for _, o := range rep.Ops {
				ops.Sent += o.Sent
				ops.Answered += o.Answered
				ops.Timeouts += o.Timeouts
			}
			if rep.Sent != rep.Answered+rep.Timeouts || ops != (OpCounts{rep.Sent, rep.Answered, rep.Timeouts}) {
				t.Fatalf("inconsistent counts: %+v ops %+v", rep.LoadReport, ops)
			}
			if rep.Timeouts != 0 || rep.Unmatched != 0 || rep.SendErrors != 0 || rep.Rejected != 0 || rep.Wrong != 0 {
				t.Fatalf("timeouts %d unmatched %d send errors %d rejected %d wrong %d (%s); status %+v",
					rep.Timeouts, rep.Unmatched, rep.SendErrors, rep.Rejected, rep.Wrong, rep.WrongExample, rep.Status)
			}
			if cfg.Count > 0 && rep.Sent != cfg.Count {
				t.Fatalf("sent %d for a count of %d", rep.Sent, cfg.Count)
			}
			if cfg.Rate > 0 && (rep.Sent < 400 || rep.Sent > 700) {
				t.Fatalf("paced at 2000/s for 300 ms sent %d", rep.Sent)
			}
			// The status histogram, exactly: every PBA and every Location
			// Reply accepted (0).
			var pba, lr uint64
			for _, o := range []DMMOp{OpLMUpdate, OpLMMove, OpHAAAllocate, OpHAAHoldings} {
				pba += rep.Ops[o.String()].Answered
			}
			for _, o := range []DMMOp{OpQueryAddress, OpQueryPrefix, OpQueryMNID} {
				lr += rep.Ops[o.String()].Answered
			}
			var want []StatusCount
			if lr > 0 {
				want = append(want, StatusCount{Code: 0, Name: mh.DMMStatus(0).String(), Count: lr, Message: "Location Reply"})
			}
			if pba > 0 {
				want = append(want, StatusCount{Code: 0, Name: mh.Status(0).String(), Count: pba, Message: "PBA"})
			}
			if len(rep.Status) != len(want) {
				t.Fatalf("status %+v, want %+v", rep.Status, want)
			}
			for i := range want {
				if rep.Status[i] != want[i] {
					t.Fatalf("status %+v, want %+v", rep.Status, want)
				}
			}
			for _, o := range c.want {
				if rep.Ops[o.String()].Answered == 0 {
					t.Fatalf("no %s answered: %+v", o, rep.Ops)
				}
			}
			if rep.Latency.Count != rep.Answered || rep.Latency.Max <= 0 {
				t.Fatalf("latency %+v for %d answers", rep.Latency, rep.Answered)
			}
		})
	}
}

func TestDMMLoadTimeouts(t *testing.T) {
	n := transport.NewNetwork()
	// A server address that is attached but never answers.
	sink, err := n.Attach(testDMMServer)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	cfg := DMMLoadConfig{Target: TargetLM, Server: testDMMServer, MRs: magTransports(t, n, 2), MNs: 20, Count: 50, Window: 10,
		Timeout: 50 * time.Millisecond}
	rep, err := DMMLoad(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 50 || rep.Timeouts != 50 || rep.Answered != 0 || len(rep.Status) != 0 || rep.Ops["update"].Timeouts != 50 {
		t.Fatalf("against a silent server: %+v", rep.LoadReport)
	}
}

// TestDMMCheck: the answer checks flag what contradicts the generator's
// own requests.
func TestDMMCheck(t *testing.T) {
	mr0, mr1 := testMAG(0), testMAG(1)
	pfx := netip.MustParsePrefix("2001:db8:f000:5::/64")
	other := netip.MustParsePrefix("2001:db8:f000:6::/64")
	r := &dmmRun{nais: [][]byte{[]byte("mn0@x")}, mns: []dmmMN{{pfx: pfx, mr: 1, anchor: 0, known: true}},
		peers: []*dmmPeer{{idx: 0, addr: mr0}, {idx: 1, addr: mr1}}}
	lr := func(rls ...*mh.RoutingLocation) mh.Message {
		m := &mh.LocationReply{}
		for _, rl := range rls {
			m.Options = append(m.Options, rl)
		}
		return m
	}
	pba := func(opts ...mh.Option) mh.Message { m := &mh.BindingAck{}; m.Options = opts; return m }
	cases := []struct {
		name  string
		op    DMMOp
		msg   mh.Message
		wrong bool
	}{
		{"location as updated", OpQueryPrefix, lr(mh.NewRoutingLocation(pfx, mr0, mr1, 60)), false},
		{"among others", OpQueryMNID, lr(mh.NewRoutingLocation(other, mr0, mr0, 60), mh.NewRoutingLocation(pfx, mr0, mr1, 60)), false},
		{"stale current MR", OpQueryAddress, lr(mh.NewRoutingLocation(pfx, mr0, mr0, 60)), true},
		{"wrong anchor", OpQueryAddress, lr(mh.NewRoutingLocation(pfx, mr1, mr1, 60)), true},
		{"other prefix", OpQueryPrefix, lr(mh.NewRoutingLocation(other, mr0, mr1, 60)), true},
		{"no location", OpQueryMNID, lr(), true},
		{"update echo", OpLMUpdate, pba(mh.NewHNP(pfx)), false},
		{"update other prefix", OpLMMove, pba(mh.NewHNP(other)), true},
		{"holdings with anchor", OpHAAHoldings, pba(mh.NewHNP(pfx), mh.NewPreviousMAAR(mr1, pfx)), false},
		{"holdings wrong anchor", OpHAAHoldings, pba(mh.NewHNP(pfx), mh.NewPreviousMAAR(mr0, pfx)), true},
		{"holdings without it", OpHAAHoldings, pba(mh.NewHNP(other), mh.NewPreviousMAAR(mr1, other)), true},
		{"refresh same prefix", OpHAAAllocate, pba(mh.NewHNP(pfx)), false},
		{"refresh new prefix", OpHAAAllocate, pba(mh.NewHNP(other)), true},
	}
	for _, c := range cases {
		got, _ := r.check(dmmInflight{op: c.op}, c.msg)
		if (got != "") != c.wrong {
			t.Errorf("%s: check says %q, want wrong=%v", c.name, got, c.wrong)
		}
	}
}
