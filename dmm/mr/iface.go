package mr

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Location is the routing location of one prefix of a mobile node (the
// content of a Routing Location option, docs/wire-format.md §4.2).
type Location struct {
	Prefix    netip.Prefix
	AnchorMR  netip.Addr
	CurrentMR netip.Addr
	Lifetime  time.Duration
}

// LocationQuery is a key of a location query: exactly one of Addr
// (home address), Prefix or MNID is set.
type LocationQuery struct {
	Addr   netip.Addr
	Prefix netip.Prefix
	MNID   string
}

// LocationService is the MR's view of the LM (draft §3.3 b): a network
// client (Location Query/Reply, PBU with Serving MAAR) or an in-process
// adapter over lm.LM. Calls block; the MR makes them off its loop.
type LocationService interface {
	// Query returns the locations matching q; none (nil, nil) when the
	// LM knows nothing.
	Query(ctx context.Context, q LocationQuery) ([]Location, error)
	// Update records that prefixes (all anchored at anchor) of mnID are
	// at currentMR for lifetime (0 withdraws).
	Update(ctx context.Context, mnID string, prefixes []netip.Prefix, currentMR, anchor netip.Addr, lifetime time.Duration) error
}

// Holding is a prefix a mobile node holds, with its anchor MR.
type Holding struct {
	Prefix   netip.Prefix
	AnchorMR netip.Addr
	Lifetime time.Duration
}

// AddressAllocator is the MR's view of the HAA of its local network
// (draft §3.3 a): a network client (PBU/PBA) or an in-process adapter
// over haa.HAA. Allocate hands out prefixes anchored at the calling MR.
type AddressAllocator interface {
	Allocate(ctx context.Context, mnID string) ([]Holding, error)
	Holdings(ctx context.Context, mnID string) ([]Holding, error)
	Release(ctx context.Context, mnID string, prefix netip.Prefix) error
}

// Miss is a packet to an address of a watched space for which the data
// plane has no route (reported once per held prefix by the punt path).
type Miss struct {
	Dst, Src netip.Addr
	Prefix   netip.Prefix // the held prefix (the /64 of Dst)
	At       time.Time
}

// Punt is the TUN punt path (internal/punt): packets whose location is
// unknown or in flux are held there, not dropped.
type Punt interface {
	// Hold routes prefix into the punt device (beating the data plane's
	// routes): its packets are buffered.
	Hold(prefix netip.Prefix) error
	// Release removes the hold and re-injects the held packets, which the
	// kernel routes with the routes installed meanwhile.
	Release(prefix netip.Prefix) (int, error)
	// Drop removes the hold and discards the held packets.
	Drop(prefix netip.Prefix) (int, error)
	// Watch installs a covering route for space: packets to a prefix with
	// no more specific route are held and reported once as a Miss.
	Watch(space netip.Prefix) error
	Misses() <-chan Miss
}

// AccessKind is the kind of an AccessEvent.
type AccessKind uint8

const (
	// Attached: a mobile node is on an access link of this MR.
	Attached AccessKind = iota + 1
	// Detached: it left the link.
	Detached
	// Solicited: it sent a Router Solicitation (answered with an RA).
	Solicited
)

func (k AccessKind) String() string {
	switch k {
	case Attached:
		return "attached"
	case Detached:
		return "detached"
	case Solicited:
		return "solicited"
	}
	return "access-event"
}

// AccessEvent is what the MAG part of an MR at the access (draft §5,
// deployment B) learns on its access links.
type AccessEvent struct {
	Kind    AccessKind
	MNID    string // MN-ID (an NAI, or lma.MNKey form)
	Link    string // access interface name
	IfIndex int
	MAC     net.HardwareAddr
	// LinkLocal is the MN's link-local address when known.
	LinkLocal netip.Addr
	ATT       mh.ATT
	// Moved: the link arrived while running (the MN came from another
	// MR): a handoff (HI 3) rather than a new attachment (HI 1).
	Moved bool
}

// AdvPrefix is one prefix of a Router Advertisement.
type AdvPrefix struct {
	Prefix netip.Prefix
	// Preferred 0 deprecates the prefix (draft §4.2: old sessions keep
	// it, new ones use the new prefix).
	Preferred, Valid time.Duration
}

// Advert is a Router Advertisement to one mobile node.
type Advert struct {
	Link      string
	IfIndex   int
	Dst       netip.Addr // the MN's link-local address, or unspecified (all-nodes)
	Prefixes  []AdvPrefix
	Withdrawn bool // every prefix with lifetime 0 (the MN leaves)
}

// Access is the MAG part of an MR at the access (deployment B): attach
// detection and Router Advertisements. LinkAccess implements it over the
// mag link sources and internal/ndp; tests use a fake.
type Access interface {
	// Start delivers events to handle until Close.
	Start(handle func(AccessEvent)) error
	Advertise(a Advert) error
	Close() error
}

// Ingress is the optional data-plane report of tunnelled traffic
// arriving from another MR (outer source Remote) for Dst: how an MR
// learns the correspondents' MRs that it must redirect at handover.
type Ingress struct {
	Remote netip.Addr
	Dst    netip.Addr
}
