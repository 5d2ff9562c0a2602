package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pmipdmm/pmipdmm/mh"
)

// TestLMARestart restarts the LMA of the centralized topology three times
// with its state file (node.state_dir/state.db, internal/state):
//
//  1. kill -9 in the middle of a burst of registrations (crafted PBUs for
//     other MN-IDs from the probe): every binding whose PBA was seen is
//     restored with its prefix, the MN keeps its prefix and address and
//     still reaches the CN, and the kernel holds exactly the restored
//     bindings' routes (the run's unacknowledged ones are reconciled
//     away, none is doubled);
//  2. SIGTERM and start: the same bindings, their routes back;
//  3. SIGTERM, one binding record made unreadable, start: state was lost.
//
// The RFC 5847 Restart Counter (§3.2: incremented when the node "loses
// PMIPv6 session state", not when it recovers without losing it; lma.Store
// documents it) stays 1 after 1 and 2, whether the LMA was killed or
// stopped, and becomes 2 after 3: MAG1 learns it from the LMA's
// unsolicited Heartbeat Response, counts the restart and registers its MN
// again only then.
func TestLMARestart(t *testing.T) {
	start := time.Now()
	tp := newTopo(t)
	mnAddr, hnp := tp.attach(t)
	probe := openProbe(t, tp.probe, probeAddr)

	// 1. kill -9 during a burst.
	acked := tp.burstAndKill(t, probe, 40)
	tp.restartLMA(t, "killed")
	restored := tp.checkRestored(t, mnAddr, hnp)
	for mn, p := range acked {
		if restored[mn] != p {
			t.Errorf("%s: PBA with %v seen before the kill, binding after the restart: %v", mn, p, restored[mn])
		}
	}
	t.Logf("after kill -9: %d bindings acknowledged, %d restored (the others were written but not yet acknowledged)", len(acked), len(restored)-1)
	tp.checkCounter(t, 1, 0)

	// 2. Graceful restart.
	if err := tp.lmaD.stop(t); err != nil {
		t.Fatalf("LMA exit: %v", err)
	}
	if out := tp.lma.IP("-6", "route", "show", "proto", "180"); strings.TrimSpace(out) != "" {
		t.Errorf("routes left after SIGTERM:\n%s", out)
	}
	tp.restartLMA(t, "stopped")
	if again := tp.checkRestored(t, mnAddr, hnp); !mapsEqual(again, restored) {
		t.Errorf("bindings after the graceful restart differ:\n got %v\nwant %v", again, restored)
	}
	tp.checkCounter(t, 1, 0)

	// 3. State lost: a record the LMA cannot read.
	if err := tp.lmaD.stop(t); err != nil {
		t.Fatalf("LMA exit: %v", err)
	}
	corruptBinding(t, filepath.Join(tp.dir, "lma", "state.db"))
	mag1Log := len(tp.mag1D.logText())
	tp.restartLMA(t, "lost")
	if !regexp.MustCompile(`LMA state loaded.*counter_bumped=true.*lost=1.*restart_counter=2`).MatchString(tp.lmaD.logText()) {
		t.Errorf("LMA did not log the lost record and the bumped counter:\n%s", tail(tp.lmaD.log, 30))
	}
	tp.checkCounter(t, 2, 1)
	if !strings.Contains(tp.mag1D.logText()[mag1Log:], "LMA restarted (restart counter changed)") {
		t.Errorf("MAG1 did not log the LMA's restart:\n%s", tail(tp.mag1D.log, 20))
	}
	// MAG1 registers mn1 again (a refresh of the restored binding).
	// Its PBU at attach had sequence number 1.
	waitFor(t, 5*time.Second, "MAG1's re-registration of mn1", func() (bool, string) {
		var bs struct {
			Bindings []struct {
				MN       string         `json:"mn"`
				HNPs     []netip.Prefix `json:"hnps"`
				Sequence uint16         `json:"sequence"`
			} `json:"bindings"`
		}
		tp.lmaD.get(t, "/v1/bindings", &bs)
		for _, b := range bs.Bindings {
			if b.MN == mnID {
				return b.Sequence > 1 && slices.Equal(b.HNPs, []netip.Prefix{hnp}), fmt.Sprintf("%+v", b)
			}
		}
		return false, "no binding of " + mnID
	})
	if again := tp.checkRestored(t, mnAddr, hnp); !mapsEqual(again, restored) {
		t.Errorf("bindings after the restart with a lost record differ:\n got %v\nwant %v", again, restored)
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

func mapsEqual(a, b map[string]netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// burstAndKill sends PBUs for burst-NNN@example.net from the probe, one
// four every 2 ms without waiting for the answers, kills the LMA (SIGKILL)
// once killAfter PBAs came back and goes on sending for 100 ms. It
// returns the accepted registrations seen (MN -> HNP).
func (tp *topo) burstAndKill(t *testing.T, p *probeSock, killAfter int) map[string]netip.Prefix {
	t.Helper()
	var mu sync.Mutex
	acked := map[string]netip.Prefix{}
	bySeq := map[uint16]string{}
	stop := make(chan struct{})
	rxDone := make(chan struct{})
	go func() {
		defer close(rxDone)
		for {
			select {
			case raw := <-p.rx:
				m, err := mh.Parse(raw)
				if err != nil {
					continue
				}
				ba, ok := m.(*mh.BindingAck)
				if !ok || ba.Status != mh.StatusAccepted {
					continue
				}
				h, _ := mh.Find[*mh.HomeNetworkPrefix](ba.Options)
				mu.Lock()
				if mn, ok := bySeq[ba.Sequence]; ok && h != nil {
					acked[mn] = netip.PrefixFrom(h.Prefix, int(h.PrefixLength))
				}
				mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
	var killedAt time.Time
	sent := 0
	for i := range 2000 {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if killedAt.IsZero() && n >= killAfter {
			if err := tp.lmaD.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killedAt = time.Now()
		}
		if !killedAt.IsZero() && time.Since(killedAt) > 100*time.Millisecond {
			break
		}
		seq, mn := uint16(i+1), fmt.Sprintf("burst-%03d@example.net", i)
		mu.Lock()
		bySeq[seq] = mn
		mu.Unlock()
		bu := &mh.BindingUpdate{Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagP, Lifetime: 100}
		bu.Options = mh.Options{mh.NewNAI(mn), &mh.HomeNetworkPrefix{Prefix: netip.IPv6Unspecified()},
			&mh.HandoffIndicator{Value: mh.HIAttachNewInterface}, &mh.AccessTechnologyType{Value: mh.ATT8023},
			&mh.Timestamp{Value: mh.TimestampValue(time.Now())}}
		b, err := bu.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p.send(t, b)
		sent++
		if i%4 == 3 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if killedAt.IsZero() {
		t.Fatalf("only %d of %d PBUs acknowledged: the LMA was not killed", len(acked), sent)
	}
	select {
	case <-tp.lmaD.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the killed LMA did not exit")
	}
	close(stop)
	<-rxDone
	t.Logf("burst: %d PBUs sent, %d acknowledged; LMA killed after %d acknowledgements", sent, len(acked), killAfter)
	if len(acked) < killAfter {
		t.Fatalf("%d acknowledged", len(acked))
	}
	return acked
}

// restartLMA starts the LMA again with the same configuration (the
// previous run's log kept as lma-<why>.log).
func (tp *topo) restartLMA(t *testing.T, why string) {
	t.Helper()
	<-tp.lmaD.exited
	if err := os.Rename(tp.lmaD.log, filepath.Join(tp.dir, "lma-"+why+".log")); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	tp.lmaD = startDaemon(t, tp.lma, tp.pmipd, "lma", tp.lmaCfg, tp.dir)
	t.Logf("LMA restarted (%s) in %v: %s", why, time.Since(t0).Round(time.Millisecond),
		regexp.MustCompile(`LMA state loaded[^\n]*`).FindString(tp.lmaD.logText()))
}

// checkRestored checks the restarted LMA: mn1's binding via MAG1 with
// its HNP, the kernel's tagged routes exactly one per binding (pmipctl
// dataplane finds nothing missing nor unexpected), and the MN keeping
// its address and reaching the CN. It returns the bindings (MN -> HNP).
func (tp *topo) checkRestored(t *testing.T, mnAddr netip.Addr, hnp netip.Prefix) map[string]netip.Prefix {
	t.Helper()
	got := map[string]netip.Prefix{}
	var bs struct {
		Bindings []json.RawMessage `json:"bindings"`
	}
	tp.pmipctlJSON(t, tp.lmaD, &bs, "bindings")
	for _, raw := range bs.Bindings {
		var b binding // the fields the tests read
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		if len(b.HNPs) != 1 || b.State != "active" {
			t.Errorf("restored binding %+v: want one HNP, active", b)
			continue
		}
		want := probeAddr
		if b.MN == mnID {
			want = mag1Addr
		}
		if b.ProxyCoA != want {
			t.Errorf("restored binding %+v: Proxy-CoA %v, want %v", b, b.ProxyCoA, want)
		}
		if _, dup := got[b.MN]; dup {
			t.Errorf("two bindings of %s", b.MN)
		}
		got[b.MN] = b.HNPs[0]
	}
	if got[mnID] != hnp {
		t.Fatalf("mn1's binding after the restart: %v, want %v", got[mnID], hnp)
	}
	// The kernel: one tagged route per binding, nothing else.
	routes := map[netip.Prefix]int{}
	for _, line := range strings.Split(strings.TrimSpace(tp.lma.IP("-6", "route", "show", "proto", "180")), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			p, err := netip.ParsePrefix(f[0])
			if err != nil {
				t.Errorf("tagged route %q", line)
				continue
			}
			routes[p]++
		}
	}
	for mn, p := range got {
		if routes[p] != 1 {
			t.Errorf("%s's HNP %v: %d routes in the kernel, want 1", mn, p, routes[p])
		}
		delete(routes, p)
	}
	if len(routes) != 0 {
		t.Errorf("stale tagged routes in the LMA's kernel: %v", routes)
	}
	var dp struct {
		Driver     string `json:"driver"`
		Entries    []any  `json:"entries"`
		Compared   bool   `json:"compared"`
		Missing    []any  `json:"missing"`
		Unexpected []any  `json:"unexpected"`
	}
	tp.pmipctlJSON(t, tp.lmaD, &dp, "dataplane")
	if !dp.Compared || len(dp.Missing) != 0 || len(dp.Unexpected) != 0 {
		t.Errorf("pmipctl dataplane: %+v", dp)
	}
	// The MN kept its address and reaches the CN through the LMA.
	if !slices.ContainsFunc(globalAddrs(tp.mn, "eth0"), func(p netip.Prefix) bool { return p.Addr() == mnAddr }) {
		t.Errorf("MN lost its address %v: %s", mnAddr, tp.mn.IP("-6", "addr"))
	}
	if n, out := ping(t, tp.mn, cnAddr, 3); n < 3 {
		t.Errorf("MN -> CN after the restart: %d/3\n%s", n, out)
	}
	return got
}

// checkCounter checks the restarted LMA's Restart Counter (status), the
// one MAG1 learnt from its unsolicited Heartbeat Response (pmipctl
// peers) and how many LMA restarts MAG1 detected (peer_restarts).
func (tp *topo) checkCounter(t *testing.T, want uint32, restarts uint64) {
	t.Helper()
	var st struct {
		RestartCounter uint32 `json:"restart_counter"`
	}
	tp.lmaD.get(t, "/v1/status", &st)
	if st.RestartCounter != want {
		t.Errorf("LMA restart counter %d, want %d", st.RestartCounter, want)
	}
	waitFor(t, 3*time.Second, "MAG1 to learn the LMA's restart counter", func() (bool, string) {
		var peers struct {
			Peers []json.RawMessage `json:"peers"`
		}
		tp.pmipctlJSON(t, tp.mag1D, &peers, "peers")
		for _, raw := range peers.Peers {
			var p struct {
				Address        netip.Addr `json:"address"`
				RestartCounter *uint32    `json:"restart_counter"`
			}
			if json.Unmarshal(raw, &p) == nil && p.Address == lmaAddr && p.RestartCounter != nil && *p.RestartCounter == want {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s", peers.Peers)
	})
	var n uint64
	for _, c := range tp.mag1D.apiCounters(t) {
		if c.Role == "mag" && c.Name == "peer_restarts" {
			n = c.Value
		}
	}
	if n != restarts {
		t.Errorf("MAG1 detected %d LMA restarts, want %d", n, restarts)
	}
}

// corruptBinding adds a binding record the LMA cannot decode (unknown
// record version) to the stopped LMA's state file: at its next start it
// has lost state. The bucket name is internal/state's.
func corruptBinding(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("lma.bindings"))
		if b == nil {
			return fmt.Errorf("no lma.bindings bucket in %s", path)
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, 1<<62), []byte{0xff, 1, 2, 3})
	})
	if err != nil {
		t.Fatal(err)
	}
}
