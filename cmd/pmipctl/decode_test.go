package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture returns the path of a shared fixture (../shared from the module
// root, which is two levels up from this package).
func fixture(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "fixtures", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return p
}

// pmipctl runs the program with args and returns its exit status, stdout
// and stderr.
func pmipctl(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return rc, out.String(), errb.String()
}

// jsonLines decodes one JSON object per line.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// at walks a decoded JSON value: keys for objects, ints for arrays.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %T is not an object", path, v)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("at %v: no key %q in %v", path, k, m)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at %v: no element %d in %v", path, k, v)
			}
			v = a[k]
		}
	}
	return v
}

// optionOf returns the first option of the given type in a line's "mh".
func optionOf(t *testing.T, line map[string]any, typ float64) map[string]any {
	t.Helper()
	for _, o := range at(t, line, "mh", "options").([]any) {
		if om := o.(map[string]any); om["type"] == typ {
			return om
		}
	}
	t.Fatalf("frame %v has no option %v", line["frame"], typ)
	return nil
}

func TestDecodeJSONPBUPBA(t *testing.T) {
	path := fixture(t, "crafted/pbu_pba_scapy.pcap")
	rc, out, errOut := pmipctl("decode", path, "--json")
	if rc != exitOK {
		t.Fatalf("exit %d, stderr %s", rc, errOut)
	}
	if want := "pmipctl decode: " + path + ": 2 Mobility Headers: 2 decoded, 0 malformed\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	lines := jsonLines(t, out)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out)
	}
	pbu, pba := lines[0], lines[1]
	for _, c := range []struct {
		line map[string]any
		path []any
		want any
	}{
		{pbu, []any{"frame"}, 1.0},
		{pbu, []any{"transport"}, "ipv6"},
		{pbu, []any{"src"}, "2001:db8:100::2"},
		{pbu, []any{"dst"}, "2001:db8:100::1"},
		{pbu, []any{"mh", "type"}, 5.0},
		{pbu, []any{"mh", "type_name"}, "Binding Update"},
		{pbu, []any{"mh", "header_len"}, 9.0},
		{pbu, []any{"mh", "length"}, 80.0},
		{pbu, []any{"mh", "quirks"}, "none"},
		{pbu, []any{"mh", "fields", "sequence"}, 4660.0},
		{pbu, []any{"mh", "fields", "flags"}, float64(0x8200)}, // A and P
		{pbu, []any{"mh", "fields", "lifetime"}, 900.0},
		{pbu, []any{"mh", "options", 0, "offset"}, 12.0},
		{pbu, []any{"mh", "options", 0, "name"}, "Mobile Node Identifier"},
		{pbu, []any{"mh", "options", 0, "fields", "identifier_text"}, "mn1@example.net"},
		{pbu, []any{"mh", "options", 1, "type"}, 1.0}, // PadN before the HNP (8n+4)
		{pbu, []any{"mh", "options", 1, "offset"}, 30.0},
		{pba, []any{"frame"}, 2.0},
		{pba, []any{"src"}, "2001:db8:100::1"},
		{pba, []any{"mh", "type"}, 6.0},
		{pba, []any{"mh", "fields", "status"}, 0.0},
		{pba, []any{"mh", "fields", "status_name"}, "Binding Update accepted"},
		{pba, []any{"mh", "fields", "flags"}, 32.0}, // P
	} {
		if got := at(t, c.line, c.path...); got != c.want {
			t.Errorf("frame %v %v = %v, want %v", c.line["frame"], c.path, got, c.want)
		}
	}
	for _, l := range lines {
		hnp := optionOf(t, l, 22)
		if hnp["offset"] != 36.0 || at(t, hnp, "fields", "prefix") != "2001:db8:1::" || at(t, hnp, "fields", "prefix_length") != 64.0 {
			t.Errorf("frame %v HNP = %v, want 2001:db8:1::/64 at offset 36", l["frame"], hnp)
		}
		ts := optionOf(t, l, 27)
		if ts["offset"] != 66.0 || at(t, ts, "fields", "time") != "2023-11-14T22:13:20.5Z" {
			t.Errorf("frame %v Timestamp = %v", l["frame"], ts)
		}
		if _, bad := l["error"]; bad {
			t.Errorf("frame %v has an error: %v", l["frame"], l["error"])
		}
		if tm, _ := l["time"].(string); !strings.HasPrefix(tm, "2026-11-26T21:35:00.") || !strings.HasSuffix(tm, "Z") {
			t.Errorf("frame %v time = %v", l["frame"], l["time"])
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	path := fixture(t, "tcpdump/mobility_opt_asan.pcap")
	rc, out, errOut := pmipctl("decode", "--json", path)
	if rc != exitOK {
		t.Fatalf("exit %d (a readable file with malformed messages is not a failure), stderr %s", rc, errOut)
	}
	if want := "pmipctl decode: " + path + ": 2 Mobility Headers: 0 decoded, 2 malformed\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	lines := jsonLines(t, out)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out)
	}
	l := lines[0]
	for k, want := range map[string]any{
		"frame":     1.0,
		"transport": "ipv6-nh62",
		"truncated": true,
		"error":     "mh: Binding Update: Header Len: says 160 octets, only 46 present",
		"hex":       "021305008000007480570f80000200040000000000cc010000fa0000fa0000640c0600f65c225f00000001000000",
	} {
		if l[k] != want {
			t.Errorf("frame 1 %s = %v, want %v", k, l[k], want)
		}
	}
	if _, ok := l["mh"]; ok {
		t.Errorf("malformed frame has an mh object: %v", l["mh"])
	}
	if got := lines[1]["error"]; got != "mh: Binding Update: Header Len: says 128 octets, only 46 present" {
		t.Errorf("frame 2 error = %v", got)
	}

	// In legacy mode frame 1 is accepted (Header Len too long, options
	// kept raw) and frame 2 fails on an option, whose offset is given.
	rc, out, errOut = pmipctl("decode", "--json", "--legacy", path)
	if rc != exitOK || !strings.HasSuffix(errOut, ": 2 Mobility Headers: 1 decoded, 1 malformed\n") {
		t.Fatalf("legacy: exit %d, stderr %q", rc, errOut)
	}
	lines = jsonLines(t, out)
	// (malformed-option follows when the codec has a typed form of the
	// Binding Refresh Advice or Nonce Indices that rejects Length 0)
	if q, _ := at(t, lines[0], "mh", "quirks").(string); !strings.HasPrefix(q, "header-len-too-long") {
		t.Errorf("legacy frame 1 quirks = %v", q)
	}
	opts := at(t, lines[0], "mh", "options").([]any)
	if o := opts[0].(map[string]any); o["offset"] != 12.0 || o["type"] != 0.0 || o["length"] != nil {
		t.Errorf("legacy frame 1 option 0 = %v, want Pad1 (no length) at offset 12", o)
	}
	if o := opts[1].(map[string]any); o["offset"] != 13.0 || o["type"] != 2.0 || o["raw"] != true || o["length"] != 0.0 {
		t.Errorf("legacy frame 1 option 1 = %v, want raw type 2 at offset 13", o)
	}
	if o := opts[len(opts)-1].(map[string]any); o["offset"] != 45.0 || o["type"] != 0.0 {
		t.Errorf("legacy frame 1 last option = %v, want Pad1 at offset 45 (the 46th octet)", o)
	}
	if e, off := lines[1]["error"], lines[1]["error_offset"]; off != 24.0 ||
		e != "mh: option PadN at offset 24: mh: invalid length: Length 238 runs 218 octets past the end of the message" {
		t.Errorf("legacy frame 2 error %v at %v", e, off)
	}

	// The text form says the same.
	rc, out, _ = pmipctl("decode", path)
	if rc != exitOK {
		t.Fatalf("text: exit %d", rc)
	}
	first, _, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(first, "#1 ") || !strings.HasSuffix(first, " (truncated) ERROR mh: Binding Update: Header Len: says 160 octets, only 46 present") {
		t.Errorf("text line 1 = %q", first)
	}
}

