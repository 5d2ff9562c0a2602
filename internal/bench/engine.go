package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// The machinery Load and DMMLoad share: an emulated peer's requests in
// flight and its batch of packets to send (flights), and the driver's
// queue of idle MNs, window, pacing and completions (driver). Each run
// keeps what is its own: the MNs' state, the messages, the matching of
// answers and the report.

const (
	statusTimeout   = -1
	statusSendError = -2
	maxBatch        = 64
	slotSize        = 512
)

// setRunDefaults applies the defaults and bounds LoadConfig and
// DMMLoadConfig share, once the MN count has its default.
func setRunDefaults(mns int, mnFormat *string, window *int, duration time.Duration, count uint64, timeout *time.Duration) error {
	if mns < 0 || mns > 1<<30 {
		return fmt.Errorf("bench: %d MNs", mns)
	}
	if *mnFormat == "" {
		*mnFormat = "mn%d@pmipbench"
	}
	if *window <= 0 {
		*window = 256
	}
	if *window > 1<<15 {
		return fmt.Errorf("bench: window %d above 32768", *window)
	}
	if duration <= 0 && count == 0 {
		return errors.New("bench: neither a duration nor a count bounds the run")
	}
	if *timeout <= 0 {
		*timeout = time.Second
	}
	return nil
}

// mnNAIs returns the NAIs of n MNs: fmt.Sprintf(format, base+i).
func mnNAIs(format string, base, n int) [][]byte {
	nais := make([][]byte, n)
	for i := range nais {
		nais[i] = fmt.Appendf(nil, format, base+i)
	}
	return nais
}

// nextTimestamp is the Timestamp option's value for a request now, above
// last (the MN's previous one).
func nextTimestamp(last uint64) uint64 {
	ts := mh.TimestampValue(time.Now())
	if ts <= last {
		ts = last + 1
	}
	return ts
}

// batchSender is implemented by transports that send several packets in
// one system call (transport.Raw).
type batchSender interface {
	SendBatch(ps []transport.Packet) (int, error)
}

