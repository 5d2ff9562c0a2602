package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Op is what one load-generator PBU does.
type Op uint8

// Load operations.
const (
	OpRegister      Op = iota // HI=1, ALL_ZERO HNP
	OpReregister              // HI=5, the assigned HNP, same MAG
	OpHandover                // HI=3 or HI=4 from another MAG
	OpHandoverDereg           // with HI=4: the previous MAG's de-registration
	OpDeregister              // lifetime 0, HI=4, from the serving MAG
	opCount
)

var opNames = [opCount]string{"register", "reregister", "handover", "handover-dereg", "deregister"}

func (o Op) String() string {
	if o < opCount {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Mix weighs what a registered MN does next (an unregistered one always
// registers). The zero Mix is 70 re-registrations, 20 handovers and 10
// de-registrations.
type Mix struct {
	Reregister, Handover, Deregister int
}

// LoadConfig configures Load.
type LoadConfig struct {
	// LMA is the target address.
	LMA netip.Addr
	// MAGs are the emulated MAGs' transports, one per source address.
	// Load neither closes them nor stops reading them: close them after
	// Load returns (their receive goroutines end then).
	MAGs []transport.Transport
	// MNs is how many mobile nodes are emulated (default 1000); MN i has
	// the NAI fmt.Sprintf(MNFormat, MNBase+i) (default "mn%d@pmipbench")
	// and first attaches to MAG i mod len(MAGs).
	MNs      int
	MNFormat string
	MNBase   int
	// Rate paces PBUs per second; 0 sends as fast as the window allows.
	Rate float64
	// Window bounds the PBUs outstanding (default 256).
	Window int
	// Duration and Count bound the run (whichever comes first; at least
	// one must be set). Outstanding PBUs are then waited for.
	Duration time.Duration
	Count    uint64
	// Timeout is how long a PBU waits for its PBA (default 1 s).
	Timeout time.Duration
	Mix     Mix
	// HandoverHI is 3 (default: the new MAG sends HI=3 with the MN's
	// prefix) or 4 (the old MAG de-registers, then the new MAG sends HI=4
	// with an ALL_ZERO prefix: RFC 5213 §5.4.1.3).
	HandoverHI mh.HandoffIndicatorValue
	// Lifetime requested, in 4 s units (default 150).
	Lifetime uint16
	// Sequence selects the sequence-number scheme (no Timestamp option,
	// a per-MN increasing Sequence #); otherwise every PBU carries a
	// Timestamp from the local clock (RFC 5213 §5.5).
	Sequence bool
	// ATT sent (default 4, IEEE 802.11).
	ATT mh.ATT
	// NoCleanup leaves the MNs registered at the end; otherwise every
	// registered MN is de-registered (counted apart, in Cleanup).
	NoCleanup bool
	// Seed makes the choice of operations reproducible.
	Seed uint64
}

func (c *LoadConfig) setDefaults() error {
	if !c.LMA.Is6() {
		return fmt.Errorf("bench: LMA address %v is not IPv6", c.LMA)
	}
	if len(c.MAGs) == 0 {
		return errors.New("bench: no MAG transport")
	}
	if c.MNs == 0 {
		c.MNs = 1000
	}
	if c.MNs < 0 || c.MNs > 1<<30 {
		return fmt.Errorf("bench: %d MNs", c.MNs)
	}
	if c.MNFormat == "" {
		c.MNFormat = "mn%d@pmipbench"
	}
	if c.Window <= 0 {
		c.Window = 256
	}
	if c.Window > 1<<15 {
		return fmt.Errorf("bench: window %d above 32768", c.Window)
	}
	if c.Duration <= 0 && c.Count == 0 {
		return errors.New("bench: neither a duration nor a count bounds the run")
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.Mix == (Mix{}) {
		c.Mix = Mix{Reregister: 70, Handover: 20, Deregister: 10}
	}
	if c.Mix.Reregister < 0 || c.Mix.Handover < 0 || c.Mix.Deregister < 0 {
		return errors.New("bench: negative weight in the mix")
	}
	switch c.HandoverHI {
	case 0:
		c.HandoverHI = mh.HIHandoffBetweenMAGs
	case mh.HIHandoffBetweenMAGs, mh.HIHandoffStateUnknown:
	default:
		return fmt.Errorf("bench: handover HI %d: only 3 or 4", c.HandoverHI)
	}
	if c.Lifetime == 0 {
		c.Lifetime = 150
	}
	if c.ATT == 0 {
		c.ATT = mh.ATT80211
	}
	return nil
}

// OpCounts counts the PBUs of one kind.
type OpCounts struct {
	Sent     uint64 `json:"sent"`
	Answered uint64 `json:"answered"`
	Timeouts uint64 `json:"timeouts"`
}

// StatusCount is one line of the PBA status histogram.
type StatusCount struct {
	Code  uint8  `json:"code"`
	Name  string `json:"name"`
	Count uint64 `json:"count"`
	// Message is the answer's kind where a run gets several ("PBA",
	// "Location Reply"); empty for the LMA's PBAs.
	Message string `json:"message,omitempty"`
}

// LoadReport is the outcome of Load. Sent == Answered + Timeouts (a PBU
// whose send failed is counted in SendErrors only).
type LoadReport struct {
	Target     string        `json:"target"`
	MAGs       int           `json:"mags"`
	MNs        int           `json:"mns"`
	Window     int           `json:"window"`
	Rate       float64       `json:"rate"`
	Scheme     string        `json:"scheme"`
	HandoverHI uint8         `json:"handover_hi"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Sent       uint64        `json:"sent"`
	Answered   uint64        `json:"answered"`
	Accepted   uint64        `json:"accepted"`
	Rejected   uint64        `json:"rejected"`
	Timeouts   uint64        `json:"timeouts"`
	// Unmatched counts replies that matched no outstanding PBU (late
	// after a time-out, duplicated, or for another sender).
	Unmatched  uint64 `json:"unmatched"`
	SendErrors uint64 `json:"send_errors"`
	// Throughput is Answered per second of Elapsed.
	Throughput float64             `json:"throughput_per_s"`
	Ops        map[string]OpCounts `json:"ops"`
	Status     []StatusCount       `json:"status"`
	Latency    Latency             `json:"latency"`
	// HeartbeatsAnswered counts the target's Heartbeat requests answered.
	HeartbeatsAnswered uint64        `json:"heartbeats_answered"`
	Cleanup            OpCounts      `json:"cleanup"`
	CleanupElapsed     time.Duration `json:"cleanup_elapsed_ns"`
}

// mnState is the generator's view of one MN (owned by the driver).
type mnState struct {
	hnp        netip.Prefix
	lastTS     uint64
	mag        int32 // serving MAG while registered
	seq        uint16
	registered bool
	pending    int8
	// followUp is a HI=4 handover's PBU to send once the old MAG's
	// de-registration is answered, as MAG index + 1.
	followUp int32
}

// inflight is an outstanding PBU, keyed by (MAG, Sequence #).
type inflight struct {
	sent int64 // ns since the start
	mn   int32
	op   Op
}

type completion struct {
	hnp    netip.Prefix
	mn     int32
	mag    int32
	op     Op
	status int16 // -1: timed out, -2: send failed
}

const (
	statusTimeout   = -1
	statusSendError = -2
	maxBatch        = 64
	slotSize        = 512
)

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

type magState struct {
	idx      int32
	tr       transport.Transport
	mu       sync.Mutex
	inflight map[uint16]inflight
	nextSeq  uint16
	// driver-owned send batch
	out  []transport.Packet
	meta []uint16 // sequence numbers of out
	slab []byte
	bld  *pbuBuilder
}

type receiver struct {
	mu        sync.Mutex
	hist      Histogram
	status    [256]uint64
	unmatched uint64
	hbAnswers uint64
	hbBuf     []byte
}

type loadRun struct {
	cfg     LoadConfig
	start   time.Time
	nais    [][]byte
	mns     []mnState
	idle    []int32 // FIFO ring
	idleH   int
	idleN   int
	mags    []*magState
	recv    []*receiver
	comps   chan []completion
	free    chan []completion
	done    chan struct{}
	rng     *rand.Rand
	out     int // outstanding
	total   uint64
	ops     [opCount]OpCounts
	sendErr uint64
	cleanup bool
	clean   OpCounts
	tokens  float64
}

func (r *loadRun) now() int64 { return int64(time.Since(r.start)) }

// Load runs the load generator until cfg.Duration or cfg.Count, waits for
// the outstanding PBUs, de-registers what is registered (unless
// NoCleanup) and returns the report. Cancelling ctx ends the run early
// (the outstanding PBUs are still waited for, at most Timeout).
func Load(ctx context.Context, cfg LoadConfig) (*LoadReport, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := &loadRun{
		cfg:   cfg,
		nais:  make([][]byte, cfg.MNs),
		mns:   make([]mnState, cfg.MNs),
		idle:  make([]int32, cfg.MNs),
		comps: make(chan []completion, 4*len(cfg.MAGs)+16),
		free:  make(chan []completion, 8*len(cfg.MAGs)+32),
		done:  make(chan struct{}),
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	for i := range r.nais {
		r.nais[i] = fmt.Appendf(nil, cfg.MNFormat, cfg.MNBase+i)
		r.mns[i].mag = int32(i % len(cfg.MAGs))
		r.mns[i].seq = uint16(r.rng.Uint32())
		r.pushIdle(int32(i))
	}
	for i, tr := range cfg.MAGs {
		r.mags = append(r.mags, &magState{
			idx: int32(i), tr: tr, inflight: make(map[uint16]inflight, cfg.Window),
			nextSeq: uint16(r.rng.Uint32()), slab: make([]byte, maxBatch*slotSize), bld: newPBUBuilder(),
		})
		r.recv = append(r.recv, &receiver{})
	}
	r.start = time.Now()
	for i := range r.mags {
		go r.receive(i)
	}
	defer close(r.done)

	r.drive(ctx, false)
	rep := r.report()
	if !cfg.NoCleanup {
		t0 := time.Now()
		r.cleanup = true
		for i := range r.mns {
			if r.mns[i].registered && r.mns[i].pending == 0 {
				r.pushIdle(int32(i))
			}
		}
		r.drive(context.WithoutCancel(ctx), true)
		rep.Cleanup = r.clean
		rep.CleanupElapsed = time.Since(t0)
	}
	for _, rc := range r.recv {
		rc.mu.Lock()
		rep.HeartbeatsAnswered += rc.hbAnswers
		rc.mu.Unlock()
	}
	return rep, nil
}

func (r *loadRun) pushIdle(i int32) {
	r.idle[(r.idleH+r.idleN)%len(r.idle)] = i
	r.idleN++
}

func (r *loadRun) popIdle() int32 {
	i := r.idle[r.idleH]
	r.idleH = (r.idleH + 1) % len(r.idle)
	r.idleN--
	return i
}

// drive issues PBUs and processes completions until the run is over and
// nothing is outstanding. In the cleanup phase only the idle queue's
// de-registrations are sent.
func (r *loadRun) drive(ctx context.Context, cleanup bool) {
	cfg := &r.cfg
	tickEvery := min(max(cfg.Timeout/8, time.Millisecond), 50*time.Millisecond)
	if cfg.Rate > 0 && !cleanup {
		tickEvery = time.Millisecond
	}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var stop <-chan time.Time
	if cfg.Duration > 0 && !cleanup {
		tm := time.NewTimer(cfg.Duration)
		defer tm.Stop()
		stop = tm.C
	}
	stopping := false
	lastRefill := time.Now()
	r.tokens = 1
	for {
		if !stopping {
			if cleanup {
				r.issue(0, true)
				stopping = true // everything is queued at once, paced by the window
			} else if r.issue(cfg.Rate, false) {
				stopping = true
			}
		} else if cleanup && r.idleN > 0 {
			r.issue(0, true)
		}
		if stopping && r.out == 0 && (!cleanup || r.idleN == 0) {
			return
		}
		select {
		case cs := <-r.comps:
			for _, c := range cs {
				r.complete(c)
			}
			r.flush() // HI=4 follow-ups (sequence scheme)
			select {
			case r.free <- cs[:0]:
			default:
			}
		case now := <-tick.C:
			r.expire()
			if cfg.Rate > 0 {
				r.tokens = min(r.tokens+cfg.Rate*now.Sub(lastRefill).Seconds(), max(1, cfg.Rate*0.005))
				lastRefill = now
			}
		case <-stop:
			stopping = true
		case <-ctx.Done():
			stopping = true
		}
	}
}

// issue starts operations while the window and the rate allow; it
// returns true when the Count bound is reached.
func (r *loadRun) issue(rate float64, cleanup bool) (countReached bool) {
	cfg := &r.cfg
	for r.out < cfg.Window && r.idleN > 0 {
		if !cleanup {
			if cfg.Count > 0 && r.total >= cfg.Count {
				countReached = true
				break
			}
			if rate > 0 {
				if r.tokens < 1 {
					break
				}
				r.tokens--
			}
		}
		r.start1(r.popIdle(), cleanup)
	}
	r.flush()
	return countReached
}

// start1 starts the next operation of MN i.
func (r *loadRun) start1(i int32, cleanup bool) {
	cfg := &r.cfg
	st := &r.mns[i]
	nm := int32(len(r.mags))
	if cleanup {
		r.send(i, st.mag, OpDeregister)
		return
	}
	if !st.registered {
		r.send(i, st.mag, OpRegister)
		return
	}
	w := cfg.Mix.Reregister + cfg.Mix.Handover + cfg.Mix.Deregister
	x := r.rng.IntN(max(w, 1))
	switch {
	case x < cfg.Mix.Reregister:
		r.send(i, st.mag, OpReregister)
	case x < cfg.Mix.Reregister+cfg.Mix.Handover && nm > 1:
		to := (st.mag + 1 + int32(r.rng.IntN(int(nm-1)))) % nm
		if cfg.HandoverHI == mh.HIHandoffStateUnknown {
			// Break before make: the old MAG de-registers, and the new
			// MAG's PBU goes once that is answered. Sent at once from two
			// sockets, their order at the LMA would be random, and a
			// de-registration arriving after the new session was accepted
			// is rightly refused (157, or 135).
			r.send(i, st.mag, OpHandoverDereg)
			st.followUp = to + 1
			return
		}
		r.send(i, to, OpHandover)
	case x < cfg.Mix.Reregister+cfg.Mix.Handover:
		r.send(i, st.mag, OpReregister) // one MAG: no handover possible
	default:
		r.send(i, st.mag, OpDeregister)
	}
}

// send queues the PBU of op for MN i on MAG m.
func (r *loadRun) send(i, m int32, op Op) {
	cfg := &r.cfg
	st := &r.mns[i]
	ms := r.mags[m]
	if len(ms.out) == maxBatch {
		r.flushMAG(ms)
	}
	f := pbuFields{lifetime: cfg.Lifetime, nai: r.nais[i], att: cfg.ATT}
	switch op {
	case OpRegister:
		f.hi = mh.HIAttachNewInterface
	case OpReregister:
		f.hi, f.hnp = mh.HIHandoffStateNotChanged, st.hnp
	case OpHandover:
		f.hi = cfg.HandoverHI
		if f.hi == mh.HIHandoffBetweenMAGs {
			// HI=3 names the prefix: the lookup is by prefix (RFC 5213
			// §5.4.1.1), so a de-registered BCE of the same MN still in
			// MinDelayBeforeBCEDelete cannot make it a new session.
			f.hnp = st.hnp
		}
		// HI=4: ALL_ZERO, the new MAG learns the prefix from the PBA
		// (§5.4.1.3, lookup by MN-ID).
	case OpHandoverDereg, OpDeregister:
		f.hi, f.hnp, f.lifetime = mh.HIHandoffStateUnknown, st.hnp, 0
	}
	if !cfg.Sequence {
		ts := mh.TimestampValue(time.Now())
		if ts <= st.lastTS {
			ts = st.lastTS + 1
		}
		st.lastTS = ts
		f.ts = ts
	}
	ms.mu.Lock()
	seq := ms.nextSeq
	if cfg.Sequence {
		seq = st.seq + 1
	}
	for {
		if _, busy := ms.inflight[seq]; !busy {
			break
		}
		seq++
	}
	if cfg.Sequence {
		st.seq = seq
	} else {
		ms.nextSeq = seq + 1
	}
	f.seq = seq
	off := len(ms.out) * slotSize
	b, err := ms.bld.build(ms.slab[off:off+slotSize], &f)
	if err != nil {
		ms.mu.Unlock()
		r.sendErr++
		r.idleAgain(i)
		return
	}
	ms.inflight[seq] = inflight{sent: r.now(), mn: i, op: op}
	ms.mu.Unlock()
	ms.out = append(ms.out, transport.Packet{Dst: cfg.LMA, Data: b})
	ms.meta = append(ms.meta, seq)
	st.pending++
	r.out++
	if r.cleanup {
		r.clean.Sent++
	} else {
		r.ops[op].Sent++
		r.total++
	}
}

func (r *loadRun) idleAgain(i int32) {
	if r.mns[i].pending == 0 {
		r.pushIdle(i)
	}
}

func (r *loadRun) flush() {
	for _, ms := range r.mags {
		if len(ms.out) > 0 {
			r.flushMAG(ms)
		}
	}
}

func (r *loadRun) flushMAG(ms *magState) {
	sent, err := sendAll(ms.tr, ms.out)
	if err != nil {
		// The rest were not sent: undo them.
		for _, seq := range ms.meta[sent:] {
			ms.mu.Lock()
			e, ok := ms.inflight[seq]
			delete(ms.inflight, seq)
			ms.mu.Unlock()
			if ok {
				r.complete(completion{mn: e.mn, mag: ms.idx, op: e.op, status: statusSendError})
			}
		}
	}
	ms.out = ms.out[:0]
	ms.meta = ms.meta[:0]
}

// expire times out the PBUs outstanding longer than Timeout.
func (r *loadRun) expire() {
	lim := r.now() - int64(r.cfg.Timeout)
	var exp []completion
	for _, ms := range r.mags {
		ms.mu.Lock()
		for seq, e := range ms.inflight {
			if e.sent < lim {
				delete(ms.inflight, seq)
				exp = append(exp, completion{mn: e.mn, mag: ms.idx, op: e.op, status: statusTimeout})
			}
		}
		ms.mu.Unlock()
	}
	for _, c := range exp {
		r.complete(c)
	}
}

// complete applies the outcome of one PBU to its MN.
func (r *loadRun) complete(c completion) {
	st := &r.mns[c.mn]
	st.pending--
	r.out--
	cnt := &r.ops[c.op]
	if r.cleanup {
		cnt = &r.clean
	}
	switch {
	case c.status == statusSendError:
		cnt.Sent--
		if !r.cleanup {
			r.total--
		}
		r.sendErr++
	case c.status == statusTimeout:
		cnt.Timeouts++
	default:
		cnt.Answered++
	}
	ok := c.status >= 0 && c.status < 128
	switch c.op {
	case OpRegister, OpReregister, OpHandover:
		if ok && c.hnp.IsValid() {
			st.registered, st.hnp, st.mag = true, c.hnp, c.mag
		} else if c.status != statusSendError {
			st.registered = false
		}
	case OpHandoverDereg:
		if f := st.followUp; f != 0 {
			st.followUp = 0
			if ok {
				r.send(c.mn, f-1, OpHandover)
				return
			}
			st.registered = false
		}
	case OpDeregister:
		if c.status != statusSendError {
			st.registered = false
		}
	}
	if st.pending == 0 && !r.cleanup {
		r.pushIdle(c.mn)
	}
}

// receive is MAG m's receive loop: batched reads, PBAs matched to their
// PBU by (MAG, Sequence #) and checked against the MN-ID, completions
// handed to the driver a batch at a time.
func (r *loadRun) receive(m int) {
	ms, rc := r.mags[m], r.recv[m]
	ps := make([]transport.Packet, maxBatch)
	for i := range ps {
		ps[i].Data = make([]byte, 0, 2048)
	}
	var dec mh.Decoder
	for {
		n, err := ms.tr.Receive(ps)
		if err != nil {
			return
		}
		var cs []completion
		select {
		case cs = <-r.free:
		default:
			cs = make([]completion, 0, maxBatch)
		}
		rc.mu.Lock()
		now := r.now()
		for i := 0; i < n; i++ {
			msg, err := dec.Decode(ps[i].Data)
			if err != nil {
				rc.unmatched++
				continue
			}
			switch x := msg.(type) {
			case *mh.BindingAck:
				cs = r.match(ms, rc, x, now, cs)
			case *mh.Heartbeat:
				if !x.Response() {
					rc.answerHeartbeat(ms.tr, ps[i].Src, x)
				}
			default:
				rc.unmatched++
			}
		}
		rc.mu.Unlock()
		if len(cs) == 0 {
			continue
		}
		select {
		case r.comps <- cs:
		case <-r.done:
			return
		}
	}
}

func mnidOf(opts mh.Options) []byte {
	for _, o := range opts {
		if id, ok := o.(*mh.MNIdentifier); ok {
			return id.Identifier
		}
	}
	return nil
}

func (r *loadRun) match(ms *magState, rc *receiver, ack *mh.BindingAck, now int64, cs []completion) []completion {
	id := mnidOf(ack.Options)
	ms.mu.Lock()
	seq := ack.Sequence
	e, ok := ms.inflight[seq]
	if ok && !bytes.Equal(r.nais[e.mn], id) {
		ok = false
	}
	if !ok && ack.Status == mh.StatusSequenceOutOfWindow {
		// 135 carries the last accepted number, not ours: find the MN.
		for s, x := range ms.inflight {
			if bytes.Equal(r.nais[x.mn], id) {
				seq, e, ok = s, x, true
				break
			}
		}
	}
	if ok {
		delete(ms.inflight, seq)
	}
	ms.mu.Unlock()
	if !ok {
		rc.unmatched++
		return cs
	}
	rc.hist.Record(time.Duration(now - e.sent))
	rc.status[ack.Status]++
	c := completion{mn: e.mn, mag: ms.idx, op: e.op, status: int16(ack.Status)}
	for _, o := range ack.Options {
		if h, ok := o.(*mh.HomeNetworkPrefix); ok && !h.AllZero() {
			c.hnp = h.AsPrefix().Masked()
			break
		}
	}
	return append(cs, c)
}

func (rc *receiver) answerHeartbeat(tr transport.Transport, dst netip.Addr, req *mh.Heartbeat) {
	resp := mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: req.Sequence}
	resp.Options = mh.Options{&mh.RestartCounter{}}
	n := resp.MarshalLen()
	if cap(rc.hbBuf) < n {
		rc.hbBuf = make([]byte, n)
	}
	if resp.MarshalTo(rc.hbBuf[:n]) == nil && tr.Send(dst, rc.hbBuf[:n]) == nil {
		rc.hbAnswers++
	}
}

// report sums up the main phase.
func (r *loadRun) report() *LoadReport {
	cfg := &r.cfg
	rep := &LoadReport{Target: cfg.LMA.String(), MAGs: len(r.mags), MNs: cfg.MNs, Window: cfg.Window, Rate: cfg.Rate,
		Scheme: "timestamp", HandoverHI: uint8(cfg.HandoverHI), Elapsed: time.Since(r.start), SendErrors: r.sendErr,
		Ops: map[string]OpCounts{}}
	if cfg.Sequence {
		rep.Scheme = "sequence"
	}
	for op, c := range r.ops {
		rep.Sent += c.Sent
		rep.Answered += c.Answered
		rep.Timeouts += c.Timeouts
		if c.Sent > 0 {
			rep.Ops[Op(op).String()] = c
		}
	}
	var h Histogram
	var status [256]uint64
	for _, rc := range r.recv {
		rc.mu.Lock()
		h.Merge(&rc.hist)
		for i, n := range rc.status {
			status[i] += n
		}
		rep.Unmatched += rc.unmatched
		rc.hist.Reset()
		rc.status = [256]uint64{}
		rc.unmatched = 0
		rc.mu.Unlock()
	}
	for code, n := range status {
		if n == 0 {
			continue
		}
		rep.Status = append(rep.Status, StatusCount{Code: uint8(code), Name: mh.Status(code).String(), Count: n})
		if code < 128 {
			rep.Accepted += n
		} else {
			rep.Rejected += n
		}
	}
	sort.Slice(rep.Status, func(i, j int) bool { return rep.Status[i].Code < rep.Status[j].Code })
	rep.Latency = h.Summary()
	if s := rep.Elapsed.Seconds(); s > 0 {
		rep.Throughput = float64(rep.Answered) / s
	}
	return rep
}
