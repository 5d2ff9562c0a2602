// Package pcapio reads pcap and pcapng captures and writes pcap files,
// with the standard library only, and finds the Mobility Headers in the
// frames: IPv6 with Next Header 135 (after any extension headers) and
// IPv4 or IPv6 UDP to or from port 5436 (RFC 5844 IPv4 transport).
//
// It exists so that the codec's tests, the fixture generator and
// `pmipctl decode` share one capture reader that does not depend on cgo.
package pcapio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Link types (LINKTYPE_* of the tcpdump.org registry) this package knows.
const (
	LinkTypeNull      = 0   // BSD loopback: 4-octet address family in host order
	LinkTypeEthernet  = 1   // Ethernet II, with 802.1Q tags
	LinkTypeRaw       = 101 // raw IPv4 or IPv6
	LinkTypeLinuxSLL  = 113 // Linux cooked capture v1
	LinkTypeIPv4      = 228
	LinkTypeIPv6      = 229
	LinkTypeLinuxSLL2 = 276
)

// Packet is one captured frame.
type Packet struct {
	Time     time.Time
	LinkType uint32
	Data     []byte
	OrigLen  int
}

// Reader reads the packets of a pcap or pcapng capture.
type Reader struct {
	r        *bufio.Reader
	ng       bool
	order    binary.ByteOrder
	nano     bool
	linkType uint32    // pcap
	ifaces   []ngIface // pcapng
}

type ngIface struct {
	linkType uint32
	tsRes    float64 // seconds per unit
}

// ErrFormat: the input is not a capture this package can read.
var ErrFormat = errors.New("pcapio: not a pcap or pcapng capture")

// NewReader reads the capture header from r.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	rd := &Reader{r: br}
	switch {
	case magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a:
		rd.ng = true
		return rd, nil // the SHB is read by Next
	}
	var hdr [24]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	switch binary.LittleEndian.Uint32(hdr[:4]) {
	case 0xa1b2c3d4:
		rd.order = binary.LittleEndian
	case 0xa1b23c4d:
		rd.order, rd.nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		rd.order = binary.BigEndian
	case 0x4d3cb2a1:
		rd.order, rd.nano = binary.BigEndian, true
	default:
		return nil, ErrFormat
	}
	rd.linkType = rd.order.Uint32(hdr[20:]) & 0xffff
	return rd, nil
}

// Next returns the next packet, or io.EOF after the last one.
func (r *Reader) Next() (Packet, error) {
	if r.ng {
		return r.nextNG()
	}
	var h [16]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return Packet{}, fmt.Errorf("pcapio: truncated record header")
		}
		return Packet{}, err
	}
	sec, frac := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
	incl, orig := r.order.Uint32(h[8:]), r.order.Uint32(h[12:])
	if incl > 1<<18 {
		return Packet{}, fmt.Errorf("pcapio: record of %d octets", incl)
	}
	data := make([]byte, incl)
	if _, err := io.ReadFull(r.r, data); err != nil {
		return Packet{}, fmt.Errorf("pcapio: truncated record: %v", err)
	}
	ns := int64(frac) * 1000
	if r.nano {
		ns = int64(frac)
	}
	return Packet{Time: time.Unix(int64(sec), ns).UTC(), LinkType: r.linkType, Data: data, OrigLen: int(orig)}, nil
}

