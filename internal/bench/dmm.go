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

// DMMOp is one request of the LM or HAA load generator.
type DMMOp uint8

// LM and HAA operations (docs/wire-format.md, dmm/wire's clients).
const (
	OpLMUpdate     DMMOp = iota // PBU (A,P,D), HNP, HI=1, Serving MAAR = the sending MR
	OpLMMove                    // the same from another MR: HI=3, Previous MAAR = the anchor
	OpQueryAddress              // Location Query by home address (prefix::1)
	OpQueryPrefix               // Location Query by prefix
	OpQueryMNID                 // Location Query by MN-ID
	OpHAAAllocate               // PBU (A,P,D), ALL_ZERO HNP, HI=1
	OpHAAHoldings               // PBU (A,P,D), ALL_ZERO HNP, HI=3
	dmmOpCount
)

var dmmOpNames = [dmmOpCount]string{"update", "move", "query-addr", "query-prefix", "query-mnid", "allocate", "holdings"}

func (o DMMOp) String() string {
	if o < dmmOpCount {
		return dmmOpNames[o]
	}
	return fmt.Sprintf("dmm-op(%d)", uint8(o))
}

// DMMMix weighs what an MN does once it has a location (LM) or an
// allocation (HAA); its first request is always an update (LM) or an
// allocation (HAA). Zero values: LM 20 updates, 10 moves, 70 queries
// spread over the three kinds; HAA 20 allocations, 80 holdings queries.
type DMMMix struct {
	Update, Move, QueryAddr, QueryPrefix, QueryMNID int
	Allocate, Holdings                              int
}

// Targets of DMMLoad.
const (
	TargetLM  = "lm"
	TargetHAA = "haa"
)

// DMMLoadConfig configures DMMLoad. The fields shared with LoadConfig mean
// the same; MAGs are here the emulated MRs (their addresses are the
// Serving MAAR of the updates and the anchors of the allocations).
type DMMLoadConfig struct {
	Target   string // TargetLM or TargetHAA
	Server   netip.Addr
	MRs      []transport.Transport
	MNs      int
	MNFormat string
	MNBase   int
	// Prefixes: MN i's prefix in LM mode is the i-th /64 of Prefixes
	// (default 2001:db8:f000::/36).
	Prefixes netip.Prefix
	Rate     float64
	Window   int
	Duration time.Duration
	Count    uint64
	Timeout  time.Duration
	Mix      DMMMix
	Lifetime uint16 // 4 s units (default 150)
	ATT      mh.ATT // default mh.ATTVirtual, as dmm/wire's clients
	Seed     uint64
}

