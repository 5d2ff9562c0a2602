package lma

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// RFC 5213 §9.1 defaults, RFC 5847 §5 and RFC 5846 §11 defaults.
const (
	DefaultMinDelayBeforeBCEDelete    = 10 * time.Second
	DefaultMaxDelayBeforeNewBCEAssign = 1500 * time.Millisecond
	DefaultTimestampValidityWindow    = 300 * time.Millisecond
	DefaultMaxLifetime                = 0xffff * 4 * time.Second // the largest a BA can carry
	DefaultHeartbeatInterval          = 60 * time.Second
	DefaultMissingHeartbeatsAllowed   = 3
	DefaultInitMinDelayBRIs           = time.Second
	DefaultMaxBRAckTimeout            = 2 * time.Second
	DefaultBRIMaxRetries              = 1
	DefaultPrefixLen                  = 64
)

// FixedMAGLinkLocal is the link-local address RFC 6543 reserves for the
// MAG side of every access link (fe80::200:5eff:fe00:5213). It is the
// address the LMA hands out when a PBU asks for one (ALL_ZERO Link-local
// Address option) unless Config.MAGLinkLocal says otherwise.
var FixedMAGLinkLocal = netip.MustParseAddr("fe80::200:5eff:fe00:5213")

// MNPolicy is the LMA's policy for one mobile node (RFC 5213 §4, §5.3.1
// steps 5-8, §5.3.2).
type MNPolicy struct {
	// ProxyDisabled: the MN is known but not entitled to network-based
	// mobility: PBUs for it get 152 PROXY_REG_NOT_ENABLED.
	ProxyDisabled bool
	// Prefixes are the MN's statically assigned home network prefixes.
	// A PBU may request them by value; an ALL_ZERO request gets them
	// (when free) before anything from the pools. They are never handed
	// to another MN by pool allocation.
	Prefixes []netip.Prefix
	// MAGs, when not empty, are the only MAGs (Proxy-CoA / PBU source)
	// allowed to register this MN; others get 154.
	MAGs []netip.Addr
}

// MAGPolicy is what one MAG may do (RFC 5213 §4: the LMA authorises the
// MAG per MN).
type MAGPolicy struct {
	// MNs, when not empty, are the MN-IDs (see MNKey) this MAG may
	// register; others get 154 MAG_NOT_AUTHORIZED_FOR_PROXY_REG.
	MNs []string
	// Prefixes, when not empty, bound the NON_ZERO prefixes this MAG may
	// request: a requested prefix outside all of them gets 155.
	Prefixes []netip.Prefix
}

// Config configures an LMA. The zero values of the durations and counts
// take the RFC defaults above.
type Config struct {
	// Address is the LMA address (LMAA): tunnel endpoint and the source
	// of its signalling. Required.
	Address netip.Addr

	// Pools are the prefixes from which home network prefixes are
	// allocated for an ALL_ZERO HNP request, split into PrefixLen-long
	// prefixes (default 64).
	Pools     []netip.Prefix
	PrefixLen int
	// PrefixesPerSession is how many prefixes one ALL_ZERO request gets
	// (default 1).
	PrefixesPerSession int

	// MNs is the policy per known MN, keyed by MNKey of its MN-ID. An MN
	// not listed gets 153, unless DefaultMN is set.
	MNs       map[string]MNPolicy
	DefaultMN *MNPolicy
	// MAGs lists the MAGs authorised to send PBUs, keyed by address
	// (PBU source, or the Alternate Care-of Address when present). When
	// nil, every MAG is authorised; when not nil, a MAG not listed gets
	// 154.
	MAGs map[netip.Addr]MAGPolicy

	// RFC 5213 §9.1 timers.
	MinDelayBeforeBCEDelete    time.Duration
	MaxDelayBeforeNewBCEAssign time.Duration
	TimestampValidityWindow    time.Duration
	// NoWaitForDeregistration makes a PBU with HI=4 that matches exactly
	// one BCE (§5.4.1.2 step 4, §5.4.1.3 step 3) create a new mobility
	// session at once instead of waiting up to MaxDelayBeforeNewBCEAssign
	// for the previous MAG's de-registration (the MAY of the RFC).
	NoWaitForDeregistration bool

	// TimestampBasedApproachInUse is the domain-wide RFC 5213 §9.3 flag.
	// The LMA processes each PBU by the scheme RFC 5213 §5.5 dictates
	// whatever its value: a PBU with a Timestamp option is ordered by its
	// timestamp (sequence number ignored), one without falls back to the
	// sequence-number scheme ("MUST fall back"). When the flag is set, a
	// PBU without Timestamp is still processed that way, and counted in
	// Counters.PBUWithoutTimestamp so that a mis-configured MAG shows.
	TimestampBasedApproachInUse bool
	// MobileNodeGeneratedTimestampInUse (RFC 5213 §9.3) skips the
	// TimestampValidityWindow check; only "greater than every accepted
	// timestamp" is checked.
	MobileNodeGeneratedTimestampInUse bool

	// MaxLifetime caps the granted binding lifetime (never above the
	// request, RFC 6275 §10.3.1). Default 262140 s.
	MaxLifetime time.Duration

	// MAGLinkLocal is the address given in the PBA when a PBU's
	// Link-local Address option is ALL_ZERO and no BCE exists (RFC 5213
	// §5.3.6). Default FixedMAGLinkLocal.
	MAGLinkLocal netip.Addr

	// Heartbeat (RFC 5847). HeartbeatInterval < 0 disables sending
	// requests (requests received are always answered). RestartCounter
	// is sent in every response; the caller persists and increments it.
	HeartbeatInterval        time.Duration
	MissingHeartbeatsAllowed int
	RestartCounter           uint32

	// Binding revocation (RFC 5846 §11): first retransmission timeout
	// (never below 0.5 s), its cap, and how many retries.
	InitMinDelayBRIs time.Duration
	MaxBRAckTimeout  time.Duration
	BRIMaxRetries    int

	// Store, when set, persists the Binding Cache, the pool allocations
	// and the Restart Counter, and New resumes them (see Store). PBAs are
	// then sent once the change they acknowledge is durable.
	Store Store
	// RestartCounterAlways makes a Store-backed LMA increment the
	// Restart Counter at every start, not only at a start that lost
	// state (see Store).
	RestartCounterAlways bool

	// Prefixes, when set, assigns the prefixes of new mobility sessions
	// instead of the pools and static assignments (see PrefixAssigner).
	Prefixes PrefixAssigner
	// OnBinding, when set, is called on the LMA's loop after each change
	// of a binding (before the PBA is sent). It must not block nor call
	// the LMA's synchronous methods.
	OnBinding func(Binding, Event)
	// ExternalReceive: Run does not read Transport (it only sends on
	// it); the owner feeds received packets with HandlePacket.
	ExternalReceive bool
	// ReceiveQueue bounds the received packets waiting to be processed
	// (default DefaultReceiveQueue). Under overload the transport is
	// still read at once and what does not fit is dropped and counted
	// (Counters.Dropped["receive queue full"]), so memory and the delay
	// of the packets processed stay bounded.
	ReceiveQueue int

	// DataPlaneDev is the interface of Address, passed to the data plane
	// driver's Setup.
	DataPlaneDev string

	// Injected parts. Transport and DataPlane are required; Clock
	// defaults to the system clock and Log to a discarding logger.
	Transport transport.Transport
	DataPlane dataplane.Driver
	Clock     clock.Clock
	Log       *logrus.Entry
}

