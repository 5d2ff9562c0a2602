package mr

import (
	"fmt"
	"maps"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Counters are the MR's counters.
type Counters struct {
	// Rx and Tx count messages by name ("Binding Update", "Redirect", ...).
	Rx, Tx map[string]uint64
	// StatusRx and StatusTx count answers by "<message> <status>" (e.g.
	// "PBA 0", "HAck 5", "Redirect Ack 133").
	StatusRx, StatusTx map[string]uint64
	// Dropped counts received messages dropped, by reason.
	Dropped map[string]uint64

	Attaches, Moves, Detaches    uint64 // nodes attached here (initially / after a move), left
	HandoversIn, HandoversOut    uint64 // context transfers done as new / previous MR
	HIRetransmits, HITimeouts    uint64
	Misses, Queries, QueryErrors uint64 // punt misses, LM queries, failed or empty queries
	LMUpdates, LMErrors          uint64
	HAAErrors                    uint64
	RedirectsSent                uint64
	RedirectRetransmits          uint64
	RedirectsApplied             uint64
	RedirectsRefused             uint64
	ForwardingStarted            uint64 // temporary forwarding to a new MR
	ForwardingEnded              uint64
	Holds, Releases, Drops       uint64 // punt operations
	Released, DroppedPackets     uint64 // packets re-injected / discarded by them
	PuntErrors, DataPlaneErrors  uint64
	RAs, RAErrors                uint64
	Ingress                      uint64
	// HeldSources: source prefixes of held packets reported by the punt
	// path; SourceQueries: LM queries they caused (the previous MR
	// looking for the correspondents' MRs to redirect).
	HeldSources, SourceQueries uint64
	// StoreErrors: state store writes that failed (their answers withheld).
	StoreErrors uint64
}

func (c *Counters) init() {
	c.Rx, c.Tx = map[string]uint64{}, map[string]uint64{}
	c.StatusRx, c.StatusTx = map[string]uint64{}, map[string]uint64{}
	c.Dropped = map[string]uint64{}
}

func (c *Counters) clone() Counters {
	out := *c
	out.Rx, out.Tx = maps.Clone(c.Rx), maps.Clone(c.Tx)
	out.StatusRx, out.StatusTx = maps.Clone(c.StatusRx), maps.Clone(c.StatusTx)
	out.Dropped = maps.Clone(c.Dropped)
	return out
}

// msgName names a message (the DMM messages by their own name).
func msgName(m mh.Message) string {
	if n, ok := m.(interface{ Name() string }); ok {
		return n.Name()
	}
	return m.MHType().String()
}

func statusKey(m mh.Message) (string, bool) {
	switch x := m.(type) {
	case *mh.BindingAck:
		return fmt.Sprintf("PBA %d", uint8(x.Status)), true
	case *mh.HandoverAck:
		return fmt.Sprintf("HAck %d", uint8(x.Code)), true
	case *mh.RedirectAck:
		return fmt.Sprintf("Redirect Ack %d", uint8(x.Status)), true
	}
	return "", false
}

func (c *Counters) rx(m mh.Message) {
	c.Rx[msgName(m)]++
	if k, ok := statusKey(m); ok {
		c.StatusRx[k]++
	}
}

func (c *Counters) tx(m mh.Message) {
	c.Tx[msgName(m)]++
	if k, ok := statusKey(m); ok {
		c.StatusTx[k]++
	}
}

func (c *Counters) drop(reason string) { c.Dropped[reason]++ }
