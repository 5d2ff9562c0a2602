package transport

import (
	"github.com/pmipdmm/pmipdmm/internal/netnstest"
	"github.com/pmipdmm/pmipdmm/internal/testdeps"

	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pmipdmm/pmipdmm/mh"
)

// netnsPair creates two network namespaces joined by a veth pair, with
// addrA in the first and addrB in the second (no DAD), and removes them
// with t.Cleanup whatever happens.
func netnsPair(t *testing.T, addrA, addrB netip.Addr) (nsA, nsB string) {
	t.Helper()
	netnstest.RequireRoot(t)
	testdeps.Ensure(t, "ip", "iproute2")
	tag := fmt.Sprintf("%d%d", os.Getpid()%100000, time.Now().UnixNano()%10000)
	nsA, nsB = "tra"+tag, "trb"+tag
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", nsA)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsA).Run() })
	run("netns", "add", nsB)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsB).Run() })
	run("-n", nsA, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", nsB)
	run("-n", nsA, "addr", "add", addrA.String()+"/64", "dev", "va", "nodad")
	run("-n", nsB, "addr", "add", addrB.String()+"/64", "dev", "vb", "nodad")
	run("-n", nsA, "link", "set", "va", "up")
	run("-n", nsB, "link", "set", "vb", "up")
	run("-n", nsA, "link", "set", "lo", "up")
	run("-n", nsB, "link", "set", "lo", "up")
	return nsA, nsB
}

// inNetns runs f on a locked OS thread switched into the named namespace,
// then switches back. Sockets opened by f stay in that namespace.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns %s: %v", name, err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			panic("cannot return to the original network namespace: " + err.Error())
		}
	}()
	f()
}

