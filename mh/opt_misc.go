package mh

import (
	"fmt"
	"unicode/utf8"
)

// Options of RFC 5096 (Experimental), RFC 5094 (Vendor-Specific),
// RFC 5149 (Service Selection), RFC 5847 (Restart Counter) and RFC 5845
// (GRE Key).

func init() {
	registerOption(OptExperimental, func() Option { return &ExperimentalOption{} })
	registerOption(OptVendorSpecific, func() Option { return &VendorSpecific{} })
	registerOption(OptServiceSelection, func() Option { return &ServiceSelection{} })
	registerOption(OptRestartCounter, func() Option { return &RestartCounter{} })
	registerOption(OptGREKey, func() Option { return &GREKey{} })
}

// ---- Experimental Mobility Option (18) ----

// ExperimentalOption is the Experimental Mobility option (type 18,
// RFC 5096 §4): opaque data of 0-255 octets. RFC 5096 states no alignment
// requirement. It should come before a Binding Authorization Data option.
type ExperimentalOption struct {
	Data []byte
}

func (*ExperimentalOption) OptionType() OptionType { return OptExperimental }
func (*ExperimentalOption) Alignment() Alignment   { return NoAlignment }
func (o *ExperimentalOption) MarshalLen() int      { return 2 + len(o.Data) }
func (o *ExperimentalOption) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptExperimental, o.MarshalLen()); err != nil {
		return err
	}
	copy(b[2:], o.Data)
	return nil
}
func (o *ExperimentalOption) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *ExperimentalOption) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptExperimental)
	if err != nil {
		return err
	}
	o.Data = append(o.Data[:0], body...)
	return nil
}

// ParseExperimentalOption decodes an Experimental Mobility option.
func ParseExperimentalOption(b []byte) (*ExperimentalOption, error) {
	o := &ExperimentalOption{}
	return o, o.UnmarshalBinary(b)
}

// ---- Vendor-Specific (19) ----

// VendorID3GPP is the IANA enterprise number of 3GPP, the Vendor ID of the
// 3GPP vendor-specific mobility options (TS 29.275).
const VendorID3GPP uint32 = 10415

// VendorSpecific is the Vendor Specific Mobility option (type 19,
// RFC 5094 §3): Vendor ID(4, an IANA enterprise number), Sub-Type(1),
// Data; Length 5 or more, alignment 4n+2. It may repeat in a PBU
// (RFC 5213 §8.1).
type VendorSpecific struct {
	VendorID uint32
	SubType  uint8
	Data     []byte
}

func (*VendorSpecific) OptionType() OptionType { return OptVendorSpecific }
func (*VendorSpecific) Alignment() Alignment   { return Alignment{4, 2} }
func (o *VendorSpecific) MarshalLen() int      { return 7 + len(o.Data) }
func (o *VendorSpecific) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptVendorSpecific, o.MarshalLen()); err != nil {
		return err
	}
	be.PutUint32(b[2:], o.VendorID)
	b[6] = o.SubType
	copy(b[7:], o.Data)
	return nil
}
func (o *VendorSpecific) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *VendorSpecific) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptVendorSpecific)
	if err != nil {
		return err
	}
	if len(body) < 5 {
		return lenErr(OptVendorSpecific.String(), len(body), "at least 5 (Vendor ID, Sub-Type)")
	}
	o.VendorID = be.Uint32(body)
	o.SubType = body[4]
	o.Data = append(o.Data[:0], body[5:]...)
	return nil
}

// ParseVendorSpecific decodes a Vendor Specific Mobility option.
func ParseVendorSpecific(b []byte) (*VendorSpecific, error) {
	o := &VendorSpecific{}
	return o, o.UnmarshalBinary(b)
}

// ---- Service Selection (20) ----

// ServiceSelection is the Service Selection Mobility option (type 20,
// RFC 5149 §3): an identifier string of 1-255 octets (UTF-8, NFKC), e.g.
// an APN; no alignment requirement. Identifier is kept as octets so that
// decoding does not allocate; use Service for the string.
type ServiceSelection struct {
	Identifier []byte
}

// NewServiceSelection returns a Service Selection option for service s.
func NewServiceSelection(s string) *ServiceSelection {
	return &ServiceSelection{Identifier: []byte(s)}
}

// Service returns the identifier as a string.
func (o *ServiceSelection) Service() string { return string(o.Identifier) }

