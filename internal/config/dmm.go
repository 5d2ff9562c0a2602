package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// The DMM roles of draft-luo-dmm-with-mip-and-pmip-00: the Mobility Router
// (mr), the Home Address Allocation function (haa) and the Location
// Management function (lm). Each serving role has its own signalling
// address (its own Mobility Header socket); roles of one process must use
// distinct addresses. An MR in the same process as an LM or an HAA calls
// them in process; other MRs reach them over the network.

// Store backends of the LM and the HAA.
const (
	StoreMemory = "memory" // one process only, lost at a restart
	StoreBolt   = "bolt"   // a bbolt file (one process at a time; the default)
	StoreEtcd   = "etcd"   // an etcd cluster: front-ends of several processes share it
)

// Deployments of the MR (draft §5).
const (
	// DeployAccess: the MR is the access router (LMA and MAG parts).
	DeployAccess = "access"
	// DeployLMA: unmodified RFC 5213 MAGs sit between the MNs and the MR,
	// which implements the LMA part.
	DeployLMA = "lma"
)

// Routing variants of the MR (draft §4.3).
const (
	// RoutingQuery is Figure 3: the correspondent's MR queries the LM and
	// tunnels straight to the current MR.
	RoutingQuery = "query"
	// RoutingRedirect is Figure 4: regular routing to the anchor MR, which
	// queries the LM, forwards and redirects the correspondent's MR.
	RoutingRedirect = "redirect"
)

// DMM defaults.
const (
	DefaultLMPrefixLength     = 64
	DefaultHAALifetime        = time.Hour
	DefaultMRLifetime         = time.Hour
	DefaultForwardingLifetime = 10 * time.Second
	DefaultHoldTimeout        = 3 * time.Second
	DefaultNegativeLifetime   = 5 * time.Second
	DefaultCallTimeout        = 5 * time.Second
	DefaultMRMaxRetries       = 3
	DefaultMRRouterLifetime   = 1800 * time.Second
	DefaultPuntDevice         = "pmippunt0"
	DefaultPuntMaxPackets     = 4096
	DefaultPuntMaxAge         = 2 * time.Second
	DefaultEtcdDialTimeout    = 5 * time.Second
)

// Store is where an LM or an HAA keeps its records.
type Store struct {
	// Backend is memory, bolt or etcd. Default: bolt, in the file
	// node.state_dir/lm.db (lm) or node.state_dir/haa.db (haa) unless
	// path is set, so that a restarted LM or HAA keeps its records.
	Backend string `mapstructure:"backend"`
	// Path is the bolt file (backend bolt).
	Path string `mapstructure:"path"`
	// Endpoints are the etcd client URLs (backend etcd).
	Endpoints []string `mapstructure:"endpoints"`
	// DialTimeout bounds the connection to etcd (default 5s).
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
}

// LM is the Location Management role: wire.LMServer over an LM front-end.
type LM struct {
	// Address is the LM's signalling address (default transport.address).
	Address netip.Addr `mapstructure:"address"`
	// Store holds the location records; front-ends that share an etcd
	// store answer alike (the draft's LMs as a distributed database).
	Store Store `mapstructure:"store"`
	// PrefixLengths are the lengths a record may have (default [64, 128]).
	PrefixLengths []int `mapstructure:"prefix_lengths"`
	// MaxLifetime caps the lifetime of an update (0: no cap).
	MaxLifetime time.Duration `mapstructure:"max_lifetime"`
	// Cache answers queries from a watch-fed cache (CacheMode says which).
	Cache bool `mapstructure:"cache"`
	// CacheMode: "learn" (default: entries learnt on misses, address and
	// prefix queries) or "replica" (every location held, loaded at start;
	// MN-ID queries answered too, the first one included).
	CacheMode string `mapstructure:"cache_mode"`
	// CacheMaxEntries bounds the cache (0: 1048576); a replica beyond it
	// stops answering and queries go to the store.
	CacheMaxEntries int `mapstructure:"cache_max_entries"`
}

// LM cache modes.
const (
	CacheLearn   = "learn"
	CacheReplica = "replica"
)

