// Package bench is the library behind cmd/pmipbench: a load generator
// that emulates many MAGs and mobile nodes against any LMA (Load), and a
// catalogue of RFC 5213 / 5846 / 5847 conformance checks run against a
// target LMA (Conform). Both work over any transport.Transport: raw
// IPPROTO_MH sockets for real targets, the in-memory network in tests.
package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations (nanoseconds) in log-linear buckets: exact
// below 128 ns, then 128 buckets per power of two, so a percentile read
// from it is within 1/128 (0.8 %) of the exact sample value. Recording
// does not allocate. A Histogram is not safe for concurrent use; record
// into one per goroutine and Merge them.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	min    uint64
	max    uint64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // buckets per power of two
	histBuckets = (64 - histSubBits + 1) * histSub
)

// histIndex returns the bucket of v.
func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	mant := v >> uint(shift) // in [histSub, 2*histSub)
	return (shift+1)*histSub + int(mant-histSub)
}

// histBounds returns the smallest and largest value of bucket i.
func histBounds(i int) (lo, hi uint64) {
	if i < histSub {
		return uint64(i), uint64(i)
	}
	shift := uint(i/histSub - 1)
	mant := uint64(i%histSub + histSub)
	lo = mant << shift
	hi = lo + (uint64(1) << shift) - 1
	return lo, hi
}

// Record adds one sample (negative durations count as 0).
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Min and Max are the exact extreme samples (0 when empty).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is the exact mean of the samples.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(math.Round(h.sum / float64(h.n)))
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100): the
// smallest recorded value v such that at least p % of the samples are <= v,
// read as the upper bound of its bucket (clamped to Min and Max).
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			_, hi := histBounds(i)
			hi = min(max(hi, h.min), h.max)
			return time.Duration(hi)
		}
	}
	return time.Duration(h.max)
}

// Merge adds the samples of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Latency is the summary of a Histogram, in the reports.
type Latency struct {
	Count uint64        `json:"count"`
	Min   time.Duration `json:"min_ns"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Summary returns the usual percentiles of h.
func (h *Histogram) Summary() Latency {
	return Latency{Count: h.n, Min: h.Min(), Mean: h.Mean(), P50: h.Percentile(50),
		P90: h.Percentile(90), P99: h.Percentile(99), Max: h.Max()}
}
