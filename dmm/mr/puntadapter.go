package mr

import (
	"net/netip"

	"github.com/pmipdmm/pmipdmm/internal/punt"
)

// PuntAdapter makes an internal/punt.Punt the MR's Punt: it converts the
// misses and gives Drop the MR's signature. Start it once; it stops when
// the punt's miss channel is closed.
type PuntAdapter struct {
	P      *punt.Punt
	misses chan Miss
}

var _ Punt = (*PuntAdapter)(nil)

// NewPuntAdapter wraps p and starts converting its misses.
func NewPuntAdapter(p *punt.Punt) *PuntAdapter {
	a := &PuntAdapter{P: p, misses: make(chan Miss, 64)}
	go func() {
		defer close(a.misses)
		for m := range p.Misses() {
			a.misses <- Miss{Dst: m.Dst, Src: m.Src, Prefix: m.Prefix, At: m.At}
		}
	}()
	return a
}

func (a *PuntAdapter) Hold(p netip.Prefix) error           { return a.P.Hold(p) }
func (a *PuntAdapter) Release(p netip.Prefix) (int, error) { return a.P.Release(p) }
func (a *PuntAdapter) Drop(p netip.Prefix) (int, error)    { return a.P.Drop(p), nil }
func (a *PuntAdapter) Watch(space netip.Prefix) error      { return a.P.Watch(space) }
func (a *PuntAdapter) Misses() <-chan Miss                 { return a.misses }
