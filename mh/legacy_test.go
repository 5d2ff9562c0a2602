package mh

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
)

// Legacy-peer decode mode (DecodeOptions.Legacy) on real captures of other
// PMIPv6 implementations (../shared/fixtures/peers, see
// ../shared/reference/peer-quirks.md).

const peersDir = "../../shared/fixtures/peers"

func readPeerMHs(t *testing.T, name string) []pcapio.MHRecord {
	t.Helper()
	recs, err := pcapio.ReadMobilityHeaders(filepath.Join(peersDir, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s: no Mobility Header found", name)
	}
	return recs
}

// badOption reports whether an option of mh (walked over the whole
// buffer, whatever Header Len says) fails to decode in its typed form:
// Legacy mode must then keep it raw and report QuirkMalformedOption.
// Which private options of the peers collide with a typed option depends
// on which options this package types, so it is computed, not listed.
func badOption(mh []byte) bool {
	m, ok := newMessageFor(mh).(fixedPart)
	if !ok {
		return false
	}
	off := HeaderLen + m.fixedLen()
	for off+2 <= len(mh) {
		if mh[off] == byte(OptPad1) {
			off++
			continue
		}
		end := off + 2 + int(mh[off+1])
		if end > len(mh) {
			return true
		}
		if _, err := ParseOption(mh[off:end]); err != nil {
			return true
		}
		off = end
	}
	return false
}

func TestLegacyPeers(t *testing.T) {
	const (
		short = QuirkHeaderLenTooShort
		unal  = QuirkUnalignedLength
	)
	cases := []struct {
		file string
		// quirks a Legacy decode must report for a BU and for a BA,
		// not counting QuirkMalformedOption (see badOption).
		bu, ba Quirk
		// strict: whether strict decoding must fail (when no option is bad).
		strictFails bool
		// buFlags / baFlags after the Legacy decode.
		buFlags BUFlags
		baFlags BAFlags
		count   int // Mobility Headers in the capture
	}{
		// OAI PMIPv6: Header Len 4 octets short (80 declared, 84 sent; 72
		// and 76 for the PBA), so the MH is not a multiple of 8 either;
		// PBA with P=0.
		{"live_oai_pmip6d_nsrun.pcap", short | unal, short | unal | QuirkPBAMissingP, true,
			BUFlagA | BUFlagP, BAFlagP, 8},
		// MAD-PMIPv6 DMM relay: 87-octet (and 105, 137) MHs whose Header
		// Len rounds down; PBA with R (0x40) set instead of P. The PBA's
		// low bit 0x02 (D under RFC 8885) is kept as received.
		{"live_mad_pmip6d_dmm_nsrun.pcap", short | unal, short | unal | QuirkPBARFlagForP, true,
			BUFlagA | BUFlagH | BUFlagP, BAFlagP | BAFlagD, 18},
		// OAI pmip6d 0.4 (2011): BU flags 0x00a0 (host byte order), BA
		// without P; lengths right. Swapping back gives A and 0x2000 (L):
		// the bit OAI 0.4 meant as its proxy flag is not known, so it is
		// not turned into P.
		{"oai_lma2mags.pcap", QuirkSwappedFlags, QuirkPBAMissingP, false, BUFlagA | BUFlagL, BAFlagP, 11},
		{"oai_mag12lma.pcap", QuirkSwappedFlags, QuirkPBAMissingP, false, BUFlagA | BUFlagL, BAFlagP, 6},
		{"oai_mag22lma.pcap", QuirkSwappedFlags, QuirkPBAMissingP, false, BUFlagA | BUFlagL, BAFlagP, 5},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			recs := readPeerMHs(t, c.file)
			if len(recs) != c.count {
				t.Errorf("%d Mobility Headers, want %d", len(recs), c.count)
			}
			var dec Decoder
			dec.Legacy = true
			nbad := 0
			defer func() { t.Logf("%d of %d messages have an option whose typed form rejects it", nbad, len(recs)) }()
			for _, r := range recs {
				if r.Err != nil || r.Truncated {
					t.Fatalf("frame %d: err %v truncated %v", r.Frame, r.Err, r.Truncated)
				}
				want := c.bu
				switch Type(r.MH[2]) {
				case TypeBindingUpdate:
				case TypeBindingAck:
					want = c.ba
				default:
					t.Fatalf("frame %d: unexpected MH Type %d", r.Frame, r.MH[2])
				}
				bad := badOption(r.MH)
				if bad {
					nbad++
					want |= QuirkMalformedOption
				}

				strict, serr := Parse(r.MH)
				if c.strictFails || bad {
					if serr == nil {
						t.Errorf("frame %d: strict decode accepted it", r.Frame)
					}
				} else if serr != nil {
					t.Errorf("frame %d: strict decode: %v", r.Frame, serr)
				} else if q := strict.MHBase().Quirks; q != 0 {
					t.Errorf("frame %d: strict decode reports quirks %s", r.Frame, q)
				}

				m, err := ParseWith(r.MH, DecodeOptions{Legacy: true})
				if err != nil {
					t.Fatalf("frame %d: legacy decode: %v", r.Frame, err)
				}
				if got := m.MHBase().Quirks; got != want {
					t.Errorf("frame %d (%s): quirks %q, want %q", r.Frame, m.MHType(), got, want)
				}
				switch v := m.(type) {
				case *BindingUpdate:
					if v.Flags != c.buFlags {
						t.Errorf("frame %d: BU flags %#04x after legacy decode, want %#04x", r.Frame, uint16(v.Flags), uint16(c.buFlags))
					}
				case *BindingAck:
					if v.Flags != c.baFlags {
						t.Errorf("frame %d: BA flags %#02x after legacy decode, want %#02x", r.Frame, uint8(v.Flags), uint8(c.baFlags))
					}
				}
				// A reused Decoder gives the same result.
				dm, err := dec.Decode(r.MH)
				if err != nil || dm.MHBase().Quirks != want || !reflect.DeepEqual(comparable(dm), comparable(m)) {
					t.Errorf("frame %d: Decoder.Decode differs from ParseWith: %v", r.Frame, err)
				}
			}
		})
	}
}