// Validate checks the identifier rules of RFC 5149 §3: 1 to 255 octets of
// valid UTF-8. (NFKC normalisation is not checked.)
func (o *ServiceSelection) Validate() error {
	if n := len(o.Identifier); n < 1 || n > 255 {
		return fmt.Errorf("%w: %s identifier of %d octets, want 1-255", ErrInvalidValue, OptServiceSelection, n)
	}
	if !utf8.Valid(o.Identifier) {
		return fmt.Errorf("%w: %s identifier is not valid UTF-8", ErrInvalidValue, OptServiceSelection)
	}
	return nil
}

func (*ServiceSelection) OptionType() OptionType { return OptServiceSelection }
func (*ServiceSelection) Alignment() Alignment   { return NoAlignment }
func (o *ServiceSelection) MarshalLen() int      { return 2 + len(o.Identifier) }
func (o *ServiceSelection) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptServiceSelection, o.MarshalLen()); err != nil {
		return err
	}
	if len(o.Identifier) == 0 {
		return fmt.Errorf("%w: %s identifier is empty", ErrInvalidValue, OptServiceSelection)
	}
	copy(b[2:], o.Identifier)
	return nil
}
func (o *ServiceSelection) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *ServiceSelection) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptServiceSelection)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return lenErr(OptServiceSelection.String(), 0, "1-255")
	}
	o.Identifier = append(o.Identifier[:0], body...)
	return nil
}

// ParseServiceSelection decodes a Service Selection Mobility option.
func ParseServiceSelection(b []byte) (*ServiceSelection, error) {
	o := &ServiceSelection{}
	return o, o.UnmarshalBinary(b)
}

// ---- Restart Counter (28) ----

// RestartCounter is the Restart Counter option (type 28, RFC 5847 §3.4):
// a 32-bit counter; Length 4, alignment 4n+2. Valid only in a Heartbeat
// response.
type RestartCounter struct {
	Counter uint32
}

func (*RestartCounter) OptionType() OptionType { return OptRestartCounter }
func (*RestartCounter) Alignment() Alignment   { return Alignment{4, 2} }
func (*RestartCounter) MarshalLen() int        { return 6 }
func (o *RestartCounter) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptRestartCounter, 6); err != nil {
		return err
	}
	be.PutUint32(b[2:], o.Counter)
	return nil
}
func (o *RestartCounter) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *RestartCounter) UnmarshalBinary(b []byte) error {
	body, err := fixedOptBody(b, OptRestartCounter, 4)
	if err != nil {
		return err
	}
	o.Counter = be.Uint32(body)
	return nil
}

// ParseRestartCounter decodes a Restart Counter option.
func ParseRestartCounter(b []byte) (*RestartCounter, error) {
	o := &RestartCounter{}
	return o, o.UnmarshalBinary(b)
}

// ---- GRE Key (33) ----

// GREKey is the GRE Key option (type 33, RFC 5845 §6.1): Reserved(2) and,
// when HasKey is set, the GRE Key Identifier(4); alignment 4n. Length 2
// (no key: GRE encapsulation without keys) or 6 (a downlink or uplink key).
// HasKey records which form was received so that re-encoding is exact.
type GREKey struct {
	Reserved uint16
	HasKey   bool
	Key      uint32 // meaningful only when HasKey
}

// NewGREKey returns a GRE Key option carrying key.
func NewGREKey(key uint32) *GREKey { return &GREKey{HasKey: true, Key: key} }

func (*GREKey) OptionType() OptionType { return OptGREKey }
func (*GREKey) Alignment() Alignment   { return Alignment{4, 0} }
func (o *GREKey) MarshalLen() int {
	if o.HasKey {
		return 8
	}
	return 4
}
func (o *GREKey) MarshalTo(b []byte) error {
	if err := putOptHeader(b, OptGREKey, o.MarshalLen()); err != nil {
		return err
	}
	if !o.HasKey && o.Key != 0 {
		return fmt.Errorf("%w: %s key %#x set without HasKey", ErrInvalidValue, OptGREKey, o.Key)
	}
	be.PutUint16(b[2:], o.Reserved)
	if o.HasKey {
		be.PutUint32(b[4:], o.Key)
	}
	return nil
}
func (o *GREKey) Marshal() ([]byte, error) { return marshalOption(o) }
func (o *GREKey) UnmarshalBinary(b []byte) error {
	body, err := optHeader(b, OptGREKey)
	if err != nil {
		return err
	}
	switch len(body) {
	case 2:
		o.HasKey, o.Key = false, 0
	case 6:
		o.HasKey, o.Key = true, be.Uint32(body[2:])
	default:
		return lenErr(OptGREKey.String(), len(body), "2 or 6")
	}
	o.Reserved = be.Uint16(body)
	return nil
}

// ParseGREKey decodes a GRE Key option.
func ParseGREKey(b []byte) (*GREKey, error) {
	o := &GREKey{}
	return o, o.UnmarshalBinary(b)
}
