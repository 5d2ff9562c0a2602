package ipsec

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/viper"

	"github.com/pmipdmm/pmipdmm/mh"
)

// loadExample reads configs/<name> as the daemon would (viper, strict
// decoding of the ipsec section) and points key_dir at a 0600 copy of
// configs/keys (git does not keep the mode).
func loadExample(t *testing.T, name string) Settings {
	t.Helper()
	v := viper.New()
	v.SetConfigFile(filepath.Join("..", "configs", name))
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	sub := v.Sub("ipsec")
	if sub == nil {
		t.Fatalf("%s has no ipsec section", name)
	}
	var s Settings
	if err := sub.UnmarshalExact(&s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if s.KeyDir != "/etc/pmipd/keys" {
		t.Errorf("%s: key_dir %q", name, s.KeyDir)
	}
	keys := t.TempDir()
	files, _ := filepath.Glob(filepath.Join("..", "configs", "keys", "*.key"))
	if len(files) == 0 {
		t.Fatal("no example keys")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keys, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.KeyDir = keys
	return s
}

// TestExampleConfigs builds the example MAG and LMA sections and runs
// their signalling through each other: what the MAG protects the LMA
// accepts, and the reverse.
func TestExampleConfigs(t *testing.T) {
	ms, ls := loadExample(t, "ipsec-mag.yaml"), loadExample(t, "ipsec-lma.yaml")
	if ms.Backend != "auto" || ms.XFRM.PriorityBase != 20000 || ms.XFRM.Reqid != 0x504d {
		t.Errorf("MAG backend settings %q %+v", ms.Backend, ms.XFRM)
	}
	if len(ms.SAs) != 2 || ms.SAs[0].SPI != 0x1011 || ms.SAs[1].ReplayWindow != 64 || ms.SAs[0].Lifetime.HardTime.Hours() != 24 {
		t.Errorf("MAG SAs %+v", ms.SAs)
	}
	mag, err := Build(ms.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	lma, err := Build(ls.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	mag1, lmaA := netip.MustParseAddr("2001:db8:ff::11"), netip.MustParseAddr("2001:db8:ff::2")
	through := func(from, to *Engine, src, dst netip.Addr, msg []byte) error {
		nh, out, err := from.Protect(src, dst, msg)
		if err != nil {
			return err
		}
		if nh != ProtoESP {
			return errors.New("sent in the clear")
		}
		_, _, err = to.Enforce(src, dst, nh, out)
		return err
	}
	bu, _ := (&mh.BindingUpdate{Sequence: 1, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 10}).Marshal()
	ba, _ := (&mh.BindingAck{Flags: mh.BAFlagP, Sequence: 1, Lifetime: 10}).Marshal()
	hb, _ := (&mh.Heartbeat{Sequence: 1}).Marshal()
	bri, _ := (&mh.BindingRevocationIndication{Sequence: 1, Flags: mh.BRFlagP}).Marshal()
	for _, c := range []struct {
		name     string
		from, to *Engine
		src, dst netip.Addr
		msg      []byte
	}{
		{"PBU", mag, lma, mag1, lmaA, bu}, {"PBA", lma, mag, lmaA, mag1, ba},
		{"heartbeat MAG->LMA", mag, lma, mag1, lmaA, hb}, {"heartbeat LMA->MAG", lma, mag, lmaA, mag1, hb},
		{"BRI", lma, mag, lmaA, mag1, bri}, {"BRA", mag, lma, mag1, lmaA, bri},
	} {
		if err := through(c.from, c.to, c.src, c.dst, c.msg); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// Clear signalling is refused; an unknown MAG's PBU is discarded.
	if _, _, err := lma.Enforce(mag1, lmaA, ProtoMH, bu); !errors.Is(err, ErrUnprotected) {
		t.Errorf("clear PBU from MAG1: %v", err)
	}
	if _, _, err := lma.Enforce(netip.MustParseAddr("2001:db8:ff::99"), lmaA, ProtoMH, bu); !errors.Is(err, ErrDiscard) {
		t.Errorf("PBU from an unknown MAG: %v", err)
	}
	if a, b := lma.SAD.ByName("mag1-to-lma"), lma.SAD.ByName("mag2-to-lma"); a == nil || b == nil || a.p.EncryptionKey.Equal(b.p.EncryptionKey) {
		t.Error("MAG1 and MAG2 share a key in the example")
	}
}

func TestSettingsValidate(t *testing.T) {
	s := Settings{Backend: "xfrm", XFRM: XFRMOptions{PriorityBase: ^uint32(0) - 10}}
	s.SAs = []SAConfig{{Name: "a", SPI: 1, Direction: "out", Encryption: "null"}}
	err := s.Validate()
	for _, want := range []string{"backend: unknown backend \"xfrm\"", "xfrm.priority_base:", "sas[0].spi:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want %q", err, want)
		}
	}
	for in, want := range map[string]Backend{"": BackendAuto, "Kernel": BackendKernel, " userspace ": BackendUserspace, "external": BackendExternal} {
		if b, err := ParseBackend(in); err != nil || b != want {
			t.Errorf("ParseBackend(%q) = %q, %v", in, b, err)
		}
	}
}
