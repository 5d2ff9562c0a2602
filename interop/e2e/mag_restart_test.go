package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestMAGRestart kills MAG1 (pmipd, kill -9) while the MN is registered
// through it, and restarts it on the same state directory. While MAG1 is
// down the kernel keeps the MN's traffic in the tunnel (its routes and
// rules stay); the restarted MAG1 restores its Binding Update List, finds
// the MN still on its link, re-registers it (same HNP: the MN keeps its
// address) and its data plane matches what it wants.
func TestMAGRestart(t *testing.T) {
	tp := newTopo(t)
	mnAddr, hnp := tp.attach(t)
	tp.pingBoth(t, mnAddr)
	before := tp.lmaD.binding(t, mnID)

	if err := tp.mag1D.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tp.mag1D.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the killed MAG1 did not exit")
	}
	// Headless: the kernel state MAG1 installed still carries the MN's
	// traffic both ways.
	if n, out := ping(t, tp.mn, cnAddr, 3); n < 2 {
		t.Errorf("MN -> CN while MAG1 is down: %d/3\n%s", n, out)
	}
	if n, out := ping(t, tp.cn, mnAddr, 3); n < 2 {
		t.Errorf("CN -> MN while MAG1 is down: %d/3\n%s", n, out)
	}

	if err := os.Rename(tp.mag1D.log, filepath.Join(tp.dir, "mag1-killed.log")); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	tp.mag1D = startDaemon(t, tp.mag1, tp.pmipd, "mag1", filepath.Join(tp.dir, "e2e-mag1.yaml"), tp.dir)
	t.Logf("MAG1 restarted in %v: %s", time.Since(t0).Round(time.Millisecond),
		regexp.MustCompile(`Binding Update List restored[^\n]*`).FindString(tp.mag1D.logText()))
	waitFor(t, 15*time.Second, "MAG1 to have the MN registered again", func() (bool, string) {
		bul := tp.mag1D.bul(t)
		return len(bul) == 1 && bul[0].MNID == mnID && bul[0].State == "registered" && len(bul[0].HNPs) == 1 && bul[0].HNPs[0] == hnp,
			tail(tp.mag1D.log, 5)
	})
	t.Logf("MN registered again %v after MAG1's restart", time.Since(t0).Round(time.Millisecond))
	after := tp.lmaD.binding(t, mnID)
	if after == nil || len(after.HNPs) != 1 || after.HNPs[0] != hnp || after.ProxyCoA != mag1Addr || after.State != "active" {
		t.Fatalf("LMA binding after MAG1's restart: %+v (before %+v)", after, before)
	}
	var dp struct {
		Compared   bool  `json:"compared"`
		Entries    []any `json:"entries"`
		Missing    []any `json:"missing"`
		Unexpected []any `json:"unexpected"`
	}
	tp.mag1D.get(t, "/v1/dataplane", &dp)
	if !dp.Compared || len(dp.Entries) == 0 || len(dp.Missing) != 0 || len(dp.Unexpected) != 0 {
		t.Errorf("MAG1's data plane after the restart: %+v", dp)
	}
	if got := globalAddrs(tp.mn, "eth0"); len(got) != 1 || got[0].Addr() != mnAddr {
		t.Errorf("MN's addresses after MAG1's restart: %v, want %v only", got, mnAddr)
	}
	tp.pingBoth(t, mnAddr)
}
