package ipsec

import (
	"crypto/cipher"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Direction is the direction of traffic an SA or a policy applies to.
type Direction uint8

// Directions.
const (
	Inbound Direction = iota + 1
	Outbound
)

func (d Direction) String() string {
	switch d {
	case Inbound:
		return "in"
	case Outbound:
		return "out"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// MarshalText gives "in" or "out".
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ProtoMH is the IPv6 next header of the Mobility Header.
const ProtoMH = 135

// ProtoESP is the IPv6 next header of ESP.
const ProtoESP = 50

// Selector matches traffic by local and remote address, upper-layer
// protocol and MH type (RFC 4301 §4.4.1.1; RFC 4877 §4.3 for the MH type).
// A zero Prefix, Proto 0 or an empty MHTypes matches anything.
type Selector struct {
	Local   netip.Prefix `json:"local,omitzero"`
	Remote  netip.Prefix `json:"remote,omitzero"`
	Proto   uint8        `json:"proto,omitempty"`
	MHTypes []uint8      `json:"mh_types,omitempty"`
}

// Match reports whether the selector covers a packet between local and
// remote with the given protocol and MH type (the MH type is only looked
// at when proto is ProtoMH).
func (s Selector) Match(local, remote netip.Addr, proto, mhType uint8) bool {
	if s.Local.IsValid() && !s.Local.Contains(local.Unmap()) {
		return false
	}
	if s.Remote.IsValid() && !s.Remote.Contains(remote.Unmap()) {
		return false
	}
	if s.Proto != 0 && s.Proto != proto {
		return false
	}
	if len(s.MHTypes) > 0 && (proto != ProtoMH || !slices.Contains(s.MHTypes, mhType)) {
		return false
	}
	return true
}

func (s Selector) String() string {
	any := func(p netip.Prefix) string {
		if !p.IsValid() {
			return "any"
		}
		return p.String()
	}
	types := "any"
	if len(s.MHTypes) > 0 {
		types = fmt.Sprint(s.MHTypes)
	}
	proto := "any"
	if s.Proto != 0 {
		proto = fmt.Sprint(s.Proto)
	}
	return fmt.Sprintf("local=%s remote=%s proto=%s mh=%s", any(s.Local), any(s.Remote), proto, types)
}

// Lifetime holds the soft and hard limits of an SA (RFC 4301 §4.4.2.1).
// Zero means no limit. Time counts from when the SA was added to a SAD;
// packets and bytes (of upper-layer payload) count what the SA sealed or
// accepted. Reaching a soft limit is reported once (SAD.OnSoftExpire);
// reaching a hard limit makes the SA refuse traffic with ErrExpired.
type Lifetime struct {
	SoftTime    time.Duration `json:"soft_time,omitempty"`
	HardTime    time.Duration `json:"hard_time,omitempty"`
	SoftPackets uint64        `json:"soft_packets,omitempty"`
	HardPackets uint64        `json:"hard_packets,omitempty"`
	SoftBytes   uint64        `json:"soft_bytes,omitempty"`
	HardBytes   uint64        `json:"hard_bytes,omitempty"`
}

// SAParams describe one manually keyed SA.
type SAParams struct {
	Name      string
	SPI       uint32
	Direction Direction
	// Selector: for an inbound SA, Local is our address (the packet's
	// destination) and Remote the peer; the inner MH type must be in
	// MHTypes (when set). For an outbound SA, the same from our side.
	Selector Selector
	// Encryption and its key material (for AES-GCM: key || 4-octet salt).
	Encryption    Encryption
	EncryptionKey Key
	// Integrity and its key (32 octets for HMAC-SHA-256-128).
	Integrity    Integrity
	IntegrityKey Key
	// ReplayWindow is the anti-replay window of an inbound SA (0: 64).
	ReplayWindow int
	// DisableAntiReplay turns the window off (RFC 4303 §3.4.3 lets the
	// receiver do so; §3.3.3 advises it for manually keyed SAs whose
	// sender's counter does not survive a restart).
	DisableAntiReplay bool
	Lifetime          Lifetime
}

// SA is a security association with its runtime state. It is safe for
// concurrent use.
type SA struct {
	p     SAParams
	icv   int
	block cipher.Block
	aead  cipher.AEAD
	salt  [gcmSaltLen]byte
	// ivPrefix is the random first half of every AES-GCM IV of this SA.
	ivPrefix [4]byte
	testIV   []byte // tests only: the IV of every packet

	mu        sync.Mutex
	now       func() time.Time
	onSoft    func(*SA)
	added     time.Time
	seq       uint32 // outbound: last sequence number sent
	win       replayWindow
	packets   uint64
	bytes     uint64
	softFired bool
	dead      bool
}

// NewSA checks p and builds the SA's cipher state.
func NewSA(p SAParams) (*SA, error) {
	if p.SPI < 256 {
		return nil, fmt.Errorf("SA %q: SPI %d is reserved (RFC 4303 §2.1: 1-255 are reserved, 0 is never sent)", p.Name, p.SPI)
	}
	if p.Direction != Inbound && p.Direction != Outbound {
		return nil, fmt.Errorf("SA %q: direction must be in or out", p.Name)
	}
	if err := checkTransforms(p.Encryption, p.Integrity); err != nil {
		return nil, fmt.Errorf("SA %q: %v", p.Name, err)
	}
	if p.Integrity == IntegHMACSHA256128 && p.IntegrityKey.Len() != hmacKeyLen {
		return nil, fmt.Errorf("SA %q: hmac-sha256-128 needs a %d-octet key, got %d (RFC 4868 §2.1.1)", p.Name, hmacKeyLen, p.IntegrityKey.Len())
	}
	if p.Integrity == IntegNone && !p.IntegrityKey.IsZero() {
		return nil, fmt.Errorf("SA %q: an integrity key is given but integrity is none", p.Name)
	}
	if p.ReplayWindow != 0 && (p.ReplayWindow < MinReplayWindow || p.ReplayWindow > MaxReplayWindow) {
		return nil, fmt.Errorf("SA %q: replay window %d out of range %d..%d", p.Name, p.ReplayWindow, MinReplayWindow, MaxReplayWindow)
	}
	block, aead, salt, err := newCipher(p.Encryption, p.EncryptionKey.bytes())
	if err != nil {
		return nil, fmt.Errorf("SA %q: %v", p.Name, err)
	}
	p.Selector.MHTypes = slices.Clone(p.Selector.MHTypes)
	sa := &SA{p: p, icv: icvLen(p.Encryption, p.Integrity), block: block, aead: aead, salt: salt, now: time.Now}
	if _, err := randRead(sa.ivPrefix[:]); err != nil {
		return nil, fmt.Errorf("SA %q: IV prefix: %v", p.Name, err)
	}
	if p.Direction == Inbound {
		sa.win = newReplayWindow(p.ReplayWindow)
	}
	return sa, nil
}

// Name, SPI, Direction, Selector, Encryption, Integrity and Lifetime give
// the SA's parameters (never its keys).
func (sa *SA) Name() string           { return sa.p.Name }
func (sa *SA) SPI() uint32            { return sa.p.SPI }
func (sa *SA) Direction() Direction   { return sa.p.Direction }
func (sa *SA) Selector() Selector     { return sa.p.Selector }
func (sa *SA) Encryption() Encryption { return sa.p.Encryption }
func (sa *SA) Integrity() Integrity   { return sa.p.Integrity }
func (sa *SA) Lifetime() Lifetime     { return sa.p.Lifetime }

// Overhead is how many octets ESP adds to a payload of n octets.
func (sa *SA) Overhead(n int) int {
	a := sa.p.Encryption.align()
	enc := (n + 2 + a - 1) / a * a
	return espHeaderLen + sa.p.Encryption.ivLen() + enc - n + sa.icv
}

// SAState is a snapshot of an SA for the API and logs; it has no keys.
type SAState struct {
	Name         string     `json:"name"`
	SPI          uint32     `json:"spi"`
	Direction    Direction  `json:"direction"`
	Selector     Selector   `json:"selector"`
	Encryption   Encryption `json:"encryption"`
	Integrity    Integrity  `json:"integrity"`
	ReplayWindow int        `json:"replay_window,omitempty"`
	Lifetime     Lifetime   `json:"lifetime"`
	Added        time.Time  `json:"added,omitzero"`
	Sequence     uint32     `json:"sequence"` // outbound: last sent; inbound: highest accepted
	Packets      uint64     `json:"packets"`
	Bytes        uint64     `json:"bytes"`
	SoftExpired  bool       `json:"soft_expired"`
	HardExpired  bool       `json:"hard_expired"`
}

// State returns a snapshot of the SA.
func (sa *SA) State() SAState {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	st := SAState{
		Name: sa.p.Name, SPI: sa.p.SPI, Direction: sa.p.Direction, Selector: sa.p.Selector,
		Encryption: sa.p.Encryption, Integrity: sa.p.Integrity, Lifetime: sa.p.Lifetime,
		Added: sa.added, Sequence: sa.seq, Packets: sa.packets, Bytes: sa.bytes,
		SoftExpired: sa.softFired, HardExpired: sa.dead || sa.hardLocked(sa.now()),
	}
	if sa.p.Direction == Inbound {
		st.Sequence = sa.win.top
		if !sa.p.DisableAntiReplay {
			st.ReplayWindow = int(sa.win.size)
		}
	}
	return st
}

// MarshalJSON marshals State (never the keys).
func (sa *SA) MarshalJSON() ([]byte, error) { return json.Marshal(sa.State()) }

// String describes the SA without its keys.
func (sa *SA) String() string {
	return fmt.Sprintf("SA %q spi=0x%08x %v %v/%v %v", sa.p.Name, sa.p.SPI, sa.p.Direction, sa.p.Encryption, sa.p.Integrity, sa.p.Selector)
}

// Format prints String for every verb, so that no verb can reach the
// keys or the cipher state.
func (sa *SA) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, sa.String()) }

// hardLocked reports whether a hard limit is reached; sa.mu is held.
func (sa *SA) hardLocked(now time.Time) bool {
	l := &sa.p.Lifetime
	switch {
	case sa.dead:
		return true
	case l.HardTime > 0 && !sa.added.IsZero() && now.Sub(sa.added) >= l.HardTime:
	case l.HardPackets > 0 && sa.packets >= l.HardPackets:
	case l.HardBytes > 0 && sa.bytes >= l.HardBytes:
	default:
		return false
	}
	sa.dead = true
	return true
}

// softLocked reports whether a soft limit is newly reached; sa.mu is held.
func (sa *SA) softLocked(now time.Time) bool {
	if sa.softFired {
		return false
	}
	l := &sa.p.Lifetime
	switch {
	case l.SoftTime > 0 && !sa.added.IsZero() && now.Sub(sa.added) >= l.SoftTime:
	case l.SoftPackets > 0 && sa.packets >= l.SoftPackets:
	case l.SoftBytes > 0 && sa.bytes >= l.SoftBytes:
	default:
		return false
	}
	sa.softFired = true
	return true
}

// Expired reports whether the SA has reached a hard limit.
func (sa *SA) Expired() bool {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return sa.hardLocked(sa.now())
}

// CheckLifetime evaluates the time limits now (packets and bytes are
// evaluated on use): it fires the soft-expiry hook once and reports
// whether the SA is hard-expired. A daemon calls it from a timer so that
// an idle SA's soft expiry is still seen.
func (sa *SA) CheckLifetime() (hardExpired bool) {
	sa.mu.Lock()
	now := sa.now()
	soft := sa.softLocked(now)
	hard := sa.hardLocked(now)
	cb := sa.onSoft
	sa.mu.Unlock()
	if soft && cb != nil {
		cb(sa)
	}
	return hard
}

// nextSeq reserves the next outbound sequence number and accounts n
// payload octets. It refuses when the SA is hard-expired or when the
// counter would wrap (RFC 4303 §3.3.3: no ESN, so 2^32-1 is the last).
func (sa *SA) nextSeq(n int) (uint32, error) {
	sa.mu.Lock()
	now := sa.now()
	if sa.hardLocked(now) {
		sa.mu.Unlock()
		return 0, fmt.Errorf("%w: %s", ErrExpired, sa.p.Name)
	}
	if sa.seq == math.MaxUint32 {
		sa.dead = true
		sa.mu.Unlock()
		return 0, fmt.Errorf("%w: %s: sequence number would wrap", ErrExpired, sa.p.Name)
	}
	sa.seq++
	seq := sa.seq
	sa.packets++
	sa.bytes += uint64(n)
	soft := sa.softLocked(now)
	cb := sa.onSoft
	sa.mu.Unlock()
	if soft && cb != nil {
		cb(sa)
	}
	return seq, nil
}

// SAD is the security association database: inbound SAs by SPI, outbound
// SAs in order, matched by selector. It is safe for concurrent use.
type SAD struct {
	mu  sync.RWMutex
	in  map[uint32]*SA
	out []*SA
	now func() time.Time
	// OnSoftExpire, when set before SAs are added, is called once per SA
	// that reaches a soft lifetime (outside any lock of the SAD).
	OnSoftExpire func(*SA)
}

// Clock tells the time; internal/clock.Clock satisfies it.
type Clock interface{ Now() time.Time }

// NewSAD returns an empty SAD using clk for lifetimes (nil: the system
// clock).
func NewSAD(clk Clock) *SAD {
	now := time.Now
	if clk != nil {
		now = clk.Now
	}
	return &SAD{in: map[uint32]*SA{}, now: now}
}

// Add inserts sa and starts its lifetime. Inbound SPIs must be unique;
// SA names must be unique.
func (d *SAD) Add(sa *SA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range d.allLocked() {
		if o == sa {
			return fmt.Errorf("SA %q is already in the SAD", sa.p.Name)
		}
		if sa.p.Name != "" && o.p.Name == sa.p.Name {
			return fmt.Errorf("SA name %q is used twice", sa.p.Name)
		}
	}
	if sa.p.Direction == Inbound {
		if o := d.in[sa.p.SPI]; o != nil {
			return fmt.Errorf("SA %q: inbound SPI 0x%08x is already used by SA %q", sa.p.Name, sa.p.SPI, o.p.Name)
		}
	}
	sa.mu.Lock()
	sa.now = d.now
	sa.added = d.now()
	sa.onSoft = d.softHook
	sa.mu.Unlock()
	if sa.p.Direction == Inbound {
		d.in[sa.p.SPI] = sa
	} else {
		d.out = append(d.out, sa)
	}
	return nil
}

func (d *SAD) softHook(sa *SA) {
	if f := d.OnSoftExpire; f != nil {
		f(sa)
	}
}

// Remove deletes sa; it reports whether it was there.
func (d *SAD) Remove(sa *SA) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sa.p.Direction == Inbound {
		if d.in[sa.p.SPI] == sa {
			delete(d.in, sa.p.SPI)
			return true
		}
		return false
	}
	if i := slices.Index(d.out, sa); i >= 0 {
		d.out = slices.Delete(d.out, i, i+1)
		return true
	}
	return false
}

