package lma

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// TestSequenceNumbers: RFC 6275 §9.5.1 modulo-2^16 comparison, used when
// the PBU has no Timestamp option (RFC 5213 §5.5).
func TestSequenceNumbers(t *testing.T) {
	cases := []struct {
		last, next uint16
		stale      bool
	}{
		{10, 11, false},
		{10, 10, true},
		{10, 9, true},
		{65535, 0, false}, // wraps
		{65530, 3, false},
		{3, 65530, true},
		{10, 10 + 32767, false},
		{10, 10 + 32768, true}, // the last value and the 32768 before it are "<= last"
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d_then_%d", c.last, c.next), func(t *testing.T) {
			if got := seqStale(c.next, c.last); got != c.stale {
				t.Fatalf("seqStale(%d, %d) = %v", c.next, c.last, got)
			}
			h := newHarness(t, func(cfg *Config) { cfg.TimestampBasedApproachInUse = false })
			wantPBA(t, h.pba(mag1, pbu(c.last, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4))), 0, c.last, 100, hnpStr(pool0), mnid1, hi1, att4)
			ba := h.pba(mag1, pbu(c.next, 100, hnp(pool0), nai("mn1@example"), hi(5), att(4)))
			if c.stale {
				wantPBA(t, ba, 135, c.last, 0, hnpStr(pool0), mnid1, "HI 5", att4)
			} else {
				wantPBA(t, ba, 0, c.next, 100, hnpStr(pool0), mnid1, "HI 5", att4)
			}
			if bs := h.bindings(); bs[0].Timestamp != 0 {
				t.Errorf("BCE timestamp %#x, want ALL_ZERO in the sequence scheme", bs[0].Timestamp)
			}
		})
	}
	t.Run("counted when the timestamp scheme is in use", func(t *testing.T) {
		h := newHarness(t, nil)
		h.pba(mag1, pbu(1, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4)))
		if c := h.counters(); c.PBUWithoutTimestamp != 1 {
			t.Fatalf("PBUWithoutTimestamp %d", c.PBUWithoutTimestamp)
		}
	})
}

// TestPBAOptionEcho: RFC 5213 §5.3.6 rules for MN LL-ID and Link-local
// Address, and the BCE fields they set.
func TestPBAOptionEcho(t *testing.T) {
	mac := []byte{2, 0, 0x5e, 0x10, 0, 1}
	t.Run("LL-ID echoed, ALL_ZERO link-local: generated and stored", func(t *testing.T) {
		h := newHarness(t, nil)
		ba := h.pba(mag1, pbu(1, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts(), llid(mac...), lla("::")))
		wantPBA(t, ba, 0, 1, 100, hnpStr(pool0), mnid1, hi1, att4, tsStr(t0), "LLID 02005e100001", "LLA fe80::200:5eff:fe00:5213")
		bs := h.bindings()
		if string(bs[0].LinkLayerID) != string(mac) || bs[0].LinkLocal != FixedMAGLinkLocal {
			t.Fatalf("BCE %+v", bs[0])
		}
		// ALL_ZERO again with the BCE in place: the BCE's address.
		h.advance(time.Millisecond)
		ba = h.pba(mag2, pbu(2, 100, hnp(pool0), nai("mn1@example"), hi(3), att(4), h.ts(), llid(mac...), lla("::")))
		wantPBA(t, ba, 0, 2, 100, hnpStr(pool0), mnid1, "HI 3", att4, tsStr(t0.Add(time.Millisecond)), "LLID 02005e100001", "LLA fe80::200:5eff:fe00:5213")
	})
	t.Run("NON_ZERO link-local echoed and stored", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.MAGLinkLocal = netip.MustParseAddr("fe80::99") })
		ba := h.pba(mag1, pbu(1, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts(), lla("fe80::1")))
		wantPBA(t, ba, 0, 1, 100, hnpStr(pool0), mnid1, hi1, att4, tsStr(t0), "LLA fe80::1")
		if bs := h.bindings(); bs[0].LinkLocal != netip.MustParseAddr("fe80::1") || string(bs[0].LinkLayerID) != "\x00\x00" {
			t.Fatalf("BCE %+v", bs[0])
		}
		h.advance(time.Millisecond)
		ba = h.pba(mag1, pbu(2, 100, hnp(pool0), nai("mn1@example"), hi(5), att(4), h.ts(), lla("::")))
		wantPBA(t, ba, 0, 2, 100, hnpStr(pool0), mnid1, "HI 5", att4, tsStr(t0.Add(time.Millisecond)), "LLA fe80::1")
	})
	t.Run("configured link-local generated; rejection echoes the request", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.MAGLinkLocal = netip.MustParseAddr("fe80::99") })
		ba := h.pba(mag1, pbu(1, 100, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts(), lla("::")))
		wantPBA(t, ba, 0, 1, 100, hnpStr(pool0), mnid1, hi1, att4, tsStr(t0), "LLA fe80::99")
		ba = h.pba(mag1, pbu(2, 100, zeroHNP(), nai("who@example"), hi(1), att(4), h.ts(), llid(mac...), lla("::")))
		wantPBA(t, ba, 153, 2, 0, zeroH, "MNID 1 who@example", hi1, att4, tsStr(t0), "LLID 02005e100001", "LLA ::")
	})
	t.Run("lifetime never above the request", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.MaxLifetime = time.Hour })
		wantPBA(t, h.pba(mag1, pbu(1, 7, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts())), 0, 1, 7, hnpStr(pool0), mnid1, hi1, att4, tsStr(t0))
		h.advance(time.Millisecond)
		wantPBA(t, h.pba(mag1, pbu(2, 5000, hnp(pool0), nai("mn1@example"), hi(5), att(4), h.ts())), 0, 2, 900, hnpStr(pool0), mnid1, "HI 5", att4, tsStr(t0.Add(time.Millisecond)))
	})
}

