package bench

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/lma"
)

var (
	testLMA = netip.MustParseAddr("2001:db8:b::1")
	testMAG = func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:db8:b::%x", 0x100+i)) }
)

// inProcLMA runs the project's LMA on an in-memory network with a fake
// data plane and returns the network and the LMA.
func inProcLMA(t testing.TB, mut func(*lma.Config)) (*transport.Network, *lma.LMA) {
	t.Helper()
	n := transport.NewNetwork()
	tr, err := n.Attach(testLMA)
	if err != nil {
		t.Fatal(err)
	}
	cfg := lma.Config{
		Address:                     testLMA,
		Pools:                       []netip.Prefix{netip.MustParsePrefix("2001:db8:1000::/36")},
		DefaultMN:                   &lma.MNPolicy{},
		TimestampBasedApproachInUse: true,
		HeartbeatInterval:           -1,
		Transport:                   tr,
		DataPlane:                   dataplane.NewFake(),
	}
	if mut != nil {
		mut(&cfg)
	}
	l, err := lma.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		tr.Close()
		if err := <-done; err != nil {
			t.Errorf("LMA Run: %v", err)
		}
	})
	// Wait until it runs.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := l.Counters(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("LMA not running")
		}
		time.Sleep(time.Millisecond)
	}
	return n, l
}

// magTransports attaches n MAG nodes to the network.
func magTransports(t testing.TB, n *transport.Network, count int) []transport.Transport {
	t.Helper()
	var out []transport.Transport
	for i := 0; i < count; i++ {
		m, err := n.Attach(testMAG(i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		out = append(out, m)
	}
	return out
}
