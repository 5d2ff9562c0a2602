package mgmt

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mag"
)

// The JSON types of the API. Field names are stable; durations are whole
// seconds (suffix _s), times RFC 3339 in UTC. remaining_s is computed with
// the daemon's clock when the answer is made.

// Error is an API error: the JSON body of every non-2xx answer.
type Error struct {
	// Status is the HTTP status (not in the JSON body).
	Status int `json:"-"`
	// Code is a short machine-readable code: bad_request, unauthorized,
	// not_found, role_not_running, method_not_allowed, reload_refused,
	// timeout, internal.
	Code   string `json:"error"`
	Detail string `json:"detail"`
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Code
	}
	return e.Detail
}

// Binding is a Binding Cache entry of the LMA (RFC 5213 §5.1).
type Binding struct {
	MN          string         `json:"mn"`
	MNIDType    string         `json:"mnid_type"`
	HNPs        []netip.Prefix `json:"hnps"`
	ProxyCoA    netip.Addr     `json:"proxy_coa"`
	LinkLocal   netip.Addr     `json:"link_local,omitzero"`
	LinkLayerID string         `json:"link_layer_id"` // hex
	ATT         uint8          `json:"att"`
	ATTName     string         `json:"att_name"`
	HI          uint8          `json:"handoff_indicator"`
	State       string         `json:"state"`
	Held        bool           `json:"held,omitempty"`
	Timestamp   uint64         `json:"timestamp,omitempty"`
	Sequence    uint16         `json:"sequence"`
	Lifetime    int64          `json:"lifetime_s"`
	Remaining   int64          `json:"remaining_s"`
	Expires     time.Time      `json:"expires"`
	Created     time.Time      `json:"created"`
}

// RevokeRequest is the body of POST /v1/bindings/{mn}/revoke (optional:
// an empty body revokes every binding of the MN for an administrative
// reason and waits for the outcome).
type RevokeRequest struct {
	// Prefix, when set, revokes only the binding holding this HNP.
	Prefix netip.Prefix `json:"prefix,omitzero"`
	// Trigger is the RFC 5846 §8.1 revocation trigger (default 1,
	// Administrative Reason).
	Trigger *uint8 `json:"trigger,omitempty"`
	// NoWait answers at once (202) with the number of BRIs sent instead
	// of waiting for the BRAs.
	NoWait bool `json:"no_wait,omitempty"`
}

// RevokeResponse is the answer to a revocation.
type RevokeResponse struct {
	// Started is the number of bindings whose revocation began.
	Started int `json:"started"`
	// Results holds one outcome per binding (empty with no_wait).
	Results []RevokeResult `json:"results"`
}

// RevokeResult is the outcome of revoking one binding (RFC 5846 §6.3).
type RevokeResult struct {
	MN         string         `json:"mn"`
	HNPs       []netip.Prefix `json:"hnps"`
	MAG        netip.Addr     `json:"mag"`
	Acked      bool           `json:"acked"`
	Status     uint8          `json:"status"`
	StatusName string         `json:"status_name,omitempty"`
	TimedOut   bool           `json:"timed_out,omitempty"`
	Removed    bool           `json:"removed"`
	Superseded bool           `json:"superseded,omitempty"`
}

// BULEntry is a MAG Binding Update List entry (RFC 5213 §6.1).
type BULEntry struct {
	MNID         string         `json:"mnid"`
	Interface    string         `json:"interface"`
	MAC          string         `json:"mac,omitempty"`
	MNLinkLocal  netip.Addr     `json:"mn_link_local,omitzero"`
	LMA          netip.Addr     `json:"lma"`
	ATT          uint8          `json:"att"`
	ATTName      string         `json:"att_name"`
	HNPs         []netip.Prefix `json:"hnps"`
	Requested    []netip.Prefix `json:"requested"`
	State        string         `json:"state"`
	HI           uint8          `json:"handoff_indicator"`
	Lifetime     int64          `json:"lifetime_s"`
	Remaining    int64          `json:"remaining_s"`
	Expires      *time.Time     `json:"expires,omitempty"`
	LastAccepted *time.Time     `json:"last_accepted,omitempty"`
	Retries      int            `json:"retries"`
}

