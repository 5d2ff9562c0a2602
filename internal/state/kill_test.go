package state

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mh"
)

const killChildEnv = "PMIPDMM_STATE_KILL_CHILD"

// registrar drives registrations against an LMA on an in-memory network:
// workers MAGs, each registering its own MNs one after the other (a PBU,
// then its PBA). ack is called for each accepted PBA.
func registrar(ctx context.Context, net *transport.Network, workers, perWorker int, ack func(mn string, p netip.Prefix)) error {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		mag := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 14: byte(w >> 8), 15: byte(w) + 0x10})
		node, err := net.Attach(mag)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer node.Close()
			ps := make([]transport.Packet, 1)
			for i := 0; i < perWorker && ctx.Err() == nil; i++ {
				mn := fmt.Sprintf("w%03d-mn%06d@example", w, i)
				bu := &mh.BindingUpdate{Sequence: 1, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 0xffff}
				bu.Options = mh.Options{&mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()}, mh.NewNAI(mn),
					&mh.HandoffIndicator{Value: mh.HIAttachNewInterface}, &mh.AccessTechnologyType{Value: 4}}
				b, _ := bu.Marshal()
				if err := node.Send(lmaAddr, b); err != nil {
					errs <- err
					return
				}
				if _, err := node.Receive(ps); err != nil {
					errs <- err
					return
				}
				ba, err := mh.ParseBindingAck(ps[0].Data)
				if err != nil || ba.Status != mh.StatusAccepted {
					errs <- fmt.Errorf("%s: %v %v", mn, err, ba)
					return
				}
				h, _ := mh.Find[*mh.HomeNetworkPrefix](ba.Options)
				ack(mn, h.AsPrefix())
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// startBenchLMA runs an LMA with the real clock on db (nil: no store).
func startBenchLMA(t testing.TB, net *transport.Network, db *DB) (*lma.LMA, func()) {
	tr, err := net.Attach(lmaAddr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := lma.Config{Address: lmaAddr, Pools: []netip.Prefix{pfx("2001:db8:100::/40")}, DefaultMN: &lma.MNPolicy{},
		HeartbeatInterval: -1, Transport: tr, DataPlane: dataplane.NewFake()}
	if db != nil {
		cfg.Store = db.LMA()
	}
	l, err := lma.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return l, func() { cancel(); tr.Close(); <-done }
}

// TestKillDuringRegistrations runs an LMA in a child process (this test
// binary again) that registers MNs and prints each acknowledged one, kills
// it with SIGKILL in the middle, and checks that the file holds every MN
// the child saw acknowledged, with its prefix.
func TestKillDuringRegistrations(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(t, path)
		return
	}
	path := t.TempDir() + "/kill.db"
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringRegistrations$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]netip.Prefix{}
	sc := bufio.NewScanner(out)
	killed := false
	deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ACK" {
			continue
		}
		acked[f[1]] = netip.MustParsePrefix(f[2])
		if len(acked) == 500 && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	// Lines written before the kill are still read (the pipe holds them).
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("child ended before 500 acknowledgements (%d): %v", len(acked), werr)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.LMA().LoadLMA()
	if err != nil {
		t.Fatal(err)
	}
	byMN := map[string]lma.StoredBinding{}
	for _, b := range st.Bindings {
		byMN[b.MN] = b
	}
	for mn, p := range acked {
		b, ok := byMN[mn]
		if !ok {
			t.Fatalf("%s acknowledged with %v, not in the file", mn, p)
		}
		if len(b.HNPs) != 1 || b.HNPs[0] != p || len(b.Allocated) != 1 || st.Allocations[p] != mn {
			t.Fatalf("%s: stored %+v, allocation %q, acknowledged %v", mn, b, st.Allocations[p], p)
		}
	}
	if st.Lost != 0 || !st.Resumable {
		t.Fatalf("lost %d, resumable %v", st.Lost, st.Resumable)
	}
	t.Logf("killed after %d acknowledgements; %d bindings in the file (committed, acknowledgement not yet seen: %d)",
		len(acked), len(st.Bindings), len(st.Bindings)-len(acked))
	// And an LMA starts on it with all of them.
	net := transport.NewNetwork()
	l, stop := startBenchLMA(t, net, db)
	defer stop()
	if ls := l.Loaded(); ls.Restored != len(st.Bindings) || ls.CounterBumped {
		t.Fatalf("restart after the kill: %+v", ls)
	}
}

func killChild(t *testing.T, path string) {
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	net := transport.NewNetwork()
	_, stop := startBenchLMA(t, net, db)
	defer stop()
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	err = registrar(context.Background(), net, 16, 1<<20, func(mn string, p netip.Prefix) {
		mu.Lock()
		fmt.Fprintf(w, "ACK %s %s\n", mn, p)
		w.Flush() // each line reaches the parent before the next PBU
		mu.Unlock()
	})
	t.Fatalf("registrations ended: %v", err)
}

// BenchmarkRegistrations measures initial registrations per second
// through the LMA with MAGs in parallel, each waiting for its PBA before
// the next PBU: without a store, and with the bbolt store (fsync before
// each PBA; with one MAG every registration waits for its own fsync, with
// 32 the group commit shares them).
func BenchmarkRegistrations(b *testing.B) {
	for _, c := range []struct {
		mode    string
		workers int
	}{{"none", 32}, {"bbolt", 32}, {"bbolt", 1}} {
		mode, workers := c.mode, c.workers
		b.Run(fmt.Sprintf("store=%s/mags=%d", mode, workers), func(b *testing.B) {
			var db *DB
			if mode == "bbolt" {
				var err error
				db, err = Open(b.TempDir()+"/bench.db", Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
			}
			net := transport.NewNetwork()
			_, stop := startBenchLMA(b, net, db)
			defer stop()
			var n atomic.Int64
			b.ResetTimer()
			start := time.Now()
			if err := registrar(context.Background(), net, workers, (b.N+workers-1)/workers, func(string, netip.Prefix) { n.Add(1) }); err != nil {
				b.Fatal(err)
			}
			el := time.Since(start)
			b.ReportMetric(float64(n.Load())/el.Seconds(), "reg/s")
			if db != nil {
				st := db.Stats()
				b.ReportMetric(float64(st.Writes)/float64(max(st.Commits, 1)), "writes/commit")
			}
		})
	}
}
