// Package dataplane installs the forwarding state of the PMIPv6 and DMM
// roles: IPv6-in-IPv6 tunnels (RFC 2473) between MAGs/MRs and LMAs/MRs,
// prefix routes into them, and the MAG's uplink source routing.
//
// The roles compute the entries they want; a Driver applies them. Three
// drivers exist: the seg6 driver (lightweight-tunnel encapsulation, works on
// kernels without ip6_tunnel), the ip6tnl driver (classic tunnel devices,
// selected by probing on kernels that have the module) and the fake driver
// (records intents, for tests and for running without root).
//
// Everything a kernel driver installs is tagged with the route protocol
// Proto, rule priorities in [RulePrefMin, RulePrefMax] and tables in
// [TableMin, TableMax], so that a restarted daemon can list what it left in
// the kernel, reconcile it with its persisted state (Reconcile) and remove
// all of it at stop (Flush).
package dataplane

import (
	"fmt"
	"net/netip"
	"sort"
)

// Kernel tags of what this project installs.
const (
	Proto       = 0xb4 // rtm_protocol of every route installed (180, unassigned in rt_protos)
	RulePrefMin = 10   // policy rules installed are in this priority range
	RulePrefMax = 99
	LocalPref   = 100 // the kernel's "lookup local" rule is moved here (from 0)
	TableMin    = 1800
	TableMax    = 1899
	DecapTable  = 1800 // seg6local decapsulation routes
	UplinkTable = 1801 // first uplink table; one per remote tunnel endpoint
)

// Kind is the kind of a forwarding entry.
type Kind uint8

const (
	// KindDecap: terminate tunnels addressed to Local (set up once per
	// node by Setup; listed for completeness).
	KindDecap Kind = iota + 1
	// KindPrefixRoute: packets to Prefix go into the tunnel to Remote
	// (LMA/MR downlink: a mobile node's prefix towards its MAG).
	KindPrefixRoute
	// KindSourceRoute: packets from Prefix arriving on Dev go into the
	// tunnel to Remote (MAG uplink, RFC 5213 §6.10.2 reverse tunnelling).
	KindSourceRoute
	// KindAccessRoute: Prefix is on the access link Dev (MAG: where the
	// decapsulated downlink goes).
	KindAccessRoute
)

func (k Kind) String() string {
	switch k {
	case KindDecap:
		return "decap"
	case KindPrefixRoute:
		return "prefix-route"
	case KindSourceRoute:
		return "source-route"
	case KindAccessRoute:
		return "access-route"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Entry is one piece of forwarding state.
type Entry struct {
	Kind   Kind
	Prefix netip.Prefix
	Remote netip.Addr // tunnel endpoint (prefix and source routes)
	Dev    string     // access interface (source and access routes)
}

func (e Entry) String() string {
	s := e.Kind.String() + " " + e.Prefix.String()
	if e.Remote.IsValid() {
		s += " tunnel " + e.Remote.String()
	}
	if e.Dev != "" {
		s += " dev " + e.Dev
	}
	return s
}

// Key identifies an entry: at most one entry per key is installed.
func (e Entry) Key() string {
	return fmt.Sprintf("%d|%s|%s", e.Kind, e.Prefix, e.Dev)
}

// Validate checks that the entry has what its kind needs.
func (e Entry) Validate() error {
	if !e.Prefix.IsValid() || !e.Prefix.Addr().Is6() {
		return fmt.Errorf("dataplane: %s: IPv6 prefix required", e)
	}
	switch e.Kind {
	case KindPrefixRoute:
		if !e.Remote.Is6() {
			return fmt.Errorf("dataplane: %s: IPv6 tunnel endpoint required", e)
		}
	case KindSourceRoute:
		if !e.Remote.Is6() || e.Dev == "" {
			return fmt.Errorf("dataplane: %s: tunnel endpoint and access device required", e)
		}
	case KindAccessRoute:
		if e.Dev == "" {
			return fmt.Errorf("dataplane: %s: access device required", e)
		}
	case KindDecap:
	default:
		return fmt.Errorf("dataplane: unknown entry kind %d", e.Kind)
	}
	return nil
}

// Config is what a node's data plane needs to know about itself.
type Config struct {
	// Local is this node's tunnel endpoint (LMAA, Proxy-CoA, MR address).
	Local netip.Addr
	// Dev is the interface the tunnel endpoint address is on.
	Dev string
}

// Driver installs forwarding entries in a data plane.
type Driver interface {
	// Name is "seg6", "ip6tnl" or "fake".
	Name() string
	// Setup prepares the node to terminate tunnels addressed to
	// cfg.Local. It is idempotent.
	Setup(cfg Config) error
	// Add installs e, replacing an entry with the same Key.
	Add(e Entry) error
	// Del removes the entry with e's Key; removing what is absent is not an error.
	Del(e Entry) error
	// List returns the entries installed, read back from the data plane
	// (for the kernel drivers: from the kernel, by their tags), sorted.
	List() ([]Entry, error)
	// Flush removes everything the driver installed, Setup included.
	Flush() error
}

// Reconcile makes the driver's entries equal to want: it removes what is
// installed but not wanted (or wanted differently) and adds what is
// missing. It returns how many entries it added and removed.
func Reconcile(d Driver, want []Entry) (added, removed int, err error) {
	have, err := d.List()
	if err != nil {
		return 0, 0, err
	}
	wantBy := make(map[string]Entry, len(want))
	for _, e := range want {
		if e.Kind == KindDecap {
			continue
		}
		if err := e.Validate(); err != nil {
			return 0, 0, err
		}
		wantBy[e.Key()] = e
	}
	haveBy := make(map[string]Entry, len(have))
	for _, e := range have {
		if e.Kind == KindDecap {
			continue
		}
		haveBy[e.Key()] = e
		if w, ok := wantBy[e.Key()]; !ok || w != e {
			if err := d.Del(e); err != nil {
				return added, removed, err
			}
			removed++
		}
	}
	for k, e := range wantBy {
		if h, ok := haveBy[k]; ok && h == e {
			continue
		}
		if err := d.Add(e); err != nil {
			return added, removed, err
		}
		added++
	}
	return added, removed, nil
}

// SortEntries sorts entries by kind, prefix and device.
func SortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c < 0
		}
		if a.Prefix.Bits() != b.Prefix.Bits() {
			return a.Prefix.Bits() < b.Prefix.Bits()
		}
		return a.Dev < b.Dev
	})
}
