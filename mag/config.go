package mag

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Interface is an access interface of the MAG: a point-to-point link to
// one mobile node (RFC 5213 §6.3).
type Interface struct {
	Name string
	// ATT is the Access Technology Type sent for MNs on this link
	// (default IEEE 802.3).
	ATT mh.ATT
	// AttachHI is the Handoff Indicator of an attachment on this link
	// (default 1, attachment over a new interface; 4 when the MAG cannot
	// tell a new attachment from a handoff).
	AttachHI mh.HandoffIndicatorValue
	// MovedHI is the Handoff Indicator when the link arrived in the MAG's
	// namespace while it ran, i.e. the MN's interface moved here from
	// another MAG (default 3; set 4 where that is not known to hold).
	MovedHI mh.HandoffIndicatorValue
}

// Profile is a mobile node's policy profile (RFC 5213 §6.2). The MN is
// recognised by its link-layer address (MAC) or by the access interface
// it is on.
type Profile struct {
	// MNID is the MN-Identifier, an NAI (RFC 4283).
	MNID string
	// MAC matches the MN by its link-layer address (nil: not by MAC).
	MAC net.HardwareAddr
	// Interface matches the MN by access interface ("": not by interface).
	Interface string
	// LMA is the LMA address (LMAA); zero: Config.DefaultLMA.
	LMA netip.Addr
	// HNPs are prefixes to request; none: one ALL_ZERO HNP (the LMA assigns).
	HNPs []netip.Prefix
}

// Config is the MAG's configuration. Zero durations take the defaults
// of RFC 5213 §9 and RFC 6275 §12 noted on each field.
type Config struct {
	// Address is the Proxy-CoA: the global address PBUs are sent from and
	// the local tunnel endpoint (equal to the transport's LocalAddr).
	Address netip.Addr
	// UplinkDev is the interface that holds Address (for the data plane).
	UplinkDev  string
	Interfaces []Interface
	Profiles   []Profile
	// DefaultLMA serves MNs whose profile names no LMA, and, with
	// MACIdentity, MNs without a profile.
	DefaultLMA netip.Addr
	// MACIdentity gives an MN without a profile the MN-ID of subtype
	// EUI-48 (RFC 8371) made from its MAC, and DefaultLMA.
	MACIdentity bool

	// Lifetime is the binding lifetime requested (default 3600 s; sent in
	// units of 4 s, rounded up).
	Lifetime time.Duration
	// RefreshFraction: re-register when this fraction of the granted
	// lifetime has passed (default 0.8).
	RefreshFraction float64
	// SequenceScheme selects the sequence-number scheme instead of the
	// timestamp scheme (TimestampBasedApproachInUse = 0).
	SequenceScheme bool
	// InitialBindackTimeout (INITIAL_BINDACK_TIMEOUT, default 1 s),
	// MaxBindackTimeout (MAX_BINDACK_TIMEOUT, default 32 s).
	InitialBindackTimeout time.Duration
	MaxBindackTimeout     time.Duration
	// FirstRegTimeout, if set, replaces InitialBindackTimeout for the
	// first PBU of an initial registration (InitialBindackTimeoutFirstReg,
	// 1.5 s in RFC 6275 §13; optional for a MAG, RFC 5213 §6.9.4).
	FirstRegTimeout time.Duration
	// MaxUpdateRate is MAX_UPDATE_RATE: PBUs per second to one LMA
	// (default 3).
	MaxUpdateRate int

	// MTU is the RA MTU option (default 1460: 1500 less the 40-octet
	// tunnel header, RFC 5213 §6.9.2, §6.9.5).
	MTU uint32
	// RouterLifetime of the RAs (default 1800 s).
	RouterLifetime time.Duration
	// PrefixValidLifetime / PrefixPreferredLifetime of the HNPs in RAs;
	// 0: the remaining binding lifetime (RFC 5213 §6.7).
	PrefixValidLifetime     time.Duration
	PrefixPreferredLifetime time.Duration
	// InitialRAs RAs (default 3) are sent InitialRAInterval apart (default
	// 4 s) after a registration, then one every RAInterval (default 600 s).
	InitialRAs        int
	InitialRAInterval time.Duration
	RAInterval        time.Duration

	// HeartbeatInterval (RFC 5847 HEARTBEAT_INTERVAL, default 60 s;
	// negative: no heartbeat requests), MissingHeartbeatsAllowed
	// (default 3).
	HeartbeatInterval        time.Duration
	MissingHeartbeatsAllowed int
	// RestartCounter is sent in Heartbeat responses (RFC 5847 §3.4); the
	// caller persists and bumps it across restarts that lose state.
	RestartCounter uint32

	// Store, when set, persists the Binding Update List and the Restart
	// Counter, and New resumes them (see Store). RestartCounterAlways
	// increments the counter at every start; ResumeGrace (default
	// DefaultResumeGrace) is how long a restored entry waits for its MN
	// to be seen again before it is de-registered.
	Store                Store
	RestartCounterAlways bool
	ResumeGrace          time.Duration

	// Legacy decodes messages with the codec's legacy-peer tolerance.
	Legacy bool
	// KeepBindingsOnStop leaves the bindings (no de-registration) and the
	// data plane as they are at Stop.
	KeepBindingsOnStop bool
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Lifetime, 3600*time.Second)
	def(&c.InitialBindackTimeout, time.Second)
	def(&c.MaxBindackTimeout, 32*time.Second)
	def(&c.RouterLifetime, 1800*time.Second)
	def(&c.InitialRAInterval, 4*time.Second)
	def(&c.RAInterval, 600*time.Second)
	def(&c.HeartbeatInterval, 60*time.Second)
	if c.RefreshFraction == 0 {
		c.RefreshFraction = 0.8
	}
	if c.MaxUpdateRate == 0 {
		c.MaxUpdateRate = 3
	}
	if c.MTU == 0 {
		c.MTU = 1460
	}
	if c.InitialRAs == 0 {
		c.InitialRAs = 3
	}
	if c.MissingHeartbeatsAllowed == 0 {
		c.MissingHeartbeatsAllowed = 3
	}
	for i := range c.Interfaces {
		it := &c.Interfaces[i]
		if it.ATT == 0 {
			it.ATT = mh.ATT8023
		}
		if it.AttachHI == 0 {
			it.AttachHI = mh.HIAttachNewInterface
		}
		if it.MovedHI == 0 {
			it.MovedHI = mh.HIHandoffBetweenMAGs
		}
	}
}

