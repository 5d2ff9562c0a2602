//go:build linux

package ipsec

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

func host(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(128, 128)}
}

// policyKey is what the test compares of a kernel policy.
func policyKey(p netlink.XfrmPolicy) string {
	tm := ""
	unspec := func(ip net.IP) string {
		if ip.IsUnspecified() { // netlink prints an all-zero address as 0.0.0.0
			return "::"
		}
		return ip.String()
	}
	for _, t := range p.Tmpls {
		tm += fmt.Sprintf(" tmpl{%v %v %v %v reqid=%#x}", unspec(t.Src), unspec(t.Dst), t.Proto, t.Mode, t.Reqid)
	}
	return fmt.Sprintf("%v src=%v dst=%v proto=%d type=%d prio=%d %v%s", p.Dir, p.Src, p.Dst, p.Proto, p.SrcPort, p.Priority, p.Action, tm)
}

// magSPD is RFC 5213 §4.2's MAG SPD with heartbeats, a bypass and a
// discard entry, and a discard default.
func magSPD() *SPD {
	mag, lma := netip.PrefixFrom(magAddr, 128), netip.PrefixFrom(lmaAddr, 128)
	return NewSPD(Discard,
		&Policy{Name: "pbu-out", Direction: Outbound, Action: Protect, Selector: Selector{Local: mag, Remote: lma, Proto: ProtoMH, MHTypes: []uint8{5, 13}}},
		&Policy{Name: "pba-in", Direction: Inbound, Action: Protect, Selector: Selector{Local: mag, Remote: lma, Proto: ProtoMH, MHTypes: []uint8{6, 13}}},
		&Policy{Name: "be-in", Direction: Inbound, Action: Bypass, Selector: Selector{Local: mag, Proto: ProtoMH, MHTypes: []uint8{7}}},
		&Policy{Name: "bad-in", Direction: Inbound, Action: Discard, Selector: Selector{Remote: netip.MustParsePrefix("2001:db8:bad::/48"), Proto: ProtoMH}},
	)
}

func wantMagPolicies(base int) []string {
	esp := fmt.Sprintf(" tmpl{:: :: esp transport reqid=%#x}", DefaultXFRMReqid)
	m, l := "2001:db8:1::1/128", "2001:db8:2::1/128"
	return []string{
		fmt.Sprintf("dir out src=%s dst=%s proto=135 type=5 prio=%d allow%s", m, l, base, esp),
		fmt.Sprintf("dir out src=%s dst=%s proto=135 type=13 prio=%d allow%s", m, l, base, esp),
		fmt.Sprintf("dir in src=%s dst=%s proto=135 type=6 prio=%d allow%s", l, m, base+1, esp),
		fmt.Sprintf("dir in src=%s dst=%s proto=135 type=13 prio=%d allow%s", l, m, base+1, esp),
		fmt.Sprintf("dir in src=::/0 dst=%s proto=135 type=7 prio=%d allow", m, base+2),
		fmt.Sprintf("dir in src=2001:db8:bad::/48 dst=::/0 proto=135 type=0 prio=%d block", base+3),
		fmt.Sprintf("dir out src=::/0 dst=::/0 proto=135 type=0 prio=%d block", base+XFRMPrioritySpan-1),
		fmt.Sprintf("dir in src=::/0 dst=::/0 proto=135 type=0 prio=%d block", base+XFRMPrioritySpan-1),
	}
}

