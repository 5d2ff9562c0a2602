package mh

import "net/netip"

// The options of every PBU and PBA (RFC 5213 §8) are decoded and encoded
// through direct calls on their concrete types instead of the Option
// interface, so the compiler can inline them: with six options that
// halves the per-message cost. Every other option takes the generic path.

// decodeHot decodes the option in b (type t, b[1]+2 octets long, as
// unmarshalOptions has checked) into slot when slot already
// holds a value of t's type (reused), or into a new value. handled is
// false for types that are not on the hot path.
func decodeHot(t OptionType, slot Option, b []byte) (o Option, reused, handled bool, err error) {
	switch t {
	case OptHomeNetworkPrefix:
		v, ok := slot.(*HomeNetworkPrefix)
		if !ok {
			v = &HomeNetworkPrefix{}
		}
		if len(b) == 20 && b[3] <= 128 { // the common case, decoded in place
			v.Reserved, v.PrefixLength, v.Prefix = b[2], b[3], netip.AddrFrom16([16]byte(b[4:20]))
			return v, ok, true, nil
		}
		return v, ok, true, v.setBody(b[2:])
	case OptMNIdentifier:
		v, ok := slot.(*MNIdentifier)
		if !ok {
			v = &MNIdentifier{}
		}
		return v, ok, true, v.setBody(b[2:])
	case OptHandoffIndicator:
		v, ok := slot.(*HandoffIndicator)
		if !ok {
			v = &HandoffIndicator{}
		}
		if len(b) == 4 {
			v.Reserved, v.Value = b[2], HandoffIndicatorValue(b[3])
			return v, ok, true, nil
		}
		return v, ok, true, v.setBody(b[2:])
	case OptAccessTechnologyType:
		v, ok := slot.(*AccessTechnologyType)
		if !ok {
			v = &AccessTechnologyType{}
		}
		if len(b) == 4 {
			v.Reserved, v.Value = b[2], ATT(b[3])
			return v, ok, true, nil
		}
		return v, ok, true, v.setBody(b[2:])
	case OptTimestamp:
		v, ok := slot.(*Timestamp)
		if !ok {
			v = &Timestamp{}
		}
		if len(b) == 10 {
			v.Value = be.Uint64(b[2:])
			return v, ok, true, nil
		}
		return v, ok, true, v.setBody(b[2:])
	case OptMNLinkLayerID:
		v, ok := slot.(*MNLinkLayerID)
		if !ok {
			v = &MNLinkLayerID{}
		}
		if len(b) >= 4 {
			v.Reserved = be.Uint16(b[2:])
			v.LinkLayerID = append(v.LinkLayerID[:0], b[4:]...)
			return v, ok, true, nil
		}
		return v, ok, true, v.setBody(b[2:])
	case OptLinkLocalAddress:
		v, ok := slot.(*LinkLocalAddress)
		if !ok {
			v = &LinkLocalAddress{}
		}
		if len(b) == 18 {
			v.Address = netip.AddrFrom16([16]byte(b[2:18]))
			return v, ok, true, nil
		}
		return v, ok, true, v.setBody(b[2:])
	case OptPadN:
		v, ok := slot.(*PadN)
		if !ok {
			v = &PadN{}
		}
		return v, ok, true, v.setBody(b[2:])
	}
	return nil, false, false, nil
}

// encodeHot returns the alignment and length of o and encodes it into b
// when b is long enough (ok false: b too short). handled is false for
// types that are not on the hot path.
func encodeHot(o Option, off int, b []byte) (pad, n int, handled bool, err error) {
	switch v := o.(type) {
	case *HomeNetworkPrefix:
		pad = Alignment{8, 4}.Pad(off)
		if off+pad+20 > len(b) {
			return pad, 20, true, ErrBufferTooSmall
		}
		putPad(b[off:], pad)
		if v.PrefixLength > 128 {
			return pad, 20, true, v.MarshalTo(b[off+pad : off+pad+20]) // the error
		}
		o := b[off+pad : off+pad+20]
		o[0], o[1], o[2], o[3] = byte(OptHomeNetworkPrefix), 18, v.Reserved, v.PrefixLength
		if v.Prefix.Is6() {
			a := v.Prefix.As16()
			copy(o[4:20], a[:])
		} else {
			putAddr16(o[4:20], v.Prefix)
		}
		return pad, 20, true, nil
	case *MNIdentifier:
		if v.Empty || len(v.Identifier) > 254 {
			n = v.MarshalLen()
			if off+n > len(b) {
				return 0, n, true, ErrBufferTooSmall
			}
			return 0, n, true, v.MarshalTo(b[off : off+n])
		}
		n = 3 + len(v.Identifier)
		if off+n > len(b) {
			return 0, n, true, ErrBufferTooSmall
		}
		b[off], b[off+1], b[off+2] = byte(OptMNIdentifier), byte(n-2), byte(v.Subtype)
		copy(b[off+3:off+n], v.Identifier)
		return 0, n, true, nil
	case *HandoffIndicator:
		if off+4 > len(b) {
			return 0, 4, true, ErrBufferTooSmall
		}
		b[off], b[off+1], b[off+2], b[off+3] = byte(OptHandoffIndicator), 2, v.Reserved, byte(v.Value)
		return 0, 4, true, nil
	case *AccessTechnologyType:
		if off+4 > len(b) {
			return 0, 4, true, ErrBufferTooSmall
		}
		b[off], b[off+1], b[off+2], b[off+3] = byte(OptAccessTechnologyType), 2, v.Reserved, byte(v.Value)
		return 0, 4, true, nil
	case *Timestamp:
		pad = Alignment{8, 2}.Pad(off)
		if off+pad+10 > len(b) {
			return pad, 10, true, ErrBufferTooSmall
		}
		putPad(b[off:], pad)
		o := b[off+pad : off+pad+10]
		o[0], o[1] = byte(OptTimestamp), 8
		be.PutUint64(o[2:], v.Value)
		return pad, 10, true, nil
	case *MNLinkLayerID:
		n = 4 + len(v.LinkLayerID)
		if n > 257 {
			return 0, n, true, v.MarshalTo(b[off:]) // the error
		}
		if off+n > len(b) {
			return 0, n, true, ErrBufferTooSmall
		}
		b[off], b[off+1] = byte(OptMNLinkLayerID), byte(n-2)
		be.PutUint16(b[off+2:], v.Reserved)
		copy(b[off+4:off+n], v.LinkLayerID)
		return 0, n, true, nil
	case *LinkLocalAddress:
		pad = Alignment{8, 6}.Pad(off)
		if off+pad+18 > len(b) {
			return pad, 18, true, ErrBufferTooSmall
		}
		putPad(b[off:], pad)
		return pad, 18, true, v.MarshalTo(b[off+pad : off+pad+18])
	}
	return 0, 0, false, nil
}

