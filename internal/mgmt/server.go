package mgmt

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Limits of request bodies.
const (
	maxConfigBody = 1 << 20
	maxRevokeBody = 64 << 10
)

// DefaultRevokeTimeout bounds how long a revocation waits for the BRAs
// (RFC 5846 §11 defaults: 1 s, then 2 s, one retry: 3 s in all).
const DefaultRevokeTimeout = 30 * time.Second

// Config is what the Server serves. Leave a provider nil when its role
// does not run (a typed nil pointer is not nil: do not assign one).
type Config struct {
	LMA       LMAProvider
	MAG       MAGProvider
	LM        LMProvider
	HAA       HAAProvider
	MR        MRProvider // the DMM Mobility Router (GET /v1/mr/...)
	Dataplane DataplaneProvider
	// Wanted are the roles' desired data plane entries, compared with
	// Dataplane.List by GET /v1/dataplane (e.g. lma.(*LMA).Entries).
	Wanted []WantFunc
	IPsec  IPsecProvider
	// Counters adds counters of other components to GET /v1/counters.
	Counters []CounterSource
	// Status describes the daemon for GET /v1/status (nil: 404).
	Status func(ctx context.Context) (Status, error)
	// Reload re-reads the configuration file and applies it, as SIGHUP
	// does (e.g. (*config.Reloader).Reload); nil: POST /v1/reload
	// answers 404. An error (invalid file: the running configuration
	// stays) answers 422 reload_refused with the reason.
	Reload func() (config.Changes, error)
	// RunningConfig returns the configuration in force; when set,
	// POST /v1/config/check also reports what a reload would change.
	RunningConfig func() *config.Config
	// Clock computes remaining_s (default: the system clock; use the
	// roles' clock).
	Clock clock.Clock
	// Log gets one debug line per request (default: discarded).
	Log *logrus.Entry
	// RevokeTimeout bounds the wait for BRAs (default DefaultRevokeTimeout).
	RevokeTimeout time.Duration
}

// Server is the management API. It holds no state of its own: every
// request is answered from the providers.
type Server struct {
	cfg Config
	mux *http.ServeMux
}

// New returns a Server over the providers of cfg.
func New(cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	if cfg.Log == nil {
		l := logrus.New()
		l.Out = io.Discard
		cfg.Log = logrus.NewEntry(l)
	}
	cfg.Log = cfg.Log.WithField("component", "mgmt")
	if cfg.RevokeTimeout <= 0 {
		cfg.RevokeTimeout = DefaultRevokeTimeout
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/bindings", s.bindings)
	s.mux.HandleFunc("GET /v1/bindings/{mn}", s.binding)
	s.mux.HandleFunc("POST /v1/bindings/{mn}/revoke", s.revoke)
	s.mux.HandleFunc("GET /v1/bul", s.bul)
	s.mux.HandleFunc("GET /v1/locations", s.locations)
	s.mux.HandleFunc("GET /v1/pools", s.pools)
	s.mux.HandleFunc("GET /v1/allocations", s.allocations)
	s.mux.HandleFunc("GET /v1/mr/nodes", s.mrNodes)
	s.mux.HandleFunc("GET /v1/mr/locations", s.mrLocations)
	s.mux.HandleFunc("GET /v1/mr/departures", s.mrDepartures)
	s.mux.HandleFunc("GET /v1/peers", s.peers)
	s.mux.HandleFunc("GET /v1/counters", s.counters)
	s.mux.HandleFunc("GET /v1/dataplane", s.dataplane)
	s.mux.HandleFunc("POST /v1/config/check", s.configCheck)
	s.mux.HandleFunc("GET /v1/status", s.status)
	s.mux.HandleFunc("POST /v1/reload", s.reload)
	return s
}

// ServeHTTP routes a request; unknown paths and methods get JSON errors.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.cfg.Log.WithFields(logrus.Fields{"method": r.Method, "path": r.URL.Path, "status": rec.status}).Debug("management request")
	}()
	if _, pattern := s.mux.Handler(r); pattern == "" {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := s.mux.Handler(probe); p != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			rec.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(rec, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
				Detail: fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", "))})
			return
		}
		writeError(rec, &Error{Status: http.StatusNotFound, Code: "not_found", Detail: fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path)})
		return
	}
	s.mux.ServeHTTP(rec, r)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// withToken requires "Authorization: Bearer <token>".
