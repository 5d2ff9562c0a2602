package punt

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/clock"
)

var (
	pfxA = netip.MustParsePrefix("2001:db8:a::/64")
	pfxB = netip.MustParsePrefix("2001:db8:b::/64")
	t0   = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

// op is one step of a buffer scenario: push a packet named name (its first
// byte; its length is size, 10 by default) into pfx after advancing the
// clock by adv.
type op struct {
	pfx  netip.Prefix
	name byte
	size int
	adv  time.Duration
}

func data(name byte, size int) []byte {
	if size == 0 {
		size = 10
	}
	b := make([]byte, size)
	b[0] = name
	return b
}

func names(ps []packet) string {
	s := ""
	for _, p := range ps {
		s += string(p.data[0])
	}
	return s
}

func TestBufferBounds(t *testing.T) {
	tests := []struct {
		name     string
		lim      limits
		ops      []op
		kept     string // pushes that reported kept, in order
		want     map[netip.Prefix]string
		full     uint64
		packets  int
		bytes    int
		prefixes int
	}{{
		name: "drop-newest total",
		lim:  limits{maxPackets: 3},
		ops:  []op{{pfx: pfxA, name: '1'}, {pfx: pfxB, name: '2'}, {pfx: pfxA, name: '3'}, {pfx: pfxA, name: '4'}, {pfx: pfxB, name: '5'}},
		kept: "123", want: map[netip.Prefix]string{pfxA: "13", pfxB: "2"}, full: 2, packets: 3, bytes: 30, prefixes: 2,
	}, {
		name: "drop-newest per prefix",
		lim:  limits{maxPackets: 10, maxPerPrefix: 2},
		ops:  []op{{pfx: pfxA, name: '1'}, {pfx: pfxA, name: '2'}, {pfx: pfxA, name: '3'}, {pfx: pfxB, name: '4'}, {pfx: pfxB, name: '5'}, {pfx: pfxB, name: '6'}},
		kept: "1245", want: map[netip.Prefix]string{pfxA: "12", pfxB: "45"}, full: 2, packets: 4, bytes: 40, prefixes: 2,
	}, {
		name: "drop-newest bytes",
		lim:  limits{maxPackets: 10, maxBytes: 100},
		ops:  []op{{pfx: pfxA, name: '1', size: 40}, {pfx: pfxA, name: '2', size: 40}, {pfx: pfxA, name: '3', size: 40}, {pfx: pfxA, name: '4', size: 20}, {pfx: pfxB, name: '5', size: 101}},
		kept: "124", want: map[netip.Prefix]string{pfxA: "124", pfxB: ""}, full: 2, packets: 3, bytes: 100, prefixes: 2,
	}, {
		name: "drop-oldest total across prefixes",
		lim:  limits{maxPackets: 3, overflow: DropOldest},
		ops:  []op{{pfx: pfxA, name: '1'}, {pfx: pfxB, name: '2'}, {pfx: pfxA, name: '3'}, {pfx: pfxB, name: '4'}, {pfx: pfxB, name: '5'}},
		kept: "12345", want: map[netip.Prefix]string{pfxA: "3", pfxB: "45"}, full: 2, packets: 3, bytes: 30, prefixes: 2,
	}, {
		name: "drop-oldest per prefix",
		lim:  limits{maxPackets: 10, maxPerPrefix: 2, overflow: DropOldest},
		ops:  []op{{pfx: pfxA, name: '1'}, {pfx: pfxB, name: '2'}, {pfx: pfxA, name: '3'}, {pfx: pfxA, name: '4'}, {pfx: pfxA, name: '5'}},
		kept: "12345", want: map[netip.Prefix]string{pfxA: "45", pfxB: "2"}, full: 2, packets: 3, bytes: 30, prefixes: 2,
	}, {
		name: "drop-oldest bytes",
		lim:  limits{maxPackets: 10, maxBytes: 100, overflow: DropOldest},
		ops:  []op{{pfx: pfxA, name: '1', size: 40}, {pfx: pfxB, name: '2', size: 40}, {pfx: pfxA, name: '3', size: 60}, {pfx: pfxA, name: '4', size: 200}},
		kept: "123", want: map[netip.Prefix]string{pfxA: "3", pfxB: "2"}, full: 2, packets: 2, bytes: 100, prefixes: 2,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuffer(tc.lim)
			kept := ""
			for _, o := range tc.ops {
				if b.push(b.add(o.pfx, false), data(o.name, o.size), t0) {
					kept += string(o.name)
				}
			}
			if kept != tc.kept {
				t.Errorf("kept %q, want %q", kept, tc.kept)
			}
			if b.cnt.full != tc.full || b.packets != tc.packets || b.bytes != tc.bytes || len(b.q) != tc.prefixes {
				t.Errorf("full %d packets %d bytes %d prefixes %d, want %d %d %d %d",
					b.cnt.full, b.packets, b.bytes, len(b.q), tc.full, tc.packets, tc.bytes, tc.prefixes)
			}
			pp := b.perPrefix()
			for pfx, w := range tc.want {
				if pp[pfx] != len(w) {
					t.Errorf("perPrefix[%s] = %d, want %d", pfx, pp[pfx], len(w))
				}
				if got := names(b.remove(pfx)); got != w {
					t.Errorf("%s holds %q, want %q", pfx, got, w)
				}
			}
			if b.packets != 0 || b.bytes != 0 || len(b.q) != 0 || len(b.lens) != 0 {
				t.Errorf("after removing all: packets %d bytes %d queues %d lens %v", b.packets, b.bytes, len(b.q), b.lens)
			}
		})
	}
}