func (c *Config) setDefaults() error {
	if !c.Address.Is6() || c.Address.Is4In6() {
		return fmt.Errorf("lma: Address %v: an IPv6 LMA address is required", c.Address)
	}
	if c.Transport == nil {
		return errors.New("lma: Transport is required")
	}
	if c.DataPlane == nil {
		return errors.New("lma: DataPlane is required")
	}
	if c.PrefixLen == 0 {
		c.PrefixLen = DefaultPrefixLen
	}
	if c.PrefixLen < 1 || c.PrefixLen > 128 {
		return fmt.Errorf("lma: PrefixLen %d out of range", c.PrefixLen)
	}
	for _, p := range c.Pools {
		if !p.IsValid() || !p.Addr().Is6() || p.Bits() > c.PrefixLen {
			return fmt.Errorf("lma: pool %v: an IPv6 prefix no longer than /%d is required", p, c.PrefixLen)
		}
	}
	if c.ReceiveQueue <= 0 {
		c.ReceiveQueue = DefaultReceiveQueue
	}
	if c.PrefixesPerSession == 0 {
		c.PrefixesPerSession = 1
	}
	if c.MinDelayBeforeBCEDelete == 0 {
		c.MinDelayBeforeBCEDelete = DefaultMinDelayBeforeBCEDelete
	}
	if c.MaxDelayBeforeNewBCEAssign == 0 {
		c.MaxDelayBeforeNewBCEAssign = DefaultMaxDelayBeforeNewBCEAssign
	}
	if c.TimestampValidityWindow == 0 {
		c.TimestampValidityWindow = DefaultTimestampValidityWindow
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
	if !c.MAGLinkLocal.IsValid() {
		c.MAGLinkLocal = FixedMAGLinkLocal
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.MissingHeartbeatsAllowed == 0 {
		c.MissingHeartbeatsAllowed = DefaultMissingHeartbeatsAllowed
	}
	if c.InitMinDelayBRIs == 0 {
		c.InitMinDelayBRIs = DefaultInitMinDelayBRIs
	}
	if c.InitMinDelayBRIs < 500*time.Millisecond {
		return fmt.Errorf("lma: InitMinDelayBRIs %v below the 0.5 s minimum of RFC 5846 §11", c.InitMinDelayBRIs)
	}
	if c.MaxBRAckTimeout == 0 {
		c.MaxBRAckTimeout = DefaultMaxBRAckTimeout
	}
	if c.BRIMaxRetries == 0 {
		c.BRIMaxRetries = DefaultBRIMaxRetries
	}
	if c.Clock == nil {
		c.Clock = clock.New()
	}
	if c.Log == nil {
		l := logrus.New()
		l.Out = discard{}
		l.Level = logrus.PanicLevel // nothing is written: build no message
		c.Log = logrus.NewEntry(l)
	}
	c.Log = c.Log.WithField("component", "lma")
	for k, p := range c.MNs {
		for _, x := range p.Prefixes {
			if !x.IsValid() || !x.Addr().Is6() {
				return fmt.Errorf("lma: MN %q: prefix %v is not an IPv6 prefix", k, x)
			}
		}
	}
	return nil
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// MNKey is the key of an MN-ID in Config.MNs and in the binding cache:
// the NAI itself for subtype 1 (when printable), otherwise
// "<subtype>:<identifier>" with the identifier as mh renders it
// (e.g. "imsi:123456123456789", "eui-48:02:00:5e:10:00:01",
// "ipv6:2001:db8::1"). The zero-length MN-ID has the key "".
func MNKey(id *mh.MNIdentifier) string {
	if id == nil || id.Empty {
		return ""
	}
	s := id.IdentifierString()
	if id.Subtype == mh.MNIDNAI && s == string(id.Identifier) {
		return s
	}
	return strings.ToLower(id.Subtype.String()) + ":" + s
}
