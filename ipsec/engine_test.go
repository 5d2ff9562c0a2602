package ipsec

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pmipdmm/pmipdmm/mh"
)

const (
	keyBU = "00112233445566778899aabbccddeeff" + "01020304" // AES-GCM-128 key || salt
	keyBA = "ffeeddccbbaa99887766554433221100" + "05060708"
)

// keyDir writes the test key files (mode 0600) and returns the directory.
func keyDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	writeKey(t, d, "bu.key", keyBU+"\n", 0o600)
	writeKey(t, d, "ba.key", keyBA+"\n", 0o600)
	writeKey(t, d, "auth.key", testAuthKey+"\n", 0o600)
	writeKey(t, d, "cbc.key", strings.Repeat("42", 16)+"\n", 0o600)
	return d
}

// magConfig and lmaConfig are the two ends of RFC 5213 §4.2's example:
// the MAG protects outbound PBU and inbound PBA, the LMA the mirror image.
func magConfig(dir string) Config {
	return Config{
		KeyDir: dir,
		SAs: []SAConfig{
			{Name: "mag-out", SPI: 0x1001, Direction: "out", Local: magAddr.String(), Remote: lmaAddr.String(),
				MHTypes: []string{"pbu"}, Encryption: "aes-gcm-128", EncryptionKeyFile: "bu.key"},
			{Name: "mag-in", SPI: 0x2001, Direction: "in", Local: magAddr.String(), Remote: lmaAddr.String(),
				MHTypes: []string{"pba"}, Encryption: "aes-gcm-128", EncryptionKeyFile: "ba.key"},
		},
		Policies: []PolicyConfig{
			{Name: "pbu-out", Direction: "out", Local: magAddr.String(), Remote: lmaAddr.String(), MHTypes: []string{"bu"}, Action: "protect"},
			{Name: "pba-in", Direction: "in", Local: magAddr.String(), Remote: lmaAddr.String(), MHTypes: []string{"ba"}, Action: "protect"},
		},
	}
}

func lmaConfig(dir string) Config {
	return Config{
		KeyDir: dir,
		SAs: []SAConfig{
			{Name: "lma-in", SPI: 0x1001, Direction: "in", Local: lmaAddr.String(), Remote: "2001:db8:1::/64",
				MHTypes: []string{"bu"}, Encryption: "aes-gcm-128", EncryptionKeyFile: "bu.key", ReplayWindow: 128},
			{Name: "lma-out", SPI: 0x2001, Direction: "out", Local: lmaAddr.String(), Remote: magAddr.String(),
				MHTypes: []string{"ba"}, Encryption: "aes-gcm-128", EncryptionKeyFile: "ba.key"},
		},
		Policies: []PolicyConfig{
			{Name: "pba-out", Direction: "out", Local: lmaAddr.String(), Remote: "2001:db8:1::/64", MHTypes: []string{"pba"}, Action: "protect", SAs: []string{"lma-out"}},
			{Name: "pbu-in", Direction: "in", Local: lmaAddr.String(), Remote: "2001:db8:1::/64", MHTypes: []string{"pbu"}, Action: "protect", SAs: []string{"lma-in"}},
		},
	}
}

func buildPair(t *testing.T) (mag, lma *Engine) {
	t.Helper()
	d := keyDir(t)
	mag, err := Build(magConfig(d), nil)
	if err != nil {
		t.Fatal(err)
	}
	lma, err = Build(lmaConfig(d), nil)
	if err != nil {
		t.Fatal(err)
	}
	return mag, lma
}

