package bench

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/lma"
)

// nopDP is a data plane that keeps nothing, so that only the LMA's own
// memory is measured (dataplane.Fake keeps every entry and a log).
type nopDP struct{}

func (nopDP) Name() string                     { return "nop" }
func (nopDP) Setup(dataplane.Config) error     { return nil }
func (nopDP) Add(dataplane.Entry) error        { return nil }
func (nopDP) Del(dataplane.Entry) error        { return nil }
func (nopDP) List() ([]dataplane.Entry, error) { return nil, nil }
func (nopDP) Flush() error                     { return nil }

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestLMAMemoryPerBinding registers (sequence-number scheme: a queue of
// PBUs longer than TimestampValidityWindow would get 156) PMIPBENCH_BINDINGS (e.g. 1000000)
// MNs with the in-process LMA over the in-memory transport and reports the
// LMA's heap per binding (runtime.MemStats.HeapAlloc after GC, before and
// after; the generator's own state is garbage by then). Target: <= 1 KiB
// (design.md §7). Env-gated: it takes a while and a lot of memory.
// PMIPBENCH_HEAPPROFILE writes a heap profile at the end.
func TestLMAMemoryPerBinding(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PMIPBENCH_BINDINGS"))
	if n <= 0 {
		t.Skip("set PMIPBENCH_BINDINGS=1000000")
	}
	net, l := inProcLMA(t, func(c *lma.Config) { c.MaxLifetime = 24 * time.Hour; c.DataPlane = nopDP{} })
	mags := magTransports(t, net, 8)
	before := heapAfterGC()
	t0 := time.Now()
	rep, err := Load(context.Background(), LoadConfig{LMA: testLMA, MAGs: mags, MNs: n, Count: uint64(n), Window: 1024,
		Timeout: 10 * time.Second, NoCleanup: true, Sequence: true, Mix: Mix{Reregister: 1}, Lifetime: 0xffff})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	if rep.Ops["register"].Answered != uint64(n) || rep.Accepted != uint64(n) {
		t.Fatalf("registrations: %+v status %+v", rep.Ops, rep.Status)
	}
	// Close the MAGs: their receive goroutines end and the generator's
	// state becomes garbage.
	for _, m := range mags {
		m.Close()
	}
	time.Sleep(100 * time.Millisecond)
	after := heapAfterGC()
	per := float64(after-before) / float64(n)
	t.Logf("%d bindings: heap %d -> %d bytes, %.0f bytes per binding (target <= 1024); registered in %v (%.0f/s in-process, p50 %v p99 %v)",
		n, before, after, per, took.Round(time.Millisecond), float64(n)/took.Seconds(), rep.Latency.P50, rep.Latency.P99)
	if f := os.Getenv("PMIPBENCH_HEAPPROFILE"); f != "" {
		if pf, err := os.Create(f); err == nil {
			pprof.WriteHeapProfile(pf)
			pf.Close()
		}
	}
	if per > 1024 {
		t.Errorf("%.0f bytes per binding, above the 1 KiB target", per)
	}
	runtime.KeepAlive(l)
}
