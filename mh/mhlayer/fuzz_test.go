package mhlayer_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/pmipdmm/pmipdmm/mh"
	"github.com/pmipdmm/pmipdmm/mh/mhlayer"
)

// reused is decoded into by every FuzzLayer input, so that state left by
// one input is exercised by the next (a fuzz worker calls the target
// sequentially).
var reused = [2]mhlayer.MobilityHeader{{}, {Legacy: true}}

// FuzzLayer feeds arbitrary octets as a Mobility Header to gopacket (with
// decode-panic recovery off) and to a reused DecodingLayer. Seeds:
// testdata/fuzz/FuzzLayer, written by mh's TestWriteFuzzCorpus.
func FuzzLayer(f *testing.F) {
	f.Add(hexBytes(f, pbuFrame)[54:])
	f.Add(hexBytes(f, udpFrame)[42:])
	ip6 := &layers.IPv6{Version: 6, NextHeader: 135, HopLimit: 64, SrcIP: mag.AsSlice(), DstIP: lma.AsSlice()}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, dec := range []gopacket.Decoder{mhlayer.DecodeStrict, mhlayer.DecodeLegacy} {
			legacy := i == 1
			p := gopacket.NewPacket(data, dec, gopacket.DecodeOptions{SkipDecodeRecovery: true})
			_, perr := mh.ParseWith(data, mh.DecodeOptions{Legacy: legacy})
			l, _ := p.Layer(mhlayer.LayerTypeMobilityHeader).(*mhlayer.MobilityHeader)
			el := p.ErrorLayer()
			if ok := perr == nil; ok != (l != nil) || ok != (el == nil) {
				t.Fatalf("legacy=%v: ParseWith error %v, layer %v, error layer %v", legacy, perr, l != nil, el)
			}

			// The reused DecodingLayer agrees with the fresh one.
			r := &reused[i]
			rerr := r.DecodeFromBytes(data, gopacket.NilDecodeFeedback)
			if (rerr == nil) != (perr == nil) {
				t.Fatalf("legacy=%v: DecodeFromBytes error %v, ParseWith %v", legacy, rerr, perr)
			}
			if l == nil {
				var he *mh.HeaderError
				var oe *mh.OptionError
				if !errors.As(el.Error(), &he) && !errors.As(el.Error(), &oe) {
					t.Errorf("legacy=%v: error layer holds %T %v", legacy, el.Error(), el.Error())
				}
				continue
			}
			if !bytes.Equal(append(append([]byte{}, l.LayerContents()...), l.LayerPayload()...), data) {
				t.Fatalf("legacy=%v: contents+payload are not the input", legacy)
			}
			if !bytes.Equal(r.LayerContents(), l.LayerContents()) || r.NextLayerType() != l.NextLayerType() {
				t.Fatalf("legacy=%v: reused layer contents % x next %v, fresh % x next %v",
					legacy, r.LayerContents(), r.NextLayerType(), l.LayerContents(), l.NextLayerType())
			}
			if l.NextLayerType() == gopacket.LayerTypePayload {
				if pl := p.Layer(gopacket.LayerTypePayload); pl == nil || !bytes.Equal(pl.LayerContents(), l.LayerPayload()) {
					t.Errorf("legacy=%v: payload layer %v", legacy, pl)
				}
			}
			if legacy {
				continue
			}
			// Strict: serializing gives back the contents exactly, and with
			// ComputeChecksums a checksum that verifies.
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, l); err != nil {
				t.Fatalf("SerializeLayers: %v", err)
			}
			if !bytes.Equal(buf.Bytes(), l.LayerContents()) {
				t.Fatalf("serialization differs:\n got % x\nwant % x", buf.Bytes(), l.LayerContents())
			}
			if err := l.SetNetworkLayerForChecksum(ip6); err != nil {
				t.Fatal(err)
			}
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, l); err != nil {
				t.Fatalf("SerializeLayers with checksum: %v", err)
			}
			if !mh.VerifyChecksum(mag, lma, buf.Bytes()) {
				t.Errorf("computed checksum does not verify: % x", buf.Bytes())
			}
		}
	})
}
