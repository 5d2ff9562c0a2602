package state

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
)

// Records are a version octet then fields in a fixed order: fixed-size
// integers big-endian, byte strings and lists with a uvarint length,
// addresses as a presence octet and 16 octets, prefixes as 16 octets and
// a length octet, times as Unix nanoseconds (0: the zero time; decoded
// in UTC).

var errRecord = errors.New("state: malformed record")

type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *enc) bytes(v []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *enc) str(v string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *enc) addr(a netip.Addr) {
	if !a.IsValid() {
		e.u8(0)
		return
	}
	e.u8(1)
	x := a.As16()
	e.b = append(e.b, x[:]...)
}
func (e *enc) prefix(p netip.Prefix) {
	x := p.Addr().As16()
	e.b = append(e.b, x[:]...)
	e.u8(uint8(p.Bits()))
}
func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.u64(0)
		return
	}
	e.u64(uint64(t.UnixNano()))
}
func (e *enc) dur(d time.Duration) { e.u64(uint64(d)) }

func appendUvarint(b []byte, n int) []byte { return binary.AppendUvarint(b, uint64(n)) }

// dec reads what enc wrote; the first error sticks and every later read
// returns zero values.
type dec struct {
	b   []byte
	err error
}

func (d *dec) take(n int) []byte {
	if d.err != nil || n < 0 || len(d.b) < n {
		d.err = errRecord
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}
func (d *dec) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}
func (d *dec) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}
func (d *dec) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}
func (d *dec) bool() bool { return d.u8() != 0 }
func (d *dec) uvarint() int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > uint64(len(d.b)) {
		d.err = errRecord
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}
func (d *dec) bytes() []byte {
	n := d.uvarint()
	v := d.take(n)
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}
func (d *dec) str() string { return string(d.take(d.uvarint())) }
func (d *dec) addr() netip.Addr {
	switch d.u8() {
	case 0:
		return netip.Addr{}
	case 1:
		if v := d.take(16); v != nil {
			return netip.AddrFrom16([16]byte(v))
		}
	default:
		d.err = errRecord
	}
	return netip.Addr{}
}
func (d *dec) prefix() netip.Prefix {
	v := d.take(17)
	if v == nil {
		return netip.Prefix{}
	}
	if v[16] > 128 {
		d.err = errRecord
		return netip.Prefix{}
	}
	return netip.PrefixFrom(netip.AddrFrom16([16]byte(v[:16])), int(v[16]))
}
func (d *dec) time() time.Time {
	v := d.u64()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v)).UTC()
}
func (d *dec) dur() time.Duration { return time.Duration(d.u64()) }

// end checks that the whole record was read.
func (d *dec) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errRecord
	}
	return d.err
}