// Location is a Location Management record (DMM).
type Location struct {
	MNID      string       `json:"mnid"`
	Prefix    netip.Prefix `json:"prefix"`
	AnchorMR  netip.Addr   `json:"anchor_mr"`
	CurrentMR netip.Addr   `json:"current_mr"`
	Lifetime  int64        `json:"lifetime_s"`
	Remaining int64        `json:"remaining_s"`
	Expires   time.Time    `json:"expires"`
	UpdatedAt time.Time    `json:"updated_at"`
	Sequence  uint64       `json:"sequence"`
}

// LocationQuery selects LM records: exactly one field is set.
type LocationQuery struct {
	Address netip.Addr
	Prefix  netip.Prefix
	MN      string
}

// Pool is an HAA prefix pool and its use.
type Pool struct {
	MR        netip.Addr   `json:"mr"`
	Prefix    netip.Prefix `json:"prefix"`
	Length    int          `json:"length"`
	Size      uint64       `json:"size"` // prefixes in the pool
	Allocated int          `json:"allocated"`
}

// Allocation is a prefix held by a mobile node (HAA).
type Allocation struct {
	MNID        string       `json:"mnid"`
	Prefix      netip.Prefix `json:"prefix"`
	AnchorMR    netip.Addr   `json:"anchor_mr"`
	Pool        netip.Prefix `json:"pool"`
	AllocatedAt time.Time    `json:"allocated_at"`
	Lifetime    int64        `json:"lifetime_s"`
	Remaining   int64        `json:"remaining_s"`
	Expires     time.Time    `json:"expires"`
}

// AllocationQuery selects HAA allocations: by pool, by MN, or all (zero).
type AllocationQuery struct {
	Pool netip.Prefix
	MN   string
}

// Peer is a signalling peer with its heartbeat state (RFC 5847).
type Peer struct {
	// Role is the local role that talks to the peer: "lma" (the peer is
	// a MAG) or "mag" (the peer is an LMA).
	Role     string     `json:"role"`
	Address  netip.Addr `json:"address"`
	Bindings int        `json:"bindings"`
	Up       bool       `json:"up"`
	// MissingHeartbeats is the number of unanswered requests in a row.
	MissingHeartbeats int `json:"missing_heartbeats"`
	// RestartCounter is the last one the peer sent (absent: none yet).
	RestartCounter *uint32 `json:"restart_counter,omitempty"`
	// Restarts is how many restarts of the peer were detected (LMA).
	Restarts int `json:"restarts"`
	// HeartbeatUnsupported: the peer answered a Heartbeat with Binding
	// Error status 2 (LMA).
	HeartbeatUnsupported bool `json:"heartbeat_unsupported,omitempty"`
}

// Counter is one counter of a role. Key qualifies counters kept per
// message type, status or reason ("" otherwise).
type Counter struct {
	Role  string `json:"role"`
	Name  string `json:"name"`
	Key   string `json:"key,omitempty"`
	Value uint64 `json:"value"`
}

// Dataplane is the forwarding state read back from the data plane.
type Dataplane struct {
	Driver  string           `json:"driver"`
	Entries []DataplaneEntry `json:"entries"`
	// Compared: the entries were compared with what the running roles
	// want; Missing are wanted but absent, Unexpected present but not
	// wanted (or wanted differently). Decapsulation entries are not
	// compared.
	Compared   bool             `json:"compared"`
	Missing    []DataplaneEntry `json:"missing"`
	Unexpected []DataplaneEntry `json:"unexpected"`
}