func (c *DMMLoadConfig) setDefaults() error {
	if c.Target != TargetLM && c.Target != TargetHAA {
		return fmt.Errorf("bench: target %q (lm or haa)", c.Target)
	}
	if !c.Server.Is6() {
		return fmt.Errorf("bench: %s address %v is not IPv6", c.Target, c.Server)
	}
	if len(c.MRs) == 0 {
		return errors.New("bench: no MR transport")
	}
	if c.MNs == 0 {
		c.MNs = 1000
	}
	if !c.Prefixes.IsValid() {
		c.Prefixes = netip.MustParsePrefix("2001:db8:f000::/36")
	}
	if !c.Prefixes.Addr().Is6() || c.Prefixes.Bits() > 64 || (64-c.Prefixes.Bits() < 31 && c.MNs > 1<<(64-c.Prefixes.Bits())) {
		return fmt.Errorf("bench: %v holds too few /64s for %d MNs", c.Prefixes, c.MNs)
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
	m := &c.Mix
	for _, w := range []int{m.Update, m.Move, m.QueryAddr, m.QueryPrefix, m.QueryMNID, m.Allocate, m.Holdings} {
		if w < 0 {
			return errors.New("bench: negative weight in the mix")
		}
	}
	if c.Target == TargetLM {
		if m.Allocate+m.Holdings != 0 {
			return errors.New("bench: allocate and holdings are HAA operations")
		}
		if m.Update+m.Move+m.QueryAddr+m.QueryPrefix+m.QueryMNID == 0 {
			*m = DMMMix{Update: 20, Move: 10, QueryAddr: 30, QueryPrefix: 20, QueryMNID: 20}
		}
	} else {
		if m.Update+m.Move+m.QueryAddr+m.QueryPrefix+m.QueryMNID != 0 {
			return errors.New("bench: update, move and queries are LM operations")
		}
		if m.Allocate+m.Holdings == 0 {
			*m = DMMMix{Allocate: 20, Holdings: 80}
		}
	}
	if c.Lifetime == 0 {
		c.Lifetime = 150
	}
	if c.ATT == 0 {
		c.ATT = mh.ATTVirtual
	}
	return nil
}

// DMMLoadReport is the outcome of DMMLoad: LoadReport's counters (Ops by
// DMMOp name; Status lists the PBA statuses and the Location Reply
// statuses apart, by Message), plus the answers that contradicted what
// the generator had recorded.
type DMMLoadReport struct {
	LoadReport
	// Wrong counts accepted answers whose content is not what the
	// generator's own earlier requests imply: a Location Reply without
	// the MN's prefix at the MR that last updated it, an allocation
	// without a prefix, holdings without the allocated prefix.
	Wrong uint64 `json:"wrong"`
	// WrongExample describes the first of them.
	WrongExample string `json:"wrong_example,omitempty"`
}

type dmmMN struct {
	pfx     netip.Prefix // LM: fixed; HAA: the allocated one
	mr      int32        // LM: MR of the last accepted update; HAA: allocating MR
	anchor  int32        // LM: MR of the first update
	lastTS  uint64
	known   bool
	pending bool
}

type dmmInflight struct {
	sent int64
	mn   int32
	op   DMMOp
}

type dmmComp struct {
	mn     int32
	mr     int32
	op     DMMOp
	status int16 // statusTimeout, statusSendError or the answer's status
	wrong  string
	pfx    netip.Prefix // HAA allocation: the prefix granted
}

type dmmPeer struct {
	idx      int32
	addr     netip.Addr
	tr       transport.Transport
	mu       sync.Mutex
	inflight map[uint16]dmmInflight
	nextSeq  uint16
	out      []transport.Packet
	meta     []uint16
	slab     []byte
	bld      dmmBuilder
	// receive side (its own goroutine; read under mu by the driver)
	hist      Histogram
	pbaStatus [256]uint64
	lrStatus  [256]uint64
	unmatched uint64
}

type dmmRun struct {
	cfg    DMMLoadConfig
	start  time.Time
	nais   [][]byte
	mns    []dmmMN
	idle   []int32
	idleH  int
	idleN  int
	peers  []*dmmPeer
	comps  chan []dmmComp
	free   chan []dmmComp
	done   chan struct{}
	rng    *rand.Rand
	out    int
	total  uint64
	ops    [dmmOpCount]OpCounts
	sendEr uint64
	wrong  uint64
	wrongE string
	tokens float64
}

// DMMLoad runs the LM or HAA load generator: the design of Load (a window
// of outstanding requests, batched sends, reused buffers, answers matched
// by (MR, Sequence #) and MN-ID, latency histogram, status histogram,
// time-outs), with the messages of dmm/wire's LMClient and HAAClient. An
// MR of deployment A answers PBUs as an LMA: drive it with Load.
func DMMLoad(ctx context.Context, cfg DMMLoadConfig) (*DMMLoadReport, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := &dmmRun{
		cfg:   cfg,
		nais:  make([][]byte, cfg.MNs),
		mns:   make([]dmmMN, cfg.MNs),
		idle:  make([]int32, cfg.MNs),
		comps: make(chan []dmmComp, 4*len(cfg.MRs)+16),
		free:  make(chan []dmmComp, 8*len(cfg.MRs)+32),
		done:  make(chan struct{}),
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	base := cfg.Prefixes.Masked().Addr().As16()
	for i := range r.nais {
		r.nais[i] = fmt.Appendf(nil, cfg.MNFormat, cfg.MNBase+i)
		r.mns[i].mr = int32(i % len(cfg.MRs))
		r.mns[i].anchor = r.mns[i].mr
		if cfg.Target == TargetLM {
			a := base
			v := uint64(i)
			for j := 7; j >= 0 && v > 0; j-- {
				s := uint64(a[j]) + v&0xff
				a[j] = byte(s)
				v = v>>8 + s>>8
			}
			r.mns[i].pfx = netip.PrefixFrom(netip.AddrFrom16(a), 64)
		}
		r.pushIdle(int32(i))
	}
	for i, tr := range cfg.MRs {
		p := &dmmPeer{idx: int32(i), addr: tr.LocalAddr(), tr: tr, inflight: make(map[uint16]dmmInflight, cfg.Window),
			nextSeq: uint16(r.rng.Uint32()), slab: make([]byte, maxBatch*slotSize)}
		p.bld.init()
		r.peers = append(r.peers, p)
	}
	r.start = time.Now()
	for _, p := range r.peers {
		go r.receive(p)
	}
	defer close(r.done)
	r.drive(ctx)
	return r.report(), nil
}

func (r *dmmRun) now() int64 { return int64(time.Since(r.start)) }

func (r *dmmRun) pushIdle(i int32) {
	r.idle[(r.idleH+r.idleN)%len(r.idle)] = i
	r.idleN++
}

func (r *dmmRun) popIdle() int32 {
	i := r.idle[r.idleH]
	r.idleH = (r.idleH + 1) % len(r.idle)
	r.idleN--
	return i
}

func (r *dmmRun) drive(ctx context.Context) {
	cfg := &r.cfg
	tickEvery := min(max(cfg.Timeout/8, time.Millisecond), 50*time.Millisecond)
	if cfg.Rate > 0 {
		tickEvery = time.Millisecond
	}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var stop <-chan time.Time
	if cfg.Duration > 0 {
		tm := time.NewTimer(cfg.Duration)
		defer tm.Stop()
		stop = tm.C
	}
	stopping := false
	last := time.Now()
	r.tokens = 1
	for {
		if !stopping && r.issue() {
			stopping = true
		}
		if stopping && r.out == 0 {
			return
		}
		select {
		case cs := <-r.comps:
			for _, c := range cs {
				r.complete(c)
			}
			select {
			case r.free <- cs[:0]:
			default:
			}
		case now := <-tick.C:
			r.expire()
			if cfg.Rate > 0 {
				r.tokens = min(r.tokens+cfg.Rate*now.Sub(last).Seconds(), max(1, cfg.Rate*0.005))
				last = now
			}
		case <-stop:
			stopping = true
		case <-ctx.Done():
			stopping = true
		}
	}
}

func (r *dmmRun) issue() (countReached bool) {
	cfg := &r.cfg
	for r.out < cfg.Window && r.idleN > 0 {
		if cfg.Count > 0 && r.total >= cfg.Count {
			countReached = true
			break
		}
		if cfg.Rate > 0 {
			if r.tokens < 1 {
				break
			}
			r.tokens--
		}
		r.start1(r.popIdle())
	}
	for _, p := range r.peers {
		if len(p.out) > 0 {
			r.flush(p)
		}
	}
	return countReached
}

func (r *dmmRun) start1(i int32) {
	m := &r.cfg.Mix
	st := &r.mns[i]
	nm := int32(len(r.peers))
	if !st.known {
		if r.cfg.Target == TargetLM {
			r.send(i, st.mr, OpLMUpdate)
		} else {
			r.send(i, st.mr, OpHAAAllocate)
		}
		return
	}
	if r.cfg.Target == TargetHAA {
		if r.rng.IntN(m.Allocate+m.Holdings) < m.Allocate {
			r.send(i, st.mr, OpHAAAllocate) // refreshes the one held there
		} else {
			r.send(i, int32(r.rng.IntN(int(nm))), OpHAAHoldings)
		}
		return
	}
	x := r.rng.IntN(m.Update + m.Move + m.QueryAddr + m.QueryPrefix + m.QueryMNID)
	from := int32(r.rng.IntN(int(nm))) // queries come from any MR
	switch {
	case x < m.Update:
		r.send(i, st.mr, OpLMUpdate)
	case x < m.Update+m.Move:
		to := st.mr
		if nm > 1 {
			to = (st.mr + 1 + int32(r.rng.IntN(int(nm-1)))) % nm
		}
		r.send(i, to, OpLMMove)
	case x < m.Update+m.Move+m.QueryAddr:
		r.send(i, from, OpQueryAddress)
	case x < m.Update+m.Move+m.QueryAddr+m.QueryPrefix:
		r.send(i, from, OpQueryPrefix)
	default:
		r.send(i, from, OpQueryMNID)
	}
}

func (r *dmmRun) send(i, m int32, op DMMOp) {
	cfg := &r.cfg
	st := &r.mns[i]
	p := r.peers[m]
	if len(p.out) == maxBatch {
		r.flush(p)
	}
	ts := mh.TimestampValue(time.Now())
	if ts <= st.lastTS {
		ts = st.lastTS + 1
	}
	p.mu.Lock()
	seq := p.nextSeq
	for {
		if _, busy := p.inflight[seq]; !busy {
			break
		}
		seq++
	}
	p.nextSeq = seq + 1
	off := len(p.out) * slotSize
	dst := p.slab[off : off+slotSize]
	var b []byte
	var err error
	switch op {
	case OpLMUpdate, OpLMMove:
		st.lastTS = ts
		anchor := r.peers[st.anchor].addr // a moved MN keeps its anchor
		b, err = p.bld.update(dst, seq, cfg.Lifetime, cfg.ATT, r.nais[i], st.pfx, p.addr, anchor, ts)
	case OpQueryAddress:
		b, err = p.bld.query(dst, seq, mh.QueryByHomeAddress, homeAddr(st.pfx), 128, nil)
	case OpQueryPrefix:
		b, err = p.bld.query(dst, seq, mh.QueryByPrefix, st.pfx.Addr(), 64, nil)
	case OpQueryMNID:
		b, err = p.bld.query(dst, seq, mh.QueryByMNID, netip.Addr{}, 0, r.nais[i])
	case OpHAAAllocate:
		b, err = p.bld.haa(dst, seq, cfg.Lifetime, cfg.ATT, r.nais[i], mh.HIAttachNewInterface)
	case OpHAAHoldings:
		b, err = p.bld.haa(dst, seq, cfg.Lifetime, cfg.ATT, r.nais[i], mh.HIHandoffBetweenMAGs)
	}
	if err != nil {
		p.mu.Unlock()
		r.sendEr++
		r.pushIdle(i)
		return
	}
	p.inflight[seq] = dmmInflight{sent: r.now(), mn: i, op: op}
	p.mu.Unlock()
	p.out = append(p.out, transport.Packet{Dst: cfg.Server, Data: b})
	p.meta = append(p.meta, seq)
	st.pending = true
	r.out++
	r.ops[op].Sent++
	r.total++
}

// homeAddr is the address queried by home address: prefix::1.
func homeAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As16()
	a[15] |= 1
	return netip.AddrFrom16(a)
}

func (r *dmmRun) flush(p *dmmPeer) {
	sent, err := sendAll(p.tr, p.out)
	if err != nil {
		for _, seq := range p.meta[sent:] {
			p.mu.Lock()
			e, ok := p.inflight[seq]
			delete(p.inflight, seq)
			p.mu.Unlock()
			if ok {
				r.complete(dmmComp{mn: e.mn, mr: p.idx, op: e.op, status: statusSendError})
			}
		}
	}
	p.out = p.out[:0]
	p.meta = p.meta[:0]
}

func (r *dmmRun) expire() {
	lim := r.now() - int64(r.cfg.Timeout)
	var exp []dmmComp
	for _, p := range r.peers {
		p.mu.Lock()
		for seq, e := range p.inflight {
			if e.sent < lim {
				delete(p.inflight, seq)
				exp = append(exp, dmmComp{mn: e.mn, mr: p.idx, op: e.op, status: statusTimeout})
			}
		}
		p.mu.Unlock()
	}
	for _, c := range exp {
		r.complete(c)
	}
}

func (r *dmmRun) complete(c dmmComp) {
	st := &r.mns[c.mn]
	st.pending = false
	r.out--
	cnt := &r.ops[c.op]
	switch c.status {
	case statusSendError:
		cnt.Sent--
		r.total--
		r.sendEr++
	case statusTimeout:
		cnt.Timeouts++
	default:
		cnt.Answered++
	}
	if c.wrong != "" {
		r.wrong++
		if r.wrongE == "" {
			r.wrongE = c.wrong
		}
	}
	ok := c.status >= 0 && c.status < 128
	switch c.op {
	case OpLMUpdate, OpLMMove:
		if ok {
			st.known, st.mr = true, c.mr
		}
	case OpHAAAllocate:
		if ok && c.pfx.IsValid() {
			st.known, st.mr, st.pfx = true, c.mr, c.pfx
		}
	}
	r.pushIdle(c.mn)
}

// receive is MR p's receive loop. It checks accepted answers against the
// MN's state, which the driver does not change while the request is
// outstanding (one request per MN at a time).
func (r *dmmRun) receive(p *dmmPeer) {
	ps := make([]transport.Packet, maxBatch)
	for i := range ps {
		ps[i].Data = make([]byte, 0, 2048)
	}
	var dec mh.Decoder
	for {
		n, err := p.tr.Receive(ps)
		if err != nil {
			return
		}
		var cs []dmmComp
		select {
		case cs = <-r.free:
		default:
			cs = make([]dmmComp, 0, maxBatch)
		}
		now := r.now()
		for i := 0; i < n; i++ {
			msg, err := dec.Decode(ps[i].Data)
			if err != nil {
				p.mu.Lock()
				p.unmatched++
				p.mu.Unlock()
				continue
			}
			cs = r.match(p, msg, now, cs)
		}
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

func (r *dmmRun) match(p *dmmPeer, msg mh.Message, now int64, cs []dmmComp) []dmmComp {
	var seq uint16
	var id []byte
	var status uint8
	isLR := false
	switch x := msg.(type) {
	case *mh.BindingAck:
		seq, id, status = x.Sequence, mnidOf(x.Options), uint8(x.Status)
	case *mh.LocationReply:
		seq, status, isLR = x.Sequence, uint8(x.Status), true
	default:
		p.mu.Lock()
		p.unmatched++
		p.mu.Unlock()
		return cs
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.inflight[seq]
	query := ok && e.op >= OpQueryAddress && e.op <= OpQueryMNID
	if !ok || query != isLR || (!isLR && !bytes.Equal(r.nais[e.mn], id)) {
		p.unmatched++
		return cs
	}
	delete(p.inflight, seq)
	p.hist.Record(time.Duration(now - e.sent))
	if isLR {
		p.lrStatus[status]++
	} else {
		p.pbaStatus[status]++
	}
	c := dmmComp{mn: e.mn, mr: p.idx, op: e.op, status: int16(status)}
	if status < 128 {
		c.wrong, c.pfx = r.check(e, msg)
	}
	return append(cs, c)
}

// check verifies an accepted answer; it returns what is wrong ("" when
// nothing) and, for an allocation, the prefix granted.
func (r *dmmRun) check(e dmmInflight, msg mh.Message) (string, netip.Prefix) {
	st := &r.mns[e.mn]
	nai := r.nais[e.mn]
	switch x := msg.(type) {
	case *mh.LocationReply:
		want := r.peers[st.mr].addr
		anchor := r.peers[st.anchor].addr
		for _, rl := range x.Locations() {
			if rl.AsPrefix().Masked() == st.pfx && rl.CurrentMR == want && rl.AnchorMR == anchor {
				return "", netip.Prefix{}
			}
		}
		return fmt.Sprintf("%s for %s: no location of %v at %v (anchor %v) in %d Routing Locations", e.op, nai, st.pfx, want, anchor, len(x.Locations())), netip.Prefix{}
	case *mh.BindingAck:
		var got netip.Prefix
		for _, o := range x.Options {
			if h, ok := o.(*mh.HomeNetworkPrefix); ok && !h.AllZero() {
				p := h.AsPrefix().Masked()
				if e.op == OpHAAHoldings && st.known && p == st.pfx {
					if pm, ok := mh.Find[*mh.PreviousMAAR](x.Options); !ok || pm.Address != r.peers[st.mr].addr {
						return fmt.Sprintf("holdings of %s: %v without its anchor %v", nai, p, r.peers[st.mr].addr), netip.Prefix{}
					}
					return "", netip.Prefix{}
				}
				if !got.IsValid() {
					got = p
				}
			}
		}
		switch e.op {
		case OpHAAAllocate:
			if !got.IsValid() {
				return fmt.Sprintf("allocate for %s: no prefix in the PBA", nai), got
			}
			if st.known && got != st.pfx {
				// A refresh at the allocating MR returns the prefix held there.
				return fmt.Sprintf("allocate for %s: %v, held %v", nai, got, st.pfx), got
			}
			return "", got
		case OpHAAHoldings:
			if st.known {
				return fmt.Sprintf("holdings of %s: %v missing", nai, st.pfx), netip.Prefix{}
			}
		case OpLMUpdate, OpLMMove:
			if got != st.pfx {
				return fmt.Sprintf("%s for %s: PBA prefix %v, sent %v", e.op, nai, got, st.pfx), netip.Prefix{}
			}
		}
	}
	return "", netip.Prefix{}
}

func (r *dmmRun) report() *DMMLoadReport {
	cfg := &r.cfg
	rep := &DMMLoadReport{LoadReport: LoadReport{Target: cfg.Target + " " + cfg.Server.String(), MAGs: len(r.peers), MNs: cfg.MNs,
		Window: cfg.Window, Rate: cfg.Rate, Scheme: "timestamp", Elapsed: time.Since(r.start), SendErrors: r.sendEr,
		Ops: map[string]OpCounts{}}, Wrong: r.wrong, WrongExample: r.wrongE}
	for op, c := range r.ops {
		rep.Sent += c.Sent
		rep.Answered += c.Answered
		rep.Timeouts += c.Timeouts
		if c.Sent > 0 {
			rep.Ops[DMMOp(op).String()] = c
		}
	}
	var h Histogram
	var pba, lr [256]uint64
	for _, p := range r.peers {
		p.mu.Lock()
		h.Merge(&p.hist)
		for i := range pba {
			pba[i] += p.pbaStatus[i]
			lr[i] += p.lrStatus[i]
		}
		rep.Unmatched += p.unmatched
		p.mu.Unlock()
	}
	for code := range 256 {
		if n := pba[code]; n > 0 {
			rep.Status = append(rep.Status, StatusCount{Code: uint8(code), Name: mh.Status(code).String(), Count: n, Message: "PBA"})
		}
		if n := lr[code]; n > 0 {
			rep.Status = append(rep.Status, StatusCount{Code: uint8(code), Name: mh.DMMStatus(code).String(), Count: n, Message: "Location Reply"})
		}
		if code < 128 {
			rep.Accepted += pba[code] + lr[code]
		} else {
			rep.Rejected += pba[code] + lr[code]
		}
	}
	sort.SliceStable(rep.Status, func(i, j int) bool { return rep.Status[i].Message < rep.Status[j].Message })
	rep.Latency = h.Summary()
	if s := rep.Elapsed.Seconds(); s > 0 {
		rep.Throughput = float64(rep.Answered) / s
	}
	return rep
}

// dmmBuilder encodes the LM and HAA requests from values it owns.
type dmmBuilder struct {
	bu    mh.BindingUpdate
	mnid  mh.MNIdentifier
	hnp   mh.HomeNetworkPrefix
	hi    mh.HandoffIndicator
	att   mh.AccessTechnologyType
	ts    mh.Timestamp
	smaar mh.ServingMAAR
	pmaar mh.PreviousMAAR
	opts  [7]mh.Option
	lq    mh.LocationQuery
	lqo   mh.LocationQueryOption
	lqos  [1]mh.Option
}

func (b *dmmBuilder) init() {
	b.mnid.Subtype = mh.MNIDNAI
	b.bu.Flags = mh.BUFlagA | mh.BUFlagP | mh.BUFlagD
	b.lqos[0] = &b.lqo
	b.lq.Options = b.lqos[:]
}

func (b *dmmBuilder) marshal(m mh.Message, dst []byte) ([]byte, error) {
	l := m.MarshalLen()
	if l > len(dst) {
		return nil, mh.ErrBufferTooSmall
	}
	if err := m.MarshalTo(dst[:l]); err != nil {
		return nil, err
	}
	return dst[:l], nil
}

// update is LMClient.Update's PBU for one prefix.
func (b *dmmBuilder) update(dst []byte, seq, life uint16, att mh.ATT, nai []byte, pfx netip.Prefix, current, anchor netip.Addr, ts uint64) ([]byte, error) {
	b.bu.Sequence, b.bu.Lifetime = seq, life
	b.mnid.Identifier = nai
	b.hnp.PrefixLength, b.hnp.Prefix = uint8(pfx.Bits()), pfx.Addr()
	b.hi.Value = mh.HIAttachNewInterface
	if anchor != current {
		b.hi.Value = mh.HIHandoffBetweenMAGs
	}
	b.att.Value = att
	b.ts.Value = ts
	b.smaar.Address = current
	b.opts = [7]mh.Option{&b.mnid, &b.hnp, &b.hi, &b.att, &b.ts, &b.smaar}
	n := 6
	if anchor != current {
		b.pmaar.Address, b.pmaar.PrefixLength, b.pmaar.Prefix = anchor, uint8(pfx.Bits()), pfx.Addr()
		b.opts[6] = &b.pmaar
		n = 7
	}
	b.bu.Options = b.opts[:n]
	return b.marshal(&b.bu, dst)
}

// haa is HAAClient's allocation (HI 1) or HNP status (HI 3) PBU.
func (b *dmmBuilder) haa(dst []byte, seq, life uint16, att mh.ATT, nai []byte, hi mh.HandoffIndicatorValue) ([]byte, error) {
	b.bu.Sequence, b.bu.Lifetime = seq, life
	b.mnid.Identifier = nai
	b.hnp.PrefixLength, b.hnp.Prefix = 0, netip.IPv6Unspecified()
	b.hi.Value = hi
	b.att.Value = att
	b.opts = [7]mh.Option{&b.mnid, &b.hnp, &b.hi, &b.att}
	b.bu.Options = b.opts[:4]
	return b.marshal(&b.bu, dst)
}

// query is LMClient.Query's Location Query.
func (b *dmmBuilder) query(dst []byte, seq uint16, qt mh.LocationQueryType, a netip.Addr, plen uint8, nai []byte) ([]byte, error) {
	b.lq.Sequence = seq
	b.lqo = mh.LocationQueryOption{QueryType: qt, PrefixLength: plen, Address: a}
	if qt == mh.QueryByMNID {
		b.lqo.Subtype, b.lqo.Identifier = mh.MNIDNAI, nai
	}
	return b.marshal(&b.lq, dst)
}
