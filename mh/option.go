package mh

import (
	"encoding/binary"
	"fmt"
)

// Alignment is an option's alignment requirement "xn+y" (RFC 6275 §6.2.1):
// the option's Type octet must start at an offset from the start of the
// Mobility Header that is congruent to Y modulo X. X = 1 means none.
type Alignment struct{ X, Y uint8 }

// NoAlignment is the requirement of options that have none.
var NoAlignment = Alignment{1, 0}

// Pad returns how many octets of padding put an option at off on its
// alignment.
func (a Alignment) Pad(off int) int {
	if a.X <= 1 {
		return 0
	}
	x := int(a.X)
	return ((int(a.Y)-off)%x + x) % x
}

func (a Alignment) String() string {
	if a.X <= 1 {
		return "none"
	}
	return fmt.Sprintf("%dn+%d", a.X, a.Y)
}

// Option is a mobility option (RFC 6275 §6.2). MarshalLen, MarshalTo and
// UnmarshalBinary work on the whole option, Type and Length octets
// included (Pad1 is the single octet 0x00).
type Option interface {
	OptionType() OptionType
	Alignment() Alignment
	MarshalLen() int
	MarshalTo(b []byte) error
	UnmarshalBinary(b []byte) error
}

// Options is a list of mobility options in wire order.
type Options []Option

// optionFactories maps an option type to a constructor of its typed
// value. Types without an entry decode as *RawOption.
var optionFactories [256]func() Option

func registerOption(t OptionType, f func() Option) { optionFactories[t] = f }

// NewOption returns an empty typed value for option type t, or a
// *RawOption with Type t when the type has no typed representation.
func NewOption(t OptionType) Option {
	if f := optionFactories[t]; f != nil {
		return f()
	}
	return &RawOption{Type: t}
}

// optHeader checks the Type/Length octets of a TLV option in b and returns
// its body. want is the option type expected.
func optHeader(b []byte, want OptionType) ([]byte, error) {
	if len(b) < 2 {
		return nil, shortErr("option header", 2, len(b))
	}
	if OptionType(b[0]) != want {
		return nil, fmt.Errorf("%w: option type %d, want %d", ErrWrongType, b[0], want)
	}
	l := int(b[1])
	if 2+l > len(b) {
		return nil, shortErr(want.String(), 2+l, len(b))
	}
	if 2+l != len(b) {
		return nil, lenErr(want.String()+" buffer", len(b), fmt.Sprintf("%d (Length %d + 2)", 2+l, l))
	}
	return b[2:], nil
}

// putOptHeader writes the Type and Length octets of an option whose whole
// encoded length is total into b, after checking b is large enough.
func putOptHeader(b []byte, t OptionType, total int) error {
	if len(b) < total {
		return ErrBufferTooSmall
	}
	if total-2 > 255 {
		return fmt.Errorf("%w: %s body of %d octets exceeds 255", ErrInvalidValue, t, total-2)
	}
	b[0] = byte(t)
	b[1] = byte(total - 2)
	return nil
}

// marshalOption allocates and encodes any option.
func marshalOption(o Option) ([]byte, error) {
	b := make([]byte, o.MarshalLen())
	if err := o.MarshalTo(b); err != nil {
		return nil, err
	}
	return b, nil
}

// ---- Pad1, PadN, raw ----

func init() { registerOption(OptPadN, func() Option { return &PadN{} }) }

// Pad1 is the one-octet padding option (RFC 6275 §6.2.2).
type Pad1 struct{}

func (Pad1) OptionType() OptionType { return OptPad1 }
func (Pad1) Alignment() Alignment   { return NoAlignment }
func (Pad1) MarshalLen() int        { return 1 }
func (Pad1) MarshalTo(b []byte) error {
	if len(b) < 1 {
		return ErrBufferTooSmall
	}
	b[0] = 0
	return nil
}
func (p Pad1) Marshal() ([]byte, error) { return marshalOption(p) }
func (Pad1) UnmarshalBinary(b []byte) error {
	if len(b) != 1 || b[0] != 0 {
		return fmt.Errorf("%w: Pad1 is a single zero octet", ErrInvalidLength)
	}
	return nil
}

