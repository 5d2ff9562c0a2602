package clock

import (
	"sync"
	"testing"
	"time"
)

func TestFakeOrderAndStop(t *testing.T) {
	start := time.Unix(1000, 0)
	c := NewFake(start)
	var got []string
	var at []time.Duration
	rec := func(s string) func() {
		return func() { got = append(got, s); at = append(at, c.Now().Sub(start)) }
	}
	c.AfterFunc(3*time.Second, rec("c"))
	c.AfterFunc(1*time.Second, rec("a"))
	stopped := c.AfterFunc(2*time.Second, rec("x"))
	c.AfterFunc(1*time.Second, rec("b")) // same deadline as a: creation order
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	if stopped.Stop() {
		t.Fatal("second Stop returned true")
	}
	c.Advance(2 * time.Second)
	if want := []string{"a", "b"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("fired %v, want %v", got, want)
	}
	if at[0] != time.Second || at[1] != time.Second {
		t.Fatalf("fired at %v, want 1s each", at)
	}
	if c.Now().Sub(start) != 2*time.Second {
		t.Fatalf("now = %v", c.Now().Sub(start))
	}
	// A timer created by a timer function fires in the same Advance if due.
	c.AfterFunc(500*time.Millisecond, func() {
		got = append(got, "d")
		c.AfterFunc(100*time.Millisecond, rec("e"))
	})
	c.Advance(2 * time.Second)
	want := []string{"a", "b", "d", "e", "c"}
	if len(got) != len(want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired %v, want %v", got, want)
		}
	}
	if c.Pending() != 0 {
		t.Fatalf("%d timers pending", c.Pending())
	}
}

func TestFakeConcurrent(t *testing.T) {
	c := NewFake(time.Unix(0, 0))
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				tm := c.AfterFunc(time.Duration(j)*time.Millisecond, func() { mu.Lock(); n++; mu.Unlock() })
				if j%2 == 1 {
					tm.Stop()
				}
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	c.Advance(time.Second)
	if n != 8*50 {
		t.Fatalf("fired %d, want %d", n, 8*50)
	}
}

func TestReal(t *testing.T) {
	c := New()
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("real timer did not fire")
	}
	if c.Now().IsZero() {
		t.Fatal("zero time")
	}
}
