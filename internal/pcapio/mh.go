package pcapio

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// PMIPControlPort is the UDP port of RFC 5844's IPv4 transport (pmip6-cntl).
const PMIPControlPort = 5436

// Transports of a Mobility Header.
const (
	TransportIPv6 = "ipv6"     // IPv6 Next Header 135
	TransportUDP4 = "ipv4-udp" // IPv4 UDP port 5436 (RFC 5844 §4)
	TransportUDP6 = "ipv6-udp" // IPv6 UDP port 5436
	// TransportIPv6Old62: IPv6 Next Header 62, the number drafts of
	// Mobile IPv6 used before IANA assigned 135 (tcpdump still decodes it).
	TransportIPv6Old62 = "ipv6-nh62"
)

// MHRecord is one Mobility Header found in a capture.
type MHRecord struct {
	Frame     int   // 1-based frame number in the capture
	Time      int64 // capture time, Unix nanoseconds
	Transport string
	Src, Dst  netip.Addr
	SrcPort   uint16 // UDP transports
	DstPort   uint16
	// MH holds the octets from the Mobility Header's first octet to the
	// end of the IP payload (as the IP length says, cut at the capture).
	MH []byte
	// Truncated: the capture holds fewer octets than the IP length says.
	Truncated bool
	// Err: the frame announces a Mobility Header (Next Header 135 or UDP
	// 5436) but the headers before it could not be walked.
	Err error
}

// ReadMobilityHeaders returns every Mobility Header in the capture at path.
func ReadMobilityHeaders(path string) ([]MHRecord, error) {
	pkts, err := ReadAll(path)
	var out []MHRecord
	for i, p := range pkts {
		if r, ok := ExtractMH(p.LinkType, p.Data); ok {
			r.Frame = i + 1
			r.Time = p.Time.UnixNano()
			out = append(out, r)
		}
	}
	return out, err
}

// ExtractMH finds the Mobility Header in a frame of the given link type.
// ok is false when the frame carries none.
func ExtractMH(linkType uint32, frame []byte) (rec MHRecord, ok bool) {
	ip, err := ipPayloadOf(linkType, frame)
	if err != nil || len(ip) == 0 {
		return MHRecord{}, false
	}
	switch ip[0] >> 4 {
	case 6:
		return fromIPv6(ip)
	case 4:
		return fromIPv4(ip)
	}
	return MHRecord{}, false
}

// ipPayloadOf strips the link layer.
func ipPayloadOf(linkType uint32, f []byte) ([]byte, error) {
	switch linkType {
	case LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6:
		return f, nil
	case LinkTypeNull:
		if len(f) < 4 {
			return nil, fmt.Errorf("short loopback header")
		}
		return f[4:], nil
	case LinkTypeEthernet:
		if len(f) < 14 {
			return nil, fmt.Errorf("short Ethernet header")
		}
		et, off := binary.BigEndian.Uint16(f[12:]), 14
		for (et == 0x8100 || et == 0x88a8) && len(f) >= off+4 {
			et, off = binary.BigEndian.Uint16(f[off+2:]), off+4
		}
		if et != 0x86dd && et != 0x0800 {
			return nil, nil
		}
		return f[off:], nil
	case LinkTypeLinuxSLL:
		if len(f) < 16 {
			return nil, fmt.Errorf("short SLL header")
		}
		return f[16:], nil
	case LinkTypeLinuxSLL2:
		if len(f) < 20 {
			return nil, fmt.Errorf("short SLL2 header")
		}
		return f[20:], nil
	}
	return nil, fmt.Errorf("link type %d not supported", linkType)
}

