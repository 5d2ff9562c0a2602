// Package netnstest builds throw-away network namespaces and veth pairs for
// tests, and removes them when the test ends, pass or fail.
//
// Names get a per-process suffix so that concurrent test binaries do not
// collide. Traffic in these tests goes only to addresses inside the
// namespaces.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"
)

var seq atomic.Uint32

// RequireRoot fails the test when it does not run as root (the machines
// of this project and CI run tests as root; a non-root run is a mistake,
// not a missing kernel feature).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("network namespace tests need root (run `make test` as root)")
	}
}

// NS is a named network namespace.
type NS struct {
	Name string
	t    testing.TB
}

// New creates a network namespace named after short (plus a unique
// suffix), with lo up, and removes it at the end of the test.
func New(t testing.TB, short string) *NS {
	t.Helper()
	RequireRoot(t)
	name := fmt.Sprintf("pt%d%s%d", os.Getpid()%10000, short, seq.Add(1))
	if len(name) > 15 {
		name = name[:15]
	}
	run(t, "ip", "netns", "add", name)
	ns := &NS{Name: name, t: t}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ns.IP("link", "set", "lo", "up")
	return ns
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// IP runs `ip -n NS args...` and fails the test on error.
func (n *NS) IP(args ...string) string {
	n.t.Helper()
	return run(n.t, "ip", append([]string{"-n", n.Name}, args...)...)
}

// Exec runs a command inside the namespace and returns its combined output
// and error (it does not fail the test).
func (n *NS) Exec(name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...).CombinedOutput()
	return string(out), err
}

// MustExec is Exec that fails the test on error.
func (n *NS) MustExec(name string, args ...string) string {
	n.t.Helper()
	out, err := n.Exec(name, args...)
	if err != nil {
		n.t.Fatalf("in %s: %s %s: %v\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return out
}

// Sysctl sets a sysctl inside the namespace.
func (n *NS) Sysctl(key, value string) {
	n.t.Helper()
	n.MustExec("sysctl", "-qw", key+"="+value)
}

// Veth creates a veth pair aName (in a) <-> bName (in b), both up.
func Veth(t testing.TB, a *NS, aName string, b *NS, bName string) {
	t.Helper()
	run(t, "ip", "link", "add", aName, "netns", a.Name, "type", "veth", "peer", "name", bName, "netns", b.Name)
	a.IP("link", "set", aName, "up")
	b.IP("link", "set", bName, "up")
}

// Do runs fn with the calling goroutine's OS thread inside the namespace,
// and puts the thread back afterwards.
func (n *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(n.Name)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

// Handle returns the namespace's handle (closed at the end of the test).
func (n *NS) Handle() netns.NsHandle {
	n.t.Helper()
	h, err := netns.GetFromName(n.Name)
	if err != nil {
		n.t.Fatalf("netns %s: %v", n.Name, err)
	}
	n.t.Cleanup(func() { h.Close() })
	return h
}
