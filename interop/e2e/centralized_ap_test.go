package e2e

import (
	"fmt"
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
// a link that did not move: it sends HI 1 (attachment over a new
// interface, its default) or, configured so, HI 4 (handoff state
// unknown: RFC 5213 §6.9.1.1 for a MAG that cannot tell). Either way the
// LMA keeps the session (same MN-ID, access technology and MN link-layer
// identifier: §5.4.1), so the MN keeps its prefix. RFC 5213 has no
// buffering: what the LMA sends to MAG1 until MAG2's PBU is accepted is
// lost (a few packets at 500/s, logged).
func TestCentralizedHandoverAP(t *testing.T) {
	for _, hi := range []mh.HandoffIndicatorValue{mh.HIAttachNewInterface, mh.HIHandoffStateUnknown} {
		t.Run(fmt.Sprintf("HI=%d", hi), func(t *testing.T) {
			tp := newTopoLinked(t, true, topoOptions{"mag2": {"      mn_id_from: mac       # profile by MAC",
				fmt.Sprintf("      mn_id_from: mac       # profile by MAC\n      attach_handoff_indicator: %d", hi)}})
			mnAddr, hnp := tp.attach(t)
			tp.handoverBy(t, mnAddr, hnp, hi, func() {
				cmd := exec.Command("ip", "-n", tp.ap.Name, "-batch", "-")
				cmd.Stdin = strings.NewReader("link set tomag1 down\nlink set tomag2 up\n")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("AP switch: %v\n%s", err, out)
				}
			})
		})
	}
}
