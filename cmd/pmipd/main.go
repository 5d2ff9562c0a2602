// Command pmipd is the daemon of the PMIPv6/DMM suite: it runs the roles
// its configuration file lists (lma or mag; one per process).
//
// Usage:
//
//	pmipd -c FILE [--dry-run]
//
// With --dry-run it loads and validates FILE (and reads the IPsec key
// files it names), prints every problem as "key: reason" and exits 0
// (valid) or 1 (invalid), touching nothing.
//
// Otherwise it sets up logging (one logrus logger, node.log_level, an entry
// per component), opens node.state_dir/state.db (internal/state: the LMA's
// Binding Cache and pool allocations, the MAG's Binding Update List, their
// RFC 5847 Restart Counter) for the lma and mag roles, picks the data
// plane (dataplane.driver: seg6, ip6tnl, fake, or auto, which probes the
// kernel and logs why), makes the kernel's tagged entries those the role
// wants (dataplane.Reconcile: an LMA's restored bindings, nothing for the
// other roles), opens the raw Mobility Header socket bound to
// transport.address (protected as the ipsec section says: see ipsec.go),
// runs the role, and serves the management API of internal/mgmt on
// management.socket and Prometheus metrics on metrics.listen (see
// ops.go). An LM or HAA without a store backend in the file keeps its
// records in a bolt file of node.state_dir (internal/config).
//
// Signals: SIGHUP re-reads FILE; an invalid file is refused with the
// reason and the running configuration kept; the LMA applies changes of
// MAG authorizations, mobile node policies, pools and timers live.
// SIGTERM or SIGINT stops the role (a MAG de-registers its mobile nodes),
// and flushes the data plane so that no kernel state is left; an LMA's
// bindings stay in its state file and the next start restores them.
//
// Exit status: 0 after a clean stop or a valid --dry-run, 1 on an invalid
// configuration or a start failure, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/ipsec"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, nil)) }

// run is the whole program. stop, when not nil, replaces the SIGTERM/
// SIGINT wait (tests).
func run(args []string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	fs := flag.NewFlagSet("pmipd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "configuration `file` (YAML), required")
	dry := fs.Bool("dry-run", false, "validate the configuration and exit (0 valid, 1 invalid)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pmipd -c FILE [--dry-run]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*file)
	if err != nil {
		fmt.Fprintf(stderr, "pmipd: %v\n", err)
		return 1
	}
	if *dry {
		// The key files are read too (modes, lengths): a start would.
		if cfg.IPsec != nil && cfg.IPsec.Backend != string(ipsec.BackendExternal) {
			if _, err := ipsec.Build(cfg.IPsec.Config, nil); err != nil {
				fmt.Fprintf(stderr, "pmipd: %s: ipsec: %v\n", *file, err)
				return 1
			}
		}
		fmt.Fprintf(stdout, "%s: valid (roles %v, node %s)\n", *file, cfg.Roles, cfg.Node.Name)
		return 0
	}

	logger, base := newLogger(cfg)
	logger.Out = stderr
	log := base.WithField("component", "pmipd")
	log.WithField("config", *file).WithField("roles", cfg.Roles).Info("starting")

	// Subscribe before starting, so that no signal is lost in between.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	d, err := start(cfg, logger, base)
	if err != nil {
		log.WithError(err).Error("start failed")
		fmt.Fprintf(stderr, "pmipd: %v\n", err)
		return 1
	}
	r := config.NewReloader(*file, cfg, d.apply, base.WithField("component", "config"))
	d.ops.setReload(r.Reload)
	ctx, cancel := context.WithCancel(context.Background())
	reloadDone := make(chan struct{})
	go func() {
		defer close(reloadDone)
		_ = r.Run(ctx, syscall.SIGHUP)
	}()
	log.Info("running")

	select {
	case s := <-sigs:
		log.WithField("signal", s.String()).Info("stopping")
	case <-stop:
		log.Info("stopping")
	}
	cancel()
	<-reloadDone
	d.stop()
	log.Info("stopped")
	return 0
}
