package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// probeSock is a raw MH socket opened inside a namespace, bound to one
// address, that sends crafted PBUs to the LMA and reads the PBAs.
type probeSock struct {
	tr   *transport.Raw
	rx   chan []byte
	addr netip.Addr
}

func openProbe(t *testing.T, ns *netnstest.NS, addr netip.Addr) *probeSock {
	t.Helper()
	var tr *transport.Raw
	// The socket belongs to the namespace it was opened in.
	if err := ns.Do(func() (err error) { tr, err = transport.ListenRaw(addr, transport.RawOptions{Batch: 4}); return }); err != nil {
		t.Fatalf("raw MH socket on %v in %s: %v", addr, ns.Name, err)
	}
	p := &probeSock{tr: tr, rx: make(chan []byte, 16), addr: addr}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ps := make([]transport.Packet, 4)
		for {
			n, err := tr.Receive(ps)
			if err != nil {
				return
			}
			for _, pk := range ps[:n] {
				select {
				case p.rx <- append([]byte(nil), pk.Data...):
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { tr.Close(); <-done })
	return p
}

func (p *probeSock) send(t *testing.T, b []byte) {
	t.Helper()
	if err := p.tr.Send(lmaAddr, b); err != nil {
		t.Fatalf("send from %v: %v", p.addr, err)
	}
}

// pbu sends a PBU for mn (HNP hnp, or ALL_ZERO when invalid; HI 1, ATT
// 802.3, the given timestamp) and returns the PBA with the same sequence
// number, waiting at most 2 s.
func (p *probeSock) pbu(t *testing.T, mn string, seq, lifetime uint16, ts uint64, hnp netip.Prefix) *mh.BindingAck {
	t.Helper()
	h := &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}
	if hnp.IsValid() {
		h = mh.NewHNP(hnp)
	}
	bu := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: lifetime}
	bu.Options = mh.Options{mh.NewNAI(mn), h, &mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
		&mh.AccessTechnologyType{Value: mh.ATT8023}, &mh.Timestamp{Value: ts}}
	b, err := bu.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p.send(t, b)
	deadline := time.After(2 * time.Second)
	for {
		select {
		case raw := <-p.rx:
			m, err := mh.Parse(raw)
			if err != nil {
				t.Fatalf("undecodable reply to %v: %v (% x)", p.addr, err, raw)
			}
			if ba, ok := m.(*mh.BindingAck); ok && ba.Sequence == seq {
				return ba
			}
		case <-deadline:
			t.Fatalf("no PBA for %s (seq %d) at %v within 2 s", mn, seq, p.addr)
			return nil
		}
	}
}
