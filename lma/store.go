package lma

import (
	"math/big"
	"net/netip"
	"slices"
	"time"

	"github.com/pmipdmm/pmipdmm/internal/dataplane"
	"github.com/pmipdmm/pmipdmm/mh"
)

// Store persists the LMA's state so that a restarted LMA resumes its
// Binding Cache and pool allocations (internal/state implements it on a
// bbolt file). With Config.Store set:
//
//   - New loads the state: bindings whose lifetime (or de-registration
//     delay) ran out while the LMA was down are dropped, the others come
//     back with their prefixes marked in use, so a prefix is never handed
//     out twice across restarts;
//   - every change of the Binding Cache is handed to SaveLMA after the
//     operation that made it, and the PBAs (accepting or rejecting) that
//     the operation produced are sent only once SaveLMA reports the change
//     durable: an acknowledged binding survives a crash;
//   - Run re-arms the restored timers, resumes revocations, sends an
//     unsolicited Heartbeat Response to each MAG it has bindings with
//     (RFC 5847 §3.2) and reports each restored binding as EventResumed.
//
// Restart Counter (RFC 5847 §3.2: "incremented every time the node
// reboots and loses PMIPv6 session state", "MUST NOT be incremented if the
// recovery happens without losing state"): with a Store the counter is
// the store's, Config.RestartCounter is ignored. It is incremented at a
// start that found no previous state in the store (a new or wiped file)
// or could not read some of it (StoredState.Lost > 0), and kept as it is
// when the previous run's state was fully restored, whether that run
// stopped cleanly or was killed (only acknowledged state matters: what
// was not acknowledged the MAGs retransmit). Config.RestartCounterAlways
// increments it at every start instead.
type Store interface {
	// LoadLMA returns the persisted state.
	LoadLMA() (StoredState, error)
	// SaveLMA queues c and returns at once; once c and everything
	// queued before it are durable it calls done (from any goroutine,
	// in queueing order) with nil, or with the error that kept c from
	// being written. An empty c is a barrier: done is called once what
	// was queued before is durable.
	SaveLMA(c StoreChanges, done func(error))
	// SetRestartCounter durably records the RFC 5847 Restart Counter.
	SetRestartCounter(n uint32) error
}

// StoredBinding is a persisted Binding Cache entry: everything needed to
// resume it (RFC 5213 §5.1 fields and the LMA's timers).
type StoredBinding struct {
	ID          uint64
	MN          string // MNKey
	MNIDSubtype mh.MNIDSubtype
	MNID        []byte // the MN-ID option's identifier
	LinkLayerID []byte
	LinkLocal   netip.Addr
	HNPs        []netip.Prefix
	// Allocated are the HNPs taken from the pools (released when the
	// binding goes).
	Allocated []netip.Prefix
	ProxyCoA  netip.Addr
	ATT       mh.ATT
	HI        mh.HandoffIndicatorValue
	// Timestamp is the LMA time of day of the last accepted PBU (0 in the
	// sequence-number scheme); PBUTimestamp the last accepted Timestamp
	// option value (0: none).
	Timestamp    uint64
	PBUTimestamp uint64
	Sequence     uint16
	HasSequence  bool
	Lifetime     time.Duration
	Expires      time.Time // end of the granted lifetime
	// Deadline is when the entry's timer fires: Expires for an active
	// binding, the end of MinDelayBeforeBCEDelete for a de-registered one.
	Deadline time.Time
	Created  time.Time
	State    BCEState
	// Trigger is the revocation trigger of a binding in StateRevoking.
	Trigger mh.RevocationTrigger
}

// PoolCursor is where a pool's allocation walk continues (Next is the
// big-endian index of the next prefix to try).
type PoolCursor struct {
	Pool      netip.Prefix
	PrefixLen int
	Next      []byte
}

// StoredState is what Store.LoadLMA returns.
type StoredState struct {
	Bindings []StoredBinding
	// Allocations are the pool prefixes in use, with their MN key.
	Allocations    map[netip.Prefix]string
	Cursors        []PoolCursor
	RestartCounter uint32
	// Resumable: the store holds a previous run's state (false for a new
	// file).
	Resumable bool
	// Lost counts records that could not be read.
	Lost int
}

// StoreChanges is one batch of changes, applied in this order: Delete,
// Release, Put, Allocate, Cursors.
type StoreChanges struct {
	Put      []StoredBinding
	Delete   []uint64
	Allocate map[netip.Prefix]string
	Release  []netip.Prefix
	Cursors  []PoolCursor
}

