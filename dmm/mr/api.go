package mr

import (
	"context"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
)

// MNPrefix is a prefix of a node attached here.
type MNPrefix struct {
	Prefix     netip.Prefix
	AnchorMR   netip.Addr
	Deprecated bool
}

// MN is a snapshot of a node attached to (or attaching at) this MR.
type MN struct {
	MN         string
	Attached   bool
	MAG        netip.Addr // deployment A
	Link       string     // deployment B
	LinkLocal  netip.Addr
	Prefixes   []MNPrefix
	Moved      bool
	PreviousMR netip.Addr
	Expires    time.Time
}

// CachedLocation is an entry of the location cache.
type CachedLocation struct {
	Location
	Source  string // query, redirect, handover, fallback
	Expires time.Time
}

// Departed is a node that left this MR and whose traffic it still holds
// or forwards (the previous MR's temporary context of Figure 5).
type Departed struct {
	MN         string
	Prefixes   []netip.Prefix
	NewMR      netip.Addr
	Holding    bool
	Forwarding []netip.Prefix
}

// MNs lists the nodes attached here, by MN-ID.
func (m *MR) MNs(ctx context.Context) ([]MN, error) {
	var out []MN
	err := m.call(ctx, func() {
		for _, b := range m.mns {
			x := MN{MN: b.key, Attached: b.state == bAttached, MAG: b.mag, Link: b.link, LinkLocal: b.ll,
				Moved: b.moved, PreviousMR: b.pmr, Expires: b.expires}
			for _, p := range b.prefixes {
				x.Prefixes = append(x.Prefixes, MNPrefix{Prefix: p.p, AnchorMR: p.anchor, Deprecated: p.deprecated})
			}
			out = append(out, x)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].MN < out[j].MN })
	return out, err
}

// Prefixes maps each prefix of the nodes attached here to its MN-ID.
func (m *MR) Prefixes(ctx context.Context) (map[netip.Prefix]string, error) {
	out := map[netip.Prefix]string{}
	err := m.call(ctx, func() {
		for p, b := range m.byPrefix {
			out[p] = b.key
		}
	})
	return out, err
}

// Locations lists the location cache, by prefix.
func (m *MR) Locations(ctx context.Context) ([]CachedLocation, error) {
	var out []CachedLocation
	now := time.Time{}
	err := m.call(ctx, func() {
		now = m.d.Clock.Now()
		for _, c := range m.cache {
			l := c.loc
			l.Lifetime = max(c.expires.Sub(now), 0)
			out = append(out, CachedLocation{Location: l, Source: c.source, Expires: c.expires})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix.Addr().Less(out[j].Prefix.Addr()) })
	return out, err
}

// Correspondents lists, per prefix, the MRs this MR would redirect when
// the node moves on.
func (m *MR) Correspondents(ctx context.Context) (map[netip.Prefix][]netip.Addr, error) {
	out := map[netip.Prefix][]netip.Addr{}
	err := m.call(ctx, func() {
		for p, s := range m.corr {
			out[p] = sortedAddrs(s)
		}
	})
	return out, err
}

// Departures lists the temporary contexts of nodes that left.
func (m *MR) Departures(ctx context.Context) ([]Departed, error) {
	var out []Departed
	err := m.call(ctx, func() {
		for _, d := range m.departed {
			x := Departed{MN: d.key, NewMR: d.nmr, Holding: d.holding, Forwarding: slices.Clone(d.fwd)}
			for _, p := range d.prefixes {
				x.Prefixes = append(x.Prefixes, p.p)
			}
			out = append(out, x)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].MN < out[j].MN })
	return out, err
}

// Held lists the prefixes held in the punt path by this MR.
func (m *MR) Held(ctx context.Context) ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := m.call(ctx, func() {
		for p := range m.held {
			out = append(out, p)
		}
	})
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out, err
}

// Counters returns a copy of the counters.
func (m *MR) Counters(ctx context.Context) (Counters, error) {
	var c Counters
	err := m.call(ctx, func() { c = m.counters.clone() })
	return c, err
}

// Entries returns the data plane entries the MR wants installed (for
// dataplane.Reconcile after a restart). Before Run (from the goroutine
// that starts it) it returns those of the nodes restored from the Store.
func (m *MR) Entries(ctx context.Context) ([]dataplane.Entry, error) {
	var out []dataplane.Entry
	collect := func() {
		for _, e := range m.down {
			out = append(out, e)
		}
		for _, e := range m.up {
			out = append(out, e)
		}
	}
	var err error
	select {
	case <-m.started:
		err = m.call(ctx, collect)
	case <-m.done:
		err = ErrStopped
	default:
		collect() // not running yet: nothing else touches the state
	}
	dataplane.SortEntries(out)
	return out, err
}

// Observe reports tunnelled traffic from another MR for dst (the
// operation behind Deps.Ingress, also callable directly).
func (m *MR) Observe(ctx context.Context, remote, dst netip.Addr) error {
	return m.call(ctx, func() { m.handleIngress(Ingress{Remote: remote, Dst: dst}) })
}

// AccessEvent processes an access event on the loop (what an Access
// source calls; tests may call it directly).
func (m *MR) AccessEvent(ctx context.Context, ev AccessEvent) error {
	return m.call(ctx, func() { m.handleAccess(ev) })
}

func sortedAddrs(s map[netip.Addr]bool) []netip.Addr {
	out := make([]netip.Addr, 0, len(s))
	for a := range s {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}
