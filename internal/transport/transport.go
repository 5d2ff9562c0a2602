// Package transport carries Mobility Header signalling between the roles:
// a raw IPPROTO_MH (135) socket for real use (Raw) and an in-memory
// network for tests (Network, Mem).
package transport

import (
	"errors"
	"net/netip"
)

// Packet is one received (or sent) Mobility Header with its IPv6 addresses.
type Packet struct {
	Src, Dst netip.Addr
	// IfIndex is the interface the packet arrived on (0 when unknown).
	IfIndex int
	// Data is the Mobility Header, from Payload Proto to the last option.
	Data []byte
}

// Transport sends and receives Mobility Headers.
type Transport interface {
	// LocalAddr is the address the transport sends from and listens on.
	LocalAddr() netip.Addr
	// Send sends one Mobility Header to dst. mh is not retained.
	Send(dst netip.Addr, mh []byte) error
	// Receive blocks until at least one packet has arrived, then fills
	// ps[0:n] with up to len(ps) packets and returns n. The Data slices
	// of ps are reused (appended to from [:0]). After Close it returns
	// ErrClosed.
	Receive(ps []Packet) (n int, err error)
	// Close stops the transport and unblocks Receive.
	Close() error
}

// ErrClosed is returned by a closed transport.
var ErrClosed = errors.New("transport: closed")
