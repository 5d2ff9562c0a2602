package esptransport

import (
	"bytes"
	"net/netip"

	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/ipsec"
)

// MemESPMarker starts every ESP packet carried on an in-memory network:
// transport.Mem has no next header, so an ESP packet travels as
// MemESPMarker || ESP. A Mobility Header starting with these octets
// (Payload Proto 0xff, Header Len 'E', MH type 'S') is not a valid
// signalling message.
const MemESPMarker = "\xffESP"

// MemESP returns the packet that carries esp on an in-memory network
// (for tests that inject ESP).
func MemESP(esp []byte) []byte {
	return append([]byte(MemESPMarker), esp...)
}

// IsMemESP reports whether a packet seen on an in-memory network (a
// Network.Tap) is ESP, and returns the ESP packet.
func IsMemESP(data []byte) (esp []byte, ok bool) {
	if bytes.HasPrefix(data, []byte(MemESPMarker)) {
		return data[len(MemESPMarker):], true
	}
	return nil, false
}

// NewMem applies eng to an in-memory transport: Mobility Headers go as
// they are, ESP behind MemESPMarker. The Transport owns m (Close closes
// it).
func NewMem(m *transport.Mem, eng *ipsec.Engine, o Options) *Transport {
	sendESP := func(dst netip.Addr, esp []byte) error { return m.Send(dst, MemESP(esp)) }
	return newTransport(eng, m.LocalAddr(), o, m.Send, sendESP, []source{{tr: m, classify: classifyMem}})
}

func classifyMem(p *transport.Packet) (uint8, bool) {
	if esp, ok := IsMemESP(p.Data); ok {
		p.Data = esp
		return ipsec.ProtoESP, true
	}
	return ipsec.ProtoMH, true
}
