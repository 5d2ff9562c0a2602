// Package wire is the network front-end of the DMM functions of
// draft-luo-dmm-with-mip-and-pmip-00: servers that put the LM (dmm/lm)
// and the HAA (dmm/haa) on a transport.Transport, and the clients the MRs
// use to reach them, in the encoding of docs/wire-format.md:
//
//   - MR -> LM query (Figure 3 steps 2-3, Figure 4 steps 4-5): Location
//     Query with one Location Query option; Location Reply with one
//     Routing Location option per prefix (LMServer, LMClient.Query).
//   - MR -> LM location update (§4.1, §4.2, Figure 5 step 8): PBU (P=1,
//     D=1) with MN-ID, HNP(s), HI, ATT, Serving MAAR (68) = current MR, and
//     the anchor as described at LMClient.Update; PBA (P=1, D=1).
//   - MR -> HAA allocation (§4.1): PBU (P=1, D=1) with MN-ID, one ALL_ZERO
//     HNP, HI=1; PBA with the HNP anchored at the requesting MR (the PBU's
//     source address).
//   - nMR -> HAA HNP status (§4.2): PBU (P=1, D=1) with MN-ID, ALL_ZERO
//     HNP, HI=3; PBA with one Previous MAAR (67) per prefix (P-MAAR = the
//     anchor MR) and the HNPs.
//
// Nothing here decides anything: the servers translate messages to calls
// of lm.LM and haa.HAA and their errors to statuses (lm.QueryStatus,
// lm.UpdateStatus, haa.StatusFor); the clients translate back. The
// in-process adapters LocalLM and LocalHAA give an MR co-located with its
// LM and HAA (the draft's Figure 1 LM1/HAA1) the same interfaces,
// LocationService and AddressAllocator, as the clients.
package wire

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Location is the routing location of one prefix of a mobile node (the
// content of a Routing Location option, wire-format §4.2).
type Location struct {
	// Prefix is the node's prefix, or a home address as a /128.
	Prefix netip.Prefix
	// AnchorMR is the MR the prefix is anchored at (regular routing
	// delivers it there).
	AnchorMR netip.Addr
	// CurrentMR is the MR the node is attached to now.
	CurrentMR netip.Addr
	// Lifetime is how long the location may be cached, from the moment
	// it was received (whole seconds).
	Lifetime time.Duration
}

// Holding is a prefix a mobile node holds, with the MR it is anchored at.
type Holding struct {
	Prefix   netip.Prefix
	AnchorMR netip.Addr
	// Lifetime is the allocation lifetime left when the answer was made
	// (over the wire: the PBA's Lifetime, in whole 4-second units, the
	// same for every prefix of one answer).
	Lifetime time.Duration
}

// QueryKind says what a Query looks up.
type QueryKind uint8

// Query kinds (the Query Types of the Location Query option).
const (
	ByAddress QueryKind = iota + 1 // the longest prefix covering a home address
	ByPrefix                       // the longest recorded prefix covering a prefix
	ByMNID                         // every prefix of a mobile node
)

func (k QueryKind) String() string {
	switch k {
	case ByAddress:
		return "address"
	case ByPrefix:
		return "prefix"
	case ByMNID:
		return "MN-ID"
	}
	return fmt.Sprintf("query kind %d", uint8(k))
}

// Query is the key of a location query.
type Query struct {
	Kind   QueryKind
	Addr   netip.Addr   // ByAddress
	Prefix netip.Prefix // ByPrefix
	MNID   string       // ByMNID (see MNKey)
}

// QueryAddress returns a query by home address.
func QueryAddress(a netip.Addr) Query { return Query{Kind: ByAddress, Addr: a} }

// QueryPrefix returns a query by prefix.
func QueryPrefix(p netip.Prefix) Query { return Query{Kind: ByPrefix, Prefix: p} }

// QueryMN returns a query by MN-ID.
func QueryMN(mnID string) Query { return Query{Kind: ByMNID, MNID: mnID} }

func (q Query) String() string {
	switch q.Kind {
	case ByAddress:
		return "address " + q.Addr.String()
	case ByPrefix:
		return "prefix " + q.Prefix.String()
	case ByMNID:
		return fmt.Sprintf("MN-ID %q", q.MNID)
	}
	return q.Kind.String()
}

// Result answers one Query of a batch: Err is nil or the same kind of
// error Query returns (e.g. one matching ErrLocationUnknown).
type Result struct {
	Locations []Location
	Err       error
}

// LocationService is the LM as an MR sees it: LMClient over the network,
// LocalLM in process.
type LocationService interface {
	// Query returns the routing locations matching q: one for an address
	// or a prefix, every prefix of the node for an MN-ID. No location is
	// an error matching ErrLocationUnknown.
	Query(ctx context.Context, q Query) ([]Location, error)
	// QueryMany answers several queries; the results are aligned with qs.
	// The error is one that failed the whole batch.
	QueryMany(ctx context.Context, qs []Query) ([]Result, error)
	// Update records that the prefixes of mnID, anchored at anchor, are
	// reached through currentMR, for lifetime (0 withdraws them). A
	// refusal is a *RejectError with the PBA status.
	Update(ctx context.Context, mnID string, prefixes []netip.Prefix, currentMR, anchor netip.Addr, lifetime time.Duration) error
}

// AddressAllocator is the HAA as an MR sees it: HAAClient over the
// network, LocalHAA in process.
type AddressAllocator interface {
	// Allocate gives mnID a prefix anchored at the calling MR (or returns,
	// refreshed, the one it already holds there).
	Allocate(ctx context.Context, mnID string) ([]Holding, error)
	// Holdings returns every prefix mnID holds, with its anchor MR
	// (draft §4.2); none is an empty list, not an error.
	Holdings(ctx context.Context, mnID string) ([]Holding, error)
	// Release frees the prefixes of mnID now.
	Release(ctx context.Context, mnID string, prefixes ...netip.Prefix) error
}

// Errors of the clients and adapters.
var (
	// ErrTimeout is matched by a *TimeoutError: no answer after every
	// retransmission.
	ErrTimeout = errors.New("wire: no answer")
	// ErrLocationUnknown is matched by a *QueryError with status 131.
	ErrLocationUnknown = errors.New("wire: location unknown")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("wire: client closed")
	// ErrBadReply: the answer could not be understood (e.g. a PBA that
	// lists a prefix twice with different anchors).
	ErrBadReply = errors.New("wire: malformed reply")
)

// TimeoutError reports a request that got no answer.
type TimeoutError struct {
	Op       string // "location query", "location update", "HAA allocate", ...
	Peer     netip.Addr
	Attempts int // transmissions made
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("wire: %s to %v: no answer after %d transmissions", e.Op, e.Peer, e.Attempts)
}

// Unwrap makes errors.Is(err, ErrTimeout) hold.
func (e *TimeoutError) Unwrap() error { return ErrTimeout }

// QueryError is a Location Reply (or an in-process query) that failed,
// with its wire status.
type QueryError struct {
	Query  Query
	Status mh.DMMStatus
	// Err is the LM's error for an in-process query (nil over the wire).
	Err error
}

func (e *QueryError) Error() string {
	s := fmt.Sprintf("wire: location query by %v: status %d (%s)", e.Query, uint8(e.Status), e.Status)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches ErrLocationUnknown for status 131.
func (e *QueryError) Is(target error) bool {
	return target == ErrLocationUnknown && e.Status == mh.DMMStatusLocationUnknown
}

func (e *QueryError) Unwrap() error { return e.Err }

// RejectError is a PBA (or an in-process call) that refused a location
// update or an HAA request, with the PBA status.
type RejectError struct {
	Op     string
	Status mh.Status
	// Err is the LM's or HAA's error for an in-process call (nil over
	// the wire).
	Err error
}

func (e *RejectError) Error() string {
	s := fmt.Sprintf("wire: %s refused: status %d (%s)", e.Op, uint8(e.Status), e.Status)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *RejectError) Unwrap() error { return e.Err }

// MNKey is the string form of an MN-ID used as the key of the LM's and
// the HAA's records: the NAI itself for subtype 1 when printable,
// otherwise "<subtype>:<identifier>" as mh renders it ("imsi:...",
// "eui-48:02:00:5e:10:00:01"). It is the same rule as lma.MNKey, so an
// MR passes on the key of the binding it serves.
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

// mnOption is the MN-ID option the clients send for key: an NAI holding
// the key (an MR speaks of nodes by key; the servers map it back with
// MNKey, which gives the key unchanged for a printable NAI).
func mnOption(key string) *mh.MNIdentifier { return mh.NewNAI(key) }

// lifetimeUnits converts d to a PBU/PBA Lifetime (4-second units, RFC
// 6275 §6.1.7), rounded up so that a positive lifetime stays positive,
// capped at 0xffff.
func lifetimeUnits(d time.Duration) uint16 {
	if d <= 0 {
		return 0
	}
	u := (d + 4*time.Second - 1) / (4 * time.Second)
	return uint16(min(u, 0xffff))
}

// lifetimeUnitsDown is lifetimeUnits rounded down (a grant must not
// promise more than is held).
func lifetimeUnitsDown(d time.Duration) uint16 {
	if d <= 0 {
		return 0
	}
	return uint16(min(d/(4*time.Second), 0xffff))
}

func unitsDuration(u uint16) time.Duration { return time.Duration(u) * 4 * time.Second }
