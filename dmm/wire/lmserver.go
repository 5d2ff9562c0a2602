package wire

import (
	"context"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// maxLocations is the most Routing Location options a Location Reply
// holds: 12 octets before the options and 56 per option within the 2048
// octets of a Mobility Header (Header Len is one octet of 8-octet units).
const maxLocations = (2048 - 12) / 56

// LMServerConfig configures an LMServer.
type LMServerConfig struct {
	ServerConfig
	// Cache, when set, answers the queries (it must be a cache over the
	// served LM; by MN-ID only a replica answers from memory).
	Cache *lm.Cache
}

// LMServer answers Location Queries and location updates for an LM
// front-end (docs/wire-format.md §1, §3.1, §3.2). Several LMServers over
// LMs that share one store answer alike (the draft's LMs as a
// distributed database, §3.3).
type LMServer struct {
	lm  *lm.LM
	cfg LMServerConfig
	srv *server
}

// NewLMServer returns a server for l on tr. Run it with Serve.
func NewLMServer(tr transport.Transport, l *lm.LM, cfg LMServerConfig) (*LMServer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults("lm-server")
	s := &LMServer{lm: l, cfg: cfg}
	s.srv = newServer(tr, cfg.ServerConfig, s.handle, s.undecodable)
	return s, nil
}

// Serve answers requests until ctx is done (it then closes the
// transport) or the transport is closed (nil error).
func (s *LMServer) Serve(ctx context.Context) error { return s.srv.serve(ctx) }

// Stats returns the server's counters.
func (s *LMServer) Stats() ServerStats { return s.srv.stats.get() }

// Addr returns the address the server answers on.
func (s *LMServer) Addr() netip.Addr { return s.srv.tr.LocalAddr() }

func (s *LMServer) handle(ctx context.Context, p *transport.Packet, m mh.Message) mh.Message {
	switch m := m.(type) {
	case *mh.LocationQuery:
		return s.query(ctx, m)
	case *mh.BindingUpdate:
		return s.update(ctx, m)
	}
	return nil
}

// undecodable answers a Location Query whose option did not decode (e.g.
// an unknown Query Type) with status 132, as wire-format §4.1 asks.
func (s *LMServer) undecodable(p *transport.Packet) mh.Message {
	b := p.Data
	c := mh.CurrentCodepoints()
	if len(b) < 12 || mh.Type(b[2]) != c.CarrierMHType || b[6] != c.LocationQuery || b[0] != mh.IPProtoNone {
		return nil
	}
	return &mh.LocationReply{Status: mh.DMMStatusInvalidRequest, Sequence: uint16(b[8])<<8 | uint16(b[9])}
}

func (s *LMServer) query(ctx context.Context, q *mh.LocationQuery) mh.Message {
	lr := &mh.LocationReply{Sequence: q.Sequence}
	var opt *mh.LocationQueryOption
	for _, o := range q.Options {
		if lq, ok := o.(*mh.LocationQueryOption); ok {
			if opt != nil {
				lr.Status = mh.DMMStatusInvalidRequest // repeated
				return lr
			}
			opt = lq
		}
	}
	if opt == nil {
		lr.Status = mh.DMMStatusInvalidRequest
		return lr
	}
	var recs []lm.Record
	var err error
	switch opt.QueryType {
	case mh.QueryByHomeAddress:
		var r lm.Record
		if s.cfg.Cache != nil {
			r, err = s.cfg.Cache.QueryAddress(ctx, opt.Address)
		} else {
			r, err = s.lm.QueryAddress(ctx, opt.Address)
		}
		recs = append(recs, r)
	case mh.QueryByPrefix:
		p := netip.PrefixFrom(opt.Address, int(opt.PrefixLength)).Masked()
		var r lm.Record
		if s.cfg.Cache != nil {
			r, err = s.cfg.Cache.QueryPrefix(ctx, p)
		} else {
			r, err = s.lm.QueryPrefix(ctx, p)
		}
		recs = append(recs, r)
	case mh.QueryByMNID:
		key := MNKey(&mh.MNIdentifier{Subtype: opt.Subtype, Identifier: opt.Identifier})
		if s.cfg.Cache != nil {
			recs, err = s.cfg.Cache.QueryMN(ctx, key)
		} else {
			recs, err = s.lm.QueryMN(ctx, key)
		}
	default:
		lr.Status = mh.DMMStatusInvalidRequest
		return lr
	}
	lr.Status = lm.QueryStatus(err)
	if err != nil {
		if lr.Status == mh.DMMStatusReasonUnspecified {
			s.cfg.Log.WithError(err).Warn("location query failed")
		}
		return lr
	}
	if len(recs) > maxLocations {
		s.cfg.Log.WithField("records", len(recs)).Warn("location reply truncated to what one Mobility Header holds")
		recs = recs[:maxLocations]
	}
	now := s.cfg.Clock.Now()
	for i := range recs {
		r := &recs[i]
		lr.Options = append(lr.Options, mh.NewRoutingLocation(r.Prefix, r.AnchorMR, r.CurrentMR, r.RemainingSeconds(now)))
	}
	return lr
}

// update handles a location update: PBU (P=1, D=1) with MN-ID, HNP(s),
// Serving MAAR (68) = the current MR and, for each prefix anchored
// elsewhere, a Previous MAAR (67) naming the anchor (a prefix without one
// is anchored at the Serving MAAR). The Timestamp option (27), when
// present, orders the updates of a prefix across MRs (lm.Update.Sequence);
// without it the LM's time of receipt does. Lifetime 0 withdraws the
// locations.
func (s *LMServer) update(ctx context.Context, bu *mh.BindingUpdate) mh.Message {
	key, hnps, ba := checkPBU(bu)
	if ba != nil {
		return ba
	}
	ba = pbaFor(bu)
	for _, h := range hnps {
		ba.Options = append(ba.Options, &mh.HomeNetworkPrefix{PrefixLength: h.PrefixLength, Prefix: h.Prefix})
	}
	pbaTail(ba, bu)
	sm, ok := mh.Find[*mh.ServingMAAR](bu.Options)
	if !ok {
		ba.Status = mh.StatusReasonUnspecified
		return ba
	}
	anchors := map[netip.Prefix]netip.Addr{}
	for _, o := range bu.Options {
		if pm, ok := o.(*mh.PreviousMAAR); ok {
			anchors[pm.AsPrefix()] = pm.Address
		}
	}
	var seq uint64
	if ts, ok := mh.Find[*mh.Timestamp](bu.Options); ok {
		seq = ts.Value
	} else {
		seq = mh.TimestampValue(s.cfg.Clock.Now())
	}
	life := unitsDuration(bu.Lifetime)
	if max := s.lm.Config().MaxLifetime; max > 0 && life > max {
		life = max
	}
	prefixes := make([]netip.Prefix, len(hnps))
	for i, h := range hnps {
		prefixes[i] = h.AsPrefix()
	}
	st, err := applyUpdate(ctx, s.lm, key, prefixes, func(p netip.Prefix) netip.Addr {
		if a, ok := anchors[p]; ok {
			return a
		}
		return sm.Address
	}, sm.Address, life, seq)
	ba.Status = st
	if !st.Accepted() {
		s.cfg.Log.WithError(err).WithField("mn", key).Info("location update refused")
		return ba
	}
	ba.Lifetime = lifetimeUnitsDown(life)
	return ba
}

// applyUpdate applies one location update per prefix and returns the
// status of the first refusal (the earlier prefixes stay applied), or
// Accepted, with the LM's error.
func applyUpdate(ctx context.Context, l *lm.LM, mnid string, prefixes []netip.Prefix, anchorOf func(netip.Prefix) netip.Addr,
	current netip.Addr, life time.Duration, seq uint64) (mh.Status, error) {
	for _, p := range prefixes {
		_, err := l.Update(ctx, lm.Update{MNID: mnid, Prefix: p, AnchorMR: anchorOf(p), CurrentMR: current, Lifetime: life, Sequence: seq})
		if st := lm.UpdateStatus(err); !st.Accepted() {
			return st, err
		}
	}
	return mh.StatusAccepted, nil
}
