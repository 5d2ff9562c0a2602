package dataplane

import (
	"fmt"
	"sync"
)

// Fake is a Driver that records entries in memory. It is safe for
// concurrent use. FailNext makes the next call fail, to test the callers'
// error paths.
type Fake struct {
	mu       sync.Mutex
	cfg      *Config
	entries  map[string]Entry
	ops      []string
	FailNext error
}

// NewFake returns an empty fake data plane.
func NewFake() *Fake { return &Fake{entries: map[string]Entry{}} }

func (f *Fake) Name() string { return "fake" }

func (f *Fake) fail() error {
	err := f.FailNext
	f.FailNext = nil
	return err
}

func (f *Fake) Setup(cfg Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	if !cfg.Local.Is6() {
		return fmt.Errorf("dataplane: local tunnel endpoint %v is not IPv6", cfg.Local)
	}
	f.cfg = &cfg
	f.ops = append(f.ops, "setup "+cfg.Local.String())
	return nil
}

func (f *Fake) Add(e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	f.entries[e.Key()] = e
	f.ops = append(f.ops, "add "+e.String())
	return nil
}

func (f *Fake) Del(e Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	if _, ok := f.entries[e.Key()]; ok {
		delete(f.entries, e.Key())
		f.ops = append(f.ops, "del "+e.String())
	}
	return nil
}

func (f *Fake) List() ([]Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Entry, 0, len(f.entries))
	for _, e := range f.entries {
		out = append(out, e)
	}
	SortEntries(out)
	return out, nil
}

func (f *Fake) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = map[string]Entry{}
	f.cfg = nil
	f.ops = append(f.ops, "flush")
	return nil
}

// Ops returns the operations applied so far ("add ...", "del ...").
func (f *Fake) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ops...)
}
