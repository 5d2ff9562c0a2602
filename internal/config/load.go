package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/sirupsen/logrus"
	"github.com/spf13/viper"
)

// Load reads, decodes, completes and validates the YAML file at path. A
// returned error is an *Error listing every problem (or a read error).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data)
	var ce *Error
	if errors.As(err, &ce) {
		ce.File = path
	}
	return c, err
}

// Parse decodes YAML, applies defaults and validates. Its error is an
// *Error with one Problem per error found: the decoding problems (unknown
// keys, values that do not parse) first, then the validation problems of
// the keys that did decode.
func Parse(yaml []byte) (*Config, error) {
	c, ps, err := decode(yaml)
	if err != nil {
		return nil, err
	}
	bad := map[string]bool{}
	for _, p := range ps {
		bad[p.Key] = true
	}
	if verr := c.Validate(); verr != nil {
		for _, p := range verr.(*Error).Problems {
			if !underBad(p.Key, bad) {
				ps = append(ps, p)
			}
		}
	}
	if len(ps) > 0 {
		return nil, &Error{Problems: ps}
	}
	return c, nil
}

// underBad reports whether key or one of its parents failed to decode (a
// validation problem there is a consequence of the decoding problem).
func underBad(key string, bad map[string]bool) bool {
	for {
		if bad[key] {
			return true
		}
		i := strings.LastIndexAny(key, ".[")
		if i <= 0 {
			return false
		}
		key = key[:i]
	}
}

// Decode decodes YAML strictly and applies defaults, without validating.
func Decode(yaml []byte) (*Config, error) {
	c, ps, err := decode(yaml)
	if err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		return nil, &Error{Problems: ps}
	}
	return c, nil
}

// decode returns the configuration decoded as far as possible, with
// defaults applied, and the decoding problems; err is set only when the
// YAML itself cannot be read.
func decode(yaml []byte) (*Config, []Problem, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(yaml)); err != nil {
		return nil, nil, &Error{Problems: []Problem{{Key: "(file)", Reason: strings.TrimSpace(err.Error())}}}
	}
	w := &walker{present: map[string]bool{}}
	w.walk("", reflect.TypeFor[Config](), v.AllSettings())

	c := new(Config)
	err := v.UnmarshalExact(c, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = decodeHook
		dc.WeaklyTypedInput = false
	})
	ps := w.problems
	if err != nil {
		// The walker already reported wrong shapes; keep one problem per key.
		seen := map[string]bool{}
		for _, p := range ps {
			seen[p.Key] = true
		}
		for _, p := range decodeProblems(err) {
			if !seen[p.Key] {
				ps = append(ps, p)
			}
		}
	}
	sortProblems(ps)
	applyDefaults(c, w.present)
	return c, ps, nil
}

// sortProblems orders problems by key, keeping the order of problems of
// the same key.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Key < ps[j].Key })
}

// ---- unknown keys ----

// walker checks the decoded YAML against the schema (the mapstructure tags
// of Config): it reports unknown keys with their full dotted key and
// records which keys are present, so that defaults fill only absent keys.
// It also reports a section or list item that is not a mapping and a list
// that is not a list; mapstructure reports the scalars that do not decode.
type walker struct {
	present  map[string]bool
	problems problems
}

var leafTypes = map[reflect.Type]bool{
	reflect.TypeFor[netip.Addr]():       true,
	reflect.TypeFor[netip.Prefix]():     true,
	reflect.TypeFor[time.Duration]():    true,
	reflect.TypeFor[logrus.Level]():     true,
	reflect.TypeFor[mh.ATT]():           true,
	reflect.TypeFor[MNIDSet]():          true,
	reflect.TypeFor[ReregisterBefore](): true,
	reflect.TypeFor[net.HardwareAddr](): true,
}

// schemaFields returns the fields of struct t that are keys, in order:
// those with a mapstructure name, and those of embedded structs tagged
// ",squash" (their keys sit at t's level, as in ipsec.Settings).
func schemaFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		switch {
		case name == "" && opts == "squash" && f.Type.Kind() == reflect.Struct:
			out = append(out, schemaFields(f.Type)...)
		case name != "":
			out = append(out, f)
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (w *walker) walk(path string, t reflect.Type, v any) {
	if v == nil {
		return
	}
	if path != "" {
		w.present[path] = true
	}
	if leafTypes[t] {
		return
	}
	switch t.Kind() {
	case reflect.Pointer: // an optional section
		w.walk(path, t.Elem(), v)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			w.problems.add(path, "must be a mapping (got %s)", describe(v))
			return
		}
		fields := map[string]reflect.StructField{}
		var names []string
		for _, f := range schemaFields(t) {
			tag := f.Tag.Get("mapstructure")
			fields[tag] = f
			names = append(names, tag)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fields[strings.ToLower(k)]
			if !ok {
				reason := "unknown key"
				if s := suggest(strings.ToLower(k), names); s != "" {
					reason += fmt.Sprintf(" (did you mean %q?)", s)
				}
				w.problems.add(join(path, k), "%s", reason)
				continue
			}
			w.walk(join(path, f.Tag.Get("mapstructure")), f.Type, m[k])
		}
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			w.problems.add(path, "must be a list (got %s)", describe(v))
			return
		}
		for i, e := range l {
			w.walk(fmt.Sprintf("%s[%d]", path, i), t.Elem(), e)
		}
	}
}

