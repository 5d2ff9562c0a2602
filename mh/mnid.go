package mh

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"unicode"
	"unicode/utf8"
)

// Helpers for the MN Identifier subtypes of RFC 8371 §4 (IPv6 address,
// IMSI, P-TMSI, EUI-48, EUI-64, GUTI, DUID) on top of the NAI of RFC 4283.
// The MNIdentifier type itself is in opt_pmip.go.

// NewMNIDIPv6 returns an MN Identifier holding IPv6 address a (subtype 2,
// RFC 8371 §4.1): the 16-octet address. An IPv4 address is stored in its
// IPv4-mapped form (which ValidateIdentifier accepts only if routable).
func NewMNIDIPv6(a netip.Addr) *MNIdentifier {
	id := make([]byte, 16)
	putAddr16(id, a)
	return &MNIdentifier{Subtype: MNIDIPv6, Identifier: id}
}

// NewMNIDIMSI returns an MN Identifier holding an IMSI (subtype 3,
// RFC 8371 §4.2): at most 15 decimal digits, 4 bits per digit in network
// order (first digit in the high nibble), the last octet padded with 0xF
// when the digit count is odd. "123456123456789" encodes as
// 12 34 56 12 34 56 78 9f.
func NewMNIDIMSI(digits string) (*MNIdentifier, error) {
	if n := len(digits); n < 1 || n > 15 {
		return nil, fmt.Errorf("%w: IMSI of %d digits, want 1-15", ErrInvalidValue, n)
	}
	id := make([]byte, (len(digits)+1)/2)
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("%w: IMSI %q: %q is not a decimal digit", ErrInvalidValue, digits, c)
		}
		if i%2 == 0 {
			id[i/2] = (c-'0')<<4 | 0x0f
		} else {
			id[i/2] = id[i/2]&0xf0 | (c - '0')
		}
	}
	return &MNIdentifier{Subtype: MNIDIMSI, Identifier: id}, nil
}

// NewMNIDEUI48 returns an MN Identifier holding an EUI-48 address
// (subtype 5, RFC 8371 §4.3): 6 octets.
func NewMNIDEUI48(eui [6]byte) *MNIdentifier {
	return &MNIdentifier{Subtype: MNIDEUI48, Identifier: append([]byte(nil), eui[:]...)}
}

// NewMNIDEUI64 returns an MN Identifier holding an EUI-64 address
// (subtype 6, RFC 8371 §4.4): 8 octets.
func NewMNIDEUI64(eui [8]byte) *MNIdentifier {
	return &MNIdentifier{Subtype: MNIDEUI64, Identifier: append([]byte(nil), eui[:]...)}
}

// NewMNIDDUID returns an MN Identifier holding a DHCPv6 DUID (subtype 8,
// RFC 8371 §4.5), copied from duid. DUIDs are opaque: compare them only
// for equality.
func NewMNIDDUID(duid []byte) *MNIdentifier {
	return &MNIdentifier{Subtype: MNIDDUID, Identifier: append([]byte(nil), duid...)}
}

// IdentifierString renders the identifier readably according to its
// subtype: an NAI as text, an IPv6 address in its textual form, an IMSI
// as its digits, EUI-48/EUI-64 as colon-separated hex
// ("02:00:5e:10:00:01"), and anything else (P-TMSI, GUTI, DUID, unknown
// subtypes) as plain lower-case hex. An identifier that does not fit its
// subtype (an NAI with control characters or invalid UTF-8, an IPv6
// address that is not 16 octets, malformed BCD, ...) is also rendered as
// plain hex. The zero-length option (Empty) renders as "".
func (o *MNIdentifier) IdentifierString() string {
	if o.Empty {
		return ""
	}
	id := o.Identifier
	switch o.Subtype {
	case MNIDNAI:
		if printableUTF8(id) {
			return string(id)
		}
	case MNIDIPv6:
		if len(id) == 16 {
			return netip.AddrFrom16([16]byte(id)).String()
		}
	case MNIDIMSI:
		if s, err := decodeIMSI(id); err == nil {
			return s
		}
	case MNIDEUI48:
		if len(id) == 6 {
			return colonHex(id)
		}
	case MNIDEUI64:
		if len(id) == 8 {
			return colonHex(id)
		}
	}
	return hex.EncodeToString(id)
}

