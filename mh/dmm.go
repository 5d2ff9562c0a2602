package mh

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// This file holds the project's DMM extensions (docs/wire-format.md):
// the codepoint table, the DMM message dispatch, and the common layout of
// the DMM messages. The draft the project implements
// (draft-luo-dmm-with-mip-and-pmip-00) defines no wire format; this one is
// the project's own. Every new number lives in Codepoints.

// Codepoints is the one table of every number this project uses that IANA
// has not assigned: the MH Type that carries the DMM messages, the DMM
// message types inside it, and the new option types. Every field is
// configurable (config key dmm.codepoints.<yaml name>); see
// docs/wire-format.md §"Codepoints".
type Codepoints struct {
	// CarrierMHType is the MH Type of the DMM messages: by default 11,
	// the Experimental Mobility Header of RFC 5096. Any other value must
	// be one IANA has not assigned (24-255).
	CarrierMHType Type `yaml:"carrier_mh_type" json:"carrier_mh_type"`

	// DMM Type octets (first octet of the carrier's message data).
	LocationQuery uint8 `yaml:"location_query" json:"location_query"`
	LocationReply uint8 `yaml:"location_reply" json:"location_reply"`
	Redirect      uint8 `yaml:"redirect" json:"redirect"`
	RedirectAck   uint8 `yaml:"redirect_ack" json:"redirect_ack"`

	// New mobility option types: unassigned values (71-255), or 18, the
	// Experimental Mobility Option of RFC 5096, when chosen on purpose.
	OptLocationQuery   OptionType `yaml:"opt_location_query" json:"opt_location_query"`
	OptRoutingLocation OptionType `yaml:"opt_routing_location" json:"opt_routing_location"`
	OptMobilityContext OptionType `yaml:"opt_mobility_context" json:"opt_mobility_context"`
}

// DefaultCodepoints returns the default table: carrier MH Type 11
// (Experimental), DMM types 1-4, options 240-242.
func DefaultCodepoints() Codepoints {
	return Codepoints{
		CarrierMHType:      TypeExperimental,
		LocationQuery:      1,
		LocationReply:      2,
		Redirect:           3,
		RedirectAck:        4,
		OptLocationQuery:   240,
		OptRoutingLocation: 241,
		OptMobilityContext: 242,
	}
}

// ErrCodepoint is wrapped by the errors of Codepoints.Validate and SetCodepoints.
var ErrCodepoint = errors.New("mh: invalid DMM codepoint")

// Validate checks the table: the carrier is 11 or an unassigned MH Type,
// the DMM types are non-zero and distinct, the option types are
// unassigned (or 18) and distinct.
func (c Codepoints) Validate() error {
	if c.CarrierMHType <= maxIANAType && c.CarrierMHType != TypeExperimental {
		return fmt.Errorf("%w: carrier MH Type %d is assigned by IANA to %s (use 11, Experimental, or 24-255)", ErrCodepoint, c.CarrierMHType, c.CarrierMHType)
	}
	if f := messageFactories[c.CarrierMHType]; f != nil && c.CarrierMHType != TypeExperimental {
		return fmt.Errorf("%w: carrier MH Type %d already has a typed message", ErrCodepoint, c.CarrierMHType)
	}
	types := [...]struct {
		name string
		v    uint8
	}{{"location_query", c.LocationQuery}, {"location_reply", c.LocationReply}, {"redirect", c.Redirect}, {"redirect_ack", c.RedirectAck}}
	for i, t := range types {
		if t.v == 0 {
			return fmt.Errorf("%w: DMM type %s is 0 (0 is reserved)", ErrCodepoint, t.name)
		}
		for _, u := range types[:i] {
			if u.v == t.v {
				return fmt.Errorf("%w: DMM types %s and %s are both %d", ErrCodepoint, u.name, t.name, t.v)
			}
		}
	}
	opts := [...]struct {
		name string
		v    OptionType
	}{{"opt_location_query", c.OptLocationQuery}, {"opt_routing_location", c.OptRoutingLocation}, {"opt_mobility_context", c.OptMobilityContext}}
	for i, o := range opts {
		if o.v <= maxIANAOption && o.v != OptExperimental {
			return fmt.Errorf("%w: option %s = %d is assigned by IANA to %s (use 71-255, or 18 Experimental)", ErrCodepoint, o.name, o.v, o.v)
		}
		for _, u := range opts[:i] {
			if u.v == o.v {
				return fmt.Errorf("%w: options %s and %s are both %d", ErrCodepoint, u.name, o.name, o.v)
			}
		}
		if o.v > maxIANAOption && !dmmOwns(o.v) && optionFactories[o.v] != nil {
			return fmt.Errorf("%w: option %s = %d already has a typed option", ErrCodepoint, o.name, o.v)
		}
	}
	return nil
}