// TestAllocation: ALL_ZERO requests never get a prefix in use, the pool
// is walked before a released prefix comes back, and exhaustion is 130.
func TestAllocation(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Pools = []netip.Prefix{pfx("2001:db8:100::/62"), pfx("2001:db8:300::/63")} // 4 + 2 prefixes
		c.DefaultMN = &MNPolicy{}
		c.MNs["static@example"] = MNPolicy{Prefixes: []netip.Prefix{pfx("2001:db8:100:2::/64")}} // inside the pool: reserved
	})
	seen := map[string]string{}
	var order []string
	for i := 0; i < 5; i++ {
		mn := fmt.Sprintf("mn%d@dyn", i)
		ba := h.register(mag1, mn)
		p := describe(ba.Options)[0]
		if o, dup := seen[p]; dup {
			t.Fatalf("%s given to %s and %s", p, o, mn)
		}
		seen[p] = mn
		order = append(order, p)
	}
	want := []string{"HNP 2001:db8:100::/64", "HNP 2001:db8:100:1::/64", "HNP 2001:db8:100:3::/64", "HNP 2001:db8:300::/64", "HNP 2001:db8:300:1::/64"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("allocation order %v, want %v (the static prefix 2001:db8:100:2::/64 is never allocated)", order, want)
		}
	}
	ba := h.pba(mag1, pbu(1, 100, zeroHNP(), nai("mn9@dyn"), hi(1), att(4), h.ts()))
	if ba.Status != mh.StatusInsufficientResources {
		t.Fatalf("status %d, want 130", ba.Status)
	}
	// Free mn1's prefix; the next allocation must get it (the only free one).
	h.advance(time.Millisecond)
	h.pba(mag1, pbu(2, 0, hnp(pfx("2001:db8:100:1::/64")), nai("mn1@dyn"), hi(4), att(4), h.ts()))
	h.advance(10 * time.Second)
	ba = h.register(mag1, "mn9@dyn")
	if got := describe(ba.Options)[0]; got != "HNP 2001:db8:100:1::/64" {
		t.Fatalf("got %s", got)
	}
	// The static MN still gets its reserved prefix.
	ba = h.register(mag1, "static@example")
	if got := describe(ba.Options)[0]; got != "HNP 2001:db8:100:2::/64" {
		t.Fatalf("static got %s", got)
	}
	if n := len(h.bindings()); n != 6 {
		t.Fatalf("%d bindings", n)
	}
	if n := len(h.entries()); n != 6 {
		t.Fatalf("%d routes", n)
	}
}

// TestBindingErrorUnknownType: RFC 6275 §9.2: an MH Type the LMA does not
// process gets a Binding Error with status 2.
func TestBindingErrorUnknownType(t *testing.T) {
	h := newHarness(t, nil)
	// MH Type 40 (unassigned), Header Len 0, 2 octets of data.
	h.sendRaw(mag1, []byte{59, 0, 40, 0, 0, 0, 0, 0})
	h.sync()
	ms := h.recv(mag1)
	if len(ms) != 1 {
		t.Fatalf("%d replies", len(ms))
	}
	be, ok := ms[0].(*mh.BindingError)
	if !ok || be.Status != mh.BEStatusUnrecognizedMHType || !(be.HomeAddress.IsUnspecified() || !be.HomeAddress.IsValid()) {
		t.Fatalf("got %#v", ms[0])
	}
	// Payload Proto not 59: dropped (RFC 6275 §9.2), no reply.
	h.sendRaw(mag1, []byte{6, 0, 40, 0, 0, 0, 0, 0})
	h.sync()
	if ms := h.recv(mag1); len(ms) != 0 {
		t.Fatalf("reply to a bad Payload Proto: %v", ms)
	}
	if c := h.counters(); c.Dropped["header check"] != 1 || c.Tx["Binding Error"] != 1 {
		t.Fatalf("counters %+v", c)
	}
}

