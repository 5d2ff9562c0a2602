package lm

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
)

// Record is the routing location of one prefix (or home address, as a
// /128) of a mobile node: draft-luo-dmm-with-mip-and-pmip-00 §4.3 "routing
// location information", the content of a Routing Location option.
type Record struct {
	// MNID is the mobile node's identifier (the MN-ID option's value,
	// e.g. an NAI), as a string.
	MNID string
	// Prefix is the home network prefix, or the home address as a /128.
	Prefix netip.Prefix
	// AnchorMR is the MR whose pool the prefix comes from: regular IPv6
	// routing delivers the prefix there.
	AnchorMR netip.Addr
	// CurrentMR is the MR the node is attached to now.
	CurrentMR netip.Addr
	// Lifetime is the lifetime granted by the last update.
	Lifetime time.Duration
	// Expiry is when the record expires (UpdatedAt + Lifetime).
	Expiry time.Time
	// UpdatedAt is the LM's time of the last update.
	UpdatedAt time.Time
	// Sequence orders updates of the prefix: see Update.Sequence.
	Sequence uint64
	// Revision is the store revision of the last change (read-only; 0 in
	// a record that is not stored).
	Revision int64
}

// Remaining returns the lifetime left at now (0 if expired).
func (r Record) Remaining(now time.Time) time.Duration {
	return max(r.Expiry.Sub(now), 0)
}

// RemainingSeconds is Remaining rounded down to whole seconds, for a
// Routing Location option's Lifetime field.
func (r Record) RemainingSeconds(now time.Time) uint32 {
	s := r.Remaining(now) / time.Second
	if s > 0xffffffff {
		return 0xffffffff
	}
	return uint32(s)
}

// Record values in the store: a version octet, then fixed fields, then the
// MN-ID. Binary rather than JSON: Query decodes one per answer.
const (
	recVersion = 1
	recFixed   = 1 + 1 + 16 + 16 + 16 + 8*4 + 2
)

var errBadRecord = errors.New("lm: malformed record in the store")

func encodeRecord(r *Record) []byte {
	b := make([]byte, recFixed+len(r.MNID))
	b[0] = recVersion
	b[1] = byte(r.Prefix.Bits())
	a := r.Prefix.Addr().As16()
	copy(b[2:18], a[:])
	a = r.AnchorMR.As16()
	copy(b[18:34], a[:])
	a = r.CurrentMR.As16()
	copy(b[34:50], a[:])
	binary.BigEndian.PutUint64(b[50:], uint64(r.Lifetime))
	binary.BigEndian.PutUint64(b[58:], uint64(r.Expiry.UnixNano()))
	binary.BigEndian.PutUint64(b[66:], uint64(r.UpdatedAt.UnixNano()))
	binary.BigEndian.PutUint64(b[74:], r.Sequence)
	binary.BigEndian.PutUint16(b[82:], uint16(len(r.MNID)))
	copy(b[84:], r.MNID)
	return b
}

func decodeRecord(b []byte, r *Record) error {
	if len(b) < recFixed || b[0] != recVersion || b[1] > 128 {
		return errBadRecord
	}
	n := int(binary.BigEndian.Uint16(b[82:]))
	if len(b) != recFixed+n {
		return errBadRecord
	}
	r.Prefix = netip.PrefixFrom(netip.AddrFrom16([16]byte(b[2:18])), int(b[1]))
	r.AnchorMR = netip.AddrFrom16([16]byte(b[18:34]))
	r.CurrentMR = netip.AddrFrom16([16]byte(b[34:50]))
	r.Lifetime = time.Duration(binary.BigEndian.Uint64(b[50:]))
	r.Expiry = time.Unix(0, int64(binary.BigEndian.Uint64(b[58:]))).UTC()
	r.UpdatedAt = time.Unix(0, int64(binary.BigEndian.Uint64(b[66:]))).UTC()
	r.Sequence = binary.BigEndian.Uint64(b[74:])
	if r.MNID != string(b[84:]) { // keeps the string when decoding into a reused Record
		r.MNID = string(b[84:])
	}
	return nil
}