func (r *Reader) nextNG() (Packet, error) {
	for {
		var h [8]byte
		if _, err := io.ReadFull(r.r, h[:]); err != nil {
			if err == io.ErrUnexpectedEOF {
				return Packet{}, fmt.Errorf("pcapio: truncated block header")
			}
			return Packet{}, err
		}
		btype := binary.LittleEndian.Uint32(h[:4])
		if btype == 0x0a0d0d0a { // Section Header Block: learn the byte order
			var bom [4]byte
			if _, err := io.ReadFull(r.r, bom[:]); err != nil {
				return Packet{}, fmt.Errorf("pcapio: truncated SHB")
			}
			switch binary.LittleEndian.Uint32(bom[:]) {
			case 0x1a2b3c4d:
				r.order = binary.LittleEndian
			case 0x4d3c2b1a:
				r.order = binary.BigEndian
			default:
				return Packet{}, ErrFormat
			}
			blen := r.order.Uint32(h[4:])
			if blen < 28 || blen%4 != 0 || blen > 1<<20 {
				return Packet{}, fmt.Errorf("pcapio: SHB length %d", blen)
			}
			if _, err := r.r.Discard(int(blen) - 12); err != nil {
				return Packet{}, fmt.Errorf("pcapio: truncated SHB")
			}
			r.ifaces = r.ifaces[:0]
			continue
		}
		if r.order == nil {
			return Packet{}, ErrFormat
		}
		btype = r.order.Uint32(h[:4])
		blen := r.order.Uint32(h[4:])
		if blen < 12 || blen%4 != 0 || blen > 1<<20 {
			return Packet{}, fmt.Errorf("pcapio: block length %d", blen)
		}
		body := make([]byte, blen-8)
		if _, err := io.ReadFull(r.r, body); err != nil {
			return Packet{}, fmt.Errorf("pcapio: truncated block")
		}
		body = body[:len(body)-4] // trailing block length
		switch btype {
		case 1: // Interface Description Block
			if len(body) < 8 {
				return Packet{}, fmt.Errorf("pcapio: short IDB")
			}
			ifc := ngIface{linkType: uint32(r.order.Uint16(body[0:])), tsRes: 1e-6}
			opts := body[8:]
			for len(opts) >= 4 {
				code, l := r.order.Uint16(opts[0:]), int(r.order.Uint16(opts[2:]))
				if code == 0 || 4+l > len(opts) {
					break
				}
				if code == 9 && l >= 1 { // if_tsresol
					v := opts[4]
					if v&0x80 != 0 {
						ifc.tsRes = 1 / float64(uint64(1)<<(v&0x7f))
					} else {
						ifc.tsRes = 1
						for i := 0; i < int(v); i++ {
							ifc.tsRes /= 10
						}
					}
				}
				opts = opts[4+(l+3)&^3:]
			}
			r.ifaces = append(r.ifaces, ifc)
		case 6: // Enhanced Packet Block
			if len(body) < 20 {
				return Packet{}, fmt.Errorf("pcapio: short EPB")
			}
			id := r.order.Uint32(body[0:])
			if int(id) >= len(r.ifaces) {
				return Packet{}, fmt.Errorf("pcapio: EPB for unknown interface %d", id)
			}
			ifc := r.ifaces[id]
			ts := uint64(r.order.Uint32(body[4:]))<<32 | uint64(r.order.Uint32(body[8:]))
			capLen, orig := r.order.Uint32(body[12:]), r.order.Uint32(body[16:])
			if 20+int(capLen) > len(body) {
				return Packet{}, fmt.Errorf("pcapio: EPB captured length %d past block", capLen)
			}
			secs := float64(ts) * ifc.tsRes
			t := time.Unix(0, int64(secs*1e9)).UTC()
			return Packet{Time: t, LinkType: ifc.linkType, Data: body[20 : 20+capLen], OrigLen: int(orig)}, nil
		case 3: // Simple Packet Block
			if len(r.ifaces) == 0 || len(body) < 4 {
				return Packet{}, fmt.Errorf("pcapio: bad SPB")
			}
			orig := r.order.Uint32(body[0:])
			data := body[4:]
			if int(orig) < len(data) {
				data = data[:orig]
			}
			return Packet{LinkType: r.ifaces[0].linkType, Data: data, OrigLen: int(orig)}, nil
		default:
			// Name resolution, statistics, custom blocks: not packets.
		}
	}
}

// ReadAll reads every packet of the capture at path.
func ReadAll(path string) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: packet %d: %w", path, len(out)+1, err)
		}
		out = append(out, p)
	}
}

// Writer writes a classic pcap file (microsecond timestamps, little endian).
type Writer struct {
	w   io.Writer
	buf [16]byte
}

// NewWriter writes the pcap file header for linkType to w.
func NewWriter(w io.Writer, linkType uint32) (*Writer, error) {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], linkType)
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w}, nil
}

// WritePacket appends one packet.
func (w *Writer) WritePacket(t time.Time, data []byte) error {
	binary.LittleEndian.PutUint32(w.buf[0:], uint32(t.Unix()))
	binary.LittleEndian.PutUint32(w.buf[4:], uint32(t.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(w.buf[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(w.buf[12:], uint32(len(data)))
	if _, err := w.w.Write(w.buf[:]); err != nil {
		return err
	}
	_, err := w.w.Write(data)
	return err
}
