// Package ipsec protects Mobility Header signalling with IPsec ESP
// (RFC 4303) in transport mode, as RFC 5213 §4 and RFC 4877 require, for
// kernels that have XFRM but no ESP: the daemon seals and opens ESP itself
// on its own sockets.
//
// It holds the two databases of RFC 4301 §4.4 reduced to what signalling
// needs:
//
//   - the SPD: ordered policies on local and remote address (prefixes),
//     protocol 135 and MH type, per direction, with the action protect,
//     bypass or discard (first match wins, then a default action);
//   - the SAD: manually keyed SAs, found by SPI on input and by selector on
//     output, with AES-GCM-128/256 and a 16-octet ICV (RFC 4106) or
//     HMAC-SHA-256-128 (RFC 4868) with AES-CBC-128/256 (RFC 3602) or NULL
//     encryption (RFC 2410); a 32-bit sequence counter that never wraps
//     (the SA expires instead, RFC 4303 §3.3.3); an anti-replay window
//     (RFC 4303 §3.4.3) updated only after the ICV verifies; soft and hard
//     lifetimes in time, packets and bytes.
//
// Seal and Open do the ESP framing; Engine.Protect (output) and
// Engine.Enforce (input) apply the SPD around them and count every drop by
// kind. Keys come from hex files that must not be readable by group or
// others, and the Key type prints and marshals as "<redacted>".
//
// The package does no I/O besides reading key files: the caller sends the
// result of Protect with the IPv6 next header it returns (50 or 135) and
// gives Enforce what its sockets received. ESP arrives with next header
// 50, so a daemon that uses it needs an ip6:50 socket beside its ip6:135
// one.
package ipsec
