package ipsec

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the daemon's IPsec section: SAs (manually keyed, keys in
// files) and the ordered SPD. Field tags are for viper/mapstructure.
//
//	ipsec:
//	  default_action: bypass
//	  key_dir: /etc/pmipdmm/keys
//	  sas:
//	    - {name: mag1-out, spi: 0x1001, direction: out, local: 2001:db8::1, remote: 2001:db8::2,
//	       mh_types: [bu], encryption: aes-gcm-128, encryption_key_file: mag1-out.key}
//	    - {name: mag1-in, spi: 0x2001, direction: in, local: 2001:db8::1, remote: 2001:db8::2,
//	       mh_types: [ba], encryption: aes-gcm-128, encryption_key_file: mag1-in.key}
//	  policies:
//	    - {name: bu-out, direction: out, local: 2001:db8::1, remote: 2001:db8::2, mh_types: [bu], action: protect}
//	    - {name: ba-in, direction: in, local: 2001:db8::1, remote: 2001:db8::2, mh_types: [ba], action: protect}
type Config struct {
	// DefaultAction applies when no policy matches: bypass (the default),
	// discard or protect.
	DefaultAction string `mapstructure:"default_action" json:"default_action,omitempty"`
	// KeyDir resolves relative key file names.
	KeyDir   string         `mapstructure:"key_dir" json:"key_dir,omitempty"`
	SAs      []SAConfig     `mapstructure:"sas" json:"sas,omitempty"`
	Policies []PolicyConfig `mapstructure:"policies" json:"policies,omitempty"`
}

// SAConfig is one manually keyed SA.
type SAConfig struct {
	Name      string `mapstructure:"name" json:"name"`
	SPI       uint32 `mapstructure:"spi" json:"spi"`
	Direction string `mapstructure:"direction" json:"direction"` // in | out
	// Local and Remote: address or prefix, "" or "any" for any.
	Local  string `mapstructure:"local" json:"local,omitempty"`
	Remote string `mapstructure:"remote" json:"remote,omitempty"`
	// MHTypes: names (bu, ba, pbu, pba, heartbeat, bri, hi, hack, ...) or
	// numbers; empty or [any] for any.
	MHTypes           []string       `mapstructure:"mh_types" json:"mh_types,omitempty"`
	Encryption        string         `mapstructure:"encryption" json:"encryption"`
	EncryptionKeyFile string         `mapstructure:"encryption_key_file" json:"encryption_key_file,omitempty"`
	Integrity         string         `mapstructure:"integrity" json:"integrity,omitempty"`
	IntegrityKeyFile  string         `mapstructure:"integrity_key_file" json:"integrity_key_file,omitempty"`
	ReplayWindow      int            `mapstructure:"replay_window" json:"replay_window,omitempty"`
	DisableAntiReplay bool           `mapstructure:"disable_anti_replay" json:"disable_anti_replay,omitempty"`
	Lifetime          LifetimeConfig `mapstructure:"lifetime" json:"lifetime,omitzero"`
}

// LifetimeConfig holds soft and hard limits; zero is no limit.
type LifetimeConfig struct {
	SoftTime    time.Duration `mapstructure:"soft_time" json:"soft_time,omitempty"`
	HardTime    time.Duration `mapstructure:"hard_time" json:"hard_time,omitempty"`
	SoftPackets uint64        `mapstructure:"soft_packets" json:"soft_packets,omitempty"`
	HardPackets uint64        `mapstructure:"hard_packets" json:"hard_packets,omitempty"`
	SoftBytes   uint64        `mapstructure:"soft_bytes" json:"soft_bytes,omitempty"`
	HardBytes   uint64        `mapstructure:"hard_bytes" json:"hard_bytes,omitempty"`
}

