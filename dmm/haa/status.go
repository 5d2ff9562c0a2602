package haa

import (
	"errors"

	"github.com/pmipdmm/pmipdmm/mh"
)

// StatusFor maps an HAA error to the Status of the PBA that answers the
// MR's PBU (docs/wire-format.md §1): nil -> 0; ErrPoolExhausted -> 130
// (insufficient resources, RFC 6275 §6.1.8); ErrNoPool -> 129
// (administratively prohibited: this HAA does not serve the MR);
// ErrNotHeld -> 155 (not authorized for the HNP, RFC 5213 §8.9); anything
// else -> 128.
func StatusFor(err error) mh.Status {
	switch {
	case err == nil:
		return mh.StatusAccepted
	case errors.Is(err, ErrPoolExhausted):
		return mh.StatusInsufficientResources
	case errors.Is(err, ErrNoPool):
		return mh.StatusAdministrativelyProhibited
	case errors.Is(err, ErrNotHeld):
		return mh.StatusNotAuthorizedForHNP
	}
	return mh.StatusReasonUnspecified
}
