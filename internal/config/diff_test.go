package config

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

func mustParse(t *testing.T, y string) *Config {
	t.Helper()
	c, err := Parse([]byte(y))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, y)
	}
	return c
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, x := range s {
		out = append(out, netip.MustParseAddr(x))
	}
	return out
}

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

const diffBase = `
roles: [lma]
transport: {address: "2001:db8:ff::2", interface: core}
lma:
  pools: [{prefix: "2001:db8:100::/48"}, {prefix: "2001:db8:101::/48"}]
  mags:
    - {address: "2001:db8:ff::11", mn_ids: "*"}
    - {address: "2001:db8:ff::12", mn_ids: [mn1]}
  mobile_nodes: [{mn_id: mn1}, {mn_id: mn2, prefixes: []}]
`

func TestDiffNone(t *testing.T) {
	a, b := mustParse(t, diffBase), mustParse(t, diffBase)
	if ch := Diff(a, b); !ch.Empty() || ch.NeedsRestart() || ch.String() != "no changes" {
		t.Errorf("Diff of equal configs = %+v", ch)
	}
	// nil and empty lists are the same thing.
	c := mustParse(t, strings.Replace(diffBase, "{mn_id: mn2, prefixes: []}", "{mn_id: mn2}", 1))
	if ch := Diff(a, c); !ch.Empty() {
		t.Errorf("prefixes: [] vs absent = %+v", ch)
	}
}

func TestDiffLMA(t *testing.T) {
	old := mustParse(t, diffBase)
	new := mustParse(t, `
roles: [lma]
transport: {address: "2001:db8:ff::2", interface: core}
node: {log_level: debug}
lma:
  pools: [{prefix: "2001:db8:101::/48", assign_length: 60}, {prefix: "2001:db8:102::/48"}]
  mags:
    - {address: "2001:db8:ff::12", mn_ids: [mn1, mn2]}
    - {address: "2001:db8:ff::13", mn_ids: "*"}
  mobile_nodes: [{mn_id: mn2, allowed: false}, {mn_id: mn3}]
  timers: {min_delay_before_bce_delete: 5s}
  heartbeat: {interval: 30s}
`)
	ch := Diff(old, new)
	check := func(name string, got, want any) {
		t.Helper()
		if g, w := toString(got), toString(want); g != w {
			t.Errorf("%s = %s, want %s", name, g, w)
		}
	}
	check("Keys", ch.Keys, []string{"node.log_level", "lma.pools", "lma.mags", "lma.mobile_nodes",
		"lma.timers.min_delay_before_bce_delete", "lma.heartbeat.interval"})
	// The LMA takes its heartbeat settings at start only.
	check("Restart", ch.Restart, []string{"lma.heartbeat.interval"})
	check("Timers", ch.Timers, []string{"lma.timers.min_delay_before_bce_delete", "lma.heartbeat.interval"})
	check("MAGsAdded", ch.MAGsAdded, addrs("2001:db8:ff::13"))
	check("MAGsRemoved", ch.MAGsRemoved, addrs("2001:db8:ff::11"))
	check("MAGsChanged", ch.MAGsChanged, addrs("2001:db8:ff::12"))
	check("MNPoliciesAdded", ch.MNPoliciesAdded, []string{"mn3"})
	check("MNPoliciesRemoved", ch.MNPoliciesRemoved, []string{"mn1"})
	check("MNPoliciesChanged", ch.MNPoliciesChanged, []string{"mn2"})
	check("PoolsAdded", ch.PoolsAdded, prefixes("2001:db8:102::/48"))
	check("PoolsRemoved", ch.PoolsRemoved, prefixes("2001:db8:100::/48"))
	check("PoolsChanged", ch.PoolsChanged, prefixes("2001:db8:101::/48"))
	check("PeersAdded", ch.PeersAdded, addrs("2001:db8:ff::13"))
	check("PeersRemoved", ch.PeersRemoved, addrs("2001:db8:ff::11"))
	if !ch.NeedsRestart() {
		t.Error("NeedsRestart false with a heartbeat change")
	}
	want := "changed: +node.log_level +lma.pools +lma.mags +lma.mobile_nodes +lma.timers.min_delay_before_bce_delete +lma.heartbeat.interval\n" +
		"mags: +2001:db8:ff::13 -2001:db8:ff::11 ~2001:db8:ff::12\n" +
		"mn policies: +mn3 -mn1 ~mn2\n" +
		"pools: +2001:db8:102::/48 -2001:db8:100::/48 ~2001:db8:101::/48\n" +
		"peers: +2001:db8:ff::13 -2001:db8:ff::11\n" +
		"timers: +lma.timers.min_delay_before_bce_delete +lma.heartbeat.interval\n" +
		"restart needed for: +lma.heartbeat.interval"
	if ch.String() != want {
		t.Errorf("String:\n%s\nwant\n%s", ch, want)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case []string:
		return "[" + strings.Join(x, " ") + "]"
	case []netip.Addr:
		return "[" + strings.Join(strs(x), " ") + "]"
	case []netip.Prefix:
		return "[" + strings.Join(strs(x), " ") + "]"
	}
	return "?"
}

