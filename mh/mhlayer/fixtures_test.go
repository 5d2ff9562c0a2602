package mhlayer_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/pmipdmm/pmipdmm/internal/pcapio"
	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/pmipdmm/pmipdmm/mh/mhlayer"
)

// fixture returns the path of a capture under ../shared/fixtures
// (relative to the module root).
func fixture(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "../../../shared/fixtures", rel)
}

type frame struct {
	data     []byte
	linkType layers.LinkType
}

// readFrames reads a pcap or pcapng file with pcapgo.
func readFrames(path string) ([]frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var out []frame
	if magic == [4]byte{0x0a, 0x0d, 0x0d, 0x0a} {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, err
		}
		for {
			d, ci, err := r.ReadPacketData()
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return out, err
			}
			lt := r.LinkType()
			if iface, err := r.Interface(ci.InterfaceIndex); err == nil {
				lt = iface.LinkType
			}
			out = append(out, frame{d, lt})
		}
	}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, err
	}
	for {
		d, _, err := r.ReadPacketData()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, frame{d, r.LinkType()})
	}
}

// readFramesLenient reads with pcapgo and falls back to internal/pcapio
// for the files pcapgo refuses (tcpdump's fuzzed captures have records
// longer than the snap length).
func readFramesLenient(t *testing.T, path string) []frame {
	t.Helper()
	out, err := readFrames(path)
	if err == nil {
		return out
	}
	pkts, err := pcapio.ReadAll(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out = out[:0]
	for _, p := range pkts {
		out = append(out, frame{p.Data, layers.LinkType(p.LinkType)})
	}
	return out
}

// firstDecoder maps a link type to a decoder; gopacket 1.1.19 has none
// for LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229).
func firstDecoder(lt layers.LinkType) gopacket.Decoder {
	switch lt {
	case 228:
		return layers.LayerTypeIPv4
	case 229:
		return layers.LayerTypeIPv6
	}
	return lt
}

func TestFramesMatchCaptures(t *testing.T) {
	cases := []struct {
		file  string
		index int
		hex   string
	}{
		{"crafted/pbu_pba_scapy.pcap", 0, pbuFrame},
		{"crafted/pbu_pba_scapy.pcap", 1, pbaFrame},
		{"crafted/mh_udp5436.pcap", 0, udpFrame},
	}
	for _, c := range cases {
		fr, err := readFrames(fixture(c.file))
		if err != nil {
			t.Fatal(err)
		}
		if c.index >= len(fr) || !bytes.Equal(fr[c.index].data, hexBytes(t, c.hex)) {
			t.Errorf("%s frame %d differs from the hex in the test", c.file, c.index+1)
		}
	}
}

// TestAllFixtures decodes every frame of every capture with gopacket and
// checks that the Mobility Header it finds (IPv6 Next Header 135 or UDP
// 5436) is the one internal/pcapio extracts, and that the layer decodes
// exactly when mh.ParseWith does, in strict and in legacy mode.
func TestAllFixtures(t *testing.T) {
	files, err := filepath.Glob(fixture("*/*.pcap"))
	if err != nil || len(files) != 23 {
		t.Fatalf("found %d captures (%v), want 23", len(files), err)
	}
	t.Cleanup(func() { mhlayer.SetLegacy(false) })
	total := 0
	for _, path := range files {
		recs, err := pcapio.ReadMobilityHeaders(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want := map[int]pcapio.MHRecord{}
		for _, r := range recs {
			if r.Transport == pcapio.TransportIPv6 || r.Transport == pcapio.TransportUDP4 {
				want[r.Frame] = r
			}
		}
		frames := readFramesLenient(t, path)
		for _, legacy := range []bool{false, true} {
			mhlayer.SetLegacy(legacy)
			found := 0
			for i, fr := range frames {
				p := gopacket.NewPacket(fr.data, firstDecoder(fr.linkType), gopacket.DecodeOptions{SkipDecodeRecovery: true})
				var got []byte
				ok := false
				if l, isMH := p.Layer(mhlayer.LayerTypeMobilityHeader).(*mhlayer.MobilityHeader); isMH {
					got, ok = append(append([]byte{}, l.LayerContents()...), l.LayerPayload()...), true
					if p.ErrorLayer() != nil {
						t.Errorf("%s frame %d: MH decoded but error layer %v", path, i+1, p.ErrorLayer().Error())
					}
				} else if el := p.ErrorLayer(); el != nil {
					var he *mh.HeaderError
					var oe *mh.OptionError
					if !errors.As(el.Error(), &he) && !errors.As(el.Error(), &oe) {
						continue // not an MH failure (e.g. another protocol's truncation)
					}
					got = el.LayerContents()
				} else {
					continue
				}
				found++
				r, exp := want[i+1]
				if !exp {
					t.Errorf("%s frame %d: gopacket found a Mobility Header pcapio does not", path, i+1)
					continue
				}
				if !bytes.Equal(got, r.MH) {
					t.Errorf("%s frame %d: gopacket MH % x, pcapio % x", path, i+1, got, r.MH)
				}
				_, perr := mh.ParseWith(r.MH, mh.DecodeOptions{Legacy: legacy})
				if ok != (perr == nil) {
					t.Errorf("%s frame %d legacy=%v: layer decoded=%v, ParseWith error %v", path, i+1, legacy, ok, perr)
				}
			}
			if found != len(want) {
				t.Errorf("%s legacy=%v: gopacket found %d Mobility Headers, pcapio %d", path, legacy, found, len(want))
			}
			total += found
		}
	}
	// 80 Mobility Headers over IPv6/UDP in the captures: 12 crafted, 52
	// from peers, 16 in tcpdump/ipv6_mobility_1.pcap (the tcpdump
	// malformed ones use the pre-IANA Next Header 62), twice.
	if total != 2*80 {
		t.Errorf("%d Mobility Headers decoded over both modes, want %d", total, 2*80)
	}
}
