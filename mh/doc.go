// Package mh encodes and decodes the IPv6 Mobility Header (RFC 6275 §6.1)
// and its mobility options, as used by Mobile IPv6, Proxy Mobile IPv6
// (RFC 5213) and its extensions, and by this project's DMM messages
// (docs/wire-format.md).
//
// The package follows the method set of wmnsk/go-gtp: every message and
// every typed option has MarshalLen, MarshalTo, Marshal and
// UnmarshalBinary, and a ParseX function; Parse dispatches on the MH Type.
//
// Decoding is structural only: it checks lengths and bounds and never reads
// past the buffer. Whether a message obeys the RFC rules of the role that
// receives it is a separate step (Validate*), which returns a
// *StatusError carrying the status code the receiver must answer with.
//
// Decoding into a reused value does not allocate once that value has
// warmed up: options are decoded into the option values that already sit
// in the message's option list when their types match. Encoding with
// MarshalTo writes into the caller's buffer and does not allocate.
//
// Options are kept in wire order, padding included, so that a decoded
// message re-encodes byte for byte (Base.KeepLayout). A message built by
// hand gets its Pad1/PadN octets computed from each option's alignment
// requirement (RFC 6275 §6.2).
//
// The package uses only the standard library.
package mh
