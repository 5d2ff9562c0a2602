package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/pmipdmm/pmipdmm/mh/mhjson"
)

var decodeCmd = &command{
	Name: "decode",
	Args: "FILE.pcap [--json] [--legacy]",
	Summary: "Print every Mobility Header of a pcap or pcapng capture (IPv6 Next Header 135,\n" +
		"or IPv4/IPv6 UDP port 5436), one line each, then a count of the decoded and\n" +
		"malformed ones on stderr. Exit status 0 when the file was read, even when some\n" +
		"messages are malformed; 1 when it could not be read; 2 on a usage error.",
}

func init() {
	decodeCmd.Run = runDecode // set here: runDecode refers to decodeCmd
	register(decodeCmd)
}

// decodeLine is one line of `pmipctl decode --json`: where the Mobility
// Header was found, and either its JSON view (mh, see package mhjson) or
// why it could not be decoded (error; then hex holds its octets and
// error_offset the offset of a malformed option).
type decodeLine struct {
	Frame       int            `json:"frame"` // 1-based frame number in the capture
	Time        string         `json:"time"`  // capture time, RFC 3339 with nanoseconds, UTC
	Transport   string         `json:"transport"`
	Src         string         `json:"src"`
	Dst         string         `json:"dst"`
	SrcPort     uint16         `json:"src_port,omitempty"` // UDP transports
	DstPort     uint16         `json:"dst_port,omitempty"`
	Truncated   bool           `json:"truncated,omitempty"` // the capture holds less than the IP length says
	MH          *mhjson.Object `json:"mh,omitempty"`
	Error       string         `json:"error,omitempty"`
	ErrorOffset *int           `json:"error_offset,omitempty"`
	Hex         string         `json:"hex,omitempty"`
}

func runDecode(args []string, stdout, stderr io.Writer) int {
	c := decodeCmd
	fs := newFlagSet(c, stderr)
	asJSON := fs.Bool("json", false, "one JSON object per line (see package mh/mhjson for the \"mh\" object)")
	legacy := fs.Bool("legacy", false, "accept the deviations of known legacy peers (OAI, MAD-PMIPv6) and report them as quirks")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagExit(err)
	}
	switch {
	case len(pos) == 0:
		return usageError(c, stderr, "no capture file given")
	case len(pos) > 1:
		return usageError(c, stderr, fmt.Sprintf("one capture file expected, got %d arguments", len(pos)))
	}
	path := pos[0]

	recs, readErr := pcapio.ReadMobilityHeaders(path)
	if readErr != nil && len(recs) == 0 {
		fmt.Fprintf(stderr, "pmipctl decode: %v\n", readErr)
		return exitFail
	}

	do := mh.DecodeOptions{Legacy: *legacy}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	decoded, malformed := 0, 0
	for _, r := range recs {
		line := decodeLine{
			Frame:     r.Frame,
			Time:      time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano),
			Transport: r.Transport,
			Src:       r.Src.String(),
			Dst:       r.Dst.String(),
			SrcPort:   r.SrcPort,
			DstPort:   r.DstPort,
			Truncated: r.Truncated,
		}
		if r.Err != nil {
			line.Error = r.Err.Error()
		} else {
			o := mhjson.Decode(r.MH, do)
			if o.Error != "" {
				line.Error, line.ErrorOffset = o.Error, o.ErrorOffset
			} else {
				line.MH = &o
			}
		}
		if line.Error != "" {
			malformed++
			line.Hex = hex.EncodeToString(r.MH)
		} else {
			decoded++
		}
		if *asJSON {
			if err := enc.Encode(line); err != nil {
				fmt.Fprintf(stderr, "pmipctl decode: frame %d: %v\n", r.Frame, err)
				return exitFail
			}
		} else {
			fmt.Fprintln(stdout, textLine(line))
		}
	}
	fmt.Fprintf(stderr, "pmipctl decode: %s: %d Mobility Headers: %d decoded, %d malformed\n",
		path, len(recs), decoded, malformed)
	if readErr != nil {
		// Part of the file was read (a capture cut short): what was read
		// is printed above, but the file as a whole could not be.
		fmt.Fprintf(stderr, "pmipctl decode: %v\n", readErr)
		return exitFail
	}
	return exitOK
}

// textLine is the readable one-line form of a decodeLine:
//
//	#1 2023-11-14T22:13:20.5Z ipv6 2001:db8::a > 2001:db8::b Binding Update sequence=4660 ...
//	  | Mobile Node Identifier subtype=1(NAI) identifier="mn1@x" | Home Network Prefix ...
//
// (on one line). Padding options are left out; reserved fields are shown
// only when not zero, and false booleans not at all.
func textLine(l decodeLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s %s > %s", l.Frame, l.Time, l.Transport, hostPort(l.Src, l.SrcPort), hostPort(l.Dst, l.DstPort))
	if l.Truncated {
		b.WriteString(" (truncated)")
	}
	if l.Error != "" {
		fmt.Fprintf(&b, " ERROR %s", l.Error)
		return b.String()
	}
	o := l.MH
	fmt.Fprintf(&b, " %s (type %d, %d octets)", o.TypeName, o.Type, o.Length)
	writeFields(&b, o.Fields)
	for _, opt := range o.Options {
		if opt.Type == uint8(mh.OptPad1) || opt.Type == uint8(mh.OptPadN) {
			continue
		}
		fmt.Fprintf(&b, " | %s", opt.Name)
		if opt.Raw {
			fmt.Fprintf(&b, " (type %d, raw)", opt.Type)
		}
		writeFields(&b, opt.Fields)
	}
	if o.Quirks != "none" {
		fmt.Fprintf(&b, " | quirks=%s", o.Quirks)
	}
	return b.String()
}

func hostPort(addr string, port uint16) string {
	if port == 0 {
		return addr
	}
	if strings.Contains(addr, ":") {
		return fmt.Sprintf("[%s]:%d", addr, port)
	}
	return fmt.Sprintf("%s:%d", addr, port)
}

// writeFields writes " key=value" for each field; the derived keys of
// mhjson (_name, _set, _text) are folded into their base key.
func writeFields(b *strings.Builder, f mhjson.Fields) {
	for _, kv := range f {
		k := kv.Key
		if isDerived(f, k) {
			continue
		}
		if (k == "reserved" && kv.Value == uint64(0)) || kv.Value == false {
			continue
		}
		v := scalar(kv.Value)
		if t, ok := f.Get(k + "_text"); ok {
			v = fmt.Sprintf("%q", t)
		}
		if n, ok := f.Get(k + "_name"); ok {
			v += "(" + scalar(n) + ")"
		}
		if s, ok := f.Get(k + "_set"); ok {
			v += "[" + scalar(s) + "]"
		}
		fmt.Fprintf(b, " %s=%s", k, v)
	}
}

// isDerived reports whether key is a _name, _set or _text key whose base
// key is also in f.
func isDerived(f mhjson.Fields, key string) bool {
	for _, suf := range []string{"_name", "_set", "_text"} {
		if base, ok := strings.CutSuffix(key, suf); ok {
			if _, has := f.Get(base); has {
				return true
			}
		}
	}
	return false
}

// scalar renders a value of mhjson.Fields compactly.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return strings.Join(x, ",")
	case nil:
		return "-"
	case mhjson.Fields:
		var b strings.Builder
		b.WriteString("{")
		writeFields(&b, x)
		b.WriteString(" }")
		return b.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalar(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}
