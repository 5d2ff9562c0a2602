// Package metrics exports the state of the running roles to Prometheus on
// its own registry (never the global one), served at /metrics.
//
// Nothing is counted on the hot path: on every scrape a collector reads
// the roles' Counters() and state (bindings, peers, the data plane, the
// HAA pools) through small source interfaces that *lma.LMA, *mag.MAG,
// *haa.HAA, *mr.MR, *punt.Punt, *wire.LMServer, *wire.HAAServer, a
// dataplane.Driver and *ipsec.Counters satisfy. The only
// metrics fed by the roles are two histograms, through Observer (whose
// default, Nop, does nothing).
//
// Metrics (all prefixed pmip_):
//
//	bindings{role,state}                       gauge: LMA binding cache / MAG BUL entries by state,
//	                                           the MR's nodes (attaching, attached)
//	messages_total{role,direction,type,status} counter: mobility messages sent/received by MH type;
//	                                           status is the numeric status where the role counts
//	                                           by status (LMA: PBAs sent, BRAs received; MR: PBAs,
//	                                           HAcks and Redirect Acks both ways), else ""
//	errors_total{role,kind}                    counter: drops and failures by kind (malformed,
//	                                           header_check, dataplane, send, ipsec_in_replay, ...)
//	events_total{role,event}                   counter: protocol events (attach, pba_rejected,
//	                                           held, bri_timeout, peer_down, ...)
//	peers{role,state}                          gauge: peers up / down (RFC 5847)
//	peer_up{role,peer}                         gauge: 1 if the peer is up, 0 if down
//	dataplane_entries{driver,kind}             gauge: entries read back from the data plane
//	haa_pool_prefixes{pool,mr}                 gauge: prefixes in an HAA pool
//	haa_pool_allocated{pool,mr}                gauge: prefixes allocated from it
//	ipsec_packets_total{direction,result}      counter: protected / bypass packets
//	mr_location_cache_entries{source}          gauge: MR location cache by how learnt (query, redirect,
//	                                           handover, fallback)
//	mr_departed_nodes                          gauge: nodes that left the MR, still held or forwarded
//	mr_held_prefixes                           gauge: prefixes the MR holds in the punt path
//	punt_held_packets, punt_held_bytes         gauge: what the punt path holds now
//	punt_packets_total{result}                 counter: received, released, passed, dropped_full, ...
//	punt_reports_total{kind}                   counter: misses and sources reported to the MR (or lost)
//	dmm_server_packets_total{server,result}    counter: LM / HAA server packets received, answered,
//	                                           from_cache, dropped, send_failed
//	lm_cache_queries_total{result}             counter: LM cache answers from memory (hit) or the store (miss)
//	lm_cache_entries, lm_cache_live            gauge: locations the LM's cache holds; 1 while it answers
//	handover_duration_seconds                  histogram: Observer.ObserveHandover
//	lm_query_duration_seconds                  histogram: Observer.ObserveLMQuery
//	collect_errors_total{source}               counter: sources that failed during a scrape
package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/ipsec"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mag"
)

// Namespace prefixes every metric name.
const Namespace = "pmip"

// LMASource is what the metrics read of an LMA; *lma.LMA satisfies it.
type LMASource interface {
	Bindings(ctx context.Context) ([]lma.Binding, error)
	Counters(ctx context.Context) (lma.Counters, error)
	Peers(ctx context.Context) ([]lma.Peer, error)
}

// MAGSource is what the metrics read of a MAG; *mag.MAG satisfies it.
type MAGSource interface {
	BUL() []mag.BULEntry
	Counters() mag.Counters
	Peers() []mag.PeerState
}

// HAASource is what the metrics read of an HAA; *haa.HAA satisfies it.
type HAASource interface {
	Config() haa.Config
	Allocations(ctx context.Context, pool netip.Prefix) ([]haa.Allocation, error)
}

// DataplaneSource reads back the installed entries; every
// dataplane.Driver satisfies it.
type DataplaneSource interface {
	Name() string
	List() ([]dataplane.Entry, error)
}