// Empty reports whether c changes nothing.
func (c *StoreChanges) Empty() bool {
	return len(c.Put) == 0 && len(c.Delete) == 0 && len(c.Allocate) == 0 && len(c.Release) == 0 && len(c.Cursors) == 0
}

// Event is what happened to a binding (Config.OnBinding).
type Event uint8

// Binding events.
const (
	// EventCreated: a new mobility session (RFC 5213 §5.3.2).
	EventCreated Event = iota + 1
	// EventRefreshed: re-registration by the same MAG (§5.3.3), also out
	// of the de-registration delay.
	EventRefreshed
	// EventMoved: registration by another MAG (§5.3.4).
	EventMoved
	// EventDeregistered: lifetime-0 PBU accepted (§5.3.5); the entry
	// stays for MinDelayBeforeBCEDelete.
	EventDeregistered
	// EventRevoking: a BRI was sent (RFC 5846).
	EventRevoking
	// EventRemoved: the entry is gone (expiry, delay over, revoked,
	// replaced).
	EventRemoved
	// EventResumed: restored from the Store at start.
	EventResumed
)

func (e Event) String() string {
	switch e {
	case EventCreated:
		return "created"
	case EventRefreshed:
		return "refreshed"
	case EventMoved:
		return "moved"
	case EventDeregistered:
		return "deregistered"
	case EventRevoking:
		return "revoking"
	case EventRemoved:
		return "removed"
	case EventResumed:
		return "resumed"
	}
	return "event(?)"
}

// PrefixAssigner hands out the home network prefixes of new mobility
// sessions in place of the pools and static assignments (Config.Prefixes).
type PrefixAssigner interface {
	// Assign is called on the LMA's loop for a PBU that creates a new
	// mobility session of MN mn (requested: its NON_ZERO HNPs, empty for
	// an ALL_ZERO request). It must not block: it calls done, at once
	// or later from any goroutine, with the prefixes (taken as
	// authorised) or a status >= 128 to reject the PBU with. The PBU is
	// held meanwhile; a newer PBU of the same MN replaces it. When the
	// held PBU no longer creates a session once done comes back (another
	// PBU created one meanwhile), the prefixes are not used: the
	// assigner learns what is used from Config.OnBinding.
	Assign(mn string, requested []netip.Prefix, done func(hnps []netip.Prefix, st mh.Status))
}

// record returns b as persisted.
func (b *bce) record() StoredBinding {
	s := StoredBinding{
		ID: b.id, MN: b.mnKey, MNIDSubtype: b.mnidSub, MNID: []byte(b.mnidID),
		LinkLayerID: []byte(b.llid), LinkLocal: b.linkLocal,
		HNPs: append([]netip.Prefix(nil), b.hnps...), ProxyCoA: b.proxyCoA(), ATT: b.att, HI: b.hi,
		Timestamp: b.timestamp, PBUTimestamp: b.pbuTS, Sequence: b.seq, HasSequence: b.hasSeq,
		Lifetime: b.lifetimeDur(), Expires: nsTime(b.expires), Deadline: nsTime(b.deadline), Created: nsTime(b.created), State: b.state,
	}
	for i, p := range b.hnps {
		if b.isPooled(i) {
			s.Allocated = append(s.Allocated, p)
		}
	}
	if rv := b.revoke(); rv != nil {
		s.Trigger = rv.bri.Trigger
	}
	return s
}

// markDirty queues b (or its removal) for the next store flush.
func (l *LMA) markDirty(b *bce) {
	if l.cfg.Store != nil {
		l.dirty[b] = struct{}{}
	}
}

// deferTx sends m to dst now, or, with a Store, once the changes made so
// far are durable.
func (l *LMA) deferTx(dst netip.Addr, m mh.Message) {
	if l.cfg.Store == nil {
		l.send(dst, m)
		return
	}
	b, ok := l.encode(m)
	if !ok {
		return
	}
	l.pendingTx = append(l.pendingTx, outMsg{dst: dst, data: append([]byte(nil), b...), meta: metaOf(m)})
}

// outMsg is an encoded message waiting for the store.
type outMsg struct {
	dst  netip.Addr
	data []byte
	meta txMeta
}