func receiveOne(t *testing.T, tr Transport) Packet {
	t.Helper()
	type res struct {
		p   Packet
		err error
	}
	ch := make(chan res, 1)
	go func() {
		ps := make([]Packet, 4)
		n, err := tr.Receive(ps)
		if err == nil && n != 1 {
			err = fmt.Errorf("received %d packets, want 1", n)
		}
		ch <- res{ps[0], err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.p
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received in 5 s")
	}
	return Packet{}
}

func TestRawBetweenNamespaces(t *testing.T) {
	mag, lma := netip.MustParseAddr("2001:db8:77::1"), netip.MustParseAddr("2001:db8:77::2")
	nsA, nsB := netnsPair(t, mag, lma)
	var ta, tb *Raw
	var err error
	inNetns(t, nsA, func() { ta, err = ListenRaw(mag, RawOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ta.Close() })
	inNetns(t, nsB, func() { tb, err = ListenRaw(lma, RawOptions{Batch: 8}) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })

	pbu := &mh.BindingUpdate{Sequence: 7, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 100}
	pbu.Options = mh.Options{
		&mh.HomeNetworkPrefix{}, mh.NewNAI("mn1@example"),
		&mh.HandoffIndicator{Value: mh.HIAttachNewInterface}, &mh.AccessTechnologyType{Value: 4},
	}
	b, err := pbu.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.Send(lma, b); err != nil {
		t.Fatal(err)
	}
	p := receiveOne(t, tb)
	if p.Src != mag || p.Dst != lma {
		t.Fatalf("PBU from %v to %v, want %v -> %v", p.Src, p.Dst, mag, lma)
	}
	if p.IfIndex == 0 {
		t.Error("no interface index from IPV6_PKTINFO")
	}
	if !mh.VerifyChecksum(p.Src, p.Dst, p.Data) {
		t.Errorf("received MH checksum %#04x is not the RFC 6275 one: the kernel did not fill it", uint16(p.Data[4])<<8|uint16(p.Data[5]))
	}
	got, err := mh.ParseBindingUpdate(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sequence != 7 || !got.Proxy() || got.Lifetime != 100 {
		t.Fatalf("PBU fields %+v", got)
	}

	pba := &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: got.Sequence, Lifetime: 100}
	pba.Options = mh.Options{mh.NewNAI("mn1@example")}
	b, _ = pba.Marshal()
	if n, err := tb.SendBatch([]Packet{{Dst: p.Src, Data: b}}); err != nil || n != 1 {
		t.Fatalf("SendBatch = %d, %v", n, err)
	}
	r := receiveOne(t, ta)
	if r.Src != lma || r.Dst != mag || !mh.VerifyChecksum(r.Src, r.Dst, r.Data) {
		t.Fatalf("PBA from %v to %v checksum ok=%v", r.Src, r.Dst, mh.VerifyChecksum(r.Src, r.Dst, r.Data))
	}
	ack, err := mh.ParseBindingAck(r.Data)
	if err != nil || ack.Sequence != 7 || ack.Status != mh.StatusAccepted {
		t.Fatalf("PBA %+v, %v", ack, err)
	}

	// A closed socket unblocks Receive.
	done := make(chan error, 1)
	go func() { _, err := ta.Receive(make([]Packet, 1)); done <- err }()
	time.Sleep(20 * time.Millisecond)
	ta.Close()
	select {
	case err := <-done:
		if err != ErrClosed {
			t.Fatalf("Receive after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
}

// TestRawSendBatch sends a batch of PBAs to two destinations with one
// call, checks that each arrives intact where it was addressed, and that
// a warmed-up SendBatch allocates nothing of its own (its messages and
// addresses are pooled).
func TestRawSendBatch(t *testing.T) {
	mag, lma := netip.MustParseAddr("2001:db8:78::1"), netip.MustParseAddr("2001:db8:78::2")
	nsA, nsB := netnsPair(t, mag, lma)
	var ta, tb *Raw
	var err error
	inNetns(t, nsA, func() { ta, err = ListenRaw(mag, RawOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ta.Close() })
	inNetns(t, nsB, func() { tb, err = ListenRaw(lma, RawOptions{Batch: 8}) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })

	var ps []Packet
	for seq := uint16(1); seq <= 5; seq++ {
		pba := &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: seq, Lifetime: 100}
		pba.Options = mh.Options{mh.NewNAI(fmt.Sprintf("mn%d@example", seq))}
		b, err := pba.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, Packet{Dst: mag, Data: b})
	}
	if n, err := tb.SendBatch(ps); err != nil || n != len(ps) {
		t.Fatalf("SendBatch = %d, %v", n, err)
	}
	var got []Packet
	rx := make([]Packet, 8)
	for deadline := time.Now().Add(5 * time.Second); len(got) < len(ps) && time.Now().Before(deadline); {
		n, err := ta.Receive(rx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rx[:n] {
			p.Data = append([]byte(nil), p.Data...)
			got = append(got, p)
		}
	}
	if len(got) != len(ps) {
		t.Fatalf("received %d packets, want %d", len(got), len(ps))
	}
	for i, want := 0, uint16(1); want <= 5; i, want = i+1, want+1 {
		p := got[i]
		ack, err := mh.ParseBindingAck(p.Data)
		if err != nil || p.Src != lma || ack.Sequence != want {
			t.Fatalf("packet %d from %v: %+v, %v", want, p.Src, ack, err)
		}
		if id, _ := mh.Find[*mh.MNIdentifier](ack.Options); id == nil || string(id.Identifier) != fmt.Sprintf("mn%d@example", want) {
			t.Fatalf("packet %d carries the MN-ID %+v", want, id)
		}
	}
	if n, err := tb.SendBatch(nil); n != 0 || err != nil {
		t.Fatalf("empty SendBatch = %d, %v", n, err)
	}
	if err := tb.Send(mag, ps[0].Data); err != nil {
		t.Fatal(err)
	}
	if p := receiveOne(t, ta); p.Src != lma || len(p.Data) != len(ps[0].Data) {
		t.Fatalf("Send: %+v", p)
	}
	// Allocations. Nobody reads ta meanwhile (AllocsPerRun counts every
	// goroutine's): what its full socket buffer cannot take is dropped.
	// The race detector makes sync.Pool drop items at random.
	if raceEnabled {
		t.Log("allocation check skipped under -race")
	} else {
		checkNoAllocs(t, "SendBatch", func() { tb.SendBatch(ps) })
		checkNoAllocs(t, "Send", func() { tb.Send(mag, ps[0].Data) })
	}
	tb.Close()
	if _, err := tb.SendBatch(ps); err != ErrClosed {
		t.Fatalf("SendBatch after Close: %v", err)
	}
}

func checkNoAllocs(t *testing.T, what string, f func()) {
	t.Helper()
	if allocs := testing.AllocsPerRun(200, f); allocs > 0 {
		t.Errorf("%s allocates %.1f times per call, want 0", what, allocs)
	}
}

// TestRawDrops: packets the kernel drops because the receive queue is
// full are counted (SO_RXQ_OVFL), exactly: sent = received + Drops.
func TestRawDrops(t *testing.T) {
	mag, lma := netip.MustParseAddr("2001:db8:79::1"), netip.MustParseAddr("2001:db8:79::2")
	nsA, nsB := netnsPair(t, mag, lma)
	var ta, tb *Raw
	var err error
	// A tiny receive buffer (the kernel raises it to its minimum).
	inNetns(t, nsA, func() { ta, err = ListenRaw(mag, RawOptions{ReadBuffer: 1}) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ta.Close() })
	inNetns(t, nsB, func() { tb, err = ListenRaw(lma, RawOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	pba := &mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagP, Sequence: 1}
	pba.Options = mh.Options{mh.NewNAI("mn@example")}
	b, _ := pba.Marshal()
	const burst = 200
	ps := make([]Packet, burst)
	for i := range ps {
		ps[i] = Packet{Dst: mag, Data: b}
	}
	if n, err := tb.SendBatch(ps); err != nil || n != burst {
		t.Fatalf("SendBatch = %d, %v", n, err)
	}
	counts := make(chan int, 16)
	go func() {
		rx := make([]Packet, 64)
		for {
			n, err := ta.Receive(rx)
			if err != nil {
				return
			}
			counts <- n
		}
	}()
	received := 0
	quiet := func() { // read until nothing comes for 200 ms
		for {
			select {
			case n := <-counts:
				received += n
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}
	quiet()
	if received >= burst {
		t.Fatalf("all %d packets fitted in the receive buffer: nothing dropped", burst)
	}
	// One more, now that the queue has room: it carries the count.
	if err := tb.Send(mag, b); err != nil {
		t.Fatal(err)
	}
	quiet()
	if received < 2 {
		t.Fatalf("received %d", received)
	}
	if got, want := ta.Drops(), uint64(burst+1-received); got != want {
		t.Fatalf("Drops() = %d, want %d (sent %d, received %d)", got, want, burst+1, received)
	}
	t.Logf("%d sent, %d received, %d counted as dropped", burst+1, received, ta.Drops())
}