// Lookup returns the inbound SA with spi, or nil.
func (d *SAD) Lookup(spi uint32) *SA {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.in[spi]
}

// ByName returns the SA named name, or nil.
func (d *SAD) ByName(name string) *SA {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, sa := range d.allLocked() {
		if sa.p.Name == name {
			return sa
		}
	}
	return nil
}

// LookupOutbound returns the first outbound SA whose selector covers the
// packet and that is not hard-expired; failing that, the first expired one
// that matches (so that the caller sees ErrExpired); nil if none matches.
func (d *SAD) LookupOutbound(local, remote netip.Addr, proto, mhType uint8) *SA {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var expired *SA
	for _, sa := range d.out {
		if !sa.p.Selector.Match(local, remote, proto, mhType) {
			continue
		}
		if !sa.Expired() {
			return sa
		}
		if expired == nil {
			expired = sa
		}
	}
	return expired
}

// SAs returns every SA: inbound by SPI, then outbound in order.
func (d *SAD) SAs() []*SA {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.allLocked()
}

func (d *SAD) allLocked() []*SA {
	all := make([]*SA, 0, len(d.in)+len(d.out))
	for _, sa := range d.in {
		all = append(all, sa)
	}
	slices.SortFunc(all, func(a, b *SA) int {
		switch {
		case a.p.SPI < b.p.SPI:
			return -1
		case a.p.SPI > b.p.SPI:
			return 1
		}
		return 0
	})
	return append(all, d.out...)
}