// flushStore hands the changes made by the last operation to the store
// and sends the messages waiting for them once they are durable.
func (l *LMA) flushStore() {
	if l.cfg.Store == nil || (len(l.dirty) == 0 && !l.poolDirty && len(l.pendingTx) == 0) {
		return
	}
	var c StoreChanges
	for b := range l.dirty {
		if b.removed {
			c.Delete = append(c.Delete, b.id)
			for i, p := range b.hnps {
				if b.isPooled(i) {
					c.Release = append(c.Release, p)
				}
			}
			continue
		}
		c.Put = append(c.Put, b.record())
		for i, p := range b.hnps {
			if !b.isPooled(i) {
				continue
			}
			if c.Allocate == nil {
				c.Allocate = map[netip.Prefix]string{}
			}
			c.Allocate[p] = b.mnKey
		}
	}
	clear(l.dirty)
	if l.poolDirty {
		c.Cursors = l.pool.cursors()
		l.poolDirty = false
	}
	txs := l.pendingTx
	l.pendingTx = nil
	l.storePending++
	l.cfg.Store.SaveLMA(c, func(err error) {
		l.postAsync(func() {
			l.storePending--
			if err != nil {
				l.counters.StoreErrors++
				l.cfg.Log.WithError(err).WithField("messages", len(txs)).Error("state store write failed: answers withheld (the MAGs retransmit)")
				return
			}
			for _, o := range txs {
				l.sendRaw(o.dst, o.data, o.meta)
			}
		})
	})
}

// postAsync runs f on the loop without blocking the caller (which may be
// the loop itself).
func (l *LMA) postAsync(f func()) {
	select {
	case l.ops <- f:
	case <-l.done:
	default:
		go l.post(f)
	}
}

// cursors returns each pool's cursor.
func (p *prefixPool) cursors() []PoolCursor {
	out := make([]PoolCursor, len(p.pools))
	for i, x := range p.pools {
		out[i] = PoolCursor{Pool: x, PrefixLen: p.plen, Next: p.cursor[i].Bytes()}
	}
	return out
}

// loadStore restores the state of a previous run (New, before Run).
func (l *LMA) loadStore() error {
	st, err := l.cfg.Store.LoadLMA()
	if err != nil {
		return err
	}
	now := l.cfg.Clock.Now()
	lost := st.Lost
	expired := 0
	var drop []uint64
	for i := range st.Bindings {
		s := &st.Bindings[i]
		if s.ID > l.nextID {
			l.nextID = s.ID
		}
		if !l.restorable(s) {
			lost++
			drop = append(drop, s.ID)
			continue
		}
		if !s.Deadline.After(now) {
			expired++
			drop = append(drop, s.ID)
			continue
		}
		b := &bce{
			id: s.ID, mnKey: s.MN, mnidSub: s.MNIDSubtype, mnidID: s.MN,
			llid: string(s.LinkLayerID), linkLocal: s.LinkLocal, hnps: append([]netip.Prefix(nil), s.HNPs...),
			att: s.ATT, hi: s.HI, timestamp: s.Timestamp, pbuTS: s.PBUTimestamp,
			seq: s.Sequence, hasSeq: s.HasSequence, lifetime: uint32(s.Lifetime / time.Second),
			expires: unixNs(s.Expires), deadline: unixNs(s.Deadline), created: unixNs(s.Created),
			state: s.State, routed: s.State == StateActive, heapIdx: -1,
		}
		if string(s.MNID) != s.MN {
			b.mnidID = string(s.MNID)
		}
		if s.Trigger != 0 {
			b.x().resumeTrigger = s.Trigger
		}
		if len(s.MNID) == 0 && b.mnKey == "" {
			b.mnidEmpty = true
		}
		for i, p := range b.hnps {
			l.byPrefix[p] = b
			if slices.Contains(s.Allocated, p) {
				b.setPooled(i, true)
				l.allocCount++
			}
		}
		l.addSession(b)
		if head := l.byMN[b.mnKey]; s.PBUTimestamp > head.mnTS {
			head.mnTS = s.PBUTimestamp
		}
		l.setCoA(b, s.ProxyCoA)
		l.restored = append(l.restored, b)
	}
	// Allocations without a binding: written with a binding that is gone
	// (expired above) or stale; release them.
	var release []netip.Prefix
	for p, owner := range st.Allocations {
		if b := l.byPrefix[p]; b != nil && b.prefixPooled(p) {
			continue
		}
		_ = owner
		release = append(release, p)
	}
	// Bindings whose allocation record is missing get it written again.
	for _, b := range l.restored {
		for i, p := range b.hnps {
			if b.isPooled(i) && st.Allocations[p] != b.mnKey {
				l.dirty[b] = struct{}{}
			}
		}
	}
	for _, c := range st.Cursors {
		for i, x := range l.pool.pools {
			if x == c.Pool && c.PrefixLen == l.pool.plen {
				n := new(big.Int).SetBytes(c.Next)
				if n.Cmp(l.pool.size[i]) < 0 {
					l.pool.cursor[i].Set(n)
				}
			}
		}
	}
	if len(drop) > 0 || len(release) > 0 {
		l.loadDrop = StoreChanges{Delete: drop, Release: release}
	}
	rc := st.RestartCounter
	bump := !st.Resumable || lost > 0 || l.cfg.RestartCounterAlways
	if bump {
		rc++
		if err := l.cfg.Store.SetRestartCounter(rc); err != nil {
			return err
		}
	}
	l.cfg.RestartCounter = rc
	l.cfg.Log.WithFields(map[string]any{"restored": len(l.restored), "expired": expired, "lost": lost,
		"restart_counter": rc, "counter_bumped": bump}).Info("state restored from the store")
	l.loadStats = LoadStats{Restored: len(l.restored), Expired: expired, Lost: lost, CounterBumped: bump}
	return nil
}