// PolicyConfig is one SPD entry.
type PolicyConfig struct {
	Name      string   `mapstructure:"name" json:"name,omitempty"`
	Direction string   `mapstructure:"direction" json:"direction"` // in | out
	Local     string   `mapstructure:"local" json:"local,omitempty"`
	Remote    string   `mapstructure:"remote" json:"remote,omitempty"`
	MHTypes   []string `mapstructure:"mh_types" json:"mh_types,omitempty"`
	Action    string   `mapstructure:"action" json:"action"` // protect | bypass | discard
	SAs       []string `mapstructure:"sas" json:"sas,omitempty"`
}

// FieldError names a configuration field and what is wrong with it.
type FieldError struct {
	Field  string // e.g. "sas[1].encryption_key_file"
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

type fieldErrs []error

func (f *fieldErrs) add(field, format string, a ...any) {
	*f = append(*f, &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)})
}

// mhTypeNames are the names accepted in mh_types.
var mhTypeNames = map[string]uint8{
	"brr": 0, "hoti": 1, "coti": 2, "hot": 3, "cot": 4,
	"bu": 5, "pbu": 5, "ba": 6, "pba": 6, "be": 7,
	"fbu": 8, "fback": 9, "fna": 10, "experimental": 11, "has": 12,
	"heartbeat": 13, "hb": 13, "hi": 14, "hack": 15,
	"bri": 16, "bra": 16, "br": 16, "lri": 17, "lra": 18, "upn": 19, "upa": 20,
}

// ParseMHTypes turns names or numbers into MH types; nil means any.
func ParseMHTypes(list []string) ([]uint8, error) {
	var out []uint8
	for _, s := range list {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "any" {
			if len(list) != 1 {
				return nil, fmt.Errorf("\"any\" cannot be combined with other MH types")
			}
			return nil, nil
		}
		if t, ok := mhTypeNames[s]; ok {
			out = append(out, t)
			continue
		}
		n, err := strconv.ParseUint(s, 0, 8)
		if err != nil {
			return nil, fmt.Errorf("unknown MH type %q (a name such as bu, ba, heartbeat, bri, hi, hack, or 0-255)", s)
		}
		out = append(out, uint8(n))
	}
	return out, nil
}

// ParsePrefix reads an address (a host prefix) or a prefix; "" and "any"
// give the zero Prefix (any).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "any" {
		return netip.Prefix{}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("a selector has no zone")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("a selector has no zone")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseDirection(s string) (Direction, error) {
	switch s {
	case "in":
		return Inbound, nil
	case "out":
		return Outbound, nil
	}
	return 0, fmt.Errorf("must be in or out, not %q", s)
}

// Validate checks the configuration without reading key files; every
// error is a *FieldError naming the field (joined with errors.Join).
func (c Config) Validate() error {
	var errs fieldErrs
	if c.DefaultAction != "" {
		if _, err := ParseAction(c.DefaultAction); err != nil {
			errs.add("default_action", "%v", err)
		}
	}
	names := map[string]Direction{}
	inSPI := map[uint32]string{}
	for i := range c.SAs {
		c.SAs[i].validate(fmt.Sprintf("sas[%d]", i), &errs, names, inSPI)
	}
	for i := range c.Policies {
		c.Policies[i].validate(fmt.Sprintf("policies[%d]", i), &errs, names)
	}
	return errors.Join(errs...)
}

