package ipsec

import (
	"bytes"
	"testing"
)

// FuzzOpen: Open and Enforce never panic or read out of range, whatever
// arrives; nothing but a packet sealed with the right key is accepted.
func FuzzOpen(f *testing.F) {
	// Deterministic IVs: the fuzzing workers rebuild the seeds and must
	// get the same bytes as the coordinator.
	old := randRead
	var ctr byte
	randRead = func(b []byte) (int, error) {
		for i := range b {
			ctr++
			b[i] = ctr
		}
		return len(b), nil
	}
	defer func() { randRead = old }()
	sad := NewSAD(nil)
	var outs []*SA
	for i, s := range suites {
		out, in := s.pair(f, func(p *SAParams) { p.SPI = 0x1000 + uint32(i); p.Name = s.name + p.Direction.String() })
		if err := sad.Add(in); err != nil {
			f.Fatal(err)
		}
		outs = append(outs, out)
	}
	genuine := map[string]bool{}
	for _, out := range outs {
		p, err := Seal(out, pbu(f, 1))
		if err != nil {
			f.Fatal(err)
		}
		genuine[string(p)] = true
		f.Add(p)
		f.Add(p[:len(p)-1])
		f.Add(p[:12])
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0x10, 0})
	e := NewEngine(NewSPD(Protect), sad)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, _, err := sad.Open(bytes.Clone(b)); err == nil && !genuine[string(b)] {
			t.Fatalf("accepted a packet no SA sealed: %x", b)
		}
		_, _, _ = e.Enforce(magAddr, lmaAddr, ProtoESP, bytes.Clone(b))
		_, _, _ = e.Enforce(magAddr, lmaAddr, ProtoMH, bytes.Clone(b))
	})
}
