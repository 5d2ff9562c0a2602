package mh

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped) by the decoders.
var (
	// ErrTooShort: the buffer is shorter than the structure needs.
	ErrTooShort = errors.New("mh: too short to parse")
	// ErrInvalidLength: a length field is inconsistent with the data.
	ErrInvalidLength = errors.New("mh: invalid length")
	// ErrBufferTooSmall: MarshalTo was given a buffer smaller than MarshalLen.
	ErrBufferTooSmall = errors.New("mh: buffer too small")
	// ErrWrongType: a value was decoded from bytes of another MH Type or option type.
	ErrWrongType = errors.New("mh: wrong type")
	// ErrInvalidValue: a field holds a value that cannot be encoded.
	ErrInvalidValue = errors.New("mh: invalid value")
)

// HeaderError reports a problem with the Mobility Header itself
// (RFC 6275 §6.1.1, §9.2).
type HeaderError struct {
	Type   Type   // MH Type of the message, when it was readable
	Field  string // "Header Len", "payload", ...
	Reason string
	Err    error // ErrTooShort, ErrInvalidLength, ...
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("mh: %s: %s: %s", e.Type, e.Field, e.Reason)
}

func (e *HeaderError) Unwrap() error { return e.Err }

// OptionError reports a malformed mobility option.
type OptionError struct {
	Offset int        // offset of the option's Type octet from the start of the Mobility Header
	Type   OptionType // option type
	Err    error
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("mh: option %s at offset %d: %v", e.Type, e.Offset, e.Err)
}

func (e *OptionError) Unwrap() error { return e.Err }

// StatusError is returned by RFC validation. Status is the code the
// receiving node must put in its reply (for a PBU: the PBA status, RFC 5213
// §5.3.1).
type StatusError struct {
	Status Status
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("mh: status %d (%s): %s", uint8(e.Status), e.Status, e.Reason)
}

func shortErr(what string, need, have int) error {
	return fmt.Errorf("%w: %s needs %d octets, have %d", ErrTooShort, what, need, have)
}

func lenErr(what string, got int, want string) error {
	return fmt.Errorf("%w: %s length %d, want %s", ErrInvalidLength, what, got, want)
}
