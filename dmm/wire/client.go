package wire

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// LMClient is an MR's client of an LM (a LocationService over the
// network). Safe for concurrent use.
type LMClient struct {
	r  *Requester
	lm netip.Addr
	// ATT is the Access Technology Type put in location updates (the LM
	// ignores it; wire-format §1 lists it). Default mh.ATTVirtual.
	ATT mh.ATT
}

var _ LocationService = (*LMClient)(nil)

// NewLMClient returns a client of the LM at lmAddr over r.
func NewLMClient(r *Requester, lmAddr netip.Addr) *LMClient {
	return &LMClient{r: r, lm: lmAddr, ATT: mh.ATTVirtual}
}

// Peer returns the LM's address.
func (c *LMClient) Peer() netip.Addr { return c.lm }

func queryOption(q Query) (*mh.LocationQueryOption, error) {
	switch q.Kind {
	case ByAddress:
		if !q.Addr.Is6() || q.Addr.Is4In6() {
			return nil, fmt.Errorf("address %v is not IPv6", q.Addr)
		}
		return mh.NewQueryByHomeAddress(q.Addr), nil
	case ByPrefix:
		if !q.Prefix.IsValid() || !q.Prefix.Addr().Is6() || q.Prefix.Addr().Is4In6() {
			return nil, fmt.Errorf("prefix %v is not IPv6", q.Prefix)
		}
		return mh.NewQueryByPrefix(q.Prefix), nil
	case ByMNID:
		if q.MNID == "" || len(q.MNID) > 253 {
			return nil, fmt.Errorf("MN-ID of %d octets (1-253)", len(q.MNID))
		}
		return mh.NewQueryByMNID(mnOption(q.MNID)), nil
	}
	return nil, fmt.Errorf("query kind %d", q.Kind)
}

// Query sends a Location Query (Figure 3 step 2, Figure 4 step 4) and
// returns the Routing Locations of the reply. A reply with a failure
// status is a *QueryError (ErrLocationUnknown for 131); a query that
// cannot be encoded is a *QueryError with status 132, not sent.
func (c *LMClient) Query(ctx context.Context, q Query) ([]Location, error) {
	opt, err := queryOption(q)
	if err != nil {
		return nil, &QueryError{Query: q, Status: mh.DMMStatusInvalidRequest, Err: err}
	}
	m := &mh.LocationQuery{}
	m.Options = mh.Options{opt}
	ans, err := c.r.do(ctx, "location query", c.lm, wantLocationReply, m)
	if err != nil {
		return nil, err
	}
	lr := ans.(*mh.LocationReply)
	if !lr.Status.Accepted() {
		return nil, &QueryError{Query: q, Status: lr.Status}
	}
	rls := lr.Locations()
	out := make([]Location, 0, len(rls))
	for _, rl := range rls {
		out = append(out, Location{Prefix: rl.AsPrefix(), AnchorMR: rl.AnchorMR, CurrentMR: rl.CurrentMR,
			Lifetime: time.Duration(rl.Lifetime) * time.Second})
	}
	return out, nil
}

