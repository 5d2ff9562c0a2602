package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netns"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/internal/state"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/lma"
	"github.com/pmipdmm/pmipdmm/mag"
)

// daemon is one running pmipd: the transport, the data plane and the
// roles of one configuration.
type daemon struct {
	logger *logrus.Logger
	log    *logrus.Entry // component "pmipd"

	mu  sync.Mutex // guards cfg
	cfg *config.Config

	dp           dataplane.Driver
	driverReason string
	tr           transport.Transport
	started      time.Time
	restarts     uint32    // RFC 5847 Restart Counter of the LMA, MAG or MR (from the state file)
	state        *state.DB // node.state_dir/state.db, for the lma, mag and mr roles

	lma      *lma.LMA
	lmaStop  context.CancelFunc
	lmaDone  chan error
	mag      *mag.MAG
	nd       *ndp.Conn
	links    *mag.NetlinkLinks
	ops      ops       // management API and metrics (ops.go)
	sec      *secState // IPsec of the signalling (ipsec.go), nil without an ipsec section
	dmm      *dmmRoles // mr, haa, lm (dmm.go), nil without them
	stopOnce sync.Once
}

// newLogger returns the daemon's one logger: text to stderr, the level of
// node.log_level, every entry tagged with the node name.
func newLogger(c *config.Config) (*logrus.Logger, *logrus.Entry) {
	l := logrus.New()
	l.Out = os.Stderr
	l.Formatter = &logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000000", DisableColors: true}
	l.SetLevel(c.Node.LogLevel)
	return l, l.WithField("node", c.Node.Name)
}

// transportOpener and driverOpener are replaced by tests.
var (
	openTransport = func(c *config.Config) (transport.Transport, error) {
		return transport.ListenRaw(c.Transport.Address, transport.RawOptions{})
	}
	openDriver = func(name string) (dataplane.Driver, string, error) { return dataplane.New(name) }
)

// start brings the daemon up: state file, data plane (chosen and
// reconciled), transport, roles, management socket. On error what was
// started is stopped again.
func start(cfg *config.Config, logger *logrus.Logger, base *logrus.Entry) (_ *daemon, err error) {
	d := &daemon{logger: logger, log: base.WithField("component", "pmipd"), cfg: cfg, started: time.Now()}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()
	if cfg.Has(config.RoleLMA) && cfg.Has(config.RoleMAG) {
		return nil, errors.New("roles: lma and mag in one process are not supported (they would share one MH socket): run one pmipd per role")
	}
	if cfg.Has(config.RoleLMA) || cfg.Has(config.RoleMAG) || cfg.Has(config.RoleMR) {
		if d.state, err = openState(cfg.Node.StateDir); err != nil {
			return nil, err
		}
		d.log.WithField("path", d.state.Path()).Info("state file open")
	}

	dp, reason, err := openDriver(string(cfg.Dataplane.Driver))
	if err != nil {
		return nil, fmt.Errorf("dataplane.driver: %w", err)
	}
	d.dp, d.driverReason = dp, reason
	d.log.WithField("driver", dp.Name()).WithField("reason", reason).Info("data plane selected")
	if !cfg.Has(config.RoleLMA) && !mrReconciles(cfg) {
		// Nothing of these roles' data plane is resumed from the state
		// file (a restored MAG entry installs its routes when its MN is
		// seen again): whatever a previous run left tagged in the kernel
		// goes. The LMA reconciles with its restored bindings in startLMA,
		// an MR without an LMA or MAG beside it with its restored nodes
		// in startMR.
		if err := d.reconcile(nil, "the (empty) wanted state"); err != nil {
			return nil, err
		}
	}

	tr, err := d.openSignalling(cfg, base)
	if err != nil {
		return nil, err
	}
	d.tr = tr
	d.log.WithField("address", tr.LocalAddr()).Info("Mobility Header socket open")

	switch {
	case cfg.Has(config.RoleLMA):
		if err := d.startLMA(base); err != nil {
			return nil, err
		}
	case cfg.Has(config.RoleMAG):
		if err := d.startMAG(base); err != nil {
			return nil, err
		}
	}
	if err := d.startDMM(base); err != nil {
		return nil, err
	}
	if err := d.startOps(base); err != nil {
		return nil, err
	}
	return d, nil
}

// mrReconciles: the MR is the only role with data plane state in this
// process, so startMR reconciles the kernel with its restored nodes.
func mrReconciles(cfg *config.Config) bool {
	return cfg.Has(config.RoleMR) && !cfg.Has(config.RoleLMA) && !cfg.Has(config.RoleMAG)
}

// openState opens dir/state.db (creating dir), the persistent state of
// the LMA and MAG roles (internal/state): their bindings and RFC 5847
// Restart Counter.
func openState(dir string) (*state.DB, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("node.state_dir: %w", err)
	}
	db, err := state.Open(filepath.Join(dir, "state.db"), state.Options{})
	if err != nil {
		return nil, fmt.Errorf("node.state_dir: %w", err)
	}
	return db, nil
}

// reconcile makes the kernel's tagged entries those of want.
func (d *daemon) reconcile(want []dataplane.Entry, what string) error {
	added, removed, err := dataplane.Reconcile(d.dp, want)
	if err != nil {
		return fmt.Errorf("data plane reconcile: %w", err)
	}
	d.log.WithField("added", added).WithField("removed", removed).Info("data plane reconciled with " + what)
	return nil
}

