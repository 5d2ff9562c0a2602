package metrics

import (
	"context"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/punt"
	"github.com/pmipdmm/pmipdmm/mh"
)

// MRSource is what the metrics read of a Mobility Router; *mr.MR
// satisfies it.
type MRSource interface {
	Counters(ctx context.Context) (mr.Counters, error)
	MNs(ctx context.Context) ([]mr.MN, error)
	Locations(ctx context.Context) ([]mr.CachedLocation, error)
	Departures(ctx context.Context) ([]mr.Departed, error)
	Held(ctx context.Context) ([]netip.Prefix, error)
}

// PuntSource gives the counters of the MR's punt path; *punt.Punt
// satisfies it.
type PuntSource interface {
	Stats() punt.Stats
}

// LMCacheSource gives the state of an LM's cache; *lm.Cache satisfies it.
type LMCacheSource interface {
	Stats() lm.CacheStats
}

func collectLMCache(ch chan<- prometheus.Metric, src LMCacheSource) {
	s := src.Stats()
	counter(ch, descLMCacheQueries, s.Hits, "hit")
	counter(ch, descLMCacheQueries, s.Misses, "miss")
	gauge(ch, descLMCacheEntries, float64(s.Entries))
	live := 0.0
	if s.Live {
		live = 1
	}
	gauge(ch, descLMCacheLive, live)
}

// ServerSource gives the counters of a DMM server; *wire.LMServer and
// *wire.HAAServer satisfy it.
type ServerSource interface {
	Stats() wire.ServerStats
}

var (
	descMRDeparted = desc("mr_departed_nodes", "Nodes that left this MR and whose traffic it still holds or forwards.")
	descMRHeld     = desc("mr_held_prefixes", "Prefixes whose packets this MR holds in the punt path.")
	descMRCache    = desc("mr_location_cache_entries", "Entries of the MR's location cache, by how they were learnt.",
		"source")
	descPuntHeld        = desc("punt_held_packets", "Packets held in the punt path now.")
	descPuntHeldBytes   = desc("punt_held_bytes", "Bytes held in the punt path now.")
	descPuntPackets     = desc("punt_packets_total", "Packets through the punt path, by result.", "result")
	descPuntReports     = desc("punt_reports_total", "Misses and held packets' sources the punt path reported to the MR (or lost), by kind.", "kind")
	descServerPackets   = desc("dmm_server_packets_total", "Packets of the LM and HAA servers, by server and result.", "server", "result")
	descLMCacheQueries  = desc("lm_cache_queries_total", "Location queries the LM's cache answered from memory (hit) or sent to the store (miss).", "result")
	descLMCacheEntries  = desc("lm_cache_entries", "Locations held by the LM's cache.")
	descLMCacheLive     = desc("lm_cache_live", "1 while the LM's cache answers (its watch runs; a replica is loaded and within its bound), else 0.")
	mrStates            = []string{"attaching", "attached"}
	mrCacheSources      = []string{"fallback", "handover", "query", "redirect"}
	mrStatusMessageType = map[string]string{ // the prefixes of mr.Counters.StatusRx/StatusTx keys
		"PBA":          mh.TypeBindingAck.String(),
		"HAck":         mh.TypeHandoverAck.String(),
		"Redirect Ack": (&mh.RedirectAck{}).Name(),
	}
)

func dmmDescs() []*prometheus.Desc {
	return []*prometheus.Desc{descMRDeparted, descMRHeld, descMRCache, descPuntHeld, descPuntHeldBytes, descPuntPackets,
		descPuntReports, descServerPackets, descLMCacheQueries, descLMCacheEntries, descLMCacheLive}
}