// PadN is the multi-octet padding option (RFC 6275 §6.2.3). Data holds
// the padding octets as received (zero when sent by this package);
// receivers ignore them.
type PadN struct {
	Data []byte
}

// NewPadN returns a PadN option n octets long in total (n >= 2).
func NewPadN(n int) *PadN { return &PadN{Data: make([]byte, n-2)} }

func (*PadN) OptionType() OptionType { return OptPadN }
func (*PadN) Alignment() Alignment   { return NoAlignment }
func (p *PadN) MarshalLen() int      { return 2 + len(p.Data) }
func (p *PadN) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptPadN, p.MarshalLen()); err != nil {
		return err
	}
	copy(b[2:], p.Data)
	return nil
}
func (p *PadN) Marshal() ([]byte, error) { return marshalOption(p) }
func (p *PadN) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptPadN)
	if err != nil {
		return err
	}
	return p.setBody(body)
}

func (p *PadN) setBody(body []byte) error {
	p.Data = append(p.Data[:0], body...)
	return nil
}

// RawOption is an option kept as its Type and body octets: options this
// package has no typed form for, and options whose typed form could not
// decode them in legacy mode. It re-encodes exactly as received.
type RawOption struct {
	Type OptionType
	Data []byte // the octets after Type and Length
}

func (o *RawOption) OptionType() OptionType { return o.Type }
func (o *RawOption) Alignment() Alignment   { return NoAlignment }
func (o *RawOption) MarshalLen() int        { return 2 + len(o.Data) }
func (o *RawOption) MarshalTo(b []byte) error {
	if err := putOptHeader(b, o.Type, o.MarshalLen()); err != nil {
		return err
	}
	copy(b[2:], o.Data)
	return nil
}
func (o *RawOption) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *RawOption) UnmarshalBinary(b []byte) error {
	if len(b) < 2 {
		return shortErr("option header", 2, len(b))
	}
	body, err := optHeader(b, OptionType(b[0]))
	if err != nil {
		return err
	}
	o.Type = OptionType(b[0])
	o.Data = append(o.Data[:0], body...)
	return nil
}

// ParseOption decodes one option (Type and Length octets included) into
// its typed value.
func ParseOption(b []byte) (Option, error) {
	if len(b) < 1 {
		return nil, shortErr("option", 1, 0)
	}
	o := NewOption(OptionType(b[0]))
	if OptionType(b[0]) == OptPad1 {
		o = Pad1{}
		b = b[:1]
	}
	if err := o.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return o, nil
}

// ---- option lists ----

func isPad(o Option) bool {
	t := o.OptionType()
	return t == OptPad1 || t == OptPadN
}

// optionsLen returns the encoded length of opts starting at offset off
// from the start of the MH, up to the end of the trailing padding that
// makes the MH a multiple of 8 octets.
func optionsLen(off int, opts Options, keepLayout bool) int {
	start := off
	for _, o := range opts {
		if !keepLayout {
			if isPad(o) {
				continue
			}
			off += o.Alignment().Pad(off)
		}
		off += o.MarshalLen()
	}
	if !keepLayout {
		off += (8 - off%8) % 8
	}
	return off - start
}

// putPad writes n octets of padding into b: Pad1 for one, PadN for more.
func putPad(b []byte, n int) {
	switch {
	case n == 0:
	case n == 1:
		b[0] = 0
	default:
		b[0] = byte(OptPadN)
		b[1] = byte(n - 2)
		clear(b[2:n])
	}
}

