package esptransport

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/ipsec"
	"github.com/pmipdmm/pmipdmm/mh"
)

var (
	magAddr = netip.MustParseAddr("2001:db8:ff::1")
	lmaAddr = netip.MustParseAddr("2001:db8:ff::2")
)

type memPair struct {
	net            *transport.Network
	magMem, lmaMem *transport.Mem
	mag, lma       *Transport
	mu             sync.Mutex
	tapped         []transport.Packet
	drops          []ipsec.Kind
}

func newMemPair(t *testing.T) *memPair {
	t.Helper()
	mp := &memPair{net: transport.NewNetwork()}
	mp.net.Tap(func(p transport.Packet) {
		mp.mu.Lock()
		mp.tapped = append(mp.tapped, p)
		mp.mu.Unlock()
	})
	var err error
	if mp.magMem, err = mp.net.Attach(magAddr); err != nil {
		t.Fatal(err)
	}
	if mp.lmaMem, err = mp.net.Attach(lmaAddr); err != nil {
		t.Fatal(err)
	}
	magEng, lmaEng := engines(t, magAddr, lmaAddr)
	mp.mag = NewMem(mp.magMem, magEng, Options{})
	mp.lma = NewMem(mp.lmaMem, lmaEng, Options{OnDrop: func(_ transport.Packet, _ uint8, err error) {
		k, _ := ipsec.KindOf(err)
		mp.mu.Lock()
		mp.drops = append(mp.drops, k)
		mp.mu.Unlock()
	}})
	t.Cleanup(func() { mp.mag.Close(); mp.lma.Close() })
	return mp
}

func (mp *memPair) taps() []transport.Packet {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	return append([]transport.Packet(nil), mp.tapped...)
}

func TestMemSignallingProtected(t *testing.T) {
	mp := newMemPair(t)
	if err := mp.mag.Send(lmaAddr, pbu(t, 7)); err != nil {
		t.Fatal(err)
	}
	p := recv(t, mp.lma)
	bu, err := mh.ParseBindingUpdate(p.Data)
	if err != nil || bu.Sequence != 7 || !bu.Proxy() || bu.Lifetime != 150 || p.Src != magAddr || p.Dst != lmaAddr {
		t.Fatalf("LMA got %+v from %v to %v: %v", bu, p.Src, p.Dst, err)
	}
	if !mh.VerifyChecksum(p.Src, p.Dst, p.Data) {
		t.Error("the PBU inside ESP has no valid MH checksum")
	}
	if id, ok := mh.Find[*mh.MNIdentifier](bu.Options); !ok || string(id.Identifier) != "mn1@example.net" {
		t.Errorf("MN-ID %v", id)
	}
	if err := mp.lma.Send(magAddr, pba(t, 7)); err != nil {
		t.Fatal(err)
	}
	r := recv(t, mp.mag)
	ba, err := mh.ParseBindingAck(r.Data)
	if err != nil || ba.Sequence != 7 || ba.Status != mh.StatusAccepted {
		t.Fatalf("MAG got %+v: %v", ba, err)
	}
	// Heartbeats both ways, with the CBC/HMAC SAs.
	if err := mp.lma.Send(magAddr, heartbeat(t, 41)); err != nil {
		t.Fatal(err)
	}
	if hb, err := mh.ParseHeartbeat(recv(t, mp.mag).Data); err != nil || hb.Sequence != 41 {
		t.Fatalf("heartbeat at MAG: %+v %v", hb, err)
	}
	if err := mp.mag.Send(lmaAddr, heartbeat(t, 42)); err != nil {
		t.Fatal(err)
	}
	if hb, err := mh.ParseHeartbeat(recv(t, mp.lma).Data); err != nil || hb.Sequence != 42 {
		t.Fatalf("heartbeat at LMA: %+v %v", hb, err)
	}
	// A Binding Revocation Indication has no policy: bypassed, in the clear.
	bri, err := (&mh.BindingRevocationIndication{Sequence: 3, Flags: mh.BRFlagP}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.lma.Send(magAddr, bri); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, mp.mag).Data; !bytes.Equal(got, bri) {
		t.Fatalf("BRI: %x", got)
	}

	// On the wire: ESP for PBU, PBA and heartbeats, the BRI in the clear,
	// and no ESP packet shows the MN-ID (AES-GCM and AES-CBC encrypt).
	taps := mp.taps()
	if len(taps) != 5 {
		t.Fatalf("%d packets on the network, want 5", len(taps))
	}
	for i, p := range taps {
		esp, isESP := IsMemESP(p.Data)
		if isESP != (i < 4) {
			t.Errorf("packet %d (%v -> %v): ESP %v", i, p.Src, p.Dst, isESP)
		}
		if isESP && bytes.Contains(esp, []byte("mn1@example.net")) {
			t.Errorf("packet %d: the MN-ID is readable inside ESP", i)
		}
	}
	if s := mp.lma.Stats(); s.InProtected != 2 || s.OutProtected != 2 || s.OutBypass != 1 || s.Delivered != 2 {
		t.Errorf("LMA stats %+v", s)
	}
	if s := mp.mag.Stats(); s.InProtected != 2 || s.InBypass != 1 || s.OutProtected != 2 || s.Delivered != 3 {
		t.Errorf("MAG stats %+v", s)
	}
}

