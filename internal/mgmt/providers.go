package mgmt

import (
	"context"
	"net/netip"
	"sort"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/ipsec"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mag"
	"github.com/pmipdmm/pmipdmm/mh"
)

// LMAProvider is the part of the LMA the API uses; *lma.LMA satisfies it.
type LMAProvider interface {
	Bindings(ctx context.Context) ([]lma.Binding, error)
	Binding(ctx context.Context, mn string) ([]lma.Binding, error)
	Revoke(ctx context.Context, mn string, hnp netip.Prefix, trigger mh.RevocationTrigger) ([]<-chan lma.RevokeResult, error)
	Counters(ctx context.Context) (lma.Counters, error)
	Peers(ctx context.Context) ([]lma.Peer, error)
}

// MAGProvider is the part of the MAG the API uses; *mag.MAG satisfies it.
type MAGProvider interface {
	BUL() []mag.BULEntry
	Counters() mag.Counters
	Peers() []mag.PeerState
}

// LMProvider answers location queries; *lm.LM satisfies it.
type LMProvider interface {
	QueryAddress(ctx context.Context, a netip.Addr) (lm.Record, error)
	QueryPrefix(ctx context.Context, p netip.Prefix) (lm.Record, error)
	QueryMN(ctx context.Context, mnid string) ([]lm.Record, error)
}

// HAAProvider lists pools and allocations; *haa.HAA satisfies it.
type HAAProvider interface {
	Config() haa.Config
	Allocations(ctx context.Context, pool netip.Prefix) ([]haa.Allocation, error)
	Holdings(ctx context.Context, mnid string) ([]haa.Allocation, error)
}

// MRProvider is the state of a DMM Mobility Router; *mr.MR satisfies it.
// Its methods are called from the API's goroutines.
type MRProvider interface {
	MNs(ctx context.Context) ([]mr.MN, error)
	Locations(ctx context.Context) ([]mr.CachedLocation, error)
	Correspondents(ctx context.Context) (map[netip.Prefix][]netip.Addr, error)
	Departures(ctx context.Context) ([]mr.Departed, error)
	Held(ctx context.Context) ([]netip.Prefix, error)
}

// DataplaneProvider reads back the installed forwarding state; every
// dataplane.Driver satisfies it.
type DataplaneProvider interface {
	Name() string
	List() ([]dataplane.Entry, error)
}

// WantFunc returns the data plane entries a role wants installed (e.g.
// (*lma.LMA).Entries).
type WantFunc func(ctx context.Context) ([]dataplane.Entry, error)

// IPsecProvider gives the IPsec engine's counters; *ipsec.Counters (the
// Counters field of an ipsec.Engine, by address) satisfies it.
type IPsecProvider interface {
	Snapshot() ipsec.CounterSnapshot
}

// CounterSource adds counters of another component (e.g. a role that has
// no provider here yet) to GET /v1/counters.
type CounterSource func(ctx context.Context) ([]Counter, error)

// LMACounters flattens the LMA's counters, sorted by name and key.
func LMACounters(c lma.Counters) []Counter {
	var out []Counter
	add := func(name, key string, v uint64) {
		out = append(out, Counter{Role: "lma", Name: name, Key: key, Value: v})
	}
	for k, v := range c.Rx {
		add("rx", k, v)
	}
	for k, v := range c.Tx {
		add("tx", k, v)
	}
	for k, v := range c.PBA {
		add("pba_status", statusKey(uint8(k), k.String()), v)
	}
	for k, v := range c.BRA {
		add("bra_status", statusKey(uint8(k), k.String()), v)
	}
	for k, v := range c.Dropped {
		add("dropped", k, v)
	}
	add("ignored", "", c.Ignored)
	add("held", "", c.Held)
	add("superseded", "", c.Superseded)
	add("pbu_without_timestamp", "", c.PBUWithoutTimestamp)
	add("heartbeat_missed", "", c.HeartbeatMissed)
	add("peer_down", "", c.PeerDown)
	add("peer_restart", "", c.PeerRestart)
	add("bri_timeouts", "", c.BRITimeouts)
	add("dataplane_errors", "", c.DataPlaneErrors)
	sortCounters(out)
	return out
}