// HAAPool is one MR's prefix pool at the HAA.
type HAAPool struct {
	// Prefix is the pool.
	Prefix netip.Prefix `mapstructure:"prefix"`
	// MR is the anchor MR (the MR that allocates from the pool).
	MR netip.Addr `mapstructure:"mr"`
	// AssignLength is the length of the prefixes handed out (default 64).
	AssignLength int `mapstructure:"assign_length"`
}

// HAA is the Home Address Allocation role: wire.HAAServer over an HAA
// front-end.
type HAA struct {
	// Address is the HAA's signalling address (default transport.address).
	Address netip.Addr `mapstructure:"address"`
	// Store holds the allocations.
	Store Store `mapstructure:"store"`
	// Pools are the MR pools (every front-end over one store lists all).
	Pools []HAAPool `mapstructure:"pools"`
	// DefaultLifetime of an allocation when the request gives none (1h).
	DefaultLifetime time.Duration `mapstructure:"default_lifetime"`
	// MaxLifetime caps an allocation's lifetime (0: no cap).
	MaxLifetime time.Duration `mapstructure:"max_lifetime"`
}

// MRPool is a pool of the domain and the MR it is anchored at.
type MRPool struct {
	Prefix netip.Prefix `mapstructure:"prefix"`
	Anchor netip.Addr   `mapstructure:"anchor"`
}

// MRNode recognises a mobile node on an access link (deployment access).
type MRNode struct {
	MNID string `mapstructure:"mn_id"`
	// MAC matches the node by its link-layer address.
	MAC net.HardwareAddr `mapstructure:"mac"`
	// Interface matches the node by access interface (when no mac).
	Interface string `mapstructure:"interface"`
}

// MRRetransmission is the retransmission of HI and Redirect.
type MRRetransmission struct {
	// Initial wait (default 1s), doubled each time.
	Initial time.Duration `mapstructure:"initial"`
	// MaxRetries (default 3).
	MaxRetries int `mapstructure:"max_retries"`
}

// MRRouterAdvertisement is what the MR puts in its RAs.
type MRRouterAdvertisement struct {
	// MTU option (default 1460).
	MTU int `mapstructure:"mtu"`
	// RouterLifetime (default 1800s).
	RouterLifetime time.Duration `mapstructure:"router_lifetime"`
}

// Punt is the bounded buffer of packets whose location is unknown or in
// flux (internal/punt).
type Punt struct {
	// Device is the TUN device (default pmippunt0).
	Device string `mapstructure:"device"`
	// MaxPackets held in all (default 4096).
	MaxPackets int `mapstructure:"max_packets"`
	// MaxAge of a held packet (default 2s).
	MaxAge time.Duration `mapstructure:"max_age"`
}

