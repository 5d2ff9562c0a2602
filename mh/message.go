package mh

import (
	"fmt"
	"strings"
)

// HeaderLen is the length of the common part of every Mobility Header:
// Payload Proto, Header Len, MH Type, Reserved and Checksum.
const HeaderLen = 6

// IPProtoMH is the IPv6 Next Header value of the Mobility Header.
const IPProtoMH = 135

// IPProtoNone is the Payload Proto senders put in the Mobility Header
// (IPPROTO_NONE, RFC 6275 §6.1.1).
const IPProtoNone = 59

// Header is the common part of every Mobility Header (RFC 6275 §6.1.1).
type Header struct {
	// PayloadProto is the Payload Proto octet. 0 encodes as 59
	// (IPPROTO_NONE), the value RFC 6275 asks senders to use, unless
	// Base.KeepLayout is set: a laid-out (or decoded) message is written
	// exactly as it stands.
	PayloadProto uint8
	// HeaderLen is the Header Len octet as received: the length of the
	// MH in 8-octet units, not counting the first 8 octets. Encoding
	// computes it from the message.
	HeaderLen uint8
	// Reserved is the octet after MH Type, kept as received.
	Reserved uint8
	// Checksum is the Checksum field as received; encoding writes it as
	// it stands (0 for a new message: the kernel fills it on a raw
	// IPPROTO_MH socket; see Checksum and SetChecksum otherwise).
	Checksum uint16
}

// Base holds what every message has beside its fixed fields.
type Base struct {
	Header
	// Options in wire order. When KeepLayout is false, Pad1/PadN entries
	// are ignored on encoding and padding is computed.
	Options Options
	// KeepLayout makes encoding write the Header fields and Options
	// exactly as they stand, padding included, with no alignment
	// computed; decoding sets it so that a decoded message re-encodes
	// byte for byte.
	KeepLayout bool
	// Quirks lists the legacy-peer deviations accepted while decoding
	// this message (Decoder.Legacy); 0 for a conformant message.
	Quirks Quirk
}

// MHBase gives access to the common part of any message.
func (b *Base) MHBase() *Base { return b }

// Message is a Mobility Header message.
type Message interface {
	MHType() Type
	MHBase() *Base
	MarshalLen() int
	MarshalTo(b []byte) error
	Marshal() ([]byte, error)
	UnmarshalBinary(b []byte) error
}

// fixedPart is implemented by every message type: the message data between
// the common header and the options.
type fixedPart interface {
	Message
	fixedLen() int
	putFixed(b []byte)       // b = exactly fixedLen octets
	getFixed(b []byte) error // b = exactly fixedLen octets
	legacyFix(q Quirk) Quirk // normalise known legacy-peer flag quirks after decoding; returns q plus the quirks applied
}

// variableFixed is implemented by messages whose fixed part has a length
// that depends on the octets received (rest = everything after the common
// header); the result may exceed len(rest), which is then an error.
type variableFixed interface {
	fixedLenFrom(rest []byte) int
}

// msgLen returns the encoded length of m.
func msgLen(m fixedPart) int {
	base := m.MHBase()
	off := HeaderLen + m.fixedLen()
	return off + optionsLen(off, base.Options, base.KeepLayout)
}

func marshalMsg(m fixedPart) ([]byte, error) {
	b := make([]byte, msgLen(m))
	if err := marshalMsgTo(m, b); err != nil {
		return nil, err
	}
	return b, nil
}

// marshalMsgTo encodes m into b in one pass: the options are written as
// they come, with bounds checked as it goes, and Header Len is filled in
// at the end.
func marshalMsgTo(m fixedPart, b []byte) error {
	fl := m.fixedLen()
	if len(b) < HeaderLen+fl {
		return ErrBufferTooSmall
	}
	m.putFixed(b[HeaderLen : HeaderLen+fl])
	return finishMsg(m.MHBase(), m.MHType(), b, HeaderLen+fl)
}

// finishMsg writes the common header and the options of a message whose
// fixed part is already in b[HeaderLen:fixedEnd].
func finishMsg(base *Base, t Type, b []byte, fixedEnd int) error {
	pp := base.PayloadProto
	if pp == 0 && !base.KeepLayout {
		pp = IPProtoNone
	}
	b[0] = pp
	b[2] = byte(t)
	b[3] = base.Reserved
	be.PutUint16(b[4:], base.Checksum)
	n, err := marshalOptions(b, fixedEnd, base.Options, base.KeepLayout)
	if err != nil {
		return err
	}
	if n%8 != 0 || n > 256*8 {
		return &HeaderError{Type: t, Field: "length", Reason: fmt.Sprintf("message of %d octets is not a multiple of 8 up to 2048", n), Err: ErrInvalidLength}
	}
	b[1] = byte(n/8 - 1)
	return nil
}

