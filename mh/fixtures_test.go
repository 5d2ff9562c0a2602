package mh_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Every Mobility Header in every capture under ../shared/fixtures is
// decoded here in strict and in legacy mode, and the outcome of each is
// written down in fixtureTable.

// fixturePath returns the path of a capture under ../shared/fixtures
// (relative to the module root).
func fixturePath(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "../../shared/fixtures", rel)
}

// outcome is what decoding one Mobility Header must give.
type outcome struct {
	kind   string   // "" (decodes), "header" (*mh.HeaderError) or "option" (*mh.OptionError)
	is     error    // sentinel the error wraps
	offset int      // OptionError.Offset
	quirks mh.Quirk // Base.Quirks when it decodes
}

func decodes(q mh.Quirk) outcome          { return outcome{quirks: q} }
func headerErr(is error) outcome          { return outcome{kind: "header", is: is} }
func optionErr(off int, is error) outcome { return outcome{kind: "option", is: is, offset: off} }

var clean = decodes(0)

// recWant is the expectation for one Mobility Header of a capture.
type recWant struct {
	frame  int
	typ    mh.Type
	strict outcome
	legacy outcome
}

// checksumWant says what the Checksum field of a file's records holds.
type checksumWant int

const (
	checksumVerifies  checksumWant = iota // IPv6, complete: mh.VerifyChecksum holds
	checksumZeroField                     // IPv6, complete, but the sender left the field 0
	checksumZeroUDP                       // UDP 5436: 0 (RFC 5844 §4.1.3)
	checksumTruncated                     // capture incomplete: not checked
)

type fileWant struct {
	file      string
	transport string
	checksum  checksumWant
	recs      []recWant
}

// Legacy quirk sets of the peers (../shared/reference/peer-quirks.md).
const (
	qLen     = mh.QuirkHeaderLenTooShort | mh.QuirkUnalignedLength // OAI PMIPv6, MAD-PMIPv6
	qMADPBA  = qLen | mh.QuirkPBARFlagForP
	qMADPBA2 = qMADPBA | mh.QuirkMalformedOption // private options 28/29 don't fit the IANA typed forms
	qMADPBU2 = qLen | mh.QuirkMalformedOption
	qOAIPBA  = qLen | mh.QuirkPBAMissingP
	qTrunc   = mh.QuirkHeaderLenTooLong
	qTruncM  = mh.QuirkHeaderLenTooLong | mh.QuirkMalformedOption
)

// badLen is the strict outcome of the OAI/MAD messages whose Header Len is
// short of the octets that follow with Payload Proto 59.
var badLen = headerErr(mh.ErrInvalidLength)

// truncated is the strict outcome of tcpdump's fuzzed records: Header Len
// runs past the captured octets.
var truncated = headerErr(mh.ErrTooShort)

func cleanRecs(types ...mh.Type) []recWant {
	out := make([]recWant, len(types))
	for i, t := range types {
		out[i] = recWant{i + 1, t, clean, clean}
	}
	return out
}

// oaiRec is a record of the 2011 OAI pmip6d 0.4 captures: structurally
// conformant (strict decoding works and re-encodes exactly), with the BU
// flags in host byte order and the PBA without P, which legacy decoding
// repairs.
func oaiRec(frame int, t mh.Type) recWant {
	q := mh.QuirkSwappedFlags
	if t == mh.TypeBindingAck {
		q = mh.QuirkPBAMissingP
	}
	return recWant{frame, t, clean, decodes(q)}
}

const (
	bu = mh.TypeBindingUpdate
	ba = mh.TypeBindingAck
)

