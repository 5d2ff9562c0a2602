package bench

import (
	"net/netip"

	"github.com/pmipdmm/pmipdmm/mh"
)

// pbuBuilder encodes Proxy Binding Updates with MarshalTo from option
// values it owns, so building one allocates nothing.
type pbuBuilder struct {
	bu   mh.BindingUpdate
	hnp  mh.HomeNetworkPrefix
	mnid mh.MNIdentifier
	hi   mh.HandoffIndicator
	att  mh.AccessTechnologyType
	ts   mh.Timestamp
	opts [5]mh.Option
}

func newPBUBuilder() *pbuBuilder {
	b := &pbuBuilder{}
	b.mnid.Subtype = mh.MNIDNAI
	b.bu.Flags = mh.BUFlagA | mh.BUFlagP
	// HNP first: after the 12-octet fixed part it needs no padding.
	b.opts = [5]mh.Option{&b.hnp, &b.mnid, &b.hi, &b.att, &b.ts}
	return b
}

// pbuFields are the variable parts of a load-generator PBU.
type pbuFields struct {
	seq      uint16
	lifetime uint16
	nai      []byte
	hnp      netip.Prefix // invalid: one ALL_ZERO HNP
	hi       mh.HandoffIndicatorValue
	att      mh.ATT
	ts       uint64 // 0: no Timestamp option
}

// build encodes f into dst (which must be long enough: 96 octets plus the
// NAI) and returns the encoded message.
func (b *pbuBuilder) build(dst []byte, f *pbuFields) ([]byte, error) {
	b.bu.Sequence, b.bu.Lifetime = f.seq, f.lifetime
	if f.hnp.IsValid() {
		b.hnp.PrefixLength, b.hnp.Prefix = uint8(f.hnp.Bits()), f.hnp.Addr()
	} else {
		b.hnp.PrefixLength, b.hnp.Prefix = 0, netip.IPv6Unspecified()
	}
	b.mnid.Identifier = f.nai
	b.hi.Value = f.hi
	b.att.Value = f.att
	n := 4
	if f.ts != 0 {
		b.ts.Value = f.ts
		n = 5
	}
	b.bu.Options = b.opts[:n]
	l := b.bu.MarshalLen()
	if l > len(dst) {
		return nil, mh.ErrBufferTooSmall
	}
	if err := b.bu.MarshalTo(dst[:l]); err != nil {
		return nil, err
	}
	return dst[:l], nil
}
