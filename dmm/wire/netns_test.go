package wire

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/transport"
)

// TestNetns: an LM server (and an HAA server on its own address) in one
// network namespace answer an MR's clients in another, over raw
// IPPROTO_MH sockets (the kernel fills and checks the MH checksum).
func TestNetns(t *testing.T) {
	lmNS := netnstest.New(t, "lm")
	mrNS := netnstest.New(t, "mr")
	netnstest.Veth(t, lmNS, "v-lm", mrNS, "v-mr")
	lmAddr := netip.MustParseAddr("2001:db8:ff::a")
	haaAddr := netip.MustParseAddr("2001:db8:ff::b")
	mrAddr := netip.MustParseAddr("2001:db8:ff::31")
	lmNS.IP("addr", "add", lmAddr.String()+"/64", "dev", "v-lm", "nodad")
	lmNS.IP("addr", "add", haaAddr.String()+"/64", "dev", "v-lm", "nodad")
	mrNS.IP("addr", "add", mrAddr.String()+"/64", "dev", "v-mr", "nodad")

	listen := func(ns *netnstest.NS, a netip.Addr) *transport.Raw {
		t.Helper()
		var r *transport.Raw
		if err := ns.Do(func() error {
			var err error
			r, err = transport.ListenRaw(a, transport.RawOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}

	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	l, err := lm.New(st, nil, lm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := haa.New(st, nil, haa.Config{Pools: []haa.PoolConfig{{MR: mrAddr, Prefix: netip.MustParsePrefix("2001:db8:31:100::/56")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lmSrv, err := NewLMServer(listen(lmNS, lmAddr), l, LMServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	haaSrv, err := NewHAAServer(listen(lmNS, haaAddr), h, ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	go lmSrv.Serve(ctx)
	go haaSrv.Serve(ctx)

	r, err := NewRequester(listen(mrNS, mrAddr), RequesterConfig{InitialTimeout: 100 * time.Millisecond, Attempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lc, hc := NewLMClient(r, lmAddr), NewHAAClient(r, haaAddr)
	qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
	defer qcancel()

	// §4.1 at MR31: allocation, then the location update.
	hs, err := hc.Allocate(qctx, "mn2@example.net")
	if err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix("2001:db8:31:100::/64")
	if len(hs) != 1 || hs[0].Prefix != p || hs[0].AnchorMR != mrAddr {
		t.Fatalf("allocation %+v", hs)
	}
	if err := lc.Update(qctx, "mn2@example.net", []netip.Prefix{p}, mrAddr, mrAddr, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Figure 3 steps 2-3.
	locs, err := lc.Query(qctx, QueryAddress(netip.MustParseAddr("2001:db8:31:100::5")))
	if err != nil {
		t.Fatal(err)
	}
	if len(locs) != 1 || locs[0].Prefix != p || locs[0].AnchorMR != mrAddr || locs[0].CurrentMR != mrAddr ||
		locs[0].Lifetime < 58*time.Second || locs[0].Lifetime > time.Minute {
		t.Fatalf("locations %+v", locs)
	}
	if _, err := lc.Query(qctx, QueryMN("nobody")); !errors.Is(err, ErrLocationUnknown) {
		t.Fatalf("unknown node: %v", err)
	}
	if st := lmSrv.Stats(); st.Received != 3 || st.Answered != 3 {
		t.Errorf("LM server stats %+v", st)
	}
	// The LM's view (what MR31 registered) matches what it answered.
	rec, err := l.QueryPrefix(ctx, p)
	if err != nil || rec.MNID != "mn2@example.net" || rec.CurrentMR != mrAddr {
		t.Errorf("LM record %+v %v", rec, err)
	}
	// Nobody at an address: a typed timeout after the attempts.
	lost := NewLMClient(r, netip.MustParseAddr("2001:db8:ff::99"))
	start := time.Now()
	_, err = lost.Query(qctx, QueryPrefix(p))
	var te *TimeoutError
	if !errors.As(err, &te) || te.Attempts != 5 {
		t.Fatalf("query to nobody: %v", err)
	}
	// Waits of 0.1, 0.2, 0.4, 0.8, 1.6 s.
	if d := time.Since(start); d < 3100*time.Millisecond || d > 5*time.Second {
		t.Errorf("timeout after %v, want about 3.1 s", d)
	}
}
