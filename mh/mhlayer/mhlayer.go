// Package mhlayer adapts the Mobility Header codec (package mh) to
// gopacket: it registers LayerTypeMobilityHeader, makes IPv6 Next Header
// 135 and UDP port 5436 (RFC 5844 IPv4 transport) decode to it, and
// provides MobilityHeader, a gopacket.DecodingLayer and
// gopacket.SerializableLayer holding the decoded mh.Message.
//
// Importing the package is enough for gopacket.NewPacket to decode
// Mobility Headers. Decoding is strict unless SetLegacy(true) is called
// (or, with a DecodingLayerParser, MobilityHeader.Legacy is set).
package mhlayer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/pmipdmm/pmipdmm/mh"
)

// PMIPControlPort is the UDP port of the RFC 5844 IPv4 transport
// (pmip6-cntl).
const PMIPControlPort = 5436

// LayerTypeNumber is the number LayerTypeMobilityHeader is registered
// under (gopacket reserves 1000-1999 for users; 1135 for Next Header 135).
const LayerTypeNumber = 1135

// LayerTypeMobilityHeader is the gopacket layer type of the Mobility
// Header (RFC 6275 §6.1).
var LayerTypeMobilityHeader = gopacket.RegisterLayerType(LayerTypeNumber, gopacket.LayerTypeMetadata{
	Name:    "MobilityHeader",
	Decoder: gopacket.DecodeFunc(decodeDefault),
})

// Decoders usable as the first decoder of gopacket.NewPacket for bytes
// that start with a Mobility Header, whatever SetLegacy says.
var (
	DecodeStrict gopacket.Decoder = gopacket.DecodeFunc(func(data []byte, p gopacket.PacketBuilder) error {
		return decodeMH(data, p, false)
	})
	DecodeLegacy gopacket.Decoder = gopacket.DecodeFunc(func(data []byte, p gopacket.PacketBuilder) error {
		return decodeMH(data, p, true)
	})
)

var legacyDefault atomic.Bool

// SetLegacy selects whether the registered decoder (IPv6 Next Header 135,
// UDP port 5436, LayerTypeMobilityHeader) accepts the deviations of
// legacy peers (mh.DecodeOptions.Legacy). The default is strict.
func SetLegacy(on bool) { legacyDefault.Store(on) }

func init() {
	layers.IPProtocolMetadata[mh.IPProtoMH] = layers.EnumMetadata{
		DecodeWith: LayerTypeMobilityHeader,
		Name:       "MobilityHeader",
		LayerType:  LayerTypeMobilityHeader,
	}
	layers.RegisterUDPPortLayerType(layers.UDPPort(PMIPControlPort), LayerTypeMobilityHeader)
	if _, ok := layers.UDPPortNames[PMIPControlPort]; !ok {
		layers.UDPPortNames[PMIPControlPort] = "pmip6-cntl"
	}
}

// MobilityHeader is a Mobility Header as a gopacket layer. Contents is the
// message (as long as its Header Len says, or the whole data when a legacy
// decode accepted a wrong Header Len); Payload is what follows it.
type MobilityHeader struct {
	layers.BaseLayer
	// Message is the decoded message, or the message to serialize. After
	// DecodeFromBytes it belongs to the layer's reusable mh.Decoder and is
	// overwritten by the next DecodeFromBytes; after gopacket.NewPacket it
	// is a fresh value owned by the packet.
	Message mh.Message
	// Legacy makes DecodeFromBytes accept legacy-peer deviations
	// (mh.DecodeOptions.Legacy); the message's Quirks list them.
	Legacy bool
	// UDP reports (decoding) or selects (serializing) the RFC 5844 UDP
	// transport, where the Mobility Header checksum is 0 (RFC 5844
	// §4.1.3). Decoding sets it when the layer below is UDP.
	UDP bool

	dec *mh.Decoder
	ip6 *layers.IPv6
}

// LayerType returns LayerTypeMobilityHeader.
func (m *MobilityHeader) LayerType() gopacket.LayerType { return LayerTypeMobilityHeader }

// CanDecode returns LayerTypeMobilityHeader.
func (m *MobilityHeader) CanDecode() gopacket.LayerClass { return LayerTypeMobilityHeader }

// NextLayerType is gopacket.LayerTypePayload when the Payload Proto is not
// 59 (IPPROTO_NONE) and octets follow the message, else LayerTypeZero.
func (m *MobilityHeader) NextLayerType() gopacket.LayerType {
	if m.Message == nil || len(m.Payload) == 0 || m.Message.MHBase().PayloadProto == mh.IPProtoNone {
		return gopacket.LayerTypeZero
	}
	return gopacket.LayerTypePayload
}

// DecodeFromBytes decodes data with the layer's reusable mh.Decoder (strict
// or, with Legacy, legacy), so that a DecodingLayerParser does not
// allocate once warmed up. Contents and Payload alias data.
func (m *MobilityHeader) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if m.dec == nil {
		m.dec = &mh.Decoder{}
	}
	m.dec.Legacy = m.Legacy
	msg, err := m.dec.Decode(data)
	return m.finish(data, msg, err, df)
}

