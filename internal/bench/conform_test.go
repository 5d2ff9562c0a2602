package bench

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

const (
	unknownMN  = "stranger@conform"
	disabledMN = "noproxy@conform"
)

func conformMNs(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("conf%d@conform", i))
	}
	return out
}

// conformLMA runs the project's LMA configured for the whole catalogue:
// two authorised MAGs, a third one not authorised, a list of MNs, one MN
// without network-based mobility.
func conformLMA(t *testing.T) (*transport.Network, *lma.LMA, []string) {
	mns := conformMNs(80)
	n, l := inProcLMA(t, func(c *lma.Config) {
		c.DefaultMN = nil
		c.MNs = map[string]lma.MNPolicy{disabledMN: {ProxyDisabled: true}}
		for _, m := range mns {
			c.MNs[m] = lma.MNPolicy{}
		}
		c.MAGs = map[netip.Addr]lma.MAGPolicy{testMAG(0): {}, testMAG(1): {}}
	})
	return n, l, mns
}

func conformTarget(t *testing.T, n *transport.Network, l *lma.LMA, mns []string, wrap func(i int, tr transport.Transport) transport.Transport) Target {
	mags := magTransports(t, n, 3)
	if wrap != nil {
		for i := range mags {
			mags[i] = wrap(i, mags[i])
		}
	}
	return Target{
		LMA: testLMA, MAGs: mags[:2], UnauthorizedMAG: mags[2], MNIDs: mns,
		UnknownMN: unknownMN, ProxyDisabledMN: disabledMN,
		SilenceWait: 300 * time.Millisecond, ReplyTimeout: 500 * time.Millisecond,
		RevokeHook: func(ctx context.Context, mn string, hnp netip.Prefix) error {
			_, err := l.Revoke(ctx, mn, hnp, mh.TriggerAdministrativeReason)
			return err
		},
	}
}

func describe(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] %s: %s %v\n", r.ID, r.Section, r.Verdict, r.Reason, r.Notes)
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "    %s %s > %s %s\n", e.Dir, e.From, e.To, e.Summary)
	}
	return b.String()
}

func TestConformanceAgainstLMA(t *testing.T) {
	n, l, mns := conformLMA(t)
	tg := conformTarget(t, n, l, mns, nil)
	res, err := Conformance(context.Background(), tg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(Catalogue()) {
		t.Fatalf("%d results for %d checks", len(res), len(Catalogue()))
	}
	for _, r := range res {
		if r.Verdict != Pass {
			t.Errorf("%s", describe(r))
		}
		if len(r.Evidence) == 0 {
			t.Errorf("%s: no evidence", r.ID)
		}
		for _, e := range r.Evidence {
			if e.Hex == "" || e.Summary == "" || e.Decoded == nil {
				t.Errorf("%s: incomplete evidence %+v", r.ID, e)
			}
		}
	}
	// Every check cleaned up: nothing active is left in the LMA.
	time.Sleep(50 * time.Millisecond)
	bs, err := l.Bindings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.State == lma.StateActive {
			t.Errorf("binding of %s (%v at %v) left active", b.MN, b.HNPs, b.ProxyCoA)
		}
	}
	if testing.Verbose() {
		for _, r := range res {
			t.Log(describe(r))
		}
	}
}

func TestConformanceNotApplicable(t *testing.T) {
	// One MAG, no optional parameters: the checks that need them say so.
	n, _ := inProcLMA(t, nil)
	tg := Target{LMA: testLMA, MAGs: magTransports(t, n, 1), ReplyTimeout: 500 * time.Millisecond, SilenceWait: 200 * time.Millisecond}
	res, err := Conformance(context.Background(), tg, nil)
	if err != nil {
		t.Fatal(err)
	}
	na := map[string]bool{}
	for _, r := range res {
		switch r.Verdict {
		case NotApplicable:
			if r.Reason == "" {
				t.Errorf("%s: not applicable without a reason", r.ID)
			}
			na[r.ID] = true
		case Fail:
			t.Errorf("%s", describe(r))
		}
	}
	for _, id := range []string{"dereg-other-mag-ignored", "hi3-handover", "hi3-handover-hnp", "hi4-wait-dereg",
		"mag-unauthorized", "mn-unknown", "mn-proxy-disabled", "bri-revocation"} {
		if !na[id] {
			t.Errorf("%s ran without its precondition", id)
		}
	}
	if len(na) != 8 {
		t.Errorf("not applicable: %v", na)
	}
}