// DataplaneEntry is one forwarding entry (see dataplane.Entry).
type DataplaneEntry struct {
	Kind   string       `json:"kind"`
	Prefix netip.Prefix `json:"prefix"`
	Remote netip.Addr   `json:"remote,omitzero"`
	Dev    string       `json:"dev,omitempty"`
}

// ConfigCheck is the result of validating a configuration.
type ConfigCheck struct {
	Valid    bool      `json:"valid"`
	Problems []Problem `json:"problems"`
	// Changes summarize what a reload with this configuration would
	// change in the running one (config.Changes.String, one line each),
	// when it is valid and the daemon knows its running configuration.
	Changes      []string `json:"changes,omitempty"`
	NeedsRestart bool     `json:"needs_restart,omitempty"`
}

// Problem is one configuration problem: the full dotted key and why.
type Problem struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

func (p Problem) String() string { return p.Key + ": " + p.Reason }

// Status describes the daemon (GET /v1/status; filled by the daemon).
type Status struct {
	Node    string   `json:"node"`
	Roles   []string `json:"roles"`
	Address string   `json:"address"`
	// Driver is the data plane driver, DriverReason why it was chosen.
	Driver         string    `json:"driver"`
	DriverReason   string    `json:"driver_reason,omitempty"`
	Started        time.Time `json:"started"`
	RestartCounter uint32    `json:"restart_counter"`
	// IPsec is who protects the signalling (ipsec.Backend: kernel,
	// userspace, external) and IPsecReason why; empty without an ipsec
	// section.
	IPsec       string `json:"ipsec,omitempty"`
	IPsecReason string `json:"ipsec_reason,omitempty"`
}

// MRNode is a node attached to (or attaching at) a DMM Mobility Router
// (GET /v1/mr/nodes).
type MRNode struct {
	MN string `json:"mn"`
	// Attached: registered (false while the attachment is in progress:
	// the HAA, the LM or the previous MR not answered yet).
	Attached bool `json:"attached"`
	// MAG is the legacy MAG's Proxy-CoA (deployment A); Link the access
	// link (deployment B). One of them is set.
	MAG       netip.Addr `json:"mag,omitzero"`
	Link      string     `json:"link,omitempty"`
	LinkLocal netip.Addr `json:"link_local,omitzero"`
	Prefixes  []MRPrefix `json:"prefixes"`
	// Moved: the node came from another MR (PreviousMR, when known).
	Moved      bool       `json:"moved"`
	PreviousMR netip.Addr `json:"previous_mr,omitzero"`
	// Remaining is the binding lifetime left (0 and no expires while
	// attaching).
	Remaining int64      `json:"remaining_s"`
	Expires   *time.Time `json:"expires,omitempty"`
}

// MRPrefix is a prefix of a node attached to an MR, with the MR it is
// anchored at; a deprecated prefix is still advertised, with a preferred
// lifetime of 0 (draft: a new prefix after a move).
type MRPrefix struct {
	Prefix     netip.Prefix `json:"prefix"`
	AnchorMR   netip.Addr   `json:"anchor_mr"`
	Deprecated bool         `json:"deprecated"`
}

// MRLocations is the answer to GET /v1/mr/locations: the MR's location
// cache (where it tunnels traffic to other MRs' nodes) and, per prefix of
// a node attached here, the correspondents' MRs it would send a Redirect
// to when the node moves on.
type MRLocations struct {
	Locations      []MRLocation      `json:"locations"`
	Correspondents []MRCorrespondent `json:"correspondents"`
}

// MRLocation is an entry of an MR's location cache. Source is how it was
// learnt: query (the LM), redirect (another MR's Redirect), handover (the
// node left this MR for CurrentMR), fallback (the LM did not know the
// prefix: routed to its anchor for a short while).
type MRLocation struct {
	Prefix    netip.Prefix `json:"prefix"`
	AnchorMR  netip.Addr   `json:"anchor_mr"`
	CurrentMR netip.Addr   `json:"current_mr"`
	Source    string       `json:"source"`
	Remaining int64        `json:"remaining_s"`
	Expires   time.Time    `json:"expires"`
}