// Arrival order is kept over many pushes and removals from the front
// (which compacts the queue's slice).
func TestBufferOrderLong(t *testing.T) {
	b := newBuffer(limits{maxPackets: 300, maxPerPrefix: 200, overflow: DropOldest})
	q := b.add(pfxA, false)
	for i := 0; i < 1000; i++ {
		b.push(q, []byte{byte(i), byte(i >> 8)}, t0)
	}
	got := b.remove(pfxA)
	if len(got) != 200 || b.cnt.full != 800 {
		t.Fatalf("held %d, full %d; want 200, 800", len(got), b.cnt.full)
	}
	for i, p := range got {
		if n := int(p.data[0]) | int(p.data[1])<<8; n != 800+i {
			t.Fatalf("packet %d is #%d, want #%d", i, n, 800+i)
		}
	}
}

func TestBufferAgeExpiry(t *testing.T) {
	clk := clock.NewFake(t0)
	b := newBuffer(limits{maxPackets: 100, maxAge: time.Second})
	if _, ok := b.nextExpiry(); ok {
		t.Fatal("nextExpiry on an empty buffer")
	}
	qa, qb := b.add(pfxA, false), b.add(pfxB, false)
	qm := b.add(netip.MustParsePrefix("2001:db8:c::/64"), true)
	qm.miss = true
	b.push(qa, data('1', 0), clk.Now()) // t0
	clk.Advance(300 * time.Millisecond)
	b.push(qm, data('2', 0), clk.Now()) // t0+300ms
	b.push(qb, data('3', 0), clk.Now())
	clk.Advance(400 * time.Millisecond)
	b.push(qa, data('4', 0), clk.Now()) // t0+700ms
	if at, ok := b.nextExpiry(); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("nextExpiry %v %v, want t0+1s", at, ok)
	}
	steps := []struct {
		to       time.Duration
		expired  int
		held     map[netip.Prefix]int
		nextAt   time.Duration // 0: none
		prefixes int
	}{
		{999 * time.Millisecond, 0, map[netip.Prefix]int{pfxA: 2, pfxB: 1, qm.pfx: 1}, time.Second, 3},
		{time.Second, 1, map[netip.Prefix]int{pfxA: 1, pfxB: 1, qm.pfx: 1}, 1300 * time.Millisecond, 3},
		// The miss queue emptied by age goes; the held (explicit) ones stay.
		{1300 * time.Millisecond, 2, map[netip.Prefix]int{pfxA: 1, pfxB: 0}, 1700 * time.Millisecond, 2},
		{5 * time.Second, 1, map[netip.Prefix]int{pfxA: 0, pfxB: 0}, 0, 2},
	}
	for _, s := range steps {
		clk.Set(t0.Add(s.to))
		if n := b.expire(clk.Now()); n != s.expired {
			t.Errorf("at +%v expired %d, want %d", s.to, n, s.expired)
		}
		if got := b.perPrefix(); !reflect.DeepEqual(got, s.held) {
			t.Errorf("at +%v held %v, want %v", s.to, got, s.held)
		}
		at, ok := b.nextExpiry()
		if s.nextAt == 0 && ok || s.nextAt != 0 && (!ok || !at.Equal(t0.Add(s.nextAt))) {
			t.Errorf("at +%v nextExpiry %v %v, want +%v", s.to, at.Sub(t0), ok, s.nextAt)
		}
		if len(b.q) != s.prefixes {
			t.Errorf("at +%v %d prefixes, want %d", s.to, len(b.q), s.prefixes)
		}
	}
	if b.cnt.age != 4 || b.cnt.full != 0 || b.packets != 0 || b.bytes != 0 {
		t.Errorf("age %d full %d packets %d bytes %d, want 4 0 0 0", b.cnt.age, b.cnt.full, b.packets, b.bytes)
	}
}

