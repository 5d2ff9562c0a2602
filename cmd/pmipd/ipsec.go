package main

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/config"
	"github.com/pmipdmm/pmipdmm/internal/esptransport"
	"github.com/pmipdmm/pmipdmm/internal/mgmt"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/ipsec"
)

// secState is the IPsec protection of the node's signalling (RFC 5213
// §4), when the configuration has an ipsec section.
type secState struct {
	choice ipsec.Choice
	// engine is the SPD and SAD built from the section (nil with the
	// external backend, which installs nothing).
	engine *ipsec.Engine
	// esp is the transport of the userspace backend (the daemon's own
	// ESP on an ip6:50 socket beside the ip6:135 one).
	esp *esptransport.Transport
	// xfrm is the kernel backend (XFRM policies and states), removed
	// again at stop.
	xfrm *ipsec.XFRM
	log  *logrus.Entry
}

// Test hooks.
var (
	chooseIPsec = func(s ipsec.Settings, log *logrus.Entry) (ipsec.Choice, error) { return ipsec.Choose(s, nil, log) }
	openESP     = func(c *config.Config, eng *ipsec.Engine, o esptransport.Options) (transport.Transport, error) {
		return esptransport.Listen(c.Transport.Address, eng, o)
	}
)

// openSignalling opens the Mobility Header transport: the plain raw
// socket, or with an ipsec section the backend ipsec.Choose picks (its
// choice and reason are logged): userspace wraps the sockets in
// internal/esptransport, kernel installs XFRM states and policies and
// keeps the plain socket, external installs nothing.
func (d *daemon) openSignalling(cfg *config.Config, base *logrus.Entry) (transport.Transport, error) {
	s := ipsecSettings(cfg)
	plain := func() (transport.Transport, error) {
		tr, err := openTransport(cfg)
		if err != nil {
			return nil, fmt.Errorf("transport.address: %w", err)
		}
		return tr, nil
	}
	if s == nil {
		return plain()
	}
	log := base.WithField("component", "ipsec")
	choice, err := chooseIPsec(*s, log)
	if err != nil {
		return nil, fmt.Errorf("ipsec.backend: %w", err)
	}
	sec := &secState{choice: choice, log: log}
	d.sec = sec
	if choice.Backend == ipsec.BackendExternal {
		log.Info("ipsec: signalling is sent in the clear on the MH socket; the IKE daemon's kernel policies protect it")
		return plain()
	}
	eng, err := ipsec.Build(s.Config, nil)
	if err != nil {
		return nil, fmt.Errorf("ipsec: %w", err)
	}
	sec.engine = eng
	log.WithFields(logrus.Fields{"sas": len(s.SAs), "policies": len(s.Policies), "default_action": s.DefaultAction}).
		Info("ipsec: security policy and association databases built")
	switch choice.Backend {
	case ipsec.BackendUserspace:
		tr, err := openESP(cfg, eng, sec.espOptions())
		if err != nil {
			return nil, fmt.Errorf("transport.address: %w", err)
		}
		if t, ok := tr.(*esptransport.Transport); ok {
			sec.esp = t
		}
		return tr, nil
	case ipsec.BackendKernel:
		x := ipsec.NewXFRM(nil, s.XFRM, log)
		if err := x.Install(eng); err != nil {
			return nil, err
		}
		sec.xfrm = x
		return plain()
	}
	return nil, fmt.Errorf("ipsec: backend %q not handled", choice.Backend)
}

// espOptions are the options of the userspace backend's transports: every
// inbound drop is logged.
func (s *secState) espOptions() esptransport.Options {
	return esptransport.Options{OnDrop: func(p transport.Packet, nh uint8, err error) {
		s.log.WithFields(logrus.Fields{"src": p.Src, "dst": p.Dst, "next_header": nh}).WithError(err).
			Warn("ipsec: inbound signalling dropped")
	}}
}

// openMHSocket opens another Mobility Header socket of this node, bound
// to addr (a DMM role serving on its own address), protected as the main
// one is: with the userspace backend it applies the same engine (one SPD
// and SAD, one set of counters); with the kernel backend the installed
// XFRM policies cover it as far as their selectors do.
func (d *daemon) openMHSocket(addr netip.Addr) (transport.Transport, error) {
	c := &config.Config{Transport: config.Transport{Address: addr}}
	if d.sec != nil && d.sec.esp != nil {
		return openESP(c, d.sec.engine, d.sec.espOptions())
	}
	return openTransport(c)
}

// transportCounters adds the userspace transport's own counters to
// GET /v1/counters.
func (s *secState) transportCounters(context.Context) ([]mgmt.Counter, error) {
	st := s.esp.Stats()
	return []mgmt.Counter{
		{Role: "ipsec", Name: "delivered", Value: st.Delivered},
		{Role: "ipsec", Name: "ignored", Value: st.Ignored},
		{Role: "ipsec", Name: "receive_errors", Value: st.ReceiveErrors},
	}, nil
}

// cleanup removes what the kernel backend installed.
func (s *secState) cleanup() {
	if s == nil || s.xfrm == nil {
		return
	}
	if err := s.xfrm.Cleanup(); err != nil {
		s.log.WithError(err).Error("ipsec: removing the kernel XFRM states and policies")
		return
	}
	s.log.Info("ipsec: kernel XFRM states and policies removed")
}

// ipsecSettings returns the ipsec section of c, or nil when it has none.
func ipsecSettings(c *config.Config) *ipsec.Settings { return c.IPsec }
