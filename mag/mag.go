// Package mag is the Mobile Access Gateway of Proxy Mobile IPv6 (RFC 5213
// §6): it detects mobile nodes attaching to and leaving its access links,
// registers them with their LMA (Proxy Binding Updates, retransmitted and
// rate limited, re-registered before expiry, de-registered on detach),
// installs the uplink/downlink forwarding state after a successful PBA and
// only then advertises the home network prefixes to the MN in unicast
// Router Advertisements from the RFC 6543 fixed addresses. It answers
// Heartbeats (RFC 5847) and Binding Revocation Indications (RFC 5846).
//
// One goroutine (the loop) owns all state, gobgp style: received
// messages, link events, timers and management calls are operations run
// on it. Transport, data plane, clock, NDP and the link event source are
// injected.
package mag

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/internal/ndp"
	"github.com/pmipdmm/pmipdmm/internal/transport"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Deps are the MAG's injected parts.
type Deps struct {
	Transport transport.Transport // closed by Stop
	DataPlane dataplane.Driver
	Clock     clock.Clock   // nil: the real clock
	Log       *logrus.Entry // nil: logrus standard logger
	NDP       ndp.Interface // sends the RAs
	Links     LinkSource    // access-link events; closed by Stop
}

// Counters count what the MAG did.
type Counters struct {
	Attaches, Detaches                              uint64
	PBUSent, PBURetransmitted, PBURateLimited       uint64
	PBAReceived, PBAAccepted, PBARejected           uint64
	PBAIgnored                                      uint64
	Deregistrations, Expired                        uint64
	RSReceived, RASent, RAErrors                    uint64
	BRIReceived, BRASent                            uint64
	HeartbeatRequestsSent, HeartbeatRequestsRecv    uint64
	HeartbeatResponsesSent, HeartbeatResponsesRecv  uint64
	PeersDown, PeerRestarts                         uint64
	MHReceived, MHDropped, DataplaneErrors, SendErr uint64
	// Announcements: link-up announcements of the router (NA and RA to
	// all-nodes) sent.
	Announcements uint64
}

// MAG is a running Mobile Access Gateway.
type MAG struct {
	cfg   Config
	tr    transport.Transport
	dp    dataplane.Driver
	clk   clock.Clock
	log   *logrus.Entry
	nd    ndp.Interface
	links LinkSource

	ops     chan func()
	done    chan struct{}
	stopped chan struct{}
	wg      sync.WaitGroup
	stopMu  sync.Mutex
	isStop  bool

	// Owned by the loop.
	ifaces  map[string]*Interface
	linkst  map[string]*link
	bul     map[string]*entry // by MN-ID key
	peers   map[netip.Addr]*peer
	denied  map[string]mh.Status
	mnSeq   map[string]uint16 // sequence-number scheme: last per MN
	seq     uint16            // timestamp scheme: per-MAG counter
	hbSeq   uint32
	dec     mh.Decoder
	cnt     Counters
	lastTS  uint64
	tmpOpts mh.Options
	// resume: entries restored from Config.Store, waiting for their MN.
	resume map[string]StoredBUL
}

// New checks cfg and returns a MAG (not started).
func New(cfg Config, d Deps) (*MAG, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if d.Transport == nil || d.DataPlane == nil || d.NDP == nil || d.Links == nil {
		return nil, errors.New("mag: transport, data plane, NDP and link source are required")
	}
	if a := d.Transport.LocalAddr(); a != cfg.Address {
		return nil, fmt.Errorf("mag: transport address %v is not the Proxy-CoA %v", a, cfg.Address)
	}
	if d.Clock == nil {
		d.Clock = clock.New()
	}
	if d.Log == nil {
		d.Log = logrus.NewEntry(logrus.StandardLogger())
	}
	m := &MAG{
		cfg: cfg, tr: d.Transport, dp: d.DataPlane, clk: d.Clock, nd: d.NDP, links: d.Links,
		log: d.Log.WithField("component", "mag"),
		ops: make(chan func(), 256), done: make(chan struct{}), stopped: make(chan struct{}),
		ifaces: map[string]*Interface{}, linkst: map[string]*link{}, bul: map[string]*entry{},
		peers: map[netip.Addr]*peer{}, denied: map[string]mh.Status{}, mnSeq: map[string]uint16{},
	}
	m.dec.Legacy = cfg.Legacy
	for i := range m.cfg.Interfaces {
		it := &m.cfg.Interfaces[i]
		m.ifaces[it.Name] = it
	}
	if cfg.Store != nil {
		if err := m.loadStore(); err != nil {
			return nil, fmt.Errorf("mag: state store: %w", err)
		}
	}
	return m, nil
}

// Start prepares the data plane and runs the loop, the receiver and the
// link event source.
func (m *MAG) Start() error {
	dev := m.cfg.UplinkDev
	if err := m.dp.Setup(dataplane.Config{Local: m.cfg.Address, Dev: dev}); err != nil {
		return fmt.Errorf("mag: data plane setup: %w", err)
	}
	m.wg.Add(2)
	go m.loop()
	go m.receive()
	if len(m.resume) > 0 {
		grace := m.cfg.ResumeGrace
		if grace <= 0 {
			grace = DefaultResumeGrace
		}
		m.after(grace, m.resumeExpired)
	}
	if err := m.links.Start(m.LinkEvent); err != nil {
		m.Stop()
		return fmt.Errorf("mag: link events: %w", err)
	}
	m.log.WithField("address", m.cfg.Address).Info("MAG started")
	return nil
}