var (
	cpMu sync.Mutex                 // serialises SetCodepoints
	cp   atomic.Pointer[Codepoints] // the table in force
	// savedFactories holds what optionFactories had at the DMM option
	// types before the DMM options took them (only ever 18 can have one).
	savedFactories [3]func() Option
)

func init() {
	d := DefaultCodepoints()
	cp.Store(&d)
	installDMMOptions(&d)
}

// CurrentCodepoints returns the table in force.
func CurrentCodepoints() Codepoints { return *cp.Load() }

// SetCodepoints replaces the table after validating it. It refuses values
// IANA assigned (MH Types 0-23 except 11; options 0-70 except 18) and
// duplicates, and leaves the table unchanged on error.
//
// Call it at start-up (or config reload) before any message is decoded
// or encoded with the new numbers: it is safe against itself but not
// against a decoder running at the same time, because it updates the
// option registry.
func SetCodepoints(c Codepoints) error {
	cpMu.Lock()
	defer cpMu.Unlock()
	if err := c.Validate(); err != nil {
		return err
	}
	old := cp.Load()
	uninstallDMMOptions(old)
	installDMMOptions(&c)
	cp.Store(&c)
	return nil
}

func dmmOptionTypes(c *Codepoints) [3]OptionType {
	return [3]OptionType{c.OptLocationQuery, c.OptRoutingLocation, c.OptMobilityContext}
}

var dmmOptionFactories = [3]func() Option{
	func() Option { return &LocationQueryOption{} },
	func() Option { return &RoutingLocation{} },
	func() Option { return &MobilityContext{} },
}

func installDMMOptions(c *Codepoints) {
	for i, t := range dmmOptionTypes(c) {
		savedFactories[i] = optionFactories[t]
		registerOption(t, dmmOptionFactories[i])
	}
}

func uninstallDMMOptions(c *Codepoints) {
	for i, t := range dmmOptionTypes(c) {
		optionFactories[t] = savedFactories[i]
		savedFactories[i] = nil
	}
}

// dmmOwns reports whether option type t is one of the DMM options now.
func dmmOwns(t OptionType) bool {
	c := cp.Load()
	return c != nil && (t == c.OptLocationQuery || t == c.OptRoutingLocation || t == c.OptMobilityContext)
}

// DMM message kinds (internal indices, not wire values).
const (
	kindLocationQuery uint8 = 1 + iota
	kindLocationReply
	kindRedirect
	kindRedirectAck
)

// dmmWire returns the DMM Type octet of kind k under table c.
func dmmWire(c *Codepoints, k uint8) uint8 {
	switch k {
	case kindLocationQuery:
		return c.LocationQuery
	case kindLocationReply:
		return c.LocationReply
	case kindRedirect:
		return c.Redirect
	case kindRedirectAck:
		return c.RedirectAck
	}
	return 0
}

// dmmKindOf returns the DMM message kind of the Mobility Header in b, or
// 0 when b is not a DMM message: b[2] must be the carrier MH Type and
// b[6] (the first octet of the message data) a known DMM type.
func dmmKindOf(b []byte) uint8 {
	if len(b) < HeaderLen+1 {
		return 0
	}
	c := cp.Load()
	if Type(b[2]) != c.CarrierMHType {
		return 0
	}
	switch b[HeaderLen] {
	case c.LocationQuery:
		return kindLocationQuery
	case c.LocationReply:
		return kindLocationReply
	case c.Redirect:
		return kindRedirect
	case c.RedirectAck:
		return kindRedirectAck
	}
	return 0
}