// MR is the Mobility Router role.
type MR struct {
	// Address is the MR's signalling and tunnel address (default
	// transport.address).
	Address netip.Addr `mapstructure:"address"`
	// Deployment is access (default) or lma (draft §5).
	Deployment string `mapstructure:"deployment"`
	// Routing is query (Figure 3, default) or redirect (Figure 4).
	Routing string `mapstructure:"routing"`
	// LM is the address of the MR's LM (not needed when this process runs
	// the lm role: it is called in process).
	LM netip.Addr `mapstructure:"lm"`
	// HAA is the address of the HAA of the MR's local network (not needed
	// when this process runs the haa role).
	HAA netip.Addr `mapstructure:"haa"`
	// Pools lists every MR pool of the domain with its anchor; at least
	// one is anchored at this MR.
	Pools []MRPool `mapstructure:"pools"`
	// UpdateLMOnAttach updates the LM at the initial attachment (draft
	// §4.1 local policy; default true).
	UpdateLMOnAttach bool `mapstructure:"update_lm_on_attach"`
	// NewPrefixOnMove assigns a prefix anchored here after a move, beside
	// the old ones, which are deprecated (draft §4.2; default false).
	NewPrefixOnMove bool `mapstructure:"new_prefix_on_move"`
	// Redirect correspondents' MRs (Figure 4 step 8, Figure 5 step 7;
	// default true).
	Redirect bool `mapstructure:"redirect"`
	// RedirectAck asks for Redirect Acks and retransmits (default false).
	RedirectAck bool `mapstructure:"redirect_ack"`
	// ContextTransfer does the HI/HAck exchange with the previous MR
	// (Figure 5 step 2; default true).
	ContextTransfer bool `mapstructure:"context_transfer"`
	// ForwardingLifetime is how long a previous MR tunnels a node's
	// traffic to the new MR (default 10s; 0 disables).
	ForwardingLifetime time.Duration `mapstructure:"forwarding_lifetime"`
	// ForwardingDrain ends forwarding that long after every Redirect was
	// acknowledged, if sooner (0: off).
	ForwardingDrain time.Duration `mapstructure:"forwarding_drain"`
	// HoldTimeout bounds the holding of a departed node's packets (3s).
	HoldTimeout time.Duration `mapstructure:"hold_timeout"`
	// NegativeLifetime: how long an unknown prefix is routed to its anchor
	// before asking the LM again (5s).
	NegativeLifetime time.Duration `mapstructure:"negative_lifetime"`
	// Lifetime of bindings and locations (default 1h).
	Lifetime time.Duration `mapstructure:"lifetime"`
	// CallTimeout bounds each LM/HAA call (default 5s).
	CallTimeout time.Duration `mapstructure:"call_timeout"`
	// Retransmission of HI and Redirect.
	Retransmission MRRetransmission `mapstructure:"retransmission"`
	// Served are prefixes of fixed nodes behind this MR (draft §6).
	Served []netip.Prefix `mapstructure:"served"`
	// MAGs are the legacy MAGs allowed to register (deployment lma).
	MAGs []netip.Addr `mapstructure:"mags"`
	// Access are the access interfaces (deployment access).
	Access []string `mapstructure:"access"`
	// ATT reported for the nodes (default ethernet).
	ATT mh.ATT `mapstructure:"att"`
	// MobileNodes are the nodes recognised on the access links.
	MobileNodes []MRNode `mapstructure:"mobile_nodes"`
	// MACIdentity gives a node without a profile the MN-ID eui48:<mac>.
	MACIdentity bool `mapstructure:"mac_identity"`
	// RouterAdvertisement on the access links.
	RouterAdvertisement MRRouterAdvertisement `mapstructure:"router_advertisement"`
	// Punt is the buffer of packets in flux.
	Punt Punt `mapstructure:"punt"`
}

func dmmDefaults(c *Config, set func(string) bool) {
	storeDefaults := func(key, file string, s *Store) {
		if !set(key + ".backend") {
			// Persistent by default (an embedded bolt file); memory only
			// when the file says so.
			s.Backend = StoreBolt
			if !set(key+".path") && c.Node.StateDir != "" {
				s.Path = filepath.Join(c.Node.StateDir, file)
			}
		}
		durDefault(set, key+".dial_timeout", &s.DialTimeout, DefaultEtcdDialTimeout)
	}
	l := &c.LM
	if !set("lm.address") {
		l.Address = c.Transport.Address
	}
	storeDefaults("lm.store", "lm.db", &l.Store)
	if !set("lm.prefix_lengths") {
		l.PrefixLengths = []int{64, 128}
	}
	if !set("lm.cache_mode") {
		l.CacheMode = CacheLearn
	}

	h := &c.HAA
	if !set("haa.address") {
		h.Address = c.Transport.Address
	}
	storeDefaults("haa.store", "haa.db", &h.Store)
	for i := range h.Pools {
		if !set(fmt.Sprintf("haa.pools[%d].assign_length", i)) {
			h.Pools[i].AssignLength = DefaultAssignLen
		}
	}
	durDefault(set, "haa.default_lifetime", &h.DefaultLifetime, DefaultHAALifetime)

	m := &c.MR
	if !set("mr.address") {
		m.Address = c.Transport.Address
	}
	if !set("mr.deployment") {
		m.Deployment = DeployAccess
	}
	if !set("mr.routing") {
		m.Routing = RoutingQuery
	}
	for _, b := range []struct {
		key string
		v   *bool
	}{{"mr.update_lm_on_attach", &m.UpdateLMOnAttach}, {"mr.redirect", &m.Redirect}, {"mr.context_transfer", &m.ContextTransfer}} {
		if !set(b.key) {
			*b.v = true
		}
	}
	durDefault(set, "mr.forwarding_lifetime", &m.ForwardingLifetime, DefaultForwardingLifetime)
	durDefault(set, "mr.hold_timeout", &m.HoldTimeout, DefaultHoldTimeout)
	durDefault(set, "mr.negative_lifetime", &m.NegativeLifetime, DefaultNegativeLifetime)
	durDefault(set, "mr.lifetime", &m.Lifetime, DefaultMRLifetime)
	durDefault(set, "mr.call_timeout", &m.CallTimeout, DefaultCallTimeout)
	durDefault(set, "mr.retransmission.initial", &m.Retransmission.Initial, DefaultInitialBindAckTimeout)
	if !set("mr.retransmission.max_retries") {
		m.Retransmission.MaxRetries = DefaultMRMaxRetries
	}
	if !set("mr.att") {
		m.ATT = mh.ATT8023
	}
	if !set("mr.router_advertisement.mtu") {
		m.RouterAdvertisement.MTU = DefaultMTU
	}
	durDefault(set, "mr.router_advertisement.router_lifetime", &m.RouterAdvertisement.RouterLifetime, DefaultMRRouterLifetime)
	if !set("mr.punt.device") {
		m.Punt.Device = DefaultPuntDevice
	}
	if !set("mr.punt.max_packets") {
		m.Punt.MaxPackets = DefaultPuntMaxPackets
	}
	durDefault(set, "mr.punt.max_age", &m.Punt.MaxAge, DefaultPuntMaxAge)
}

