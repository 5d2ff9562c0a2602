package punt

import "net/netip"

const ipv6HeaderLen = 40

// parseIPv6 returns the source and destination of the IPv6 packet b. It
// reports false when b is not one well-formed IPv6 packet: shorter than
// the fixed header, a version other than 6, or a frame whose length is
// not 40 + Payload Length (a TUN read returns exactly one packet, and
// jumbograms, Payload Length 0 with a longer frame, are not carried).
func parseIPv6(b []byte) (src, dst netip.Addr, ok bool) {
	if len(b) < ipv6HeaderLen || b[0]>>4 != 6 {
		return src, dst, false
	}
	plen := int(b[4])<<8 | int(b[5])
	if ipv6HeaderLen+plen != len(b) {
		return src, dst, false
	}
	src = netip.AddrFrom16([16]byte(b[8:24]))
	dst = netip.AddrFrom16([16]byte(b[24:40]))
	return src, dst, true
}

// bumpHopLimit raises the Hop Limit of the IPv6 packet b by one (up to
// 255). A packet the kernel forwarded into the device had its Hop Limit
// decremented; it is decremented again when the re-injected packet is
// forwarded, so this keeps the punt path invisible to the hop count.
// IPv6 has no header checksum, and the upper-layer checksums do not cover
// the Hop Limit.
func bumpHopLimit(b []byte) {
	if len(b) >= ipv6HeaderLen && b[7] < 255 {
		b[7]++
	}
}