// MRCorrespondent lists the MRs that tunnelled traffic to Prefix (a
// prefix of a node attached here), sorted.
type MRCorrespondent struct {
	Prefix netip.Prefix `json:"prefix"`
	MRs    []netip.Addr `json:"mrs"`
}

// MRDepartures is the answer to GET /v1/mr/departures: the nodes that left
// the MR and whose traffic it still holds or forwards (the previous MR's
// temporary context, draft Figure 5), and every prefix the MR holds in its
// punt path (a departed node's, an arriving node's, or an attached node's
// whose route went missing).
type MRDepartures struct {
	Departures []MRDeparture  `json:"departures"`
	Held       []netip.Prefix `json:"held"`
}

// MRDeparture is a node that left the MR. NewMR is absent while unknown;
// Holding: its packets are held until it is known; Forwarding: the
// prefixes tunnelled to NewMR meanwhile.
type MRDeparture struct {
	MN         string         `json:"mn"`
	Prefixes   []netip.Prefix `json:"prefixes"`
	NewMR      netip.Addr     `json:"new_mr,omitzero"`
	Holding    bool           `json:"holding"`
	Forwarding []netip.Prefix `json:"forwarding"`
}

// ReloadResult is the answer to POST /v1/reload.
type ReloadResult struct {
	// Changes summarize what the reload changed (config.Changes.String,
	// one line each).
	Changes      []string `json:"changes"`
	NeedsRestart bool     `json:"needs_restart,omitempty"`
}

