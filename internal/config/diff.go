package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
)

// Changes is what differs between two configurations, for a reload. Lists
// keyed by identity (MAGs by address, MNs by MN-ID, pools by prefix, access
// links by interface) are compared item by item; everything else by key.
type Changes struct {
	// Keys are every changed key, in schema order; a list whose items
	// differ is named once (e.g. "lma.pools").
	Keys []string
	// Restart are the changed keys that take effect only after a restart:
	// every key pmipd does not apply to a running role (addresses,
	// interfaces, driver, roles, sockets, the domain-wide ordering scheme,
	// the ipsec section, the LMA's heartbeat and revocation, and the whole
	// mag, mr, haa and lm sections).
	Restart []string
	// Timers are the changed keys of timers and protocol constants
	// (lma.timers, heartbeat, revocation, retransmission, lifetimes, RA).
	Timers []string

	// LMA: MAG authorizations (lma.mags), by address.
	MAGsAdded, MAGsRemoved, MAGsChanged []netip.Addr
	// LMA: mobile node policies (lma.mobile_nodes), by MN-ID.
	MNPoliciesAdded, MNPoliciesRemoved, MNPoliciesChanged []string
	// LMA: pools, by prefix (an assign_length change is in PoolsChanged).
	PoolsAdded, PoolsRemoved, PoolsChanged []netip.Prefix

	// MAG: policy profiles (mag.mobile_nodes), by MN-ID.
	ProfilesAdded, ProfilesRemoved, ProfilesChanged []string
	// MAG: access interfaces (mag.access), by interface name.
	AccessAdded, AccessRemoved, AccessChanged []string

	// Signalling peers of the enabled roles: the LMA's authorized MAGs and
	// the MAG's LMAs (mag.lma_address and the profiles' lma).
	PeersAdded, PeersRemoved []netip.Addr
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool { return len(c.Keys) == 0 }

// NeedsRestart reports whether some change takes effect only after a restart.
func (c Changes) NeedsRestart() bool { return len(c.Restart) > 0 }

// String summarizes the changes, one section per line.
func (c Changes) String() string {
	if c.Empty() {
		return "no changes"
	}
	var b strings.Builder
	line := func(name string, add, del, chg []string) {
		if len(add)+len(del)+len(chg) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s:", name)
		for _, x := range []struct {
			sign string
			l    []string
		}{{"+", add}, {"-", del}, {"~", chg}} {
			for _, s := range x.l {
				fmt.Fprintf(&b, " %s%s", x.sign, s)
			}
		}
		b.WriteByte('\n')
	}
	line("changed", c.Keys, nil, nil)
	line("mags", strs(c.MAGsAdded), strs(c.MAGsRemoved), strs(c.MAGsChanged))
	line("mn policies", c.MNPoliciesAdded, c.MNPoliciesRemoved, c.MNPoliciesChanged)
	line("pools", strs(c.PoolsAdded), strs(c.PoolsRemoved), strs(c.PoolsChanged))
	line("profiles", c.ProfilesAdded, c.ProfilesRemoved, c.ProfilesChanged)
	line("access", c.AccessAdded, c.AccessRemoved, c.AccessChanged)
	line("peers", strs(c.PeersAdded), strs(c.PeersRemoved), nil)
	line("timers", c.Timers, nil, nil)
	line("restart needed for", c.Restart, nil, nil)
	return strings.TrimSuffix(b.String(), "\n")
}

func strs[T fmt.Stringer](l []T) []string {
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = x.String()
	}
	return out
}

// restartKeys are the keys (or key prefixes ending in ".") whose change
// needs a restart: everything but what cmd/pmipd's reload applies live,
// which is node.log_level and the LMA's authorizations, policies, pools
// and timers (lma.Reconfigure). A key that is not live must be here, or a
// reload would accept its change silently (TestDiffEveryKey).
var restartKeys = []string{
	"node.state_dir", "node.name", "transport.", "dataplane.", "roles",
	"lma.address", "lma.ordering", "lma.mobile_node_generated_timestamp",
	"lma.heartbeat.", "lma.revocation.", // the LMA's peer timers start with it
	"mag.",               // the MAG has no live reconfiguration: profiles, access links, LMA, timers
	"mr.", "haa.", "lm.", // nor have the DMM roles
	"management.", "metrics.",
	"ipsec", // the SAD, SPD and backend are set up at start
}

// timerKeys are the keys (or prefixes) of timers and protocol constants.
var timerKeys = []string{
	"lma.timers.", "lma.heartbeat.", "lma.revocation.", "lma.max_lifetime",
	"lma.wait_for_deregistration_on_hi4",
	"mag.heartbeat.", "mag.retransmission.", "mag.lifetime", "mag.reregister_before",
	"mag.router_advertisement.",
}

func matchKey(key string, list []string) bool {
	for _, k := range list {
		if key == k || strings.HasSuffix(k, ".") && strings.HasPrefix(key, k) {
			return true
		}
	}
	return false
}