func (c *Config) validate() error {
	if !c.Address.Is6() || c.Address.Is4In6() {
		return fmt.Errorf("mag: address %v: an IPv6 Proxy-CoA is required", c.Address)
	}
	if len(c.Interfaces) == 0 {
		return errors.New("mag: interfaces: at least one access interface is required")
	}
	seen := map[string]bool{}
	for _, it := range c.Interfaces {
		if it.Name == "" || seen[it.Name] {
			return fmt.Errorf("mag: interfaces: empty or repeated name %q", it.Name)
		}
		seen[it.Name] = true
		for _, hi := range []mh.HandoffIndicatorValue{it.AttachHI, it.MovedHI} {
			if hi < 1 || hi > 4 {
				return fmt.Errorf("mag: interface %s: handoff indicator %d: must be 1 to 4", it.Name, hi)
			}
		}
	}
	for i, p := range c.Profiles {
		if p.MNID == "" {
			return fmt.Errorf("mag: profiles[%d]: mnid is required", i)
		}
		if p.MAC == nil && p.Interface == "" {
			return fmt.Errorf("mag: profiles[%d] (%s): a mac or an interface is required", i, p.MNID)
		}
		if p.Interface != "" && !seen[p.Interface] {
			return fmt.Errorf("mag: profiles[%d] (%s): interface %q is not an access interface", i, p.MNID, p.Interface)
		}
		lma := p.LMA
		if !lma.IsValid() {
			lma = c.DefaultLMA
		}
		if !lma.Is6() {
			return fmt.Errorf("mag: profiles[%d] (%s): no IPv6 LMA address (and no default_lma)", i, p.MNID)
		}
		for _, h := range p.HNPs {
			if !h.IsValid() || !h.Addr().Is6() || h.Addr().IsUnspecified() {
				return fmt.Errorf("mag: profiles[%d] (%s): HNP %v is not an IPv6 prefix", i, p.MNID, h)
			}
		}
	}
	if c.MACIdentity && !c.DefaultLMA.Is6() {
		return errors.New("mag: mac_identity needs default_lma")
	}
	if c.RefreshFraction <= 0 || c.RefreshFraction >= 1 {
		return fmt.Errorf("mag: refresh fraction %v: must be in (0, 1)", c.RefreshFraction)
	}
	if c.Lifetime > 0xffff*4*time.Second {
		return fmt.Errorf("mag: lifetime %v above %v", c.Lifetime, 0xffff*4*time.Second)
	}
	return nil
}
