package config

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/sirupsen/logrus"
	"github.com/spf13/viper"
)

const configsDir = "../../configs"

func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(configsDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs in %s (%v)", configsDir, err)
	}
	return files
}

func TestExamplesLoad(t *testing.T) {
	for _, f := range examples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate after Load: %v", err)
			}
		})
	}
}

// The examples describe one topology: the MAGs' addresses are authorized at
// the LMA, and every MAG points at the LMA.
func TestExamplesTopology(t *testing.T) {
	lma, err := Load(filepath.Join(configsDir, "lma.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !lma.Has(RoleLMA) || lma.Has(RoleMAG) {
		t.Errorf("lma.yaml roles = %v", lma.Roles)
	}
	if want := netip.MustParseAddr("2001:db8:ff::2"); lma.LMA.Address != want {
		t.Errorf("lma.address = %s, want %s", lma.LMA.Address, want)
	}
	for _, name := range []string{"mag1.yaml", "mag2.yaml"} {
		m, err := Load(filepath.Join(configsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !m.Has(RoleMAG) {
			t.Errorf("%s: roles = %v", name, m.Roles)
		}
		if m.MAG.LMAAddress != lma.LMA.Address {
			t.Errorf("%s: lma_address %s, LMA is %s", name, m.MAG.LMAAddress, lma.LMA.Address)
		}
		authorized := false
		for _, a := range lma.LMA.MAGs {
			if a.Address == m.MAG.Address {
				authorized = a.MNIDs.Allows("mn1@example.net")
			}
		}
		if !authorized {
			t.Errorf("%s: MAG %s is not authorized for mn1@example.net in lma.yaml", name, m.MAG.Address)
		}
		if len(m.MAG.Access) != 1 || m.MAG.Access[0].Interface != "acc" {
			t.Errorf("%s: access = %+v, want the one interface acc", name, m.MAG.Access)
		}
	}
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// schemaKeys lists every leaf key of the schema, with [] for list items.
func schemaKeys(path string, t reflect.Type, out *[]string) {
	if t.Kind() == reflect.Pointer && !leafTypes[t] { // an optional section
		t = t.Elem()
	}
	if leafTypes[t] || (t.Kind() != reflect.Struct && !(t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && !leafTypes[t.Elem()])) {
		*out = append(*out, path)
		return
	}
	if t.Kind() == reflect.Slice {
		schemaKeys(path+"[]", t.Elem(), out)
		return
	}
	for _, f := range schemaFields(t) {
		schemaKeys(join(path, f.Tag.Get("mapstructure")), f.Type, out)
	}
}

// Every key of the schema appears in at least one example, and every line
// of the examples that sets a key carries a comment (on the line or in the
// comment block just above it).
func TestExamplesDocumentEveryKey(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range examples(t) {
		v := viper.New()
		v.SetConfigFile(f)
		if err := v.ReadInConfig(); err != nil {
			t.Fatal(err)
		}
		w := &walker{present: map[string]bool{}}
		w.walk("", reflect.TypeFor[Config](), v.AllSettings())
		for k := range w.present {
			seen[indexRE.ReplaceAllString(k, "[]")] = true
		}

		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		prevComment := false
		documented := map[string]bool{} // indentation + key name of commented lines
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			trim := strings.TrimSpace(line)
			switch {
			case trim == "":
				prevComment = false
			case strings.HasPrefix(trim, "#"):
				prevComment = true
			default:
				// A leaf: "key: value" (not a section header "key:"),
				// commented unless the same key at the same depth (in an
				// earlier list item) was.
				name, _, _ := strings.Cut(line, ":")
				name = strings.Replace(name, "- ", "  ", 1)
				commented := strings.Contains(line, "#") || prevComment
				if commented {
					documented[name] = true
				} else if !strings.HasSuffix(trim, ":") && !documented[name] {
					t.Errorf("%s:%d: %q has no comment", filepath.Base(f), n, trim)
				}
				prevComment = false
			}
		}
		fh.Close()
	}
	var keys []string
	schemaKeys("", reflect.TypeFor[Config](), &keys)
	for _, k := range keys {
		if !seen[k] {
			t.Errorf("key %s does not appear in any example in configs/", k)
		}
	}
}

const minimalLMA = `
roles: [lma]
transport: {address: "2001:db8:ff::2"}
lma:
  pools: [{prefix: "2001:db8:100::/48"}]
  mags: [{address: "2001:db8:ff::11", mn_ids: "*"}]
  mobile_nodes: [{mn_id: mn1@example.net}]
`

const minimalMAG = `
roles: [mag]
transport: {address: "2001:db8:ff::11", interface: core}
mag:
  lma_address: "2001:db8:ff::2"
  access: [{interface: acc}]
  mobile_nodes: [{mn_id: mn1@example.net, mac: "02:00:00:00:01:01"}]
`

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimalLMA))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "pmipd"
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"node.name", c.Node.Name, host},
		{"node.log_level", c.Node.LogLevel, logrus.InfoLevel},
		{"node.state_dir", c.Node.StateDir, "/var/lib/pmipd"},
		{"dataplane.driver", c.Dataplane.Driver, DriverAuto},
		{"dataplane.tunnel_interface", c.Dataplane.TunnelInterface, ""},
		{"management.socket", c.Management.Socket, "/run/pmipd/pmipd.sock"},
		{"metrics.listen", c.Metrics.Listen, "127.0.0.1:9469"},
		{"lma.address", c.LMA.Address, netip.MustParseAddr("2001:db8:ff::2")},
		{"lma.pools[0].assign_length", c.LMA.Pools[0].AssignLength, 64},
		{"lma.mobile_nodes[0].allowed", c.LMA.MobileNodes[0].Allowed, true},
		{"lma.timers.min_delay_before_bce_delete", c.LMA.Timers.MinDelayBeforeBCEDelete, 10 * time.Second},
		{"lma.timers.max_delay_before_new_bce_assign", c.LMA.Timers.MaxDelayBeforeNewBCEAssign, 1500 * time.Millisecond},
		{"lma.timers.timestamp_validity_window", c.LMA.Timers.TimestampValidityWindow, 300 * time.Millisecond},
		{"lma.wait_for_deregistration_on_hi4", c.LMA.WaitForDeregistrationOnHI4, true},
		{"lma.max_lifetime", c.LMA.MaxLifetime, 262140 * time.Second},
		{"lma.ordering", c.LMA.Ordering, OrderingTimestamp},
		{"lma.mobile_node_generated_timestamp", c.LMA.MobileNodeGeneratedTimestamp, false},
		{"lma.heartbeat", c.LMA.Heartbeat, Heartbeat{Enabled: true, Interval: 60 * time.Second, MissingAllowed: 3}},
		{"lma.revocation", c.LMA.Revocation, Revocation{InitDelay: time.Second, MaxTimeout: 2 * time.Second, MaxRetries: 1}},
	}
	m, err := Parse([]byte(minimalMAG))
	if err != nil {
		t.Fatal(err)
	}
	checks = append(checks, []struct {
		key       string
		got, want any
	}{
		{"dataplane.tunnel_interface (from transport.interface)", m.Dataplane.TunnelInterface, "core"},
		{"mag.address", m.MAG.Address, netip.MustParseAddr("2001:db8:ff::11")},
		{"mag.access[0].att", m.MAG.Access[0].ATT, mh.ATT8023},
		{"mag.access[0].mn_id_from", m.MAG.Access[0].MNIDFrom, MNIDFromMAC},
		{"mag.access[0].attach_handoff_indicator", m.MAG.Access[0].AttachHI, uint8(1)},
		{"mag.access[0].moved_handoff_indicator", m.MAG.Access[0].MovedHI, uint8(3)},
		{"mag.mobile_nodes[0].lma", m.MAG.MobileNodes[0].LMA, netip.MustParseAddr("2001:db8:ff::2")},
		{"mag.lifetime", m.MAG.Lifetime, 3600 * time.Second},
		{"mag.retransmission", m.MAG.Retransmission, Retransmission{Initial: time.Second, Max: 32 * time.Second, MaxRate: 3}},
		{"mag.reregister_before", m.MAG.ReregisterBefore, ReregisterBefore{Fraction: 0.2}},
		{"mag.router_advertisement", m.MAG.RouterAdvertisement, RouterAdvertisement{
			Interval: 30 * time.Second, RouterLifetime: 90 * time.Second, MTU: 1460,
			ValidLifetime: 30 * 24 * time.Hour, PreferredLifetime: 7 * 24 * time.Hour}},
		{"mag.link_local_address", m.MAG.LinkLocalAddress, netip.MustParseAddr("fe80::200:5eff:fe00:5213")},
		{"mag.link_layer_address", m.MAG.LinkLayerAddress.String(), "00:00:5e:00:52:13"},
		{"mag.heartbeat", m.MAG.Heartbeat, Heartbeat{Enabled: true, Interval: 60 * time.Second, MissingAllowed: 3}},
	}...)
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

