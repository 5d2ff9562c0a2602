package bench

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
)

// failingTransport accepts ok packets (kept in got), then fails every
// send.
type failingTransport struct {
	ok  int
	got [][]byte
}

var errSendTest = errors.New("send failed")

func (t *failingTransport) LocalAddr() netip.Addr                   { return testMAG(0) }
func (t *failingTransport) Receive([]transport.Packet) (int, error) { return 0, transport.ErrClosed }
func (t *failingTransport) Close() error                            { return nil }

func (t *failingTransport) Send(_ netip.Addr, b []byte) error {
	if len(t.got) >= t.ok {
		return errSendTest
	}
	t.got = append(t.got, slices.Clone(b))
	return nil
}

// batchingTransport is failingTransport as a batchSender.
type batchingTransport struct{ failingTransport }

func (t *batchingTransport) SendBatch(ps []transport.Packet) (int, error) {
	for i, p := range ps {
		if err := t.Send(p.Dst, p.Data); err != nil {
			return i, err
		}
	}
	return len(ps), nil
}

// addTest adds a request for mn, sent at sent, the way the runs do: its
// packet is one byte, mn. It returns its Sequence #, the first free from
// seq on.
func (f *flights[O]) addTest(seq uint16, mn int32, sent int64) uint16 {
	f.mu.Lock()
	seq = f.freeSeq(seq)
	b := f.slot()[:1]
	b[0] = byte(mn)
	f.inflight[seq] = flight[O]{sent: sent, mn: mn}
	f.mu.Unlock()
	f.queue(seq, transport.Packet{Dst: testLMA, Data: b})
	return seq
}

func TestFlightsFreeSeq(t *testing.T) {
	var f flights[Op]
	f.init(&failingTransport{ok: 100}, 8, 0xfffe)
	if got := f.addTest(0xfffe, 0, 0); got != 0xfffe {
		t.Fatalf("first seq %#x", got)
	}
	// Busy numbers are skipped, and the numbers wrap.
	if got := f.addTest(0xfffe, 1, 0); got != 0xffff {
		t.Fatalf("second seq %#x", got)
	}
	if got := f.addTest(0xfffe, 2, 0); got != 0 {
		t.Fatalf("third seq %#x", got)
	}
	if !slices.Equal(f.meta, []uint16{0xfffe, 0xffff, 0}) {
		t.Fatalf("meta %v", f.meta)
	}
	// Each packet has its own slot.
	for i, p := range f.out {
		if len(p.Data) != 1 || p.Data[0] != byte(i) {
			t.Fatalf("packet %d: %v", i, p.Data)
		}
	}
}

func TestFlightsFlushUndo(t *testing.T) {
	for _, batch := range []bool{false, true} {
		tr := &batchingTransport{failingTransport{ok: 2}}
		var f flights[DMMOp]
		if batch {
			f.init(tr, 8, 10)
		} else {
			f.init(&tr.failingTransport, 8, 10)
		}
		for mn := range int32(5) {
			f.addTest(10, mn, 0)
		}
		var unsent []int32
		f.flush(func(e flight[DMMOp]) { unsent = append(unsent, e.mn) })
		if len(tr.got) != 2 || tr.got[0][0] != 0 || tr.got[1][0] != 1 {
			t.Fatalf("batch %v: sent %v", batch, tr.got)
		}
		// The unsent requests are undone in order; the sent ones stay.
		if !slices.Equal(unsent, []int32{2, 3, 4}) {
			t.Fatalf("batch %v: undone %v", batch, unsent)
		}
		if len(f.inflight) != 2 || len(f.out) != 0 || len(f.meta) != 0 {
			t.Fatalf("batch %v: after flush %d in flight, %d queued", batch, len(f.inflight), len(f.out))
		}
		if _, ok := f.take(10); !ok {
			t.Fatalf("batch %v: sent request 10 not in flight", batch)
		}
		if _, ok := f.take(10); ok {
			t.Fatalf("batch %v: request 10 taken twice", batch)
		}
	}
}

func TestFlightsExpire(t *testing.T) {
	var f flights[Op]
	f.init(&failingTransport{ok: 100}, 8, 0)
	for mn := range int32(6) {
		f.addTest(0, mn, int64(mn)*10)
	}
	var old []int32
	f.expire(30, func(e inflight) { old = append(old, e.mn) })
	slices.Sort(old)
	if !slices.Equal(old, []int32{0, 1, 2}) || len(f.inflight) != 3 {
		t.Fatalf("expired %v, %d left", old, len(f.inflight))
	}
}

// nopBatch sends every batch whole and keeps nothing.
type nopBatch struct{}

func (nopBatch) LocalAddr() netip.Addr                        { return testMAG(0) }
func (nopBatch) Send(netip.Addr, []byte) error                { return nil }
func (nopBatch) Receive([]transport.Packet) (int, error)      { return 0, transport.ErrClosed }
func (nopBatch) Close() error                                 { return nil }
func (nopBatch) SendBatch(ps []transport.Packet) (int, error) { return len(ps), nil }

