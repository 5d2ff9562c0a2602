package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// liveKeys are the keys cmd/pmipd applies on a reload without a restart:
// the log level, and what lma.Reconfigure takes.
var liveKeys = []string{
	"node.log_level",
	"lma.pools", "lma.mags", "lma.mobile_nodes",
	"lma.timers.min_delay_before_bce_delete", "lma.timers.max_delay_before_new_bce_assign",
	"lma.timers.timestamp_validity_window",
	"lma.wait_for_deregistration_on_hi4", "lma.max_lifetime",
}

// diffSchemaKeys lists the keys Diff can report, as diffKeys walks them.
func diffSchemaKeys(path string, t reflect.Type, out *[]string) {
	if t.Kind() == reflect.Struct && !leafTypes[t] {
		for i := range t.NumField() {
			diffSchemaKeys(join(path, t.Field(i).Tag.Get("mapstructure")), t.Field(i).Type, out)
		}
		return
	}
	*out = append(*out, path)
}

// Every key of the schema is either applied live (liveKeys) or needs a
// restart: a key added to the schema without a decision fails here.
func TestDiffEveryKey(t *testing.T) {
	var keys []string
	diffSchemaKeys("", reflect.TypeFor[Config](), &keys)
	if len(keys) < 90 {
		t.Fatalf("only %d keys found: %q", len(keys), keys)
	}
	for _, k := range liveKeys {
		if !slices.Contains(keys, k) {
			t.Errorf("live key %q is not in the schema", k)
		}
	}
	for _, k := range keys {
		live := slices.Contains(liveKeys, k)
		if restart := matchKey(k, restartKeys); restart == live {
			t.Errorf("%s: restart %v, live %v", k, restart, live)
		}
	}
	// Each DMM section and the MAG's LMA address, by name.
	for _, k := range []string{"mag.lma_address", "mr.pools", "mr.redirect", "mr.punt.max_packets", "mr.retransmission.initial",
		"haa.pools", "haa.store.backend", "haa.default_lifetime", "lm.store.endpoints", "lm.cache", "lm.prefix_lengths"} {
		if !slices.Contains(keys, k) || !matchKey(k, restartKeys) {
			t.Errorf("%s: not a restart key", k)
		}
	}
}

// A reload that changes keys of the mr, haa, lm and mag sections reports
// each of them as needing a restart; those of a role enabled in neither
// configuration are not reported at all.
func TestDiffSections(t *testing.T) {
	const mag = minimalMAG
	for _, tc := range []struct {
		name      string
		base      string
		edit      []string // old, new pairs
		keys      []string // Keys = Restart
		timers    []string
		peersPlus []string
	}{
		{"mr routing and pools", minimalMR, []string{
			`  pools: [{prefix: "2001:db8:11::/48", anchor: "2001:db8:ff::2"}]`,
			`  pools: [{prefix: "2001:db8:11::/48", anchor: "2001:db8:ff::2"}, {prefix: "2001:db8:12::/48", anchor: "2001:db8:ff::3"}]
  routing: redirect`,
		}, []string{"mr.routing", "mr.pools"}, nil, nil},
		{"mr lm, haa, timers, punt", minimalMR, []string{
			`  lm: "2001:db8:ff::a"`, `  lm: "2001:db8:ff::c"
  hold_timeout: 1s
  retransmission: {initial: 2s}
  punt: {max_packets: 10}
  redirect: false`,
			`  haa: "2001:db8:ff::b"`, `  haa: "2001:db8:ff::d"`,
		}, []string{"mr.lm", "mr.haa", "mr.redirect", "mr.hold_timeout", "mr.retransmission.initial", "mr.punt.max_packets"}, nil, nil},
		{"mr access side", minimalMR, []string{
			`  access: [acc]`, `  access: [acc, acc2]
  mobile_nodes: [{mn_id: mn1, interface: acc2}]
  router_advertisement: {mtu: 1400}`,
		}, []string{"mr.access", "mr.mobile_nodes", "mr.router_advertisement.mtu"}, nil, nil},
		{"haa pools and store", minimalLMHAA, []string{
			`  pools: [{prefix: "2001:db8:11::/48", mr: "2001:db8:ff::2"}]`,
			`  pools: [{prefix: "2001:db8:11::/48", mr: "2001:db8:ff::2"}, {prefix: "2001:db8:12::/48", mr: "2001:db8:ff::3", assign_length: 60}]
  store: {backend: memory}
  max_lifetime: 2h`,
		}, []string{"haa.store.backend", "haa.store.path", "haa.pools", "haa.max_lifetime"}, nil, nil},
		{"lm store, cache, lengths", minimalLMHAA + "lm: {prefix_lengths: [64]}\n", []string{
			"lm: {prefix_lengths: [64]}", `lm:
  address: "2001:db8:ff::c"
  prefix_lengths: [64, 128]
  cache: true
  store: {backend: etcd, endpoints: ["http://[2001:db8:ff::e]:2379"]}`,
		}, []string{"lm.address", "lm.store.backend", "lm.store.path", "lm.store.endpoints", "lm.prefix_lengths", "lm.cache"}, nil, nil},
		{"mag lma_address", mag, []string{`  lma_address: "2001:db8:ff::2"`, `  lma_address: "2001:db8:ff::3"`},
			// The profiles' lma defaults to it.
			[]string{"mag.lma_address", "mag.mobile_nodes"}, nil, []string{"2001:db8:ff::3"}},
		{"mag lifetime", mag, []string{"  access: [{interface: acc}]", "  access: [{interface: acc}]\n  lifetime: 60s"},
			[]string{"mag.lifetime"}, []string{"mag.lifetime"}, nil},
		// The transport address moves the defaults of the mr, haa and lm
		// addresses, but the LMA runs none of those roles.
		{"sections of roles not run", minimalLMA, []string{`transport: {address: "2001:db8:ff::2"}`, `transport: {address: "2001:db8:ff::3"}`},
			[]string{"transport.address", "lma.address"}, nil, nil},
		{"mr section of an LM/HAA node", minimalLMHAA, []string{"roles: [lm, haa]", "roles: [lm, haa]\nmr: {routing: redirect}"},
			nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.base
			for i := 0; i+1 < len(tc.edit); i += 2 {
				if !strings.Contains(s, tc.edit[i]) {
					t.Fatalf("%q not in the base", tc.edit[i])
				}
				s = strings.Replace(s, tc.edit[i], tc.edit[i+1], 1)
			}
			ch := Diff(mustParse(t, tc.base), mustParse(t, s))
			if !slices.Equal(ch.Keys, tc.keys) || !slices.Equal(ch.Restart, tc.keys) {
				t.Errorf("Keys %q, Restart %q, want both %q", ch.Keys, ch.Restart, tc.keys)
			}
			if ch.NeedsRestart() != (len(tc.keys) > 0) {
				t.Errorf("NeedsRestart %v", ch.NeedsRestart())
			}
			if !slices.Equal(ch.Timers, tc.timers) {
				t.Errorf("Timers %q, want %q", ch.Timers, tc.timers)
			}
			if got := strs(ch.PeersAdded); !slices.Equal(got, tc.peersPlus) && len(got)+len(tc.peersPlus) > 0 {
				t.Errorf("PeersAdded %q, want %q", got, tc.peersPlus)
			}
			if len(tc.keys) > 0 && !strings.Contains(ch.String(), "restart needed for: +"+strings.Join(tc.keys, " +")) {
				t.Errorf("String lacks the restart line:\n%s", ch)
			}
		})
	}
}