// TestHeartbeat: RFC 5847.
func TestHeartbeat(t *testing.T) {
	t.Run("requests answered with the Restart Counter", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.RestartCounter = 7 })
		h.send(mag3, &mh.Heartbeat{Sequence: 0xdeadbeef})
		h.sync()
		ms := h.recv(mag3)
		if len(ms) != 1 {
			t.Fatalf("%d replies", len(ms))
		}
		hb := ms[0].(*mh.Heartbeat)
		rc, ok := mh.Find[*mh.RestartCounter](hb.Options)
		if !hb.Response() || hb.Unsolicited() || hb.Sequence != 0xdeadbeef || !ok || rc.Counter != 7 {
			t.Fatalf("response %+v", hb)
		}
	})
	t.Run("requests to peers with bindings; peer down after MISSING_HEARTBEATS_ALLOWED", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.HeartbeatInterval = 0 }) // default 60 s
		h.pba(mag1, pbu(1, 1000, zeroHNP(), nai("mn1@example"), hi(1), att(4), h.ts()))
		h.advance(60 * time.Second)
		ms := h.recv(mag1)
		if len(ms) != 1 {
			t.Fatalf("%d messages at the first interval", len(ms))
		}
		req := ms[0].(*mh.Heartbeat)
		if req.Response() || len(describe(req.Options)) != 0 {
			t.Fatalf("request %+v", req)
		}
		if len(h.recv(mag2)) != 0 {
			t.Fatal("heartbeat to a MAG without bindings")
		}
		// Answer it with Restart Counter 1.
		resp := &mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: req.Sequence}
		resp.Options = mh.Options{&mh.RestartCounter{Counter: 1}}
		h.send(mag1, resp)
		h.sync()
		for i := 1; i <= 4; i++ {
			h.advance(60 * time.Second)
			if ms := h.recv(mag1); len(ms) != 1 {
				t.Fatalf("interval %d: %d messages", i, len(ms))
			}
			ps, _ := h.l.Peers(context.Background())
			if ps[0].Missing != i-1 || ps[0].Down != (i-1 > 3) {
				t.Fatalf("interval %d: peer %+v", i, ps[0])
			}
		}
		h.advance(60 * time.Second)
		h.recv(mag1)
		ps, _ := h.l.Peers(context.Background())
		if !ps[0].Down || ps[0].Missing != 4 || h.counters().PeerDown != 1 {
			t.Fatalf("peer %+v, want down after 4 missing (> 3 allowed)", ps[0])
		}
		// It comes back with a new Restart Counter: restart detected.
		h.advance(60 * time.Second)
		req = h.recv(mag1)[0].(*mh.Heartbeat)
		resp = &mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: req.Sequence}
		resp.Options = mh.Options{&mh.RestartCounter{Counter: 2}}
		h.send(mag1, resp)
		h.sync()
		ps, _ = h.l.Peers(context.Background())
		if ps[0].Down || ps[0].Missing != 0 || ps[0].Restarts != 1 || ps[0].RestartCounter != 2 || h.counters().PeerRestart != 1 {
			t.Fatalf("peer %+v", ps[0])
		}
	})
	t.Run("Binding Error status 2 stops heartbeats to that peer", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.HeartbeatInterval = 30 * time.Second })
		h.register(mag1, "mn1@example")
		h.advance(30 * time.Second)
		if len(h.recv(mag1)) != 1 {
			t.Fatal("no request")
		}
		h.send(mag1, &mh.BindingError{Status: mh.BEStatusUnrecognizedMHType})
		h.sync()
		h.advance(30 * time.Second)
		if ms := h.recv(mag1); len(ms) != 0 {
			t.Fatalf("still sending: %v", ms)
		}
	})
}

