package lma

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

const (
	mnid1 = "MNID 1 mn1@example"
	hi1   = "HI 1"
	att4  = "ATT 4"
	zeroH = "HNP ::/0"
)

func hnpStr(p netip.Prefix) string { return "HNP " + p.Addr().String() + "/" + itoa(p.Bits()) }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

// TestPBUStatus: one case per status of RFC 5213 §5.3.1 / §5.3.2 / §5.4.1
// / §5.5, and cases showing the order of the checks. Each asserts the
// exact PBA (status, flags, sequence, lifetime, options in order) and the
// data plane afterwards.
func TestPBUStatus(t *testing.T) {
	ts0 := tsStr(t0)
	type tc struct {
		name    string
		cfg     func(*Config)
		setup   func(h *harness)
		from    netip.Addr
		bu      func(h *harness) *mh.BindingUpdate
		status  mh.Status
		seq     uint16
		life    uint16
		opts    []string
		entries []string
	}
	cases := []tc{
		{name: "0 initial registration, ALL_ZERO HNP",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(1, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 0, seq: 1, life: 100, opts: []string{hnpStr(pool0), mnid1, hi1, att4, ts0},
			entries: []string{route(pool0, mag1)}},
		{name: "0 lifetime capped at MaxLifetime",
			cfg: func(c *Config) { c.MaxLifetime = 60 * time.Second },
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(2, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 0, seq: 2, life: 15, opts: []string{hnpStr(pool0), mnid1, hi1, att4, ts0},
			entries: []string{route(pool0, mag1)}},
		{name: "0 static prefix assigned for ALL_ZERO",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(1, 100, zeroHNP(), nai("static@example"), hi(1), att(4), h.ts())
			},
			status: 0, seq: 1, life: 100, opts: []string{hnpStr(staticPfx), "MNID 1 static@example", hi1, att4, ts0},
			entries: []string{route(staticPfx, mag1)}},
		{name: "0 static prefix requested by value",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(1, 100, hnp(staticPfx), nai("static@example"), hi(1), att(4), h.ts())
			},
			status: 0, seq: 1, life: 100, opts: []string{hnpStr(staticPfx), "MNID 1 static@example", hi1, att4, ts0},
			entries: []string{route(staticPfx, mag1)}},
		{name: "128 repeated MN-ID",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(3, 100, zeroHNP(), nai("mn1@example"), nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 128, seq: 3, opts: []string{zeroH, mnid1, hi1, att4, ts0}},
		{name: "160 no MN-ID: zero-length MN-ID in the PBA",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(4, 100, zeroHNP(), hi(1), att(4), h.ts())
			},
			status: 160, seq: 4, opts: []string{zeroH, "MNID empty", hi1, att4, ts0}},
		{name: "160 before 158: neither MN-ID nor HNP",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(4, 100, hi(1), att(4), h.ts())
			},
			status: 160, seq: 4, opts: []string{zeroH, "MNID empty", hi1, att4, ts0}},
		{name: "154 MAG not listed",
			cfg: func(c *Config) { c.MAGs = map[netip.Addr]MAGPolicy{mag2: {}} },
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(5, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 154, seq: 5, opts: []string{zeroH, mnid1, hi1, att4, ts0}},
		{name: "154 before 153: unknown MN from an unlisted MAG",
			cfg: func(c *Config) { c.MAGs = map[netip.Addr]MAGPolicy{mag2: {}} },
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(5, 100, zeroHNP(), nai("who@example"), hi(1), att(4), h.ts())
			},
			status: 154, seq: 5, opts: []string{zeroH, "MNID 1 who@example", hi1, att4, ts0}},
		{name: "154 MAG not authorised for this MN",
			cfg: func(c *Config) { c.MAGs = map[netip.Addr]MAGPolicy{mag1: {MNs: []string{"mn2@example"}}} },
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(5, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 154, seq: 5, opts: []string{zeroH, mnid1, hi1, att4, ts0}},
		{name: "154 MN restricted to another MAG",
			from: mag2,
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(5, 100, zeroHNP(), nai("onlymag1@example"), hi(1), att(4), h.ts())
			},
			status: 154, seq: 5, opts: []string{zeroH, "MNID 1 onlymag1@example", hi1, att4, ts0}},
		{name: "153 unknown MN",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(6, 100, zeroHNP(), nai("who@example"), hi(1), att(4), h.ts())
			},
			status: 153, seq: 6, opts: []string{zeroH, "MNID 1 who@example", hi1, att4, ts0}},
		{name: "153 before 162",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(6, 100, zeroHNP(), nai("who@example"), hi(1), h.ts())
			},
			status: 153, seq: 6, opts: []string{zeroH, "MNID 1 who@example", hi1, "ATT 0", ts0}},
		{name: "152 proxy registration not enabled",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(7, 100, zeroHNP(), nai("noproxy@example"), hi(1), att(4), h.ts())
			},
			status: 152, seq: 7, opts: []string{zeroH, "MNID 1 noproxy@example", hi1, att4, ts0}},
		{name: "156 timestamp 301 ms ahead: LMA time in the PBA",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(8, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), tsAt(t0.Add(301*time.Millisecond)))
			},
			status: 156, seq: 8, opts: []string{zeroH, mnid1, hi1, att4, ts0}},
		{name: "156 timestamp 301 ms behind",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(8, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), tsAt(t0.Add(-301*time.Millisecond)))
			},
			status: 156, seq: 8, opts: []string{zeroH, mnid1, hi1, att4, ts0}},
		{name: "0 timestamp 299 ms ahead is inside the window",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(8, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), tsAt(t0.Add(299*time.Millisecond)))
			},
			status: 0, seq: 8, life: 100, opts: []string{hnpStr(pool0), mnid1, hi1, att4, tsStr(t0.Add(299 * time.Millisecond))},
			entries: []string{route(pool0, mag1)}},
		{name: "0 MobileNodeGeneratedTimestampInUse skips the window",
			cfg: func(c *Config) { c.MobileNodeGeneratedTimestampInUse = true },
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(8, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), &mh.Timestamp{Value: 42})
			},
			status: 0, seq: 8, life: 100, opts: []string{hnpStr(pool0), mnid1, hi1, att4, "TS 0x2a"},
			entries: []string{route(pool0, mag1)}},
		{name: "156 before 161: bad timestamp and no HI",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(8, 100, zeroHNP(), nai("mn1@example"), att(4), tsAt(t0.Add(time.Second)))
			},
			status: 156, seq: 8, opts: []string{zeroH, mnid1, "HI 0", att4, ts0}},
		{name: "157 timestamp lower than the accepted one",
			setup: func(h *harness) {
				ba := h.pba(mag1, pbu(1, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), tsAt(t0.Add(100*time.Millisecond))))
				if ba.Status != 0 {
					h.t.Fatalf("setup: %d", ba.Status)
				}
			},
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(9, 100, hnp(pool0), nai("mn1@example"), hi(5), att(4), h.ts())
			},
			status: 157, seq: 9, opts: []string{hnpStr(pool0), mnid1, "HI 5", att4, ts0},
			entries: []string{route(pool0, mag1)}},
		{name: "156 timestamp equal to the accepted one",
			setup: func(h *harness) { h.register(mag1, "mn1@example") },
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(9, 100, hnp(pool0), nai("mn1@example"), hi(5), att(4), h.ts())
			},
			status: 156, seq: 9, opts: []string{hnpStr(pool0), mnid1, "HI 5", att4, ts0},
			entries: []string{route(pool0, mag1)}},
		{name: "135 sequence number not above the last accepted (no Timestamp option)",
			setup: func(h *harness) {
				if ba := h.pba(mag1, pbu(10, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4))); ba.Status != 0 {
					h.t.Fatalf("setup: %d", ba.Status)
				}
			},
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(9, 100, hnp(pool0), nai("mn1@example"), hi(5), att(4))
			},
			status: 135, seq: 10, opts: []string{hnpStr(pool0), mnid1, "HI 5", att4},
			entries: []string{route(pool0, mag1)}},
		{name: "158 no HNP option: one ALL_ZERO HNP in the PBA",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(11, 100, nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 158, seq: 11, opts: []string{zeroH, mnid1, hi1, att4, ts0}},
		{name: "161 no Handoff Indicator: HI 0 in the PBA",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(12, 100, zeroHNP(), nai("mn1@example"), att(4), h.ts())
			},
			status: 161, seq: 12, opts: []string{zeroH, mnid1, "HI 0", att4, ts0}},
		{name: "162 no ATT: ATT 0 in the PBA",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(13, 100, zeroHNP(), nai("mn1@example"), hi(1), h.ts())
			},
			status: 162, seq: 13, opts: []string{zeroH, mnid1, hi1, "ATT 0", ts0}},
		{name: "155 prefix bound to another MN (§5.4.1.1 step 3)",
			setup: func(h *harness) { h.register(mag2, "mn2@example") },
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(14, 100, hnp(pool0), nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 155, seq: 14, opts: []string{hnpStr(pool0), mnid1, hi1, att4, ts0},
			entries: []string{route(pool0, mag2)}},
		{name: "155 prefix not owned by the LMA (§5.3.2 step 3)",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(14, 100, hnp(pfx("2001:db8:999::/64")), nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 155, seq: 14, opts: []string{"HNP 2001:db8:999::/64", mnid1, hi1, att4, ts0}},
		{name: "155 pool prefix not assigned to this MN",
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(14, 100, hnp(pool1), nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 155, seq: 14, opts: []string{hnpStr(pool1), mnid1, hi1, att4, ts0}},
		{name: "155 static prefix outside the MAG's prefixes",
			cfg: func(c *Config) {
				c.MAGs = map[netip.Addr]MAGPolicy{mag1: {Prefixes: []netip.Prefix{pfx("2001:db8:300::/48")}}}
			},
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(14, 100, hnp(staticPfx), nai("static@example"), hi(1), att(4), h.ts())
			},
			status: 155, seq: 14, opts: []string{hnpStr(staticPfx), "MNID 1 static@example", hi1, att4, ts0}},
		{name: "159 prefix set differs from the BCE's",
			setup: func(h *harness) { h.register(mag1, "static@example") },
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(15, 100, hnp(staticPfx), hnp(pool0), nai("static@example"), hi(5), att(4), tsAt(t0.Add(time.Millisecond)))
			},
			status: 159, seq: 15, opts: []string{hnpStr(staticPfx), hnpStr(pool0), "MNID 1 static@example", "HI 5", att4, tsStr(t0.Add(time.Millisecond))},
			entries: []string{route(staticPfx, mag1)}},
		{name: "130 pools exhausted",
			cfg:   func(c *Config) { c.Pools = []netip.Prefix{pool0} },
			setup: func(h *harness) { h.register(mag2, "mn2@example") },
			bu: func(h *harness) *mh.BindingUpdate {
				return pbu(16, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts())
			},
			status: 130, seq: 16, opts: []string{zeroH, mnid1, hi1, att4, ts0},
			entries: []string{route(pool0, mag2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.cfg)
			if c.setup != nil {
				c.setup(h)
			}
			from := c.from
			if !from.IsValid() {
				from = mag1
			}
			ba := h.pba(from, c.bu(h))
			wantPBA(t, ba, c.status, c.seq, c.life, c.opts...)
			h.wantEntries(c.entries...)
			if got := h.counters().PBA[c.status]; got == 0 {
				t.Errorf("PBA counter for status %d not counted", c.status)
			}
		})
	}
}

// A Binding Update without the P flag is not a proxy registration: a BA
// with status 131 and P clear (RFC 6275 §10.3.1).
func TestBUWithoutP(t *testing.T) {
	h := newHarness(t, nil)
	bu := pbu(77, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts())
	bu.Flags = mh.BUFlagA | mh.BUFlagH
	ba := h.pba(mag1, bu)
	if ba.Status != mh.StatusHomeRegistrationNotSupported || ba.Flags != 0 || ba.Sequence != 77 || len(describe(ba.Options)) != 0 {
		t.Fatalf("got status %d flags %#x seq %d options %v", ba.Status, ba.Flags, ba.Sequence, describe(ba.Options))
	}
	h.wantEntries()
}
