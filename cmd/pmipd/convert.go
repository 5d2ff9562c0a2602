package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mag"
	"github.com/pmipdmm/pmipdmm/mh"
)

// lmaConfig maps the lma section of the file onto lma.Config (without the
// injected parts).
func lmaConfig(c *config.Config) (lma.Config, error) {
	s := &c.LMA
	out := lma.Config{
		Address:                           s.Address,
		MinDelayBeforeBCEDelete:           s.Timers.MinDelayBeforeBCEDelete,
		MaxDelayBeforeNewBCEAssign:        s.Timers.MaxDelayBeforeNewBCEAssign,
		TimestampValidityWindow:           s.Timers.TimestampValidityWindow,
		NoWaitForDeregistration:           !s.WaitForDeregistrationOnHI4,
		TimestampBasedApproachInUse:       s.Ordering != config.OrderingSequence,
		MobileNodeGeneratedTimestampInUse: s.MobileNodeGeneratedTimestamp,
		MaxLifetime:                       s.MaxLifetime,
		HeartbeatInterval:                 s.Heartbeat.Interval,
		MissingHeartbeatsAllowed:          s.Heartbeat.MissingAllowed,
		InitMinDelayBRIs:                  s.Revocation.InitDelay,
		MaxBRAckTimeout:                   s.Revocation.MaxTimeout,
		BRIMaxRetries:                     s.Revocation.MaxRetries,
		DataPlaneDev:                      c.Dataplane.TunnelInterface,
		// An MN without a policy entry is served when a MAG's mn_ids
		// admits it (configs/lma.yaml); the MAG check comes first.
		DefaultMN: &lma.MNPolicy{},
		MNs:       map[string]lma.MNPolicy{},
		MAGs:      map[netip.Addr]lma.MAGPolicy{},
	}
	if !s.Heartbeat.Enabled {
		out.HeartbeatInterval = -1
	}
	// The file's zero timers mean zero; lma.Config's zero means "RFC
	// default", so the smallest positive duration stands for zero.
	for _, d := range []*time.Duration{&out.MinDelayBeforeBCEDelete, &out.MaxDelayBeforeNewBCEAssign} {
		if *d == 0 {
			*d = time.Nanosecond
		}
	}
	for i, p := range s.Pools {
		if i == 0 {
			out.PrefixLen = p.AssignLength
		} else if p.AssignLength != out.PrefixLen {
			return out, fmt.Errorf("lma.pools[%d].assign_length: %d differs from the first pool's %d (one prefix length per LMA)",
				i, p.AssignLength, out.PrefixLen)
		}
		out.Pools = append(out.Pools, p.Prefix)
	}
	for _, m := range s.MobileNodes {
		out.MNs[m.MNID] = lma.MNPolicy{ProxyDisabled: !m.Allowed, Prefixes: m.Prefixes}
	}
	for _, m := range s.MAGs {
		pol := lma.MAGPolicy{Prefixes: m.Prefixes}
		if !m.MNIDs.Any {
			pol.MNs = append([]string(nil), m.MNIDs.IDs...)
			if len(pol.MNs) == 0 {
				// mn_ids: [] admits no MN; lma reads an empty list as "any".
				pol.MNs = []string{"\x00none"}
			}
		}
		out.MAGs[m.Address] = pol
	}
	return out, nil
}

// magConfig maps the mag section onto mag.Config (without the injected
// parts). warn receives what the MAG cannot honour as configured.
func magConfig(c *config.Config, warn func(key, reason string)) (mag.Config, error) {
	s := &c.MAG
	out := mag.Config{
		Address:                  s.Address,
		UplinkDev:                c.Dataplane.TunnelInterface,
		DefaultLMA:               s.LMAAddress,
		Lifetime:                 s.Lifetime,
		InitialBindackTimeout:    s.Retransmission.Initial,
		MaxBindackTimeout:        s.Retransmission.Max,
		MaxUpdateRate:            s.Retransmission.MaxRate,
		MTU:                      uint32(s.RouterAdvertisement.MTU),
		RouterLifetime:           s.RouterAdvertisement.RouterLifetime,
		PrefixValidLifetime:      s.RouterAdvertisement.ValidLifetime,
		PrefixPreferredLifetime:  s.RouterAdvertisement.PreferredLifetime,
		RAInterval:               s.RouterAdvertisement.Interval,
		HeartbeatInterval:        s.Heartbeat.Interval,
		MissingHeartbeatsAllowed: s.Heartbeat.MissingAllowed,
	}
	if out.UplinkDev == "" {
		out.UplinkDev = c.Transport.Interface
	}
	if out.InitialRAInterval == 0 && out.RAInterval > 0 && out.RAInterval < 4*time.Second {
		out.InitialRAInterval = out.RAInterval
	}
	if !s.Heartbeat.Enabled {
		out.HeartbeatInterval = -1
	}
	if s.RouterAdvertisement.RouterLifetime == 0 {
		warn("mag.router_advertisement.router_lifetime", "0 is read as the MAG's default (the MAG is always the default router)")
	}
	// reregister_before (lead before expiry) -> refresh at this fraction.
	lead := s.ReregisterBefore.Lead(s.Lifetime)
	if s.Lifetime > 0 {
		out.RefreshFraction = 1 - float64(lead)/float64(s.Lifetime)
	}
	if out.RefreshFraction <= 0 || out.RefreshFraction >= 1 {
		return out, fmt.Errorf("mag.reregister_before: %v leaves no time to refresh a %v binding", s.ReregisterBefore, s.Lifetime)
	}
	if s.LinkLocalAddress != ndp.RouterLinkLocal {
		warn("mag.link_local_address", fmt.Sprintf("%v not supported: the access links use the RFC 6543 address %v", s.LinkLocalAddress, ndp.RouterLinkLocal))
	}
	if !bytes.Equal(s.LinkLayerAddress, ndp.RouterMAC) {
		warn("mag.link_layer_address", fmt.Sprintf("%v not supported: the access links use the RFC 6543 address %v", s.LinkLayerAddress, ndp.RouterMAC))
	}
	for _, a := range s.Access {
		out.Interfaces = append(out.Interfaces, mag.Interface{Name: a.Interface, ATT: a.ATT,
			AttachHI: mh.HandoffIndicatorValue(a.AttachHI), MovedHI: mh.HandoffIndicatorValue(a.MovedHI)})
		switch a.MNIDFrom {
		case config.MNIDFromMAC:
			// The profile with the MN's MAC, else an MN-ID from the MAC.
			out.MACIdentity = true
		case config.MNIDFromInterface:
			out.Profiles = append(out.Profiles, mag.Profile{MNID: a.Interface, Interface: a.Interface})
		}
	}
	for _, p := range s.MobileNodes {
		if p.MAC == nil {
			warn("mag.mobile_nodes", fmt.Sprintf("%s has no mac: it cannot be recognised on an access link", p.MNID))
			continue
		}
		out.Profiles = append(out.Profiles, mag.Profile{MNID: p.MNID, MAC: p.MAC, LMA: s.ProfileLMA(&p), HNPs: p.Prefixes})
	}
	return out, nil
}
