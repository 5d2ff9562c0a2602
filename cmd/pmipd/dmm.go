package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pmipdmm/pmipdmm/dmm/haa"
	"github.com/pmipdmm/pmipdmm/dmm/lm"
	"github.com/pmipdmm/pmipdmm/dmm/mr"
	"github.com/pmipdmm/pmipdmm/dmm/store"
	"github.com/pmipdmm/pmipdmm/dmm/store/boltstore"
	"github.com/pmipdmm/pmipdmm/dmm/store/etcdstore"
	"github.com/pmipdmm/pmipdmm/dmm/wire"
	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/metrics"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/internal/punt"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mag"
)

// dmmRoles are the DMM roles of one pmipd (draft-luo-dmm-with-mip-and-
// pmip-00): an LM (wire.LMServer over an lm.LM), an HAA (wire.HAAServer
// over an haa.HAA) and an MR (mr.MR), in any combination. Each serving
// role has its own Mobility Header socket (the daemon's transport for the
// role at transport.address, a socket of its own for the others). An MR
// calls an LM or HAA of the same process in process (wire.LocalLM,
// wire.LocalHAA) and the others through wire clients that share its socket
// (RequesterConfig.ExternalReceive + mr.Deps.Deliver).
type dmmRoles struct {
	log    *logrus.Entry
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	stores []store.Store
	trs    []transport.Transport // sockets opened here (not the daemon's)

	lm       *lm.LM
	lmCache  *lm.Cache
	lmServer *wire.LMServer
	haa      *haa.HAA
	haaSrv   *wire.HAAServer

	mr      *mr.MR
	mrDone  chan error
	req     *wire.Requester
	access  *mr.LinkAccess
	nd      *ndp.Conn
	punt    puntPath
	running bool
}

// puntPath is the MR's punt path: an mr.PuntAdapter over internal/punt,
// or a fake in tests.
type puntPath interface {
	mr.Punt
	Stats() punt.Stats
	Close() error
}

// puntAdapter adds the punt device's Stats to mr.PuntAdapter (which
// stays a mr.SourceReporter: its Sources method is promoted).
type puntAdapter struct{ *mr.PuntAdapter }

func (a puntAdapter) Stats() punt.Stats { return a.P.Stats() }

// openPunt opens the punt path of the mr section (replaced by tests: the
// TUN device needs CAP_NET_ADMIN).
var openPunt = func(c punt.Config, log *logrus.Entry) (puntPath, error) {
	p, err := punt.Open(c, nil, log)
	if err != nil {
		return nil, err
	}
	return puntAdapter{mr.NewPuntAdapter(p)}, nil
}

// timedLM reports the duration of each of the MR's LM queries (a
// QueryMany is one) to the metrics.
type timedLM struct {
	wire.LocationService
	obs metrics.Observer
}

func (t timedLM) Query(ctx context.Context, q wire.Query) ([]wire.Location, error) {
	start := time.Now()
	defer func() { t.obs.ObserveLMQuery(time.Since(start)) }()
	return t.LocationService.Query(ctx, q)
}

func (t timedLM) QueryMany(ctx context.Context, qs []wire.Query) ([]wire.Result, error) {
	start := time.Now()
	defer func() { t.obs.ObserveLMQuery(time.Since(start)) }()
	return t.LocationService.QueryMany(ctx, qs)
}

// openStore opens the store of an LM or HAA section.
func openStore(s config.Store) (store.Store, error) {
	switch s.Backend {
	case config.StoreBolt:
		// The default file is in node.state_dir, which may not exist yet.
		if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
			return nil, err
		}
		return boltstore.Open(s.Path)
	case config.StoreEtcd:
		return etcdstore.Open(clientv3.Config{Endpoints: s.Endpoints, DialTimeout: s.DialTimeout, Logger: zap.NewNop()})
	}
	return store.NewMemory(), nil
}

