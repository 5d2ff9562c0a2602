package wire

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/mh"
)

// errSummary renders what callers may rely on in an error: its kind and
// status.
func errSummary(err error) string {
	var qe *QueryError
	var re *RejectError
	switch {
	case err == nil:
		return "nil"
	case errors.As(err, &qe):
		return fmt.Sprintf("QueryError %d unknown=%v", qe.Status, errors.Is(err, ErrLocationUnknown))
	case errors.As(err, &re):
		return fmt.Sprintf("RejectError %d", re.Status)
	}
	return "other: " + err.Error()
}

// TestLocalLMMatchesClient: the in-process LocationService answers as the
// client over the server does (an MR co-located with LM1 behaves like a
// remote one).
func TestLocalLMMatchesClient(t *testing.T) {
	e := newEnv(t)
	l := e.newLM()
	e.lmServer(lm1, l, LMServerConfig{})
	services := []struct {
		name string
		svc  LocationService
	}{
		{"remote", NewLMClient(e.requester(mr11, RequesterConfig{}), lm1)},
		{"local", &LocalLM{LM: l, Clock: e.clk}},
	}
	p2 := netip.MustParsePrefix("2001:db8:2:100::/64")
	type step struct {
		name string
		do   func(s LocationService) (any, error)
	}
	steps := []step{
		{"update at attachment", func(s LocationService) (any, error) {
			return nil, s.Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr12, mr12, 2*time.Minute)
		}},
		{"query prefix", func(s LocationService) (any, error) { return s.Query(e.ctx, QueryPrefix(hnp1)) }},
		{"update after movement", func(s LocationService) (any, error) {
			return nil, s.Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr2, mr12, time.Minute)
		}},
		{"new prefix at MR2", func(s LocationService) (any, error) {
			return nil, s.Update(e.ctx, "mn1", []netip.Prefix{p2}, mr2, mr2, time.Minute)
		}},
		{"query address", func(s LocationService) (any, error) { return s.Query(e.ctx, QueryAddress(hnp1.Addr().Next())) }},
		{"query MN", func(s LocationService) (any, error) { return s.Query(e.ctx, QueryMN("mn1")) }},
		{"query unknown", func(s LocationService) (any, error) { return s.Query(e.ctx, QueryPrefix(hnp2)) }},
		{"query unknown MN", func(s LocationService) (any, error) { return s.Query(e.ctx, QueryMN("nobody")) }},
		{"query IPv4-mapped", func(s LocationService) (any, error) {
			return s.Query(e.ctx, QueryAddress(netip.MustParseAddr("::ffff:192.0.2.1")))
		}},
		{"batch", func(s LocationService) (any, error) {
			rs, err := s.QueryMany(e.ctx, []Query{QueryMN("mn1"), QueryPrefix(hnp2), QueryAddress(p2.Addr())})
			var out []string
			for _, r := range rs {
				out = append(out, fmt.Sprintf("%+v %s", r.Locations, errSummary(r.Err)))
			}
			return out, err
		}},
		{"other anchor", func(s LocationService) (any, error) {
			return nil, s.Update(e.ctx, "mn1", []netip.Prefix{hnp1}, mr2, mr31, time.Minute)
		}},
		{"other node", func(s LocationService) (any, error) {
			return nil, s.Update(e.ctx, "mn2", []netip.Prefix{hnp1}, mr2, mr12, time.Minute)
		}},
		{"withdraw", func(s LocationService) (any, error) {
			return nil, s.Update(e.ctx, "mn1", []netip.Prefix{hnp1, p2}, mr2, mr12, 0)
		}},
		{"query withdrawn", func(s LocationService) (any, error) { return s.Query(e.ctx, QueryPrefix(hnp1)) }},
	}
	// Each service runs the steps on a fresh store state at the same
	// times, then the results are compared.
	results := map[string][]string{}
	for _, sv := range services {
		for _, st := range steps {
			e.clk.Advance(time.Second)
			v, err := st.do(sv.svc)
			results[sv.name] = append(results[sv.name], fmt.Sprintf("%s: %+v %s", st.name, v, errSummary(err)))
		}
		// Reset: withdraw everything left (MR2's prefix was withdrawn with
		// MR12's anchor: refused, so clear it with the right one).
		if err := sv.svc.Update(e.ctx, "mn1", []netip.Prefix{p2}, mr2, mr2, 0); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Second)
	}
	for i := range steps {
		r, l := results["remote"][i], results["local"][i]
		if r != l {
			t.Errorf("step %d:\n remote %s\n local  %s", i, r, l)
		}
	}
	// Spot-check the content so that agreement is not agreement on nothing.
	wantSome := map[int]string{
		1:  fmt.Sprintf("query prefix: [{Prefix:%v AnchorMR:%v CurrentMR:%v Lifetime:1m59s}] nil", hnp1, mr12, mr12),
		6:  "query unknown: [] QueryError 131 unknown=true",
		8:  "query IPv4-mapped: [] QueryError 132 unknown=false",
		10: "other anchor: <nil> RejectError 155",
		12: "withdraw: <nil> RejectError 155",
		13: "query withdrawn: [] QueryError 131 unknown=true",
	}
	for i, w := range wantSome {
		if got := results["local"][i]; got != w {
			t.Errorf("step %d: %s\n want %s", i, got, w)
		}
	}
}