func validateStore(ps *problems, key string, s Store, enabled bool) {
	switch s.Backend {
	case StoreMemory:
	case StoreBolt:
		if enabled && s.Path == "" {
			ps.add(key+".path", "required with backend bolt (the store file)")
		}
	case StoreEtcd:
		if enabled && len(s.Endpoints) == 0 {
			ps.add(key+".endpoints", "required with backend etcd (client URLs such as http://[2001:db8::1]:2379)")
		}
	default:
		ps.add(key+".backend", "unknown backend %q (memory, bolt or etcd)", s.Backend)
	}
	for i, e := range s.Endpoints {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(fmt.Sprintf("%s.endpoints[%d]", key, i), "must be an http:// or https:// URL with a host (got %q)", e)
		}
	}
	if s.DialTimeout <= 0 {
		ps.add(key+".dial_timeout", "must be > 0")
	}
}

func lifetimeRange(ps *problems, key string, d time.Duration, zeroOK bool) {
	if d == 0 && zeroOK {
		return
	}
	if d < LifetimeUnit || d > MaxLifetime {
		ps.add(key, "must be between 4s and 262140s (got %s)", fmtDur(d))
	}
}

func (c *Config) validateDMM(ps *problems) {
	mr, haa, lm := c.Has(RoleMR), c.Has(RoleHAA), c.Has(RoleLM)

	// One Mobility Header socket per serving role.
	if mr && (c.Has(RoleLMA) || c.Has(RoleMAG)) {
		ps.add("roles", "mr cannot share a process with lma or mag (one Mobility Header socket each): run one pmipd per role")
	}
	addrs := map[netip.Addr]string{}
	claim := func(key string, on bool, a netip.Addr) {
		if !on || !a.IsValid() {
			return
		}
		if other, dup := addrs[a]; dup {
			ps.add(key, "%s is already %s: each role of one process needs its own address (its own Mobility Header socket)", a, other)
			return
		}
		addrs[a] = key
	}
	claim("mr.address", mr, c.MR.Address)
	claim("lm.address", lm, c.LM.Address)
	claim("haa.address", haa, c.HAA.Address)

	// lm
	l := &c.LM
	if lm && !l.Address.IsValid() {
		ps.add("lm.address", "required (or transport.address)")
	}
	if l.Address != c.Transport.Address {
		checkUnicast(ps, "lm.address", l.Address)
	}
	validateStore(ps, "lm.store", l.Store, lm)
	if len(l.PrefixLengths) == 0 && lm {
		ps.add("lm.prefix_lengths", "required (at least one prefix length)")
	}
	seenLen := map[int]bool{}
	for i, n := range l.PrefixLengths {
		k := fmt.Sprintf("lm.prefix_lengths[%d]", i)
		if n < 1 || n > 128 {
			ps.add(k, "must be between 1 and 128 (got %d)", n)
		} else if seenLen[n] {
			ps.add(k, "%d is listed twice", n)
		}
		seenLen[n] = true
	}
	if l.MaxLifetime < 0 {
		ps.add("lm.max_lifetime", "must be >= 0 (0: no cap)")
	}
	if l.CacheMode != CacheLearn && l.CacheMode != CacheReplica {
		ps.add("lm.cache_mode", "must be %q or %q (got %q)", CacheLearn, CacheReplica, l.CacheMode)
	}
	if l.CacheMaxEntries < 0 {
		ps.add("lm.cache_max_entries", "must be >= 0 (0: 1048576)")
	}

	// haa
	h := &c.HAA
	if haa && !h.Address.IsValid() {
		ps.add("haa.address", "required (or transport.address)")
	}
	if h.Address != c.Transport.Address {
		checkUnicast(ps, "haa.address", h.Address)
	}
	validateStore(ps, "haa.store", h.Store, haa)
	if haa && len(h.Pools) == 0 {
		ps.add("haa.pools", "required (at least one MR pool)")
	}
	var pools prefixSet
	for i, p := range h.Pools {
		key := fmt.Sprintf("haa.pools[%d]", i)
		if !p.MR.IsValid() {
			ps.add(key+".mr", "required (the anchor MR)")
		}
		checkUnicast(ps, key+".mr", p.MR)
		if !checkPrefix(ps, key+".prefix", p.Prefix) {
			continue
		}
		if p.AssignLength < p.Prefix.Bits() || p.AssignLength > 128 {
			ps.add(key+".assign_length", "must be between %d (the pool's length) and 128 (got %d)", p.Prefix.Bits(), p.AssignLength)
		} else if p.AssignLength-p.Prefix.Bits() > 62 {
			ps.add(key+".assign_length", "a /%d pool of /%d prefixes is too large (at most 2^62)", p.Prefix.Bits(), p.AssignLength)
		}
		if okey, q, ok := pools.overlap(p.Prefix); ok {
			ps.add(key+".prefix", "%s overlaps %s (%s)", p.Prefix, q, okey)
		}
		pools.add(key, p.Prefix)
	}
	lifetimeRange(ps, "haa.default_lifetime", h.DefaultLifetime, false)
	lifetimeRange(ps, "haa.max_lifetime", h.MaxLifetime, true)
	if h.MaxLifetime > 0 && h.DefaultLifetime > h.MaxLifetime {
		ps.add("haa.default_lifetime", "must be <= max_lifetime (%s)", fmtDur(h.MaxLifetime))
	}

	c.validateMR(ps, mr, lm, haa)
}

