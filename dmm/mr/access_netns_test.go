//go:build linux

package mr

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/mag"
)

func testLog(t *testing.T) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(testLogWriter{t})
		l.SetLevel(logrus.DebugLevel)
	}
	return logrus.NewEntry(l).WithField("test", t.Name())
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// linkAccessIn builds the access side of an MR in namespace ns: the NDP
// socket and the netlink link source of the access interface "acc".
func linkAccessIn(t *testing.T, ns *netnstest.NS, cfg LinkAccessConfig) *LinkAccess {
	t.Helper()
	var a *LinkAccess
	err := ns.Do(func() error {
		conn, err := ndp.Listen()
		if err != nil {
			return err
		}
		t.Cleanup(func() { conn.Close() })
		src, err := mag.NewNetlinkLinks(ns.Handle(), []string{"acc"}, conn, testLog(t))
		if err != nil {
			return err
		}
		a, err = NewLinkAccess(src, conn, cfg, testLog(t))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s:\n%s", d, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mnAddrs lists the MN's global addresses as "<addr> [deprecated]".
func mnAddrs(mn *netnstest.NS) (map[string]bool, string) {
	out := mn.IP("-6", "-o", "addr", "show", "dev", "eth0", "scope", "global")
	re := regexp.MustCompile(`inet6 ([0-9a-f:]+)/64`)
	got := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil || strings.Contains(line, "tentative") {
			continue
		}
		got[m[1]] = strings.Contains(line, "deprecated")
	}
	return got, out
}

// Deployment B on real links: a plain Linux MN namespace attached to
// MR11's namespace gets an address by SLAAC from the MR's RA (prefix from
// the HAA, RFC 6543 router addresses); its link is then moved to MR2's
// namespace (ip link set acc netns): MR11 sees the node leave (detach,
// temporary context), MR2 sees it arrive (a move: context transfer with
// MR11), advertises a new prefix beside the old one, deprecated (draft
// §4.2), and the MN keeps its old address, deprecated, and configures a
// new one.
func TestNetnsLinkAccess(t *testing.T) {
	mn, ns11, ns2 := netnstest.New(t, "mn"), netnstest.New(t, "mr11"), netnstest.New(t, "mr2")
	netnstest.Veth(t, ns11, "acc", mn, "eth0")
	// MRs forward (which also joins ff02::2 on every link, the moved one
	// included, as soon as it arrives).
	ns11.Sysctl("net.ipv6.conf.all.forwarding", "1")
	ns2.Sysctl("net.ipv6.conf.all.forwarding", "1")
	for k, v := range map[string]string{"accept_ra": "1", "autoconf": "1", "accept_dad": "0",
		"router_solicitation_delay": "0", "router_solicitation_interval": "1"} {
		mn.Sysctl("net.ipv6.conf.eth0."+k, v)
	}
	macOut := mn.IP("-o", "link", "show", "dev", "eth0")
	mac, err := net.ParseMAC(regexp.MustCompile(`link/ether ([0-9a-f:]{17})`).FindStringSubmatch(macOut)[1])
	if err != nil {
		t.Fatalf("MN MAC: %v\n%s", err, macOut)
	}
	// MR11 recognises the MN by its MAC (from its Router Solicitation),
	// MR2 by the interface: a plain host sends nothing after the move
	// unless it has traffic, so a MAC profile would wait for its next
	// Neighbor Solicitation.
	acc11 := linkAccessIn(t, ns11, LinkAccessConfig{Profiles: []AccessProfile{{MNID: "mn1", MAC: mac}}})
	acc2 := linkAccessIn(t, ns2, LinkAccessConfig{Profiles: []AccessProfile{{MNID: "mn1", Interface: "acc"}}})

	w := newWorld(t)
	mr11 := w.addWith("MR11", Config{UpdateLMOnAttach: true}, acc11, nil)
	mr2 := w.addWith("MR2", Config{UpdateLMOnAttach: true, NewPrefixOnMove: true}, acc2, nil)
	ctx := context.Background()

	// SLAAC from MR11's RA: an address of MR11's first prefix.
	// (and MR11 has learnt the MN's link-local address, which comes from
	// the MN's first packets on the link: its RS or its NS).
	waitUntil(t, 8*time.Second, "the MN's SLAAC address from MR11's prefix", func() (bool, string) {
		got, out := mnAddrs(mn)
		mns, _ := mr11.mr.MNs(ctx)
		for a, dep := range got {
			if pfx(p11).Contains(addr(a)) && !dep && len(mns) == 1 && mns[0].LinkLocal.IsLinkLocalUnicast() {
				return true, ""
			}
		}
		c, _ := mr11.mr.Counters(ctx)
		return false, out + "\nMR11 MNs: " + sprint(mns) + "\nMR11 RAs " + sprint(c.RAs, c.RAErrors)
	})
	if r := mn.IP("-6", "route", "show", "default"); !strings.Contains(r, "via fe80::200:5eff:fe00:5213 dev eth0") {
		t.Errorf("MN default route is not the RFC 6543 link-local address:\n%s", r)
	}
	mns, _ := mr11.mr.MNs(ctx)
	if len(mns) != 1 || mns[0].MN != "mn1" || !mns[0].Attached || mns[0].Link != "acc" || !mns[0].LinkLocal.IsLinkLocalUnicast() {
		t.Fatalf("MR11 MNs: %+v", mns)
	}
	mnLL := mns[0].LinkLocal
	if out := mn.IP("-6", "addr", "show", "dev", "eth0", "scope", "link"); !strings.Contains(out, mnLL.String()) {
		t.Errorf("MR11 knows the MN's link-local address as %s:\n%s", mnLL, out)
	}
	if es := mr11.entries(t); len(es) != 1 || es[0] != "access-route "+p11+" dev acc" {
		t.Errorf("MR11 data plane: %v", es)
	}

	// The MN's link moves to MR2, a second later (the LM orders updates
	// by their time).
	w.advance(time.Second)
	ns11.IP("link", "set", "acc", "netns", ns2.Name)
	waitUntil(t, 5*time.Second, "MR11 to see the node leave", func() (bool, string) {
		mns, _ := mr11.mr.MNs(ctx)
		deps, _ := mr11.mr.Departures(ctx)
		mns2, _ := mr2.mr.MNs(ctx)
		return len(mns) == 0 && len(deps) == 1 && deps[0].NewMR == addrs["MR2"], sprint(mns, deps, mns2) + "\nMR2 ns: " + ns2.IP("-6", "addr") + ns2.IP("-6", "neigh")
	})
	waitUntil(t, 8*time.Second, "the MN's new address from MR2's prefix, the old one deprecated", func() (bool, string) {
		got, out := mnAddrs(mn)
		newOK, oldDep := false, false
		for a, dep := range got {
			if pfx(p2).Contains(addr(a)) && !dep {
				newOK = true
			}
			if pfx(p11).Contains(addr(a)) && dep {
				oldDep = true
			}
		}
		mns, _ := mr2.mr.MNs(ctx)
		return newOK && oldDep, out + "\nMR2 MNs: " + sprint(mns)
	})
	mns, _ = mr2.mr.MNs(ctx)
	if len(mns) != 1 || !mns[0].Attached || !mns[0].Moved || mns[0].PreviousMR != addrs["MR11"] || mns[0].LinkLocal != mnLL ||
		len(mns[0].Prefixes) != 2 || !mns[0].Prefixes[0].Deprecated || mns[0].Prefixes[1].Prefix != pfx(p2) {
		t.Errorf("MR2 MNs: %+v", mns)
	}
	waitUntil(t, 2*time.Second, "the LM update", func() (bool, string) {
		got := w.lmState("mn1")
		return strings.Join(got, ", ") == p2+" anchor=MR2 current=MR2, "+p11+" anchor=MR11 current=MR2", strings.Join(got, "\n")
	})
	c11, _ := mr11.mr.Counters(ctx)
	c2, _ := mr2.mr.Counters(ctx)
	if c11.Attaches != 1 || c11.Detaches != 1 || c11.HandoversOut != 1 || c11.RAErrors != 0 ||
		c2.Moves != 1 || c2.HandoversIn != 1 || c2.RAs == 0 || c2.RAErrors != 0 {
		t.Errorf("counters: MR11 %+v\nMR2 %+v", c11, c2)
	}
}

func sprint(a ...any) string {
	var b strings.Builder
	for _, x := range a {
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(fmtV(x), "\n", " ")) + " ")
	}
	return b.String()
}

func fmtV(x any) string { return fmt.Sprintf("%+v", x) }