// TestMemDrops: what a protect policy refuses never reaches the role,
// and each refusal is counted under its kind. Each bad packet is followed
// by a good PBU, which must be the next thing the LMA receives (the
// network delivers in order and one goroutine enforces).
func TestMemDrops(t *testing.T) {
	mp := newMemPair(t)
	seq := uint16(100)
	good := func() {
		t.Helper()
		seq++
		if err := mp.mag.Send(lmaAddr, pbu(t, seq)); err != nil {
			t.Fatal(err)
		}
		bu, err := mh.ParseBindingUpdate(recv(t, mp.lma).Data)
		if err != nil || bu.Sequence != seq {
			t.Fatalf("after a bad packet, the LMA received %+v (%v), want the good PBU %d", bu, err, seq)
		}
	}
	inject := func(src netip.Addr, data []byte) {
		t.Helper()
		if err := mp.magMem.SendFrom(src, lmaAddr, data); err != nil {
			t.Fatal(err)
		}
	}
	magEng := mp.mag.Engine()
	freshESP := func(s uint16) []byte { // sealed by the MAG's SA, not sent
		t.Helper()
		nh, esp, err := magEng.Protect(magAddr, lmaAddr, pbu(t, s))
		if err != nil || nh != ipsec.ProtoESP {
			t.Fatalf("Protect: %d %v", nh, err)
		}
		return esp
	}
	good()

	// 1. An unprotected PBU from the MAG's address.
	inject(magAddr, pbu(t, 666))
	good()

	// 2. A replay of the last good PBU as it was on the wire.
	taps := mp.taps()
	last, ok := IsMemESP(taps[len(taps)-1].Data)
	if !ok {
		t.Fatal("the last PBU was not ESP")
	}
	inject(magAddr, MemESP(last))
	good()

	// 3. Tampered: one octet of the ciphertext flipped; the intact packet
	// is still accepted afterwards (the window moves only after the ICV).
	esp := freshESP(667)
	bad := bytes.Clone(esp)
	bad[20] ^= 0x80
	inject(magAddr, MemESP(bad))
	inject(magAddr, MemESP(esp))
	if bu, err := mh.ParseBindingUpdate(recv(t, mp.lma).Data); err != nil || bu.Sequence != 667 {
		t.Fatalf("intact packet after the tampered one: %+v %v", bu, err)
	}

	// 4. Unknown SPI.
	esp = freshESP(668)
	esp[0], esp[1], esp[2], esp[3] = 0xde, 0xad, 0xbe, 0xef
	inject(magAddr, MemESP(esp))
	good()

	// 5. Good ESP from another source than the SA's peer.
	inject(netip.MustParseAddr("2001:db8:ff::99"), MemESP(freshESP(669)))
	good()

	s := mp.lma.Stats()
	want := map[string]uint64{"unprotected": 1, "replay": 1, "icv": 1, "unknown_spi": 1, "policy": 1}
	for k, v := range s.InDropped {
		if v != want[k] {
			t.Errorf("dropped %s: %d, want %d", k, v, want[k])
		}
	}
	if s.Delivered != 6 || s.InProtected != 6 { // five good PBUs and the intact one
		t.Errorf("delivered %d, accepted %d, want 6", s.Delivered, s.InProtected)
	}
	mp.mu.Lock()
	drops := mp.drops
	mp.mu.Unlock()
	wantKinds := []ipsec.Kind{ipsec.KindUnprotected, ipsec.KindReplay, ipsec.KindICV, ipsec.KindUnknownSPI, ipsec.KindPolicy}
	if len(drops) != len(wantKinds) {
		t.Fatalf("OnDrop saw %v, want %v", drops, wantKinds)
	}
	for i := range wantKinds {
		if drops[i] != wantKinds[i] {
			t.Errorf("drop %d: %v, want %v", i, drops[i], wantKinds[i])
		}
	}
}