// OAI's Header Len is exactly 4 octets short, MAD's rounds 87 down to 80.
func TestLegacyHeaderLenArithmetic(t *testing.T) {
	for _, r := range readPeerMHs(t, "live_oai_pmip6d_nsrun.pcap") {
		if declared := (int(r.MH[1]) + 1) * 8; declared != len(r.MH)-4 {
			t.Errorf("OAI frame %d: Header Len says %d, payload %d: not 4 short", r.Frame, declared, len(r.MH))
		}
	}
	for _, r := range readPeerMHs(t, "live_mad_pmip6d_dmm_nsrun.pcap") {
		if declared := (int(r.MH[1]) + 1) * 8; declared != len(r.MH)/8*8 || len(r.MH)%8 == 0 {
			t.Errorf("MAD frame %d: Header Len says %d, payload %d", r.Frame, declared, len(r.MH))
		}
	}
}

// Legacy mode changes nothing on a conformant message (scapy's PBU), and
// strict mode still rejects the OAI LMA's short PBA in the same capture.
func TestLegacyConformantPeer(t *testing.T) {
	for _, r := range readPeerMHs(t, "live_oai_lma_vs_scapy_pbu.pcap") {
		m, err := ParseWith(r.MH, DecodeOptions{Legacy: true})
		if err != nil {
			t.Fatalf("frame %d: %v", r.Frame, err)
		}
		_, serr := Parse(r.MH)
		switch Type(r.MH[2]) {
		case TypeBindingUpdate: // scapy, RFC-exact
			if serr != nil || m.MHBase().Quirks != 0 {
				t.Errorf("frame %d: strict %v, legacy quirks %s; want a clean decode", r.Frame, serr, m.MHBase().Quirks)
			}
			if err := ValidatePBU(m.(*BindingUpdate)); err != nil {
				t.Errorf("frame %d: ValidatePBU: %v", r.Frame, err)
			}
		case TypeBindingAck: // OAI LMA
			var he *HeaderError
			if !errors.As(serr, &he) || he.Field != "Header Len" {
				t.Errorf("frame %d: strict error %v, want a Header Len error", r.Frame, serr)
			}
			if q := m.MHBase().Quirks; q != QuirkHeaderLenTooShort|QuirkUnalignedLength|QuirkPBAMissingP {
				t.Errorf("frame %d: quirks %s", r.Frame, q)
			}
		}
	}
}

// What the RFC checks say about the peers once Legacy mode has decoded them.
func TestLegacyPeersValidation(t *testing.T) {
	for _, r := range readPeerMHs(t, "live_oai_pmip6d_nsrun.pcap") {
		m, err := ParseWith(r.MH, DecodeOptions{Legacy: true})
		if err != nil {
			t.Fatal(err)
		}
		switch v := m.(type) {
		case *BindingUpdate:
			if err := ValidatePBU(v); err != nil {
				t.Errorf("OAI PBU frame %d: %v", r.Frame, err)
			}
		case *BindingAck:
			// OAI's PBA carries no Handoff Indicator and no ATT, which RFC
			// 5213 §5.3.6 requires in every PBA.
			if err := ValidatePBA(v); err == nil || !strings.Contains(err.Error(), "Handoff Indicator") {
				t.Errorf("OAI PBA frame %d: ValidatePBA = %v, want the missing Handoff Indicator", r.Frame, err)
			}
		}
		if a := CheckAlignment(r.MH); a != nil {
			t.Errorf("OAI frame %d: alignment issues %v, want none", r.Frame, a)
		}
	}
	for _, r := range readPeerMHs(t, "live_mad_pmip6d_dmm_nsrun.pcap") {
		m, err := ParseWith(r.MH, DecodeOptions{Legacy: true})
		if err != nil {
			t.Fatal(err)
		}
		switch v := m.(type) {
		case *BindingUpdate:
			if err := ValidatePBU(v); err != nil {
				t.Errorf("MAD PBU frame %d: %v", r.Frame, err)
			}
		case *BindingAck:
			if err := ValidatePBA(v); err != nil {
				t.Errorf("MAD PBA frame %d: %v", r.Frame, err)
			}
		}
		// MAD puts the Timestamp at 45 (wants 8n+2) and the Link-local
		// Address at 65 (wants 8n+6).
		want := []AlignmentIssue{{45, OptTimestamp, Alignment{8, 2}}, {65, OptLinkLocalAddress, Alignment{8, 6}}}
		if got := CheckAlignment(r.MH); !reflect.DeepEqual(got[:min(2, len(got))], want) {
			t.Errorf("MAD frame %d: CheckAlignment = %v, want %v first", r.Frame, got, want)
		}
	}
}
