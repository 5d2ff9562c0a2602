// Package wireshark holds the Wireshark/tshark Lua plugin pmipdmm.lua (see
// README.md) and its tests: they run Debian 12's tshark 4.0 with the plugin
// over pcaps and assert exact field values.
package wireshark

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/internal/testdeps"
)

// sharedFixtures is /work/shared/fixtures seen from this package
// (module root ../.., shared reference data beside the module root).
const sharedFixtures = "../../../shared/fixtures"

// corpusDir is the project's fixture corpus (cmd/mhfixtures).
const corpusDir = "../fixtures"

func pluginPath(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("pmipdmm.lua")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// runTshark runs tshark with args (the plugin is added when withPlugin)
// and returns stdout. A Lua error on stderr fails the test.
func runTshark(t testing.TB, withPlugin bool, args ...string) string {
	t.Helper()
	bin := testdeps.Ensure(t, "tshark", "tshark")
	full := []string{"-n"}
	if len(args) > 0 && args[0] == "-G" { // -G must come first
		full, args = args[:2], args[2:]
	}
	if withPlugin {
		full = append(full, "-X", "lua_script:"+pluginPath(t))
	}
	full = append(full, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v\nstderr:\n%s", strings.Join(full, " "), err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "Lua") || strings.Contains(line, "lua_script") || strings.Contains(strings.ToLower(line), "error") {
			t.Fatalf("tshark %s: stderr: %s", strings.Join(full, " "), stderr.String())
		}
	}
	return stdout.String()
}

// fieldsOf runs tshark -T fields over pcap and returns one map per frame
// (field -> value, occurrences joined with "|").
func fieldsOf(t testing.TB, pcap string, prefs []string, fields []string) []map[string]string {
	t.Helper()
	args := []string{"-r", pcap}
	for _, p := range prefs {
		args = append(args, "-o", p)
	}
	args = append(args, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|", "-E", "quote=n")
	all := append([]string{"frame.number"}, fields...)
	for _, f := range all {
		args = append(args, "-e", f)
	}
	out := runTshark(t, true, args...)
	var rows []map[string]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != len(all) {
			t.Fatalf("tshark fields: %d columns, want %d: %q", len(cols), len(all), line)
		}
		m := map[string]string{}
		for i, f := range all {
			m[f] = cols[i]
		}
		rows = append(rows, m)
	}
	return rows
}

// hexBytes decodes annotated hex: "//" starts a comment, whitespace is
// ignored.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

var (
	srcV6 = netip.MustParseAddr("2001:db8:ff::1")
	dstV6 = netip.MustParseAddr("2001:db8:ff::2")
	srcV4 = netip.MustParseAddr("192.0.2.1")
	dstV4 = netip.MustParseAddr("192.0.2.2")
)

// ipv6Packet wraps a Mobility Header in an IPv6 header (Next Header 135).
func ipv6Packet(mh []byte) []byte {
	b := make([]byte, 40, 40+len(mh))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(mh)))
	b[6], b[7] = 135, 64
	s, d := srcV6.As16(), dstV6.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, mh...)
}

// udp4Packet wraps a Mobility Header in IPv4/UDP 5436 (RFC 5844 §4).
func udp4Packet(mh []byte) []byte {
	b := make([]byte, 28, 28+len(mh))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(28+len(mh)))
	b[8], b[9] = 64, 17
	s, d := srcV4.As4(), dstV4.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(b[20:], 5436)
	binary.BigEndian.PutUint16(b[22:], 5436)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(mh)))
	return append(b, mh...) // UDP checksum 0: none
}

