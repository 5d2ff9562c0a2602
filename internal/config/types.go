package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Problem is one configuration error: the full dotted key and the reason.
type Problem struct {
	Key    string
	Reason string
}

func (p Problem) String() string { return p.Key + ": " + p.Reason }

// Error lists every problem found in a configuration.
type Error struct {
	// File is the configuration file, when there is one.
	File     string
	Problems []Problem
}

// Error is one `key: reason` line per problem, after a line naming the
// file when there is one.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s: invalid configuration", e.File)
		for _, p := range e.Problems {
			b.WriteString("\n  " + p.String())
		}
		return b.String()
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Lines returns the problems as `key: reason` strings.
func (e *Error) Lines() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.String()
	}
	return out
}

type problems []Problem

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Reason: fmt.Sprintf(format, args...)})
}

// MNIDSet is a set of MN identifiers, or any MN ("*").
type MNIDSet struct {
	Any bool
	IDs []string
}

// Allows reports whether id is in the set.
func (s MNIDSet) Allows(id string) bool {
	if s.Any {
		return true
	}
	for _, x := range s.IDs {
		if x == id {
			return true
		}
	}
	return false
}

// IsZero reports whether the set admits nobody (the key was not given).
func (s MNIDSet) IsZero() bool { return !s.Any && len(s.IDs) == 0 }

func (s MNIDSet) String() string {
	if s.Any {
		return "*"
	}
	return "[" + strings.Join(s.IDs, ", ") + "]"
}

func parseMNIDSet(v any) (MNIDSet, error) {
	switch x := v.(type) {
	case string:
		if x == "*" {
			return MNIDSet{Any: true}, nil
		}
	case []any:
		var s MNIDSet
		for i, e := range x {
			id, ok := e.(string)
			if !ok || id == "" {
				return MNIDSet{}, fmt.Errorf("item %d: must be a non-empty MN identifier (got %s)", i, describe(e))
			}
			if id == "*" {
				s.Any = true
				continue
			}
			s.IDs = append(s.IDs, id)
		}
		return s, nil
	}
	return MNIDSet{}, fmt.Errorf(`must be "*" or a list of MN identifiers (got %s)`, describe(v))
}

// ReregisterBefore says when a MAG re-registers before a binding expires:
// either a fraction of the granted lifetime (Fraction in (0,1)) or a fixed
// duration before expiry. In YAML: 0.2, "20%" or "30s".
type ReregisterBefore struct {
	Fraction float64
	Duration time.Duration
}

// Lead is how long before the expiry of a binding with the given lifetime
// the MAG re-registers (never more than the lifetime).
func (r ReregisterBefore) Lead(lifetime time.Duration) time.Duration {
	d := r.Duration
	if r.Fraction > 0 {
		d = time.Duration(float64(lifetime) * r.Fraction)
	}
	return min(d, lifetime)
}

func (r ReregisterBefore) String() string {
	if r.Fraction > 0 {
		return strconv.FormatFloat(r.Fraction, 'g', -1, 64)
	}
	return r.Duration.String()
}

func parseReregisterBefore(v any) (ReregisterBefore, error) {
	const want = `must be a fraction of the lifetime (0.2 or "20%%") or a duration ("30s")`
	switch x := v.(type) {
	case float64:
		return ReregisterBefore{Fraction: x}, nil
	case int:
		return ReregisterBefore{Fraction: float64(x)}, nil
	case string:
		s := strings.TrimSpace(x)
		if p, ok := strings.CutSuffix(s, "%"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return ReregisterBefore{}, fmt.Errorf(want+" (got %q)", x)
			}
			return ReregisterBefore{Fraction: f / 100}, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return ReregisterBefore{Fraction: f}, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return ReregisterBefore{}, fmt.Errorf(want+" (got %q)", x)
		}
		return ReregisterBefore{Duration: d}, nil
	}
	return ReregisterBefore{}, fmt.Errorf(want+" (got %s)", describe(v))
}

// attAliases are short names for Access Technology Types, in addition to
// the names mh.ATT.String returns. Keys are normalized with attKey.
var attAliases = map[string]mh.ATT{
	"ethernet": mh.ATT8023, "8023": mh.ATT8023,
	"wifi": mh.ATT80211, "wlan": mh.ATT80211, "80211": mh.ATT80211,
	"wimax": mh.ATT80216e,
	"lte":   mh.ATTEUTRAN,
}

func attKey(s string) string {
	s = strings.ToLower(s)
	for _, p := range []string{"ieee", "3gpp2", "3gpp"} {
		s = strings.TrimPrefix(s, p)
	}
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ParseATT parses an Access Technology Type given by name ("ethernet",
// "IEEE 802.3", "wifi", "eutran", "nb-iot", ...) or by number (1-255).
func ParseATT(s string) (mh.ATT, error) {
	if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8); err == nil {
		return mh.ATT(n), nil
	}
	k := attKey(s)
	if a, ok := attAliases[k]; ok {
		return a, nil
	}
	for a := mh.ATTVirtual; a <= mh.ATTNBIoT; a++ {
		if k == attKey(a.String()) {
			return a, nil
		}
	}
	return 0, fmt.Errorf("unknown access technology type %q (a number, or one of ethernet, wifi, wimax, virtual, ppp, geran, utran, eutran, ehrpd, hrpd, 1xrtt, umb, nb-iot)", s)
}

// describe renders a decoded YAML value for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	case bool, int, int64, uint64, float64:
		return fmt.Sprintf("%v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
