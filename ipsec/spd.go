package ipsec

import (
	"fmt"
	"net/netip"
	"sync"
)

// Action is what an SPD entry does with matching traffic (RFC 4301 §4.4.1).
type Action uint8

// Actions. The zero value is Bypass, so an empty SPD changes nothing.
const (
	Bypass  Action = iota // send / accept in the clear
	Protect               // require ESP
	Discard               // drop
)

func (a Action) String() string {
	switch a {
	case Bypass:
		return "bypass"
	case Protect:
		return "protect"
	case Discard:
		return "discard"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// MarshalText gives the configuration name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// ParseAction parses "protect", "bypass" or "discard".
func ParseAction(s string) (Action, error) {
	switch s {
	case "protect":
		return Protect, nil
	case "bypass":
		return Bypass, nil
	case "discard":
		return Discard, nil
	}
	return 0, fmt.Errorf("unknown action %q (want protect, bypass or discard)", s)
}

// Policy is one SPD entry.
type Policy struct {
	Name      string    `json:"name,omitempty"`
	Direction Direction `json:"direction"`
	// Selector: Local is our address (source outbound, destination
	// inbound), Remote the peer's.
	Selector Selector `json:"selector"`
	Action   Action   `json:"action"`
	// SAs names the SAs a Protect entry uses. Outbound: the first one that
	// is not hard-expired seals the packet; empty means the first outbound
	// SA of the SAD whose selector matches. Inbound: the packet must have
	// been opened by one of them; empty means any SA whose selector
	// matches the packet.
	SAs []string `json:"sas,omitempty"`
}

func (p *Policy) String() string {
	return fmt.Sprintf("policy %q %v %v %v", p.Name, p.Direction, p.Selector, p.Action)
}

// SPD is the ordered security policy database: the first entry whose
// direction and selector match decides; when none does, Default decides.
// It is safe for concurrent use.
type SPD struct {
	mu       sync.RWMutex
	policies []*Policy
	def      Action
}

// NewSPD returns an SPD with the given entries (in order) and default.
func NewSPD(def Action, policies ...*Policy) *SPD {
	return &SPD{policies: append([]*Policy(nil), policies...), def: def}
}

// Default returns the action taken when no entry matches.
func (s *SPD) Default() Action {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.def
}

// Replace swaps in a new ordered list and default (for a reload).
func (s *SPD) Replace(def Action, policies ...*Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policies = append([]*Policy(nil), policies...)
	s.def = def
}

// Policies returns the entries in order.
func (s *SPD) Policies() []*Policy {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]*Policy(nil), s.policies...)
}

// Lookup returns the first entry for dir covering the packet, or nil (the
// default applies).
func (s *SPD) Lookup(dir Direction, local, remote netip.Addr, proto, mhType uint8) *Policy {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.policies {
		if p.Direction == dir && p.Selector.Match(local, remote, proto, mhType) {
			return p
		}
	}
	return nil
}

// Decide returns the action for a packet and the entry that gave it (nil
// for the default).
func (s *SPD) Decide(dir Direction, local, remote netip.Addr, proto, mhType uint8) (Action, *Policy) {
	if p := s.Lookup(dir, local, remote, proto, mhType); p != nil {
		return p.Action, p
	}
	return s.Default(), nil
}
