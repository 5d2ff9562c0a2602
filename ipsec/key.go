package ipsec

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Redacted is what a Key prints and marshals as.
const Redacted = "<redacted>"

// Key is secret key material. It never shows its bytes: fmt (every verb,
// including %v, %+v, %#v, %x and %s), encoding/json, encoding.TextMarshaler
// and log/slog all give Redacted. The bytes are held by a closure, which
// reflection cannot look into, so even a struct that holds a Key in an
// unexported field (where fmt cannot call Format) prints a function
// address rather than the key.
type Key struct {
	get func() []byte
}

func keyOf(b []byte) Key { return Key{get: func() []byte { return b }} }

// NewKey copies b into a Key.
func NewKey(b []byte) Key { return keyOf(bytes.Clone(b)) }

// ParseHexKey parses hex key material: optional "0x" prefix, whitespace
// and ':' separators are ignored. Errors never quote the input.
func ParseHexKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r', ':':
		default:
			clean = append(clean, c)
		}
	}
	if len(clean) == 0 {
		return Key{}, fmt.Errorf("no key material")
	}
	if len(clean)%2 != 0 {
		return Key{}, fmt.Errorf("odd number of hex digits (%d)", len(clean))
	}
	b := make([]byte, len(clean)/2)
	if _, err := hex.Decode(b, clean); err != nil {
		// hex.InvalidByteError would quote a key character: do not wrap it.
		return Key{}, fmt.Errorf("not hexadecimal")
	}
	clear(clean)
	return keyOf(b), nil
}

// LoadKeyFile reads hex key material from path. It refuses a file that is
// not a regular file or whose mode gives any permission to group or others
// (mode & 0o077 != 0), naming the file and its mode; errors never contain
// key bytes.
func LoadKeyFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat() // the opened file, not a name that may change
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return Key{}, fmt.Errorf("key file %s: not a regular file (%s)", path, st.Mode().Type())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return Key{}, fmt.Errorf("key file %s: refused: mode %#o lets group or others access it; run chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	defer clear(data)
	k, err := ParseHexKey(string(data))
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %v", path, err)
	}
	return k, nil
}

// Len is the key length in octets.
func (k Key) Len() int { return len(k.bytes()) }

// IsZero reports whether k holds no material.
func (k Key) IsZero() bool { return k.Len() == 0 }

// bytes returns the material (not a copy): for this package's ciphers only.
func (k Key) bytes() []byte {
	if k.get == nil {
		return nil
	}
	return k.get()
}

// Equal reports whether k and o hold the same material.
func (k Key) Equal(o Key) bool { return bytes.Equal(k.bytes(), o.bytes()) }

// String returns Redacted.
func (Key) String() string { return Redacted }

// GoString returns Redacted.
func (Key) GoString() string { return Redacted }

// Format writes Redacted for every verb.
func (Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// MarshalJSON returns the JSON string "<redacted>".
func (Key) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns Redacted.
func (Key) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue returns Redacted for log/slog.
func (Key) LogValue() slog.Value { return slog.StringValue(Redacted) }