// LoadStats is what New restored from the Store.
type LoadStats struct {
	Restored, Expired, Lost int
	CounterBumped           bool
}

// restorable checks a stored binding against the running configuration
// and the entries restored so far.
func (l *LMA) restorable(s *StoredBinding) bool {
	if len(s.HNPs) == 0 || !s.ProxyCoA.Is6() || s.State > StateRevoking {
		return false
	}
	for _, p := range s.HNPs {
		if !p.IsValid() || l.byPrefix[p] != nil {
			return false
		}
	}
	for _, p := range s.Allocated {
		if !slices.Contains(s.HNPs, p) {
			return false // (an HNP already in use was refused above)
		}
	}
	return true
}

// resumeStore runs at the start of Run: timers of the restored entries,
// revocations, the unsolicited Heartbeat Responses, EventResumed, and
// the deletion of what was dropped at load.
func (l *LMA) resumeStore() {
	for _, b := range l.restored {
		if b.removed {
			continue
		}
		l.setDeadline(b, b.deadline) // its state says what happens then
		if b.state == StateRevoking {
			b.state = StateActive
			trigger := mh.RevocationTrigger(0)
			if b.ext != nil {
				trigger, b.ext.resumeTrigger = b.ext.resumeTrigger, 0
				b.tidy()
			}
			l.startRevocation(b, trigger)
		}
		if l.cfg.OnBinding != nil {
			l.cfg.OnBinding(b.snapshot(), EventResumed)
		}
	}
	l.restored = nil
	for a := range l.peers {
		hb := &mh.Heartbeat{Flags: mh.HeartbeatFlagR | mh.HeartbeatFlagU}
		hb.Options = mh.Options{&mh.RestartCounter{Counter: l.cfg.RestartCounter}}
		l.send(a, hb)
		l.counters.UnsolicitedHeartbeats++
	}
	if !l.loadDrop.Empty() {
		c := l.loadDrop
		l.loadDrop = StoreChanges{}
		l.storePending++
		l.cfg.Store.SaveLMA(c, func(err error) {
			l.postAsync(func() {
				l.storePending--
				if err != nil {
					l.counters.StoreErrors++
					l.cfg.Log.WithError(err).Error("state store: cannot delete the entries dropped at load")
				}
			})
		})
	}
}

// wanted returns the data plane entries the LMA wants (loop or before Run).
func (l *LMA) wanted() []dataplane.Entry {
	var out []dataplane.Entry
	for b := range l.all {
		if !b.routed {
			continue
		}
		for _, p := range b.hnps {
			out = append(out, dataplane.Entry{Kind: dataplane.KindPrefixRoute, Prefix: p, Remote: b.proxyCoA()})
		}
	}
	dataplane.SortEntries(out)
	return out
}

// emit reports ev for b to Config.OnBinding.
func (l *LMA) emit(b *bce, ev Event) {
	if l.cfg.OnBinding != nil {
		l.cfg.OnBinding(b.snapshot(), ev)
	}
}
