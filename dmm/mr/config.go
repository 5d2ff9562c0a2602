package mr

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
)

// RoutingMode selects the distributed routing variant of draft §4.3.
type RoutingMode uint8

const (
	// RoutingQuery is Figure 3: the correspondent's MR watches the
	// domain's home address space, queries the LM on the first packets,
	// caches the location and tunnels straight to the current MR.
	RoutingQuery RoutingMode = iota + 1
	// RoutingRedirect is Figure 4: the correspondent's MR forwards by
	// regular routing to the anchor MR, which queries the LM, forwards,
	// and redirects the correspondent's MR.
	RoutingRedirect
)

func (m RoutingMode) String() string {
	switch m {
	case RoutingQuery:
		return "query"
	case RoutingRedirect:
		return "redirect"
	}
	return fmt.Sprintf("routing-mode(%d)", uint8(m))
}

// Pool is an MR prefix pool of the domain and the MR it is anchored at
// (the same table as the HAA's pools).
type Pool struct {
	Prefix   netip.Prefix
	AnchorMR netip.Addr
}

// Deployment is the draft §5 deployment of the MR's access side.
type Deployment uint8

const (
	// DeployLMA (deployment A): unmodified RFC 5213 MAGs sit between the
	// MNs and the MR, which implements the LMA part (PBU/PBA).
	DeployLMA Deployment = iota + 1
	// DeployAccess (deployment B): the MR is the access router (LMA part
	// and MAG part: Access events and RAs).
	DeployAccess
)

// Defaults.
const (
	DefaultLifetime           = time.Hour
	DefaultHoldTimeout        = 3 * time.Second
	DefaultForwardingLifetime = 10 * time.Second
	DefaultNegativeLifetime   = 5 * time.Second
	DefaultInitialTimeout     = time.Second // RFC 5213 §6.9.4 INITIAL_BINDACK_TIMEOUT
	DefaultMaxRetries         = 3
	DefaultCallTimeout        = 5 * time.Second
	DefaultMTU                = 1460
)

// Config configures a Mobility Router.
type Config struct {
	// Address is the MR's address: signalling source and tunnel endpoint.
	Address netip.Addr
	// CoreDev is the interface of Address (data plane Setup; the iif of
	// decapsulated uplink from legacy MAGs in deployment A).
	CoreDev string
	// Deployment: DeployLMA or DeployAccess (default DeployAccess).
	Deployment Deployment
	// Pools lists every MR pool of the domain with its anchor. Those
	// anchored at Address are this MR's own (it anchors them); in
	// RoutingQuery mode the MR watches all of them, in RoutingRedirect
	// mode only its own. A correspondent's MR also uses the table as the
	// fallback (regular routing to the anchor) when the LM knows nothing.
	Pools []Pool
	// Routing selects Figure 3 or Figure 4 (default RoutingQuery).
	Routing RoutingMode
	// UpdateLMOnAttach: update the LM at the initial attachment (draft
	// §4.1 "depends on the local policy"). After a move the LM is always
	// updated (§4.2).
	UpdateLMOnAttach bool
	// NewPrefixOnMove: after a move, also assign a prefix anchored here,
	// advertised beside the old ones, which are deprecated (§4.2).
	NewPrefixOnMove bool
	// RedirectCorrespondents: as an anchor forwarding traffic for a node
	// that is away, send a Redirect to the correspondent's MR (Figure 4
	// step 8). Default on; set NoRedirect to disable.
	NoRedirect bool
	// RedirectAck asks for Redirect Acks (A flag) and retransmits.
	RedirectAck bool
	// ContextTransfer: at a move, do the RFC 5949 HI/HAck exchange with
	// the previous MR (Figure 5 step 2). Default on; NoContextTransfer
	// disables.
	NoContextTransfer bool
	// ForwardingLifetime is how long a previous MR tunnels the node's
	// traffic to the new MR (Figure 5 steps 4-6; 0: default, negative:
	// no forwarding). ForwardingDrain, when > 0, ends forwarding that
	// long after every Redirect was acknowledged, if sooner.
	ForwardingLifetime time.Duration
	ForwardingDrain    time.Duration
	// HoldTimeout bounds how long packets of a node that left are held
	// waiting for its new MR (then dropped).
	HoldTimeout time.Duration
	// NegativeLifetime is how long a correspondent's MR routes a prefix
	// the LM does not know to its anchor before asking again.
	NegativeLifetime time.Duration
	// Lifetime is the binding/location lifetime this MR grants and
	// registers (default 1 h; PBA lifetimes are capped at it).
	Lifetime time.Duration
	// InitialTimeout and MaxRetries: retransmission of HI and Redirect
	// (RFC 5213 §6.9.4 style doubling).
	InitialTimeout time.Duration
	MaxRetries     int
	// CallTimeout bounds each LM/HAA call.
	CallTimeout time.Duration
	// Served are prefixes of fixed nodes behind this MR (draft §6, an MR
	// at the correspondent's access router): registered in the LM as
	// located here, so that an anchor finds this MR for a Redirect.
	Served []netip.Prefix
	// MAGs, when not nil, are the legacy MAGs allowed to register
	// (deployment A); others get PBA status 154.
	MAGs []netip.Addr
	// MAGLinkLocal is returned in the PBA Link-local Address option
	// (default the RFC 6543 fixed address).
	MAGLinkLocal netip.Addr
	// MTU and RouterLifetime of the RAs (deployment B).
	MTU            uint32
	RouterLifetime time.Duration
	// Store, optional, persists the attached nodes and the RFC 5847
	// Restart Counter so that a restarted MR resumes them (see Store).
	Store Store
}

