package wire

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/mh"
)

// LocalLM is a LocationService calling an lm.LM in process, for an MR
// co-located with its LM (draft Figure 1, LM1/HAA1 at MR11). It answers
// as LMClient over LMServer would: the same locations (lifetimes in whole
// seconds left), the same error types and statuses.
type LocalLM struct {
	LM *lm.LM
	// Cache, when set, answers the queries (by MN-ID from memory only
	// when it is a replica).
	Cache *lm.Cache
	// Clock gives the Sequence of updates (the RFC 5213 §8.8 timestamp of
	// now, as LMClient sends it) and the lifetimes left (nil: the system
	// clock; it must be the LM's clock).
	Clock clock.Clock
}

var _ LocationService = (*LocalLM)(nil)

func (l *LocalLM) clock() clock.Clock {
	if l.Clock == nil {
		return clock.New()
	}
	return l.Clock
}

func locationsOf(recs []lm.Record, now time.Time) []Location {
	out := make([]Location, len(recs))
	for i, r := range recs {
		out[i] = Location{Prefix: r.Prefix, AnchorMR: r.AnchorMR, CurrentMR: r.CurrentMR,
			Lifetime: time.Duration(r.RemainingSeconds(now)) * time.Second}
	}
	return out
}

// Query answers q from the LM.
func (l *LocalLM) Query(ctx context.Context, q Query) ([]Location, error) {
	var recs []lm.Record
	var err error
	switch q.Kind {
	case ByAddress, ByPrefix:
		var r lm.Record
		switch {
		case q.Kind == ByAddress && l.Cache != nil:
			r, err = l.Cache.QueryAddress(ctx, q.Addr)
		case q.Kind == ByAddress:
			r, err = l.LM.QueryAddress(ctx, q.Addr)
		case l.Cache != nil:
			r, err = l.Cache.QueryPrefix(ctx, q.Prefix.Masked())
		default:
			r, err = l.LM.QueryPrefix(ctx, q.Prefix.Masked())
		}
		recs = []lm.Record{r}
	case ByMNID:
		if l.Cache != nil {
			recs, err = l.Cache.QueryMN(ctx, q.MNID)
		} else {
			recs, err = l.LM.QueryMN(ctx, q.MNID)
		}
	default:
		err = fmt.Errorf("%w: query kind %d", lm.ErrInvalid, q.Kind)
	}
	if err != nil {
		return nil, &QueryError{Query: q, Status: lm.QueryStatus(err), Err: err}
	}
	return locationsOf(recs, l.clock().Now()), nil
}

// QueryMany answers the queries with one batched read of the LM.
func (l *LocalLM) QueryMany(ctx context.Context, qs []Query) ([]Result, error) {
	lq := make([]lm.Query, len(qs))
	for i, q := range qs {
		lq[i] = lm.Query{Addr: q.Addr, Prefix: q.Prefix.Masked(), MNID: q.MNID}
		switch q.Kind {
		case ByAddress:
			lq[i].Kind = lm.ByAddress
		case ByPrefix:
			lq[i].Kind = lm.ByPrefix
		case ByMNID:
			lq[i].Kind = lm.ByMNID
		default:
			lq[i].Kind = 0
		}
	}
	rs, err := l.LM.QueryBatch(ctx, lq)
	if err != nil {
		return nil, err
	}
	now := l.clock().Now()
	out := make([]Result, len(qs))
	for i, r := range rs {
		if r.Err != nil {
			out[i].Err = &QueryError{Query: qs[i], Status: lm.QueryStatus(r.Err), Err: r.Err}
			continue
		}
		out[i].Locations = locationsOf(r.Records, now)
	}
	return out, nil
}

// Update applies the location update to the LM, with the same meaning as
// LMClient.Update.
func (l *LocalLM) Update(ctx context.Context, mnID string, prefixes []netip.Prefix, currentMR, anchor netip.Addr, lifetime time.Duration) error {
	const op = "location update"
	if max := l.LM.Config().MaxLifetime; max > 0 && lifetime > max {
		lifetime = max
	}
	seq := mh.TimestampValue(l.clock().Now())
	st, err := applyUpdate(ctx, l.LM, mnID, prefixes, func(netip.Prefix) netip.Addr { return anchor }, currentMR, lifetime, seq)
	if !st.Accepted() {
		return &RejectError{Op: op, Status: st, Err: err}
	}
	return nil
}

// LocalHAA is an AddressAllocator calling an haa.HAA in process, for an
// MR co-located with its HAA. MR is the address allocations are anchored
// at (the MR's own address, as the source of a PBU would be).
type LocalHAA struct {
	HAA *haa.HAA
	MR  netip.Addr
	// Lifetime of allocations (default 1 h, as HAAClient).
	Lifetime time.Duration
	// Clock gives the lifetimes left (nil: the system clock; it must be
	// the HAA's clock).
	Clock clock.Clock
}

var _ AddressAllocator = (*LocalHAA)(nil)

func (h *LocalHAA) now() time.Time {
	if h.Clock == nil {
		return time.Now()
	}
	return h.Clock.Now()
}

func (h *LocalHAA) lifetime() time.Duration {
	d := h.Lifetime
	if d <= 0 {
		d = time.Hour
	}
	if max := h.HAA.Config().MaxLifetime; max > 0 && d > max {
		d = max
	}
	return d
}

// Allocate gives mnID a prefix anchored at h.MR (or renews the one it
// holds there).
func (h *LocalHAA) Allocate(ctx context.Context, mnID string) ([]Holding, error) {
	a, err := allocate(ctx, h.HAA, mnID, h.MR, h.lifetime())
	if err != nil {
		return nil, &RejectError{Op: "HAA allocation", Status: haa.StatusFor(err), Err: err}
	}
	return []Holding{{Prefix: a.Prefix, AnchorMR: a.AnchorMR, Lifetime: max(a.Expiry.Sub(h.now()), 0)}}, nil
}

// Holdings returns every prefix mnID holds with its anchor; each
// Lifetime is that prefix's own lifetime left (over the wire, the PBA
// gives the shortest of them for all).
func (h *LocalHAA) Holdings(ctx context.Context, mnID string) ([]Holding, error) {
	as, err := h.HAA.Holdings(ctx, mnID)
	if err != nil {
		return nil, &RejectError{Op: "HAA HNP status", Status: haa.StatusFor(err), Err: err}
	}
	now := h.now()
	out := make([]Holding, len(as))
	for i, a := range as {
		out[i] = Holding{Prefix: a.Prefix, AnchorMR: a.AnchorMR, Lifetime: max(a.Expiry.Sub(now), 0)}
	}
	return out, nil
}

// Release frees the prefixes (stopping at the first refusal).
func (h *LocalHAA) Release(ctx context.Context, mnID string, prefixes ...netip.Prefix) error {
	for _, p := range prefixes {
		if _, err := h.HAA.Release(ctx, mnID, p); err != nil {
			return &RejectError{Op: "HAA release", Status: haa.StatusFor(err), Err: err}
		}
	}
	return nil
}
