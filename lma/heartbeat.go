package lma

import (
	"net/netip"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Heartbeat (RFC 5847): requests are sent every HeartbeatInterval to each
// MAG the LMA has at least one binding with; before each request the
// missing count grows if the previous one went unanswered, and above
// MissingHeartbeatsAllowed the peer is declared down. Requests received
// are always answered with the Restart Counter. A change of a peer's
// Restart Counter means it restarted. What to do with the bindings of a
// peer that is down or restarted is left to the operator (Peers).

func (l *LMA) peerRef(a netip.Addr) *peer {
	p := l.peers[a]
	if p == nil {
		p = &peer{addr: a}
		l.peers[a] = p
	}
	p.bindings++
	return p
}

func (l *LMA) peerUnref(a netip.Addr) {
	p := l.peers[a]
	if p == nil {
		return
	}
	p.bindings--
	if p.bindings <= 0 {
		delete(l.peers, a)
	}
}

func (l *LMA) scheduleHeartbeat() {
	if l.cfg.HeartbeatInterval < 0 {
		return
	}
	l.hbTimer = l.after(l.cfg.HeartbeatInterval, l.heartbeatTick)
}

func (l *LMA) heartbeatTick() {
	for _, p := range l.peers {
		if p.bindings <= 0 || p.noHeartbeat {
			continue
		}
		if p.outstanding {
			p.missing++
			l.counters.HeartbeatMissed++
			if p.missing > l.cfg.MissingHeartbeatsAllowed && !p.down {
				p.down = true
				l.counters.PeerDown++
				l.cfg.Log.WithField("peer", p.addr).WithField("missing", p.missing).Warn("peer unreachable: heartbeats unanswered (RFC 5847)")
			}
		}
		p.seq++
		p.outstanding = true
		l.send(p.addr, &mh.Heartbeat{Sequence: p.seq})
	}
	l.scheduleHeartbeat()
}

func (l *LMA) handleHeartbeat(src netip.Addr, m *mh.Heartbeat) {
	if !m.Response() {
		resp := &mh.Heartbeat{Flags: mh.HeartbeatFlagR, Sequence: m.Sequence}
		resp.Options = mh.Options{&mh.RestartCounter{Counter: l.cfg.RestartCounter}}
		l.send(src, resp)
		return
	}
	p := l.peers[src]
	if p == nil {
		l.counters.drop("heartbeat response from a peer without bindings")
		return
	}
	if !m.Unsolicited() {
		if !p.outstanding || m.Sequence != p.seq {
			l.counters.drop("heartbeat response not matching the request")
			return
		}
		p.outstanding = false
		p.missing = 0
		if p.down {
			p.down = false
			l.cfg.Log.WithField("peer", src).Info("peer reachable again")
		}
	}
	if rc, ok := mh.Find[*mh.RestartCounter](m.Options); ok {
		if p.haveCounter && rc.Counter != p.restartCounter {
			p.restarts++
			l.counters.PeerRestart++
			l.cfg.Log.WithField("peer", src).WithField("restart_counter", rc.Counter).Warn("peer restarted (Restart Counter changed, RFC 5847 §3.2)")
		}
		p.restartCounter, p.haveCounter = rc.Counter, true
	}
}

// handleBE handles a Binding Error: status 2 in answer to our Heartbeat
// means the peer does not support it: never send it Heartbeats again
// (RFC 5847 §3).
func (l *LMA) handleBE(src netip.Addr, m *mh.BindingError) {
	if m.Status != mh.BEStatusUnrecognizedMHType {
		return
	}
	if p := l.peers[src]; p != nil && p.outstanding {
		p.noHeartbeat = true
		p.outstanding = false
		l.cfg.Log.WithField("peer", src).Info("peer does not support Heartbeat (Binding Error status 2): no more heartbeats")
	}
}
