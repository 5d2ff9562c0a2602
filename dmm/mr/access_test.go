package mr

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/mag"
)

type accessRec struct {
	mu  sync.Mutex
	evs []string
}

func (r *accessRec) handle(ev AccessEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, fmt.Sprintf("%s %s %s#%d mac=%s ll=%s moved=%v att=%d", ev.Kind, ev.MNID, ev.Link, ev.IfIndex, ev.MAC, ev.LinkLocal, ev.Moved, ev.ATT))
}

func (r *accessRec) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.evs
	r.evs = nil
	return out
}

// LinkAccess turns the link source's events into access events: nodes
// recognised by MAC, by interface, or by MACIdentity; moves, detaches, a
// new node on the link, RSs and a new link-local address.
func TestLinkAccessEvents(t *testing.T) {
	mac1 := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	mac2 := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	mac9 := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	ll1, ll2 := addr("fe80::1"), addr("fe80::2")
	links := &mag.FakeLinks{Initial: []mag.LinkEvent{{Kind: mag.LinkUp, Ifname: "byif", Ifindex: 3}}}
	nd := ndp.NewFake()
	a, err := NewLinkAccess(links, nd, LinkAccessConfig{MACIdentity: true, Profiles: []AccessProfile{
		{MNID: "mn1", MAC: mac1}, {MNID: "mn2", MAC: mac2}, {MNID: "mnif", Interface: "byif"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rec accessRec
	if err := a.Start(rec.handle); err != nil {
		t.Fatal(err)
	}
	expectList(t, "initial link up, by interface", rec.take(), "attached mnif byif#3 mac= ll=invalid IP moved=false att=3")
	for i, s := range []struct {
		ev   mag.LinkEvent
		want []string
	}{
		// A link up with nothing known yet: wait for the node's MAC.
		{mag.LinkEvent{Kind: mag.LinkUp, Ifname: "acc", Ifindex: 5, Moved: true}, nil},
		// The router's own MAC and link-local address are not the node's.
		{mag.LinkEvent{Kind: mag.Neighbor, Ifname: "acc", Ifindex: 5, MAC: ndp.RouterMAC, Addr: ndp.RouterLinkLocal}, nil},
		{mag.LinkEvent{Kind: mag.RouterSolicitation, Ifname: "acc", Ifindex: 5, MAC: mac1, Addr: ll1}, []string{
			"attached mn1 acc#5 mac=02:00:00:00:00:01 ll=fe80::1 moved=true att=3",
			"solicited mn1 acc#5 mac=02:00:00:00:00:01 ll=fe80::1 moved=true att=3"}},
		{mag.LinkEvent{Kind: mag.Neighbor, Ifname: "acc", Ifindex: 5, MAC: mac1, Addr: ll1}, nil},
		// A new link-local address of the same node: reported again.
		{mag.LinkEvent{Kind: mag.Neighbor, Ifname: "acc", Ifindex: 5, MAC: mac1, Addr: ll2}, []string{
			"attached mn1 acc#5 mac=02:00:00:00:00:01 ll=fe80::2 moved=true att=3"}},
		// Another node on the link: the old one left.
		{mag.LinkEvent{Kind: mag.Neighbor, Ifname: "acc", Ifindex: 5, MAC: mac2, Addr: ll1}, []string{
			"detached mn1 acc#5 mac= ll=invalid IP moved=false att=0",
			"attached mn2 acc#5 mac=02:00:00:00:00:02 ll=fe80::1 moved=false att=3"}},
		{mag.LinkEvent{Kind: mag.LinkDown, Ifname: "acc", Ifindex: 5}, []string{
			"detached mn2 acc#5 mac= ll=invalid IP moved=false att=0"}},
		// A node without a profile: its EUI-48 identity.
		{mag.LinkEvent{Kind: mag.Neighbor, Ifname: "acc", Ifindex: 5, MAC: mac9, Addr: ll1}, []string{
			"attached eui48:02:00:00:00:00:09 acc#5 mac=02:00:00:00:00:09 ll=fe80::1 moved=false att=3"}},
		// The link moved to another MR's namespace.
		{mag.LinkEvent{Kind: mag.LinkRemoved, Ifname: "acc", Ifindex: 5}, []string{
			"detached eui48:02:00:00:00:00:09 acc#5 mac= ll=invalid IP moved=false att=0"}},
		{mag.LinkEvent{Kind: mag.LinkRemoved, Ifname: "acc", Ifindex: 5}, nil},
		{mag.LinkEvent{Kind: mag.LinkDown, Ifname: "byif", Ifindex: 3}, []string{
			"detached mnif byif#3 mac= ll=invalid IP moved=false att=0"}},
	} {
		links.Emit(s.ev)
		expectList(t, fmt.Sprintf("step %d (%s %s)", i, s.ev.Kind, s.ev.Ifname), rec.take(), s.want...)
	}
	a.Close()
	links.Emit(mag.LinkEvent{Kind: mag.LinkUp, Ifname: "byif", Ifindex: 3})
	expectList(t, "after Close", rec.take())

	for _, bad := range []LinkAccessConfig{{Profiles: []AccessProfile{{MAC: mac1}}}, {Profiles: []AccessProfile{{MNID: "x"}}}} {
		if _, err := NewLinkAccess(links, nd, bad, nil); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// The RA: RFC 6543 source link-layer address, prefixes on-link and
// autonomous, an old prefix deprecated (preferred 0, draft §4.2), sent to
// the node's link-local address or all-nodes on the link's current index;
// a withdrawal zeroes every lifetime.
func TestLinkAccessAdvertise(t *testing.T) {
	links := &mag.FakeLinks{Initial: []mag.LinkEvent{{Kind: mag.LinkUp, Ifname: "acc", Ifindex: 9}}}
	nd := ndp.NewFake()
	a, err := NewLinkAccess(links, nd, LinkAccessConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(func(AccessEvent) {}); err != nil {
		t.Fatal(err)
	}
	old := AdvPrefix{Prefix: pfx(p11), Preferred: 0, Valid: time.Hour}
	cur := AdvPrefix{Prefix: pfx(p2), Preferred: time.Hour, Valid: time.Hour}
	for _, ad := range []Advert{
		{Link: "acc", IfIndex: 4, Dst: addr("fe80::1"), Prefixes: []AdvPrefix{old, cur}, RouterLifetime: 600 * time.Second, MTU: 1400},
		{Link: "acc", Dst: netip.IPv6Unspecified(), Prefixes: []AdvPrefix{cur}},
		{Link: "acc", Dst: addr("fe80::1"), Prefixes: []AdvPrefix{cur}, Withdrawn: true},
	} {
		if err := a.Advertise(ad); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Advertise(Advert{Link: "nolink"}); err == nil {
		t.Error("RA on a link without an index accepted")
	}
	var got []string
	for _, s := range nd.Sent() {
		ra := s.RA
		var ps []string
		for _, p := range ra.Prefixes {
			ps = append(ps, fmt.Sprintf("%s L=%v A=%v valid=%v pref=%v", p.Prefix, p.OnLink, p.Autonomous, p.ValidLifetime, p.PreferredLifetime))
		}
		got = append(got, fmt.Sprintf("#%d to %s hop=%d life=%v sll=%s mtu=%d: %s", s.IfIndex, s.Dst, ra.CurHopLimit, ra.RouterLifetime,
			ra.SourceLinkLayer, ra.MTU, strings.Join(ps, ", ")))
	}
	expectList(t, "RAs", got,
		"#9 to fe80::1 hop=64 life=10m0s sll=00:00:5e:00:52:13 mtu=1400: "+p11+" L=true A=true valid=1h0m0s pref=0s, "+p2+" L=true A=true valid=1h0m0s pref=1h0m0s",
		"#9 to ff02::1 hop=64 life=30m0s sll=00:00:5e:00:52:13 mtu=0: "+p2+" L=true A=true valid=1h0m0s pref=1h0m0s",
		"#9 to fe80::1 hop=64 life=0s sll=00:00:5e:00:52:13 mtu=0: "+p2+" L=true A=true valid=0s pref=0s")
}
