//go:build linux

package mr

import (
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/punt"
)

// The adapter over the real punt path (A - R - B, the punt on R): a Watch
// miss arrives as a Miss, Hold holds, the held packets' sources arrive as
// HeldSources once per source /64, Release re-injects (B receives them),
// Drop discards, and Close removes the device and closes both channels.
func TestNetnsPuntAdapter(t *testing.T) {
	a, r, b := netnstest.New(t, "pa"), netnstest.New(t, "pr"), netnstest.New(t, "pb")
	netnstest.Veth(t, a, "a2r", r, "r2a")
	netnstest.Veth(t, r, "r2b", b, "b2r")
	a.IP("addr", "add", "2001:db8:a::2/64", "dev", "a2r", "nodad")
	a.IP("addr", "add", "2001:db8:a:1::2/64", "dev", "a2r", "nodad")
	r.IP("addr", "add", "2001:db8:a::1/64", "dev", "r2a", "nodad")
	r.IP("addr", "add", "2001:db8:b::1/64", "dev", "r2b", "nodad")
	r.IP("-6", "route", "add", "2001:db8:a:1::/64", "dev", "r2a")
	b.IP("addr", "add", "2001:db8:b::2/64", "dev", "b2r", "nodad")
	a.IP("-6", "route", "add", "default", "via", "2001:db8:a::1")
	b.IP("-6", "route", "add", "default", "via", "2001:db8:b::1")
	r.Sysctl("net.ipv6.conf.all.forwarding", "1")
	waitUntil(t, 10*time.Second, "A to ping B", func() (bool, string) {
		out, err := a.Exec("ping", "-c", "1", "-W", "1", "2001:db8:b::2")
		return err == nil, out
	})
	var p *punt.Punt
	if err := r.Do(func() (err error) { p, err = punt.Open(punt.Config{Device: "mrpunt0"}, nil, testLog(t)); return }); err != nil {
		t.Fatal(err)
	}
	ad := NewPuntAdapter(p)
	closed := false
	t.Cleanup(func() {
		if !closed {
			ad.Close()
		}
	})

	// B counts what reaches it.
	var got atomic.Int64
	var rc net.PacketConn
	if err := b.Do(func() (err error) { rc, err = net.ListenPacket("udp6", "[::]:9000"); return }); err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := rc.ReadFrom(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	send := func(from, to string, n int) {
		t.Helper()
		err := a.Do(func() error {
			c, err := net.DialUDP("udp6", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("["+from+"]:0")),
				net.UDPAddrFromAddrPort(netip.MustParseAddrPort("["+to+"]:9000")))
			if err != nil {
				return err
			}
			defer c.Close()
			for range n {
				if _, err := c.Write([]byte("data")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Watch: a packet to an unrouted address of the space is a Miss.
	if err := ad.Watch(pfx("2001:db8:c::/48")); err != nil {
		t.Fatal(err)
	}
	send("2001:db8:a::2", "2001:db8:c:1::5", 2)
	select {
	case m := <-ad.Misses():
		if m.Prefix != pfx("2001:db8:c:1::/64") || m.Dst != addr("2001:db8:c:1::5") || m.Src != addr("2001:db8:a::2") || m.At.IsZero() {
			t.Errorf("miss: %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Miss")
	}
	if n, err := ad.Drop(pfx("2001:db8:c:1::/64")); n != 2 || err != nil {
		t.Errorf("Drop of the missed prefix = %d, %v", n, err)
	}

	// Hold: held, sources reported once per /64, released to B.
	if err := ad.Hold(pfx("2001:db8:b::/64")); err != nil {
		t.Fatal(err)
	}
	send("2001:db8:a::2", "2001:db8:b::2", 3)
	send("2001:db8:a:1::2", "2001:db8:b::2", 3)
	send("2001:db8:a::2", "2001:db8:b::2", 1)
	waitUntil(t, 5*time.Second, "7 held", func() (bool, string) { st := p.Stats(); return st.Held == 7, sprint(st) })
	srcs := map[netip.Prefix]HeldSource{}
	for len(srcs) < 2 {
		select {
		case s := <-ad.Sources():
			if _, dup := srcs[s.SrcPrefix]; dup || s.Prefix != pfx("2001:db8:b::/64") || s.Dst != addr("2001:db8:b::2") {
				t.Fatalf("source: %+v (have %v)", s, srcs)
			}
			srcs[s.SrcPrefix] = s
		case <-time.After(5 * time.Second):
			t.Fatalf("sources: %v", srcs)
		}
	}
	if srcs[pfx("2001:db8:a:1::/64")].Src != addr("2001:db8:a:1::2") || srcs[pfx("2001:db8:a::/64")].Src != addr("2001:db8:a::2") {
		t.Errorf("sources: %+v", srcs)
	}
	select {
	case s := <-ad.Sources():
		t.Errorf("a third source: %+v", s)
	case <-time.After(50 * time.Millisecond):
	}
	if c := got.Load(); c != 0 {
		t.Fatalf("%d datagrams reached B while held", c)
	}
	if n, err := ad.Release(pfx("2001:db8:b::/64")); n != 7 || err != nil {
		t.Fatalf("Release = %d, %v", n, err)
	}
	waitUntil(t, 5*time.Second, "7 datagrams at B", func() (bool, string) { return got.Load() == 7, sprint(got.Load()) })

	// Close: both channels closed, the device gone.
	if err := ad.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	for name, ch := range map[string]func() bool{
		"Misses":  func() bool { _, ok := <-ad.Misses(); return ok },
		"Sources": func() bool { _, ok := <-ad.Sources(); return ok },
	} {
		done := make(chan bool, 1)
		go func() { done <- ch() }()
		select {
		case ok := <-done:
			if ok {
				t.Errorf("%s not closed", name)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("%s not closed after Close", name)
		}
	}
	if out := r.IP("link", "show"); strings.Contains(out, "mrpunt0") {
		t.Errorf("punt device left:\n%s", out)
	}
	if err := ad.Hold(pfx("2001:db8:b::/64")); err == nil {
		t.Error("Hold after Close accepted")
	}
}
