package ndp

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func TestNAGolden(t *testing.T) {
	want := hexBytes(t, `
		88 00 0000     # type 136, code 0, checksum 0 (kernel fills it)
		a0 000000      # R=1 S=0 O=1, reserved
		fe800000000000000200 5eff fe00 5213  # target fe80::200:5eff:fe00:5213 (RFC 6543)
		02 01 00005e005213                   # TLLAO, len 1, RFC 6543 MAC
	`)
	got, err := RouterNA().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("RouterNA\n got %x\nwant %x", got, want)
	}
	back, err := ParseNA(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, RouterNA()) {
		t.Fatalf("round trip\n got %+v\nwant %+v", back, RouterNA())
	}
	// Solicited, no option; an unknown option is skipped.
	na := &NA{Solicited: true, Target: netip.MustParseAddr("2001:db8::1")}
	b, _ := na.Marshal()
	if len(b) != 24 || b[4] != 0x40 {
		t.Fatalf("solicited NA without option: %x", b)
	}
	back, err = ParseNA(append(b, 14, 1, 0, 0, 0, 0, 0, 0))
	if err != nil || !reflect.DeepEqual(back, na) {
		t.Fatalf("NA with an unknown option: %+v %v", back, err)
	}
}

func TestNAMalformed(t *testing.T) {
	b, _ := RouterNA().Marshal()
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"short", b[:23], ErrTooShort},
		{"wrong type", append([]byte{135}, b[1:]...), ErrBadType},
		{"code 1", append([]byte{136, 1}, b[2:]...), ErrBadType},
		{"option length 0", append(append([]byte{}, b[:24]...), 2, 0, 0, 0, 0, 0, 0, 0), ErrBadOpt},
		{"option overrun", append(append([]byte{}, b[:24]...), 2, 2, 0, 0, 0, 0, 0, 0), ErrBadOpt},
	}
	for _, c := range cases {
		if _, err := ParseNA(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := (&NA{}).Marshal(); err == nil {
		t.Error("NA without a target marshalled")
	}
	if _, err := (&NA{Target: netip.MustParseAddr("192.0.2.1")}).Marshal(); err == nil {
		t.Error("NA with an IPv4 target marshalled")
	}
}

// onlyRA is an Interface that cannot send NAs.
type onlyRA struct{ *Fake }

func (o onlyRA) SendNA() {} // a different signature: not an NASender

func TestAnnounce(t *testing.T) {
	f := NewFake()
	ra := &RA{CurHopLimit: 64, RouterLifetime: 1800e9, SourceLinkLayer: RouterMAC, MTU: 1460}
	if err := Announce(f, 7, ra); err != nil {
		t.Fatal(err)
	}
	nas, ras := f.SentNAs(), f.Sent()
	if len(nas) != 1 || nas[0].IfIndex != 7 || nas[0].Dst != AllNodes || !reflect.DeepEqual(nas[0].NA, *RouterNA()) {
		t.Fatalf("NAs %+v", nas)
	}
	if len(ras) != 1 || ras[0].IfIndex != 7 || ras[0].Dst != AllNodes || ras[0].RA.MTU != 1460 ||
		!bytes.Equal(ras[0].RA.SourceLinkLayer, RouterMAC) || len(ras[0].RA.Prefixes) != 0 {
		t.Fatalf("RAs %+v", ras)
	}
	// Without an RA only the NA; without NA support only the RA.
	g := NewFake()
	if err := Announce(g, 7, nil); err != nil || len(g.SentNAs()) != 1 || len(g.Sent()) != 0 {
		t.Fatalf("NA only: %v %+v %+v", err, g.SentNAs(), g.Sent())
	}
	h := onlyRA{NewFake()}
	if err := Announce(h, 7, ra); err != nil || len(h.SentNAs()) != 0 || len(h.Sent()) != 1 {
		t.Fatalf("RA only: %v %+v %+v", err, h.SentNAs(), h.Sent())
	}
	// A failure is returned, and both are still tried.
	e := NewFake()
	e.FailRA = errors.New("boom")
	if err := Announce(e, 7, ra); err == nil {
		t.Fatal("no error from a failing interface")
	}
}
