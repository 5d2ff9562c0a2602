package mh

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
		return v, ok, true, v.setBody(b[2:])
	case OptAccessTechnologyType:
		v, ok := slot.(*AccessTechnologyType)
		if !ok {
			v = &AccessTechnologyType{}
		}
		return v, ok, true, v.setBody(b[2:])
	case OptTimestamp:
		v, ok := slot.(*Timestamp)
		if !ok {
			v = &Timestamp{}
		}
		return v, ok, true, v.setBody(b[2:])
	case OptMNLinkLayerID:
		v, ok := slot.(*MNLinkLayerID)
		if !ok {
			v = &MNLinkLayerID{}
		}
		return v, ok, true, v.setBody(b[2:])
	case OptLinkLocalAddress:
		v, ok := slot.(*LinkLocalAddress)
		if !ok {
			v = &LinkLocalAddress{}
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
		return pad, 20, true, v.MarshalTo(b[off+pad : off+pad+20])
	case *MNIdentifier:
		n = v.MarshalLen()
		if off+n > len(b) {
			return 0, n, true, ErrBufferTooSmall
		}
		return 0, n, true, v.MarshalTo(b[off : off+n])
	case *HandoffIndicator:
		if off+4 > len(b) {
			return 0, 4, true, ErrBufferTooSmall
		}
		return 0, 4, true, v.MarshalTo(b[off : off+4])
	case *AccessTechnologyType:
		if off+4 > len(b) {
			return 0, 4, true, ErrBufferTooSmall
		}
		return 0, 4, true, v.MarshalTo(b[off : off+4])
	case *Timestamp:
		pad = Alignment{8, 2}.Pad(off)
		if off+pad+10 > len(b) {
			return pad, 10, true, ErrBufferTooSmall
		}
		putPad(b[off:], pad)
		return pad, 10, true, v.MarshalTo(b[off+pad : off+pad+10])
	case *MNLinkLayerID:
		n = v.MarshalLen()
		if off+n > len(b) {
			return 0, n, true, ErrBufferTooSmall
		}
		return 0, n, true, v.MarshalTo(b[off : off+n])
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