func (s *SAConfig) validate(f string, errs *fieldErrs, names map[string]Direction, inSPI map[uint32]string) {
	dir, derr := parseDirection(s.Direction)
	switch {
	case s.Name == "":
		errs.add(f+".name", "is required")
	case names[s.Name] != 0:
		errs.add(f+".name", "%q is used by another SA", s.Name)
	default:
		names[s.Name] = dir
		if derr != nil {
			names[s.Name] = 255 // known name, bad direction
		}
	}
	if derr != nil {
		errs.add(f+".direction", "%v", derr)
	}
	if s.SPI < 256 {
		errs.add(f+".spi", "%d is reserved (RFC 4303 §2.1: SPIs 0-255 are not used for SAs)", s.SPI)
	} else if dir == Inbound {
		if o, ok := inSPI[s.SPI]; ok {
			errs.add(f+".spi", "inbound SPI %#x is already used by SA %q", s.SPI, o)
		}
		inSPI[s.SPI] = s.Name
	}
	if _, err := ParsePrefix(s.Local); err != nil {
		errs.add(f+".local", "%v", err)
	}
	if _, err := ParsePrefix(s.Remote); err != nil {
		errs.add(f+".remote", "%v", err)
	}
	if _, err := ParseMHTypes(s.MHTypes); err != nil {
		errs.add(f+".mh_types", "%v", err)
	}
	enc, eerr := ParseEncryption(s.Encryption)
	if eerr != nil {
		errs.add(f+".encryption", "%v", eerr)
	}
	integ, ierr := ParseIntegrity(s.Integrity)
	if ierr != nil {
		errs.add(f+".integrity", "%v", ierr)
	}
	if eerr == nil && ierr == nil {
		if err := checkTransforms(enc, integ); err != nil {
			errs.add(f+".integrity", "%v", err)
		}
	}
	if eerr == nil {
		switch {
		case enc == EncNull && s.EncryptionKeyFile != "":
			errs.add(f+".encryption_key_file", "null encryption takes no key")
		case enc != EncNull && s.EncryptionKeyFile == "":
			errs.add(f+".encryption_key_file", "is required for %v (%d octets of hex key material)", enc, enc.KeyLen())
		}
	}
	if ierr == nil {
		switch {
		case integ == IntegNone && s.IntegrityKeyFile != "":
			errs.add(f+".integrity_key_file", "integrity is none: no key is used")
		case integ != IntegNone && s.IntegrityKeyFile == "":
			errs.add(f+".integrity_key_file", "is required for %v (%d octets of hex key material)", integ, hmacKeyLen)
		}
	}
	if s.ReplayWindow != 0 {
		switch {
		case dir == Outbound:
			errs.add(f+".replay_window", "applies to inbound SAs only")
		case s.ReplayWindow < MinReplayWindow || s.ReplayWindow > MaxReplayWindow:
			errs.add(f+".replay_window", "%d is out of range %d..%d", s.ReplayWindow, MinReplayWindow, MaxReplayWindow)
		}
	}
	if s.DisableAntiReplay && dir == Outbound {
		errs.add(f+".disable_anti_replay", "applies to inbound SAs only")
	}
	l := s.Lifetime
	if l.SoftTime < 0 {
		errs.add(f+".lifetime.soft_time", "is negative")
	}
	if l.HardTime < 0 {
		errs.add(f+".lifetime.hard_time", "is negative")
	}
	if l.HardTime > 0 && l.SoftTime > l.HardTime {
		errs.add(f+".lifetime.soft_time", "%v is after hard_time %v", l.SoftTime, l.HardTime)
	}
	if l.HardPackets > 0 && l.SoftPackets > l.HardPackets {
		errs.add(f+".lifetime.soft_packets", "%d is above hard_packets %d", l.SoftPackets, l.HardPackets)
	}
	if l.HardBytes > 0 && l.SoftBytes > l.HardBytes {
		errs.add(f+".lifetime.soft_bytes", "%d is above hard_bytes %d", l.SoftBytes, l.HardBytes)
	}
}

func (p *PolicyConfig) validate(f string, errs *fieldErrs, names map[string]Direction) {
	dir, derr := parseDirection(p.Direction)
	if derr != nil {
		errs.add(f+".direction", "%v", derr)
	}
	act, aerr := ParseAction(p.Action)
	if aerr != nil {
		errs.add(f+".action", "%v", aerr)
	}
	if _, err := ParsePrefix(p.Local); err != nil {
		errs.add(f+".local", "%v", err)
	}
	if _, err := ParsePrefix(p.Remote); err != nil {
		errs.add(f+".remote", "%v", err)
	}
	if _, err := ParseMHTypes(p.MHTypes); err != nil {
		errs.add(f+".mh_types", "%v", err)
	}
	if len(p.SAs) > 0 && aerr == nil && act != Protect {
		errs.add(f+".sas", "only a protect policy uses SAs (action is %v)", act)
	}
	for j, n := range p.SAs {
		d, ok := names[n]
		switch {
		case !ok:
			errs.add(fmt.Sprintf("%s.sas[%d]", f, j), "no SA is named %q", n)
		case derr == nil && d != dir && d != 255:
			errs.add(fmt.Sprintf("%s.sas[%d]", f, j), "SA %q is %v, the policy is %v", n, d, dir)
		}
	}
}