func TestDiffRestartAndMAG(t *testing.T) {
	old := mustParse(t, minimalMAG)
	new := mustParse(t, `
roles: [mag]
transport: {address: "2001:db8:ff::21", interface: core}
dataplane: {driver: fake}
mag:
  lma_address: "2001:db8:ff::3"
  access: [{interface: acc, att: wifi}, {interface: acc2}]
  mobile_nodes:
    - {mn_id: mn1@example.net, mac: "02:00:00:00:01:01", lma: "2001:db8:ff::2"}
    - {mn_id: mn2@example.net, prefixes: ["2001:db8:200::/64"]}
  retransmission: {max: 16s}
`)
	ch := Diff(old, new)
	// The MAG applies nothing live: every mag key needs a restart.
	if got, want := ch.Restart, []string{"transport.address", "dataplane.driver", "mag.address", "mag.lma_address",
		"mag.access", "mag.mobile_nodes", "mag.retransmission.max"}; !slices.Equal(got, want) {
		t.Errorf("Restart = %q, want %q", got, want)
	}
	if !ch.NeedsRestart() {
		t.Error("NeedsRestart false after a transport address change")
	}
	if !slices.Equal(ch.AccessAdded, []string{"acc2"}) || !slices.Equal(ch.AccessChanged, []string{"acc"}) || len(ch.AccessRemoved) != 0 {
		t.Errorf("access: +%q -%q ~%q", ch.AccessAdded, ch.AccessRemoved, ch.AccessChanged)
	}
	// mn1 keeps its LMA (now explicit), mn2 is new.
	if !slices.Equal(ch.ProfilesAdded, []string{"mn2@example.net"}) || len(ch.ProfilesChanged) != 0 || len(ch.ProfilesRemoved) != 0 {
		t.Errorf("profiles: +%q -%q ~%q", ch.ProfilesAdded, ch.ProfilesRemoved, ch.ProfilesChanged)
	}
	if !slices.Equal(ch.PeersAdded, addrs("2001:db8:ff::3")) || len(ch.PeersRemoved) != 0 {
		t.Errorf("peers: +%v -%v", ch.PeersAdded, ch.PeersRemoved)
	}
	if !slices.Equal(ch.Timers, []string{"mag.retransmission.max"}) {
		t.Errorf("Timers = %q", ch.Timers)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

type applied struct {
	mu    sync.Mutex
	calls []Changes
	fail  error
}

func (a *applied) apply(old, new *Config, ch Changes) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old == nil || new == nil {
		panic("nil config passed to apply")
	}
	a.calls = append(a.calls, ch)
	return a.fail
}

func (a *applied) n() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

func TestReloaderReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lma.yaml")
	writeFile(t, path, diffBase)
	cur, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var a applied
	r := NewReloader(path, cur, a.apply, nil)

	// Unchanged file: no apply call.
	if ch, err := r.Reload(); err != nil || !ch.Empty() || a.n() != 0 {
		t.Fatalf("unchanged reload: %v %+v, %d apply calls", err, ch, a.n())
	}

	// A valid change is applied and becomes current.
	writeFile(t, path, strings.Replace(diffBase, `{address: "2001:db8:ff::12", mn_ids: [mn1]}`, `{address: "2001:db8:ff::12", mn_ids: [mn1]}
    - {address: "2001:db8:ff::14", mn_ids: "*"}`, 1))
	ch, err := r.Reload()
	if err != nil || !slices.Equal(ch.MAGsAdded, addrs("2001:db8:ff::14")) || a.n() != 1 {
		t.Fatalf("valid reload: %v %+v, %d apply calls", err, ch, a.n())
	}
	if len(r.Current().LMA.MAGs) != 3 {
		t.Fatalf("Current has %d MAGs after reload, want 3", len(r.Current().LMA.MAGs))
	}
	good := r.Current()

	// An invalid file is refused with the reason; the running config stays.
	writeFile(t, path, strings.Replace(diffBase, "2001:db8:101::/48", "2001:db8:100::/56", 1))
	_, err = r.Reload()
	wantErr := "reload refused, keeping the running configuration: " + path + ": invalid configuration\n  lma.pools: 2001:db8:100::/48 overlaps 2001:db8:100::/56"
	if err == nil || err.Error() != wantErr {
		t.Fatalf("invalid reload error = %v\nwant %s", err, wantErr)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.File != path {
		t.Errorf("the error does not wrap the *Error: %v", err)
	}
	if r.Current() != good || a.n() != 1 {
		t.Errorf("invalid config replaced the running one or reached apply (%d calls)", a.n())
	}

	// apply refusing keeps the running config too.
	writeFile(t, path, diffBase)
	a.fail = errors.New("cannot remove a MAG with bindings")
	if _, err := r.Reload(); err == nil || !strings.Contains(err.Error(), "apply: cannot remove a MAG with bindings") {
		t.Errorf("refused apply: err = %v", err)
	}
	if r.Current() != good {
		t.Error("refused apply replaced the running config")
	}
}

// Run reloads on a real SIGHUP sent to the test process.
func TestReloaderSIGHUP(t *testing.T) {
	// Keep the process alive whatever happens: SIGHUP's default action
	// would end it. Restored at the end of the test.
	guard := make(chan os.Signal, 8)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	path := filepath.Join(t.TempDir(), "lma.yaml")
	writeFile(t, path, diffBase)
	cur, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var a applied
	log, hook := logtest.NewNullLogger()
	r := NewReloader(path, cur, a.apply, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-r.ready

	waitLog := func(n int) *logrus.Entry {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if e := hook.AllEntries(); len(e) >= n {
				return e[n-1]
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no log entry %d after SIGHUP (have %d)", n, len(hook.AllEntries()))
		return nil
	}
	hup := func() {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	writeFile(t, path, strings.Replace(diffBase, "[mn1]", "[mn1, mn2]", 1))
	hup()
	e := waitLog(1)
	if e.Level != logrus.InfoLevel || e.Message != "configuration reloaded" || a.n() != 1 {
		t.Fatalf("after a valid SIGHUP reload: %s %q %v, %d apply calls", e.Level, e.Message, e.Data, a.n())
	}
	if got := r.Current().LMA.MAGs[1].MNIDs.IDs; !slices.Equal(got, []string{"mn1", "mn2"}) {
		t.Errorf("Current mn_ids = %q", got)
	}

	writeFile(t, path, diffBase+"  ordering: random\n")
	hup()
	e = waitLog(2)
	if e.Level != logrus.ErrorLevel || e.Message != "configuration reload refused" ||
		!strings.Contains(e.Data[logrus.ErrorKey].(error).Error(), `lma.ordering: unknown ordering "random"`) {
		t.Errorf("after an invalid SIGHUP reload: %s %q %v", e.Level, e.Message, e.Data)
	}
	if a.n() != 1 || len(r.Current().LMA.MAGs[1].MNIDs.IDs) != 2 {
		t.Error("an invalid config reached apply or replaced the running one")
	}

	writeFile(t, path, strings.Replace(diffBase, "interface: core", "interface: eth9", 1))
	hup()
	waitLog(4) // the restart warning, then the reload
	entries := hook.AllEntries()
	if w := entries[2]; w.Level != logrus.WarnLevel || !slices.Equal(w.Data["keys"].([]string), []string{"transport.interface", "dataplane.tunnel_interface"}) {
		t.Errorf("restart warning: %s %q %v", w.Level, w.Message, w.Data)
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
}