// writePcap writes raw-IP packets (link type 101) to a temporary pcap.
func writePcap(t testing.TB, pkts [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synthetic.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcapio.NewWriter(f, pcapio.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, p := range pkts {
		if err := w.WritePacket(ts.Add(time.Duration(i)*time.Millisecond), p); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestPluginRegistersFields(t *testing.T) {
	out := runTshark(t, true, "-G", "fields")
	for _, f := range []string{
		"pmipdmm.upn.reason", "pmipdmm.upn.seq", "pmipdmm.upa.status", "pmipdmm.fb.type",
		"pmipdmm.sq.seq", "pmipdmm.sr.i_flag", "pmipdmm.opt.prev_maar.addr",
		"pmipdmm.opt.prev_maar.prefix", "pmipdmm.opt.serving_maar.addr",
		"pmipdmm.opt.anchored_prefix.prefix", "pmipdmm.opt.local_prefix.prefix",
		"pmipdmm.opt.dlif_lla.addr", "pmipdmm.opt.dlif_l2.addr", "pmipdmm.opt.lma_upa.ipv6",
		"pmipdmm.dmm.type", "pmipdmm.opt.rl.current_mr", "pmipdmm.opt.lq.addr",
		"pmipdmm.opt.mc.last_timestamp", "pmipdmm.opt.len.invalid", "pmipdmm.opt.overrun",
	} {
		if !strings.Contains(out, "\t"+f+"\t") {
			t.Errorf("tshark -G fields with the plugin lacks %s", f)
		}
	}
	// And without the plugin tshark has none of them (the plugin adds, it
	// does not rename).
	if out := runTshark(t, false, "-G", "fields"); strings.Contains(out, "\tpmipdmm.") {
		t.Errorf("tshark without the plugin already knows pmipdmm fields")
	}
}

// TestCraftedUnknown: the shared crafted capture with MH type 19 and option
// 67, which plain tshark shows as "Unknown".
func TestCraftedUnknown(t *testing.T) {
	pcap := filepath.Join(sharedFixtures, "crafted", "mh_unknown.pcap")
	rows := fieldsOf(t, pcap, nil, []string{
		"mip6.mhtype", "mip6.bu.seqnr", "mip6.mnid.identifier",
		"pmipdmm.opt.type", "pmipdmm.opt.len", "pmipdmm.opt.offset",
		"pmipdmm.opt.prev_maar.reserved", "pmipdmm.opt.prev_maar.plen",
		"pmipdmm.opt.prev_maar.addr", "pmipdmm.opt.prev_maar.prefix", "pmipdmm.opt.misaligned",
		"pmipdmm.mhtype", "pmipdmm.hdrlen", "pmipdmm.csum",
		"pmipdmm.upn.seq", "pmipdmm.upn.reason", "pmipdmm.upn.flags", "pmipdmm.upn.a_flag",
		"pmipdmm.upn.d_flag", "_ws.lua.error", "_ws.malformed",
	})
	want := []map[string]string{
		{ // PBU (tshark's own) carrying Previous MAAR at offset 30
			"frame.number": "1", "mip6.mhtype": "5", "mip6.bu.seqnr": "1",
			"mip6.mnid.identifier": "mn1@example.net",
			"pmipdmm.opt.type":     "67", "pmipdmm.opt.len": "34", "pmipdmm.opt.offset": "30",
			"pmipdmm.opt.prev_maar.reserved": "0x00", "pmipdmm.opt.prev_maar.plen": "64",
			"pmipdmm.opt.prev_maar.addr": "2001:db8::a1", "pmipdmm.opt.prev_maar.prefix": "2001:db8:1::",
			// 30 is 8n+6, RFC 8885 §4.5 wants 8n+4: this capture is misaligned.
			"pmipdmm.opt.misaligned": "*",
			"pmipdmm.mhtype":         "", "pmipdmm.upn.seq": "",
		},
		{ // UPN (type 19) with an MN-ID decoded by tshark's option dissector
			"frame.number": "2", "mip6.mhtype": "", "mip6.mnid.identifier": "mn1@example.net",
			"pmipdmm.mhtype": "19", "pmipdmm.hdrlen": "3", "pmipdmm.csum": "0xb6b0",
			"pmipdmm.upn.seq": "1", "pmipdmm.upn.reason": "1", "pmipdmm.upn.flags": "0x0000",
			"pmipdmm.upn.a_flag": "0", "pmipdmm.upn.d_flag": "0",
			"pmipdmm.opt.type": "", "pmipdmm.opt.misaligned": "",
		},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d frames, want %d", len(rows), len(want))
	}
	for i, w := range want {
		checkRow(t, fmt.Sprintf("frame %d", i+1), rows[i], w)
		if rows[i]["_ws.lua.error"] != "" || rows[i]["_ws.malformed"] != "" {
			t.Errorf("frame %d: Lua error or malformed: %v", i+1, rows[i])
		}
	}
}

// checkRow compares the wanted fields ("*": present with any value).
func checkRow(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok := got[k]
		if !ok {
			t.Fatalf("%s: field %s not requested", what, k)
		}
		w := want[k]
		if w == "*" {
			if g == "" {
				t.Errorf("%s: %s absent, want present", what, k)
			}
			continue
		}
		if g != w {
			t.Errorf("%s: %s = %q, want %q", what, k, g, w)
		}
	}
}

// synthCase is one hand-built Mobility Header and what tshark with the
// plugin must show for it.
type synthCase struct {
	name string
	udp  bool   // IPv4/UDP 5436 instead of IPv6 Next Header 135
	mh   string // annotated hex
	want map[string]string
	// experts: substrings of the expert messages the packet must carry;
	// every expert message of the packet must match one of them.
	experts []string
}

// Options of RFC 8885 inside a tshark-known PBA, each at its alignment.
const pbaDMMOptions = `
	3b 13 06 00 0000      // Payload Proto 59, Header Len 19 (160 octets), MH Type 6 PBA, Reserved, Checksum
	00 22 0011 0064       // Status 0, Flags P|D, Sequence 17, Lifetime 100
	41 12 00 40 20010db8000100000000000000000000  // @12 Anchored Prefix (65), Len 18, Res, /64, 2001:db8:1::
	01 02 0000                                     // @32 PadN 4
	42 12 00 38 20010db8aaaa00000000000000000000  // @36 Local Prefix (66), Len 18, Res, /56, 2001:db8:aaaa::
	01 02 0000                                     // @56 PadN 4
	43 22 00 40 20010db800ff00000000000000000002  // @60 Previous MAAR (67), Len 34, Res, /64, P-MAAR 2001:db8:ff::2
	            20010db8000100010000000000000000  //     HNP 2001:db8:1:1::
	01 04 00000000                                 // @96 PadN 6
	44 10 20010db800ff00000000000000000003        // @102 Serving MAAR (68), Len 16, 2001:db8:ff::3
	01 04 00000000                                 // @120 PadN 6
	45 10 fe8000000000000000000000000000aa        // @126 DLIF Link-Local Address (69), Len 16, fe80::aa
	46 08 0000 02000000aa01                        // @144 DLIF Link-Layer Address (70), Len 8, Res, 02:00:00:00:aa:01
	01 04 00000000                                 // @154 PadN 6 -> 160
`

var synthCases = []synthCase{
	{
		name: "upn-a-d-lma-upa-ipv6",
		mh: `
			3b 04 13 00 1234   // Payload Proto 59, Header Len 4 (40 octets), MH Type 19 UPN, Reserved, Checksum
			0021               // Sequence 33
			0002               // Notification Reason 2 UPDATE-SESSION-PARAMETERS
			c000               // A|D, Reserved 0
			01 04 00000000     // @12 PadN 6
			3b 12 0000 20010db8000000000000000000ff0001  // @18 LMA User-Plane Address (59), Len 18, Res, 2001:db8::ff:1
			01 00              // @38 PadN 2
		`,
		want: map[string]string{
			"pmipdmm.mhtype": "19", "pmipdmm.hdrlen": "4", "pmipdmm.proto": "59", "pmipdmm.csum": "0x1234",
			"pmipdmm.upn.seq": "33", "pmipdmm.upn.reason": "2", "pmipdmm.upn.flags": "0xc000",
			"pmipdmm.upn.a_flag": "1", "pmipdmm.upn.d_flag": "1", "pmipdmm.upn.reserved": "0x0000",
			"pmipdmm.opt.type": "59", "pmipdmm.opt.len": "18", "pmipdmm.opt.offset": "18",
			"pmipdmm.opt.lma_upa.reserved": "0x0000", "pmipdmm.opt.lma_upa.ipv6": "2001:db8::ff:1",
			"pmipdmm.opt.lma_upa.ipv4": "", "pmipdmm.opt.padn": "*",
		},
	},
	{
		name: "upa-failed-lma-upa-ipv4",
		mh: `
			3b 03 14 00 0000   // Header Len 3 (32 octets), MH Type 20 UPA
			0021               // Sequence 33
			80                 // Status 128 FAILED-TO-UPDATE-SESSION-PARAMETERS
			000000             // Reserved
			01 04 00000000     // @12 PadN 6
			3b 06 0000 c0000201 // @18 LMA User-Plane Address (59), Len 6, Res, 192.0.2.1
			01 04 00000000     // @26 PadN 6
		`,
		want: map[string]string{
			"pmipdmm.mhtype": "20", "pmipdmm.upa.seq": "33", "pmipdmm.upa.status": "128",
			"pmipdmm.upa.reserved": "0x000000", "pmipdmm.opt.type": "59", "pmipdmm.opt.len": "6",
			"pmipdmm.opt.lma_upa.ipv4": "192.0.2.1", "pmipdmm.opt.lma_upa.ipv6": "",
		},
	},
	{
		name: "flow-binding-indication",
		mh: `
			3b 01 15 00 0000   // Header Len 1 (16 octets), MH Type 21 Flow Binding
			0001               // FB Type 1 Indication
			0005               // Sequence 5
			02                 // Trigger 2 Administrative Reason
			80                 // A
			01 02 0000         // @12 PadN 4
		`,
		want: map[string]string{
			"pmipdmm.mhtype": "21", "pmipdmm.fb.type": "1", "pmipdmm.fb.seq": "5",
			"pmipdmm.fb.trigger": "2", "pmipdmm.fb.status": "", "pmipdmm.fb.a_flag": "1",
		},
	},
	{
		name: "flow-binding-ack",
		mh: `
			3b 01 15 00 0000   // MH Type 21 Flow Binding
			0002 0005          // FB Type 2 Acknowledgement, Sequence 5
			81 00              // Status 129 Action NOT Authorized, Reserved
			01 02 0000         // PadN 4
		`,
		want: map[string]string{
			"pmipdmm.fb.type": "2", "pmipdmm.fb.status": "129", "pmipdmm.fb.trigger": "",
			"pmipdmm.fb.a_flag": "0",
		},
	},
	{
		name: "subscription-query",
		mh: `
			3b 00 16 00 0000   // Header Len 0 (8 octets), MH Type 22 Subscription Query
			07 00              // Sequence 7 (8 bits), Reserved
		`,
		want: map[string]string{"pmipdmm.mhtype": "22", "pmipdmm.sq.seq": "7", "pmipdmm.sq.reserved": "0x00"},
	},
	{
		name: "subscription-response",
		mh: `
			3b 00 17 00 0000   // MH Type 23 Subscription Response
			07 80              // Sequence 7, I flag
		`,
		want: map[string]string{"pmipdmm.mhtype": "23", "pmipdmm.sr.seq": "7", "pmipdmm.sr.i_flag": "1"},
	},
	{
		name: "pba-rfc8885-options",
		mh:   pbaDMMOptions,
		want: map[string]string{
			// tshark's own message fields are there, our header is not.
			"mip6.mhtype": "6", "mip6.ba.seqnr": "17", "mip6.ba.p_flag": "1", "pmipdmm.mhtype": "",
			"pmipdmm.opt.type":                   "65|66|67|68|69|70",
			"pmipdmm.opt.offset":                 "12|36|60|102|126|144",
			"pmipdmm.opt.len":                    "18|18|34|16|16|8",
			"pmipdmm.opt.anchored_prefix.plen":   "64",
			"pmipdmm.opt.anchored_prefix.prefix": "2001:db8:1::",
			"pmipdmm.opt.local_prefix.plen":      "56",
			"pmipdmm.opt.local_prefix.prefix":    "2001:db8:aaaa::",
			"pmipdmm.opt.prev_maar.plen":         "64",
			"pmipdmm.opt.prev_maar.addr":         "2001:db8:ff::2",
			"pmipdmm.opt.prev_maar.prefix":       "2001:db8:1:1::",
			"pmipdmm.opt.serving_maar.addr":      "2001:db8:ff::3",
			"pmipdmm.opt.dlif_lla.addr":          "fe80::aa",
			"pmipdmm.opt.dlif_l2.reserved":       "0x0000",
			"pmipdmm.opt.dlif_l2.addr":           "02000000aa01",
			"pmipdmm.opt.misaligned":             "",
		},
	},
	{
		name: "pbu-raw-and-malformed-options",
		mh: `
			3b 05 05 00 0000   // Header Len 5 (48 octets), MH Type 5 BU
			0001 8210 0064     // Sequence 1, Flags A|P|D, Lifetime 100
			35 04 deadbeef     // @12 IPv4 Traffic Offload Selector (53), Len 4: named, raw
			46 01 00           // @18 DLIF Link-Layer Address (70), Len 1: too short (at least 2)
			43 14 00 40 20010db8000000000000000000000001 0000  // @21 Previous MAAR (67), Len 20: should be 34; misaligned
			01 03 000000       // @43 PadN 5
		`,
		want: map[string]string{
			"mip6.bu.seqnr":              "1",
			"pmipdmm.opt.type":           "53|70|67",
			"pmipdmm.opt.offset":         "12|18|21",
			"pmipdmm.opt.data":           "deadbeef|00|004020010db80000000000000000000000010000",
			"pmipdmm.opt.len.invalid":    "*",
			"pmipdmm.opt.prev_maar.addr": "",
		},
		experts: []string{
			"Option data not decoded",
			"DLIF Link-Layer Address: Length 1, expected at least 2",
			"Previous MAAR: Length 20, expected 34",
			"Previous MAAR needs alignment 8n+4, found at offset 21",
		},
	},
	{
		name: "upn-option-overrun",
		mh: `
			3b 01 13 00 0000   // Header Len 1 (16 octets), MH Type 19 UPN
			0001 0001 0000     // Sequence 1, Reason 1, no flags
			43 22 0000         // @12 Previous MAAR, Len 34: runs past the end
		`,
		want: map[string]string{
			"pmipdmm.upn.seq": "1", "pmipdmm.opt.type": "67", "pmipdmm.opt.overrun": "*",
		},
		experts: []string{"Option Previous MAAR: Length 34 runs past the end of the Mobility Header (2 octets left)"},
	},
	{
		name: "upn-header-len-short",
		mh: `
			3b 00 13 00 0000   // Header Len 0 (8 octets) but 12 sent and needed
			0009 0001 8000     // Sequence 9, Reason 1, A
		`,
		want: map[string]string{
			"pmipdmm.upn.seq": "9", "pmipdmm.hdrlen.short": "*", "pmipdmm.hdrlen.mismatch": "*",
		},
		experts: []string{
			"Header length says 8 octets, 12 follow",
			"Header length gives 8 octets, Update Notification needs at least 12",
		},
	},
	{
		name: "upn-over-udp5436",
		udp:  true,
		mh: `
			3b 01 13 00 0000   // MH Type 19 UPN over IPv4 UDP 5436, checksum 0
			0002 0001 8000     // Sequence 2, Reason 1, A
			01 02 0000         // PadN 4
		`,
		want: map[string]string{
			"udp.dstport": "5436", "pmipdmm.mhtype": "19", "pmipdmm.upn.seq": "2", "pmipdmm.upn.a_flag": "1",
		},
	},
	{
		name: "dmm-location-query-prefix",
		mh: `
			3b 03 0b 00 0000   // Header Len 3 (32 octets), MH Type 11 (DMM carrier)
			01 00 0007 0000    // DMM Type 1 Location Query, Reserved, Sequence 7, Flags 0
			f0 12              // @12 Location Query option (240), Len 18
			02 40              // Query Type 2 prefix, Qualifier /64
			20010db8000100000000000000000000  // 2001:db8:1::
		`,
		want: map[string]string{
			"mip6.mhtype": "", "pmipdmm.mhtype": "11", "pmipdmm.dmm.type": "1",
			"pmipdmm.dmm.reserved": "0x00", "pmipdmm.dmm.status": "", "pmipdmm.dmm.seq": "7",
			"pmipdmm.opt.type": "240", "pmipdmm.opt.lq.type": "2", "pmipdmm.opt.lq.plen": "64",
			"pmipdmm.opt.lq.addr": "2001:db8:1::",
		},
	},
	{
		name: "dmm-location-query-mnid",
		mh: `
			3b 03 0b 00 0000   // MH Type 11
			01 00 0008 0000    // Location Query, Sequence 8
			f0 11 03 01        // @12 Location Query (240), Len 17, Query Type 3 MN-ID, subtype 1 NAI
			6d6e31406578616d706c652e6e6574  // "mn1@example.net"
			00                 // @31 Pad1
		`,
		want: map[string]string{
			"pmipdmm.dmm.type": "1", "pmipdmm.opt.lq.type": "3", "pmipdmm.opt.lq.mnid_subtype": "1",
			"pmipdmm.opt.lq.mnid": "6d6e31406578616d706c652e6e6574", "pmipdmm.opt.lq.mnid_text": "mn1@example.net",
			"pmipdmm.opt.lq.plen": "", "pmipdmm.opt.pad1": "*",
		},
	},
	{
		name: "dmm-location-reply-two-locations",
		mh: `
			3b 0f 0b 00 0000   // Header Len 15 (128 octets), MH Type 11
			02 00 0007 0000    // DMM Type 2 Location Reply, Status 0, Sequence 7, Flags 0
			f1 36 80 40        // @12 Routing Location (241), Len 54, Flags F, /64
			20010db8000100000000000000000000  // prefix 2001:db8:1::
			20010db8000000000000000000000011  // anchor MR 2001:db8::11
			20010db8000000000000000000000012  // current MR 2001:db8::12
			00000e10           // lifetime 3600
			f1 36 00 30        // @68 Routing Location, Len 54, no flags, /48
			20010db8000200000000000000000000  // 2001:db8:2::
			20010db8000000000000000000000021  // 2001:db8::21
			20010db8000000000000000000000012  // 2001:db8::12
			0000003c           // 60
			01 02 0000         // @124 PadN 4
		`,
		want: map[string]string{
			"pmipdmm.dmm.type": "2", "pmipdmm.dmm.status": "0", "pmipdmm.dmm.reserved": "",
			"pmipdmm.opt.type": "241|241", "pmipdmm.opt.offset": "12|68",
			"pmipdmm.opt.rl.flags": "0x80|0x00", "pmipdmm.opt.rl.f_flag": "1|0",
			"pmipdmm.opt.rl.plen": "64|48", "pmipdmm.opt.rl.prefix": "2001:db8:1::|2001:db8:2::",
			"pmipdmm.opt.rl.anchor_mr":  "2001:db8::11|2001:db8::21",
			"pmipdmm.opt.rl.current_mr": "2001:db8::12|2001:db8::12",
			"pmipdmm.opt.rl.lifetime":   "3600|60",
		},
	},
	{
		name: "dmm-redirect-ack-requested",
		mh: `
			3b 08 0b 00 0000   // Header Len 8 (72 octets), MH Type 11
			03 00 0009 8000    // DMM Type 3 Redirect, Reserved, Sequence 9, A
			f1 36 00 40        // @12 Routing Location, Len 54, /64
			20010db8000100000000000000000000
			20010db8000000000000000000000011
			20010db8000000000000000000000013
			0000012c           // 300
			01 02 0000         // @68 PadN 4
		`,
		want: map[string]string{
			"pmipdmm.dmm.type": "3", "pmipdmm.dmm.flags": "0x8000", "pmipdmm.dmm.a_flag": "1",
			"pmipdmm.opt.rl.current_mr": "2001:db8::13",
		},
	},
	{
		name: "dmm-redirect-ack-status",
		mh: `
			3b 01 0b 00 0000   // Header Len 1, MH Type 11
			04 83 0009 0000    // DMM Type 4 Redirect Ack, Status 131 Location unknown, Sequence 9
			01 02 0000         // PadN 4
		`,
		want: map[string]string{"pmipdmm.dmm.type": "4", "pmipdmm.dmm.status": "131", "pmipdmm.dmm.seq": "9"},
	},
	{
		name: "hack-mobility-context",
		mh: `
			3b 03 0f 00 0000   // Header Len 3 (32 octets), MH Type 15 HAck (tshark's)
			0009 40 00         // Sequence 9, P, Code 0
			01 00              // @10 PadN 2
			f2 12              // @12 Mobility Context (242), Len 18
			a0 03              // Flags R|T, ATT 3 IEEE 802.3
			00000258           // remaining lifetime 600
			0005 000a          // last sequence 5, forwarding lifetime 10
			00006553f1008000   // last timestamp
		`,
		want: map[string]string{
			"mip6.mhtype": "15", "mip6.hack.seqnr": "9", "pmipdmm.mhtype": "",
			"pmipdmm.opt.type": "242", "pmipdmm.opt.offset": "12",
			"pmipdmm.opt.mc.flags": "0xa0", "pmipdmm.opt.mc.r_flag": "1", "pmipdmm.opt.mc.l_flag": "0",
			"pmipdmm.opt.mc.t_flag": "1", "pmipdmm.opt.mc.att": "3",
			"pmipdmm.opt.mc.remaining_lifetime": "600", "pmipdmm.opt.mc.last_seq": "5",
			"pmipdmm.opt.mc.fwd_lifetime": "10", "pmipdmm.opt.mc.last_timestamp": "0x00006553f1008000",
		},
	},
	{
		name: "experimental-not-dmm",
		mh: `
			3b 01 0b 00 0000   // MH Type 11, first data octet 0x99: not a DMM type
			99 00 0000 0000
			01 02 0000
		`,
		want: map[string]string{"mip6.mhtype": "11", "pmipdmm.mhtype": "", "pmipdmm.dmm.type": ""},
	},
}

func synthByName(t *testing.T, name string) synthCase {
	t.Helper()
	for _, c := range synthCases {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no synthetic case %s", name)
	return synthCase{}
}

func synthFields(cases []synthCase) []string {
	set := map[string]bool{}
	for _, c := range cases {
		for k := range c.want {
			set[k] = true
		}
	}
	fs := []string{"_ws.expert.message", "_ws.lua.error", "_ws.malformed"}
	for k := range set {
		fs = append(fs, k)
	}
	sort.Strings(fs[3:])
	return fs
}

func runSynth(t *testing.T, cases []synthCase, prefs []string) []map[string]string {
	t.Helper()
	var pkts [][]byte
	for _, c := range cases {
		mh := hexBytes(t, c.mh)
		if c.udp {
			pkts = append(pkts, udp4Packet(mh))
		} else {
			pkts = append(pkts, ipv6Packet(mh))
		}
	}
	rows := fieldsOf(t, writePcap(t, pkts), prefs, synthFields(cases))
	if len(rows) != len(cases) {
		t.Fatalf("tshark shows %d frames, want %d", len(rows), len(cases))
	}
	return rows
}

func checkExperts(t *testing.T, name string, row map[string]string, want []string) {
	t.Helper()
	if row["_ws.lua.error"] != "" {
		t.Errorf("%s: Lua error: %q", name, row["_ws.expert.message"])
	}
	// Expert infos of group Malformed also set _ws.malformed.
	if len(want) == 0 && row["_ws.malformed"] != "" {
		t.Errorf("%s: malformed packet: %q", name, row["_ws.expert.message"])
	}
	var got []string
	if m := row["_ws.expert.message"]; m != "" {
		got = strings.Split(m, "|")
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if strings.Contains(g, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no expert info %q among %q", name, w, got)
		}
	}
	for _, g := range got {
		ok := false
		for _, w := range want {
			if strings.Contains(g, w) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: unexpected expert info %q", name, g)
		}
	}
}

func TestSynthetic(t *testing.T) {
	rows := runSynth(t, synthCases, nil)
	for i, c := range synthCases {
		t.Run(c.name, func(t *testing.T) {
			checkRow(t, c.name, rows[i], c.want)
			checkExperts(t, c.name, rows[i], c.experts)
		})
	}
}

// TestDMMCodepointPreferences moves the DMM codepoints with -o and checks
// that the plugin follows them (and no longer decodes the defaults).
func TestDMMCodepointPreferences(t *testing.T) {
	moved := synthCase{
		name: "location-reply-moved",
		mh: `
			3b 08 c8 00 0000   // Header Len 8 (72 octets), MH Type 200 (configured carrier)
			09 00 0005 0000    // DMM Type 9 (configured Location Reply), Status 0, Sequence 5
			fa 36 00 40        // @12 option 250 (configured Routing Location), Len 54, /64
			20010db8000100000000000000000000
			20010db8000000000000000000000011
			20010db8000000000000000000000012
			00000258           // 600
			01 02 0000         // PadN 4
		`,
	}
	defaults := synthByName(t, "dmm-redirect-ack-requested") // type 11, DMM 3, option 241
	cases := []synthCase{moved, defaults}
	prefs := []string{
		"pmipdmm.dmm_carrier_mh_type:200", "pmipdmm.dmm_location_reply:9",
		"pmipdmm.dmm_redirect:7", "pmipdmm.dmm_opt_routing_location:250",
	}
	fields := map[string]string{"pmipdmm.mhtype": "", "pmipdmm.dmm.type": "", "pmipdmm.dmm.status": "",
		"pmipdmm.opt.type": "", "pmipdmm.opt.rl.lifetime": "", "mip6.mhtype": ""}
	cases[0].want, cases[1].want = fields, fields
	rows := runSynth(t, cases, prefs)
	checkRow(t, "moved codepoints", rows[0], map[string]string{
		"pmipdmm.mhtype": "200", "pmipdmm.dmm.type": "9", "pmipdmm.dmm.status": "0",
		"pmipdmm.opt.type": "250", "pmipdmm.opt.rl.lifetime": "600", "mip6.mhtype": "",
	})
	checkRow(t, "default codepoints under moved prefs", rows[1], map[string]string{
		"pmipdmm.mhtype": "", "pmipdmm.dmm.type": "", "pmipdmm.opt.type": "", "mip6.mhtype": "11",
	})
	// Without the preferences the moved packet is tshark's "unknown type".
	rows = runSynth(t, cases, nil)
	checkRow(t, "moved codepoints, default prefs", rows[0], map[string]string{
		"pmipdmm.mhtype": "", "pmipdmm.dmm.type": "", "mip6.mhtype": "200",
	})
	checkRow(t, "defaults, default prefs", rows[1], map[string]string{
		"pmipdmm.dmm.type": "3", "pmipdmm.opt.type": "241",
	})
	// dmm_enabled off: nothing DMM is decoded.
	rows = runSynth(t, cases, []string{"pmipdmm.dmm_enabled:FALSE"})
	checkRow(t, "dmm disabled", rows[1], map[string]string{
		"pmipdmm.dmm.type": "", "pmipdmm.opt.type": "", "mip6.mhtype": "11",
	})
}

// TestKnownMessagesUnchanged: for messages and options tshark knows, the
// plugin changes nothing in tshark's output (its only trace is its name in
// frame.protocols, because it sits on ip.proto 135 / udp.port 5436 and
// hands those packets to tshark's mip6).
func TestKnownMessagesUnchanged(t *testing.T) {
	pcap := filepath.Join(sharedFixtures, "crafted", "pbu_pba_scapy.pcap")
	rows := fieldsOf(t, pcap, nil, []string{
		"mip6.mhtype", "mip6.bu.seqnr", "mip6.bu.a_flag", "mip6.bu.p_flag", "mip6.bu.lifetime",
		"mip6.mnid.subtype", "mip6.mnid.identifier", "mip6.nemo.mnp.pfl", "mip6.nemo.mnp.mnp",
		"mip6.hi", "mip6.att", "mip6.timestamp_tmp", "mip6.ba.status", "mip6.ba.seqnr",
		"mip6.ba.p_flag", "mip6.ba.lifetime", "pmipdmm.mhtype", "pmipdmm.opt.type",
	})
	if len(rows) != 2 {
		t.Fatalf("%d frames, want 2", len(rows))
	}
	common := map[string]string{
		"mip6.mnid.subtype": "1", "mip6.mnid.identifier": "mn1@example.net",
		"mip6.nemo.mnp.pfl": "64", "mip6.nemo.mnp.mnp": "2001:db8:1::", "mip6.hi": "1", "mip6.att": "4",
		"mip6.timestamp_tmp": "Nov 14, 2023 22:13:20.500000000 UTC",
		"pmipdmm.mhtype":     "", "pmipdmm.opt.type": "",
	}
	pbu := map[string]string{"mip6.mhtype": "5", "mip6.bu.seqnr": "4660", "mip6.bu.a_flag": "1",
		"mip6.bu.p_flag": "1", "mip6.bu.lifetime": "900"}
	pba := map[string]string{"mip6.mhtype": "6", "mip6.ba.status": "0", "mip6.ba.seqnr": "4660",
		"mip6.ba.p_flag": "1"}
	for k, v := range common {
		pbu[k], pba[k] = v, v
	}
	checkRow(t, "PBU", rows[0], pbu)
	checkRow(t, "PBA", rows[1], pba)

	// Whole verbose output, with and without the plugin, for every shared
	// capture and every corpus file without anything the plugin handles.
	var files []string
	for _, dir := range []string{"crafted", "tcpdump", "peers"} {
		m, _ := filepath.Glob(filepath.Join(sharedFixtures, dir, "*.pcap"))
		for _, f := range m {
			if filepath.Base(f) != "mh_unknown.pcap" {
				files = append(files, f)
			}
		}
	}
	for _, cf := range loadCorpus(t) {
		if !cf.handled {
			files = append(files, cf.pcap)
		}
	}
	if len(files) < 10 {
		t.Fatalf("only %d captures to compare", len(files))
	}
	// One tshark run each way over all of them (tshark's start-up, not the
	// dissection, is what costs).
	merged := filepath.Join(t.TempDir(), "known.pcapng")
	mergecap := testdeps.Ensure(t, "mergecap", "wireshark-common")
	if out, err := exec.Command(mergecap, append([]string{"-a", "-F", "pcapng", "-w", merged}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v\n%s", err, out)
	}
	plain := dropProtocolsLine(runTshark(t, false, "-r", merged, "-V"))
	with := dropProtocolsLine(runTshark(t, true, "-r", merged, "-V"))
	if plain != with {
		t.Errorf("tshark -V differs with the plugin loaded:\n%s", firstDiff(plain, with))
	}
	if n := strings.Count(plain, "\n    Mobile IPv6\n") + strings.Count(plain, "\nMobile IPv6\n"); n < 100 {
		t.Errorf("only %d Mobility Headers in the compared captures", n)
	}
	if strings.Contains(with, "pmipdmm") {
		t.Errorf("the plugin shows itself in captures that hold nothing it decodes")
	}
}

func dropProtocolsLine(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "[Protocols in frame:") {
			continue
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return "(no line differs)"
}

// ---- the project's fixture corpus ----

// corpusFrame is one entry of a corpus JSON file (interop/fixtures/README.md).
type corpusFrame struct {
	Frame     int     `json:"frame"`
	Sample    string  `json:"sample"`
	Transport string  `json:"transport"`
	MHHex     string  `json:"mh_hex"`
	MH        *mhJSON `json:"mh"`
	Error     string  `json:"error"`
}

type mhJSON struct {
	PayloadProto json.Number    `json:"payload_proto"`
	HeaderLen    json.Number    `json:"header_len"`
	Type         int            `json:"type"`
	Reserved     json.Number    `json:"reserved"`
	Checksum     json.Number    `json:"checksum"`
	Fields       map[string]any `json:"fields"`
	Options      []optJSON      `json:"options"`
}

type optJSON struct {
	Offset int            `json:"offset"`
	Type   int            `json:"type"`
	Name   string         `json:"name"`
	Length *json.Number   `json:"length"`
	Fields map[string]any `json:"fields"`
}

type corpusFile struct {
	pcap    string
	frames  []corpusFrame
	handled bool // some frame has a message or option the plugin decodes
}

// Default DMM codepoints (mh.DefaultCodepoints, docs/wire-format.md).
const (
	dmmCarrier = 11
	dmmLQ      = 1
	dmmLR      = 2
	dmmRedir   = 3
	dmmRedirAk = 4
)

// handledMsgKind returns the plugin's name for the message in mh (hex), or "".
func handledMsgKind(mh []byte) string {
	if len(mh) < 7 {
		return ""
	}
	switch mh[2] {
	case 19:
		return "upn"
	case 20:
		return "upa"
	case 21:
		return "fb"
	case 22:
		return "sq"
	case 23:
		return "sr"
	case dmmCarrier:
		switch mh[6] {
		case dmmLQ, dmmLR, dmmRedir, dmmRedirAk:
			return "dmm"
		}
	}
	return ""
}

// handledOption reports whether the plugin decodes option type t (tshark
// 4.0 knows 0-52 and 55; the DMM options are 240-242 by default).
func handledOption(t int) bool {
	return (t >= 53 && t <= 70 && t != 55) || (t >= 240 && t <= 242)
}

func loadCorpus(t *testing.T) []corpusFile {
	t.Helper()
	pcaps, err := filepath.Glob(filepath.Join(corpusDir, "*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pcaps) == 0 {
		t.Fatalf("no fixture corpus in %s (go run ./cmd/mhfixtures -out interop/fixtures)", corpusDir)
	}
	var out []corpusFile
	for _, p := range pcaps {
		js := strings.TrimSuffix(p, ".pcap") + ".json"
		raw, err := os.ReadFile(js)
		if err != nil {
			t.Fatalf("%s has no expected-value file: %v", p, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var frames []corpusFrame
		if err := dec.Decode(&frames); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		cf := corpusFile{pcap: p, frames: frames}
		for _, f := range frames {
			mh, err := hex.DecodeString(f.MHHex)
			if err != nil {
				t.Fatalf("%s frame %d: mh_hex: %v", js, f.Frame, err)
			}
			if handledMsgKind(mh) != "" {
				cf.handled = true
			}
			if f.MH != nil {
				for _, o := range f.MH.Options {
					if handledOption(o.Type) {
						cf.handled = true
					}
				}
			}
		}
		out = append(out, cf)
	}
	return out
}

// pdmlNode is any element of tshark's PDML output (packet, proto, field).
type pdmlNode struct {
	XMLName xml.Name
	Name    string     `xml:"name,attr"`
	Show    string     `xml:"show,attr"`
	Value   string     `xml:"value,attr"`
	Kids    []pdmlNode `xml:",any"`
}

func (n *pdmlNode) find(name string) *pdmlNode {
	for i := range n.Kids {
		k := &n.Kids[i]
		if k.Name == name {
			return k
		}
		if r := k.find(name); r != nil {
			return r
		}
	}
	return nil
}

func (n *pdmlNode) findAll(name string, out []*pdmlNode) []*pdmlNode {
	for i := range n.Kids {
		k := &n.Kids[i]
		if k.Name == name {
			out = append(out, k)
		}
		out = k.findAll(name, out)
	}
	return out
}

func pdmlPackets(t *testing.T, pcap string) []pdmlNode {
	t.Helper()
	out := runTshark(t, true, "-r", pcap, "-T", "pdml")
	var root pdmlNode
	if err := xml.Unmarshal([]byte(out), &root); err != nil {
		t.Fatalf("%s: PDML: %v", pcap, err)
	}
	return root.Kids
}

// How a JSON value compares with a tshark field.
const (
	cmpNum  = iota // JSON number, tshark show is decimal or 0x hex
	cmpAddr        // IP address (compared as netip.Addr)
	cmpHex         // JSON lowercase hex of the field's octets (PDML value)
	cmpText        // JSON string equals tshark show
)

type fieldMap struct {
	field string
	how   int
}

// Message fields: JSON key -> plugin field. Keys listed with field "" are
// deliberately not compared (names, and fields that are not on the wire).
var msgMaps = map[string]map[string]fieldMap{
	"upn": {
		"sequence": {"pmipdmm.upn.seq", cmpNum}, "reason": {"pmipdmm.upn.reason", cmpNum},
		"flags": {"pmipdmm.upn.flags", cmpNum},
	},
	"upa": {
		"sequence": {"pmipdmm.upa.seq", cmpNum}, "status": {"pmipdmm.upa.status", cmpNum},
		"msg_reserved": {"pmipdmm.upa.reserved", cmpHex},
	},
	"dmm": {
		"reserved": {"pmipdmm.dmm.reserved", cmpNum}, "status": {"pmipdmm.dmm.status", cmpNum},
		"sequence": {"pmipdmm.dmm.seq", cmpNum}, "flags": {"pmipdmm.dmm.flags", cmpNum},
	},
}

var headerMap = map[string]string{
	"payload_proto": "pmipdmm.proto", "header_len": "pmipdmm.hdrlen", "type": "pmipdmm.mhtype",
	"reserved": "pmipdmm.reserved", "checksum": "pmipdmm.csum",
}

func prefixMap(p string) map[string]fieldMap {
	return map[string]fieldMap{
		"reserved":      {p + ".reserved", cmpNum},
		"prefix_length": {p + ".plen", cmpNum},
		"prefix":        {p + ".prefix", cmpAddr},
	}
}

// optMaps: option type -> JSON key -> plugin field.
var optMaps = map[int]map[string]fieldMap{
	59: {"reserved": {"pmipdmm.opt.lma_upa.reserved", cmpNum}, "address": {"", cmpAddr}}, // ipv4 or ipv6 by family
	65: prefixMap("pmipdmm.opt.anchored_prefix"),
	66: prefixMap("pmipdmm.opt.local_prefix"),
	67: {
		"reserved": {"pmipdmm.opt.prev_maar.reserved", cmpNum}, "prefix_length": {"pmipdmm.opt.prev_maar.plen", cmpNum},
		"address": {"pmipdmm.opt.prev_maar.addr", cmpAddr}, "prefix": {"pmipdmm.opt.prev_maar.prefix", cmpAddr},
	},
	68: {"address": {"pmipdmm.opt.serving_maar.addr", cmpAddr}},
	69: {"address": {"pmipdmm.opt.dlif_lla.addr", cmpAddr}},
	70: {"reserved": {"pmipdmm.opt.dlif_l2.reserved", cmpNum}, "address": {"pmipdmm.opt.dlif_l2.addr", cmpHex}},
	241: {
		"flags": {"pmipdmm.opt.rl.flags", cmpNum}, "prefix_length": {"pmipdmm.opt.rl.plen", cmpNum},
		"prefix": {"pmipdmm.opt.rl.prefix", cmpAddr}, "anchor_mr": {"pmipdmm.opt.rl.anchor_mr", cmpAddr},
		"current_mr": {"pmipdmm.opt.rl.current_mr", cmpAddr}, "lifetime": {"pmipdmm.opt.rl.lifetime", cmpNum},
	},
	242: {
		"flags": {"pmipdmm.opt.mc.flags", cmpNum}, "att": {"pmipdmm.opt.mc.att", cmpNum},
		"remaining_lifetime":  {"pmipdmm.opt.mc.remaining_lifetime", cmpNum},
		"last_sequence":       {"pmipdmm.opt.mc.last_seq", cmpNum},
		"forwarding_lifetime": {"pmipdmm.opt.mc.fwd_lifetime", cmpNum},
		"last_timestamp":      {"pmipdmm.opt.mc.last_timestamp", cmpNum},
	},
}

// lqMap gives the Location Query option's map for its Query Type: the
// Qualifier/Value octets mean a prefix (1, 2) or an MN-ID (3).
func lqMap(queryType string) map[string]fieldMap {
	m := map[string]fieldMap{"query_type": {"pmipdmm.opt.lq.type", cmpNum}}
	if queryType == "3" {
		m["subtype"] = fieldMap{"pmipdmm.opt.lq.mnid_subtype", cmpNum}
		m["identifier"] = fieldMap{"pmipdmm.opt.lq.mnid", cmpHex}
		m["identifier_text"] = fieldMap{"pmipdmm.opt.lq.mnid_text", cmpText}
		m["prefix_length"], m["address"] = fieldMap{}, fieldMap{} // not on the wire for type 3
	} else {
		m["prefix_length"] = fieldMap{"pmipdmm.opt.lq.plen", cmpNum}
		m["address"] = fieldMap{"pmipdmm.opt.lq.addr", cmpAddr}
		m["subtype"], m["identifier"], m["identifier_text"] = fieldMap{}, fieldMap{}, fieldMap{}
	}
	return m
}

// ignoredKey: derived keys (names, flag lists) and raw-option markers.
func ignoredKey(k string) bool {
	return strings.HasSuffix(k, "_name") || strings.HasSuffix(k, "_set") || k == "raw"
}

type comparer struct {
	t     *testing.T
	n     int
	kinds map[string]int
}

func (c *comparer) compare(where, key string, want any, node *pdmlNode, fm fieldMap) {
	t := c.t
	if node == nil {
		t.Errorf("%s: %s: plugin field %s absent", where, key, fm.field)
		return
	}
	ok := false
	var wantS string
	switch fm.how {
	case cmpNum:
		num, isNum := want.(json.Number)
		if !isNum {
			t.Errorf("%s: %s: JSON value %v is not a number", where, key, want)
			return
		}
		wantS = num.String()
		w, err1 := strconv.ParseUint(wantS, 10, 64)
		g, err2 := strconv.ParseUint(node.Show, 0, 64)
		ok = err1 == nil && err2 == nil && w == g
	case cmpAddr:
		wantS, _ = want.(string)
		w, err1 := netip.ParseAddr(wantS)
		g, err2 := netip.ParseAddr(node.Show)
		ok = err1 == nil && err2 == nil && w == g
	case cmpHex:
		wantS, _ = want.(string)
		ok = strings.EqualFold(wantS, node.Value)
	case cmpText:
		wantS, _ = want.(string)
		ok = wantS == node.Show
	}
	if !ok {
		t.Errorf("%s: %s: plugin %s = show %q value %q, want %q", where, key, fm.field, node.Show, node.Value, wantS)
		return
	}
	c.n++
}

// TestCorpus checks the plugin against the expected values of the
// project's fixture corpus: for every frame whose message or options the
// plugin decodes, each field equals the JSON value.
func TestCorpus(t *testing.T) {
	c := &comparer{t: t, kinds: map[string]int{}}
	for _, cf := range loadCorpus(t) {
		if !cf.handled {
			continue
		}
		pkts := pdmlPackets(t, cf.pcap)
		if len(pkts) != len(cf.frames) {
			t.Fatalf("%s: %d packets, JSON has %d frames", cf.pcap, len(pkts), len(cf.frames))
		}
		for _, f := range cf.frames {
			where := fmt.Sprintf("%s frame %d (%s)", filepath.Base(cf.pcap), f.Frame, f.Sample)
			pkt := &pkts[f.Frame-1]
			if e := pkt.find("_ws.lua.error"); e != nil {
				t.Errorf("%s: Lua error: %s", where, e.Show)
			}
			if f.MH == nil {
				continue // malformed sample: nothing decoded to compare
			}
			mh, _ := hex.DecodeString(f.MHHex)
			if kind := handledMsgKind(mh); kind != "" {
				c.message(where, kind, pkt, f.MH)
			}
			for _, o := range f.MH.Options {
				if handledOption(o.Type) {
					c.option(where, pkt, o)
				}
			}
		}
	}
	// No vacuous pass: the corpus must exercise the plugin broadly.
	const minComparisons = 100
	if c.n < minComparisons {
		t.Errorf("only %d field comparisons, want at least %d", c.n, minComparisons)
	}
	for _, k := range []string{"msg:upn", "msg:upa", "msg:dmm", "opt:59", "opt:65", "opt:66", "opt:67",
		"opt:68", "opt:69", "opt:70", "opt:240", "opt:241", "opt:242"} {
		if c.kinds[k] == 0 {
			t.Errorf("the corpus exercised no %s", k)
		}
	}
	t.Logf("%d field comparisons; per kind: %v", c.n, c.kinds)
}

func (c *comparer) message(where, kind string, pkt *pdmlNode, m *mhJSON) {
	t := c.t
	root := pkt.find("pmipdmm")
	if root == nil || root.XMLName.Local != "proto" {
		t.Errorf("%s: the plugin did not dissect this %s message", where, kind)
		return
	}
	c.kinds["msg:"+kind]++
	hdr := map[string]json.Number{"payload_proto": m.PayloadProto, "header_len": m.HeaderLen,
		"type": json.Number(strconv.Itoa(m.Type)), "reserved": m.Reserved, "checksum": m.Checksum}
	for k, v := range hdr {
		c.compare(where, k, v, root.find(headerMap[k]), fieldMap{headerMap[k], cmpNum})
	}
	mm, ok := msgMaps[kind]
	if !ok {
		t.Errorf("%s: no field map for %s messages", where, kind)
		return
	}
	for k, v := range m.Fields {
		if ignoredKey(k) {
			continue
		}
		fm, ok := mm[k]
		if !ok {
			t.Errorf("%s: JSON message field %q has no plugin field mapped", where, k)
			continue
		}
		if fm.field == "" {
			continue
		}
		c.compare(where, k, v, root.find(fm.field), fm)
	}
	// Every option of the message is in the plugin's tree (ours, or
	// tshark's through the mip6.option table, or padding).
	opts := root.find("pmipdmm.options")
	nOpts := 0
	if opts != nil {
		nOpts = len(opts.Kids)
	}
	if nOpts != len(m.Options) {
		t.Errorf("%s: plugin shows %d options, JSON has %d", where, nOpts, len(m.Options))
	}
}

func (c *comparer) option(where string, pkt *pdmlNode, o optJSON) {
	t := c.t
	where = fmt.Sprintf("%s option %d@%d", where, o.Type, o.Offset)
	var node *pdmlNode
	for _, n := range pkt.findAll("pmipdmm.opt", nil) {
		if off := n.find("pmipdmm.opt.offset"); off != nil && off.Show == strconv.Itoa(o.Offset) {
			node = n
			break
		}
	}
	if node == nil {
		t.Errorf("%s: the plugin shows no option at this offset", where)
		return
	}
	c.kinds["opt:"+strconv.Itoa(o.Type)]++
	c.compare(where, "type", json.Number(strconv.Itoa(o.Type)), node.find("pmipdmm.opt.type"), fieldMap{"pmipdmm.opt.type", cmpNum})
	if o.Length != nil {
		c.compare(where, "length", *o.Length, node.find("pmipdmm.opt.len"), fieldMap{"pmipdmm.opt.len", cmpNum})
	}
	var m map[string]fieldMap
	if o.Type == 240 {
		qt, _ := o.Fields["query_type"].(json.Number)
		m = lqMap(qt.String())
	} else if raw, _ := o.Fields["raw"].(bool); raw {
		m = map[string]fieldMap{"data": {"pmipdmm.opt.data", cmpHex}}
	} else {
		m = optMaps[o.Type]
	}
	for k, v := range o.Fields {
		if ignoredKey(k) {
			continue
		}
		fm, ok := m[k]
		if !ok {
			t.Errorf("%s: JSON option field %q has no plugin field mapped", where, k)
			continue
		}
		if o.Type == 59 && k == "address" {
			s, _ := v.(string)
			fm.field = "pmipdmm.opt.lma_upa.ipv6"
			if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
				fm.field = "pmipdmm.opt.lma_upa.ipv4"
			}
		}
		if fm.field == "" {
			continue
		}
		c.compare(where, k, v, node.find(fm.field), fm)
	}
}

// TestGarbageNoLuaError feeds the plugin random message data and options
// behind every header it decodes (deterministic seed) and checks that no
// Lua error comes out: every read is bounds-checked.
func TestGarbageNoLuaError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []byte{19, 20, 21, 22, 23, dmmCarrier, 5, 6, 15}
	optTypes := []byte{0, 1, 8, 22, 53, 59, 65, 66, 67, 68, 69, 70, 240, 241, 242, 255}
	var pkts [][]byte
	for i := 0; i < 400; i++ {
		n := 3 + rng.IntN(90)
		mh := make([]byte, n)
		for j := range mh {
			mh[j] = byte(rng.UintN(256))
		}
		mh[0] = 59
		mh[2] = types[rng.IntN(len(types))]
		if rng.IntN(2) == 0 {
			mh[1] = byte((n+7)/8 - 1) // a plausible Header Len half of the time
		}
		if n > 6 && mh[2] == dmmCarrier {
			mh[6] = byte(1 + rng.IntN(4))
		}
		for off := 12; off+1 < n; off += 2 + int(mh[off+1]) {
			mh[off] = optTypes[rng.IntN(len(optTypes))]
			if mh[off] == 0 {
				break
			}
			if rng.IntN(3) > 0 {
				mh[off+1] = byte(rng.IntN(40))
			}
		}
		if i%2 == 0 {
			pkts = append(pkts, ipv6Packet(mh))
		} else {
			pkts = append(pkts, udp4Packet(mh))
		}
	}
	rows := fieldsOf(t, writePcap(t, pkts), nil, []string{"_ws.lua.error", "_ws.expert.message", "pmipdmm.mhtype", "pmipdmm.opt.type"})
	if len(rows) != len(pkts) {
		t.Fatalf("%d frames, want %d", len(rows), len(pkts))
	}
	decoded := 0
	for i, r := range rows {
		if r["_ws.lua.error"] != "" {
			t.Errorf("frame %d: Lua error: %s", i+1, r["_ws.expert.message"])
		}
		if r["pmipdmm.mhtype"] != "" || r["pmipdmm.opt.type"] != "" {
			decoded++
		}
	}
	if decoded < len(rows)/2 {
		t.Errorf("the plugin decoded only %d of %d garbage frames", decoded, len(rows))
	}
}
