package config

import (
	"net"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/ipsec"
	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/sirupsen/logrus"
)

// Config is the whole configuration of one pmipd node. The mapstructure tag
// of each field is its YAML key.
type Config struct {
	Node       Node       `mapstructure:"node"`
	Transport  Transport  `mapstructure:"transport"`
	Dataplane  Dataplane  `mapstructure:"dataplane"`
	Roles      []Role     `mapstructure:"roles"`
	LMA        LMA        `mapstructure:"lma"`
	MAG        MAG        `mapstructure:"mag"`
	MR         MR         `mapstructure:"mr"`
	HAA        HAA        `mapstructure:"haa"`
	LM         LM         `mapstructure:"lm"`
	Management Management `mapstructure:"management"`
	Metrics    Metrics    `mapstructure:"metrics"`
	// IPsec protects the signalling with ESP (RFC 5213 §4): SPD, SAD and
	// key files, and who does ESP (package ipsec). Optional: nil when the
	// section is absent (signalling in the clear).
	IPsec *ipsec.Settings `mapstructure:"ipsec"`
}

// Node identifies the daemon.
type Node struct {
	// Name appears in logs and metrics (default: the host name).
	Name string `mapstructure:"name"`
	// LogLevel is a logrus level: panic, fatal, error, warn, info, debug,
	// trace (default info).
	LogLevel logrus.Level `mapstructure:"log_level"`
	// StateDir holds persistent state (default /var/lib/pmipd).
	StateDir string `mapstructure:"state_dir"`
}

// Transport is the signalling transport (raw IPPROTO_MH socket).
type Transport struct {
	// Address is the node's IPv6 signalling address (required for the lma
	// and mag roles); the MH socket is bound to it.
	Address netip.Addr `mapstructure:"address"`
	// Interface optionally binds the socket to one interface.
	Interface string `mapstructure:"interface"`
}

// Dataplane selects the data-plane driver.
type Dataplane struct {
	// Driver is seg6, ip6tnl, fake or auto (default auto: probe the kernel).
	Driver Driver `mapstructure:"driver"`
	// TunnelInterface is the interface the tunnel endpoint address is on
	// (default: transport.interface).
	TunnelInterface string `mapstructure:"tunnel_interface"`
}

// Driver names a data-plane driver.
type Driver string

// Data-plane drivers.
const (
	DriverAuto   Driver = "auto"
	DriverSeg6   Driver = "seg6"
	DriverIp6tnl Driver = "ip6tnl"
	DriverFake   Driver = "fake"
)

// Role names a role of the daemon.
type Role string

// Roles: the PMIPv6 roles (lma, mag) and the DMM roles of
// draft-luo-dmm-with-mip-and-pmip-00 (mr, haa, lm; see dmm.go).
const (
	RoleLMA Role = "lma"
	RoleMAG Role = "mag"
	RoleMR  Role = "mr"
	RoleHAA Role = "haa"
	RoleLM  Role = "lm"
)

// Ordering is the PBU ordering scheme of the domain (RFC 5213 §5.5, §9.3).
type Ordering string

// Ordering schemes.
const (
	OrderingTimestamp Ordering = "timestamp"
	OrderingSequence  Ordering = "sequence"
)

// LMA is the Local Mobility Anchor role (RFC 5213 §5).
type LMA struct {
	// Address is the LMAA (default: transport.address).
	Address netip.Addr `mapstructure:"address"`
	// Pools are the prefixes home network prefixes are allocated from.
	Pools []Pool `mapstructure:"pools"`
	// MAGs are the MAGs allowed to send PBUs (others get status 154).
	MAGs []MAGAuth `mapstructure:"mags"`
	// MobileNodes are per-MN policies; an MN not listed is served if the
	// MAG's mn_ids admit it.
	MobileNodes []MNPolicy `mapstructure:"mobile_nodes"`
	// Timers are the RFC 5213 §9.1 variables.
	Timers LMATimers `mapstructure:"timers"`
	// WaitForDeregistrationOnHI4: on HI=4 wait MaxDelayBeforeNewBCEAssign
	// for a de-registration of the old binding before creating a new one
	// (RFC 5213 §5.4.1.2/§5.4.1.3; default true).
	WaitForDeregistrationOnHI4 bool `mapstructure:"wait_for_deregistration_on_hi4"`
	// MaxLifetime caps the lifetime granted (default 262140s, the largest
	// lifetime a PBA can carry).
	MaxLifetime time.Duration `mapstructure:"max_lifetime"`
	// Ordering is timestamp (TimestampBasedApproachInUse=1, default) or
	// sequence.
	Ordering Ordering `mapstructure:"ordering"`
	// MobileNodeGeneratedTimestamp is MobileNodeGeneratedTimestampInUse
	// (RFC 5213 §9.3; default false; must be false with sequence ordering).
	MobileNodeGeneratedTimestamp bool `mapstructure:"mobile_node_generated_timestamp"`
	// Heartbeat towards the MAGs (RFC 5847).
	Heartbeat Heartbeat `mapstructure:"heartbeat"`
	// Revocation is binding revocation (RFC 5846 §11).
	Revocation Revocation `mapstructure:"revocation"`
}