// IPsecSource gives the IPsec counters; *ipsec.Counters satisfies it.
type IPsecSource interface {
	Snapshot() ipsec.CounterSnapshot
}

// Sources are the running roles. Leave the ones not running nil (not a
// typed nil pointer).
type Sources struct {
	LMA       LMASource
	MAG       MAGSource
	HAA       HAASource
	Dataplane DataplaneSource
	IPsec     IPsecSource
	// MR is a Mobility Router, Punt its punt path.
	MR   MRSource
	Punt PuntSource
	// LMServer and HAAServer are the DMM servers (dmm/wire).
	LMServer, HAAServer ServerSource
	// LMCache is the LM's cache (lm.cache: true).
	LMCache LMCacheSource
}

// Observer receives the durations the roles measure. Roles accept one
// and default to Nop.
type Observer interface {
	// ObserveHandover records how long a handover took (from the
	// attachment at the new MAG/MR to the accepted registration).
	ObserveHandover(d time.Duration)
	// ObserveLMQuery records the latency of one Location Management query.
	ObserveLMQuery(d time.Duration)
}

type nop struct{}

func (nop) ObserveHandover(time.Duration) {}
func (nop) ObserveLMQuery(time.Duration)  {}

// Nop is the Observer that records nothing.
var Nop Observer = nop{}

// Histogram buckets, in seconds.
var (
	HandoverBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	LMQueryBuckets  = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}
)

// Metrics is the registry and its collectors. It is an Observer.
type Metrics struct {
	reg           *prometheus.Registry
	handover      prometheus.Histogram
	lmQuery       prometheus.Histogram
	collectErrors *prometheus.CounterVec
	log           *logrus.Entry
	timeout       time.Duration
	runtime       bool
}

// Option configures New.
type Option func(*Metrics)

// WithLogger logs the sources that fail during a scrape.
func WithLogger(l *logrus.Entry) Option { return func(m *Metrics) { m.log = l } }

// WithTimeout bounds the time the sources get on one scrape (default 5 s).
func WithTimeout(d time.Duration) Option { return func(m *Metrics) { m.timeout = d } }

// WithRuntime also registers the Go runtime and process collectors.
func WithRuntime() Option { return func(m *Metrics) { m.runtime = true } }

// New returns the metrics of the roles in src.
func New(src Sources, opts ...Option) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), timeout: 5 * time.Second}
	for _, o := range opts {
		o(m)
	}
	if m.log == nil {
		l := logrus.New()
		l.Out = io.Discard
		m.log = logrus.NewEntry(l)
	}
	m.log = m.log.WithField("component", "metrics")
	m.handover = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "handover_duration_seconds",
		Help: "Time from a mobile node's attachment at a new MAG or MR to its accepted registration.", Buckets: HandoverBuckets,
	})
	m.lmQuery = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "lm_query_duration_seconds",
		Help: "Latency of Location Management queries.", Buckets: LMQueryBuckets,
	})
	m.collectErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "collect_errors_total",
		Help: "Sources that failed to answer during a scrape.",
	}, []string{"source"})
	m.reg.MustRegister(m.handover, m.lmQuery, m.collectErrors, newCollector(src, m))
	if m.runtime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry is the registry of the metrics (to register more collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveHandover implements Observer.
func (m *Metrics) ObserveHandover(d time.Duration) { m.handover.Observe(d.Seconds()) }

// ObserveLMQuery implements Observer.
func (m *Metrics) ObserveLMQuery(d time.Duration) { m.lmQuery.Observe(d.Seconds()) }

// Handler serves the registry in the Prometheus exposition format. A
// source that fails is left out of the scrape (and counted in
// collect_errors_total) rather than failing it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Mux serves Handler at /metrics.
func (m *Metrics) Mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// Serve serves /metrics on ln until ctx is done.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: m.Mux(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// ListenAndServe listens on addr (config metrics.listen, host:port) and
// serves /metrics until ctx is done.
func (m *Metrics) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return m.Serve(ctx, ln)
}