func (c *Config) validateMR(ps *problems, enabled, lm, haa bool) {
	m := &c.MR
	if enabled && m.Address.IsValid() && m.Address != c.Transport.Address {
		ps.add("mr.address", "must be transport.address (%s): the MR's Mobility Header socket", c.Transport.Address)
	}
	if m.Address != c.Transport.Address {
		checkUnicast(ps, "mr.address", m.Address)
	}
	switch m.Deployment {
	case DeployAccess:
		if enabled && len(m.Access) == 0 {
			ps.add("mr.access", "required with deployment access (at least one access interface)")
		}
	case DeployLMA:
		if enabled && len(m.MAGs) == 0 {
			ps.add("mr.mags", "required with deployment lma (the legacy MAGs allowed to register)")
		}
	default:
		ps.add("mr.deployment", "unknown deployment %q (access or lma)", m.Deployment)
	}
	switch m.Routing {
	case RoutingQuery, RoutingRedirect:
	default:
		ps.add("mr.routing", "unknown routing %q (query: Figure 3, or redirect: Figure 4)", m.Routing)
	}
	if enabled && !lm && !m.LM.IsValid() {
		ps.add("mr.lm", "required (the LM's address) unless this process runs the lm role")
	}
	checkUnicast(ps, "mr.lm", m.LM)
	if enabled && !haa && !m.HAA.IsValid() {
		ps.add("mr.haa", "required (the HAA's address) unless this process runs the haa role")
	}
	checkUnicast(ps, "mr.haa", m.HAA)
	if enabled && len(m.Pools) == 0 {
		ps.add("mr.pools", "required (every MR pool of the domain with its anchor)")
	}
	own := 0
	var pools prefixSet
	for i, p := range m.Pools {
		key := fmt.Sprintf("mr.pools[%d]", i)
		if !p.Anchor.IsValid() {
			ps.add(key+".anchor", "required (the MR the pool is anchored at)")
		}
		checkUnicast(ps, key+".anchor", p.Anchor)
		if p.Anchor == m.Address {
			own++
		}
		if !checkPrefix(ps, key+".prefix", p.Prefix) {
			continue
		}
		if okey, q, ok := pools.overlap(p.Prefix); ok {
			ps.add(key+".prefix", "%s overlaps %s (%s)", p.Prefix, q, okey)
		}
		pools.add(key, p.Prefix)
	}
	if enabled && len(m.Pools) > 0 && own == 0 {
		ps.add("mr.pools", "none is anchored at this MR (%s)", m.Address)
	}
	if m.ForwardingLifetime < 0 || m.ForwardingLifetime > 0xffff*time.Second {
		ps.add("mr.forwarding_lifetime", "must be between 0 and 65535s (got %s)", fmtDur(m.ForwardingLifetime))
	}
	durRange(ps, "mr.forwarding_drain", m.ForwardingDrain, 0, -1)
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"mr.hold_timeout", m.HoldTimeout}, {"mr.negative_lifetime", m.NegativeLifetime}, {"mr.call_timeout", m.CallTimeout},
		{"mr.retransmission.initial", m.Retransmission.Initial}} {
		if d.v <= 0 {
			ps.add(d.key, "must be > 0")
		}
	}
	lifetimeRange(ps, "mr.lifetime", m.Lifetime, false)
	if m.Retransmission.MaxRetries < 0 {
		ps.add("mr.retransmission.max_retries", "must be >= 0")
	}
	for i, p := range m.Served {
		checkPrefix(ps, fmt.Sprintf("mr.served[%d]", i), p)
	}
	for i, a := range m.MAGs {
		key := fmt.Sprintf("mr.mags[%d]", i)
		if !a.IsValid() {
			ps.add(key, "required")
		}
		checkUnicast(ps, key, a)
	}
	ifs := map[string]int{}
	for i, a := range m.Access {
		key := fmt.Sprintf("mr.access[%d]", i)
		switch j, dup := ifs[a]; {
		case a == "":
			ps.add(key, "must be an interface name")
		case dup:
			ps.add(key, "%q is already listed as mr.access[%d]", a, j)
		case len(a) > 15 || strings.ContainsAny(a, "/ "):
			ps.add(key, "%q is not a valid interface name", a)
		}
		ifs[a] = i
	}
	if m.ATT == 0 {
		ps.add("mr.att", "must not be 0 (Reserved)")
	}
	ids := map[string]int{}
	for i, n := range m.MobileNodes {
		key := fmt.Sprintf("mr.mobile_nodes[%d]", i)
		if n.MNID == "" {
			ps.add(key+".mn_id", "required")
		} else if j, dup := ids[n.MNID]; dup {
			ps.add(key+".mn_id", "%q is already defined by mr.mobile_nodes[%d]", n.MNID, j)
		} else {
			ids[n.MNID] = i
		}
		if len(n.MAC) == 0 && n.Interface == "" {
			ps.add(key, "a mac or an interface is required to recognise the node")
		}
		if n.Interface != "" {
			if _, ok := ifs[n.Interface]; !ok {
				ps.add(key+".interface", "%q is not one of mr.access", n.Interface)
			}
		}
	}
	ra := &m.RouterAdvertisement
	if ra.MTU < 1280 || ra.MTU > 65535 {
		ps.add("mr.router_advertisement.mtu", "must be between 1280 and 65535 (got %d)", ra.MTU)
	}
	durRange(ps, "mr.router_advertisement.router_lifetime", ra.RouterLifetime, time.Second, 9000*time.Second)
	p := &m.Punt
	if p.Device == "" || len(p.Device) > 15 {
		ps.add("mr.punt.device", "must be an interface name of 1 to 15 characters (got %q)", p.Device)
	}
	if p.MaxPackets < 1 {
		ps.add("mr.punt.max_packets", "must be >= 1")
	}
	if p.MaxAge <= 0 {
		ps.add("mr.punt.max_age", "must be > 0")
	}
}