// ---- conversions from the roles' types ----

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func remaining(exp, now time.Time) int64 {
	if exp.IsZero() || !exp.After(now) {
		return 0
	}
	return seconds(exp.Sub(now))
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func prefixes(ps []netip.Prefix) []netip.Prefix {
	if ps == nil {
		return []netip.Prefix{}
	}
	return ps
}

func fromBinding(b lma.Binding, now time.Time) Binding {
	return Binding{
		MN: b.MN, MNIDType: b.MNIDSubtype.String(), HNPs: prefixes(b.HNPs), ProxyCoA: b.ProxyCoA,
		LinkLocal: b.LinkLocal, LinkLayerID: hex.EncodeToString(b.LinkLayerID),
		ATT: uint8(b.ATT), ATTName: b.ATT.String(), HI: uint8(b.HI), State: b.State.String(), Held: b.Held,
		Timestamp: b.Timestamp, Sequence: b.Sequence, Lifetime: seconds(b.Lifetime),
		Remaining: remaining(b.Expires, now), Expires: b.Expires.UTC(), Created: b.Created.UTC(),
	}
}

func fromRevokeResult(r lma.RevokeResult) RevokeResult {
	out := RevokeResult{MN: r.MN, HNPs: prefixes(r.HNPs), MAG: r.MAG, Acked: r.Acked, TimedOut: r.TimedOut,
		Removed: r.Removed, Superseded: r.Superseded}
	if r.Acked {
		out.Status, out.StatusName = uint8(r.Status), r.Status.String()
	}
	return out
}

func fromBUL(e mag.BULEntry, now time.Time) BULEntry {
	out := BULEntry{
		MNID: e.MNID, Interface: e.Interface, MNLinkLocal: e.MNLinkLocal, LMA: e.LMA,
		ATT: uint8(e.ATT), ATTName: e.ATT.String(), HNPs: prefixes(e.HNPs), Requested: prefixes(e.Requested),
		State: e.State, HI: uint8(e.HI), Lifetime: seconds(e.Lifetime), Remaining: remaining(e.Expires, now),
		Expires: optTime(e.Expires), LastAccepted: optTime(e.LastAccepted), Retries: e.Retries,
	}
	if len(e.MAC) > 0 {
		out.MAC = e.MAC.String()
	}
	return out
}

func fromRecord(r lm.Record, now time.Time) Location {
	return Location{MNID: r.MNID, Prefix: r.Prefix, AnchorMR: r.AnchorMR, CurrentMR: r.CurrentMR,
		Lifetime: seconds(r.Lifetime), Remaining: remaining(r.Expiry, now), Expires: r.Expiry.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(), Sequence: r.Sequence}
}

func fromAllocation(a haa.Allocation, now time.Time) Allocation {
	return Allocation{MNID: a.MNID, Prefix: a.Prefix, AnchorMR: a.AnchorMR, Pool: a.Pool,
		AllocatedAt: a.AllocatedAt.UTC(), Lifetime: seconds(a.Lifetime), Remaining: remaining(a.Expiry, now),
		Expires: a.Expiry.UTC()}
}

func fromMRNode(n mr.MN, now time.Time) MRNode {
	out := MRNode{MN: n.MN, Attached: n.Attached, MAG: n.MAG, Link: n.Link, LinkLocal: n.LinkLocal,
		Prefixes: make([]MRPrefix, 0, len(n.Prefixes)), Moved: n.Moved, PreviousMR: n.PreviousMR,
		Remaining: remaining(n.Expires, now), Expires: optTime(n.Expires)}
	for _, p := range n.Prefixes {
		out.Prefixes = append(out.Prefixes, MRPrefix{Prefix: p.Prefix, AnchorMR: p.AnchorMR, Deprecated: p.Deprecated})
	}
	return out
}

func fromCachedLocation(c mr.CachedLocation, now time.Time) MRLocation {
	return MRLocation{Prefix: c.Prefix, AnchorMR: c.AnchorMR, CurrentMR: c.CurrentMR, Source: c.Source,
		Remaining: remaining(c.Expires, now), Expires: c.Expires.UTC()}
}

func fromDeparted(d mr.Departed) MRDeparture {
	return MRDeparture{MN: d.MN, Prefixes: prefixes(d.Prefixes), NewMR: d.NewMR, Holding: d.Holding,
		Forwarding: prefixes(d.Forwarding)}
}

func fromLMAPeer(p lma.Peer) Peer {
	out := Peer{Role: "lma", Address: p.Addr, Bindings: p.Bindings, Up: !p.Down, MissingHeartbeats: p.Missing,
		Restarts: p.Restarts, HeartbeatUnsupported: p.NoHeartbeat}
	if p.HaveCounter {
		c := p.RestartCounter
		out.RestartCounter = &c
	}
	return out
}

func fromMAGPeer(p mag.PeerState) Peer {
	out := Peer{Role: "mag", Address: p.Address, Bindings: p.Bindings, Up: p.Reachable, MissingHeartbeats: p.MissingHeartbeats}
	if p.RestartKnown {
		c := p.RestartCounter
		out.RestartCounter = &c
	}
	return out
}

func fromEntry(e dataplane.Entry) DataplaneEntry {
	return DataplaneEntry{Kind: e.Kind.String(), Prefix: e.Prefix, Remote: e.Remote, Dev: e.Dev}
}

// String renders an entry as dataplane.Entry does.
func (e DataplaneEntry) String() string {
	s := e.Kind + " " + e.Prefix.String()
	if e.Remote.IsValid() {
		s += " tunnel " + e.Remote.String()
	}
	if e.Dev != "" {
		s += " dev " + e.Dev
	}
	return s
}

// poolSize is the number of prefixes of length n in p (saturating).
func poolSize(p netip.Prefix, n int) uint64 {
	bits := n - p.Bits()
	if bits < 0 {
		return 0
	}
	if bits >= 64 {
		return ^uint64(0)
	}
	return uint64(1) << bits
}

func statusKey(code uint8, name string) string { return fmt.Sprintf("%d %s", code, name) }