var fixtureTable = []fileWant{
	{"crafted/mh_more.pcap", pcapio.TransportIPv6, checksumVerifies, cleanRecs(
		mh.TypeHeartbeat, mh.TypeBindingRevocation, mh.TypeHandoverInitiate, mh.TypeHandoverAck, bu, ba, bu)},
	{"crafted/mh_udp5436.pcap", pcapio.TransportUDP4, checksumZeroUDP, cleanRecs(bu)},
	{"crafted/mh_unknown.pcap", pcapio.TransportIPv6, checksumVerifies, cleanRecs(bu, mh.TypeUpdateNotification)},
	{"crafted/pbu_pba_scapy.pcap", pcapio.TransportIPv6, checksumVerifies, cleanRecs(bu, ba)},

	{"peers/live_mad_pmip6d_dmm_nsrun.pcap", pcapio.TransportIPv6, checksumVerifies, []recWant{
		{3, bu, badLen, decodes(qLen)}, {4, ba, badLen, decodes(qMADPBA)},
		{7, bu, badLen, decodes(qLen)}, {8, ba, badLen, decodes(qMADPBA2)},
		{9, bu, badLen, decodes(qMADPBU2)}, {10, ba, badLen, decodes(qMADPBA2)},
		{12, bu, badLen, decodes(qLen)}, {13, ba, badLen, decodes(qMADPBA2)},
		{14, bu, badLen, decodes(qMADPBU2)}, {15, ba, badLen, decodes(qMADPBA2)},
		{16, bu, badLen, decodes(qLen)}, {17, ba, badLen, decodes(qMADPBA)},
		{22, bu, badLen, decodes(qLen)}, {23, ba, badLen, decodes(qMADPBA2)},
		{24, bu, badLen, decodes(qMADPBU2)}, {25, ba, badLen, decodes(qMADPBA2)},
		{26, bu, badLen, decodes(qLen)}, {27, ba, badLen, decodes(qMADPBA)},
	}},
	{"peers/live_oai_lma_vs_scapy_pbu.pcap", pcapio.TransportIPv6, checksumVerifies, []recWant{
		{12, bu, clean, clean}, {13, ba, badLen, decodes(qOAIPBA)}, // scapy PBU, OAI LMA's PBA
		{19, bu, clean, clean}, {20, ba, badLen, decodes(qOAIPBA)},
	}},
	{"peers/live_oai_pmip6d_nsrun.pcap", pcapio.TransportIPv6, checksumVerifies, []recWant{
		{4, bu, badLen, decodes(qLen)}, {5, ba, badLen, decodes(qOAIPBA)},
		{6, bu, badLen, decodes(qLen)}, {7, ba, badLen, decodes(qOAIPBA)},
		{8, bu, badLen, decodes(qLen)}, {9, ba, badLen, decodes(qOAIPBA)},
		{10, bu, badLen, decodes(qLen)}, {11, ba, badLen, decodes(qOAIPBA)},
	}},
	{"peers/oai_lma2cn.pcap", pcapio.TransportIPv6, checksumVerifies, nil},
	{"peers/oai_lma2mags.pcap", pcapio.TransportIPv6, checksumVerifies, []recWant{
		oaiRec(136, bu), oaiRec(137, ba), oaiRec(192, bu), oaiRec(194, bu), oaiRec(195, ba), oaiRec(227, bu),
		oaiRec(228, bu), oaiRec(229, ba), oaiRec(257, bu), oaiRec(259, ba), oaiRec(260, bu),
	}},
	{"peers/oai_mag12ap.pcap", pcapio.TransportIPv6, checksumVerifies, nil},
	{"peers/oai_mag12lma.pcap", pcapio.TransportIPv6, checksumVerifies, []recWant{
		oaiRec(39, bu), oaiRec(40, ba), oaiRec(91, bu), oaiRec(96, bu), oaiRec(97, ba), oaiRec(125, bu),
	}},
	{"peers/oai_mag22ap.pcap", pcapio.TransportIPv6, checksumVerifies, nil},
	{"peers/oai_mag22lma.pcap", pcapio.TransportIPv6, checksumVerifies, []recWant{
		oaiRec(23, bu), oaiRec(25, ba), oaiRec(56, bu), oaiRec(61, bu), oaiRec(63, ba),
	}},

	// tcpdump's test suite. ipv6_mobility_1.pcap is clean MIPv6 with the
	// Checksum field left 0. The others are fuzzer finds, truncated by
	// the capture, carried over the pre-IANA Next Header 62.
	{"tcpdump/ipv6_mobility_1.pcap", pcapio.TransportIPv6, checksumZeroField, cleanRecs(
		mh.TypeBindingRefreshRequest, mh.TypeHomeTestInit, mh.TypeCareOfTestInit, mh.TypeHomeTest, mh.TypeCareOfTest,
		bu, bu, bu, bu, bu, ba, ba, ba, ba, mh.TypeBindingError, bu)},
	{"tcpdump/ipv6-mobility-header-oobr.pcap", pcapio.TransportIPv6Old62, checksumTruncated, []recWant{
		{1, ba, headerErr(mh.ErrTooShort), headerErr(mh.ErrTooShort)}, // 7 octets, less than a Mobility Header
	}},
	{"tcpdump/mobility_opt_asan.pcap", pcapio.TransportIPv6Old62, checksumTruncated, []recWant{
		{1, bu, truncated, decodes(qTruncM)},
		{2, bu, truncated, optionErr(24, mh.ErrInvalidLength)}, // PadN Length 238 past the end
	}},
	{"tcpdump/mobility_opt_asan_2.pcap", pcapio.TransportIPv6Old62, checksumTruncated, []recWant{
		{1, mh.TypeBindingRefreshRequest, truncated, decodes(qTruncM)},
	}},
	{"tcpdump/mobility_opt_asan_3.pcap", pcapio.TransportIPv6Old62, checksumTruncated, []recWant{
		{1, mh.TypeCareOfTest, truncated, decodes(qTrunc)},
		{2, bu, truncated, optionErr(43, mh.ErrInvalidLength)}, // option 255 Length 255 past the end
	}},
	{"tcpdump/mobility_opt_asan_4.pcap", pcapio.TransportIPv6Old62, checksumTruncated, []recWant{
		{1, bu, truncated, decodes(qTruncM)},
	}},
	{"tcpdump/mobility_opt_asan_5.pcap", pcapio.TransportIPv6Old62, checksumTruncated, []recWant{
		{1, mh.TypeBindingRefreshRequest, truncated, optionErr(12, mh.ErrTooShort)}, // lone Type octet of option 20
	}},
	{"tcpdump/mobility_opt_asan_6.pcap", pcapio.TransportIPv6Old62, checksumTruncated, []recWant{
		{1, bu, truncated, optionErr(15, mh.ErrTooShort)}, // lone Type octet of option 4
		{2, bu, truncated, decodes(qTrunc)},
	}},
	{"tcpdump/mobility_opt_asan_7.pcap", pcapio.TransportIPv6Old62, checksumTruncated, []recWant{
		{1, mh.TypeCareOfTest, truncated, headerErr(mh.ErrTooShort)}, // 16 octets, CoT's fixed part needs 24
		{2, bu, truncated, decodes(qTruncM)},
	}},
	{"tcpdump/mobility_opt_asan_8.pcap", pcapio.TransportIPv6Old62, checksumTruncated, []recWant{
		{1, bu, truncated, optionErr(40, mh.ErrTooShort)}, // lone Type octet of option 18
	}},
}

