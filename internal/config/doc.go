// Package config is the configuration of pmipd: a YAML file read through a
// viper instance (never the global one), decoded strictly into typed structs,
// completed with defaults and validated.
//
// The steps are separate, as in gobgp:
//
//  1. decoding (Parse, Load): YAML syntax, unknown keys and values that do
//     not parse (addresses, prefixes, durations, enumerations) are errors
//     that name the full dotted key, e.g.
//     `lma.pools[1].prefx: unknown key (did you mean "prefix"?)`;
//  2. defaults: applied after decoding, only to the keys the file does not
//     set (an explicit `false` or `0s` is kept), from the RFC 5213 §9,
//     RFC 5847, RFC 5846 and RFC 6275 §12 values;
//  3. validation (Config.Validate): every semantic problem of the whole file
//     at once, one `key: reason` line each.
//
// Diff compares two configurations by section for SIGHUP reload, and
// Reloader re-reads the file on SIGHUP, refuses an invalid one (keeping the
// running configuration) and hands the difference to an apply callback.
//
// The optional ipsec section is an ipsec.Settings (SPD, SAD, key files and
// backend), checked by its Validate and reported as ipsec.<key> lines.
//
// configs/ at the repository root holds commented examples (an LMA and two
// MAGs, the same LMA and MAG1 with an ipsec section, the DMM domain, the
// end-to-end tests' nodes) that the tests load: every one must load and
// validate, and together they set every key of the schema.
package config