func pba(t testing.TB, seq uint16) []byte {
	t.Helper()
	b, err := (&mh.BindingAck{Status: 0, Flags: mh.BAFlagP, Sequence: seq, Lifetime: 150}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func heartbeat(t testing.TB) []byte {
	t.Helper()
	b, err := (&mh.Heartbeat{Sequence: 9}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnginePBUPBA(t *testing.T) {
	mag, lma := buildPair(t)
	bu := pbu(t, 0x4242)
	nh, esp, err := mag.Protect(magAddr, lmaAddr, bu)
	if err != nil || nh != ProtoESP {
		t.Fatalf("MAG protect PBU: nh %d err %v", nh, err)
	}
	if be.Uint32(esp) != 0x1001 {
		t.Errorf("SPI %#x", be.Uint32(esp))
	}
	if be.Uint16(bu[4:]) != 0 {
		t.Error("Protect wrote into the caller's buffer")
	}
	msg, sa, err := lma.Enforce(magAddr, lmaAddr, ProtoESP, bytes.Clone(esp))
	if err != nil {
		t.Fatalf("LMA enforce: %v", err)
	}
	if sa == nil || sa.Name() != "lma-in" {
		t.Errorf("opened by %v", sa)
	}
	if !mh.VerifyChecksum(magAddr, lmaAddr, msg) {
		t.Error("inner MH checksum not set by Protect")
	}
	got, err := mh.ParseBindingUpdate(msg)
	if err != nil || got.Sequence != 0x4242 || !got.Proxy() {
		t.Fatalf("inner PBU: %+v %v", got, err)
	}
	want := bytes.Clone(bu)
	mh.SetChecksum(magAddr, lmaAddr, want)
	if !bytes.Equal(msg, want) {
		t.Errorf("inner MH\n got %x\nwant %x", msg, want)
	}

	nh, esp2, err := lma.Protect(lmaAddr, magAddr, pba(t, 0x4242))
	if err != nil || nh != ProtoESP || be.Uint32(esp2) != 0x2001 {
		t.Fatalf("LMA protect PBA: %d %v", nh, err)
	}
	if _, sa, err := mag.Enforce(lmaAddr, magAddr, ProtoESP, esp2); err != nil || sa.Name() != "mag-in" {
		t.Fatalf("MAG enforce PBA: %v", err)
	}

	// Heartbeats are not covered: the default (bypass) sends and accepts
	// them in the clear.
	hb := heartbeat(t)
	if nh, out, err := mag.Protect(magAddr, lmaAddr, hb); err != nil || nh != ProtoMH || !bytes.Equal(out, hb) {
		t.Errorf("heartbeat out: %d %v", nh, err)
	}
	if _, sa, err := lma.Enforce(magAddr, lmaAddr, ProtoMH, hb); err != nil || sa != nil {
		t.Errorf("heartbeat in: %v", err)
	}

	s := lma.Counters.Snapshot()
	if s.InProtected != 1 || s.InBypass != 1 || s.OutProtected != 1 {
		t.Errorf("LMA counters %+v", s)
	}
}

func TestEnforceDrops(t *testing.T) {
	mag, lma := buildPair(t)
	seal := func(msg []byte) []byte {
		_, esp, err := mag.Protect(magAddr, lmaAddr, msg)
		if err != nil {
			t.Fatal(err)
		}
		return esp
	}
	magOut := mag.SAD.ByName("mag-out")
	// sealRaw seals with the MAG's BU SA whatever the SPD says.
	sealRaw := func(src netip.Addr, msg []byte, nh uint8) []byte {
		m := bytes.Clone(msg)
		mh.SetChecksum(src, lmaAddr, m)
		esp, err := AppendSeal(nil, magOut, nh, m)
		if err != nil {
			t.Fatal(err)
		}
		return esp
	}
	other := netip.MustParseAddr("2001:db8:1::99") // inside lma-in's remote /64, but not the address the checksum was computed for
	stranger := netip.MustParseAddr("2001:db8:9::1")

	replayed := seal(pbu(t, 1))
	if _, _, err := lma.Enforce(magAddr, lmaAddr, ProtoESP, bytes.Clone(replayed)); err != nil {
		t.Fatal(err)
	}
	tampered := seal(pbu(t, 2))
	tampered[len(tampered)-20] ^= 0x40
	unknownSPI := seal(pbu(t, 3))
	be.PutUint32(unknownSPI, 0xdead)
	badSum := seal(pbu(t, 4))

	cases := []struct {
		name     string
		src      netip.Addr
		nh       uint8
		pkt      []byte
		want     error
		kind     Kind
		checksum bool
	}{
		{"unprotected PBU", magAddr, ProtoMH, pbu(t, 5), ErrUnprotected, KindUnprotected, false},
		{"replayed", magAddr, ProtoESP, replayed, ErrReplay, KindReplay, false},
		{"tampered", magAddr, ProtoESP, tampered, ErrICV, KindICV, false},
		{"unknown SPI", magAddr, ProtoESP, unknownSPI, ErrUnknownSPI, KindUnknownSPI, false},
		{"heartbeat on the PBU SA", magAddr, ProtoESP, sealRaw(magAddr, heartbeat(t), ProtoMH), ErrPolicy, KindPolicy, false},
		{"from outside the SA's remote prefix", stranger, ProtoESP, sealRaw(stranger, pbu(t, 6), ProtoMH), ErrPolicy, KindPolicy, false},
		{"inner next header not MH", magAddr, ProtoESP, sealRaw(magAddr, pbu(t, 7), 59), ErrNextHeader, KindNextHeader, false},
		{"bad inner checksum", other, ProtoESP, badSum, ErrMalformed, KindMalformed, false},
		{"neither ESP nor MH", magAddr, 17, []byte{1, 2, 3, 4, 5, 6, 7, 8}, ErrNextHeader, KindNextHeader, false},
		{"short MH", magAddr, ProtoMH, []byte{59, 0, 5}, ErrMalformed, KindMalformed, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := lma.Counters.Dropped(c.kind)
			msg, _, err := lma.Enforce(c.src, lmaAddr, c.nh, c.pkt)
			if !errors.Is(err, c.want) || msg != nil {
				t.Fatalf("got %v (msg %x), want %v", err, msg, c.want)
			}
			if k, ok := KindOf(err); !ok || k != c.kind {
				t.Errorf("KindOf = %v, want %v", k, c.kind)
			}
			if got := lma.Counters.Dropped(c.kind); got != before+1 {
				t.Errorf("counter %v = %d, want %d", c.kind, got, before+1)
			}
		})
	}
	if !errors.Is(ErrUnprotected, ErrPolicy) || !errors.Is(ErrDiscard, ErrPolicy) {
		t.Error("ErrUnprotected and ErrDiscard must wrap ErrPolicy")
	}
	s := lma.Counters.Snapshot()
	if s.InDropped["replay"] != 1 || s.InDropped["unprotected"] != 1 || s.InProtected != 1 {
		t.Errorf("snapshot %+v", s)
	}
}

func TestSPDOrderAndActions(t *testing.T) {
	d := keyDir(t)
	c := lmaConfig(d)
	// A discard entry for one MAG ahead of the protect entry for its /64,
	// and a bypass for heartbeats; default discard for anything else.
	c.DefaultAction = "discard"
	banned := netip.MustParseAddr("2001:db8:1::bad")
	c.Policies = append([]PolicyConfig{
		{Name: "ban", Direction: "in", Remote: banned.String(), Action: "discard"},
		{Name: "hb", Direction: "in", MHTypes: []string{"heartbeat"}, Action: "bypass"},
		{Name: "hb-out", Direction: "out", MHTypes: []string{"heartbeat"}, Action: "bypass"},
	}, c.Policies...)
	lma, err := Build(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := lma.Enforce(banned, lmaAddr, ProtoMH, heartbeat(t)); !errors.Is(err, ErrDiscard) {
		t.Errorf("banned peer: %v", err)
	}
	if _, _, err := lma.Enforce(magAddr, lmaAddr, ProtoMH, heartbeat(t)); err != nil {
		t.Errorf("heartbeat bypass: %v", err)
	}
	bri := []byte{59, 1, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0} // MH type 16, no policy
	if _, _, err := lma.Enforce(magAddr, lmaAddr, ProtoMH, bri); !errors.Is(err, ErrDiscard) {
		t.Errorf("default discard: %v", err)
	}
	if _, _, err := lma.Protect(lmaAddr, magAddr, bri); !errors.Is(err, ErrDiscard) {
		t.Errorf("outbound default discard: %v", err)
	}
	if nh, _, err := lma.Protect(lmaAddr, magAddr, heartbeat(t)); err != nil || nh != ProtoMH {
		t.Errorf("outbound heartbeat bypass: %d %v", nh, err)
	}
	if got := lma.Counters.Snapshot().OutDropped["discard"]; got != 1 {
		t.Errorf("outbound discard counter %d", got)
	}
	p := lma.SPD.Lookup(Inbound, lmaAddr, banned, ProtoMH, 5)
	if p == nil || p.Name != "ban" {
		t.Errorf("first match for the banned MAG's PBU: %v", p)
	}
}

func TestProtectWithoutUsableSA(t *testing.T) {
	spd := NewSPD(Bypass, &Policy{Name: "p", Direction: Outbound, Action: Protect})
	e := NewEngine(spd, NewSAD(nil))
	if _, _, err := e.Protect(magAddr, lmaAddr, pbu(t, 1)); !errors.Is(err, ErrPolicy) {
		t.Errorf("no SA: %v", err)
	}
	out, _ := suites[0].pair(t, func(p *SAParams) { p.Lifetime.HardPackets = 1 })
	if err := e.SAD.Add(out); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Protect(magAddr, lmaAddr, pbu(t, 1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Protect(magAddr, lmaAddr, pbu(t, 2)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired SA: %v", err)
	}
	s := e.Counters.Snapshot()
	if s.OutDropped["policy"] != 1 || s.OutDropped["expired"] != 1 || s.OutProtected != 1 {
		t.Errorf("counters %+v", s)
	}
}

func TestInboundPolicySAList(t *testing.T) {
	d := keyDir(t)
	c := lmaConfig(d)
	c.SAs = append(c.SAs, SAConfig{Name: "lma-in-2", SPI: 0x3001, Direction: "in", Local: lmaAddr.String(),
		Remote: magAddr.String(), Encryption: "aes-cbc-128", EncryptionKeyFile: "cbc.key",
		Integrity: "hmac-sha256-128", IntegrityKeyFile: "auth.key"})
	lma, err := Build(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewSA(SAParams{Name: "x", SPI: 0x3001, Direction: Outbound, Encryption: EncAESCBC128,
		EncryptionKey: mustKey(t, strings.Repeat("42", 16)), Integrity: IntegHMACSHA256128, IntegrityKey: mustKey(t, testAuthKey)})
	if err != nil {
		t.Fatal(err)
	}
	m := pbu(t, 1)
	mh.SetChecksum(magAddr, lmaAddr, m)
	esp, _ := Seal(out, m)
	// The SA opens it and its selector (any MH type) covers it, but the
	// PBU policy accepts only lma-in.
	if _, sa, err := lma.Enforce(magAddr, lmaAddr, ProtoESP, esp); !errors.Is(err, ErrPolicy) || sa == nil || sa.Name() != "lma-in-2" {
		t.Errorf("got %v via %v", err, sa)
	}
}

func TestConfigValidate(t *testing.T) {
	d := keyDir(t)
	valid := lmaConfig(d)
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := []struct {
		name   string
		mod    func(c *Config)
		field  string
		reason string
	}{
		{"default action", func(c *Config) { c.DefaultAction = "allow" }, "default_action", "unknown action"},
		{"SA name missing", func(c *Config) { c.SAs[0].Name = "" }, "sas[0].name", "required"},
		{"SA name twice", func(c *Config) { c.SAs[1].Name = c.SAs[0].Name }, "sas[1].name", "used by another SA"},
		{"reserved SPI", func(c *Config) { c.SAs[0].SPI = 200 }, "sas[0].spi", "reserved"},
		{"inbound SPI twice", func(c *Config) { c.SAs[1].Direction = "in"; c.SAs[1].SPI = c.SAs[0].SPI }, "sas[1].spi", "already used"},
		{"direction", func(c *Config) { c.SAs[0].Direction = "inbound" }, "sas[0].direction", "in or out"},
		{"local", func(c *Config) { c.SAs[0].Local = "2001:db8::zz" }, "sas[0].local", "ParseAddr"},
		{"remote prefix", func(c *Config) { c.SAs[0].Remote = "2001:db8::/129" }, "sas[0].remote", "129"},
		{"mh type", func(c *Config) { c.SAs[0].MHTypes = []string{"bogus"} }, "sas[0].mh_types", "unknown MH type"},
		{"any with others", func(c *Config) { c.SAs[0].MHTypes = []string{"any", "bu"} }, "sas[0].mh_types", "any"},
		{"encryption", func(c *Config) { c.SAs[0].Encryption = "3des" }, "sas[0].encryption", "unknown encryption"},
		{"GCM with HMAC", func(c *Config) { c.SAs[0].Integrity = "hmac-sha256-128"; c.SAs[0].IntegrityKeyFile = "auth.key" }, "sas[0].integrity", "must be none"},
		{"CBC without HMAC", func(c *Config) { c.SAs[0].Encryption = "aes-cbc-128" }, "sas[0].integrity", "needs integrity"},
		{"null with key", func(c *Config) {
			c.SAs[0].Encryption = "null"
			c.SAs[0].Integrity = "hmac-sha256-128"
			c.SAs[0].IntegrityKeyFile = "auth.key"
		}, "sas[0].encryption_key_file", "takes no key"},
		{"key file missing", func(c *Config) { c.SAs[0].EncryptionKeyFile = "" }, "sas[0].encryption_key_file", "required"},
		{"integrity key missing", func(c *Config) {
			c.SAs[0].Encryption = "aes-cbc-128"
			c.SAs[0].EncryptionKeyFile = "cbc.key"
			c.SAs[0].Integrity = "hmac-sha256-128"
		}, "sas[0].integrity_key_file", "required"},
		{"window range", func(c *Config) { c.SAs[0].ReplayWindow = 2000 }, "sas[0].replay_window", "out of range"},
		{"window on outbound", func(c *Config) { c.SAs[1].ReplayWindow = 64 }, "sas[1].replay_window", "inbound SAs only"},
		{"soft after hard", func(c *Config) { c.SAs[0].Lifetime.SoftTime, c.SAs[0].Lifetime.HardTime = 2, 1 }, "sas[0].lifetime.soft_time", "after hard_time"},
		{"soft packets above hard", func(c *Config) { c.SAs[0].Lifetime.SoftPackets, c.SAs[0].Lifetime.HardPackets = 5, 4 }, "sas[0].lifetime.soft_packets", "above"},
		{"policy action", func(c *Config) { c.Policies[0].Action = "encrypt" }, "policies[0].action", "unknown action"},
		{"policy direction", func(c *Config) { c.Policies[1].Direction = "" }, "policies[1].direction", "in or out"},
		{"policy SA unknown", func(c *Config) { c.Policies[0].SAs = []string{"nope"} }, "policies[0].sas[0]", "no SA is named"},
		{"policy SA wrong direction", func(c *Config) { c.Policies[0].SAs = []string{"lma-in"} }, "policies[0].sas[0]", "is in, the policy is out"},
		{"SAs on bypass", func(c *Config) { c.Policies[0].Action = "bypass" }, "policies[0].sas", "only a protect policy"},
		{"policy mh type", func(c *Config) { c.Policies[1].MHTypes = []string{"300"} }, "policies[1].mh_types", "unknown MH type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := lmaConfig(d)
			c.mod(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			var found bool
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *FieldError
				if errors.As(e, &fe) && fe.Field == c.field && strings.Contains(fe.Reason, c.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error for field %s containing %q in:\n%v", c.field, c.reason, err)
			}
			if !strings.Contains(err.Error(), c.field+": ") {
				t.Errorf("message does not name %s: %v", c.field, err)
			}
		})
	}
}

func TestBuildKeyFiles(t *testing.T) {
	d := keyDir(t)
	t.Run("world-readable refused", func(t *testing.T) {
		if err := os.Chmod(filepath.Join(d, "bu.key"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(filepath.Join(d, "bu.key"), 0o600)
		_, err := Build(lmaConfig(d), nil)
		if err == nil {
			t.Fatal("built with a world-readable key file")
		}
		for _, want := range []string{"sas[0].encryption_key_file", filepath.Join(d, "bu.key"), "group or others"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if strings.Contains(err.Error(), keyBU[:8]) {
			t.Error("error shows key material")
		}
	})
	t.Run("wrong length", func(t *testing.T) {
		c := lmaConfig(d)
		c.SAs[0].Encryption = "aes-gcm-256"
		_, err := Build(c, nil)
		if err == nil || !strings.Contains(err.Error(), "sas[0].encryption_key_file") || !strings.Contains(err.Error(), "needs 36") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("absolute path ignores key_dir", func(t *testing.T) {
		c := lmaConfig(d)
		c.SAs[0].EncryptionKeyFile = filepath.Join(d, "bu.key")
		c.KeyDir = "/nonexistent"
		c.SAs[1].EncryptionKeyFile = filepath.Join(d, "ba.key")
		if _, err := Build(c, nil); err != nil {
			t.Error(err)
		}
	})
}

// Every field of the configuration structs carries a mapstructure tag
// (snake_case), so viper decodes them without relying on name matching.
func TestConfigTags(t *testing.T) {
	for _, v := range []any{Config{}, SAConfig{}, PolicyConfig{}, LifetimeConfig{}} {
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || strings.ToLower(tag) != tag || strings.Contains(tag, "-") {
				t.Errorf("%s.%s: mapstructure tag %q", rt.Name(), f.Name, tag)
			}
		}
	}
}
