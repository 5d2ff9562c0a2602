package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/ipsec"
)

// ipsecSection is a valid ipsec section for minimalMAG (MAG 2001:db8:ff::11,
// LMA 2001:db8:ff::2).
const ipsecSection = `
ipsec:
  backend: userspace
  xfrm: {priority_base: 30000, reqid: 0x1234}
  default_action: bypass
  key_dir: /etc/pmipd/keys
  sas:
    - {name: out, spi: 0x1011, direction: out, local: "2001:db8:ff::11", remote: "2001:db8:ff::2",
       mh_types: [pbu, heartbeat], encryption: aes-cbc-128, encryption_key_file: out.key,
       integrity: hmac-sha256-128, integrity_key_file: out-auth.key,
       lifetime: {soft_time: 20h, hard_time: 24h, soft_packets: 1000, hard_packets: 2000}}
    - {name: in, spi: 0x2011, direction: in, local: "2001:db8:ff::11", remote: "2001:db8:ff::2",
       mh_types: [pba], encryption: aes-gcm-128, encryption_key_file: in.key, replay_window: 128}
  policies:
    - {name: pbu, direction: out, local: "2001:db8:ff::11", remote: "2001:db8:ff::2", mh_types: [pbu, heartbeat], action: protect, sas: [out]}
    - {name: pba, direction: in, mh_types: [pba], action: protect}
`

// TestIPsecSection: the ipsec section decodes into ipsec.Settings (the
// keys of its squashed Config at the section's level), and is nil when
// absent.
func TestIPsecSection(t *testing.T) {
	c, err := Parse([]byte(minimalMAG + ipsecSection))
	if err != nil {
		t.Fatal(err)
	}
	want := &ipsec.Settings{
		Config: ipsec.Config{
			DefaultAction: "bypass", KeyDir: "/etc/pmipd/keys",
			SAs: []ipsec.SAConfig{
				{Name: "out", SPI: 0x1011, Direction: "out", Local: "2001:db8:ff::11", Remote: "2001:db8:ff::2",
					MHTypes: []string{"pbu", "heartbeat"}, Encryption: "aes-cbc-128", EncryptionKeyFile: "out.key",
					Integrity: "hmac-sha256-128", IntegrityKeyFile: "out-auth.key",
					Lifetime: ipsec.LifetimeConfig{SoftTime: 20 * time.Hour, HardTime: 24 * time.Hour, SoftPackets: 1000, HardPackets: 2000}},
				{Name: "in", SPI: 0x2011, Direction: "in", Local: "2001:db8:ff::11", Remote: "2001:db8:ff::2",
					MHTypes: []string{"pba"}, Encryption: "aes-gcm-128", EncryptionKeyFile: "in.key", ReplayWindow: 128},
			},
			Policies: []ipsec.PolicyConfig{
				{Name: "pbu", Direction: "out", Local: "2001:db8:ff::11", Remote: "2001:db8:ff::2", MHTypes: []string{"pbu", "heartbeat"}, Action: "protect", SAs: []string{"out"}},
				{Name: "pba", Direction: "in", MHTypes: []string{"pba"}, Action: "protect"},
			},
		},
		Backend: "userspace",
		XFRM:    ipsec.XFRMOptions{PriorityBase: 30000, Reqid: 0x1234},
	}
	if !reflect.DeepEqual(c.IPsec, want) {
		t.Errorf("ipsec section:\n got  %+v\n want %+v", c.IPsec, want)
	}

	c, err = Parse([]byte(minimalMAG))
	if err != nil {
		t.Fatal(err)
	}
	if c.IPsec != nil {
		t.Errorf("no ipsec section: %+v, want nil", c.IPsec)
	}
}

