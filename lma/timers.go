package lma

import (
	"container/heap"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
)

// Binding Cache entry expiries (lifetime, de-registration delay) are kept
// in one heap ordered by deadline, with one clock timer armed for the
// earliest: no timer and closure per entry, and a refresh (a later
// deadline) only moves the entry in the heap.

// timerHeap is a min-heap of entries by deadline (container/heap).
type timerHeap struct {
	h     []*bce
	timer clock.Timer
	armed int64  // deadline the timer is armed for (0: none)
	gen   uint64 // of the armed timer
	more  bool   // a continuation of expireDue is queued
}

func (t *timerHeap) Len() int           { return len(t.h) }
func (t *timerHeap) Less(i, j int) bool { return t.h[i].deadline < t.h[j].deadline }
func (t *timerHeap) Swap(i, j int) {
	t.h[i], t.h[j] = t.h[j], t.h[i]
	t.h[i].heapIdx = int32(i)
	t.h[j].heapIdx = int32(j)
}
func (t *timerHeap) Push(x any) {
	b := x.(*bce)
	b.heapIdx = int32(len(t.h))
	t.h = append(t.h, b)
}
func (t *timerHeap) Pop() any {
	n := len(t.h) - 1
	b := t.h[n]
	t.h[n] = nil
	t.h = t.h[:n]
	b.heapIdx = -1
	if cap(t.h) > 1024 && len(t.h) < cap(t.h)/4 {
		t.h = append([]*bce(nil), t.h...) // give back what a peak left
	}
	return b
}

func (t *timerHeap) stop() {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.armed = 0
}

// restartTimer (re)sets b's expiry to d from now. What it does when it
// fires follows b's state then: the end of MinDelayBeforeBCEDelete for a
// de-registered entry, the end of the lifetime otherwise.
func (l *LMA) restartTimer(b *bce, d time.Duration) {
	l.setDeadline(b, l.cfg.Clock.Now().Add(d).UnixNano())
}

func (l *LMA) setDeadline(b *bce, at int64) {
	b.deadline = at
	if b.heapIdx >= 0 {
		heap.Fix(&l.timers, int(b.heapIdx))
	} else {
		heap.Push(&l.timers, b)
	}
	l.armTimer()
}

// cancelTimer takes b out of the heap.
func (l *LMA) cancelTimer(b *bce) {
	if b.heapIdx >= 0 {
		heap.Remove(&l.timers, int(b.heapIdx))
	}
}

// armTimer makes sure a clock timer is armed for the earliest deadline.
func (l *LMA) armTimer() {
	t := &l.timers
	if len(t.h) == 0 {
		return // an armed timer finds nothing due: harmless
	}
	next := t.h[0].deadline
	if t.armed != 0 && t.armed <= next {
		return
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.gen++
	gen := t.gen
	t.armed = next
	d := time.Duration(next - l.cfg.Clock.Now().UnixNano())
	t.timer = l.cfg.Clock.AfterFunc(d, func() { l.post(func() { l.expireDue(gen) }) })
}

// expireBatch and opBudget bound the entries one operation removes: the
// rest are removed by a following operation, so that received packets
// and management calls get through a mass expiry (each removal may be a
// slow data plane operation). The budget is wall-clock time, whatever
// the LMA's clock.
const (
	expireBatch = 256
	opBudget    = 20 * time.Millisecond
)

// expireDue removes the entries whose deadline has come, then arms the
// timer for the next one.
func (l *LMA) expireDue(gen uint64) {
	t := &l.timers
	if gen == t.gen {
		t.armed, t.timer = 0, nil
	}
	n := 0
	start := time.Now()
	for {
		for len(t.h) > 0 && t.h[0].deadline <= l.cfg.Clock.Now().UnixNano() {
			if n == expireBatch || (n > 0 && time.Since(start) > opBudget) {
				if !t.more {
					t.more = true
					l.postAsync(func() { t.more = false; l.expireDue(0) })
				}
				return
			}
			n++
			b := heap.Pop(t).(*bce)
			reason := "binding lifetime expired"
			if b.state == StateDeregistered {
				reason = "de-registration delay over, binding deleted"
			}
			if l.logOn(logrus.InfoLevel) {
				l.cfg.Log.WithField("mn", b.mnKey).WithField("hnp", b.hnps).Info(reason)
			}
			l.removeBCE(b, reason)
		}
		l.armTimer()
		// A clock that moved past the next deadline while the timer was
		// being armed (a fake clock advanced by another goroutine) may
		// not fire it: look again.
		if len(t.h) == 0 || t.h[0].deadline > l.cfg.Clock.Now().UnixNano() {
			return
		}
	}
}
