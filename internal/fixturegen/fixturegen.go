// Package fixturegen builds the project's Mobility Header fixture corpus
// (interop/fixtures): pcap files of hand-built messages, one per theme,
// each with a JSON file of the values a dissector should show for every
// packet, and a README describing them.
//
// Every message is built by hand from typed fields (package mh), encoded
// by mh, checksummed with mh.SetChecksum when carried by IPv6 (the
// checksum is 0 over UDP, RFC 5844 §4) and framed in Ethernet with fixed
// timestamps, so the output is byte-for-byte deterministic. Malformed
// samples are raw octets with the error mh must raise and what tshark is
// expected to flag.
//
// `go run ./cmd/mhfixtures -out interop/fixtures` rewrites the corpus;
// a test fails when the committed corpus is stale.
package fixturegen

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Transport is how a sample's Mobility Header is carried.
type Transport string

// Transports.
const (
	// IPv6 carries the MH as IPv6 Next Header 135 (RFC 6275 §6.1).
	IPv6 Transport = "ipv6"
	// UDP4 carries it in IPv4 UDP from and to port 5436 (RFC 5844 §4),
	// with the MH checksum 0.
	UDP4 Transport = "ipv4-udp"
)

// ErrorSpec is the error a malformed sample must make mh.Parse return.
type ErrorSpec struct {
	// Kind is the error type: "HeaderError" (*mh.HeaderError) or
	// "OptionError" (*mh.OptionError).
	Kind string
	// Is is the sentinel the error wraps (mh.ErrTooShort, ...).
	Is error
	// Substring must occur in the error's text.
	Substring string
}

// Sample is one packet of the corpus.
type Sample struct {
	// Name identifies the sample (unique in the corpus).
	Name        string
	Description string
	Src, Dst    netip.Addr
	Transport   Transport
	// Msg is the message, built by hand (nil for a malformed sample).
	Msg mh.Message
	// Raw holds the Mobility Header octets of a malformed sample. For
	// IPv6 the Checksum field is recomputed over them.
	Raw []byte
	// Err is the error mh.Parse must return on Raw.
	Err *ErrorSpec
	// Tshark is what tshark 4.0 must flag on a malformed sample: a
	// substring of one of the packet's expert messages.
	Tshark string
	// TsharkQuirk documents a valid sample that tshark 4.0 decodes wrongly
	// (nil when tshark gets it right).
	TsharkQuirk *TsharkQuirk
}

// TsharkQuirk is a known error of tshark 4.0 on a valid sample.
type TsharkQuirk struct {
	// Expert is the expert message tshark wrongly shows (a substring).
	Expert string
	// Why explains tshark's error.
	Why string
	// HeaderOnly: tshark's decode of the message body is wrong, so only
	// the common header fields can be compared.
	HeaderOnly bool
}

// Malformed reports whether the sample is a malformed one.
func (s *Sample) Malformed() bool { return s.Msg == nil }

// File is one pcap of the corpus and the samples it holds, in order.
type File struct {
	Name        string // "pmipv6-core.pcap"
	Description string
	Samples     []Sample
}

// JSONName is the name of the file's expected-values JSON.
func (f *File) JSONName() string { return strings.TrimSuffix(f.Name, ".pcap") + ".json" }

// BaseTime is the capture time of every file's first frame; frame n is
// (n-1)*10 ms later.
var BaseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// FrameGap is the time between two frames of a file.
const FrameGap = 10 * time.Millisecond

// Wire returns the Mobility Header octets of a sample as they go on the
// wire (checksum included).
func (s *Sample) Wire() ([]byte, error) {
	var b []byte
	if s.Msg != nil {
		var err error
		if b, err = s.Msg.Marshal(); err != nil {
			return nil, fmt.Errorf("%s: marshal: %w", s.Name, err)
		}
	} else {
		b = bytes.Clone(s.Raw)
	}
	if s.Transport == IPv6 {
		mh.SetChecksum(s.Src, s.Dst, b)
	} else if len(b) >= mh.HeaderLen {
		b[4], b[5] = 0, 0
	}
	return b, nil
}

// Frame returns the Ethernet frame of a sample.
func (s *Sample) Frame() ([]byte, error) {
	w, err := s.Wire()
	if err != nil {
		return nil, err
	}
	switch s.Transport {
	case IPv6:
		return pcapio.EthernetIPv6(s.Src, s.Dst, mh.IPProtoMH, w), nil
	case UDP4:
		return pcapio.EthernetIPv4UDP(s.Src, s.Dst, pcapio.PMIPControlPort, pcapio.PMIPControlPort, w), nil
	}
	return nil, fmt.Errorf("%s: unknown transport %q", s.Name, s.Transport)
}