// Deps are the MR's injected parts.
type Deps struct {
	Transport transport.Transport
	DataPlane dataplane.Driver
	Punt      Punt
	LM        wire.LocationService
	HAA       wire.AddressAllocator
	// Deliver, when set, is offered every received Binding Acknowledgement
	// and Location Reply first: the wire.Requester of the LM/HAA clients
	// when they share the MR's transport (RequesterConfig.ExternalReceive).
	// It reports whether it consumed the packet.
	Deliver func(transport.Packet) bool
	// Access is the MAG part (deployment B); nil in deployment A.
	Access Access
	// Ingress, optional: tunnelled traffic seen from other MRs.
	Ingress <-chan Ingress
	// OnHandover, optional, is called on the MR's loop each time a node
	// that moved in from another MR is registered here, with the time
	// from the start of its attachment here (the node detected, or the
	// legacy MAG's PBU) to its registration (routes in, accepted). It
	// must not block.
	OnHandover func(d time.Duration)
	Clock      clock.Clock
	Log        *logrus.Entry
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Deployment == 0 {
		c.Deployment = DeployAccess
	}
	if c.Routing == 0 {
		c.Routing = RoutingQuery
	}
	def(&c.ForwardingLifetime, DefaultForwardingLifetime)
	def(&c.HoldTimeout, DefaultHoldTimeout)
	def(&c.NegativeLifetime, DefaultNegativeLifetime)
	def(&c.Lifetime, DefaultLifetime)
	def(&c.InitialTimeout, DefaultInitialTimeout)
	def(&c.CallTimeout, DefaultCallTimeout)
	def(&c.RouterLifetime, 1800*time.Second)
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if !c.MAGLinkLocal.IsValid() {
		c.MAGLinkLocal = FixedLinkLocal
	}
}

// FixedLinkLocal is the RFC 6543 link-local address of the access side.
var FixedLinkLocal = netip.MustParseAddr("fe80::200:5eff:fe00:5213")

func (c *Config) validate(d *Deps) error {
	var errs []error
	if !c.Address.Is6() || c.Address.Is4In6() || c.Address.IsUnspecified() {
		errs = append(errs, fmt.Errorf("mr: Address %v: an IPv6 unicast address is required", c.Address))
	}
	if c.Deployment != DeployLMA && c.Deployment != DeployAccess {
		errs = append(errs, fmt.Errorf("mr: Deployment %d: unknown", c.Deployment))
	}
	if c.Routing != RoutingQuery && c.Routing != RoutingRedirect {
		errs = append(errs, fmt.Errorf("mr: Routing %d: unknown", c.Routing))
	}
	own := 0
	for i, p := range c.Pools {
		if !p.Prefix.IsValid() || !p.Prefix.Addr().Is6() || p.Prefix != p.Prefix.Masked() {
			errs = append(errs, fmt.Errorf("mr: Pools[%d].Prefix %v: a masked IPv6 prefix is required", i, p.Prefix))
		}
		if !p.AnchorMR.Is6() {
			errs = append(errs, fmt.Errorf("mr: Pools[%d].AnchorMR %v: an IPv6 address is required", i, p.AnchorMR))
		}
		for j := range i {
			if c.Pools[j].Prefix.Overlaps(p.Prefix) {
				errs = append(errs, fmt.Errorf("mr: Pools[%d] %v overlaps Pools[%d] %v", i, p.Prefix, j, c.Pools[j].Prefix))
			}
		}
		if p.AnchorMR == c.Address {
			own++
		}
	}
	if own == 0 {
		errs = append(errs, fmt.Errorf("mr: Pools: none is anchored at this MR (%v)", c.Address))
	}
	if d.Transport == nil || d.DataPlane == nil || d.Punt == nil || d.LM == nil || d.HAA == nil {
		errs = append(errs, errors.New("mr: Transport, DataPlane, Punt, LM and HAA are required"))
	} else if a := d.Transport.LocalAddr(); a != c.Address {
		errs = append(errs, fmt.Errorf("mr: transport address %v is not the MR address %v", a, c.Address))
	}
	if c.Deployment == DeployAccess && d.Access == nil {
		errs = append(errs, errors.New("mr: deployment B (access) needs Deps.Access"))
	}
	if c.Lifetime < 4*time.Second || c.Lifetime > 0xffff*4*time.Second {
		errs = append(errs, fmt.Errorf("mr: Lifetime %v: must be 4 s to 262140 s", c.Lifetime))
	}
	if c.ForwardingLifetime > 0xffff*time.Second {
		errs = append(errs, fmt.Errorf("mr: ForwardingLifetime %v: at most 65535 s", c.ForwardingLifetime))
	}
	return errors.Join(errs...)
}
