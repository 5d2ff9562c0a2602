package main

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/metrics"
)

// fakeLM answers every query with an error (what it answers does not
// matter to the timing).
type fakeLM struct {
	wire.LocationService
	calls int
}

func (f *fakeLM) Query(context.Context, wire.Query) ([]wire.Location, error) {
	f.calls++
	return nil, errors.New("unknown")
}

func (f *fakeLM) QueryMany(_ context.Context, qs []wire.Query) ([]wire.Result, error) {
	f.calls++
	return make([]wire.Result, len(qs)), nil
}

// TestObserver: the MR's LM queries (Query and QueryMany, one each) and
// handovers reach the histograms through the daemon's late observer once
// the metrics exist; before, they are dropped.
func TestObserver(t *testing.T) {
	var obs lateObserver
	f := &fakeLM{}
	lm := timedLM{f, &obs}
	ctx := context.Background()
	lm.Query(ctx, wire.Query{}) // no metrics yet: dropped
	obs.ObserveHandover(1)

	m := metrics.New(metrics.Sources{})
	obs.m.Store(m)
	if _, err := lm.Query(ctx, wire.Query{}); err == nil {
		t.Error("the LM's error was not passed on")
	}
	if rs, err := lm.QueryMany(ctx, make([]wire.Query, 3)); err != nil || len(rs) != 3 {
		t.Errorf("QueryMany: %v %v", rs, err)
	}
	obs.ObserveHandover(20e6)
	if f.calls != 3 {
		t.Errorf("%d calls reached the LM, want 3", f.calls)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	lines := strings.Split(string(b), "\n")
	if n := histCount(lines, "pmip_lm_query_duration_seconds"); n != 2 {
		t.Errorf("pmip_lm_query_duration_seconds_count %d, want 2", n)
	}
	if n := histCount(lines, "pmip_handover_duration_seconds"); n != 1 {
		t.Errorf("pmip_handover_duration_seconds_count %d, want 1", n)
	}
}