// Check decodes the sample's wire octets and checks them against the
// sample: a valid sample must decode, re-encode byte for byte and have a
// right checksum; a malformed one must fail the way Err says. It returns
// the decoded message (nil for a malformed sample) and the decode error.
func (s *Sample) Check() (mh.Message, []byte, error, error) {
	w, err := s.Wire()
	if err != nil {
		return nil, nil, nil, err
	}
	m, perr := mh.Parse(w)
	if s.Malformed() {
		if s.Err == nil || s.Tshark == "" {
			return nil, w, perr, fmt.Errorf("%s: malformed sample without Err and Tshark", s.Name)
		}
		if perr == nil {
			return nil, w, nil, fmt.Errorf("%s: mh.Parse accepted a malformed sample", s.Name)
		}
		if err := s.Err.match(perr); err != nil {
			return nil, w, perr, fmt.Errorf("%s: %w", s.Name, err)
		}
		return nil, w, perr, nil
	}
	if perr != nil {
		return nil, w, perr, fmt.Errorf("%s: mh.Parse: %w", s.Name, perr)
	}
	again, err := m.Marshal()
	if err != nil {
		return nil, w, nil, fmt.Errorf("%s: re-marshal: %w", s.Name, err)
	}
	if !bytes.Equal(again, w) {
		return nil, w, nil, fmt.Errorf("%s: decoded message re-encodes differently:\n got % x\nwant % x", s.Name, again, w)
	}
	if s.Transport == IPv6 && !mh.VerifyChecksum(s.Src, s.Dst, w) {
		return nil, w, nil, fmt.Errorf("%s: checksum does not verify", s.Name)
	}
	return m, w, nil, nil
}

func (e *ErrorSpec) match(err error) error {
	switch e.Kind {
	case "HeaderError":
		var he *mh.HeaderError
		if !errors.As(err, &he) {
			return fmt.Errorf("error %q is %T, want *mh.HeaderError", err, err)
		}
	case "OptionError":
		var oe *mh.OptionError
		if !errors.As(err, &oe) {
			return fmt.Errorf("error %q is %T, want *mh.OptionError", err, err)
		}
	default:
		return fmt.Errorf("unknown error kind %q", e.Kind)
	}
	if e.Is != nil && !errors.Is(err, e.Is) {
		return fmt.Errorf("error %q does not wrap %v", err, e.Is)
	}
	if !strings.Contains(err.Error(), e.Substring) {
		return fmt.Errorf("error %q does not contain %q", err, e.Substring)
	}
	return nil
}

// Packet is one entry of a file's expected-values JSON.
type Packet struct {
	Frame       int    `json:"frame"`
	Sample      string `json:"sample"`
	Description string `json:"description"`
	Transport   string `json:"transport"`
	Src         string `json:"src"`
	Dst         string `json:"dst"`
	// MHHex is the whole Mobility Header, checksum included.
	MHHex string `json:"mh_hex"`
	// MH is the decoded message (package mhjson's view).
	MH any `json:"mh,omitempty"`
	// Error, ErrorKind: what mh.Parse says about a malformed packet.
	Error     string `json:"error,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`
	// Tshark: the expert message tshark 4.0 shows for a malformed packet.
	Tshark string `json:"tshark_expert,omitempty"`
	// TsharkQuirk: tshark 4.0's known error on this valid packet.
	TsharkQuirk *TsharkQuirk `json:"tshark_quirk,omitempty"`
}

// Generate builds the whole corpus in memory: file name -> content
// (pcaps, JSONs and README.md).
func Generate() (map[string][]byte, error) {
	out := map[string][]byte{}
	seen := map[string]bool{}
	for _, f := range Corpus() {
		var pcap bytes.Buffer
		w, err := pcapio.NewWriter(&pcap, pcapio.LinkTypeEthernet)
		if err != nil {
			return nil, err
		}
		pkts := []Packet{}
		for i := range f.Samples {
			s := &f.Samples[i]
			if seen[s.Name] {
				return nil, fmt.Errorf("duplicate sample name %q", s.Name)
			}
			seen[s.Name] = true
			m, wire, perr, err := s.Check()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			frame, err := s.Frame()
			if err != nil {
				return nil, err
			}
			if err := w.WritePacket(BaseTime.Add(time.Duration(i)*FrameGap), frame); err != nil {
				return nil, err
			}
			p := Packet{Frame: i + 1, Sample: s.Name, Description: s.Description,
				Transport: string(s.Transport), Src: s.Src.String(), Dst: s.Dst.String(),
				MHHex: hex.EncodeToString(wire), TsharkQuirk: s.TsharkQuirk}
			if s.Malformed() {
				p.Error, p.ErrorKind, p.Tshark = perr.Error(), s.Err.Kind, s.Tshark
			} else {
				if p.MH, err = view(m, wire); err != nil {
					return nil, fmt.Errorf("%s: %s: JSON view: %w", f.Name, s.Name, err)
				}
			}
			pkts = append(pkts, p)
		}
		js, err := json.MarshalIndent(pkts, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.JSONName(), err)
		}
		out[f.Name] = pcap.Bytes()
		out[f.JSONName()] = append(js, '\n')
	}
	out["README.md"] = readme()
	return out, nil
}

// Write (re)writes the corpus into dir, removing the .pcap and .json
// files there that the corpus no longer has.
func Write(dir string) error {
	files, err := Generate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	oldJSON, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range append(old, oldJSON...) {
		if _, ok := files[filepath.Base(p)]; !ok {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}
