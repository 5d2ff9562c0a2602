package mag

import (
	"net/netip"
	"sort"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/clock"
	"github.com/pmipdmm/pmipdmm/mh"
)

// peer is an LMA: its PBU rate limiter and heartbeat state (RFC 5847).
type peer struct {
	addr  netip.Addr
	sends []time.Time // PBU send times within the last second
	queue []*entry    // PBUs waiting for the rate limiter
	flush clock.Timer

	hb            clock.Timer
	hbOutstanding bool
	hbSeq         uint32
	missing       int
	down          bool
	restart       uint32
	restartKnown  bool
}

func (m *MAG) peer(a netip.Addr) *peer {
	p := m.peers[a]
	if p == nil {
		p = &peer{addr: a}
		m.peers[a] = p
		m.armHeartbeat(p)
	}
	return p
}

func sortPeers(ps []PeerState) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].Address.Less(ps[j].Address) })
}

// allow records a PBU sent at now if fewer than rate were sent in the
// second before (MAX_UPDATE_RATE, RFC 6275 §11.8).
func (p *peer) allow(now time.Time, rate int) bool {
	i := 0
	for i < len(p.sends) && !p.sends[i].After(now.Add(-time.Second)) {
		i++
	}
	p.sends = append(p.sends[:0], p.sends[i:]...)
	if len(p.sends) >= rate {
		return false
	}
	p.sends = append(p.sends, now)
	return true
}

func (p *peer) unqueue(e *entry) {
	for i, q := range p.queue {
		if q == e {
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			e.queued = false
			return
		}
	}
}

func (p *peer) stopTimers() {
	for _, t := range []clock.Timer{p.flush, p.hb} {
		if t != nil {
			t.Stop()
		}
	}
}

// scheduleFlush sends the queued PBUs when the oldest send leaves the
// one-second window.
func (m *MAG) scheduleFlush(p *peer) {
	if p.flush != nil || len(p.sends) == 0 {
		return
	}
	d := p.sends[0].Add(time.Second).Sub(m.clk.Now())
	var t clock.Timer
	t = m.after(d, func() {
		if p.flush != t {
			return
		}
		p.flush = nil
		for len(p.queue) > 0 {
			e := p.queue[0]
			if m.bul[e.key] != e {
				p.queue = p.queue[1:]
				continue
			}
			if !p.allow(m.clk.Now(), m.cfg.MaxUpdateRate) {
				break
			}
			p.queue = p.queue[1:]
			m.sendPBU(e)
		}
		if len(p.queue) > 0 {
			m.scheduleFlush(p)
		}
	})
	p.flush = t
}

// ---- Heartbeat (RFC 5847) ----

func (m *MAG) armHeartbeat(p *peer) {
	if m.cfg.HeartbeatInterval < 0 {
		return
	}
	var t clock.Timer
	t = m.after(m.cfg.HeartbeatInterval, func() {
		if p.hb != t {
			return
		}
		p.hb = nil
		m.heartbeatTick(p)
		m.armHeartbeat(p)
	})
	p.hb = t
}

// heartbeatTick sends a Heartbeat request to an LMA with which the MAG
// has bindings, counting the previous one if it went unanswered (§3.1).
func (m *MAG) heartbeatTick(p *peer) {
	if m.bindingsWith(p.addr) == 0 {
		p.hbOutstanding, p.missing = false, 0
		return
	}
	log := m.log.WithField("peer", p.addr)
	if p.hbOutstanding {
		p.missing++
		if p.missing > m.cfg.MissingHeartbeatsAllowed && !p.down {
			p.down = true
			m.cnt.PeersDown++
			log.WithField("missing", p.missing).Error("LMA unreachable: heartbeats unanswered")
		}
	}
	m.hbSeq++
	p.hbSeq, p.hbOutstanding = m.hbSeq, true
	if m.send(p.addr, &mh.Heartbeat{Sequence: p.hbSeq}) {
		m.cnt.HeartbeatRequestsSent++
	}
}

func (m *MAG) handleHeartbeat(src netip.Addr, hb *mh.Heartbeat) {
	log := m.log.WithField("peer", src)
	if !hb.Response() {
		m.cnt.HeartbeatRequestsRecv++
		resp := &mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: hb.Sequence}
		resp.Options = mh.Options{&mh.RestartCounter{Counter: m.cfg.RestartCounter}}
		if m.send(src, resp) {
			m.cnt.HeartbeatResponsesSent++
		}
		return
	}
	m.cnt.HeartbeatResponsesRecv++
	p := m.peers[src]
	if p == nil {
		return
	}
	if !hb.Unsolicited() {
		if !p.hbOutstanding || hb.Sequence != p.hbSeq {
			log.WithField("seq", hb.Sequence).Debug("heartbeat response matches no request")
			return
		}
		p.hbOutstanding, p.missing = false, 0
		if p.down {
			p.down = false
			log.Info("LMA reachable again")
		}
	}
	rc, ok := mh.Find[*mh.RestartCounter](hb.Options)
	if !ok {
		return
	}
	if p.restartKnown && rc.Counter != p.restart {
		m.cnt.PeerRestarts++
		log.WithFields(logrus.Fields{"old": p.restart, "new": rc.Counter}).Warn("LMA restarted (restart counter changed): registering its MNs again")
		p.restart = rc.Counter
		for _, e := range m.sortedEntries() {
			if e.lma == src && e.state == stateRegistered {
				m.reregister(e)
			}
		}
		return
	}
	p.restart, p.restartKnown = rc.Counter, true
}
