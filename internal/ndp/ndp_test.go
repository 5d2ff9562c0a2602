package ndp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// hexBytes decodes annotated hex: everything after '#' on a line is a
// comment, whitespace is ignored.
func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

func TestRAGolden(t *testing.T) {
	ra := &RA{
		CurHopLimit:     64,
		RouterLifetime:  1800 * time.Second,
		SourceLinkLayer: RouterMAC,
		MTU:             1460,
		Prefixes: []Prefix{
			{Prefix: netip.MustParsePrefix("2001:db8:100::/64"), OnLink: true, Autonomous: true,
				ValidLifetime: 3600 * time.Second, PreferredLifetime: 1800 * time.Second},
			{Prefix: netip.MustParsePrefix("2001:db8:200::/64"), OnLink: true, Autonomous: true,
				ValidLifetime: Infinity, PreferredLifetime: 0},
		},
	}
	want := hexBytes(t, `
		86 00 0000     # type 134, code 0, checksum 0 (kernel fills it)
		40             # cur hop limit 64
		00             # M=0 O=0
		0708           # router lifetime 1800 s
		00000000       # reachable time unspecified
		00000000       # retrans timer unspecified
		01 01 00005e005213            # SLLAO, len 1, RFC 6543 MAC
		05 01 0000 000005b4           # MTU option, len 1, reserved, 1460
		03 04 40 c0                   # PIO, len 4, /64, L|A
		00000e10 00000708 00000000    # valid 3600, preferred 1800, reserved
		20010db8010000000000000000000000  # 2001:db8:100::
		03 04 40 c0                   # PIO, len 4, /64, L|A
		ffffffff 00000000 00000000    # valid infinity, preferred 0 (deprecated), reserved
		20010db8020000000000000000000000  # 2001:db8:200::
	`)
	got, err := ra.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("RA\n got %x\nwant %x", got, want)
	}
	back, err := ParseRA(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ra) {
		t.Fatalf("round trip\n got %+v\nwant %+v", back, ra)
	}
}

func TestRSGolden(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	want := hexBytes(t, `
		85 00 0000  # type 133, code 0, checksum
		00000000    # reserved
		01 01 021122334455  # SLLAO
	`)
	got, _ := (&RS{SourceLinkLayer: mac}).Marshal()
	if !bytes.Equal(got, want) {
		t.Fatalf("RS\n got %x\nwant %x", got, want)
	}
	rs, err := ParseRS(want)
	if err != nil || !bytes.Equal(rs.SourceLinkLayer, mac) {
		t.Fatalf("ParseRS: %+v %v", rs, err)
	}
	rs, err = ParseRS(want[:8])
	if err != nil || rs.SourceLinkLayer != nil {
		t.Fatalf("ParseRS without options: %+v %v", rs, err)
	}
}

func TestMalformed(t *testing.T) {
	ra, _ := (&RA{MTU: 1500}).Marshal()
	rs, _ := (&RS{SourceLinkLayer: RouterMAC}).Marshal()
	cases := []struct {
		name string
		b    []byte
		rs   bool
		want error
	}{
		{"RA short", ra[:15], false, ErrTooShort},
		{"RA wrong type", append([]byte{133}, ra[1:]...), false, ErrBadType},
		{"RA code 1", append([]byte{134, 1}, ra[2:]...), false, ErrBadType},
		{"RA option length 0", append(append([]byte{}, ra[:16]...), 5, 0, 0, 0, 0, 0, 0, 0), false, ErrBadOpt},
		{"RA option overrun", append(append([]byte{}, ra[:16]...), 3, 4, 0, 0), false, ErrBadOpt},
		{"RA truncated option header", append(append([]byte{}, ra[:16]...), 5), false, ErrBadOpt},
		{"RA PIO wrong length", append(append([]byte{}, ra[:16]...), 3, 1, 64, 0, 0, 0, 0, 0), false, ErrBadOpt},
		{"RS short", rs[:7], true, ErrTooShort},
		{"RS option overrun", append(append([]byte{}, rs[:8]...), 1, 2, 0, 0, 0, 0, 0, 0), true, ErrBadOpt},
	}
	for _, c := range cases {
		var err error
		if c.rs {
			_, err = ParseRS(c.b)
		} else {
			_, err = ParseRA(c.b)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func TestChecksum(t *testing.T) {
	// RFC 1071 property: the checksum over a message holding its own
	// checksum is zero.
	src, dst := RouterLinkLocal, netip.MustParseAddr("fe80::1")
	b, _ := (&RA{CurHopLimit: 64, MTU: 1280}).Marshal()
	c := Checksum(src, dst, b)
	b[2], b[3] = byte(c>>8), byte(c)
	var sum uint32
	s, d := src.As16(), dst.As16()
	all := append(append(append([]byte{}, s[:]...), d[:]...), 0, 0, 0, byte(len(b)), 0, 0, 0, 58)
	all = append(all, b...)
	for i := 0; i < len(all); i += 2 {
		sum += uint32(all[i])<<8 | uint32(all[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	if sum != 0xffff {
		t.Fatalf("checksum %04x does not verify (sum %04x)", c, sum)
	}
}

func TestRouterAddresses(t *testing.T) {
	// RFC 6543: the link-local IID is the modified EUI-64 of the MAC.
	a := RouterLinkLocal.As16()
	eui := []byte{RouterMAC[0] ^ 0x02, RouterMAC[1], RouterMAC[2], 0xff, 0xfe, RouterMAC[3], RouterMAC[4], RouterMAC[5]}
	if !bytes.Equal(a[8:], eui) || !RouterLinkLocal.IsLinkLocalUnicast() {
		t.Fatalf("%v is not the EUI-64 link-local address of %v", RouterLinkLocal, RouterMAC)
	}
}

func TestFake(t *testing.T) {
	f := NewFake()
	f.Inject(Solicitation{IfIndex: 3, Src: netip.MustParseAddr("fe80::5")})
	s, err := f.ReadRS()
	if err != nil || s.IfIndex != 3 {
		t.Fatalf("ReadRS %+v %v", s, err)
	}
	ra := &RA{MTU: 1400, Prefixes: []Prefix{{Prefix: netip.MustParsePrefix("2001:db8::/64"), Autonomous: true}}}
	if err := f.SendRA(3, s.Src, ra); err != nil {
		t.Fatal(err)
	}
	if got := f.Sent(); len(got) != 1 || got[0].RA.MTU != 1400 || got[0].Dst != s.Src {
		t.Fatalf("Sent %+v", got)
	}
	f.Close()
	if _, err := f.ReadRS(); err == nil {
		t.Fatal("ReadRS after Close")
	}
}
