package transport

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestMemNetwork(t *testing.T) {
	n := NewNetwork()
	a1, b1 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	a, err := n.Attach(a1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := n.Attach(b1)
	if _, err := n.Attach(a1); err == nil {
		t.Fatal("attaching the same address twice succeeded")
	}
	var tapped []Packet
	n.Tap(func(p Packet) { tapped = append(tapped, p) })

	msg := []byte{59, 1, 5, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if err := a.Send(b1, msg); err != nil {
		t.Fatal(err)
	}
	msg[6] = 0xff // the sender's buffer is not retained
	if err := a.SendFrom(netip.MustParseAddr("2001:db8::99"), b1, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(netip.MustParseAddr("2001:db8::3"), []byte{2}); err != nil {
		t.Fatal(err)
	}
	if n.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", n.Dropped())
	}
	ps := make([]Packet, 1)
	ps[0].Data = make([]byte, 0, 64)
	k, err := b.Receive(ps)
	if err != nil || k != 1 {
		t.Fatalf("Receive = %d, %v", k, err)
	}
	if ps[0].Src != a1 || ps[0].Dst != b1 || ps[0].Data[6] != 1 || len(ps[0].Data) != 16 {
		t.Fatalf("got %+v", ps[0])
	}
	k, err = b.Receive(ps)
	if err != nil || k != 1 || ps[0].Src != netip.MustParseAddr("2001:db8::99") || len(ps[0].Data) != 1 {
		t.Fatalf("second Receive = %d, %v, %+v", k, err, ps[0])
	}
	if len(tapped) != 3 || tapped[2].Dst != netip.MustParseAddr("2001:db8::3") {
		t.Fatalf("tapped %+v", tapped)
	}

	done := make(chan error, 1)
	go func() { _, err := b.Receive(ps); done <- err }()
	time.Sleep(10 * time.Millisecond)
	b.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Receive after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Receive not unblocked by Close")
	}
	if err := b.Send(a1, []byte{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	a.Send(b1, []byte{1})
	if n.Dropped() != 2 {
		t.Fatalf("a closed node still receives")
	}
}

func TestMemBatch(t *testing.T) {
	n := NewNetwork()
	a, _ := n.Attach(netip.MustParseAddr("2001:db8::1"))
	b, _ := n.Attach(netip.MustParseAddr("2001:db8::2"))
	for i := 0; i < 5; i++ {
		a.Send(b.LocalAddr(), []byte{byte(i)})
	}
	ps := make([]Packet, 3)
	k, _ := b.Receive(ps)
	if k != 3 || ps[2].Data[0] != 2 {
		t.Fatalf("batch 1: %d %+v", k, ps)
	}
	k, _ = b.Receive(ps)
	if k != 2 || ps[0].Data[0] != 3 || ps[1].Data[0] != 4 {
		t.Fatalf("batch 2: %d %+v", k, ps)
	}
}
