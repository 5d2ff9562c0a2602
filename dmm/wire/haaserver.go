package wire

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// maxHoldings is the most prefixes one PBA lists: per prefix an HNP (20
// octets) and a Previous MAAR (36), after the fixed part, the MN-ID (at
// most 257), HI and ATT, within 2048 octets.
const maxHoldings = (2048 - 12 - 260 - 8) / 56

// HAAServer answers the PBUs of the MRs for an HAA front-end
// (docs/wire-format.md §1, rows 4.1 and 4.2):
//
//   - Lifetime > 0, an ALL_ZERO HNP, HI 1 (or no HI): allocation for the
//     MR that sent the PBU (its source address): haa.Allocate, and if the
//     node already held a prefix of that MR, haa.Renew to the requested
//     lifetime. The PBA carries the HNP.
//   - Lifetime > 0, an ALL_ZERO HNP, any other HI (3 at a new MR): HNP
//     status. The PBA lists each prefix the node holds as an HNP and a
//     Previous MAAR (67) with P-MAAR = its anchor MR; its Lifetime is the
//     shortest lifetime left among them.
//   - Lifetime > 0, HNPs that are not ALL_ZERO: renewal of those prefixes.
//   - Lifetime 0: release of the listed prefixes.
//
// Errors map to PBA statuses by haa.StatusFor (exhaustion 130, no pool
// for the MR 129, prefix not held 155, else 128).
type HAAServer struct {
	haa *haa.HAA
	cfg ServerConfig
	srv *server
}

// NewHAAServer returns a server for h on tr. Run it with Serve.
func NewHAAServer(tr transport.Transport, h *haa.HAA, cfg ServerConfig) (*HAAServer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults("haa-server")
	s := &HAAServer{haa: h, cfg: cfg}
	s.srv = newServer(tr, cfg, s.handle, nil)
	return s, nil
}

// Serve answers requests until ctx is done (it then closes the
// transport) or the transport is closed (nil error).
func (s *HAAServer) Serve(ctx context.Context) error { return s.srv.serve(ctx) }

// Stats returns the server's counters.
func (s *HAAServer) Stats() ServerStats { return s.srv.stats.get() }

// Addr returns the address the server answers on.
func (s *HAAServer) Addr() netip.Addr { return s.srv.tr.LocalAddr() }

func (s *HAAServer) handle(ctx context.Context, p *transport.Packet, m mh.Message) mh.Message {
	bu, ok := m.(*mh.BindingUpdate)
	if !ok {
		return nil
	}
	key, hnps, ba := checkPBU(bu)
	if ba != nil {
		return ba
	}
	ba = pbaFor(bu)
	log := s.cfg.Log.WithField("mn", key).WithField("mr", p.Src)
	allZero := false
	for _, h := range hnps {
		allZero = allZero || h.AllZero()
	}
	hi := mh.HIAttachNewInterface
	if o, ok := mh.Find[*mh.HandoffIndicator](bu.Options); ok {
		hi = o.Value
	}
	life := unitsDuration(bu.Lifetime)
	if max := s.haa.Config().MaxLifetime; max > 0 && life > max {
		life = max
	}
	now := s.cfg.Clock.Now()
	var err error
	switch {
	case bu.Lifetime == 0:
		for _, h := range hnps {
			if !h.AllZero() {
				ba.Options = append(ba.Options, &mh.HomeNetworkPrefix{PrefixLength: h.PrefixLength, Prefix: h.Prefix})
			}
		}
		for _, h := range hnps {
			if h.AllZero() {
				continue
			}
			if _, err = s.haa.Release(ctx, key, h.AsPrefix()); err != nil {
				break
			}
		}
	case allZero && hi != mh.HIAttachNewInterface:
		var as []haa.Allocation
		as, err = s.haa.Holdings(ctx, key)
		if err == nil {
			if len(as) > maxHoldings {
				log.WithField("prefixes", len(as)).Warn("holdings truncated to what one PBA holds")
				as = as[:maxHoldings]
			}
			ba.Lifetime = holdingsReply(ba, as, now)
		}
	case allZero:
		var a haa.Allocation
		a, err = allocate(ctx, s.haa, key, p.Src, life)
		if err == nil {
			ba.Options = append(ba.Options, mh.NewHNP(a.Prefix))
			ba.Lifetime = lifetimeUnitsDown(a.Expiry.Sub(now))
		}
	default:
		left := time.Duration(-1)
		for _, h := range hnps {
			var a haa.Allocation
			if a, err = s.haa.Renew(ctx, key, h.AsPrefix(), life); err != nil {
				break
			}
			ba.Options = append(ba.Options, mh.NewHNP(a.Prefix))
			if d := a.Expiry.Sub(now); left < 0 || d < left {
				left = d
			}
		}
		if err == nil {
			ba.Lifetime = lifetimeUnitsDown(left)
		}
	}
	pbaTail(ba, bu)
	if err != nil {
		ba.Status = haa.StatusFor(err)
		ba.Lifetime = 0
		log.WithError(err).Info("HAA request refused")
	}
	return ba
}

// holdingsReply adds one HNP per allocation, then one Previous MAAR per
// allocation (P-MAAR = anchor MR), and returns the PBA Lifetime: the
// shortest lifetime left.
func holdingsReply(ba *mh.BindingAck, as []haa.Allocation, now time.Time) uint16 {
	for _, a := range as {
		ba.Options = append(ba.Options, mh.NewHNP(a.Prefix))
	}
	left := time.Duration(-1)
	for _, a := range as {
		ba.Options = append(ba.Options, mh.NewPreviousMAAR(a.AnchorMR, a.Prefix))
		if d := a.Expiry.Sub(now); left < 0 || d < left {
			left = d
		}
	}
	return lifetimeUnitsDown(left)
}

// allocate gives mnid a prefix of mr's pools; if it already held one,
// the allocation is renewed to life (so that allocating again refreshes).
func allocate(ctx context.Context, h *haa.HAA, mnid string, mr netip.Addr, life time.Duration) (haa.Allocation, error) {
	a, fresh, err := h.Allocate(ctx, mnid, mr, life)
	if err != nil || fresh {
		return a, err
	}
	r, err := h.Renew(ctx, mnid, a.Prefix, life)
	if errors.Is(err, haa.ErrNotHeld) {
		// Expired or released between the two calls: allocate anew.
		a, _, err = h.Allocate(ctx, mnid, mr, life)
		return a, err
	}
	return r, err
}
