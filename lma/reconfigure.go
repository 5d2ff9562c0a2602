package lma

import (
	"context"
	"fmt"
	"net/netip"
)

// Reconfigure applies, while the LMA runs, the parts of c that can change
// live (a configuration reload): the MAG authorizations (MAGs), the mobile
// node policies (MNs, DefaultMN), the pools (Pools, PrefixesPerSession)
// and the RFC 5213 §9.1 timers and lifetime cap (MinDelayBeforeBCEDelete,
// MaxDelayBeforeNewBCEAssign, TimestampValidityWindow,
// NoWaitForDeregistration, MaxLifetime). Everything else in c (addresses,
// injected parts, the ordering scheme, heartbeat and revocation settings)
// is ignored.
//
// Existing bindings are kept as they are: a new policy applies to the next
// PBU (a refresh from a MAG no longer authorized gets 154). Prefixes in
// use stay in use until their binding goes, even when their pool was
// removed. A change of PrefixLen is refused while prefixes are allocated,
// and so is a static prefix given to two MNs; on error nothing changes.
func (l *LMA) Reconfigure(ctx context.Context, c Config) error {
	c.Address, c.Transport, c.DataPlane = l.cfg.Address, l.cfg.Transport, l.cfg.DataPlane
	c.Clock, c.Log = l.cfg.Clock, l.cfg.Log
	if err := c.setDefaults(); err != nil {
		return err
	}
	var err error
	cerr := l.call(ctx, func() {
		static := map[netip.Prefix]string{}
		var reserved []netip.Prefix
		for k, p := range c.MNs {
			for _, x := range p.Prefixes {
				x = x.Masked()
				if o, dup := static[x]; dup {
					err = fmt.Errorf("lma: prefix %v assigned to both %q and %q", x, o, k)
					return
				}
				static[x] = k
				reserved = append(reserved, x)
			}
		}
		if c.PrefixLen != l.cfg.PrefixLen && l.allocCount > 0 {
			err = fmt.Errorf("lma: prefix length /%d -> /%d: not while %d prefixes are in use (restart)",
				l.cfg.PrefixLen, c.PrefixLen, l.allocCount)
			return
		}
		pool := newPrefixPool(c.Pools, c.PrefixLen, reserved)
		// Keep each surviving pool's cursor, so that released prefixes
		// are still handed out last.
		for i, x := range pool.pools {
			for j, y := range l.pool.pools {
				if x == y && c.PrefixLen == l.cfg.PrefixLen {
					pool.cursor[i].Set(l.pool.cursor[j])
				}
			}
		}
		l.pool, l.static = pool, static
		l.poolDirty = true
		l.cfg.Pools, l.cfg.PrefixLen, l.cfg.PrefixesPerSession = c.Pools, c.PrefixLen, c.PrefixesPerSession
		l.cfg.MNs, l.cfg.DefaultMN, l.cfg.MAGs = c.MNs, c.DefaultMN, c.MAGs
		l.cfg.MinDelayBeforeBCEDelete = c.MinDelayBeforeBCEDelete
		l.cfg.MaxDelayBeforeNewBCEAssign = c.MaxDelayBeforeNewBCEAssign
		l.cfg.TimestampValidityWindow = c.TimestampValidityWindow
		l.cfg.NoWaitForDeregistration = c.NoWaitForDeregistration
		l.cfg.MaxLifetime = c.MaxLifetime
	})
	if cerr != nil {
		return cerr
	}
	return err
}
