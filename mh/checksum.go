package mh

import "net/netip"

// Checksum computes the Mobility Header checksum (RFC 6275 §6.1.1) of the
// message in mh, sent from src to dst: the one's complement of the one's
// complement sum of the IPv6 pseudo-header (RFC 2460 §8.1: source,
// destination, upper-layer length, next header 135) and the whole MH with
// its Checksum field taken as zero. The Checksum field in mh is not read.
func Checksum(src, dst netip.Addr, mh []byte) uint16 {
	var sum uint32
	s16, d16 := src.As16(), dst.As16()
	for i := 0; i < 16; i += 2 {
		sum += uint32(s16[i])<<8 | uint32(s16[i+1])
		sum += uint32(d16[i])<<8 | uint32(d16[i+1])
	}
	n := uint32(len(mh))
	sum += n>>16 + n&0xffff
	sum += IPProtoMH
	for i := 0; i+1 < len(mh); i += 2 {
		if i == 4 {
			continue // the Checksum field counts as zero
		}
		sum += uint32(mh[i])<<8 | uint32(mh[i+1])
	}
	if len(mh)%2 == 1 {
		sum += uint32(mh[len(mh)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// SetChecksum computes the checksum of the message in mh and writes it at
// offset 4.
func SetChecksum(src, dst netip.Addr, mh []byte) {
	if len(mh) < HeaderLen {
		return
	}
	be.PutUint16(mh[4:], Checksum(src, dst, mh))
}

// VerifyChecksum reports whether the Checksum field of mh is right for a
// message sent from src to dst.
func VerifyChecksum(src, dst netip.Addr, mh []byte) bool {
	return len(mh) >= HeaderLen && be.Uint16(mh[4:]) == Checksum(src, dst, mh)
}
