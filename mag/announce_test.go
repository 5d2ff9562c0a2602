package mag

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/mh"
)

// A link that comes up is announced at once (NA for the RFC 6543 address
// and an RA without prefixes, both to all-nodes), before the MN is even
// identified; the MN named by its first frame (a Neighbor event from the
// sniffer) on a moved link is registered with HI 3. The all-nodes RA is
// rate limited to one per MIN_DELAY_BETWEEN_RAS per link; the NA is not.
func TestAnnounceOnLinkUp(t *testing.T) {
	h := newHarness(t, nil)
	h.up("acc1", true)
	nas, anns := h.nd.SentNAs(), h.announcements()
	if len(nas) != 1 || nas[0].IfIndex != ifindexOf("acc1") || nas[0].Dst != ndp.AllNodes || !reflect.DeepEqual(nas[0].NA, *ndp.RouterNA()) {
		t.Fatalf("NAs at link up: %+v", nas)
	}
	if len(anns) != 1 || anns[0].IfIndex != ifindexOf("acc1") || anns[0].RA.RouterLifetime != 1800*time.Second ||
		anns[0].RA.MTU != 1460 || !bytes.Equal(anns[0].RA.SourceLinkLayer, ndp.RouterMAC) {
		t.Fatalf("announcement RAs at link up: %+v", anns)
	}
	if len(h.pbus()) != 0 {
		t.Fatalf("PBU before the MN (profile by MAC) was identified: %+v", h.pbus())
	}
	if c := h.m.Counters(); c.Announcements != 1 {
		t.Errorf("Announcements %d, want 1", c.Announcements)
	}
	// The sniffer's report: the MN's MAC and its link-local source.
	h.links.Emit(LinkEvent{Kind: Neighbor, Ifname: "acc1", Ifindex: ifindexOf("acc1"), MAC: mac2, Addr: mnLL})
	if s := h.pbus(); len(s) != 1 || hiOf(s[0].bu) != mh.HIHandoffBetweenMAGs {
		t.Fatalf("after the first frame: %d PBUs, HI %v; want one with HI 3", len(s), func() any {
			if len(s) > 0 {
				return hiOf(s[0].bu)
			}
			return nil
		}())
	}
	// Flap within 3 s: a new NA, no new all-nodes RA; after 3 s both.
	h.down("acc1")
	h.advance(time.Second)
	h.up("acc1", false)
	if n, a := len(h.nd.SentNAs()), len(h.announcements()); n != 2 || a != 1 {
		t.Errorf("flap after 1 s: %d NAs, %d announcement RAs; want 2, 1", n, a)
	}
	h.down("acc1")
	h.advance(3 * time.Second)
	h.up("acc1", false)
	if n, a := len(h.nd.SentNAs()), len(h.announcements()); n != 3 || a != 2 {
		t.Errorf("flap after 3 s more: %d NAs, %d announcement RAs; want 3, 2", n, a)
	}
	// A repeated LinkUp (already up) announces nothing.
	h.up("acc1", false)
	if n := len(h.nd.SentNAs()); n != 3 {
		t.Errorf("repeated LinkUp: %d NAs, want 3", n)
	}
}

func TestParseFirstFrame(t *testing.T) {
	mn := net.HardwareAddr{0x02, 0, 0, 0, 1, 1}
	ll := netip.MustParseAddr("fe80::1")
	eth := func(dst, src string, et string) []byte {
		b, err := hex.DecodeString(dst + src + et)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ip6 := func(src netip.Addr) []byte {
		b := make([]byte, 40)
		b[0] = 0x60
		a := src.As16()
		copy(b[8:24], a[:])
		copy(b[24:40], ndp.AllNodes.AsSlice())
		return b
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	cases := []struct {
		name    string
		b       []byte
		pkttype uint8
		ok      bool
		mac     net.HardwareAddr
		addr    netip.Addr
	}{
		{"IPv6 from the MN", cat(eth("333300000001", "020000000101", "86dd"), ip6(ll)), unix.PACKET_MULTICAST, true, mn, ll},
		{"IPv6 unicast to the router", cat(eth("00005e005213", "020000000101", "86dd"), ip6(netip.MustParseAddr("2001:db8::5"))), unix.PACKET_HOST, true, mn, netip.MustParseAddr("2001:db8::5")},
		{"DAD NS from ::", cat(eth("3333ff000001", "020000000101", "86dd"), ip6(netip.IPv6Unspecified())), unix.PACKET_MULTICAST, true, mn, netip.Addr{}},
		{"VLAN-tagged IPv6", cat(eth("333300000001", "020000000101", "8100"), []byte{0, 5, 0x86, 0xdd}, ip6(ll)), unix.PACKET_MULTICAST, true, mn, ll},
		{"ARP: the MAC only", cat(eth("ffffffffffff", "020000000101", "0806"), make([]byte, 28)), unix.PACKET_BROADCAST, true, mn, netip.Addr{}},
		{"truncated IPv6 header: the MAC only", cat(eth("333300000001", "020000000101", "86dd"), ip6(ll)[:20]), unix.PACKET_MULTICAST, true, mn, netip.Addr{}},
		{"sent by the MAG", cat(eth("333300000001", "020000000101", "86dd"), ip6(ll)), unix.PACKET_OUTGOING, false, nil, netip.Addr{}},
		{"from the router MAC", cat(eth("333300000001", "00005e005213", "86dd"), ip6(ndp.RouterLinkLocal)), unix.PACKET_MULTICAST, false, nil, netip.Addr{}},
		{"multicast source", cat(eth("333300000001", "030000000101", "86dd"), ip6(ll)), unix.PACKET_MULTICAST, false, nil, netip.Addr{}},
		{"zero source", cat(eth("333300000001", "000000000000", "86dd"), ip6(ll)), unix.PACKET_MULTICAST, false, nil, netip.Addr{}},
		{"runt", []byte{1, 2, 3}, unix.PACKET_HOST, false, nil, netip.Addr{}},
	}
	for _, c := range cases {
		ff, ok := parseFirstFrame(c.b, c.pkttype)
		if ok != c.ok || !bytes.Equal(ff.mac, c.mac) || ff.addr != c.addr {
			t.Errorf("%s: ok %v mac %v addr %v; want %v %v %v", c.name, ok, ff.mac, ff.addr, c.ok, c.mac, c.addr)
		}
	}
}