// socketFor returns the daemon's transport when addr is transport.address
// and no other role took it, else a new raw socket bound to addr.
func (d *daemon) socketFor(x *dmmRoles, addr netip.Addr, taken *bool) (transport.Transport, error) {
	if addr == d.cfg.Transport.Address && !*taken {
		*taken = true
		return d.tr, nil
	}
	tr, err := d.openMHSocket(addr) // protected like the main socket (ipsec.go)
	if err != nil {
		return nil, fmt.Errorf("socket on %v: %w", addr, err)
	}
	x.trs = append(x.trs, tr)
	return tr, nil
}

// startDMM starts the DMM roles of the configuration (nothing when it has
// none).
func (d *daemon) startDMM(base *logrus.Entry) error {
	c := d.cfg
	if !c.Has(config.RoleMR) && !c.Has(config.RoleLM) && !c.Has(config.RoleHAA) {
		return nil
	}
	x := &dmmRoles{log: base.WithField("component", "dmm")}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	d.dmm = x
	taken := false
	if c.Has(config.RoleMR) {
		taken = true // the MR's socket is the daemon's (mr.address = transport.address)
	}

	if c.Has(config.RoleLM) {
		st, err := openStore(c.LM.Store)
		if err != nil {
			return fmt.Errorf("lm.store: %w", err)
		}
		x.stores = append(x.stores, st)
		l, err := lm.New(st, nil, lm.Config{PrefixLengths: c.LM.PrefixLengths, MaxLifetime: c.LM.MaxLifetime})
		if err != nil {
			return fmt.Errorf("lm: %w", err)
		}
		x.lm = l
		if c.LM.Cache {
			if c.LM.CacheMode == config.CacheReplica {
				x.lmCache = lm.NewReplica(x.ctx, l, c.LM.CacheMaxEntries)
			} else {
				x.lmCache = lm.NewCache(x.ctx, l, c.LM.CacheMaxEntries)
			}
		}
		tr, err := d.socketFor(x, c.LM.Address, &taken)
		if err != nil {
			return fmt.Errorf("lm.address: %w", err)
		}
		srv, err := wire.NewLMServer(tr, l, wire.LMServerConfig{ServerConfig: wire.ServerConfig{Log: base}, Cache: x.lmCache})
		if err != nil {
			return fmt.Errorf("lm: %w", err)
		}
		x.lmServer = srv
		x.serve("lm", srv.Serve)
		x.log.WithFields(logrus.Fields{"address": c.LM.Address, "store": c.LM.Store.Backend}).Info("LM serving")
	}

	if c.Has(config.RoleHAA) {
		st, err := openStore(c.HAA.Store)
		if err != nil {
			return fmt.Errorf("haa.store: %w", err)
		}
		x.stores = append(x.stores, st)
		hc := haa.Config{DefaultLifetime: c.HAA.DefaultLifetime, MaxLifetime: c.HAA.MaxLifetime}
		for _, p := range c.HAA.Pools {
			hc.Pools = append(hc.Pools, haa.PoolConfig{MR: p.MR, Prefix: p.Prefix, Length: p.AssignLength})
		}
		h, err := haa.New(st, nil, hc)
		if err != nil {
			return fmt.Errorf("haa: %w", err)
		}
		x.haa = h
		tr, err := d.socketFor(x, c.HAA.Address, &taken)
		if err != nil {
			return fmt.Errorf("haa.address: %w", err)
		}
		srv, err := wire.NewHAAServer(tr, h, wire.ServerConfig{Log: base})
		if err != nil {
			return fmt.Errorf("haa: %w", err)
		}
		x.haaSrv = srv
		x.serve("haa", srv.Serve)
		x.log.WithFields(logrus.Fields{"address": c.HAA.Address, "store": c.HAA.Store.Backend, "pools": len(hc.Pools)}).Info("HAA serving")
	}

	if c.Has(config.RoleMR) {
		if err := d.startMR(x, base); err != nil {
			return err
		}
	}
	return nil
}

