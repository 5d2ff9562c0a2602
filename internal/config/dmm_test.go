package config

import (
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// dmmMRKeys completes an mr section (deployment access) for a node whose
// transport.address is 2001:db8:ff::2.
const dmmMRKeys = `
mr:
  lm: "2001:db8:ff::a"
  haa: "2001:db8:ff::b"
  pools: [{prefix: "2001:db8:11::/48", anchor: "2001:db8:ff::2"}]
  access: [acc]
`

const minimalMR = `
roles: [mr]
transport: {address: "2001:db8:ff::2", interface: core}
` + dmmMRKeys

const minimalLMHAA = `
roles: [lm, haa]
transport: {address: "2001:db8:ff::a"}
haa:
  address: "2001:db8:ff::b"
  pools: [{prefix: "2001:db8:11::/48", mr: "2001:db8:ff::2"}]
`

func TestDMMDefaults(t *testing.T) {
	c, err := Parse([]byte(minimalMR))
	if err != nil {
		t.Fatal(err)
	}
	m := c.MR
	if m.Address != netip.MustParseAddr("2001:db8:ff::2") || m.Deployment != DeployAccess || m.Routing != RoutingQuery ||
		!m.UpdateLMOnAttach || m.NewPrefixOnMove || !m.Redirect || m.RedirectAck || !m.ContextTransfer ||
		m.ForwardingLifetime != 10*time.Second || m.HoldTimeout != 3*time.Second || m.NegativeLifetime != 5*time.Second ||
		m.Lifetime != time.Hour || m.CallTimeout != 5*time.Second || m.Retransmission.Initial != time.Second ||
		m.Retransmission.MaxRetries != 3 || m.ATT != mh.ATT8023 || m.RouterAdvertisement.MTU != 1460 ||
		m.RouterAdvertisement.RouterLifetime != 1800*time.Second || m.Punt.Device != "pmippunt0" ||
		m.Punt.MaxPackets != 4096 || m.Punt.MaxAge != 2*time.Second {
		t.Errorf("mr defaults: %+v", m)
	}
	c, err = Parse([]byte(minimalLMHAA))
	if err != nil {
		t.Fatal(err)
	}
	if c.LM.Address != netip.MustParseAddr("2001:db8:ff::a") || c.LM.Store.Backend != StoreBolt || c.LM.Store.Path != "/var/lib/pmipd/lm.db" ||
		c.LM.Store.DialTimeout != 5*time.Second || !slices.Equal(c.LM.PrefixLengths, []int{64, 128}) || c.LM.Cache {
		t.Errorf("lm defaults: %+v", c.LM)
	}
	if c.HAA.Address != netip.MustParseAddr("2001:db8:ff::b") || c.HAA.Store.Backend != StoreBolt || c.HAA.Store.Path != "/var/lib/pmipd/haa.db" ||
		c.HAA.DefaultLifetime != time.Hour || c.HAA.MaxLifetime != 0 || c.HAA.Pools[0].AssignLength != 64 {
		t.Errorf("haa defaults: %+v", c.HAA)
	}
	// The default bolt file is in node.state_dir; an explicit backend
	// (memory) or path is kept.
	c, err = Parse([]byte(minimalLMHAA + "  store: {path: /srv/h.db}\nlm:\n  store: {backend: memory}\nnode: {state_dir: /srv/x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.LM.Store.Backend != StoreMemory || c.LM.Store.Path != "" || c.HAA.Store.Backend != StoreBolt || c.HAA.Store.Path != "/srv/h.db" {
		t.Errorf("explicit store settings: lm %+v haa %+v", c.LM.Store, c.HAA.Store)
	}
	c, err = Parse([]byte(minimalLMHAA + "node: {state_dir: /srv/x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.LM.Store.Path != "/srv/x/lm.db" || c.HAA.Store.Path != "/srv/x/haa.db" {
		t.Errorf("default store files in node.state_dir: lm %+v haa %+v", c.LM.Store, c.HAA.Store)
	}
	// Explicit false and zero stay.
	c, err = Parse([]byte(minimalMR + "  redirect: false\n  context_transfer: false\n  update_lm_on_attach: false\n  forwarding_lifetime: 0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MR.Redirect || c.MR.ContextTransfer || c.MR.UpdateLMOnAttach || c.MR.ForwardingLifetime != 0 {
		t.Errorf("explicit values lost: %+v", c.MR)
	}
}

func TestDMMBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"mr without its keys", "roles: [mr]\ntransport: {address: \"2001:db8:ff::2\"}\n", []string{
			`mr.access: required with deployment access (at least one access interface)`,
			`mr.lm: required (the LM's address) unless this process runs the lm role`,
			`mr.haa: required (the HAA's address) unless this process runs the haa role`,
			`mr.pools: required (every MR pool of the domain with its anchor)`}},
		{"mr with its lm and haa in process", strings.Replace(minimalMR, "[mr]", "[mr, lm, haa]", 1) +
			"lm: {address: \"2001:db8:ff::a\"}\nhaa: {address: \"2001:db8:ff::b\", pools: [{prefix: \"2001:db8:11::/48\", mr: \"2001:db8:ff::2\"}]}\n", nil},
		{"mr lm in process without address of their own", strings.Replace(minimalMR, "[mr]", "[mr, lm]", 1), []string{
			`lm.address: 2001:db8:ff::2 is already mr.address: each role of one process needs its own address (its own Mobility Header socket)`}},
		{"bad enums", minimalMR + "  deployment: cloud\n  routing: fast\n", []string{
			`mr.deployment: unknown deployment "cloud" (access or lma)`,
			`mr.routing: unknown routing "fast" (query: Figure 3, or redirect: Figure 4)`}},
		{"deployment lma without MAGs", minimalMR + "  deployment: lma\n", []string{
			`mr.mags: required with deployment lma (the legacy MAGs allowed to register)`}},
		{"pool not anchored here, overlapping", strings.Replace(minimalMR, `anchor: "2001:db8:ff::2"}]`,
			`anchor: "2001:db8:ff::3"}, {prefix: "2001:db8:11:1::/64", anchor: "fe80::1"}]`, 1), []string{
			`mr.pools[1].anchor: must not be a link-local address (got fe80::1)`,
			`mr.pools[1].prefix: 2001:db8:11:1::/64 overlaps 2001:db8:11::/48 (mr.pools[0])`,
			`mr.pools: none is anchored at this MR (2001:db8:ff::2)`}},
		{"timers and access", strings.Replace(minimalMR, "access: [acc]", "access: [acc, acc]", 1) + "  hold_timeout: 0s\n  lifetime: 1s\n  forwarding_lifetime: -1s\n" +
			"  mobile_nodes: [{mn_id: a, interface: eth9}, {mn_id: a}]\n  punt: {device: \"\", max_packets: 0}\n", []string{
			`mr.forwarding_lifetime: must be between 0 and 65535s (got -1s)`,
			`mr.hold_timeout: must be > 0`,
			`mr.lifetime: must be between 4s and 262140s (got 1s)`,
			`mr.access[1]: "acc" is already listed as mr.access[0]`,
			`mr.mobile_nodes[0].interface: "eth9" is not one of mr.access`,
			`mr.mobile_nodes[1].mn_id: "a" is already defined by mr.mobile_nodes[0]`,
			`mr.mobile_nodes[1]: a mac or an interface is required to recognise the node`,
			`mr.punt.device: must be an interface name of 1 to 15 characters (got "")`,
			`mr.punt.max_packets: must be >= 1`}},
		{"stores", minimalLMHAA + "  store: {backend: bolt}\nlm: {store: {backend: etcd, endpoints: [\"2001:db8::1:2379\"]}, prefix_lengths: [64, 64, 129], cache: true, cache_mode: mirror, cache_max_entries: -1}\n", []string{
			`lm.store.endpoints[0]: must be an http:// or https:// URL with a host (got "2001:db8::1:2379")`,
			`lm.prefix_lengths[1]: 64 is listed twice`,
			`lm.prefix_lengths[2]: must be between 1 and 128 (got 129)`,
			`lm.cache_mode: must be "learn" or "replica" (got "mirror")`,
			`lm.cache_max_entries: must be >= 0 (0: 1048576)`,
			`haa.store.path: required with backend bolt (the store file)`}},
		{"haa pools", strings.Replace(minimalLMHAA, `[{prefix: "2001:db8:11::/48", mr: "2001:db8:ff::2"}]`,
			`[{prefix: "2001:db8:11::/48", mr: "2001:db8:ff::2", assign_length: 32}, {prefix: "2001:db8:11::/56"}]`, 1) +
			"  store: {backend: redis}\n  default_lifetime: 2h\n  max_lifetime: 1h\n", []string{
			`haa.store.backend: unknown backend "redis" (memory, bolt or etcd)`,
			`haa.pools[0].assign_length: must be between 48 (the pool's length) and 128 (got 32)`,
			`haa.pools[1].mr: required (the anchor MR)`,
			`haa.pools[1].prefix: 2001:db8:11::/56 overlaps 2001:db8:11::/48 (haa.pools[0])`,
			`haa.default_lifetime: must be <= max_lifetime (1h)`}},
		{"unknown dmm key", minimalMR + "  routng: query\n", []string{`mr.routng: unknown key (did you mean "routing"?)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v", err)
			}
			if got := ce.Lines(); !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}

// The Figure 1 configs describe one domain: every MR lists the same pools
// as the HAAs, each pool anchored at the MR that has that address, and
// every MR's lm/haa is an LM/HAA of a config.
func TestDMMExamplesTopology(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(configsDir, "dmm-*.yaml"))
	lms, haas := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	var mrs []*Config
	var haaPools map[netip.Prefix]netip.Addr
	for _, f := range files {
		if strings.HasSuffix(f, "dmm-single.yaml") {
			continue
		}
		c, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if c.Has(RoleLM) {
			lms[c.LM.Address] = true
		}
		if c.Has(RoleHAA) {
			haas[c.HAA.Address] = true
			ps := map[netip.Prefix]netip.Addr{}
			for _, p := range c.HAA.Pools {
				ps[p.Prefix] = p.MR
			}
			if haaPools != nil && len(ps) != len(haaPools) {
				t.Errorf("%s: pools differ from another HAA's", f)
			}
			haaPools = ps
		}
		if c.Has(RoleMR) {
			mrs = append(mrs, c)
		}
	}
	if len(mrs) != 5 || len(lms) != 3 || len(haas) != 3 {
		t.Fatalf("%d MRs, %d LMs, %d HAAs; want 5, 3, 3 (Figure 1)", len(mrs), len(lms), len(haas))
	}
	for _, c := range mrs {
		if !lms[c.MR.LM] || !haas[c.MR.HAA] {
			t.Errorf("%s: lm %v or haa %v is not an LM/HAA of the examples", c.Node.Name, c.MR.LM, c.MR.HAA)
		}
		if len(c.MR.Pools) != len(haaPools) {
			t.Errorf("%s: %d pools, the HAAs have %d", c.Node.Name, len(c.MR.Pools), len(haaPools))
		}
		for _, p := range c.MR.Pools {
			if haaPools[p.Prefix] != p.Anchor {
				t.Errorf("%s: pool %v anchored at %v, the HAAs say %v", c.Node.Name, p.Prefix, p.Anchor, haaPools[p.Prefix])
			}
		}
	}
}