func TestMemSendRefused(t *testing.T) {
	n := transport.NewNetwork()
	m, _ := n.Attach(magAddr)
	_, _ = n.Attach(lmaAddr)
	spd := ipsec.NewSPD(ipsec.Bypass,
		&ipsec.Policy{Name: "no-bu", Direction: ipsec.Outbound, Action: ipsec.Discard, Selector: ipsec.Selector{MHTypes: []uint8{5}}},
		&ipsec.Policy{Name: "hb", Direction: ipsec.Outbound, Action: ipsec.Protect, Selector: ipsec.Selector{MHTypes: []uint8{13}}},
	)
	tr := NewMem(m, ipsec.NewEngine(spd, ipsec.NewSAD(nil)), Options{})
	defer tr.Close()
	if err := tr.Send(lmaAddr, pbu(t, 1)); !errors.Is(err, ipsec.ErrDiscard) {
		t.Errorf("discarded PBU: %v", err)
	}
	if err := tr.Send(lmaAddr, heartbeat(t, 1)); !errors.Is(err, ipsec.ErrPolicy) {
		t.Errorf("heartbeat without an SA: %v", err)
	}
	if n.Dropped() != 0 || tr.Stats().OutDropped["discard"] != 1 || tr.Stats().OutDropped["policy"] != 1 {
		t.Errorf("network dropped %d; out drops %v", n.Dropped(), tr.Stats().OutDropped)
	}
}

func TestMemClose(t *testing.T) {
	mp := newMemPair(t)
	done := make(chan error, 1)
	go func() { _, err := mp.lma.Receive(make([]transport.Packet, 1)); done <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := mp.lma.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("Receive after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
	if err := mp.lma.Send(magAddr, pba(t, 1)); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}

// TestMemStatsCountBeforeReceive: a packet is counted as delivered before
// Receive can return it, so the counters read right after a Receive
// include it (the reader goroutine once counted after the hand-off, and a
// test reading Stats right after its last Receive saw one too few).
func TestMemStatsCountBeforeReceive(t *testing.T) {
	mp := newMemPair(t)
	for i := uint64(1); i <= 300; i++ {
		if err := mp.mag.Send(lmaAddr, heartbeat(t, uint32(i))); err != nil {
			t.Fatal(err)
		}
		if hb, err := mh.ParseHeartbeat(recv(t, mp.lma).Data); err != nil || uint64(hb.Sequence) != i {
			t.Fatalf("heartbeat %d: %+v %v", i, hb, err)
		}
		if s := mp.lma.Stats(); s.Delivered != i || s.InProtected != i {
			t.Fatalf("after receiving heartbeat %d: delivered %d, accepted %d", i, s.Delivered, s.InProtected)
		}
	}
}
