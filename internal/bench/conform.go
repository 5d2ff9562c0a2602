package bench

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/pmipdmm/pmipdmm/mh/mhjson"
)

// Target describes the LMA the conformance checks run against and what
// the checks may use.
type Target struct {
	LMA netip.Addr
	// MAGs are the tester's MAG transports: MAGs[0] is the serving MAG,
	// MAGs[1] (optional) the second MAG of the handover checks. Conform
	// reads them while it runs and closes nothing.
	MAGs []transport.Transport
	// UnauthorizedMAG (optional) is a transport whose address the target
	// does not accept PBUs from (154).
	UnauthorizedMAG transport.Transport
	// MNIDs (optional) are NAIs the target accepts, used in order; when
	// empty, NAIs are generated from MNFormat (default
	// "pmipbench-%s-%d@conform", %s a per-run tag) and the target must
	// accept any MN (or the generated ones).
	MNIDs    []string
	MNFormat string
	// UnknownMN (153) and ProxyDisabledMN (152) are optional NAIs the
	// target does not know / does not serve with network-based mobility.
	UnknownMN       string
	ProxyDisabledMN string
	// RevokeHook (optional) makes the target revoke the binding of mn
	// (RFC 5846); it enables the revocation check.
	RevokeHook func(ctx context.Context, mn string, hnp netip.Prefix) error
	// ReplyTimeout is how long a reply is waited for (default 1 s);
	// SilenceWait how long a message that must not be answered is
	// watched (default 600 ms); HoldWait bounds the HI=4 wait of the
	// target (MaxDelayBeforeNewBCEAssign, default 1.5 s, plus ReplyTimeout).
	ReplyTimeout time.Duration
	SilenceWait  time.Duration
	HoldWait     time.Duration
	// ClockTolerance is how far the target's time in a 156/157 PBA may
	// be from the local clock (default 2 s).
	ClockTolerance time.Duration
	// Lifetime requested by the registrations, in 4 s units (default 15).
	Lifetime uint16
	// ATT sent (default 4).
	ATT mh.ATT
	// Sequence makes the ordinary PBUs use the sequence-number scheme
	// (no Timestamp option); the timestamp checks still send Timestamps.
	Sequence bool
}

func (t *Target) setDefaults() error {
	if !t.LMA.Is6() {
		return fmt.Errorf("bench: LMA address %v is not IPv6", t.LMA)
	}
	if len(t.MAGs) == 0 {
		return errors.New("bench: no MAG transport")
	}
	if t.MNFormat == "" {
		t.MNFormat = "pmipbench-%s-%d@conform"
	}
	if t.ReplyTimeout <= 0 {
		t.ReplyTimeout = time.Second
	}
	if t.SilenceWait <= 0 {
		t.SilenceWait = 600 * time.Millisecond
	}
	if t.HoldWait <= 0 {
		t.HoldWait = 1500*time.Millisecond + t.ReplyTimeout
	}
	if t.ClockTolerance <= 0 {
		t.ClockTolerance = 2 * time.Second
	}
	if t.Lifetime == 0 {
		t.Lifetime = 15
	}
	if t.ATT == 0 {
		t.ATT = mh.ATT80211
	}
	return nil
}

// Verdict is the outcome of a check.
type Verdict string

// Verdicts.
const (
	Pass          Verdict = "pass"
	Fail          Verdict = "fail"
	NotApplicable Verdict = "n/a"
)

// Check is one conformance check.
type Check struct {
	ID      string
	Section string // e.g. "RFC 5213 §5.3.1"
	Title   string
	Run     func(s *Session)
}

// Evidence is one packet sent or received during a check.
type Evidence struct {
	Dir     string         `json:"dir"` // "sent" or "received"
	At      time.Duration  `json:"at_ns"`
	From    string         `json:"from"`
	To      string         `json:"to"`
	Summary string         `json:"summary"`
	Hex     string         `json:"hex"`
	Decoded *mhjson.Object `json:"decoded,omitempty"`
}

