package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/pmipdmm/pmipdmm/ipsec"
	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/sirupsen/logrus"
)

// Validate checks the semantics of a decoded (and defaulted) configuration
// and returns an *Error listing every problem, in schema order, or nil.
// Required keys of a role are checked only when the role is enabled; the
// ranges of every value given are always checked.
func (c *Config) Validate() error {
	var ps problems
	c.validateNode(&ps)
	c.validateRoles(&ps)
	lma, mag := c.Has(RoleLMA), c.Has(RoleMAG)

	if lma || mag || c.Has(RoleMR) {
		if !c.Transport.Address.IsValid() {
			ps.add("transport.address", "required (the node's signalling IPv6 address)")
		}
	}
	checkUnicast(&ps, "transport.address", c.Transport.Address)

	switch c.Dataplane.Driver {
	case DriverAuto, DriverSeg6, DriverIp6tnl, DriverFake:
	default:
		ps.add("dataplane.driver", "unknown driver %q (seg6, ip6tnl, fake or auto)", c.Dataplane.Driver)
	}

	c.validateLMA(&ps, lma)
	c.validateMAG(&ps, mag)
	c.validateDMM(&ps)

	if l := c.Metrics.Listen; l != "" {
		host, port, err := net.SplitHostPort(l)
		if err != nil {
			ps.add("metrics.listen", "must be host:port, e.g. 127.0.0.1:9469 or [::1]:9469 (got %q)", l)
		} else {
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				ps.add("metrics.listen", "invalid port %q", port)
			}
			if host != "" && host != "localhost" {
				if _, err := netip.ParseAddr(host); err != nil {
					ps.add("metrics.listen", "host must be an IP address or localhost (got %q)", host)
				}
			}
		}
	}
	c.validateIPsec(&ps)
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

// validateIPsec reports the problems ipsec.Settings.Validate finds (it
// reads no key file) as ipsec.<field> lines.
func (c *Config) validateIPsec(ps *problems) {
	if c.IPsec == nil {
		return
	}
	var visit func(error)
	visit = func(err error) {
		var fe *ipsec.FieldError
		switch x := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				visit(e)
			}
		default:
			if errors.As(err, &fe) {
				ps.add("ipsec."+fe.Field, "%s", fe.Reason)
			} else {
				ps.add("ipsec", "%v", err)
			}
		}
	}
	if err := c.IPsec.Validate(); err != nil {
		visit(err)
	}
}

func (c *Config) validateNode(ps *problems) {
	if c.Node.LogLevel > logrus.TraceLevel {
		ps.add("node.log_level", "unknown log level %d", c.Node.LogLevel)
	}
	if c.Node.StateDir == "" {
		ps.add("node.state_dir", "required")
	}
}

func (c *Config) validateRoles(ps *problems) {
	if len(c.Roles) == 0 {
		ps.add("roles", "required (at least one of lma, mag, mr, haa, lm)")
	}
	seen := map[Role]bool{}
	for i, r := range c.Roles {
		key := fmt.Sprintf("roles[%d]", i)
		switch r {
		case RoleLMA, RoleMAG, RoleMR, RoleHAA, RoleLM:
		default:
			ps.add(key, "unknown role %q (lma, mag, mr, haa or lm)", r)
		}
		if seen[r] {
			ps.add(key, "role %q listed twice", r)
		}
		seen[r] = true
	}
}

// checkUnicast reports an address that cannot be a signalling or tunnel
// endpoint; an absent (zero) address is not checked.
func checkUnicast(ps *problems, key string, a netip.Addr) {
	switch {
	case !a.IsValid():
	case !a.Is6() || a.Is4In6():
		ps.add(key, "must be an IPv6 address (got %s)", a)
	case a.Zone() != "":
		ps.add(key, "must not have a zone (got %s)", a)
	case a.IsUnspecified():
		ps.add(key, "must not be the unspecified address ::")
	case a.IsMulticast():
		ps.add(key, "must not be a multicast address (got %s)", a)
	case a.IsLinkLocalUnicast():
		ps.add(key, "must not be a link-local address (got %s)", a)
	}
}