// Diff lists what changed from old to new.
func Diff(old, new *Config) Changes {
	var c Changes
	diffKeys("", reflect.ValueOf(*old), reflect.ValueOf(*new), &c.Keys)
	// The section of a role enabled in neither config does not matter
	// (its defaults follow transport.address).
	for _, r := range []Role{RoleLMA, RoleMAG, RoleMR, RoleHAA, RoleLM} {
		if !old.Has(r) && !new.Has(r) {
			c.Keys = slices.DeleteFunc(c.Keys, func(k string) bool { return strings.HasPrefix(k, string(r)+".") })
		}
	}
	for _, k := range c.Keys {
		if matchKey(k, restartKeys) {
			c.Restart = append(c.Restart, k)
		}
		if matchKey(k, timerKeys) {
			c.Timers = append(c.Timers, k)
		}
	}

	c.MAGsAdded, c.MAGsRemoved, c.MAGsChanged = diffBy(old.LMA.MAGs, new.LMA.MAGs, func(m MAGAuth) netip.Addr { return m.Address })
	c.MNPoliciesAdded, c.MNPoliciesRemoved, c.MNPoliciesChanged = diffBy(old.LMA.MobileNodes, new.LMA.MobileNodes, func(m MNPolicy) string { return m.MNID })
	c.PoolsAdded, c.PoolsRemoved, c.PoolsChanged = diffBy(old.LMA.Pools, new.LMA.Pools, func(p Pool) netip.Prefix { return p.Prefix })
	c.ProfilesAdded, c.ProfilesRemoved, c.ProfilesChanged = diffBy(old.MAG.MobileNodes, new.MAG.MobileNodes, func(p MNProfile) string { return p.MNID })
	c.AccessAdded, c.AccessRemoved, c.AccessChanged = diffBy(old.MAG.Access, new.MAG.Access, func(a AccessLink) string { return a.Interface })
	c.PeersAdded, c.PeersRemoved, _ = diffBy(old.Peers(), new.Peers(), func(a netip.Addr) netip.Addr { return a })
	return c
}

// Peers are the signalling peers of the enabled roles, sorted: the LMA's
// authorized MAGs and the MAG's LMAs.
func (c *Config) Peers() []netip.Addr {
	var out []netip.Addr
	if c.Has(RoleLMA) {
		for _, m := range c.LMA.MAGs {
			out = append(out, m.Address)
		}
	}
	if c.Has(RoleMAG) {
		out = append(out, c.MAG.LMAAddress)
		for i := range c.MAG.MobileNodes {
			out = append(out, c.MAG.ProfileLMA(&c.MAG.MobileNodes[i]))
		}
	}
	out = slices.DeleteFunc(out, func(a netip.Addr) bool { return !a.IsValid() })
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// diffBy compares two lists of items identified by id: ids only in new,
// only in old, and in both with different items; each in new's (added,
// changed) or old's (removed) order.
func diffBy[T any, K comparable](old, new []T, id func(T) K) (added, removed, changed []K) {
	om := make(map[K]T, len(old))
	for _, x := range old {
		om[id(x)] = x
	}
	nm := make(map[K]bool, len(new))
	for _, x := range new {
		k := id(x)
		nm[k] = true
		if o, ok := om[k]; !ok {
			added = append(added, k)
		} else if !sameItem(o, x) {
			changed = append(changed, k)
		}
	}
	for _, x := range old {
		if k := id(x); !nm[k] {
			removed = append(removed, k)
		}
	}
	return added, removed, changed
}

func sameItem[T any](a, b T) bool {
	var keys []string
	diffKeys("", reflect.ValueOf(a), reflect.ValueOf(b), &keys)
	return len(keys) == 0
}

// diffKeys appends the dotted keys where a and b differ: struct fields are
// recursed into, lists and leaves compared whole.
func diffKeys(path string, a, b reflect.Value, out *[]string) {
	t := a.Type()
	if t.Kind() == reflect.Struct && !leafTypes[t] {
		for i := range t.NumField() {
			diffKeys(join(path, t.Field(i).Tag.Get("mapstructure")), a.Field(i), b.Field(i), out)
		}
		return
	}
	if !equalValue(a, b) {
		*out = append(*out, path)
	}
}

// equalValue is DeepEqual, except that a nil and an empty list are equal
// (at any depth).
func equalValue(a, b reflect.Value) bool {
	t := a.Type()
	switch {
	case t.Kind() == reflect.Slice && !leafTypes[t]:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case t.Kind() == reflect.Struct && !leafTypes[t]:
		for i := range t.NumField() {
			if !equalValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case t == reflect.TypeFor[MNIDSet]():
		x, y := a.Interface().(MNIDSet), b.Interface().(MNIDSet)
		return x.Any == y.Any && slices.Equal(x.IDs, y.IDs)
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
