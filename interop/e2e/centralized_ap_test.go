package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/pmipdmm/pmipdmm/mh"
)

// TestCentralizedHandoverAP is the RFC 5213 handover MAG1 -> MAG2 with the
// MN behind an access point whose port to MAG1 goes down and port to MAG2
// up (the MN's link stays up; MAG2 learns the MN from its first frame),
// under a UDP stream each way, with the bounds and checks of the
// namespace-move handover of TestCentralized. MAG2 sees a node appear on
// a link that did not move: it sends HI 1, and the LMA keeps the session
// (same MN-ID, access technology and MN link-layer identifier: RFC 5213
// §5.4.1), so the MN keeps its prefix. RFC 5213 has no buffering: what the
// LMA sends to MAG1 until MAG2's PBU is accepted is lost (a few packets at
// 500/s, logged).
func TestCentralizedHandoverAP(t *testing.T) {
	tp := newTopoLinked(t, true)
	mnAddr, hnp := tp.attach(t)
	tp.handoverBy(t, mnAddr, hnp, mh.HIAttachNewInterface, func() {
		cmd := exec.Command("ip", "-n", tp.ap.Name, "-batch", "-")
		cmd.Stdin = strings.NewReader("link set tomag1 down\nlink set tomag2 up\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("AP switch: %v\n%s", err, out)
		}
	})
}