// checkPrefix reports a prefix that is not a canonical IPv6 prefix.
func checkPrefix(ps *problems, key string, p netip.Prefix) bool {
	switch {
	case !p.IsValid():
		ps.add(key, "required")
	case !p.Addr().Is6() || p.Addr().Is4In6():
		ps.add(key, "must be an IPv6 prefix (got %s)", p)
	case p.Addr().Zone() != "":
		ps.add(key, "must not have a zone (got %s)", p)
	case p.Masked() != p:
		ps.add(key, "%s has host bits set (did you mean %s?)", p, p.Masked())
	default:
		return true
	}
	return false
}

// durRange reports d outside [lo, hi] (hi < 0: no upper bound).
func durRange(ps *problems, key string, d, lo, hi time.Duration) {
	switch {
	case hi < 0 && d < lo:
		ps.add(key, "must be >= %s", fmtDur(lo))
	case hi >= 0 && (d < lo || d > hi):
		ps.add(key, "must be between %s and %s (got %s)", fmtDur(lo), fmtDur(hi), fmtDur(d))
	}
}

// fmtDur prints a duration without trailing zero units (1h, 1m30s, 0s).
func fmtDur(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	for _, suf := range []string{"m0s", "h0m"} {
		if len(s) > len(suf) && s[len(s)-len(suf):] == suf {
			s = s[:len(s)-len(suf)+1]
		}
	}
	return s
}

// prefixSet finds overlaps between named prefixes.
type prefixSet struct {
	keys []string
	ps   []netip.Prefix
}

func (s *prefixSet) overlap(p netip.Prefix) (string, netip.Prefix, bool) {
	for i, q := range s.ps {
		if q.Overlaps(p) {
			return s.keys[i], q, true
		}
	}
	return "", netip.Prefix{}, false
}

func (s *prefixSet) add(key string, p netip.Prefix) {
	s.keys = append(s.keys, key)
	s.ps = append(s.ps, p)
}

func (c *Config) validateLMA(ps *problems, enabled bool) {
	l := &c.LMA
	if l.Address != c.Transport.Address {
		checkUnicast(ps, "lma.address", l.Address)
	}

	var pools prefixSet
	for i, p := range l.Pools {
		key := fmt.Sprintf("lma.pools[%d]", i)
		if !checkPrefix(ps, key+".prefix", p.Prefix) {
			continue
		}
		if p.AssignLength < p.Prefix.Bits() || p.AssignLength > 128 {
			ps.add(key+".assign_length", "must be between %d (the pool's length) and 128 (got %d)", p.Prefix.Bits(), p.AssignLength)
		}
		if _, q, ok := pools.overlap(p.Prefix); ok {
			ps.add("lma.pools", "%s overlaps %s", q, p.Prefix)
		}
		pools.add(key, p.Prefix)
	}

	if enabled && len(l.MAGs) == 0 {
		ps.add("lma.mags", "required (at least one authorized MAG)")
	}
	mags := map[netip.Addr]int{}
	for i, m := range l.MAGs {
		key := fmt.Sprintf("lma.mags[%d]", i)
		if !m.Address.IsValid() {
			ps.add(key+".address", "required")
		}
		checkUnicast(ps, key+".address", m.Address)
		if j, dup := mags[m.Address]; dup && m.Address.IsValid() {
			ps.add(key+".address", "%s is already authorized by lma.mags[%d]", m.Address, j)
		} else {
			mags[m.Address] = i
		}
		if m.MNIDs.IsZero() {
			ps.add(key+".mn_ids", `required (a list of MN identifiers, or "*" for any)`)
		}
		for j, p := range m.Prefixes {
			checkPrefix(ps, fmt.Sprintf("%s.prefixes[%d]", key, j), p)
		}
	}

	ids := map[string]int{}
	var fixed prefixSet
	for i, mn := range l.MobileNodes {
		key := fmt.Sprintf("lma.mobile_nodes[%d]", i)
		if mn.MNID == "" {
			ps.add(key+".mn_id", "required")
		} else if j, dup := ids[mn.MNID]; dup {
			ps.add(key+".mn_id", "%q is already defined by lma.mobile_nodes[%d]", mn.MNID, j)
		} else {
			ids[mn.MNID] = i
		}
		for j, p := range mn.Prefixes {
			pkey := fmt.Sprintf("%s.prefixes[%d]", key, j)
			if !checkPrefix(ps, pkey, p) {
				continue
			}
			if okey, q, ok := fixed.overlap(p); ok {
				ps.add(pkey, "%s overlaps %s (%s)", p, q, okey)
			}
			fixed.add(pkey, p)
		}
	}

	t := &l.Timers
	durRange(ps, "lma.timers.min_delay_before_bce_delete", t.MinDelayBeforeBCEDelete, 0, -1)
	durRange(ps, "lma.timers.max_delay_before_new_bce_assign", t.MaxDelayBeforeNewBCEAssign, 0, -1)
	if t.TimestampValidityWindow <= 0 {
		ps.add("lma.timers.timestamp_validity_window", "must be > 0")
	}
	durRange(ps, "lma.max_lifetime", l.MaxLifetime, LifetimeUnit, MaxLifetime)
	switch l.Ordering {
	case OrderingTimestamp:
	case OrderingSequence:
		if l.MobileNodeGeneratedTimestamp {
			ps.add("lma.mobile_node_generated_timestamp", "must be false with ordering: sequence (RFC 5213 §9.3)")
		}
	default:
		ps.add("lma.ordering", "unknown ordering %q (timestamp or sequence)", l.Ordering)
	}
	validateHeartbeat(ps, "lma.heartbeat", l.Heartbeat)
	r := &l.Revocation
	durRange(ps, "lma.revocation.init_delay", r.InitDelay, MinBRIInitDelay, -1)
	if r.MaxTimeout < r.InitDelay {
		ps.add("lma.revocation.max_timeout", "must be >= init_delay (%s)", fmtDur(r.InitDelay))
	}
	if r.MaxRetries < 0 {
		ps.add("lma.revocation.max_retries", "must be >= 0")
	}
}