func fromIPv6(ip []byte) (MHRecord, bool) {
	if len(ip) < 40 {
		return MHRecord{}, false
	}
	rec := MHRecord{Transport: TransportIPv6,
		Src: netip.AddrFrom16([16]byte(ip[8:24])), Dst: netip.AddrFrom16([16]byte(ip[24:40]))}
	plen := int(binary.BigEndian.Uint16(ip[4:]))
	payload := ip[40:]
	if plen < len(payload) {
		payload = payload[:plen]
	} else if plen > len(payload) {
		rec.Truncated = true
	}
	nh := ip[6]
	off := 0
	for {
		switch nh {
		case 135, 62:
			if nh == 62 {
				rec.Transport = TransportIPv6Old62
			}
			if off > len(payload) {
				off = len(payload)
			}
			rec.MH = payload[off:]
			return rec, true
		case 17:
			return fromUDP(rec, payload[off:], TransportUDP6)
		case 0, 43, 60, 51: // hop-by-hop, routing, destination options, AH
			if off+2 > len(payload) {
				return MHRecord{}, false
			}
			l := (int(payload[off+1]) + 1) * 8
			if nh == 51 {
				l = (int(payload[off+1]) + 2) * 4
			}
			nxt := payload[off]
			if off+l > len(payload) {
				if nxt == 135 || nxt == 62 {
					rec.Err = fmt.Errorf("extension header %d runs past the packet", nh)
					return rec, true
				}
				return MHRecord{}, false
			}
			nh, off = nxt, off+l
		case 44: // fragment: only the first fragment's MH is visible
			if off+8 > len(payload) {
				return MHRecord{}, false
			}
			if binary.BigEndian.Uint16(payload[off+2:])&0xfff8 != 0 {
				return MHRecord{}, false
			}
			nh, off = payload[off], off+8
		default:
			return MHRecord{}, false
		}
	}
}

func fromIPv4(ip []byte) (MHRecord, bool) {
	if len(ip) < 20 {
		return MHRecord{}, false
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || len(ip) < ihl || ip[9] != 17 {
		return MHRecord{}, false
	}
	if binary.BigEndian.Uint16(ip[6:])&0x1fff != 0 { // not the first fragment
		return MHRecord{}, false
	}
	rec := MHRecord{Src: netip.AddrFrom4([4]byte(ip[12:16])), Dst: netip.AddrFrom4([4]byte(ip[16:20]))}
	tl := int(binary.BigEndian.Uint16(ip[2:]))
	payload := ip[ihl:]
	if tl >= ihl && tl-ihl < len(payload) {
		payload = payload[:tl-ihl]
	} else if tl-ihl > len(payload) {
		rec.Truncated = true
	}
	return fromUDP(rec, payload, TransportUDP4)
}

func fromUDP(rec MHRecord, udp []byte, transport string) (MHRecord, bool) {
	if len(udp) < 8 {
		return MHRecord{}, false
	}
	sp, dp := binary.BigEndian.Uint16(udp[0:]), binary.BigEndian.Uint16(udp[2:])
	if sp != PMIPControlPort && dp != PMIPControlPort {
		return MHRecord{}, false
	}
	rec.Transport, rec.SrcPort, rec.DstPort = transport, sp, dp
	ul := int(binary.BigEndian.Uint16(udp[4:]))
	body := udp[8:]
	if ul >= 8 && ul-8 < len(body) {
		body = body[:ul-8]
	}
	rec.MH = body
	return rec, true
}

// ---- building frames (fixtures, tests) ----

var (
	macA = []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	macB = []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}
)

// EthernetIPv6 returns an Ethernet frame carrying an IPv6 packet with the
// given next header and payload (hop limit 64, flow label 0).
func EthernetIPv6(src, dst netip.Addr, nextHeader uint8, payload []byte) []byte {
	f := make([]byte, 14+40+len(payload))
	copy(f[0:], macB)
	copy(f[6:], macA)
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	ip := f[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(payload)))
	ip[6], ip[7] = nextHeader, 64
	s, d := src.As16(), dst.As16()
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	copy(ip[40:], payload)
	return f
}

// EthernetIPv4UDP returns an Ethernet frame carrying IPv4/UDP with a
// correct IPv4 header checksum and UDP checksum.
func EthernetIPv4UDP(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	copy(f[0:], macB)
	copy(f[6:], macA)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	s, d := src.As4(), dst.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip[:20], 0)))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	ps := sum(s[:], 0)
	ps = sum(d[:], ps)
	ps += 17 + uint32(8+len(payload))
	c := ^fold(sum(udp, ps))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], c)
	return f
}

func sum(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
