package ndp

import (
	"errors"
	"net/netip"
	"sync"
)

// SentRA is a Router Advertisement recorded by Fake.
type SentRA struct {
	IfIndex int
	Dst     netip.Addr
	RA      RA
}

// SentNA is a Neighbor Advertisement recorded by Fake.
type SentNA struct {
	IfIndex int
	Dst     netip.Addr
	NA      NA
}

// Fake is an in-memory Interface: Inject queues Router Solicitations for
// ReadRS, SendRA and SendNA record what would have been sent. Safe for
// concurrent use.
type Fake struct {
	mu     sync.Mutex
	sent   []SentRA
	nas    []SentNA
	rs     chan Solicitation
	done   chan struct{}
	once   sync.Once
	FailRA error // returned by SendRA and SendNA while set
}

var (
	_ Interface = (*Fake)(nil)
	_ NASender  = (*Fake)(nil)
)

// NewFake returns an empty fake.
func NewFake() *Fake { return &Fake{rs: make(chan Solicitation, 64), done: make(chan struct{})} }

// Inject queues a Router Solicitation.
func (f *Fake) Inject(s Solicitation) { f.rs <- s }

// ReadRS returns the next injected solicitation.
func (f *Fake) ReadRS() (Solicitation, error) {
	select {
	case s := <-f.rs:
		return s, nil
	case <-f.done:
		return Solicitation{}, errors.New("ndp: closed")
	}
}

// SendRA records ra (a deep copy, encoded and decoded so that what is
// recorded is what would be on the wire).
func (f *Fake) SendRA(ifindex int, dst netip.Addr, ra *RA) error {
	b, err := ra.Marshal()
	if err != nil {
		return err
	}
	var c RA
	if err := c.UnmarshalBinary(b); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailRA != nil {
		return f.FailRA
	}
	f.sent = append(f.sent, SentRA{IfIndex: ifindex, Dst: dst, RA: c})
	return nil
}

// Sent returns the RAs sent so far.
func (f *Fake) Sent() []SentRA {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SentRA(nil), f.sent...)
}

// SendNA records na as it would be on the wire (FailRA applies too).
func (f *Fake) SendNA(ifindex int, dst netip.Addr, na *NA) error {
	b, err := na.Marshal()
	if err != nil {
		return err
	}
	var c NA
	if err := c.UnmarshalBinary(b); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailRA != nil {
		return f.FailRA
	}
	f.nas = append(f.nas, SentNA{IfIndex: ifindex, Dst: dst, NA: c})
	return nil
}

// SentNAs returns the NAs sent so far.
func (f *Fake) SentNAs() []SentNA {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SentNA(nil), f.nas...)
}

// Close unblocks ReadRS.
func (f *Fake) Close() error {
	f.once.Do(func() { close(f.done) })
	return nil
}