// ValidateIdentifier checks the Identifier against the rules of its
// Subtype. It is meant for RFC validation; decoding never calls it.
//
//   - NAI (RFC 4283 §3.1): non-empty valid UTF-8 with no control
//     characters (RFC 4282 grammar).
//   - IPv6 (RFC 8371 §4.1): 16 octets, a unicast routable address: not
//     unspecified, multicast, link-local or loopback.
//   - IMSI (RFC 8371 §4.2): 1-15 BCD digits, 4 bits each, high nibble
//     first, with a single 0xF pad nibble only at the end of an odd count.
//   - EUI-48 (§4.3): 6 octets. EUI-64 (§4.4): 8 octets.
//   - DUID (§4.5, RFC 3315 §9.1): a 2-octet type code and 1 to 128 octets
//     of identifier, 3 to 130 octets in all.
//   - P-TMSI and GUTI: RFC 8371 leaves their format to 3GPP TS 23.003;
//     only a non-empty identifier is required.
//
// Subtype 0, the reserved subtypes 9-15 and unassigned ones are errors,
// and so is the zero-length option (Empty), which has no subtype. Errors
// wrap ErrInvalidValue.
func (o *MNIdentifier) ValidateIdentifier() error {
	if o.Empty {
		return fmt.Errorf("%w: MN Identifier has no subtype or identifier (Length 0)", ErrInvalidValue)
	}
	id := o.Identifier
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: MN Identifier (%s): "+format, append([]any{ErrInvalidValue, o.Subtype}, args...)...)
	}
	switch o.Subtype {
	case MNIDNAI:
		if len(id) == 0 {
			return bad("empty NAI")
		}
		if !printableUTF8(id) {
			return bad("NAI is not printable UTF-8 text")
		}
	case MNIDIPv6:
		if len(id) != 16 {
			return bad("%d octets, want 16", len(id))
		}
		a := netip.AddrFrom16([16]byte(id))
		switch {
		case a.IsUnspecified():
			return bad("unspecified address")
		case a.IsMulticast():
			return bad("multicast address %s", a)
		case a.IsLinkLocalUnicast():
			return bad("link-local address %s", a)
		case a.IsLoopback():
			return bad("loopback address %s", a)
		}
	case MNIDIMSI:
		if _, err := decodeIMSI(id); err != nil {
			return bad("%v", err)
		}
	case MNIDEUI48:
		if len(id) != 6 {
			return bad("%d octets, want 6", len(id))
		}
	case MNIDEUI64:
		if len(id) != 8 {
			return bad("%d octets, want 8", len(id))
		}
	case MNIDDUID:
		if len(id) < 3 || len(id) > 130 {
			return bad("%d octets, want 3-130 (type code and 1-128 octets)", len(id))
		}
	case MNIDPTMSI, MNIDGUTI:
		if len(id) == 0 {
			return bad("empty identifier")
		}
	default:
		if o.Subtype >= 9 && o.Subtype <= 15 {
			return bad("reserved subtype")
		}
		return bad("unknown subtype")
	}
	return nil
}

// decodeIMSI returns the digits of a BCD IMSI (RFC 8371 §4.2).
func decodeIMSI(id []byte) (string, error) {
	if len(id) == 0 || len(id) > 8 {
		return "", fmt.Errorf("IMSI of %d octets, want 1-8", len(id))
	}
	var d [16]byte
	n := 0
	for i, c := range id {
		for j, nib := range [2]byte{c >> 4, c & 0x0f} {
			switch {
			case nib <= 9:
				d[n] = '0' + nib
				n++
			case nib == 0x0f && i == len(id)-1 && j == 1:
				// padding after an odd number of digits
			default:
				return "", fmt.Errorf("IMSI nibble %#x at octet %d is not a digit", nib, i)
			}
		}
	}
	if n > 15 {
		return "", fmt.Errorf("IMSI of %d digits, want at most 15", n)
	}
	return string(d[:n]), nil
}

func colonHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 3*len(b))
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&0x0f])
	}
	return string(out)
}

// printableUTF8 reports whether b is non-empty valid UTF-8 without control
// characters.
func printableUTF8(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
