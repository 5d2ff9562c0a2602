package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/metrics"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
)

// ops is the operator's side of the daemon: the management API
// (internal/mgmt, on management.socket) and the Prometheus endpoint
// (internal/metrics, on metrics.listen). Both listen before start returns,
// so that a socket or port that cannot be opened fails the start.
type ops struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	reload func() (config.Changes, error) // set by main once the Reloader exists

	metrics *metrics.Metrics
	obs     lateObserver // forwards to metrics once it exists
}

// lateObserver is the roles' metrics.Observer: the roles start before
// the metrics (startOps), so it forwards to them once they are set and
// drops the observations made before (or without metrics).
type lateObserver struct {
	m atomic.Pointer[metrics.Metrics]
}

func (o *lateObserver) ObserveHandover(d time.Duration) {
	if m := o.m.Load(); m != nil {
		m.ObserveHandover(d)
	}
}

func (o *lateObserver) ObserveLMQuery(d time.Duration) {
	if m := o.m.Load(); m != nil {
		m.ObserveLMQuery(d)
	}
}

// setReload makes POST /v1/reload call f (the Reloader's Reload).
func (o *ops) setReload(f func() (config.Changes, error)) {
	o.mu.Lock()
	o.reload = f
	o.mu.Unlock()
}

func (o *ops) reloadFunc() func() (config.Changes, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reload
}

// observer is the metrics Observer for roles that accept one (it records
// nothing when metrics are off).
func (d *daemon) observer() metrics.Observer { return &d.ops.obs }

// status answers GET /v1/status.
func (d *daemon) status(context.Context) (mgmt.Status, error) {
	c := d.config()
	s := mgmt.Status{Node: c.Node.Name, Address: c.Transport.Address.String(), Driver: d.dp.Name(),
		DriverReason: d.driverReason, Started: d.started.UTC(), RestartCounter: d.restarts}
	for _, x := range c.Roles {
		s.Roles = append(s.Roles, string(x))
	}
	if d.sec != nil {
		s.IPsec, s.IPsecReason = string(d.sec.choice.Backend), d.sec.choice.Reason
	}
	return s, nil
}

// mgmtConfig plugs the running roles into the management API. A role
// that does not run stays nil (never a typed nil pointer).
func (d *daemon) mgmtConfig(base *logrus.Entry) mgmt.Config {
	mc := mgmt.Config{
		Dataplane:     d.dp,
		Log:           base,
		Status:        d.status,
		RunningConfig: d.config,
		Reload: func() (config.Changes, error) {
			f := d.ops.reloadFunc()
			if f == nil {
				return config.Changes{}, errors.New("the daemon is still starting")
			}
			ch, err := f()
			if err != nil {
				d.log.WithError(err).Error("configuration reload refused")
				return ch, err
			}
			// As config.Reloader.Run does for SIGHUP.
			if ch.NeedsRestart() {
				d.log.WithField("keys", ch.Restart).Warn("configuration changes that take effect only after a restart")
			}
			d.log.WithField("changes", ch.String()).Info("configuration reloaded (management request)")
			return ch, nil
		},
	}
	if d.lma != nil {
		mc.LMA = d.lma
		mc.Wanted = append(mc.Wanted, d.lma.Entries)
	}
	if d.mag != nil {
		mc.MAG = d.mag
		mc.Wanted = append(mc.Wanted, d.mag.Entries)
	}
	d.dmmMgmt(&mc) // mr, haa, lm (dmm.go)
	// The engine's counters mean something only where the daemon does
	// ESP itself (userspace backend); with the kernel backend the kernel
	// counts (ip -s xfrm state).
	if d.sec != nil && d.sec.esp != nil {
		mc.IPsec = &d.sec.engine.Counters
		mc.Counters = append(mc.Counters, d.sec.transportCounters)
	}
	return mc
}

// metricsSources are the running roles for internal/metrics.
func (d *daemon) metricsSources() metrics.Sources {
	src := metrics.Sources{Dataplane: d.dp}
	if d.lma != nil {
		src.LMA = d.lma
	}
	if d.mag != nil {
		src.MAG = d.mag
	}
	if x := d.dmm; x != nil {
		if x.haa != nil {
			src.HAA = x.haa
		}
		if x.haaSrv != nil {
			src.HAAServer = x.haaSrv
		}
		if x.lmServer != nil {
			src.LMServer = x.lmServer
		}
		if x.lmCache != nil {
			src.LMCache = x.lmCache
		}
		if x.mr != nil {
			src.MR = x.mr
		}
		if x.punt != nil {
			src.Punt = x.punt
		}
	}
	if d.sec != nil && d.sec.esp != nil {
		src.IPsec = &d.sec.engine.Counters
	}
	return src
}

// startOps opens the management socket and the metrics port and serves
// them until stopOps.
func (d *daemon) startOps(base *logrus.Entry) error {
	cfg := d.config()
	ctx, cancel := context.WithCancel(context.Background())
	d.ops.cancel = cancel
	if cfg.Metrics.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		m := metrics.New(d.metricsSources(), metrics.WithLogger(base), metrics.WithRuntime())
		d.ops.metrics = m
		d.ops.obs.m.Store(m)
		d.ops.wg.Add(1)
		go func() {
			defer d.ops.wg.Done()
			if err := m.Serve(ctx, ln); err != nil {
				d.log.WithError(err).Error("metrics endpoint stopped")
			}
		}()
		d.log.WithField("listen", ln.Addr().String()).Info("Prometheus metrics on /metrics")
	}
	if cfg.Management.Socket != "" {
		ln, err := mgmt.ListenUnix(cfg.Management.Socket)
		if err != nil {
			return fmt.Errorf("management.socket: %w", err)
		}
		s := mgmt.New(d.mgmtConfig(base))
		d.ops.wg.Add(1)
		go func() {
			defer d.ops.wg.Done()
			if err := s.Serve(ctx, ln, ""); err != nil {
				d.log.WithError(err).Error("management API stopped")
			}
		}()
		d.log.WithField("socket", cfg.Management.Socket).Info("management API listening")
	}
	return nil
}

// stopOps stops serving (requests in flight get up to 5 s) and removes
// the socket.
func (d *daemon) stopOps() {
	if d.ops.cancel != nil {
		d.ops.cancel()
		d.ops.wg.Wait()
	}
}