func TestBufferLookupAndPrefixBound(t *testing.T) {
	b := newBuffer(limits{maxPackets: 10, maxPrefixes: 3})
	p48 := netip.MustParsePrefix("2001:db8:a::/48")
	p64 := netip.MustParsePrefix("2001:db8:a:1::/64")
	p128 := netip.MustParsePrefix("2001:db8:a:1::7/128")
	for _, p := range []netip.Prefix{p48, p64, p128} {
		if b.add(p, true) == nil {
			t.Fatalf("add %s refused", p)
		}
	}
	if b.add(pfxB, true) != nil {
		t.Error("a limited add beyond maxPrefixes was accepted")
	}
	if b.add(p64, true) == nil {
		t.Error("adding an existing prefix at the bound was refused")
	}
	if b.add(pfxB, false) == nil {
		t.Error("an unlimited add was refused")
	}
	for _, tc := range []struct {
		dst  string
		want netip.Prefix
	}{
		{"2001:db8:a:1::7", p128},
		{"2001:db8:a:1::8", p64},
		{"2001:db8:a:2::1", p48},
		{"2001:db8:b::1", pfxB},
		{"2001:db8:c::1", netip.Prefix{}},
	} {
		q := b.lookup(netip.MustParseAddr(tc.dst))
		var got netip.Prefix
		if q != nil {
			got = q.pfx
		}
		if got != tc.want {
			t.Errorf("lookup %s = %v, want %v", tc.dst, got, tc.want)
		}
	}
	b.remove(p128)
	if q := b.lookup(netip.MustParseAddr("2001:db8:a:1::7")); q == nil || q.pfx != p64 {
		t.Errorf("after removing the /128, lookup = %v", q)
	}
}

// DropOldest removes a miss queue it empties, but not the queue pushed to.
func TestBufferDropOldestRemovesEmptyMiss(t *testing.T) {
	b := newBuffer(limits{maxPackets: 1, overflow: DropOldest})
	m := b.add(pfxA, true)
	m.miss = true
	b.push(m, data('1', 0), t0)
	h := b.add(pfxB, false)
	h.hold = true
	if !b.push(h, data('2', 0), t0) {
		t.Fatal("push refused")
	}
	if b.get(pfxA) != nil {
		t.Error("the emptied miss queue stayed")
	}
	if !b.push(h, data('3', 0), t0) || names(b.remove(pfxB)) != "3" || b.cnt.full != 2 {
		t.Errorf("full %d", b.cnt.full)
	}
}

func ipv6Packet(src, dst string, payload int, hop byte) []byte {
	b := make([]byte, ipv6HeaderLen+payload)
	b[0] = 0x60
	b[4], b[5] = byte(payload>>8), byte(payload)
	b[6], b[7] = 17, hop
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return b
}

func TestParseIPv6(t *testing.T) {
	good := ipv6Packet("2001:db8:a::2", "2001:db8:b::2", 8, 64)
	v4 := append([]byte(nil), good...)
	v4[0] = 0x45
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"valid", good, true},
		{"header only", ipv6Packet("::1", "::2", 0, 1), true},
		{"empty", nil, false},
		{"short header", good[:39], false},
		{"IPv4", v4, false},
		{"truncated payload", good[:len(good)-1], false},
		{"trailing bytes", append(append([]byte(nil), good...), 0), false},
		{"jumbogram", append(ipv6Packet("::1", "::2", 0, 1), 0, 0, 0, 0), false},
	}
	for _, tc := range tests {
		src, dst, ok := parseIPv6(tc.b)
		if ok != tc.ok {
			t.Errorf("%s: ok %v, want %v", tc.name, ok, tc.ok)
		}
		if tc.name == "valid" && (src != netip.MustParseAddr("2001:db8:a::2") || dst != netip.MustParseAddr("2001:db8:b::2")) {
			t.Errorf("valid: src %v dst %v", src, dst)
		}
	}
}

func TestBumpHopLimit(t *testing.T) {
	for _, tc := range []struct{ in, want byte }{{0, 1}, {63, 64}, {254, 255}, {255, 255}} {
		b := ipv6Packet("::1", "::2", 0, tc.in)
		bumpHopLimit(b)
		if b[7] != tc.want {
			t.Errorf("hop limit %d -> %d, want %d", tc.in, b[7], tc.want)
		}
	}
	bumpHopLimit(nil) // no panic on a short frame
}