// decodeBindingUpdate and decodeBindingAck are the Decoder's strict-mode
// paths for the two messages an LMA and a MAG see most: the same checks as
// unmarshalMsg with the message's concrete type known, so that no call
// goes through an interface. Anything unusual (a length that does not
// match, a short message) takes the general path, which also produces the
// error.
func decodeBindingUpdate(m *BindingUpdate, b []byte) error {
	if len(b) < 16 || (int(b[1])+1)*8 != len(b) || Type(b[2]) != TypeBindingUpdate {
		return unmarshalMsg(m, b, DecodeOptions{})
	}
	m.PayloadProto, m.HeaderLen, m.Reserved, m.Checksum = b[0], b[1], b[3], be.Uint16(b[4:])
	m.Sequence, m.Flags, m.Lifetime = be.Uint16(b[6:]), BUFlags(be.Uint16(b[8:])), be.Uint16(b[10:])
	if len(m.Options) > 0 && decodeSameLayout(b, 12, m.Options) {
		m.KeepLayout, m.Quirks = true, 0
		return nil
	}
	opts, q, err := unmarshalOptions(b, 12, m.Options, false)
	m.Options, m.KeepLayout, m.Quirks = opts, true, q
	return err
}

func decodeBindingAck(m *BindingAck, b []byte) error {
	if len(b) < 16 || (int(b[1])+1)*8 != len(b) || Type(b[2]) != TypeBindingAck {
		return unmarshalMsg(m, b, DecodeOptions{})
	}
	m.PayloadProto, m.HeaderLen, m.Reserved, m.Checksum = b[0], b[1], b[3], be.Uint16(b[4:])
	m.Status, m.Flags, m.Sequence, m.Lifetime = Status(b[6]), BAFlags(b[7]), be.Uint16(b[8:]), be.Uint16(b[10:])
	if len(m.Options) > 0 && decodeSameLayout(b, 12, m.Options) {
		m.KeepLayout, m.Quirks = true, 0
		return nil
	}
	opts, q, err := unmarshalOptions(b, 12, m.Options, false)
	m.Options, m.KeepLayout, m.Quirks = opts, true, q
	return err
}

// decodeSameLayout decodes the options in mh[off:] in place when they come
// in the same order, with the same types, as the values already in opts
// (a Decoder decoding the PBUs of one MAG implementation after another):
// one type switch per option and no slot bookkeeping. It reports false at
// the first difference, leaving the rest to unmarshalOptions, which
// decodes the whole list again.
func decodeSameLayout(mh []byte, off int, opts Options) bool {
	for _, o := range opts {
		if off >= len(mh) {
			return false
		}
		t := OptionType(mh[off])
		if t == OptPad1 {
			if _, ok := o.(Pad1); !ok {
				return false
			}
			off++
			continue
		}
		if off+2 > len(mh) {
			return false
		}
		end := off + 2 + int(mh[off+1])
		if end > len(mh) {
			return false
		}
		b := mh[off:end]
		switch v := o.(type) {
		case *HomeNetworkPrefix:
			if t != OptHomeNetworkPrefix || len(b) != 20 || b[3] > 128 {
				return false
			}
			v.Reserved, v.PrefixLength, v.Prefix = b[2], b[3], netip.AddrFrom16([16]byte(b[4:20]))
		case *MNIdentifier:
			if t != OptMNIdentifier || v.setBody(b[2:]) != nil {
				return false
			}
		case *HandoffIndicator:
			if t != OptHandoffIndicator || len(b) != 4 {
				return false
			}
			v.Reserved, v.Value = b[2], HandoffIndicatorValue(b[3])
		case *AccessTechnologyType:
			if t != OptAccessTechnologyType || len(b) != 4 {
				return false
			}
			v.Reserved, v.Value = b[2], ATT(b[3])
		case *Timestamp:
			if t != OptTimestamp || len(b) != 10 {
				return false
			}
			v.Value = be.Uint64(b[2:])
		case *MNLinkLayerID:
			if t != OptMNLinkLayerID || len(b) < 4 {
				return false
			}
			v.Reserved = be.Uint16(b[2:])
			v.LinkLayerID = append(v.LinkLayerID[:0], b[4:]...)
		case *LinkLocalAddress:
			if t != OptLinkLocalAddress || len(b) != 18 {
				return false
			}
			v.Address = netip.AddrFrom16([16]byte(b[2:18]))
		case *PadN:
			if t != OptPadN {
				return false
			}
			v.Data = append(v.Data[:0], b[2:]...)
		default:
			return false
		}
		off = end
	}
	return off == len(mh)
}
