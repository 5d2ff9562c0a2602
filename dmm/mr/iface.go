package mr

import (
	"net"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Location and Holding are the dmm/wire types: the MR talks to the LM
// and the HAA through wire.LocationService and wire.AddressAllocator
// (network clients, or in-process adapters over lm.LM and haa.HAA).
type (
	Location = wire.Location
	Holding  = wire.Holding
)

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

// HeldSource reports a source prefix of the packets held under Prefix
// (internal/punt Sources): a correspondent that sends to a node whose
// location is in flux. The previous MR of a handover turns each into the
// correspondent's MR to redirect (draft Figure 5 step 7).
type HeldSource struct {
	Prefix    netip.Prefix // the held prefix
	Src       netip.Addr   // the first such packet's source
	SrcPrefix netip.Prefix // its source prefix (reported once per held prefix)
	Dst       netip.Addr
	At        time.Time
}

// SourceReporter is implemented by a Punt that reports the sources of the
// packets it holds (PuntAdapter does). The MR uses it when Deps.Punt
// implements it.
type SourceReporter interface {
	Sources() <-chan HeldSource
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
	// RouterLifetime and MTU of the RA (0: the access side's defaults).
	RouterLifetime time.Duration
	MTU            uint32
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
// arriving from another MR (outer source Remote) for Dst: another way
// (besides the held packets' sources of a SourceReporter punt) an MR
// learns the correspondents' MRs that it must redirect at handover.
//
// A plain (not tunnelled) packet forwarded by this MR is reported with
// Remote unset and its source in Src: in Figure 4 mode the anchor of a
// node that is away redirects the MR of that source (draft §4.3 "how the
// MR12 can determine MR31").
type Ingress struct {
	Remote netip.Addr
	Dst    netip.Addr
	Src    netip.Addr
}