// TestRevocation: RFC 5846 §8.1 BRI on operator request, retransmission
// per §6.3/§11, removal on BRA or after the retries.
func TestRevocation(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*harness, <-chan RevokeResult, *mh.BindingRevocationIndication) {
		h := newHarness(t, nil)
		h.register(mag1, "mn1@example")
		chs, err := h.l.Revoke(ctx, "mn1@example", netip.Prefix{}, mh.TriggerAdministrativeReason)
		if err != nil || len(chs) != 1 {
			t.Fatalf("Revoke: %v, %d", err, len(chs))
		}
		ms := h.recv(mag1)
		if len(ms) != 1 {
			t.Fatalf("%d messages, want a BRI", len(ms))
		}
		bri := ms[0].(*mh.BindingRevocationIndication)
		if bri.Trigger != mh.TriggerAdministrativeReason || bri.Flags != mh.BRFlagP {
			t.Fatalf("BRI %+v", bri)
		}
		if got := describe(bri.Options); len(got) != 2 || got[0] != mnid1 || got[1] != hnpStr(pool0) {
			t.Fatalf("BRI options %v", got)
		}
		h.wantEntries() // routes removed at once
		if bs := h.bindings(); bs[0].State != StateRevoking {
			t.Fatalf("state %v", bs[0].State)
		}
		return h, chs[0], bri
	}
	t.Run("BRA removes the binding", func(t *testing.T) {
		h, ch, bri := setup(t)
		h.send(mag1, &mh.BindingRevocationAck{Status: mh.BRStatusSuccess, Sequence: bri.Sequence, Flags: bri.Flags})
		h.sync()
		r := <-ch
		if !r.Acked || !r.Removed || r.TimedOut || r.Status != 0 || r.MAG != mag1 || r.HNPs[0] != pool0 {
			t.Fatalf("result %+v", r)
		}
		if len(h.bindings()) != 0 {
			t.Fatal("binding kept")
		}
		h.advance(5 * time.Second)
		if ms := h.recv(mag1); len(ms) != 0 {
			t.Fatalf("retransmitted after the BRA: %v", ms)
		}
	})
	t.Run("no BRA: one retransmission after InitMINDelayBRIs, removed after the doubled timeout", func(t *testing.T) {
		h, ch, bri := setup(t)
		h.advance(999 * time.Millisecond)
		if len(h.recv(mag1)) != 0 {
			t.Fatal("retransmitted early")
		}
		h.advance(time.Millisecond)
		ms := h.recv(mag1)
		if len(ms) != 1 || ms[0].(*mh.BindingRevocationIndication).Sequence != bri.Sequence {
			t.Fatalf("retransmission %v", ms)
		}
		h.advance(2*time.Second - time.Millisecond)
		if len(h.bindings()) != 1 {
			t.Fatal("removed before MAX_BRACK_TIMEOUT")
		}
		h.advance(time.Millisecond)
		if len(h.bindings()) != 0 || len(h.recv(mag1)) != 0 {
			t.Fatal("not removed after the last retry, or retried more than BRIMaxRetries")
		}
		r := <-ch
		if r.Acked || !r.Removed || !r.TimedOut {
			t.Fatalf("result %+v", r)
		}
	})
	t.Run("BRA 132 (MN attached) keeps the binding", func(t *testing.T) {
		h, ch, bri := setup(t)
		h.send(mag1, &mh.BindingRevocationAck{Status: mh.BRStatusMNIsAttached, Sequence: bri.Sequence, Flags: bri.Flags})
		h.sync()
		r := <-ch
		if !r.Acked || r.Removed || r.Status != mh.BRStatusMNIsAttached {
			t.Fatalf("result %+v", r)
		}
		h.wantEntries(route(pool0, mag1))
	})
	t.Run("unknown MN", func(t *testing.T) {
		h := newHarness(t, nil)
		if _, err := h.l.Revoke(ctx, "mn1@example", netip.Prefix{}, 1); err != ErrNoBinding {
			t.Fatalf("err %v", err)
		}
	})
}

// TestManagement: Binding (get by MN-ID) and Entries.
func TestManagement(t *testing.T) {
	h := newHarness(t, nil)
	h.register(mag1, "mn1@example", llid(2, 0, 0, 0, 0, 1))
	h.register(mag2, "mn2@example")
	bs, err := h.l.Binding(context.Background(), "mn2@example")
	if err != nil || len(bs) != 1 {
		t.Fatalf("%v %v", bs, err)
	}
	b := bs[0]
	if b.MN != "mn2@example" || b.ProxyCoA != mag2 || b.HNPs[0] != pool1 || b.ATT != 4 || b.HI != 1 || b.Lifetime != 400*time.Second ||
		!b.Expires.Equal(t0.Add(400*time.Second)) || b.Timestamp != mh.TimestampValue(t0) || b.State != StateActive {
		t.Fatalf("binding %+v", b)
	}
	es, _ := h.l.Entries(context.Background())
	if len(es) != 2 || es[0].Remote != mag1 || es[1].Remote != mag2 {
		t.Fatalf("entries %v", es)
	}
	if MNKey(mh.NewMNIDEUI48([6]byte{2, 0, 0x5e, 0x10, 0, 1})) != "eui-48:02:00:5e:10:00:01" {
		t.Fatalf("MNKey %q", MNKey(mh.NewMNIDEUI48([6]byte{2, 0, 0x5e, 0x10, 0, 1})))
	}
}
