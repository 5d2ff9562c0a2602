package ipsec

import (
	"errors"
	"sync/atomic"
)

// Errors returned by Open, Seal, Protect and Enforce. Each drop is also
// counted under its Kind in the engine's Counters.
var (
	// ErrUnknownSPI: no inbound SA has the packet's SPI.
	ErrUnknownSPI = errors.New("ipsec: unknown SPI")
	// ErrReplay: the sequence number was already received, or lies to the
	// left of the anti-replay window, or is 0 (RFC 4303 §3.4.3).
	ErrReplay = errors.New("ipsec: replayed or too old sequence number")
	// ErrICV: the integrity check failed (RFC 4303 §3.4.4).
	ErrICV = errors.New("ipsec: integrity check failed")
	// ErrExpired: the SA reached a hard lifetime, or its sequence counter
	// would wrap (RFC 4303 §3.3.3).
	ErrExpired = errors.New("ipsec: SA expired")
	// ErrPolicy: the packet is not what the SPD or the SA's selectors
	// allow (wrong peer, wrong MH type, wrong SA for the policy).
	ErrPolicy = errors.New("ipsec: policy violation")
	// ErrUnprotected: an SPD entry requires protection and the Mobility
	// Header came in the clear. It wraps ErrPolicy.
	ErrUnprotected = policyError("ipsec: unprotected Mobility Header where protection is required")
	// ErrDiscard: the matching SPD entry says discard. It wraps ErrPolicy.
	ErrDiscard = policyError("ipsec: discarded by policy")
	// ErrMalformed: the packet is too short, its padding is not 1, 2, 3,
	// ... (RFC 4303 §2.4), its length does not fit the cipher's block, or
	// the inner Mobility Header is truncated or has a bad checksum.
	ErrMalformed = errors.New("ipsec: malformed ESP packet")
	// ErrNextHeader: the ESP trailer's Next Header is not the one the
	// caller accepts (135 for signalling), or Enforce was given a packet
	// that is neither ESP (50) nor a Mobility Header (135).
	ErrNextHeader = errors.New("ipsec: unexpected next header")
)

// policyError is a sentinel that also matches ErrPolicy under errors.Is.
type policyError string

func (e policyError) Error() string        { return string(e) }
func (e policyError) Is(target error) bool { return target == ErrPolicy }

// Kind names the reason a packet was dropped, for counters and logs.
type Kind uint8

// Drop kinds, one per sentinel error.
const (
	KindUnknownSPI Kind = iota
	KindReplay
	KindICV
	KindExpired
	KindUnprotected
	KindDiscard
	KindPolicy
	KindMalformed
	KindNextHeader
	numKinds
)

var kindNames = [numKinds]string{
	"unknown_spi", "replay", "icv", "expired", "unprotected", "discard", "policy", "malformed", "next_header",
}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// KindOf maps an error of this package to its Kind; ok is false for
// errors that are not drops.
func KindOf(err error) (k Kind, ok bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, ErrUnknownSPI):
		return KindUnknownSPI, true
	case errors.Is(err, ErrReplay):
		return KindReplay, true
	case errors.Is(err, ErrICV):
		return KindICV, true
	case errors.Is(err, ErrExpired):
		return KindExpired, true
	case errors.Is(err, ErrUnprotected):
		return KindUnprotected, true
	case errors.Is(err, ErrDiscard):
		return KindDiscard, true
	case errors.Is(err, ErrPolicy):
		return KindPolicy, true
	case errors.Is(err, ErrMalformed):
		return KindMalformed, true
	case errors.Is(err, ErrNextHeader):
		return KindNextHeader, true
	}
	return 0, false
}

// Counters counts packets by outcome. The zero value is ready; all
// methods are safe for concurrent use.
type Counters struct {
	inProtected   atomic.Uint64 // ESP opened and accepted
	inBypass      atomic.Uint64 // clear MH accepted by a bypass policy or the default
	outProtected  atomic.Uint64 // MH sealed into ESP
	outBypass     atomic.Uint64 // MH sent in the clear
	softExpired   atomic.Uint64 // SAs that reached a soft lifetime
	drops         [numKinds]atomic.Uint64
	outDrops      [numKinds]atomic.Uint64
	unknownErrors atomic.Uint64
}

func (c *Counters) drop(out bool, err error) {
	k, ok := KindOf(err)
	switch {
	case !ok:
		c.unknownErrors.Add(1)
	case out:
		c.outDrops[k].Add(1)
	default:
		c.drops[k].Add(1)
	}
}

// Dropped returns how many inbound packets were dropped for kind k.
func (c *Counters) Dropped(k Kind) uint64 {
	if k >= numKinds {
		return 0
	}
	return c.drops[k].Load()
}

// CounterSnapshot is a copy of Counters at one moment, for metrics and
// the API (JSON field names are stable).
type CounterSnapshot struct {
	InProtected  uint64            `json:"in_protected"`
	InBypass     uint64            `json:"in_bypass"`
	OutProtected uint64            `json:"out_protected"`
	OutBypass    uint64            `json:"out_bypass"`
	SoftExpired  uint64            `json:"soft_expired"`
	InDropped    map[string]uint64 `json:"in_dropped"`
	OutDropped   map[string]uint64 `json:"out_dropped"`
	Other        uint64            `json:"other_errors"`
}

// Snapshot copies the counters.
func (c *Counters) Snapshot() CounterSnapshot {
	s := CounterSnapshot{
		InProtected:  c.inProtected.Load(),
		InBypass:     c.inBypass.Load(),
		OutProtected: c.outProtected.Load(),
		OutBypass:    c.outBypass.Load(),
		SoftExpired:  c.softExpired.Load(),
		InDropped:    make(map[string]uint64, numKinds),
		OutDropped:   make(map[string]uint64, numKinds),
		Other:        c.unknownErrors.Load(),
	}
	for k := Kind(0); k < numKinds; k++ {
		s.InDropped[k.String()] = c.drops[k].Load()
		s.OutDropped[k.String()] = c.outDrops[k].Load()
	}
	return s
}