// Values given explicitly, even zero ones, are not replaced by defaults.
func TestDefaultsKeepExplicitZeroes(t *testing.T) {
	c, err := Parse([]byte(minimalLMA + `
  wait_for_deregistration_on_hi4: false
  timers: {min_delay_before_bce_delete: 0s, max_delay_before_new_bce_assign: 0}
  heartbeat: {enabled: false}
  revocation: {max_retries: 0}
metrics: {listen: ""}
management: {socket: ""}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.LMA.WaitForDeregistrationOnHI4 || c.LMA.Timers.MinDelayBeforeBCEDelete != 0 ||
		c.LMA.Timers.MaxDelayBeforeNewBCEAssign != 0 || c.LMA.Heartbeat.Enabled ||
		c.LMA.Revocation.MaxRetries != 0 || c.Metrics.Listen != "" || c.Management.Socket != "" {
		t.Errorf("explicit zero values were replaced by defaults: %+v %+v %+v", c.LMA, c.Metrics, c.Management)
	}
	if c.LMA.Heartbeat.Interval != DefaultHeartbeatInterval {
		t.Errorf("heartbeat.interval = %s, want the default next to an explicit enabled: false", c.LMA.Heartbeat.Interval)
	}
}

func TestValuesParsed(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(minimalMAG, "  access: [{interface: acc}]\n", "", 1) + `
  access:
    - {interface: a0, att: wifi, mn_id_from: nai-map}
    - {interface: a1, att: "3GPP E-UTRAN", mn_id_from: interface}
    - {interface: a2, att: 13}
    - {interface: a3, att: IEEE-802.16e}
  reregister_before: "25%"
  link_local_address: "::"
  link_layer_address: "00:00:00:00:00:00"
node: {log_level: DEBUG}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := []mh.ATT{c.MAG.Access[0].ATT, c.MAG.Access[1].ATT, c.MAG.Access[2].ATT, c.MAG.Access[3].ATT}; !slices.Equal(got, []mh.ATT{mh.ATT80211, mh.ATTEUTRAN, mh.ATTNBIoT, mh.ATT80216e}) {
		t.Errorf("att = %v", got)
	}
	if c.MAG.Access[0].MNIDFrom != MNIDFromNAIMap || c.MAG.Access[1].MNIDFrom != MNIDFromInterface {
		t.Errorf("mn_id_from = %q, %q", c.MAG.Access[0].MNIDFrom, c.MAG.Access[1].MNIDFrom)
	}
	if c.MAG.ReregisterBefore != (ReregisterBefore{Fraction: 0.25}) {
		t.Errorf("reregister_before = %+v", c.MAG.ReregisterBefore)
	}
	if !c.MAG.LinkLocalAddress.IsUnspecified() || !slices.Equal(c.MAG.LinkLayerAddress, net.HardwareAddr{0, 0, 0, 0, 0, 0}) {
		t.Errorf("disabled fixed addresses: %s %s", c.MAG.LinkLocalAddress, c.MAG.LinkLayerAddress)
	}
	if c.Node.LogLevel != logrus.DebugLevel {
		t.Errorf("log_level = %s", c.Node.LogLevel)
	}

	d, err := Parse([]byte(minimalMAG + "  reregister_before: 90s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := d.MAG.ReregisterBefore; r.Duration != 90*time.Second || r.Lead(time.Hour) != 90*time.Second || r.Lead(time.Minute) != time.Minute {
		t.Errorf("reregister_before 90s = %+v, Lead(1h) %s, Lead(1m) %s", r, r.Lead(time.Hour), r.Lead(time.Minute))
	}
	if l := c.MAG.ReregisterBefore.Lead(time.Hour); l != 15*time.Minute {
		t.Errorf("Lead(1h) with 25%% = %s, want 15m", l)
	}
}

func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown top-level key", minimalLMA + "nodes: {name: x}\n",
			[]string{`nodes: unknown key (did you mean "node"?)`}},
		{"unknown key in a section", minimalLMA + "node: {nmae: x}\n",
			[]string{`node.nmae: unknown key (did you mean "name"?)`}},
		{"unknown key two levels down", minimalLMA + "  timers: {min_delay: 1s}\n",
			[]string{`lma.timers.min_delay: unknown key (did you mean "min_delay_before_bce_delete"?)`}},
		{"unknown key in a list item", strings.Replace(minimalLMA, `pools: [{prefix: "2001:db8:100::/48"}]`, `pools: [{prefix: "2001:db8:100::/48"}, {prefx: "2001:db8:200::/48"}]`, 1),
			[]string{`lma.pools[1].prefx: unknown key (did you mean "prefix"?)`, `lma.pools[1].prefix: required`}},
		{"unknown key without a near name", strings.Replace(minimalMAG, "{interface: acc}", "{interface: acc, colour: blue}", 1),
			[]string{`mag.access[0].colour: unknown key`}},
		{"several unknown keys at once", minimalMAG + "  router_advertisement: {intervall: 1s, mtu: 1400}\nmetric: {listen: x}\n",
			[]string{`mag.router_advertisement.intervall: unknown key (did you mean "interval"?)`, `metric: unknown key (did you mean "metrics"?)`}},
		{"bad prefix", strings.Replace(minimalLMA, "2001:db8:100::/48", "2001:db8:100::/129", 1),
			[]string{`lma.pools[0].prefix: invalid prefix "2001:db8:100::/129" (want address/length, e.g. 2001:db8::/48)`}},
		{"prefix with host bits", strings.Replace(minimalLMA, "2001:db8:100::/48", "2001:db8:100::1/48", 1),
			[]string{`lma.pools[0].prefix: 2001:db8:100::1/48 has host bits set (did you mean 2001:db8:100::/48?)`}},
		{"IPv4 pool", strings.Replace(minimalLMA, "2001:db8:100::/48", "10.0.0.0/8", 1),
			[]string{`lma.pools[0].prefix: must be an IPv6 prefix (got 10.0.0.0/8)`}},
		{"overlapping pools", strings.Replace(minimalLMA, `[{prefix: "2001:db8:100::/48"}]`,
			`[{prefix: "2001:db8::/48"}, {prefix: "2001:db8:1::/48"}, {prefix: "2001:db8::/56"}]`, 1),
			[]string{`lma.pools: 2001:db8::/48 overlaps 2001:db8::/56`}},
		{"assign length shorter than the pool", strings.Replace(minimalLMA, `{prefix: "2001:db8:100::/48"}`,
			`{prefix: "2001:db8:100::/48", assign_length: 40}`, 1),
			[]string{`lma.pools[0].assign_length: must be between 48 (the pool's length) and 128 (got 40)`}},
		{"overlapping fixed prefixes", strings.Replace(minimalLMA, `[{mn_id: mn1@example.net}]`,
			`[{mn_id: a, prefixes: ["2001:db8:200::/64"]}, {mn_id: b, prefixes: ["2001:db8:200::/60"]}]`, 1),
			[]string{`lma.mobile_nodes[1].prefixes[0]: 2001:db8:200::/60 overlaps 2001:db8:200::/64 (lma.mobile_nodes[0].prefixes[0])`}},
		{"bad duration", minimalLMA + "  timers: {min_delay_before_bce_delete: 10x}\n",
			[]string{`lma.timers.min_delay_before_bce_delete: invalid duration "10x" (want a Go duration such as "10s", "1.5s" or "300ms")`}},
		{"duration without unit", minimalLMA + "  timers: {timestamp_validity_window: 300}\n",
			[]string{`lma.timers.timestamp_validity_window: invalid duration 300 (want a Go duration string such as "10s", "1.5s" or "300ms")`}},
		{"negative timer", minimalLMA + "  timers: {min_delay_before_bce_delete: -1s}\n",
			[]string{`lma.timers.min_delay_before_bce_delete: must be >= 0`}},
		{"zero validity window", minimalLMA + "  timers: {timestamp_validity_window: 0s}\n",
			[]string{`lma.timers.timestamp_validity_window: must be > 0`}},
		{"heartbeat interval below range", minimalLMA + "  heartbeat: {interval: 10s}\n",
			[]string{`lma.heartbeat.interval: must be between 30s and 1h (got 10s)`}},
		{"heartbeat interval above range", minimalMAG + "  heartbeat: {interval: 2h, missing_allowed: 0}\n",
			[]string{`mag.heartbeat.interval: must be between 30s and 1h (got 2h)`, `mag.heartbeat.missing_allowed: must be >= 1`}},
		{"revocation below RFC 5846 minimum", minimalLMA + "  revocation: {init_delay: 100ms, max_retries: -1}\n",
			[]string{`lma.revocation.init_delay: must be >= 500ms`, `lma.revocation.max_retries: must be >= 0`}},
		{"missing roles", "transport: {address: \"2001:db8::1\"}\n",
			[]string{`roles: required (at least one of lma, mag, mr, haa, lm)`}},
		{"unknown role", strings.Replace(minimalLMA, "[lma]", "[lma, foo]", 1),
			[]string{`roles[1]: unknown role "foo" (lma, mag, mr, haa or lm)`}},
		{"mr beside lma", strings.Replace(minimalLMA, "[lma]", "[lma, mr]", 1) + dmmMRKeys,
			[]string{`roles: mr cannot share a process with lma or mag (one Mobility Header socket each): run one pmipd per role`}},
		{"duplicate role", strings.Replace(minimalLMA, "[lma]", "[lma, lma]", 1),
			[]string{`roles[1]: role "lma" listed twice`}},
		{"missing LMA keys", "roles: [lma]\nlma: {mags: [{address: \"2001:db8::11\"}]}\n",
			[]string{`transport.address: required (the node's signalling IPv6 address)`, `lma.mags[0].mn_ids: required (a list of MN identifiers, or "*" for any)`}},
		{"LMA without MAGs", "roles: [lma]\ntransport: {address: \"2001:db8::2\"}\n",
			[]string{`lma.mags: required (at least one authorized MAG)`}},
		{"missing MAG keys", "roles: [mag]\ntransport: {address: \"2001:db8::11\"}\nmag: {access: [{att: 3}], mobile_nodes: [{mac: \"02:00:00:00:00:01\"}]}\n",
			[]string{`mag.lma_address: required`, `mag.access[0].interface: required`, `mag.mobile_nodes[0].mn_id: required`}},
		{"MAG without access", "roles: [mag]\ntransport: {address: \"2001:db8::11\"}\nmag: {lma_address: \"2001:db8::2\"}\n",
			[]string{`mag.access: required (at least one access interface)`}},
		{"bad address", strings.Replace(minimalMAG, `lma_address: "2001:db8:ff::2"`, `lma_address: "2001:db8:ff::zz"`, 1),
			[]string{`mag.lma_address: invalid IP address "2001:db8:ff::zz"`}},
		{"link-local LMA", strings.Replace(minimalMAG, `lma_address: "2001:db8:ff::2"`, `lma_address: "fe80::2"`, 1),
			[]string{`mag.lma_address: must not be a link-local address (got fe80::2)`}},
		{"IPv4 transport address", strings.Replace(minimalLMA, `"2001:db8:ff::2"`, `"192.0.2.1"`, 1),
			[]string{`transport.address: must be an IPv6 address (got 192.0.2.1)`}},
		{"duplicate MAG", strings.Replace(minimalLMA, `mags: [{address: "2001:db8:ff::11", mn_ids: "*"}]`,
			`mags: [{address: "2001:db8:ff::11", mn_ids: "*"}, {address: "2001:db8:ff::11", mn_ids: [a]}]`, 1),
			[]string{`lma.mags[1].address: 2001:db8:ff::11 is already authorized by lma.mags[0]`}},
		{"bad mn_ids", strings.Replace(minimalLMA, `mn_ids: "*"`, `mn_ids: everyone`, 1),
			[]string{`lma.mags[0].mn_ids: must be "*" or a list of MN identifiers (got "everyone")`}},
		{"wrong scalar type", minimalMAG + "  router_advertisement: {mtu: big}\n",
			[]string{`mag.router_advertisement.mtu: must be an integer (got "big")`}},
		{"wrong bool", minimalLMA + "  wait_for_deregistration_on_hi4: sometimes\n",
			[]string{`lma.wait_for_deregistration_on_hi4: must be true or false (got "sometimes")`}},
		{"MTU out of range", minimalMAG + "  router_advertisement: {mtu: 1000}\n",
			[]string{`mag.router_advertisement.mtu: must be between 1280 and 65535 (got 1000)`}},
		{"unknown ATT", strings.Replace(minimalMAG, "{interface: acc}", "{interface: acc, att: carrier-pigeon}", 1),
			[]string{`mag.access[0].att: unknown access technology type "carrier-pigeon" (a number, or one of ethernet, wifi, wimax, virtual, ppp, geran, utran, eutran, ehrpd, hrpd, 1xrtt, umb, nb-iot)`}},
		{"unknown mn_id_from", strings.Replace(minimalMAG, "{interface: acc}", "{interface: acc, mn_id_from: dhcp}", 1),
			[]string{`mag.access[0].mn_id_from: unknown source "dhcp" (mac, interface or nai-map)`}},
		{"handoff indicators", strings.Replace(minimalMAG, "{interface: acc}", "{interface: acc, attach_handoff_indicator: 3, moved_handoff_indicator: 5}", 1),
			[]string{`mag.access[0].attach_handoff_indicator: must be 1 (attachment over a new interface) or 4 (handoff state unknown) (got 3)`,
				`mag.access[0].moved_handoff_indicator: must be 2, 3 or 4 (got 5)`}},
		{"nai-map needs MACs", strings.Replace(strings.Replace(minimalMAG, "{interface: acc}", "{interface: acc, mn_id_from: nai-map}", 1), `mac: "02:00:00:00:01:01"`, `prefixes: []`, 1),
			[]string{`mag.mobile_nodes[0].mac: required (an access interface uses mn_id_from: nai-map)`}},
		{"bad MAC", strings.Replace(minimalMAG, `"02:00:00:00:01:01"`, `"02:00:00"`, 1),
			[]string{`mag.mobile_nodes[0].mac: invalid MAC address "02:00:00" (want 6 octets, e.g. 02:00:00:00:01:01)`}},
		{"lifetime not a multiple of 4s", minimalMAG + "  lifetime: 10s\n",
			[]string{`mag.lifetime: must be a multiple of 4s, the lifetime unit (got 10s)`}},
		{"lifetime too long", minimalMAG + "  lifetime: 100h\n",
			[]string{`mag.lifetime: must be between 4s and 262140s (got 100h)`}},
		{"reregister fraction out of range", minimalMAG + "  reregister_before: 1.5\n",
			[]string{`mag.reregister_before: fraction must be between 0 and 1 exclusive (got 1.5)`}},
		{"reregister garbage", minimalMAG + "  reregister_before: soon\n",
			[]string{`mag.reregister_before: must be a fraction of the lifetime (0.2 or "20%") or a duration ("30s") (got "soon")`}},
		{"retransmission max below initial", minimalMAG + "  retransmission: {initial: 4s, max: 2s, max_rate: 0}\n",
			[]string{`mag.retransmission.max: must be >= initial (4s)`, `mag.retransmission.max_rate: must be >= 1`}},
		{"sequence ordering with MN timestamps", minimalLMA + "  ordering: sequence\n  mobile_node_generated_timestamp: true\n",
			[]string{`lma.mobile_node_generated_timestamp: must be false with ordering: sequence (RFC 5213 §9.3)`}},
		{"unknown ordering", minimalLMA + "  ordering: random\n",
			[]string{`lma.ordering: unknown ordering "random" (timestamp or sequence)`}},
		{"unknown driver", minimalLMA + "dataplane: {driver: dpdk}\n",
			[]string{`dataplane.driver: unknown driver "dpdk" (seg6, ip6tnl, fake or auto)`}},
		{"bad log level", minimalLMA + "node: {log_level: loud}\n",
			[]string{`node.log_level: unknown log level "loud" (panic, fatal, error, warn, info, debug or trace)`}},
		{"link-layer fixed address not link-local", minimalMAG + "  link_local_address: \"2001:db8::1\"\n",
			[]string{`mag.link_local_address: must be an IPv6 link-local address, or :: to disable (got 2001:db8::1)`}},
		{"metrics listen", minimalLMA + "metrics: {listen: \"localhost\"}\n",
			[]string{`metrics.listen: must be host:port, e.g. 127.0.0.1:9469 or [::1]:9469 (got "localhost")`}},
		{"list item that is not a mapping", strings.Replace(minimalMAG, "{interface: acc}", "acc", 1),
			[]string{`mag.access[0]: must be a mapping (got "acc")`}},
		{"list that is not a list", strings.Replace(minimalLMA, "[lma]", "lma", 1),
			[]string{`roles: must be a list (got "lma")`}},
		{"section that is not a mapping", minimalLMA + "management: /run/x.sock\n",
			[]string{`management: must be a mapping (got "/run/x.sock")`}},
		{"YAML syntax", "roles: [lma\n",
			nil}, // checked below: one (file) problem
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse accepted the config: %+v", c)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			got := ce.Lines()
			if tc.want == nil {
				if len(got) != 1 || !strings.HasPrefix(got[0], "(file): ") {
					t.Fatalf("got %q, want one (file) problem", got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}

// Problems from decoding and from validation are reported together.
func TestEveryProblemReported(t *testing.T) {
	_, err := Parse([]byte(`
roles: [lma, mr]
node: {nmae: x}
lma:
  pools: [{prefix: "2001:db8::/48"}, {prefix: "2001:db8::/56"}]
  timers: {min_delay_before_bce_delete: -1s, timestamp_validity_window: 10}
`))
	want := []string{
		`lma.timers.timestamp_validity_window: invalid duration 10 (want a Go duration string such as "10s", "1.5s" or "300ms")`,
		`node.nmae: unknown key (did you mean "name"?)`,
		`transport.address: required (the node's signalling IPv6 address)`,
		`lma.pools: 2001:db8::/48 overlaps 2001:db8::/56`,
		`lma.mags: required (at least one authorized MAG)`,
		`lma.timers.min_delay_before_bce_delete: must be >= 0`,
		`roles: mr cannot share a process with lma or mag (one Mobility Header socket each): run one pmipd per role`,
		`mr.access: required with deployment access (at least one access interface)`,
		`mr.lm: required (the LM's address) unless this process runs the lm role`,
		`mr.haa: required (the HAA's address) unless this process runs the haa role`,
		`mr.pools: required (every MR pool of the domain with its anchor)`,
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	if got := ce.Lines(); !slices.Equal(got, want) {
		t.Errorf("problems:\n got  %q\n want %q", got, want)
	}
	if ce.Error() != strings.Join(want, "\n") {
		t.Errorf("Error() = %q", ce.Error())
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(p, []byte(minimalLMA+"  ordering: random\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	want := p + ": invalid configuration\n  lma.ordering: unknown ordering \"random\" (timestamp or sequence)"
	if err == nil || err.Error() != want {
		t.Errorf("Load error = %v, want %q", err, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestMNIDSet(t *testing.T) {
	any := MNIDSet{Any: true}
	list := MNIDSet{IDs: []string{"a", "b"}}
	for _, c := range []struct {
		s    MNIDSet
		id   string
		want bool
	}{{any, "x", true}, {list, "a", true}, {list, "c", false}, {MNIDSet{}, "a", false}} {
		if got := c.s.Allows(c.id); got != c.want {
			t.Errorf("%v.Allows(%q) = %v", c.s, c.id, got)
		}
	}
	c, err := Parse([]byte(strings.Replace(minimalLMA, `mn_ids: "*"`, `mn_ids: [a, "*"]`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !c.LMA.MAGs[0].MNIDs.Any {
		t.Errorf(`"*" inside a list should admit any MN: %+v`, c.LMA.MAGs[0].MNIDs)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"prefix", "assign_length"}
	for k, want := range map[string]string{"prefx": "prefix", "prefixes": "prefix", "assign": "assign_length", "zz": "", "colour": ""} {
		if got := suggest(k, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", k, got, want)
		}
	}
}