// MAGCounters flattens the MAG's counters, sorted by name.
func MAGCounters(c mag.Counters) []Counter {
	out := []Counter{
		{Name: "attaches", Value: c.Attaches}, {Name: "detaches", Value: c.Detaches},
		{Name: "pbu_sent", Value: c.PBUSent}, {Name: "pbu_retransmitted", Value: c.PBURetransmitted},
		{Name: "pbu_rate_limited", Value: c.PBURateLimited},
		{Name: "pba_received", Value: c.PBAReceived}, {Name: "pba_accepted", Value: c.PBAAccepted},
		{Name: "pba_rejected", Value: c.PBARejected}, {Name: "pba_ignored", Value: c.PBAIgnored},
		{Name: "deregistrations", Value: c.Deregistrations}, {Name: "expired", Value: c.Expired},
		{Name: "rs_received", Value: c.RSReceived}, {Name: "ra_sent", Value: c.RASent}, {Name: "ra_errors", Value: c.RAErrors},
		{Name: "bri_received", Value: c.BRIReceived}, {Name: "bra_sent", Value: c.BRASent},
		{Name: "heartbeat_requests_sent", Value: c.HeartbeatRequestsSent},
		{Name: "heartbeat_requests_received", Value: c.HeartbeatRequestsRecv},
		{Name: "heartbeat_responses_sent", Value: c.HeartbeatResponsesSent},
		{Name: "heartbeat_responses_received", Value: c.HeartbeatResponsesRecv},
		{Name: "peers_down", Value: c.PeersDown}, {Name: "peer_restarts", Value: c.PeerRestarts},
		{Name: "mh_received", Value: c.MHReceived}, {Name: "mh_dropped", Value: c.MHDropped},
		{Name: "dataplane_errors", Value: c.DataplaneErrors}, {Name: "send_errors", Value: c.SendErr},
	}
	for i := range out {
		out[i].Role = "mag"
	}
	sortCounters(out)
	return out
}

// IPsecCounters flattens an IPsec counter snapshot, sorted by name and key.
func IPsecCounters(s ipsec.CounterSnapshot) []Counter {
	out := []Counter{
		{Name: "in_protected", Value: s.InProtected}, {Name: "in_bypass", Value: s.InBypass},
		{Name: "out_protected", Value: s.OutProtected}, {Name: "out_bypass", Value: s.OutBypass},
		{Name: "soft_expired", Value: s.SoftExpired}, {Name: "other_errors", Value: s.Other},
	}
	for k, v := range s.InDropped {
		out = append(out, Counter{Name: "in_dropped", Key: k, Value: v})
	}
	for k, v := range s.OutDropped {
		out = append(out, Counter{Name: "out_dropped", Key: k, Value: v})
	}
	for i := range out {
		out[i].Role = "ipsec"
	}
	sortCounters(out)
	return out
}

func sortCounters(cs []Counter) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Key < b.Key
	})
}

// compareEntries splits the difference between installed and wanted
// entries (decapsulation entries aside).
func compareEntries(have, want []dataplane.Entry) (missing, unexpected []dataplane.Entry) {
	haveSet := map[dataplane.Entry]bool{}
	for _, e := range have {
		haveSet[e] = true
	}
	wantSet := map[dataplane.Entry]bool{}
	for _, e := range want {
		if e.Kind == dataplane.KindDecap {
			continue
		}
		wantSet[e] = true
		if !haveSet[e] {
			missing = append(missing, e)
		}
	}
	for _, e := range have {
		if e.Kind != dataplane.KindDecap && !wantSet[e] {
			unexpected = append(unexpected, e)
		}
	}
	dataplane.SortEntries(missing)
	dataplane.SortEntries(unexpected)
	return missing, unexpected
}
