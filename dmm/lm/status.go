package lm

import (
	"errors"

	"github.com/pmipdmm/pmipdmm/mh"
)

// QueryStatus maps the error of a query to the Status of a Location Reply
// (docs/wire-format.md §5): nil -> 0, ErrNotFound -> 131, ErrInvalid -> 132,
// anything else (a store failure) -> 128.
func QueryStatus(err error) mh.DMMStatus {
	switch {
	case err == nil:
		return mh.DMMStatusAccepted
	case errors.Is(err, ErrNotFound):
		return mh.DMMStatusLocationUnknown
	case errors.Is(err, ErrInvalid):
		return mh.DMMStatusInvalidRequest
	}
	return mh.DMMStatusReasonUnspecified
}

// UpdateStatus maps the error of an Update to the Status of the PBA that
// answers a location update (wire-format §1: MR -> LM PBU with Serving
// MAAR): nil -> 0; ErrStale -> 135 (sequence number out of window, RFC
// 6275 §9.5.1); ErrConflict -> 155 (not authorized for the HNP, RFC 5213
// §8.9); ErrNotFound (withdrawing an unknown location) -> 0, since the
// state asked for (no location) holds (the project's choice); ErrInvalid
// and store failures -> 128.
func UpdateStatus(err error) mh.Status {
	switch {
	case err == nil, errors.Is(err, ErrNotFound):
		return mh.StatusAccepted
	case errors.Is(err, ErrStale):
		return mh.StatusSequenceOutOfWindow
	case errors.Is(err, ErrConflict):
		return mh.StatusNotAuthorizedForHNP
	}
	return mh.StatusReasonUnspecified
}
