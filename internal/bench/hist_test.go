package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactPercentile is the nearest-rank percentile of sorted samples.
func exactPercentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestHistogramBuckets(t *testing.T) {
	// Every value lies within its bucket, buckets are contiguous and
	// their width is at most 1/128 of their lower bound.
	prevHi := uint64(0)
	for i := 0; i < histBuckets; i++ {
		lo, hi := histBounds(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if lo >= histSub && float64(hi-lo+1) > float64(lo)/histSub+0.5 {
			t.Fatalf("bucket %d [%d,%d] wider than 1/128 of its bound", i, lo, hi)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d [%d,%d]: index(lo)=%d index(hi)=%d", i, lo, hi, histIndex(lo), histIndex(hi))
		}
		prevHi = hi
		if hi == ^uint64(0) {
			break
		}
	}
	if prevHi != ^uint64(0) {
		t.Fatalf("buckets end at %d, not at the largest uint64", prevHi)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		gen  func(i int) time.Duration
		n    int
	}{
		{"uniform 1..100000", func(i int) time.Duration { return time.Duration(i + 1) }, 100000},
		{"small exact values", func(i int) time.Duration { return time.Duration(i % 100) }, 1000},
		{"exponential around 50us", func(int) time.Duration { return time.Duration(rng.ExpFloat64() * 50e3) }, 200000},
		{"bimodal 10us / 5ms", func(i int) time.Duration {
			if i%10 == 0 {
				return 5 * time.Millisecond
			}
			return 10 * time.Microsecond
		}, 10000},
		{"single sample", func(int) time.Duration { return 1234567 }, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Histogram
			s := make([]time.Duration, c.n)
			for i := range s {
				s[i] = c.gen(i)
				h.Record(s[i])
			}
			slices.Sort(s)
			if h.Count() != uint64(c.n) || h.Min() != s[0] || h.Max() != s[len(s)-1] {
				t.Fatalf("count/min/max = %d/%v/%v, want %d/%v/%v", h.Count(), h.Min(), h.Max(), c.n, s[0], s[len(s)-1])
			}
			for _, p := range []float64{1, 50, 90, 99, 99.9, 100} {
				want := exactPercentile(s, p)
				got := h.Percentile(p)
				if got < want || float64(got-want) > float64(want)/histSub+1 {
					t.Errorf("p%v = %v, exact %v (allowed +0.8%%)", p, got, want)
				}
			}
		})
	}
}

func TestHistogramExactCases(t *testing.T) {
	var h Histogram
	for _, v := range []time.Duration{10, 20, 30, 40, 50, 60, 70, 80, 90, 100} {
		h.Record(v)
	}
	// Values below 128 ns are exact: nearest rank over 10 samples.
	for p, want := range map[float64]time.Duration{10: 10, 50: 50, 51: 60, 90: 90, 91: 100, 100: 100} {
		if got := h.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if h.Mean() != 55 {
		t.Errorf("mean %v, want 55", h.Mean())
	}
	var empty Histogram
	if empty.Percentile(50) != 0 || empty.Mean() != 0 {
		t.Error("empty histogram percentiles not 0")
	}
	h.Record(-5) // counted as 0
	if h.Min() != 0 || h.Count() != 11 {
		t.Errorf("negative sample: min %v count %d", h.Min(), h.Count())
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := 1; i <= 5000; i++ {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a.Summary() != all.Summary() {
		t.Fatalf("merged %+v, want %+v", a.Summary(), all.Summary())
	}
	var e Histogram
	e.Merge(&Histogram{})
	if e.Count() != 0 {
		t.Fatal("merging an empty histogram added samples")
	}
}