// TestFlightsNoAlloc: queueing, sending, answering and undoing requests
// allocate nothing once the table is sized.
func TestFlightsNoAlloc(t *testing.T) {
	var f flights[Op]
	f.init(nopBatch{}, 64, 0)
	failing := &batchingTransport{}
	var seq uint16
	allocs := testing.AllocsPerRun(1000, func() {
		for range maxBatch {
			seq = f.addTest(seq, 1, 0) + 1
		}
		if !f.full() {
			t.Fatal("batch not full")
		}
		f.flush(func(flight[Op]) { t.Fatal("undone") })
		for s := seq - maxBatch; s != seq; s++ {
			if _, ok := f.take(s); !ok {
				t.Fatalf("request %d not in flight", s)
			}
		}
		// A failed send undoes the request.
		f.tr = failing
		f.addTest(seq, 1, 0)
		f.flush(func(flight[Op]) {})
		f.tr = nopBatch{}
		if len(f.inflight) != 0 {
			t.Fatal("not undone")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
}

func TestDriverIdleRing(t *testing.T) {
	var d driver[completion]
	d.init(3, 1, 1)
	var got []int32
	for i := range int32(3) {
		d.pushIdle(i)
	}
	for range 7 {
		i := d.popIdle()
		got = append(got, i)
		d.pushIdle(i)
	}
	if !slices.Equal(got, []int32{0, 1, 2, 0, 1, 2, 0}) || d.idleN != 3 {
		t.Fatalf("idle order %v, %d idle", got, d.idleN)
	}
}

func TestDriverAdmit(t *testing.T) {
	var d driver[completion]
	d.init(4, 1, 1)
	d.startClock(time.Second, 0, 0)
	defer d.stopClock()
	if ok, _ := d.admit(2, 0); ok {
		t.Fatal("admitted with no MN idle")
	}
	for i := range int32(4) {
		d.pushIdle(i)
	}
	var ops [2]OpCounts
	for range 2 {
		if ok, _ := d.admit(2, 3); !ok {
			t.Fatal("not admitted")
		}
		d.popIdle()
		d.sent(&ops[0], true)
	}
	if ok, reached := d.admit(2, 3); ok || reached {
		t.Fatalf("window of 2 full: ok %v count reached %v", ok, reached)
	}
	// A send error gives its place in the window and in the count back.
	d.settle(&ops[0], statusSendError, true)
	if d.out != 1 || d.total != 1 || d.sendErr != 1 || ops[0] != (OpCounts{Sent: 1}) {
		t.Fatalf("after a send error: out %d total %d send errors %d %+v", d.out, d.total, d.sendErr, ops[0])
	}
	d.pushIdle(0)
	d.sent(&ops[1], false) // not towards the count (cleanup)
	d.sent(&ops[0], true)
	d.sent(&ops[0], true)
	d.out = 0
	if ok, reached := d.admit(2, 3); ok || !reached {
		t.Fatalf("count of 3 reached: ok %v count reached %v", ok, reached)
	}
	if ok, _ := d.admit(2, 0); !ok {
		t.Fatal("not admitted without a count")
	}
	d.settle(&ops[0], statusTimeout, true)
	d.settle(&ops[0], 0, true)
	if ops[0] != (OpCounts{Sent: 3, Answered: 1, Timeouts: 1}) || ops[1] != (OpCounts{Sent: 1}) {
		t.Fatalf("counts %+v", ops)
	}
}

func TestDriverPacing(t *testing.T) {
	var d driver[completion]
	d.init(4, 1, 1)
	for i := range int32(4) {
		d.pushIdle(i)
	}
	// 1000/s: one token at the start, refilled on the (1 ms) ticks, at
	// most a 5 ms burst.
	d.startClock(time.Second, 0, 1000)
	if ok, _ := d.admit(10, 0); !ok {
		t.Fatal("first token")
	}
	if ok, _ := d.admit(10, 0); ok {
		t.Fatal("second request before a tick")
	}
	for range 20 {
		if _, ev := d.wait(context.Background()); ev != evTick {
			t.Fatalf("event %v", ev)
		}
		if d.tokens > 5 {
			t.Fatalf("%v tokens: burst above 5 ms", d.tokens)
		}
	}
	if ok, _ := d.admit(10, 0); !ok {
		t.Fatalf("no token after 20 ticks (%v)", d.tokens)
	}
	d.stopClock()
	// The time bound and the context end the phase.
	d.startClock(time.Second, 5*time.Millisecond, 0)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, ev := d.wait(context.Background()); ev == evStop {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no end after the time bound")
		}
	}
	d.stopClock()
	d.startClock(time.Second, 0, 0)
	defer d.stopClock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ev := d.wait(ctx); ev != evStop {
		t.Fatalf("event %v after the context's end", ev)
	}
}

func TestDriverHandOver(t *testing.T) {
	var d driver[completion]
	d.init(1, 1, 1)
	cs := append(d.batch(), completion{mn: 7})
	if !d.deliver(cs) {
		t.Fatal("not delivered")
	}
	d.startClock(time.Hour, 0, 0)
	defer d.stopClock()
	got, ev := d.wait(context.Background())
	if ev != evCompletions || len(got) != 1 || got[0].mn != 7 {
		t.Fatalf("wait: %v %v", got, ev)
	}
	d.recycle(got)
	if b := d.batch(); len(b) != 0 || cap(b) != maxBatch {
		t.Fatalf("recycled batch len %d cap %d", len(b), cap(b))
	}
	close(d.done)
	for range cap(d.comps) {
		d.comps <- nil
	}
	if d.deliver(nil) {
		t.Fatal("delivered after the end of the run")
	}
}

func TestSetRunDefaults(t *testing.T) {
	format, window, timeout := "", 0, time.Duration(0)
	if err := setRunDefaults(10, &format, &window, 0, 5, &timeout); err != nil {
		t.Fatal(err)
	}
	if format != "mn%d@pmipbench" || window != 256 || timeout != time.Second {
		t.Fatalf("defaults %q %d %v", format, window, timeout)
	}
	for _, c := range []struct {
		mns, window int
		dur         time.Duration
		count       uint64
	}{{-1, 1, 0, 1}, {1<<30 + 1, 1, 0, 1}, {1, 1 << 16, 0, 1}, {1, 1, 0, 0}} {
		if err := setRunDefaults(c.mns, &format, &c.window, c.dur, c.count, &timeout); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
