package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDMMRestartMR kills an MR (pmipd, kill -9) while a mobile node is
// attached to it and correspondents send it traffic, and restarts it on
// the same state directory. On the draft's Figure 1 topology: MN1 at
// MR12 (its anchor), MN2 at MR31 sending to MN1 (MR31 tunnels straight
// to MR12, Figure 3).
//
//   - While MR12 is down, the kernel keeps forwarding: its routes (the
//     access route to MN1, the tunnel end) stay, only the daemon is gone.
//   - The restarted MR12 has MN1 back, attached with its prefix, its
//     kernel state matches what it wants (pmipctl dataplane: nothing
//     missing, nothing unexpected), MN1 keeps its address and MN2's
//     traffic still arrives.
//   - The restored node can leave: MN1 moves to MR11, whose HI the
//     restarted MR12 answers with the context (HAck), and MN2 reaches
//     MN1 at MR11.
func TestDMMRestartMR(t *testing.T) {
	tp := newDMMTopo(t, dmmOptions{})
	mn1 := tp.mnAddr(t, "mn1", dmmPool["mr12"], 20*time.Second)
	mn2 := tp.mnAddr(t, "mn2", dmmPool["mr31"], 20*time.Second)
	t.Logf("MN1 %v at MR12 (its anchor), MN2 %v at MR31", mn1, mn2)
	if st := tp.stream(t, "mn2", "mn1", mn1, 6201, 200, time.Second, nil); st.Received < st.Sent*95/100 {
		t.Fatalf("before the kill: received %d of %d: %+v", st.Received, st.Sent, st)
	}

	// kill -9 MR12 in the middle of a stream MN2 -> MN1.
	var killed time.Time
	st := tp.stream(t, "mn2", "mn1", mn1, 6202, 200, 2*time.Second, func() {
		time.Sleep(300 * time.Millisecond)
		if err := tp.d["mr12"].cmd.Process.Kill(); err != nil {
			t.Errorf("kill -9 MR12: %v", err)
		}
		killed = time.Now()
	})
	select {
	case <-tp.d["mr12"].exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the killed MR12 did not exit")
	}
	t.Logf("stream MN2 -> MN1 across the kill (MR12 down from +300 ms on): sent %d received %d lost %d", st.Sent, st.Received, st.Lost)
	if st.Received < st.Sent*95/100 {
		t.Errorf("the kernel did not keep forwarding to MN1 while MR12 was down: received %d of %d", st.Received, st.Sent)
	}
	if out := tp.ns["mr12"].IP("-6", "route", "show", "dev", "mn1"); !strings.Contains(out, "2001:db8:12:") {
		t.Errorf("MR12's access route to MN1 is gone with the daemon:\n%s", out)
	}

	// Restart on the same configuration and state directory.
	d := tp.d["mr12"]
	if err := os.Rename(d.log, filepath.Join(tp.dir, "mr12-killed.log")); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	tp.d["mr12"] = startDaemon(t, tp.ns["mr12"], tp.pmipd, "mr12", filepath.Join(tp.dir, "dmm-mr12.yaml"), tp.dir)
	loaded := regexp.MustCompile(`MR state restored[^\n]*`).FindString(tp.d["mr12"].logText())
	t.Logf("MR12 restarted %v after the kill, in %v: %s", t0.Sub(killed).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), loaded)
	if !strings.Contains(loaded, "restored=1") || !strings.Contains(loaded, "lost=0") {
		t.Errorf("MR12 did not restore MN1: %q", loaded)
	}
	var dp struct {
		Compared   bool  `json:"compared"`
		Entries    []any `json:"entries"`
		Missing    []any `json:"missing"`
		Unexpected []any `json:"unexpected"`
	}
	tp.d["mr12"].get(t, "/v1/dataplane", &dp)
	if !dp.Compared || len(dp.Entries) == 0 || len(dp.Missing) != 0 || len(dp.Unexpected) != 0 {
		t.Errorf("MR12's data plane after the restart: %+v", dp)
	}
	if got, out := addrFlags(tp.ns["mn1"]); len(got) != 1 || got[mn1] {
		t.Errorf("MN1's addresses after MR12's restart (want %v only, preferred):\n%s", mn1, out)
	}
	if st := tp.stream(t, "mn2", "mn1", mn1, 6203, 200, time.Second, nil); st.Received < st.Sent*95/100 {
		t.Errorf("after the restart: received %d of %d", st.Received, st.Sent)
	}

	// The restored node leaves: context transfer from the restarted MR12.
	time.Sleep(1100 * time.Millisecond) // the LM orders updates by time
	tp.moveMN(t, "mn1", "mr12", "mr11")
	waitFor(t, 10*time.Second, "MR11 to serve MN1 and the context transfer with MR12", func() (bool, string) {
		c11, c12 := tp.d["mr11"].counters(t), tp.d["mr12"].counters(t)
		return c11["mr/Moves"] >= 1 && c11["mr/HandoversIn"] >= 1 && c12["mr/HandoversOut"] >= 1,
			fmt.Sprintf("MR11 moves %d handovers in %d, MR12 handovers out %d", c11["mr/Moves"], c11["mr/HandoversIn"], c12["mr/HandoversOut"])
	})
	if n, out := ping(t, tp.ns["mn2"], mn1, 3); n < 2 {
		t.Errorf("MN2 -> MN1 at MR11 after the move from the restarted MR12: %d replies\n%s", n, out)
	}
	c := tp.d["mr12"].counters(t)
	t.Logf("restarted MR12: handovers out %d, Redirects sent %d (MR31 is redirected when MR12 knows it as a correspondent; else MR12, MN1's anchor, forwards to MR11)",
		c["mr/HandoversOut"], c["mr/RedirectsSent"])
}
