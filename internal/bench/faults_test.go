package bench

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// A broken responder: the project's LMA behind a scripted layer that
// answers wrongly in one precise way per check (rewrites, drops or
// invents replies as seen by the tester's MAGs).

type recvHook func(mag int, p *transport.Packet) (keep bool)
type sendHook func(mag int, dst netip.Addr, b []byte) (inject [][]byte)

type faulty struct {
	transport.Transport
	idx    int
	in     chan transport.Packet
	onRecv recvHook
	onSend sendHook
	once   sync.Once
}

func (f *faulty) pump() {
	ps := make([]transport.Packet, 16)
	for {
		n, err := f.Transport.Receive(ps)
		if err != nil {
			close(f.in)
			return
		}
		for i := 0; i < n; i++ {
			c := ps[i]
			c.Data = append([]byte(nil), c.Data...)
			if f.onRecv == nil || f.onRecv(f.idx, &c) {
				f.in <- c
			}
		}
	}
}

func (f *faulty) Send(dst netip.Addr, b []byte) error {
	if f.onSend != nil {
		for _, r := range f.onSend(f.idx, dst, b) {
			f.in <- transport.Packet{Src: dst, Dst: f.LocalAddr(), Data: r}
		}
	}
	return f.Transport.Send(dst, b)
}