func withToken(token string, h http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pmipd"`)
			writeError(w, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "a valid bearer token is required"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ---- helpers ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *Error) {
	b, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(b, '\n'))
}

func notRunning(w http.ResponseWriter, role, what string) {
	writeError(w, &Error{Status: http.StatusNotFound, Code: "role_not_running",
		Detail: fmt.Sprintf("the %s role is not running on this node (%s)", role, what)})
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeError(w, &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: fmt.Sprintf(format, args...)})
}

// fail answers an error of a provider: a context error is a timeout,
// anything else internal.
func fail(w http.ResponseWriter, err error) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		writeError(w, &Error{Status: http.StatusGatewayTimeout, Code: "timeout", Detail: err.Error()})
		return
	}
	writeError(w, &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: err.Error()})
}

func (s *Server) now() time.Time { return s.cfg.Clock.Now() }

// ---- LMA ----

func (s *Server) bindings(w http.ResponseWriter, r *http.Request) {
	if s.cfg.LMA == nil {
		notRunning(w, "LMA", "the binding cache is the LMA's")
		return
	}
	bs, err := s.cfg.LMA.Bindings(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	s.writeBindings(w, bs)
}

func (s *Server) binding(w http.ResponseWriter, r *http.Request) {
	if s.cfg.LMA == nil {
		notRunning(w, "LMA", "the binding cache is the LMA's")
		return
	}
	mn := r.PathValue("mn")
	bs, err := s.cfg.LMA.Binding(r.Context(), mn)
	if err != nil {
		fail(w, err)
		return
	}
	if len(bs) == 0 {
		writeError(w, &Error{Status: http.StatusNotFound, Code: "not_found", Detail: fmt.Sprintf("no binding for MN %q", mn)})
		return
	}
	s.writeBindings(w, bs)
}

// writeBindings answers with the bindings as the API shows them.
func (s *Server) writeBindings(w http.ResponseWriter, bs []lma.Binding) {
	now := s.now()
	out := make([]Binding, 0, len(bs))
	for _, b := range bs {
		out = append(out, fromBinding(b, now))
	}
	writeJSON(w, http.StatusOK, map[string][]Binding{"bindings": out})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if s.cfg.LMA == nil {
		notRunning(w, "LMA", "bindings are revoked by the LMA")
		return
	}
	mn := r.PathValue("mn")
	var req RevokeRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRevokeBody))
	if err != nil {
		badRequest(w, "reading the request: %v", err)
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			badRequest(w, "revoke request: %v", err)
			return
		}
	}
	if req.Prefix.IsValid() && !req.Prefix.Addr().Is6() {
		badRequest(w, "prefix %v: not an IPv6 prefix", req.Prefix)
		return
	}
	trigger := mh.RevocationTrigger(1) // Administrative Reason
	if req.Trigger != nil {
		trigger = mh.RevocationTrigger(*req.Trigger)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RevokeTimeout)
	defer cancel()
	chans, err := s.cfg.LMA.Revoke(ctx, mn, req.Prefix.Masked(), trigger)
	if errors.Is(err, lma.ErrNoBinding) {
		what := fmt.Sprintf("MN %q", mn)
		if req.Prefix.IsValid() {
			what += " with prefix " + req.Prefix.Masked().String()
		}
		writeError(w, &Error{Status: http.StatusNotFound, Code: "not_found",
			Detail: fmt.Sprintf("no binding of %s to revoke (or it is already being revoked)", what)})
		return
	}
	if err != nil {
		fail(w, err)
		return
	}
	resp := RevokeResponse{Started: len(chans), Results: []RevokeResult{}}
	if req.NoWait {
		writeJSON(w, http.StatusAccepted, resp)
		return
	}
	for _, ch := range chans {
		select {
		case res := <-ch:
			resp.Results = append(resp.Results, fromRevokeResult(res))
		case <-ctx.Done():
			writeError(w, &Error{Status: http.StatusGatewayTimeout, Code: "timeout",
				Detail: fmt.Sprintf("revocation started for %d binding(s); %d outcome(s) known when the wait ended: %v",
					len(chans), len(resp.Results), ctx.Err())})
			return
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// ---- MAG ----

func (s *Server) bul(w http.ResponseWriter, r *http.Request) {
	if s.cfg.MAG == nil {
		notRunning(w, "MAG", "the binding update list is the MAG's")
		return
	}
	es := s.cfg.MAG.BUL()
	now := s.now()
	out := make([]BULEntry, 0, len(es))
	for _, e := range es {
		out = append(out, fromBUL(e, now))
	}
	writeJSON(w, http.StatusOK, map[string][]BULEntry{"bul": out})
}

// ---- LM ----

func (s *Server) locations(w http.ResponseWriter, r *http.Request) {
	if s.cfg.LM == nil {
		notRunning(w, "LM", "locations are kept by the location management function")
		return
	}
	q := r.URL.Query()
	var set []string
	for _, k := range []string{"address", "prefix", "mn"} {
		if q.Has(k) {
			set = append(set, k)
		}
	}
	if len(set) != 1 {
		badRequest(w, "give exactly one of ?address=, ?prefix= or ?mn= (got %d)", len(set))
		return
	}
	var recs []lm.Record
	var err error
	switch set[0] {
	case "address":
		a, perr := netip.ParseAddr(q.Get("address"))
		if perr != nil || !a.Is6() {
			badRequest(w, "address %q: not an IPv6 address", q.Get("address"))
			return
		}
		var rec lm.Record
		rec, err = s.cfg.LM.QueryAddress(r.Context(), a)
		recs = []lm.Record{rec}
	case "prefix":
		p, perr := netip.ParsePrefix(q.Get("prefix"))
		if perr != nil || !p.Addr().Is6() {
			badRequest(w, "prefix %q: not an IPv6 prefix", q.Get("prefix"))
			return
		}
		var rec lm.Record
		rec, err = s.cfg.LM.QueryPrefix(r.Context(), p)
		recs = []lm.Record{rec}
	case "mn":
		recs, err = s.cfg.LM.QueryMN(r.Context(), q.Get("mn"))
	}
	switch {
	case errors.Is(err, lm.ErrNotFound):
		recs = nil
	case errors.Is(err, lm.ErrInvalid):
		badRequest(w, "%v", err)
		return
	case err != nil:
		fail(w, err)
		return
	}
	now := s.now()
	out := make([]Location, 0, len(recs))
	for _, rec := range recs {
		out = append(out, fromRecord(rec, now))
	}
	writeJSON(w, http.StatusOK, map[string][]Location{"locations": out})
}

// ---- HAA ----

func (s *Server) pools(w http.ResponseWriter, r *http.Request) {
	if s.cfg.HAA == nil {
		notRunning(w, "HAA", "pools are the home address allocation function's")
		return
	}
	out := []Pool{}
	for _, pc := range s.cfg.HAA.Config().Pools {
		n := pc.Length
		if n == 0 {
			n = 64
		}
		as, err := s.cfg.HAA.Allocations(r.Context(), pc.Prefix)
		if err != nil {
			fail(w, err)
			return
		}
		out = append(out, Pool{MR: pc.MR, Prefix: pc.Prefix, Length: n, Size: poolSize(pc.Prefix, n), Allocated: len(as)})
	}
	writeJSON(w, http.StatusOK, map[string][]Pool{"pools": out})
}

func (s *Server) allocations(w http.ResponseWriter, r *http.Request) {
	if s.cfg.HAA == nil {
		notRunning(w, "HAA", "allocations are the home address allocation function's")
		return
	}
	q := r.URL.Query()
	if q.Has("pool") && q.Has("mn") {
		badRequest(w, "give at most one of ?pool= and ?mn=")
		return
	}
	var as []haa.Allocation
	switch {
	case q.Has("pool"):
		p, err := netip.ParsePrefix(q.Get("pool"))
		if err != nil {
			badRequest(w, "pool %q: not a prefix", q.Get("pool"))
			return
		}
		known := false
		for _, pc := range s.cfg.HAA.Config().Pools {
			known = known || pc.Prefix == p
		}
		if !known {
			writeError(w, &Error{Status: http.StatusNotFound, Code: "not_found", Detail: fmt.Sprintf("no pool %v", p)})
			return
		}
		if as, err = s.cfg.HAA.Allocations(r.Context(), p); err != nil {
			fail(w, err)
			return
		}
	case q.Has("mn"):
		var err error
		as, err = s.cfg.HAA.Holdings(r.Context(), q.Get("mn"))
		if errors.Is(err, haa.ErrInvalid) {
			badRequest(w, "%v", err)
			return
		}
		if err != nil {
			fail(w, err)
			return
		}
	default:
		for _, pc := range s.cfg.HAA.Config().Pools {
			x, err := s.cfg.HAA.Allocations(r.Context(), pc.Prefix)
			if err != nil {
				fail(w, err)
				return
			}
			as = append(as, x...)
		}
	}
	now := s.now()
	out := make([]Allocation, 0, len(as))
	for _, a := range as {
		out = append(out, fromAllocation(a, now))
	}
	writeJSON(w, http.StatusOK, map[string][]Allocation{"allocations": out})
}

// ---- MR ----

func (s *Server) mrNodes(w http.ResponseWriter, r *http.Request) {
	if s.cfg.MR == nil {
		notRunning(w, "MR", "attached nodes are the mobility router's")
		return
	}
	ns, err := s.cfg.MR.MNs(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	now := s.now()
	out := make([]MRNode, 0, len(ns))
	for _, n := range ns {
		out = append(out, fromMRNode(n, now))
	}
	slices.SortStableFunc(out, func(a, b MRNode) int { return strings.Compare(a.MN, b.MN) })
	writeJSON(w, http.StatusOK, map[string][]MRNode{"nodes": out})
}

func (s *Server) mrLocations(w http.ResponseWriter, r *http.Request) {
	if s.cfg.MR == nil {
		notRunning(w, "MR", "the location cache is the mobility router's")
		return
	}
	ls, err := s.cfg.MR.Locations(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	corr, err := s.cfg.MR.Correspondents(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	now := s.now()
	out := MRLocations{Locations: make([]MRLocation, 0, len(ls)), Correspondents: make([]MRCorrespondent, 0, len(corr))}
	for _, l := range ls {
		out.Locations = append(out.Locations, fromCachedLocation(l, now))
	}
	slices.SortStableFunc(out.Locations, func(a, b MRLocation) int { return a.Prefix.Compare(b.Prefix) })
	for p, mrs := range corr {
		if len(mrs) == 0 {
			continue
		}
		x := slices.Clone(mrs)
		slices.SortFunc(x, netip.Addr.Compare)
		out.Correspondents = append(out.Correspondents, MRCorrespondent{Prefix: p, MRs: x})
	}
	slices.SortFunc(out.Correspondents, func(a, b MRCorrespondent) int { return a.Prefix.Compare(b.Prefix) })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) mrDepartures(w http.ResponseWriter, r *http.Request) {
	if s.cfg.MR == nil {
		notRunning(w, "MR", "departed nodes are the mobility router's")
		return
	}
	ds, err := s.cfg.MR.Departures(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	held, err := s.cfg.MR.Held(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	out := MRDepartures{Departures: make([]MRDeparture, 0, len(ds)), Held: slices.Clone(prefixes(held))}
	for _, d := range ds {
		out.Departures = append(out.Departures, fromDeparted(d))
	}
	slices.SortStableFunc(out.Departures, func(a, b MRDeparture) int { return strings.Compare(a.MN, b.MN) })
	slices.SortFunc(out.Held, netip.Prefix.Compare)
	writeJSON(w, http.StatusOK, out)
}

// ---- every role ----

func (s *Server) peers(w http.ResponseWriter, r *http.Request) {
	if s.cfg.LMA == nil && s.cfg.MAG == nil {
		notRunning(w, "LMA or MAG", "peers are the LMA's MAGs and the MAG's LMAs")
		return
	}
	out := []Peer{}
	if s.cfg.LMA != nil {
		ps, err := s.cfg.LMA.Peers(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		for _, p := range ps {
			out = append(out, fromLMAPeer(p))
		}
	}
	if s.cfg.MAG != nil {
		for _, p := range s.cfg.MAG.Peers() {
			out = append(out, fromMAGPeer(p))
		}
	}
	writeJSON(w, http.StatusOK, map[string][]Peer{"peers": out})
}

func (s *Server) counters(w http.ResponseWriter, r *http.Request) {
	out := []Counter{}
	if s.cfg.LMA != nil {
		c, err := s.cfg.LMA.Counters(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		out = append(out, LMACounters(c)...)
	}
	if s.cfg.MAG != nil {
		out = append(out, MAGCounters(s.cfg.MAG.Counters())...)
	}
	if s.cfg.IPsec != nil {
		out = append(out, IPsecCounters(s.cfg.IPsec.Snapshot())...)
	}
	for _, src := range s.cfg.Counters {
		cs, err := src(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		out = append(out, cs...)
	}
	sortCounters(out)
	writeJSON(w, http.StatusOK, map[string][]Counter{"counters": out})
}

func (s *Server) dataplane(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Dataplane == nil {
		notRunning(w, "data plane", "no data plane driver is configured")
		return
	}
	have, err := s.cfg.Dataplane.List()
	if err != nil {
		fail(w, fmt.Errorf("reading the data plane: %w", err))
		return
	}
	out := Dataplane{Driver: s.cfg.Dataplane.Name(), Entries: entries(have), Missing: []DataplaneEntry{}, Unexpected: []DataplaneEntry{}}
	if len(s.cfg.Wanted) > 0 {
		var want []dataplane.Entry
		for _, f := range s.cfg.Wanted {
			es, err := f(r.Context())
			if err != nil {
				fail(w, err)
				return
			}
			want = append(want, es...)
		}
		missing, unexpected := compareEntries(have, want)
		out.Compared, out.Missing, out.Unexpected = true, entries(missing), entries(unexpected)
	}
	writeJSON(w, http.StatusOK, out)
}

func entries(es []dataplane.Entry) []DataplaneEntry {
	out := make([]DataplaneEntry, 0, len(es))
	for _, e := range es {
		out = append(out, fromEntry(e))
	}
	return out
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Status == nil {
		writeError(w, &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "this server has no status"})
		return
	}
	st, err := s.cfg.Status(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	if st.Roles == nil {
		st.Roles = []string{}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Reload == nil {
		writeError(w, &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "this server cannot reload a configuration"})
		return
	}
	ch, err := s.cfg.Reload()
	if err != nil {
		writeError(w, &Error{Status: http.StatusUnprocessableEntity, Code: "reload_refused",
			Detail: "reload refused, the running configuration stays: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, ReloadResult{Changes: strings.Split(ch.String(), "\n"), NeedsRestart: ch.NeedsRestart()})
}

func (s *Server) configCheck(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBody))
	if err != nil {
		badRequest(w, "reading the configuration: %v", err)
		return
	}
	var running *config.Config
	if s.cfg.RunningConfig != nil {
		running = s.cfg.RunningConfig()
	}
	writeJSON(w, http.StatusOK, CheckConfig(body, running))
}

// CheckConfig validates a YAML configuration with internal/config and,
// when it is valid and running is not nil, summarizes what a reload from
// running to it would change. pmipctl uses it offline too.
func CheckConfig(yaml []byte, running *config.Config) ConfigCheck {
	out := ConfigCheck{Problems: []Problem{}}
	c, err := config.Parse(yaml)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				out.Problems = append(out.Problems, Problem{Key: p.Key, Reason: p.Reason})
			}
		} else {
			out.Problems = append(out.Problems, Problem{Key: "(file)", Reason: err.Error()})
		}
		return out
	}
	out.Valid = true
	if running != nil {
		ch := config.Diff(running, c)
		out.Changes = strings.Split(ch.String(), "\n")
		out.NeedsRestart = ch.NeedsRestart()
	}
	return out
}