// DecodeOptions selects how tolerant decoding is.
type DecodeOptions struct {
	// Legacy accepts the deviations of known legacy peers (see Quirk)
	// and records them in Base.Quirks instead of failing.
	Legacy bool
}

// unmarshalMsg decodes b into m. b must hold the Mobility Header from its
// first octet; octets after the length given by Header Len are an error
// in strict mode.
func unmarshalMsg(m fixedPart, b []byte, do DecodeOptions) error {
	base := m.MHBase()
	t := m.MHType()
	if len(b) < 8 {
		return &HeaderError{Type: t, Field: "header", Reason: fmt.Sprintf("%d octets, a Mobility Header has at least 8", len(b)), Err: ErrTooShort}
	}
	if Type(b[2]) != t {
		return &HeaderError{Type: t, Field: "MH Type", Reason: fmt.Sprintf("got %d", b[2]), Err: ErrWrongType}
	}
	var q Quirk
	total := (int(b[1]) + 1) * 8
	switch {
	case total == len(b):
	case total > len(b):
		if !do.Legacy {
			return &HeaderError{Type: t, Field: "Header Len", Reason: fmt.Sprintf("says %d octets, only %d present", total, len(b)), Err: ErrTooShort}
		}
		q |= QuirkHeaderLenTooLong
		total = len(b)
	case total < len(b):
		if do.Legacy {
			// OAI: Header Len 4 octets short; MAD: length wrong and payload not 8-aligned.
			q |= QuirkHeaderLenTooShort
			if len(b)%8 != 0 {
				q |= QuirkUnalignedLength
			}
			total = len(b)
		} else if b[0] == IPProtoNone {
			return &HeaderError{Type: t, Field: "Header Len", Reason: fmt.Sprintf("says %d octets but %d follow with Payload Proto 59", total, len(b)), Err: ErrInvalidLength}
		}
	}
	b = b[:total]
	fl := m.fixedLen()
	if v, ok := m.(variableFixed); ok {
		fl = v.fixedLenFrom(b[HeaderLen:])
	}
	if total < HeaderLen+fl {
		return &HeaderError{Type: t, Field: "Header Len", Reason: fmt.Sprintf("%d octets, shorter than the %d of the message's fixed part", total, HeaderLen+fl), Err: ErrTooShort}
	}
	base.PayloadProto = b[0]
	base.HeaderLen = b[1]
	base.Reserved = b[3]
	base.Checksum = be.Uint16(b[4:])
	if err := m.getFixed(b[HeaderLen : HeaderLen+fl]); err != nil {
		return err
	}
	opts, oq, err := unmarshalOptions(b, HeaderLen+fl, base.Options, do.Legacy)
	base.Options = opts
	base.KeepLayout = true
	if err == nil && do.Legacy {
		q = m.legacyFix(q)
	}
	base.Quirks = q | oq
	return err
}

// Quirk is a set of legacy-peer deviations (see
// ../shared/reference/peer-quirks.md) that a Legacy decode accepted.
type Quirk uint32

const (
	// QuirkHeaderLenTooShort: Header Len counts fewer octets than the
	// packet carries (OAI PMIPv6: 4 octets short; MAD-PMIPv6).
	QuirkHeaderLenTooShort Quirk = 1 << iota
	// QuirkHeaderLenTooLong: Header Len counts more octets than present.
	QuirkHeaderLenTooLong
	// QuirkUnalignedLength: the message is not a multiple of 8 octets (MAD-PMIPv6: 87 B).
	QuirkUnalignedLength
	// QuirkSwappedFlags: the BU flags were written in host byte order (OAI pmip6d 0.4: 0x00a0).
	QuirkSwappedFlags
	// QuirkPBAMissingP: a BA answering a PBU has P=0 (OAI PMIPv6).
	QuirkPBAMissingP
	// QuirkPBARFlagForP: a PBA has R (0x40) set instead of P (MAD-PMIPv6).
	QuirkPBARFlagForP
	// QuirkMalformedOption: a known option did not decode and was kept raw.
	QuirkMalformedOption
)