func (x *dmmRoles) serve(name string, f func(context.Context) error) {
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		if err := f(x.ctx); err != nil && !errors.Is(err, context.Canceled) {
			x.log.WithError(err).Errorf("%s server stopped", name)
		}
	}()
}

// mrConfig maps the mr section onto mr.Config.
func mrConfig(c *config.Config) mr.Config {
	s := &c.MR
	out := mr.Config{
		Address:            s.Address,
		CoreDev:            c.Dataplane.TunnelInterface,
		Deployment:         mr.DeployAccess,
		Routing:            mr.RoutingQuery,
		UpdateLMOnAttach:   s.UpdateLMOnAttach,
		NewPrefixOnMove:    s.NewPrefixOnMove,
		NoRedirect:         !s.Redirect,
		RedirectAck:        s.RedirectAck,
		NoContextTransfer:  !s.ContextTransfer,
		ForwardingLifetime: s.ForwardingLifetime,
		ForwardingDrain:    s.ForwardingDrain,
		HoldTimeout:        s.HoldTimeout,
		NegativeLifetime:   s.NegativeLifetime,
		Lifetime:           s.Lifetime,
		InitialTimeout:     s.Retransmission.Initial,
		MaxRetries:         s.Retransmission.MaxRetries,
		CallTimeout:        s.CallTimeout,
		Served:             s.Served,
		MTU:                uint32(s.RouterAdvertisement.MTU),
		RouterLifetime:     s.RouterAdvertisement.RouterLifetime,
	}
	if s.Deployment == config.DeployLMA {
		out.Deployment = mr.DeployLMA
		out.MAGs = append([]netip.Addr{}, s.MAGs...)
	}
	if s.Routing == config.RoutingRedirect {
		out.Routing = mr.RoutingRedirect
	}
	if s.ForwardingLifetime == 0 {
		out.ForwardingLifetime = -1 // the file's 0 disables forwarding
	}
	if s.Retransmission.MaxRetries == 0 {
		out.MaxRetries = -1
	}
	for _, p := range s.Pools {
		out.Pools = append(out.Pools, mr.Pool{Prefix: p.Prefix, AnchorMR: p.Anchor})
	}
	return out
}