// Result is the outcome of one check.
type Result struct {
	ID       string        `json:"id"`
	Section  string        `json:"section"`
	Title    string        `json:"title"`
	Verdict  Verdict       `json:"verdict"`
	Reason   string        `json:"reason,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	Evidence []Evidence    `json:"evidence"`
}

// peer is one MAG transport with its receive goroutine.
type peer struct {
	tr   transport.Transport
	in   chan transport.Packet
	mu   sync.Mutex
	hbTx uint32
}

func newPeer(tr transport.Transport, stop <-chan struct{}) *peer {
	p := &peer{tr: tr, in: make(chan transport.Packet, 256)}
	go func() {
		ps := make([]transport.Packet, 16)
		for {
			n, err := tr.Receive(ps)
			if err != nil {
				return
			}
			for i := 0; i < n; i++ {
				c := ps[i]
				c.Data = append([]byte(nil), c.Data...)
				select {
				case p.in <- c:
				case <-stop:
					return
				}
			}
		}
	}()
	return p
}

// Conformance runs the checks (all of Catalogue when checks is nil) one
// after the other and returns their results in order.
func Conformance(ctx context.Context, t Target, checks []Check) ([]Result, error) {
	if err := t.setDefaults(); err != nil {
		return nil, err
	}
	if checks == nil {
		checks = Catalogue()
	}
	stop := make(chan struct{})
	defer close(stop)
	c := &conformRun{t: t, tag: fmt.Sprintf("%06x", rand.Uint32()&0xffffff), seq: uint16(rand.Uint32())}
	for _, tr := range t.MAGs {
		c.peers = append(c.peers, newPeer(tr, stop))
	}
	if t.UnauthorizedMAG != nil {
		c.unauth = newPeer(t.UnauthorizedMAG, stop)
	}
	var out []Result
	for _, ch := range checks {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, c.run(ctx, ch))
	}
	return out, nil
}

type conformRun struct {
	t      Target
	tag    string
	peers  []*peer
	unauth *peer
	nextMN int
	seq    uint16
}

// abort ends a check early (like testing.T.FailNow).
type abort struct{}

// Session is what a check works with.
type Session struct {
	ctx       context.Context
	c         *conformRun
	t         *Target
	res       *Result
	start     time.Time
	cleanups  []func()
	inCleanup bool
}

func (c *conformRun) run(ctx context.Context, ch Check) (res Result) {
	res = Result{ID: ch.ID, Section: ch.Section, Title: ch.Title, Verdict: Pass}
	s := &Session{ctx: ctx, c: c, t: &c.t, res: &res, start: time.Now()}
	// Late replies of the previous check are not this check's evidence.
	for _, p := range append(append([]*peer(nil), c.peers...), c.unauth) {
		if p != nil {
			s.drain(p)
		}
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(abort); !ok {
					res.Verdict, res.Reason = Fail, fmt.Sprintf("check panicked: %v", r)
				}
			}
		}()
		ch.Run(s)
	}()
	s.inCleanup = true
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(abort); !ok {
						s.Note("cleanup panicked: %v", r)
					}
				}
			}()
			s.cleanups[i]()
		}()
	}
	res.Duration = time.Since(s.start)
	return res
}

func (s *Session) drain(p *peer) {
	for {
		select {
		case pk := <-p.in:
			s.answerHeartbeat(p, pk)
		default:
			return
		}
	}
}

// Failf fails the check with a reason and ends it.
func (s *Session) Failf(format string, a ...any) {
	if s.inCleanup {
		s.Note("cleanup: "+format, a...)
		panic(abort{})
	}
	if s.res.Verdict == Pass {
		s.res.Verdict, s.res.Reason = Fail, fmt.Sprintf(format, a...)
	}
	panic(abort{})
}

// NotApplicable ends the check as not applicable, with the reason.
func (s *Session) NotApplicable(format string, a ...any) {
	if s.res.Verdict == Pass {
		s.res.Verdict, s.res.Reason = NotApplicable, fmt.Sprintf(format, a...)
	}
	panic(abort{})
}

// Note adds a remark to the result.
func (s *Session) Note(format string, a ...any) {
	s.res.Notes = append(s.res.Notes, fmt.Sprintf(format, a...))
}

// Cleanup registers f to run after the check, last registered first.
func (s *Session) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

// MAG returns the i-th MAG; without it the check is not applicable.
func (s *Session) MAG(i int) *peer {
	if i >= len(s.c.peers) {
		s.NotApplicable("needs %d MAG addresses, %d given", i+1, len(s.c.peers))
	}
	return s.c.peers[i]
}

// NewMN returns an MN-ID not used before in this run.
func (s *Session) NewMN() string {
	c := s.c
	if len(s.t.MNIDs) > 0 {
		if c.nextMN >= len(s.t.MNIDs) {
			s.NotApplicable("the %d MN-IDs given are used up", len(s.t.MNIDs))
		}
		c.nextMN++
		return s.t.MNIDs[c.nextMN-1]
	}
	c.nextMN++
	return fmt.Sprintf(s.t.MNFormat, c.tag, c.nextMN)
}

func (s *Session) nextSeq() uint16 {
	s.c.seq++
	return s.c.seq
}

func (s *Session) record(dir string, src, dst netip.Addr, b []byte) {
	e := Evidence{Dir: dir, At: time.Since(s.start), From: src.String(), To: dst.String(), Hex: hex.EncodeToString(b)}
	o := mhjson.Decode(b, mh.DecodeOptions{})
	e.Decoded = &o
	e.Summary = Summarize(b)
	s.res.Evidence = append(s.res.Evidence, e)
}

// Send sends a message from MAG p to the LMA and records it.
func (s *Session) Send(p *peer, m mh.Message) []byte {
	b, err := m.Marshal()
	if err != nil {
		s.Failf("cannot encode the %v to send: %v", m.MHType(), err)
	}
	s.SendRaw(p, b)
	return b
}

// SendRaw sends octets from MAG p to the LMA and records them.
func (s *Session) SendRaw(p *peer, b []byte) {
	s.record("sent", p.tr.LocalAddr(), s.t.LMA, b)
	if err := p.tr.Send(s.t.LMA, b); err != nil {
		s.Failf("send from %v: %v", p.tr.LocalAddr(), err)
	}
}

// answerHeartbeat answers a Heartbeat request from the target (RFC 5847:
// requests are always answered) and reports whether pk was one.
func (s *Session) answerHeartbeat(p *peer, pk transport.Packet) bool {
	if len(pk.Data) < 3 || mh.Type(pk.Data[2]) != mh.TypeHeartbeat {
		return false
	}
	hb, err := mh.ParseHeartbeat(pk.Data)
	if err != nil || hb.Response() {
		return false
	}
	r := &mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: hb.Sequence}
	r.Options = mh.Options{&mh.RestartCounter{}}
	if b, err := r.Marshal(); err == nil {
		p.tr.Send(pk.Src, b)
	}
	return true
}

// Await waits up to d for a packet on p for which match returns true,
// recording everything received meanwhile; nil on time-out.
func (s *Session) Await(p *peer, d time.Duration, match func(m mh.Message) bool) mh.Message {
	tm := time.NewTimer(d)
	defer tm.Stop()
	for {
		select {
		case pk := <-p.in:
			if s.answerHeartbeat(p, pk) {
				continue
			}
			s.record("received", pk.Src, pk.Dst, pk.Data)
			m, err := mh.Parse(pk.Data)
			if err != nil {
				s.Note("undecodable message received: %v", err)
				continue
			}
			if match(m) {
				return m
			}
		case <-tm.C:
			return nil
		case <-s.ctx.Done():
			return nil
		}
	}
}

// PBU is a Proxy Binding Update to craft. The zero value of a field means
// the usual thing; the No* fields leave an option out.
type PBU struct {
	MN       string
	NoMNID   bool
	HNPs     []netip.Prefix // nil: one ALL_ZERO HNP
	NoHNP    bool
	HI       mh.HandoffIndicatorValue // 0: 1
	NoHI     bool
	ATT      mh.ATT // 0: Target.ATT
	NoATT    bool
	Lifetime *uint16 // nil: Target.Lifetime
	Seq      *uint16 // nil: the next of the run's counter
	// Timestamp: nil follows Target.Sequence (the current time, or
	// none); a pointer to 0 sends none.
	Timestamp *uint64
	LLID      []byte
	LLA       *netip.Addr
	Flags     *mh.BUFlags // nil: A and P
}

func u16(v uint16) *uint16 { return &v }
func u64(v uint64) *uint64 { return &v }

// message builds the Binding Update of x.
func (s *Session) message(x PBU) *mh.BindingUpdate {
	m := &mh.BindingUpdate{Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: s.t.Lifetime}
	if x.Flags != nil {
		m.Flags = *x.Flags
	}
	if x.Lifetime != nil {
		m.Lifetime = *x.Lifetime
	}
	if x.Seq != nil {
		m.Sequence = *x.Seq
	} else {
		m.Sequence = s.nextSeq()
	}
	if !x.NoHNP {
		if x.HNPs == nil {
			m.Options = append(m.Options, &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()})
		}
		for _, p := range x.HNPs {
			m.Options = append(m.Options, mh.NewHNP(p))
		}
	}
	if !x.NoMNID {
		m.Options = append(m.Options, mh.NewNAI(x.MN))
	}
	if !x.NoHI {
		hi := x.HI
		if hi == 0 {
			hi = mh.HIAttachNewInterface
		}
		m.Options = append(m.Options, &mh.HandoffIndicator{Value: hi})
	}
	if !x.NoATT {
		att := x.ATT
		if att == 0 {
			att = s.t.ATT
		}
		m.Options = append(m.Options, &mh.AccessTechnologyType{Value: att})
	}
	switch {
	case x.Timestamp != nil && *x.Timestamp != 0:
		m.Options = append(m.Options, &mh.Timestamp{Value: *x.Timestamp})
	case x.Timestamp == nil && !s.t.Sequence:
		m.Options = append(m.Options, mh.NewTimestamp(time.Now()))
	}
	if x.LLID != nil {
		m.Options = append(m.Options, &mh.MNLinkLayerID{LinkLayerID: x.LLID})
	}
	if x.LLA != nil {
		m.Options = append(m.Options, &mh.LinkLocalAddress{Address: *x.LLA})
	}
	return m
}

// SendPBU sends x from p and returns the message sent.
func (s *Session) SendPBU(p *peer, x PBU) *mh.BindingUpdate {
	m := s.message(x)
	s.Send(p, m)
	return m
}

// isReplyTo reports whether m is a BA answering PBU u: same Sequence # (or
// any, for 135) and the same MN-ID (when u had one).
func isReplyTo(m mh.Message, u *mh.BindingUpdate) (*mh.BindingAck, bool) {
	ack, ok := m.(*mh.BindingAck)
	if !ok {
		return nil, false
	}
	if ack.Sequence != u.Sequence && ack.Status != mh.StatusSequenceOutOfWindow {
		return nil, false
	}
	want, hadID := mh.Find[*mh.MNIdentifier](u.Options)
	got, hasID := mh.Find[*mh.MNIdentifier](ack.Options)
	switch {
	case hadID && hasID:
		return ack, string(got.Identifier) == string(want.Identifier) && got.Subtype == want.Subtype
	case !hadID:
		return ack, true // by Sequence # alone; the echo rules judge its MN-ID
	}
	return nil, false
}

// AwaitPBA waits for the PBA answering u on p; it fails the check on a
// time-out.
func (s *Session) AwaitPBA(p *peer, u *mh.BindingUpdate, d time.Duration) *mh.BindingAck {
	var ack *mh.BindingAck
	m := s.Await(p, d, func(m mh.Message) bool {
		a, ok := isReplyTo(m, u)
		if ok {
			ack = a
		}
		return ok
	})
	if m == nil {
		s.Failf("no PBA for the PBU (sequence %d) within %v", u.Sequence, d)
	}
	return ack
}

// Exchange sends x from p and returns the PBA.
func (s *Session) Exchange(p *peer, x PBU) (*mh.BindingUpdate, *mh.BindingAck) {
	u := s.SendPBU(p, x)
	return u, s.AwaitPBA(p, u, s.t.ReplyTimeout)
}

// ExpectSilence sends x from p and fails if it is answered within
// SilenceWait.
func (s *Session) ExpectSilence(p *peer, x PBU, why string) {
	u := s.SendPBU(p, x)
	m := s.Await(p, s.t.SilenceWait, func(m mh.Message) bool { _, ok := isReplyTo(m, u); return ok })
	if m != nil {
		s.Failf("%s, but the PBU was answered (status %d)", why, m.(*mh.BindingAck).Status)
	}
}

// Binding is a registration a check made; cleanup de-registers it from
// wherever it is at the end.
type Binding struct {
	MN   string
	MAG  *peer
	HNPs []netip.Prefix
	Gone bool // de-registered by the check itself
}

// Register registers a new session for mn from p (HI=1, ALL_ZERO HNP
// unless x says otherwise) and arranges its de-registration. A rejection
// for policy reasons (152-154) makes the check not applicable (the
// target is not configured for the tester), anything else fails it.
func (s *Session) Register(p *peer, x PBU) (*Binding, *mh.BindingUpdate, *mh.BindingAck) {
	u, ack := s.Exchange(p, x)
	switch {
	case ack.Status == mh.StatusProxyRegNotEnabled, ack.Status == mh.StatusNotLMAForThisMN, ack.Status == mh.StatusMAGNotAuthorizedForProxyReg:
		s.NotApplicable("the target refused to register %q from %v with %d (%v): configure it to accept the tester's MN-IDs and MAG addresses",
			x.MN, p.tr.LocalAddr(), ack.Status, ack.Status)
	case !ack.Status.Accepted():
		s.Failf("registration of %q rejected with %d (%v)", x.MN, ack.Status, ack.Status)
	}
	b := &Binding{MN: x.MN, MAG: p, HNPs: HNPsOf(ack)}
	if len(b.HNPs) == 0 {
		s.Failf("accepted PBA without a NON_ZERO Home Network Prefix")
	}
	s.Cleanup(func() { s.Deregister(b, false) })
	return b, u, ack
}

// Deregister sends the de-registration of b from its MAG (lifetime 0,
// HI=4, its prefixes) and, when check is set, fails unless it is
// accepted with lifetime 0.
func (s *Session) Deregister(b *Binding, check bool) *mh.BindingAck {
	if b.Gone {
		return nil
	}
	b.Gone = true
	_, ack := s.Exchange(b.MAG, PBU{MN: b.MN, HNPs: b.HNPs, HI: mh.HIHandoffStateUnknown, Lifetime: u16(0)})
	if check && (ack.Status != mh.StatusAccepted || ack.Lifetime != 0) {
		s.Failf("de-registration answered with status %d lifetime %d, want 0 and 0", ack.Status, ack.Lifetime)
	}
	return ack
}

// HNPsOf returns the NON_ZERO Home Network Prefixes of a message.
func HNPsOf(m mh.Message) []netip.Prefix {
	var out []netip.Prefix
	for _, o := range m.MHBase().Options {
		if h, ok := o.(*mh.HomeNetworkPrefix); ok && !h.AllZero() {
			out = append(out, h.AsPrefix())
		}
	}
	return out
}

// Summarize renders a Mobility Header on one line from its decoded view.
func Summarize(b []byte) string {
	o := mhjson.Decode(b, mh.DecodeOptions{})
	if o.Error != "" {
		return "malformed: " + o.Error
	}
	var sb strings.Builder
	name := "?"
	if o.Header != nil {
		name = o.TypeName
	}
	fmt.Fprintf(&sb, "%s (%d octets)", name, o.Length)
	writeKV(&sb, o.Fields)
	for _, opt := range o.Options {
		if opt.Type == uint8(mh.OptPad1) || opt.Type == uint8(mh.OptPadN) {
			continue
		}
		sb.WriteString(" | " + opt.Name)
		if opt.Length != nil && *opt.Length == 0 {
			sb.WriteString(" (zero length)")
		}
		writeKV(&sb, opt.Fields)
	}
	return sb.String()
}

func writeKV(sb *strings.Builder, f mhjson.Fields) {
	for _, kv := range f {
		if strings.HasSuffix(kv.Key, "_name") || strings.HasSuffix(kv.Key, "_set") || strings.HasSuffix(kv.Key, "_text") {
			continue
		}
		if kv.Key == "reserved" && fmt.Sprint(kv.Value) == "0" {
			continue
		}
		v := fmt.Sprint(kv.Value)
		if t, ok := f.Get(kv.Key + "_text"); ok {
			v = fmt.Sprintf("%q", t)
		}
		if n, ok := f.Get(kv.Key + "_name"); ok {
			v += "(" + fmt.Sprint(n) + ")"
		}
		if st, ok := f.Get(kv.Key + "_set"); ok {
			v += fmt.Sprint(st)
		}
		fmt.Fprintf(sb, " %s=%s", kv.Key, v)
	}
}
