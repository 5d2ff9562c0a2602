package mr

import (
	"net/netip"
	"sync"

	"github.com/pmipdmm/pmipdmm/internal/punt"
)

// PuntAdapter makes an internal/punt.Punt the MR's Punt: it converts the
// misses and the held packets' sources and gives Drop the MR's signature.
// Its Misses and Sources channels are closed when the punt's are (Close
// of the punt) or by the adapter's Close.
type PuntAdapter struct {
	P       *punt.Punt
	misses  chan Miss
	sources chan HeldSource
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

var (
	_ Punt           = (*PuntAdapter)(nil)
	_ SourceReporter = (*PuntAdapter)(nil)
)

// NewPuntAdapter wraps p and starts converting its misses and sources.
func NewPuntAdapter(p *punt.Punt) *PuntAdapter {
	a := &PuntAdapter{P: p, misses: make(chan Miss, 64), sources: make(chan HeldSource, 64), done: make(chan struct{})}
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		defer close(a.misses)
		for m := range p.Misses() {
			select {
			case a.misses <- Miss{Dst: m.Dst, Src: m.Src, Prefix: m.Prefix, At: m.At}:
			case <-a.done:
				return
			}
		}
	}()
	go func() {
		defer a.wg.Done()
		defer close(a.sources)
		for s := range p.Sources() {
			select {
			case a.sources <- HeldSource{Prefix: s.Prefix, Src: s.Src, SrcPrefix: s.SrcPrefix, Dst: s.Dst, At: s.At}:
			case <-a.done:
				return
			}
		}
	}()
	return a
}

func (a *PuntAdapter) Hold(p netip.Prefix) error           { return a.P.Hold(p) }
func (a *PuntAdapter) Release(p netip.Prefix) (int, error) { return a.P.Release(p) }
func (a *PuntAdapter) Drop(p netip.Prefix) (int, error)    { return a.P.Drop(p), nil }
func (a *PuntAdapter) Watch(space netip.Prefix) error      { return a.P.Watch(space) }
func (a *PuntAdapter) Misses() <-chan Miss                 { return a.misses }

// Sources reports the source prefixes of held packets (SourceReporter).
func (a *PuntAdapter) Sources() <-chan HeldSource { return a.sources }

// Close closes the punt (its routes and device go, held packets are
// dropped) and the adapter's channels; what was not read is discarded.
func (a *PuntAdapter) Close() error {
	err := a.P.Close()
	a.once.Do(func() { close(a.done) })
	a.wg.Wait()
	return err
}