// QueryMany sends the queries concurrently and returns their results,
// aligned with qs. The error is ctx's when it ended first.
func (c *LMClient) QueryMany(ctx context.Context, qs []Query) ([]Result, error) {
	out := make([]Result, len(qs))
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Go(func() {
			out[i].Locations, out[i].Err = c.Query(ctx, q)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Update sends a location update (draft §4.1, §4.2, Figure 5 step 8): a
// PBU (A, P, D) with the MN-ID, one HNP per prefix, HI 1 when the
// prefixes are anchored at the current MR (attachment) and 3 otherwise
// (after movement), ATT, a Timestamp from the requester's clock (it
// orders the updates of a prefix across MRs), the Serving MAAR (68) =
// currentMR and, when anchor differs from currentMR, one Previous MAAR
// (67) per prefix with P-MAAR = anchor. Lifetime 0 withdraws the
// locations. A PBA with a failure status is a *RejectError.
func (c *LMClient) Update(ctx context.Context, mnID string, prefixes []netip.Prefix, currentMR, anchor netip.Addr, lifetime time.Duration) error {
	const op = "location update"
	if mnID == "" || len(prefixes) == 0 {
		return &RejectError{Op: op, Status: mh.StatusReasonUnspecified, Err: fmt.Errorf("MN-ID %q with %d prefixes", mnID, len(prefixes))}
	}
	bu := &mh.BindingUpdate{Flags: mh.BUFlagA | mh.BUFlagP | mh.BUFlagD, Lifetime: lifetimeUnits(lifetime)}
	bu.Options = append(bu.Options, mnOption(mnID))
	for _, p := range prefixes {
		bu.Options = append(bu.Options, mh.NewHNP(p))
	}
	hi := mh.HIHandoffBetweenMAGs
	if anchor == currentMR {
		hi = mh.HIAttachNewInterface
	}
	bu.Options = append(bu.Options, &mh.HandoffIndicator{Value: hi}, &mh.AccessTechnologyType{Value: c.ATT},
		mh.NewTimestamp(c.r.cfg.Clock.Now()), &mh.ServingMAAR{Address: currentMR})
	if anchor != currentMR {
		for _, p := range prefixes {
			bu.Options = append(bu.Options, mh.NewPreviousMAAR(anchor, p))
		}
	}
	ba, err := ctxDo(ctx, c.r, op, c.lm, bu)
	return pbaStatus(op, ba, err)
}

func ctxDo(ctx context.Context, r *Requester, op string, peer netip.Addr, bu *mh.BindingUpdate) (*mh.BindingAck, error) {
	ans, err := r.do(ctx, op, peer, wantPBA, bu)
	if err != nil {
		return nil, err
	}
	return ans.(*mh.BindingAck), nil
}

func pbaStatus(op string, ba *mh.BindingAck, err error) error {
	if err != nil {
		return err
	}
	if !ba.Status.Accepted() {
		return &RejectError{Op: op, Status: ba.Status}
	}
	return nil
}

// HAAClient is an MR's client of an HAA (an AddressAllocator over the
// network). Safe for concurrent use.
type HAAClient struct {
	r   *Requester
	haa netip.Addr
	// Lifetime asked for in allocations and status requests (default
	// 1 h; the HAA may grant less).
	Lifetime time.Duration
	// ATT is the Access Technology Type put in the PBUs (default
	// mh.ATTVirtual).
	ATT mh.ATT
}

var _ AddressAllocator = (*HAAClient)(nil)

// NewHAAClient returns a client of the HAA at haaAddr over r. The
// allocations it asks for are anchored at r's address.
func NewHAAClient(r *Requester, haaAddr netip.Addr) *HAAClient {
	return &HAAClient{r: r, haa: haaAddr, Lifetime: time.Hour, ATT: mh.ATTVirtual}
}

// Peer returns the HAA's address.
func (c *HAAClient) Peer() netip.Addr { return c.haa }

func (c *HAAClient) pbu(mnID string, life time.Duration, hi mh.HandoffIndicatorValue, hnps ...*mh.HomeNetworkPrefix) *mh.BindingUpdate {
	bu := &mh.BindingUpdate{Flags: mh.BUFlagA | mh.BUFlagP | mh.BUFlagD, Lifetime: lifetimeUnits(life)}
	bu.Options = append(bu.Options, mnOption(mnID))
	for _, h := range hnps {
		bu.Options = append(bu.Options, h)
	}
	bu.Options = append(bu.Options, &mh.HandoffIndicator{Value: hi}, &mh.AccessTechnologyType{Value: c.ATT})
	return bu
}

func allZeroHNP() *mh.HomeNetworkPrefix {
	return &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}
}

// Allocate asks the HAA for a prefix anchored at this MR (draft §4.1): a
// PBU (A, P, D) with the MN-ID, one ALL_ZERO HNP, HI 1 and ATT. The
// holdings returned are the PBA's HNPs, anchored at this MR.
func (c *HAAClient) Allocate(ctx context.Context, mnID string) ([]Holding, error) {
	const op = "HAA allocation"
	ba, err := ctxDo(ctx, c.r, op, c.haa, c.pbu(mnID, c.lifetime(), mh.HIAttachNewInterface, allZeroHNP()))
	if err := pbaStatus(op, ba, err); err != nil {
		return nil, err
	}
	return holdingsOf(ba, c.r.LocalAddr())
}

// Holdings asks the HAA which prefixes the node holds and where each is
// anchored (draft §4.2, at the new MR): a PBU (A, P, D) with the MN-ID,
// an ALL_ZERO HNP, HI 3 and ATT; the PBA's Previous MAAR options give
// the anchors.
func (c *HAAClient) Holdings(ctx context.Context, mnID string) ([]Holding, error) {
	const op = "HAA HNP status"
	ba, err := ctxDo(ctx, c.r, op, c.haa, c.pbu(mnID, c.lifetime(), mh.HIHandoffBetweenMAGs, allZeroHNP()))
	if err := pbaStatus(op, ba, err); err != nil {
		return nil, err
	}
	return holdingsOf(ba, netip.Addr{})
}

// Release frees prefixes of the node: a PBU with Lifetime 0 listing them.
func (c *HAAClient) Release(ctx context.Context, mnID string, prefixes ...netip.Prefix) error {
	const op = "HAA release"
	if len(prefixes) == 0 {
		return nil
	}
	hnps := make([]*mh.HomeNetworkPrefix, len(prefixes))
	for i, p := range prefixes {
		hnps[i] = mh.NewHNP(p)
	}
	ba, err := ctxDo(ctx, c.r, op, c.haa, c.pbu(mnID, 0, mh.HIAttachNewInterface, hnps...))
	return pbaStatus(op, ba, err)
}

func (c *HAAClient) lifetime() time.Duration {
	if c.Lifetime <= 0 {
		return time.Hour
	}
	return c.Lifetime
}

// holdingsOf reads the holdings of a PBA: each HNP with the anchor of its
// Previous MAAR, or dflt when it has none (an invalid dflt makes that an
// ErrBadReply).
func holdingsOf(ba *mh.BindingAck, dflt netip.Addr) ([]Holding, error) {
	anchors := map[netip.Prefix]netip.Addr{}
	for _, o := range ba.Options {
		if pm, ok := o.(*mh.PreviousMAAR); ok {
			p := pm.AsPrefix()
			if a, dup := anchors[p]; dup && a != pm.Address {
				return nil, fmt.Errorf("%w: %v anchored at both %v and %v", ErrBadReply, p, a, pm.Address)
			}
			anchors[p] = pm.Address
		}
	}
	life := unitsDuration(ba.Lifetime)
	var out []Holding
	for _, o := range ba.Options {
		h, ok := o.(*mh.HomeNetworkPrefix)
		if !ok || h.AllZero() {
			continue
		}
		p := h.AsPrefix()
		a, ok := anchors[p]
		if !ok {
			if !dflt.IsValid() {
				return nil, fmt.Errorf("%w: no Previous MAAR for %v", ErrBadReply, p)
			}
			a = dflt
		}
		out = append(out, Holding{Prefix: p, AnchorMR: a, Lifetime: life})
	}
	return out, nil
}
