package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/dmm/store/boltstore"
	"github.com/pmipdmm/pmipdmm/dmm/store/storetest"
	"github.com/pmipdmm/pmipdmm/internal/clock"
)

var (
	ctx = context.Background()
	t0  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

func open(t *testing.T, path string, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		clk := clock.NewFake(t0)
		return storetest.Harness{
			Store:     open(t, filepath.Join(t.TempDir(), "store.db"), boltstore.WithClock(clk)),
			Now:       clk.Now,
			Advance:   clk.Advance,
			EventWait: 2 * time.Second,
		}
	})
}
