package ipsec

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Engine applies an SPD and a SAD to Mobility Headers going out (Protect)
// and coming in (Enforce), and counts what it drops. It is safe for
// concurrent use.
type Engine struct {
	SPD      *SPD
	SAD      *SAD
	Counters Counters
	// SkipInnerChecksum turns off the check of the Mobility Header
	// checksum inside ESP. The kernel checks it only for MH that arrive on
	// an ip6:135 socket; inside ESP nobody else does (RFC 6275 §9.2).
	SkipInnerChecksum bool
}

// NewEngine returns an engine over spd and sad.
func NewEngine(spd *SPD, sad *SAD) *Engine {
	return &Engine{SPD: spd, SAD: sad}
}

// minMH is the length up to and including the Checksum field.
const minMH = 6

// Protect applies the outbound SPD to the Mobility Header msg going from
// src to dst. For bypass it returns (135, msg) unchanged (the kernel fills
// the checksum on an ip6:135 socket). For protect it writes the MH
// checksum for src and dst into a copy (no kernel will once it is inside
// ESP), seals it and returns (50, ESP packet); src must therefore be the
// address the packet will really leave from. Discard gives ErrDiscard, a
// protect entry without a usable SA ErrPolicy or ErrExpired.
func (e *Engine) Protect(src, dst netip.Addr, msg []byte) (nextHeader uint8, out []byte, err error) {
	nextHeader, out, _, err = e.protect(src, dst, msg)
	if err != nil {
		e.Counters.drop(true, err)
	}
	return nextHeader, out, err
}

func (e *Engine) protect(src, dst netip.Addr, msg []byte) (uint8, []byte, *SA, error) {
	if len(msg) < minMH {
		return 0, nil, nil, fmt.Errorf("%w: Mobility Header of %d octets", ErrMalformed, len(msg))
	}
	mhType := msg[2]
	act, pol := e.SPD.Decide(Outbound, src, dst, ProtoMH, mhType)
	switch act {
	case Bypass:
		e.Counters.outBypass.Add(1)
		return ProtoMH, msg, nil, nil
	case Discard:
		return 0, nil, nil, fmt.Errorf("%w: outbound MH type %d to %v (%s)", ErrDiscard, mhType, dst, policyName(pol))
	}
	sa := e.outboundSA(pol, src, dst, mhType)
	if sa == nil {
		return 0, nil, nil, fmt.Errorf("%w: %s requires protection of MH type %d to %v but has no outbound SA", ErrPolicy, policyName(pol), mhType, dst)
	}
	plain := make([]byte, len(msg), len(msg)+sa.Overhead(len(msg)))
	copy(plain, msg)
	mh.SetChecksum(src, dst, plain)
	out, err := AppendSeal(nil, sa, ProtoMH, plain)
	if err != nil {
		return 0, nil, sa, err
	}
	e.Counters.outProtected.Add(1)
	return ProtoESP, out, sa, nil
}

func policyName(p *Policy) string {
	if p == nil {
		return "the default policy"
	}
	return fmt.Sprintf("policy %q", p.Name)
}

// outboundSA picks the SA for a protect decision.
func (e *Engine) outboundSA(pol *Policy, src, dst netip.Addr, mhType uint8) *SA {
	if pol == nil || len(pol.SAs) == 0 {
		return e.SAD.LookupOutbound(src, dst, ProtoMH, mhType)
	}
	var expired *SA
	for _, name := range pol.SAs {
		sa := e.SAD.ByName(name)
		if sa == nil || sa.Direction() != Outbound {
			continue
		}
		if !sa.Expired() {
			return sa
		}
		if expired == nil {
			expired = sa
		}
	}
	return expired
}

// Enforce applies the inbound SPD to a packet that arrived from src to
// dst with the given IPv6 next header: ESP (50) is opened first; a clear
// Mobility Header (135) is checked against the SPD directly. It returns
// the Mobility Header to hand to the role logic and the SA that protected
// it (nil in the clear), or an error; every error is counted under its
// Kind and the packet must then be dropped.
//
//   - a clear MH where the SPD requires protection: ErrUnprotected;
//   - unknown SPI, replay, ICV failure, expired SA: ErrUnknownSPI,
//     ErrReplay, ErrICV, ErrExpired;
//   - a protected MH whose peer, address or MH type the SA's selector does
//     not cover, or opened by an SA the policy does not list: ErrPolicy;
//   - a discard entry: ErrDiscard.
//
// ESP is decrypted in place (see SAD.Open): the returned MH aliases payload.
func (e *Engine) Enforce(src, dst netip.Addr, nextHeader uint8, payload []byte) (msg []byte, sa *SA, err error) {
	msg, sa, err = e.enforce(src, dst, nextHeader, payload)
	if err != nil {
		e.Counters.drop(false, err)
		return nil, sa, err
	}
	if sa != nil {
		e.Counters.inProtected.Add(1)
	} else {
		e.Counters.inBypass.Add(1)
	}
	return msg, sa, nil
}

func (e *Engine) enforce(src, dst netip.Addr, nextHeader uint8, payload []byte) ([]byte, *SA, error) {
	var sa *SA
	msg := payload
	switch nextHeader {
	case ProtoMH:
	case ProtoESP:
		nh, inner, s, err := e.SAD.Open(payload)
		if err != nil {
			return nil, s, err
		}
		sa, msg = s, inner
		if nh != ProtoMH {
			return nil, sa, fmt.Errorf("%w: ESP from %v carries next header %d, not a Mobility Header", ErrNextHeader, src, nh)
		}
	default:
		return nil, nil, fmt.Errorf("%w: %d is neither ESP nor a Mobility Header", ErrNextHeader, nextHeader)
	}
	if len(msg) < minMH {
		return nil, sa, fmt.Errorf("%w: Mobility Header of %d octets from %v", ErrMalformed, len(msg), src)
	}
	mhType := msg[2]
	if sa != nil {
		if !sa.Selector().Match(dst, src, ProtoMH, mhType) {
			return nil, sa, fmt.Errorf("%w: MH type %d from %v to %v is outside the selector of SA %q (%v)", ErrPolicy, mhType, src, dst, sa.Name(), sa.Selector())
		}
		if !e.SkipInnerChecksum && !mh.VerifyChecksum(src, dst, msg) {
			return nil, sa, fmt.Errorf("%w: bad Mobility Header checksum inside ESP from %v", ErrMalformed, src)
		}
	}
	act, pol := e.SPD.Decide(Inbound, dst, src, ProtoMH, mhType)
	switch act {
	case Discard:
		return nil, sa, fmt.Errorf("%w: inbound MH type %d from %v (%s)", ErrDiscard, mhType, src, policyName(pol))
	case Protect:
		if sa == nil {
			return nil, nil, fmt.Errorf("%w: MH type %d from %v (%s)", ErrUnprotected, mhType, src, policyName(pol))
		}
		if pol != nil && len(pol.SAs) > 0 && !slices.Contains(pol.SAs, sa.Name()) {
			return nil, sa, fmt.Errorf("%w: MH type %d from %v came on SA %q, %s accepts only %v", ErrPolicy, mhType, src, sa.Name(), policyName(pol), pol.SAs)
		}
	}
	return msg, sa, nil
}