// TestIPsecBadConfigs: unknown keys and values that do not decode are
// reported under their full key, and what ipsec.Settings.Validate finds
// as ipsec.<field> lines, with the rest of the configuration's problems.
func TestIPsecBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		want     []string
	}{
		{"unknown key in an SA", "replay_window: 128}", "replay_window: 128, replay: 1}",
			[]string{`ipsec.sas[1].replay: unknown key (did you mean "replay_window"?)`}},
		{"unknown key in the section", "default_action: bypass", "default_actoin: bypass",
			[]string{`ipsec.default_actoin: unknown key (did you mean "default_action"?)`}},
		{"unknown key under xfrm", "reqid: 0x1234", "req_id: 0x1234",
			[]string{`ipsec.xfrm.req_id: unknown key (did you mean "reqid"?)`}},
		{"SPI that is not a number", "spi: 0x2011", "spi: two",
			[]string{`ipsec.sas[1].spi: must be an integer (got "two")`}},
		{"list of the wrong shape", "mh_types: [pba], encryption", "mh_types: pba, encryption",
			[]string{`ipsec.sas[1].mh_types: must be a list (got "pba")`}},
		{"unknown backend", "backend: userspace", "backend: racoon",
			[]string{`ipsec.backend: unknown backend "racoon" (want auto, kernel, userspace or external)`}},
		{"validation of SAs and policies", "spi: 0x2011", "spi: 12",
			[]string{`ipsec.sas[1].spi: 12 is reserved (RFC 4303 §2.1: SPIs 0-255 are not used for SAs)`}},
		{"several validation problems", "sas: [out]}", "sas: [nobody]}\n    - {direction: sideways, action: protect, sas: [in]}",
			[]string{
				`ipsec.policies[0].sas[0]: no SA is named "nobody"`,
				`ipsec.policies[1].direction: must be in or out, not "sideways"`,
			}},
		{"key file missing for CBC", "integrity_key_file: out-auth.key,", "",
			[]string{`ipsec.sas[0].integrity_key_file: is required for hmac-sha256-128 (32 octets of hex key material)`}},
		{"priority base without room", "priority_base: 30000", "priority_base: 4294967000",
			[]string{`ipsec.xfrm.priority_base: 4294967000 leaves no room for 1000 priorities`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.Replace(ipsecSection, tc.from, tc.to, 1)
			if y == ipsecSection {
				t.Fatalf("%q is not in the section", tc.from)
			}
			_, err := Parse([]byte(minimalMAG + y))
			checkLines(t, err, tc.want)
		})
	}
	// The section's problems come with the others, the node's first.
	y := strings.Replace(minimalMAG, `lma_address: "2001:db8:ff::2"`, `lma_address: "fe80::2"`, 1) + strings.Replace(ipsecSection, "spi: 0x2011", "spi: 12", 1)
	_, err := Parse([]byte(y))
	checkLines(t, err, []string{
		`mag.lma_address: must not be a link-local address (got fe80::2)`,
		`ipsec.sas[1].spi: 12 is reserved (RFC 4303 §2.1: SPIs 0-255 are not used for SAs)`,
	})
}

func checkLines(t *testing.T, err error, want []string) {
	t.Helper()
	ce, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v (%T), want an *Error with %q", err, err, want)
	}
	if got := ce.Lines(); !slices.Equal(got, want) {
		t.Errorf("problems:\n got  %q\n want %q", got, want)
	}
}

// TestIPsecDiff: a changed ipsec section needs a restart (the SAD, SPD
// and backend are set up at start); adding or removing it too.
func TestIPsecDiff(t *testing.T) {
	parse := func(y string) *Config {
		t.Helper()
		c, err := Parse([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := parse(minimalMAG + ipsecSection)
	if d := Diff(a, parse(minimalMAG+ipsecSection)); !d.Empty() {
		t.Errorf("same section: %v", d)
	}
	for name, b := range map[string]*Config{
		"SA changed":      parse(minimalMAG + strings.Replace(ipsecSection, "replay_window: 128", "replay_window: 256", 1)),
		"section removed": parse(minimalMAG),
	} {
		d := Diff(a, b)
		if !slices.Equal(d.Keys, []string{"ipsec"}) || !slices.Equal(d.Restart, []string{"ipsec"}) {
			t.Errorf("%s: keys %v, restart %v; want ipsec in both", name, d.Keys, d.Restart)
		}
	}
}