// The clean tcpdump capture (BRR, HoTI, CoTI, HoT, CoT, BU, BA, BE) decodes without error.
func TestDecodeCleanTcpdump(t *testing.T) {
	path := fixture(t, "tcpdump/ipv6_mobility_1.pcap")
	rc, out, _ := pmipctl("decode", "--json", path)
	if rc != exitOK {
		t.Fatalf("exit %d", rc)
	}
	lines := jsonLines(t, out)
	if len(lines) != 16 {
		t.Fatalf("%d lines, want 16", len(lines))
	}
	for _, l := range lines {
		if e, bad := l["error"]; bad {
			t.Errorf("frame %v of the clean tcpdump capture: %v", l["frame"], e)
		}
	}
}

func TestDecodeTextPBU(t *testing.T) {
	rc, out, _ := pmipctl("decode", fixture(t, "crafted/pbu_pba_scapy.pcap"))
	if rc != exitOK {
		t.Fatalf("exit %d", rc)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for _, want := range []string{
		"#1 2026-11-26T21:35:00.",
		" ipv6 2001:db8:100::2 > 2001:db8:100::1 Binding Update (type 5, 80 octets) sequence=4660 flags=33280 lifetime=900",
		` | Mobile Node Identifier subtype=1(NAI) identifier="mn1@example.net" | Home Network Prefix prefix_length=64 prefix=2001:db8:1:: |`,
		" | Handoff Indicator value=1(Attachment over a new interface) |",
	} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line 1 lacks %q:\n%s", want, lines[0])
		}
	}
	if strings.Contains(lines[0], "PadN") {
		t.Errorf("text line shows padding: %s", lines[0])
	}
	if !strings.Contains(lines[1], "Binding Acknowledgement (type 6, 80 octets) status=0(Binding Update accepted) flags=32") {
		t.Errorf("line 2: %s", lines[1])
	}
}