// suggest returns the known name closest to k: within an edit distance of
// 2, or else one that k is a prefix of (or that is a prefix of k).
func suggest(k string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(k, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" || len(k) < 3 {
		return best
	}
	for _, n := range names {
		if strings.HasPrefix(n, k) || strings.HasPrefix(k, n) {
			return n
		}
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ---- value decoding ----

// reasonError is a decode-hook error whose text is the whole reason.
type reasonError struct{ reason string }

func (e *reasonError) Error() string { return e.reason }

func reasonf(format string, args ...any) error {
	return &reasonError{fmt.Sprintf(format, args...)}
}

// decodeHook turns YAML scalars into the typed fields, with errors that
// say what was expected.
func decodeHook(from, to reflect.Type, data any) (any, error) {
	if data == nil {
		return data, nil
	}
	switch to {
	case reflect.TypeFor[netip.Addr]():
		s, ok := data.(string)
		if !ok {
			return nil, reasonf("must be an IP address (got %s)", describe(data))
		}
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, reasonf("invalid IP address %q", s)
		}
		return a, nil
	case reflect.TypeFor[netip.Prefix]():
		s, ok := data.(string)
		if !ok {
			return nil, reasonf("must be a prefix such as 2001:db8::/48 (got %s)", describe(data))
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, reasonf("invalid prefix %q (want address/length, e.g. 2001:db8::/48)", s)
		}
		return p, nil
	case reflect.TypeFor[time.Duration]():
		switch x := data.(type) {
		case string:
			d, err := time.ParseDuration(strings.TrimSpace(x))
			if err != nil {
				return nil, reasonf(`invalid duration %q (want a Go duration such as "10s", "1.5s" or "300ms")`, x)
			}
			return d, nil
		case int:
			if x == 0 {
				return time.Duration(0), nil
			}
		}
		return nil, reasonf(`invalid duration %s (want a Go duration string such as "10s", "1.5s" or "300ms")`, describe(data))
	case reflect.TypeFor[logrus.Level]():
		s, ok := data.(string)
		if ok {
			if l, err := logrus.ParseLevel(s); err == nil {
				return l, nil
			}
		}
		return nil, reasonf("unknown log level %s (panic, fatal, error, warn, info, debug or trace)", describe(data))
	case reflect.TypeFor[mh.ATT]():
		switch x := data.(type) {
		case int:
			if x < 0 || x > 255 {
				return nil, reasonf("access technology type %d out of range (1-255)", x)
			}
			return mh.ATT(x), nil
		case string:
			a, err := ParseATT(x)
			if err != nil {
				return nil, reasonf("%s", err.Error())
			}
			return a, nil
		}
		return nil, reasonf("must be an access technology type name or number (got %s)", describe(data))
	case reflect.TypeFor[MNIDSet]():
		s, err := parseMNIDSet(data)
		if err != nil {
			return nil, reasonf("%s", err.Error())
		}
		return s, nil
	case reflect.TypeFor[ReregisterBefore]():
		r, err := parseReregisterBefore(data)
		if err != nil {
			return nil, reasonf("%s", err.Error())
		}
		return r, nil
	case reflect.TypeFor[net.HardwareAddr]():
		s, ok := data.(string)
		if !ok {
			return nil, reasonf("must be a MAC address such as 02:00:00:00:01:01 (got %s)", describe(data))
		}
		hw, err := net.ParseMAC(strings.TrimSpace(s))
		if err != nil || len(hw) != 6 {
			return nil, reasonf("invalid MAC address %q (want 6 octets, e.g. 02:00:00:00:01:01)", s)
		}
		return hw, nil
	}
	return data, nil
}

// decodeProblems turns mapstructure's joined errors into problems. Unknown
// keys ("has invalid keys") are skipped: the walker reported them with
// their full key.
func decodeProblems(err error) []Problem {
	var out []Problem
	var visit func(error)
	visit = func(e error) {
		var de *mapstructure.DecodeError
		if errors.As(e, &de) && de == e {
			inner := de.Unwrap()
			if strings.HasPrefix(inner.Error(), "has invalid keys") {
				return
			}
			out = append(out, Problem{Key: de.Name(), Reason: reason(inner)})
			return
		}
		switch x := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				visit(c)
			}
		case interface{ Unwrap() error }:
			visit(x.Unwrap())
		default:
			out = append(out, Problem{Key: "(file)", Reason: e.Error()})
		}
	}
	visit(err)
	return out
}

func reason(err error) string {
	var re *reasonError
	if errors.As(err, &re) {
		return re.reason
	}
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ue) {
		return fmt.Sprintf("must be %s (got %s)", kindName(ue.Expected.Type()), describe(ue.Value))
	}
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("must be %s (got %s)", kindName(pe.Expected.Type()), describe(pe.Value))
	}
	return err.Error()
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}
