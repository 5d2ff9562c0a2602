package mh

// This file holds the project's DMM extensions (docs/wire-format.md).
// The codepoints live in one place, Codepoints.

// dmmKindOf returns the DMM message kind of the Mobility Header in b, or
// 0 when b is not a DMM message.
func dmmKindOf(b []byte) uint8 { return 0 }

// newDMMMessage returns an empty DMM message of kind k, or nil.
func newDMMMessage(k uint8) Message { return nil }

// dmmOptionName returns the name of a DMM option type, or "".
func dmmOptionName(t OptionType) string { return "" }