// OAI's messages are rejected in strict mode and accepted with --legacy,
// which reports the quirks.
func TestDecodeLegacy(t *testing.T) {
	path := fixture(t, "peers/live_oai_pmip6d_nsrun.pcap")
	rc, out, errOut := pmipctl("decode", "--json", path)
	if rc != exitOK || !strings.HasSuffix(errOut, ": 8 Mobility Headers: 0 decoded, 8 malformed\n") {
		t.Fatalf("strict: exit %d, stderr %q", rc, errOut)
	}
	if e := jsonLines(t, out)[0]["error"]; e != "mh: Binding Update: Header Len: says 80 octets but 84 follow with Payload Proto 59" {
		t.Errorf("strict error = %v", e)
	}
	rc, out, errOut = pmipctl("decode", path, "--json", "--legacy")
	if rc != exitOK || !strings.HasSuffix(errOut, ": 8 Mobility Headers: 8 decoded, 0 malformed\n") {
		t.Fatalf("legacy: exit %d, stderr %q", rc, errOut)
	}
	l := jsonLines(t, out)[0]
	if q := at(t, l, "mh", "quirks"); q != "header-len-too-short,unaligned-length" {
		t.Errorf("legacy quirks = %v", q)
	}
	if ty := at(t, l, "mh", "type"); ty != 5.0 {
		t.Errorf("legacy type = %v", ty)
	}
}

// A capture cut in the middle of a packet: what was read is printed, and
// the file counts as unreadable.
func TestDecodeCutCapture(t *testing.T) {
	data, err := os.ReadFile(fixture(t, "crafted/pbu_pba_scapy.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	rc, out, errOut := pmipctl("decode", "--json", cut)
	if rc != exitFail {
		t.Errorf("exit %d, want %d", rc, exitFail)
	}
	lines := jsonLines(t, out)
	if len(lines) != 1 || lines[0]["frame"] != 1.0 || at(t, lines[0], "mh", "type") != 5.0 {
		t.Errorf("output = %s", out)
	}
	if !strings.Contains(errOut, "1 Mobility Headers: 1 decoded, 0 malformed") || !strings.Contains(errOut, "packet 2") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestExitStatus(t *testing.T) {
	notPcap := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(notPcap, []byte("not a capture at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	pcap := fixture(t, "crafted/pbu_pba_scapy.pcap")
	for _, tc := range []struct {
		name      string
		args      []string
		rc        int
		errSubstr string
	}{
		{"no command", nil, exitUsage, "usage: pmipctl <command>"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"help", []string{"help"}, exitOK, ""},
		{"help decode", []string{"help", "decode"}, exitOK, ""},
		{"help unknown", []string{"help", "nope"}, exitUsage, "unknown command"},
		{"decode no file", []string{"decode"}, exitUsage, "no capture file given"},
		{"decode two files", []string{"decode", pcap, pcap}, exitUsage, "one capture file expected"},
		{"decode bad flag", []string{"decode", "--yaml", pcap}, exitUsage, "flag provided but not defined: -yaml"},
		{"decode -h", []string{"decode", "-h"}, exitOK, "-legacy"},
		{"decode missing file", []string{"decode", filepath.Join(t.TempDir(), "none.pcap")}, exitFail, "no such file"},
		{"decode not a capture", []string{"decode", notPcap}, exitFail, "not a pcap or pcapng capture"},
		{"decode flags after --", []string{"decode", "--json", "--", pcap}, exitOK, "2 decoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, _, errOut := pmipctl(tc.args...)
			if rc != tc.rc {
				t.Errorf("exit %d, want %d (stderr %q)", rc, tc.rc, errOut)
			}
			if !strings.Contains(errOut, tc.errSubstr) {
				t.Errorf("stderr %q lacks %q", errOut, tc.errSubstr)
			}
		})
	}
	// help lists decode on stdout.
	if _, out, _ := pmipctl("help"); !strings.Contains(out, "  decode ") {
		t.Errorf("help output lacks decode:\n%s", out)
	}
	if _, out, _ := pmipctl("help", "decode"); !strings.Contains(out, "usage: pmipctl decode FILE.pcap [--json] [--legacy]") || !strings.Contains(out, "-json") {
		t.Errorf("help decode:\n%s", out)
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		json bool
	}{
		{[]string{"a.pcap"}, []string{"a.pcap"}, false},
		{[]string{"--json", "a.pcap"}, []string{"a.pcap"}, true},
		{[]string{"a.pcap", "--json"}, []string{"a.pcap"}, true},
		{[]string{"a.pcap", "-json=false", "b"}, []string{"a.pcap", "b"}, false},
		{[]string{"--", "--json"}, []string{"--json"}, false},
		{[]string{"-json", "--", "-x", "y"}, []string{"-x", "y"}, true},
		{[]string{"-"}, []string{"-"}, false},
	} {
		fs := newFlagSet(decodeCmd, &bytes.Buffer{})
		j := fs.Bool("json", false, "")
		pos, err := parseArgs(fs, tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if strings.Join(pos, "|") != strings.Join(tc.pos, "|") || *j != tc.json {
			t.Errorf("%q: pos %q json %v, want %q %v", tc.args, pos, *j, tc.pos, tc.json)
		}
	}
}