func (d *daemon) startMR(x *dmmRoles, base *logrus.Entry) error {
	c := d.cfg
	mc := mrConfig(c)
	// With a Store the MR resumes its attached nodes and keeps its
	// RFC 5847 Restart Counter in node.state_dir/state.db.
	mc.Store = d.state.MR()
	deps := mr.Deps{Transport: d.tr, DataPlane: d.dp, Log: base}

	// LM and HAA: in process when this pmipd runs them, else clients on
	// the MR's socket.
	if x.lm == nil || x.haa == nil {
		req, err := wire.NewRequester(d.tr, wire.RequesterConfig{Log: base, ExternalReceive: true,
			InitialTimeout: c.MR.Retransmission.Initial})
		if err != nil {
			return fmt.Errorf("mr: %w", err)
		}
		x.req = req
		deps.Deliver = req.Deliver
	}
	if x.lm != nil {
		deps.LM = &wire.LocalLM{LM: x.lm, Cache: x.lmCache}
	} else {
		deps.LM = wire.NewLMClient(x.req, c.MR.LM)
	}
	// The metrics' LM query latency (as the MR sees it) and handover
	// durations.
	deps.LM = timedLM{deps.LM, d.observer()}
	deps.OnHandover = d.observer().ObserveHandover
	if x.haa != nil {
		deps.HAA = &wire.LocalHAA{HAA: x.haa, MR: c.MR.Address, Lifetime: c.MR.Lifetime}
	} else {
		deps.HAA = wire.NewHAAClient(x.req, c.MR.HAA)
	}

	// The punt path: packets whose location is unknown or in flux.
	p, err := openPunt(punt.Config{Device: c.MR.Punt.Device, MaxPackets: c.MR.Punt.MaxPackets, MaxAge: c.MR.Punt.MaxAge},
		base.WithField("component", "punt"))
	if err != nil {
		return fmt.Errorf("mr.punt: %w", err)
	}
	x.punt = p
	deps.Punt = p

	// Deployment B: the access side.
	if c.MR.Deployment == config.DeployAccess {
		nd, err := ndp.Listen()
		if err != nil {
			return fmt.Errorf("mr.access: %w", err)
		}
		x.nd = nd
		links, err := mag.NewNetlinkLinks(netns.None(), c.MR.Access, nd, base)
		if err != nil {
			return fmt.Errorf("mr.access: link events: %w", err)
		}
		ac := mr.LinkAccessConfig{MACIdentity: c.MR.MACIdentity, ATT: c.MR.ATT, MTU: uint32(c.MR.RouterAdvertisement.MTU),
			RouterLifetime: c.MR.RouterAdvertisement.RouterLifetime}
		for _, n := range c.MR.MobileNodes {
			ac.Profiles = append(ac.Profiles, mr.AccessProfile{MNID: n.MNID, MAC: n.MAC, Interface: n.Interface})
		}
		a, err := mr.NewLinkAccess(links, nd, ac, base)
		if err != nil {
			links.Close()
			return fmt.Errorf("mr.access: %w", err)
		}
		x.access = a
		deps.Access = a
	}

	// Tunnelled traffic from other MRs: the correspondents' MRs.
	if in, err := startIngress(x.ctx, mc.CoreDev, mc.Address, x.log); err != nil {
		x.log.WithError(err).WithField("dev", mc.CoreDev).Warn("no tunnel ingress observer: correspondents' MRs are learnt from held packets only")
	} else {
		deps.Ingress = in
	}

	m, err := mr.New(mc, deps)
	if err != nil {
		return err
	}
	st := m.Loaded()
	x.log.WithFields(logrus.Fields{"restored": st.Restored, "expired": st.Expired, "lost": st.Lost,
		"restart_counter": st.RestartCounter, "counter_bumped": st.CounterBumped}).Info("MR state loaded")
	if mrReconciles(c) {
		d.restarts = st.RestartCounter
		// The kernel is made to match the restored nodes before the MR
		// serves: their routes stay (or come back), the others go. The
		// driver needs its setup for the routes (Run repeats it).
		want, err := m.Entries(context.Background())
		if err != nil {
			return err
		}
		if err := d.dp.Setup(dataplane.Config{Local: mc.Address, Dev: mc.CoreDev}); err != nil {
			return fmt.Errorf("mr: data plane setup: %w", err)
		}
		if err := d.reconcile(want, "the MR's restored nodes"); err != nil {
			return err
		}
	}
	x.mr, x.mrDone, x.running = m, make(chan error, 1), true
	go func() { x.mrDone <- m.Run(x.ctx) }()
	// Run sets the data plane and the punt watches up before it serves:
	// wait for it (or its failure).
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case err := <-x.mrDone:
			x.running = false
			if err == nil {
				err = errors.New("stopped at once")
			}
			return fmt.Errorf("mr: %w", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := m.Counters(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("mr: did not start within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	x.log.WithFields(logrus.Fields{"address": mc.Address, "deployment": c.MR.Deployment, "routing": c.MR.Routing,
		"lm": lmDesc(x, c), "haa": haaDesc(x, c)}).Info("MR running")
	return nil
}

func lmDesc(x *dmmRoles, c *config.Config) string {
	if x.lm != nil {
		return "in process"
	}
	return c.MR.LM.String()
}

func haaDesc(x *dmmRoles, c *config.Config) string {
	if x.haa != nil {
		return "in process"
	}
	return c.MR.HAA.String()
}

// stopDMM stops the MR (its transport is the daemon's, closed here so that
// its reader returns), the access side, the punt path, the requester, the
// servers and the stores. The daemon flushes the data plane afterwards.
func (d *daemon) stopDMM() {
	x := d.dmm
	if x == nil {
		return
	}
	x.cancel()
	if x.mr != nil && x.running {
		if d.tr != nil {
			d.tr.Close()
		}
		if err := <-x.mrDone; err != nil {
			x.log.WithError(err).Error("MR stopped with an error")
		}
	}
	if x.access != nil {
		x.access.Close()
	}
	if x.nd != nil {
		x.nd.Close()
	}
	if x.punt != nil {
		x.punt.Close()
	}
	if x.req != nil {
		x.req.Close()
	}
	for _, tr := range x.trs {
		tr.Close()
	}
	x.wg.Wait()
	for _, st := range x.stores {
		st.Close()
	}
}

// dmmMgmt plugs the DMM roles into the management API: the LM, the HAA
// and the MR as providers (GET /v1/locations, /v1/pools, /v1/allocations,
// /v1/mr/...), the MR's wanted data plane entries, and the MR's and the
// servers' counters in GET /v1/counters (role "mr", "lm-server",
// "haa-server").
func (d *daemon) dmmMgmt(mc *mgmt.Config) {
	x := d.dmm
	if x == nil {
		return
	}
	if x.lm != nil {
		mc.LM = x.lm
	}
	if x.haa != nil {
		mc.HAA = x.haa
	}
	if x.mr != nil {
		mc.MR = x.mr
		mc.Wanted = append(mc.Wanted, x.mr.Entries)
		mc.Counters = append(mc.Counters, func(ctx context.Context) ([]mgmt.Counter, error) {
			c, err := x.mr.Counters(ctx)
			if err != nil {
				return nil, err
			}
			return mrCounters(c), nil
		})
	}
	for _, s := range []struct {
		role  string
		stats func() wire.ServerStats
	}{{"lm-server", nil}, {"haa-server", nil}} {
		switch {
		case s.role == "lm-server" && x.lmServer != nil:
			s.stats = x.lmServer.Stats
		case s.role == "haa-server" && x.haaSrv != nil:
			s.stats = x.haaSrv.Stats
		}
		if s.stats == nil {
			continue
		}
		mc.Counters = append(mc.Counters, func(context.Context) ([]mgmt.Counter, error) {
			st := s.stats()
			var out []mgmt.Counter
			for k, v := range map[string]uint64{"rx": st.Received, "tx": st.Answered, "cached": st.FromCache, "dropped": st.Dropped, "send_failed": st.SendFailed} {
				out = append(out, mgmt.Counter{Role: s.role, Name: k, Value: v})
			}
			return out, nil
		})
	}
	if x.lmCache != nil {
		mc.Counters = append(mc.Counters, func(context.Context) ([]mgmt.Counter, error) {
			st := x.lmCache.Stats()
			live := uint64(0)
			if st.Live {
				live = 1
			}
			return []mgmt.Counter{{Role: "lm-cache", Name: "hits", Value: st.Hits}, {Role: "lm-cache", Name: "misses", Value: st.Misses},
				{Role: "lm-cache", Name: "entries", Value: uint64(st.Entries)}, {Role: "lm-cache", Name: "live", Value: live}}, nil
		})
	}
}

// mrCounters flattens mr.Counters: messages by name ("rx", "tx"), answers
// by status, drops by reason, and every scalar by its field name.
func mrCounters(c mr.Counters) []mgmt.Counter {
	var out []mgmt.Counter
	add := func(name, key string, v uint64) {
		out = append(out, mgmt.Counter{Role: "mr", Name: name, Key: key, Value: v})
	}
	for name, m := range map[string]map[string]uint64{"rx": c.Rx, "tx": c.Tx, "status_rx": c.StatusRx, "status_tx": c.StatusTx, "dropped": c.Dropped} {
		for k, v := range m {
			add(name, k, v)
		}
	}
	rv := reflect.ValueOf(c)
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.Uint64 {
			add(rv.Type().Field(i).Name, "", f.Uint())
		}
	}
	return out
}