func TestXFRMPolicyTranslation(t *testing.T) {
	pols, err := XFRMPolicies(magSPD(), XFRMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := wantMagPolicies(DefaultXFRMPriorityBase)
	if len(pols) != len(want) {
		t.Fatalf("%d policies, want %d", len(pols), len(want))
	}
	for i, p := range pols {
		if got := policyKey(p); got != want[i] {
			t.Errorf("policy %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
	// A bypass default adds nothing; the base moves the range.
	pols, _ = XFRMPolicies(NewSPD(Bypass, magSPD().Policies()...), XFRMOptions{PriorityBase: 500})
	if len(pols) != 6 || pols[0].Priority != 500 || pols[5].Priority != 503 {
		t.Errorf("bypass default, base 500: %d policies, priorities %d..%d", len(pols), pols[0].Priority, pols[len(pols)-1].Priority)
	}

	for _, bad := range []struct {
		sel  Selector
		want string
	}{
		{Selector{Proto: ProtoMH, MHTypes: []uint8{0}}, "MH type 0"},
		{Selector{Local: netip.MustParsePrefix("192.0.2.1/32")}, "not an IPv6 prefix"},
		{Selector{Proto: 17}, "only Mobility Header"},
	} {
		_, err := XFRMPolicies(NewSPD(Bypass, &Policy{Name: "x", Direction: Outbound, Action: Protect, Selector: bad.sel}), XFRMOptions{})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: error %v, want %q", bad.sel, err, bad.want)
		}
	}
}

func TestXFRMStateTranslation(t *testing.T) {
	d := keyDir(t)
	c := magConfig(d)
	c.SAs = append(c.SAs,
		SAConfig{Name: "hb-out", SPI: 0x3001, Direction: "out", Local: magAddr.String(), Remote: lmaAddr.String(), MHTypes: []string{"heartbeat"},
			Encryption: "aes-cbc-128", EncryptionKeyFile: "cbc.key", Integrity: "hmac-sha256-128", IntegrityKeyFile: "auth.key",
			Lifetime: LifetimeConfig{SoftTime: 90 * time.Second, HardTime: 100500 * time.Millisecond, HardPackets: 1000}},
		SAConfig{Name: "hb-in", SPI: 0x4001, Direction: "in", Local: magAddr.String(), Remote: lmaAddr.String(), MHTypes: []string{"heartbeat"},
			Encryption: "null", Integrity: "hmac-sha256-128", IntegrityKeyFile: "auth.key", ReplayWindow: 128},
	)
	e, err := Build(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	states, err := XFRMStates(e.SAD, XFRMOptions{Reqid: 7})
	if err != nil {
		t.Fatal(err)
	}
	bySPI := map[int]netlink.XfrmState{}
	for _, s := range states {
		if s.Proto != netlink.XFRM_PROTO_ESP || s.Mode != netlink.XFRM_MODE_TRANSPORT || s.Reqid != 7 {
			t.Errorf("SPI %#x: proto %v mode %v reqid %d", s.Spi, s.Proto, s.Mode, s.Reqid)
		}
		bySPI[s.Spi] = s
	}
	hexKey := func(s string) []byte {
		k, err := ParseHexKey(s)
		if err != nil {
			t.Fatal(err)
		}
		return k.bytes()
	}
	type want struct {
		src, dst netip.Addr
		aead     string
		crypt    string
		auth     string
		encKey   []byte
		window   int
	}
	wants := map[int]want{
		0x1001: {magAddr, lmaAddr, "rfc4106(gcm(aes))", "", "", hexKey(keyBU), 0},
		0x2001: {lmaAddr, magAddr, "rfc4106(gcm(aes))", "", "", hexKey(keyBA), kernelLegacyReplayMax}, // 64 asked, 32 given
		0x3001: {magAddr, lmaAddr, "", "cbc(aes)", "hmac(sha256)", bytes.Repeat([]byte{0x42}, 16), 0},
		0x4001: {lmaAddr, magAddr, "", "ecb(cipher_null)", "hmac(sha256)", []byte{}, kernelLegacyReplayMax},
	}
	if len(states) != len(wants) {
		t.Fatalf("%d states, want %d", len(states), len(wants))
	}
	for spi, w := range wants {
		s, ok := bySPI[spi]
		if !ok {
			t.Errorf("no state with SPI %#x", spi)
			continue
		}
		if !s.Src.Equal(net.IP(w.src.AsSlice())) || !s.Dst.Equal(net.IP(w.dst.AsSlice())) {
			t.Errorf("SPI %#x: %v -> %v, want %v -> %v", spi, s.Src, s.Dst, w.src, w.dst)
		}
		if s.ReplayWindow != w.window {
			t.Errorf("SPI %#x: replay window %d, want %d", spi, s.ReplayWindow, w.window)
		}
		switch {
		case w.aead != "":
			if s.Aead == nil || s.Aead.Name != w.aead || s.Aead.ICVLen != 128 || !bytes.Equal(s.Aead.Key, w.encKey) || s.Crypt != nil || s.Auth != nil {
				t.Errorf("SPI %#x: AEAD %+v crypt %v auth %v", spi, s.Aead, s.Crypt, s.Auth)
			}
		default:
			if s.Crypt == nil || s.Crypt.Name != w.crypt || !bytes.Equal(s.Crypt.Key, w.encKey) {
				t.Errorf("SPI %#x: crypt %+v", spi, s.Crypt)
			}
			if s.Auth == nil || s.Auth.Name != w.auth || s.Auth.TruncateLen != 128 || !bytes.Equal(s.Auth.Key, hexKey(testAuthKey)) {
				t.Errorf("SPI %#x: auth %+v", spi, s.Auth)
			}
		}
	}
	if l := bySPI[0x3001].Limits; l.TimeSoft != 90 || l.TimeHard != 101 || l.PacketHard != 1000 || l.PacketSoft != 0 {
		t.Errorf("limits %+v", l)
	}

	// A prefix selector cannot become a kernel state.
	_, err = XFRMStates(mustBuild(t, lmaConfig(d)).SAD, XFRMOptions{})
	if err == nil || !strings.Contains(err.Error(), `SA "lma-in"`) || !strings.Contains(err.Error(), "single IPv6 remote address") {
		t.Errorf("prefix selector: %v", err)
	}
}

func mustBuild(t *testing.T, c Config) *Engine {
	t.Helper()
	e, err := Build(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// rawPolicySelectors dumps the kernel's IPv6 policies without netlink's
// parsing, to see the selector's sport and sport_mask as stored, and the
// families of the templates.
func rawPolicySelectors(t *testing.T, ns *netnstest.NS) (sels []nl.XfrmSelector, tmplFamilies []uint16) {
	t.Helper()
	err := ns.Do(func() error {
		req := nl.NewNetlinkRequest(nl.XFRM_MSG_GETPOLICY, unix.NLM_F_DUMP)
		msgs, err := req.Execute(unix.NETLINK_XFRM, nl.XFRM_MSG_NEWPOLICY)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			sels = append(sels, nl.DeserializeXfrmUserpolicyInfo(m).Sel)
			attrs, err := nl.ParseRouteAttr(m[nl.SizeofXfrmUserpolicyInfo:])
			if err != nil {
				return err
			}
			for _, a := range attrs {
				if a.Attr.Type == nl.XFRMA_TMPL {
					for i := 0; i+nl.SizeofXfrmUserTmpl <= len(a.Value); i += nl.SizeofXfrmUserTmpl {
						tmplFamilies = append(tmplFamilies, nl.DeserializeXfrmUserTmpl(a.Value[i:i+nl.SizeofXfrmUserTmpl]).Family)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sels, tmplFamilies
}

// TestXFRMKernelPolicies installs the MAG's SPD as XFRM policies in a
// fresh network namespace, reads them back, checks the MH type selector
// as the kernel stores it, then sees the kernel refuse the ESP states
// (this kernel has no esp6) and Probe pick the userspace backend.
func TestXFRMKernelPolicies(t *testing.T) {
	ns := netnstest.New(t, "xfrm")
	h, err := netlink.NewHandleAt(ns.Handle())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	// A policy that is not ours must survive Cleanup.
	foreign := netlink.XfrmPolicy{Src: host(magAddr), Dst: host(lmaAddr), Proto: netlink.Proto(ProtoMH), SrcPort: 16, Dir: netlink.XFRM_DIR_OUT, Priority: 180000}
	if err := h.XfrmPolicyAdd(&foreign); err != nil {
		t.Fatal(err)
	}

	x := NewXFRM(h, XFRMOptions{}, nil)
	pols, err := XFRMPolicies(magSPD(), XFRMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.InstallPolicies(pols); err != nil {
		t.Fatal(err)
	}
	all, err := h.XfrmPolicyList(netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range all {
		got[policyKey(p)] = true
	}
	for _, w := range wantMagPolicies(DefaultXFRMPriorityBase) {
		if !got[w] {
			t.Errorf("kernel lacks policy %s", w)
		}
	}
	if t.Failed() {
		for _, p := range all {
			t.Logf("kernel: %s", policyKey(p))
		}
	}
	if len(all) != len(pols)+1 {
		t.Errorf("kernel has %d policies, want %d", len(all), len(pols)+1)
	}
	// The stored selector: MH type in sport (network order), mask 0xffff,
	// family AF_INET6, proto 135; no type: sport 0, mask 0.
	types := map[uint16]int{}
	sels, fams := rawPolicySelectors(t, ns)
	if len(fams) != 4 {
		t.Errorf("%d templates in the kernel, want 4", len(fams))
	}
	for _, f := range fams {
		if f != unix.AF_INET6 {
			t.Errorf("template family %d, want AF_INET6", f)
		}
	}
	for _, s := range sels {
		if s.Family != unix.AF_INET6 || s.Proto != ProtoMH || s.Dport != 0 || s.DportMask != 0 {
			t.Errorf("selector family %d proto %d dport %d/%#x", s.Family, s.Proto, s.Dport, s.DportMask)
		}
		typ := nl.Swap16(s.Sport)
		switch {
		case typ != 0 && s.SportMask != 0xffff:
			t.Errorf("MH type %d with sport mask %#x, want 0xffff", typ, s.SportMask)
		case typ == 0 && s.SportMask != 0:
			t.Errorf("any-type policy with sport mask %#x", s.SportMask)
		}
		types[typ]++
	}
	if types[5] != 1 || types[6] != 1 || types[13] != 2 || types[7] != 1 || types[16] != 1 || types[0] != 3 {
		t.Errorf("MH types in kernel selectors: %v", types)
	}
	// iproute2 reads the sport slot back as the MH type.
	if out := ns.IP("xfrm", "policy", "list", "dir", "out", "priority", fmt.Sprint(DefaultXFRMPriorityBase)); !strings.Contains(out, "proto mobility-header type 5") && !strings.Contains(out, "proto 135 type 5") {
		t.Errorf("ip xfrm policy does not show MH type 5:\n%s", out)
	}

	// States: this kernel has XFRM but no esp6, and the error says so.
	cfg := cbcConfig(magConfig(keyDir(t)))
	probe := ProbeKernel(h, &cfg)
	t.Logf("probe: %+v", probe)
	if !probe.XFRM {
		t.Fatalf("XFRM policies worked but the probe says %q", probe.XFRMErr)
	}
	e := mustBuild(t, cfg)
	stErr := x.Install(e)
	switch {
	case probe.ESP:
		if stErr != nil {
			t.Fatalf("the probe found ESP but Install failed: %v", stErr)
		}
		t.Log("this kernel has ESP: states installed")
	case probe.NoESP6:
		if !errors.Is(stErr, unix.EPROTONOSUPPORT) {
			t.Fatalf("Install on a kernel without esp6: %v", stErr)
		}
		t.Logf("states refused as expected: %v", stErr)
		c := Probe(h)
		if c.Backend != BackendUserspace || !strings.Contains(c.Reason, "no ESP for IPv6 (esp6)") || !strings.Contains(c.Reason, "EPROTONOSUPPORT") {
			t.Errorf("Probe = %v", c)
		}
		if _, err := Choose(Settings{Backend: "kernel"}, h, logrus.NewEntry(logrus.New())); err == nil || !strings.Contains(err.Error(), "esp6") {
			t.Errorf("Choose(kernel) on a kernel without esp6: %v", err)
		}
	default:
		t.Fatalf("the probe found neither ESP nor a missing esp6: %+v", probe)
	}

	// Cleanup leaves only the foreign policy and no state of ours.
	if err := x.InstallPolicies(pols); err != nil {
		t.Fatal(err)
	}
	if err := x.Cleanup(); err != nil {
		t.Fatal(err)
	}
	all, _ = h.XfrmPolicyList(netlink.FAMILY_V6)
	if len(all) != 1 || all[0].Priority != 180000 || all[0].SrcPort != 16 {
		t.Errorf("after Cleanup: %v", all)
	}
	if st, _ := x.States(); len(st) != 0 {
		t.Errorf("states left: %v", st)
	}
}

// TestKernelESPEndToEnd runs PBU/PBA between two namespaces with the
// kernel backend. It runs only where the kernel has ESP; it skips when,
// and only when, the probe finds esp6 missing.
func TestKernelESPEndToEnd(t *testing.T) {
	a, b := netnstest.New(t, "kmag"), netnstest.New(t, "klma")
	netnstest.Veth(t, a, "va", b, "vb")
	a.IP("addr", "add", magAddr.String()+"/64", "dev", "va", "nodad")
	b.IP("addr", "add", lmaAddr.String()+"/64", "dev", "vb", "nodad")
	a.IP("-6", "route", "add", lmaAddr.String()+"/128", "dev", "va")
	b.IP("-6", "route", "add", magAddr.String()+"/128", "dev", "vb")

	d := keyDir(t)
	magCfg := cbcConfig(magConfig(d))
	lmaCfg := cbcConfig(lmaConfig(d))
	lmaCfg.SAs[0].Remote = magAddr.String() // kernel states need exact addresses
	lmaCfg.SAs[0].ReplayWindow = 0

	ha, err := netlink.NewHandleAt(a.Handle())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ha.Close)
	probe := ProbeKernel(ha, &magCfg)
	switch {
	case probe.NoESP6:
		t.Skipf("kernel ESP end-to-end needs esp6; the probe found it missing: %s (tried %s)", probe.why(), strings.Join(probe.Tried, "; "))
	case !probe.ESP:
		t.Fatalf("the kernel refuses ESP states for another reason than a missing esp6: %s", probe.why())
	}
	hb, err := netlink.NewHandleAt(b.Handle())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hb.Close)
	xa, xb := NewXFRM(ha, XFRMOptions{}, nil), NewXFRM(hb, XFRMOptions{}, nil)
	if err := xa.Install(mustBuild(t, magCfg)); err != nil {
		t.Fatal(err)
	}
	if err := xb.Install(mustBuild(t, lmaCfg)); err != nil {
		t.Fatal(err)
	}
	var ta, tb *transport.Raw
	if err := a.Do(func() (err error) { ta, err = transport.ListenRaw(magAddr, transport.RawOptions{}); return }); err != nil {
		t.Fatal(err)
	}
	defer ta.Close()
	if err := b.Do(func() (err error) { tb, err = transport.ListenRaw(lmaAddr, transport.RawOptions{}); return }); err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if err := ta.Send(lmaAddr, pbu(t, 99)); err != nil {
		t.Fatal(err)
	}
	p := recvTimeout(t, tb)
	if bu, err := mh.ParseBindingUpdate(p.Data); err != nil || bu.Sequence != 99 {
		t.Fatalf("PBU through kernel ESP: %+v %v", bu, err)
	}
	if err := tb.Send(magAddr, pba(t, 99)); err != nil {
		t.Fatal(err)
	}
	r := recvTimeout(t, ta)
	if ba, err := mh.ParseBindingAck(r.Data); err != nil || ba.Sequence != 99 {
		t.Fatalf("PBA through kernel ESP: %+v %v", ba, err)
	}
	sts, _ := xb.States()
	used := false
	for _, s := range sts {
		if s.Spi == 0x1001 && s.Statistics.Packets > 0 {
			used = true
		}
	}
	if !used {
		t.Errorf("the LMA's inbound state counted no packet: the PBU did not come through ESP (%v)", sts)
	}
	if err := xa.Cleanup(); err != nil {
		t.Error(err)
	}
	if err := xb.Cleanup(); err != nil {
		t.Error(err)
	}
}

// cbcConfig switches every SA of c to AES-CBC-128 with HMAC-SHA-256-128,
// which every kernel with ESP has (this one has no GCM either).
func cbcConfig(c Config) Config {
	for i := range c.SAs {
		c.SAs[i].Encryption, c.SAs[i].EncryptionKeyFile = "aes-cbc-128", "cbc.key"
		c.SAs[i].Integrity, c.SAs[i].IntegrityKeyFile = "hmac-sha256-128", "auth.key"
	}
	return c
}

func recvTimeout(t *testing.T, tr transport.Transport) transport.Packet {
	t.Helper()
	ch := make(chan transport.Packet, 1)
	go func() {
		ps := make([]transport.Packet, 1)
		if n, err := tr.Receive(ps); err == nil && n == 1 {
			ch <- ps[0]
		}
	}()
	select {
	case p := <-ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received in 5 s")
	}
	return transport.Packet{}
}

func TestDecide(t *testing.T) {
	noESP := KernelProbe{XFRM: true, NoESP6: true, ESPErr: "EPROTONOSUPPORT (protocol not supported)"}
	withESP := KernelProbe{XFRM: true, ESP: true}
	noXFRM := KernelProbe{XFRMErr: "EPROTONOSUPPORT (no NETLINK_XFRM)"}
	for _, tc := range []struct {
		mode    Backend
		p       KernelProbe
		want    Backend
		wantErr bool
		reason  string
	}{
		{BackendAuto, noESP, BackendUserspace, false, "no ESP for IPv6 (esp6): adding an ESP state fails with EPROTONOSUPPORT"},
		{BackendAuto, withESP, BackendKernel, false, "ESP transport mode states"},
		{BackendAuto, noXFRM, BackendUserspace, false, "no usable XFRM"},
		{BackendAuto, KernelProbe{XFRM: true, NoAlgorithm: []string{"rfc4106(gcm(aes))"}, ESPErr: "ENOSYS"}, BackendUserspace, false, "lacks rfc4106(gcm(aes))"},
		{BackendKernel, noESP, BackendKernel, true, "esp6"},
		{BackendKernel, withESP, BackendKernel, false, "configured"},
		{BackendUserspace, KernelProbe{}, BackendUserspace, false, "own sockets"},
		{BackendExternal, withESP, BackendExternal, false, "IKEv2 daemon"},
	} {
		c, err := decide(tc.mode, tc.p)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s %+v: error %v", tc.mode, tc.p, err)
			continue
		}
		msg := c.Reason
		if err != nil {
			msg = err.Error()
		}
		if c.Backend != tc.want || !strings.Contains(msg, tc.reason) {
			t.Errorf("%s %+v: %s %q, want %s containing %q", tc.mode, tc.p, c.Backend, msg, tc.want, tc.reason)
		}
	}
}
