package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// TestMRManagementAPI: the daemon running an MR serves its state on the
// management socket (GET /v1/mr/...): a node a legacy MAG registers, then,
// once the MAG de-registers it, the node as departed with its prefix held.
func TestMRManagementAPI(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "mr.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(dmmTestConfig, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	mrAddr, magAddr := netip.MustParseAddr("2001:db8:ff::21"), netip.MustParseAddr("2001:db8:ff::a1")
	netw, _, _ := fakeMRDeps(t)

	var logs syncBuf
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- run([]string{"-c", cfgPath}, io.Discard, &logs, stop) }()
	defer func() {
		close(stop)
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d", code)
			}
		case <-time.After(5 * time.Second):
			t.Error("run did not return after stop")
		}
	}()
	cl := mgmt.NewClient(filepath.Join(dir, "pmipd.sock"))
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := cl.Status(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("management socket never answered: %v\n%s", err, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ns, err := cl.MRNodes(ctx); err != nil || len(ns) != 0 {
		t.Fatalf("nodes before any registration: %+v %v", ns, err)
	}

	mag, err := netw.Attach(magAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer mag.Close()
	acks := make(chan *mh.BindingAck, 4)
	go func() {
		ps := make([]transport.Packet, 1)
		for {
			if _, err := mag.Receive(ps); err != nil {
				return
			}
			if m, err := mh.Parse(ps[0].Data); err == nil {
				if ba, ok := m.(*mh.BindingAck); ok {
					acks <- ba
				}
			}
		}
	}()
	pbu := func(seq, life uint16, hnp netip.Prefix) *mh.BindingAck {
		t.Helper()
		h := &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}
		if hnp.IsValid() {
			h = mh.NewHNP(hnp)
		}
		bu := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: life}
		bu.Options = mh.Options{h, mh.NewNAI("mn1@example.net"), &mh.HandoffIndicator{Value: mh.HIAttachNewInterface},
			&mh.AccessTechnologyType{Value: mh.ATT8023}, &mh.LinkLocalAddress{Address: netip.IPv6Unspecified()}}
		b, _ := bu.Marshal()
		if err := mag.Send(mrAddr, b); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case ba := <-acks:
				if ba.Sequence == seq {
					return ba
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no PBA %d\n%s", seq, logs.String())
			}
		}
	}
	ba := pbu(1, 900, netip.Prefix{})
	opt, ok := mh.Find[*mh.HomeNetworkPrefix](ba.Options)
	if ba.Status != mh.StatusAccepted || !ok {
		t.Fatalf("PBA: status %d, options %v", ba.Status, ba.Options)
	}
	hnp := netip.PrefixFrom(opt.Prefix, int(opt.PrefixLength))
	granted := int64(ba.Lifetime) * 4 // seconds (3600: 900 units asked, mr.lifetime 1 h)
	if granted != 3600 {
		t.Errorf("PBA lifetime %d s", granted)
	}

	ns, err := cl.MRNodes(ctx)
	if err != nil || len(ns) != 1 {
		t.Fatalf("nodes: %+v %v", ns, err)
	}
	n := ns[0]
	if n.MN != "mn1@example.net" || !n.Attached || n.MAG != magAddr || n.Link != "" || n.Moved || n.PreviousMR.IsValid() ||
		len(n.Prefixes) != 1 || n.Prefixes[0] != (mgmt.MRPrefix{Prefix: hnp, AnchorMR: mrAddr}) ||
		!netip.MustParsePrefix("2001:db8:21::/48").Contains(hnp.Addr()) ||
		n.Remaining < granted-5 || n.Remaining > granted || n.Expires == nil {
		t.Errorf("node: %+v", n)
	}
	if ls, err := cl.MRLocations(ctx); err != nil || len(ls.Locations) != 0 || len(ls.Correspondents) != 0 {
		t.Errorf("locations: %+v %v", ls, err)
	}
	if ds, err := cl.MRDepartures(ctx); err != nil || len(ds.Departures) != 0 || len(ds.Held) != 0 {
		t.Errorf("departures before the de-registration: %+v %v", ds, err)
	}

	if ba := pbu(2, 0, hnp); ba.Status != mh.StatusAccepted {
		t.Fatalf("de-registration: %d", ba.Status)
	}
	if ns, err := cl.MRNodes(ctx); err != nil || len(ns) != 0 {
		t.Errorf("nodes after the de-registration: %+v %v", ns, err)
	}
	ds, err := cl.MRDepartures(ctx)
	if err != nil || len(ds.Departures) != 1 || len(ds.Held) != 1 || ds.Held[0] != hnp {
		t.Fatalf("departures: %+v %v", ds, err)
	}
	if d := ds.Departures[0]; d.MN != "mn1@example.net" || len(d.Prefixes) != 1 || d.Prefixes[0] != hnp ||
		d.NewMR.IsValid() || !d.Holding || len(d.Forwarding) != 0 {
		t.Errorf("departed node: %+v", d)
	}
}