// Pool is a prefix pool for home network prefix allocation.
type Pool struct {
	Prefix netip.Prefix `mapstructure:"prefix"`
	// AssignLength is the length of the prefixes handed out (default 64).
	AssignLength int `mapstructure:"assign_length"`
}

// MAGAuth authorizes one MAG at the LMA.
type MAGAuth struct {
	// Address is the MAG's Proxy-CoA (the PBU source).
	Address netip.Addr `mapstructure:"address"`
	// MNIDs are the MNs it may register ("*" for any); others get 154.
	MNIDs MNIDSet `mapstructure:"mn_ids"`
	// Prefixes, when not empty, are the only prefixes it may claim as
	// HNPs (others get 155).
	Prefixes []netip.Prefix `mapstructure:"prefixes"`
}

// MNPolicy is the LMA's policy for one mobile node.
type MNPolicy struct {
	MNID string `mapstructure:"mn_id"`
	// Allowed false refuses the MN (status 129); default true.
	Allowed bool `mapstructure:"allowed"`
	// Prefixes are fixed HNPs of this MN (not allocated from a pool).
	Prefixes []netip.Prefix `mapstructure:"prefixes"`
}

// LMATimers are the RFC 5213 §9.1 LMA variables.
type LMATimers struct {
	MinDelayBeforeBCEDelete    time.Duration `mapstructure:"min_delay_before_bce_delete"`
	MaxDelayBeforeNewBCEAssign time.Duration `mapstructure:"max_delay_before_new_bce_assign"`
	TimestampValidityWindow    time.Duration `mapstructure:"timestamp_validity_window"`
}

// Heartbeat is RFC 5847 path monitoring.
type Heartbeat struct {
	// Enabled turns heartbeats on (default true).
	Enabled bool `mapstructure:"enabled"`
	// Interval is HEARTBEAT_INTERVAL (default 60s, 30s to 3600s).
	Interval time.Duration `mapstructure:"interval"`
	// MissingAllowed is MISSING_HEARTBEATS_ALLOWED (default 3).
	MissingAllowed int `mapstructure:"missing_allowed"`
}

// Revocation is RFC 5846 §11 binding revocation.
type Revocation struct {
	// InitDelay is InitMINDelayBRIs (default 1s, at least 500ms).
	InitDelay time.Duration `mapstructure:"init_delay"`
	// MaxTimeout is MAX_BRACK_TIMEOUT (default 2s).
	MaxTimeout time.Duration `mapstructure:"max_timeout"`
	// MaxRetries is BRIMaxRetriesNumber (default 1).
	MaxRetries int `mapstructure:"max_retries"`
}

// MAG is the Mobile Access Gateway role (RFC 5213 §6).
type MAG struct {
	// Address is the Proxy-CoA (default: transport.address).
	Address netip.Addr `mapstructure:"address"`
	// LMAAddress is the LMA of MNs whose profile names none (required).
	LMAAddress netip.Addr `mapstructure:"lma_address"`
	// Access are the access interfaces mobile nodes attach to.
	Access []AccessLink `mapstructure:"access"`
	// MobileNodes are the policy profiles (RFC 5213 §6.2).
	MobileNodes []MNProfile `mapstructure:"mobile_nodes"`
	// Lifetime is the binding lifetime requested (default 3600s; a
	// multiple of 4s, at most 262140s).
	Lifetime time.Duration `mapstructure:"lifetime"`
	// Retransmission of PBUs (RFC 6275 §12).
	Retransmission Retransmission `mapstructure:"retransmission"`
	// ReregisterBefore is when to re-register (HI=5) before the binding
	// expires: a fraction of the granted lifetime or a duration.
	ReregisterBefore ReregisterBefore `mapstructure:"reregister_before"`
	// RouterAdvertisement is what the MAG advertises on access links.
	RouterAdvertisement RouterAdvertisement `mapstructure:"router_advertisement"`
	// LinkLocalAddress is FixedMAGLinkLocalAddressOnAllAccessLinks
	// (default fe80::200:5eff:fe00:5213, RFC 6543; :: disables it).
	LinkLocalAddress netip.Addr `mapstructure:"link_local_address"`
	// LinkLayerAddress is FixedMAGLinkLayerAddressOnAllAccessLinks
	// (default 00:00:5e:00:52:13, RFC 6543; 00:00:00:00:00:00 disables it).
	LinkLayerAddress net.HardwareAddr `mapstructure:"link_layer_address"`
	// Heartbeat towards the LMAs (RFC 5847).
	Heartbeat Heartbeat `mapstructure:"heartbeat"`
}