// parseNoPanic runs mh.ParseWith, turning a panic into an error that
// names it.
func parseNoPanic(b []byte, legacy bool) (m mh.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("CODEC BUG: panic: %v", r)
		}
	}()
	return mh.ParseWith(b, mh.DecodeOptions{Legacy: legacy})
}

// checkOutcome compares a decode result with what the table says.
func checkOutcome(t *testing.T, where string, m mh.Message, err error, want outcome) bool {
	t.Helper()
	switch want.kind {
	case "":
		if err != nil {
			t.Errorf("%s: error %v, want it to decode", where, err)
			return false
		}
		if q := m.MHBase().Quirks; q != want.quirks {
			t.Errorf("%s: quirks %v, want %v", where, q, want.quirks)
		}
		return true
	case "header":
		var he *mh.HeaderError
		if !errors.As(err, &he) {
			t.Errorf("%s: error %T %v, want *mh.HeaderError", where, err, err)
		}
	case "option":
		var oe *mh.OptionError
		if !errors.As(err, &oe) {
			t.Errorf("%s: error %T %v, want *mh.OptionError", where, err, err)
		} else if oe.Offset != want.offset {
			t.Errorf("%s: OptionError at offset %d, want %d", where, oe.Offset, want.offset)
		}
	}
	if !errors.Is(err, want.is) {
		t.Errorf("%s: error %v does not wrap %v", where, err, want.is)
	}
	return false
}