// marshalOptions writes opts into mh (the whole MH buffer) from offset off
// and returns the offset after the last octet written.
func marshalOptions(mh []byte, off int, opts Options, keepLayout bool) (int, error) {
	for _, o := range opts {
		if !keepLayout {
			if pad, n, handled, err := encodeHot(o, off, mh); handled {
				if err != nil {
					if err == ErrBufferTooSmall {
						return off, err
					}
					return off, &OptionError{Offset: off + pad, Type: o.OptionType(), Err: err}
				}
				off += pad + n
				continue
			}
			if isPad(o) {
				continue
			}
			p := o.Alignment().Pad(off)
			if off+p > len(mh) {
				return off, ErrBufferTooSmall
			}
			putPad(mh[off:], p)
			off += p
		}
		n := o.MarshalLen()
		if off+n > len(mh) {
			return off, ErrBufferTooSmall
		}
		if err := o.MarshalTo(mh[off : off+n]); err != nil {
			return off, &OptionError{Offset: off, Type: o.OptionType(), Err: err}
		}
		off += n
	}
	if !keepLayout {
		p := (8 - off%8) % 8
		if off+p > len(mh) {
			return off, ErrBufferTooSmall
		}
		putPad(mh[off:], p)
		off += p
	}
	return off, nil
}

// unmarshalOptions decodes the options in mh[off:] (mh is the whole MH,
// so that offsets in errors are from its start) into opts, reusing the
// option values already in opts' backing array where their type matches.
// With legacy set, an option whose typed form rejects it is kept as a
// *RawOption and reported through the returned quirks.
func unmarshalOptions(mh []byte, off int, opts Options, legacy bool) (Options, Quirk, error) {
	var q Quirk
	full := opts[:cap(opts)]
	n := 0
	for off < len(mh) {
		t := OptionType(mh[off])
		var o Option
		var end int
		if t == OptPad1 {
			o = Pad1{}
			end = off + 1
		} else {
			if off+2 > len(mh) {
				return full[:n], q, &OptionError{Offset: off, Type: t, Err: shortErr("option header", 2, len(mh)-off)}
			}
			end = off + 2 + int(mh[off+1])
			if end > len(mh) {
				return full[:n], q, &OptionError{Offset: off, Type: t,
					Err: fmt.Errorf("%w: Length %d runs %d octets past the end of the message", ErrInvalidLength, mh[off+1], end-len(mh))}
			}
			var slot Option
			if n < len(full) {
				slot = full[n]
			}
			var reused, handled bool
			var err error
			o, reused, handled, err = decodeHot(t, slot, mh[off:end])
			if !handled {
				if slot != nil && slot.OptionType() == t {
					o, reused = slot, true
					if optionFactories[t] != nil {
						if _, raw := o.(*RawOption); raw {
							o, reused = NewOption(t), false // kept raw last time (legacy); try the typed form again
						}
					}
				} else {
					o = NewOption(t)
				}
				err = o.UnmarshalBinary(mh[off:end])
			}
			if err != nil {
				if !legacy {
					return full[:n], q, &OptionError{Offset: off, Type: t, Err: err}
				}
				q |= QuirkMalformedOption
				r := &RawOption{}
				_ = r.UnmarshalBinary(mh[off:end])
				o, reused = r, false
			}
			if reused {
				n++
				off = end
				continue
			}
		}
		if n < len(full) {
			full[n] = o
		} else {
			full = append(full, o)
			full = full[:cap(full)]
		}
		n++
		off = end
	}
	return full[:n], q, nil
}

// Find returns the first option of type T in opts.
func Find[T Option](opts Options) (T, bool) {
	for _, o := range opts {
		if v, ok := o.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// Count returns how many options of type t opts holds.
func (opts Options) Count(t OptionType) int {
	n := 0
	for _, o := range opts {
		if o.OptionType() == t {
			n++
		}
	}
	return n
}

// Get returns the first option of type t, or nil.
func (opts Options) Get(t OptionType) Option {
	for _, o := range opts {
		if o.OptionType() == t {
			return o
		}
	}
	return nil
}

var be = binary.BigEndian

// TypedOptions lists the option types that decode to a typed value (not
// *RawOption), in ascending order. Pad1 and PadN are included.
func TypedOptions() []OptionType {
	out := []OptionType{OptPad1, OptPadN}
	for t, f := range optionFactories {
		if f != nil && OptionType(t) != OptPad1 && OptionType(t) != OptPadN {
			out = append(out, OptionType(t))
		}
	}
	return out
}
