package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

const configsDir = "../../configs"

// syncBuf is a bytes.Buffer safe for the daemon's logger and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUsageAndDryRun(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("roles: [lma]\ntransport: {address: \"2001:db8::1\"}\nlma:\n  pools: [{prefx: 2001:db8::/48}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		out  []string // substrings of stdout+stderr
	}{
		{"no arguments", nil, 2, []string{"usage: pmipd -c FILE [--dry-run]"}},
		{"stray argument", []string{"-c", "x.yaml", "extra"}, 2, []string{"usage"}},
		{"unknown flag", []string{"--frobnicate"}, 2, []string{"flag provided but not defined"}},
		{"valid LMA", []string{"-c", configsDir + "/lma.yaml", "--dry-run"}, 0, []string{"lma.yaml: valid (roles [lma]"}},
		{"valid e2e MAG", []string{"-c", configsDir + "/e2e-mag1.yaml", "-dry-run"}, 0, []string{"valid (roles [mag], node mag1)"}},
		{"invalid: key and reason", []string{"-c", bad, "--dry-run"}, 1, []string{
			"bad.yaml: invalid configuration", `lma.pools[0].prefx: unknown key (did you mean "prefix"?)`, "lma.mags: required"}},
		{"missing file", []string{"-c", "/nonexistent.yaml", "--dry-run"}, 1, []string{"/nonexistent.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(c.args, &out, &out, nil)
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s", code, c.code, out.String())
			}
			for _, s := range c.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

func load(t *testing.T, name string, edit ...string) *config.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(configsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(edit); i += 2 {
		if !strings.Contains(s, edit[i]) {
			t.Fatalf("%s: %q not found", name, edit[i])
		}
		s = strings.Replace(s, edit[i], edit[i+1], 1)
	}
	c, err := config.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLMAConfig(t *testing.T) {
	c := load(t, "lma.yaml")
	lc, err := lmaConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	mag1, mag2 := netip.MustParseAddr("2001:db8:ff::11"), netip.MustParseAddr("2001:db8:ff::12")
	checks := []struct {
		what string
		ok   bool
	}{
		{"address", lc.Address == netip.MustParseAddr("2001:db8:ff::2")},
		{"pools", slices.Equal(lc.Pools, []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/48")}) && lc.PrefixLen == 64},
		{"MAG1 any MN", len(lc.MAGs) == 2 && lc.MAGs[mag1].MNs == nil},
		{"MAG2 two MNs", slices.Equal(lc.MAGs[mag2].MNs, []string{"mn1@example.net", "mn2@example.net"})},
		{"static prefix", slices.Equal(lc.MNs["mn2@example.net"].Prefixes, []netip.Prefix{netip.MustParsePrefix("2001:db8:200::/64")})},
		{"banned", lc.MNs["banned@example.net"].ProxyDisabled && !lc.MNs["mn1@example.net"].ProxyDisabled},
		{"unlisted MNs served", lc.DefaultMN != nil && !lc.DefaultMN.ProxyDisabled},
		{"timers", lc.MinDelayBeforeBCEDelete == 10*time.Second && lc.MaxDelayBeforeNewBCEAssign == 1500*time.Millisecond &&
			lc.TimestampValidityWindow == 300*time.Millisecond},
		{"HI=4 wait", !lc.NoWaitForDeregistration},
		{"timestamp scheme", lc.TimestampBasedApproachInUse && !lc.MobileNodeGeneratedTimestampInUse},
		{"max lifetime", lc.MaxLifetime == time.Hour},
		{"heartbeat", lc.HeartbeatInterval == time.Minute && lc.MissingHeartbeatsAllowed == 3},
		{"revocation", lc.InitMinDelayBRIs == time.Second && lc.MaxBRAckTimeout == 2*time.Second && lc.BRIMaxRetries == 1},
		{"tunnel interface", lc.DataPlaneDev == "core"},
	}
	for _, x := range checks {
		if !x.ok {
			t.Errorf("%s: %+v", x.what, lc)
		}
	}

	off, err := lmaConfig(load(t, "lma.yaml", "enabled: true           # default true", "enabled: false",
		"min_delay_before_bce_delete: 10s", "min_delay_before_bce_delete: 0s", "ordering: timestamp", "ordering: sequence"))
	if err != nil {
		t.Fatal(err)
	}
	if off.HeartbeatInterval >= 0 || off.MinDelayBeforeBCEDelete != time.Nanosecond || off.TimestampBasedApproachInUse {
		t.Errorf("heartbeat off / explicit 0 s delay / sequence: %v %v %v", off.HeartbeatInterval, off.MinDelayBeforeBCEDelete, off.TimestampBasedApproachInUse)
	}
	_, err = lmaConfig(load(t, "lma.yaml", "      assign_length: 64           # length of each HNP (default 64, needed for SLAAC)",
		"      assign_length: 64\n    - prefix: 2001:db8:300::/48\n      assign_length: 56"))
	if err == nil || !strings.Contains(err.Error(), "lma.pools[1].assign_length: 56 differs") {
		t.Errorf("two prefix lengths: %v", err)
	}
}

func TestMAGConfig(t *testing.T) {
	var warnings []string
	warn := func(k, r string) { warnings = append(warnings, k+": "+r) }
	mc, err := magConfig(load(t, "e2e-mag1.yaml"), warn)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings for the e2e config: %q", warnings)
	}
	if mc.Address != netip.MustParseAddr("2001:db8:ff::11") || mc.UplinkDev != "core" || mc.DefaultLMA != netip.MustParseAddr("2001:db8:ff::2") {
		t.Errorf("addresses: %+v", mc)
	}
	if len(mc.Interfaces) != 1 || mc.Interfaces[0].Name != "acc" || mc.Interfaces[0].ATT != mh.ATT8023 || !mc.MACIdentity {
		t.Errorf("access links: %+v MACIdentity %v", mc.Interfaces, mc.MACIdentity)
	}
	if len(mc.Profiles) != 1 || mc.Profiles[0].MNID != "mn1@example.net" || mc.Profiles[0].MAC.String() != "02:00:00:00:01:01" ||
		mc.Profiles[0].LMA != netip.MustParseAddr("2001:db8:ff::2") {
		t.Errorf("profiles: %+v", mc.Profiles)
	}
	if mc.Lifetime != 120*time.Second || mc.RefreshFraction < 0.799 || mc.RefreshFraction > 0.801 || mc.RAInterval != 10*time.Second ||
		mc.MTU != 1460 || mc.HeartbeatInterval != 30*time.Second || mc.InitialBindackTimeout != time.Second || mc.MaxUpdateRate != 3 {
		t.Errorf("timers: %+v", mc)
	}

	warnings = nil
	mc, err = magConfig(load(t, "e2e-mag1.yaml", "mn_id_from: mac", "mn_id_from: interface",
		"link_local_address: fe80::200:5eff:fe00:5213", "link_local_address: fe80::1", "reregister_before: 0.2", "reregister_before: 30s"), warn)
	if err != nil {
		t.Fatal(err)
	}
	if mc.MACIdentity || len(mc.Profiles) != 2 || mc.Profiles[0].MNID != "acc" || mc.Profiles[0].Interface != "acc" {
		t.Errorf("mn_id_from interface: %+v", mc.Profiles)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "mag.link_local_address: fe80::1 not supported") {
		t.Errorf("warnings: %q", warnings)
	}
	if mc.RefreshFraction < 0.749 || mc.RefreshFraction > 0.751 {
		t.Errorf("reregister_before 30s of 120s: fraction %v, want 0.75", mc.RefreshFraction)
	}
}

// TestRunLMA runs the daemon in process with an in-memory transport and a
// fake data plane: stale state is reconciled away at start, a PBU is
// answered, a malformed message is counted and dropped, a reload through
// the management API authorizes a new MAG (and an invalid file is
// refused), and stopping flushes the data plane.
func TestRunLMA(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lma.yaml")
	orig, err := os.ReadFile(filepath.Join(configsDir, "e2e-lma.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	base := strings.ReplaceAll(string(orig), "/run/pmipd-e2e", dir)
	write := func(s string) {
		if err := os.WriteFile(cfgPath, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(base)

	lmaAddr := netip.MustParseAddr("2001:db8:ff::2")
	netw := transport.NewNetwork()
	fake := dataplane.NewFake()
	stale := dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: netip.MustParsePrefix("2001:db8:999::/64"), Remote: lmaAddr}
	if err := fake.Add(stale); err != nil {
		t.Fatal(err)
	}
	oldT, oldD := openTransport, openDriver
	t.Cleanup(func() { openTransport, openDriver = oldT, oldD })
	openTransport = func(c *config.Config) (transport.Transport, error) { return netw.Attach(c.Transport.Address) }
	openDriver = func(name string) (dataplane.Driver, string, error) { return fake, "test", nil }

	var logs syncBuf
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- run([]string{"-c", cfgPath}, io.Discard, &logs, stop) }()
	sock := filepath.Join(dir, "lma.sock")
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, err := client.Get("http://x/v1/status"); err == nil {
			r.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("management socket never answered\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ops := fake.Ops(); !slices.Contains(ops, "del "+stale.String()) || !slices.Contains(ops, "setup 2001:db8:ff::2") {
		t.Errorf("start: data plane ops %q, want the stale entry removed and setup", ops)
	}
	if _, err := os.Stat(filepath.Join(dir, "lma", "state.db")); err != nil {
		t.Errorf("state file: %v", err)
	}

	rogue := netip.MustParseAddr("2001:db8:ff::99")
	mag, err := netw.Attach(rogue)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint16(0)
	pbu := func(mn string) mh.Status {
		t.Helper()
		seq++
		bu := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 10}
		bu.Options = mh.Options{mh.NewNAI(mn), &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()},
			&mh.HandoffIndicator{Value: 1}, &mh.AccessTechnologyType{Value: 3}, mh.NewTimestamp(time.Now())}
		b, _ := bu.Marshal()
		if err := mag.Send(lmaAddr, b); err != nil {
			t.Fatal(err)
		}
		got := make(chan mh.Status, 1)
		go func() {
			ps := make([]transport.Packet, 1)
			for {
				if _, err := mag.Receive(ps); err != nil {
					return
				}
				if m, err := mh.Parse(ps[0].Data); err == nil {
					if ba, ok := m.(*mh.BindingAck); ok && ba.Sequence == seq {
						got <- ba.Status
						return
					}
				}
			}
		}()
		select {
		case st := <-got:
			return st
		case <-time.After(3 * time.Second):
			t.Fatalf("no PBA for %s\n%s", mn, logs.String())
			return 0
		}
	}
	if st := pbu("a@example.net"); st != mh.StatusMAGNotAuthorizedForProxyReg {
		t.Errorf("unauthorized MAG: %d", st)
	}
	if err := mag.Send(lmaAddr, []byte{59, 8, 5, 0, 0, 0, 0, 1}); err != nil {
		t.Fatal(err)
	}

	reload := func() (int, string) {
		t.Helper()
		r, err := client.Post("http://x/v1/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	write(strings.Replace(base, "  mobile_nodes:\n", "    - address: 2001:db8:ff::99    # test\n      mn_ids: [b@example.net]     # test\n  mobile_nodes:\n", 1))
	if code, body := reload(); code != 200 || !strings.Contains(body, "2001:db8:ff::99") {
		t.Fatalf("reload: %d %s", code, body)
	}
	if st := pbu("b@example.net"); st != mh.StatusAccepted {
		t.Errorf("after the reload authorized it: %d", st)
	}
	if st := pbu("c@example.net"); st != mh.StatusMAGNotAuthorizedForProxyReg {
		t.Errorf("MN not in the new mn_ids: %d", st)
	}
	write(base + "bogus: 1\n")
	if code, body := reload(); code != 422 || !strings.Contains(body, "bogus: unknown key") {
		t.Errorf("invalid reload: %d %s", code, body)
	}
	if st := pbu("b@example.net"); st != mh.StatusAccepted {
		t.Errorf("after a refused reload: %d (the running config was not kept)", st)
	}

	r, err := client.Get("http://x/v1/counters")
	if err != nil {
		t.Fatal(err)
	}
	var ctr struct{ Counters []mgmt.Counter }
	err = json.NewDecoder(r.Body).Decode(&ctr)
	r.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	counter := func(name, key string) uint64 {
		for _, c := range ctr.Counters {
			if c.Role == "lma" && c.Name == name && c.Key == key {
				return c.Value
			}
		}
		return 0
	}
	pba154 := fmt.Sprintf("%d %v", mh.StatusMAGNotAuthorizedForProxyReg, mh.StatusMAGNotAuthorizedForProxyReg)
	pba0 := fmt.Sprintf("0 %v", mh.StatusAccepted)
	if counter("dropped", "malformed") != 1 || counter("pba_status", pba154) != 2 || counter("pba_status", pba0) != 2 {
		t.Errorf("counters: dropped/malformed %d, pba %q %d, pba %q %d; all: %+v", counter("dropped", "malformed"),
			pba154, counter("pba_status", pba154), pba0, counter("pba_status", pba0), ctr.Counters)
	}

	close(stop)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after stop")
	}
	if ops := fake.Ops(); ops[len(ops)-1] != "flush" {
		t.Errorf("last data plane op %q, want flush", ops[len(ops)-1])
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("management socket left behind: %v", err)
	}
	// A restart restores the binding of b@example.net from the state
	// file, puts its route back into the (flushed) data plane before the
	// LMA serves, and keeps the Restart Counter: the first start on a new
	// file set it to 1, and nothing was lost (RFC 5847 §3.2).
	bindingsOf := func() []mgmt.Binding {
		t.Helper()
		r, err := client.Get("http://x/v1/bindings")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var bs struct{ Bindings []mgmt.Binding }
		if err := json.NewDecoder(r.Body).Decode(&bs); err != nil {
			t.Fatal(err)
		}
		return bs.Bindings
	}
	write(base)
	stop2 := make(chan struct{})
	done2 := make(chan int, 1)
	go func() { done2 <- run([]string{"-c", cfgPath}, io.Discard, &logs, stop2) }()
	var st mgmt.Status
	deadline = time.Now().Add(5 * time.Second)
	for {
		if r, err := client.Get("http://x/v1/status"); err == nil {
			err = json.NewDecoder(r.Body).Decode(&st)
			r.Body.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("second run: management socket never answered\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Two mobility sessions of b (both PBUs said HI 1, a new interface).
	restored := bindingsOf()
	have, _ := fake.List()
	var want []dataplane.Entry
	for _, b := range restored {
		if b.MN != "b@example.net" || len(b.HNPs) != 1 || b.ProxyCoA != rogue || b.State != "active" {
			t.Errorf("second run: restored binding %+v", b)
			continue
		}
		want = append(want, dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: b.HNPs[0], Remote: rogue})
	}
	dataplane.SortEntries(want)
	if len(restored) != 2 || !slices.Equal(have, want) {
		t.Errorf("second run: %d bindings restored, want 2; data plane %v, want %v", len(restored), have, want)
	}
	close(stop2)
	if code := <-done2; code != 0 || st.RestartCounter != 1 || st.Driver != "fake" || st.DriverReason != "test" || st.Node != "lma" {
		t.Errorf("second run: exit %d, status %+v", code, st)
	}
	for _, want := range []string{"data plane selected", "reason=test", "configuration reload refused", "data plane flushed", "component=lma", "node=lma"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}