// AccessLink is one access interface of a MAG.
type AccessLink struct {
	Interface string `mapstructure:"interface"`
	// ATT is the Access Technology Type sent in PBUs (RFC 5213 §8.5): a
	// name (ethernet, wifi, virtual, ppp, eutran, ...) or a number
	// (default IEEE 802.3).
	ATT mh.ATT `mapstructure:"att"`
	// MNIDFrom is how the MN-ID of an attached node is found (default mac).
	MNIDFrom MNIDSource `mapstructure:"mn_id_from"`
	// AttachHI is the Handoff Indicator sent for a node that appears on
	// the link (RFC 5213 §6.9.1.1): 1, attachment over a new interface
	// (default), or 4, handoff state unknown (the MAG cannot tell a new
	// attachment from a handoff, e.g. behind access points).
	AttachHI uint8 `mapstructure:"attach_handoff_indicator"`
	// MovedHI is the Handoff Indicator sent for a node whose link moved
	// here from another MAG: 3, handoff between MAGs for the same
	// interface (default), 2 or 4.
	MovedHI uint8 `mapstructure:"moved_handoff_indicator"`
}

// MNIDSource is how a MAG identifies an attached mobile node.
type MNIDSource string

// MN-ID sources.
const (
	// MNIDFromMAC: the profile whose mac matches gives the MN-ID; with no
	// such profile the MN-ID is derived from the MAC address.
	MNIDFromMAC MNIDSource = "mac"
	// MNIDFromInterface: the access interface name is the MN-ID (one MN
	// per point-to-point link).
	MNIDFromInterface MNIDSource = "interface"
	// MNIDFromNAIMap: only MNs with a profile whose mac matches are
	// served, with that profile's MN-ID (an NAI).
	MNIDFromNAIMap MNIDSource = "nai-map"
)

// MNProfile is a MAG policy profile (RFC 5213 §6.2).
type MNProfile struct {
	MNID string `mapstructure:"mn_id"`
	// MAC is the MN's link-layer address (used by mn_id_from mac and
	// nai-map).
	MAC net.HardwareAddr `mapstructure:"mac"`
	// LMA is the MN's LMA (default: mag.lma_address).
	LMA netip.Addr `mapstructure:"lma"`
	// Prefixes are fixed HNPs requested for the MN (otherwise ALL_ZERO).
	Prefixes []netip.Prefix `mapstructure:"prefixes"`
}

// Retransmission is PBU retransmission (RFC 6275 §12, RFC 5213 §6.9.4).
type Retransmission struct {
	// Initial is INITIAL_BINDACK_TIMEOUT (default 1s).
	Initial time.Duration `mapstructure:"initial"`
	// Max is MAX_BINDACK_TIMEOUT (default 32s).
	Max time.Duration `mapstructure:"max"`
	// MaxRate is MAX_UPDATE_RATE, PBUs per second per peer (default 3).
	MaxRate int `mapstructure:"max_rate"`
}

// RouterAdvertisement is what the MAG puts in its RAs.
type RouterAdvertisement struct {
	// Interval between unsolicited RAs (default 30s; 70ms to 1800s).
	Interval time.Duration `mapstructure:"interval"`
	// RouterLifetime is AdvDefaultLifetime (default 3 x interval).
	RouterLifetime time.Duration `mapstructure:"router_lifetime"`
	// MTU is the MTU option (default 1460: a 1500-byte link minus the
	// 40-byte tunnel header).
	MTU int `mapstructure:"mtu"`
	// ValidLifetime and PreferredLifetime of the HNPs (defaults 30 days
	// and 7 days, RFC 4861 §6.2.1).
	ValidLifetime     time.Duration `mapstructure:"valid_lifetime"`
	PreferredLifetime time.Duration `mapstructure:"preferred_lifetime"`
}

// Management is the local management API.
type Management struct {
	// Socket is the unix socket path (default /run/pmipd/pmipd.sock; ""
	// disables the API).
	Socket string `mapstructure:"socket"`
}

// Metrics is the Prometheus endpoint.
type Metrics struct {
	// Listen is host:port (default 127.0.0.1:9469; "" disables it).
	Listen string `mapstructure:"listen"`
}

// Has reports whether role r is enabled.
func (c *Config) Has(r Role) bool {
	for _, x := range c.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// ProfileLMA is the LMA address of profile p (its own or mag.lma_address).
func (m *MAG) ProfileLMA(p *MNProfile) netip.Addr {
	if p.LMA.IsValid() {
		return p.LMA
	}
	return m.LMAAddress
}