// Build validates c, loads the key files and returns an engine whose SAD
// uses clk (nil: the system clock). Errors name the field; a key file
// that group or others can access is refused.
func Build(c Config, clk Clock) (*Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	def := Bypass
	if c.DefaultAction != "" {
		def, _ = ParseAction(c.DefaultAction)
	}
	sad := NewSAD(clk)
	var errs fieldErrs
	for i, s := range c.SAs {
		f := fmt.Sprintf("sas[%d]", i)
		p, ok := s.params(f, c.KeyDir, &errs)
		if !ok {
			continue
		}
		sa, err := NewSA(p)
		if err != nil {
			errs.add(f, "%v", err)
			continue
		}
		if err := sad.Add(sa); err != nil {
			errs.add(f, "%v", err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var pols []*Policy
	for _, p := range c.Policies {
		pols = append(pols, p.policy())
	}
	return NewEngine(NewSPD(def, pols...), sad), nil
}

func keyPath(dir, name string) string {
	if dir == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

func (s *SAConfig) params(f, keyDir string, errs *fieldErrs) (SAParams, bool) {
	dir, _ := parseDirection(s.Direction)
	local, _ := ParsePrefix(s.Local)
	remote, _ := ParsePrefix(s.Remote)
	types, _ := ParseMHTypes(s.MHTypes)
	enc, _ := ParseEncryption(s.Encryption)
	integ, _ := ParseIntegrity(s.Integrity)
	p := SAParams{
		Name: s.Name, SPI: s.SPI, Direction: dir,
		Selector:   Selector{Local: local, Remote: remote, Proto: ProtoMH, MHTypes: types},
		Encryption: enc, Integrity: integ,
		ReplayWindow: s.ReplayWindow, DisableAntiReplay: s.DisableAntiReplay,
		Lifetime: Lifetime(s.Lifetime),
	}
	ok := true
	if s.EncryptionKeyFile != "" {
		k, err := LoadKeyFile(keyPath(keyDir, s.EncryptionKeyFile))
		switch {
		case err != nil:
			errs.add(f+".encryption_key_file", "%v", err)
			ok = false
		case k.Len() != enc.KeyLen():
			errs.add(f+".encryption_key_file", "%s holds %d octets, %v needs %d", s.EncryptionKeyFile, k.Len(), enc, enc.KeyLen())
			ok = false
		}
		p.EncryptionKey = k
	}
	if s.IntegrityKeyFile != "" {
		k, err := LoadKeyFile(keyPath(keyDir, s.IntegrityKeyFile))
		switch {
		case err != nil:
			errs.add(f+".integrity_key_file", "%v", err)
			ok = false
		case k.Len() != hmacKeyLen:
			errs.add(f+".integrity_key_file", "%s holds %d octets, %v needs %d", s.IntegrityKeyFile, k.Len(), integ, hmacKeyLen)
			ok = false
		}
		p.IntegrityKey = k
	}
	return p, ok
}

func (p *PolicyConfig) policy() *Policy {
	dir, _ := parseDirection(p.Direction)
	act, _ := ParseAction(p.Action)
	local, _ := ParsePrefix(p.Local)
	remote, _ := ParsePrefix(p.Remote)
	types, _ := ParseMHTypes(p.MHTypes)
	return &Policy{
		Name: p.Name, Direction: dir, Action: act,
		Selector: Selector{Local: local, Remote: remote, Proto: ProtoMH, MHTypes: types},
		SAs:      append([]string(nil), p.SAs...),
	}
}