// newDMMMessage returns an empty DMM message of kind k, or nil.
func newDMMMessage(k uint8) Message {
	switch k {
	case kindLocationQuery:
		return &LocationQuery{}
	case kindLocationReply:
		return &LocationReply{}
	case kindRedirect:
		return &Redirect{}
	case kindRedirectAck:
		return &RedirectAck{}
	}
	return nil
}

// DMMMessages returns one empty value of each DMM message type.
func DMMMessages() []Message {
	return []Message{&LocationQuery{}, &LocationReply{}, &Redirect{}, &RedirectAck{}}
}

// dmmOptionName returns the name of a DMM option type, or "".
func dmmOptionName(t OptionType) string {
	c := cp.Load()
	if c == nil {
		return ""
	}
	switch t {
	case c.OptLocationQuery:
		return "Location Query (DMM)"
	case c.OptRoutingLocation:
		return "Routing Location (DMM)"
	case c.OptMobilityContext:
		return "Mobility Context (DMM)"
	}
	return ""
}

// DMMStatus is the Status octet of a Location Reply or Redirect Ack.
// Values below 128 mean success, as in a Binding Acknowledgement.
type DMMStatus uint8

// DMM statuses (docs/wire-format.md §"Status values").
const (
	DMMStatusAccepted              DMMStatus = 0   // success: location returned / redirect applied
	DMMStatusReasonUnspecified     DMMStatus = 128 // failure, no more precise code
	DMMStatusNotAuthorized         DMMStatus = 129 // the sender may not query / redirect for this MN
	DMMStatusInsufficientResources DMMStatus = 130 // no room to store the location
	DMMStatusLocationUnknown       DMMStatus = 131 // the LM holds no routing location for the key
	DMMStatusInvalidRequest        DMMStatus = 132 // mandatory option missing, repeated or malformed
	DMMStatusStaleLocation         DMMStatus = 133 // Redirect older than the location already held (sequence number)
)

var dmmStatusNames = map[DMMStatus]string{
	0: "Accepted", 128: "Reason unspecified", 129: "Not authorized", 130: "Insufficient resources",
	131: "Location unknown", 132: "Invalid request", 133: "Stale location",
}

func (s DMMStatus) String() string {
	if n, ok := dmmStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("DMM status %d", uint8(s))
}

// Accepted reports whether the status means success (< 128).
func (s DMMStatus) Accepted() bool { return s < 128 }

// DMMFlags is the 16-bit Flags/Reserved field of a DMM message.
type DMMFlags uint16

// DMM message flags.
const (
	// DMMFlagA (Redirect only): the sender asks for a Redirect Ack.
	DMMFlagA DMMFlags = 0x8000
)

// dmmFixedLen is the DMM message data before the options: DMM Type(1),
// Status(1), Sequence #(2), Flags/Reserved(2). Options start at offset 12
// like in a BU, so options aligned 8n+4 need no padding when first.
const dmmFixedLen = 6

func putDMMFixed(b []byte, k uint8, status uint8, seq uint16, flags DMMFlags) {
	b[0] = dmmWire(cp.Load(), k)
	b[1] = status
	be.PutUint16(b[2:], seq)
	be.PutUint16(b[4:], uint16(flags))
}

func getDMMFixed(b []byte, k uint8) (status uint8, seq uint16, flags DMMFlags, err error) {
	if want := dmmWire(cp.Load(), k); b[0] != want {
		return 0, 0, 0, fmt.Errorf("%w: DMM type %d, want %d", ErrWrongType, b[0], want)
	}
	return b[1], be.Uint16(b[2:]), DMMFlags(be.Uint16(b[4:])), nil
}

// dmmCarrier returns the MH Type the DMM messages travel in.
func dmmCarrier() Type { return cp.Load().CarrierMHType }