// finish sets the layer's fields after a decode of data.
func (m *MobilityHeader) finish(data []byte, msg mh.Message, err error, df gopacket.DecodeFeedback) error {
	if err != nil {
		m.Message, m.Contents, m.Payload = nil, nil, nil
		if errors.Is(err, mh.ErrTooShort) && df != nil {
			df.SetTruncated()
		}
		return err
	}
	n := len(data)
	if msg.MHBase().Quirks&mh.QuirkHeaderLenTooShort == 0 {
		// Header Len gives the extent; a legacy decode that found it too
		// short took the whole data as the message.
		n = min(n, (int(data[1])+1)*8)
	}
	m.Message = msg
	m.Contents, m.Payload = data[:n], data[n:]
	return nil
}

func decodeDefault(data []byte, p gopacket.PacketBuilder) error {
	return decodeMH(data, p, legacyDefault.Load())
}

// decodeMH is the gopacket.Decoder of NewPacket: each packet gets a fresh
// message from mh.ParseWith.
func decodeMH(data []byte, p gopacket.PacketBuilder, legacy bool) error {
	m := &MobilityHeader{Legacy: legacy}
	if pk, ok := p.(interface {
		TransportLayer() gopacket.TransportLayer
	}); ok {
		_, m.UDP = pk.TransportLayer().(*layers.UDP)
	}
	msg, err := mh.ParseWith(data, mh.DecodeOptions{Legacy: legacy})
	if err := m.finish(data, msg, err, p); err != nil {
		return err
	}
	p.AddLayer(m)
	if nt := m.NextLayerType(); nt != gopacket.LayerTypeZero {
		return p.NextDecoder(nt)
	}
	return nil
}

// SetNetworkLayerForChecksum sets the IPv6 header whose source and
// destination enter the checksum's pseudo-header (RFC 6275 §6.1.1) when
// serializing with ComputeChecksums. Only *layers.IPv6 is accepted; for
// the UDP transport set UDP instead (the checksum is then 0).
//
// The addresses used are the IPv6 header's SrcIP and DstIP: a caller that
// sends with a Type 2 Routing Header or a Home Address option must give a
// layer holding the addresses the pseudo-header needs (RFC 2460 §8.1).
func (m *MobilityHeader) SetNetworkLayerForChecksum(l gopacket.NetworkLayer) error {
	ip6, ok := l.(*layers.IPv6)
	if !ok {
		return fmt.Errorf("mhlayer: cannot use layer type %v for the Mobility Header checksum (want IPv6)", l.LayerType())
	}
	m.ip6 = ip6
	return nil
}

// SerializeTo prepends the encoded Message to b. With opts.FixLengths the
// Header Len octet is the one computed from the encoding (and is stored
// in the message's Header); without it, the message's Header.HeaderLen is
// written as it stands. With opts.ComputeChecksums the checksum is
// computed from the IPv6 layer given to SetNetworkLayerForChecksum (0 over
// UDP) and stored in the message's Header; without it, Header.Checksum is
// written as it stands.
func (m *MobilityHeader) SerializeTo(b gopacket.SerializeBuffer, opts gopacket.SerializeOptions) error {
	if m.Message == nil {
		return errors.New("mhlayer: no message to serialize")
	}
	var src, dst netip.Addr
	if opts.ComputeChecksums && !m.UDP {
		if m.ip6 == nil {
			return errors.New("mhlayer: the Mobility Header checksum needs the IPv6 layer: call SetNetworkLayerForChecksum")
		}
		var ok1, ok2 bool
		src, ok1 = netip.AddrFromSlice(m.ip6.SrcIP.To16())
		dst, ok2 = netip.AddrFromSlice(m.ip6.DstIP.To16())
		if !ok1 || !ok2 {
			return fmt.Errorf("mhlayer: IPv6 layer has invalid addresses %v, %v", m.ip6.SrcIP, m.ip6.DstIP)
		}
	}
	n := m.Message.MarshalLen()
	buf, err := b.PrependBytes(n)
	if err != nil {
		return err
	}
	if err := m.Message.MarshalTo(buf); err != nil {
		return err
	}
	base := m.Message.MHBase()
	if opts.FixLengths {
		base.HeaderLen = buf[1]
	} else {
		buf[1] = base.HeaderLen
	}
	if opts.ComputeChecksums {
		var c uint16
		if !m.UDP {
			c = mh.Checksum(src, dst, buf)
		}
		binary.BigEndian.PutUint16(buf[4:], c)
		base.Checksum = c
	}
	return nil
}

// Interface checks.
var (
	_ gopacket.DecodingLayer     = (*MobilityHeader)(nil)
	_ gopacket.SerializableLayer = (*MobilityHeader)(nil)
)
