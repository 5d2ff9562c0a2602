package config

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
)

// ApplyFunc applies a new configuration to the running daemon, given the
// difference from the running one. It returns an error to refuse the new
// configuration (the running one is then kept). Changes.Restart lists what
// it cannot apply live; it is up to the daemon to log or refuse those.
//
// It is called from the reloader's goroutine: a daemon whose roles own
// their state in an event loop runs the change as an operation on that loop
// and waits for its result.
type ApplyFunc func(old, new *Config, changes Changes) error

// Reloader re-reads a configuration file on SIGHUP (Run) or on request
// (Reload), refuses an invalid one with the reason while keeping the
// running configuration, and calls an ApplyFunc with the difference.
type Reloader struct {
	path  string
	apply ApplyFunc
	log   logrus.FieldLogger

	mu  sync.Mutex // serializes reloads; guards cur
	cur *Config

	// ready is closed once Run has subscribed to its signals (tests).
	ready     chan struct{}
	readyOnce sync.Once
}

// NewReloader returns a Reloader for the file at path, whose running
// configuration is current (as loaded at start). log may be nil.
func NewReloader(path string, current *Config, apply ApplyFunc, log logrus.FieldLogger) *Reloader {
	if log == nil {
		l := logrus.New()
		l.Out = os.Stderr
		log = l
	}
	return &Reloader{path: path, cur: current, apply: apply, log: log, ready: make(chan struct{})}
}

// Current returns the running configuration.
func (r *Reloader) Current() *Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// Reload reads and validates the file, and applies the difference from the
// running configuration. On any error (unreadable or invalid file, apply
// refused) the running configuration is kept and the error says why. When
// nothing changed, apply is not called.
func (r *Reloader) Reload() (Changes, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, err := Load(r.path)
	if err != nil {
		return Changes{}, fmt.Errorf("reload refused, keeping the running configuration: %w", err)
	}
	ch := Diff(r.cur, next)
	if ch.Empty() {
		return ch, nil
	}
	if err := r.apply(r.cur, next, ch); err != nil {
		return ch, fmt.Errorf("reload refused, keeping the running configuration: apply: %w", err)
	}
	r.cur = next
	return ch, nil
}

// Run reloads on every SIGHUP (or the signals given) until ctx is done,
// logging the outcome of each reload. It subscribes a private channel with
// signal.Notify and unsubscribes it (signal.Stop) before returning.
func (r *Reloader) Run(ctx context.Context, sigs ...os.Signal) error {
	if len(sigs) == 0 {
		sigs = []os.Signal{syscall.SIGHUP}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	defer signal.Stop(ch)
	r.readyOnce.Do(func() { close(r.ready) })
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case s := <-ch:
			log := r.log.WithField("signal", s.String()).WithField("file", r.path)
			changes, err := r.Reload()
			switch {
			case err != nil:
				log.WithError(err).Error("configuration reload refused")
			case changes.Empty():
				log.Info("configuration reloaded: no changes")
			default:
				if changes.NeedsRestart() {
					log.WithField("keys", changes.Restart).Warn("configuration changes that take effect only after a restart")
				}
				log.WithField("changes", changes.String()).Info("configuration reloaded")
			}
		}
	}
}
