package ipsec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secretHex = "deadbeefcafef00d0123456789abcdef"

// leaks reports whether s shows the secret in any usual rendering.
func leaks(s string) bool {
	low := strings.ToLower(s)
	if strings.Contains(low, secretHex[:8]) || strings.Contains(low, "de ad be ef") {
		return true
	}
	// %v of a []byte prints decimal octets: 222 173 190 239 ...
	return strings.Contains(s, "222 173 190 239") || strings.Contains(s, "0xde, 0xad")
}

func TestKeyRedacted(t *testing.T) {
	k := mustKey(t, secretHex)
	if k.Len() != 16 || !k.Equal(NewKey(hx(t, secretHex))) {
		t.Fatal("key not parsed")
	}
	type exported struct {
		Name string
		K    Key
	}
	type unexported struct {
		name string
		k    Key
	}
	sa, err := NewSA(SAParams{Name: "s", SPI: 0x1234, Direction: Outbound, Encryption: EncAESCBC128, EncryptionKey: k,
		Integrity: IntegHMACSHA256128, IntegrityKey: mustKey(t, secretHex+secretHex)})
	if err != nil {
		t.Fatal(err)
	}
	params := SAParams{Name: "p", EncryptionKey: k, IntegrityKey: k}
	values := map[string]any{
		"Key":                k,
		"*Key":               &k,
		"struct{K Key}":      exported{"x", k},
		"*struct{K Key}":     &exported{"x", k},
		"struct{k Key}":      unexported{"x", k},
		"SAParams":           params,
		"*SA":                sa,
		"[]Key":              []Key{k, k},
		"map[string]Key":     map[string]Key{"a": k},
		"struct{*SA}":        struct{ S *SA }{sa},
		"unexported *SA":     struct{ s *SA }{sa},
		"struct{p SAParams}": struct{ p SAParams }{params},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			out := fmt.Sprintf(verb, v)
			if leaks(out) {
				t.Errorf("%s with %s leaks the key: %s", name, verb, out)
			}
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		if got := fmt.Sprintf(verb, k); got != Redacted {
			t.Errorf("Key with %s = %q, want %q", verb, got, Redacted)
		}
	}
	if got := fmt.Sprintf("%+v", exported{"x", k}); got != "{Name:x K:<redacted>}" {
		t.Errorf("%%+v of a struct holding a Key: %s", got)
	}
	for name, v := range map[string]any{"Key": k, "SAParams": params, "*SA": sa, "struct": exported{"x", k}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if leaks(string(b)) {
			t.Errorf("JSON of %s leaks: %s", name, b)
		}
	}
	var back map[string]string
	if b, _ := json.Marshal(exported{"x", k}); json.Unmarshal(b, &back) != nil || back["K"] != Redacted {
		t.Errorf("JSON %s", b)
	}
	if b, _ := json.Marshal(sa); !bytes.Contains(b, []byte(`"spi":4660`)) || !bytes.Contains(b, []byte(`"encryption":"aes-cbc-128"`)) {
		t.Errorf("SA JSON lacks its parameters: %s", b)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("sa", "key", k, "params", params, "sa", sa)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("sa", "key", k, "params", params, "sa", sa)
	if leaks(buf.String()) || !strings.Contains(buf.String(), Redacted) {
		t.Errorf("slog output: %s", buf.String())
	}
}

func writeKey(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is masked by the umask
		t.Fatal(err)
	}
	return p
}

func TestLoadKeyFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string // "" = loads
	}{
		{"0600 plain", secretHex + "\n", 0o600, ""},
		{"0400 with 0x and separators", "0x" + "de:ad:be:ef cafe f00d\n0123456789abcdef\n", 0o400, ""},
		{"world-readable", secretHex, 0o644, "group or others"},
		{"group-readable", secretHex, 0o640, "group or others"},
		{"world-writable only", secretHex, 0o602, "group or others"},
		{"group-executable", secretHex, 0o610, "group or others"},
		{"not hex", "zz" + secretHex[2:], 0o600, "not hexadecimal"},
		{"odd digits", secretHex[:5], 0o600, "odd number"},
		{"empty", "\n", 0o600, "no key material"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeKey(t, dir, fmt.Sprintf("k%d", i), c.content, c.mode)
			k, err := LoadKeyFile(p)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !k.Equal(NewKey(hx(t, secretHex))) {
					t.Error("wrong key material")
				}
				return
			}
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || !strings.Contains(msg, p) {
				t.Errorf("error %q should contain %q and the file name", msg, c.want)
			}
			if leaks(msg) || strings.Contains(msg, secretHex[2:10]) {
				t.Errorf("error quotes key material: %s", msg)
			}
		})
	}
	t.Run("mode is named", func(t *testing.T) {
		p := writeKey(t, dir, "named", secretHex, 0o644)
		_, err := LoadKeyFile(p)
		if err == nil || !strings.Contains(err.Error(), "0644") {
			t.Errorf("error should name mode 0644: %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		d := filepath.Join(dir, "d")
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadKeyFile(d); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("directory: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := LoadKeyFile(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("missing: %v", err)
		}
	})
}
