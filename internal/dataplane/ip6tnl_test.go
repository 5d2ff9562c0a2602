package dataplane

import (
	"strings"
	"testing"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
)

// TestProbeChoosesWhatTheKernelHas checks Probe against the kernel itself:
// whether an ip6tnl device can be created decides the answer.
func TestProbeChoosesWhatTheKernelHas(t *testing.T) {
	ns := netnstest.New(t, "probe")
	_, err := ns.Exec("ip", "link", "add", "x0", "type", "ip6tnl", "local", "::1", "remote", "::1")
	var name, reason string
	if e := ns.Do(func() error { name, reason = Probe(); return nil }); e != nil {
		t.Fatal(e)
	}
	want := "seg6"
	if err == nil {
		want = "ip6tnl"
	}
	if name != want || reason == "" {
		t.Fatalf("Probe() = %q (%s), want %q", name, reason, want)
	}
	t.Logf("probe: %s (%s)", name, reason)
}

// TestIp6tnlEndToEnd runs the MN-MAG-LMA-CN topology on the ip6tnl driver.
func TestIp6tnlEndToEnd(t *testing.T) {
	ns := netnstest.New(t, "t6")
	if out, err := ns.Exec("ip", "link", "add", "x0", "type", "ip6tnl", "local", "::1", "remote", "::1"); err != nil {
		t.Skipf("kernel has no ip6_tunnel module (ip link add type ip6tnl: %s): the ip6tnl driver cannot run here; the seg6 driver is used", strings.TrimSpace(out))
	}
	tp := newTopoWith(t, func() (kernelDriver, error) { return NewIp6tnl(nil) })
	runEndToEnd(t, tp)
}

func TestNewByName(t *testing.T) {
	if d, _, err := New("fake"); err != nil || d.Name() != "fake" {
		t.Fatalf("New(fake) = %v, %v", d, err)
	}
	if _, _, err := New("gre"); err == nil || !strings.Contains(err.Error(), `unknown driver "gre"`) {
		t.Fatalf("New(gre): %v", err)
	}
}