func (f *faulty) Receive(ps []transport.Packet) (int, error) {
	f.once.Do(func() { go f.pump() })
	p, ok := <-f.in
	if !ok {
		return 0, transport.ErrClosed
	}
	ps[0] = p
	n := 1
	for n < len(ps) {
		select {
		case p, ok := <-f.in:
			if !ok {
				return n, nil
			}
			ps[n] = p
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

// onPBA rewrites the PBAs for which f returns true (drop: discard it).
func onPBA(f func(mag int, a *mh.BindingAck) (changed, drop bool)) recvHook {
	return func(mag int, p *transport.Packet) bool {
		if len(p.Data) < 3 || mh.Type(p.Data[2]) != mh.TypeBindingAck {
			return true
		}
		a, err := mh.ParseBindingAck(p.Data)
		if err != nil {
			return true
		}
		changed, drop := f(mag, a)
		if drop {
			return false
		}
		if changed {
			a.KeepLayout = false
			b, err := a.Marshal()
			if err != nil {
				panic(err)
			}
			p.Data = b
		}
		return true
	}
}

func hiOf(opts mh.Options) mh.HandoffIndicatorValue {
	if h, ok := mh.Find[*mh.HandoffIndicator](opts); ok {
		return h.Value
	}
	return 0
}

func setHNP(a *mh.BindingAck, p netip.Prefix) {
	for _, o := range a.Options {
		if h, ok := o.(*mh.HomeNetworkPrefix); ok {
			h.PrefixLength, h.Prefix = uint8(p.Bits()), p.Addr()
			return
		}
	}
}

func withoutOpt(opts mh.Options, t mh.OptionType) mh.Options {
	var out mh.Options
	for _, o := range opts {
		if o.OptionType() != t {
			out = append(out, o)
		}
	}
	return out
}

func statusSwap(from, to mh.Status) recvHook {
	return onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
		if a.Status == from {
			a.Status = to
			return true, false
		}
		return false, false
	})
}

var elsewhere = netip.MustParsePrefix("2001:db8:ffff::/64")

type fault struct {
	recv recvHook
	send sendHook
}

func faults() map[string]fault {
	var mu sync.Mutex
	firstHNP := map[string]netip.Prefix{}
	return map[string]fault{
		"pbu-missing-mnid": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if a.Status != mh.StatusMissingMNIdentifierOption {
				return false, false
			}
			a.Options = append(withoutOpt(a.Options, mh.OptMNIdentifier), mh.NewNAI("someone@else"))
			return true, false
		})},
		"pbu-missing-hnp": {recv: statusSwap(mh.StatusMissingHNPOption, mh.StatusReasonUnspecified)},
		"pbu-missing-hi": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if a.Status != mh.StatusMissingHandoffIndicatorOption {
				return false, false
			}
			a.Options = withoutOpt(a.Options, mh.OptHandoffIndicator)
			return true, false
		})},
		"pbu-missing-att": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if att, ok := mh.Find[*mh.AccessTechnologyType](a.Options); ok && a.Status == mh.StatusMissingAccessTechTypeOption {
				att.Value = mh.ATT80211
				return true, false
			}
			return false, false
		})},
		"ts-stale": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if ts, ok := mh.Find[*mh.Timestamp](a.Options); ok && a.Status == mh.StatusTimestampMismatch {
				ts.Value = mh.TimestampValue(time.Now().Add(-time.Hour))
				return true, false
			}
			return false, false
		})},
		"ts-lower": {recv: statusSwap(mh.StatusTimestampLowerThanPrevAccepted, mh.StatusTimestampMismatch)},
		"ts-ignores-seq": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if hiOf(a.Options) == mh.HIHandoffStateNotChanged {
				a.Status = mh.StatusSequenceOutOfWindow
				return true, false
			}
			return false, false
		})},
		"seq-out-of-window": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if a.Status == mh.StatusSequenceOutOfWindow {
				a.Sequence++
				return true, false
			}
			return false, false
		})},
		"pba-echo-accepted": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if l, ok := mh.Find[*mh.LinkLocalAddress](a.Options); ok && a.Status.Accepted() {
				l.Address = netip.IPv6Unspecified()
				return true, false
			}
			return false, false
		})},
		"pba-echo-rejected": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if !a.Status.Accepted() && a.Options.Count(mh.OptMNLinkLayerID) > 0 {
				a.Options = withoutOpt(a.Options, mh.OptMNLinkLayerID)
				return true, false
			}
			return false, false
		})},
		"pba-p-flag": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if !a.Status.Accepted() {
				a.Flags &^= mh.BAFlagP
				return true, false
			}
			return false, false
		})},
		"lifetime-not-above-request": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if a.Status.Accepted() && a.Lifetime > 0 {
				a.Lifetime = 100
				return true, false
			}
			return false, false
		})},
		"allzero-hnp-allocation": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if a.Status.Accepted() && hiOf(a.Options) == mh.HIAttachNewInterface {
				a.Options = append(a.Options, &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()})
				return true, false
			}
			return false, false
		})},
		"rereg-hi5": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if a.Status.Accepted() && hiOf(a.Options) == mh.HIHandoffStateNotChanged {
				setHNP(a, elsewhere)
				return true, false
			}
			return false, false
		})},
		"dereg-lifetime-0": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if a.Status.Accepted() && hiOf(a.Options) == mh.HIHandoffStateUnknown {
				a.Lifetime = 7
				return true, false
			}
			return false, false
		})},
		"dereg-other-mag-ignored": {send: func(mag int, dst netip.Addr, b []byte) [][]byte {
			u, err := mh.ParseBindingUpdate(b)
			if err != nil || mag != 1 || u.Lifetime != 0 {
				return nil
			}
			a := &mh.BindingAck{Flags: mh.BAFlagP, Sequence: u.Sequence}
			a.Options = append(a.Options, u.Options...)
			r, _ := a.Marshal()
			return [][]byte{r}
		}},
		"hi1-new-session": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			id, _ := mh.Find[*mh.MNIdentifier](a.Options)
			if id == nil || !a.Status.Accepted() || hiOf(a.Options) != mh.HIAttachNewInterface {
				return false, false
			}
			mu.Lock()
			defer mu.Unlock()
			if p, ok := firstHNP[string(id.Identifier)]; ok {
				setHNP(a, p)
				return true, false
			}
			firstHNP[string(id.Identifier)] = HNPsOf(a)[0]
			return false, false
		})},
		"hi2-update": {recv: onPBA(func(_ int, a *mh.BindingAck) (bool, bool) {
			if a.Status.Accepted() && hiOf(a.Options) == mh.HIHandoffBetweenIfaces {
				setHNP(a, elsewhere)
				return true, false
			}
			return false, false
		})},
		"hi3-handover": {recv: onPBA(func(mag int, a *mh.BindingAck) (bool, bool) {
			return false, mag == 1 && hiOf(a.Options) == mh.HIHandoffBetweenMAGs
		})},
		"hi3-handover-hnp": {recv: onPBA(func(mag int, a *mh.BindingAck) (bool, bool) {
			if mag == 1 && hiOf(a.Options) == mh.HIHandoffBetweenMAGs {
				a.Status = mh.StatusBCEPBUPrefixSetDoNotMatch
				return true, false
			}
			return false, false
		})},
		"hi4-wait-dereg": {recv: onPBA(func(mag int, a *mh.BindingAck) (bool, bool) {
			if mag == 1 && a.Lifetime > 0 && hiOf(a.Options) == mh.HIHandoffStateUnknown {
				setHNP(a, elsewhere)
				return true, false
			}
			return false, false
		})},
		"hnp-set-mismatch":  {recv: statusSwap(mh.StatusBCEPBUPrefixSetDoNotMatch, mh.StatusNotAuthorizedForHNP)},
		"hnp-other-mn":      {recv: statusSwap(mh.StatusNotAuthorizedForHNP, mh.StatusBCEPBUPrefixSetDoNotMatch)},
		"mag-unauthorized":  {recv: statusSwap(mh.StatusMAGNotAuthorizedForProxyReg, mh.StatusNotLMAForThisMN)},
		"mn-unknown":        {recv: statusSwap(mh.StatusNotLMAForThisMN, mh.StatusMAGNotAuthorizedForProxyReg)},
		"mn-proxy-disabled": {recv: statusSwap(mh.StatusProxyRegNotEnabled, mh.StatusNotLMAForThisMN)},
		"heartbeat-response": {recv: func(_ int, p *transport.Packet) bool {
			if len(p.Data) >= 12 && mh.Type(p.Data[2]) == mh.TypeHeartbeat {
				binary.BigEndian.PutUint32(p.Data[8:], binary.BigEndian.Uint32(p.Data[8:])+1)
			}
			return true
		}},
		"unknown-mh-type": {recv: func(_ int, p *transport.Packet) bool {
			if len(p.Data) >= 8 && mh.Type(p.Data[2]) == mh.TypeBindingError {
				p.Data[6] = 1
			}
			return true
		}},
		"bri-revocation": {recv: func(_ int, p *transport.Packet) bool {
			if len(p.Data) >= 12 && mh.Type(p.Data[2]) == mh.TypeBindingRevocation && p.Data[6] == 1 {
				p.Data[10] &^= 0x80 // P
			}
			return true
		}},
	}
}

// TestConformanceChecksFail runs every check against a responder broken
// in the way that check is about: each must fail (none is vacuous).
func TestConformanceChecksFail(t *testing.T) {
	fs := faults()
	for _, ch := range Catalogue() {
		f, ok := fs[ch.ID]
		if !ok {
			t.Errorf("%s: no broken responder for this check", ch.ID)
			continue
		}
		t.Run(ch.ID, func(t *testing.T) {
			n, l, mns := conformLMA(t)
			tg := conformTarget(t, n, l, mns, func(i int, tr transport.Transport) transport.Transport {
				return &faulty{Transport: tr, idx: i, in: make(chan transport.Packet, 64), onRecv: f.recv, onSend: f.send}
			})
			res, err := Conformance(context.Background(), tg, []Check{ch})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Verdict != Fail {
				t.Fatalf("passed against a broken responder:\n%s", describe(res[0]))
			}
			t.Logf("%s: %s", res[0].Verdict, res[0].Reason)
		})
	}
	if len(fs) != len(Catalogue()) {
		t.Errorf("%d faults for %d checks", len(fs), len(Catalogue()))
	}
}
