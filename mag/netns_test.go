package mag

import (
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// TestNetnsAttach runs the MAG with the raw MH socket, the seg6 data
// plane, the real NDP socket and netlink link events, against a scripted
// LMA in another namespace (raw MH socket, seg6 prefix route). The MN is a
// plain Linux namespace: it must get an address from its HNP by SLAAC
// from the MAG's RA, sent after the PBA, and reach a CN behind the LMA
// through the tunnel. Then the MAG side of the link goes down: the LMA receives the
// de-registration and the MAG's routes go; at stop nothing tagged is left.
func TestNetnsAttach(t *testing.T) {
	mn, magNS, lmaNS, cn := netnstest.New(t, "mn"), netnstest.New(t, "mag"), netnstest.New(t, "lma"), netnstest.New(t, "cn")
	netnstest.Veth(t, magNS, "acc", mn, "eth0")
	netnstest.Veth(t, magNS, "m2l", lmaNS, "l2m")
	magNS.IP("addr", "add", "2001:db8:ff::1/64", "dev", "m2l", "nodad")
	lmaNS.IP("addr", "add", "2001:db8:ff::2/64", "dev", "l2m", "nodad")
	netnstest.Veth(t, lmaNS, "l2c", cn, "c2l")
	lmaNS.IP("addr", "add", "2001:db8:c::1/64", "dev", "l2c", "nodad")
	cn.IP("addr", "add", "2001:db8:c::2/64", "dev", "c2l", "nodad")
	cn.IP("-6", "route", "add", "default", "via", "2001:db8:c::1")
	mn.Sysctl("net.ipv6.conf.eth0.accept_ra", "1")
	mn.Sysctl("net.ipv6.conf.eth0.autoconf", "1")
	magNS.Sysctl("net.ipv6.conf.all.forwarding", "1")
	hnp := netip.MustParsePrefix("2001:db8:100::/64")

	lg := logrus.New()
	lg.SetOutput(io.Discard)
	if testing.Verbose() {
		lg.SetOutput(testWriter{t})
		lg.SetLevel(logrus.DebugLevel)
	}
	log := logrus.NewEntry(lg)

	// The scripted LMA: assign hnp, route it to the MAG, answer PBAs.
	var lmaTr *transport.Raw
	var lmaDP dataplane.Driver
	if err := lmaNS.Do(func() (err error) {
		if lmaTr, err = transport.ListenRaw(lmaAddr, transport.RawOptions{}); err != nil {
			return err
		}
		d, err := dataplane.NewSeg6(nil)
		if err != nil {
			return err
		}
		lmaDP = d
		return d.Setup(dataplane.Config{Local: lmaAddr, Dev: "l2m"})
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lmaTr.Close(); lmaDP.Flush() })
	var mu sync.Mutex
	var got []*mh.BindingUpdate
	lmaDone := make(chan struct{})
	go func() {
		defer close(lmaDone)
		ps := make([]transport.Packet, 8)
		for {
			n, err := lmaTr.Receive(ps)
			if err != nil {
				return
			}
			for _, p := range ps[:n] {
				bu, err := mh.ParseBindingUpdate(p.Data)
				if err != nil || !bu.Proxy() {
					continue
				}
				mu.Lock()
				got = append(got, bu)
				mu.Unlock()
				if bu.Lifetime > 0 {
					_ = lmaDP.Add(dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: hnp, Remote: magAddr})
				} else {
					_ = lmaDP.Del(dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: hnp, Remote: magAddr})
				}
				b, _ := pba(bu, mh.StatusAccepted, bu.Lifetime, hnp).Marshal()
				_ = lmaTr.Send(p.Src, b)
			}
		}
	}()
	t.Cleanup(func() { lmaTr.Close(); <-lmaDone })

	// The MAG, with every kernel-facing part created in its namespace.
	var m *MAG
	var conn *ndp.Conn
	err := magNS.Do(func() error {
		tr, err := transport.ListenRaw(magAddr, transport.RawOptions{})
		if err != nil {
			return err
		}
		if conn, err = ndp.Listen(); err != nil {
			return err
		}
		dp, err := dataplane.NewSeg6(nil)
		if err != nil {
			return err
		}
		src, err := NewNetlinkLinks(magNS.Handle(), []string{"acc"}, conn, log)
		if err != nil {
			return err
		}
		cfg := Config{Address: magAddr, UplinkDev: "m2l", DefaultLMA: lmaAddr,
			Interfaces: []Interface{{Name: "acc"}},
			Profiles:   []Profile{{MNID: "mn1@example.org", Interface: "acc"}},
			Lifetime:   600 * time.Second, InitialRAInterval: time.Second}
		if m, err = New(cfg, Deps{Transport: tr, DataPlane: dp, Log: log, NDP: conn, Links: src}); err != nil {
			return err
		}
		return m.Start() // Setup of the seg6 driver needs this thread's namespace
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			m.Stop()
			conn.Close()
		}
	}
	t.Cleanup(stop)

	// The MN configures an address from the HNP and the MAG as its router.
	deadline := time.Now().Add(20 * time.Second)
	var addrs string
	for {
		addrs = mn.IP("-6", "addr", "show", "dev", "eth0", "scope", "global")
		if strings.Contains(addrs, "inet6 2001:db8:100:") && !strings.Contains(addrs, "tentative") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the MN got no address from its HNP within 20 s:\n%s\nBUL %+v\ncounters %+v", addrs, m.BUL(), m.Counters())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := mn.IP("-6", "route", "show", "default"); !strings.Contains(r, "via fe80::200:5eff:fe00:5213 dev eth0") {
		t.Errorf("MN default route is not the RFC 6543 link-local address:\n%s", r)
	}
	mu.Lock()
	first := got[0]
	mu.Unlock()
	if hiOf(first) != 1 || first.Lifetime != 150 || hnpsOf(first)[0] != allZero {
		t.Errorf("first PBU: HI %d lifetime %d HNPs %v", hiOf(first), first.Lifetime, hnpsOf(first))
	}
	b := m.BUL()
	if len(b) != 1 || b[0].State != "registered" || len(b[0].HNPs) != 1 || b[0].HNPs[0] != hnp {
		t.Fatalf("BUL: %+v", b)
	}
	c := m.Counters()
	if c.RASent == 0 || c.PBAAccepted != 1 {
		t.Errorf("counters: %+v", c)
	}

	// Traffic from the HNP crosses the tunnel both ways.
	deadline = time.Now().Add(10 * time.Second)
	for {
		out, err := mn.Exec("ping", "-c", "1", "-W", "1", "2001:db8:c::2")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MN cannot reach the CN through the tunnel: %v\n%s\nMN: %s%s\nMAG: %s%s%s\nLMA: %s%s", err, out,
				mn.IP("-6", "addr"), mn.IP("-6", "route"),
				magNS.IP("-6", "rule"), magNS.IP("-6", "route", "show", "table", "all"), magNS.IP("-6", "neigh"),
				lmaNS.IP("-6", "rule"), lmaNS.IP("-6", "route", "show", "table", "all"))
		}
	}

	// Detach: the MAG end of the MN's link goes down.
	magNS.IP("link", "set", "acc", "down")
	deadline = time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		last := got[len(got)-1]
		mu.Unlock()
		if last.Lifetime == 0 {
			if hiOf(last) != 4 || hnpsOf(last)[0] != hnp {
				t.Errorf("de-registration PBU: HI %d HNPs %v", hiOf(last), hnpsOf(last))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no de-registration PBU within 10 s of the link going down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(m.BUL()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("BUL entry left after the de-registration: %+v", m.BUL())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := magNS.IP("-6", "route", "show", "table", "all", "proto", "180"); strings.Contains(r, "2001:db8:100::") {
		t.Errorf("MAG routes for the HNP left after detach:\n%s", r)
	}
	stop()
	if r := strings.TrimSpace(magNS.IP("-6", "route", "show", "table", "all", "proto", "180")); r != "" {
		t.Errorf("MAG routes left after stop:\n%s", r)
	}
}
