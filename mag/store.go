package mag

import (
	"net"
	"net/netip"
	"time"

	"github.com/pmipdmm/pmipdmm/mh"
)

// Store persists the MAG's Binding Update List and Restart Counter
// (internal/state implements it). With Config.Store set:
//
//   - each accepted registration is written (the MN, its access link,
//     LMA, HNPs, granted lifetime and expiry, last sequence number) and an
//     entry that goes is deleted;
//   - New loads the entries whose lifetime has not run out. When the MN
//     is seen again on the same access link, its registration asks for
//     the stored HNPs (NON_ZERO), so it keeps its prefixes and the LMA
//     updates the existing binding; the sequence numbers continue. An
//     entry whose MN is not seen within Config.ResumeGrace of Start is
//     de-registered (lifetime-0 PBU with its HNPs).
//
// Restart Counter: as for the LMA (RFC 5847 §3.2): incremented at a
// start that found no previous state in the store or could not read all
// of it, kept after a full restore (Config.RestartCounter is then
// ignored); Config.RestartCounterAlways increments it at every start.
type Store interface {
	LoadMAG() (StoredMAG, error)
	// SaveMAG queues the changes and returns; done (may be nil) is
	// called once they are durable.
	SaveMAG(put []StoredBUL, del []string, done func(error))
	SetRestartCounter(n uint32) error
}

// StoredBUL is a persisted Binding Update List entry.
type StoredBUL struct {
	Key         string // MN-ID key (policy profile MN-ID, or eui48:...)
	MNIDSubtype mh.MNIDSubtype
	MNID        []byte
	Interface   string
	MAC         net.HardwareAddr
	LMA         netip.Addr
	ATT         mh.ATT
	HNPs        []netip.Prefix
	Lifetime    time.Duration // granted
	Expires     time.Time
	Sequence    uint16 // last sequence number sent for this MN (sequence scheme)
}

// StoredMAG is what Store.LoadMAG returns.
type StoredMAG struct {
	Entries        []StoredBUL
	RestartCounter uint32
	Resumable      bool
	Lost           int
}

// DefaultResumeGrace is how long restored entries wait for their MN.
const DefaultResumeGrace = 10 * time.Second

func (e *entry) record(seq uint16) StoredBUL {
	return StoredBUL{Key: e.key, MNIDSubtype: e.mnid.Subtype, MNID: append([]byte(nil), e.mnid.Identifier...),
		Interface: e.link.name, MAC: append(net.HardwareAddr(nil), e.link.mac...), LMA: e.lma, ATT: e.att,
		HNPs: append([]netip.Prefix(nil), e.hnps...), Lifetime: e.granted, Expires: e.expires, Sequence: seq}
}

func (m *MAG) persist(e *entry) {
	if m.cfg.Store == nil {
		return
	}
	m.cfg.Store.SaveMAG([]StoredBUL{e.record(m.mnSeq[e.key])}, nil, m.storeDone)
}

func (m *MAG) unpersist(key string) {
	if m.cfg.Store == nil {
		return
	}
	m.cfg.Store.SaveMAG(nil, []string{key}, m.storeDone)
}

func (m *MAG) storeDone(err error) {
	if err != nil {
		m.log.WithError(err).Error("state store write failed")
	}
}

// loadStore restores the stored entries (New).
func (m *MAG) loadStore() error {
	st, err := m.cfg.Store.LoadMAG()
	if err != nil {
		return err
	}
	now := m.clk.Now()
	m.resume = map[string]StoredBUL{}
	for _, r := range st.Entries {
		if r.Sequence > m.mnSeq[r.Key] {
			m.mnSeq[r.Key] = r.Sequence
		}
		if !r.Expires.After(now) || len(r.HNPs) == 0 {
			m.unpersist(r.Key)
			continue
		}
		m.resume[r.Key] = r
	}
	rc := st.RestartCounter
	bump := !st.Resumable || st.Lost > 0 || m.cfg.RestartCounterAlways
	if bump {
		rc++
		if err := m.cfg.Store.SetRestartCounter(rc); err != nil {
			return err
		}
	}
	m.cfg.RestartCounter = rc
	m.log.WithField("restored", len(m.resume)).WithField("restart_counter", rc).Info("Binding Update List restored from the store")
	return nil
}

// resumeFor returns the stored HNPs of the MN key attaching on ifname
// (and forgets them), or nil.
func (m *MAG) resumeFor(key, ifname string) []netip.Prefix {
	r, ok := m.resume[key]
	if !ok {
		return nil
	}
	delete(m.resume, key)
	if r.Interface != ifname || !r.Expires.After(m.clk.Now()) {
		return nil
	}
	return r.HNPs
}

// resumeExpired de-registers the restored entries whose MN did not come
// back within ResumeGrace.
func (m *MAG) resumeExpired() {
	for key, r := range m.resume {
		delete(m.resume, key)
		if _, live := m.bul[key]; live || !r.Expires.After(m.clk.Now()) {
			continue
		}
		l := &link{name: r.Interface, mac: r.MAC} // detached: no routes, no RA
		e := &entry{key: key, mnid: &mh.MNIdentifier{Subtype: r.MNIDSubtype, Identifier: r.MNID}, link: l,
			lma: r.LMA, att: r.ATT, hnps: append([]netip.Prefix(nil), r.HNPs...),
			requested: append([]netip.Prefix(nil), r.HNPs...), log: m.log.WithField("mn", key)}
		m.bul[key] = e
		m.sendDereg(e, "not seen again after the restart")
	}
}