func validateHeartbeat(ps *problems, key string, h Heartbeat) {
	durRange(ps, key+".interval", h.Interval, MinHeartbeatInterval, MaxHeartbeatInterval)
	if h.MissingAllowed < 1 {
		ps.add(key+".missing_allowed", "must be >= 1")
	}
}

func (c *Config) validateMAG(ps *problems, enabled bool) {
	m := &c.MAG
	if m.Address != c.Transport.Address {
		checkUnicast(ps, "mag.address", m.Address)
	}
	if enabled && !m.LMAAddress.IsValid() {
		ps.add("mag.lma_address", "required")
	}
	checkUnicast(ps, "mag.lma_address", m.LMAAddress)

	if enabled && len(m.Access) == 0 {
		ps.add("mag.access", "required (at least one access interface)")
	}
	ifs := map[string]int{}
	naiMap := false
	for i, a := range m.Access {
		key := fmt.Sprintf("mag.access[%d]", i)
		if a.Interface == "" {
			ps.add(key+".interface", "required")
		} else if j, dup := ifs[a.Interface]; dup {
			ps.add(key+".interface", "%q is already listed as mag.access[%d]", a.Interface, j)
		} else {
			ifs[a.Interface] = i
		}
		if a.ATT == 0 {
			ps.add(key+".att", "must not be 0 (Reserved)")
		}
		switch a.MNIDFrom {
		case MNIDFromMAC, MNIDFromInterface:
		case MNIDFromNAIMap:
			naiMap = true
		default:
			ps.add(key+".mn_id_from", "unknown source %q (mac, interface or nai-map)", a.MNIDFrom)
		}
		if a.AttachHI != uint8(mh.HIAttachNewInterface) && a.AttachHI != uint8(mh.HIHandoffStateUnknown) {
			ps.add(key+".attach_handoff_indicator", "must be 1 (attachment over a new interface) or 4 (handoff state unknown) (got %d)", a.AttachHI)
		}
		switch mh.HandoffIndicatorValue(a.MovedHI) {
		case mh.HIHandoffBetweenIfaces, mh.HIHandoffBetweenMAGs, mh.HIHandoffStateUnknown:
		default:
			ps.add(key+".moved_handoff_indicator", "must be 2, 3 or 4 (got %d)", a.MovedHI)
		}
	}

	ids := map[string]int{}
	macs := map[string]int{}
	for i, p := range m.MobileNodes {
		key := fmt.Sprintf("mag.mobile_nodes[%d]", i)
		if p.MNID == "" {
			ps.add(key+".mn_id", "required")
		} else if j, dup := ids[p.MNID]; dup {
			ps.add(key+".mn_id", "%q is already defined by mag.mobile_nodes[%d]", p.MNID, j)
		} else {
			ids[p.MNID] = i
		}
		if len(p.MAC) == 0 {
			if naiMap {
				ps.add(key+".mac", "required (an access interface uses mn_id_from: nai-map)")
			}
		} else if j, dup := macs[p.MAC.String()]; dup {
			ps.add(key+".mac", "%s is already used by mag.mobile_nodes[%d]", p.MAC, j)
		} else {
			macs[p.MAC.String()] = i
		}
		if p.LMA != m.LMAAddress {
			checkUnicast(ps, key+".lma", p.LMA)
		}
		for j, q := range p.Prefixes {
			checkPrefix(ps, fmt.Sprintf("%s.prefixes[%d]", key, j), q)
		}
	}

	if m.Lifetime <= 0 || m.Lifetime > MaxLifetime {
		ps.add("mag.lifetime", "must be between 4s and 262140s (got %s)", fmtDur(m.Lifetime))
	} else if m.Lifetime%LifetimeUnit != 0 {
		ps.add("mag.lifetime", "must be a multiple of 4s, the lifetime unit (got %s)", fmtDur(m.Lifetime))
	}
	rt := &m.Retransmission
	if rt.Initial <= 0 {
		ps.add("mag.retransmission.initial", "must be > 0")
	}
	if rt.Max < rt.Initial {
		ps.add("mag.retransmission.max", "must be >= initial (%s)", fmtDur(rt.Initial))
	}
	if rt.MaxRate < 1 {
		ps.add("mag.retransmission.max_rate", "must be >= 1")
	}
	rb := m.ReregisterBefore
	switch {
	case rb.Fraction != 0 && (rb.Fraction <= 0 || rb.Fraction >= 1):
		ps.add("mag.reregister_before", "fraction must be between 0 and 1 exclusive (got %s)", rb)
	case rb.Fraction == 0 && rb.Duration <= 0:
		ps.add("mag.reregister_before", "must be > 0")
	case rb.Fraction == 0 && rb.Duration >= m.Lifetime:
		ps.add("mag.reregister_before", "must be shorter than mag.lifetime (%s)", fmtDur(m.Lifetime))
	}
	ra := &m.RouterAdvertisement
	durRange(ps, "mag.router_advertisement.interval", ra.Interval, 70*time.Millisecond, 1800*time.Second)
	if ra.RouterLifetime != 0 {
		durRange(ps, "mag.router_advertisement.router_lifetime", ra.RouterLifetime, ra.Interval, 9000*time.Second)
	}
	if ra.MTU < 1280 || ra.MTU > 65535 {
		ps.add("mag.router_advertisement.mtu", "must be between 1280 and 65535 (got %d)", ra.MTU)
	}
	durRange(ps, "mag.router_advertisement.valid_lifetime", ra.ValidLifetime, 0, 0xFFFFFFFF*time.Second)
	if ra.PreferredLifetime < 0 || ra.PreferredLifetime > ra.ValidLifetime {
		ps.add("mag.router_advertisement.preferred_lifetime", "must be between 0s and valid_lifetime (%s)", fmtDur(ra.ValidLifetime))
	}
	if a := m.LinkLocalAddress; a.IsValid() && !a.IsUnspecified() && (!a.Is6() || !a.IsLinkLocalUnicast()) {
		ps.add("mag.link_local_address", "must be an IPv6 link-local address, or :: to disable (got %s)", a)
	}
	if n := len(m.LinkLayerAddress); n != 0 && n != 6 {
		ps.add("mag.link_layer_address", "must be 6 octets (got %d)", n)
	}
	validateHeartbeat(ps, "mag.heartbeat", m.Heartbeat)
}