func (c *collector) collectMR(ctx context.Context, ch chan<- prometheus.Metric) {
	const role = "mr"
	src := c.src.MR
	if mns, err := src.MNs(ctx); err != nil {
		c.failed("mr_mns", err)
	} else {
		n := map[string]int{}
		for _, m := range mns {
			if m.Attached {
				n["attached"]++
			} else {
				n["attaching"]++
			}
		}
		for _, s := range mrStates {
			gauge(ch, descBindings, float64(n[s]), role, s)
		}
	}
	if cnt, err := src.Counters(ctx); err != nil {
		c.failed("mr_counters", err)
	} else {
		mrMessages(ch, "received", cnt.Rx, cnt.StatusRx)
		mrMessages(ch, "sent", cnt.Tx, cnt.StatusTx)
		errs := map[string]uint64{
			"lm_query": cnt.QueryErrors, "lm_update": cnt.LMErrors, "haa": cnt.HAAErrors,
			"punt": cnt.PuntErrors, "dataplane": cnt.DataPlaneErrors, "ra_send": cnt.RAErrors,
			"store": cnt.StoreErrors,
		}
		for r, v := range cnt.Dropped {
			errs[Kind(r)] += v
		}
		for k, v := range errs {
			counter(ch, descErrors, v, role, k)
		}
		for _, e := range []struct {
			name string
			v    uint64
		}{
			{"attach", cnt.Attaches}, {"move", cnt.Moves}, {"detach", cnt.Detaches},
			{"handover_in", cnt.HandoversIn}, {"handover_out", cnt.HandoversOut},
			{"hi_retransmitted", cnt.HIRetransmits}, {"hi_timeout", cnt.HITimeouts},
			{"miss", cnt.Misses}, {"lm_query", cnt.Queries}, {"lm_update", cnt.LMUpdates},
			{"redirect_sent", cnt.RedirectsSent}, {"redirect_retransmitted", cnt.RedirectRetransmits},
			{"redirect_applied", cnt.RedirectsApplied}, {"redirect_refused", cnt.RedirectsRefused},
			{"forwarding_started", cnt.ForwardingStarted}, {"forwarding_ended", cnt.ForwardingEnded},
			{"hold", cnt.Holds}, {"release", cnt.Releases}, {"drop", cnt.Drops},
			{"packet_released", cnt.Released}, {"packet_dropped", cnt.DroppedPackets},
			{"ra_sent", cnt.RAs}, {"ingress", cnt.Ingress},
			{"held_source", cnt.HeldSources}, {"source_query", cnt.SourceQueries},
		} {
			counter(ch, descEvents, e.v, role, e.name)
		}
	}
	if ls, err := src.Locations(ctx); err != nil {
		c.failed("mr_locations", err)
	} else {
		n := map[string]int{}
		for _, l := range ls {
			n[l.Source]++
		}
		for _, s := range mrCacheSources {
			gauge(ch, descMRCache, float64(n[s]), s)
			delete(n, s)
		}
		for s, v := range n {
			gauge(ch, descMRCache, float64(v), s)
		}
	}
	if ds, err := src.Departures(ctx); err != nil {
		c.failed("mr_departures", err)
	} else {
		gauge(ch, descMRDeparted, float64(len(ds)))
	}
	if hs, err := src.Held(ctx); err != nil {
		c.failed("mr_held", err)
	} else {
		gauge(ch, descMRHeld, float64(len(hs)))
	}
}

// mrMessages exports the MR's messages of one direction: by type, and by
// status for the types it counts by status ("PBA 0", "HAck 5", ...).
func mrMessages(ch chan<- prometheus.Metric, dir string, byType, byStatus map[string]uint64) {
	const role = "mr"
	withStatus := map[string]bool{}
	for k, v := range byStatus {
		typ, status := k, ""
		if i := strings.LastIndexByte(k, ' '); i > 0 {
			typ, status = k[:i], k[i+1:]
		}
		if t, ok := mrStatusMessageType[typ]; ok {
			typ = t
		}
		withStatus[typ] = true
		counter(ch, descMessages, v, role, dir, typ, status)
	}
	for t, v := range byType {
		if !withStatus[t] {
			counter(ch, descMessages, v, role, dir, t, "")
		}
	}
}

func (c *collector) collectPunt(ch chan<- prometheus.Metric) {
	s := c.src.Punt.Stats()
	gauge(ch, descPuntHeld, float64(s.Held))
	gauge(ch, descPuntHeldBytes, float64(s.HeldBytes))
	for _, x := range []struct {
		result string
		v      uint64
	}{
		{"received", s.Received}, {"released", s.Released}, {"passed", s.Passed},
		{"invalid", s.Invalid}, {"ignored", s.Ignored},
		{"dropped_full", s.DroppedFull}, {"dropped_age", s.DroppedAge}, {"dropped_drop", s.DroppedDrop},
		{"write_error", s.WriteErrors},
	} {
		counter(ch, descPuntPackets, x.v, x.result)
	}
	for _, x := range []struct {
		kind string
		v    uint64
	}{
		{"miss", s.Misses}, {"miss_lost", s.MissesLost},
		{"source", s.Sources}, {"source_lost", s.SourcesLost}, {"source_over_limit", s.SourcesOverLimit},
	} {
		counter(ch, descPuntReports, x.v, x.kind)
	}
}

func collectServer(ch chan<- prometheus.Metric, server string, src ServerSource) {
	s := src.Stats()
	for _, x := range []struct {
		result string
		v      uint64
	}{
		{"received", s.Received}, {"answered", s.Answered}, {"from_cache", s.FromCache},
		{"dropped", s.Dropped}, {"send_failed", s.SendFailed},
	} {
		counter(ch, descServerPackets, x.v, server, x.result)
	}
}