func TestFixtures(t *testing.T) {
	all, err := filepath.Glob(fixturePath("*/*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(fixtureTable) {
		t.Errorf("%d captures under fixtures/, %d in the table: every capture must be listed", len(all), len(fixtureTable))
	}
	total := 0
	for _, fw := range fixtureTable {
		t.Run(fw.file, func(t *testing.T) {
			recs, err := pcapio.ReadMobilityHeaders(fixturePath(fw.file))
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			if len(recs) != len(fw.recs) {
				t.Fatalf("%d Mobility Headers, want %d", len(recs), len(fw.recs))
			}
			total += len(recs)
			for i, r := range recs {
				w := fw.recs[i]
				where := fmt.Sprintf("%s frame %d (MH % x)", fw.file, r.Frame, r.MH)
				if r.Frame != w.frame || r.Transport != fw.transport || r.Err != nil {
					t.Errorf("%s: frame %d over %s (err %v), want frame %d over %s", where, r.Frame, r.Transport, r.Err, w.frame, fw.transport)
				}
				if len(r.MH) < 3 || mh.Type(r.MH[2]) != w.typ {
					t.Errorf("%s: MH Type is not %v", where, w.typ)
				}
				checkChecksum(t, where, r, fw.checksum)

				sm, serr := parseNoPanic(r.MH, false)
				if checkOutcome(t, where+" strict", sm, serr, w.strict) {
					checkReencode(t, where, sm, r.MH)
				}
				lm, lerr := parseNoPanic(r.MH, true)
				if checkOutcome(t, where+" legacy", lm, lerr, w.legacy) && w.legacy.quirks == 0 && serr == nil {
					if !reflect.DeepEqual(sm, lm) {
						t.Errorf("%s: legacy decoding of a conformant message differs from strict:\n strict %+v\n legacy %+v", where, sm, lm)
					}
				}
			}
		})
	}
	if total != 93 {
		t.Errorf("%d Mobility Headers in all captures, want 93", total)
	}
}

// checkReencode checks that a strictly decoded message encodes back to
// the captured octets (up to the end Header Len gives).
func checkReencode(t *testing.T, where string, m mh.Message, wire []byte) {
	t.Helper()
	want := wire
	if n := (int(wire[1]) + 1) * 8; n < len(wire) {
		want = wire[:n] // Payload Proto != 59: what follows is not the MH's
	}
	got, err := m.Marshal()
	if err != nil {
		t.Errorf("CODEC BUG: %s: Marshal of the decoded %T: %v", where, m, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("CODEC BUG: %s: re-encoding differs:\n got % x\nwant % x", where, got, want)
	}
	if n := m.MarshalLen(); n != len(got) {
		t.Errorf("CODEC BUG: %s: MarshalLen %d, Marshal wrote %d", where, n, len(got))
	}
}

func checkChecksum(t *testing.T, where string, r pcapio.MHRecord, cw checksumWant) {
	t.Helper()
	if cw == checksumTruncated {
		if !r.Truncated {
			t.Errorf("%s: expected a truncated capture", where)
		}
		return
	}
	if r.Truncated || len(r.MH) < mh.HeaderLen {
		t.Errorf("%s: truncated capture", where)
		return
	}
	field := uint16(r.MH[4])<<8 | uint16(r.MH[5])
	switch cw {
	case checksumVerifies:
		if !mh.VerifyChecksum(r.Src, r.Dst, r.MH) {
			t.Errorf("%s: checksum %#04x does not verify (computed %#04x)", where, field, mh.Checksum(r.Src, r.Dst, r.MH))
		}
	case checksumZeroField, checksumZeroUDP:
		if field != 0 {
			t.Errorf("%s: checksum field %#04x, want 0", where, field)
		}
		if cw == checksumZeroField && mh.VerifyChecksum(r.Src, r.Dst, r.MH) {
			t.Errorf("%s: a zero checksum verifies", where)
		}
	}
}
