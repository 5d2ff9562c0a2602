package mr

import (
	"testing"
	"time"
)

const (
	p11 = "2001:db8:11::/64" // first prefix of MR11's pool
	p12 = "2001:db8:12::/64" // first prefix of MR12's pool
	p2  = "2001:db8:2::/64"
	p31 = "2001:db8:31::/64"
	ra  = "RA acc1 to fe80::1:2ff:fe00:1: "
)

// Draft §4.1: the HAA of the local network allocates a prefix anchored
// at this MR; the LM is updated per local policy; access route; RA.
func TestAttachment41(t *testing.T) {
	for _, tc := range []struct {
		name     string
		update   bool
		wantLM   []string
		wantCall []string
	}{
		{"LM updated", true, []string{p11 + " anchor=MR11 current=MR11"},
			[]string{"MR11 HAA.Allocate mn1", "MR11 HAA.Holdings mn1", "MR11 LM.Update mn1 [" + p11 + "] current=MR11 anchor=MR11"}},
		{"LM not updated", false, nil,
			[]string{"MR11 HAA.Allocate mn1", "MR11 HAA.Holdings mn1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			mr11 := w.add("MR11", Config{UpdateLMOnAttach: tc.update})
			expectList(t, "data plane before", mr11.entries(t))
			w.attachB(mr11, "mn1", "acc1", false)

			expectList(t, "LM/HAA calls", w.takeCalls(), tc.wantCall...)
			expectList(t, "HAA", w.haaState("mn1"), p11+" anchor=MR11")
			expectList(t, "LM", w.lmState("mn1"), tc.wantLM...)
			expectList(t, "data plane after", mr11.entries(t), "access-route "+p11+" dev acc1")
			expectList(t, "RA", mr11.acc.takeAds(), ra+p11+" pref=1h0m0s valid=1h0m0s")
			expectList(t, "punt", mr11.punt.takeOps())
			expectSeq(t, "wire", w.takeWire())
			mns, _ := mr11.mr.MNs(w.ctx)
			if len(mns) != 1 || !mns[0].Attached || mns[0].Moved || mns[0].Prefixes[0].Prefix != pfx(p11) {
				t.Errorf("MNs: %+v", mns)
			}
			c, _ := mr11.mr.Counters(w.ctx)
			if c.Attaches != 1 || c.Moves != 0 || c.RAs != 1 {
				t.Errorf("counters: %+v", c)
			}
		})
	}
}

// Draft §4.2: the new MR retrieves every prefix the node holds, updates
// the LM, optionally assigns a prefix anchored at itself (the old ones
// deprecated), reverse-tunnels the old prefixes to their anchor; the
// anchor tunnels downlink to the current MR.
func TestMovement42(t *testing.T) {
	for _, tc := range []struct {
		name      string
		newPrefix bool
		wantRA    string
		wantDP    []string
		wantLM    []string
		wantHAA   []string
	}{
		{"keep the old prefix", false, ra + p11 + " pref=1h0m0s valid=1h0m0s",
			[]string{"source-route " + p11 + " -> MR11 dev acc1", "access-route " + p11 + " dev acc1"},
			[]string{p11 + " anchor=MR11 current=MR2"},
			[]string{p11 + " anchor=MR11"}},
		{"new prefix beside the old one", true, ra + p11 + " pref=0s valid=1h0m0s, " + p2 + " pref=1h0m0s valid=1h0m0s",
			[]string{"source-route " + p11 + " -> MR11 dev acc1", "access-route " + p2 + " dev acc1", "access-route " + p11 + " dev acc1"},
			[]string{p2 + " anchor=MR2 current=MR2", p11 + " anchor=MR11 current=MR2"},
			[]string{p11 + " anchor=MR11", p2 + " anchor=MR2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			mr11 := w.add("MR11", Config{UpdateLMOnAttach: true})
			mr2 := w.add("MR2", Config{UpdateLMOnAttach: true, NewPrefixOnMove: tc.newPrefix})
			w.attachB(mr11, "mn1", "acc1", false)
			w.takeCalls()
			mr11.acc.takeAds()
			w.advance(time.Second)

			w.detachB(mr11, "mn1", "acc1")
			expectList(t, "MR11 punt at detach", mr11.punt.takeOps(), "hold "+p11)
			expectList(t, "MR11 data plane after detach", mr11.entries(t))

			w.attachB(mr2, "mn1", "acc1", true)
			expectList(t, "MR2 RA", mr2.acc.takeAds(), tc.wantRA)
			expectList(t, "MR2 data plane", mr2.entries(t), tc.wantDP...)
			expectList(t, "LM", w.lmState("mn1"), tc.wantLM...)
			expectList(t, "HAA", w.haaState("mn1"), tc.wantHAA...)
			expectList(t, "MR2 punt", mr2.punt.takeOps(), "hold "+p11, "release "+p11)
			expectList(t, "MR11 punt", mr11.punt.takeOps(), "release "+p11)
			// The anchor tunnels the old prefix to the current MR.
			expectList(t, "MR11 data plane", mr11.entries(t), "prefix-route "+p11+" -> MR2")
			expectSeq(t, "wire", w.takeWire(),
				one("MR2>MR11 HI P=true F=true code=0 mnid=mn1 ctxreq=22,42,242 rl="+p11+"@MR11>MR2/3600 mc=0x40/att4/rem0/seq0/fwd0"),
				one("MR11>MR2 HAck P=true F=true code=5 mnid=mn1 hnp="+p11+" lla=fe80::200:5eff:fe00:5213 lliid=fe80::1:2ff:fe00:1 rl="+p11+"@MR11>MR2/3599 mc=0x80/att4/rem3599/seq0/fwd3599"))
			mns, _ := mr2.mr.MNs(w.ctx)
			if len(mns) != 1 || !mns[0].Moved || mns[0].PreviousMR != addrs["MR11"] {
				t.Errorf("MR2 MNs: %+v", mns)
			}
		})
	}
}