// TestLocalHAAMatchesClient: LocalHAA answers as HAAClient over
// HAAServer (but with per-prefix lifetimes in Holdings).
func TestLocalHAAMatchesClient(t *testing.T) {
	e := newEnv(t)
	h := e.newHAA(haa.Config{})
	e.haaServer(haa1, h, ServerConfig{})
	remote := NewHAAClient(e.requester(mr12, RequesterConfig{}), haa1)
	remote.Lifetime = 8 * time.Minute
	local := &LocalHAA{HAA: h, MR: mr2, Lifetime: 8 * time.Minute, Clock: e.clk}
	var _ AddressAllocator = local

	a, err := remote.Allocate(e.ctx, "mn1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := local.Allocate(e.ctx, "mn1")
	if err != nil {
		t.Fatal(err)
	}
	p12, p2 := netip.MustParsePrefix("2001:db8:12:100::/64"), netip.MustParsePrefix("2001:db8:2:100::/64")
	if a[0] != (Holding{Prefix: p12, AnchorMR: mr12, Lifetime: 8 * time.Minute}) || b[0] != (Holding{Prefix: p2, AnchorMR: mr2, Lifetime: 8 * time.Minute}) {
		t.Fatalf("allocations %+v %+v", a, b)
	}
	e.clk.Advance(time.Minute)
	hr, err1 := remote.Holdings(e.ctx, "mn1")
	hl, err2 := local.Holdings(e.ctx, "mn1")
	if err1 != nil || err2 != nil || len(hr) != 2 || len(hl) != 2 {
		t.Fatalf("holdings %+v %v / %+v %v", hr, err1, hl, err2)
	}
	for i := range hr {
		if hr[i].Prefix != hl[i].Prefix || hr[i].AnchorMR != hl[i].AnchorMR || hr[i].Lifetime != 7*time.Minute || hl[i].Lifetime != 7*time.Minute {
			t.Errorf("holding %d: remote %+v, local %+v", i, hr[i], hl[i])
		}
	}
	// Exhaustion (MR2's pool has two prefixes) and release errors.
	if _, err := local.Allocate(e.ctx, "mn2"); err != nil {
		t.Fatal(err)
	}
	_, err = local.Allocate(e.ctx, "mn3")
	if got := errSummary(err); got != fmt.Sprintf("RejectError %d", mh.StatusInsufficientResources) || !errors.Is(err, haa.ErrPoolExhausted) {
		t.Errorf("local exhaustion: %v", err)
	}
	errR := remote.Release(e.ctx, "mn2", p2)
	errL := local.Release(e.ctx, "mn2", p12)
	if errSummary(errR) != "RejectError 155" || errSummary(errL) != "RejectError 155" {
		t.Errorf("release of another node's prefix: remote %v, local %v", errR, errL)
	}
	if err := local.Release(e.ctx, "mn1", p12, p2); err != nil {
		t.Fatal(err)
	}
	if hs, err := remote.Holdings(e.ctx, "mn1"); err != nil || len(hs) != 0 {
		t.Errorf("after release: %+v %v", hs, err)
	}
}