func (d *daemon) startLMA(base *logrus.Entry) error {
	lc, err := lmaConfig(d.cfg)
	if err != nil {
		return err
	}
	// With a Store the LMA resumes its bindings and keeps its Restart
	// Counter there (Config.RestartCounter is ignored).
	lc.Transport, lc.DataPlane, lc.Log, lc.Store = d.tr, d.dp, base, d.state.LMA()
	l, err := lma.New(lc)
	if err != nil {
		return err
	}
	d.restarts = l.RestartCounter()
	st := l.Loaded()
	d.log.WithFields(logrus.Fields{"restored": st.Restored, "expired": st.Expired, "lost": st.Lost,
		"restart_counter": d.restarts, "counter_bumped": st.CounterBumped}).Info("LMA state loaded")
	// The kernel is made to match the restored bindings before the LMA
	// serves: their routes stay (or come back), the others go. The
	// driver needs its setup for the routes (Run repeats it).
	want, err := l.Entries(context.Background())
	if err != nil {
		return err
	}
	if err := d.dp.Setup(dataplane.Config{Local: lc.Address, Dev: lc.DataPlaneDev}); err != nil {
		return fmt.Errorf("lma: data plane setup: %w", err)
	}
	if err := d.reconcile(want, fmt.Sprintf("the %d restored bindings' routes", st.Restored)); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.lma, d.lmaStop, d.lmaDone = l, cancel, make(chan error, 1)
	go func() { d.lmaDone <- l.Run(ctx) }()
	// Run sets the data plane up before it serves: wait for it (or its
	// failure) so that a broken setup fails the start.
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case err := <-d.lmaDone:
			d.lmaDone <- err
			if err == nil {
				err = errors.New("stopped at once")
			}
			return fmt.Errorf("lma: %w", err)
		default:
		}
		if _, err := l.Counters(context.Background()); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("lma: did not start within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (d *daemon) startMAG(base *logrus.Entry) error {
	mc, err := magConfig(d.cfg, func(key, reason string) {
		d.log.WithField("key", key).Warn(reason)
	})
	if err != nil {
		return err
	}
	mc.Store = d.state.MAG() // resumes the BUL; the Restart Counter is the store's
	nd, err := ndp.Listen()
	if err != nil {
		return err
	}
	d.nd = nd
	var names []string
	for _, it := range mc.Interfaces {
		names = append(names, it.Name)
	}
	links, err := mag.NewNetlinkLinks(netns.None(), names, nd, base)
	if err != nil {
		return fmt.Errorf("mag: link events: %w", err)
	}
	d.links = links
	m, err := mag.New(mc, mag.Deps{Transport: d.tr, DataPlane: d.dp, Log: base, NDP: nd, Links: links})
	if err != nil {
		return err
	}
	if err := m.Start(); err != nil {
		return err
	}
	d.mag = m
	// New loaded (and, at a start that lost state, incremented and
	// stored) the Restart Counter; the MAG does not export it.
	if st, err := d.state.MAG().LoadMAG(); err == nil {
		d.restarts = st.RestartCounter
	}
	return nil
}

// config returns the running configuration.
func (d *daemon) config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// apply is the reload callback: it applies what the roles can change live
// and refuses what they cannot check (the Reloader keeps the running
// configuration on an error). What it does not apply is in ch.Restart
// (config.Diff's restartKeys: the LMA's heartbeat and revocation, the
// mag, mr, haa and lm sections, ...), which the caller logs as a warning
// (config.Reloader.Run for SIGHUP, the management API's reload) and
// reports (needs_restart).
func (d *daemon) apply(old, next *config.Config, ch config.Changes) error {
	for _, r := range []config.Role{config.RoleLMA, config.RoleMAG, config.RoleMR, config.RoleHAA, config.RoleLM} {
		if next.Has(r) != old.Has(r) {
			return errors.New("roles changed: restart pmipd to change its roles")
		}
	}
	if d.lma != nil {
		lc, err := lmaConfig(next)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.lma.Reconfigure(ctx, lc); err != nil {
			return err
		}
	}
	if next.Node.LogLevel != old.Node.LogLevel {
		d.logger.SetLevel(next.Node.LogLevel)
	}
	d.mu.Lock()
	d.cfg = next
	d.mu.Unlock()
	return nil
}

// stop stops the roles (the MAG de-registers its MNs), closes the
// transport and flushes the data plane so that nothing is left in the
// kernel. It is idempotent.
func (d *daemon) stop() {
	d.stopOnce.Do(func() {
		d.stopOps()
		if d.mag != nil {
			d.mag.Stop() // closes the transport and the link source
		}
		if d.lma != nil {
			d.lmaStop()
			if d.tr != nil {
				d.tr.Close()
			}
			if err := <-d.lmaDone; err != nil {
				d.log.WithError(err).Error("LMA stopped with an error")
			}
		}
		d.stopDMM()
		if d.tr != nil {
			d.tr.Close()
		}
		if d.links != nil && d.mag == nil {
			d.links.Close()
		}
		if d.nd != nil {
			d.nd.Close()
		}
		if d.dp != nil {
			if err := d.dp.Flush(); err != nil {
				d.log.WithError(err).Error("data plane flush")
			} else {
				d.log.Info("data plane flushed")
			}
		}
		d.sec.cleanup()
		if d.state != nil {
			if err := d.state.Close(); err != nil {
				d.log.WithError(err).Error("state file close")
			}
		}
	})
}