var quirkNames = []string{
	"header-len-too-short", "header-len-too-long", "unaligned-length", "swapped-flags",
	"pba-missing-p", "pba-r-flag-for-p", "malformed-option",
}

func (q Quirk) String() string {
	if q == 0 {
		return "none"
	}
	var parts []string
	for i, n := range quirkNames {
		if q&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

// messageFactories maps an MH Type to a constructor of its typed message.
var messageFactories [256]func() Message

func registerMessage(t Type, f func() Message) { messageFactories[t] = f }

// NewMessage returns an empty message of type t: the typed message when
// the type has one, a *GenericMessage otherwise.
func NewMessage(t Type) Message {
	if f := messageFactories[t]; f != nil {
		return f()
	}
	return &GenericMessage{Type: t}
}

// Parse decodes a Mobility Header in strict mode and returns its typed
// message.
func Parse(b []byte) (Message, error) {
	return ParseWith(b, DecodeOptions{})
}

// ParseWith decodes a Mobility Header with the given options.
func ParseWith(b []byte, do DecodeOptions) (Message, error) {
	if len(b) < 3 {
		return nil, &HeaderError{Field: "header", Reason: fmt.Sprintf("%d octets, a Mobility Header has at least 8", len(b)), Err: ErrTooShort}
	}
	m := newMessageFor(b)
	if err := unmarshalMsg(m.(fixedPart), b, do); err != nil {
		return nil, err
	}
	return m, nil
}

// Decoder decodes Mobility Headers into message values it keeps and
// reuses, so that decoding a stream of messages does not allocate once
// warmed up. The message returned by Decode is valid until the next call.
// A Decoder is not safe for concurrent use.
type Decoder struct {
	DecodeOptions
	msgs [256]Message
	dmm  [256]Message
	brev [3]Message // Binding Revocation messages by brKindOf: other, BRI, BRA
	bu   *BindingUpdate
	ba   *BindingAck
}

// newMessageFor returns an empty message for the Mobility Header in b
// (at least 3 octets): a DMM message when b is one (see dmmKindOf),
// otherwise NewMessage of its MH Type.
func newMessageFor(b []byte) Message {
	if k := dmmKindOf(b); k != 0 {
		if m := newDMMMessage(k); m != nil {
			return m
		}
	}
	if Type(b[2]) == TypeBindingRevocation {
		return newBindingRevocation(b) // BRI or BRA by B.R. Type
	}
	return NewMessage(Type(b[2]))
}

// Decode decodes b into the Decoder's message of b's MH Type.
func (d *Decoder) Decode(b []byte) (Message, error) {
	if len(b) < 3 {
		return nil, &HeaderError{Field: "header", Reason: fmt.Sprintf("%d octets, a Mobility Header has at least 8", len(b)), Err: ErrTooShort}
	}
	if !d.Legacy {
		switch Type(b[2]) {
		case TypeBindingUpdate:
			if d.bu == nil {
				d.bu = &BindingUpdate{}
			}
			if err := decodeBindingUpdate(d.bu, b); err != nil {
				return nil, err
			}
			return d.bu, nil
		case TypeBindingAck:
			if d.ba == nil {
				d.ba = &BindingAck{}
			}
			if err := decodeBindingAck(d.ba, b); err != nil {
				return nil, err
			}
			return d.ba, nil
		}
	}
	var m Message
	if k := dmmKindOf(b); k != 0 {
		m = d.dmm[k]
		if m == nil {
			m = newMessageFor(b)
			d.dmm[k] = m
		}
	} else if Type(b[2]) == TypeBindingRevocation {
		k := brKindOf(b)
		m = d.brev[k]
		if m == nil {
			m = newBindingRevocation(b)
			d.brev[k] = m
		}
	} else {
		m = d.msgs[b[2]]
		if m == nil {
			m = NewMessage(Type(b[2]))
			d.msgs[b[2]] = m
		}
	}
	if err := unmarshalMsg(m.(fixedPart), b, d.DecodeOptions); err != nil {
		return nil, err
	}
	return m, nil
}

// TypedMessages lists the MH Types that decode to a typed message (not
// *GenericMessage), in ascending order. The DMM messages, which share the
// Experimental type, are not listed here (see DMMMessages when present).
func TypedMessages() []Type {
	var out []Type
	for t, f := range messageFactories {
		if f != nil {
			out = append(out, Type(t))
		}
	}
	return out
}
