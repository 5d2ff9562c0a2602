package mr

import (
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Store persists what the MR needs to resume its attached nodes after a
// restart (internal/state implements it on a bbolt file: DB.MR). With
// Config.Store set:
//
//   - New loads the nodes: those whose binding lifetime ran out while the
//     MR was down (or that cannot be restored) are dropped, the others
//     come back attached, with their prefixes, anchors, access (the
//     legacy MAG's Proxy-CoA in deployment A, the access link in
//     deployment B) and ordering state; Entries then returns their data
//     plane entries (callable before Run, to reconcile the kernel);
//   - every change of an attached node is handed to SaveMR after the
//     operation that made it, and the PBAs and RAs that operation
//     produced are sent only once SaveMR reports it durable: an
//     acknowledged attachment survives a crash;
//   - Run installs the restored routes, re-arms the lifetimes and sends
//     each legacy MAG with restored nodes an unsolicited Heartbeat
//     Response with the Restart Counter (RFC 5847 §3.2).
//
// Restart Counter: the store's, sent in every Heartbeat Response; it is
// incremented at a start that found no previous state (a new file) or
// could not read some of it, and kept when the state was fully restored.
type Store interface {
	// LoadMR returns the persisted state.
	LoadMR() (StoredMR, error)
	// SaveMR queues the changes (deletions first) and returns at once;
	// once they and everything queued before are durable it calls done
	// (from any goroutine, in queueing order) with nil or the error that
	// kept them from being written.
	SaveMR(put []StoredMN, del []string, done func(error))
	// SetRestartCounter durably records the RFC 5847 Restart Counter.
	SetRestartCounter(n uint32) error
}

// StoredPrefix is a persisted prefix of a node.
type StoredPrefix struct {
	Prefix     netip.Prefix
	AnchorMR   netip.Addr
	Deprecated bool
}

// StoredMN is a persisted node attached to the MR.
type StoredMN struct {
	MN          string // the MN key
	MNIDSubtype mh.MNIDSubtype
	MNID        []byte
	// MAG is the legacy MAG's Proxy-CoA (deployment A); Link, IfIndex and
	// MAC the access link (deployment B).
	MAG        netip.Addr
	Link       string
	IfIndex    int
	MAC        []byte
	LinkLocal  netip.Addr
	ATT        mh.ATT
	HI         mh.HandoffIndicatorValue
	Prefixes   []StoredPrefix
	Moved      bool
	PreviousMR netip.Addr
	Lifetime   time.Duration
	Expires    time.Time
	// Ordering of the legacy MAG's PBUs (RFC 5213 §5.5).
	Sequence    uint16
	HasSequence bool
	Timestamp   uint64
}

// StoredMR is what Store.LoadMR returns.
type StoredMR struct {
	MNs            []StoredMN
	RestartCounter uint32
	// Resumable: the store holds a previous run's state (false for a new
	// file). Lost counts records that could not be read.
	Resumable bool
	Lost      int
}

// LoadStats is what New restored from the Store.
type LoadStats struct {
	Restored, Expired, Lost int
	CounterBumped           bool
	RestartCounter          uint32
}

// Loaded returns what New restored from the Store.
func (m *MR) Loaded() LoadStats { return m.loadStats }

// RestartCounter returns the RFC 5847 Restart Counter sent in Heartbeat
// Responses (0 and not sent without a Store).
func (m *MR) RestartCounter() uint32 { return m.restartCounter }

func (b *binding) record() StoredMN {
	s := StoredMN{MN: b.key, MNIDSubtype: b.mnid.Subtype, MNID: slices.Clone(b.mnid.Identifier),
		MAG: b.mag, Link: b.link, IfIndex: b.ifindex, MAC: slices.Clone([]byte(b.mac)), LinkLocal: b.ll,
		ATT: b.att, HI: b.hi, Moved: b.moved, PreviousMR: b.pmr, Lifetime: b.lifetime, Expires: b.expires,
		Sequence: b.lastSeq, HasSequence: b.hasSeq, Timestamp: b.lastTS}
	for _, x := range b.prefixes {
		s.Prefixes = append(s.Prefixes, StoredPrefix{Prefix: x.p, AnchorMR: x.anchor, Deprecated: x.deprecated})
	}
	return s
}

// markDirty queues b's key for the next store flush (written while b is
// attached here, deleted otherwise).
func (m *MR) markDirty(b *binding) {
	if m.cfg.Store != nil {
		m.dirty[b.key] = struct{}{}
	}
}

// deferOut runs f (a send acknowledging state: PBA, RA) now, or, with a
// Store, once the changes made so far are durable.
func (m *MR) deferOut(f func()) {
	if m.cfg.Store == nil {
		f()
		return
	}
	m.out = append(m.out, f)
}

// flushStore hands the changes of the last operation to the store and
// runs the sends waiting for them once they are durable (loop).
func (m *MR) flushStore() {
	if m.cfg.Store == nil || (len(m.dirty) == 0 && len(m.out) == 0) {
		return
	}
	var put []StoredMN
	var del []string
	for k := range m.dirty {
		if b := m.mns[k]; b != nil && b.state == bAttached {
			put = append(put, b.record())
		} else {
			del = append(del, k)
		}
	}
	clear(m.dirty)
	out := m.out
	m.out = nil
	if len(put) == 0 && len(del) == 0 && m.storePending == 0 {
		for _, f := range out {
			f()
		}
		return
	}
	m.storePending++
	m.busy.Add(1)
	m.cfg.Store.SaveMR(put, del, func(err error) {
		m.postAsync(func() {
			m.storePending--
			if err != nil {
				m.counters.StoreErrors++
				m.log.WithError(err).WithField("messages", len(out)).Error("state store write failed: answers withheld")
				return
			}
			for _, f := range out {
				f()
			}
		})
	})
}

// postAsync runs f on the loop without blocking the caller; it ends a
// unit of busy work (counted by flushStore).
func (m *MR) postAsync(f func()) {
	op := func() { defer m.busy.Add(-1); f() }
	select {
	case m.ops <- op:
		return
	case <-m.done:
		m.busy.Add(-1)
		return
	default:
	}
	go func() {
		select {
		case m.ops <- op:
		case <-m.done:
			m.busy.Add(-1)
		}
	}()
}

// loadStore restores the nodes of a previous run (New, before Run).
func (m *MR) loadStore() error {
	st, err := m.cfg.Store.LoadMR()
	if err != nil {
		return err
	}
	now := m.d.Clock.Now()
	self := m.cfg.Address
	lost, expired := st.Lost, 0
	for i := range st.MNs {
		s := &st.MNs[i]
		if !m.restorable(s) {
			lost++
			m.loadDrop = append(m.loadDrop, s.MN)
			continue
		}
		if !s.Expires.After(now) {
			expired++
			m.loadDrop = append(m.loadDrop, s.MN)
			continue
		}
		b := &binding{key: s.MN, mnid: mh.MNIdentifier{Subtype: s.MNIDSubtype, Identifier: slices.Clone(s.MNID)},
			state: bAttached, mag: s.MAG, link: s.Link, ifindex: s.IfIndex, ll: s.LinkLocal, att: s.ATT, hi: s.HI,
			moved: s.Moved, pmr: s.PreviousMR, lifetime: s.Lifetime, expires: s.Expires,
			lastSeq: s.Sequence, hasSeq: s.HasSequence, lastTS: s.Timestamp, started: now}
		if len(s.MAC) > 0 {
			b.mac = net.HardwareAddr(slices.Clone(s.MAC))
		}
		b.log = m.log.WithField("mn", b.key)
		if b.mag.IsValid() {
			b.log = b.log.WithField("mag", b.mag)
		}
		for _, x := range s.Prefixes {
			b.prefixes = append(b.prefixes, &prefix{p: x.Prefix, anchor: x.AnchorMR, deprecated: x.Deprecated})
			m.byPrefix[x.Prefix] = b
			m.down[x.Prefix] = m.accessEntry(b, x.Prefix)
			if x.AnchorMR != self {
				m.up[x.Prefix] = dataplane.Entry{Kind: dataplane.KindSourceRoute, Prefix: x.Prefix, Remote: x.AnchorMR, Dev: m.uplinkDev(b)}
			}
		}
		m.mns[b.key] = b
		m.restored = append(m.restored, b)
	}
	rc := st.RestartCounter
	bump := !st.Resumable || lost > 0
	if bump {
		rc++
		if err := m.cfg.Store.SetRestartCounter(rc); err != nil {
			return err
		}
	}
	m.restartCounter = rc
	m.loadStats = LoadStats{Restored: len(m.restored), Expired: expired, Lost: lost, CounterBumped: bump, RestartCounter: rc}
	m.log.WithFields(logrus.Fields{"restored": len(m.restored), "expired": expired, "lost": lost,
		"restart_counter": rc, "counter_bumped": bump}).Info("MR state restored from the store")
	return nil
}

// restorable checks a stored node against the running configuration and
// the nodes restored so far.
func (m *MR) restorable(s *StoredMN) bool {
	if s.MN == "" || len(s.Prefixes) == 0 || m.mns[s.MN] != nil || s.Lifetime <= 0 {
		return false
	}
	if m.cfg.Deployment == DeployLMA && !s.MAG.Is6() {
		return false
	}
	if m.cfg.Deployment == DeployAccess && s.Link == "" {
		return false
	}
	for _, x := range s.Prefixes {
		if !x.Prefix.IsValid() || !x.AnchorMR.Is6() || m.byPrefix[x.Prefix] != nil {
			return false
		}
	}
	return true
}

// resumeStore runs at the start of Run, after the data plane setup: the
// restored routes go in, the lifetimes are re-armed, the legacy MAGs learn
// the Restart Counter, and what was dropped at load is deleted.
func (m *MR) resumeStore() {
	for p, e := range m.down {
		if !m.dpAdd(e) {
			delete(m.down, p)
		}
	}
	for p, e := range m.up {
		if !m.dpAdd(e) {
			delete(m.up, p)
		}
	}
	now := m.d.Clock.Now()
	mags := map[netip.Addr]bool{}
	for _, b := range m.restored {
		if m.mns[b.key] != b {
			continue
		}
		left := max(b.expires.Sub(now), 0)
		m.armBindingIn(b, left, max(left-b.lifetime/5, 0))
		if b.mag.IsValid() {
			mags[b.mag] = true
		}
	}
	m.restored = nil
	for _, a := range sortedAddrs(mags) {
		hb := &mh.Heartbeat{Flags: mh.HeartbeatFlagR | mh.HeartbeatFlagU}
		hb.Options = mh.Options{&mh.RestartCounter{Counter: m.restartCounter}}
		m.send(a, hb)
	}
	if len(m.loadDrop) > 0 {
		for _, k := range m.loadDrop {
			m.dirty[k] = struct{}{}
		}
		m.loadDrop = nil
	}
	m.flushStore()
}
