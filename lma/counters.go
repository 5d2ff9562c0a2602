package lma

import (
	"github.com/pmipdmm/pmipdmm/mh"
)

// Counters are the LMA's message counters.
type Counters struct {
	// Rx and Tx count messages by MH Type name ("Binding Update", ...).
	Rx, Tx map[string]uint64
	// PBA counts the PBAs (and BAs) sent by status code.
	PBA map[mh.Status]uint64
	// BRA counts the BRAs received by status.
	BRA map[mh.BRStatus]uint64
	// Dropped counts the received messages dropped, by reason. Under
	// overload: "receive queue full" (Config.ReceiveQueue) and, with a
	// transport that reports them (transport.Raw), "socket receive
	// queue full" (dropped by the kernel before they could be read).
	Dropped map[string]uint64
	// Ignored counts PBUs silently ignored (RFC 5213 §5.3.5 step 1,
	// §5.4.1 lifetime 0 without a session).
	Ignored uint64
	// Held counts PBUs held for a de-registration (HI=4), Superseded the
	// held PBUs replaced by a newer one before being answered.
	Held, Superseded uint64
	// PBUWithoutTimestamp counts PBUs processed by sequence number while
	// TimestampBasedApproachInUse is set.
	PBUWithoutTimestamp uint64
	// HeartbeatMissed counts heartbeat requests that went unanswered;
	// PeerDown and PeerRestart count the peer events detected.
	HeartbeatMissed, PeerDown, PeerRestart uint64
	// BRITimeouts counts revocations ended by running out of retries.
	BRITimeouts uint64
	// DataPlaneErrors counts data plane operations that failed.
	DataPlaneErrors uint64
	// StoreErrors counts state store writes that failed (Config.Store);
	// UnsolicitedHeartbeats the unsolicited Heartbeat Responses sent at
	// start (RFC 5847 §3.2).
	StoreErrors, UnsolicitedHeartbeats uint64
}

func (c *Counters) init() {
	c.Rx = map[string]uint64{}
	c.Tx = map[string]uint64{}
	c.PBA = map[mh.Status]uint64{}
	c.BRA = map[mh.BRStatus]uint64{}
	c.Dropped = map[string]uint64{}
}

func msgName(m mh.Message) string {
	switch m.(type) {
	case *mh.BindingRevocationIndication:
		return "Binding Revocation Indication"
	case *mh.BindingRevocationAck:
		return "Binding Revocation Acknowledgement"
	}
	return m.MHType().String()
}

func (c *Counters) rx(m mh.Message) { c.Rx[msgName(m)]++ }

func (c *Counters) txMeta(md txMeta) {
	c.Tx[md.name]++
	if md.ba {
		c.PBA[md.status]++
	}
}

func (c *Counters) drop(reason string) { c.Dropped[reason]++ }

func (c *Counters) clone() Counters {
	out := *c
	out.init()
	for k, v := range c.Rx {
		out.Rx[k] = v
	}
	for k, v := range c.Tx {
		out.Tx[k] = v
	}
	for k, v := range c.PBA {
		out.PBA[k] = v
	}
	for k, v := range c.BRA {
		out.BRA[k] = v
	}
	for k, v := range c.Dropped {
		out.Dropped[k] = v
	}
	return out
}