// sendAll sends out through tr, in one batch when tr can, and returns how
// many went out before the first error.
func sendAll(tr transport.Transport, out []transport.Packet) (sent int, err error) {
	if bs, ok := tr.(batchSender); ok {
		return bs.SendBatch(out)
	}
	for _, p := range out {
		if err = tr.Send(p.Dst, p.Data); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

// flight is an outstanding request, keyed by (peer, Sequence #): when it
// was sent (ns since the start of the run), for which MN, what it does.
type flight[O ~uint8] struct {
	sent int64
	mn   int32
	op   O
}

// flights is an emulated peer's side of a run (a MAG of Load, an MR of
// DMMLoad): its transport, its requests in flight, shared with its
// receive goroutine under mu, and the driver's batch of packets to send,
// built in slab.
//
// A request is added by the driver with mu held: freeSeq picks its
// Sequence #, it is built in slot(), recorded in inflight, and queued
// (after mu is released); flush sends the batch.
type flights[O ~uint8] struct {
	tr       transport.Transport
	mu       sync.Mutex
	inflight map[uint16]flight[O]
	nextSeq  uint16
	// driver-owned send batch
	out  []transport.Packet
	meta []uint16 // sequence numbers of out
	slab []byte
}

func (f *flights[O]) init(tr transport.Transport, window int, nextSeq uint16) {
	f.tr = tr
	f.inflight = make(map[uint16]flight[O], window)
	f.nextSeq = nextSeq
	f.slab = make([]byte, maxBatch*slotSize)
}

// freeSeq returns the first Sequence # from seq on that no request in
// flight holds. f.mu is held.
func (f *flights[O]) freeSeq(seq uint16) uint16 {
	for {
		if _, busy := f.inflight[seq]; !busy {
			return seq
		}
		seq++
	}
}

// full says whether the batch must be flushed before another packet is
// queued.
func (f *flights[O]) full() bool { return len(f.out) == maxBatch }

// slot is the buffer the next queued packet is built in.
func (f *flights[O]) slot() []byte {
	off := len(f.out) * slotSize
	return f.slab[off : off+slotSize]
}

// queue adds the packet of request seq, built in slot(), to the batch.
func (f *flights[O]) queue(seq uint16, p transport.Packet) {
	f.out = append(f.out, p)
	f.meta = append(f.meta, seq)
}

// take removes request seq from the table, if it is there.
func (f *flights[O]) take(seq uint16) (e flight[O], ok bool) {
	f.mu.Lock()
	e, ok = f.inflight[seq]
	delete(f.inflight, seq)
	f.mu.Unlock()
	return e, ok
}

// flush sends the batch. The requests that did not go out are taken back
// out of the table and handed to unsent, in the batch's order.
func (f *flights[O]) flush(unsent func(flight[O])) {
	sent, err := sendAll(f.tr, f.out)
	if err != nil {
		for _, seq := range f.meta[sent:] {
			if e, ok := f.take(seq); ok {
				unsent(e)
			}
		}
	}
	f.out = f.out[:0]
	f.meta = f.meta[:0]
}

// expire removes the requests sent before lim (ns since the start of the
// run) and hands each to timedOut, with f.mu held.
func (f *flights[O]) expire(lim int64, timedOut func(flight[O])) {
	f.mu.Lock()
	for seq, e := range f.inflight {
		if e.sent < lim {
			delete(f.inflight, seq)
			timedOut(e)
		}
	}
	f.mu.Unlock()
}

// driver is the state of a run's driver goroutine, with the hand-over of
// completions (C) from the receive goroutines.
type driver[C any] struct {
	start time.Time
	rng   *rand.Rand
	idle  []int32 // FIFO ring of the MNs ready for their next request
	idleH int
	idleN int
	out   int    // requests outstanding
	total uint64 // requests sent, towards the Count bound
	// sendErr counts the requests that could not be built or sent.
	sendErr uint64
	comps   chan []C
	free    chan []C
	done    chan struct{}
	// pacing: the tick (time-outs, token refills), the run's time bound
	// and the token bucket
	tick   *time.Ticker
	bound  *time.Timer
	stop   <-chan time.Time
	rate   float64
	tokens float64
	last   time.Time
}

// init sizes the driver for mns MNs (none idle yet) and peers emulated
// peers.
func (d *driver[C]) init(mns, peers int, seed uint64) {
	d.idle = make([]int32, mns)
	d.comps = make(chan []C, 4*peers+16)
	d.free = make(chan []C, 8*peers+32)
	d.done = make(chan struct{})
	d.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func (d *driver[C]) now() int64 { return int64(time.Since(d.start)) }

func (d *driver[C]) pushIdle(i int32) {
	d.idle[(d.idleH+d.idleN)%len(d.idle)] = i
	d.idleN++
}

func (d *driver[C]) popIdle() int32 {
	i := d.idle[d.idleH]
	d.idleH = (d.idleH + 1) % len(d.idle)
	d.idleN--
	return i
}

// startClock starts a phase of the run: the tick that expires requests
// (every Timeout/8 within 1 to 50 ms, every ms when paced), the time bound
// (none when 0) and the token bucket for rate requests per second (0:
// unpaced). stopClock ends it.
func (d *driver[C]) startClock(timeout, bound time.Duration, rate float64) {
	every := min(max(timeout/8, time.Millisecond), 50*time.Millisecond)
	if rate > 0 {
		every = time.Millisecond
	}
	d.tick = time.NewTicker(every)
	d.bound, d.stop = nil, nil
	if bound > 0 {
		d.bound = time.NewTimer(bound)
		d.stop = d.bound.C
	}
	d.rate, d.tokens, d.last = rate, 1, time.Now()
}

func (d *driver[C]) stopClock() {
	d.tick.Stop()
	if d.bound != nil {
		d.bound.Stop()
	}
}

// admit says whether one more request may start: the window has room, an
// MN is idle, count (0: no bound) is not reached and the token bucket has
// a token (taken). countReached says that count stopped it.
func (d *driver[C]) admit(window int, count uint64) (ok, countReached bool) {
	switch {
	case d.out >= window || d.idleN == 0:
		return false, false
	case count > 0 && d.total >= count:
		return false, true
	case d.rate > 0 && d.tokens < 1:
		return false, false
	}
	if d.rate > 0 {
		d.tokens--
	}
	return true, false
}

// sent counts a request queued: outstanding, in cnt.Sent, and towards the
// Count bound when inTotal.
func (d *driver[C]) sent(cnt *OpCounts, inTotal bool) {
	d.out++
	cnt.Sent++
	if inTotal {
		d.total++
	}
}

// settle counts the outcome of a request (status: statusSendError,
// statusTimeout or the answer's) in cnt and the window. A request whose
// send failed leaves Sent (and the total when inTotal) for sendErr.
func (d *driver[C]) settle(cnt *OpCounts, status int16, inTotal bool) {
	d.out--
	switch status {
	case statusSendError:
		cnt.Sent--
		if inTotal {
			d.total--
		}
		d.sendErr++
	case statusTimeout:
		cnt.Timeouts++
	default:
		cnt.Answered++
	}
}

// event is what wait returns on.
type event uint8

const (
	evCompletions event = iota // a batch of completions
	evTick                     // time to expire requests (the bucket is refilled)
	evStop                     // the time bound or the context ended the phase
)

// wait blocks until a batch of completions (returned with evCompletions;
// give it back with recycle), the tick or the end of the phase.
func (d *driver[C]) wait(ctx context.Context) ([]C, event) {
	select {
	case cs := <-d.comps:
		return cs, evCompletions
	case now := <-d.tick.C:
		if d.rate > 0 {
			d.tokens = min(d.tokens+d.rate*now.Sub(d.last).Seconds(), max(1, d.rate*0.005))
			d.last = now
		}
		return nil, evTick
	case <-d.stop:
		return nil, evStop
	case <-ctx.Done():
		return nil, evStop
	}
}

// recycle gives a handled batch of completions back to the receivers.
func (d *driver[C]) recycle(cs []C) {
	select {
	case d.free <- cs[:0]:
	default:
	}
}

// batch is an empty batch of completions for a receiver to fill.
func (d *driver[C]) batch() []C {
	select {
	case cs := <-d.free:
		return cs
	default:
		return make([]C, 0, maxBatch)
	}
}

// deliver hands a receiver's batch to the driver; false when the run is
// over.
func (d *driver[C]) deliver(cs []C) bool {
	select {
	case d.comps <- cs:
		return true
	case <-d.done:
		return false
	}
}

// recvBuffers are a receive loop's packets, reused from one Receive to the
// next.
func recvBuffers() []transport.Packet {
	ps := make([]transport.Packet, maxBatch)
	for i := range ps {
		ps[i].Data = make([]byte, 0, 2048)
	}
	return ps
}

// addOps adds the counters of each operation (named by names) into rep:
// its totals and, for the operations sent, its Ops.
func addOps(rep *LoadReport, ops []OpCounts, names []string) {
	for op, c := range ops {
		rep.Sent += c.Sent
		rep.Answered += c.Answered
		rep.Timeouts += c.Timeouts
		if c.Sent > 0 {
			rep.Ops[names[op]] = c
		}
	}
}

// summarize completes rep with the latency of h and the throughput.
func summarize(rep *LoadReport, h *Histogram) {
	rep.Latency = h.Summary()
	if s := rep.Elapsed.Seconds(); s > 0 {
		rep.Throughput = float64(rep.Answered) / s
	}
}
