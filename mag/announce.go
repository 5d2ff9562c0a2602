package mag

import (
	"time"

	"github.com/pmipdmm/pmipdmm/internal/ndp"
)

// minDelayBetweenRAs is MIN_DELAY_BETWEEN_RAS (RFC 4861 §10): the least
// time between two RAs to all-nodes on one link.
const minDelayBetweenRAs = 3 * time.Second

// announce makes the MAG known as the MN's router on l, which just came
// up: an unsolicited NA for the RFC 6543 link-local address (Override, the
// fixed MAC as target link-layer address) and an RA without prefixes to
// all-nodes. A plain host drops its neighbor entry for the router when it
// loses carrier, and after a move its first solicitation is often lost:
// without this it would hold its packets until its retry 1 s later. The
// RA names no prefix (none may be advertised before the PBA, RFC 5213
// §6.9.1.1); it carries the router lifetime, so the host's default route
// stays, and the MTU. The RA is skipped if one went to all-nodes on this
// link less than MIN_DELAY_BETWEEN_RAS ago.
func (m *MAG) announce(l *link) {
	if l.index == 0 {
		return
	}
	now := m.clk.Now()
	var ra *ndp.RA
	if l.announced.IsZero() || now.Sub(l.announced) >= minDelayBetweenRAs {
		ra = &ndp.RA{CurHopLimit: 64, RouterLifetime: m.cfg.RouterLifetime, SourceLinkLayer: ndp.RouterMAC, MTU: m.cfg.MTU}
		l.announced = now
	}
	if err := ndp.Announce(m.nd, l.index, ra); err != nil {
		m.cnt.RAErrors++
		m.log.WithError(err).WithField("interface", l.name).Warn("announcing the router on the access link")
		return
	}
	m.cnt.Announcements++
	m.log.WithField("interface", l.name).WithField("ra", ra != nil).Debug("router announced on the access link (NA, RA)")
}
