// Package clock abstracts time for the protocol roles, so that their
// timers (RFC 5213 §9 delays, binding lifetimes, heartbeats,
// retransmissions) can be driven by a fake clock in tests.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and schedules functions.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f (in its own goroutine for the real clock; in the
	// goroutine calling Advance for the fake one) once d has elapsed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled call, as returned by AfterFunc.
type Timer interface {
	// Stop cancels the call; it reports whether the call was still pending.
	Stop() bool
}

// Real is the system clock.
type Real struct{}

// New returns the system clock.
func New() Clock { return Real{} }

func (Real) Now() time.Time { return time.Now() }

func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Fake is a manually advanced clock, safe for concurrent use. Timers fire,
// in order of their deadline (then of their creation), in the goroutine
// that calls Advance or Set, without any lock held, so a timer function
// may itself create or stop timers.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers map[*fakeTimer]struct{}
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, timers: map[*fakeTimer]struct{}{}}
}

type fakeTimer struct {
	c    *Fake
	when time.Time
	seq  uint64
	f    func()
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	delete(t.c.timers, t)
	return ok
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d. A d <= 0 fires at the next Advance
// (even Advance(0)).
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers[t] = struct{}{}
	return t
}

// Pending returns how many timers are scheduled.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock forward by d, firing every timer whose deadline
// is reached, each with the clock set to its deadline.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	c.Set(end)
}

// Set moves the clock to t (never backwards for timers: timers due at or
// before t fire), firing the timers due.
func (c *Fake) Set(t time.Time) {
	for {
		c.mu.Lock()
		var due []*fakeTimer
		for tm := range c.timers {
			if !tm.when.After(t) {
				due = append(due, tm)
			}
		}
		if len(due) == 0 {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		sort.Slice(due, func(i, j int) bool {
			if !due[i].when.Equal(due[j].when) {
				return due[i].when.Before(due[j].when)
			}
			return due[i].seq < due[j].seq
		})
		first := due[0]
		delete(c.timers, first)
		if first.when.After(c.now) {
			c.now = first.when
		}
		c.mu.Unlock()
		first.f()
	}
}