// Stop de-registers every MN (unless KeepBindingsOnStop), removes the
// data plane state, and stops the loop, the transport and the link source.
func (m *MAG) Stop() {
	m.stopMu.Lock()
	if m.isStop {
		m.stopMu.Unlock()
		return
	}
	m.isStop = true
	m.stopMu.Unlock()
	_ = m.links.Close()
	m.do(func() {
		if !m.cfg.KeepBindingsOnStop {
			for _, e := range m.sortedEntries() {
				if e.registered() || e.state == statePending {
					m.sendDereg(e, "stop")
				}
				m.removeRoutes(e)
			}
			if err := m.dp.Flush(); err != nil {
				m.log.WithError(err).Warn("data plane flush at stop")
			}
		}
		for _, e := range m.bul {
			e.cancelTimers()
		}
		for _, p := range m.peers {
			p.stopTimers()
		}
	})
	close(m.done)
	_ = m.tr.Close()
	m.wg.Wait()
	m.log.Info("MAG stopped")
}

// do runs f on the loop and waits for it; after Stop it returns at once.
func (m *MAG) do(f func()) {
	fin := make(chan struct{})
	select {
	case m.ops <- func() { f(); close(fin) }:
	case <-m.done:
		return
	}
	select {
	case <-fin:
	case <-m.done:
	}
}

func (m *MAG) loop() {
	defer m.wg.Done()
	for {
		select {
		case f := <-m.ops:
			f()
		case <-m.done:
			return
		}
	}
}

// after runs f on the loop once d has elapsed. The timer callback waits
// until f has run, so that a fake clock fires timers in exact order.
func (m *MAG) after(d time.Duration, f func()) clock.Timer {
	return m.clk.AfterFunc(d, func() { m.do(f) })
}

func (m *MAG) receive() {
	defer m.wg.Done()
	ps := make([]transport.Packet, 16)
	for {
		n, err := m.tr.Receive(ps)
		if err != nil {
			if errors.Is(err, transport.ErrClosed) {
				return
			}
			select {
			case <-m.done:
				return
			default:
			}
			m.log.WithError(err).Warn("receive")
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for i := 0; i < n; i++ {
			src, data := ps[i].Src, append([]byte(nil), ps[i].Data...)
			m.do(func() { m.handleMH(src, data) })
		}
	}
}

func (m *MAG) handleMH(src netip.Addr, b []byte) {
	m.cnt.MHReceived++
	msg, err := m.dec.Decode(b)
	if err == nil {
		err = mh.ValidateHeader(msg)
	}
	if err != nil {
		m.cnt.MHDropped++
		m.log.WithError(err).WithField("peer", src).Debug("undecodable Mobility Header dropped")
		return
	}
	switch x := msg.(type) {
	case *mh.BindingAck:
		m.handlePBA(src, x)
	case *mh.Heartbeat:
		m.handleHeartbeat(src, x)
	case *mh.BindingRevocationIndication:
		m.handleBRI(src, x)
	default:
		m.cnt.MHDropped++
		m.log.WithField("peer", src).WithField("type", msg.MHType()).Debug("unexpected Mobility Header type ignored")
	}
}

func (m *MAG) send(dst netip.Addr, msg mh.Message) bool {
	b, err := msg.Marshal()
	if err == nil {
		err = m.tr.Send(dst, b)
	}
	if err != nil {
		m.cnt.SendErr++
		m.log.WithError(err).WithField("peer", dst).WithField("type", msg.MHType()).Warn("send failed")
		return false
	}
	return true
}

// ---- management ----

// BULEntry is a Binding Update List entry as listed by BUL.
type BULEntry struct {
	MNID         string
	Interface    string
	MAC          net.HardwareAddr
	MNLinkLocal  netip.Addr
	LMA          netip.Addr
	ATT          mh.ATT
	HNPs         []netip.Prefix // assigned (after a PBA)
	Requested    []netip.Prefix // in the last PBU
	State        string
	HI           mh.HandoffIndicatorValue // of the last PBU
	Lifetime     time.Duration            // granted
	Expires      time.Time
	LastAccepted time.Time // MAG clock, when the last PBA accepted it
	Retries      int
}

// BUL lists the Binding Update List, sorted by MN-ID.
func (m *MAG) BUL() []BULEntry {
	var out []BULEntry
	m.do(func() {
		for _, e := range m.sortedEntries() {
			out = append(out, e.export())
		}
	})
	return out
}

// Entries returns the forwarding entries the MAG wants installed (the
// access and source routes of its registered MNs), sorted; the
// management API compares them with the kernel's. ctx bounds the wait for
// the event loop.
func (m *MAG) Entries(ctx context.Context) ([]dataplane.Entry, error) {
	var out []dataplane.Entry
	fin := make(chan struct{})
	select {
	case m.ops <- func() {
		for _, e := range m.sortedEntries() {
			out = append(out, e.installed...)
		}
		close(fin)
	}:
	case <-m.done:
		return nil, errors.New("mag: stopped")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-fin:
	case <-m.done:
		return nil, errors.New("mag: stopped")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	dataplane.SortEntries(out)
	return out, nil
}

// Counters returns the counters.
func (m *MAG) Counters() Counters {
	var c Counters
	m.do(func() { c = m.cnt })
	return c
}

// PeerState describes an LMA the MAG talks to.
type PeerState struct {
	Address           netip.Addr
	Bindings          int
	Reachable         bool
	MissingHeartbeats int
	RestartCounter    uint32 // last seen; valid if RestartKnown
	RestartKnown      bool
}

// Peers lists the LMAs.
func (m *MAG) Peers() []PeerState {
	var out []PeerState
	m.do(func() {
		for _, p := range m.peers {
			out = append(out, PeerState{Address: p.addr, Bindings: m.bindingsWith(p.addr), Reachable: !p.down,
				MissingHeartbeats: p.missing, RestartCounter: p.restart, RestartKnown: p.restartKnown})
		}
	})
	sortPeers(out)
	return out
}
